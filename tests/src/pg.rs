//! Throw-away PostgreSQL databases for store tests.
//!
//! [`PgDatabase::create`] makes a uniquely named database on the local server
//! (`postgres://postgres@127.0.0.1:5432/test`, or `PORTCULLIS_TEST_PG`) and
//! the database is dropped `WITH (FORCE)` when the value is dropped, or
//! earlier with [`PgDatabase::destroy`]. An unreachable server is an error:
//! tests that need PostgreSQL fail rather than silently skip.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use anyhow::{Context, Result, bail};
use sqlx::{AssertSqlSafe, Connection, PgConnection};

/// The maintenance connection used to create and drop databases.
pub const DEFAULT_ADMIN_URL: &str = "postgres://postgres@127.0.0.1:5432/test";

const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

static COUNTER: AtomicU64 = AtomicU64::new(0);

/// A database that exists for as long as this value.
#[derive(Debug)]
pub struct PgDatabase {
    admin_url: String,
    name: String,
    url: String,
    dropped: bool,
}

/// The maintenance URL: `PORTCULLIS_TEST_PG`, else [`DEFAULT_ADMIN_URL`].
pub fn admin_url() -> String {
    std::env::var("PORTCULLIS_TEST_PG").unwrap_or_else(|_| DEFAULT_ADMIN_URL.to_owned())
}

impl PgDatabase {
    /// Creates a fresh, empty, uniquely named database.
    pub async fn create() -> Result<Self> {
        let admin_url = admin_url();
        let name = unique_name();
        let url = with_database(&admin_url, &name)?;
        let mut conn = connect(&admin_url).await?;
        // The name is generated here from [a-z0-9_] only, so quoting it is safe.
        sqlx::raw_sql(AssertSqlSafe(format!("CREATE DATABASE \"{name}\"")))
            .execute(&mut conn)
            .await
            .with_context(|| format!("creating database {name}"))?;
        let _ = conn.close().await;
        Ok(Self {
            admin_url,
            name,
            url,
            dropped: false,
        })
    }

    /// `postgres://…/<name>`, for `store.url`.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// The database name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Drops the database now, reporting failure.
    pub async fn destroy(mut self) -> Result<()> {
        self.dropped = true;
        drop_database(&self.admin_url, &self.name).await
    }
}

impl Drop for PgDatabase {
    fn drop(&mut self) {
        if self.dropped {
            return;
        }
        let (admin_url, name) = (self.admin_url.clone(), self.name.clone());
        // Drop runs inside the test's runtime, which must not be blocked on
        // from within; a fresh thread with its own runtime can be.
        let handle = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build();
            if let Ok(runtime) = runtime
                && let Err(e) = runtime.block_on(drop_database(&admin_url, &name))
            {
                eprintln!("portcullis-tests: could not drop database {name}: {e:#}");
            }
        });
        let _ = handle.join();
    }
}

async fn connect(url: &str) -> Result<PgConnection> {
    match tokio::time::timeout(CONNECT_TIMEOUT, PgConnection::connect(url)).await {
        Ok(conn) => conn.with_context(|| format!("PostgreSQL unreachable at {url}")),
        Err(_) => bail!("PostgreSQL at {url} did not answer within {CONNECT_TIMEOUT:?}"),
    }
}

async fn drop_database(admin_url: &str, name: &str) -> Result<()> {
    let mut conn = connect(admin_url).await?;
    sqlx::raw_sql(AssertSqlSafe(format!(
        "DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)"
    )))
    .execute(&mut conn)
    .await
    .with_context(|| format!("dropping database {name}"))?;
    let _ = conn.close().await;
    Ok(())
}

fn unique_name() -> String {
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or_default();
    let n = COUNTER.fetch_add(1, Ordering::SeqCst);
    format!("portcullis_test_{}_{nanos}_{n}", std::process::id())
}

/// `admin_url` with its database path segment replaced by `name`.
fn with_database(admin_url: &str, name: &str) -> Result<String> {
    let (base, query) = match admin_url.split_once('?') {
        Some((b, q)) => (b, Some(q)),
        None => (admin_url, None),
    };
    let authority_start = base.find("://").map(|i| i + 3).unwrap_or(0);
    let root = match base[authority_start..].find('/') {
        Some(i) => &base[..authority_start + i],
        None => base,
    };
    if root.len() <= authority_start {
        bail!("cannot derive a database URL from {admin_url:?}");
    }
    Ok(match query {
        Some(q) => format!("{root}/{name}?{q}"),
        None => format!("{root}/{name}"),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn database_url_replaces_only_the_path() {
        assert_eq!(
            with_database("postgres://postgres@127.0.0.1:5432/test", "x").unwrap(),
            "postgres://postgres@127.0.0.1:5432/x"
        );
        assert_eq!(
            with_database("postgres://u:p@h/db?sslmode=disable", "x").unwrap(),
            "postgres://u:p@h/x?sslmode=disable"
        );
        assert_eq!(
            with_database("postgres://h", "x").unwrap(),
            "postgres://h/x"
        );
    }

    async fn exists(name: &str) -> bool {
        let mut conn = connect(DEFAULT_ADMIN_URL).await.unwrap();
        let n: i64 = sqlx::query_scalar("SELECT count(*) FROM pg_database WHERE datname = $1")
            .bind(name)
            .fetch_one(&mut conn)
            .await
            .unwrap();
        n == 1
    }

    #[tokio::test]
    async fn create_connect_and_drop() {
        let db = PgDatabase::create().await.unwrap();
        let name = db.name().to_owned();
        let mut conn = PgConnection::connect(db.url()).await.unwrap();
        sqlx::raw_sql("CREATE TABLE t (id int)")
            .execute(&mut conn)
            .await
            .unwrap();
        // An open connection must not prevent the drop (WITH (FORCE)).
        assert!(exists(&name).await);
        drop(db);
        assert!(!exists(&name).await);
        drop(conn);

        let db = PgDatabase::create().await.unwrap();
        let name = db.name().to_owned();
        db.destroy().await.unwrap();
        assert!(!exists(&name).await);
    }
}
