//! API tokens on the request path (Strapi 5 §7): HMAC-SHA512 of the secret
//! with `api_tokens.salt`, looked up in the store through an in-process
//! cache; `lastUsedAt` recorded off the request path.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use moka::sync::Cache;
use portcullis_store::tokens::hash_access_key;
use portcullis_store::{Store, TokenStatus, TokenType, now_ms};
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

/// Read-through token lookup keyed by access key (never by the secret).
#[derive(Clone)]
pub struct TokenDirectory {
    salt: Option<Arc<str>>,
    cache: Cache<String, Option<Arc<TokenState>>>,
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
            cache: Cache::builder()
                .max_capacity(100_000)
                .time_to_live(ttl)
                .build(),
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
        let key = hash_access_key(salt, secret);
        if let Some(hit) = self.cache.get(&key) {
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
        self.cache.invalidate(access_key);
    }

    pub fn invalidate_all(&self) {
        self.cache.invalidate_all();
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
    use super::looks_like_api_token;

    #[test]
    fn only_256_lowercase_hex_is_an_api_token() {
        assert!(looks_like_api_token(&"a1".repeat(128)));
        assert!(!looks_like_api_token(&"A1".repeat(128)));
        assert!(!looks_like_api_token(&"a1".repeat(127)));
        assert!(!looks_like_api_token("eyJhbGciOiJIUzI1NiJ9.e30.x"));
    }
}
