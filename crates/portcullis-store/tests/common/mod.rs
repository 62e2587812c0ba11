//! Test harness: runs one test body against a fresh SQLite file and a fresh
//! PostgreSQL database.
//!
//! Each PostgreSQL run creates `portcullis_test_<random>` through the admin
//! URL (`PORTCULLIS_TEST_PG_URL`, default
//! `postgres://postgres@127.0.0.1:5432/test`) and drops it `WITH (FORCE)`
//! afterwards, also when the body panics. An unreachable server fails the
//! test unless `PORTCULLIS_SKIP_PG=1`.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use std::future::Future;

use portcullis_store::Store;
use rand::RngCore;
use sqlx::{AnyConnection, Connection};

pub const DEFAULT_ADMIN_URL: &str = "postgres://postgres@127.0.0.1:5432/test";

pub fn admin_url() -> String {
    std::env::var("PORTCULLIS_TEST_PG_URL").unwrap_or_else(|_| DEFAULT_ADMIN_URL.to_owned())
}

fn skip_pg() -> bool {
    std::env::var("PORTCULLIS_SKIP_PG").is_ok_and(|v| v == "1")
}

/// The URL of database `name` on the admin URL's server.
fn database_url(admin: &str, name: &str) -> String {
    let (base, query) = match admin.split_once('?') {
        Some((b, q)) => (b, format!("?{q}")),
        None => (admin, String::new()),
    };
    let server = base.rsplit_once('/').map_or(base, |(s, _)| s);
    format!("{server}/{name}{query}")
}

pub async fn admin_connection() -> Option<AnyConnection> {
    sqlx::any::install_default_drivers();
    match AnyConnection::connect(&admin_url()).await {
        Ok(conn) => Some(conn),
        Err(e) if skip_pg() => {
            eprintln!("PostgreSQL unreachable, skipped (PORTCULLIS_SKIP_PG=1): {e}");
            None
        }
        Err(e) => panic!(
            "PostgreSQL unreachable at {} ({e}); set PORTCULLIS_SKIP_PG=1 to skip",
            admin_url()
        ),
    }
}

pub async fn database_exists(name: &str) -> bool {
    let mut conn = admin_connection().await.expect("admin connection");
    let (n,): (i64,) = sqlx::query_as("SELECT COUNT(*) FROM pg_database WHERE datname = $1")
        .bind(name.to_owned())
        .fetch_one(&mut conn)
        .await
        .unwrap();
    n > 0
}

/// Runs `body(url)` against a new SQLite file in a temporary directory (in a
/// subdirectory that does not exist yet, to cover its creation).
pub async fn on_sqlite<F, Fut>(body: F)
where
    F: FnOnce(String) -> Fut,
    Fut: Future<Output = ()>,
{
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}/sub/dir/portcullis.db", dir.path().display());
    body(url).await;
}

/// Runs `body(url)` against a new PostgreSQL database and drops it after.
/// Returns the database name, or `None` when skipped.
pub async fn on_postgres<F, Fut>(body: F) -> Option<String>
where
    F: FnOnce(String) -> Fut,
    Fut: Future<Output = ()> + Send + 'static,
{
    let mut admin = admin_connection().await?;
    let mut raw = [0u8; 8];
    rand::rng().fill_bytes(&mut raw);
    let name = format!("portcullis_test_{}", hex::encode(raw));
    sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
        .execute(&mut admin)
        .await
        .unwrap();
    // Spawned so that a panicking body still reaches the cleanup below.
    let outcome = tokio::spawn(body(database_url(&admin_url(), &name))).await;
    sqlx::query(sqlx::AssertSqlSafe(format!(
        "DROP DATABASE IF EXISTS {name} WITH (FORCE)"
    )))
    .execute(&mut admin)
    .await
    .unwrap();
    admin.close().await.ok();
    if let Err(e) = outcome {
        std::panic::resume_unwind(e.into_panic());
    }
    Some(name)
}

/// Connects and returns the store; panics with the backend in the message.
pub async fn connect(url: &str) -> Store {
    match Store::connect(url).await {
        Ok(s) => s,
        Err(e) => panic!("connect failed: {e}"),
    }
}

/// Declares `mod $name { sqlite(), postgres() }`, each running `$body(url)`.
#[macro_export]
macro_rules! on_both {
    ($name:ident, $body:path) => {
        mod $name {
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn sqlite() {
                $crate::common::on_sqlite($body).await;
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn postgres() {
                $crate::common::on_postgres($body).await;
            }
        }
    };
}
