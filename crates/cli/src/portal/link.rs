//! The session-mode link listener (`printfleet_wire::link` over TLS): per connection a reader
//! task that splits the stream into messages and runs each channel's SCRAM handshake and frames
//! through the actor, and a writer that sends the answers in the order the requests came.
//!
//! Per connection at most [`super::MAX_IN_FLIGHT_PER_CONNECTION`] requests wait for the actor:
//! beyond it the reader stops reading, so a flooding connection slows only itself.

use std::collections::HashMap;
use std::future::Future;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use printfleet_auth::ServerAwaitingClientFinal;
use printfleet_ingest::SessionHandle;
use printfleet_wire::link::{LinkReader, MAX_CHANNELS, MAX_HANDSHAKES_BEFORE_PROOF, Message, MessageType};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpListener;
use tokio::sync::{Semaphore, mpsc, oneshot, watch};

use super::accept::{Listener, Unproven, accept_tls};
use super::actor::{HelloAnswer, Outcome, Request};
use super::metrics::Shared;
use super::{Ctx, MAX_IN_FLIGHT_PER_CONNECTION, MAX_UNPROVEN_LINKS_PER_ADDRESS};

/// Bytes read from the socket at once (the reader then holds at most one message plus this).
pub const READ_CHUNK: usize = 16 * 1024;
/// Answers buffered before the writer flushes even if more are ready.
const FLUSH_BYTES: usize = 64 * 1024;
/// Channels of one connection in a handshake at once (each holds a few hundred bytes of SCRAM
/// state): beyond it the expired ones are dropped, and a further `Hello` is answered `Closed`.
/// Before the first proof on the connection is checked, the limit is
/// [`MAX_HANDSHAKES_BEFORE_PROOF`].
pub const MAX_HANDSHAKES_PER_CONNECTION: usize = 1024;
/// A connection's first SCRAM proof must be checked within this many handshake timeouts
/// (`--link-handshake-timeout-ms`) of its start, or it is closed: room for a `Hello` waiting
/// behind a busy ingest, and a bound on how long a peer without credentials holds a slot.
pub const LOGIN_HANDSHAKE_TIMEOUTS: u32 = 3;

/// Where a channel of a connection stands.
#[derive(Debug)]
enum Chan {
    /// `Hello` received, the actor's challenge not yet sent.
    Starting,
    /// Challenge sent (when), waiting for the client-final message.
    Awaiting(Box<ServerAwaitingClientFinal>, Instant),
    /// Proof checked, the session being opened.
    Opening,
    /// Open.
    Open(SessionHandle),
}

type Channels = Arc<Mutex<HashMap<u32, Chan>>>;

/// What the writer sends next, in request order.
#[derive(Debug)]
enum Pending {
    /// An answer known at once.
    Now(MessageType, u32),
    /// The actor's answer to a `Hello`.
    Hello(u32, oneshot::Receiver<HelloAnswer>),
    /// The session being opened, and the server-final message to send if it is.
    Open(u32, oneshot::Receiver<Option<SessionHandle>>, String),
    /// The actor's answer to a frame.
    Frame(u32, oneshot::Receiver<Outcome>),
    /// The collector closed a channel (or broke its handshake): close its session after the
    /// replies before it, then answer `Closed` on the channel if one is given.
    Close(SessionHandle, Option<u32>),
}

/// Accepts link connections until `stop`.
pub(crate) async fn serve(
    listener: TcpListener,
    tls: Arc<rustls::ServerConfig>,
    ctx: Arc<Ctx>,
    slots: Arc<Semaphore>,
    stop: watch::Receiver<bool>,
) {
    let which = Listener {
        label: "link",
        accepted: |s| &s.link_connections,
        unproven_per_address: Some(MAX_UNPROVEN_LINKS_PER_ADDRESS),
    };
    accept_tls(listener, tls, ctx, slots, stop, which, |tls, peer, ctx, stop, unproven| async move {
        connection(tls, ctx, stop, unproven).await;
        tracing::debug!(%peer, "link connection closed");
    })
    .await;
}

/// One connection, until the peer closes it, breaks the protocol, idles, or the portal stops.
async fn connection<S: AsyncRead + AsyncWrite + Send + 'static>(
    stream: S,
    ctx: Arc<Ctx>,
    mut stop: watch::Receiver<bool>,
    mut unproven: Option<Unproven>,
) {
    let (mut rd, wr) = tokio::io::split(stream);
    let channels: Channels = Arc::default();
    let (pending, queue) = mpsc::channel(MAX_IN_FLIGHT_PER_CONNECTION);
    let writer = tokio::spawn(write_loop(wr, queue, channels.clone(), ctx.clone()));
    // Until a SCRAM proof on this connection is checked, no message above a handshake's size,
    // at most MAX_HANDSHAKES_BEFORE_PROOF handshakes at once, and everything the connection
    // does (reading, waiting for the actor or for the writer) ends by `login_by`: a peer without
    // credentials holds a connection slot for seconds, whether it sends, stops reading or idles.
    let mut reader = LinkReader::unauthenticated();
    let started = Instant::now();
    let mut login_by = started
        .checked_add(ctx.link_handshake_timeout.saturating_mul(LOGIN_HANDSHAKE_TIMEOUTS))
        .or_else(|| started.checked_add(Duration::from_secs(86_400)));
    let mut buf = vec![0u8; READ_CHUNK];
    let mut unproven_timed_out = false;
    'conn: loop {
        loop {
            let (kind, channel, body) = match reader.next_message() {
                Ok(Some(m)) => (m.kind, m.channel, m.body.to_vec()),
                Ok(None) => break,
                Err(e) => {
                    Shared::bump(&ctx.shared.link_errors);
                    tracing::info!(error = %e, "link stream refused");
                    break 'conn;
                }
            };
            let proven = login_by.is_none();
            let Some(answer) = by(login_by, on_message(kind, channel, body, &channels, &ctx, proven)).await else {
                unproven_timed_out = true;
                break 'conn;
            };
            let Some(next) = answer else {
                Shared::bump(&ctx.shared.link_errors);
                tracing::info!(?kind, "unexpected link message");
                break 'conn;
            };
            if matches!(next, Pending::Open(..)) {
                reader.authenticated();
                login_by = None;
                // No longer counted against its address's unproven connections.
                drop(unproven.take());
            }
            match by(login_by, pending.send(next)).await {
                Some(Ok(())) => {}
                Some(Err(mpsc::error::SendError(next))) => {
                    // The writer gave up: what this request opened or closes is still closed.
                    release_one(next, &ctx).await;
                    break 'conn;
                }
                None => {
                    unproven_timed_out = true;
                    break 'conn;
                }
            }
        }
        let read = tokio::select! {
            r = by(login_by, tokio::time::timeout(ctx.idle_timeout, rd.read(&mut buf))) => r,
            _ = stop.changed() => break,
            // The writer gave up on a peer that does not read: nothing more is answered.
            () = pending.closed() => break,
        };
        match read {
            Some(Ok(Ok(n))) if n > 0 => reader.extend(buf.get(..n).unwrap_or_default()),
            None => {
                unproven_timed_out = true;
                break;
            }
            _ => break,
        }
    }
    drop(pending);
    if login_by.is_some() {
        // Never proven: no session was opened on it, so nothing queued needs answering or
        // closing; the writer (perhaps stalled on a peer that does not read) is stopped.
        writer.abort();
        if unproven_timed_out {
            Shared::bump(&ctx.shared.link_unproven_closed);
            tracing::info!("link connection closed: no SCRAM proof checked in time");
        }
        return;
    }
    // The writer sends what was asked before the end, then the sessions close.
    let _ = writer.await;
    let open: Vec<SessionHandle> = match channels.lock() {
        Ok(mut c) => c.drain().filter_map(|(_, s)| if let Chan::Open(h) = s { Some(h) } else { None }).collect(),
        Err(_) => Vec::new(),
    };
    for handle in open {
        let _ = ctx.queue.send(Request::Close(handle)).await;
    }
}

/// `work`, or `None` if `deadline` (if any) passes first.
async fn by<T>(deadline: Option<Instant>, work: impl Future<Output = T>) -> Option<T> {
    match deadline {
        None => Some(work.await),
        Some(at) => tokio::time::timeout_at(tokio::time::Instant::from_std(at), work).await.ok(),
    }
}

/// Handles one message; `None` ends the connection (a message a collector never sends).
/// `proven`: a SCRAM proof on the connection was checked (more handshakes may run at once).
async fn on_message(
    kind: MessageType,
    channel: u32,
    body: Vec<u8>,
    channels: &Channels,
    ctx: &Ctx,
    proven: bool,
) -> Option<Pending> {
    let closed = Some(Pending::Now(MessageType::Closed, channel));
    match kind {
        MessageType::Hello => {
            let Ok(message) = String::from_utf8(body) else { return closed };
            {
                let Ok(mut chans) = channels.lock() else { return None };
                let most = if proven { MAX_HANDSHAKES_PER_CONNECTION } else { MAX_HANDSHAKES_BEFORE_PROOF };
                if handshakes(&chans) >= most {
                    let timeout = ctx.link_handshake_timeout;
                    chans.retain(|_, c| !matches!(c, Chan::Awaiting(_, since) if since.elapsed() > timeout));
                }
                let busy = handshakes(&chans) >= most;
                if chans.contains_key(&channel) || chans.len() >= MAX_CHANNELS || busy {
                    // A second Hello on a channel in use closes it.
                    if let Some(Chan::Open(h)) = chans.remove(&channel) {
                        return Some(Pending::Close(h, Some(channel)));
                    }
                    return closed;
                }
                chans.insert(channel, Chan::Starting);
            }
            let (reply, answer) = oneshot::channel();
            ctx.queue.send(Request::Hello { message, reply }).await.ok()?;
            Some(Pending::Hello(channel, answer))
        }
        MessageType::ClientFinal => {
            let state = {
                let Ok(mut chans) = channels.lock() else { return None };
                match chans.remove(&channel) {
                    // The handshake's bound in real time, whatever the protocol clock says (an
                    // injected, accelerated clock makes its seconds no real ones).
                    Some(Chan::Awaiting(_, since)) if since.elapsed() > ctx.link_handshake_timeout => {
                        Shared::bump(&ctx.shared.handshakes_failed);
                        tracing::info!(channel, "link handshake refused: too slow");
                        return closed;
                    }
                    Some(Chan::Awaiting(s, _)) => {
                        chans.insert(channel, Chan::Opening);
                        s
                    }
                    Some(other) => {
                        chans.insert(channel, other);
                        return closed;
                    }
                    None => return closed,
                }
            };
            let message = String::from_utf8(body).unwrap_or_default();
            match (*state).handle_client_final(&message, ctx.clock.now()) {
                Ok((session, server_final)) => {
                    Shared::bump(&ctx.shared.handshakes_ok);
                    let (reply, answer) = oneshot::channel();
                    ctx.queue.send(Request::Open { session: Box::new(session), reply }).await.ok()?;
                    Some(Pending::Open(channel, answer, server_final))
                }
                Err(failure) => {
                    Shared::bump(&ctx.shared.handshakes_failed);
                    tracing::info!(event = %failure.event, "link handshake refused");
                    if let Ok(mut chans) = channels.lock() {
                        chans.remove(&channel);
                    }
                    closed
                }
            }
        }
        MessageType::Frame => {
            let handle = match channels.lock() {
                Ok(chans) => match chans.get(&channel) {
                    Some(Chan::Open(h)) => *h,
                    _ => return closed,
                },
                Err(_) => return None,
            };
            let (reply, answer) = oneshot::channel();
            ctx.queue.send(Request::SessionFrame { handle, frame: body, reply }).await.ok()?;
            Some(Pending::Frame(channel, answer))
        }
        MessageType::Closed => {
            let Ok(mut chans) = channels.lock() else { return None };
            match chans.remove(&channel) {
                Some(Chan::Open(h)) => Some(Pending::Close(h, None)),
                // Nothing to answer: send a harmless Closed back (the collector ignores it).
                _ => closed,
            }
        }
        _ => None,
    }
}

/// Sends the answers, in request order, batching writes while more are ready. A peer that does
/// not take them within `ctx.idle_timeout` loses the connection: the reader, blocked on a full
/// queue, is released, and the sessions opened or closed by what was still queued are closed.
async fn write_loop<W: AsyncWrite + Unpin>(
    mut wr: W,
    mut queue: mpsc::Receiver<Pending>,
    channels: Channels,
    ctx: Arc<Ctx>,
) {
    let mut out = Vec::new();
    if answer_all(&mut wr, &mut queue, &mut out, &channels, &ctx).await.is_err() {
        tracing::info!("link connection dropped: its answers were not taken");
        release(queue, &ctx).await;
        return;
    }
    let _ = flush(&mut wr, &mut out, ctx.idle_timeout).await;
    let _ = tokio::time::timeout(ctx.idle_timeout, wr.shutdown()).await;
}

/// The writer gave up: what is still queued is never answered, but no session it names may stay
/// open in the ingest without a channel (each holds one of `printfleet_ingest::MAX_SESSIONS`).
async fn release(mut queue: mpsc::Receiver<Pending>, ctx: &Ctx) {
    queue.close();
    while let Some(next) = queue.recv().await {
        release_one(next, ctx).await;
    }
}

/// A request that will never be answered: the session it opens or closes is closed.
async fn release_one(next: Pending, ctx: &Ctx) {
    let orphan = match next {
        Pending::Open(_, answer, _) => answer.await.ok().flatten(),
        Pending::Close(handle, _) => Some(handle),
        Pending::Now(..) | Pending::Hello(..) | Pending::Frame(..) => None,
    };
    if let Some(handle) = orphan {
        let _ = ctx.queue.send(Request::Close(handle)).await;
    }
}

/// Answers every request the reader queues, in order, until it stops; an error means the peer
/// stopped taking them (a write failed or stalled).
async fn answer_all<W: AsyncWrite + Unpin>(
    wr: &mut W,
    queue: &mut mpsc::Receiver<Pending>,
    out: &mut Vec<u8>,
    channels: &Channels,
    ctx: &Ctx,
) -> std::io::Result<()> {
    while let Some(next) = queue.recv().await {
        let (kind, channel, body) = match next {
            Pending::Now(kind, channel) => (kind, channel, Vec::new()),
            Pending::Hello(channel, answer) => match answer.await {
                Ok(Ok((state, server_first))) => {
                    // Only a channel still starting awaits its proof (one closed meanwhile
                    // stays closed and no longer counts as a handshake).
                    if let Ok(mut c) = channels.lock()
                        && let Some(chan @ Chan::Starting) = c.get_mut(&channel)
                    {
                        *chan = Chan::Awaiting(Box::new(state), Instant::now());
                    }
                    (MessageType::ServerFirst, channel, server_first.into_bytes())
                }
                Ok(Err(failure)) => {
                    Shared::bump(&ctx.shared.handshakes_failed);
                    tracing::info!(event = %failure.event, "link handshake refused");
                    remove(channels, channel);
                    (MessageType::Closed, channel, Vec::new())
                }
                Err(_) => {
                    remove(channels, channel);
                    (MessageType::Closed, channel, Vec::new())
                }
            },
            Pending::Open(channel, answer, server_final) => match answer.await {
                Ok(Some(handle)) => {
                    set(channels, channel, Chan::Open(handle));
                    (MessageType::ServerFinal, channel, server_final.into_bytes())
                }
                _ => {
                    remove(channels, channel);
                    (MessageType::Closed, channel, Vec::new())
                }
            },
            Pending::Frame(channel, answer) => match answer.await {
                Ok(Outcome::Reply(frame)) => (MessageType::Reply, channel, frame),
                Ok(Outcome::Closed) => {
                    remove(channels, channel);
                    (MessageType::Closed, channel, Vec::new())
                }
                Ok(Outcome::Rejected | Outcome::Unavailable) | Err(_) => (MessageType::Rejected, channel, Vec::new()),
            },
            Pending::Close(handle, answer) => {
                let _ = ctx.queue.send(Request::Close(handle)).await;
                match answer {
                    Some(channel) => (MessageType::Closed, channel, Vec::new()),
                    None => {
                        if queue.is_empty() {
                            flush(wr, out, ctx.idle_timeout).await?;
                        }
                        continue;
                    }
                }
            }
        };
        if (Message { kind, channel, body: &body }).encode(out).is_err() {
            // Still one answer per request: the collector counts them.
            tracing::warn!(?kind, "answer too large for a link message: sent as Rejected");
            let rejected = Message { kind: MessageType::Rejected, channel, body: &[] };
            if rejected.encode(out).is_err() {
                return Err(std::io::Error::other("a link message without a body did not encode"));
            }
        }
        if queue.is_empty() || out.len() >= FLUSH_BYTES {
            flush(wr, out, ctx.idle_timeout).await?;
        }
    }
    Ok(())
}

/// Writes `out` and flushes, within `limit` (a peer that stops reading does not hold the
/// connection's task, its slot and its sessions for ever).
async fn flush<W: AsyncWrite + Unpin>(wr: &mut W, out: &mut Vec<u8>, limit: Duration) -> std::io::Result<()> {
    let write = async {
        if !out.is_empty() {
            wr.write_all(out).await?;
            out.clear();
        }
        wr.flush().await
    };
    tokio::time::timeout(limit, write)
        .await
        .unwrap_or_else(|_| Err(std::io::Error::new(std::io::ErrorKind::TimedOut, "peer not reading")))
}

/// Channels not (yet) open.
fn handshakes(chans: &HashMap<u32, Chan>) -> usize {
    chans.values().filter(|c| !matches!(c, Chan::Open(_))).count()
}

fn set(channels: &Channels, channel: u32, state: Chan) {
    if let Ok(mut c) = channels.lock() {
        c.insert(channel, state);
    }
}

fn remove(channels: &Channels, channel: u32) {
    if let Ok(mut c) = channels.lock() {
        c.remove(&channel);
    }
}
