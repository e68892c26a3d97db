//! A fault-injecting HTTP/1.1 proxy in front of the S3 server.
//!
//! Every coordinator and worker reaches S3 through it. While a fault window is open, each
//! request is faulted with some probability, in one of four ways an object store (or the
//! network to it) fails: added latency, a `503 SlowDown` answer, a connection reset
//! part-way through the answer, or a black hole (the request is read, no answer ever
//! comes). It reads just enough HTTP to find where each request and answer ends
//! (Content-Length or chunked bodies), so faults reach requests on pooled keep-alive
//! connections too; anything it cannot frame is passed through untouched.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::rng::Rng;

/// The ways a connection is faulted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum S3Fault {
    /// Forwarded after a delay.
    Latency,
    /// Answered `503 SlowDown` without reaching the server.
    Unavailable,
    /// Cut after a few kilobytes of the answer.
    Reset,
    /// Read, never answered.
    BlackHole,
}

impl S3Fault {
    /// Every kind, for reports.
    pub const ALL: [S3Fault; 4] = [S3Fault::Latency, S3Fault::Unavailable, S3Fault::Reset, S3Fault::BlackHole];

    /// A short name.
    pub fn name(self) -> &'static str {
        match self {
            S3Fault::Latency => "s3-latency",
            S3Fault::Unavailable => "s3-503",
            S3Fault::Reset => "s3-reset",
            S3Fault::BlackHole => "s3-black-hole",
        }
    }
}

/// The fault window in force: which fault, for what share of new connections.
#[derive(Debug, Clone, Copy)]
struct Window {
    fault: S3Fault,
    probability: f64,
}

struct Shared {
    upstream: u16,
    window: Mutex<Option<Window>>,
    rng: Mutex<Rng>,
    stopping: AtomicBool,
    injected: [AtomicU64; 4],
    connections: AtomicU64,
}

/// A running proxy; stops accepting when dropped.
pub struct FaultProxy {
    port: u16,
    shared: Arc<Shared>,
}

/// Longest a black-holed connection is held open.
const BLACK_HOLE_HOLD: Duration = Duration::from_secs(60);

impl FaultProxy {
    /// Listens on a free loopback port and forwards to `127.0.0.1:upstream`.
    pub fn start(upstream: u16, rng: Rng) -> std::io::Result<Self> {
        let listener = TcpListener::bind("127.0.0.1:0")?;
        let port = listener.local_addr()?.port();
        let shared = Arc::new(Shared {
            upstream,
            window: Mutex::new(None),
            rng: Mutex::new(rng),
            stopping: AtomicBool::new(false),
            injected: Default::default(),
            connections: AtomicU64::new(0),
        });
        let accept_shared = shared.clone();
        std::thread::spawn(move || {
            for client in listener.incoming() {
                if accept_shared.stopping.load(Ordering::SeqCst) {
                    return;
                }
                let Ok(client) = client else { continue };
                let shared = accept_shared.clone();
                std::thread::spawn(move || serve(client, &shared));
            }
        });
        Ok(Self { port, shared })
    }

    /// The endpoint to give the S3 clients.
    pub fn endpoint(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// Opens a fault window: from now on, `probability` of new connections get `fault`.
    pub fn open_window(&self, fault: S3Fault, probability: f64) {
        *self.shared.window.lock().expect("proxy window") = Some(Window { fault, probability });
    }

    /// Closes the fault window: connections are forwarded untouched.
    pub fn close_window(&self) {
        *self.shared.window.lock().expect("proxy window") = None;
    }

    /// Connections faulted so far, by kind (in [`S3Fault::ALL`] order), and all connections.
    pub fn counts(&self) -> ([u64; 4], u64) {
        let injected = std::array::from_fn(|i| self.shared.injected[i].load(Ordering::Relaxed));
        (injected, self.shared.connections.load(Ordering::Relaxed))
    }
}

impl Drop for FaultProxy {
    fn drop(&mut self) {
        self.shared.stopping.store(true, Ordering::SeqCst);
        let _ = TcpStream::connect(("127.0.0.1", self.port)); // wakes the accept loop
    }
}

/// Decides this connection's fault, if any.
fn draw_fault(shared: &Shared) -> Option<S3Fault> {
    let window = (*shared.window.lock().expect("proxy window"))?;
    let hit = shared.rng.lock().expect("proxy rng").chance(window.probability);
    hit.then_some(window.fault)
}

fn serve(client: TcpStream, shared: &Shared) {
    shared.connections.fetch_add(1, Ordering::Relaxed);
    let Ok(server) = TcpStream::connect(("127.0.0.1", shared.upstream)) else {
        let _ = client.shutdown(Shutdown::Both);
        return;
    };
    let (mut client_reader, mut server_reader) = (BufReader::new(client), BufReader::new(server));
    while let Some(request) = read_message(&mut client_reader, None) {
        let fault = draw_fault(shared);
        if let Some(fault) = fault {
            let index = S3Fault::ALL.iter().position(|f| *f == fault).expect("known fault");
            shared.injected[index].fetch_add(1, Ordering::Relaxed);
        }
        let client = client_reader.get_mut();
        match fault {
            Some(S3Fault::Unavailable) => {
                answer_503(client);
                break;
            }
            Some(S3Fault::BlackHole) => {
                black_hole(client, shared);
                break;
            }
            Some(S3Fault::Latency) => {
                let delay = shared.rng.lock().expect("proxy rng").range(200, 3_000);
                std::thread::sleep(Duration::from_millis(delay));
            }
            Some(S3Fault::Reset) | None => {}
        }
        let head_request = request.head.starts_with(b"HEAD ");
        if server_reader.get_mut().write_all(&request.bytes()).is_err() {
            break;
        }
        let Some(answer) = read_message(&mut server_reader, Some(head_request)) else { break };
        let client = client_reader.get_mut();
        if fault == Some(S3Fault::Reset) {
            let bytes = answer.bytes();
            let cut = shared.rng.lock().expect("proxy rng").range(0, bytes.len() as u64 / 2) as usize;
            let _ = client.write_all(&bytes[..cut]);
            break;
        }
        if client.write_all(&answer.bytes()).is_err() || answer.close {
            break;
        }
    }
    let _ = client_reader.get_mut().shutdown(Shutdown::Both);
    let _ = server_reader.get_mut().shutdown(Shutdown::Both);
}

/// One HTTP/1.1 message: its head and its body, as read.
struct Message {
    head: Vec<u8>,
    body: Vec<u8>,
    /// The message asks to close the connection after it.
    close: bool,
}

impl Message {
    fn bytes(&self) -> Vec<u8> {
        let mut out = self.head.clone();
        out.extend_from_slice(&self.body);
        out
    }
}

/// Reads one message; `None` at the end of the connection or on anything it cannot frame.
/// `answer_to_head` is set when reading an answer (`Some(true)` for an answer to HEAD,
/// which has no body whatever its headers say).
fn read_message(reader: &mut BufReader<TcpStream>, answer_to_head: Option<bool>) -> Option<Message> {
    let mut head = Vec::new();
    loop {
        let mut line = Vec::new();
        if reader.read_until(b'\n', &mut line).ok()? == 0 {
            return None;
        }
        head.extend_from_slice(&line);
        if line == b"\r\n" {
            break;
        }
        if head.len() > 64 * 1024 {
            return None;
        }
    }
    let text = String::from_utf8_lossy(&head).to_ascii_lowercase();
    let header = |name: &str| {
        text.lines().find_map(|l| l.strip_prefix(name).and_then(|v| v.strip_prefix(':')).map(|v| v.trim().to_owned()))
    };
    let close = header("connection").is_some_and(|v| v == "close");
    if answer_to_head.is_none() && header("expect").is_some_and(|v| v == "100-continue") {
        // Let the body come now (this proxy reads it before forwarding), and do not ask
        // the server for a second interim answer.
        reader.get_mut().write_all(b"HTTP/1.1 100 Continue\r\n\r\n").ok()?;
        head = String::from_utf8_lossy(&head)
            .split_inclusive("\r\n")
            .filter(|line| !line.to_ascii_lowercase().starts_with("expect:"))
            .collect::<String>()
            .into_bytes();
    }
    let status = text.split_whitespace().nth(1).and_then(|s| s.parse::<u16>().ok());
    let bodiless =
        answer_to_head == Some(true) || matches!(status, Some(100..=199 | 204 | 304)) && answer_to_head.is_some();
    let mut body = Vec::new();
    if bodiless {
    } else if header("transfer-encoding").is_some_and(|v| v.contains("chunked")) {
        loop {
            let mut size_line = Vec::new();
            reader.read_until(b'\n', &mut size_line).ok()?;
            body.extend_from_slice(&size_line);
            let size = usize::from_str_radix(String::from_utf8_lossy(&size_line).trim().split(';').next()?, 16).ok()?;
            let mut chunk = vec![0u8; size + 2];
            reader.read_exact(&mut chunk).ok()?;
            body.extend_from_slice(&chunk);
            if size == 0 {
                break;
            }
        }
    } else if let Some(length) = header("content-length") {
        let mut chunk = vec![0u8; length.parse().ok()?];
        reader.read_exact(&mut chunk).ok()?;
        body = chunk;
    } else if answer_to_head.is_some() {
        // An answer delimited by the end of the connection.
        reader.read_to_end(&mut body).ok()?;
        return Some(Message { head, body, close: true });
    }
    Some(Message { head, body, close })
}

/// Answers 503 SlowDown and closes (the request was read already).
fn answer_503(client: &mut TcpStream) {
    let body = "<?xml version=\"1.0\" encoding=\"UTF-8\"?><Error><Code>SlowDown</Code>\
                <Message>Please reduce your request rate.</Message></Error>";
    let answer = format!(
        "HTTP/1.1 503 Slow Down\r\nContent-Type: application/xml\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    let _ = client.write_all(answer.as_bytes());
}

/// Never answers: holds the connection, dropping whatever comes, until the client gives up.
fn black_hole(client: &mut TcpStream, shared: &Shared) {
    let _ = client.set_read_timeout(Some(Duration::from_millis(500)));
    let started = Instant::now();
    let mut sink = [0u8; 64 * 1024];
    while started.elapsed() < BLACK_HOLE_HOLD && !shared.stopping.load(Ordering::SeqCst) {
        match client.read(&mut sink) {
            Ok(0) => return,
            Ok(_) => {}
            Err(err) if matches!(err.kind(), std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut) => {}
            Err(_) => return,
        }
    }
}
