//! `/api/users…` and `/api/users-permissions/…`: §10.70–95, 99, 100, and
//! the gateway's own `PUT /api/users/me`.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use portcullis_tests::user_jwt;
use serde_json::{Value, json};

use crate::up::*;

#[tokio::test]
async fn users_and_roles_cases() {
    let env = spawn().await;
    let alice = create_user(&env.gw, "alice", &["--confirmed"]).await;
    let root = create_user(&env.gw, "root", &["--confirmed", "--role", "admin"]).await;
    let (alice_jwt, _) = env.login_ok("alice", PASSWORD).await;
    let admin = user_jwt(root);
    let admin = Some(admin.as_str());
    let read_only = env.token("ro", "read-only", &[]).await;

    Box::pin(read_cases(&env, alice, &alice_jwt, admin)).await;
    Box::pin(write_cases(&env, admin)).await;
    Box::pin(token_and_me_cases(&env, alice, &alice_jwt, &read_only)).await;
    Box::pin(role_cases(&env, admin, &alice_jwt)).await;
    assert_untouched(&env.upstream, "users routes");
}

/// §10.70–78.
async fn read_cases(env: &Env, alice: i64, alice_jwt: &str, admin: Option<&str>) {
    // §10.70 / §10.73: decided by the proxy (public has permissions, not
    // these).
    assert_403(&env.get("/api/users/me", None).await, "§10.70");
    assert_403(&env.get("/api/users", None).await, "§10.73");
    assert_403(
        &env.get("/api/users", Some(alice_jwt)).await,
        "§10.73 authenticated",
    );

    // §10.71 / §10.72: me, never with a role the caller may not read.
    let r = env.get("/api/users/me", Some(alice_jwt)).await;
    assert_eq!(r.status, 200, "§10.71: {}", r.text());
    let me = r.json();
    assert_user_shape(&me, false, "§10.71");
    assert_eq!(me["id"], alice);
    let r = env
        .get("/api/users/me?populate=role", Some(alice_jwt))
        .await;
    assert_eq!(r.status, 200, "§10.72: {}", r.text());
    assert_user_shape(&r.json(), false, "§10.72");
    // …but with it for a caller who may (admin has role.find).
    let r = env.get("/api/users/me?populate=role", admin).await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.json()["role"]["type"], "admin", "{}", r.text());

    // §10.74: a bare array.
    let r = env.get("/api/users", admin).await;
    assert_eq!(r.status, 200, "§10.74: {}", r.text());
    let list = r.json();
    let list = list.as_array().expect("§10.74: bare array");
    assert_eq!(list.len(), 2, "§10.74");
    for u in list {
        assert_user_shape(u, false, "§10.74");
    }
    // §10.75 / §10.76: filters on private attributes.
    let r = env
        .get("/api/users?filters[password][$startsWith]=$", admin)
        .await;
    assert_eq!(r.status, 400, "§10.75: {}", r.text());
    let body = r.json();
    assert_eq!(body["error"]["name"], "ValidationError", "§10.75: {body}");
    assert_eq!(body["error"]["message"], "Invalid key password", "§10.75");
    let r = env
        .get(
            "/api/users?filters%5BresetPasswordToken%5D%5B%24notNull%5D=true",
            admin,
        )
        .await;
    assert_eq!(r.status, 400, "§10.76: {}", r.text());
    assert_eq!(
        r.json()["error"]["message"],
        "Invalid key resetPasswordToken",
        "§10.76"
    );
    // A public attribute filters normally.
    let r = env
        .get("/api/users?filters[username][$eq]=alice", admin)
        .await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.json().as_array().map(Vec::len), Some(1));

    // §10.77: a bare number. §10.78: 204 for an unknown id.
    let r = env.get("/api/users/count", admin).await;
    assert_eq!(r.status, 200, "§10.77: {}", r.text());
    assert_eq!(r.text(), "2", "§10.77");
    let r = env.get("/api/users/99999999", admin).await;
    assert_eq!(r.status, 204, "§10.78: {}", r.text());
    assert!(r.body.is_empty(), "§10.78");
    let r = env.get(&format!("/api/users/{alice}"), admin).await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.json()["username"], "alice");
}

/// §10.79–88, 99, 100.
async fn write_cases(env: &Env, admin: Option<&str>) {
    // §10.79–81: create.
    let r = env
        .post(
            "/api/users",
            admin,
            json!({"username": "frank", "email": "frank@example.com", "password": PASSWORD}),
        )
        .await;
    assert_yup(&r, "role is a required field", &[&["role"]], "§10.79");
    let r = env
        .post(
            "/api/users",
            admin,
            json!({"username": "frank", "email": "Frank@example.com", "password": PASSWORD, "role": 2}),
        )
        .await;
    assert_eq!(r.status, 201, "§10.80: {}", r.text());
    let frank = r.json();
    assert_user_shape(&frank, true, "§10.80");
    assert_eq!(frank["email"], "frank@example.com");
    assert_eq!(frank["role"]["type"], "authenticated", "§10.80: {frank}");
    assert_eq!(frank["role"]["id"], 2, "§10.80: {frank}");
    let frank_id = frank["id"].as_i64().unwrap();
    let hash = env
        .scalar(&format!(
            "SELECT password FROM up_users WHERE id = {frank_id}"
        ))
        .await
        .unwrap();
    assert!(hash.starts_with("$argon2id$"), "§10.80: {hash}");
    env.login_ok("frank", PASSWORD).await;
    let r = env
        .post(
            "/api/users",
            admin,
            json!({"username": "frank2", "email": "FRANK@example.com", "password": PASSWORD, "role": 2}),
        )
        .await;
    assert_application(&r, "Email already taken", "§10.81");

    // §10.82–87: update.
    let frank_path = format!("/api/users/{frank_id}");
    let r = env
        .put("/api/users/99999999", admin, json!({"username": "x"}))
        .await;
    assert_error(&r, 404, "NotFoundError", "User not found", "§10.82");
    let r = env.put(&frank_path, admin, json!({"password": ""})).await;
    assert_validation(&r, "password.notNull", "§10.83");
    let r = env
        .put(&frank_path, admin, json!({"username": "alice"}))
        .await;
    assert_application(&r, "Username already taken", "§10.84");
    let r = env
        .put(&frank_path, admin, json!({"email": "ALICE@example.com"}))
        .await;
    assert_application(&r, "Email already taken", "§10.85");
    let r = env
        .put(
            &frank_path,
            admin,
            json!({"role": {"disconnect": [{"id": 2}]}}),
        )
        .await;
    assert_eq!(r.status, 400, "§10.86: {}", r.text());
    assert_eq!(r.json()["error"]["message"], "Cannot remove role", "§10.86");
    let before = env.get(&frank_path, admin).await.json();
    let r = env
        .put(&frank_path, admin, json!({"unknownField": "x"}))
        .await;
    assert_eq!(r.status, 200, "§10.87: {}", r.text());
    let after = r.json();
    assert!(after.get("unknownField").is_none(), "§10.87: {after}");
    for k in ["username", "email", "confirmed", "blocked", "updatedAt"] {
        assert_eq!(after[k], before[k], "§10.87 {k}: no change");
    }
    let r = env
        .put(&frank_path, admin, json!({"username": "franky"}))
        .await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.json()["username"], "franky");

    // §10.100: blocking a user refuses its JWT at once.
    let (frank_jwt, _) = env.login_ok("franky", PASSWORD).await;
    assert_eq!(env.get("/api/users/me", Some(&frank_jwt)).await.status, 200);
    let r = env.put(&frank_path, admin, json!({"blocked": true})).await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.json()["blocked"], true);
    let r = env.get("/api/users/me", Some(&frank_jwt)).await;
    assert_401_invalid(&r, "§10.100");
    let r = env.put(&frank_path, admin, json!({"blocked": false})).await;
    assert_eq!(r.status, 200, "{}", r.text());
    // Beyond Strapi: the block revoked the JWTs issued before it, so the old
    // token stays refused after unblocking; a new login works.
    let r = env.get("/api/users/me", Some(&frank_jwt)).await;
    assert_401_invalid(&r, "§10.100 unblocked, token from before the block");
    let (frank_jwt, _) = env.login_ok("franky", PASSWORD).await;
    let r = env.get("/api/users/me", Some(&frank_jwt)).await;
    assert_eq!(r.status, 200, "§10.100 unblocked, new login: {}", r.text());

    // §10.88 / §10.99: delete; the deleted user's JWT is refused at once.
    let r = env.send("DELETE", &frank_path, admin, None).await;
    assert_eq!(r.status, 200, "§10.88: {}", r.text());
    let deleted = r.json();
    assert_user_shape(&deleted, false, "§10.88");
    assert_eq!(deleted["id"], frank_id);
    let r = env.get("/api/users/me", Some(&frank_jwt)).await;
    assert_401_invalid(&r, "§10.99");
    let r = env.send("DELETE", &frank_path, admin, None).await;
    assert_eq!(r.status, 204, "delete again: {}", r.text());
}

/// §10.89 and `PUT /api/users/me`.
async fn token_and_me_cases(env: &Env, alice: i64, alice_jwt: &str, read_only: &str) {
    // §10.89: a read-only API token: find and findOne only.
    let r = env.get("/api/users", Some(read_only)).await;
    assert_eq!(r.status, 200, "§10.89 find: {}", r.text());
    assert!(r.json().is_array());
    let r = env
        .get(&format!("/api/users/{alice}"), Some(read_only))
        .await;
    assert_eq!(r.status, 200, "§10.89 findOne: {}", r.text());
    assert_403(
        &env.get("/api/users/me", Some(read_only)).await,
        "§10.89 me",
    );
    assert_403(
        &env.get("/api/users/count", Some(read_only)).await,
        "§10.89 count",
    );

    // PRODUCT DECISION: PUT /api/users/me (not in Strapi) changes the
    // caller's username / email only; anything else is refused.
    let r = env
        .put(
            "/api/users/me",
            Some(alice_jwt),
            json!({"username": "alice2"}),
        )
        .await;
    assert_eq!(r.status, 200, "PUT me: {}", r.text());
    assert_eq!(r.json()["username"], "alice2");
    for (body, key) in [
        (json!({"password": "Other-Passw0rd"}), "password"),
        (json!({"role": 3}), "role"),
        (json!({"blocked": false, "username": "x1x"}), "blocked"),
        (json!({"confirmed": true}), "confirmed"),
    ] {
        let r = env.put("/api/users/me", Some(alice_jwt), body).await;
        assert_validation(&r, &format!("Invalid parameters: {key}"), "PUT me");
    }
    assert_eq!(
        env.scalar(&format!("SELECT role FROM up_users WHERE id = {alice}"))
            .await
            .as_deref(),
        Some("authenticated")
    );
    env.login_ok("alice2", PASSWORD).await;
    let r = env
        .put("/api/users/me", None, json!({"username": "anon"}))
        .await;
    assert_403(&r, "PUT me anonymous");
}

/// §10.90–95.
async fn role_cases(env: &Env, admin: Option<&str>, alice_jwt: &str) {
    // §10.90: roles in policy order, each with nb_users.
    let r = env.get("/api/users-permissions/roles", admin).await;
    assert_eq!(r.status, 200, "§10.90: {}", r.text());
    let roles = r.json();
    let roles = roles["roles"].as_array().expect("§10.90");
    let summary: Vec<(Value, Value, Value)> = roles
        .iter()
        .map(|r| (r["id"].clone(), r["type"].clone(), r["nb_users"].clone()))
        .collect();
    assert_eq!(
        summary,
        vec![
            (json!(1), json!("public"), json!(0)),
            (json!(2), json!("authenticated"), json!(1)),
            (json!(3), json!("admin"), json!(1)),
        ],
        "§10.90"
    );
    assert_eq!(roles[0]["name"], "Public");
    let r = env.get("/api/users-permissions/roles/2", admin).await;
    assert_eq!(r.status, 200, "{}", r.text());
    let role = r.json();
    assert_eq!(role["role"]["type"], "authenticated");
    assert_eq!(
        role["role"]["permissions"]["plugin::users-permissions"]["controllers"]["user"]["me"],
        json!({"enabled": true, "policy": ""}),
        "{role}"
    );
    // §10.91.
    let r = env.get("/api/users-permissions/roles/99999", admin).await;
    assert_error(&r, 404, "NotFoundError", "Role not found", "§10.91");
    // §10.92–94 PRODUCT DECISION: roles live in the policy files, so the
    // write routes answer 405 MethodNotAllowedError (Strapi: 400 "Request
    // body cannot be empty", 200 {ok:true}, 400 "Cannot delete public
    // role").
    for (method, path, body, case) in [
        (
            "POST",
            "/api/users-permissions/roles",
            Some(json!({})),
            "§10.92",
        ),
        (
            "POST",
            "/api/users-permissions/roles",
            Some(json!({"name": "Editors"})),
            "§10.93",
        ),
        ("DELETE", "/api/users-permissions/roles/1", None, "§10.94"),
        (
            "PUT",
            "/api/users-permissions/roles/2",
            Some(json!({"name": "x"})),
            "update",
        ),
    ] {
        let r = env.send(method, path, admin, body.as_ref()).await;
        assert_eq!(r.status, 405, "{case}: {}", r.text());
        let b = r.json();
        assert_eq!(b["error"]["name"], "MethodNotAllowedError", "{case}: {b}");
    }
    let r = env.get("/api/users-permissions/roles", admin).await;
    assert_eq!(r.json()["roles"].as_array().map(Vec::len), Some(3));
    // Without the grant: 403 by the proxy.
    assert_403(
        &env.get("/api/users-permissions/roles", Some(alice_jwt))
            .await,
        "roles for authenticated",
    );

    // §10.95: the catalogue, every action disabled (5.54).
    let r = env.get("/api/users-permissions/permissions", admin).await;
    assert_eq!(r.status, 200, "§10.95: {}", r.text());
    let perms = r.json();
    let tree = perms["permissions"].as_object().expect("§10.95");
    assert!(tree.contains_key("api::article"), "§10.95: {perms}");
    assert!(
        tree.contains_key("plugin::users-permissions"),
        "§10.95: {perms}"
    );
    let mut n = 0;
    for kind in tree.values() {
        for controller in kind["controllers"].as_object().unwrap().values() {
            for action in controller.as_object().unwrap().values() {
                assert_eq!(action, &json!({"enabled": false, "policy": ""}), "§10.95");
                n += 1;
            }
        }
    }
    assert!(n > 20, "§10.95: only {n} actions");
}
