//! Helpers shared by the end-to-end suites (each suite uses a subset).
#![allow(dead_code)]

use std::time::{Duration, Instant};

use portcullis_tests::{EchoOptions, EchoUpstream, Gateway, GatewayBuilder, RawResponse, Received};

/// Strapi's error envelope, byte for byte, with empty `details`.
pub fn envelope(status: u16, name: &str, message: &str) -> String {
    format!(
        r#"{{"data":null,"error":{{"status":{status},"name":"{name}","message":"{message}","details":{{}}}}}}"#
    )
}

pub const FORBIDDEN: &str = r#"{"data":null,"error":{"status":403,"name":"ForbiddenError","message":"Forbidden","details":{}}}"#;

/// Asserts an error answer: status and the exact envelope bytes.
#[track_caller]
pub fn assert_error(resp: &RawResponse, status: u16, name: &str, message: &str, what: &str) {
    assert_eq!(
        resp.status,
        status,
        "{what}: status (body {:?})",
        resp.text()
    );
    assert_eq!(resp.text(), envelope(status, name, message), "{what}: body");
    let ct = resp.header("content-type").unwrap_or_default();
    assert!(
        ct.starts_with("application/json"),
        "{what}: content-type {ct:?}"
    );
}

#[track_caller]
pub fn assert_404(resp: &RawResponse, what: &str) {
    assert_error(resp, 404, "NotFoundError", "Not Found", what);
}

#[track_caller]
pub fn assert_403(resp: &RawResponse, what: &str) {
    assert_error(resp, 403, "ForbiddenError", "Forbidden", what);
}

#[track_caller]
pub fn assert_401_missing(resp: &RawResponse, what: &str) {
    assert_error(
        resp,
        401,
        "UnauthorizedError",
        "Missing or invalid credentials",
        what,
    );
}

#[track_caller]
pub fn assert_401_invalid(resp: &RawResponse, what: &str) {
    assert_error(resp, 401, "UnauthorizedError", "Invalid credentials", what);
}

/// Asserts a 400 in the envelope (any message: the wording of a refused
/// path is the gateway's own).
#[track_caller]
pub fn assert_400(resp: &RawResponse, what: &str) {
    assert_eq!(resp.status, 400, "{what}: status (body {:?})", resp.text());
    let json = resp.json();
    assert_eq!(json["data"], serde_json::Value::Null, "{what}: {json}");
    assert_eq!(json["error"]["status"], 400, "{what}: {json}");
    assert!(json["error"]["name"].is_string(), "{what}: {json}");
    assert!(json["error"]["message"].is_string(), "{what}: {json}");
}

/// Asserts INV-1 for `upstream`, with a label.
#[track_caller]
pub fn assert_untouched(upstream: &EchoUpstream, what: &str) {
    if let Err(e) = upstream.assert_untouched() {
        panic!("{what}: {e:#}");
    }
}

/// The only request the upstream received since the last `clear()`.
#[track_caller]
pub fn only_request(upstream: &EchoUpstream, what: &str) -> Received {
    let all = upstream.received();
    assert_eq!(all.len(), 1, "{what}: upstream requests {all:?}");
    all.into_iter().next().unwrap_or_else(|| unreachable!())
}

/// Asserts the response is the echo upstream's 200 and returns what the
/// upstream received (exactly one request).
#[track_caller]
pub fn assert_forwarded(upstream: &EchoUpstream, resp: &RawResponse, what: &str) -> Received {
    assert_eq!(resp.status, 200, "{what}: status (body {:?})", resp.text());
    only_request(upstream, what)
}

/// Asserts the identity headers the upstream saw, each exactly once
/// (`None`: absent).
#[track_caller]
pub fn assert_identity(
    seen: &Received,
    auth: Option<&str>,
    permission: Option<&str>,
    role: Option<&str>,
    user_id: Option<&str>,
    what: &str,
) {
    for (name, want) in [
        ("x-auth-method", auth),
        ("x-permission", permission),
        ("x-user-role", role),
        ("x-user-id", user_id),
    ] {
        let got = seen.headers_named(name);
        match want {
            Some(v) => assert_eq!(got, vec![v], "{what}: {name} in {:?}", seen.headers),
            None => assert!(got.is_empty(), "{what}: {name} must be absent: {got:?}"),
        }
    }
    assert!(
        seen.headers_named("x-api-token-id").is_empty(),
        "{what}: x-api-token-id must be absent"
    );
}

/// A fresh echo upstream and a gateway in front of it.
pub async fn start(builder: GatewayBuilder) -> (EchoUpstream, Gateway) {
    start_with(builder, EchoOptions::default()).await
}

/// [`start`] with an upstream that answers as `options` say.
pub async fn start_with(builder: GatewayBuilder, options: EchoOptions) -> (EchoUpstream, Gateway) {
    let upstream = EchoUpstream::start_with(options).await.unwrap();
    let gateway = builder.upstream(upstream.url()).spawn().await.unwrap();
    (upstream, gateway)
}

/// `portcullis user create` with password `Test1234`; returns the new id.
pub async fn create_user(gw: &Gateway, username: &str, extra: &[&str]) -> i64 {
    let email = format!("{username}@example.com");
    let mut args = vec![
        "user",
        "create",
        "--username",
        username,
        "--email",
        &email,
        "--password-stdin",
    ];
    args.extend_from_slice(extra);
    let out = gw.run_cli_stdin(&args, Some(b"Test1234")).await.unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "user create {username} failed: {}\nstdout: {stdout}\nstderr: {}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    parse_user_id(&stdout)
}

/// The id in `created user <id> (…)`.
#[track_caller]
pub fn parse_user_id(stdout: &str) -> i64 {
    stdout
        .lines()
        .find_map(|l| l.strip_prefix("created user "))
        .and_then(|rest| rest.split_whitespace().next())
        .and_then(|id| id.parse().ok())
        .unwrap_or_else(|| panic!("no user id in {stdout:?}"))
}

/// Polls `f` every 100 ms until it returns true or `limit` passes.
pub async fn eventually<F, Fut>(limit: Duration, mut f: F) -> bool
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let deadline = Instant::now() + limit;
    loop {
        if f().await {
            return true;
        }
        if Instant::now() > deadline {
            return false;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}
