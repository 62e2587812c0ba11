//! Tests of the kit itself: the echo upstream, the raw client and the
//! gateway spawner (against a fake `portcullis` script, so these tests do
//! not depend on the real binary being built or working).

use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

use super::*;

#[tokio::test]
async fn echo_records_headers_and_content_length_body() {
    let up = EchoUpstream::start().await.unwrap();
    let http = Http::new(up.addr());
    let res = http
        .request(
            "POST",
            "/api/posts?x=1",
            &[
                ("X-Custom", "a"),
                ("x-custom", "b"),
                ("Content-Type", "text/plain"),
            ],
            Some(b"hello body"),
        )
        .await
        .unwrap();
    assert_eq!(res.status, 200);
    assert_eq!(res.header("content-type"), Some("application/json"));
    let got = up.last().unwrap();
    assert_eq!(got.method, "POST");
    assert_eq!(got.target, "/api/posts?x=1");
    assert_eq!(got.path(), "/api/posts");
    assert_eq!(got.body, b"hello body");
    assert_eq!(got.headers_named("X-CUSTOM"), vec!["a", "b"]);
    let names: Vec<&str> = got.headers.iter().map(|(k, _)| k.as_str()).collect();
    assert_eq!(
        names,
        [
            "Host",
            "X-Custom",
            "x-custom",
            "Content-Type",
            "Content-Length",
            "Connection"
        ]
    );
    // The response body is the same record as JSON.
    let json = res.json();
    assert_eq!(json["method"], "POST");
    assert_eq!(json["target"], "/api/posts?x=1");
    assert_eq!(json["body"], "hello body");
    assert_eq!(json["headers"][1], serde_json::json!(["X-Custom", "a"]));
    assert_eq!(up.count(), 1);
    assert_eq!(up.connections(), 1);
}

#[tokio::test]
async fn echo_decodes_chunked_bodies() {
    let up = EchoUpstream::start().await.unwrap();
    let req =
        b"POST /c HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n\
                5\r\nhello\r\n7;ext=1\r\n, world\r\n0\r\nTrailer: t\r\n\r\n";
    let res = raw_request(up.addr(), req).await.unwrap();
    assert_eq!(res.status, 200);
    let got = up.last().unwrap();
    assert_eq!(got.body_text(), "hello, world");
    assert_eq!(got.header("transfer-encoding"), Some("chunked"));
}

#[tokio::test]
async fn echo_keeps_connections_alive_and_pipelines() {
    let up = EchoUpstream::start().await.unwrap();
    let http = Http::new(up.addr());
    let first = http.build("GET", "/one", &[], None, false);
    let second = http.build("POST", "/two", &[], Some(b"2"), false);
    let res = http
        .keep_alive(&[first.clone(), second.clone()])
        .await
        .unwrap();
    assert_eq!(res.len(), 2);
    assert_eq!(res[0].json()["target"], "/one");
    assert_eq!(res[1].json()["body"], "2");
    assert_eq!(up.count(), 2);
    assert_eq!(up.connections(), 1);

    up.clear();
    assert_eq!((up.count(), up.connections()), (0, 0));
    let res = http.pipelined(&[first, second]).await.unwrap();
    assert_eq!(res[1].json()["target"], "/two");
    assert_eq!((up.count(), up.connections()), (2, 1));
}

#[tokio::test]
async fn client_sends_the_target_bytes_unchanged() {
    let up = EchoUpstream::start().await.unwrap();
    let http = Http::new(up.addr());
    for target in [
        "/a/../b",
        "/api/%70osts",
        "//api/posts",
        "/api/posts/./1;x?a=%2e%2e",
    ] {
        let res = http.get(target).await.unwrap();
        assert_eq!(res.json()["target"], target);
        assert_eq!(up.last().unwrap().target, target);
    }
}

#[tokio::test]
async fn echo_options_status_headers_delay_and_head() {
    let options = EchoOptions {
        status: 503,
        ..EchoOptions::default()
    }
    .header("X-Powered-By", "Express")
    .header("X-User-Id", "999");
    let up = EchoUpstream::start_with(options).await.unwrap();
    let http = Http::new(up.addr());
    let res = http.get("/").await.unwrap();
    assert_eq!(res.status, 503);
    assert_eq!(res.header("x-powered-by"), Some("Express"));
    assert_eq!(res.header("X-USER-ID"), Some("999"));

    let head = http.request("HEAD", "/h", &[], None).await.unwrap();
    assert!(head.body.is_empty());
    assert!(head.header("content-length").is_some());

    up.set_options(EchoOptions {
        delay: Some(Duration::from_millis(600)),
        ..EchoOptions::default()
    });
    let slow = http.clone().with_timeout(Duration::from_millis(200));
    assert!(slow.get("/slow").await.is_err());
    assert_eq!(http.get("/slow").await.unwrap().status, 200);
}

#[tokio::test]
async fn assert_untouched_sees_bare_connections() {
    let up = EchoUpstream::start().await.unwrap();
    up.assert_untouched().unwrap();
    let conn = tokio::net::TcpStream::connect(up.addr()).await.unwrap();
    drop(conn);
    for _ in 0..100 {
        if up.connections() == 1 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert!(up.assert_untouched().is_err());
}

/// A one-shot server that answers with canned bytes and closes.
async fn canned(response: &'static [u8]) -> std::net::SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        let (mut s, _) = listener.accept().await.unwrap();
        let mut buf = [0u8; 4096];
        let _ = s.read(&mut buf).await;
        s.write_all(response).await.unwrap();
        s.shutdown().await.unwrap();
    });
    addr
}

#[tokio::test]
async fn client_reads_chunked_until_close_and_skips_100() {
    let addr = canned(
        b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 201 Created\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n",
    )
    .await;
    let res = Http::new(addr).get("/").await.unwrap();
    assert_eq!(
        (res.status, res.reason.as_str(), res.text().as_str()),
        (201, "Created", "abc")
    );

    let addr = canned(b"HTTP/1.0 404 Not Found\r\nX-A: 1\r\n\r\nuntil close").await;
    let res = Http::new(addr).get("/").await.unwrap();
    assert_eq!((res.status, res.text().as_str()), (404, "until close"));
    assert!(res.try_json().is_err());

    let addr = canned(b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n").await;
    let raw = raw_exchange(addr, b"GARBAGE\r\n\r\n").await.unwrap();
    assert!(raw.starts_with(b"HTTP/1.1 400"));
}

const FAKE_GATEWAY: &str = r#"#!/usr/bin/env python3
import re, signal, socket, sys, time
args = sys.argv[1:]
text = open(args[args.index("--config") + 1]).read()
if args[0] != "serve":
    print("cli:" + " ".join(args[:-2]) + ":" + sys.stdin.read())
    sys.exit(0)
if "fail_please" in text:
    print("config error: fail_please", file=sys.stderr)
    sys.exit(1)
host, port = re.search(r'listen: "([^"]+)"', text).group(1).rsplit(":", 1)
def term(*_):
    print("draining", flush=True)
    sys.exit(0)
signal.signal(signal.SIGTERM, term)
s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind((host, int(port)))
s.listen()
print("listening on " + port, flush=True)
print("a warning", file=sys.stderr, flush=True)
while True:
    time.sleep(0.05)
"#;

fn fake_binary(dir: &std::path::Path) -> std::path::PathBuf {
    use std::os::unix::fs::PermissionsExt;
    let path = dir.join("fake-portcullis");
    std::fs::write(&path, FAKE_GATEWAY).unwrap();
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
    path
}

#[tokio::test]
async fn gateway_spawns_logs_runs_cli_and_terminates() {
    let bin_dir = tempfile::tempdir().unwrap();
    let bin = fake_binary(bin_dir.path());
    let mut gw = GatewayBuilder::new()
        .upstream("http://127.0.0.1:1")
        .section("users_permissions", "allow_register: true")
        .spawn_binary(&bin)
        .await
        .unwrap();
    let config = std::fs::read_to_string(gw.config_path()).unwrap();
    assert!(config.contains(&format!("listen: \"{}\"", gw.addr())));
    assert!(config.contains(&format!("admin_listen: \"{}\"", gw.admin_addr())));
    assert!(config.contains("users_permissions:\n  allow_register: true\n"));
    assert!(config.contains(&format!("sqlite://{}/portcullis.db", gw.dir().display())));
    let policy = std::fs::read_to_string(gw.policies_dir().join("default.yaml")).unwrap();
    assert_eq!(policy, DEFAULT_POLICY);
    assert!(gw.logs().contains("listening on"));
    assert!(gw.stderr().contains("a warning"));

    let out = gw
        .run_cli_stdin(&["user", "create", "--password-stdin"], Some(b"s3cret"))
        .await
        .unwrap();
    assert!(out.status.success());
    assert_eq!(
        String::from_utf8_lossy(&out.stdout).trim(),
        "cli:user create --password-stdin:s3cret"
    );

    gw.terminate().await.unwrap();
    let status = gw.wait_exit(Duration::from_secs(10)).await.unwrap();
    assert!(status.success());
    assert!(gw.stdout().contains("draining"));
}

#[tokio::test]
async fn gateway_start_failure_reports_stderr() {
    let bin_dir = tempfile::tempdir().unwrap();
    let bin = fake_binary(bin_dir.path());
    let err = GatewayBuilder::new()
        .yaml("fail_please: true")
        .spawn_binary(&bin)
        .await
        .err()
        .unwrap();
    let msg = format!("{err:#}");
    assert!(msg.contains("config error: fail_please"), "{msg}");
}

/// Locates (and builds) the real binary; ignored by default because it
/// compiles the whole gateway. `cargo test -p portcullis-tests --lib -- --ignored`.
#[tokio::test]
#[ignore = "builds the real portcullis binary"]
async fn real_binary_is_found_and_built() {
    let bin = tokio::task::spawn_blocking(portcullis_bin)
        .await
        .unwrap()
        .unwrap();
    assert!(bin.ends_with("portcullis"), "{}", bin.display());
    assert!(bin.is_file());
}
