//! Fresh databases for one test body, shared by the `auth` and `users_*`
//! suites: a SQLite file in a temporary directory, or a throw-away
//! PostgreSQL database from the test kit ([`portcullis_tests::PgDatabase`]:
//! `PORTCULLIS_TEST_PG`, default `postgres://postgres@127.0.0.1:5432/test`),
//! dropped afterwards, also when the body panics. An unreachable server
//! fails the test.

use std::future::Future;

use portcullis_tests::PgDatabase;

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
    let db = PgDatabase::create()
        .await
        .unwrap_or_else(|e| panic!("{e:#}"));
    // Spawned so that a panicking body still reaches the drop below.
    let outcome = tokio::spawn(body(db.url().to_owned())).await;
    db.destroy().await.unwrap();
    if let Err(e) = outcome {
        std::panic::resume_unwind(e.into_panic());
    }
}
