//! Persistent state of Portcullis: users of the Users & Permissions plugin,
//! API tokens, password hashing and the in-process user cache.
//!
//! One code path serves both backends. [`Store`] wraps a [`sqlx::AnyPool`];
//! every query is written once and runs unchanged on SQLite and PostgreSQL:
//!
//! * **Placeholders** are `$1, $2, …` everywhere. PostgreSQL uses them
//!   natively; SQLite accepts `$NNN` as a numbered parameter and sqlx's
//!   SQLite driver binds `$N` to argument `N` (covered by the tests, which run
//!   every query against both backends).
//! * **Booleans** are `BIGINT` columns holding `0`/`1`, bound and read as
//!   `i64`. The Any driver cannot decode a SQLite `BOOLEAN` column (it reports
//!   an unsupported type) nor a PostgreSQL `BIGINT` as `bool`, so an integer is
//!   the only representation it handles identically on both.
//! * **Timestamps** are `BIGINT` epoch milliseconds (`i64`); [`iso`] renders
//!   them the way Strapi does (`2026-03-04T10:30:00.000Z`).
//! * **Ids** are the one place where DDL differs; see [`migrate`].

pub mod cache;
pub mod changes;
pub mod migrate;
pub mod password;
pub mod tokens;
pub mod users;

use std::path::Path;
use std::str::FromStr;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use sqlx::AnyPool;
use sqlx::any::{AnyConnectOptions, AnyPoolOptions};

pub use cache::{CachedUser, ExpiringCache, UserCache};
pub use password::{PasswordPool, Verified, hash_password, verify_password};
pub use tokens::{ApiToken, NewApiToken, TokenStatus, TokenType};
pub use users::{NewUser, SqlValue, User, UserQuery, UserState};

/// Everything that can go wrong in the store.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A unique column already holds this value (`field` is `username`,
    /// `email`, `document_id`, `name` or `access_key`).
    #[error("{field} already taken")]
    Conflict { field: &'static str },
    /// The store URL is neither `sqlite:` nor `postgres:`. Only the scheme is
    /// kept so that a password in the URL never reaches a log.
    #[error("unsupported store url scheme {scheme:?} (expected sqlite: or postgres:)")]
    UnsupportedUrl { scheme: String },
    #[error("database error: {0}")]
    Database(#[from] sqlx::Error),
    #[error("migration {version} ({name}) failed: {source}")]
    Migration {
        version: i64,
        name: &'static str,
        source: sqlx::Error,
    },
    #[error("cannot create the database directory {path}: {source}")]
    CreateDir {
        path: String,
        source: std::io::Error,
    },
    #[error("password hashing failed: {0}")]
    PasswordHash(String),
    #[error("background task failed: {0}")]
    Task(String),
}

/// `Result` with this crate's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// The database behind a [`Store`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// Handle to the database; cheap to clone (the pool is shared).
#[derive(Clone)]
pub struct Store {
    pool: AnyPool,
    backend: Backend,
}

impl std::fmt::Debug for Store {
    // The URL (and its password) is deliberately not kept or printed.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Store")
            .field("backend", &self.backend)
            .finish_non_exhaustive()
    }
}

impl Store {
    /// Connects to `sqlite://path[?…]` or `postgres://…` and applies pending
    /// migrations.
    ///
    /// For SQLite the parent directory is created if missing, the file is
    /// created (`mode=rwc` is added unless the URL sets a mode) and the
    /// journal is switched to WAL.
    pub async fn connect(url: &str) -> Result<Store> {
        sqlx::any::install_default_drivers();
        let backend = backend_of(url)?;
        let url = match backend {
            Backend::Sqlite => prepare_sqlite_url(url)?,
            Backend::Postgres => url.to_owned(),
        };
        let options = AnyConnectOptions::from_str(&url)?;
        let memory = backend == Backend::Sqlite && url.contains(":memory:");
        let pool = AnyPoolOptions::new()
            // Every connection to `:memory:` opens a different database, so
            // an in-memory store must live on exactly one connection.
            // SQLite serializes writes anyway, and each connection keeps its
            // own page cache: a few connections are enough and keep memory
            // down.
            .max_connections(match (backend, memory) {
                (_, true) => 1,
                (Backend::Sqlite, false) => 4,
                (Backend::Postgres, false) => 10,
            })
            .idle_timeout(if memory {
                None
            } else {
                Some(Duration::from_secs(600))
            })
            .max_lifetime(if memory {
                None
            } else {
                Some(Duration::from_secs(1800))
            })
            .after_connect(move |conn, _meta| {
                Box::pin(async move {
                    if backend == Backend::Sqlite {
                        sqlx::query("PRAGMA journal_mode = WAL")
                            .execute(&mut *conn)
                            .await?;
                        sqlx::query("PRAGMA synchronous = NORMAL")
                            .execute(&mut *conn)
                            .await?;
                    }
                    Ok(())
                })
            })
            .connect_with(options)
            .await?;
        let store = Store { pool, backend };
        migrate::run(&store).await?;
        Ok(store)
    }

    /// Which database this store talks to.
    pub fn backend(&self) -> Backend {
        self.backend
    }

    /// The underlying pool, for callers that need a query this crate lacks.
    pub fn pool(&self) -> &AnyPool {
        &self.pool
    }

    /// Round-trips a trivial query; used by `/readyz`.
    pub async fn ping(&self) -> Result<()> {
        sqlx::query("SELECT 1").execute(&self.pool).await?;
        Ok(())
    }

    /// Closes every connection; later queries fail.
    pub async fn close(&self) {
        self.pool.close().await;
    }
}

fn backend_of(url: &str) -> Result<Backend> {
    let scheme = url.split(':').next().unwrap_or_default();
    match scheme {
        "sqlite" => Ok(Backend::Sqlite),
        "postgres" | "postgresql" => Ok(Backend::Postgres),
        other => Err(Error::UnsupportedUrl {
            scheme: other.to_owned(),
        }),
    }
}

/// Creates the parent directory of a SQLite file and makes sure the URL asks
/// for the file to be created.
fn prepare_sqlite_url(url: &str) -> Result<String> {
    let rest = url
        .strip_prefix("sqlite://")
        .or_else(|| url.strip_prefix("sqlite:"))
        .unwrap_or(url);
    let (path, query) = match rest.split_once('?') {
        Some((p, q)) => (p, Some(q)),
        None => (rest, None),
    };
    if path.is_empty() || path.contains(":memory:") {
        return Ok(url.to_owned());
    }
    if let Some(parent) = Path::new(path).parent()
        && !parent.as_os_str().is_empty()
    {
        std::fs::create_dir_all(parent).map_err(|source| Error::CreateDir {
            path: parent.display().to_string(),
            source,
        })?;
    }
    Ok(match query {
        Some(q) if q.split('&').any(|kv| kv.starts_with("mode=")) => url.to_owned(),
        Some(_) => format!("{url}&mode=rwc"),
        None => format!("{url}?mode=rwc"),
    })
}

/// Current time as epoch milliseconds.
pub fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}

/// Renders epoch milliseconds as RFC 3339 with milliseconds, e.g.
/// `2026-03-04T10:30:00.000Z` (Strapi's `createdAt` format). Negative
/// values render as the epoch.
pub fn iso(ms: i64) -> String {
    let ms = u64::try_from(ms).unwrap_or(0);
    humantime::format_rfc3339_millis(UNIX_EPOCH + Duration::from_millis(ms)).to_string()
}

/// Maps a unique-constraint violation to [`Error::Conflict`], naming the
/// column; any other error passes through.
pub(crate) fn map_conflict(err: sqlx::Error, fields: &[&'static str]) -> Error {
    if let sqlx::Error::Database(db) = &err
        && db.is_unique_violation()
    {
        // SQLite: "UNIQUE constraint failed: up_users.username" or
        // "...: index 'up_users_email_lower_uniq'"; PostgreSQL: the
        // constraint name, e.g. "up_users_username_key". Both contain the
        // column name because the migrations name the indexes after it.
        let text = format!("{} {}", db.message(), db.constraint().unwrap_or_default());
        let field = fields
            .iter()
            .find(|f| text.contains(*f))
            .copied()
            .unwrap_or("value");
        return Error::Conflict { field };
    }
    Error::Database(err)
}

type AnyQuery<'q> = sqlx::query::Query<'q, sqlx::Any, sqlx::any::AnyArguments>;

/// Values bound, in order, after whatever the query already has.
pub(crate) trait Binds {
    fn bind_to(self, q: AnyQuery<'_>) -> AnyQuery<'_>;
}

impl Binds for i64 {
    fn bind_to(self, q: AnyQuery<'_>) -> AnyQuery<'_> {
        q.bind(self)
    }
}

impl Binds for String {
    fn bind_to(self, q: AnyQuery<'_>) -> AnyQuery<'_> {
        q.bind(self)
    }
}

macro_rules! tuple_key {
    ($($t:ident . $i:tt),+) => {
        impl<$($t),+> Binds for ($($t,)+)
        where
            $($t: for<'q> sqlx::Encode<'q, sqlx::Any> + sqlx::Type<sqlx::Any> + Send + 'static),+
        {
            fn bind_to(self, q: AnyQuery<'_>) -> AnyQuery<'_> {
                q$(.bind(self.$i))+
            }
        }
    };
}

tuple_key!(A.0);
tuple_key!(A.0, B.1);
tuple_key!(A.0, B.1, C.2);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn iso_matches_strapi_format() {
        assert_eq!(iso(0), "1970-01-01T00:00:00.000Z");
        assert_eq!(iso(1_772_620_200_123), "2026-03-04T10:30:00.123Z");
        assert_eq!(iso(-5), "1970-01-01T00:00:00.000Z");
    }

    #[test]
    fn backend_from_scheme() {
        assert_eq!(backend_of("sqlite://x.db").ok(), Some(Backend::Sqlite));
        assert_eq!(
            backend_of("postgres://u@h/db").ok(),
            Some(Backend::Postgres)
        );
        assert_eq!(
            backend_of("postgresql://u@h/db").ok(),
            Some(Backend::Postgres)
        );
        let err = backend_of("mysql://root:secret@h/db")
            .err()
            .map(|e| e.to_string());
        assert!(err.is_some_and(|e| e.contains("mysql") && !e.contains("secret")));
    }

    #[test]
    fn sqlite_url_gets_mode_rwc() -> Result<()> {
        let dir = tempfile::tempdir().map_err(|e| Error::Task(e.to_string()))?;
        let path = dir.path().join("a/b/c.db");
        let url = format!("sqlite://{}", path.display());
        assert_eq!(prepare_sqlite_url(&url)?, format!("{url}?mode=rwc"));
        assert!(dir.path().join("a/b").is_dir());
        let with_q = format!("{url}?cache=shared");
        assert_eq!(prepare_sqlite_url(&with_q)?, format!("{with_q}&mode=rwc"));
        let with_mode = format!("{url}?mode=ro");
        assert_eq!(prepare_sqlite_url(&with_mode)?, with_mode);
        assert_eq!(prepare_sqlite_url("sqlite::memory:")?, "sqlite::memory:");
        Ok(())
    }
}
