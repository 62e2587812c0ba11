//! Fresh databases for one test body, shared by the `auth` and `users_*`
//! suites: a SQLite file in a temporary directory, or
//! `portcullis_up_test_<random>` created
//! through the admin URL (`PORTCULLIS_TEST_PG_URL`, default
//! `postgres://postgres@127.0.0.1:5432/test`) and dropped afterwards, also
//! when the body panics. An unreachable server fails the test unless
//! `PORTCULLIS_SKIP_PG=1`.

use std::future::Future;

use rand::RngCore;
use sqlx::{AnyConnection, Connection};

const DEFAULT_ADMIN_URL: &str = "postgres://postgres@127.0.0.1:5432/test";

fn admin_url() -> String {
    std::env::var("PORTCULLIS_TEST_PG_URL").unwrap_or_else(|_| DEFAULT_ADMIN_URL.to_owned())
}

fn database_url(admin: &str, name: &str) -> String {
    let (base, query) = match admin.split_once('?') {
        Some((b, q)) => (b, format!("?{q}")),
        None => (admin, String::new()),
    };
    let server = base.rsplit_once('/').map_or(base, |(s, _)| s);
    format!("{server}/{name}{query}")
}

pub async fn on_sqlite<F, Fut>(body: F)
where
    F: FnOnce(String) -> Fut,
    Fut: Future<Output = ()>,
{
    let dir = tempfile::tempdir().unwrap();
    body(format!("sqlite://{}/up.db", dir.path().display())).await;
}

pub async fn on_postgres<F, Fut>(body: F)
where
    F: FnOnce(String) -> Fut,
    Fut: Future<Output = ()> + Send + 'static,
{
    sqlx::any::install_default_drivers();
    let mut admin = match AnyConnection::connect(&admin_url()).await {
        Ok(c) => c,
        Err(e) if std::env::var("PORTCULLIS_SKIP_PG").is_ok_and(|v| v == "1") => {
            eprintln!("PostgreSQL unreachable, skipped (PORTCULLIS_SKIP_PG=1): {e}");
            return;
        }
        Err(e) => panic!(
            "PostgreSQL unreachable at {} ({e}); set PORTCULLIS_SKIP_PG=1 to skip",
            admin_url()
        ),
    };
    let mut raw = [0u8; 8];
    rand::rng().fill_bytes(&mut raw);
    let name = format!("portcullis_up_test_{}", hex::encode(raw));
    sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
        .execute(&mut admin)
        .await
        .unwrap();
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
}
