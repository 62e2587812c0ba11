//! User state on the request path: the in-process cache, and on a miss the
//! store, queried on the gateway's background runtime.
//!
//! Pingora runs each service on runtimes of its own; database connections
//! belong to the background runtime that opened them, so a cache miss is
//! handed to it and awaited (one cross-thread hop, only on a miss).

use std::sync::Arc;

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use portcullis_redis::{CachedUserState, Fleet, Health};
use portcullis_store::{CachedUser, Store, UserCache, UserState};
use tokio::runtime::Handle;

/// Read-through user lookup: in-process cache → Redis (when configured) →
/// database.
#[derive(Clone)]
pub struct UserDirectory {
    cache: UserCache,
    store: Store,
    background: Handle,
    fleet: Option<Fleet>,
    redis_ttl: Duration,
    redis_hits: Arc<AtomicU64>,
    redis_misses: Arc<AtomicU64>,
}

fn to_shared(u: &UserState) -> CachedUserState {
    CachedUserState {
        id: u.id,
        role: u.role.to_string(),
        blocked: u.blocked,
        confirmed: u.confirmed,
        tokens_valid_after: u.tokens_valid_after,
    }
}

fn from_shared(u: CachedUserState) -> UserState {
    UserState {
        id: u.id,
        role: Arc::from(u.role),
        blocked: u.blocked,
        confirmed: u.confirmed,
        tokens_valid_after: u.tokens_valid_after,
    }
}

/// One miss: Redis first (if up), then the database, whose answer is shared
/// through Redis for the other replicas. A Redis error is never fatal.
async fn fetch(
    store: &Store,
    fleet: Option<&Fleet>,
    ttl: Duration,
    id: i64,
    stats: (&AtomicU64, &AtomicU64),
) -> portcullis_store::Result<CachedUser> {
    if let Some(f) = fleet.filter(|f| f.health() == Health::Up) {
        match f.get_user(id).await {
            Ok(Some(shared)) => {
                stats.0.fetch_add(1, Ordering::Relaxed);
                return Ok(shared.map(|u| Arc::new(from_shared(u))));
            }
            Ok(None) => {
                stats.1.fetch_add(1, Ordering::Relaxed);
            }
            Err(e) => tracing::debug!(error = %e, "redis user read failed; using the database"),
        }
    }
    let row = store.user_state(id).await?.map(Arc::new);
    if let Some(f) = fleet {
        let shared = row.as_deref().map(to_shared);
        if let Err(e) = f.put_user(id, shared.as_ref(), ttl).await {
            tracing::debug!(error = %e, "redis user write failed");
        }
    }
    Ok(row)
}

/// A lookup that could not be answered (store unreachable): fail closed.
#[derive(Debug, thiserror::Error)]
#[error("user store unavailable: {0}")]
pub struct LookupError(String);

impl LookupError {
    pub fn new(message: impl Into<String>) -> LookupError {
        LookupError(message.into())
    }
}

impl UserDirectory {
    pub fn new(cache: UserCache, store: Store, background: Handle) -> UserDirectory {
        UserDirectory {
            cache,
            store,
            background,
            fleet: None,
            redis_ttl: Duration::from_secs(60),
            redis_hits: Arc::default(),
            redis_misses: Arc::default(),
        }
    }

    /// Adds the shared Redis tier.
    pub fn with_fleet(mut self, fleet: Fleet, ttl: Duration) -> UserDirectory {
        self.fleet = Some(fleet);
        self.redis_ttl = ttl;
        self
    }

    pub fn fleet(&self) -> Option<&Fleet> {
        self.fleet.as_ref()
    }

    /// Redis tier `(hits, misses)`.
    pub fn redis_stats(&self) -> (u64, u64) {
        (
            self.redis_hits.load(Ordering::Relaxed),
            self.redis_misses.load(Ordering::Relaxed),
        )
    }

    pub fn cache(&self) -> &UserCache {
        &self.cache
    }

    pub fn store(&self) -> &Store {
        &self.store
    }

    /// The runtime that owns the database connections.
    pub fn background(&self) -> &Handle {
        &self.background
    }

    /// The user's state; `None` when the user does not exist.
    pub async fn get(&self, id: i64) -> Result<Option<Arc<UserState>>, LookupError> {
        if let Some(hit) = self.cache.get(id) {
            return Ok(hit);
        }
        let dir = self.clone();
        self.background
            .spawn(async move {
                let stats = (&*dir.redis_hits, &*dir.redis_misses);
                let (store, fleet, ttl) = (&dir.store, dir.fleet.as_ref(), dir.redis_ttl);
                dir.cache
                    .load_with(id, || fetch(store, fleet, ttl, id, stats))
                    .await
            })
            .await
            .map_err(|e| LookupError(e.to_string()))?
            .map_err(|e| LookupError(e.to_string()))
    }
}
