//! The accept loop both listeners run (HTTPS and the session link): a connection permit first,
//! then the accept (both abandoned when the portal stops), the TLS handshake within
//! `tls_timeout`, then the listener's own handler on a task of its own.

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::AtomicU64;

use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{Semaphore, watch};
use tokio_rustls::TlsAcceptor;
use tokio_rustls::server::TlsStream;

use super::Ctx;
use super::metrics::Shared;

/// How long the accept loop waits after a failed accept (out of file descriptors, most often)
/// before the next: at most ten warnings a second, and no busy loop.
pub const ACCEPT_BACKOFF: std::time::Duration = std::time::Duration::from_millis(100);

/// Which listener: its name in logs and the counter of its accepted connections.
#[derive(Clone, Copy)]
pub(crate) struct Listener {
    /// `"https"` or `"link"`.
    pub(crate) label: &'static str,
    /// Its connections counter in [`Shared`].
    pub(crate) accepted: fn(&Shared) -> &AtomicU64,
}

/// Accepts connections on `listener` until `stop` changes, at most as many at once as `slots`
/// has permits (a connection holds its permit until its handler returns); each connection that
/// completes TLS within `ctx.tls_timeout` goes to `handle` with its peer address, the context and
/// a stop receiver. TLS failures and timeouts are counted in `tls_failures`.
pub(crate) async fn accept_tls<F, Fut>(
    listener: TcpListener,
    tls: Arc<rustls::ServerConfig>,
    ctx: Arc<Ctx>,
    slots: Arc<Semaphore>,
    mut stop: watch::Receiver<bool>,
    which: Listener,
    handle: F,
) where
    F: Fn(TlsStream<TcpStream>, SocketAddr, Arc<Ctx>, watch::Receiver<bool>) -> Fut + Clone + Send + 'static,
    Fut: Future<Output = ()> + Send + 'static,
{
    let acceptor = TlsAcceptor::from(tls);
    loop {
        let permit = tokio::select! {
            p = slots.clone().acquire_owned() => match p { Ok(p) => p, Err(_) => return },
            _ = stop.changed() => return,
        };
        let (tcp, peer) = tokio::select! {
            a = listener.accept() => match a {
                Ok(a) => a,
                Err(e) => {
                    // Most often out of file descriptors: retrying at once would spin (and log)
                    // as fast as the CPU goes, until connections close.
                    tracing::warn!(listener = which.label, error = %e, "accept failed");
                    drop(permit);
                    tokio::select! {
                        () = tokio::time::sleep(ACCEPT_BACKOFF) => continue,
                        _ = stop.changed() => return,
                    }
                }
            },
            _ = stop.changed() => return,
        };
        Shared::bump((which.accepted)(&ctx.shared));
        let (acceptor, ctx, stop, handle) = (acceptor.clone(), ctx.clone(), stop.clone(), handle.clone());
        tokio::spawn(async move {
            let _permit = permit;
            let _ = tcp.set_nodelay(true);
            let tls = match tokio::time::timeout(ctx.tls_timeout, acceptor.accept(tcp)).await {
                Ok(Ok(s)) => s,
                Ok(Err(e)) => {
                    Shared::bump(&ctx.shared.tls_failures);
                    tracing::debug!(listener = which.label, %peer, error = %e, "tls handshake failed");
                    return;
                }
                Err(_) => {
                    Shared::bump(&ctx.shared.tls_failures);
                    tracing::debug!(listener = which.label, %peer, "tls handshake timed out");
                    return;
                }
            };
            handle(tls, peer, ctx, stop).await;
        });
    }
}
