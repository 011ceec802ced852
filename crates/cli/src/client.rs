//! Blocking clients of the portal: one-shot frames over HTTPS ([`OneShotClient`]) and the
//! session-mode link over one TLS TCP connection ([`SessionLink`]), both trusting only the
//! portal's own CA ([`PortalTrust`]).
//!
//! Plain threads and blocking sockets: a collector sends a few thousand frames every half hour,
//! which needs no async runtime. Every connect, read and write has a timeout; every read is
//! bounded ([`printfleet_wire::link::MAX_MESSAGE_BYTES`] for a link message or an HTTPS reply,
//! refused before anything that large is allocated).
//!
//! Session mode (`printfleet_wire::link`): the collector runs the SCRAM handshakes of many
//! devices at once, one channel each ([`SessionLink::open_sessions`]), turns each
//! [`printfleet_auth::Session`] into the device agent's channel
//! (`printfleet_agent::Collector::attach_session`), then sends the frames of every device,
//! pipelined ([`EXCHANGE_WINDOW`] unanswered at most), and reads the replies
//! ([`SessionLink::exchange`]).
//!
//! ```no_run
//! use printfleet_auth::{DeviceSecret, KeyEpoch};
//! use printfleet_cli::client::{LinkReply, PortalTrust, SessionLink};
//! use printfleet_schema::Timestamp;
//!
//! let trust = PortalTrust::from_ca_pem(&std::fs::read_to_string("/var/lib/printfleet/ca.pem")?)?;
//! let mut link = SessionLink::connect("127.0.0.1:7443".parse()?, "localhost", &trust)?;
//! let secret = DeviceSecret::from_bytes(&[7; 32])?;
//! let mut rng = printfleet_wire::frame::OsRng::default();
//! let now = Timestamp::from_unix_millis(1_793_610_000_000)?;
//! let opened = link.open_sessions(&[("printer-7".to_owned(), secret, KeyEpoch(1))], now, &mut rng)?;
//! for session in opened.into_iter().flatten() {
//!     let channel = session.channel;
//!     let mut device = session.session.into_device_channel().ok_or("not a device session")?;
//!     // ... the agent seals a frame with `device`, then:
//!     # let frame = Vec::new();
//!     match link.exchange(&[(channel, frame)])?.pop() {
//!         Some(LinkReply::Reply(reply)) => { /* agent.handle_frame(now, &reply) */ }
//!         Some(LinkReply::Rejected) => { /* counted; the agent retries */ }
//!         _ => { /* closed: a new handshake after a back-off */ }
//!     }
//!     # let _ = &mut device;
//! }
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::fmt;
use std::io::{self, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use printfleet_auth::{AuthError, ClientAwaitingServerFinal, ClientHandshake, DeviceSecret, KeyEpoch, Session};
use printfleet_schema::Timestamp;
use printfleet_wire::link::{
    LinkError, LinkReader, MAX_CHANNELS, MAX_HANDSHAKES_BEFORE_PROOF, MAX_MESSAGE_BYTES, Message, MessageType,
};
use rand_core::CryptoRng;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName};
use rustls::{ClientConfig, ClientConnection, RootCertStore, StreamOwned};

/// How long a TCP connect may take.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// How long one read or one write may block (the portal answers a batch in milliseconds; a
/// connection silent this long is dead).
pub const IO_TIMEOUT: Duration = Duration::from_secs(30);
/// Most bytes of a CA file read ([`PortalTrust::from_ca_file`]): a CA bundle is a few KiB.
pub const MAX_CA_PEM_BYTES: usize = 1 << 20;
/// Bytes asked of the socket per read (the link reader never holds more than one message plus
/// one read).
pub const READ_CHUNK_BYTES: usize = 16 * 1024;
/// Most bytes of an HTTPS reply body read: a reply frame is a link message at most.
pub const MAX_REPLY_BYTES: usize = MAX_MESSAGE_BYTES;
/// The HTTPS path of one-shot frames.
pub const FRAMES_PATH: &str = "/v1/frames";
/// Frames of a link exchange sent and not yet answered, at most ([`SessionLink::exchange`]):
/// with answers of a few hundred bytes, well within any socket's buffers.
pub const EXCHANGE_WINDOW: usize = 256;

/// Why a client call failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ClientError {
    /// The CA file or PEM text holds no usable certificate.
    #[error("portal CA: {reason}")]
    Ca {
        /// What is wrong with it.
        reason: String,
    },
    /// The portal presented a certificate the pinned CA does not vouch for (or one for another
    /// name): the connection was refused before anything was sent.
    #[error("the portal's certificate was refused: {0}")]
    Certificate(rustls::Error),
    /// Another TLS failure.
    #[error("TLS: {0}")]
    Tls(rustls::Error),
    /// A socket error (refused, reset, ...).
    #[error("network: {0}")]
    Io(io::Error),
    /// A connect, read or write took longer than its timeout.
    #[error("timed out")]
    Timeout,
    /// The portal closed the connection.
    #[error("the portal closed the connection")]
    ConnectionClosed,
    /// The link stream is broken (an oversized length prefix, an unknown message type): the
    /// connection must be dropped.
    #[error("link: {0}")]
    Link(LinkError),
    /// The portal sent a link message that does not fit the protocol's state.
    #[error("link protocol: {0}")]
    Protocol(&'static str),
    /// A device's SCRAM handshake failed on the device's side (a wrong server proof, refused
    /// parameters, ...).
    #[error("handshake: {0}")]
    Handshake(AuthError),
    /// The portal closed the channel (a handshake it refused, a session ended).
    #[error("the portal closed the channel")]
    ChannelClosed,
    /// More than [`MAX_CHANNELS`] channels would be open on the connection.
    #[error("more than {MAX_CHANNELS} channels on one connection")]
    TooManyChannels,
    /// An unusable portal URL or proxy address.
    #[error("{what}: {reason}")]
    Config {
        /// `portal URL` or `proxy`.
        what: &'static str,
        /// Why.
        reason: String,
    },
    /// The portal refused the frame (HTTP 400, opaque by design).
    #[error("frame rejected")]
    Rejected,
    /// The portal refused the frame as too large (HTTP 413).
    #[error("frame too large for the portal")]
    TooLarge,
    /// The portal cannot store now (HTTP 503); try again after `retry_after` seconds if given.
    #[error("portal unavailable (retry after {retry_after:?} s)")]
    Unavailable {
        /// The `Retry-After` header, in seconds.
        retry_after: Option<u64>,
    },
    /// Any other HTTP status.
    #[error("unexpected HTTP status {status}")]
    Status {
        /// The status.
        status: u16,
    },
    /// An HTTP failure that fits none of the above.
    #[error("HTTP: {0}")]
    Http(String),
}

impl ClientError {
    /// Whether the connection is gone (reconnect after a back-off) rather than one frame or one
    /// channel refused.
    pub fn is_connection_lost(&self) -> bool {
        matches!(
            self,
            Self::Io(_) | Self::Timeout | Self::ConnectionClosed | Self::Link(_) | Self::Protocol(_) | Self::Tls(_)
        )
    }
}

/// Maps a socket error, telling a refused certificate and a timeout apart.
fn io_error(e: io::Error) -> ClientError {
    if let Some(tls) = e.get_ref().and_then(|inner| inner.downcast_ref::<rustls::Error>()) {
        return tls_error(tls.clone());
    }
    match e.kind() {
        io::ErrorKind::TimedOut | io::ErrorKind::WouldBlock => ClientError::Timeout,
        io::ErrorKind::UnexpectedEof => ClientError::ConnectionClosed,
        _ => ClientError::Io(e),
    }
}

fn tls_error(e: rustls::Error) -> ClientError {
    match e {
        rustls::Error::InvalidCertificate(_) | rustls::Error::NoCertificatesPresented => ClientError::Certificate(e),
        other => ClientError::Tls(other),
    }
}

/// The portal's CA, the only one the clients trust ("pin the portal's CA"): the portal
/// generates it on first start (`ca.pem` in its state directory) unless it was given a
/// certificate.
#[derive(Clone)]
pub struct PortalTrust {
    roots: Arc<RootCertStore>,
    certs: Vec<CertificateDer<'static>>,
}

impl fmt::Debug for PortalTrust {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PortalTrust").field("certificates", &self.certs.len()).finish()
    }
}

impl PortalTrust {
    /// Every certificate of a PEM text (one CA, or a bundle); at least one is required, and
    /// each must be a usable trust anchor.
    pub fn from_ca_pem(pem: &str) -> Result<Self, ClientError> {
        let mut certs = Vec::new();
        for cert in CertificateDer::pem_slice_iter(pem.as_bytes()) {
            certs.push(cert.map_err(|e| ClientError::Ca { reason: e.to_string() })?);
        }
        if certs.is_empty() {
            return Err(ClientError::Ca { reason: "no certificate in the PEM text".into() });
        }
        let mut roots = RootCertStore::empty();
        for cert in &certs {
            roots.add(cert.clone()).map_err(|e| ClientError::Ca { reason: e.to_string() })?;
        }
        Ok(Self { roots: Arc::new(roots), certs })
    }

    /// [`PortalTrust::from_ca_pem`] of a file, read with a cap ([`MAX_CA_PEM_BYTES`]).
    pub fn from_ca_file(path: &Path) -> Result<Self, ClientError> {
        let file =
            std::fs::File::open(path).map_err(|e| ClientError::Ca { reason: format!("{}: {e}", path.display()) })?;
        let mut text = String::new();
        let cap = u64::try_from(MAX_CA_PEM_BYTES).unwrap_or(u64::MAX).saturating_add(1);
        file.take(cap)
            .read_to_string(&mut text)
            .map_err(|e| ClientError::Ca { reason: format!("{}: {e}", path.display()) })?;
        if text.len() > MAX_CA_PEM_BYTES {
            return Err(ClientError::Ca {
                reason: format!("{}: larger than {MAX_CA_PEM_BYTES} bytes", path.display()),
            });
        }
        Self::from_ca_pem(&text)
    }

    fn client_config(&self) -> Result<Arc<ClientConfig>, ClientError> {
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let config = ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .map_err(ClientError::Tls)?
            .with_root_certificates(Arc::clone(&self.roots))
            .with_no_client_auth();
        Ok(Arc::new(config))
    }
}

// ---------------------------------------------------------------------------------------------
// One-shot mode over HTTPS

/// One-shot frames over HTTPS: `POST {base}/v1/frames` with the frame as the body
/// (`application/octet-stream`), the reply frame back. Connections are kept alive between
/// frames; an HTTP(S) proxy (`http://host:port`, HTTP CONNECT) may stand in between. The portal's
/// certificate must chain to the pinned CA; redirects are not followed.
pub struct OneShotClient {
    agent: ureq::Agent,
    url: String,
}

impl fmt::Debug for OneShotClient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("OneShotClient").field("url", &self.url).finish_non_exhaustive()
    }
}

impl OneShotClient {
    /// A client of the portal at `base_url` (`https://host:port`, no path), trusting `trust`,
    /// through `proxy` if given.
    pub fn new(base_url: &str, trust: &PortalTrust, proxy: Option<&str>) -> Result<Self, ClientError> {
        let base = base_url.trim_end_matches('/');
        let authority = base.strip_prefix("https://").ok_or_else(|| ClientError::Config {
            what: "portal URL",
            reason: format!("{base_url:?} is not https://host:port"),
        })?;
        if authority.is_empty() || authority.contains('/') || authority.contains('?') || authority.contains('#') {
            return Err(ClientError::Config {
                what: "portal URL",
                reason: format!("{base_url:?} is not https://host:port (no path)"),
            });
        }
        let proxy = match proxy {
            Some(p) => {
                Some(ureq::Proxy::new(p).map_err(|e| ClientError::Config { what: "proxy", reason: e.to_string() })?)
            }
            None => None,
        };
        let roots: Vec<ureq::tls::Certificate<'static>> =
            trust.certs.iter().map(|c| ureq::tls::Certificate::from_der(c.as_ref()).to_owned()).collect();
        let tls = ureq::tls::TlsConfig::builder()
            .provider(ureq::tls::TlsProvider::Rustls)
            .root_certs(ureq::tls::RootCerts::new_with_certs(&roots))
            .build();
        let agent = ureq::Agent::config_builder()
            .tls_config(tls)
            .proxy(proxy)
            .https_only(true)
            .http_status_as_error(false)
            .max_redirects(0)
            .timeout_connect(Some(CONNECT_TIMEOUT))
            .timeout_per_call(Some(IO_TIMEOUT))
            .user_agent("printfleet-collector")
            .build()
            .into();
        Ok(Self { agent, url: format!("{base}{FRAMES_PATH}") })
    }

    /// Posts one frame; the reply frame on success. A refusal is [`ClientError::Rejected`]
    /// (opaque), an overloaded store [`ClientError::Unavailable`].
    pub fn post_frame(&self, frame: &[u8]) -> Result<Vec<u8>, ClientError> {
        let response = self
            .agent
            .post(&self.url)
            .header("Content-Type", "application/octet-stream")
            .send(frame)
            .map_err(ureq_error);
        let mut response = response?;
        let status = response.status().as_u16();
        let retry_after =
            response.headers().get("Retry-After").and_then(|v| v.to_str().ok()).and_then(|v| v.trim().parse().ok());
        // The body is read whatever the status (bounded): only a connection whose response was
        // read to its end goes back to the pool for the next frame.
        let body = response
            .body_mut()
            .with_config()
            .limit(u64::try_from(MAX_REPLY_BYTES).unwrap_or(u64::MAX))
            .read_to_vec()
            .map_err(ureq_error)?;
        match status {
            200 => Ok(body),
            400 => Err(ClientError::Rejected),
            413 => Err(ClientError::TooLarge),
            503 => Err(ClientError::Unavailable { retry_after }),
            status => Err(ClientError::Status { status }),
        }
    }
}

fn ureq_error(e: ureq::Error) -> ClientError {
    match e {
        ureq::Error::Io(e) => io_error(e),
        ureq::Error::Timeout(_) => ClientError::Timeout,
        ureq::Error::Rustls(e) => tls_error(e),
        ureq::Error::ConnectionFailed => ClientError::Io(io::Error::from(io::ErrorKind::ConnectionRefused)),
        ureq::Error::BodyExceedsLimit(_) => ClientError::Protocol("reply body above the limit"),
        other => ClientError::Http(other.to_string()),
    }
}

// ---------------------------------------------------------------------------------------------
// Session mode over the link

/// A device's session established by [`SessionLink::open_sessions`]: the channel it runs on
/// and its [`Session`], to turn into the device agent's channel.
#[derive(Debug)]
pub struct OpenSession {
    /// The channel of the connection it runs on (pass it to [`SessionLink::exchange`]).
    pub channel: u32,
    /// The device's end of the session.
    pub session: Session,
}

/// The portal's answer to one frame sent with [`SessionLink::exchange`].
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum LinkReply {
    /// The reply frame (ack or resync): hand it to the device's agent.
    Reply(Vec<u8>),
    /// The frame was refused (opaque); the channel stays open.
    Rejected,
    /// The channel is closed (by the portal, or it was not open): run a new handshake.
    Closed,
}

/// What a channel is waiting for during [`SessionLink::open_sessions`].
enum Pending {
    ServerFirst(ClientHandshake),
    ServerFinal(ClientAwaitingServerFinal),
}

/// One TLS TCP connection to the portal carrying many devices' channels (the session-mode
/// link, `printfleet_wire::link`): pipelined handshakes, pipelined frames, replies in order.
///
/// Any error returned by a method other than a per-device one leaves the link unusable: drop it
/// and connect again after a back-off.
pub struct SessionLink {
    stream: StreamOwned<ClientConnection, TcpStream>,
    reader: LinkReader,
    open: BTreeSet<u32>,
    next_channel: u32,
    /// Channels the portal closed outside an exchange (drained by [`SessionLink::take_closed`]).
    closed: Vec<u32>,
    out: Vec<u8>,
    /// A handshake on this connection succeeded: the portal takes many at once.
    proven: bool,
}

impl fmt::Debug for SessionLink {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SessionLink")
            .field("peer", &self.stream.sock.peer_addr().ok())
            .field("open_channels", &self.open.len())
            .finish_non_exhaustive()
    }
}

impl SessionLink {
    /// Connects to the portal's TCP listener at `addr` and completes the TLS handshake, checking
    /// that the portal's certificate is for `server_name` and chains to `trust`
    /// ([`ClientError::Certificate`] otherwise).
    pub fn connect(addr: SocketAddr, server_name: &str, trust: &PortalTrust) -> Result<Self, ClientError> {
        let name = ServerName::try_from(server_name.to_owned())
            .map_err(|e| ClientError::Config { what: "portal server name", reason: e.to_string() })?;
        let connection = ClientConnection::new(trust.client_config()?, name).map_err(ClientError::Tls)?;
        let socket = TcpStream::connect_timeout(&addr, CONNECT_TIMEOUT).map_err(io_error)?;
        socket.set_read_timeout(Some(IO_TIMEOUT)).map_err(io_error)?;
        socket.set_write_timeout(Some(IO_TIMEOUT)).map_err(io_error)?;
        socket.set_nodelay(true).map_err(io_error)?;
        let mut stream = StreamOwned::new(connection, socket);
        while stream.conn.is_handshaking() {
            stream.conn.complete_io(&mut stream.sock).map_err(io_error)?;
        }
        Ok(Self {
            stream,
            reader: LinkReader::new(),
            open: BTreeSet::new(),
            next_channel: 1,
            closed: Vec::new(),
            out: Vec::new(),
            proven: false,
        })
    }

    /// Channels open on the connection.
    pub fn open_channels(&self) -> usize {
        self.open.len()
    }

    /// Whether `channel` is open.
    pub fn is_open(&self, channel: u32) -> bool {
        self.open.contains(&channel)
    }

    /// Channels the portal closed while no frame of theirs was waiting for a reply (for example
    /// at the end of a session); the caller runs new handshakes for their devices.
    pub fn take_closed(&mut self) -> Vec<u32> {
        std::mem::take(&mut self.closed)
    }

    fn allocate_channel(&mut self) -> Result<u32, ClientError> {
        if self.open.len() >= MAX_CHANNELS {
            return Err(ClientError::TooManyChannels);
        }
        // At most MAX_CHANNELS are open, so a free number is found within MAX_CHANNELS + 1 tries.
        for _ in 0..=MAX_CHANNELS {
            let candidate = self.next_channel;
            self.next_channel = self.next_channel.checked_add(1).unwrap_or(1);
            if !self.open.contains(&candidate) {
                return Ok(candidate);
            }
        }
        Err(ClientError::TooManyChannels)
    }

    fn queue(&mut self, kind: MessageType, channel: u32, body: &[u8]) -> Result<(), ClientError> {
        Message { kind, channel, body }.encode(&mut self.out).map_err(ClientError::Link)
    }

    fn flush(&mut self) -> Result<(), ClientError> {
        if !self.out.is_empty() {
            self.stream.write_all(&self.out).map_err(io_error)?;
            self.stream.flush().map_err(io_error)?;
            self.out.clear();
        }
        Ok(())
    }

    /// Reads until at least one message is buffered, then hands every complete one to `handle`.
    fn read_messages(
        &mut self,
        mut handle: impl FnMut(&mut Vec<u8>, Message<'_>) -> Result<(), ClientError>,
    ) -> Result<(), ClientError> {
        let mut chunk = [0u8; READ_CHUNK_BYTES];
        let mut handled = 0_usize;
        while handled == 0 {
            let n = self.stream.read(&mut chunk).map_err(io_error)?;
            if n == 0 {
                return Err(ClientError::ConnectionClosed);
            }
            self.reader.extend(chunk.get(..n).unwrap_or_default());
            let out = &mut self.out;
            while let Some(message) = self.reader.next_message().map_err(ClientError::Link)? {
                handle(out, message)?;
                handled = handled.saturating_add(1);
            }
        }
        Ok(())
    }

    /// Runs the SCRAM handshakes of `devices` (name, secret, key epoch) at once, one channel
    /// each: every Hello is written before any answer is read, and each device's next message
    /// goes out as soon as its answer arrives. Returns, in the order of `devices`, each device's
    /// [`OpenSession`] or why its handshake failed ([`ClientError::ChannelClosed`] when the portal
    /// refused it). The outer error means the connection is lost.
    ///
    /// Until one handshake on the connection has succeeded, they run at most
    /// [`MAX_HANDSHAKES_BEFORE_PROOF`] at a time (the portal refuses more before a proof).
    ///
    /// `now` is the time of the whole exchange (the handshakes' timeout counts from it).
    pub fn open_sessions(
        &mut self,
        devices: &[(String, DeviceSecret, KeyEpoch)],
        now: Timestamp,
        rng: &mut impl CryptoRng,
    ) -> Result<Vec<Result<OpenSession, ClientError>>, ClientError> {
        let mut results = Vec::with_capacity(devices.len());
        let mut rest = devices;
        while !rest.is_empty() {
            let take = if self.proven { rest.len() } else { MAX_HANDSHAKES_BEFORE_PROOF.min(rest.len()) };
            let (batch, after) = rest.split_at(take);
            let opened = self.open_batch(batch, now, rng)?;
            self.proven |= opened.iter().any(Result::is_ok);
            results.extend(opened);
            rest = after;
        }
        Ok(results)
    }

    /// [`SessionLink::open_sessions`] of one batch, all at once.
    fn open_batch(
        &mut self,
        devices: &[(String, DeviceSecret, KeyEpoch)],
        now: Timestamp,
        rng: &mut impl CryptoRng,
    ) -> Result<Vec<Result<OpenSession, ClientError>>, ClientError> {
        let mut results: Vec<Option<Result<OpenSession, ClientError>>> = devices.iter().map(|_| None).collect();
        let mut pending: BTreeMap<u32, (usize, Pending)> = BTreeMap::new();
        for (index, (name, secret, epoch)) in devices.iter().enumerate() {
            let slot = results.get_mut(index).ok_or(ClientError::Protocol("device index"))?;
            let (handshake, hello) = match ClientHandshake::start(name, secret, *epoch, rng, now) {
                Ok(started) => started,
                Err(e) => {
                    *slot = Some(Err(ClientError::Handshake(e)));
                    continue;
                }
            };
            let channel = match self.allocate_channel() {
                Ok(c) => c,
                Err(e) => {
                    *slot = Some(Err(e));
                    continue;
                }
            };
            self.open.insert(channel);
            self.queue(MessageType::Hello, channel, hello.as_bytes())?;
            pending.insert(channel, (index, Pending::ServerFirst(handshake)));
        }
        self.flush()?;
        while !pending.is_empty() {
            let mut finished: Vec<(usize, u32, Result<Session, ClientError>)> = Vec::new();
            let mut closed_idle: Vec<u32> = Vec::new();
            self.read_messages(|out, message| {
                let Some((index, state)) = pending.remove(&message.channel) else {
                    return match message.kind {
                        MessageType::Closed => {
                            closed_idle.push(message.channel);
                            Ok(())
                        }
                        _ => Err(ClientError::Protocol("a handshake message on a channel not in a handshake")),
                    };
                };
                let text = std::str::from_utf8(message.body)
                    .map_err(|_| ClientError::Protocol("a SCRAM message that is not UTF-8"));
                match (message.kind, state) {
                    (MessageType::ServerFirst, Pending::ServerFirst(handshake)) => {
                        match handshake.handle_server_first(text?, now) {
                            Ok((next, client_final)) => {
                                Message {
                                    kind: MessageType::ClientFinal,
                                    channel: message.channel,
                                    body: client_final.as_bytes(),
                                }
                                .encode(out)
                                .map_err(ClientError::Link)?;
                                pending.insert(message.channel, (index, Pending::ServerFinal(next)));
                            }
                            Err(e) => finished.push((index, message.channel, Err(ClientError::Handshake(e)))),
                        }
                    }
                    (MessageType::ServerFinal, Pending::ServerFinal(awaiting)) => {
                        let result = awaiting.handle_server_final(text?, now).map_err(ClientError::Handshake);
                        finished.push((index, message.channel, result));
                    }
                    (MessageType::Closed, _) => {
                        finished.push((index, message.channel, Err(ClientError::ChannelClosed)))
                    }
                    _ => return Err(ClientError::Protocol("a link message out of the handshake's order")),
                }
                Ok(())
            })?;
            for channel in closed_idle {
                self.open.remove(&channel);
                self.closed.push(channel);
            }
            for (index, channel, result) in finished {
                let result = match result {
                    Ok(session) => Ok(OpenSession { channel, session }),
                    Err(e) => {
                        if !matches!(e, ClientError::ChannelClosed) {
                            // Our side gave up: tell the portal the channel is done.
                            self.queue(MessageType::Closed, channel, &[])?;
                        }
                        self.open.remove(&channel);
                        Err(e)
                    }
                };
                if let Some(slot) = results.get_mut(index) {
                    *slot = Some(result);
                }
            }
            self.flush()?;
        }
        Ok(results.into_iter().map(|r| r.unwrap_or(Err(ClientError::Protocol("handshake never finished")))).collect())
    }

    /// Sends every frame (each on its device's channel) and reads the answers: one
    /// [`LinkReply`] per frame, in the order of `frames`. At most [`EXCHANGE_WINDOW`] frames are
    /// unanswered at a time, so that neither side's socket buffers have to hold every frame and
    /// answer of a large round (the portal stops reading a connection whose answers it cannot
    /// write). A frame on a channel that is not open is not sent and answered
    /// [`LinkReply::Closed`]. The error means the connection is lost (the frames' answers are
    /// unknown: the agents retry them).
    pub fn exchange(&mut self, frames: &[(u32, Vec<u8>)]) -> Result<Vec<LinkReply>, ClientError> {
        let mut replies: Vec<Option<LinkReply>> = frames.iter().map(|_| None).collect();
        let mut waiting: BTreeMap<u32, VecDeque<usize>> = BTreeMap::new();
        let mut outstanding = 0_usize;
        for (index, (channel, frame)) in frames.iter().enumerate() {
            if !self.open.contains(channel) {
                if let Some(slot) = replies.get_mut(index) {
                    *slot = Some(LinkReply::Closed);
                }
                continue;
            }
            if outstanding >= EXCHANGE_WINDOW {
                self.flush()?;
                while outstanding >= EXCHANGE_WINDOW / 2 {
                    self.read_answers(&mut waiting, &mut replies, &mut outstanding)?;
                }
            }
            // The channel may have been closed by an answer just read.
            if !self.open.contains(channel) {
                if let Some(slot) = replies.get_mut(index) {
                    *slot = Some(LinkReply::Closed);
                }
                continue;
            }
            self.queue(MessageType::Frame, *channel, frame)?;
            waiting.entry(*channel).or_default().push_back(index);
            outstanding = outstanding.saturating_add(1);
        }
        self.flush()?;
        while outstanding > 0 {
            self.read_answers(&mut waiting, &mut replies, &mut outstanding)?;
        }
        Ok(replies.into_iter().map(|r| r.unwrap_or(LinkReply::Closed)).collect())
    }

    /// Reads what has arrived (at least one message) and files each answer under its frame.
    fn read_answers(
        &mut self,
        waiting: &mut BTreeMap<u32, VecDeque<usize>>,
        replies: &mut [Option<LinkReply>],
        outstanding: &mut usize,
    ) -> Result<(), ClientError> {
        let mut answered: Vec<(usize, LinkReply)> = Vec::new();
        let mut closed: Vec<u32> = Vec::new();
        self.read_messages(|_, message| {
            let reply = match message.kind {
                MessageType::Reply => LinkReply::Reply(message.body.to_vec()),
                MessageType::Rejected => LinkReply::Rejected,
                MessageType::Closed => {
                    closed.push(message.channel);
                    for index in waiting.remove(&message.channel).unwrap_or_default() {
                        answered.push((index, LinkReply::Closed));
                    }
                    return Ok(());
                }
                _ => return Err(ClientError::Protocol("a link message other than an answer to a frame")),
            };
            let index = waiting
                .get_mut(&message.channel)
                .and_then(VecDeque::pop_front)
                .ok_or(ClientError::Protocol("an answer to no frame"))?;
            answered.push((index, reply));
            Ok(())
        })?;
        for channel in closed {
            if self.open.remove(&channel) {
                self.closed.push(channel);
            }
        }
        for (index, reply) in answered {
            if let Some(slot) = replies.get_mut(index)
                && slot.is_none()
            {
                *slot = Some(reply);
                *outstanding = outstanding.saturating_sub(1);
            }
        }
        Ok(())
    }

    /// Closes `channel` (the collector is done with it: a session about to expire, a device
    /// removed). Returns whether it was open.
    pub fn close_channel(&mut self, channel: u32) -> Result<bool, ClientError> {
        if !self.open.remove(&channel) {
            return Ok(false);
        }
        self.queue(MessageType::Closed, channel, &[])?;
        self.flush()?;
        Ok(true)
    }
}
