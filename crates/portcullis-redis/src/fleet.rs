//! The connection to Redis, its health, and the command wrapper every
//! operation goes through (timeout, fail-fast while down, counters).

use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU8, AtomicU64, Ordering};
use std::time::Duration;

use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use tokio::sync::{Notify, watch};

use crate::{Error, Result};

/// How long one command (or connection attempt) may take.
pub(crate) const COMMAND_TIMEOUT: Duration = Duration::from_secs(1);
/// First delay between probes while Redis is down.
const PROBE_MIN_DELAY: Duration = Duration::from_millis(100);
/// Longest delay between probes while Redis is down.
const PROBE_MAX_DELAY: Duration = Duration::from_secs(1);

/// Whether this replica can currently rely on Redis.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Health {
    /// Commands succeed and (if [`Fleet::subscribe`] was called) the event
    /// subscription is live.
    Up,
    /// Redis is unreachable or the event subscription is down: invalidations
    /// may be missed, so local caches must not be trusted.
    Down,
}

/// The subscriber's state, folded into [`Health`].
pub(crate) const SUB_NONE: u8 = 0;
pub(crate) const SUB_UP: u8 = 1;
pub(crate) const SUB_DOWN: u8 = 2;

/// State shared by every clone of a [`Fleet`] and its background tasks.
pub(crate) struct Shared {
    pub(crate) prefix: String,
    /// The command connection answered last time.
    cmd_up: AtomicBool,
    /// One of `SUB_*`.
    pub(crate) sub_state: AtomicU8,
    commands: AtomicU64,
    errors: AtomicU64,
    /// Wakes the probe task when the command connection goes down.
    went_down: Notify,
}

impl Shared {
    pub(crate) fn set_cmd_up(&self, up: bool) {
        let was = self.cmd_up.swap(up, Ordering::SeqCst);
        if was && !up {
            tracing::warn!("redis unreachable; degrading to per-replica state");
            self.went_down.notify_one();
        } else if !was && up {
            tracing::info!("redis reachable again");
        }
    }

    pub(crate) fn cmd_up(&self) -> bool {
        self.cmd_up.load(Ordering::SeqCst)
    }
}

/// A handle on the fleet's shared state in Redis. Cheap to clone; the
/// background tasks stop when the last clone is dropped.
#[derive(Clone)]
pub struct Fleet {
    pub(crate) client: redis::Client,
    pub(crate) conn: ConnectionManager,
    pub(crate) shared: Arc<Shared>,
    /// Dropped with the last clone, which closes `shutdown_rx` in the tasks.
    shutdown: Arc<watch::Sender<()>>,
}

impl std::fmt::Debug for Fleet {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Fleet")
            .field("prefix", &self.shared.prefix)
            .field("health", &self.health())
            .finish_non_exhaustive()
    }
}

impl Fleet {
    /// Opens the fleet's Redis at `url` with keys under `prefix` (usually
    /// [`crate::DEFAULT_PREFIX`]).
    ///
    /// Only a malformed URL is an error: if Redis is unreachable this returns
    /// a fleet in [`Health::Down`] and keeps probing in the background, so the
    /// gateway starts without Redis. Must be called inside a Tokio runtime.
    pub async fn connect(url: &str, prefix: &str) -> Result<Fleet> {
        let client = redis::Client::open(url).map_err(Error::Url)?;
        let config = ConnectionManagerConfig::new()
            .set_connection_timeout(Some(COMMAND_TIMEOUT))
            .set_response_timeout(Some(COMMAND_TIMEOUT))
            .set_number_of_retries(1)
            .set_min_delay(PROBE_MIN_DELAY)
            .set_max_delay(PROBE_MAX_DELAY);
        let conn =
            ConnectionManager::new_lazy_with_config(client.clone(), config).map_err(Error::Url)?;
        let shared = Arc::new(Shared {
            prefix: prefix.to_owned(),
            cmd_up: AtomicBool::new(false),
            sub_state: AtomicU8::new(SUB_NONE),
            commands: AtomicU64::new(0),
            errors: AtomicU64::new(0),
            went_down: Notify::new(),
        });
        let (shutdown, shutdown_rx) = watch::channel(());
        let fleet = Fleet {
            client,
            conn,
            shared,
            shutdown: Arc::new(shutdown),
        };
        let up = probe(&fleet.conn).await;
        fleet.shared.cmd_up.store(up, Ordering::SeqCst);
        if !up {
            tracing::warn!("redis unreachable at start; running degraded");
        }
        tokio::spawn(probe_loop(
            fleet.conn.clone(),
            fleet.shared.clone(),
            shutdown_rx,
        ));
        Ok(fleet)
    }

    /// [`Health::Up`] when the last command succeeded and the event
    /// subscription (if any) is connected.
    pub fn health(&self) -> Health {
        let sub_ok = self.shared.sub_state.load(Ordering::SeqCst) != SUB_DOWN;
        if self.shared.cmd_up() && sub_ok {
            Health::Up
        } else {
            Health::Down
        }
    }

    /// Sends `PING`, even while down (for readiness probes); success marks
    /// the command connection up.
    pub async fn ping(&self) -> Result<()> {
        self.shared.commands.fetch_add(1, Ordering::Relaxed);
        let mut conn = self.conn.clone();
        let cmd = redis::cmd("PING");
        self.finish(cmd.query_async::<()>(&mut conn)).await?;
        self.shared.set_cmd_up(true);
        Ok(())
    }

    /// Commands (or pipelines, or script calls) this process sent through
    /// this fleet's methods. Background health probes and the subscriber's
    /// keep-alives are not counted.
    pub fn commands_sent(&self) -> u64 {
        self.shared.commands.load(Ordering::Relaxed)
    }

    /// Commands that failed or timed out.
    pub fn errors(&self) -> u64 {
        self.shared.errors.load(Ordering::Relaxed)
    }

    /// The key prefix.
    pub fn prefix(&self) -> &str {
        &self.shared.prefix
    }

    pub(crate) fn key(&self, suffix: &str) -> String {
        format!("{}:{suffix}", self.shared.prefix)
    }

    pub(crate) fn channel(&self) -> String {
        self.key("events")
    }

    pub(crate) fn shutdown_rx(&self) -> watch::Receiver<()> {
        self.shutdown.subscribe()
    }

    /// Runs one round trip: fails fast while down, else counts it and
    /// applies the timeout. `fut` is lazy, so nothing is sent when down.
    pub(crate) async fn run<T>(
        &self,
        fut: impl Future<Output = redis::RedisResult<T>>,
    ) -> Result<T> {
        if !self.shared.cmd_up() {
            return Err(Error::Unavailable);
        }
        self.shared.commands.fetch_add(1, Ordering::Relaxed);
        self.finish(fut).await
    }

    async fn finish<T>(&self, fut: impl Future<Output = redis::RedisResult<T>>) -> Result<T> {
        match tokio::time::timeout(COMMAND_TIMEOUT, fut).await {
            Ok(Ok(v)) => Ok(v),
            Ok(Err(e)) => {
                self.shared.errors.fetch_add(1, Ordering::Relaxed);
                if is_connectivity(&e) {
                    self.shared.set_cmd_up(false);
                }
                if e.is_timeout() {
                    return Err(Error::Timeout(COMMAND_TIMEOUT));
                }
                Err(Error::Redis(e))
            }
            Err(_) => {
                self.shared.errors.fetch_add(1, Ordering::Relaxed);
                self.shared.set_cmd_up(false);
                Err(Error::Timeout(COMMAND_TIMEOUT))
            }
        }
    }
}

/// Errors that say "Redis is not there", as opposed to a refused command.
fn is_connectivity(e: &redis::RedisError) -> bool {
    e.is_io_error()
        || e.is_connection_dropped()
        || e.is_connection_refusal()
        || e.is_timeout()
        || e.is_unrecoverable_error()
}

/// One uncounted `PING` with the command timeout.
pub(crate) async fn probe(conn: &ConnectionManager) -> bool {
    let mut conn = conn.clone();
    let cmd = redis::cmd("PING");
    matches!(
        tokio::time::timeout(COMMAND_TIMEOUT, cmd.query_async::<()>(&mut conn)).await,
        Ok(Ok(()))
    )
}

/// While the command connection is down, probe with exponential backoff
/// (100 ms → 1 s); each probe also makes the connection manager reconnect.
async fn probe_loop(
    conn: ConnectionManager,
    shared: Arc<Shared>,
    mut shutdown: watch::Receiver<()>,
) {
    let mut delay = PROBE_MIN_DELAY;
    loop {
        if shared.cmd_up() {
            delay = PROBE_MIN_DELAY;
            tokio::select! {
                () = shared.went_down.notified() => {}
                _ = shutdown.changed() => return,
            }
            continue;
        }
        tokio::select! {
            () = tokio::time::sleep(delay) => {}
            _ = shutdown.changed() => return,
        }
        if probe(&conn).await {
            shared.set_cmd_up(true);
        } else {
            delay = (delay * 2).min(PROBE_MAX_DELAY);
        }
    }
}
