//! `POST /api/users`, `PUT /api/users/:id`, `PUT /api/users/me` and
//! `DELETE /api/users/:id` (strapi-behavior.md §3.11, checklist 79–88),
//! including mass-assignment attempts, each body run on SQLite and
//! PostgreSQL.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod users_support;

use portcullis_store::verify_password;
use portcullis_users_permissions::UpCaller;
use portcullis_users_permissions::request::ApiTokenKind;
use serde_json::{Value, json};
use users_support::{Env, SEED_HASH, USER_KEYS, as_user, token};

fn yup_errors(r: &users_support::Reply) -> Vec<Value> {
    assert_eq!(
        (r.status, r.json["error"]["name"].as_str()),
        (400, Some("ValidationError")),
        "{}",
        r.text
    );
    r.json["error"]["details"]["errors"]
        .as_array()
        .unwrap()
        .clone()
}

async fn create(url: String) {
    let env = Env::new(&url).await;
    let post = |caller: UpCaller, body: Value| {
        let env = &env;
        async move { env.call("user.create", caller).body(body).send().await }
    };
    // 79
    let r = post(
        as_user(&env.dave),
        json!({"username": "erin", "email": "erin@example.com", "password": "Secret123"}),
    )
    .await;
    assert_eq!(r.json["error"]["message"], "role is a required field");
    assert_eq!(
        yup_errors(&r),
        [
            json!({"path": ["role"], "message": "role is a required field", "name": "ValidationError"})
        ]
    );
    let r = post(as_user(&env.dave), json!({})).await;
    assert_eq!(r.json["error"]["message"], "4 errors occurred");
    let paths: Vec<Value> = yup_errors(&r).iter().map(|e| e["path"].clone()).collect();
    assert_eq!(
        paths,
        [
            json!(["email"]),
            json!(["username"]),
            json!(["password"]),
            json!(["role"])
        ]
    );
    let r = post(
        as_user(&env.dave),
        json!({"username": "erin", "email": "nope", "password": 123, "role": {"connect": []}}),
    )
    .await;
    let messages: Vec<Value> = yup_errors(&r)
        .iter()
        .map(|e| e["message"].clone())
        .collect();
    assert_eq!(
        messages,
        [
            json!("email must be a valid email"),
            json!("password must be a `string` type, but the final value was: `123`."),
            json!("Users must have a role"),
        ]
    );
    // Empty strings: yup's email() lets "" through, min(1) and required()
    // both fail.
    let r = post(
        as_user(&env.dave),
        json!({"username": "", "email": "", "password": "", "role": 2}),
    )
    .await;
    let expected = json!([
        {"path": ["email"], "message": "email is a required field", "name": "ValidationError", "value": ""},
        {"path": ["username"], "message": "username must be at least 1 characters", "name": "ValidationError", "value": ""},
        {"path": ["username"], "message": "username is a required field", "name": "ValidationError", "value": ""},
        {"path": ["password"], "message": "password must be at least 1 characters", "name": "ValidationError", "value": ""},
        {"path": ["password"], "message": "password is a required field", "name": "ValidationError", "value": ""},
    ]);
    assert_eq!(json!(yup_errors(&r)), expected);
    assert_eq!(r.json["error"]["message"], "5 errors occurred");
    // 80: created, hashed, sanitized; unknown and private keys ignored.
    let body = json!({
        "username": "erin", "email": "Erin@Example.com", "password": "Secret123", "role": 2,
        "provider": "google", "resetPasswordToken": "x", "confirmationToken": "y", "id": 999,
        "documentId": "aaaaaaaaaaaaaaaaaaaaaaaa", "createdAt": "2000-01-01T00:00:00.000Z", "blocked": false,
    });
    let r = post(as_user(&env.dave), body).await;
    assert_eq!(r.status, 201, "{}", r.text);
    assert_eq!(
        r.keys(),
        USER_KEYS,
        "no role for a caller who may not read roles"
    );
    assert_eq!(
        (r.json["email"].as_str(), r.json["provider"].as_str()),
        (Some("erin@example.com"), Some("local"))
    );
    assert_eq!(
        (r.json["confirmed"].as_bool(), r.json["blocked"].as_bool()),
        (Some(false), Some(false))
    );
    assert_ne!(r.json["id"], 999);
    assert_ne!(r.json["documentId"], "aaaaaaaaaaaaaaaaaaaaaaaa");
    let erin = env.store().user_by_username("erin").await.unwrap().unwrap();
    assert_eq!(
        (erin.role.as_str(), erin.reset_password_token.as_deref()),
        ("authenticated", None)
    );
    let hash = erin.password.clone().unwrap();
    assert!(hash.starts_with("$argon2id$"));
    assert!(verify_password("Secret123", &hash).unwrap().is_ok());
    assert_eq!(env.events.take(), [erin.id]);
    // The role is shown to role readers; every reference form works.
    let doc = portcullis_users_permissions::sanitize::role_document_id("clerk");
    for (name, role) in [
        ("frank", json!(3)),
        ("grace", json!(doc)),
        ("heidi", json!({"connect": [{"id": 4}]})),
        ("ivan", json!({"connect": [{"documentId": doc}]})),
        ("judy", json!("2")),
    ] {
        let body = json!({"username": name, "email": format!("{name}@example.com"), "password": "Secret123", "role": role, "confirmed": true});
        let r = post(as_user(&env.carol), body).await;
        assert_eq!(r.status, 201, "{name}: {}", r.text);
        assert_eq!(r.json["confirmed"], true);
        let stored = env.store().user_by_username(name).await.unwrap().unwrap();
        assert_eq!(
            r.json["role"]["type"].as_str(),
            Some(stored.role.as_str()),
            "{name}"
        );
    }
    // 81 and the other service errors, re-thrown as ApplicationError.
    let dup_email = json!({"username": "zed", "email": "ALICE@example.com", "password": "Secret123", "role": 2});
    post(as_user(&env.dave), dup_email).await.assert_error(
        400,
        "ApplicationError",
        "Email already taken",
    );
    let dup_name = json!({"username": "alice", "email": "zed@example.com", "password": "Secret123", "role": 2});
    post(as_user(&env.dave), dup_name).await.assert_error(
        400,
        "ApplicationError",
        "This attribute must be unique",
    );
    let short =
        json!({"username": "ab", "email": "zed@example.com", "password": "Secret123", "role": 2});
    post(as_user(&env.dave), short).await.assert_error(
        400,
        "ApplicationError",
        "username must be at least 3 characters",
    );
    let shorts =
        json!({"username": "ab", "email": "zed@example.com", "password": "abc", "role": 2});
    post(as_user(&env.dave), shorts).await.assert_error(
        400,
        "ApplicationError",
        "2 errors occurred",
    );
    let no_role =
        json!({"username": "zed", "email": "zed@example.com", "password": "Secret123", "role": 99});
    post(as_user(&env.dave), no_role)
        .await
        .assert_error(400, "ApplicationError", "Role not found");
    let r = post(as_user(&env.dave), json!([1, 2])).await;
    assert_eq!(r.status, 400);
    assert!(env.store().user_by_username("zed").await.unwrap().is_none());
}
both!(create_route, super::create);

async fn update(url: String) {
    let env = Env::new(&url).await;
    let put = |id: String, body: Value| {
        let env = &env;
        async move {
            env.call("user.update", as_user(&env.dave))
                .id(id)
                .body(body)
                .send()
                .await
        }
    };
    let alice = env.alice.id.to_string();
    // 82: unknown id, checked before validation.
    put("99999999".into(), json!({"email": "bad"}))
        .await
        .assert_error(404, "NotFoundError", "User not found");
    // 83
    put(alice.clone(), json!({"password": ""}))
        .await
        .assert_error(400, "ValidationError", "password.notNull");
    put(alice.clone(), json!({"password": null}))
        .await
        .assert_error(400, "ValidationError", "password.notNull");
    // 84, 85
    put(alice.clone(), json!({"username": "bob"}))
        .await
        .assert_error(400, "ApplicationError", "Username already taken");
    put(alice.clone(), json!({"email": "CAROL@example.com"}))
        .await
        .assert_error(400, "ApplicationError", "Email already taken");
    // 86
    let r = put(alice.clone(), json!({"role": {"disconnect": [{"id": 1}]}})).await;
    assert_eq!(r.json["error"]["message"], "Cannot remove role");
    let expected = json!({"path": ["role", "disconnect"], "message": "Cannot remove role", "name": "ValidationError", "value": [{"id": 1}]});
    assert_eq!(yup_errors(&r), [expected]);
    // 87 and mass assignment: unknown or private fields change nothing.
    let body = json!({
        "unknownField": "x", "provider": "google", "resetPasswordToken": "x", "confirmationToken": "y",
        "id": 1, "documentId": "zzz", "createdAt": "2000-01-01T00:00:00.000Z", "tokens_valid_after": 0,
    });
    let r = put(alice.clone(), body).await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(
        env.reload(&env.alice).await.unwrap(),
        env.alice,
        "nothing changed"
    );
    assert!(env.events.take().is_empty());
    // Entity validation (5.49+): uncaught, so a ValidationError with details.
    let r = put(alice.clone(), json!({"username": "ab"})).await;
    let expected = json!({"path": ["username"], "message": "username must be at least 3 characters", "name": "ValidationError", "value": "ab"});
    assert_eq!(yup_errors(&r), [expected]);
    let r = put(alice.clone(), json!({"email": "x"})).await;
    assert_eq!(r.json["error"]["message"], "email must be a valid email");
    let r = put(alice.clone(), json!({"blocked": "yes"})).await;
    assert_eq!(
        r.json["error"]["message"],
        "blocked must be a `boolean` type, but the final value was: `\"yes\"`."
    );
    put(alice.clone(), json!({"role": 42})).await.assert_error(
        400,
        "ValidationError",
        "Role not found",
    );
    // Username and email; email lower-cased under unique_email.
    let r = put(
        alice.clone(),
        json!({"username": "alice2", "email": "Alice2@Example.com"}),
    )
    .await;
    assert_eq!(
        (
            r.status,
            r.json["username"].as_str(),
            r.json["email"].as_str()
        ),
        (200, Some("alice2"), Some("alice2@example.com"))
    );
    assert_eq!(r.keys(), USER_KEYS);
    // Role, blocked, confirmed and password: stored and announced.
    let r = put(alice.clone(), json!({"role": {"connect": [{"id": 3}], "disconnect": [{"id": 2}]}, "blocked": true, "confirmed": false})).await;
    assert_eq!(
        (r.json["blocked"].as_bool(), r.json["confirmed"].as_bool()),
        (Some(true), Some(false))
    );
    let stored = env.reload(&env.alice).await.unwrap();
    assert_eq!(stored.role, "manager");
    assert!(
        stored.tokens_valid_after.is_some(),
        "blocking revokes earlier tokens"
    );
    let r = put(alice.clone(), json!({"password": "NewSecret1"})).await;
    assert_eq!(r.status, 200);
    let stored = env.reload(&env.alice).await.unwrap();
    assert_ne!(stored.password.as_deref(), Some(SEED_HASH));
    assert!(
        verify_password("NewSecret1", stored.password.as_deref().unwrap())
            .unwrap()
            .is_ok()
    );
    assert!(env.events.take().iter().all(|id| *id == env.alice.id));
    // A role reader sees the populated role; documentId addresses the user.
    let r = env
        .call("user.update", as_user(&env.carol))
        .id(&env.bob.document_id)
        .body(json!({"role": "4", "blocked": false}))
        .send()
        .await;
    assert_eq!(
        (r.json["role"]["type"].as_str(), r.json["blocked"].as_bool()),
        (Some("clerk"), Some(false))
    );
    assert_eq!(env.events.take(), [env.bob.id]);
}
both!(update_route, super::update);

async fn update_me(url: String) {
    let env = Env::new(&url).await;
    for caller in [UpCaller::Public, token(ApiTokenKind::FullAccess)] {
        let r = env
            .call("user.updateMe", caller)
            .body(json!({"username": "x"}))
            .send()
            .await;
        r.assert_error(401, "UnauthorizedError", "Unauthorized");
    }
    let put = |body: Value| {
        let env = &env;
        async move {
            env.call("user.updateMe", as_user(&env.alice))
                .body(body)
                .send()
                .await
        }
    };
    // Mass assignment: anything but username and email is refused.
    for (body, keys) in [
        (json!({"role": 3}), "role"),
        (
            json!({"username": "x", "blocked": false, "confirmed": true}),
            "blocked, confirmed",
        ),
        (json!({"provider": "google"}), "provider"),
        (json!({"password": "NewSecret1"}), "password"),
        (json!({"id": 3, "documentId": "x"}), "id, documentId"),
        (
            json!({"resetPasswordToken": null, "role": {"connect": [{"id": 3}]}}),
            "resetPasswordToken, role",
        ),
    ] {
        put(body).await.assert_error(
            400,
            "ValidationError",
            &format!("Invalid parameters: {keys}"),
        );
    }
    assert_eq!(
        env.reload(&env.alice).await.unwrap(),
        env.alice,
        "nothing changed"
    );
    assert!(env.events.take().is_empty());
    put(json!({"username": "bob"})).await.assert_error(
        400,
        "ApplicationError",
        "Username already taken",
    );
    put(json!({"email": "Bob@Example.com"})).await.assert_error(
        400,
        "ApplicationError",
        "Email already taken",
    );
    let r = put(json!({"email": "not-an-email"})).await;
    assert_eq!(r.json["error"]["message"], "email must be a valid email");
    let r = put(json!({"username": 5})).await;
    assert_eq!(
        r.json["error"]["message"],
        "username must be a `string` type, but the final value was: `5`."
    );
    let r = put(json!({"username": "alice.new", "email": "ALICE.NEW@example.com"})).await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(
        (r.json["username"].as_str(), r.json["email"].as_str()),
        (Some("alice.new"), Some("alice.new@example.com"))
    );
    assert!(r.json.get("role").is_none());
    let stored = env.reload(&env.alice).await.unwrap();
    assert_eq!(
        (
            stored.role.as_str(),
            stored.blocked,
            stored.password.as_deref()
        ),
        ("authenticated", false, Some(SEED_HASH))
    );
    // Keeping one's own name is not a conflict.
    assert_eq!(put(json!({"username": "alice.new"})).await.status, 200);
}
both!(update_me_route, super::update_me);

async fn destroy(url: String) {
    let env = Env::new(&url).await;
    // 88: the deleted user, sanitized (no role, even for role readers).
    let r = env
        .call("user.destroy", as_user(&env.carol))
        .id(env.alice.id)
        .send()
        .await;
    assert_eq!(
        (r.status, r.json["username"].as_str()),
        (200, Some("alice"))
    );
    assert_eq!(r.keys(), USER_KEYS);
    assert!(env.reload(&env.alice).await.is_none());
    assert_eq!(env.events.take(), [env.alice.id]);
    let r = env
        .call("user.destroy", as_user(&env.carol))
        .id(env.alice.id)
        .send()
        .await;
    assert_eq!((r.status, r.text.as_str()), (204, ""));
    let r = env
        .call("user.destroy", as_user(&env.carol))
        .id(&env.bob.document_id)
        .send()
        .await;
    assert_eq!(r.json["id"], env.bob.id);
    assert_eq!(env.events.take(), [env.bob.id]);
}
both!(destroy_route, super::destroy);
