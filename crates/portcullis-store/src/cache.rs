//! In-process cache of [`UserState`] in front of [`Store::user_state`].
//!
//! The request path checks a user's role, blocked flag and revocation
//! instant on every JWT; this cache keeps that off the database. Unknown or
//! deleted users are cached too (`None`, negative caching), so a flood of
//! tokens naming a deleted id does not reach the database either.
//!
//! Entries live for the TTL at most. Whoever changes a user (block, role,
//! password, delete) must call [`UserCache::invalidate`]; the TTL only
//! bounds how stale another replica's cache can be.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use quick_cache::UnitWeighter;
use quick_cache::sync::{Cache, DefaultLifecycle};

use crate::{Result, Store, UserState};

/// A cached lookup: `Some` for an existing user, `None` for a known absence.
pub type CachedUser = Option<Arc<UserState>>;

/// Default bound on the number of cached users.
pub const DEFAULT_CAPACITY: u64 = 200_000;

/// TTL cache of user states with hit/miss counters. Cheap to clone.
#[derive(Clone)]
pub struct UserCache {
    /// quick_cache (a hit is a hash probe and an atomic bit; moka recorded
    /// every read in a channel), with the expiry kept in the entry.
    entries: Arc<Cache<i64, Entry, UnitWeighter, foldhash::fast::RandomState>>,
    ttl: Duration,
    counters: Arc<Counters>,
}

#[derive(Clone)]
struct Entry {
    user: CachedUser,
    expires: Instant,
}

#[derive(Default)]
struct Counters {
    hits: AtomicU64,
    misses: AtomicU64,
    /// Bumped by every invalidation; see [`UserCache::load`].
    generation: AtomicU64,
}

impl std::fmt::Debug for UserCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("UserCache")
            .field("entries", &self.entry_count())
            .field("hits", &self.hits())
            .field("misses", &self.misses())
            .finish()
    }
}

impl UserCache {
    /// A cache whose entries expire `ttl` after insertion, holding at most
    /// [`DEFAULT_CAPACITY`] users.
    pub fn new(ttl: Duration) -> UserCache {
        UserCache::with_capacity(ttl, DEFAULT_CAPACITY)
    }

    pub fn with_capacity(ttl: Duration, max_capacity: u64) -> UserCache {
        let capacity = max_capacity.max(1);
        UserCache {
            entries: Arc::new(Cache::with(
                usize::try_from(capacity).unwrap_or(usize::MAX),
                capacity,
                UnitWeighter,
                foldhash::fast::RandomState::default(),
                DefaultLifecycle::default(),
            )),
            ttl,
            counters: Arc::new(Counters::default()),
        }
    }

    /// The cached lookup for `id`, if any; never touches the database.
    /// `Some(None)` means "known not to exist".
    pub fn get(&self, id: i64) -> Option<CachedUser> {
        let found = self
            .entries
            .get(&id)
            .filter(|e| e.expires > Instant::now())
            .map(|e| e.user);
        let counter = if found.is_some() {
            &self.counters.hits
        } else {
            &self.counters.misses
        };
        counter.fetch_add(1, Ordering::Relaxed);
        found
    }

    pub fn insert(&self, id: i64, user: CachedUser) {
        self.put(id, user);
    }

    fn put(&self, id: i64, user: CachedUser) {
        let expires = Instant::now() + self.ttl;
        self.entries.insert(id, Entry { user, expires });
    }

    /// Forgets one user; call after every change to that user.
    pub fn invalidate(&self, id: i64) {
        self.counters.generation.fetch_add(1, Ordering::SeqCst);
        self.entries.remove(&id);
    }

    pub fn invalidate_all(&self) {
        self.counters.generation.fetch_add(1, Ordering::SeqCst);
        self.entries.clear();
    }

    /// Reads through to the store on a miss.
    pub async fn load(&self, store: &Store, id: i64) -> Result<Option<Arc<UserState>>> {
        self.load_with(id, || async move {
            Ok(store.user_state(id).await?.map(Arc::new))
        })
        .await
    }

    /// Reads through to `fetch` on a miss (e.g. a shared Redis tier, then
    /// the store), caching its answer unless an invalidation ran meanwhile.
    pub async fn load_with<F, Fut>(&self, id: i64, fetch: F) -> Result<CachedUser>
    where
        F: FnOnce() -> Fut,
        Fut: std::future::Future<Output = Result<CachedUser>>,
    {
        if let Some(cached) = self.get(id) {
            return Ok(cached);
        }
        let generation = self.counters.generation.load(Ordering::SeqCst);
        let loaded = fetch().await?;
        // Security: if any invalidation ran while we were reading, our row
        // may predate it (e.g. read just before a block committed). Caching
        // it would resurrect the old state for a whole TTL, so it must not
        // stay cached. Checking after the insert (and removing it again)
        // also covers an invalidation that lands between check and insert.
        // The answer is still returned, as a read racing the change would
        // have been without a cache.
        self.put(id, loaded.clone());
        if self.counters.generation.load(Ordering::SeqCst) != generation {
            self.entries.remove(&id);
        }
        Ok(loaded)
    }

    pub fn hits(&self) -> u64 {
        self.counters.hits.load(Ordering::Relaxed)
    }

    pub fn misses(&self) -> u64 {
        self.counters.misses.load(Ordering::Relaxed)
    }

    /// Number of entries (expired ones included until they are evicted
    /// or replaced).
    pub fn entry_count(&self) -> u64 {
        u64::try_from(self.entries.len()).unwrap_or(u64::MAX)
    }
}
