//! Test harness: runs one test body against a fresh SQLite file and a fresh
//! PostgreSQL database.
//!
//! Each PostgreSQL run gets a throw-away database from the test kit
//! ([`portcullis_tests::PgDatabase`]: `PORTCULLIS_TEST_PG`, default
//! `postgres://postgres@127.0.0.1:5432/test`), dropped `WITH (FORCE)`
//! afterwards, also when the body panics. An unreachable server fails the
//! test.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use std::future::Future;

use portcullis_store::Store;
use portcullis_tests::{PgDatabase, pg_admin_url};
use sqlx::{Connection, PgConnection};

/// Whether database `name` exists on the test server.
pub async fn database_exists(name: &str) -> bool {
    let mut conn = PgConnection::connect(&pg_admin_url())
        .await
        .expect("admin connection");
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
/// Returns the database name.
pub async fn on_postgres<F, Fut>(body: F) -> Option<String>
where
    F: FnOnce(String) -> Fut,
    Fut: Future<Output = ()> + Send + 'static,
{
    let db = PgDatabase::create()
        .await
        .unwrap_or_else(|e| panic!("{e:#}"));
    let name = db.name().to_owned();
    // Spawned so that a panicking body still reaches the drop below.
    let outcome = tokio::spawn(body(db.url().to_owned())).await;
    db.destroy().await.unwrap();
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
