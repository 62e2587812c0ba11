//! The core account flow on both stores: register → login → me → change
//! password → the old JWT refused → forgot → reset with the mailed code →
//! login with the new password; then, on the same store restarted with
//! `email_confirmation: true`, register → refused login → confirm with the
//! mailed token → login. PostgreSQL must be reachable: it fails, never
//! skips.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use portcullis_tests::PgDatabase;
use serde_json::json;

use crate::up::*;

async fn core_flow(store: Option<&str>) {
    let env = spawn_on(|sink| builder(sink, ""), store).await;

    let r = env
        .post(
            "/api/auth/local/register",
            None,
            json!({"username": "walt", "email": "Walt@Example.com", "password": "Walt-Passw0rd-1"}),
        )
        .await;
    assert_eq!(r.status, 200, "register: {}", r.text());
    let body = r.json();
    let id = body["user"]["id"].as_i64().unwrap();
    assert_eq!(body["user"]["email"], "walt@example.com");
    let register_jwt = body["jwt"].as_str().unwrap().to_owned();

    let (jwt, user) = env.login_ok("walt@example.com", "Walt-Passw0rd-1").await;
    assert_eq!(user["id"], id);
    let r = env.get("/api/users/me", Some(&jwt)).await;
    assert_eq!(r.status, 200, "me: {}", r.text());
    assert_eq!(r.json()["username"], "walt");
    assert_user_shape(&r.json(), false, "me");
    let r = env.get("/api/users/me", Some(&register_jwt)).await;
    assert_eq!(r.status, 200, "me with the register JWT: {}", r.text());

    next_second().await;
    let r = env
        .post(
            "/api/auth/change-password",
            Some(&jwt),
            json!({"currentPassword": "Walt-Passw0rd-1", "password": "Walt-Passw0rd-2", "passwordConfirmation": "Walt-Passw0rd-2"}),
        )
        .await;
    assert_eq!(r.status, 200, "change password: {}", r.text());
    let changed_jwt = r.json()["jwt"].as_str().unwrap().to_owned();
    // PRODUCT DECISION: earlier JWTs are revoked (Strapi keeps them).
    assert_401_invalid(&env.get("/api/users/me", Some(&jwt)).await, "old JWT");
    assert_401_invalid(
        &env.get("/api/users/me", Some(&register_jwt)).await,
        "register JWT",
    );
    assert_eq!(
        env.get("/api/users/me", Some(&changed_jwt)).await.status,
        200
    );

    let code = env.forgot_code("walt@example.com").await;
    assert_eq!(code.len(), 128);
    next_second().await;
    let r = env
        .post(
            "/api/auth/reset-password",
            None,
            json!({"code": code, "password": "Walt-Passw0rd-3", "passwordConfirmation": "Walt-Passw0rd-3"}),
        )
        .await;
    assert_eq!(r.status, 200, "reset: {}", r.text());
    let reset_jwt = r.json()["jwt"].as_str().unwrap().to_owned();
    assert_401_invalid(
        &env.get("/api/users/me", Some(&changed_jwt)).await,
        "JWT from before the reset",
    );
    assert_eq!(env.get("/api/users/me", Some(&reset_jwt)).await.status, 200);
    for old in ["Walt-Passw0rd-1", "Walt-Passw0rd-2"] {
        let r = env.login("walt", old).await;
        assert_validation(&r, "Invalid identifier or password", old);
    }
    let (jwt, _) = env.login_ok("walt", "Walt-Passw0rd-3").await;
    assert_eq!(env.get("/api/users/me", Some(&jwt)).await.status, 200);
    assert_untouched(&env.upstream, "core flow");
    let store = env.store.clone();
    drop(env);

    // The same store, restarted with email confirmation on.
    let env = spawn_on(
        |sink| builder(sink, "email_confirmation: true"),
        Some(&store),
    )
    .await;
    env.login_ok("walt", "Walt-Passw0rd-3").await;
    let r = env
        .post(
            "/api/auth/local/register",
            None,
            json!({"username": "vera", "email": "vera@example.com", "password": "Vera-Passw0rd-1"}),
        )
        .await;
    assert_eq!(r.status, 200, "register vera: {}", r.text());
    assert!(r.json().get("jwt").is_none(), "{}", r.text());
    assert_eq!(r.json()["user"]["confirmed"], false);
    let r = env.login("vera", "Vera-Passw0rd-1").await;
    assert_application(&r, "Your account email is not confirmed", "unconfirmed");
    let token = env
        .mail_to("vera@example.com", 0)
        .await
        .confirmation_token()
        .expect("a confirmation token in the mail");
    let r = env
        .get(
            &format!("/api/auth/email-confirmation?confirmation={token}"),
            None,
        )
        .await;
    assert_eq!(r.status, 302, "confirm: {}", r.text());
    assert_eq!(r.header("location"), Some(CONFIRMED_URL));
    let (jwt, user) = env.login_ok("vera", "Vera-Passw0rd-1").await;
    assert_eq!(user["confirmed"], true);
    assert_eq!(env.get("/api/users/me", Some(&jwt)).await.status, 200);
    assert_untouched(&env.upstream, "confirmation flow");
}

#[tokio::test]
async fn core_flow_sqlite() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("flow.db").display());
    Box::pin(core_flow(Some(&url))).await;
}

#[tokio::test]
async fn core_flow_postgres() {
    let db = Box::pin(PgDatabase::create())
        .await
        .expect("PostgreSQL must be reachable (PORTCULLIS_TEST_PG)");
    Box::pin(core_flow(Some(db.url()))).await;
    db.destroy().await.unwrap();
}
