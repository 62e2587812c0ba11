//! A tiny SMTP server that records every message: enough of RFC 5321 for
//! lettre (greeting, EHLO/HELO, MAIL FROM, RCPT TO, DATA, RSET, NOOP,
//! QUIT). It can be told to refuse mail, to exercise send failures.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::{TcpListener, TcpStream};

/// One accepted message.
#[derive(Debug, Clone)]
pub struct Mail {
    pub from: String,
    pub to: Vec<String>,
    /// The DATA section, dot-unstuffed, CRLF line ends.
    pub data: String,
}

impl Mail {
    /// The data with quoted-printable soft breaks and escapes undone.
    pub fn decoded(&self) -> String {
        qp_decode(&self.data)
    }

    pub fn header(&self, name: &str) -> Option<String> {
        let head = self.data.split("\r\n\r\n").next()?;
        head.split("\r\n").find_map(|line| {
            let (n, v) = line.split_once(':')?;
            n.eq_ignore_ascii_case(name).then(|| v.trim().to_owned())
        })
    }

    /// The hex value following `marker` (e.g. `?code=`) in the body.
    pub fn hex_after(&self, marker: &str) -> Option<String> {
        let text = self.decoded();
        let start = text.find(marker)? + marker.len();
        let hex: String = text[start..]
            .chars()
            .take_while(char::is_ascii_hexdigit)
            .collect();
        (!hex.is_empty()).then_some(hex)
    }

    pub fn reset_code(&self) -> Option<String> {
        self.hex_after("?code=")
    }

    pub fn confirmation_token(&self) -> Option<String> {
        self.hex_after("?confirmation=")
    }
}

fn qp_decode(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'=' {
            if b[i + 1..].starts_with(b"\r\n") {
                i += 3;
                continue;
            }
            if let Some(hex) = b.get(i + 1..i + 3)
                && let Ok(byte) = u8::from_str_radix(&String::from_utf8_lossy(hex), 16)
            {
                out.push(byte);
                i += 3;
                continue;
            }
        }
        out.push(b[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[derive(Default)]
struct State {
    mails: Mutex<Vec<Mail>>,
    refuse: AtomicBool,
}

/// The running sink; stops with the test's runtime.
#[derive(Clone)]
pub struct SmtpSink {
    pub port: u16,
    state: Arc<State>,
}

impl SmtpSink {
    pub async fn start() -> SmtpSink {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let state = Arc::new(State::default());
        let shared = Arc::clone(&state);
        tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                tokio::spawn(session(stream, Arc::clone(&shared)));
            }
        });
        SmtpSink { port, state }
    }

    pub fn url(&self) -> String {
        format!("smtp://127.0.0.1:{}", self.port)
    }

    pub fn mails(&self) -> Vec<Mail> {
        self.state.mails.lock().unwrap().clone()
    }

    pub fn mails_to(&self, rcpt: &str) -> Vec<Mail> {
        self.mails()
            .into_iter()
            .filter(|m| m.to.iter().any(|t| t.eq_ignore_ascii_case(rcpt)))
            .collect()
    }

    pub fn last_to(&self, rcpt: &str) -> Mail {
        self.mails_to(rcpt)
            .pop()
            .unwrap_or_else(|| panic!("no mail to {rcpt}"))
    }

    /// Refuse (`550`) every MAIL FROM while `on`.
    pub fn refuse(&self, on: bool) {
        self.state.refuse.store(on, Ordering::SeqCst);
    }
}

fn address(arg: &str) -> String {
    let start = arg.find('<').map_or(0, |i| i + 1);
    let end = arg.rfind('>').unwrap_or(arg.len());
    arg.get(start..end).unwrap_or_default().to_owned()
}

async fn session(stream: TcpStream, state: Arc<State>) {
    let (read, mut write) = stream.into_split();
    let mut reader = BufReader::new(read);
    let mut from = String::new();
    let mut to = Vec::new();
    if write.write_all(b"220 sink ESMTP ready\r\n").await.is_err() {
        return;
    }
    let mut line = String::new();
    loop {
        line.clear();
        if reader.read_line(&mut line).await.unwrap_or(0) == 0 {
            return;
        }
        let cmd = line.trim_end().to_owned();
        let upper = cmd.to_ascii_uppercase();
        let reply: &[u8] = if upper.starts_with("EHLO") {
            b"250-sink greets you\r\n250 8BITMIME\r\n"
        } else if upper.starts_with("HELO") || upper.starts_with("NOOP") {
            b"250 ok\r\n"
        } else if upper.starts_with("RSET") {
            from.clear();
            to.clear();
            b"250 ok\r\n"
        } else if upper.starts_with("MAIL FROM:") {
            if state.refuse.load(Ordering::SeqCst) {
                b"550 5.7.1 mail refused by test\r\n"
            } else {
                from = address(&cmd[10..]);
                b"250 ok\r\n"
            }
        } else if upper.starts_with("RCPT TO:") {
            to.push(address(&cmd[8..]));
            b"250 ok\r\n"
        } else if upper == "DATA" {
            if write
                .write_all(b"354 end data with <CR><LF>.<CR><LF>\r\n")
                .await
                .is_err()
            {
                return;
            }
            let mut data = String::new();
            loop {
                line.clear();
                if reader.read_line(&mut line).await.unwrap_or(0) == 0 {
                    return;
                }
                if line == ".\r\n" || line == ".\n" {
                    break;
                }
                data.push_str(
                    line.strip_prefix('.')
                        .filter(|_| line.starts_with(".."))
                        .unwrap_or(&line),
                );
            }
            state.mails.lock().unwrap().push(Mail {
                from: std::mem::take(&mut from),
                to: std::mem::take(&mut to),
                data,
            });
            b"250 ok queued\r\n"
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
