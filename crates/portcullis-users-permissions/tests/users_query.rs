//! `GET /api/users`, `/users/count`, `/users/:id` and `/users/me`
//! (strapi-behavior.md §3.11, checklist 71–78, 89), each body run on SQLite
//! and PostgreSQL. Filter operators, sorting and pagination are in
//! `users_filters.rs`; exfiltration attempts in `users_exfiltration.rs`.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod users_support;

use portcullis_core::{Caller, Outcome, TokenAccess};
use portcullis_users_permissions::UpCaller;
use portcullis_users_permissions::request::ApiTokenKind;
use serde_json::json;
use users_support::{Env, USER_KEYS, as_user, token};

async fn me(url: String) {
    let env = Env::new(&url).await;
    // Checklist 89 (handler side): API tokens and anonymous callers have no
    // user, whatever their grants.
    for caller in [
        UpCaller::Public,
        token(ApiTokenKind::FullAccess),
        token(ApiTokenKind::ReadOnly),
    ] {
        env.call("user.me", caller).send().await.assert_error(
            401,
            "UnauthorizedError",
            "Unauthorized",
        );
    }
    // 71: the user, no role.
    let r = env.call("user.me", as_user(&env.alice)).send().await;
    assert_eq!(r.status, 200);
    assert_eq!(r.keys(), USER_KEYS);
    assert_eq!(r.json["id"], env.alice.id);
    assert_eq!(r.json["username"], "alice");
    assert_eq!(r.json["provider"], "local");
    assert_eq!(r.json["confirmed"], true);
    // 72: populate=role without role.find is silently dropped.
    let r = env
        .call("user.me", as_user(&env.alice))
        .query("populate=role")
        .send()
        .await;
    assert_eq!(r.status, 200);
    assert!(r.json.get("role").is_none(), "{}", r.text);
    // A caller who may read roles sees its own.
    let r = env
        .call("user.me", as_user(&env.carol))
        .query("populate=role")
        .send()
        .await;
    assert_eq!(
        r.json["role"],
        json!({"id": 3, "documentId": r.json["role"]["documentId"], "name": "Manager", "description": "Manages users.", "type": "manager"})
    );
    assert_eq!(
        r.json["role"]["documentId"].as_str().map(str::len),
        Some(24)
    );
    // fields are honoured; id and documentId always stay.
    let r = env
        .call("user.me", as_user(&env.alice))
        .query("fields[0]=username")
        .send()
        .await;
    assert_eq!(r.keys(), ["id", "documentId", "username"]);
    // The query is validated like the list's.
    env.call("user.me", as_user(&env.alice))
        .query("fields[0]=password")
        .send()
        .await
        .assert_invalid_key("password", "password", "fields");
    // Deleted after authentication: Strapi's null body.
    env.store().delete_user(env.alice.id).await.unwrap();
    let r = env.call("user.me", as_user(&env.alice)).send().await;
    assert_eq!((r.status, r.text.as_str()), (204, ""));
}
both!(me_route, super::me);

async fn find_and_count(url: String) {
    let env = Env::new(&url).await;
    // 74: a bare array, in id order, sanitized, no role by default.
    let r = env.call("user.find", as_user(&env.carol)).send().await;
    assert_eq!(r.usernames(), ["alice", "bob", "carol", "dave"]);
    for user in r.json.as_array().unwrap() {
        let keys: Vec<&String> = user.as_object().unwrap().keys().collect();
        assert_eq!(keys, USER_KEYS);
    }
    assert_eq!(r.json[1]["blocked"], true);
    assert_eq!(r.json[1]["confirmed"], false);
    // populate=role: shown to role readers only.
    let r = env
        .call("user.find", as_user(&env.carol))
        .query("populate=role")
        .send()
        .await;
    let types: Vec<&str> = r
        .json
        .as_array()
        .unwrap()
        .iter()
        .map(|u| u["role"]["type"].as_str().unwrap())
        .collect();
    assert_eq!(
        types,
        ["authenticated", "authenticated", "manager", "clerk"]
    );
    assert_eq!(r.json[0]["role"]["id"], 2);
    for q in [
        "populate=role",
        "populate=*",
        "populate[0]=role",
        "populate[role][populate][users]=true",
    ] {
        let r = env
            .call("user.find", as_user(&env.dave))
            .query(q)
            .send()
            .await;
        assert!(
            r.json
                .as_array()
                .unwrap()
                .iter()
                .all(|u| u.get("role").is_none()),
            "{q}: {}",
            r.text
        );
    }
    // The handler does not re-authorize: a read-only token reaching
    // user.find (the decision core allows it, 89) gets the list.
    let r = env
        .call("user.find", token(ApiTokenKind::ReadOnly))
        .send()
        .await;
    assert_eq!(r.usernames().len(), 4);
    // 77: a bare number, with the same filters.
    let r = env.call("user.count", as_user(&env.dave)).send().await;
    assert_eq!((r.status, r.text.as_str()), (200, "4"));
    let r = env
        .call("user.count", as_user(&env.dave))
        .query("filters[confirmed][$eq]=true")
        .send()
        .await;
    assert_eq!(r.text, "3");
    let r = env
        .call("user.count", as_user(&env.dave))
        .query("filters[username][$eq]=nobody")
        .send()
        .await;
    assert_eq!(r.text, "0");
    // Keys outside Strapi's allow-list are ignored (5.53+), including
    // the `where` of CVE-2026-27886.
    let r = env
        .call("user.find", as_user(&env.carol))
        .query("where[password][$startsWith]=%24&foo=bar&_where[0][password]=x&status=published&locale=en")
        .send()
        .await;
    assert_eq!(r.usernames().len(), 4);
}
both!(find_count, super::find_and_count);

/// Checklists 70, 73 and 89: what the decision core answers before the
/// handler runs (anonymous callers, a read-only token).
#[test]
fn read_only_token_decisions() {
    let policy = users_support::policy();
    let caller = Caller::ApiToken {
        id: 1,
        access: TokenAccess::ReadOnly,
    };
    let decide = |action: &str| {
        policy
            .authorize(&format!("plugin::users-permissions.{action}"), &caller)
            .0
    };
    assert_eq!(decide("user.find"), Outcome::Allow);
    assert_ne!(decide("user.me"), Outcome::Allow);
    assert_ne!(decide("user.count"), Outcome::Allow);
    let forbidden = Outcome::Deny(portcullis_core::Deny::FORBIDDEN);
    for action in ["user.me", "user.find", "user.updateMe"] {
        let uid = format!("plugin::users-permissions.{action}");
        assert_eq!(
            policy.authorize(&uid, &Caller::Public).0,
            forbidden,
            "{action}"
        );
    }
}

async fn find_one(url: String) {
    let env = Env::new(&url).await;
    let r = env
        .call("user.findOne", as_user(&env.dave))
        .id(env.bob.id)
        .send()
        .await;
    assert_eq!((r.status, r.json["username"].as_str()), (200, Some("bob")));
    assert_eq!(r.keys(), USER_KEYS);
    let r = env
        .call("user.findOne", as_user(&env.dave))
        .id(&env.bob.document_id)
        .send()
        .await;
    assert_eq!(r.json["id"], env.bob.id);
    // 78: missing → 204 with an empty body.
    for id in ["99999999", "nope", "1 OR 1=1"] {
        let r = env
            .call("user.findOne", as_user(&env.dave))
            .id(id)
            .send()
            .await;
        assert_eq!((r.status, r.text.as_str()), (204, ""), "{id}");
        assert!(r.resp.headers.is_empty());
    }
    let r = env
        .call("user.findOne", as_user(&env.carol))
        .id(env.dave.id)
        .query("populate=role&fields[0]=email")
        .send()
        .await;
    assert_eq!(r.keys(), ["id", "documentId", "email", "role"]);
    assert_eq!(r.json["role"]["type"], "clerk");
    env.call("user.findOne", as_user(&env.carol))
        .id(env.dave.id)
        .query("populate=password")
        .send()
        .await
        .assert_invalid_key("password", "password", "populate");
}
both!(find_one_route, super::find_one);
