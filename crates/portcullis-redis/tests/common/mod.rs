//! A throwaway `redis-server` on a free port (never the machine's 6379),
//! killed on drop, plus small test helpers.

#![allow(dead_code)]

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::process::{Child, Command, Stdio};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use async_trait::async_trait;
use portcullis_redis::Event;
use portcullis_users_permissions::{RateDecision, RateLimiter};

pub struct RedisServer {
    pub port: u16,
    child: Option<Child>,
}

impl RedisServer {
    /// Starts a server on a free port.
    pub fn start() -> RedisServer {
        let port = TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        RedisServer::start_on(port)
    }

    /// Starts a server on `port` and waits until it answers `PING`.
    pub fn start_on(port: u16) -> RedisServer {
        let child = Command::new("redis-server")
            .args(["--port", &port.to_string()])
            .args(["--save", "", "--appendonly", "no", "--bind", "127.0.0.1"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("redis-server on PATH");
        let server = RedisServer {
            port,
            child: Some(child),
        };
        let deadline = Instant::now() + Duration::from_secs(5);
        while !server.answers() {
            assert!(
                Instant::now() < deadline,
                "redis-server did not start on {port}"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
        server
    }

    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.port)
    }

    /// Kills the server and waits for it to exit.
    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Sends a signal (`"STOP"`, `"CONT"`) to the server process.
    pub fn signal(&self, sig: &str) {
        let pid = self.child.as_ref().unwrap().id().to_string();
        let status = Command::new("kill")
            .args([&format!("-{sig}"), &pid])
            .status()
            .unwrap();
        assert!(status.success());
    }

    fn answers(&self) -> bool {
        let Ok(mut s) = TcpStream::connect(("127.0.0.1", self.port)) else {
            return false;
        };
        let _ = s.set_read_timeout(Some(Duration::from_millis(200)));
        let mut buf = [0u8; 7];
        s.write_all(b"PING\r\n").is_ok() && s.read_exact(&mut buf).is_ok() && &buf == b"+PONG\r\n"
    }
}

impl Drop for RedisServer {
    fn drop(&mut self) {
        self.stop();
    }
}

/// Collects events from a subscriber.
#[derive(Default)]
pub struct Events(pub Mutex<Vec<Event>>);

impl Events {
    pub fn push(&self, e: Event) {
        self.0.lock().unwrap().push(e);
    }

    /// Waits until `pred` matches a received event, removing everything up
    /// to and including it.
    pub async fn wait_for(&self, within: Duration, pred: impl Fn(&Event) -> bool) -> Event {
        let deadline = Instant::now() + within;
        loop {
            {
                let mut events = self.0.lock().unwrap();
                if let Some(i) = events.iter().position(&pred) {
                    return events.drain(..=i).next_back().unwrap();
                }
            }
            assert!(
                Instant::now() < deadline,
                "no matching event within {within:?}; got {:?}",
                self.0.lock().unwrap()
            );
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }
}

/// Polls `cond` until true or panics after `within`.
pub async fn eventually(within: Duration, what: &str, mut cond: impl FnMut() -> bool) {
    let deadline = Instant::now() + within;
    while !cond() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

/// A per-replica fallback that counts its calls and refuses nothing.
#[derive(Default)]
pub struct CountingFallback(pub Mutex<u32>);

#[async_trait]
impl RateLimiter for CountingFallback {
    async fn hit(&self, _key: &str, _window: Duration, max: u32) -> RateDecision {
        *self.0.lock().unwrap() += 1;
        RateDecision {
            allowed: true,
            limit: max,
            remaining: max,
            reset: 0,
        }
    }
}
