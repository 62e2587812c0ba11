//! Issue 6, end to end: what the gateway writes to its logs.
//!
//! * No secret ever reaches stdout or stderr: passwords, JWTs, API token
//!   secrets, reset codes (mailed, or withheld by the log mailer when no
//!   `email.smtp_url` is set), confirmation tokens, OAuth codes in a query
//!   string — whether the gateway answers the route or forwards it.
//! * Exactly one JSON `decision` line per request, with its fields.
//! * `X-Request-Id`: a client's is echoed and sent upstream; without one a
//!   32-hex id is generated, the same in the response, upstream and log.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;
#[allow(dead_code, unused_imports)]
#[path = "up/mod.rs"]
mod up;

use std::collections::HashMap;
use std::time::Duration;

use portcullis_tests::{GatewayBuilder, RawResponse};
use serde_json::{Value, json};

use common::eventually;
use up::{Env, PASSWORD, POLICY, builder, create_user, spawn_with};

const SECRET_PASSWORD: &str = "Sekr3t-Passw0rd-XYZ";
const NEW_PASSWORD: &str = "Sekr3t-Passw0rd-NEW";
const WRONG_PASSWORD: &str = "Wr0ng-Sekr3t-Passw0rd";
const BAD_BEARER: &str = "Sekr3t-not-a-jwt-bearer";
const OAUTH_CODE: &str = "oauth-code-123";

/// The JSON `decision` lines of the gateway's stderr, as `fields` objects.
fn decisions(text: &str) -> Vec<Value> {
    text.lines()
        .filter(|l| l.contains("\"decision\""))
        .map(|l| {
            serde_json::from_str::<Value>(l)
                .unwrap_or_else(|e| panic!("decision line is not JSON ({e}): {l}"))
        })
        .filter(|v| v["fields"]["message"] == "decision")
        .map(|v| {
            assert_eq!(v["target"], "portcullis::decision", "{v}");
            assert_eq!(v["level"], "INFO", "{v}");
            v["fields"].clone()
        })
        .collect()
}

/// Asserts `secret` appears nowhere in the logs, nor any 24-character
/// piece of it (a truncated token is still a leak).
#[track_caller]
fn assert_not_logged(logs: &str, secret: &str, what: &str) {
    assert!(secret.len() >= 8, "{what}: too short to check: {secret:?}");
    assert!(
        !logs.contains(secret),
        "{what} ({secret}) is in the logs:\n{logs}"
    );
    if secret.len() > 24 {
        for start in 0..=secret.len() - 24 {
            let piece = &secret[start..start + 24];
            assert!(
                !logs.contains(piece),
                "{what}: a piece of it ({piece}) is in the logs:\n{logs}"
            );
        }
    }
}

/// Waits until `n` decision lines were written (the line follows the
/// response), then gives the gateway a moment to write any extra one.
async fn settled_decisions(env: &Env, n: usize) -> Vec<Value> {
    let reached = eventually(Duration::from_secs(5), || async {
        decisions(&env.gw.stderr()).len() >= n
    })
    .await;
    assert!(
        reached,
        "{} decision lines, expected {n}:\n{}",
        decisions(&env.gw.stderr()).len(),
        env.gw.stderr()
    );
    tokio::time::sleep(Duration::from_millis(300)).await;
    decisions(&env.gw.stderr())
}

/// Records each response's request id and status, in order.
#[derive(Default)]
struct Sent {
    requests: Vec<(String, String, u16, String)>,
}

impl Sent {
    /// Notes `method path` answered `r`; the response must carry an id.
    #[track_caller]
    fn note(&mut self, method: &str, path: &str, r: &RawResponse) {
        let id = r
            .header("x-request-id")
            .unwrap_or_else(|| panic!("{method} {path}: no X-Request-Id in {:?}", r.headers))
            .to_owned();
        let canonical = path.split('?').next().unwrap_or_default().to_owned();
        self.requests
            .push((id, method.to_owned(), r.status, canonical));
    }
}

#[tokio::test]
async fn secrets_never_reach_the_logs_and_one_decision_per_request() {
    let env = spawn_with(|sink| builder(sink, "")).await;
    Box::pin(flow(&env)).await;
}

async fn flow(env: &Env) {
    let mut sent = Sent::default();
    create_user(&env.gw, "conny", &[]).await;
    let token = env.token("logs", "full-access", &[]).await;

    // Register and log in with a distinctive password.
    let path = "/api/auth/local/register";
    let r = env
        .post(
            path,
            None,
            json!({"username": "sekrit", "email": "sekrit@example.com", "password": SECRET_PASSWORD}),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text());
    let register_jwt = r.json()["jwt"].as_str().unwrap().to_owned();
    sent.note("POST", path, &r);
    let r = env.login("sekrit", SECRET_PASSWORD).await;
    assert_eq!(r.status, 200, "{}", r.text());
    let jwt = r.json()["jwt"].as_str().unwrap().to_owned();
    sent.note("POST", "/api/auth/local", &r);
    let r = env.login("sekrit", WRONG_PASSWORD).await;
    assert_eq!(r.status, 400);
    sent.note("POST", "/api/auth/local", &r);

    // The JWT and the API token, on a gateway route and a forwarded one.
    for (path, bearer) in [
        ("/api/users/me", jwt.as_str()),
        ("/api/posts", jwt.as_str()),
        ("/api/posts", token.as_str()),
        ("/api/users/me", BAD_BEARER),
    ] {
        let r = env.get(path, Some(bearer)).await;
        assert!(matches!(r.status, 200 | 401), "{path}: {}", r.text());
        sent.note("GET", path, &r);
    }
    // An OAuth code in a query string: forwarded, answered, unknown path.
    for (path, status) in [
        (format!("/api/posts?code={OAUTH_CODE}"), 200),
        (
            format!("/api/connect/github/callback?code={OAUTH_CODE}&state=s"),
            302,
        ),
        (format!("/api/nothing-here?code={OAUTH_CODE}"), 404),
    ] {
        let r = env.get(&path, None).await;
        assert_eq!(r.status, status, "{path}: {}", r.text());
        sent.note("GET", &path, &r);
    }
    assert!(
        env.upstream
            .received()
            .iter()
            .any(|r| r.target.contains(OAUTH_CODE)),
        "the forwarded query reached the upstream unchanged"
    );

    // Reset with the mailed code, confirm with the mailed token.
    let code = env.forgot_code("sekrit@example.com").await;
    sent.note(
        "POST",
        "/api/auth/forgot-password",
        &env.post(
            "/api/auth/forgot-password",
            None,
            json!({"email": "nobody@example.com"}),
        )
        .await,
    );
    let path = "/api/auth/reset-password";
    let r = env
        .post(
            path,
            None,
            json!({"code": code, "password": NEW_PASSWORD, "passwordConfirmation": NEW_PASSWORD}),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text());
    let reset_jwt = r.json()["jwt"].as_str().unwrap().to_owned();
    sent.note("POST", path, &r);
    let r = env
        .post(
            "/api/auth/send-email-confirmation",
            None,
            json!({"email": "conny@example.com"}),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text());
    sent.note("POST", "/api/auth/send-email-confirmation", &r);
    let confirmation = env
        .mail_to("conny@example.com", 0)
        .await
        .confirmation_token()
        .unwrap();
    let path = format!("/api/auth/email-confirmation?confirmation={confirmation}");
    let r = env.get(&path, None).await;
    assert_eq!(r.status, 302, "{}", r.text());
    sent.note("GET", &path, &r);
    // A refused path and a client request id.
    let r = env.get("/api/posts/..%2f..%2fetc", None).await;
    assert_eq!(r.status, 400, "{}", r.text());
    sent.note("GET", "-", &r);

    // The forgot-password for sekrit went through `forgot_code`: note it
    // from the log (its response was checked there).
    let decisions = settled_decisions(env, sent.requests.len() + 1).await;
    assert_eq!(
        decisions.len(),
        sent.requests.len() + 1,
        "one decision line per request:\n{}",
        env.gw.stderr()
    );
    let by_id: HashMap<&str, &Value> = decisions
        .iter()
        .map(|d| (d["request_id"].as_str().unwrap(), d))
        .collect();
    assert_eq!(by_id.len(), decisions.len(), "request ids are unique");
    for (id, method, status, path) in &sent.requests {
        let d = by_id
            .get(id.as_str())
            .unwrap_or_else(|| panic!("no decision line for {method} {path} ({id})"));
        assert_eq!(d["method"], method.as_str(), "{d}");
        assert_eq!(d["status"], *status, "{d}");
        if path != "-" {
            assert_eq!(d["path"], path.as_str(), "{d}");
        }
    }
    for d in &decisions {
        for field in [
            "request_id",
            "method",
            "path",
            "action",
            "auth",
            "outcome",
            "status",
            "reason",
            "policy",
            "latency_us",
        ] {
            assert!(d.get(field).is_some(), "decision without {field}: {d}");
        }
        assert!(d["latency_us"].is_u64(), "{d}");
        assert!(d["status"].is_u64(), "{d}");
        let id = d["request_id"].as_str().unwrap();
        assert!(
            id.len() == 32 && id.bytes().all(|b| b.is_ascii_hexdigit()),
            "generated request id {id}"
        );
    }
    let login = decisions
        .iter()
        .find(|d| d["path"] == "/api/auth/local" && d["status"] == 200)
        .unwrap();
    assert_eq!(login["action"], "plugin::users-permissions.auth.callback");
    assert_eq!(login["auth"], "public");
    let token_use = decisions.iter().find(|d| d["auth"] == "api-token").unwrap();
    assert_eq!(token_use["action"], "api::post.post.find", "{token_use}");

    // stderr is not a terminal: every line is a JSON object.
    for line in env.gw.stderr().lines().filter(|l| !l.trim().is_empty()) {
        let v: Value = serde_json::from_str(line)
            .unwrap_or_else(|e| panic!("not a JSON log line ({e}): {line}"));
        assert!(v["fields"]["message"].is_string(), "{line}");
    }

    // Not one secret anywhere, stdout included.
    let logs = env.gw.logs();
    let jwt_signature = |t: &str| t.rsplit('.').next().unwrap().to_owned();
    for (secret, what) in [
        (SECRET_PASSWORD.to_owned(), "the password"),
        (NEW_PASSWORD.to_owned(), "the new password"),
        (WRONG_PASSWORD.to_owned(), "a wrong password"),
        (BAD_BEARER.to_owned(), "an invalid bearer"),
        (jwt.clone(), "the login JWT"),
        (jwt_signature(&jwt), "the login JWT's signature"),
        (jwt_signature(&register_jwt), "the register JWT's signature"),
        (jwt_signature(&reset_jwt), "the reset JWT's signature"),
        (token.clone(), "the API token"),
        (code.clone(), "the reset code"),
        (confirmation.clone(), "the confirmation token"),
        (OAUTH_CODE.to_owned(), "the OAuth code"),
    ] {
        assert_not_logged(&logs, &secret, what);
    }
    // Sanity: the log is there and speaks of these requests.
    assert!(logs.contains("sekrit@example.com"), "{logs}");
}

#[tokio::test]
async fn request_ids() {
    let env = spawn_with(|sink| builder(sink, "")).await;
    let http = &env.http;

    // A client's id: echoed, sent upstream, logged.
    let r = http
        .get_with("/api/posts", &[("X-Request-Id", "client-req-42")])
        .await
        .unwrap();
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.header("x-request-id"), Some("client-req-42"));
    let seen = env.upstream.last().unwrap();
    assert_eq!(seen.headers_named("x-request-id"), vec!["client-req-42"]);
    // On a route the gateway answers itself, and on a refusal.
    let r = http
        .get_with("/api/users/me", &[("X-Request-Id", "client-req-43")])
        .await
        .unwrap();
    assert_eq!(r.status, 403);
    assert_eq!(r.header("x-request-id"), Some("client-req-43"));
    let r = http
        .request(
            "POST",
            "/api/auth/local",
            &[
                ("X-Request-Id", "client-req-44"),
                ("Content-Type", "application/json"),
            ],
            Some(br#"{"identifier":"x","password":"y"}"#),
        )
        .await
        .unwrap();
    assert_eq!(r.status, 400);
    assert_eq!(r.header("x-request-id"), Some("client-req-44"));

    // None, or one that is too long or not printable: a fresh 32-hex id,
    // the same in the response, upstream and the decision line.
    let long = "x".repeat(200);
    for headers in [
        vec![],
        vec![("X-Request-Id", long.as_str())],
        vec![("X-Request-Id", "has space")],
    ] {
        env.upstream.clear();
        let r = http.get_with("/api/posts", &headers).await.unwrap();
        assert_eq!(r.status, 200, "{}", r.text());
        let id = r.header("x-request-id").unwrap().to_owned();
        assert!(
            id.len() == 32 && id.bytes().all(|b| b.is_ascii_hexdigit()),
            "{headers:?}: {id}"
        );
        let seen = env.upstream.last().unwrap();
        assert_eq!(seen.headers_named("x-request-id"), vec![id.as_str()]);
        let logged = eventually(Duration::from_secs(5), || async {
            decisions(&env.gw.stderr())
                .iter()
                .any(|d| d["request_id"] == id.as_str())
        })
        .await;
        assert!(logged, "{id} not in a decision line");
    }
    let all = decisions(&env.gw.stderr());
    for id in ["client-req-42", "client-req-43", "client-req-44"] {
        assert_eq!(
            all.iter().filter(|d| d["request_id"] == id).count(),
            1,
            "{id}: {all:?}"
        );
    }
    // Two requests without an id get different ones.
    let a = http.get("/api/posts").await.unwrap();
    let b = http.get("/api/posts").await.unwrap();
    assert_ne!(a.header("x-request-id"), b.header("x-request-id"));
}

#[tokio::test]
async fn log_mailer_withholds_codes() {
    let env = spawn_with(|_| {
        GatewayBuilder::new()
            .policy_file("default.yaml", POLICY)
            .section(
                "users_permissions",
                "rate_limit: { interval: \"1m\", max: 1000 }",
            )
    })
    .await;
    assert!(
        env.gw.stderr().contains("email.smtp_url is not set"),
        "no start-up warning:\n{}",
        env.gw.stderr()
    );
    let alice = create_user(&env.gw, "alice", &[]).await;

    let r = env
        .post(
            "/api/auth/forgot-password",
            None,
            json!({"email": "alice@example.com"}),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text());
    let code = env
        .scalar(&format!(
            "SELECT reset_password_token FROM up_users WHERE id = {alice}"
        ))
        .await
        .expect("a code is stored");
    let r = env
        .post(
            "/api/auth/send-email-confirmation",
            None,
            json!({"email": "alice@example.com"}),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text());
    let confirmation = env
        .scalar(&format!(
            "SELECT confirmation_token FROM up_users WHERE id = {alice}"
        ))
        .await
        .expect("a token is stored");
    // The code still works (it was only withheld from the log).
    let r = env
        .post(
            "/api/auth/reset-password",
            None,
            json!({"code": code, "password": NEW_PASSWORD, "passwordConfirmation": NEW_PASSWORD}),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert!(env.sink.messages().is_empty(), "nothing went to the sink");

    let logged = eventually(Duration::from_secs(5), || async {
        decisions(&env.gw.stderr()).len() >= 3
    })
    .await;
    assert!(logged, "{}", env.gw.stderr());
    let logs = env.gw.logs();
    assert!(
        logs.contains("reset-password email for alice@example.com"),
        "the log mailer's line:\n{logs}"
    );
    assert!(
        logs.contains("confirmation email for alice@example.com"),
        "{logs}"
    );
    assert_not_logged(&logs, &code, "the reset code (log mailer)");
    assert_not_logged(&logs, &confirmation, "the confirmation token (log mailer)");
    assert_not_logged(&logs, NEW_PASSWORD, "the new password");
    assert_not_logged(&logs, PASSWORD, "the CLI user's password");
}
