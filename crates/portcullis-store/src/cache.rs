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

use quick_cache::sync::{Cache, DefaultLifecycle};
use quick_cache::{Equivalent, UnitWeighter};

use crate::{Result, Store, UserState};

/// Each value with its expiry (`None`: never).
type Entries<K, V> = Cache<K, (V, Option<Instant>), UnitWeighter, foldhash::fast::RandomState>;

/// A bounded in-process cache whose entries expire `ttl` after insertion,
/// shared by the request path's caches (users, API tokens, verified JWTs,
/// the access-key memo). quick_cache, where a hit is a hash probe and one
/// atomic bit (moka, used before, recorded every read in a channel), hashed
/// with foldhash (several times cheaper than SipHash over a 150-byte JWT);
/// the expiry is kept in the entry. Cheap to clone.
pub struct ExpiringCache<K, V> {
    entries: Arc<Entries<K, V>>,
    ttl: Duration,
}

impl<K, V> Clone for ExpiringCache<K, V> {
    fn clone(&self) -> Self {
        ExpiringCache {
            entries: self.entries.clone(),
            ttl: self.ttl,
        }
    }
}

impl<K: Eq + std::hash::Hash, V: Clone> ExpiringCache<K, V> {
    /// At most `capacity` entries; `Duration::MAX` never expires them.
    pub fn new(capacity: u64, ttl: Duration) -> Self {
        let capacity = capacity.max(1);
        ExpiringCache {
            entries: Arc::new(Cache::with(
                usize::try_from(capacity).unwrap_or(usize::MAX),
                capacity,
                UnitWeighter,
                foldhash::fast::RandomState::default(),
                DefaultLifecycle::default(),
            )),
            ttl,
        }
    }

    /// The entry for `key` unless it expired.
    pub fn get<Q: std::hash::Hash + Equivalent<K> + ?Sized>(&self, key: &Q) -> Option<V> {
        let (value, expires) = self.entries.get(key)?;
        expires
            .is_none_or(|at| at > Instant::now())
            .then_some(value)
    }

    pub fn insert(&self, key: K, value: V) {
        let expires = Instant::now().checked_add(self.ttl);
        self.entries.insert(key, (value, expires));
    }

    pub fn remove<Q: std::hash::Hash + Equivalent<K> + ?Sized>(&self, key: &Q) {
        self.entries.remove(key);
    }

    pub fn clear(&self) {
        self.entries.clear();
    }

    /// Entries held, expired ones included until evicted or replaced.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }
}

/// A cached lookup: `Some` for an existing user, `None` for a known absence.
pub type CachedUser = Option<Arc<UserState>>;

/// Default bound on the number of cached users.
pub const DEFAULT_CAPACITY: u64 = 200_000;

/// TTL cache of user states with hit/miss counters. Cheap to clone.
#[derive(Clone)]
pub struct UserCache {
    entries: ExpiringCache<i64, CachedUser>,
    counters: Arc<Counters>,
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
        UserCache {
            entries: ExpiringCache::new(max_capacity, ttl),
            counters: Arc::new(Counters::default()),
        }
    }

    /// The cached lookup for `id`, if any; never touches the database.
    /// `Some(None)` means "known not to exist".
    pub fn get(&self, id: i64) -> Option<CachedUser> {
        let found = self.entries.get(&id);
        let counter = if found.is_some() {
            &self.counters.hits
        } else {
            &self.counters.misses
        };
        counter.fetch_add(1, Ordering::Relaxed);
        found
    }

    pub fn insert(&self, id: i64, user: CachedUser) {
        self.entries.insert(id, user);
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
        self.entries.insert(id, loaded.clone());
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entries_expire_after_the_ttl_or_never() {
        let forever = ExpiringCache::<String, u8>::new(10, Duration::MAX);
        forever.insert("a".into(), 1);
        assert_eq!(forever.get("a"), Some(1));
        let brief = ExpiringCache::<i64, u8>::new(10, Duration::from_millis(50));
        brief.insert(1, 2);
        assert_eq!(brief.get(&1), Some(2));
        std::thread::sleep(Duration::from_millis(80));
        assert_eq!(brief.get(&1), None);
        brief.insert(1, 3);
        brief.remove(&1);
        assert_eq!(brief.get(&1), None);
    }
}
