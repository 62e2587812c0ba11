//! INV-2 and CONTRACT §5: identity headers are the gateway's alone; method
//! and routing overrides never reach the upstream; `upstream.authorization`;
//! response hygiene.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::*;
use portcullis_tests::{EchoOptions, GatewayBuilder, Received, user_jwt};

/// Header names the client must never be able to set upstream, in the
/// spellings an attacker would try. Every value starts with `spoof`.
const SPOOFED: &[(&str, &str)] = &[
    ("X-User-Id", "spoof-1"),
    ("x-user-id", "spoof-2"),
    ("X_User_Id", "spoof-3"),
    ("x_user_id", "spoof-3b"),
    ("X-USER-ROLE", "spoof-admin"),
    ("X-User-Role", "spoof-admin2"),
    ("X-User-Email", "spoof@example.com"),
    ("X-Auth-Method", "spoof-jwt"),
    ("X_Auth_Method", "spoof-jwt2"),
    ("X-Auth-Token", "spoof-token"),
    ("X-Api-Token-Id", "spoof-7"),
    ("X_API_TOKEN_ID", "spoof-8"),
    ("X-Permission", "spoof-api::post.post.delete"),
    ("x_permission", "spoof-perm"),
    ("X-Strapi-User", "spoof-strapi"),
    ("X-Strapi-Admin", "spoof-true"),
    ("X-Forwarded-User", "spoof-fwd"),
    ("x_forwarded_user", "spoof-fwd2"),
    ("X-Gateway-Anything", "spoof-gw"),
    ("X-GATEWAY-VERIFIED", "spoof-yes"),
];

/// Normalizes a header name the way a CGI-ish upstream would merge them.
fn norm(name: &str) -> String {
    name.to_ascii_lowercase().replace('_', "-")
}

fn is_identity_family(name: &str) -> bool {
    let n = norm(name);
    [
        "x-user-",
        "x-auth-",
        "x-api-token-",
        "x-strapi-",
        "x-gateway-",
    ]
    .iter()
    .any(|p| n.starts_with(p))
        || n == "x-permission"
        || n == "x-forwarded-user"
}

/// No header (name or value) carries a client-supplied `spoof` value.
#[track_caller]
fn assert_no_spoof(seen: &Received, what: &str) {
    for (name, value) in &seen.headers {
        assert!(
            !value.contains("spoof"),
            "{what}: upstream received client value {name}: {value}"
        );
    }
}

/// The identity-family headers the upstream received, normalized and sorted.
fn identity_headers(seen: &Received) -> Vec<(String, String)> {
    let mut out: Vec<(String, String)> = seen
        .headers
        .iter()
        .filter(|(n, _)| is_identity_family(n))
        .map(|(n, v)| (norm(n), v.clone()))
        .collect();
    out.sort();
    out
}

fn pairs(items: &[(&str, &str)]) -> Vec<(String, String)> {
    let mut out: Vec<(String, String)> = items
        .iter()
        .map(|(n, v)| ((*n).to_owned(), (*v).to_owned()))
        .collect();
    out.sort();
    out
}

#[tokio::test]
async fn spoofed_identity_headers_are_replaced_by_the_gateways() {
    let (upstream, gw) = start(GatewayBuilder::new()).await;
    let http = gw.http();
    let id = create_user(&gw, "alice", &["--confirmed"]).await;
    let id_s = id.to_string();
    let auth = format!("Bearer {}", user_jwt(id));

    // Anonymous.
    let r = http.get_with("/api/posts", SPOOFED).await.unwrap();
    let seen = assert_forwarded(&upstream, &r, "anonymous + spoofed");
    assert_no_spoof(&seen, "anonymous + spoofed");
    assert_eq!(
        identity_headers(&seen),
        pairs(&[
            ("x-auth-method", "public"),
            ("x-permission", "api::post.post.find"),
            ("x-user-role", "public"),
        ]),
        "anonymous + spoofed: {:?}",
        seen.headers
    );
    upstream.clear();

    // A user.
    let mut headers = SPOOFED.to_vec();
    headers.push(("Authorization", &auth));
    let r = http.get_with("/api/posts/5", &headers).await.unwrap();
    let seen = assert_forwarded(&upstream, &r, "user + spoofed");
    assert_no_spoof(&seen, "user + spoofed");
    assert_eq!(
        identity_headers(&seen),
        pairs(&[
            ("x-auth-method", "jwt"),
            ("x-permission", "api::post.post.findOne"),
            ("x-user-id", &id_s),
            ("x-user-role", "authenticated"),
        ]),
        "user + spoofed: {:?}",
        seen.headers
    );
    upstream.clear();

    // Passthrough: no identity at all, and none of the client's.
    let r = http.get_with("/uploads/a.png", &headers).await.unwrap();
    let seen = assert_forwarded(&upstream, &r, "passthrough + spoofed");
    assert_no_spoof(&seen, "passthrough + spoofed");
    assert_eq!(identity_headers(&seen), vec![], "{:?}", seen.headers);
    upstream.clear();

    // Duplicate lines of the same header, before and after Authorization.
    let r = http
        .get_with(
            "/api/posts",
            &[
                ("X-User-Id", "spoof-a"),
                ("Authorization", &auth),
                ("X-User-Id", "spoof-b"),
                ("X-User-Role", "spoof-admin"),
                ("X-User-Role", "spoof-admin"),
            ],
        )
        .await
        .unwrap();
    let seen = assert_forwarded(&upstream, &r, "duplicates");
    assert_no_spoof(&seen, "duplicates");
    assert_eq!(seen.headers_named("x-user-id"), vec![id_s.as_str()]);
    assert_eq!(seen.headers_named("x-user-role"), vec!["authenticated"]);
    upstream.clear();

    // A spoofed header on a refused request changes nothing: still 403.
    let r = http
        .request(
            "DELETE",
            "/api/posts/1",
            &[
                ("X-User-Role", "admin"),
                ("X-Auth-Method", "api-token"),
                ("X-Permission", "api::post.post.delete"),
            ],
            None,
        )
        .await
        .unwrap();
    assert_403(&r, "DELETE with spoofed role");
    assert_untouched(&upstream, "DELETE with spoofed role");
}

#[tokio::test]
async fn headers_named_in_connection_cannot_drop_the_identity() {
    let (upstream, gw) = start(GatewayBuilder::new()).await;
    let http = gw.http();
    let id = create_user(&gw, "bob", &["--confirmed"]).await;
    let id_s = id.to_string();
    let auth = format!("Bearer {}", user_jwt(id));

    for connection in [
        "X-User-Id",
        "keep-alive, X-User-Role",
        "close, X-User-Id, X-User-Role, X-Auth-Method, X-Permission",
        "x_user_id",
        "X-Caller, X-User-Id",
    ] {
        let what = format!("Connection: {connection}");
        let r = http
            .get_with(
                "/api/posts",
                &[
                    ("Authorization", auth.as_str()),
                    ("Connection", connection),
                    ("X-User-Id", "spoof-9"),
                ],
            )
            .await
            .unwrap();
        let seen = assert_forwarded(&upstream, &r, &what);
        assert_no_spoof(&seen, &what);
        assert_identity(
            &seen,
            Some("jwt"),
            Some("api::post.post.find"),
            Some("authenticated"),
            Some(&id_s),
            &what,
        );
        for value in seen.headers_named("connection") {
            for token in value.split(',') {
                assert!(
                    !is_identity_family(token.trim()),
                    "{what}: upstream Connection names {token:?}"
                );
            }
        }
        upstream.clear();
    }

    // Any header the client names in Connection is hop-by-hop (RFC 9110
    // §7.6.1): removed, not forwarded.
    let r = http
        .get_with(
            "/api/posts",
            &[
                ("Connection", "keep-alive, X-Hop"),
                ("X-Hop", "hop"),
                ("X-Kept", "kept"),
            ],
        )
        .await
        .unwrap();
    let seen = assert_forwarded(&upstream, &r, "Connection: X-Hop");
    assert!(seen.headers_named("x-hop").is_empty(), "{:?}", seen.headers);
    assert_eq!(seen.headers_named("x-kept"), vec!["kept"]);
    upstream.clear();

    // Anonymous too: the public identity survives.
    let r = http
        .get_with(
            "/api/posts",
            &[("Connection", "X-Auth-Method, X-Permission, X-User-Role")],
        )
        .await
        .unwrap();
    let seen = assert_forwarded(&upstream, &r, "anonymous Connection trick");
    assert_identity(
        &seen,
        Some("public"),
        Some("api::post.post.find"),
        Some("public"),
        None,
        "anonymous Connection trick",
    );
}

#[tokio::test]
async fn method_and_routing_overrides_are_removed() {
    let (upstream, gw) = start(GatewayBuilder::new()).await;
    let http = gw.http();
    const OVERRIDES: &[(&str, &str)] = &[
        ("X-HTTP-Method-Override", "DELETE"),
        ("x-http-method-override", "PUT"),
        ("X_HTTP_Method_Override", "DELETE"),
        ("X-HTTP-Method", "DELETE"),
        ("X-Method-Override", "DELETE"),
        ("X-Original-URL", "/api/users"),
        ("X-Rewrite-URL", "/api/users"),
        ("x_original_url", "/admin"),
    ];
    let banned = [
        "x-http-method-override",
        "x-http-method",
        "x-method-override",
        "x-original-url",
        "x-rewrite-url",
    ];
    for (method, path) in [("GET", "/api/posts"), ("POST", "/api/newsletter")] {
        let what = format!("{method} {path} with overrides");
        let r = http
            .request(method, path, OVERRIDES, Some(b"{}"))
            .await
            .unwrap();
        let seen = assert_forwarded(&upstream, &r, &what);
        assert_eq!(seen.method, method, "{what}");
        assert_eq!(seen.target, path, "{what}");
        for (name, _) in &seen.headers {
            assert!(
                !banned.contains(&norm(name).as_str()),
                "{what}: upstream received {name}: {:?}",
                seen.headers
            );
        }
        upstream.clear();
    }
    // An override cannot turn a refused request into an allowed one either.
    let r = http
        .request(
            "POST",
            "/api/posts",
            &[("X-HTTP-Method-Override", "GET")],
            Some(b"{}"),
        )
        .await
        .unwrap();
    assert_403(&r, "POST with X-HTTP-Method-Override: GET");
    assert_untouched(&upstream, "POST with override");
}

#[tokio::test]
async fn configured_identity_header_names() {
    let (upstream, gw) = start(GatewayBuilder::new().section(
        "headers",
        "user_id: X-Caller-Id\nuser_role: X-Caller-Role\nauth_method: X-Caller-Auth\ntoken_id: X-Caller-Token\naction: X-Caller-Action",
    ))
    .await;
    let http = gw.http();
    let id = create_user(&gw, "carol", &["--confirmed"]).await;
    let id_s = id.to_string();
    let auth = format!("Bearer {}", user_jwt(id));
    let spoofed: &[(&str, &str)] = &[
        ("Authorization", &auth),
        ("X-Caller-Id", "spoof-1"),
        ("x_caller_id", "spoof-2"),
        ("X-CALLER-ROLE", "spoof-admin"),
        ("X-Caller-Auth", "spoof-api-token"),
        ("X-Caller-Token", "spoof-3"),
        ("x-caller-action", "spoof-delete"),
        ("X-User-Id", "spoof-4"),
    ];
    let r = http.get_with("/api/posts", spoofed).await.unwrap();
    let seen = assert_forwarded(&upstream, &r, "configured names");
    assert_no_spoof(&seen, "configured names");
    assert_eq!(seen.headers_named("x-caller-id"), vec![id_s.as_str()]);
    assert_eq!(seen.headers_named("x-caller-role"), vec!["authenticated"]);
    assert_eq!(seen.headers_named("x-caller-auth"), vec!["jwt"]);
    assert_eq!(
        seen.headers_named("x-caller-action"),
        vec!["api::post.post.find"]
    );
    assert!(seen.headers_named("x-caller-token").is_empty());
    // The default names are neither set nor passed through.
    assert_eq!(identity_headers(&seen), vec![], "{:?}", seen.headers);
    upstream.clear();

    let r = http.get_with("/api/posts", &spoofed[1..]).await.unwrap();
    let seen = assert_forwarded(&upstream, &r, "configured names, anonymous");
    assert_no_spoof(&seen, "configured names, anonymous");
    assert!(seen.headers_named("x-caller-id").is_empty());
    assert_eq!(seen.headers_named("x-caller-role"), vec!["public"]);
    assert_eq!(seen.headers_named("x-caller-auth"), vec!["public"]);
    upstream.clear();

    // Responses lose the configured names too.
    upstream.set_options(
        EchoOptions::default()
            .header("X-Caller-Id", "999")
            .header("X-Caller-Role", "admin"),
    );
    let r = http.get("/api/posts").await.unwrap();
    assert_eq!(r.status, 200);
    assert_eq!(r.header("x-caller-id"), None, "{:?}", r.headers);
    assert_eq!(r.header("x-caller-role"), None, "{:?}", r.headers);
}

#[tokio::test]
async fn upstream_authorization_strip() {
    let (upstream, gw) =
        start(GatewayBuilder::new().section_extra("upstream", "authorization: strip")).await;
    let http = gw.http();
    let id = create_user(&gw, "dan", &["--confirmed"]).await;
    let token = user_jwt(id);
    let r = http.get_bearer("/api/posts", &token).await.unwrap();
    let seen = assert_forwarded(&upstream, &r, "strip, user");
    assert!(
        seen.headers_named("authorization").is_empty(),
        "{:?}",
        seen.headers
    );
    upstream.clear();
    let r = http
        .get_with("/api/posts", &[("Authorization", "Basic dXNlcjpwYXNz")])
        .await
        .unwrap();
    let seen = assert_forwarded(&upstream, &r, "strip, basic");
    assert!(
        seen.headers_named("authorization").is_empty(),
        "{:?}",
        seen.headers
    );
    upstream.clear();
    let r = http
        .get_with(
            "/api/posts",
            &[("Authorization", "Basic a"), ("Authorization", "Basic b")],
        )
        .await
        .unwrap();
    assert_eq!(r.status, 200, "two Authorization headers: {}", r.text());
    let seen = only_request(&upstream, "strip, two headers");
    assert!(
        seen.headers_named("authorization").is_empty(),
        "{:?}",
        seen.headers
    );
}

#[tokio::test]
async fn upstream_authorization_passthrough() {
    let (upstream, gw) =
        start(GatewayBuilder::new().section_extra("upstream", "authorization: passthrough")).await;
    let http = gw.http();
    let id = create_user(&gw, "erin", &["--confirmed"]).await;
    let token = user_jwt(id);
    let r = http.get_bearer("/api/posts", &token).await.unwrap();
    let seen = assert_forwarded(&upstream, &r, "passthrough, user");
    assert_eq!(
        seen.headers_named("authorization"),
        vec![format!("Bearer {token}").as_str()]
    );
    assert_eq!(seen.header("x-user-id"), Some(id.to_string().as_str()));
    upstream.clear();
    let r = http
        .get_with("/api/posts", &[("Authorization", "Basic dXNlcjpwYXNz")])
        .await
        .unwrap();
    let seen = assert_forwarded(&upstream, &r, "passthrough, basic");
    assert_eq!(
        seen.headers_named("authorization"),
        vec!["Basic dXNlcjpwYXNz"]
    );
    upstream.clear();
    let r = http.get("/api/posts").await.unwrap();
    let seen = assert_forwarded(&upstream, &r, "passthrough, none");
    assert!(
        seen.headers_named("authorization").is_empty(),
        "{:?}",
        seen.headers
    );
}

#[tokio::test]
async fn upstream_authorization_replace() {
    let (upstream, gw) = start(GatewayBuilder::new().section_extra(
        "upstream",
        "authorization: replace\ntoken: \"strapi-full-access-token\"",
    ))
    .await;
    let http = gw.http();
    let id = create_user(&gw, "frank", &["--confirmed"]).await;
    let token = user_jwt(id);
    let expected = vec!["Bearer strapi-full-access-token"];

    let r = http.get_bearer("/api/posts", &token).await.unwrap();
    let seen = assert_forwarded(&upstream, &r, "replace, user");
    assert_eq!(seen.headers_named("authorization"), expected);
    assert_eq!(seen.header("x-user-id"), Some(id.to_string().as_str()));
    upstream.clear();

    let r = http.get("/api/posts").await.unwrap();
    let seen = assert_forwarded(&upstream, &r, "replace, anonymous");
    assert_eq!(seen.headers_named("authorization"), expected);
    upstream.clear();

    let r = http
        .get_with(
            "/api/posts",
            &[
                ("Authorization", "Basic a"),
                ("authorization", "Bearer b c"),
            ],
        )
        .await
        .unwrap();
    let seen = assert_forwarded(&upstream, &r, "replace, two client headers");
    assert_eq!(seen.headers_named("authorization"), expected);
}

#[tokio::test]
async fn identity_headers_and_powered_by_never_reach_the_client() {
    let (upstream, gw) = start_with(
        GatewayBuilder::new(),
        EchoOptions::default()
            .header("X-Powered-By", "Express")
            .header("X-User-Id", "999")
            .header("x-user-role", "admin")
            .header("X-Auth-Method", "jwt")
            .header("X-Permission", "api::post.post.delete")
            .header("X-Api-Token-Id", "3")
            .header("X-Strapi-Debug", "1")
            .header("Cache-Control", "max-age=60"),
    )
    .await;
    let http = gw.http();
    let id = create_user(&gw, "grace", &["--confirmed"]).await;
    let token = user_jwt(id);
    let stripped = [
        "x-powered-by",
        "x-user-id",
        "x-user-role",
        "x-auth-method",
        "x-permission",
        "x-api-token-id",
        "x-strapi-debug",
    ];
    let anon = http.get("/api/posts").await.unwrap();
    let user = http.get_bearer("/api/posts/1", &token).await.unwrap();
    let head = http.request("HEAD", "/api/posts", &[], None).await.unwrap();
    let uploads = http.get("/uploads/x.png").await.unwrap();
    for (what, r) in [
        ("anonymous", &anon),
        ("user", &user),
        ("HEAD", &head),
        ("passthrough", &uploads),
    ] {
        assert_eq!(r.status, 200, "{what}");
        for name in stripped {
            assert!(
                r.headers_named(name).is_empty(),
                "{what}: client saw {name}: {:?}",
                r.headers
            );
        }
        // Ordinary headers are forwarded unchanged.
        assert_eq!(r.header("cache-control"), Some("max-age=60"), "{what}");
    }
    assert_eq!(upstream.count(), 4);
}

/// RFC 9110 §7.6.1: the upstream's hop-by-hop headers describe its
/// connection to the gateway, not the client's. The client gets the
/// gateway's own `Connection` and none of the upstream's (a Node upstream's
/// `Keep-Alive: timeout=5` would tell it the wrong idle timeout), nor the
/// headers the upstream's `Connection` lists; the body framing stays.
#[tokio::test]
async fn upstream_hop_by_hop_headers_never_reach_the_client() {
    let (upstream, gw) = start_with(
        GatewayBuilder::new(),
        EchoOptions::default()
            .header("Connection", "keep-alive, X-Upstream-Hop, Content-Length")
            .header("Keep-Alive", "timeout=5")
            .header("Proxy-Connection", "keep-alive")
            .header("X-Upstream-Hop", "secret")
            .header("ETag", "\"v1\""),
    )
    .await;
    let http = gw.http();
    let request = http.build("GET", "/api/posts", &[], None, false);
    let responses = http
        .keep_alive(&[request.clone(), request.clone(), request])
        .await
        .unwrap();
    for (i, r) in responses.iter().enumerate() {
        assert_eq!(r.status, 200, "request {i}");
        for name in ["keep-alive", "proxy-connection", "x-upstream-hop"] {
            assert!(
                r.headers_named(name).is_empty(),
                "request {i}: client saw {name}: {:?}",
                r.headers
            );
        }
        assert_eq!(r.headers_named("connection"), ["keep-alive"], "request {i}");
        assert_eq!(r.header("etag"), Some("\"v1\""), "request {i}");
        assert_eq!(
            r.header("x-request-id").map(str::len),
            Some(32),
            "request {i}"
        );
        let echoed = r.json();
        assert_eq!(echoed["target"], "/api/posts", "request {i}");
        assert_eq!(
            r.header("content-length"),
            Some(r.body.len().to_string().as_str()),
            "request {i}"
        );
    }
    assert_eq!(upstream.count(), 3);
}
