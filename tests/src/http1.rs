//! Minimal HTTP/1.1 wire reading shared by the echo upstream and the raw
//! client: a buffered reader that finds the end of a message head, splits
//! header lines, and reads `Content-Length`, chunked or until-close bodies.
//!
//! It is deliberately small and strict-ish: it exists to observe what crosses
//! the wire, not to be a general HTTP implementation. Header names and values
//! are kept byte-for-byte (original case, original order).

use anyhow::{Context, Result, bail};
use tokio::io::{AsyncRead, AsyncReadExt};

/// Largest message head either side accepts (requests and responses).
const MAX_HEAD: usize = 1024 * 1024;

/// A buffered reader over any byte stream.
pub(crate) struct WireReader<R> {
    inner: R,
    buf: Vec<u8>,
}

impl<R: AsyncRead + Unpin> WireReader<R> {
    pub(crate) fn new(inner: R) -> Self {
        Self {
            inner,
            buf: Vec::new(),
        }
    }

    /// Reads more bytes into the buffer; returns how many (0 on EOF).
    async fn fill(&mut self) -> Result<usize> {
        let mut chunk = [0u8; 8192];
        let n = self.inner.read(&mut chunk).await.context("read failed")?;
        self.buf.extend_from_slice(&chunk[..n]);
        Ok(n)
    }

    /// Reads a message head up to and including the blank line, returned
    /// without the final `\r\n\r\n`. `None` on a clean EOF before any byte.
    pub(crate) async fn read_head(&mut self) -> Result<Option<Vec<u8>>> {
        loop {
            if let Some(pos) = find(&self.buf, b"\r\n\r\n") {
                let head: Vec<u8> = self.buf.drain(..pos + 4).take(pos).collect();
                return Ok(Some(head));
            }
            if self.buf.len() > MAX_HEAD {
                bail!("message head larger than {MAX_HEAD} bytes");
            }
            if self.fill().await? == 0 {
                if self.buf.is_empty() {
                    return Ok(None);
                }
                bail!(
                    "connection closed inside a message head: {:?}",
                    String::from_utf8_lossy(&self.buf)
                );
            }
        }
    }

    /// Reads exactly `n` bytes.
    pub(crate) async fn read_exact_n(&mut self, n: usize) -> Result<Vec<u8>> {
        while self.buf.len() < n {
            if self.fill().await? == 0 {
                bail!(
                    "connection closed after {} of {n} body bytes",
                    self.buf.len()
                );
            }
        }
        Ok(self.buf.drain(..n).collect())
    }

    /// Reads one CRLF-terminated line, returned without the CRLF.
    async fn read_line(&mut self) -> Result<Vec<u8>> {
        loop {
            if let Some(pos) = find(&self.buf, b"\r\n") {
                let line: Vec<u8> = self.buf.drain(..pos + 2).take(pos).collect();
                return Ok(line);
            }
            if self.buf.len() > MAX_HEAD {
                bail!("line longer than {MAX_HEAD} bytes");
            }
            if self.fill().await? == 0 {
                bail!("connection closed inside a line");
            }
        }
    }

    /// Reads a chunked body (chunk extensions ignored, trailers discarded).
    pub(crate) async fn read_chunked(&mut self) -> Result<Vec<u8>> {
        let mut body = Vec::new();
        loop {
            let line = self.read_line().await?;
            let text = String::from_utf8_lossy(&line);
            let size_text = text.split(';').next().unwrap_or("").trim();
            let size = usize::from_str_radix(size_text, 16)
                .with_context(|| format!("bad chunk size line {text:?}"))?;
            if size == 0 {
                // Trailer section: header lines until an empty line.
                while !self.read_line().await?.is_empty() {}
                return Ok(body);
            }
            body.extend(self.read_exact_n(size).await?);
            let crlf = self.read_exact_n(2).await?;
            if crlf != b"\r\n" {
                bail!("chunk data not followed by CRLF");
            }
        }
    }

    /// Reads everything until the peer closes.
    pub(crate) async fn read_to_close(&mut self) -> Result<Vec<u8>> {
        while self.fill().await? != 0 {}
        Ok(std::mem::take(&mut self.buf))
    }

    /// Reads a body framed by `headers` (chunked wins over Content-Length, as
    /// RFC 9112 says); with neither, `default_to_close` decides between an
    /// until-close body (responses) and an empty one (requests).
    pub(crate) async fn read_body(
        &mut self,
        headers: &[(String, String)],
        default_to_close: bool,
    ) -> Result<Vec<u8>> {
        if is_chunked(headers) {
            return self.read_chunked().await;
        }
        if let Some(len) = find_header(headers, "content-length") {
            let n: usize = len
                .trim()
                .parse()
                .with_context(|| format!("bad Content-Length {len:?}"))?;
            return self.read_exact_n(n).await;
        }
        if default_to_close {
            self.read_to_close().await
        } else {
            Ok(Vec::new())
        }
    }

    /// Gives back the underlying stream.
    pub(crate) fn get_mut(&mut self) -> &mut R {
        &mut self.inner
    }
}

/// Splits a head into its first line and `(name, value)` header pairs, kept
/// in order and original case; values are trimmed of surrounding whitespace.
pub(crate) fn split_head(head: &[u8]) -> Result<(String, Vec<(String, String)>)> {
    let text = String::from_utf8_lossy(head);
    let mut lines = text.split("\r\n");
    let first = lines.next().unwrap_or_default().to_owned();
    let mut headers = Vec::new();
    for line in lines {
        let Some((name, value)) = line.split_once(':') else {
            bail!("header line without a colon: {line:?}");
        };
        headers.push((name.to_owned(), value.trim().to_owned()));
    }
    Ok((first, headers))
}

/// First value of `name`, compared case-insensitively.
pub(crate) fn find_header<'a>(headers: &'a [(String, String)], name: &str) -> Option<&'a str> {
    headers
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case(name))
        .map(|(_, v)| v.as_str())
}

/// Every value of `name`, compared case-insensitively, in order.
pub(crate) fn all_headers<'a>(headers: &'a [(String, String)], name: &str) -> Vec<&'a str> {
    headers
        .iter()
        .filter(|(k, _)| k.eq_ignore_ascii_case(name))
        .map(|(_, v)| v.as_str())
        .collect()
}

/// Whether the last transfer coding named is `chunked`.
pub(crate) fn is_chunked(headers: &[(String, String)]) -> bool {
    all_headers(headers, "transfer-encoding")
        .iter()
        .flat_map(|v| v.split(','))
        .map(str::trim)
        .next_back()
        .is_some_and(|c| c.eq_ignore_ascii_case("chunked"))
}

/// Whether any `Connection` header lists `token`.
pub(crate) fn connection_has(headers: &[(String, String)], token: &str) -> bool {
    all_headers(headers, "connection")
        .iter()
        .flat_map(|v| v.split(','))
        .any(|t| t.trim().eq_ignore_ascii_case(token))
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}
