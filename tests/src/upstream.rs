//! The echo upstream: a real HTTP/1.1 server on `127.0.0.1:0` that records
//! every request exactly as it arrived and answers with a JSON copy of it.
//!
//! It is the "mock upstream" of the threat model's invariants: INV-1 (nothing
//! reached the upstream after a reject) is checked with [`EchoUpstream::count`]
//! and [`EchoUpstream::connections`], INV-2/INV-3 (identity headers, same
//! path both sides) with [`Received::header`] and [`Received::target`].

use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use anyhow::{Context, Result, bail};
use serde::Serialize;
use tokio::io::AsyncWriteExt;
use tokio::net::{TcpListener, TcpStream};
use tokio::task::{JoinHandle, JoinSet};

use crate::http1::{WireReader, all_headers, connection_has, find_header, split_head};

/// One request as the upstream received it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Received {
    /// The method token, as sent.
    pub method: String,
    /// The raw request-target (path and query), byte-for-byte as received.
    pub target: String,
    /// The protocol version token, e.g. `HTTP/1.1`.
    pub version: String,
    /// Headers in arrival order and original case.
    pub headers: Vec<(String, String)>,
    /// The decoded body (chunked framing removed).
    pub body: Vec<u8>,
}

impl Received {
    /// First value of header `name` (case-insensitive).
    pub fn header(&self, name: &str) -> Option<&str> {
        find_header(&self.headers, name)
    }

    /// Every value of header `name` (case-insensitive), in order.
    pub fn headers_named(&self, name: &str) -> Vec<&str> {
        all_headers(&self.headers, name)
    }

    /// The path part of the target (before any `?`).
    pub fn path(&self) -> &str {
        self.target.split('?').next().unwrap_or_default()
    }

    /// The body as (lossy) UTF-8 text.
    pub fn body_text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    /// The JSON document the echo upstream answers with.
    pub fn to_json(&self) -> serde_json::Value {
        serde_json::json!({
            "method": self.method,
            "target": self.target,
            "version": self.version,
            "headers": self.headers.iter().map(|(k, v)| [k, v]).collect::<Vec<_>>(),
            "body": self.body_text(),
        })
    }
}

/// How the echo upstream answers.
#[derive(Debug, Clone)]
pub struct EchoOptions {
    /// Extra response headers, e.g. `("X-Powered-By", "Express")` or
    /// `("X-User-Id", "999")` to check the gateway strips them.
    pub extra_headers: Vec<(String, String)>,
    /// Response status (default 200).
    pub status: u16,
    /// Wait this long before answering (for read-timeout / 504 tests).
    pub delay: Option<Duration>,
}

impl Default for EchoOptions {
    fn default() -> Self {
        Self {
            extra_headers: Vec::new(),
            status: 200,
            delay: None,
        }
    }
}

impl EchoOptions {
    /// Adds one extra response header.
    pub fn header(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.extra_headers.push((name.into(), value.into()));
        self
    }
}

#[derive(Default)]
struct Shared {
    log: Mutex<Vec<Received>>,
    options: Mutex<EchoOptions>,
    connections: AtomicUsize,
}

/// A recording HTTP/1.1 upstream. Stops accepting (and closes its
/// connections) when dropped.
pub struct EchoUpstream {
    addr: SocketAddr,
    shared: Arc<Shared>,
    task: JoinHandle<()>,
}

impl EchoUpstream {
    /// Starts an upstream answering 200 with no extra headers.
    pub async fn start() -> Result<Self> {
        Self::start_with(EchoOptions::default()).await
    }

    /// Starts an upstream with the given options.
    pub async fn start_with(options: EchoOptions) -> Result<Self> {
        let listener = TcpListener::bind("127.0.0.1:0")
            .await
            .context("binding the echo upstream")?;
        let addr = listener.local_addr()?;
        let shared = Arc::new(Shared {
            options: Mutex::new(options),
            ..Shared::default()
        });
        let task = tokio::spawn(accept_loop(listener, shared.clone()));
        Ok(Self { addr, shared, task })
    }

    /// The bound address.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// `http://127.0.0.1:PORT`, for `upstream.url`.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Every request received so far, in order.
    pub fn received(&self) -> Vec<Received> {
        lock(&self.shared.log).clone()
    }

    /// The most recent request, if any.
    pub fn last(&self) -> Option<Received> {
        lock(&self.shared.log).last().cloned()
    }

    /// How many requests were received.
    pub fn count(&self) -> usize {
        lock(&self.shared.log).len()
    }

    /// How many TCP connections were accepted (whether or not a request
    /// could be parsed on them).
    pub fn connections(&self) -> usize {
        self.shared.connections.load(Ordering::SeqCst)
    }

    /// Forgets the recorded requests and resets the connection count.
    pub fn clear(&self) {
        lock(&self.shared.log).clear();
        self.shared.connections.store(0, Ordering::SeqCst);
    }

    /// Changes how later requests are answered.
    pub fn set_options(&self, options: EchoOptions) {
        *lock(&self.shared.options) = options;
    }

    /// Fails unless nothing reached the upstream: no request and no
    /// connection (threat model INV-1).
    pub fn assert_untouched(&self) -> Result<()> {
        let (count, conns) = (self.count(), self.connections());
        if count != 0 || conns != 0 {
            bail!(
                "upstream was reached: {count} request(s) on {conns} connection(s): {:?}",
                self.received()
            );
        }
        Ok(())
    }
}

impl Drop for EchoUpstream {
    fn drop(&mut self) {
        // Aborting the accept task drops its JoinSet, which aborts every
        // connection task too.
        self.task.abort();
    }
}

/// A poisoned lock only means another test thread panicked; the data is
/// still what we want to report.
fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

async fn accept_loop(listener: TcpListener, shared: Arc<Shared>) {
    let mut conns = JoinSet::new();
    loop {
        tokio::select! {
            accepted = listener.accept() => {
                let Ok((stream, _)) = accepted else {
                    // e.g. EMFILE: back off instead of spinning.
                    tokio::time::sleep(Duration::from_millis(10)).await;
                    continue;
                };
                shared.connections.fetch_add(1, Ordering::SeqCst);
                // Head and body are separate writes: without NODELAY a
                // reused connection stalls ~40 ms on delayed ACKs.
                let _ = stream.set_nodelay(true);
                let shared = shared.clone();
                conns.spawn(async move {
                    // Errors only end this connection; the log keeps what
                    // was parsed before.
                    let _ = serve_connection(stream, shared).await;
                });
            }
            Some(_) = conns.join_next(), if !conns.is_empty() => {}
        }
    }
}

async fn serve_connection(stream: TcpStream, shared: Arc<Shared>) -> Result<()> {
    let mut reader = WireReader::new(stream);
    while let Some(head) = reader.read_head().await? {
        let (line, headers) = match split_head(&head) {
            Ok(parts) => parts,
            Err(e) => return reply_bad_request(&mut reader, &e.to_string()).await,
        };
        let mut parts = line.splitn(3, ' ');
        let (method, target, version) = match (parts.next(), parts.next(), parts.next()) {
            (Some(m), Some(t), Some(v)) if !m.is_empty() => (m, t, v),
            _ => return reply_bad_request(&mut reader, "bad request line").await,
        };
        if find_header(&headers, "expect").is_some_and(|v| v.eq_ignore_ascii_case("100-continue")) {
            reader
                .get_mut()
                .write_all(b"HTTP/1.1 100 Continue\r\n\r\n")
                .await?;
        }
        let body = reader.read_body(&headers, false).await?;
        let keep_alive = version == "HTTP/1.1" && !connection_has(&headers, "close");
        let received = Received {
            method: method.to_owned(),
            target: target.to_owned(),
            version: version.to_owned(),
            headers,
            body,
        };
        let response_body = received.to_json().to_string();
        lock(&shared.log).push(received);

        let options = lock(&shared.options).clone();
        if let Some(delay) = options.delay {
            tokio::time::sleep(delay).await;
        }
        let head = response_head(&options, response_body.len(), keep_alive);
        let stream = reader.get_mut();
        stream.write_all(head.as_bytes()).await?;
        if method != "HEAD" && body_allowed(options.status) {
            stream.write_all(response_body.as_bytes()).await?;
        }
        stream.flush().await?;
        if !keep_alive {
            stream.shutdown().await?;
            return Ok(());
        }
    }
    Ok(())
}

/// 1xx, 204 and 304 responses carry no body (RFC 9110 §6.4.1).
fn body_allowed(status: u16) -> bool {
    !(status < 200 || status == 204 || status == 304)
}

fn response_head(options: &EchoOptions, body_len: usize, keep_alive: bool) -> String {
    let mut head = format!("HTTP/1.1 {} {}\r\n", options.status, reason(options.status));
    if body_allowed(options.status) {
        head.push_str(&format!(
            "Content-Type: application/json\r\nContent-Length: {body_len}\r\n"
        ));
    }
    for (name, value) in &options.extra_headers {
        head.push_str(&format!("{name}: {value}\r\n"));
    }
    if !keep_alive {
        head.push_str("Connection: close\r\n");
    }
    head.push_str("\r\n");
    head
}

async fn reply_bad_request(reader: &mut WireReader<TcpStream>, why: &str) -> Result<()> {
    let body = serde_json::json!({ "echo_error": why }).to_string();
    let msg = format!(
        "HTTP/1.1 400 Bad Request\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    let stream = reader.get_mut();
    stream.write_all(msg.as_bytes()).await?;
    stream.shutdown().await?;
    Ok(())
}

fn reason(status: u16) -> &'static str {
    match status {
        200 => "OK",
        201 => "Created",
        204 => "No Content",
        400 => "Bad Request",
        401 => "Unauthorized",
        403 => "Forbidden",
        404 => "Not Found",
        500 => "Internal Server Error",
        502 => "Bad Gateway",
        503 => "Service Unavailable",
        504 => "Gateway Timeout",
        _ => "Status",
    }
}
