//! The auth-route rate limit with its defaults (10 per minute and client):
//! §10.20–23.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use portcullis_tests::{GatewayBuilder, user_jwt};
use serde_json::json;

use crate::up::*;

#[tokio::test]
async fn rate_limit_cases() {
    // No users_permissions section: the defaults (1m, 10).
    let env = spawn_with(|sink| {
        GatewayBuilder::new()
            .policy_file("default.yaml", POLICY)
            .section("email", sink.email_section())
    })
    .await;
    let alice = create_user(&env.gw, "alice", &["--confirmed"]).await;

    // §10.23: answers the proxy gives (401 bad credential, 403 role lacks
    // auth.callback) come before the limiter and are not counted.
    let creds = json!({"identifier": "alice", "password": PASSWORD});
    for i in 0..6 {
        let r = env
            .post("/api/auth/local", Some("garbage"), creds.clone())
            .await;
        assert_401_missing(&r, &format!("§10.23 401 #{i}"));
        assert_eq!(r.header("x-ratelimit-limit"), None, "§10.23");
        let r = env
            .post("/api/auth/local", Some(&user_jwt(alice)), creds.clone())
            .await;
        assert_403(&r, &format!("§10.23 403 #{i}"));
    }

    // §10.21 / §10.22: ten counted attempts, each with another body.email
    // (5.45+: the login key ignores it), remaining 9 → 0.
    for i in 0..10u32 {
        let password = if i % 2 == 0 { PASSWORD } else { "Wrong-pass-1" };
        let r = env
            .post(
                "/api/auth/local",
                None,
                json!({"identifier": "alice", "password": password, "email": format!("x{i}@example.com")}),
            )
            .await;
        let want = if i % 2 == 0 { 200 } else { 400 };
        assert_eq!(r.status, want, "§10.20 attempt {}: {}", i + 1, r.text());
        assert_eq!(r.header("x-ratelimit-limit"), Some("10"), "§10.21 #{i}");
        assert_eq!(
            r.header("x-ratelimit-remaining"),
            Some((9 - i).to_string().as_str()),
            "§10.21 #{i} (the 401/403 answers were not counted: §10.23)"
        );
        assert!(r.header("x-ratelimit-reset").is_some(), "§10.21 #{i}");
    }
    // §10.20: the 11th is refused, whatever its body.
    let r = env
        .post(
            "/api/auth/local",
            None,
            json!({"identifier": "alice", "password": PASSWORD, "email": "fresh@example.com"}),
        )
        .await;
    assert_error(
        &r,
        429,
        "RateLimitError",
        "Too many requests, please try again later.",
        "§10.20",
    );
    assert_eq!(r.header("x-ratelimit-limit"), Some("10"), "§10.21 on 429");
    assert_eq!(
        r.header("x-ratelimit-remaining"),
        Some("0"),
        "§10.21 on 429"
    );
    let reset: u64 = r.header("x-ratelimit-reset").unwrap().parse().unwrap();
    let now = portcullis_tests::now();
    assert!(
        reset > now && reset <= now + 61,
        "§10.21 reset {reset} now {now}"
    );
    // A path spelled differently is the same counter.
    let r = env.post("/api/auth//local/", None, creds.clone()).await;
    assert_eq!(r.status, 429, "§10.20 other spelling: {}", r.text());
    // Still decided by the proxy first: a bad credential stays 401.
    let r = env
        .post("/api/auth/local", Some("garbage"), creds.clone())
        .await;
    assert_401_missing(&r, "§10.23 after the limit");
    // Another route has its own counter (forgot-password keys on the email).
    let r = env
        .post(
            "/api/auth/forgot-password",
            None,
            json!({"email": "alice@example.com"}),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.header("x-ratelimit-remaining"), Some("9"));
    // Routes without Strapi's limiter carry no headers.
    let r = env.get("/api/users/me", Some(&user_jwt(alice))).await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.header("x-ratelimit-limit"), None);
    assert_untouched(&env.upstream, "rate limit");
}
