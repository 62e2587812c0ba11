//! Threat class 1 (path canonicalization) and INV-3 (the path authorized is
//! the path forwarded), plus class 4 (framing / smuggling through the
//! gateway). Request-targets are written to the socket byte for byte.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::net::SocketAddr;
use std::time::Duration;

use common::*;
use portcullis_tests::{Gateway, GatewayBuilder, raw_request, user_jwt};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// `portcullis explain GET <raw>`: the canonical path it prints, or None
/// when it refuses the path (decision 400).
async fn explain_canonical(gw: &Gateway, method: &str, raw: &str) -> Option<String> {
    let out = gw.run_cli(&["explain", method, raw]).await.unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(out.status.success(), "explain {raw}: {out:?}");
    if stdout.contains("decision:  400") {
        return None;
    }
    let line = stdout
        .lines()
        .find_map(|l| l.strip_prefix("canonical:"))
        .unwrap_or_else(|| panic!("explain {raw}: no canonical line in {stdout}"));
    Some(line.trim().to_owned())
}

#[tokio::test]
async fn the_upstream_receives_the_canonical_path() {
    let (upstream, gw) = start(GatewayBuilder::new()).await;
    let http = gw.http();
    let cases: &[(&str, &str, &str)] = &[
        // (raw target, what the upstream must receive, action)
        ("/API/Posts/AbC", "/api/posts/AbC", "findOne"),
        ("/Api/POSTS", "/api/posts", "find"),
        ("//api//posts/", "/api/posts", "find"),
        ("/api/posts/", "/api/posts", "find"),
        ("/api/posts//1//", "/api/posts/1", "findOne"),
        ("/api/%70osts", "/api/posts", "find"),
        ("/%61%70%69/%70%6F%73%74%73/%31", "/api/posts/1", "findOne"),
        ("/api/posts/1/../2", "/api/posts/2", "findOne"),
        ("/api/./posts", "/api/posts", "find"),
        ("/api/posts/.", "/api/posts", "find"),
        ("/api/posts/1/%2e%2e/2", "/api/posts/2", "findOne"),
        ("/api/posts/1/%2E%2e/%2e/3", "/api/posts/3", "findOne"),
        ("/api/posts/%2e%2e/posts/4", "/api/posts/4", "findOne"),
        ("/api/site-setting/../posts/5", "/api/posts/5", "findOne"),
        ("/uploads/../api/posts/6", "/api/posts/6", "findOne"),
        ("/api/posts/..x", "/api/posts/..x", "findOne"),
        ("/api/posts/a%3ab", "/api/posts/a%3Ab", "findOne"),
        ("/api/posts/%C3%A9", "/api/posts/%C3%A9", "findOne"),
        ("/api/posts/7/Related", "/api/posts/7/related", "findOne"),
        (
            "/api/posts?filters[title][$eq]=a%20b&x=1",
            "/api/posts?filters[title][$eq]=a%20b&x=1",
            "find",
        ),
        (
            "//api/./posts/../posts/?populate=*&a=%2F..%2F&&b",
            "/api/posts?populate=*&a=%2F..%2F&&b",
            "find",
        ),
        ("/api/posts/1?", "/api/posts/1?", "findOne"),
    ];
    for (raw, expected, action) in cases {
        let what = format!("GET {raw}");
        let r = http.get(raw).await.unwrap();
        let seen = assert_forwarded(&upstream, &r, &what);
        assert_eq!(seen.target, *expected, "{what}: target upstream");
        assert_eq!(
            seen.header("x-permission"),
            Some(format!("api::post.post.{action}").as_str()),
            "{what}"
        );
        // INV-3: the path explain says is authorized is what went upstream.
        let canonical = explain_canonical(&gw, "GET", raw).await;
        assert_eq!(
            canonical.as_deref(),
            Some(seen.path()),
            "{what}: explain vs upstream"
        );
        upstream.clear();
    }
}

#[tokio::test]
async fn decisions_are_made_on_the_resolved_path() {
    let (upstream, gw) = start(GatewayBuilder::new()).await;
    let http = gw.http();
    let id = create_user(&gw, "alice", &["--confirmed"]).await;
    let auth = format!("Bearer {}", user_jwt(id));

    // Resolving to a path with no route: 404, not forwarded.
    for raw in [
        "/api/posts/%2e%2e/x",
        "/api/posts/../nothing",
        "/api/posts/1/../../../admin",
        "/uploads/../admin",
        "/uploads/%2e%2e/admin/",
        "/uploads/./../api/nothing",
    ] {
        let r = http.get(raw).await.unwrap();
        assert_404(&r, &format!("GET {raw}"));
        assert_untouched(&upstream, &format!("GET {raw}"));
    }

    // Reaching a denied action through an allowed prefix: decided on the
    // resolved action, refused, not forwarded.
    for (method, raw) in [
        ("DELETE", "/api/posts/1/../2"),
        ("DELETE", "/uploads/../api/posts/1"),
        ("POST", "/uploads/%2e%2e/api/posts"),
        ("PUT", "/API/./Site-Setting/"),
    ] {
        let r = http.request(method, raw, &[], Some(b"{}")).await.unwrap();
        assert_403(&r, &format!("{method} {raw}"));
        assert_untouched(&upstream, &format!("{method} {raw}"));
    }

    // A Users & Permissions route reached through the passthrough prefix is
    // that route (served by the gateway or refused), never forwarded as a
    // file under /uploads.
    for (raw, authed) in [
        ("/uploads/../api/users/me", false),
        ("/uploads/../api/users/me", true),
        ("/uploads/%2e%2e/api/users", false),
        ("/api/posts/../users/me", false),
        ("/api/posts/..//users/me", true),
        ("/api/posts/../auth/local", false),
    ] {
        let what = format!("GET {raw} (authenticated: {authed})");
        let headers: Vec<(&str, &str)> = if authed {
            vec![("Authorization", auth.as_str())]
        } else {
            vec![]
        };
        let r = http.request("GET", raw, &headers, None).await.unwrap();
        if !authed {
            // The public role has neither `user.me` nor `user.find`, and
            // GET /api/auth/local is no route.
            assert!(
                [403, 404].contains(&r.status),
                "{what}: {} {}",
                r.status,
                r.text()
            );
        }
        // Whatever the gateway answers itself, the upstream saw nothing.
        assert_untouched(&upstream, &what);
    }
}

#[tokio::test]
async fn ambiguous_paths_are_refused_with_400() {
    let (upstream, gw) = start(GatewayBuilder::new()).await;
    let http = gw.http();
    let id = create_user(&gw, "bob", &["--confirmed"]).await;
    let auth = format!("Bearer {}", user_jwt(id));
    let cases = [
        "/api/posts/a%2fb",
        "/api/posts/a%2Fb",
        "/api%2fposts",
        "/api/posts/..%2f..%2fusers",
        "/api/posts/..%2F..%2Fusers%2Fme",
        "/uploads/..%2fapi%2fusers",
        "/uploads/..%2f..%2fetc%2fpasswd",
        "/api/posts/a%5cb",
        "/api/posts/a%5Cb",
        "/api/posts/%00",
        "/api/posts/1%00.json",
        "/api/posts/a%0ab",
        "/api/posts/a%0D%0Ab",
        "/api/posts/a%09",
        "/api/posts/%7f",
        "/api/posts/%zz",
        "/api/posts/%g0",
        "/api/posts/a%",
        "/api/posts/a%2",
        "/api/posts%",
        "/..",
        "/../api/posts",
        "/api/../../api/posts",
        "/api/posts/../../../etc/passwd",
        "/%2e%2e/api/posts",
    ];
    for raw in cases {
        for (who, headers) in [
            ("anonymous", vec![]),
            ("user", vec![("Authorization", auth.as_str())]),
        ] {
            let what = format!("{who} GET {raw}");
            let r = http.get_with(raw, &headers).await.unwrap();
            assert_400(&r, &what);
            assert_untouched(&upstream, &what);
        }
        // `explain` refuses the same paths.
        assert_eq!(
            explain_canonical(&gw, "GET", raw).await,
            None,
            "explain GET {raw}"
        );
    }

    // Bytes the HTTP parser may reject itself: either way a 400 and
    // nothing upstream.
    let host = format!("Host: {}\r\n", gw.addr());
    for raw in [
        b"/api/posts/a\\b".as_slice(),
        b"/api\\posts",
        b"/uploads\\..\\api\\users",
        "/api/posts/\u{e9}".as_bytes(),
        b"/api/posts/\xff",
        b"/api/posts/a\x01b",
    ] {
        let what = format!("GET {}", String::from_utf8_lossy(raw));
        let mut req = b"GET ".to_vec();
        req.extend_from_slice(raw);
        req.extend_from_slice(b" HTTP/1.1\r\n");
        req.extend_from_slice(host.as_bytes());
        req.extend_from_slice(b"Connection: close\r\n\r\n");
        match raw_request(gw.addr(), &req).await {
            Ok(r) => assert_eq!(r.status, 400, "{what}: {}", r.text()),
            // A parser that drops the connection without an answer is
            // acceptable; forwarding is not.
            Err(e) => eprintln!("{what}: no response ({e:#})"),
        }
        assert_untouched(&upstream, &what);
    }
}

/// Writes `bytes` on one connection and collects what comes back until the
/// peer closes or `limit` passes.
async fn exchange_for(addr: SocketAddr, bytes: &[u8], limit: Duration) -> Vec<u8> {
    let mut stream = TcpStream::connect(addr).await.unwrap();
    stream.write_all(bytes).await.unwrap();
    let mut out = Vec::new();
    let _ = tokio::time::timeout(limit, async {
        let mut buf = [0u8; 8192];
        loop {
            match stream.read(&mut buf).await {
                Ok(0) | Err(_) => break,
                Ok(n) => out.extend_from_slice(&buf[..n]),
            }
        }
    })
    .await;
    out
}

/// The status codes of every response in a raw byte stream.
fn statuses(bytes: &[u8]) -> Vec<u16> {
    let text = String::from_utf8_lossy(bytes);
    text.match_indices("HTTP/1.1 ")
        .filter_map(|(i, _)| text.get(i + 9..i + 12)?.parse().ok())
        .collect()
}

#[tokio::test]
async fn framing_ambiguities_never_smuggle_a_request_upstream() {
    let (upstream, gw) = start(GatewayBuilder::new()).await;
    let addr = gw.addr();
    let host = format!("Host: {addr}");
    // Each body hides `DELETE /api/posts/1`, refused for anonymous callers;
    // if it ever reaches the upstream, a request was smuggled past the
    // gateway's decision.
    let smuggled = format!("DELETE /api/posts/1 HTTP/1.1\r\n{host}\r\nContent-Length: 0\r\n\r\n");
    let attacks: Vec<(&str, String)> = vec![
        (
            "CL.TE",
            format!(
                "POST /api/newsletter HTTP/1.1\r\n{host}\r\nContent-Length: {}\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n{smuggled}",
                5 + smuggled.len()
            ),
        ),
        (
            "TE.CL",
            format!(
                "POST /api/newsletter HTTP/1.1\r\n{host}\r\nTransfer-Encoding: chunked\r\nContent-Length: 4\r\n\r\n{:x}\r\n{smuggled}\r\n0\r\n\r\n",
                smuggled.len()
            ),
        ),
        (
            "two Content-Length values",
            format!(
                "POST /api/newsletter HTTP/1.1\r\n{host}\r\nContent-Length: 0\r\nContent-Length: {}\r\n\r\n{smuggled}",
                smuggled.len()
            ),
        ),
        (
            "Content-Length list",
            format!(
                "POST /api/newsletter HTTP/1.1\r\n{host}\r\nContent-Length: 0, {}\r\n\r\n{smuggled}",
                smuggled.len()
            ),
        ),
        (
            "obfuscated Transfer-Encoding",
            format!(
                "POST /api/newsletter HTTP/1.1\r\n{host}\r\nContent-Length: {}\r\nTransfer-Encoding: xchunked\r\n\r\n0\r\n\r\n{smuggled}",
                5 + smuggled.len()
            ),
        ),
        (
            "Transfer-Encoding: chunked, identity",
            format!(
                "POST /api/newsletter HTTP/1.1\r\n{host}\r\nTransfer-Encoding: chunked, identity\r\nContent-Length: {}\r\n\r\n0\r\n\r\n{smuggled}",
                5 + smuggled.len()
            ),
        ),
        (
            "space before colon",
            format!(
                "POST /api/newsletter HTTP/1.1\r\n{host}\r\nTransfer-Encoding : chunked\r\nContent-Length: {}\r\n\r\n0\r\n\r\n{smuggled}",
                5 + smuggled.len()
            ),
        ),
        (
            "bare LF line endings",
            format!(
                "POST /api/newsletter HTTP/1.1\n{host}\nContent-Length: {}\nTransfer-Encoding: chunked\n\n0\n\n{smuggled}",
                3 + smuggled.len()
            ),
        ),
    ];
    for (what, bytes) in &attacks {
        upstream.clear();
        let answer = exchange_for(addr, bytes.as_bytes(), Duration::from_millis(1500)).await;
        let codes = statuses(&answer);
        let received = upstream.received();
        eprintln!(
            "{what}: gateway answered {codes:?}, upstream got {}",
            received.len()
        );
        assert!(
            received.len() <= 1,
            "{what}: one client request became {} upstream: {received:?}",
            received.len()
        );
        for seen in &received {
            assert_eq!(seen.method, "POST", "{what}: smuggled {seen:?}");
            assert_eq!(seen.path(), "/api/newsletter", "{what}: {seen:?}");
            let te = seen.headers_named("transfer-encoding");
            let cl = seen.headers_named("content-length");
            assert!(
                te.len() + cl.len() <= 1,
                "{what}: upstream framing is ambiguous: {:?}",
                seen.headers
            );
        }
        // Whatever the gateway did with the trailing bytes, the hidden
        // DELETE was never answered 2xx.
        assert!(
            codes.iter().skip(1).all(|c| *c >= 400),
            "{what}: responses {codes:?}: {}",
            String::from_utf8_lossy(&answer)
        );
        assert!(
            !codes.is_empty() || received.is_empty(),
            "{what}: forwarded but no answer"
        );
    }
}

#[tokio::test]
async fn pipelined_requests_are_each_decided() {
    let (upstream, gw) = start(GatewayBuilder::new()).await;
    let http = gw.http();
    let id = create_user(&gw, "carol", &["--confirmed"]).await;
    let auth = format!("Bearer {}", user_jwt(id));

    // Allowed then refused on one connection, written at once. The
    // gateway may answer the second request (403) or close the connection
    // after the first (pipelining unsupported: the client retries); it must
    // never forward it.
    let host = format!("Host: {}", gw.addr());
    let bytes = format!(
        "GET /api/posts HTTP/1.1\r\n{host}\r\n\r\nDELETE /api/posts/1 HTTP/1.1\r\n{host}\r\nConnection: close\r\n\r\n"
    );
    let answer = exchange_for(gw.addr(), bytes.as_bytes(), Duration::from_secs(3)).await;
    let codes = statuses(&answer);
    assert_eq!(
        codes.first(),
        Some(&200),
        "{}",
        String::from_utf8_lossy(&answer)
    );
    assert!(
        codes.len() == 1 || codes[1..] == [403],
        "pipelined GET + DELETE: {codes:?}"
    );
    let received = upstream.received();
    assert_eq!(received.len(), 1, "{received:?}");
    assert_eq!(received[0].method, "GET");
    assert_eq!(received[0].target, "/api/posts");
    upstream.clear();

    // Refused first, then an allowed request that must not inherit anything.
    let bytes = format!(
        "DELETE /api/posts/1 HTTP/1.1\r\n{host}\r\n\r\nGET /api/posts/9 HTTP/1.1\r\n{host}\r\nConnection: close\r\n\r\n"
    );
    let answer = exchange_for(gw.addr(), bytes.as_bytes(), Duration::from_secs(3)).await;
    let codes = statuses(&answer);
    assert_eq!(
        codes.first(),
        Some(&403),
        "{}",
        String::from_utf8_lossy(&answer)
    );
    let received = upstream.received();
    assert!(
        received
            .iter()
            .all(|r| r.method == "GET" && r.target == "/api/posts/9"),
        "{received:?}"
    );
    assert_eq!(received.len(), codes.len() - 1, "{codes:?} {received:?}");
    upstream.clear();

    // Identity does not stick to a keep-alive connection: user, then
    // anonymous, then an anonymous refusal.
    let requests = vec![
        http.build(
            "GET",
            "/api/posts/1",
            &[("Authorization", &auth)],
            None,
            false,
        ),
        http.build("GET", "/api/posts/2", &[], None, false),
        http.build("DELETE", "/api/posts/2", &[], None, false),
        http.build("GET", "/api/posts/../users/me", &[], None, false),
        http.build("POST", "/api/posts", &[], Some(b"{}"), true),
    ];
    let responses = http.keep_alive(&requests).await.unwrap();
    assert_eq!(responses[0].status, 200);
    assert_eq!(responses[1].status, 200);
    assert_403(&responses[2], "keep-alive anonymous DELETE");
    assert_ne!(responses[3].status, 200);
    assert_403(&responses[4], "keep-alive anonymous POST");
    let received = upstream.received();
    assert_eq!(received.len(), 2, "{received:?}");
    assert_eq!(
        received[0].header("x-user-id"),
        Some(id.to_string().as_str())
    );
    assert_eq!(received[0].header("x-auth-method"), Some("jwt"));
    assert_eq!(received[1].target, "/api/posts/2");
    assert_eq!(
        received[1].header("x-user-id"),
        None,
        "{:?}",
        received[1].headers
    );
    assert_eq!(received[1].header("x-auth-method"), Some("public"));
    upstream.clear();
}
