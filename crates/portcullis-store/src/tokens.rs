//! The `api_tokens` table: Strapi-style API tokens, stored only as their
//! HMAC (`access_key`), never in clear.
//!
//! A token is `crypto.randomBytes(128)` as 256 lowercase hex characters and
//! its access key is `HMAC-SHA512(salt, token)` in hex, exactly as Strapi
//! computes them, so keys made by either verify in both. `permissions` is a
//! JSON array of action uids kept as text; the caller (de)serialises it.

use hmac::{Hmac, Mac};
use rand::RngCore;
use sha2::Sha512;
use sqlx::Row;
use sqlx::any::AnyRow;

use crate::{Result, Store, map_conflict};

const COLUMNS: &str = "id, name, description, type, access_key, permissions, lifespan_ms, \
    expires_at, last_used_at, created_at, updated_at, revoked_at";

const UNIQUE_FIELDS: &[&str] = &["name", "access_key"];

/// `last_used_at` is refreshed at most this often (as Strapi does), so a
/// busy token does not turn every request into a write.
pub const LAST_USED_RESOLUTION_MS: i64 = 3_600_000;

/// The three token types of Strapi's content API.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenType {
    ReadOnly,
    FullAccess,
    Custom,
}

impl TokenType {
    pub fn as_str(self) -> &'static str {
        match self {
            TokenType::ReadOnly => "read-only",
            TokenType::FullAccess => "full-access",
            TokenType::Custom => "custom",
        }
    }

    pub fn parse(s: &str) -> Option<TokenType> {
        match s {
            "read-only" => Some(TokenType::ReadOnly),
            "full-access" => Some(TokenType::FullAccess),
            "custom" => Some(TokenType::Custom),
            _ => None,
        }
    }
}

/// Whether a token may be used at a given instant.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenStatus {
    Active,
    Expired,
    Revoked,
}

/// A row of `api_tokens`. `Debug` leaves out the access key.
#[derive(Clone, PartialEq, Eq)]
pub struct ApiToken {
    pub id: i64,
    pub name: String,
    pub description: String,
    /// `read-only`, `full-access` or `custom`; see [`ApiToken::kind`].
    pub token_type: String,
    pub access_key: String,
    /// JSON array of action uids (text).
    pub permissions: String,
    pub lifespan_ms: Option<i64>,
    pub expires_at: Option<i64>,
    pub last_used_at: Option<i64>,
    pub created_at: i64,
    pub updated_at: i64,
    pub revoked_at: Option<i64>,
}

impl std::fmt::Debug for ApiToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ApiToken")
            .field("id", &self.id)
            .field("name", &self.name)
            .field("token_type", &self.token_type)
            .field("expires_at", &self.expires_at)
            .field("revoked_at", &self.revoked_at)
            .finish_non_exhaustive()
    }
}

impl ApiToken {
    /// The parsed type; `None` for a value this version does not know,
    /// which callers must treat as no access.
    pub fn kind(&self) -> Option<TokenType> {
        TokenType::parse(&self.token_type)
    }

    /// Revoked wins over expired; a token expires at `expires_at` exactly.
    pub fn status(&self, now: i64) -> TokenStatus {
        if self.revoked_at.is_some() {
            TokenStatus::Revoked
        } else if self.expires_at.is_some_and(|at| at <= now) {
            TokenStatus::Expired
        } else {
            TokenStatus::Active
        }
    }

    fn from_row(row: &AnyRow) -> Result<ApiToken> {
        Ok(ApiToken {
            id: row.try_get("id")?,
            name: row.try_get("name")?,
            description: row.try_get("description")?,
            token_type: row.try_get("type")?,
            access_key: row.try_get("access_key")?,
            permissions: row.try_get("permissions")?,
            lifespan_ms: row.try_get("lifespan_ms")?,
            expires_at: row.try_get("expires_at")?,
            last_used_at: row.try_get("last_used_at")?,
            created_at: row.try_get("created_at")?,
            updated_at: row.try_get("updated_at")?,
            revoked_at: row.try_get("revoked_at")?,
        })
    }
}

/// Input of [`Store::create_api_token`].
#[derive(Debug, Clone)]
pub struct NewApiToken {
    pub name: String,
    pub description: String,
    pub token_type: TokenType,
    /// [`hash_access_key`] of the secret.
    pub access_key: String,
    /// JSON array of action uids, `[]` unless `custom`.
    pub permissions: String,
    /// `None` = never expires.
    pub lifespan_ms: Option<i64>,
}

/// A new secret: 128 random bytes as 256 lowercase hex characters.
pub fn generate_secret() -> String {
    let mut bytes = [0u8; 128];
    rand::rng().fill_bytes(&mut bytes);
    hex::encode(bytes)
}

/// `HMAC-SHA512(salt, secret)` as lowercase hex: the stored access key.
pub fn hash_access_key(salt: &str, secret: &str) -> String {
    // HMAC accepts keys of any length, so this cannot fail; the fallback
    // keeps the function total without an unwrap.
    match Hmac::<Sha512>::new_from_slice(salt.as_bytes()) {
        Ok(mut mac) => {
            mac.update(secret.as_bytes());
            hex::encode(mac.finalize().into_bytes())
        }
        Err(_) => String::new(),
    }
}

impl Store {
    /// Inserts a token; `expires_at = now + lifespan_ms`. A taken name is
    /// [`crate::Error::Conflict`] with field `name`.
    pub async fn create_api_token(&self, new: NewApiToken, now: i64) -> Result<ApiToken> {
        let expires_at = new.lifespan_ms.map(|l| now.saturating_add(l));
        let sql = format!(
            "INSERT INTO api_tokens (name, description, type, access_key, permissions, \
             lifespan_ms, expires_at, created_at, updated_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $8) RETURNING {COLUMNS}"
        );
        let row = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(new.name)
            .bind(new.description)
            .bind(new.token_type.as_str())
            .bind(new.access_key)
            .bind(new.permissions)
            .bind(new.lifespan_ms)
            .bind(expires_at)
            .bind(now)
            .fetch_one(&self.pool)
            .await
            .map_err(|e| map_conflict(e, UNIQUE_FIELDS))?;
        ApiToken::from_row(&row)
    }

    async fn api_token_where(&self, condition: &str, value: String) -> Result<Option<ApiToken>> {
        let sql = format!("SELECT {COLUMNS} FROM api_tokens WHERE {condition}");
        let row = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(value)
            .fetch_optional(&self.pool)
            .await?;
        row.as_ref().map(ApiToken::from_row).transpose()
    }

    /// The token with this access key, revoked and expired ones included;
    /// check [`ApiToken::status`] before trusting it.
    pub async fn api_token_by_access_key(&self, access_key: &str) -> Result<Option<ApiToken>> {
        self.api_token_where("access_key = $1", access_key.to_owned())
            .await
    }

    pub async fn api_token_by_name(&self, name: &str) -> Result<Option<ApiToken>> {
        self.api_token_where("name = $1", name.to_owned()).await
    }

    pub async fn api_token_by_id(&self, id: i64) -> Result<Option<ApiToken>> {
        let sql = format!("SELECT {COLUMNS} FROM api_tokens WHERE id = $1");
        let row = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(id)
            .fetch_optional(&self.pool)
            .await?;
        row.as_ref().map(ApiToken::from_row).transpose()
    }

    /// All tokens, revoked ones included, ordered by id.
    pub async fn list_api_tokens(&self) -> Result<Vec<ApiToken>> {
        let sql = format!("SELECT {COLUMNS} FROM api_tokens ORDER BY id");
        let rows = sqlx::query(sqlx::AssertSqlSafe(sql))
            .fetch_all(&self.pool)
            .await?;
        rows.iter().map(ApiToken::from_row).collect()
    }

    /// Marks a token revoked; `false` if unknown or already revoked.
    pub async fn revoke_api_token(&self, id: i64, now: i64) -> Result<bool> {
        let done = sqlx::query(
            "UPDATE api_tokens SET revoked_at = $2, updated_at = $2 \
             WHERE id = $1 AND revoked_at IS NULL",
        )
        .bind(id)
        .bind(now)
        .execute(&self.pool)
        .await?;
        Ok(done.rows_affected() > 0)
    }

    /// Records a use, at most once per [`LAST_USED_RESOLUTION_MS`]; `true`
    /// if the row was written.
    pub async fn touch_api_token(&self, id: i64, now: i64) -> Result<bool> {
        let done = sqlx::query(
            "UPDATE api_tokens SET last_used_at = $2 \
             WHERE id = $1 AND (last_used_at IS NULL OR last_used_at <= $3)",
        )
        .bind(id)
        .bind(now)
        .bind(now.saturating_sub(LAST_USED_RESOLUTION_MS))
        .execute(&self.pool)
        .await?;
        Ok(done.rows_affected() > 0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secret_is_256_lowercase_hex() {
        let s = generate_secret();
        assert_eq!(s.len(), 256);
        assert!(
            s.bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
        );
        assert_ne!(s, generate_secret());
    }

    #[test]
    fn access_key_is_hmac_sha512_hex() {
        // RFC 4231 test case 2.
        let key = hash_access_key("Jefe", "what do ya want for nothing?");
        assert_eq!(
            key,
            "164b7a7bfcf819e2e395fbe73b56e0a387bd64222e831fd610270cd7ea250554\
             9758bf75c05a994a6d034f65f8f0e6fdcaeab1a34d4a6b4b636e070a38bce737"
        );
    }

    #[test]
    fn type_roundtrip_and_status() {
        for t in [
            TokenType::ReadOnly,
            TokenType::FullAccess,
            TokenType::Custom,
        ] {
            assert_eq!(TokenType::parse(t.as_str()), Some(t));
        }
        assert_eq!(TokenType::parse("admin"), None);
    }
}
