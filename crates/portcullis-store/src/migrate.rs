//! Schema migrations: an embedded, ordered list applied at connect time.
//!
//! Each migration is a list of single statements (the extended query
//! protocol PostgreSQL uses for parameterised queries runs one statement at
//! a time), applied inside one transaction together with its row in
//! `portcullis_migrations`, so a migration is either fully applied and
//! recorded or not at all. Connecting again skips recorded versions.
//!
//! The SQL is shared by both backends. The one construct that cannot be
//! written portably, an auto-incrementing primary key, is spelled `{ID_PK}`
//! in the templates and substituted per backend by [`render`]:
//! SQLite `INTEGER PRIMARY KEY AUTOINCREMENT` (never reuses the id of a
//! deleted row, so a JWT minted for a deleted user cannot name a new one),
//! PostgreSQL `BIGSERIAL PRIMARY KEY`. Everything else (`BIGINT`, `TEXT`,
//! expression indexes on `lower(email)`, `RETURNING`) is common SQL.

use crate::{Backend, Error, Result, Store, now_ms};

/// One schema change.
pub struct Migration {
    pub version: i64,
    pub name: &'static str,
    pub statements: &'static [&'static str],
}

/// All migrations, in the order they are applied. Append only: never edit a
/// migration that has shipped.
pub const MIGRATIONS: &[Migration] = &[
    Migration {
        version: 1,
        name: "up_users",
        statements: &[
            "CREATE TABLE up_users (
                id {ID_PK},
                document_id TEXT NOT NULL,
                username TEXT NOT NULL,
                email TEXT NOT NULL,
                provider TEXT NOT NULL DEFAULT 'local',
                password TEXT,
                reset_password_token TEXT,
                reset_password_sent_at BIGINT,
                confirmation_token TEXT,
                confirmed BIGINT NOT NULL DEFAULT 0,
                blocked BIGINT NOT NULL DEFAULT 0,
                role TEXT NOT NULL,
                tokens_valid_after BIGINT,
                created_at BIGINT NOT NULL,
                updated_at BIGINT NOT NULL,
                published_at BIGINT
            )",
            "CREATE UNIQUE INDEX up_users_document_id_uniq ON up_users (document_id)",
            "CREATE UNIQUE INDEX up_users_username_uniq ON up_users (username)",
            // Email is unique case-insensitively; the expression index also
            // serves `lower(email) = lower($1)` lookups on both backends.
            "CREATE UNIQUE INDEX up_users_email_lower_uniq ON up_users (lower(email))",
            "CREATE INDEX up_users_email_idx ON up_users (email)",
            "CREATE INDEX up_users_reset_password_token_idx ON up_users (reset_password_token)",
            "CREATE INDEX up_users_confirmation_token_idx ON up_users (confirmation_token)",
            "CREATE INDEX up_users_role_idx ON up_users (role)",
        ],
    },
    Migration {
        version: 2,
        name: "api_tokens",
        statements: &[
            "CREATE TABLE api_tokens (
                id {ID_PK},
                name TEXT NOT NULL,
                description TEXT NOT NULL DEFAULT '',
                type TEXT NOT NULL,
                access_key TEXT NOT NULL,
                permissions TEXT NOT NULL DEFAULT '[]',
                lifespan_ms BIGINT,
                expires_at BIGINT,
                last_used_at BIGINT,
                created_at BIGINT NOT NULL,
                updated_at BIGINT NOT NULL,
                revoked_at BIGINT
            )",
            "CREATE UNIQUE INDEX api_tokens_name_uniq ON api_tokens (name)",
            "CREATE UNIQUE INDEX api_tokens_access_key_uniq ON api_tokens (access_key)",
        ],
    },
];

/// Substitutes the backend-specific fragments of a statement template.
pub fn render(template: &str, backend: Backend) -> String {
    let id_pk = match backend {
        Backend::Sqlite => "INTEGER PRIMARY KEY AUTOINCREMENT",
        Backend::Postgres => "BIGSERIAL PRIMARY KEY",
    };
    template.replace("{ID_PK}", id_pk)
}

/// Applies every migration not yet recorded. Returns how many were applied.
pub async fn run(store: &Store) -> Result<usize> {
    let pool = store.pool();
    sqlx::query(
        "CREATE TABLE IF NOT EXISTS portcullis_migrations (
            version BIGINT PRIMARY KEY,
            name TEXT NOT NULL,
            applied_at BIGINT NOT NULL
        )",
    )
    .execute(pool)
    .await?;

    let mut applied = 0;
    for m in MIGRATIONS {
        if apply(store, m).await? {
            applied += 1;
            tracing::info!(version = m.version, name = m.name, "applied migration");
        }
    }
    Ok(applied)
}

/// Applies one migration unless already recorded; `true` if it ran.
async fn apply(store: &Store, m: &Migration) -> Result<bool> {
    let fail = |source| Error::Migration {
        version: m.version,
        name: m.name,
        source,
    };
    let mut tx = store.pool().begin().await.map_err(fail)?;
    if store.backend() == Backend::Postgres {
        // Two replicas starting at once: the second waits here until the
        // first commits, then sees the version as recorded. SQLite
        // serialises writers on its own.
        sqlx::query("SELECT pg_advisory_xact_lock(7263310001)")
            .execute(&mut *tx)
            .await
            .map_err(fail)?;
    }
    let done: Option<(i64,)> =
        sqlx::query_as("SELECT version FROM portcullis_migrations WHERE version = $1")
            .bind(m.version)
            .fetch_optional(&mut *tx)
            .await
            .map_err(fail)?;
    if done.is_some() {
        return Ok(false);
    }
    for statement in m.statements {
        sqlx::query(sqlx::AssertSqlSafe(render(statement, store.backend())))
            .execute(&mut *tx)
            .await
            .map_err(fail)?;
    }
    sqlx::query(
        "INSERT INTO portcullis_migrations (version, name, applied_at) VALUES ($1, $2, $3)",
    )
    .bind(m.version)
    .bind(m.name)
    .bind(now_ms())
    .execute(&mut *tx)
    .await
    .map_err(fail)?;
    tx.commit().await.map_err(fail)?;
    Ok(true)
}

/// Versions recorded as applied, ascending.
pub async fn applied_versions(store: &Store) -> Result<Vec<i64>> {
    let rows: Vec<(i64,)> =
        sqlx::query_as("SELECT version FROM portcullis_migrations ORDER BY version")
            .fetch_all(store.pool())
            .await?;
    Ok(rows.into_iter().map(|(v,)| v).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_strictly_increase() {
        let versions: Vec<i64> = MIGRATIONS.iter().map(|m| m.version).collect();
        assert!(versions.windows(2).all(|w| w[0] < w[1]), "{versions:?}");
    }

    #[test]
    fn id_placeholder_is_substituted() {
        for m in MIGRATIONS {
            for s in m.statements {
                for backend in [Backend::Sqlite, Backend::Postgres] {
                    assert!(!render(s, backend).contains('{'), "{}", m.name);
                }
            }
        }
        assert!(render("id {ID_PK}", Backend::Sqlite).contains("AUTOINCREMENT"));
        assert!(render("id {ID_PK}", Backend::Postgres).contains("BIGSERIAL"));
    }
}
