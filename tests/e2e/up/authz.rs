//! Authentication and authorization decided by the proxy: JWTs (§10.96–98,
//! 102, 104–106), API tokens (§10.107–113), the legacy-mode refresh route
//! (§10.120) and OAuth (§10.126–128).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::Duration;

use portcullis_tests::{
    Algorithm, EchoUpstream, Received, TEST_JWT_SECRET, expired_user_jwt, jwt, jwt_with_alg, now,
    user_claims, user_jwt_wrong_secret,
};
use serde_json::json;

use crate::up::*;

/// The one request the upstream got since the last check.
#[track_caller]
fn forwarded(upstream: &EchoUpstream, status: u16, what: &str) -> Received {
    assert_eq!(status, 200, "{what}");
    let all = upstream.received();
    assert_eq!(all.len(), 1, "{what}: {all:?}");
    upstream.clear();
    all.into_iter().next().unwrap()
}

#[tokio::test]
async fn jwt_and_api_token_cases() {
    let env = spawn().await;
    let alice = create_user(&env.gw, "alice", &["--confirmed"]).await;
    Box::pin(jwt_cases(&env, alice)).await;
    Box::pin(token_cases(&env)).await;
    Box::pin(refresh_and_oauth_cases(&env)).await;
}

/// §10.96–98, 102, 104–106.
async fn jwt_cases(env: &Env, alice: i64) {
    let up = &env.upstream;
    let (alice_jwt, _) = env.login_ok("alice", PASSWORD).await;

    // Sanity: a valid JWT on a granted action is forwarded with identity.
    let r = env.get("/api/articles", Some(&alice_jwt)).await;
    let seen = forwarded(up, r.status, "alice GET /api/articles");
    assert_eq!(seen.header("x-user-id"), Some(alice.to_string().as_str()));
    assert_eq!(seen.header("x-auth-method"), Some("jwt"));
    assert_eq!(
        seen.header("x-permission"),
        Some("api::article.article.find")
    );
    assert_eq!(seen.header("authorization"), None, "stripped");

    // §10.96–98, 102: a bad JWT is 401 even on a public route.
    let id_less = jwt(TEST_JWT_SECRET, &json!({"iat": now(), "exp": now() + 3600}));
    for (token, case) in [
        (expired_user_jwt(alice), "§10.96 expired"),
        (user_jwt_wrong_secret(alice), "§10.97 wrong secret"),
        (
            jwt_with_alg(Algorithm::HS512, TEST_JWT_SECRET, &user_claims(alice)),
            "§10.98 HS512",
        ),
        (id_less, "§10.102 no id"),
    ] {
        assert_401_missing(&env.get("/api/posts", Some(&token)).await, case);
        assert_401_missing(&env.get("/api/users/me", Some(&token)).await, case);
    }
    // §10.104: anonymous, public lacks articles.find.
    assert_403(&env.get("/api/articles", None).await, "§10.104");
    assert_403(&env.get("/api/articles/1", None).await, "§10.104 findOne");
    // §10.105: authenticated lacks articles.create.
    let r = env
        .post("/api/articles", Some(&alice_jwt), json!({"data": {}}))
        .await;
    assert_403(&r, "§10.105");
    // §10.106: a token in the query string is not a credential.
    let r = env
        .get(&format!("/api/articles?token={alice_jwt}"), None)
        .await;
    assert_403(&r, "§10.106");
    let r = env
        .get(&format!("/api/users/me?access_token={alice_jwt}"), None)
        .await;
    assert_403(&r, "§10.106 me");
    assert_untouched(up, "§10.96–106");
}

/// §10.107–111, 113 (112: [`api_token_last_used_at`]).
async fn token_cases(env: &Env) {
    let up = &env.upstream;

    // §10.107: full access writes.
    let full = env.token("full", "full-access", &[]).await;
    let r = env
        .post(
            "/api/articles",
            Some(&full),
            json!({"data": {"title": "t"}}),
        )
        .await;
    let seen = forwarded(up, r.status, "§10.107");
    assert_eq!(seen.header("x-auth-method"), Some("api-token"));
    assert_eq!(
        seen.header("x-permission"),
        Some("api::article.article.create")
    );
    assert_eq!(seen.header("x-user-id"), None);
    // §10.108: read-only.
    let ro = env.token("ro", "read-only", &[]).await;
    let r = env.get("/api/articles", Some(&ro)).await;
    forwarded(up, r.status, "§10.108 find");
    let r = env.get("/api/articles/1", Some(&ro)).await;
    forwarded(up, r.status, "§10.108 findOne");
    let r = env
        .post("/api/articles", Some(&ro), json!({"data": {}}))
        .await;
    assert_403(&r, "§10.108 create");
    // §10.113: read-only on login.
    let r = env
        .post(
            "/api/auth/local",
            Some(&ro),
            json!({"identifier": "alice", "password": PASSWORD}),
        )
        .await;
    assert_403(&r, "§10.113");
    // §10.109: custom.
    let custom = env
        .token(
            "custom",
            "custom",
            &["--permission", "api::article.article.find"],
        )
        .await;
    let r = env.get("/api/articles", Some(&custom)).await;
    forwarded(up, r.status, "§10.109 find");
    assert_403(
        &env.get("/api/articles/1", Some(&custom)).await,
        "§10.109 findOne",
    );
    // §10.110: expired (never used before, so nothing is cached).
    let old = env.token("old", "read-only", &["--lifespan", "7d"]).await;
    env.exec1(&format!(
        "UPDATE api_tokens SET expires_at = {}, updated_at = {} WHERE name = 'old'",
        (now() as i64 - 60) * 1000,
        now() as i64 * 1000
    ))
    .await;
    let r = env.get("/api/articles", Some(&old)).await;
    assert_error(&r, 401, "UnauthorizedError", "Token expired", "§10.110");
    // §10.111: 256 hex chars nobody issued.
    let random = "ab".repeat(128);
    assert_401_missing(&env.get("/api/posts", Some(&random)).await, "§10.111");
    assert_untouched(up, "§10.108–111 refusals");
}

/// §10.120, 126–128.
async fn refresh_and_oauth_cases(env: &Env) {
    let up = &env.upstream;

    // §10.120: legacy mode: the refresh route exists but answers 404.
    let r = env
        .post("/api/auth/refresh", None, json!({"refreshToken": "x"}))
        .await;
    assert_error(&r, 404, "NotFoundError", "Not Found", "§10.120");

    // §10.126: a provider that is not configured.
    let r = env.get("/api/connect/google", None).await;
    assert_application(&r, "This provider is disabled", "§10.126");
    // §10.127: the callback without a completed provider session: for a
    // configured provider Strapi's (5.53+) message; for one that is not
    // configured, the gateway says it is disabled.
    let r = env.get("/api/auth/github/callback", None).await;
    assert_application(
        &r,
        "OAuth authentication requires a completed provider session",
        "§10.127",
    );
    let r = env
        .get(
            "/api/auth/github/callback?access_token=forged&id_token=forged",
            None,
        )
        .await;
    assert_application(
        &r,
        "OAuth authentication requires a completed provider session",
        "§10.127 query tokens are not trusted",
    );
    let r = env.get("/api/auth/google/callback", None).await;
    assert_application(&r, "This provider is disabled", "§10.127 google");
    // §10.128: a callback elsewhere than the configured redirect.
    let r = env
        .get("/api/connect/github?callback=https://evil.example/x", None)
        .await;
    assert_eq!(r.status, 400, "§10.128: {}", r.text());
    assert_eq!(
        r.json(),
        json!({"data": null, "error": {"status": 400, "name": "ValidationError",
            "message": "Invalid callback URL provided",
            "details": {"callback": "https://evil.example/x"}}}),
        "§10.128"
    );
    // The configured one (another query allowed) starts the login.
    let r = env
        .get(
            "/api/connect/github?callback=http%3A%2F%2Flocalhost%3A3000%2Fconnect%2Fgithub%2Fredirect%3Fx%3D1",
            None,
        )
        .await;
    assert_eq!(r.status, 302, "connect github: {}", r.text());
    let location = r.header("location").unwrap_or_default();
    assert!(
        location.starts_with("https://github.com/login/oauth/authorize?client_id=x&"),
        "{location}"
    );
    assert!(location.contains("state="), "{location}");
    assert_untouched(up, "OAuth and refresh");
}

/// §10.112: `lastUsedAt` is set by the first use and left alone by a use
/// within the hour. PRODUCT DECISION: uses are batched off the request path
/// (flushed every minute and on a graceful shutdown), so the value is read
/// after a SIGTERM; the second use is made by a restarted gateway.
#[tokio::test]
async fn api_token_last_used_at() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("tokens.db").display());
    let last_used = "SELECT last_used_at FROM api_tokens WHERE name = 'used'";

    let mut env = spawn_on(|sink| builder(sink, ""), Some(&url)).await;
    let secret = env.token("used", "read-only", &[]).await;
    assert_eq!(env.int(last_used).await, None, "§10.112 before any use");
    let before = now() as i64 * 1000;
    let r = env.get("/api/articles", Some(&secret)).await;
    forwarded(&env.upstream, r.status, "§10.112 first use");
    let after = (now() as i64 + 1) * 1000;
    assert_eq!(
        env.int(last_used).await,
        None,
        "§10.112: written on the request path"
    );
    env.gw.terminate().await.unwrap();
    let status = env.gw.wait_exit(Duration::from_secs(15)).await;
    assert!(status.is_some_and(|s| s.success()), "exit: {status:?}");
    let first = env
        .int(last_used)
        .await
        .expect("§10.112: set by the first use");
    assert!(
        (before..=after).contains(&first),
        "§10.112: {first} not within [{before}, {after}]"
    );
    drop(env);

    let mut env = spawn_on(|sink| builder(sink, ""), Some(&url)).await;
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let r = env.get("/api/articles", Some(&secret)).await;
    forwarded(&env.upstream, r.status, "§10.112 second use");
    env.gw.terminate().await.unwrap();
    assert!(env.gw.wait_exit(Duration::from_secs(15)).await.is_some());
    assert_eq!(
        env.int(last_used).await,
        Some(first),
        "§10.112: unchanged by a use within the hour"
    );
}
