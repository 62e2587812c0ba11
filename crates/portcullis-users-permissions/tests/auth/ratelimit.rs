//! Rate limiting of the auth routes — checklist 20–22 and the key rules of
//! strapi-behavior.md §4.3 (CVE-2025-64526).

use std::time::Duration;

use portcullis_users_permissions::MemoryRateLimiter;
use portcullis_users_permissions::ratelimit::{key, normalize_path};
use serde_json::json;

use crate::both;
use crate::common::{Call, H, policy, request};

/// 20, 21: ten requests pass with decreasing `X-RateLimit-Remaining`; the
/// 11th is 429 with the same headers. Invalid bodies count.
async fn c20_21_login_limit(url: String) {
    let h = H::with(&url, |s| s.rate_limit_max = 10).await;
    let start = portcullis_store::now_ms() / 1000;
    let mut reset = None;
    for i in 0..10u32 {
        let r = h.post("auth/local", json!({})).await;
        assert_eq!(r.status, 400, "request {i} is not limited");
        assert_eq!(r.header("X-RateLimit-Limit"), Some("10"));
        let remaining = (9 - i).to_string();
        assert_eq!(r.header("X-RateLimit-Remaining"), Some(remaining.as_str()));
        let this_reset: i64 = r.header("X-RateLimit-Reset").unwrap().parse().unwrap();
        assert!(
            (start + 59..=start + 62).contains(&this_reset),
            "{this_reset} vs {start}"
        );
        assert_eq!(*reset.get_or_insert(this_reset), this_reset, "fixed window");
    }
    let r = h.login("alice", "whatever").await;
    r.assert_err(
        429,
        "RateLimitError",
        "Too many requests, please try again later.",
    );
    assert_eq!(r.header("X-RateLimit-Limit"), Some("10"));
    assert_eq!(r.header("X-RateLimit-Remaining"), Some("0"));
    assert_eq!(
        r.header("X-RateLimit-Reset").map(str::to_owned),
        reset.map(|v| v.to_string())
    );
    assert_eq!(
        r.header("Content-Type"),
        Some("application/json; charset=utf-8")
    );
    // Another client is not affected; routes without the limiter neither.
    let other = h
        .run(Call::post("auth/local", json!({})).ip([10, 0, 0, 2]))
        .await;
    assert_eq!(other.status, 400);
    let confirm = h
        .run(Call::get(
            "auth/email-confirmation",
            "auth/email-confirmation",
            None,
        ))
        .await;
    assert_eq!(confirm.status, 400);
    assert_eq!(confirm.header("X-RateLimit-Limit"), None);
}
both!(c20_21, super::c20_21_login_limit);

/// 22: varying `body.email` on login, reset and change password does not
/// buy a new counter.
async fn c22_email_does_not_reset(url: String) {
    let h = H::with(&url, |s| s.rate_limit_max = 10).await;
    for path in ["auth/local", "auth/reset-password", "auth/change-password"] {
        for i in 0..10 {
            let r = h
                .post(path, json!({"email": format!("attacker{i}@example.com")}))
                .await;
            assert_ne!(r.status, 429, "{path} request {i}");
        }
        let r = h.post(path, json!({"email": "fresh@example.com"})).await;
        r.assert_err(
            429,
            "RateLimitError",
            "Too many requests, please try again later.",
        );
    }
}
both!(c22, super::c22_email_does_not_reset);

/// Register, forgot-password and send-email-confirmation key on the
/// lower-cased email (Strapi's design): the same email in any case shares a
/// counter.
async fn email_keyed_routes(url: String) {
    let h = H::with(&url, |s| s.rate_limit_max = 2).await;
    for path in [
        "auth/forgot-password",
        "auth/send-email-confirmation",
        "auth/local/register",
    ] {
        for email in ["a@example.com", "A@EXAMPLE.com"] {
            assert_ne!(
                h.post(path, json!({"email": email})).await.status,
                429,
                "{path}"
            );
        }
        assert_eq!(
            h.post(path, json!({"email": "a@Example.com"})).await.status,
            429
        );
        assert_ne!(
            h.post(path, json!({"email": "b@example.com"})).await.status,
            429
        );
    }
}
both!(email_keyed, super::email_keyed_routes);

#[test]
fn keys_follow_strapi() {
    let p = policy();
    let k = |call: Call| key(&request(call, p.clone()));
    assert_eq!(
        k(Call::post("auth/local", json!({"email": "X@Y.com"}))),
        "noIdentifier:/api/auth/local:127.0.0.1|127.0.0.1"
    );
    assert_eq!(
        k(Call::post(
            "auth/forgot-password",
            json!({"email": "Victim@Example.com"})
        )
        .ip([198, 51, 100, 1])),
        "victim@example.com:/api/auth/forgot-password:198.51.100.1|198.51.100.1"
    );
    for body in [
        json!({}),
        json!({"email": 99}),
        json!({"email": {"nested": true}}),
        json!({"email": ""}),
    ] {
        assert_eq!(
            k(Call::post("auth/local/register", body)),
            "unknownIdentifier:/api/auth/local/register:127.0.0.1|127.0.0.1"
        );
    }
    assert_eq!(
        k(Call::post("auth/local/register", json!(null)).raw("not json")),
        "unknownIdentifier:/api/auth/local/register:127.0.0.1|127.0.0.1"
    );
    assert_eq!(
        k(Call::get("connect/*", "connect/google/callback", None).raw(r#"{"email":"a@b.co"}"#)),
        "noIdentifier:/api/connect/google/callback:127.0.0.1|127.0.0.1"
    );
    let mut no_ip = Call::post("auth/reset-password", json!({}));
    no_ip.ip = None;
    assert_eq!(
        k(no_ip),
        "noIdentifier:/api/auth/reset-password:unknown|unknown"
    );
}

#[tokio::test]
async fn authenticated_callers_are_keyed_by_user_id() {
    let p = policy();
    let state = portcullis_store::UserState {
        id: 42,
        role: "authenticated".into(),
        blocked: false,
        confirmed: true,
        tokens_valid_after: None,
    };
    let caller = portcullis_users_permissions::UpCaller::User(std::sync::Arc::new(state));
    let req = request(
        Call::post("auth/change-password", json!({"email": "a@b.co"})).caller(caller),
        p,
    );
    assert_eq!(
        key(&req),
        "noIdentifier:/api/auth/change-password:127.0.0.1|42"
    );
}

#[test]
fn path_normalization() {
    assert_eq!(normalize_path("/api/auth/local/"), "/api/auth/local");
    assert_eq!(normalize_path("//api//auth//local"), "/api/auth/local");
    assert_eq!(
        normalize_path("/api/auth/reset-password/../local"),
        "/api/auth/local"
    );
    assert_eq!(
        normalize_path("/API/Auth/Forgot-Password"),
        "/api/auth/forgot-password"
    );
    assert_eq!(normalize_path("/"), "/");
    assert_eq!(normalize_path("/.."), "/");
}

#[test]
fn memory_limiter_windows() {
    let l = MemoryRateLimiter::new();
    let w = Duration::from_secs(60);
    let t0 = 1_700_000_000_000;
    for i in 1..=3u32 {
        let d = l.hit_at("k", w, 3, t0 + i64::from(i) - 1);
        assert!(d.allowed);
        assert_eq!(d.remaining, 3 - i);
        assert_eq!(d.reset, 1_700_000_060);
    }
    assert!(!l.hit_at("k", w, 3, t0 + 59_999).allowed);
    // The window started at the first hit; after it a new one starts.
    let d = l.hit_at("k", w, 3, t0 + 60_000);
    assert!(d.allowed && d.remaining == 2 && d.reset == 1_700_000_120);
    // max 0 disables the limit, as in koa2-ratelimit.
    for _ in 0..5 {
        assert!(l.hit_at("z", w, 0, t0).allowed);
    }
    // Expired windows are swept.
    assert_eq!(l.len(), 2);
    l.hit_at("other", w, 3, t0 + 10 * 60_000);
    assert_eq!(l.len(), 1);
}

#[test]
fn memory_limiter_is_bounded() {
    let l = MemoryRateLimiter::with_max_keys(3);
    let w = Duration::from_secs(60);
    let t0 = 1_700_000_000_000;
    l.hit_at("a:/p:ip|1.1.1.1", w, 2, t0);
    l.hit_at("b:/p:ip|1.1.1.1", w, 2, t0);
    l.hit_at("c:/p:ip|1.1.1.1", w, 2, t0);
    // New keys from the same client share an overflow bucket...
    assert!(l.hit_at("d:/p:ip|1.1.1.1", w, 2, t0).allowed);
    assert!(l.hit_at("e:/p:ip|1.1.1.1", w, 2, t0).allowed);
    assert!(!l.hit_at("f:/p:ip|1.1.1.1", w, 2, t0).allowed);
    // ...existing keys keep their own counters.
    assert!(l.hit_at("a:/p:ip|1.1.1.1", w, 2, t0).allowed);
    assert!(l.len() <= 4);
}
