//! Email confirmation: §10.63–69 (confirmation off: the routes work
//! anyway) and, with `email_confirmation: true`, §10.10, 13, 37, 38, 101.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use portcullis_tests::user_jwt;
use serde_json::json;

use crate::up::*;

const RESEND: &str = "/api/auth/send-email-confirmation";

fn confirm_path(token: &str) -> String {
    format!("/api/auth/email-confirmation?confirmation={token}")
}

#[tokio::test]
async fn email_confirmation_routes() {
    let env = spawn().await;
    let carol = create_user(&env.gw, "carol", &[]).await;
    create_user(&env.gw, "alice", &["--confirmed"]).await;
    create_user(&env.gw, "blocky", &["--blocked"]).await;

    // §10.66: an unknown email: 200 with the email as sent, no mail.
    let r = env
        .post(RESEND, None, json!({"email": "Nobody@Example.com"}))
        .await;
    assert_eq!(r.status, 200, "§10.66: {}", r.text());
    assert_eq!(
        r.json(),
        json!({"email": "Nobody@Example.com", "sent": true})
    );
    // §10.67 / §10.68.
    let r = env
        .post(RESEND, None, json!({"email": "alice@example.com"}))
        .await;
    assert_application(&r, "Already confirmed", "§10.67");
    let r = env
        .post(RESEND, None, json!({"email": "blocky@example.com"}))
        .await;
    assert_application(&r, "User blocked", "§10.68");
    assert!(env.sink.messages().is_empty(), "§10.66–68: no mail");

    // §10.69: an unconfirmed user: 200, a mail; a second request replaces
    // the token.
    let r = env
        .post(RESEND, None, json!({"email": "CAROL@example.com"}))
        .await;
    assert_eq!(r.status, 200, "§10.69: {}", r.text());
    assert_eq!(
        r.json(),
        json!({"email": "carol@example.com", "sent": true})
    );
    let first = env.mail_to("carol@example.com", 0).await;
    assert_eq!(
        first.header("subject").as_deref(),
        Some("Account confirmation")
    );
    let first = first.confirmation_token().expect("§10.69: token in mail");
    assert_eq!(first.len(), 40, "§10.69: 20 random bytes: {first}");
    let r = env
        .post(RESEND, None, json!({"email": "carol@example.com"}))
        .await;
    assert_eq!(r.status, 200, "§10.69 again: {}", r.text());
    let second = env
        .mail_to("carol@example.com", 1)
        .await
        .confirmation_token()
        .unwrap();
    assert_ne!(first, second, "§10.69");
    let r = env.get(&confirm_path(&first), None).await;
    assert_validation(&r, "Invalid token", "§10.69 previous token");

    // §10.64 / §10.65.
    let r = env.get(&confirm_path("not-a-real-token"), None).await;
    assert_validation(&r, "Invalid token", "§10.64");
    let r = env.get("/api/auth/email-confirmation", None).await;
    assert_yup(
        &r,
        "confirmation is a required field",
        &[&["confirmation"]],
        "§10.65",
    );
    let r = env.get(&confirm_path(""), None).await;
    assert_yup(
        &r,
        "confirmation is a required field",
        &[&["confirmation"]],
        "§10.65 empty",
    );

    // §10.63: 302 to the configured redirection; confirmed, token cleared.
    let r = env.get(&confirm_path(&second), None).await;
    assert_eq!(r.status, 302, "§10.63: {}", r.text());
    assert_eq!(r.header("location"), Some(CONFIRMED_URL), "§10.63");
    assert_eq!(
        env.int(&format!(
            "SELECT confirmed FROM up_users WHERE id = {carol}"
        ))
        .await,
        Some(1),
        "§10.63 confirmed"
    );
    assert_eq!(
        env.scalar(&format!(
            "SELECT confirmation_token FROM up_users WHERE id = {carol}"
        ))
        .await,
        None,
        "§10.63 token cleared"
    );
    let r = env.get(&confirm_path(&second), None).await;
    assert_validation(&r, "Invalid token", "§10.63 token is single-use");
    let r = env
        .post(RESEND, None, json!({"email": "carol@example.com"}))
        .await;
    assert_application(&r, "Already confirmed", "§10.67 after confirming");
    assert_untouched(&env.upstream, "confirmation routes");
}

#[tokio::test]
async fn with_email_confirmation_on() {
    let env = spawn_with(|sink| builder(sink, "email_confirmation: true")).await;
    create_user(&env.gw, "both", &["--blocked"]).await;

    // §10.37: {user} without jwt, unconfirmed; a mail with the link.
    let r = env
        .post(
            "/api/auth/local/register",
            None,
            json!({"username": "dave", "email": "dave@example.com", "password": PASSWORD}),
        )
        .await;
    assert_eq!(r.status, 200, "§10.37: {}", r.text());
    let body = r.json();
    let keys: Vec<&String> = body.as_object().unwrap().keys().collect();
    assert_eq!(keys, ["user"], "§10.37: no jwt: {body}");
    assert_user_shape(&body["user"], false, "§10.37");
    assert_eq!(body["user"]["confirmed"], false, "§10.37");
    let dave = body["user"]["id"].as_i64().unwrap();
    let mail = env.mail_to("dave@example.com", 0).await;
    let token = mail.confirmation_token().expect("§10.37: token in mail");
    assert!(
        mail.text().contains(&format!(
            "/api/auth/email-confirmation?confirmation={token}"
        )),
        "{}",
        mail.text()
    );

    // §10.101: the JWT of an unconfirmed user is refused.
    let r = env.get("/api/users/me", Some(&user_jwt(dave))).await;
    assert_401_invalid(&r, "§10.101");
    let r = env.get("/api/posts", Some(&user_jwt(dave))).await;
    assert_401_invalid(&r, "§10.101 on a public route");

    // §10.10: right password, unconfirmed; a wrong one says nothing more.
    let r = env.login("dave@example.com", PASSWORD).await;
    assert_application(&r, "Your account email is not confirmed", "§10.10");
    let r = env.login("dave@example.com", "Wrong-password-1").await;
    assert_validation(&r, "Invalid identifier or password", "§10.10 wrong");
    // §10.13: unconfirmed and blocked: confirmation is checked first.
    let r = env.login("both", PASSWORD).await;
    assert_application(&r, "Your account email is not confirmed", "§10.13");

    // §10.38: the mail provider fails: 400, and the user exists.
    env.sink.refuse(true);
    let r = env
        .post(
            "/api/auth/local/register",
            None,
            json!({"username": "erin", "email": "erin@example.com", "password": PASSWORD}),
        )
        .await;
    env.sink.refuse(false);
    assert_application(&r, "Error sending confirmation email", "§10.38");
    assert_eq!(
        env.int("SELECT count(*) FROM up_users WHERE username = 'erin' AND confirmed = 0")
            .await,
        Some(1),
        "§10.38: the user remains"
    );
    assert!(
        env.scalar("SELECT confirmation_token FROM up_users WHERE username = 'erin'")
            .await
            .is_some(),
        "§10.38: with its confirmation token"
    );
    // Re-sending works once the provider is back.
    let r = env
        .post(RESEND, None, json!({"email": "erin@example.com"}))
        .await;
    assert_eq!(r.status, 200, "§10.38 resend: {}", r.text());
    assert!(
        env.mail_to("erin@example.com", 0)
            .await
            .confirmation_token()
            .is_some()
    );

    // Confirming unlocks login and the JWT.
    let r = env.get(&confirm_path(&token), None).await;
    assert_eq!(r.status, 302, "{}", r.text());
    assert_eq!(r.header("location"), Some(CONFIRMED_URL));
    let (jwt, user) = env.login_ok("dave", PASSWORD).await;
    assert_eq!(user["confirmed"], true);
    let r = env.get("/api/users/me", Some(&jwt)).await;
    assert_eq!(r.status, 200, "{}", r.text());
    // The earlier token for dave works now too (refused only while
    // unconfirmed).
    let r = env.get("/api/users/me", Some(&user_jwt(dave))).await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert_untouched(&env.upstream, "confirmation on");
}
