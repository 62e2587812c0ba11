//! Change password — checklist 56–62, with token revocation.

use portcullis_users_permissions::UpCaller;
use portcullis_users_permissions::request::ApiTokenKind;
use serde_json::json;

use crate::both;
use crate::common::{Call, H, PASSWORD};
use crate::password::{NEW, now_secs, revoked};

fn change(current: &str, password: &str) -> serde_json::Value {
    json!({"currentPassword": current, "password": password, "passwordConfirmation": password})
}

/// 57 (with revocation beyond Strapi), 58, 59, 60, 62.
async fn c57_62_change(url: String) {
    let h = H::new(&url).await;
    let alice = h.alice().await;
    let as_alice = || async { h.as_user(alice.id).await };
    let call = |body| Call::post("auth/change-password", body);

    let mismatch = "Passwords do not match";
    h.run(
        call(json!({"currentPassword": PASSWORD, "password": NEW, "passwordConfirmation": "x"}))
            .caller(as_alice().await),
    )
    .await
    .assert_yup(mismatch, &[(&["passwordConfirmation"], mismatch)]);
    h.run(call(change("Wrong1234", NEW)).caller(as_alice().await))
        .await
        .assert_err(
            400,
            "ValidationError",
            "The provided current password is invalid",
        );
    h.run(call(change(PASSWORD, PASSWORD)).caller(as_alice().await))
        .await
        .assert_err(
            400,
            "ValidationError",
            "Your new password must be different than your current password",
        );
    h.run(call(json!({})).caller(as_alice().await))
        .await
        .assert_yup(
            "3 errors occurred",
            &[
                (
                    &["passwordConfirmation"],
                    "passwordConfirmation is a required field",
                ),
                (&["password"], "password is a required field"),
                (&["currentPassword"], "currentPassword is a required field"),
            ],
        );
    let mut extra = change(PASSWORD, NEW);
    extra["deviceId"] = json!("x");
    let unspecified = "this field has unspecified keys: deviceId";
    h.run(call(extra).caller(as_alice().await))
        .await
        .assert_yup(unspecified, &[(&[], unspecified)]);
    let min = "password must be at least 6 characters";
    h.run(call(change(PASSWORD, "abc")).caller(as_alice().await))
        .await
        .assert_yup(min, &[(&["password"], min)]);

    let old_jwt = h.svc.jwt.issue_at(alice.id, now_secs() - 5).unwrap();
    let before = h.changed().len();
    let r = h
        .run(call(change(PASSWORD, NEW)).caller(as_alice().await))
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    let keys: Vec<&str> = r
        .json
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    assert_eq!(keys, ["jwt", "user"]);
    assert_eq!(r.json["user"]["username"], "alice");
    assert!(h.changed()[before..].contains(&alice.id));
    assert!(!revoked(&h, alice.id, r.jwt()).await);
    assert!(revoked(&h, alice.id, &old_jwt).await);
    assert_eq!(h.login("alice", NEW).await.status, 200);
    assert_eq!(h.login("alice", PASSWORD).await.status, 400);
}
both!(c57_62, super::c57_62_change);

/// 61 (and 56 as far as the handler is concerned: the proxy answers 403
/// before it when the public role lacks the action): no user in the state.
async fn c56_61_no_user(url: String) {
    let h = H::new(&url).await;
    h.alice().await;
    for caller in [
        UpCaller::Public,
        UpCaller::ApiToken {
            id: 1,
            kind: ApiTokenKind::FullAccess,
        },
    ] {
        h.run(Call::post("auth/change-password", change(PASSWORD, NEW)).caller(caller))
            .await
            .assert_err(
                400,
                "ApplicationError",
                "You must be authenticated to reset your password",
            );
    }
    assert_eq!(h.login("alice", PASSWORD).await.status, 200);
}
both!(c56_61, super::c56_61_no_user);
