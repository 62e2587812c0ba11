//! `POST /api/auth/local/register` — checklist 24–39 and mass assignment.

use serde_json::json;

use crate::both;
use crate::common::{Call, H, PASSWORD};

fn bob() -> serde_json::Value {
    json!({"username": "bob", "email": "Bob@Example.com", "password": PASSWORD})
}

/// 24: `{jwt, user}`, email lower-cased, confirmed, no role; the user can
/// log in and has the default role.
async fn c24_register(url: String) {
    let h = H::new(&url).await;
    let r = h.post("auth/local/register", bob()).await;
    assert_eq!(r.status, 200, "{}", r.text);
    let keys: Vec<&str> = r
        .json
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    assert_eq!(keys, ["jwt", "user"]);
    let user = &r.json["user"];
    assert_eq!(user["email"], "bob@example.com");
    assert_eq!(user["username"], "bob");
    assert_eq!(user["provider"], "local");
    assert_eq!(user["confirmed"], true);
    assert_eq!(user["blocked"], false);
    assert!(user.get("role").is_none() && user.get("password").is_none());
    let id = user["id"].as_i64().unwrap();
    assert_eq!(h.svc.jwt.verify(r.jwt()).unwrap().id, id);
    let stored = h.fetch(id).await;
    assert_eq!(stored.role, "authenticated");
    assert!(stored.password.unwrap().starts_with("$argon2id$"));
    assert!(h.changed().contains(&id));
    assert_eq!(h.login("bob@example.com", PASSWORD).await.status, 200);
    assert!(h.sink.mails().is_empty(), "no confirmation email when off");
}
both!(c24, super::c24_register);

/// 25, 26, 27: username, email (any case), or a username equal to an
/// existing email (and the reverse) are taken.
async fn c25_26_27_conflicts(url: String) {
    let h = H::new(&url).await;
    h.alice().await;
    let taken = |r: crate::common::Resp| {
        r.assert_err(
            400,
            "ApplicationError",
            "Email or Username are already taken",
        )
    };
    for body in [
        json!({"username": "alice", "email": "new@example.com", "password": PASSWORD}),
        json!({"username": "alice2", "email": "ALICE@example.com", "password": PASSWORD}),
        json!({"username": "alice@example.com", "email": "x1@example.com", "password": PASSWORD}),
    ] {
        taken(h.post("auth/local/register", body).await);
    }
    // Similar but different values are free.
    let r = h
        .post(
            "auth/local/register",
            json!({"username": "zed", "email": "alice@example.org", "password": PASSWORD}),
        )
        .await;
    assert_eq!(r.status, 200);
    h.user("carl@example.net", "carl-real@example.net", true, false)
        .await;
    taken(
        h.post(
            "auth/local/register",
            json!({"username": "carl", "email": "Carl@Example.net", "password": PASSWORD}),
        )
        .await,
    );
    assert_eq!(h.store().count_users().await.unwrap(), 3);
}
both!(c25_26_27, super::c25_26_27_conflicts);

/// 28, 29 and mass assignment: any key beyond username/password/email is
/// refused, listed in body order, before validation; nothing is created.
async fn c28_29_mass_assignment(url: String) {
    let h = H::new(&url).await;
    let mut body = bob();
    body["role"] = json!(1);
    h.post("auth/local/register", body).await.assert_err(
        400,
        "ValidationError",
        "Invalid parameters: role",
    );
    let r = h
        .post(
            "auth/local/register",
            json!({"confirmed": true, "username": "bob", "blocked": false, "email": "b@x.io",
                   "password": PASSWORD}),
        )
        .await;
    r.assert_err(
        400,
        "ValidationError",
        "Invalid parameters: confirmed, blocked",
    );
    for key in [
        "provider",
        "role",
        "resetPasswordToken",
        "confirmationToken",
        "id",
        "documentId",
        "deviceId",
    ] {
        let mut body = bob();
        body[key] = json!("x");
        h.post("auth/local/register", body).await.assert_err(
            400,
            "ValidationError",
            &format!("Invalid parameters: {key}"),
        );
    }
    // Unknown keys are reported even when required fields are missing.
    h.post("auth/local/register", json!({"foo": 1}))
        .await
        .assert_err(400, "ValidationError", "Invalid parameters: foo");
    assert_eq!(h.store().count_users().await.unwrap(), 0);
}
both!(c28_29, super::c28_29_mass_assignment);

/// `register_allowed_fields` accepts the listed keys but never stores
/// privileged attributes from the body.
async fn allowed_fields_are_not_privileges(url: String) {
    let h = H::with(&url, |s| {
        s.register_allowed_fields = vec!["confirmed".into(), "role".into(), "nickname".into()];
        s.email_confirmation = true;
    })
    .await;
    let mut body = bob();
    body["confirmed"] = json!(true);
    body["role"] = json!("admin");
    body["nickname"] = json!("b");
    let r = h.post("auth/local/register", body).await;
    assert_eq!(r.status, 200, "{}", r.text);
    let stored = h.fetch(r.json["user"]["id"].as_i64().unwrap()).await;
    assert!(!stored.confirmed);
    assert_eq!(stored.role, "authenticated");
}
both!(allowed_fields, super::allowed_fields_are_not_privileges);

/// 30: disabled, whatever the body.
async fn c30_disabled(url: String) {
    let h = H::with(&url, |s| s.allow_register = false).await;
    for body in [bob(), json!({}), json!({"role": 1})] {
        h.post("auth/local/register", body).await.assert_err(
            400,
            "ApplicationError",
            "Register action is currently disabled",
        );
    }
}
both!(c30, super::c30_disabled);

/// 31–36: yup and entity validation messages and order.
async fn c31_36_validation(url: String) {
    let h = H::new(&url).await;
    h.post("auth/local/register", json!({})).await.assert_yup(
        "3 errors occurred",
        &[
            (&["email"], "email is a required field"),
            (&["username"], "username is a required field"),
            (&["password"], "password is a required field"),
        ],
    );
    let reg = |email: &str, username: &str, password: &str| json!({"username": username, "email": email, "password": password});
    let r = h
        .post("auth/local/register", reg("x", "bob", PASSWORD))
        .await;
    r.assert_yup(
        "email must be a valid email",
        &[(&["email"], "email must be a valid email")],
    );
    assert_eq!(r.json["error"]["details"]["errors"][0]["value"], "x");

    let limit = "Password must be less than 73 bytes";
    h.post(
        "auth/local/register",
        reg("b@example.com", "bob", &"a".repeat(73)),
    )
    .await
    .assert_yup(limit, &[(&["password"], limit)]);
    // 34: multi-byte characters count in bytes.
    let three_byte = format!("{}€", "a".repeat(70));
    assert_eq!(three_byte.len(), 73);
    let two_byte = format!("{}é", "a".repeat(71));
    assert_eq!(two_byte.len(), 73);
    let longer = format!("{}€", "a".repeat(71));
    for pw in [three_byte, two_byte, longer] {
        h.post("auth/local/register", reg("b@example.com", "bob", &pw))
            .await
            .assert_yup(limit, &[(&["password"], limit)]);
    }
    let r = h
        .post(
            "auth/local/register",
            reg("b72@example.com", "bob72", &"a".repeat(72)),
        )
        .await;
    assert_eq!(r.status, 200, "72 bytes are accepted: {}", r.text);

    let min = "password must be at least 6 characters";
    h.post("auth/local/register", reg("c@example.com", "carl", "abc"))
        .await
        .assert_yup(min, &[(&["password"], min)]);
    let short = "username must be at least 3 characters";
    h.post("auth/local/register", reg("c@example.com", "ab", PASSWORD))
        .await
        .assert_yup(short, &[(&["username"], short)]);
    let long = "username must be at most 255 characters";
    h.post(
        "auth/local/register",
        reg("c@example.com", &"u".repeat(256), PASSWORD),
    )
    .await
    .assert_yup(long, &[(&["username"], long)]);
    h.post("auth/local/register", reg("a@b.c", "ab", "abc"))
        .await
        .assert_yup(
            "3 errors occurred",
            &[
                (&["username"], short),
                (&["email"], "email must be at least 6 characters"),
                (&["password"], min),
            ],
        );
    // Strict types.
    let r = h
        .post(
            "auth/local/register",
            json!({"username": 7, "email": "c@example.com", "password": PASSWORD}),
        )
        .await;
    let msg = "username must be a `string` type, but the final value was: `7`.";
    r.assert_yup(msg, &[(&["username"], msg)]);
    assert_eq!(h.store().count_users().await.unwrap(), 1);
}
both!(c31_36, super::c31_36_validation);

/// 37: with confirmation on: `{user}` only, unconfirmed, a 40-hex token
/// stored and mailed; the link confirms.
async fn c37_confirmation_on(url: String) {
    let h = H::with(&url, |s| s.email_confirmation = true).await;
    let r = h.post("auth/local/register", bob()).await;
    assert_eq!(r.status, 200, "{}", r.text);
    let keys: Vec<&str> = r
        .json
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    assert_eq!(keys, ["user"]);
    assert_eq!(r.json["user"]["confirmed"], false);
    let id = r.json["user"]["id"].as_i64().unwrap();
    let stored = h.fetch(id).await;
    let token = stored.confirmation_token.clone().unwrap();
    assert_eq!(token.len(), 40);
    let mail = h.sink.last_to("bob@example.com");
    assert_eq!(
        mail.header("Subject").as_deref(),
        Some("Account confirmation")
    );
    assert_eq!(mail.confirmation_token().as_deref(), Some(token.as_str()));
    assert!(mail.text().contains(&format!(
        "http://gateway.test/api/auth/email-confirmation?confirmation={token}"
    )));
    h.login("bob", PASSWORD).await.assert_err(
        400,
        "ApplicationError",
        "Your account email is not confirmed",
    );
    let query = format!("confirmation={token}");
    let r = h
        .run(Call::get(
            "auth/email-confirmation",
            "auth/email-confirmation",
            Some(&query),
        ))
        .await;
    assert_eq!(r.status, 302);
    assert_eq!(h.login("bob", PASSWORD).await.status, 200);
}
both!(c37, super::c37_confirmation_on);

/// 38: the mail server refuses: 400, but the user exists with its token.
async fn c38_mail_failure(url: String) {
    let h = H::with(&url, |s| s.email_confirmation = true).await;
    h.sink.refuse(true);
    h.post("auth/local/register", bob()).await.assert_err(
        400,
        "ApplicationError",
        "Error sending confirmation email",
    );
    let user = h.store().user_by_username("bob").await.unwrap().unwrap();
    assert!(!user.confirmed);
    assert_eq!(user.confirmation_token.map(|t| t.len()), Some(40));
}
both!(c38, super::c38_mail_failure);

/// 39: the default role is not in the policy.
async fn c39_missing_role(url: String) {
    let h = H::with(&url, |s| s.default_role = "nonexistent".into()).await;
    h.post("auth/local/register", bob()).await.assert_err(
        400,
        "ApplicationError",
        "Impossible to find the default role",
    );
    assert_eq!(h.store().count_users().await.unwrap(), 0);
}
both!(c39, super::c39_missing_role);
