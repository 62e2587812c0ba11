//! A bare Pingora reverse proxy: the baseline `scripts/bench` compares the
//! gateway with. Plain HTTP, every request forwarded unchanged to one
//! upstream over pooled keepalive connections, no checks, no logging.
//!
//!     cargo run --release -p portcullis-proxy --example passthrough -- \
//!         127.0.0.1:8081 127.0.0.1:1337 [THREADS]
//!
//! With `PASSTHROUGH_TIMEOUT_MS` set it also arms the upstream timeouts the
//! gateway arms (connect, read and write, on tokio's timer as the gateway
//! does): `scripts/bench`'s `passthrough-timeouts` case, which separates
//! what the timeouts cost from what authorization costs.

use std::net::SocketAddr;
use std::time::Duration;

use async_trait::async_trait;
use pingora::prelude::*;
use pingora::proxy::{ProxyHttp, Session, http_proxy_service};
use pingora::server::configuration::ServerConf;

struct Passthrough {
    upstream: SocketAddr,
    timeout: Option<Duration>,
}

#[async_trait]
impl ProxyHttp for Passthrough {
    type CTX = ();

    fn new_ctx(&self) {}

    async fn upstream_peer(&self, _session: &mut Session, _ctx: &mut ()) -> Result<Box<HttpPeer>> {
        // Same (address, no TLS, no SNI) for every request: one pool key, so
        // upstream connections are reused.
        let mut peer = HttpPeer::new(self.upstream, false, String::new());
        if let Some(t) = self.timeout {
            peer.options.connection_timeout = Some(t);
            peer.options.total_connection_timeout = Some(t);
            peer.options.read_timeout = Some(t);
            peer.options.write_timeout = Some(t);
        }
        Ok(Box::new(peer))
    }
}

pub fn main() -> std::result::Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let usage = "usage: passthrough LISTEN UPSTREAM [THREADS]";
    let listen = args.next().ok_or(usage)?;
    let upstream: SocketAddr = args.next().ok_or(usage)?.parse()?;
    let threads: usize = args.next().map_or(Ok(1), |t| t.parse())?;
    let timeout = match std::env::var("PASSTHROUGH_TIMEOUT_MS") {
        Ok(ms) => Some(Duration::from_millis(ms.parse()?)),
        Err(_) => None,
    };
    let mut conf = ServerConf {
        threads: threads.max(1),
        upstream_keepalive_pool_size: 128,
        ..ServerConf::default()
    };
    if timeout.is_some() {
        // as the gateway (crates/portcullis-proxy/src/server.rs)
        conf.fast_timeout_to_tokio_threshold_seconds = Some(0);
    }
    let mut server = Server::new_with_opt_and_conf(None, conf);
    server.bootstrap();
    let mut proxy = http_proxy_service(&server.configuration, Passthrough { upstream, timeout });
    proxy.add_tcp(&listen);
    server.add_service(proxy);
    server.run_forever()
}
