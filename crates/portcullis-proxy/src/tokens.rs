//! API tokens on the request path (Strapi 5 §7): HMAC-SHA512 of the secret
//! with `api_tokens.salt`, looked up in the store through an in-process
//! cache; `lastUsedAt` recorded off the request path.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use portcullis_store::tokens::hash_access_key;
use portcullis_store::{ExpiringCache, Store, TokenStatus, TokenType, now_ms};
use sha2::{Digest, Sha256};
use tokio::runtime::Handle;

use crate::users::LookupError;

/// What the decision needs to know about a token.
#[derive(Debug, Clone)]
pub struct TokenState {
    pub id: i64,
    pub kind: TokenType,
    pub permissions: Arc<HashSet<String>>,
    pub expires_at: Option<i64>,
}

/// Strapi's secrets are exactly 256 lowercase hex characters; nothing else
/// is looked up (so a JWT or garbage never costs a database query).
pub fn looks_like_api_token(s: &str) -> bool {
    s.len() == 256
        && s.bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

/// Bounds the memo of access keys (about 400 bytes an entry).
const ACCESS_KEY_MEMO: u64 = 10_000;

/// Secret's SHA-256 → access key; never expires (a pure function).
type AccessKeyMemo = ExpiringCache<[u8; 32], Arc<str>>;

fn access_key_memo(capacity: u64) -> AccessKeyMemo {
    ExpiringCache::new(capacity, Duration::MAX)
}

/// Strapi's access key of `secret` (HMAC-SHA512 with the salt, hex),
/// remembered by the secret's SHA-256. The HMAC over a 256-character secret
/// was most of an API-token request's lookup cost, paid on every request
/// because the token cache is keyed by its result; SHA-256 is a fraction of
/// it (SHA-NI). The memo is a pure function of the secret (the salt never
/// changes at run time), so it needs no invalidation, and it holds neither
/// the secret nor anything that leads back to it.
fn access_key(memo: &AccessKeyMemo, salt: &str, secret: &str) -> Arc<str> {
    let digest: [u8; 32] = Sha256::digest(secret.as_bytes()).into();
    if let Some(key) = memo.get(&digest) {
        return key;
    }
    let key: Arc<str> = Arc::from(hash_access_key(salt, secret));
    memo.insert(digest, key.clone());
    key
}

/// Read-through token lookup keyed by access key (never by the secret).
#[derive(Clone)]
pub struct TokenDirectory {
    salt: Option<Arc<str>>,
    access_keys: AccessKeyMemo,
    /// Access key → token (`None`: known not to exist).
    cache: ExpiringCache<Arc<str>, Option<Arc<TokenState>>>,
    store: Store,
    background: Handle,
    used: Arc<Mutex<HashMap<i64, i64>>>,
}

impl TokenDirectory {
    pub fn new(
        salt: Option<String>,
        ttl: Duration,
        store: Store,
        background: Handle,
    ) -> TokenDirectory {
        TokenDirectory {
            salt: salt.map(Arc::from),
            access_keys: access_key_memo(ACCESS_KEY_MEMO),
            cache: ExpiringCache::new(100_000, ttl),
            store,
            background,
            used: Arc::default(),
        }
    }

    /// The active or expired token for `secret`; `None` if unknown or revoked
    /// (then the credential is tried as a JWT, as Strapi does).
    pub async fn lookup(&self, secret: &str) -> Result<Option<Arc<TokenState>>, LookupError> {
        let Some(salt) = &self.salt else {
            return Ok(None);
        };
        let key = access_key(&self.access_keys, salt, secret);
        if let Some(hit) = self.cache.get(key.as_ref()) {
            return Ok(hit);
        }
        let store = self.store.clone();
        let lookup_key = key.clone();
        let row = self
            .background
            .spawn(async move { store.api_token_by_access_key(&lookup_key).await })
            .await
            .map_err(|e| LookupError::new(e.to_string()))?
            .map_err(|e| LookupError::new(e.to_string()))?;
        let state = row.and_then(|t| {
            if t.status(now_ms()) == TokenStatus::Revoked {
                return None;
            }
            let permissions: Vec<String> = serde_json::from_str(&t.permissions).unwrap_or_default();
            Some(Arc::new(TokenState {
                id: t.id,
                kind: t.kind()?,
                permissions: Arc::new(permissions.into_iter().collect()),
                expires_at: t.expires_at,
            }))
        });
        self.cache.insert(key, state.clone());
        Ok(state)
    }

    /// Drops a cached token (revoked or changed elsewhere).
    pub fn invalidate(&self, access_key: &str) {
        self.cache.remove(access_key);
    }

    pub fn invalidate_all(&self) {
        self.cache.clear();
    }

    /// Notes a use; written to the store by [`Self::flush_last_used`].
    pub fn mark_used(&self, id: i64) {
        if let Ok(mut used) = self.used.lock() {
            used.insert(id, now_ms());
        }
    }

    /// Writes the uses noted since the last flush (the store keeps at most
    /// one write per token per hour, as Strapi).
    pub async fn flush_last_used(&self) {
        let batch: Vec<(i64, i64)> = match self.used.lock() {
            Ok(mut used) => used.drain().collect(),
            Err(_) => return,
        };
        for (id, at) in batch {
            if let Err(e) = self.store.touch_api_token(id, at).await {
                tracing::warn!(error = %e, token_id = id, "could not record lastUsedAt");
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn memoized_access_keys_are_strapis() {
        let memo = access_key_memo(10);
        let a = "a1".repeat(128);
        let b = "b2".repeat(128);
        for _ in 0..2 {
            assert_eq!(
                access_key(&memo, "salt", &a).as_ref(),
                hash_access_key("salt", &a)
            );
            assert_eq!(
                access_key(&memo, "salt", &b).as_ref(),
                hash_access_key("salt", &b)
            );
        }
        assert_ne!(access_key(&memo, "salt", &a), access_key(&memo, "salt", &b));
    }

    #[test]
    fn only_256_lowercase_hex_is_an_api_token() {
        assert!(looks_like_api_token(&"a1".repeat(128)));
        assert!(!looks_like_api_token(&"A1".repeat(128)));
        assert!(!looks_like_api_token(&"a1".repeat(127)));
        assert!(!looks_like_api_token("eyJhbGciOiJIUzI1NiJ9.e30.x"));
    }
}
