//! Running the gateway: the Pingora server, and shutdown that drains.
//!
//! Pingora's own graceful terminate stops the listeners and then sleeps a
//! fixed grace period. Portcullis stops the listeners the same way on
//! SIGTERM *and* SIGINT, then exits as soon as no request is in flight (or
//! when `server.shutdown_timeout` runs out), always with status 0.

use std::net::TcpListener;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use async_trait::async_trait;
use pingora::proxy::http_proxy_service;
use pingora::server::configuration::ServerConf;
use pingora::server::{RunArgs, Server, ShutdownSignal, ShutdownSignalWatch};
use tokio::signal::unix::{SignalKind, signal};

use crate::admin::Admin;
use crate::gateway::Gateway;
use crate::state::AppState;

/// Waits for SIGTERM or SIGINT, then starts the drain.
struct DrainOnSignal {
    state: Arc<AppState>,
}

async fn any_signal() {
    let term = signal(SignalKind::terminate());
    let int = signal(SignalKind::interrupt());
    match (term, int) {
        (Ok(mut term), Ok(mut int)) => {
            tokio::select! {
                _ = term.recv() => {},
                _ = int.recv() => {},
            }
        }
        (Err(e), _) | (_, Err(e)) => {
            tracing::error!(error = %e, "cannot watch for signals; the gateway will only stop when killed");
            std::future::pending::<()>().await;
        }
    }
}

#[async_trait]
impl ShutdownSignalWatch for DrainOnSignal {
    async fn recv(&self) -> ShutdownSignal {
        any_signal().await;
        let state = self.state.clone();
        let limit = state.settings.shutdown_timeout;
        tracing::info!(
            in_flight = state.in_flight.load(Ordering::Acquire),
            "shutting down: draining"
        );
        std::thread::spawn(move || drain_then_exit(&state, limit));
        ShutdownSignal::GracefulTerminate
    }
}

static BEFORE_EXIT: std::sync::OnceLock<fn()> = std::sync::OnceLock::new();

/// Registers what must run just before the process exits (after the drain),
/// such as flushing buffered log lines. Only the first registration counts.
pub fn before_exit(f: fn()) {
    let _ = BEFORE_EXIT.set(f);
}

/// Writes pending `lastUsedAt` updates before the process goes away, then
/// runs the [`before_exit`] hook.
fn flush_before_exit(state: &AppState) {
    let rt = state.users.background().clone();
    let tokens = state.tokens.clone();
    let flushed = rt.block_on(async move {
        tokio::time::timeout(Duration::from_secs(2), tokens.flush_last_used()).await
    });
    if flushed.is_err() {
        tracing::warn!("lastUsedAt flush timed out at shutdown");
    }
    if let Some(f) = BEFORE_EXIT.get() {
        f();
    }
}

fn drain_then_exit(state: &AppState, limit: Duration) {
    let start = Instant::now();
    // Let the listeners close before counting.
    std::thread::sleep(Duration::from_millis(100));
    loop {
        let n = state.in_flight.load(Ordering::Acquire);
        if n == 0 {
            tracing::info!(
                elapsed_ms = start.elapsed().as_millis() as u64,
                "drained, exiting"
            );
            flush_before_exit(state);
            std::process::exit(0);
        }
        if start.elapsed() >= limit {
            tracing::warn!(in_flight = n, "shutdown timeout reached, exiting");
            flush_before_exit(state);
            std::process::exit(0);
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Checks that the proxy address can be bound, for a clear start-up error.
pub fn check_listen(addr: &str) -> Result<(), String> {
    TcpListener::bind(addr)
        .map(drop)
        .map_err(|e| format!("cannot listen on {addr}: {e}"))
}

/// Runs the gateway until a signal; never returns.
pub fn run(state: Arc<AppState>) -> ! {
    let s = &state.settings;
    let conf = ServerConf {
        threads: s.threads.max(1),
        grace_period_seconds: Some(s.shutdown_timeout.as_secs().saturating_add(1)),
        graceful_shutdown_timeout_seconds: Some(1),
        // Every Pingora timeout (the upstream read and write timeouts) on
        // tokio's timer wheel: per request it costs ~1.1k instructions and
        // several allocations less than Pingora's own timer map (a
        // `BTreeMap` under a lock, a `Notify` and a boxed future per
        // timeout, 3.5 clock reads), its entries are removed when the
        // request completes instead of at their deadline, and its
        // resolution is 1 ms instead of 10 ms (docs/performance.md).
        fast_timeout_to_tokio_threshold_seconds: Some(0),
        ..ServerConf::default()
    };
    let mut server = Server::new_with_opt_and_conf(None, conf);
    server.bootstrap();
    let mut proxy = http_proxy_service(&server.configuration, Gateway::new(state.clone()));
    proxy.add_tcp(&s.listen);
    server.add_service(proxy);
    let mut admin = pingora::services::listening::Service::new(
        "admin".into(),
        Admin {
            state: state.clone(),
        },
    );
    admin.add_tcp(&s.admin_listen);
    server.add_service(admin);
    tracing::info!(listen = %s.listen, upstream = %s.upstream, "portcullis serving");
    server.run(RunArgs {
        shutdown_signal: Box::new(DrainOnSignal {
            state: state.clone(),
        }),
    });
    if let Some(f) = BEFORE_EXIT.get() {
        f();
    }
    std::process::exit(0)
}
