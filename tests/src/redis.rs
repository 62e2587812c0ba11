//! A throw-away `redis-server` for fleet tests, and a raw pub/sub listener.
//!
//! [`RedisServer::start`] runs `redis-server --port <free> --save ""
//! --appendonly no --bind 127.0.0.1` (never the machine's 6379) and waits
//! until it answers `PING`. [`RedisServer::stop`] kills it (as a crash or a
//! lost node would), [`RedisServer::restart`] starts a fresh, empty server
//! on the same port. The process is killed when the value is dropped.
//!
//! [`RedisSubscriber`] speaks just enough RESP to `SUBSCRIBE` to a channel
//! and read its messages, so a test can see what the gateways announce on
//! `portcullis:events`.

use std::net::SocketAddr;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, anyhow, bail};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;

/// How long a started server may take to answer `PING`.
const START_TIMEOUT: Duration = Duration::from_secs(10);
const START_ATTEMPTS: usize = 3;

/// A `redis-server` child process on a free local port. Killed on drop.
pub struct RedisServer {
    port: u16,
    child: Option<Child>,
}

impl RedisServer {
    /// Starts a server on a free port (retrying with another port if the
    /// one picked was taken in the meantime).
    pub async fn start() -> Result<RedisServer> {
        let mut last = anyhow!("redis-server never started");
        for _ in 0..START_ATTEMPTS {
            let port = std::net::TcpListener::bind("127.0.0.1:0")?
                .local_addr()?
                .port();
            let mut server = RedisServer { port, child: None };
            match server.spawn().await {
                Ok(()) => return Ok(server),
                Err(e) => last = e,
            }
        }
        Err(last)
    }

    /// The port it listens on (the same across [`RedisServer::restart`]).
    pub fn port(&self) -> u16 {
        self.port
    }

    /// `redis://127.0.0.1:<port>`, for `cache.redis_url`.
    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.port)
    }

    /// `127.0.0.1:<port>`.
    pub fn addr(&self) -> SocketAddr {
        SocketAddr::from(([127, 0, 0, 1], self.port))
    }

    /// Whether the server process is running (not stopped).
    pub fn is_running(&self) -> bool {
        self.child.is_some()
    }

    /// Kills the server (SIGKILL) and reaps it. Idempotent.
    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Stops the server if it runs, then starts a new, empty one on the
    /// same port and waits until it answers.
    pub async fn restart(&mut self) -> Result<()> {
        self.stop();
        let deadline = Instant::now() + START_TIMEOUT;
        loop {
            // The old socket may linger for a moment; redis-server exits
            // at once when it cannot bind, so just try again.
            match self.spawn().await {
                Ok(()) => return Ok(()),
                Err(e) if Instant::now() > deadline => return Err(e),
                Err(_) => tokio::time::sleep(Duration::from_millis(100)).await,
            }
        }
    }

    /// Sends one command (inline syntax) on a fresh connection and returns
    /// the reply: the first line for simple replies (`+PONG`, `:3`, `-ERR …`,
    /// `$-1` for nil, `*2` for an array), the payload for a bulk string.
    pub async fn command(&self, inline: &str) -> Result<String> {
        let stream = tokio::time::timeout(Duration::from_secs(2), TcpStream::connect(self.addr()))
            .await
            .context("connecting to redis timed out")??;
        let mut reader = BufReader::new(stream);
        reader
            .get_mut()
            .write_all(format!("{inline}\r\n").as_bytes())
            .await?;
        let mut line = String::new();
        tokio::time::timeout(Duration::from_secs(2), reader.read_line(&mut line))
            .await
            .context("redis did not answer")??;
        let line = line.trim_end().to_owned();
        if let Some(len) = line.strip_prefix('$').and_then(|n| n.parse::<usize>().ok()) {
            let mut buf = vec![0u8; len + 2];
            tokio::time::timeout(Duration::from_secs(2), reader.read_exact(&mut buf))
                .await
                .context("redis did not send the bulk reply")??;
            buf.truncate(len);
            return Ok(String::from_utf8_lossy(&buf).into_owned());
        }
        Ok(line)
    }

    /// Whether the server answers `PING` right now.
    pub async fn answers(&self) -> bool {
        matches!(self.command("PING").await.as_deref(), Ok("+PONG"))
    }

    async fn spawn(&mut self) -> Result<()> {
        let mut child = Command::new("redis-server")
            .args(["--port", &self.port.to_string()])
            .args(["--save", "", "--appendonly", "no", "--bind", "127.0.0.1"])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .context("starting redis-server (is it on PATH?)")?;
        let deadline = Instant::now() + START_TIMEOUT;
        loop {
            if let Ok(Some(status)) = child.try_wait() {
                bail!("redis-server on port {} exited with {status}", self.port);
            }
            if self.answers().await {
                self.child = Some(child);
                return Ok(());
            }
            if Instant::now() > deadline {
                let _ = child.kill();
                let _ = child.wait();
                bail!(
                    "redis-server on port {} did not answer within {START_TIMEOUT:?}",
                    self.port
                );
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}

impl Drop for RedisServer {
    fn drop(&mut self) {
        self.stop();
    }
}

/// A connection subscribed to one pub/sub channel.
pub struct RedisSubscriber {
    reader: BufReader<TcpStream>,
}

impl RedisSubscriber {
    /// Subscribes to `channel` on the server at `addr` and waits for the
    /// subscription to be confirmed.
    pub async fn subscribe(addr: SocketAddr, channel: &str) -> Result<RedisSubscriber> {
        let stream = TcpStream::connect(addr)
            .await
            .with_context(|| format!("connecting to redis at {addr}"))?;
        let mut reader = BufReader::new(stream);
        let cmd = format!(
            "*2\r\n$9\r\nSUBSCRIBE\r\n${}\r\n{channel}\r\n",
            channel.len()
        );
        reader.get_mut().write_all(cmd.as_bytes()).await?;
        let mut sub = RedisSubscriber { reader };
        let confirm = tokio::time::timeout(Duration::from_secs(2), sub.read_array())
            .await
            .context("no SUBSCRIBE confirmation")??;
        if confirm.first().map(String::as_str) != Some("subscribe") {
            bail!("unexpected SUBSCRIBE reply {confirm:?}");
        }
        Ok(sub)
    }

    /// The next message's payload, or `None` if none arrives within `limit`.
    pub async fn next_message(&mut self, limit: Duration) -> Result<Option<String>> {
        let deadline = Instant::now() + limit;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            let frame = match tokio::time::timeout(left, self.read_array()).await {
                Ok(frame) => frame?,
                Err(_) => return Ok(None),
            };
            if frame.first().map(String::as_str) == Some("message") && frame.len() == 3 {
                return Ok(frame.into_iter().nth(2));
            }
        }
    }

    /// Waits up to `limit` for a message satisfying `pred`; returns every
    /// message read, the matching one last, or `Err` listing them.
    pub async fn wait_for(
        &mut self,
        limit: Duration,
        pred: impl Fn(&str) -> bool,
    ) -> Result<Vec<String>> {
        let deadline = Instant::now() + limit;
        let mut seen = Vec::new();
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.next_message(left).await? {
                Some(m) => {
                    let hit = pred(&m);
                    seen.push(m);
                    if hit {
                        return Ok(seen);
                    }
                }
                None => bail!("no matching message within {limit:?}; saw {seen:?}"),
            }
        }
    }

    /// Reads one RESP array of bulk strings / integers (as text).
    async fn read_array(&mut self) -> Result<Vec<String>> {
        let header = self.read_line().await?;
        let n: usize = header
            .strip_prefix('*')
            .and_then(|n| n.parse().ok())
            .ok_or_else(|| anyhow!("expected a RESP array, got {header:?}"))?;
        let mut out = Vec::with_capacity(n);
        for _ in 0..n {
            let line = self.read_line().await?;
            if let Some(len) = line.strip_prefix('$') {
                let len: usize = len.parse().context("bulk length")?;
                let mut buf = vec![0u8; len + 2];
                self.reader.read_exact(&mut buf).await?;
                buf.truncate(len);
                out.push(String::from_utf8_lossy(&buf).into_owned());
            } else if let Some(int) = line.strip_prefix(':') {
                out.push(int.to_owned());
            } else {
                bail!("unexpected RESP element {line:?}");
            }
        }
        Ok(out)
    }

    async fn read_line(&mut self) -> Result<String> {
        let mut line = String::new();
        if self.reader.read_line(&mut line).await? == 0 {
            bail!("redis closed the connection");
        }
        Ok(line.trim_end_matches(['\r', '\n']).to_owned())
    }
}
