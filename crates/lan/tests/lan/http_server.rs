//! A tiny HTTP/1.1 server on 127.0.0.1 for the tests: one connection at a time, `Connection:
//! close`, stops when dropped (its accept loop wakes every 10 ms to look).

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

/// What the server answers.
pub(crate) enum Route {
    /// `GET /DevMgmt/NAME` serves `dir/NAME`, except the paths in the list, answered 401;
    /// anything else is 404.
    Files(PathBuf, Vec<&'static str>),
    /// `GET /cdm/a/b/c` serves `dir/cdm_a_b_c.json` (HP CDM, as captures name the files),
    /// except the paths in `refused`, answered 401, and in `failing`, answered 503; anything
    /// else is 404.
    Cdm {
        /// The folder of documents.
        dir: PathBuf,
        /// Paths answered 401 Unauthorized.
        refused: Vec<&'static str>,
        /// Paths answered 503 Service Unavailable.
        failing: Vec<&'static str>,
    },
    /// Always 404.
    NotFound,
    /// Always 200 with these bytes.
    Bytes(Vec<u8>),
    /// Accepts, reads, never answers (until the client gives up).
    Mute,
    /// 404, after this long.
    Slow(Duration),
}

pub(crate) struct Server {
    address: SocketAddr,
    stop: Arc<AtomicBool>,
    requests: Arc<Mutex<Vec<Vec<u8>>>>,
    thread: Option<JoinHandle<()>>,
}

fn read_request(stream: &mut TcpStream) -> Vec<u8> {
    stream.set_read_timeout(Some(Duration::from_millis(500))).unwrap();
    let mut data = Vec::new();
    let mut buf = [0_u8; 8192];
    // Headers, then as many body bytes as Content-Length says (bounded: 1 MiB).
    while data.len() < 1 << 20 {
        let Ok(n) = stream.read(&mut buf) else { break };
        if n == 0 {
            break;
        }
        data.extend_from_slice(&buf[..n]);
        if let Some(end) = data.windows(4).position(|w| w == b"\r\n\r\n") {
            let head = String::from_utf8_lossy(&data[..end]).to_ascii_lowercase();
            let len: usize = head
                .lines()
                .find_map(|l| l.strip_prefix("content-length:"))
                .map_or(0, |v| v.trim().parse().unwrap_or(0));
            if data.len() >= end + 4 + len {
                break;
            }
        }
    }
    data
}

impl Server {
    pub(crate) fn start(route: Route) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        listener.set_nonblocking(true).unwrap();
        let address = listener.local_addr().unwrap();
        let stop = Arc::new(AtomicBool::new(false));
        let requests = Arc::new(Mutex::new(Vec::new()));
        let (flag, seen) = (Arc::clone(&stop), Arc::clone(&requests));
        let thread = std::thread::spawn(move || {
            // Bounded: at most 10 000 wake-ups (100 s) even if never dropped.
            for _ in 0..10_000 {
                if flag.load(Ordering::Relaxed) {
                    return;
                }
                let Ok((mut stream, _)) = listener.accept() else {
                    std::thread::sleep(Duration::from_millis(10));
                    continue;
                };
                stream.set_nonblocking(false).unwrap();
                let request = read_request(&mut stream);
                let line = String::from_utf8_lossy(&request).lines().next().unwrap_or("").to_owned();
                seen.lock().unwrap().push(request);
                let (status, body) = match &route {
                    Route::Files(dir, refused) => {
                        let path = line.split(' ').nth(1).unwrap_or("");
                        match path.strip_prefix("/DevMgmt/").and_then(|n| std::fs::read(dir.join(n)).ok()) {
                            _ if refused.contains(&path) => ("401 Unauthorized", Vec::new()),
                            Some(body) if !path.contains("..") => ("200 OK", body),
                            _ => ("404 Not Found", Vec::new()),
                        }
                    }
                    Route::Cdm { dir, refused, failing } => {
                        let path = line.split(' ').nth(1).unwrap_or("");
                        let file = format!("{}.json", path.trim_start_matches('/').replace('/', "_"));
                        if refused.contains(&path) {
                            ("401 Unauthorized", Vec::new())
                        } else if failing.contains(&path) {
                            ("503 Service Unavailable", Vec::new())
                        } else {
                            match std::fs::read(dir.join(file)).ok() {
                                Some(body) if path.starts_with("/cdm/") && !path.contains("..") => ("200 OK", body),
                                _ => ("404 Not Found", Vec::new()),
                            }
                        }
                    }
                    Route::NotFound => ("404 Not Found", Vec::new()),
                    Route::Slow(delay) => {
                        std::thread::sleep(*delay);
                        ("404 Not Found", Vec::new())
                    }
                    Route::Bytes(b) => ("200 OK", b.clone()),
                    Route::Mute => {
                        while !flag.load(Ordering::Relaxed) {
                            std::thread::sleep(Duration::from_millis(10));
                        }
                        return;
                    }
                };
                let head = format!("HTTP/1.1 {status}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n", body.len());
                let _ = stream.write_all(head.as_bytes());
                let _ = stream.write_all(&body);
            }
        });
        Self { address, stop, requests, thread: Some(thread) }
    }

    pub(crate) fn address(&self) -> SocketAddr {
        self.address
    }

    pub(crate) fn requests(&self) -> Vec<Vec<u8>> {
        self.requests.lock().unwrap().clone()
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}
