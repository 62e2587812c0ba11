//! Cases that need another configuration: registration disabled (§10.30),
//! reset codes that expire (beyond Strapi), a default role that
//! disappeared in a policy reload (§10.39) and a public role without any
//! permission (§10.103).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::Duration;

use portcullis_tests::GatewayBuilder;
use serde_json::json;

use crate::common::eventually;
use crate::up::*;

#[tokio::test]
async fn register_disabled_and_reset_codes_expire() {
    let env =
        spawn_with(|sink| builder(sink, "allow_register: false\nreset_token_ttl: \"1s\"")).await;
    create_user(&env.gw, "alice", &["--confirmed"]).await;

    // §10.30: any body.
    for body in [
        json!({"username": "bob", "email": "bob@example.com", "password": PASSWORD}),
        json!({}),
        json!({"role": 1}),
    ] {
        let r = env.post("/api/auth/local/register", None, body).await;
        assert_application(&r, "Register action is currently disabled", "§10.30");
    }

    // PRODUCT DECISION: reset codes expire after reset_token_ttl (Strapi's
    // never do). A fresh code works…
    let reset = |code: String, password: &'static str| json!({"password": password, "passwordConfirmation": password, "code": code});
    let code = env.forgot_code("alice@example.com").await;
    let r = env
        .post(
            "/api/auth/reset-password",
            None,
            reset(code, "Second-Passw0rd"),
        )
        .await;
    assert_eq!(r.status, 200, "fresh code: {}", r.text());
    // …one older than 1 s is "Incorrect code provided", and is cleared.
    let code = env.forgot_code("alice@example.com").await;
    tokio::time::sleep(Duration::from_millis(1600)).await;
    let r = env
        .post(
            "/api/auth/reset-password",
            None,
            reset(code.clone(), "Third-Passw0rd"),
        )
        .await;
    assert_validation(&r, "Incorrect code provided", "expired code");
    assert_eq!(
        env.scalar("SELECT reset_password_token FROM up_users WHERE username = 'alice'")
            .await,
        None,
        "the expired code is cleared"
    );
    env.login_ok("alice", "Second-Passw0rd").await;
    let r = env.login("alice", "Third-Passw0rd").await;
    assert_validation(&r, "Invalid identifier or password", "unchanged");
    assert_untouched(&env.upstream, "register disabled");
}

/// [`POLICY`] with an extra `member` role.
fn with_member() -> String {
    format!(
        "{POLICY}  member:\n    name: Member\n    description: Registered here.\n    permissions:\n      plugin::users-permissions.user: [me]\n"
    )
}

#[tokio::test]
async fn default_role_missing_after_a_reload() {
    let env = spawn_with(|sink| {
        builder(sink, "default_role: member").policy_file("default.yaml", with_member())
    })
    .await;
    let register = |name: &str| json!({"username": name, "email": format!("{name}@example.com"), "password": PASSWORD});
    let r = env
        .post("/api/auth/local/register", None, register("bob"))
        .await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(
        env.scalar("SELECT role FROM up_users WHERE username = 'bob'")
            .await
            .as_deref(),
        Some("member")
    );

    // The configuration check refuses a default role the policy lacks, but
    // a later policy edit can still remove it.
    env.gw.write_policy("default.yaml", POLICY).unwrap();
    let reloaded = eventually(Duration::from_secs(5), || async {
        env.gw.stderr().contains("policy reloaded")
    })
    .await;
    assert!(reloaded, "no reload:\n{}", env.gw.stderr());
    // §10.39.
    let r = env
        .post("/api/auth/local/register", None, register("carl"))
        .await;
    assert_application(&r, "Impossible to find the default role", "§10.39");
    assert_eq!(
        env.int("SELECT count(*) FROM up_users WHERE username = 'carl'")
            .await,
        Some(0)
    );
    // A user whose role is gone is granted nothing.
    let (jwt, _) = env.login_ok("bob", PASSWORD).await;
    assert_403(&env.get("/api/users/me", Some(&jwt)).await, "role gone");
    assert_untouched(&env.upstream, "default role");
}

#[tokio::test]
async fn public_role_without_permissions() {
    let policy = POLICY.replace(
        "    permissions:\n      api::post.post: [find, findOne]\n      plugin::users-permissions.auth: [callback, register, forgotPassword, resetPassword, connect, emailConfirmation, sendEmailConfirmation, refresh]\n",
        "    permissions: {}\n",
    );
    assert_ne!(policy, POLICY);
    let env = spawn_with(|sink| {
        GatewayBuilder::new()
            .policy_file("default.yaml", policy)
            .section("email", sink.email_section())
    })
    .await;
    let alice = create_user(&env.gw, "alice", &["--confirmed"]).await;
    // §10.103: anonymous → 401 on any scoped route, auth routes included.
    for (method, path) in [
        ("GET", "/api/posts"),
        ("GET", "/api/articles/1"),
        ("GET", "/api/users/me"),
        ("POST", "/api/auth/local"),
        ("POST", "/api/auth/local/register"),
        ("POST", "/api/auth/forgot-password"),
    ] {
        let body = (method == "POST").then(|| json!({}));
        let r = env.send(method, path, None, body.as_ref()).await;
        assert_401_missing(&r, &format!("§10.103 {method} {path}"));
    }
    // An unknown path is still 404, and a user is still served.
    let r = env.get("/api/nothing-here", None).await;
    assert_error(&r, 404, "NotFoundError", "Not Found", "unknown path");
    let r = env
        .get("/api/users/me", Some(&portcullis_tests::user_jwt(alice)))
        .await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert_untouched(&env.upstream, "§10.103");
}
