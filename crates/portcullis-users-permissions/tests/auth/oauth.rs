//! OAuth entry points (126–128) and the refresh-mode routes in legacy mode
//! (120).

use serde_json::json;

use crate::both;
use crate::common::{Call, GITHUB_REDIRECT, H};

async fn connect(h: &H, path: &str, query: Option<&str>) -> crate::common::Resp {
    h.run(Call::get("connect/*", path, query).header("host", "gw.example:8080"))
        .await
}

/// 126: unknown, unconfigured or unsupported providers are disabled.
async fn c126_disabled(url: String) {
    let h = H::with(&url, |s| {
        s.providers
            .push(portcullis_users_permissions::ProviderSettings {
                name: "discord".into(),
                client_id: "d".into(),
                client_secret: "d".into(),
                redirect: "http://localhost:3000/connect/discord/redirect".into(),
            });
    })
    .await;
    for path in [
        "connect/google",
        "connect/email",
        "connect/discord",
        "connect/nope/callback",
    ] {
        connect(&h, path, None).await.assert_err(
            400,
            "ApplicationError",
            "This provider is disabled",
        );
    }
}
both!(c126, super::c126_disabled);

/// 127: no OAuth callback ever completes; disabled providers say so first.
async fn c127_callback(url: String) {
    let h = H::new(&url).await;
    let callback = |p: &str| {
        Call::get(
            "auth/:provider/callback",
            &format!("auth/{p}/callback"),
            Some("access_token=forged&id_token=x"),
        )
    };
    h.run(callback("github")).await.assert_err(
        400,
        "ApplicationError",
        "OAuth authentication requires a completed provider session",
    );
    h.run(callback("google")).await.assert_err(
        400,
        "ApplicationError",
        "This provider is disabled",
    );
}
both!(c127, super::c127_callback);

/// 128 and friends: a callback must match the configured redirect's origin
/// and path.
async fn c128_callback_validation(url: String) {
    let h = H::new(&url).await;
    for bad in [
        "https://evil.example/x",
        "http://localhost:3000/other",
        "http://localhost:3001/connect/github/redirect",
        "https://localhost:3000/connect/github/redirect",
        "http://localhost:3000@evil.example/connect/github/redirect",
        "http://evil.example\\@localhost:3000/connect/github/redirect",
        "http://localhost:3000/connect/github/redirect/../../../x",
        "//evil.example/connect/github/redirect",
        "javascript:alert(1)",
        "",
    ] {
        let query = format!(
            "callback={}",
            percent_encoding::utf8_percent_encode(bad, percent_encoding::NON_ALPHANUMERIC)
        );
        let r = connect(&h, "connect/github", Some(&query)).await;
        assert_eq!(r.status, 400, "{bad}: {}", r.text);
        assert_eq!(
            r.json,
            json!({"data": null, "error": {"status": 400, "name": "ValidationError",
                "message": "Invalid callback URL provided", "details": {"callback": bad}}}),
            "{bad}"
        );
    }
    for good in [
        GITHUB_REDIRECT,
        "http://LOCALHOST:3000/connect/github/redirect?next=/home",
        "HTTP://localhost:3000/connect/github/redirect#frag",
    ] {
        let query = format!(
            "callback={}",
            percent_encoding::utf8_percent_encode(good, percent_encoding::NON_ALPHANUMERIC)
        );
        assert_eq!(
            connect(&h, "connect/github", Some(&query)).await.status,
            302,
            "{good}"
        );
    }
}
both!(c128, super::c128_callback_validation);

/// A valid connect redirects to GitHub with client id, redirect_uri, scope
/// and a random state, also set as a cookie.
async fn connect_redirects(url: String) {
    let h = H::new(&url).await;
    let a = connect(&h, "connect/github", None).await;
    let b = connect(&h, "connect/github", None).await;
    assert_eq!(a.status, 302, "{}", a.text);
    let location = a.header("Location").unwrap();
    assert!(
        location.starts_with("https://github.com/login/oauth/authorize?client_id=gh-client&"),
        "{location}"
    );
    // From configuration (server.public_url), never from the forged Host.
    assert!(
        location
            .contains("redirect_uri=http%3A%2F%2Fgateway.test%2Fapi%2Fconnect%2Fgithub%2Fcallback"),
        "{location}"
    );
    assert!(!location.contains("gw.example"), "{location}");
    assert!(location.contains("scope=user%20user%3Aemail"));
    let state = location.split("state=").nth(1).unwrap();
    assert_eq!(state.len(), 64);
    assert_ne!(Some(location), b.header("Location"), "state is random");
    let cookie = a.header("Set-Cookie").unwrap();
    assert_eq!(
        cookie,
        format!(
            "portcullis_oauth_state={state}; Path=/api/connect/github; Max-Age=600; HttpOnly; SameSite=Lax"
        )
    );
    // The exchange is not implemented: the front end is told so.
    let r = connect(&h, "connect/github/callback", Some("code=abc&state=x")).await;
    assert_eq!(r.status, 302);
    assert_eq!(
        r.header("Location").unwrap(),
        format!(
            "{GITHUB_REDIRECT}?error=oauth_error&error_description=OAuth%20code%20exchange%20is%20not%20supported%20by%20this%20gateway"
        )
    );
    connect(&h, "connect/github/other/path", None)
        .await
        .assert_err(404, "NotFoundError", "Not Found");
}
both!(connect_ok, super::connect_redirects);

/// 120: refresh-mode routes answer 404 in legacy mode.
async fn c120_refresh_routes(url: String) {
    let h = H::new(&url).await;
    let alice = h.alice().await;
    let me = h.as_user(alice.id).await;
    for call in [
        Call::post("auth/refresh", json!({"refreshToken": "x"})),
        Call::post("auth/logout", json!({})).caller(me.clone()),
        Call::get("auth/sessions", "auth/sessions", None).caller(me.clone()),
        Call::get("auth/sessions/:sessionId", "auth/sessions/abc", None).caller(me),
    ] {
        h.run(call)
            .await
            .assert_err(404, "NotFoundError", "Not Found");
    }
}
both!(c120, super::c120_refresh_routes);
