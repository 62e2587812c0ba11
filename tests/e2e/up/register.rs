//! `POST /api/auth/local/register`: §10.24–29, 31–36, 40 (30, 37–39 need
//! other configurations: `config.rs`, `confirm.rs`).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use serde_json::json;

use crate::up::*;

const REGISTER: &str = "/api/auth/local/register";

#[tokio::test]
async fn register_cases() {
    let env = spawn().await;

    // §10.24: 200 {jwt, user}; email lower-cased, confirmed, no role.
    let r = env
        .post(
            REGISTER,
            None,
            json!({"username": "bob", "email": "Bob@Example.com", "password": PASSWORD}),
        )
        .await;
    assert_eq!(r.status, 200, "§10.24: {}", r.text());
    let body = r.json();
    let user = &body["user"];
    assert_user_shape(user, false, "§10.24");
    assert_eq!(user["username"], "bob");
    assert_eq!(user["email"], "bob@example.com", "§10.24");
    assert_eq!(user["confirmed"], true, "§10.24");
    assert_eq!(user["provider"], "local");
    let bob_jwt = body["jwt"].as_str().unwrap().to_owned();
    assert_eq!(claims(&bob_jwt)["id"], user["id"], "§10.24");
    // The registered user can log in, and the JWT is a working credential.
    env.login_ok("bob@example.com", PASSWORD).await;
    let r = env.get("/api/users/me", Some(&bob_jwt)).await;
    assert_eq!(r.status, 200, "§10.24 me: {}", r.text());
    assert_eq!(
        env.scalar("SELECT role FROM up_users WHERE username = 'bob'")
            .await
            .as_deref(),
        Some("authenticated"),
        "§10.24: default role"
    );

    let taken = "Email or Username are already taken";
    // §10.25: same username, new email.
    let r = env
        .post(
            REGISTER,
            None,
            json!({"username": "bob", "email": "bob2@example.com", "password": PASSWORD}),
        )
        .await;
    assert_application(&r, taken, "§10.25");
    // §10.26: same email (any case), new username.
    let r = env
        .post(
            REGISTER,
            None,
            json!({"username": "bob2", "email": "BOB@example.com", "password": PASSWORD}),
        )
        .await;
    assert_application(&r, taken, "§10.26");
    // §10.27: a username equal to an existing email.
    let r = env
        .post(
            REGISTER,
            None,
            json!({"username": "bob@example.com", "email": "bob3@example.com", "password": PASSWORD}),
        )
        .await;
    assert_application(&r, taken, "§10.27");

    // §10.28 / §10.29: privileged keys are refused, in body order.
    let r = env
        .post(
            REGISTER,
            None,
            json!({"username": "carl", "email": "carl@example.com", "password": PASSWORD, "role": 3}),
        )
        .await;
    assert_validation(&r, "Invalid parameters: role", "§10.28");
    let r = env
        .http
        .request(
            "POST",
            REGISTER,
            &[("Content-Type", "application/json")],
            Some(
                br#"{"username":"carl","email":"carl@example.com","password":"Test1234","confirmed":true,"blocked":false}"#,
            ),
        )
        .await
        .unwrap();
    assert_validation(&r, "Invalid parameters: confirmed, blocked", "§10.29");

    // §10.31 / §10.32: yup.
    let r = env.post(REGISTER, None, json!({})).await;
    assert_yup(
        &r,
        "3 errors occurred",
        &[&["email"], &["username"], &["password"]],
        "§10.31",
    );
    let r = env
        .post(
            REGISTER,
            None,
            json!({"username": "carl", "email": "not-an-email", "password": PASSWORD}),
        )
        .await;
    assert_yup(&r, "email must be a valid email", &[&["email"]], "§10.32");

    // §10.33: 73 bytes refused, 72 accepted.
    let r = env
        .post(
            REGISTER,
            None,
            json!({"username": "carl", "email": "carl@example.com", "password": "a".repeat(73)}),
        )
        .await;
    assert_yup(
        &r,
        "Password must be less than 73 bytes",
        &[&["password"]],
        "§10.33",
    );
    let long = "b".repeat(72);
    let r = env
        .post(
            REGISTER,
            None,
            json!({"username": "carl", "email": "carl@example.com", "password": long}),
        )
        .await;
    assert_eq!(r.status, 200, "§10.33 72 bytes: {}", r.text());
    env.login_ok("carl", &long).await;
    // §10.34: 71 characters but 73 bytes.
    let multibyte = format!("{}€", "c".repeat(70));
    assert_eq!((multibyte.len(), multibyte.chars().count()), (73, 71));
    let r = env
        .post(
            REGISTER,
            None,
            json!({"username": "dora", "email": "dora@example.com", "password": multibyte}),
        )
        .await;
    assert_yup(
        &r,
        "Password must be less than 73 bytes",
        &[&["password"]],
        "§10.34",
    );

    // §10.35 / §10.36: entity validation (5.49+).
    let r = env
        .post(
            REGISTER,
            None,
            json!({"username": "dora", "email": "dora@example.com", "password": "abc"}),
        )
        .await;
    assert_yup(
        &r,
        "password must be at least 6 characters",
        &[&["password"]],
        "§10.35",
    );
    let r = env
        .post(
            REGISTER,
            None,
            json!({"username": "ab", "email": "dora@example.com", "password": PASSWORD}),
        )
        .await;
    assert_yup(
        &r,
        "username must be at least 3 characters",
        &[&["username"]],
        "§10.36",
    );

    // §10.40: decided by the proxy: `authenticated` lacks auth.register.
    let r = env
        .post(
            REGISTER,
            Some(&bob_jwt),
            json!({"username": "eve", "email": "eve@example.com", "password": PASSWORD}),
        )
        .await;
    assert_403(&r, "§10.40");

    // Nothing refused created a user.
    let names = env
        .int("SELECT count(*) FROM up_users WHERE username IN ('dora', 'ab', 'eve', 'bob2')")
        .await;
    assert_eq!(names, Some(0));
    assert_eq!(env.int("SELECT count(*) FROM up_users").await, Some(2));
    assert_untouched(&env.upstream, "register");
}
