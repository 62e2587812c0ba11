//! `POST /api/auth/local` — checklist 1–15, 19, and the rehash of imported
//! bcrypt hashes.

use std::time::Instant;

use portcullis_store::{NewUser, Verified};
use portcullis_users_permissions::auth::DUMMY_HASH;
use serde_json::json;

use crate::both;
use crate::common::{Call, H, PASSWORD, jwt_part};

const USER_KEYS: [&str; 10] = [
    "id",
    "documentId",
    "username",
    "email",
    "provider",
    "confirmed",
    "blocked",
    "createdAt",
    "updatedAt",
    "publishedAt",
];

/// 1, 2, 19: `{jwt, user}`, the user sanitized (no password, tokens or
/// role), the JWT `{id, iat, exp}` HS256 with a 30-day lifetime.
async fn c01_02_19_login_shape(url: String) {
    let h = H::new(&url).await;
    let alice = h.alice().await;
    let r = h.login("alice@example.com", PASSWORD).await;
    assert_eq!(r.status, 200, "{}", r.text);
    let keys: Vec<&str> = r
        .json
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    assert_eq!(keys, ["jwt", "user"]);
    let user = r.json["user"].as_object().unwrap();
    let user_keys: Vec<&str> = user.keys().map(String::as_str).collect();
    assert_eq!(user_keys, USER_KEYS);
    assert_eq!(user["id"], alice.id);
    assert_eq!(user["documentId"], alice.document_id.as_str());
    assert_eq!(user["username"], "alice");
    assert_eq!(user["email"], "alice@example.com");
    assert_eq!(user["provider"], "local");
    assert_eq!(user["confirmed"], true);
    assert_eq!(user["blocked"], false);
    for hidden in [
        "password",
        "resetPasswordToken",
        "confirmationToken",
        "role",
    ] {
        assert!(!r.text.contains(hidden), "{hidden} leaked: {}", r.text);
    }

    let header = jwt_part(r.jwt(), 0);
    assert_eq!(header["alg"], "HS256");
    let payload = jwt_part(r.jwt(), 1);
    let claims: Vec<&str> = payload
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    assert_eq!(claims, ["id", "iat", "exp"]);
    assert_eq!(payload["id"], alice.id);
    let lifetime = payload["exp"].as_i64().unwrap() - payload["iat"].as_i64().unwrap();
    assert_eq!(lifetime, 2_592_000);
    assert_eq!(h.svc.jwt.verify(r.jwt()).unwrap().id, alice.id);
}
both!(c01_02_19, super::c01_02_19_login_shape);

/// 3, 4: email case-insensitively, username exactly.
async fn c03_04_identifiers(url: String) {
    let h = H::new(&url).await;
    h.alice().await;
    assert_eq!(h.login("ALICE@EXAMPLE.COM", PASSWORD).await.status, 200);
    assert_eq!(h.login("alice", PASSWORD).await.status, 200);
    h.login("ALICE", PASSWORD).await.assert_err(
        400,
        "ValidationError",
        "Invalid identifier or password",
    );
}
both!(c03_04, super::c03_04_identifiers);

/// 5, 6, 15: wrong password, unknown identifier, a non-local user, and a
/// local user without password all get the same answer.
async fn c05_06_15_same_answer(url: String) {
    let h = H::new(&url).await;
    h.alice().await;
    let wrong = h.login("alice@example.com", "Wrong1234").await;
    wrong.assert_err(400, "ValidationError", "Invalid identifier or password");
    let unknown = h.login("nobody@example.com", PASSWORD).await;
    assert_eq!(unknown.text, wrong.text);
    for (name, provider, hash) in [
        ("gina", "google", Some(crate::common::password_hash())),
        ("nopass", "local", None),
    ] {
        h.store()
            .create_user(NewUser {
                username: name.into(),
                email: format!("{name}@example.com"),
                password_hash: hash,
                provider: provider.into(),
                role: "authenticated".into(),
                confirmed: true,
                blocked: false,
            })
            .await
            .unwrap();
        let r = h.login(&format!("{name}@example.com"), PASSWORD).await;
        assert_eq!(r.text, wrong.text, "{name}");
        assert_eq!(h.login(name, PASSWORD).await.text, wrong.text, "{name}");
    }
}
both!(c05_06_15, super::c05_06_15_same_answer);

/// 7, 8, 9: yup, strict, `abortEarly: false`.
async fn c07_08_09_validation(url: String) {
    let h = H::new(&url).await;
    h.post("auth/local", json!({})).await.assert_yup(
        "2 errors occurred",
        &[
            (&["identifier"], "identifier is a required field"),
            (&["password"], "password is a required field"),
        ],
    );
    h.post("auth/local", json!({"identifier": "alice"}))
        .await
        .assert_yup(
            "password is a required field",
            &[(&["password"], "password is a required field")],
        );
    let r = h
        .post(
            "auth/local",
            json!({"identifier": "alice", "password": 123}),
        )
        .await;
    let msg = "password must be a `string` type, but the final value was: `123`.";
    r.assert_yup(msg, &[(&["password"], msg)]);
    assert_eq!(r.json["error"]["details"]["errors"][0]["value"], 123);
    // Empty strings count as missing; an empty body reads as `{}`.
    h.post("auth/local", json!({"identifier": "", "password": ""}))
        .await
        .assert_yup(
            "2 errors occurred",
            &[
                (&["identifier"], "identifier is a required field"),
                (&["password"], "password is a required field"),
            ],
        );
    let r = h.run(Call::post("auth/local", json!(null)).raw("")).await;
    assert_eq!(r.json["error"]["message"], "2 errors occurred");
    // `{"identifier": {"$ne": null}}`: never reaches the lookup.
    let r = h
        .post(
            "auth/local",
            json!({"identifier": {"$ne": null}, "password": PASSWORD}),
        )
        .await;
    assert_eq!(
        r.json["error"]["message"],
        "identifier must be a `string` type, but the final value was: `{\n  \"$ne\": \"null\"\n}`."
    );
}
both!(c07_08_09, super::c07_08_09_validation);

/// 10, 13: with confirmation on, an unconfirmed user is refused only after
/// the right password, before the blocked check.
async fn c10_13_unconfirmed(url: String) {
    let h = H::with(&url, |s| s.email_confirmation = true).await;
    h.user("carol", "carol@example.com", false, false).await;
    h.user("dave", "dave@example.com", false, true).await;
    h.login("carol", PASSWORD).await.assert_err(
        400,
        "ApplicationError",
        "Your account email is not confirmed",
    );
    h.login("carol", "Wrong1234").await.assert_err(
        400,
        "ValidationError",
        "Invalid identifier or password",
    );
    h.login("dave", PASSWORD).await.assert_err(
        400,
        "ApplicationError",
        "Your account email is not confirmed",
    );
    // Confirmation off: unconfirmed users log in.
    let off = H::new(&url).await;
    assert_eq!(off.login("carol", PASSWORD).await.status, 200);
}
both!(c10_13, super::c10_13_unconfirmed);

/// 11, 12: blocked users, right and wrong password.
async fn c11_12_blocked(url: String) {
    let h = H::new(&url).await;
    h.user("bob", "bob@example.com", true, true).await;
    h.login("bob", PASSWORD).await.assert_err(
        400,
        "ApplicationError",
        "Your account has been blocked by an administrator",
    );
    h.login("bob", "Wrong1234").await.assert_err(
        400,
        "ValidationError",
        "Invalid identifier or password",
    );
}
both!(c11_12, super::c11_12_blocked);

/// A bcrypt hash imported from Strapi logs in and is replaced by argon2id,
/// without revoking the user's tokens.
async fn bcrypt_rehash(url: String) {
    let h = H::new(&url).await;
    let hash = bcrypt::hash(PASSWORD, 4).unwrap();
    assert!(hash.starts_with("$2b$04$"));
    let user = h
        .store()
        .create_user(NewUser {
            username: "legacy".into(),
            email: "legacy@example.com".into(),
            password_hash: Some(hash.clone()),
            provider: "local".into(),
            role: "authenticated".into(),
            confirmed: true,
            blocked: false,
        })
        .await
        .unwrap();
    h.login("legacy", "Wrong1234").await.assert_err(
        400,
        "ValidationError",
        "Invalid identifier or password",
    );
    assert_eq!(
        h.fetch(user.id).await.password.as_deref(),
        Some(hash.as_str())
    );

    assert_eq!(h.login("legacy", PASSWORD).await.status, 200);
    let after = h.fetch(user.id).await;
    let stored = after.password.clone().unwrap();
    assert!(stored.starts_with("$argon2id$"), "{stored}");
    assert_eq!(after.tokens_valid_after, None, "a rehash revokes nothing");
    assert_eq!(after.updated_at, user.updated_at);
    assert!(h.changed().contains(&user.id));
    assert_eq!(
        portcullis_store::verify_password(PASSWORD, &stored).unwrap(),
        Verified::Ok
    );
    assert_eq!(h.login("legacy", PASSWORD).await.status, 200);
    assert_eq!(
        h.fetch(user.id).await.password.unwrap(),
        stored,
        "rehashed once"
    );
}
both!(bcrypt_rehashed, super::bcrypt_rehash);

/// `GET /api/auth/local/callback` is the local login too (empty body → `{}`).
async fn local_callback_route(url: String) {
    let h = H::new(&url).await;
    let r = h
        .run(Call::get(
            "auth/:provider/callback",
            "auth/local/callback",
            None,
        ))
        .await;
    assert_eq!(r.json["error"]["message"], "2 errors occurred");
}
both!(local_callback, super::local_callback_route);

/// A miss verifies against the dummy hash: a real argon2 computation with
/// the current parameters, not a parse failure that returns at once.
#[test]
fn dummy_hash_costs_a_real_verification() {
    let real = portcullis_store::hash_password("something").unwrap();
    let t = Instant::now();
    assert_eq!(
        portcullis_store::verify_password("x", &real).unwrap(),
        Verified::Mismatch
    );
    let real_cost = t.elapsed();
    let t = Instant::now();
    assert_eq!(
        portcullis_store::verify_password("x", DUMMY_HASH).unwrap(),
        Verified::Mismatch
    );
    let dummy_cost = t.elapsed();
    assert!(
        dummy_cost * 3 > real_cost,
        "dummy {dummy_cost:?} vs real {real_cost:?}"
    );
    assert!(DUMMY_HASH.starts_with("$argon2id$v=19$m=7168,t=5,p=1$"));
}
