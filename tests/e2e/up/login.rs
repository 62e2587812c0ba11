//! `POST /api/auth/local`: §10.1–13, 15–19.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use serde_json::json;

use crate::up::*;

#[tokio::test]
async fn login_cases() {
    let env = spawn().await;
    let alice = create_user(&env.gw, "alice", &["--confirmed"]).await;
    create_user(&env.gw, "blocky", &["--confirmed", "--blocked"]).await;
    create_user(&env.gw, "gina", &["--confirmed"]).await;
    // A user of another provider (no API sets the provider).
    env.exec1("UPDATE up_users SET provider = 'google' WHERE username = 'gina'")
        .await;

    // §10.1: 200 {jwt, user} with Strapi's public attributes.
    let r = env.login("alice@example.com", PASSWORD).await;
    assert_eq!(r.status, 200, "§10.1: {}", r.text());
    assert!(
        r.header("content-type")
            .unwrap_or_default()
            .starts_with("application/json"),
        "§10.1: {:?}",
        r.headers
    );
    let body = r.json();
    let keys: Vec<&String> = body.as_object().unwrap().keys().collect();
    assert_eq!(keys, ["jwt", "user"], "§10.1: {body}");
    let user = &body["user"];
    assert_eq!(user["id"], alice, "§10.1: {user}");
    assert_eq!(user["username"], "alice");
    assert_eq!(user["email"], "alice@example.com");
    assert_eq!(user["provider"], "local");
    assert_eq!(user["confirmed"], true);
    assert_eq!(user["blocked"], false);
    for k in ["createdAt", "updatedAt"] {
        let v = user[k]
            .as_str()
            .unwrap_or_else(|| panic!("§10.1 {k}: {user}"));
        assert!(v.ends_with('Z') && v.contains('T'), "§10.1 {k}: {v}");
    }
    // §10.2: no secret, no role (login does not load it).
    assert_user_shape(user, false, "§10.2");
    for k in [
        "password",
        "resetPasswordToken",
        "confirmationToken",
        "role",
    ] {
        assert!(user.get(k).is_none(), "§10.2 {k}: {user}");
    }

    // §10.19: HS256, payload exactly {id, iat, exp}, 30 days.
    let jwt = body["jwt"].as_str().unwrap();
    let header = jsonwebtoken::decode_header(jwt).unwrap();
    assert_eq!(header.alg, jsonwebtoken::Algorithm::HS256, "§10.19");
    let c = claims(jwt);
    let mut keys: Vec<&String> = c.as_object().unwrap().keys().collect();
    keys.sort();
    assert_eq!(keys, ["exp", "iat", "id"], "§10.19: {c}");
    assert_eq!(c["id"], alice, "§10.19: {c}");
    assert_eq!(
        c["exp"].as_i64().unwrap() - c["iat"].as_i64().unwrap(),
        2_592_000,
        "§10.19: {c}"
    );

    // §10.3: the email is matched case-insensitively.
    let r = env.login("ALICE@EXAMPLE.COM", PASSWORD).await;
    assert_eq!(r.status, 200, "§10.3: {}", r.text());
    assert_eq!(r.json()["user"]["id"], alice);
    // §10.4: by username.
    let r = env.login("alice", PASSWORD).await;
    assert_eq!(r.status, 200, "§10.4: {}", r.text());
    assert_eq!(r.json()["user"]["id"], alice);

    // §10.5 / §10.6: one answer for a wrong password and an unknown user.
    let r = env.login("alice@example.com", "Wrong-password-1").await;
    assert_validation(&r, "Invalid identifier or password", "§10.5");
    let r = env.login("nobody@example.com", PASSWORD).await;
    assert_validation(&r, "Invalid identifier or password", "§10.6");

    // §10.7–9: yup.
    let r = env.post("/api/auth/local", None, json!({})).await;
    assert_yup(
        &r,
        "2 errors occurred",
        &[&["identifier"], &["password"]],
        "§10.7",
    );
    let r = env
        .post("/api/auth/local", None, json!({"identifier": "alice"}))
        .await;
    assert_yup(
        &r,
        "password is a required field",
        &[&["password"]],
        "§10.8",
    );
    let r = env
        .post(
            "/api/auth/local",
            None,
            json!({"identifier": "alice", "password": 123}),
        )
        .await;
    assert_yup(
        &r,
        "password must be a `string` type, but the final value was: `123`.",
        &[&["password"]],
        "§10.9",
    );

    // §10.11 / §10.12: blocked is only revealed with the right password.
    let r = env.login("blocky@example.com", PASSWORD).await;
    assert_application(
        &r,
        "Your account has been blocked by an administrator",
        "§10.11",
    );
    let r = env.login("blocky@example.com", "Wrong-password-1").await;
    assert_validation(&r, "Invalid identifier or password", "§10.12");

    // §10.15: a user of another provider cannot log in locally.
    let r = env.login("gina@example.com", PASSWORD).await;
    assert_validation(&r, "Invalid identifier or password", "§10.15");
    let r = env.login("gina", PASSWORD).await;
    assert_validation(&r, "Invalid identifier or password", "§10.15 username");

    // Decided by the proxy, before the handler.
    let creds = json!({"identifier": "alice", "password": PASSWORD});
    // §10.16: a valid JWT makes the caller `authenticated`, which lacks
    // auth.callback.
    let r = env.post("/api/auth/local", Some(jwt), creds.clone()).await;
    assert_403(&r, "§10.16");
    // §10.17: an invalid bearer is 401 even on a public route.
    let r = env
        .post("/api/auth/local", Some("garbage"), creds.clone())
        .await;
    assert_401_missing(&r, "§10.17");
    // §10.18: a non-Bearer Authorization is anonymous.
    let r = env
        .http
        .request(
            "POST",
            "/api/auth/local",
            &[
                ("Authorization", "Basic abc"),
                ("Content-Type", "application/json"),
            ],
            Some(creds.to_string().as_bytes()),
        )
        .await
        .unwrap();
    assert_eq!(r.status, 200, "§10.18: {}", r.text());
    assert_eq!(r.json()["user"]["id"], alice, "§10.18");

    // The gateway answered every one of these itself.
    assert_untouched(&env.upstream, "login routes");
}
