//! The HTTPS endpoint: `POST /v1/frames`, `GET /healthz`, `GET /metrics`, HTTP/1.1 over
//! tokio-rustls, with a header (and body) read timeout, a TLS handshake timeout, a body limit
//! checked on `Content-Length` before anything is read, and a cap on open connections.

use std::convert::Infallible;
use std::sync::Arc;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::{Bytes, Incoming};
use hyper::header::{CONTENT_LENGTH, CONTENT_TYPE, HeaderValue, RETRY_AFTER};
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::{TokioIo, TokioTimer};
use printfleet_wire::link::MAX_MESSAGE_BYTES;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use tokio::net::TcpListener;
use tokio::sync::{Semaphore, oneshot, watch};

use super::accept::{Listener, accept_tls};
use super::actor::{Outcome, Request as ActorRequest};
use super::metrics::Shared;
use super::state::TlsFiles;
use super::{Ctx, PortalError};

/// The largest request head (request line and headers) read before the request is refused.
pub const MAX_HEAD_BYTES: usize = 16 * 1024;
/// What every refusal of a frame says (the same for every reason).
pub const REJECTED_BODY: &str = "frame rejected";
/// `Retry-After` (seconds) when the store is unavailable.
pub const RETRY_AFTER_SECS: u32 = 5;

/// A rustls server configuration (ring provider) from PEM files, with these ALPN protocols.
pub(crate) fn tls_config(files: &TlsFiles, alpn: &[&[u8]]) -> Result<Arc<rustls::ServerConfig>, PortalError> {
    let cert_pem = super::state::read_pem(&files.cert)?;
    let key_pem = super::state::read_pem(&files.key)?;
    let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_slice_iter(cert_pem.as_bytes())
        .collect::<Result<_, _>>()
        .map_err(|_| PortalError::BadPem { path: files.cert.clone() })?;
    if certs.is_empty() {
        return Err(PortalError::BadPem { path: files.cert.clone() });
    }
    let key = PrivateKeyDer::from_pem_slice(key_pem.as_bytes())
        .map_err(|_| PortalError::BadPem { path: files.key.clone() })?;
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()?
        .with_no_client_auth()
        .with_single_cert(certs, key)?;
    config.alpn_protocols = alpn.iter().map(|p| p.to_vec()).collect();
    Ok(Arc::new(config))
}

/// Accepts HTTPS connections until `stop`.
pub(crate) async fn serve(
    listener: TcpListener,
    tls: Arc<rustls::ServerConfig>,
    ctx: Arc<Ctx>,
    slots: Arc<Semaphore>,
    stop: watch::Receiver<bool>,
) {
    // Frames prove themselves one by one: no per-address count of unproven connections.
    let which = Listener { label: "https", accepted: |s| &s.https_connections, unproven_per_address: None };
    accept_tls(listener, tls, ctx, slots, stop, which, |tls, peer, ctx: Arc<Ctx>, mut stop, _| async move {
        let service_ctx = ctx.clone();
        let service = hyper::service::service_fn(move |req| handle(req, service_ctx.clone()));
        let mut builder = hyper::server::conn::http1::Builder::new();
        builder
            .timer(TokioTimer::new())
            .header_read_timeout(ctx.header_timeout)
            .keep_alive(true)
            .max_buf_size(MAX_HEAD_BYTES);
        // hyper times the request head only: a client that stops taking an answer (or sends a
        // body no further) loses the connection after `header_timeout` without progress, rather
        // than holding its slot for ever.
        let mut io = tokio_io_timeout::TimeoutStream::new(tls);
        io.set_write_timeout(Some(ctx.header_timeout));
        let conn = builder.serve_connection(TokioIo::new(Box::pin(io)), service);
        tokio::pin!(conn);
        tokio::select! {
            r = conn.as_mut() => {
                if let Err(e) = r {
                    tracing::debug!(%peer, error = %e, "https connection ended");
                }
            }
            _ = stop.changed() => {
                conn.as_mut().graceful_shutdown();
                let _ = conn.await;
            }
        }
    })
    .await;
}

type Reply = Response<Full<Bytes>>;

fn text(status: StatusCode, body: &'static str) -> Reply {
    let mut r = Response::new(Full::new(Bytes::from_static(body.as_bytes())));
    *r.status_mut() = status;
    r.headers_mut().insert(CONTENT_TYPE, HeaderValue::from_static("text/plain; charset=utf-8"));
    r
}

async fn handle(req: Request<Incoming>, ctx: Arc<Ctx>) -> Result<Reply, Infallible> {
    Ok(match (req.method(), req.uri().path()) {
        (&Method::POST, "/v1/frames") => post_frame(req, &ctx).await,
        // Up while the ingest actor runs: once it has stopped, every frame would be answered 503.
        (&Method::GET, "/healthz") if ctx.queue.is_closed() => text(StatusCode::SERVICE_UNAVAILABLE, "ingest stopped"),
        (&Method::GET, "/healthz") => text(StatusCode::OK, "ok"),
        (&Method::GET, "/metrics") => {
            let mut r = Response::new(Full::new(Bytes::from(ctx.shared.snapshot().to_prometheus())));
            r.headers_mut().insert(CONTENT_TYPE, HeaderValue::from_static("text/plain; version=0.0.4"));
            r
        }
        (_, "/v1/frames" | "/healthz" | "/metrics") => text(StatusCode::METHOD_NOT_ALLOWED, "method not allowed"),
        _ => text(StatusCode::NOT_FOUND, "not found"),
    })
}

async fn post_frame(req: Request<Incoming>, ctx: &Ctx) -> Reply {
    let refuse = |status, body| {
        Shared::bump(&ctx.shared.http_refused);
        text(status, body)
    };
    let declared = req.headers().get(CONTENT_LENGTH).map(|v| v.to_str().ok().and_then(|s| s.parse::<u64>().ok()));
    match declared {
        Some(None) => return refuse(StatusCode::BAD_REQUEST, REJECTED_BODY),
        Some(Some(n)) if n > u64::try_from(MAX_MESSAGE_BYTES).unwrap_or(u64::MAX) => {
            return refuse(StatusCode::PAYLOAD_TOO_LARGE, "frame too large");
        }
        _ => {}
    }
    let base64 = req
        .headers()
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.trim_start().to_ascii_lowercase().starts_with("text/plain"));
    let body = Limited::new(req.into_body(), MAX_MESSAGE_BYTES);
    let bytes = match tokio::time::timeout(ctx.header_timeout, body.collect()).await {
        Ok(Ok(b)) => b.to_bytes(),
        Ok(Err(e)) if e.is::<http_body_util::LengthLimitError>() => {
            return refuse(StatusCode::PAYLOAD_TOO_LARGE, "frame too large");
        }
        Ok(Err(_)) | Err(_) => return refuse(StatusCode::BAD_REQUEST, REJECTED_BODY),
    };
    let frame = if base64 {
        let trimmed: Vec<u8> = bytes.iter().copied().filter(|b| !b.is_ascii_whitespace()).collect();
        match STANDARD.decode(trimmed) {
            Ok(f) => f,
            Err(_) => return refuse(StatusCode::BAD_REQUEST, REJECTED_BODY),
        }
    } else {
        bytes.to_vec()
    };
    let (reply, answer) = oneshot::channel();
    if ctx.queue.send(ActorRequest::Frame { frame, reply }).await.is_err() {
        return unavailable();
    }
    match answer.await {
        Ok(Outcome::Reply(frame)) => {
            let (body, kind) = if base64 {
                (Bytes::from(STANDARD.encode(frame)), "text/plain")
            } else {
                (Bytes::from(frame), "application/octet-stream")
            };
            let mut r = Response::new(Full::new(body));
            r.headers_mut().insert(CONTENT_TYPE, HeaderValue::from_static(kind));
            r
        }
        Ok(Outcome::Rejected | Outcome::Closed) => text(StatusCode::BAD_REQUEST, REJECTED_BODY),
        Ok(Outcome::Unavailable) | Err(_) => unavailable(),
    }
}

fn unavailable() -> Reply {
    let mut r = text(StatusCode::SERVICE_UNAVAILABLE, "store unavailable, try later");
    r.headers_mut().insert(RETRY_AFTER, HeaderValue::from(RETRY_AFTER_SECS));
    r
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_unavailable_store_is_503_with_retry_after() {
        let r = unavailable();
        assert_eq!(r.status(), StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(r.headers().get(RETRY_AFTER).unwrap(), "5");
    }
}
