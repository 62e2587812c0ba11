//! A recording SMTP server on `127.0.0.1:0`, for `email.smtp_url`.
//!
//! It speaks just enough of RFC 5321 for lettre: a `220` greeting,
//! `EHLO`/`HELO` → `250`, `MAIL FROM`/`RCPT TO` → `250`, `DATA` → `354`
//! then everything up to `<CRLF>.<CRLF>` → `250`, `RSET`/`NOOP` → `250`,
//! `QUIT` → `221`. Every accepted message is recorded; [`SmtpSink::refuse`]
//! makes it answer `550` to `MAIL FROM` instead (a failing mail provider).
//!
//! [`SmtpMessage::text`] undoes the MIME transfer encodings (quoted-printable
//! soft breaks and escapes, base64) of every part, so a reset code or a
//! confirmation token can be read from the mail whatever lettre chose:
//! [`SmtpMessage::reset_code`], [`SmtpMessage::confirmation_token`].
//!
//! ```no_run
//! use std::time::Duration;
//! use portcullis_tests::{GatewayBuilder, SmtpSink};
//!
//! # async fn example() -> anyhow::Result<()> {
//! let sink = SmtpSink::start().await?;
//! let gateway = GatewayBuilder::new()
//!     .section("email", format!("smtp_url: \"{}\"\nfrom: \"no-reply@example.com\"", sink.url()))
//!     .spawn()
//!     .await?;
//! // … POST /api/auth/forgot-password …
//! let mails = sink.wait_for(1, Duration::from_secs(5)).await?;
//! let code = mails[0].reset_code().expect("a code in the mail");
//! # let _ = (gateway, code); Ok(()) }
//! ```

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinHandle;

/// One message the sink accepted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SmtpMessage {
    /// The `MAIL FROM` address (without `<>`).
    pub from: String,
    /// The `RCPT TO` addresses (without `<>`), in order.
    pub to: Vec<String>,
    /// The DATA section as received (dot-unstuffed, CRLF line ends).
    pub data: String,
}

impl SmtpMessage {
    /// The first value of a top-level header (case-insensitive name),
    /// unfolded.
    pub fn header(&self, name: &str) -> Option<String> {
        let (head, _) = split_head_body(&self.data);
        header_in(head, name)
    }

    /// Is `addr` among the recipients (case-insensitive)?
    pub fn is_to(&self, addr: &str) -> bool {
        self.to.iter().any(|t| t.eq_ignore_ascii_case(addr))
    }

    /// The decoded text of the message: every leaf MIME part with its
    /// transfer encoding undone (quoted-printable, base64), separated by
    /// newlines. A message that is not MIME is returned decoded as one part.
    pub fn text(&self) -> String {
        let mut out = String::new();
        decode_entity(&self.data, &mut out, 0);
        out
    }

    /// The run of hex digits right after `marker` (e.g. `?code=`) in the
    /// decoded text, if any.
    pub fn hex_after(&self, marker: &str) -> Option<String> {
        let text = self.text();
        text.match_indices(marker).find_map(|(at, _)| {
            let hex: String = text[at + marker.len()..]
                .chars()
                .take_while(char::is_ascii_hexdigit)
                .collect();
            (!hex.is_empty()).then_some(hex)
        })
    }

    /// The reset-password code of the link `…?code=<hex>`.
    pub fn reset_code(&self) -> Option<String> {
        self.hex_after("?code=")
    }

    /// The confirmation token of the link `…?confirmation=<hex>`.
    pub fn confirmation_token(&self) -> Option<String> {
        self.hex_after("?confirmation=")
    }
}

#[derive(Default)]
struct State {
    messages: Mutex<Vec<SmtpMessage>>,
    refuse: AtomicBool,
    sessions: std::sync::atomic::AtomicUsize,
}

fn lock(m: &Mutex<Vec<SmtpMessage>>) -> MutexGuard<'_, Vec<SmtpMessage>> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// The running sink. Stops accepting when dropped.
pub struct SmtpSink {
    port: u16,
    state: Arc<State>,
    task: JoinHandle<()>,
}

impl SmtpSink {
    /// Binds `127.0.0.1:0` and starts accepting sessions.
    pub async fn start() -> Result<SmtpSink> {
        let listener = TcpListener::bind("127.0.0.1:0")
            .await
            .context("binding the SMTP sink")?;
        let port = listener.local_addr()?.port();
        let state = Arc::new(State::default());
        let shared = state.clone();
        let task = tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                shared.sessions.fetch_add(1, Ordering::SeqCst);
                tokio::spawn(session(stream, shared.clone()));
            }
        });
        Ok(SmtpSink { port, state, task })
    }

    /// The bound port.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// `smtp://127.0.0.1:PORT`, for `email.smtp_url`.
    pub fn url(&self) -> String {
        format!("smtp://127.0.0.1:{}", self.port)
    }

    /// The `email:` section of gateway.yaml sending through this sink.
    pub fn email_section(&self) -> String {
        format!(
            "smtp_url: \"{}\"\nfrom: \"no-reply@example.com\"",
            self.url()
        )
    }

    /// Every message accepted so far, in order.
    pub fn messages(&self) -> Vec<SmtpMessage> {
        lock(&self.state.messages).clone()
    }

    /// The messages addressed to `addr`, in order.
    pub fn messages_to(&self, addr: &str) -> Vec<SmtpMessage> {
        self.messages()
            .into_iter()
            .filter(|m| m.is_to(addr))
            .collect()
    }

    /// How many SMTP sessions were opened (a refused mail still opens one).
    pub fn sessions(&self) -> usize {
        self.state.sessions.load(Ordering::SeqCst)
    }

    /// Forgets the recorded messages.
    pub fn clear(&self) {
        lock(&self.state.messages).clear();
    }

    /// While `on`, every `MAIL FROM` is answered `550` (nothing recorded).
    pub fn refuse(&self, on: bool) {
        self.state.refuse.store(on, Ordering::SeqCst);
    }

    /// Waits until at least `n` messages were accepted (in total) and
    /// returns all of them; an error after `timeout`.
    pub async fn wait_for(&self, n: usize, timeout: Duration) -> Result<Vec<SmtpMessage>> {
        let deadline = Instant::now() + timeout;
        loop {
            let all = self.messages();
            if all.len() >= n {
                return Ok(all);
            }
            if Instant::now() > deadline {
                bail!(
                    "the SMTP sink got {} message(s) within {timeout:?}, expected {n}",
                    all.len()
                );
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// Waits until a message to `addr` arrives that was not among the first
    /// `seen` messages to `addr`, and returns it.
    pub async fn wait_for_to(
        &self,
        addr: &str,
        seen: usize,
        timeout: Duration,
    ) -> Result<SmtpMessage> {
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(m) = self.messages_to(addr).into_iter().nth(seen) {
                return Ok(m);
            }
            if Instant::now() > deadline {
                bail!("no new mail to {addr} within {timeout:?}");
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}

impl Drop for SmtpSink {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// The address inside `<…>` of a `MAIL FROM:` / `RCPT TO:` argument.
fn address(arg: &str) -> String {
    let arg = arg.trim();
    match (arg.find('<'), arg.rfind('>')) {
        (Some(s), Some(e)) if s < e => arg[s + 1..e].to_owned(),
        _ => arg.split_whitespace().next().unwrap_or_default().to_owned(),
    }
}

async fn session(stream: TcpStream, state: Arc<State>) {
    let (read, mut write) = stream.into_split();
    let mut reader = BufReader::new(read);
    let mut from = String::new();
    let mut to: Vec<String> = Vec::new();
    if write
        .write_all(b"220 portcullis-tests SMTP sink\r\n")
        .await
        .is_err()
    {
        return;
    }
    let mut line = String::new();
    loop {
        line.clear();
        match reader.read_line(&mut line).await {
            Ok(0) | Err(_) => return,
            Ok(_) => {}
        }
        let cmd = line.trim_end_matches(['\r', '\n']).to_owned();
        let upper = cmd.to_ascii_uppercase();
        let reply: &[u8] = if upper.starts_with("EHLO") {
            b"250-portcullis-tests\r\n250-8BITMIME\r\n250 SMTPUTF8\r\n"
        } else if upper.starts_with("HELO") || upper.starts_with("NOOP") {
            b"250 ok\r\n"
        } else if upper.starts_with("RSET") {
            from.clear();
            to.clear();
            b"250 ok\r\n"
        } else if upper.starts_with("MAIL FROM:") {
            if state.refuse.load(Ordering::SeqCst) {
                b"550 5.7.1 refused by the test\r\n"
            } else {
                from = address(&cmd["MAIL FROM:".len()..]);
                b"250 ok\r\n"
            }
        } else if upper.starts_with("RCPT TO:") {
            to.push(address(&cmd["RCPT TO:".len()..]));
            b"250 ok\r\n"
        } else if upper == "DATA" {
            if write
                .write_all(b"354 end data with <CR><LF>.<CR><LF>\r\n")
                .await
                .is_err()
            {
                return;
            }
            let Some(data) = read_data(&mut reader).await else {
                return;
            };
            lock(&state.messages).push(SmtpMessage {
                from: std::mem::take(&mut from),
                to: std::mem::take(&mut to),
                data,
            });
            b"250 ok: queued\r\n"
        } else if upper.starts_with("QUIT") {
            let _ = write.write_all(b"221 bye\r\n").await;
            return;
        } else {
            b"502 command not implemented\r\n"
        };
        if write.write_all(reply).await.is_err() {
            return;
        }
    }
}

/// Reads the DATA section up to the lone `.` line; dot-unstuffs.
async fn read_data<R: AsyncBufReadExt + Unpin>(reader: &mut R) -> Option<String> {
    let mut data = String::new();
    let mut line = String::new();
    loop {
        line.clear();
        match reader.read_line(&mut line).await {
            Ok(0) | Err(_) => return None,
            Ok(_) => {}
        }
        if line == ".\r\n" || line == ".\n" {
            return Some(data);
        }
        let unstuffed = if line.starts_with("..") {
            &line[1..]
        } else {
            &line
        };
        data.push_str(unstuffed);
    }
}

// ------------------------------------------------------------------ MIME

/// `(head, body)` of an entity: split at the first empty line.
fn split_head_body(entity: &str) -> (&str, &str) {
    for sep in ["\r\n\r\n", "\n\n"] {
        if let Some(at) = entity.find(sep) {
            return (&entity[..at], &entity[at + sep.len()..]);
        }
    }
    (entity, "")
}

/// A header's value (first occurrence), continuation lines unfolded.
fn header_in(head: &str, name: &str) -> Option<String> {
    let mut found: Option<String> = None;
    for line in head.lines() {
        let line = line.trim_end_matches('\r');
        if let Some(value) = found.as_mut() {
            if line.starts_with([' ', '\t']) {
                value.push(' ');
                value.push_str(line.trim());
                continue;
            }
            break;
        }
        if let Some((n, v)) = line.split_once(':')
            && n.trim().eq_ignore_ascii_case(name)
        {
            found = Some(v.trim().to_owned());
        }
    }
    found
}

/// The `boundary` parameter of a `multipart/*` content type.
fn boundary(content_type: &str) -> Option<String> {
    if !content_type
        .trim_start()
        .to_ascii_lowercase()
        .starts_with("multipart/")
    {
        return None;
    }
    content_type.split(';').skip(1).find_map(|param| {
        let (k, v) = param.split_once('=')?;
        k.trim()
            .eq_ignore_ascii_case("boundary")
            .then(|| v.trim().trim_matches('"').to_owned())
    })
}

/// Appends the decoded leaf parts of `entity` to `out`.
fn decode_entity(entity: &str, out: &mut String, depth: usize) {
    let (head, body) = split_head_body(entity);
    let content_type = header_in(head, "content-type").unwrap_or_default();
    if let Some(b) = boundary(&content_type).filter(|_| depth < 8) {
        let delimiter = format!("--{b}");
        for part in body.split(delimiter.as_str()).skip(1) {
            if part.starts_with("--") {
                break;
            }
            let part = part
                .strip_prefix("\r\n")
                .or_else(|| part.strip_prefix('\n'))
                .unwrap_or(part);
            decode_entity(part, out, depth + 1);
        }
        return;
    }
    let encoding = header_in(head, "content-transfer-encoding")
        .unwrap_or_default()
        .to_ascii_lowercase();
    let bytes = match encoding.as_str() {
        "quoted-printable" => qp_decode(body),
        "base64" => base64_decode(body),
        _ => body.as_bytes().to_vec(),
    };
    out.push_str(&String::from_utf8_lossy(&bytes));
    out.push('\n');
}

/// Quoted-printable (RFC 2045 §6.7): `=XX` escapes and `=` soft line breaks.
fn qp_decode(s: &str) -> Vec<u8> {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'=' {
            if b[i + 1..].starts_with(b"\r\n") {
                i += 3;
                continue;
            }
            if b[i + 1..].starts_with(b"\n") {
                i += 2;
                continue;
            }
            let hex = b
                .get(i + 1..i + 3)
                .and_then(|h| std::str::from_utf8(h).ok());
            if let Some(byte) = hex.and_then(|h| u8::from_str_radix(h, 16).ok()) {
                out.push(byte);
                i += 3;
                continue;
            }
        }
        out.push(b[i]);
        i += 1;
    }
    out
}

/// Standard base64 (padding and whitespace tolerated, other bytes skipped).
fn base64_decode(s: &str) -> Vec<u8> {
    let mut out = Vec::with_capacity(s.len() * 3 / 4);
    let mut acc: u32 = 0;
    let mut bits = 0u32;
    for c in s.bytes() {
        let v = match c {
            b'A'..=b'Z' => c - b'A',
            b'a'..=b'z' => c - b'a' + 26,
            b'0'..=b'9' => c - b'0' + 52,
            b'+' | b'-' => 62,
            b'/' | b'_' => 63,
            _ => continue,
        };
        acc = (acc << 6) | u32::from(v);
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push(((acc >> bits) & 0xff) as u8);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::AsyncReadExt;

    #[test]
    fn decodes_quoted_printable_and_base64_parts() {
        let data = "From: a@example.com\r\nSubject: Reset password\r\n\
MIME-Version: 1.0\r\nContent-Type: multipart/alternative;\r\n boundary=\"XyZ\"\r\n\r\n\
--XyZ\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\n\
http://front/reset?code=3D0123456789abcdef0123456789abcdef0123456789abcdef0123456789a=\r\nbcdef\r\n\
--XyZ\r\nContent-Type: text/html; charset=utf-8\r\nContent-Transfer-Encoding: base64\r\n\r\n\
PHA+P2NvbmZpcm1hdGlvbj1kZWFkYmVlZjwvcD4=\r\n--XyZ--\r\n";
        let m = SmtpMessage {
            from: "a@example.com".into(),
            to: vec!["b@example.com".into()],
            data: data.into(),
        };
        assert_eq!(m.header("subject").as_deref(), Some("Reset password"));
        assert_eq!(
            m.header("content-type").as_deref(),
            Some("multipart/alternative; boundary=\"XyZ\"")
        );
        assert_eq!(
            m.reset_code().as_deref(),
            Some("0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef")
        );
        assert_eq!(m.confirmation_token().as_deref(), Some("deadbeef"));
        assert!(m.is_to("B@example.com"));
        assert_eq!(qp_decode("caf=C3=A9 =3D x"), "café = x".as_bytes());
        assert_eq!(base64_decode("Zm9vYg=="), b"foob");
    }

    async fn expect(reader: &mut BufReader<tokio::net::tcp::OwnedReadHalf>, code: &str) {
        loop {
            let mut line = String::new();
            reader.read_line(&mut line).await.unwrap();
            assert!(line.starts_with(code), "expected {code}, got {line:?}");
            if line.as_bytes().get(3) != Some(&b'-') {
                return;
            }
        }
    }

    #[tokio::test]
    async fn records_a_session_and_refuses_on_demand() {
        let sink = SmtpSink::start().await.unwrap();
        let stream = TcpStream::connect(("127.0.0.1", sink.port()))
            .await
            .unwrap();
        let (read, mut write) = stream.into_split();
        let mut reader = BufReader::new(read);
        expect(&mut reader, "220").await;
        for (cmd, code) in [
            ("EHLO test\r\n", "250"),
            ("MAIL FROM:<a@example.com>\r\n", "250"),
            ("RCPT TO:<b@example.com>\r\n", "250"),
            ("DATA\r\n", "354"),
            ("Subject: hi\r\n\r\n..dot\r\nline\r\n.\r\n", "250"),
            ("RSET\r\n", "250"),
        ] {
            write.write_all(cmd.as_bytes()).await.unwrap();
            expect(&mut reader, code).await;
        }
        sink.refuse(true);
        write
            .write_all(b"MAIL FROM:<a@example.com>\r\n")
            .await
            .unwrap();
        expect(&mut reader, "550").await;
        write.write_all(b"QUIT\r\n").await.unwrap();
        expect(&mut reader, "221").await;
        let mut rest = Vec::new();
        reader.read_to_end(&mut rest).await.unwrap();

        let all = sink.wait_for(1, Duration::from_secs(1)).await.unwrap();
        assert_eq!(all.len(), 1);
        assert_eq!(all[0].from, "a@example.com");
        assert_eq!(all[0].to, vec!["b@example.com".to_owned()]);
        assert_eq!(all[0].data, "Subject: hi\r\n\r\n.dot\r\nline\r\n");
        assert_eq!(sink.sessions(), 1);
        assert!(sink.wait_for(2, Duration::from_millis(50)).await.is_err());
    }
}
