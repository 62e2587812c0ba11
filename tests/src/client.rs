//! A raw HTTP/1.1 client that writes exactly the bytes a test gives it.
//!
//! Nothing is normalized: a request-target such as `/api/posts/../users`,
//! `/api/%70osts` or `//api/posts` reaches the socket unchanged, which is the
//! point of path-canonicalization and smuggling tests. Every exchange is
//! bounded by a timeout ([`DEFAULT_TIMEOUT`] unless changed).

use std::future::Future;
use std::net::SocketAddr;
use std::time::Duration;

use anyhow::{Context, Result, anyhow, bail};
use tokio::io::AsyncWriteExt;
use tokio::net::TcpStream;

use crate::http1::{WireReader, all_headers, find_header, split_head};

/// How long one exchange may take before the client gives up.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(10);

/// One response as read off the wire.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RawResponse {
    /// The status code.
    pub status: u16,
    /// The reason phrase (may be empty).
    pub reason: String,
    /// Headers in arrival order and original case.
    pub headers: Vec<(String, String)>,
    /// The decoded body (chunked framing removed).
    pub body: Vec<u8>,
}

impl RawResponse {
    /// First value of header `name` (case-insensitive).
    pub fn header(&self, name: &str) -> Option<&str> {
        find_header(&self.headers, name)
    }

    /// Every value of header `name` (case-insensitive), in order.
    pub fn headers_named(&self, name: &str) -> Vec<&str> {
        all_headers(&self.headers, name)
    }

    /// The body as (lossy) UTF-8 text.
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    /// The body parsed as JSON.
    pub fn try_json(&self) -> Result<serde_json::Value> {
        serde_json::from_slice(&self.body).with_context(|| {
            format!(
                "response body (status {}) is not JSON: {:?}",
                self.status,
                self.text()
            )
        })
    }

    /// The body parsed as JSON.
    ///
    /// # Panics
    /// When the body is not JSON; the message shows status and body, which
    /// is what a failing test wants to print.
    pub fn json(&self) -> serde_json::Value {
        match self.try_json() {
            Ok(v) => v,
            Err(e) => panic!("{e:#}"),
        }
    }
}

/// Sends `bytes` on a new connection and reads one response.
///
/// The response to a request starting with `HEAD ` is read without a body.
pub async fn raw_request(addr: SocketAddr, bytes: &[u8]) -> Result<RawResponse> {
    let mut responses = raw_responses(addr, bytes, 1).await?;
    responses.pop().ok_or_else(|| anyhow!("no response"))
}

/// Sends `bytes` (e.g. several pipelined requests) on a new connection and
/// reads `n` responses; none of them may be to a HEAD request.
pub async fn raw_responses(addr: SocketAddr, bytes: &[u8], n: usize) -> Result<Vec<RawResponse>> {
    let head = bytes.starts_with(b"HEAD ");
    with_timeout(DEFAULT_TIMEOUT, async {
        let mut reader = connect_and_send(addr, bytes).await?;
        let mut out = Vec::with_capacity(n);
        for _ in 0..n {
            out.push(read_response(&mut reader, head).await?);
        }
        Ok(out)
    })
    .await
}

/// Sends `bytes` on a new connection and returns every byte the peer sent
/// until it closed the connection or [`DEFAULT_TIMEOUT`] passed, unparsed
/// (for framing / smuggling tests that inspect the stream itself).
pub async fn raw_exchange(addr: SocketAddr, bytes: &[u8]) -> Result<Vec<u8>> {
    let mut stream = TcpStream::connect(addr)
        .await
        .with_context(|| format!("connecting to {addr}"))?;
    stream.write_all(bytes).await?;
    let mut reader = WireReader::new(stream);
    match tokio::time::timeout(DEFAULT_TIMEOUT, reader.read_to_close()).await {
        Ok(result) => result,
        Err(_) => bail!("{addr} did not close the connection within {DEFAULT_TIMEOUT:?}"),
    }
}

/// A client for one server address that builds simple requests.
///
/// Each call opens one connection and sends `Connection: close` unless the
/// caller supplies a `Connection` header; `Host` is added unless supplied,
/// and `Content-Length` is added for a body unless `Content-Length` or
/// `Transfer-Encoding` is supplied.
#[derive(Debug, Clone)]
pub struct Http {
    addr: SocketAddr,
    timeout: Duration,
}

impl Http {
    /// A client for `addr` with [`DEFAULT_TIMEOUT`].
    pub fn new(addr: SocketAddr) -> Self {
        Self {
            addr,
            timeout: DEFAULT_TIMEOUT,
        }
    }

    /// The same client with another timeout per exchange.
    pub fn with_timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// The server address.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// `GET path`.
    pub async fn get(&self, path: &str) -> Result<RawResponse> {
        self.request("GET", path, &[], None).await
    }

    /// `GET path` with extra headers.
    pub async fn get_with(&self, path: &str, headers: &[(&str, &str)]) -> Result<RawResponse> {
        self.request("GET", path, headers, None).await
    }

    /// `GET path` with `Authorization: Bearer <token>`.
    pub async fn get_bearer(&self, path: &str, token: &str) -> Result<RawResponse> {
        let auth = format!("Bearer {token}");
        self.request("GET", path, &[("Authorization", &auth)], None)
            .await
    }

    /// `POST path` with a JSON body and `Content-Type: application/json`.
    pub async fn post_json(
        &self,
        path: &str,
        headers: &[(&str, &str)],
        json: &serde_json::Value,
    ) -> Result<RawResponse> {
        let mut all = vec![("Content-Type", "application/json")];
        all.extend_from_slice(headers);
        let body = json.to_string();
        self.request("POST", path, &all, Some(body.as_bytes()))
            .await
    }

    /// Any request; `path` is written exactly as given.
    pub async fn request(
        &self,
        method: &str,
        path: &str,
        headers: &[(&str, &str)],
        body: Option<&[u8]>,
    ) -> Result<RawResponse> {
        let bytes = self.build(method, path, headers, body, true);
        let head = method.eq_ignore_ascii_case("HEAD");
        let what = format!("{method} {path}");
        with_timeout(self.timeout, async {
            let mut reader = connect_and_send(self.addr, &bytes).await?;
            read_response(&mut reader, head).await
        })
        .await
        .with_context(|| what)
    }

    /// The bytes [`Http::request`] would send. With `close` false no
    /// `Connection: close` is added (for keep-alive and pipelining).
    pub fn build(
        &self,
        method: &str,
        path: &str,
        headers: &[(&str, &str)],
        body: Option<&[u8]>,
        close: bool,
    ) -> Vec<u8> {
        let has = |name: &str| headers.iter().any(|(k, _)| k.eq_ignore_ascii_case(name));
        let mut head = format!("{method} {path} HTTP/1.1\r\n");
        if !has("host") {
            head.push_str(&format!("Host: {}\r\n", self.addr));
        }
        for (name, value) in headers {
            head.push_str(&format!("{name}: {value}\r\n"));
        }
        if let Some(body) = body
            && !has("content-length")
            && !has("transfer-encoding")
        {
            head.push_str(&format!("Content-Length: {}\r\n", body.len()));
        }
        if close && !has("connection") {
            head.push_str("Connection: close\r\n");
        }
        head.push_str("\r\n");
        let mut bytes = head.into_bytes();
        bytes.extend_from_slice(body.unwrap_or_default());
        bytes
    }

    /// Sends the requests one after another on ONE connection, waiting for
    /// each response before sending the next (keep-alive). Build them with
    /// [`Http::build`] and `close = false`.
    pub async fn keep_alive(&self, requests: &[Vec<u8>]) -> Result<Vec<RawResponse>> {
        with_timeout(self.timeout, async {
            let stream = TcpStream::connect(self.addr)
                .await
                .with_context(|| format!("connecting to {}", self.addr))?;
            let mut reader = WireReader::new(stream);
            let mut out = Vec::new();
            for request in requests {
                reader.get_mut().write_all(request).await?;
                out.push(read_response(&mut reader, request.starts_with(b"HEAD ")).await?);
            }
            Ok(out)
        })
        .await
    }

    /// Writes all requests at once on ONE connection (pipelining), then
    /// reads one response per request.
    pub async fn pipelined(&self, requests: &[Vec<u8>]) -> Result<Vec<RawResponse>> {
        let all: Vec<u8> = requests.concat();
        with_timeout(self.timeout, async {
            let mut reader = connect_and_send(self.addr, &all).await?;
            let mut out = Vec::new();
            for request in requests {
                out.push(read_response(&mut reader, request.starts_with(b"HEAD ")).await?);
            }
            Ok(out)
        })
        .await
    }
}

async fn with_timeout<T>(limit: Duration, fut: impl Future<Output = Result<T>>) -> Result<T> {
    match tokio::time::timeout(limit, fut).await {
        Ok(result) => result,
        Err(_) => bail!("no complete response within {limit:?}"),
    }
}

async fn connect_and_send(addr: SocketAddr, bytes: &[u8]) -> Result<WireReader<TcpStream>> {
    let mut stream = TcpStream::connect(addr)
        .await
        .with_context(|| format!("connecting to {addr}"))?;
    stream.write_all(bytes).await.context("sending request")?;
    stream.flush().await?;
    Ok(WireReader::new(stream))
}

/// Reads one final response, skipping interim 1xx responses other than 101.
async fn read_response(
    reader: &mut WireReader<TcpStream>,
    head_request: bool,
) -> Result<RawResponse> {
    loop {
        let head = reader
            .read_head()
            .await?
            .ok_or_else(|| anyhow!("connection closed before a response"))?;
        let (line, headers) = split_head(&head)?;
        let mut parts = line.splitn(3, ' ');
        let version = parts.next().unwrap_or_default();
        if !version.starts_with("HTTP/") {
            bail!("not an HTTP status line: {line:?}");
        }
        let status: u16 = parts
            .next()
            .unwrap_or_default()
            .parse()
            .with_context(|| format!("bad status line {line:?}"))?;
        let reason = parts.next().unwrap_or_default().to_owned();
        if (100..200).contains(&status) && status != 101 {
            continue;
        }
        let bodiless = head_request || status < 200 || status == 204 || status == 304;
        let body = if bodiless {
            Vec::new()
        } else {
            reader.read_body(&headers, true).await?
        };
        return Ok(RawResponse {
            status,
            reason,
            headers,
            body,
        });
    }
}
