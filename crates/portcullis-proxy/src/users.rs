//! User state on the request path: the in-process cache, and on a miss the
//! store, queried on the gateway's background runtime.
//!
//! Pingora runs each service on runtimes of its own; database connections
//! belong to the background runtime that opened them, so a cache miss is
//! handed to it and awaited (one cross-thread hop, only on a miss).

use std::sync::Arc;

use portcullis_store::{Store, UserCache, UserState};
use tokio::runtime::Handle;

/// Read-through user lookup.
#[derive(Clone)]
pub struct UserDirectory {
    cache: UserCache,
    store: Store,
    background: Handle,
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
        }
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
        let cache = self.cache.clone();
        let store = self.store.clone();
        self.background
            .spawn(async move { cache.load(&store, id).await })
            .await
            .map_err(|e| LookupError(e.to_string()))?
            .map_err(|e| LookupError(e.to_string()))
    }
}
