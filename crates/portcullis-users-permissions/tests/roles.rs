//! `/api/users-permissions/roles…` and `/permissions`
//! (strapi-behavior.md §3.12, checklist 90–95), each body run on SQLite and
//! PostgreSQL. Roles come from the policy: writes answer 405.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod users_support;

use portcullis_users_permissions::sanitize::role_document_id;
use serde_json::{Value, json};
use users_support::{Env, as_user};

const EPOCH: &str = "1970-01-01T00:00:00.000Z";

async fn find(url: String) {
    let env = Env::new(&url).await;
    // 90: policy order, ids from 1, nb_users per role.
    let r = env.call("role.find", as_user(&env.carol)).send().await;
    assert_eq!(r.status, 200);
    assert_eq!(r.keys(), ["roles"]);
    let roles = r.json["roles"].as_array().unwrap();
    let summary: Vec<(i64, &str, i64)> = roles
        .iter()
        .map(|r| {
            (
                r["id"].as_i64().unwrap(),
                r["type"].as_str().unwrap(),
                r["nb_users"].as_i64().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        summary,
        [
            (1, "public", 0),
            (2, "authenticated", 2),
            (3, "manager", 1),
            (4, "clerk", 1)
        ]
    );
    let expected = json!({
        "id": 2, "documentId": role_document_id("authenticated"), "name": "Authenticated",
        "description": "Default role given to authenticated user.", "type": "authenticated",
        "createdAt": EPOCH, "updatedAt": EPOCH, "publishedAt": EPOCH, "nb_users": 2,
    });
    assert_eq!(
        roles[1].to_string(),
        expected.to_string(),
        "keys in Strapi's order"
    );
    env.store().delete_user(env.dave.id).await.unwrap();
    let r = env.call("role.find", as_user(&env.carol)).send().await;
    assert_eq!(r.json["roles"][3]["nb_users"], 0);
}
both!(find_route, super::find);

fn action<'a>(perms: &'a Value, uid: &str, controller: &str, name: &str) -> &'a Value {
    &perms[uid]["controllers"][controller][name]
}

async fn find_one(url: String) {
    let env = Env::new(&url).await;
    let r = env
        .call("role.findOne", as_user(&env.carol))
        .id(2)
        .send()
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.keys(), ["role"]);
    let role = &r.json["role"];
    let keys: Vec<&String> = role.as_object().unwrap().keys().collect();
    let expected = [
        "id",
        "documentId",
        "name",
        "description",
        "type",
        "createdAt",
        "updatedAt",
        "publishedAt",
        "permissions",
    ];
    assert_eq!(keys, expected);
    assert_eq!(
        (role["id"].as_i64(), role["type"].as_str()),
        (Some(2), Some("authenticated"))
    );
    let perms = &role["permissions"];
    let on = json!({"enabled": true, "policy": ""});
    let off = json!({"enabled": false, "policy": ""});
    assert_eq!(*action(perms, "api::post", "post", "create"), on);
    assert_eq!(*action(perms, "api::post", "post", "delete"), off);
    assert_eq!(
        *action(perms, "api::site-setting", "site-setting", "update"),
        off
    );
    assert!(
        action(perms, "api::site-setting", "site-setting", "findOne").is_null(),
        "single types have no findOne"
    );
    assert_eq!(
        *action(perms, "api::newsletter", "newsletter", "subscribe"),
        off
    );
    assert_eq!(
        *action(perms, "plugin::users-permissions", "user", "me"),
        on
    );
    assert_eq!(
        *action(perms, "plugin::users-permissions", "user", "updateMe"),
        on
    );
    assert_eq!(
        *action(perms, "plugin::users-permissions", "user", "find"),
        off
    );
    assert_eq!(
        *action(
            perms,
            "plugin::users-permissions",
            "permissions",
            "getPermissions"
        ),
        off
    );
    let plugin: Vec<&String> = perms["plugin::users-permissions"]["controllers"]
        .as_object()
        .unwrap()
        .keys()
        .collect();
    assert_eq!(plugin, ["auth", "user", "role", "permissions"]);
    let apis: Vec<&String> = perms.as_object().unwrap().keys().collect();
    assert_eq!(
        apis,
        [
            "api::post",
            "api::site-setting",
            "api::newsletter",
            "plugin::users-permissions"
        ]
    );
    // By documentId; the manager's own grants.
    let doc = role_document_id("manager");
    let r = env
        .call("role.findOne", as_user(&env.carol))
        .id(&doc)
        .send()
        .await;
    let perms = &r.json["role"]["permissions"];
    assert_eq!(
        *action(perms, "plugin::users-permissions", "role", "find"),
        on
    );
    assert_eq!(
        *action(perms, "api::newsletter", "newsletter", "subscribe"),
        on
    );
    assert_eq!(*action(perms, "api::post", "post", "find"), off);
    // 91
    for id in ["99999", "0", "abc", "-1"] {
        let r = env
            .call("role.findOne", as_user(&env.carol))
            .id(id)
            .send()
            .await;
        r.assert_error(404, "NotFoundError", "Role not found");
    }
}
both!(find_one_route, super::find_one);

async fn read_only(url: String) {
    let env = Env::new(&url).await;
    let message =
        "Roles are defined in the gateway's policy files (policies/*.yaml); edit them there";
    // 92–94 create, update and delete roles in Strapi; here they cannot.
    let r = env
        .call("role.createRole", as_user(&env.carol))
        .body(json!({"name": "Editors"}))
        .send()
        .await;
    r.assert_error(405, "MethodNotAllowedError", message);
    let r = env
        .call("role.createRole", as_user(&env.carol))
        .body(json!({}))
        .send()
        .await;
    r.assert_error(405, "MethodNotAllowedError", message);
    let r = env
        .call("role.updateRole", as_user(&env.carol))
        .param("role", "2")
        .body(json!({"name": "x"}))
        .send()
        .await;
    r.assert_error(405, "MethodNotAllowedError", message);
    let r = env
        .call("role.deleteRole", as_user(&env.carol))
        .param("role", "1")
        .send()
        .await;
    r.assert_error(405, "MethodNotAllowedError", message);
    // 95: the full catalogue, nothing enabled (5.54.0).
    let r = env
        .call("permissions.getPermissions", as_user(&env.carol))
        .send()
        .await;
    assert_eq!((r.status, r.keys()), (200, vec!["permissions".to_owned()]));
    let all = &r.json["permissions"];
    let mut count = 0;
    for api in all.as_object().unwrap().values() {
        for controller in api["controllers"].as_object().unwrap().values() {
            for state in controller.as_object().unwrap().values() {
                assert_eq!(*state, json!({"enabled": false, "policy": ""}));
                count += 1;
            }
        }
    }
    // post 5 + site-setting 3 + newsletter 1 + the plugin's 26.
    assert_eq!(count, 5 + 3 + 1 + 26);
    let one = env
        .call("role.findOne", as_user(&env.carol))
        .id(3)
        .send()
        .await;
    let strip = |v: &Value| v.to_string().replace("true", "false");
    assert_eq!(
        strip(&one.json["role"]["permissions"]),
        strip(all),
        "same catalogue"
    );
}
both!(read_only_roles, super::read_only);
