//! Issue 6, item 3: policy reloads under load. Anonymous `GET /api/posts`
//! is allowed by both policy versions, so while the file is rewritten five
//! times not one of ~300 requests, sent over several keep-alive
//! connections, may fail; `/metrics` counts the reloads.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use portcullis_tests::{DEFAULT_POLICY, GatewayBuilder, Http};

use common::{eventually, start};

const WORKERS: usize = 4;
/// Requests per connection.
const BATCH: usize = 5;
/// Each worker sends at least this many.
const PER_WORKER: usize = 75;
const REWRITES: usize = 5;

/// What one worker saw: requests sent, and every failure.
async fn worker(http: Http, stop: Arc<AtomicBool>) -> (usize, Vec<String>) {
    let mut sent = 0;
    let mut failures = Vec::new();
    while sent < PER_WORKER || !stop.load(Ordering::SeqCst) {
        let requests: Vec<Vec<u8>> = (0..BATCH)
            .map(|i| http.build("GET", "/api/posts", &[], None, i + 1 == BATCH))
            .collect();
        match http.keep_alive(&requests).await {
            Ok(responses) => {
                for r in responses {
                    if !(200..300).contains(&r.status) {
                        failures.push(format!("{} {}", r.status, r.text()));
                    }
                }
            }
            Err(e) => failures.push(format!("transport: {e:#}")),
        }
        sent += BATCH;
        tokio::time::sleep(Duration::from_millis(450)).await;
    }
    (sent, failures)
}

/// `portcullis_policy_reloads_total{result="…"}` from `/metrics`.
async fn reloads(http: &Http, result: &str) -> u64 {
    let text = http.get("/metrics").await.unwrap().text();
    let key = format!("portcullis_policy_reloads_total{{result=\"{result}\"}}");
    text.lines()
        .find_map(|l| l.strip_prefix(key.as_str()))
        .map_or(0, |v| v.trim().parse::<f64>().unwrap() as u64)
}

#[tokio::test]
async fn policy_reload_under_load_drops_nothing() {
    // Version B = the default policy; version A also lets the public role
    // create posts (observable), both allow find.
    let b = DEFAULT_POLICY.to_owned();
    let a = DEFAULT_POLICY.replace(
        "api::post.post: [find, findOne]\n      api::newsletter",
        "api::post.post: [find, findOne, create]\n      api::newsletter",
    );
    assert_ne!(a, b);
    let (upstream, gw) = start(
        GatewayBuilder::new()
            .section_extra("policies", "watch: true")
            .policy_file("default.yaml", b.clone()),
    )
    .await;
    gw.wait_admin().await.unwrap();
    let admin = gw.admin_http();
    assert_eq!(reloads(&admin, "ok").await, 0);
    let http = gw.http();
    let r = http
        .request("POST", "/api/posts", &[], Some(b"{}"))
        .await
        .unwrap();
    assert_eq!(r.status, 403, "version B refuses create: {}", r.text());

    let stop = Arc::new(AtomicBool::new(false));
    let workers: Vec<_> = (0..WORKERS)
        .map(|_| tokio::spawn(worker(http.clone(), stop.clone())))
        .collect();
    // A, B, A, B, A: each held longer than the 1 s poll.
    for i in 0..REWRITES {
        tokio::time::sleep(Duration::from_millis(1200)).await;
        let text = if i % 2 == 0 { &a } else { &b };
        gw.write_policy("default.yaml", text).unwrap();
    }
    tokio::time::sleep(Duration::from_millis(1200)).await;
    stop.store(true, Ordering::SeqCst);

    let mut total = 0;
    let mut failures = Vec::new();
    for w in workers {
        let (sent, failed) = w.await.unwrap();
        total += sent;
        failures.extend(failed);
    }
    assert!(total >= WORKERS * PER_WORKER, "only {total} requests sent");
    assert!(
        failures.is_empty(),
        "{} of {total} requests failed during the reloads: {:?}",
        failures.len(),
        &failures[..failures.len().min(10)]
    );
    let forwarded = upstream
        .received()
        .iter()
        .filter(|r| r.method == "GET" && r.target == "/api/posts")
        .count();
    assert_eq!(forwarded, total, "every GET reached the upstream once");

    // The last version written (A) is the one deciding.
    let active = eventually(Duration::from_secs(3), || async {
        let r = http
            .request("POST", "/api/posts", &[], Some(b"{}"))
            .await
            .unwrap();
        r.status == 200
    })
    .await;
    assert!(active, "version A is not active after the rewrites");
    let ok = reloads(&admin, "ok").await;
    assert!(
        ok >= 1,
        "portcullis_policy_reloads_total{{result=\"ok\"}} = {ok}"
    );
    assert_eq!(reloads(&admin, "rejected").await, 0);
    eprintln!("{total} requests, {ok} reloads, no failure");
}
