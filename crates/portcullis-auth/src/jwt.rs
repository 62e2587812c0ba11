//! Users & Permissions JWTs (legacy mode): HS256 pinned, `exp` required, no
//! clock leeway, `iss`/`aud` not checked — as Strapi 5.50+ verifies them.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use thiserror::Error;

#[derive(Debug, Error, PartialEq, Eq)]
pub enum JwtError {
    /// Bad signature, wrong algorithm, malformed, expired, no `exp`.
    #[error("invalid token")]
    Invalid,
    /// Valid signature but no usable `id` claim.
    #[error("token has no user id")]
    NoUserId,
    #[error("could not sign token: {0}")]
    Sign(String),
}

pub type Result<T, E = JwtError> = std::result::Result<T, E>;

/// The claims the gateway uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Claims {
    pub id: i64,
    /// Seconds since the epoch; absent in tokens of other issuers.
    pub iat: Option<i64>,
    pub exp: i64,
}

#[derive(Deserialize)]
struct RawClaims {
    id: Option<Value>,
    iat: Option<i64>,
    exp: i64,
}

#[derive(Serialize)]
struct IssuedClaims {
    id: i64,
    iat: i64,
    exp: i64,
}

/// Keys and rules for one secret.
#[derive(Clone)]
pub struct JwtKeys {
    encoding: EncodingKey,
    decoding: DecodingKey,
    validation: Validation,
    expires_in: Duration,
}

impl std::fmt::Debug for JwtKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never print the secret.
        f.debug_struct("JwtKeys")
            .field("expires_in", &self.expires_in)
            .finish()
    }
}

/// Strapi issues numeric ids; a numeric string is read the same way.
fn user_id(v: &Value) -> Option<i64> {
    match v {
        Value::Number(n) => n.as_i64(),
        Value::String(s) if !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()) => {
            s.parse().ok()
        }
        _ => None,
    }
}

fn now_secs() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}

impl JwtKeys {
    pub fn new(secret: &[u8], expires_in: Duration) -> JwtKeys {
        let mut validation = Validation::new(Algorithm::HS256);
        // Pinned to HS256: `alg: none`, HS384/512 and RS*/ES* confusion are
        // all refused by the algorithm list, not by inspecting the header.
        validation.algorithms = vec![Algorithm::HS256];
        validation.leeway = 0;
        validation.validate_exp = true;
        validation.validate_nbf = true;
        validation.validate_aud = false;
        validation.set_required_spec_claims(&["exp"]);
        JwtKeys {
            encoding: EncodingKey::from_secret(secret),
            decoding: DecodingKey::from_secret(secret),
            validation,
            expires_in,
        }
    }

    /// Verifies a token and returns its claims.
    pub fn verify(&self, token: &str) -> Result<Claims> {
        let data = jsonwebtoken::decode::<RawClaims>(token, &self.decoding, &self.validation)
            .map_err(|_| JwtError::Invalid)?;
        let c = data.claims;
        let id = c.id.as_ref().and_then(user_id).ok_or(JwtError::NoUserId)?;
        Ok(Claims {
            id,
            iat: c.iat,
            exp: c.exp,
        })
    }

    /// Issues `{id, iat, exp}` as Strapi does (`exp - iat` = `expires_in`).
    pub fn issue(&self, id: i64) -> Result<String> {
        self.issue_at(id, now_secs())
    }

    pub fn issue_at(&self, id: i64, iat: i64) -> Result<String> {
        let ttl = i64::try_from(self.expires_in.as_secs()).unwrap_or(i64::MAX);
        let claims = IssuedClaims {
            id,
            iat,
            exp: iat.saturating_add(ttl),
        };
        jsonwebtoken::encode(&Header::new(Algorithm::HS256), &claims, &self.encoding)
            .map_err(|e| JwtError::Sign(e.to_string()))
    }
}

#[cfg(test)]
#[path = "jwt_tests.rs"]
mod tests;
