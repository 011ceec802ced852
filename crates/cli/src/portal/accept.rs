//! The accept loop both listeners run (HTTPS and the session link): a connection permit first,
//! then the accept (both abandoned when the portal stops), the TLS handshake within
//! `tls_timeout`, then the listener's own handler on a task of its own.

use std::collections::HashMap;
use std::future::Future;
use std::net::{IpAddr, Ipv6Addr, SocketAddr};
use std::sync::atomic::AtomicU64;
use std::sync::{Arc, Mutex};

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
    /// Connections of one source address that have not proved who they are at most (each
    /// holds an [`Unproven`] slot from its accept until its handler drops it); a connection
    /// beyond it is closed at once and counted in `link_refused`.
    pub(crate) unproven_per_address: Option<usize>,
}

/// The connections of each source address that have not proved who they are yet.
#[derive(Debug)]
struct UnprovenCounts {
    counts: Mutex<HashMap<IpAddr, usize>>,
    max: usize,
}

/// One connection's place among its address's unproven ones, given back when dropped (when
/// the connection ends, or proves who it is).
#[derive(Debug)]
pub(crate) struct Unproven {
    set: Arc<UnprovenCounts>,
    ip: IpAddr,
}

impl UnprovenCounts {
    /// A place for one more connection of `ip`, if it has fewer than `max`. An IPv6 address
    /// counts as its /64 (one host is commonly given a whole /64 to choose addresses from).
    fn enter(set: &Arc<Self>, ip: IpAddr) -> Option<Unproven> {
        let ip = match ip.to_canonical() {
            IpAddr::V6(v6) => IpAddr::V6(Ipv6Addr::from(u128::from(v6) & (u128::MAX << 64))),
            v4 => v4,
        };
        let mut counts = set.counts.lock().ok()?;
        let n = counts.entry(ip).or_insert(0);
        if *n >= set.max {
            return None;
        }
        *n = n.saturating_add(1);
        Some(Unproven { set: set.clone(), ip })
    }
}

impl Drop for Unproven {
    fn drop(&mut self) {
        if let Ok(mut counts) = self.set.counts.lock()
            && let Some(n) = counts.get_mut(&self.ip)
        {
            *n = n.saturating_sub(1);
            if *n == 0 {
                counts.remove(&self.ip);
            }
        }
    }
}

/// Accepts connections on `listener` until `stop` changes, at most as many at once as `slots`
/// has permits (a connection holds its permit until its handler returns); each connection that
/// completes TLS within `ctx.tls_timeout` goes to `handle` with its peer address, the context and
/// a stop receiver (and its [`Unproven`] slot, if the listener counts them). TLS failures and
/// timeouts are counted in `tls_failures`.
pub(crate) async fn accept_tls<F, Fut>(
    listener: TcpListener,
    tls: Arc<rustls::ServerConfig>,
    ctx: Arc<Ctx>,
    slots: Arc<Semaphore>,
    mut stop: watch::Receiver<bool>,
    which: Listener,
    handle: F,
) where
    F: Fn(TlsStream<TcpStream>, SocketAddr, Arc<Ctx>, watch::Receiver<bool>, Option<Unproven>) -> Fut
        + Clone
        + Send
        + 'static,
    Fut: Future<Output = ()> + Send + 'static,
{
    let acceptor = TlsAcceptor::from(tls);
    let unproven = which.unproven_per_address.map(|max| Arc::new(UnprovenCounts { counts: Mutex::default(), max }));
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
        let slot = match &unproven {
            Some(set) => match UnprovenCounts::enter(set, peer.ip()) {
                Some(slot) => Some(slot),
                None => {
                    // Closed at once: one address cannot hold the listener's slots unproven.
                    Shared::bump(&ctx.shared.link_refused);
                    tracing::debug!(listener = which.label, %peer, "refused: too many unproven connections");
                    continue;
                }
            },
            None => None,
        };
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
            handle(tls, peer, ctx, stop, slot).await;
        });
    }
}
