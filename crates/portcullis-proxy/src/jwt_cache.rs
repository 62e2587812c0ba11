//! Verified JWTs, remembered for a short while.
//!
//! HMAC-SHA256 over the token, base64 and JSON parsing were a tenth of the
//! gateway's instructions per JWT request (callgrind). A token that verified
//! is kept, keyed by its exact text, so a client reusing it skips all of
//! that: nobody can produce the same text without the signature. `exp` is
//! still checked on every use; revocation is not affected (it is decided on
//! the user's state, looked up per request).

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use portcullis_auth::{Claims, JwtKeys};
use portcullis_store::ExpiringCache;

/// How long a verified token is remembered at most.
const TTL: Duration = Duration::from_secs(60);
/// Bounds memory: about 250 bytes an entry.
const CAPACITY: u64 = 20_000;

/// JWT verification with a cache of verified tokens.
#[derive(Clone)]
pub struct JwtVerifier {
    keys: JwtKeys,
    /// Keyed by the token's text; only verified tokens are inserted, so the
    /// keys are not the caller's to choose freely.
    verified: ExpiringCache<String, Claims>,
}

fn now_secs() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
}

impl JwtVerifier {
    pub fn new(keys: JwtKeys) -> JwtVerifier {
        JwtVerifier {
            keys,
            verified: ExpiringCache::new(CAPACITY, TTL),
        }
    }

    pub fn keys(&self) -> &JwtKeys {
        &self.keys
    }

    /// The token's claims if it is valid now.
    pub fn verify(&self, token: &str) -> Option<Claims> {
        if let Some(c) = self.verified.get(token) {
            // Same rule as a full verification: expired at `exp`, no leeway.
            return (c.exp > now_secs()).then_some(c);
        }
        let claims = self.keys.verify(token).ok()?;
        self.verified.insert(token.to_owned(), claims);
        Some(claims)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn remembers_valid_tokens_and_still_checks_expiry() {
        let keys = JwtKeys::new(b"secret", Duration::from_secs(3600));
        let v = JwtVerifier::new(keys.clone());
        let t = keys.issue(5).unwrap();
        assert_eq!(v.verify(&t).map(|c| c.id), Some(5));
        assert_eq!(v.verify(&t).map(|c| c.id), Some(5));
        let expired = keys.issue_at(6, now_secs() - 7200).unwrap();
        assert!(v.verify(&expired).is_none());
        let mut forged = t.clone();
        forged.pop();
        assert!(v.verify(&forged).is_none());
        // An entry whose exp passed while cached is refused.
        let short = JwtKeys::new(b"secret", Duration::from_secs(1));
        let soon = short.issue_at(7, now_secs()).unwrap();
        let v2 = JwtVerifier::new(short);
        assert!(v2.verify(&soon).is_some());
        std::thread::sleep(Duration::from_millis(2100));
        assert!(v2.verify(&soon).is_none());
    }
}
