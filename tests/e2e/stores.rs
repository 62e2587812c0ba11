//! The same JWT-user flow on both stores: SQLite (the default) and
//! PostgreSQL. PostgreSQL must be reachable (`PORTCULLIS_TEST_PG` or the
//! kit's default URL): an unreachable server fails the test, it never skips.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::time::Duration;

use common::*;
use portcullis_tests::{GatewayBuilder, PgDatabase, user_jwt};
use sqlx::{AnyConnection, Connection};

async fn connect(url: &str) -> AnyConnection {
    sqlx::any::install_default_drivers();
    AnyConnection::connect(url)
        .await
        .unwrap_or_else(|e| panic!("cannot open the store at {url}: {e}"))
}

/// `(id, username, email, blocked, confirmed, role)` of every user.
async fn users(url: &str) -> Vec<(i64, String, String, i64, i64, String)> {
    let mut conn = connect(url).await;
    let rows = sqlx::query_as(
        "SELECT id, username, email, blocked, confirmed, role FROM up_users ORDER BY id",
    )
    .fetch_all(&mut conn)
    .await
    .unwrap();
    let _ = conn.close().await;
    rows
}

async fn execute(url: &str, sql: &'static str) {
    let mut conn = connect(url).await;
    let done = sqlx::query(sql).execute(&mut conn).await.unwrap();
    assert_eq!(done.rows_affected(), 1, "{sql}");
    let _ = conn.close().await;
}

/// Create users with the CLI, then authenticate them through the proxy.
async fn jwt_user_flow(builder: GatewayBuilder, store_url: &str) {
    let (upstream, gw) = start(builder.section("cache", "ttl: \"1s\"")).await;
    let http = gw.http();
    let alice = create_user(&gw, "alice", &["--confirmed"]).await;
    let mallory = create_user(&gw, "mallory", &["--confirmed", "--blocked"]).await;
    let carol = create_user(&gw, "carol", &["--confirmed"]).await;

    // The users are in this store, with a hashed password.
    let rows = users(store_url).await;
    let summary: Vec<(i64, &str, i64)> = rows
        .iter()
        .map(|(id, name, _, blocked, _, _)| (*id, name.as_str(), *blocked))
        .collect();
    assert_eq!(
        summary,
        vec![
            (alice, "alice", 0),
            (mallory, "mallory", 1),
            (carol, "carol", 0)
        ]
    );
    assert!(
        rows.iter().all(|r| r.4 == 1 && r.5 == "authenticated"),
        "{rows:?}"
    );
    {
        let mut conn = connect(store_url).await;
        let hash: String =
            sqlx::query_scalar("SELECT password FROM up_users WHERE username = 'alice'")
                .fetch_one(&mut conn)
                .await
                .unwrap();
        assert!(hash.starts_with("$argon2id$"), "{hash}");
        assert!(!hash.contains("Test1234"));
        let _ = conn.close().await;
    }

    // A valid JWT: forwarded with the user's identity.
    let r = http
        .get_bearer("/api/posts", &user_jwt(alice))
        .await
        .unwrap();
    let seen = assert_forwarded(&upstream, &r, "alice GET /api/posts");
    assert_identity(
        &seen,
        Some("jwt"),
        Some("api::post.post.find"),
        Some("authenticated"),
        Some(&alice.to_string()),
        "alice",
    );
    upstream.clear();

    // Blocked at creation, and a user that does not exist: 401.
    let r = http
        .get_bearer("/api/posts", &user_jwt(mallory))
        .await
        .unwrap();
    assert_401_invalid(&r, "blocked user");
    let r = http
        .get_bearer("/api/posts", &user_jwt(carol + 1000))
        .await
        .unwrap();
    assert_401_invalid(&r, "unknown user");
    assert_untouched(&upstream, "blocked / unknown user");

    // Carol works, then is blocked in the store: refused once the cache
    // entry (ttl 1 s) expires.
    let carol_token = user_jwt(carol);
    let r = http.get_bearer("/api/posts", &carol_token).await.unwrap();
    assert_eq!(
        assert_forwarded(&upstream, &r, "carol").header("x-user-id"),
        Some(carol.to_string().as_str())
    );
    execute(
        store_url,
        "UPDATE up_users SET blocked = 1 WHERE username = 'carol'",
    )
    .await;
    let refused = eventually(Duration::from_secs(4), || async {
        http.get_bearer("/api/posts", &carol_token)
            .await
            .unwrap()
            .status
            == 401
    })
    .await;
    assert!(refused, "carol still allowed 4 s after being blocked");
    let r = http.get_bearer("/api/posts", &carol_token).await.unwrap();
    assert_401_invalid(&r, "carol blocked");

    // Alice is deleted from the store: her token stops working.
    let alice_token = user_jwt(alice);
    execute(store_url, "DELETE FROM up_users WHERE username = 'alice'").await;
    let refused = eventually(Duration::from_secs(4), || async {
        http.get_bearer("/api/posts", &alice_token)
            .await
            .unwrap()
            .status
            == 401
    })
    .await;
    assert!(refused, "alice still allowed 4 s after being deleted");
    let r = http.get_bearer("/api/posts", &alice_token).await.unwrap();
    assert_401_invalid(&r, "alice deleted");
}

#[tokio::test]
async fn sqlite_store() {
    // The default store: sqlite://<tmp>/portcullis.db. Its path is only
    // known once the files are written, so point it at a dir we own.
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("users.db").display());
    jwt_user_flow(GatewayBuilder::new().store_url(&url), &url).await;
}

#[tokio::test]
async fn sqlite_is_the_default_store() {
    let (upstream, gw) = start(GatewayBuilder::new()).await;
    let id = create_user(&gw, "dora", &["--confirmed"]).await;
    let db = gw.dir().join("portcullis.db");
    assert!(db.is_file(), "no SQLite database at {}", db.display());
    let rows = users(&format!("sqlite://{}", db.display())).await;
    assert_eq!(rows.len(), 1);
    assert_eq!((rows[0].0, rows[0].1.as_str()), (id, "dora"));
    let r = gw
        .http()
        .get_bearer("/api/posts", &user_jwt(id))
        .await
        .unwrap();
    let seen = assert_forwarded(&upstream, &r, "dora");
    assert_eq!(seen.header("x-user-id"), Some(id.to_string().as_str()));
}

#[tokio::test]
async fn postgres_store() {
    let db = PgDatabase::create()
        .await
        .expect("PostgreSQL must be reachable for the store tests");
    jwt_user_flow(GatewayBuilder::new().store_url(db.url()), db.url()).await;

    // The schema lives in this database.
    let mut conn = connect(db.url()).await;
    let tables: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM information_schema.tables \
         WHERE table_catalog = current_database() AND table_name = 'up_users'",
    )
    .fetch_one(&mut conn)
    .await
    .unwrap();
    assert_eq!(tables, 1, "up_users missing in {}", db.name());
    let _ = conn.close().await;
    db.destroy().await.unwrap();
}
