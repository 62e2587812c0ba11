//! The gateway process: graceful shutdown on SIGTERM/SIGINT, upstream
//! failures (502/504), start-up errors, and policy hot reload with
//! last-known-good (INV-4).
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::time::{Duration, Instant};

use common::*;
use portcullis_tests::{DEFAULT_POLICY, EchoOptions, EchoUpstream, GatewayBuilder, Http, Received};
use tokio::net::TcpStream;

/// SIGTERM or SIGINT while a slow request is in flight.
async fn drains_on(signal: &str) {
    let upstream = EchoUpstream::start_with(EchoOptions {
        delay: Some(Duration::from_millis(1500)),
        ..EchoOptions::default()
    })
    .await
    .unwrap();
    let mut gw = GatewayBuilder::new()
        .upstream(upstream.url())
        .spawn()
        .await
        .unwrap();
    let http = gw.http();
    let in_flight = tokio::spawn(async move { http.get("/api/posts/1").await });
    assert!(
        eventually(Duration::from_secs(5), || async { upstream.count() == 1 }).await,
        "the slow request never reached the upstream"
    );
    let signalled = Instant::now();
    gw.signal(signal).await.unwrap();

    // New connections are refused once the listener is closed.
    let addr = gw.addr();
    assert!(
        eventually(Duration::from_secs(1), || async {
            TcpStream::connect(addr).await.is_err()
        })
        .await,
        "SIG{signal}: the listener still accepts connections"
    );
    // The request in flight completes normally.
    let r = in_flight.await.unwrap().unwrap();
    assert_eq!(
        r.status,
        200,
        "SIG{signal}: in-flight request: {}",
        r.text()
    );
    assert_eq!(r.json()["target"], "/api/posts/1");

    let status = gw
        .wait_exit(Duration::from_secs(30))
        .await
        .unwrap_or_else(|| panic!("SIG{signal}: still running 30 s after the signal"));
    assert_eq!(status.code(), Some(0), "SIG{signal}: exit status {status}");
    assert!(
        signalled.elapsed() < Duration::from_secs(10),
        "SIG{signal}: the drain took {:?} for a 1.5 s request",
        signalled.elapsed()
    );
    assert_eq!(upstream.count(), 1);
}

#[tokio::test]
async fn sigterm_drains_in_flight_requests_then_exits_0() {
    drains_on("TERM").await;
}

#[tokio::test]
async fn sigint_drains_in_flight_requests_then_exits_0() {
    drains_on("INT").await;
}

#[tokio::test]
async fn idle_gateway_exits_promptly_on_sigterm() {
    let mut gw = GatewayBuilder::new().spawn().await.unwrap();
    let start = Instant::now();
    gw.terminate().await.unwrap();
    let status = gw.wait_exit(Duration::from_secs(30)).await.unwrap();
    assert_eq!(status.code(), Some(0));
    assert!(
        start.elapsed() < Duration::from_secs(5),
        "{:?}",
        start.elapsed()
    );
}

#[tokio::test]
async fn unreachable_upstream_is_502() {
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let gw = GatewayBuilder::new()
        .upstream(format!("http://127.0.0.1:{port}"))
        .spawn()
        .await
        .unwrap();
    let start = Instant::now();
    let r = gw.http().get("/api/posts").await.unwrap();
    assert_error(
        &r,
        502,
        "BadGatewayError",
        "Bad Gateway",
        "refused upstream",
    );
    assert!(
        start.elapsed() < Duration::from_secs(5),
        "{:?}",
        start.elapsed()
    );
    // Refusals are still decided first: a 403 stays a 403.
    let r = gw
        .http()
        .request("DELETE", "/api/posts/1", &[], None)
        .await
        .unwrap();
    assert_403(&r, "DELETE with the upstream down");
    // And the gateway keeps serving.
    let r = gw.http().get("/uploads/x.png").await.unwrap();
    assert_error(
        &r,
        502,
        "BadGatewayError",
        "Bad Gateway",
        "refused upstream, passthrough",
    );
}

#[tokio::test]
async fn upstream_slower_than_read_timeout_is_504() {
    // Pingora runs timeouts under a second on its own timer and longer ones
    // on tokio's (the gateway's `fast_timeout_to_tokio_threshold_seconds`):
    // both must fire.
    for (timeout, at_least, delay) in [
        ("500ms", Duration::from_millis(400), Duration::from_secs(2)),
        (
            "1200ms",
            Duration::from_millis(1100),
            Duration::from_secs(3),
        ),
    ] {
        let upstream = EchoUpstream::start_with(EchoOptions {
            delay: Some(delay),
            ..EchoOptions::default()
        })
        .await
        .unwrap();
        let gw = GatewayBuilder::new()
            .upstream(upstream.url())
            .section_extra("upstream", format!("read_timeout: \"{timeout}\""))
            .spawn()
            .await
            .unwrap();
        let start = Instant::now();
        let r = gw.http().get("/api/posts").await.unwrap();
        let took = start.elapsed();
        assert_error(
            &r,
            504,
            "GatewayTimeoutError",
            "Gateway Timeout",
            "slow upstream",
        );
        // (A 504 at all proves the timeout fired: the upstream answers 200
        // after `delay`.)
        assert!(
            took >= at_least && took < delay,
            "504 after {took:?} with read_timeout {timeout}"
        );
        assert_eq!(upstream.count(), 1, "a timed-out request is not retried");
    }
}

/// 1-based line of the first line containing `needle` in `text`.
fn line_of(text: &str, needle: &str) -> usize {
    text.lines()
        .position(|l| l.contains(needle))
        .map(|i| i + 1)
        .unwrap_or_else(|| panic!("{needle:?} not in\n{text}"))
}

#[tokio::test]
async fn invalid_configuration_stops_the_start() {
    // An unknown key inside a section.
    let files = GatewayBuilder::new()
        .section_extra("server", "listne: \"127.0.0.1:1\"")
        .write()
        .await
        .unwrap();
    let text = std::fs::read_to_string(files.config_path()).unwrap();
    let line = line_of(&text, "listne:");
    let out = files.run_cli(&["serve"]).await.unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "serve started: {stderr}");
    assert!(
        stderr.contains(&format!("gateway.yaml:{line}:3")),
        "stderr should name gateway.yaml:{line}:3: {stderr}"
    );
    assert!(stderr.contains("listne"), "{stderr}");
    assert!(
        TcpStream::connect(files.addr()).await.is_err(),
        "something listens on the proxy port"
    );

    // An unknown top-level key.
    let files = GatewayBuilder::new()
        .yaml("bogus_section:\n  a: 1")
        .write()
        .await
        .unwrap();
    let text = std::fs::read_to_string(files.config_path()).unwrap();
    let line = line_of(&text, "bogus_section:");
    let out = files.run_cli(&["serve"]).await.unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "serve started: {stderr}");
    assert!(
        stderr.contains(&format!("gateway.yaml:{line}:1")),
        "stderr should name gateway.yaml:{line}:1: {stderr}"
    );

    // An unset environment variable without default.
    let files = GatewayBuilder::new()
        .section_extra("upstream", "token: \"${PORTCULLIS_E2E_SURELY_UNSET}\"")
        .write()
        .await
        .unwrap();
    let out = files.run_cli(&["serve"]).await.unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "serve started: {stderr}");
    assert!(stderr.contains("PORTCULLIS_E2E_SURELY_UNSET"), "{stderr}");
    assert!(stderr.contains("gateway.yaml:"), "{stderr}");

    // An invalid policy file.
    let files = GatewayBuilder::new()
        .policy_file(
            "bad.yaml",
            DEFAULT_POLICY.replace("[find, findOne]", "[find, findOne, fly]"),
        )
        .write()
        .await
        .unwrap();
    let out = files.run_cli(&["serve"]).await.unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "serve started: {stderr}");
    assert!(stderr.contains("bad.yaml:"), "{stderr}");
    assert!(stderr.contains("fly"), "{stderr}");
}

fn posts_received(upstream: &EchoUpstream) -> Vec<Received> {
    upstream
        .received()
        .into_iter()
        .filter(|r| r.method == "POST")
        .collect()
}

/// POST /api/posts anonymously: true when forwarded as `create`. (A reader
/// task shares the upstream, so only POSTs are counted.)
async fn anonymous_create_allowed(http: &Http, upstream: &EchoUpstream) -> bool {
    let before = posts_received(upstream).len();
    let r = http
        .request("POST", "/api/posts", &[], Some(b"{}"))
        .await
        .unwrap();
    let after = posts_received(upstream);
    match r.status {
        200 => {
            assert_eq!(after.len(), before + 1, "{after:?}");
            let seen = after.last().unwrap();
            assert_eq!(seen.header("x-permission"), Some("api::post.post.create"));
            assert_eq!(seen.header("x-auth-method"), Some("public"));
            true
        }
        403 => {
            assert_eq!(r.text(), FORBIDDEN);
            assert_eq!(after.len(), before, "a refused POST reached the upstream");
            false
        }
        other => panic!("anonymous POST /api/posts: {other} {}", r.text()),
    }
}

#[tokio::test]
async fn policy_reload_and_last_known_good() {
    let (upstream, gw) = start(
        GatewayBuilder::new()
            .section_extra("policies", "watch: true")
            .policy_file("default.yaml", DEFAULT_POLICY),
    )
    .await;
    let http = gw.http();
    assert!(!anonymous_create_allowed(&http, &upstream).await);

    // Readers during the reloads: find is allowed by every policy version,
    // so every one of these must succeed.
    let reader_http = http.clone();
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let stop_reader = stop.clone();
    let reader = tokio::spawn(async move {
        let mut n = 0usize;
        while !stop_reader.load(std::sync::atomic::Ordering::SeqCst) {
            let r = reader_http.get("/api/posts").await.unwrap();
            assert_eq!(r.status, 200, "GET during reload: {}", r.text());
            n += 1;
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
        n
    });

    let granting = DEFAULT_POLICY.replace(
        "api::post.post: [find, findOne]\n",
        "api::post.post: [find, findOne, create]\n",
    );
    assert_ne!(granting, DEFAULT_POLICY);
    gw.write_policy("default.yaml", &granting).unwrap();
    let reloaded = eventually(Duration::from_secs(3), || async {
        let r = http
            .request("POST", "/api/posts", &[], Some(b"{}"))
            .await
            .unwrap();
        r.status == 200
    })
    .await;
    assert!(reloaded, "the new policy was not active within 3 s");
    assert!(anonymous_create_allowed(&http, &upstream).await);

    // An invalid edit: the last good policy keeps deciding.
    let invalid = granting.replace("[find, findOne, create]", "[find, findOne, create, fly]");
    gw.write_policy("default.yaml", &invalid).unwrap();
    let rejected = eventually(Duration::from_secs(4), || async {
        gw.stderr().contains("rejected")
    })
    .await;
    assert!(rejected, "no rejected reload in the log:\n{}", gw.stderr());
    assert!(
        gw.stderr().contains("fly"),
        "the log should say what is wrong:\n{}",
        gw.stderr()
    );
    assert!(anonymous_create_allowed(&http, &upstream).await);
    // A broken YAML file and a duplicate role in a second file: same.
    gw.write_policy("default.yaml", "roles: [\n").unwrap();
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert!(anonymous_create_allowed(&http, &upstream).await);
    gw.write_policy("default.yaml", &granting).unwrap();
    gw.write_policy(
        "extra.yaml",
        "roles:\n  public:\n    name: Public\n    description: again\n    permissions: {}\n",
    )
    .unwrap();
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert!(anonymous_create_allowed(&http, &upstream).await);
    std::fs::remove_file(gw.policies_dir().join("extra.yaml")).unwrap();

    // A valid edit after the rejections is picked up again.
    gw.write_policy("default.yaml", DEFAULT_POLICY).unwrap();
    let revoked = eventually(Duration::from_secs(3), || async {
        let r = http
            .request("POST", "/api/posts", &[], Some(b"{}"))
            .await
            .unwrap();
        r.status == 403
    })
    .await;
    assert!(revoked, "the revoking policy was not active within 3 s");
    assert!(!anonymous_create_allowed(&http, &upstream).await);

    stop.store(true, std::sync::atomic::Ordering::SeqCst);
    let reads = reader.await.unwrap();
    assert!(reads > 10, "only {reads} reads during the reloads");
}
