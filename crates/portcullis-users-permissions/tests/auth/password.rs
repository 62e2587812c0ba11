//! Forgot / reset password — checklist 42–55, plus reset-code expiry,
//! reuse, type confusion (CVE-2019-18818) and token revocation.

use std::time::Duration;

use serde_json::json;

use crate::both;
use crate::common::{H, PASSWORD};

pub const NEW: &str = "NewPass5678";

fn reset_body(code: &str, password: &str) -> serde_json::Value {
    json!({"password": password, "passwordConfirmation": password, "code": code})
}

/// Requests a reset for alice and returns the code read from the email.
async fn reset_code(h: &H) -> String {
    let r = h
        .post(
            "auth/forgot-password",
            json!({"email": "alice@example.com"}),
        )
        .await;
    assert_eq!(r.text, r#"{"ok":true}"#);
    h.sink.last_to("alice@example.com").reset_code().unwrap()
}

/// Whether the gateway would refuse `token` for `user_id` (`iat` before the
/// user's revocation instant).
pub async fn revoked(h: &H, user_id: i64, token: &str) -> bool {
    let claims = h.svc.jwt.verify(token).unwrap();
    let state = h.store().user_state(user_id).await.unwrap().unwrap();
    state
        .tokens_valid_after
        .is_some_and(|tva| claims.iat.unwrap() < tva / 1000)
}

pub fn now_secs() -> i64 {
    portcullis_store::now_ms() / 1000
}

/// 42: 128-hex token stored before the mail, which carries the link.
async fn c42_forgot(url: String) {
    let h = H::new(&url).await;
    let alice = h.alice().await;
    let code = reset_code(&h).await;
    let stored = h.fetch(alice.id).await;
    assert_eq!(stored.reset_password_token.as_deref(), Some(code.as_str()));
    assert_eq!(code.len(), 128);
    assert!(
        code.bytes()
            .all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase())
    );
    assert!(stored.reset_password_sent_at.is_some());
    assert!(h.changed().contains(&alice.id));
    let mail = h.sink.last_to("alice@example.com");
    assert_eq!(mail.header("Subject").as_deref(), Some("Reset password"));
    assert!(
        mail.header("From")
            .unwrap()
            .contains("no-reply@example.com")
    );
    let text = mail.text();
    assert!(text.contains(&format!("http://localhost:3000/reset-password?code={code}")));
    assert!(text.contains("We heard that you lost your password."));
    // Upper-case email finds the user too.
    let r = h
        .post(
            "auth/forgot-password",
            json!({"email": "ALICE@example.COM"}),
        )
        .await;
    assert_eq!(r.status, 200);
    assert_eq!(h.sink.mails_to("alice@example.com").len(), 2);
}
both!(c42, super::c42_forgot);

/// 43, 44: unknown and blocked users: `{"ok":true}`, nothing stored or sent.
async fn c43_44_silent(url: String) {
    let h = H::new(&url).await;
    let bob = h.user("bob", "bob@example.com", true, true).await;
    for email in ["nobody@example.com", "bob@example.com"] {
        let r = h
            .post("auth/forgot-password", json!({"email": email}))
            .await;
        assert_eq!((r.status, r.text.as_str()), (200, r#"{"ok":true}"#));
    }
    assert!(h.sink.mails().is_empty());
    assert_eq!(h.fetch(bob.id).await.reset_password_token, None);
}
both!(c43_44, super::c43_44_silent);

/// 45, 46, 47: validation of forgot-password.
async fn c45_46_47_forgot_validation(url: String) {
    let h = H::new(&url).await;
    h.post("auth/forgot-password", json!({"email": "x"}))
        .await
        .assert_yup(
            "email must be a valid email",
            &[(&["email"], "email must be a valid email")],
        );
    let unspecified = "this field has unspecified keys: foo";
    let r = h
        .post("auth/forgot-password", json!({"email": "a@b.co", "foo": 1}))
        .await;
    r.assert_yup(unspecified, &[(&[], unspecified)]);
    h.post("auth/forgot-password", json!({})).await.assert_yup(
        "email is a required field",
        &[(&["email"], "email is a required field")],
    );
    h.post("auth/forgot-password", json!({"foo": 1}))
        .await
        .assert_yup(
            "2 errors occurred",
            &[
                (&["email"], "email is a required field"),
                (&[], unspecified),
            ],
        );
}
both!(c45_46_47, super::c45_46_47_forgot_validation);

/// A mail failure is a 500, but the token is already stored.
async fn forgot_mail_failure(url: String) {
    let h = H::new(&url).await;
    let alice = h.alice().await;
    h.sink.refuse(true);
    let r = h
        .post(
            "auth/forgot-password",
            json!({"email": "alice@example.com"}),
        )
        .await;
    assert_eq!(r.status, 500);
    assert_eq!(
        r.text,
        r#"{"data":null,"error":{"status":500,"name":"InternalServerError","message":"Internal Server Error"}}"#
    );
    assert_eq!(
        h.fetch(alice.id)
            .await
            .reset_password_token
            .map(|t| t.len()),
        Some(128)
    );
}
both!(forgot_mail_fails, super::forgot_mail_failure);

/// 48, 49, 55 (deliberately not Strapi's): the reset works once, the new
/// password logs in, the old does not, older JWTs are revoked and the
/// returned one is not.
async fn c48_49_55_reset(url: String) {
    let h = H::new(&url).await;
    let alice = h.alice().await;
    let old_jwt = h.svc.jwt.issue_at(alice.id, now_secs() - 5).unwrap();
    let code = reset_code(&h).await;
    let r = h.post("auth/reset-password", reset_body(&code, NEW)).await;
    assert_eq!(r.status, 200, "{}", r.text);
    let keys: Vec<&str> = r
        .json
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    assert_eq!(keys, ["jwt", "user"]);
    assert_eq!(r.json["user"]["id"], alice.id);
    assert!(r.json["user"].get("role").is_none());
    assert!(!revoked(&h, alice.id, r.jwt()).await, "the new JWT works");
    assert!(
        revoked(&h, alice.id, &old_jwt).await,
        "older JWTs are revoked"
    );
    let stored = h.fetch(alice.id).await;
    assert_eq!(stored.reset_password_token, None);
    assert_eq!(stored.reset_password_sent_at, None);
    assert_eq!(h.login("alice", NEW).await.status, 200);
    h.login("alice", PASSWORD).await.assert_err(
        400,
        "ValidationError",
        "Invalid identifier or password",
    );
    // 49: single use.
    h.post("auth/reset-password", reset_body(&code, "Another999"))
        .await
        .assert_err(400, "ValidationError", "Incorrect code provided");
    assert_eq!(h.login("alice", NEW).await.status, 200);
}
both!(c48_49_55, super::c48_49_55_reset);

/// Two concurrent resets with one code: exactly one succeeds.
async fn concurrent_reuse(url: String) {
    let h = H::new(&url).await;
    h.alice().await;
    let code = reset_code(&h).await;
    let (a, b) = tokio::join!(
        h.post("auth/reset-password", reset_body(&code, "FirstPass1")),
        h.post("auth/reset-password", reset_body(&code, "SecondPass2")),
    );
    let mut statuses = [a.status, b.status];
    statuses.sort_unstable();
    assert_eq!(statuses, [200, 400], "{} / {}", a.text, b.text);
    let winner = if a.status == 200 {
        "FirstPass1"
    } else {
        "SecondPass2"
    };
    assert_eq!(h.login("alice", winner).await.status, 200);
}
both!(reset_race, super::concurrent_reuse);

/// Beyond Strapi: codes expire after `reset_token_ttl`.
async fn expired_code(url: String) {
    let h = H::with(&url, |s| s.reset_token_ttl = Duration::from_secs(1)).await;
    let alice = h.alice().await;
    let code = reset_code(&h).await;
    tokio::time::sleep(Duration::from_millis(1500)).await;
    h.post("auth/reset-password", reset_body(&code, NEW))
        .await
        .assert_err(400, "ValidationError", "Incorrect code provided");
    assert_eq!(
        h.fetch(alice.id).await.reset_password_token,
        None,
        "cleared"
    );
    assert_eq!(h.login("alice", PASSWORD).await.status, 200);
    // A fresh code within the window works.
    let code = reset_code(&h).await;
    assert_eq!(
        h.post("auth/reset-password", reset_body(&code, NEW))
            .await
            .status,
        200
    );
}
both!(reset_expiry, super::expired_code);

/// 50–54, CVE-2019-18818: validation of reset-password; nothing changes.
async fn c50_54_reset_validation(url: String) {
    let h = H::new(&url).await;
    let alice = h.alice().await;
    let code = reset_code(&h).await;
    let mismatch = "Passwords do not match";
    h.post(
        "auth/reset-password",
        json!({"password": NEW, "passwordConfirmation": "Other1234", "code": code}),
    )
    .await
    .assert_yup(mismatch, &[(&["passwordConfirmation"], mismatch)]);
    h.post("auth/reset-password", json!({})).await.assert_yup(
        "3 errors occurred",
        &[
            (
                &["passwordConfirmation"],
                "passwordConfirmation is a required field",
            ),
            (&["password"], "password is a required field"),
            (&["code"], "code is a required field"),
        ],
    );
    for (code_value, printed) in [
        (json!({}), "{}"),
        (json!({"$gt": 0}), "{\n  \"$gt\": \"0\"\n}"),
        (json!(123), "123"),
        (json!(null), "null"),
        (
            json!([code.clone()]),
            &*format!("[\n  \"\\\"{code}\\\"\"\n]"),
        ),
    ] {
        let body = json!({"password": NEW, "passwordConfirmation": NEW, "code": code_value});
        let msg = format!("code must be a `string` type, but the final value was: `{printed}`.");
        h.post("auth/reset-password", body)
            .await
            .assert_yup(&msg, &[(&["code"], &msg)]);
    }
    let mut body = reset_body(&code, NEW);
    body["deviceId"] = json!("d1");
    let unspecified = "this field has unspecified keys: deviceId";
    h.post("auth/reset-password", body)
        .await
        .assert_yup(unspecified, &[(&[], unspecified)]);
    let limit = "Password must be less than 73 bytes";
    h.post("auth/reset-password", reset_body(&code, &"p".repeat(73)))
        .await
        .assert_yup(limit, &[(&["password"], limit)]);
    h.post(
        "auth/reset-password",
        reset_body("0".repeat(128).as_str(), NEW),
    )
    .await
    .assert_err(400, "ValidationError", "Incorrect code provided");
    // Entity validation runs after the code check and keeps the code.
    let min = "password must be at least 6 characters";
    h.post("auth/reset-password", reset_body(&code, "abc"))
        .await
        .assert_yup(min, &[(&["password"], min)]);
    assert_eq!(
        h.fetch(alice.id).await.reset_password_token.as_deref(),
        Some(code.as_str())
    );
    assert_eq!(
        h.login("alice", PASSWORD).await.status,
        200,
        "password unchanged"
    );
}
both!(c50_54, super::c50_54_reset_validation);
