//! CONTRACT §4 decisions through the real proxy, default policy
//! (`DEFAULT_POLICY`): who is allowed, what the upstream is told, and that
//! every refusal (401/403/404) leaves the upstream untouched (INV-1).
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::*;
use portcullis_tests::{
    Algorithm, GatewayBuilder, TEST_JWT_SECRET, expired_user_jwt, jwt, jwt_with_alg, now,
    unsigned_jwt, unsigned_jwt_with_header, user_claims, user_jwt, user_jwt_without_exp,
    user_jwt_wrong_secret,
};
use serde_json::json;

const POST_FIND: &str = "api::post.post.find";
const POST_FIND_ONE: &str = "api::post.post.findOne";

#[tokio::test]
async fn anonymous_callers_are_decided_by_the_public_role() {
    let (upstream, gw) = start(GatewayBuilder::new()).await;
    let http = gw.http();

    // Allowed: public has find / findOne.
    let r = http.get("/api/posts").await.unwrap();
    let seen = assert_forwarded(&upstream, &r, "GET /api/posts");
    assert_eq!(seen.method, "GET");
    assert_eq!(seen.target, "/api/posts");
    assert_identity(
        &seen,
        Some("public"),
        Some(POST_FIND),
        Some("public"),
        None,
        "GET /api/posts",
    );
    // The client gets the upstream's answer (the echo of the request).
    assert_eq!(r.json()["target"], "/api/posts");
    upstream.clear();

    let r = http.get("/api/posts/1").await.unwrap();
    let seen = assert_forwarded(&upstream, &r, "GET /api/posts/1");
    assert_eq!(seen.target, "/api/posts/1");
    assert_identity(
        &seen,
        Some("public"),
        Some(POST_FIND_ONE),
        Some("public"),
        None,
        "GET /api/posts/1",
    );
    upstream.clear();

    // HEAD is decided as GET (find).
    let r = http.request("HEAD", "/api/posts", &[], None).await.unwrap();
    let seen = assert_forwarded(&upstream, &r, "HEAD /api/posts");
    assert_eq!(seen.method, "HEAD");
    assert_eq!(seen.target, "/api/posts");
    assert_identity(
        &seen,
        Some("public"),
        Some(POST_FIND),
        Some("public"),
        None,
        "HEAD /api/posts",
    );
    assert!(r.body.is_empty(), "HEAD answered with a body");
    upstream.clear();

    // Refused: public has permissions, but not this action → 403, exact bytes.
    let r = http
        .post_json("/api/posts", &[], &json!({"data": {"title": "x"}}))
        .await
        .unwrap();
    assert_eq!(r.status, 403);
    assert_eq!(r.text(), FORBIDDEN);
    assert_untouched(&upstream, "anonymous POST /api/posts");

    for (method, path) in [
        ("DELETE", "/api/posts/1"),
        ("PUT", "/api/posts/1"),
        ("GET", "/api/site-setting"),
        ("PUT", "/api/site-setting"),
        ("DELETE", "/api/site-setting"),
    ] {
        let r = http.request(method, path, &[], None).await.unwrap();
        assert_403(&r, &format!("anonymous {method} {path}"));
        assert_untouched(&upstream, &format!("anonymous {method} {path}"));
    }

    // HEAD on a refused resource: 403 status, no body, not forwarded.
    let r = http
        .request("HEAD", "/api/site-setting", &[], None)
        .await
        .unwrap();
    assert_eq!(r.status, 403, "HEAD /api/site-setting");
    assert_untouched(&upstream, "HEAD /api/site-setting");
}

#[tokio::test]
async fn custom_routes_are_checked_before_the_defaults() {
    let (upstream, gw) = start(GatewayBuilder::new()).await;
    let http = gw.http();

    let r = http.get("/api/posts/7/related").await.unwrap();
    let seen = assert_forwarded(&upstream, &r, "GET /api/posts/7/related");
    assert_eq!(seen.target, "/api/posts/7/related");
    assert_identity(
        &seen,
        Some("public"),
        Some(POST_FIND_ONE),
        Some("public"),
        None,
        "related",
    );
    upstream.clear();

    let r = http
        .post_json("/api/newsletter", &[], &json!({"email": "a@example.com"}))
        .await
        .unwrap();
    let seen = assert_forwarded(&upstream, &r, "POST /api/newsletter");
    assert_eq!(seen.method, "POST");
    assert_eq!(seen.target, "/api/newsletter");
    assert_eq!(seen.body_text(), r#"{"email":"a@example.com"}"#);
    assert_identity(
        &seen,
        Some("public"),
        Some("api::newsletter.newsletter.subscribe"),
        Some("public"),
        None,
        "newsletter",
    );
    upstream.clear();

    // The custom route is method-specific: DELETE on it has no route.
    let r = http
        .request("DELETE", "/api/posts/7/related", &[], None)
        .await
        .unwrap();
    assert_404(&r, "DELETE /api/posts/7/related");
    assert_untouched(&upstream, "DELETE /api/posts/7/related");
    let r = http.get("/api/newsletter").await.unwrap();
    assert_404(&r, "GET /api/newsletter");
    assert_untouched(&upstream, "GET /api/newsletter");
}

#[tokio::test]
async fn public_role_without_any_permission_answers_401() {
    let policy = r#"content_types:
  - uid: api::post.post
    kind: collectionType
    plural: posts
roles:
  public:
    name: Public
    description: nothing at all
    permissions: {}
  authenticated:
    name: Authenticated
    description: Default role given to authenticated user.
    permissions:
      api::post.post: [find]
"#;
    let (upstream, gw) = start(GatewayBuilder::new().policy_file("p.yaml", policy)).await;
    let http = gw.http();
    for (method, path) in [("GET", "/api/posts"), ("POST", "/api/posts")] {
        let r = http.request(method, path, &[], None).await.unwrap();
        assert_401_missing(&r, &format!("anonymous {method} {path}"));
        assert_untouched(&upstream, &format!("anonymous {method} {path}"));
    }
    // An unknown path is still a 404, not a 401.
    let r = http.get("/api/nothing").await.unwrap();
    assert_404(&r, "GET /api/nothing");
    assert_untouched(&upstream, "GET /api/nothing");

    // A user of a role that has the action is still let through.
    let id = create_user(&gw, "carol", &["--confirmed"]).await;
    let r = http.get_bearer("/api/posts", &user_jwt(id)).await.unwrap();
    let seen = assert_forwarded(&upstream, &r, "carol GET /api/posts");
    assert_identity(
        &seen,
        Some("jwt"),
        Some(POST_FIND),
        Some("authenticated"),
        Some(&id.to_string()),
        "carol",
    );
}

#[tokio::test]
async fn user_jwt_decisions() {
    let (upstream, gw) = start(GatewayBuilder::new()).await;
    let http = gw.http();
    let out = gw
        .run_cli_stdin(
            &[
                "user",
                "create",
                "--username",
                "alice",
                "--email",
                "alice@example.com",
                "--password-stdin",
                "--confirmed",
            ],
            Some(b"Test1234"),
        )
        .await
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    let alice = parse_user_id(&String::from_utf8_lossy(&out.stdout));
    let blocked = create_user(&gw, "mallory", &["--confirmed", "--blocked"]).await;
    assert_ne!(alice, blocked);
    let token = user_jwt(alice);

    let r = http.get_bearer("/api/posts", &token).await.unwrap();
    let seen = assert_forwarded(&upstream, &r, "alice GET /api/posts");
    assert_eq!(seen.target, "/api/posts");
    assert_identity(
        &seen,
        Some("jwt"),
        Some(POST_FIND),
        Some("authenticated"),
        Some(&alice.to_string()),
        "alice GET /api/posts",
    );
    // Default `upstream.authorization: strip`.
    assert_eq!(seen.header("authorization"), None, "{:?}", seen.headers);
    upstream.clear();

    // The authenticated role has create.
    let auth = format!("Bearer {token}");
    let r = http
        .post_json(
            "/api/posts",
            &[("Authorization", &auth)],
            &json!({"data": {}}),
        )
        .await
        .unwrap();
    let seen = assert_forwarded(&upstream, &r, "alice POST /api/posts");
    assert_eq!(seen.method, "POST");
    assert_identity(
        &seen,
        Some("jwt"),
        Some("api::post.post.create"),
        Some("authenticated"),
        Some(&alice.to_string()),
        "alice POST /api/posts",
    );
    upstream.clear();

    // The scheme is case-insensitive, as in Strapi.
    let r = http
        .get_with(
            "/api/posts/3",
            &[("Authorization", &format!("bearer {token}"))],
        )
        .await
        .unwrap();
    let seen = assert_forwarded(&upstream, &r, "alice lower-case bearer");
    assert_identity(
        &seen,
        Some("jwt"),
        Some(POST_FIND_ONE),
        Some("authenticated"),
        Some(&alice.to_string()),
        "lower-case bearer",
    );
    upstream.clear();

    // The role lacks the action → 403.
    for (method, path) in [
        ("DELETE", "/api/posts/1"),
        ("PUT", "/api/posts/1"),
        ("PUT", "/api/site-setting"),
    ] {
        let r = http
            .request(method, path, &[("Authorization", &auth)], None)
            .await
            .unwrap();
        assert_403(&r, &format!("alice {method} {path}"));
        assert_untouched(&upstream, &format!("alice {method} {path}"));
    }

    // A valid token of a user that does not exist (deleted) → 401 Invalid credentials.
    let r = http
        .get_bearer("/api/posts", &user_jwt(alice + blocked + 1000))
        .await
        .unwrap();
    assert_401_invalid(&r, "deleted user");
    assert_untouched(&upstream, "deleted user");

    // A blocked user → 401 Invalid credentials, also on a public route.
    for path in ["/api/posts", "/api/posts/1"] {
        let r = http.get_bearer(path, &user_jwt(blocked)).await.unwrap();
        assert_401_invalid(&r, &format!("blocked user GET {path}"));
        assert_untouched(&upstream, "blocked user");
    }
}

#[tokio::test]
async fn invalid_tokens_are_401_even_on_public_routes() {
    let (upstream, gw) = start(GatewayBuilder::new()).await;
    let http = gw.http();
    // A real user, so that a token accepted by mistake would be a 200.
    let id = create_user(&gw, "dave", &["--confirmed"]).await;
    let t = now();
    let cases: Vec<(&str, String)> = vec![
        ("garbage", "not-a-jwt".to_owned()),
        ("two parts", "abc.def".to_owned()),
        ("empty segments", "..".to_owned()),
        ("expired", expired_user_jwt(id)),
        ("wrong secret", user_jwt_wrong_secret(id)),
        ("alg none", unsigned_jwt(&user_claims(id))),
        (
            "alg None",
            unsigned_jwt_with_header(&json!({"alg": "None", "typ": "JWT"}), &user_claims(id)),
        ),
        (
            "HS512",
            jwt_with_alg(Algorithm::HS512, TEST_JWT_SECRET, &user_claims(id)),
        ),
        (
            "HS384",
            jwt_with_alg(Algorithm::HS384, TEST_JWT_SECRET, &user_claims(id)),
        ),
        ("no exp", user_jwt_without_exp(id)),
        (
            "no id claim",
            jwt(TEST_JWT_SECRET, &json!({"iat": t, "exp": t + 3600})),
        ),
        (
            "string id claim",
            jwt(
                TEST_JWT_SECRET,
                &json!({"id": "1 OR 1=1", "iat": t, "exp": t + 3600}),
            ),
        ),
        ("signature stripped", {
            let valid = user_jwt(id);
            let cut = valid.rfind('.').unwrap();
            valid[..=cut].to_owned()
        }),
    ];
    for (what, token) in &cases {
        for path in ["/api/posts", "/api/posts/1"] {
            let r = http.get_bearer(path, token).await.unwrap();
            assert_401_missing(&r, &format!("{what} token, GET {path}"));
            assert_untouched(&upstream, &format!("{what} token, GET {path}"));
        }
    }
    // Control: the same user's valid token is allowed.
    let r = http.get_bearer("/api/posts", &user_jwt(id)).await.unwrap();
    let seen = assert_forwarded(&upstream, &r, "valid token");
    assert_eq!(seen.header("x-user-id"), Some(id.to_string().as_str()));
}

#[tokio::test]
async fn credentials_that_are_not_a_bearer_header_are_anonymous() {
    let (upstream, gw) = start(GatewayBuilder::new()).await;
    let http = gw.http();
    let id = create_user(&gw, "erin", &["--confirmed"]).await;
    let token = user_jwt(id);

    let basic_jwt = format!("Basic {token}");
    let extra_part = format!("Bearer {token} extra");
    let token_scheme = format!("Token {token}");
    for auth in [
        "Basic x",
        "Bearer a b",
        basic_jwt.as_str(),
        extra_part.as_str(),
        token_scheme.as_str(),
    ] {
        let what = format!("Authorization: {auth}");
        let r = http
            .get_with("/api/posts", &[("Authorization", auth)])
            .await
            .unwrap();
        let seen = assert_forwarded(&upstream, &r, &what);
        assert_identity(
            &seen,
            Some("public"),
            Some(POST_FIND),
            Some("public"),
            None,
            &what,
        );
        upstream.clear();
        // Anonymous, so the authenticated-only action is refused.
        let r = http
            .request(
                "POST",
                "/api/posts",
                &[("Authorization", auth)],
                Some(b"{}"),
            )
            .await
            .unwrap();
        assert_403(&r, &format!("{what}, POST"));
        assert_untouched(&upstream, &format!("{what}, POST"));
    }

    // A token in the query string is not a credential.
    let target = format!("/api/posts?token={token}");
    let r = http.get(&target).await.unwrap();
    let seen = assert_forwarded(&upstream, &r, "?token=");
    assert_eq!(seen.target, target, "query forwarded unchanged");
    assert_identity(
        &seen,
        Some("public"),
        Some(POST_FIND),
        Some("public"),
        None,
        "?token=",
    );
    upstream.clear();
    let r = http
        .request(
            "POST",
            &format!("/api/posts?token={token}&access_token={token}"),
            &[],
            Some(b"{}"),
        )
        .await
        .unwrap();
    assert_403(&r, "POST ?token=");
    assert_untouched(&upstream, "POST ?token=");
}

#[tokio::test]
async fn unknown_api_paths_are_404_and_never_forwarded() {
    let (upstream, gw) = start(GatewayBuilder::new()).await;
    let http = gw.http();
    let id = create_user(&gw, "frank", &["--confirmed"]).await;
    let auth = format!("Bearer {}", user_jwt(id));
    for (method, path) in [
        ("GET", "/api/nothing"),
        ("PATCH", "/api/posts/1"),
        ("PATCH", "/api/posts"),
        ("GET", "/api/post"),
        ("GET", "/api/postsx"),
        ("POST", "/api/site-setting"),
        ("GET", "/api/posts/1/2"),
        ("GET", "/api/site-setting/1"),
        ("GET", "/api"),
        ("GET", "/api/"),
        ("TRACE", "/api/posts"),
    ] {
        for (who, headers) in [
            ("anonymous", vec![]),
            ("user", vec![("Authorization", auth.as_str())]),
        ] {
            let what = format!("{who} {method} {path}");
            let r = http.request(method, path, &headers, None).await.unwrap();
            assert_404(&r, &what);
            assert_untouched(&upstream, &what);
        }
    }
}

#[tokio::test]
async fn users_permissions_routes_are_never_forwarded() {
    let (upstream, gw) = start(GatewayBuilder::new()).await;
    let http = gw.http();
    let id = create_user(&gw, "grace", &["--confirmed"]).await;
    let auth = format!("Bearer {}", user_jwt(id));
    let body = json!({"identifier": "grace", "password": "Test1234"});
    for (method, path, authed) in [
        ("POST", "/api/auth/local", false),
        ("POST", "/api/auth/local/register", false),
        ("POST", "/api/auth/forgot-password", false),
        ("GET", "/api/users/me", true),
        ("GET", "/api/users/me", false),
        ("GET", "/api/users", false),
        ("GET", "/api/users-permissions/roles", true),
        ("GET", "/api/connect/github", false),
    ] {
        let what = format!("{method} {path} (authenticated: {authed})");
        let headers: Vec<(&str, &str)> = if authed {
            vec![
                ("Authorization", auth.as_str()),
                ("Content-Type", "application/json"),
            ]
        } else {
            vec![("Content-Type", "application/json")]
        };
        let payload = body.to_string();
        let r = http
            .request(method, path, &headers, Some(payload.as_bytes()))
            .await
            .unwrap();
        // Served by the gateway (or not yet): whatever the answer, the
        // upstream never sees these routes.
        assert!(r.status != 502 && r.status != 504, "{what}: {}", r.status);
        assert_untouched(&upstream, &what);
    }
}

#[tokio::test]
async fn paths_outside_the_api_prefix() {
    let (upstream, gw) = start(GatewayBuilder::new()).await;
    let http = gw.http();
    let id = create_user(&gw, "heidi", &["--confirmed"]).await;
    let auth = format!("Bearer {}", user_jwt(id));

    // Passthrough prefix: forwarded without checks and without identity.
    let r = http.get("/uploads/x.png").await.unwrap();
    let seen = assert_forwarded(&upstream, &r, "GET /uploads/x.png");
    assert_eq!(seen.target, "/uploads/x.png");
    assert_identity(&seen, None, None, None, None, "GET /uploads/x.png");
    upstream.clear();

    // Even with a valid JWT and spoofed identity, nothing identity-like goes up.
    let r = http
        .get_with(
            "/uploads/a/b.jpg?w=10",
            &[
                ("Authorization", auth.as_str()),
                ("X-User-Id", "1"),
                ("X-Auth-Method", "jwt"),
            ],
        )
        .await
        .unwrap();
    let seen = assert_forwarded(&upstream, &r, "GET /uploads with JWT");
    assert_eq!(seen.target, "/uploads/a/b.jpg?w=10");
    assert_identity(&seen, None, None, None, None, "GET /uploads with JWT");
    assert_eq!(seen.header("authorization"), None, "authorization stripped");
    upstream.clear();

    // Everything else outside the API prefix is 404 and never forwarded.
    for (method, path) in [
        ("GET", "/admin"),
        ("GET", "/admin/"),
        ("POST", "/admin/login"),
        ("GET", "/"),
        ("GET", "/uploadsx/a.png"),
        ("GET", "/_health"),
        ("GET", "/content-manager/collection-types/api::post.post"),
    ] {
        let what = format!("{method} {path}");
        let r = http.request(method, path, &[], None).await.unwrap();
        assert_404(&r, &what);
        assert_untouched(&upstream, &what);
    }
}
