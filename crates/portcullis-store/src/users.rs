//! The `up_users` table: users of the Users & Permissions plugin, and
//! [`UserState`], the small projection read on every authenticated request.
//!
//! Booleans are stored as `0`/`1` and timestamps as epoch milliseconds (see
//! the crate docs). Functions that change a user take `now` from the caller
//! so that tests and the request path agree on one clock.

use std::collections::HashMap;
use std::sync::Arc;

use rand::Rng;
use sqlx::Row;
use sqlx::any::AnyRow;

use crate::{Binds, Result, Store, iso, map_conflict, now_ms};

mod search;

pub use search::{SqlValue, UserQuery};

const COLUMNS: &str = "id, document_id, username, email, provider, password, \
    reset_password_token, reset_password_sent_at, confirmation_token, confirmed, blocked, \
    role, tokens_valid_after, created_at, updated_at, published_at";

const UNIQUE_FIELDS: &[&str] = &["username", "email", "document_id"];

/// A row of `up_users`. `Debug` leaves out the password hash and the tokens.
#[derive(Clone, PartialEq, Eq)]
pub struct User {
    pub id: i64,
    /// Strapi's `documentId`: 24 lowercase alphanumerics.
    pub document_id: String,
    pub username: String,
    pub email: String,
    pub provider: String,
    /// PHC string (argon2id) or a bcrypt hash imported from Strapi.
    pub password: Option<String>,
    pub reset_password_token: Option<String>,
    pub reset_password_sent_at: Option<i64>,
    pub confirmation_token: Option<String>,
    pub confirmed: bool,
    pub blocked: bool,
    /// Role type, e.g. `authenticated`.
    pub role: String,
    /// Epoch ms, whole seconds: a JWT whose `iat * 1000` is below this is revoked.
    pub tokens_valid_after: Option<i64>,
    pub created_at: i64,
    pub updated_at: i64,
    pub published_at: Option<i64>,
}

impl std::fmt::Debug for User {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("User")
            .field("id", &self.id)
            .field("document_id", &self.document_id)
            .field("username", &self.username)
            .field("provider", &self.provider)
            .field("confirmed", &self.confirmed)
            .field("blocked", &self.blocked)
            .field("role", &self.role)
            .finish_non_exhaustive()
    }
}

impl User {
    /// Renders epoch ms as Strapi does: `2026-03-04T10:30:00.000Z`.
    pub fn iso(ms: i64) -> String {
        iso(ms)
    }

    /// The request-path projection of this user.
    pub fn state(&self) -> UserState {
        UserState {
            id: self.id,
            role: Arc::from(self.role.as_str()),
            blocked: self.blocked,
            confirmed: self.confirmed,
            tokens_valid_after: self.tokens_valid_after,
        }
    }

    fn from_row(row: &AnyRow) -> Result<User> {
        Ok(User {
            id: row.try_get("id")?,
            document_id: row.try_get("document_id")?,
            username: row.try_get("username")?,
            email: row.try_get("email")?,
            provider: row.try_get("provider")?,
            password: row.try_get("password")?,
            reset_password_token: row.try_get("reset_password_token")?,
            reset_password_sent_at: row.try_get("reset_password_sent_at")?,
            confirmation_token: row.try_get("confirmation_token")?,
            confirmed: row.try_get::<i64, _>("confirmed")? != 0,
            blocked: row.try_get::<i64, _>("blocked")? != 0,
            role: row.try_get("role")?,
            tokens_valid_after: row.try_get("tokens_valid_after")?,
            created_at: row.try_get("created_at")?,
            updated_at: row.try_get("updated_at")?,
            published_at: row.try_get("published_at")?,
        })
    }
}

/// What the request path needs to accept or refuse a user's JWT.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserState {
    pub id: i64,
    pub role: Arc<str>,
    pub blocked: bool,
    pub confirmed: bool,
    pub tokens_valid_after: Option<i64>,
}

/// Input of [`Store::create_user`].
#[derive(Clone)]
pub struct NewUser {
    pub username: String,
    /// Stored as given; callers lower-case it where Strapi does (register).
    pub email: String,
    pub password_hash: Option<String>,
    /// `local`, or the OAuth provider name.
    pub provider: String,
    pub role: String,
    pub confirmed: bool,
    pub blocked: bool,
}

/// A fresh Strapi-style `documentId`: 24 characters of `[a-z0-9]`, starting
/// with a letter (as cuid2 ids do).
pub fn new_document_id() -> String {
    const LETTERS: &[u8] = b"abcdefghijklmnopqrstuvwxyz";
    const ALNUM: &[u8] = b"abcdefghijklmnopqrstuvwxyz0123456789";
    let mut rng = rand::rng();
    let mut id = String::with_capacity(24);
    id.push(char::from(LETTERS[rng.random_range(0..LETTERS.len())]));
    for _ in 1..24 {
        id.push(char::from(ALNUM[rng.random_range(0..ALNUM.len())]));
    }
    id
}

/// Revocation instants are kept to whole seconds because JWT `iat` is in
/// seconds: a token minted in the same second as a password change (the one
/// change-password returns) must stay valid. Tokens minted before that
/// second are revoked.
fn revocation_instant(now: i64) -> i64 {
    // The start of the next whole second: JWT `iat`s have whole seconds, so
    // every token issued up to now (this second included) is refused, and
    // the token handed out with the change is issued with `iat` = this
    // instant (at most a second ahead).
    (now.div_euclid(1000) + 1) * 1000
}

fn flag(b: bool) -> i64 {
    i64::from(b)
}

impl Store {
    /// Inserts a user. A taken username or (case-insensitively) email is
    /// [`crate::Error::Conflict`].
    pub async fn create_user(&self, new: NewUser) -> Result<User> {
        let now = now_ms();
        let sql = format!(
            "INSERT INTO up_users (document_id, username, email, provider, password, confirmed, \
             blocked, role, created_at, updated_at, published_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $9, $9) RETURNING {COLUMNS}"
        );
        let row = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(new_document_id())
            .bind(new.username)
            .bind(new.email)
            .bind(new.provider)
            .bind(new.password_hash)
            .bind(flag(new.confirmed))
            .bind(flag(new.blocked))
            .bind(new.role)
            .bind(now)
            .fetch_one(&self.pool)
            .await
            .map_err(|e| map_conflict(e, UNIQUE_FIELDS))?;
        User::from_row(&row)
    }

    async fn user_where(&self, condition: &str, value: impl Binds) -> Result<Option<User>> {
        let sql = format!("SELECT {COLUMNS} FROM up_users WHERE {condition}");
        let query = sqlx::query(sqlx::AssertSqlSafe(sql));
        let row = value.bind_to(query).fetch_optional(&self.pool).await?;
        row.as_ref().map(User::from_row).transpose()
    }

    pub async fn user_by_id(&self, id: i64) -> Result<Option<User>> {
        self.user_where("id = $1", id).await
    }

    /// Login lookup, as Strapi's `callback`: a local user whose email equals
    /// the identifier case-insensitively, or whose username equals it exactly.
    /// If one user's email and another's username both match, the lowest id
    /// wins, so the answer is deterministic.
    pub async fn user_by_identifier(&self, ident: &str) -> Result<Option<User>> {
        self.user_where(
            "provider = 'local' AND (lower(email) = lower($1) OR username = $1) \
             ORDER BY id LIMIT 1",
            ident.to_owned(),
        )
        .await
    }

    /// Any-provider lookup by email, case-insensitively.
    pub async fn user_by_email_lower(&self, email: &str) -> Result<Option<User>> {
        self.user_where(
            "lower(email) = lower($1) ORDER BY id LIMIT 1",
            email.to_owned(),
        )
        .await
    }

    pub async fn user_by_username(&self, username: &str) -> Result<Option<User>> {
        self.user_where("username = $1", username.to_owned()).await
    }

    pub async fn user_by_document_id(&self, document_id: &str) -> Result<Option<User>> {
        self.user_where("document_id = $1", document_id.to_owned())
            .await
    }

    pub async fn user_by_reset_token(&self, token: &str) -> Result<Option<User>> {
        self.user_where("reset_password_token = $1", token.to_owned())
            .await
    }

    pub async fn user_by_confirmation_token(&self, token: &str) -> Result<Option<User>> {
        self.user_where("confirmation_token = $1", token.to_owned())
            .await
    }

    /// The request-path projection; `None` if the user does not exist.
    pub async fn user_state(&self, id: i64) -> Result<Option<UserState>> {
        let row = sqlx::query(
            "SELECT id, role, blocked, confirmed, tokens_valid_after FROM up_users WHERE id = $1",
        )
        .bind(id)
        .fetch_optional(&self.pool)
        .await?;
        let Some(row) = row else { return Ok(None) };
        Ok(Some(UserState {
            id: row.try_get("id")?,
            role: Arc::from(row.try_get::<String, _>("role")?),
            blocked: row.try_get::<i64, _>("blocked")? != 0,
            confirmed: row.try_get::<i64, _>("confirmed")? != 0,
            tokens_valid_after: row.try_get("tokens_valid_after")?,
        }))
    }

    /// Sets a new password hash, revokes every JWT issued before `now` and
    /// clears any pending reset token (a reset link must not outlive the
    /// password it was meant to replace). `false` if no such user.
    pub async fn update_password(&self, id: i64, hash: &str, now: i64) -> Result<bool> {
        self.update(
            "password = $2, tokens_valid_after = $3, reset_password_token = NULL, \
             reset_password_sent_at = NULL, updated_at = $4",
            id,
            (hash.to_owned(), revocation_instant(now), now),
        )
        .await
    }

    /// Replaces an outdated hash (bcrypt from Strapi, weaker argon2) after a
    /// successful login, only if the stored hash is still `old` (a
    /// concurrent password change wins). Revokes nothing and leaves
    /// `updated_at` alone: the password itself did not change.
    pub async fn replace_password_hash(&self, id: i64, old: &str, new: &str) -> Result<bool> {
        let done = sqlx::query("UPDATE up_users SET password = $2 WHERE id = $1 AND password = $3")
            .bind(id)
            .bind(new.to_owned())
            .bind(old.to_owned())
            .execute(&self.pool)
            .await?;
        Ok(done.rows_affected() > 0)
    }

    /// [`Store::update_password`] for a reset: applied only if `token` is
    /// still the user's reset token, in one statement, so a code is used at
    /// most once even under concurrent requests. `false` if it was not.
    pub async fn reset_password_with_token(
        &self,
        id: i64,
        token: &str,
        hash: &str,
        now: i64,
    ) -> Result<bool> {
        let done = sqlx::query(
            "UPDATE up_users SET password = $3, tokens_valid_after = $4, \
             reset_password_token = NULL, reset_password_sent_at = NULL, updated_at = $5 \
             WHERE id = $1 AND reset_password_token = $2",
        )
        .bind(id)
        .bind(token.to_owned())
        .bind(hash.to_owned())
        .bind(revocation_instant(now))
        .bind(now)
        .execute(&self.pool)
        .await?;
        Ok(done.rows_affected() > 0)
    }

    /// Blocks or unblocks. Blocking also revokes every JWT issued so far, so
    /// unblocking later does not bring old tokens back.
    pub async fn set_blocked(&self, id: i64, blocked: bool, now: i64) -> Result<bool> {
        if blocked {
            self.update(
                "blocked = 1, tokens_valid_after = $2, updated_at = $3",
                id,
                (revocation_instant(now), now),
            )
            .await
        } else {
            self.update("blocked = 0, updated_at = $2", id, (now,))
                .await
        }
    }

    pub async fn set_role(&self, id: i64, role: &str, now: i64) -> Result<bool> {
        self.update("role = $2, updated_at = $3", id, (role.to_owned(), now))
            .await
    }

    pub async fn set_confirmed(&self, id: i64, confirmed: bool, now: i64) -> Result<bool> {
        self.update(
            "confirmed = $2, updated_at = $3",
            id,
            (flag(confirmed), now),
        )
        .await
    }

    /// Stores (or with `None` clears) the reset token; `reset_password_sent_at`
    /// becomes `now` (or NULL) so callers can expire old tokens.
    pub async fn set_reset_token(&self, id: i64, token: Option<&str>, now: i64) -> Result<bool> {
        let sent_at = token.map(|_| now);
        self.update(
            "reset_password_token = $2, reset_password_sent_at = $3, updated_at = $4",
            id,
            (token.map(str::to_owned), sent_at, now),
        )
        .await
    }

    pub async fn set_confirmation_token(
        &self,
        id: i64,
        token: Option<&str>,
        now: i64,
    ) -> Result<bool> {
        self.update(
            "confirmation_token = $2, updated_at = $3",
            id,
            (token.map(str::to_owned), now),
        )
        .await
    }

    /// Changes username and/or email (`PUT /api/users/:id`); a value taken
    /// by another user is [`crate::Error::Conflict`].
    pub async fn update_profile(
        &self,
        id: i64,
        username: Option<&str>,
        email: Option<&str>,
        now: i64,
    ) -> Result<bool> {
        self.update(
            "username = COALESCE($2, username), email = COALESCE($3, email), updated_at = $4",
            id,
            (username.map(str::to_owned), email.map(str::to_owned), now),
        )
        .await
    }

    /// Deletes a user and returns the deleted row.
    pub async fn delete_user(&self, id: i64) -> Result<Option<User>> {
        let sql = format!("DELETE FROM up_users WHERE id = $1 RETURNING {COLUMNS}");
        let row = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(id)
            .fetch_optional(&self.pool)
            .await?;
        row.as_ref().map(User::from_row).transpose()
    }

    pub async fn count_users(&self) -> Result<i64> {
        let (n,): (i64,) = sqlx::query_as("SELECT COUNT(*) FROM up_users")
            .fetch_one(&self.pool)
            .await?;
        Ok(n)
    }

    /// Users ordered by id.
    pub async fn list_users(&self, limit: i64, offset: i64) -> Result<Vec<User>> {
        let sql = format!("SELECT {COLUMNS} FROM up_users ORDER BY id LIMIT $1 OFFSET $2");
        let rows = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(limit)
            .bind(offset)
            .fetch_all(&self.pool)
            .await?;
        rows.iter().map(User::from_row).collect()
    }

    /// Number of users per role type (roles with no users are absent).
    pub async fn count_users_by_role(&self) -> Result<HashMap<String, i64>> {
        let rows: Vec<(String, i64)> =
            sqlx::query_as("SELECT role, COUNT(*) FROM up_users GROUP BY role")
                .fetch_all(&self.pool)
                .await?;
        Ok(rows.into_iter().collect())
    }

    /// `UPDATE up_users SET <set> WHERE id = $1`, values bound from `$2` on.
    async fn update(&self, set: &str, id: i64, values: impl Binds) -> Result<bool> {
        let sql = format!("UPDATE up_users SET {set} WHERE id = $1");
        let query = sqlx::query(sqlx::AssertSqlSafe(sql)).bind(id);
        let done = values
            .bind_to(query)
            .execute(&self.pool)
            .await
            .map_err(|e| map_conflict(e, UNIQUE_FIELDS))?;
        Ok(done.rows_affected() > 0)
    }
}
