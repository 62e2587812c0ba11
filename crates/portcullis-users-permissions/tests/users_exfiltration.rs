//! Private-field exfiltration through the query of the user routes
//! (threats.md class 8: CVE-2023-22894, CVE-2023-34235, CVE-2026-27886;
//! checklist 75, 76) and SQL injection through filter values. Every
//! response is also checked by the harness for leaked hashes and tokens.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod users_support;

use users_support::{Env, as_user};

/// `(query, key, path, param)`: each must be refused with `Invalid key`.
const REFUSED: &[(&str, &str, &str, &str)] = &[
    (
        "filters[password][$startsWith]=$",
        "password",
        "password",
        "filters",
    ),
    (
        "filters[password][$startsWith]=%24argon2",
        "password",
        "password",
        "filters",
    ),
    (
        "filters[password][$null]=false",
        "password",
        "password",
        "filters",
    ),
    ("filters[password]=x", "password", "password", "filters"),
    (
        "filters[resetPasswordToken][$notNull]=true",
        "resetPasswordToken",
        "resetPasswordToken",
        "filters",
    ),
    (
        "filters[resetPasswordToken][$startsWith]=5",
        "resetPasswordToken",
        "resetPasswordToken",
        "filters",
    ),
    (
        "filters[confirmationToken][$eq]=x",
        "confirmationToken",
        "confirmationToken",
        "filters",
    ),
    (
        "filters[tokensValidAfter][$gt]=0",
        "tokensValidAfter",
        "tokensValidAfter",
        "filters",
    ),
    (
        "filters[reset_password_token][$null]=false",
        "reset_password_token",
        "reset_password_token",
        "filters",
    ),
    (
        "filters[$or][0][password][$eq]=x",
        "password",
        "password",
        "filters",
    ),
    (
        "filters[$and][0][$or][0][resetPasswordToken][$eq]=x",
        "resetPasswordToken",
        "resetPasswordToken",
        "filters",
    ),
    (
        "filters[$not][password][$eq]=x",
        "password",
        "password",
        "filters",
    ),
    (
        "filters[t1.password][$eq]=x",
        "t1.password",
        "t1.password",
        "filters",
    ),
    (
        "filters[t0.reset_password_token][$notNull]=true",
        "t0.reset_password_token",
        "t0.reset_password_token",
        "filters",
    ),
    (
        "filters[username][password]=x",
        "password",
        "username.password",
        "filters",
    ),
    (
        "filters[role][users][password][$startsWith]=a",
        "users",
        "role.users",
        "filters",
    ),
    (
        "filters[role][permissions][action][$eq]=x",
        "permissions",
        "role.permissions",
        "filters",
    ),
    (
        "filters[updatedBy][resetPasswordToken][$startsWith]=a",
        "updatedBy",
        "updatedBy",
        "filters",
    ),
    (
        "filters[createdBy][id][$eq]=1",
        "createdBy",
        "createdBy",
        "filters",
    ),
    ("filters[1%3D1]=x", "1=1", "1=1", "filters"),
    ("filters[1=1]=x", "[1", "[1", "filters"),
    ("sort=password", "password", "password", "sort"),
    ("sort=password:asc", "password", "password", "sort"),
    (
        "sort[0]=resetPasswordToken:desc",
        "resetPasswordToken",
        "resetPasswordToken",
        "sort",
    ),
    ("sort[password]=asc", "password", "password", "sort"),
    (
        "sort=username:asc,confirmationToken:desc",
        "confirmationToken",
        "confirmationToken",
        "sort",
    ),
    (
        "sort=role.users.password:asc",
        "users.password",
        "role.users.password",
        "sort",
    ),
    (
        "sort=username;DROP TABLE up_users",
        "username;DROP TABLE up_users",
        "username;DROP TABLE up_users",
        "sort",
    ),
    ("fields[0]=password", "password", "password", "fields"),
    ("fields=username,password", "password", "password", "fields"),
    (
        "fields[0]=resetPasswordToken",
        "resetPasswordToken",
        "resetPasswordToken",
        "fields",
    ),
    ("populate=password", "password", "password", "populate"),
    (
        "populate[updatedBy]=true",
        "updatedBy",
        "updatedBy",
        "populate",
    ),
];

async fn private_keys_are_refused(url: String) {
    let env = Env::new(&url).await;
    for (query, key, path, param) in REFUSED {
        // The manager may read roles, so `role` itself is allowed: what is
        // refused below it is refused for its own sake.
        for action in ["user.find", "user.count"] {
            let r = env
                .call(action, as_user(&env.carol))
                .query(query)
                .send()
                .await;
            r.assert_invalid_key(key, path, param);
        }
        let r = env
            .call("user.findOne", as_user(&env.carol))
            .id(env.alice.id)
            .query(query)
            .send()
            .await;
        r.assert_invalid_key(key, path, param);
        // alice may not read roles: anything under `role` stops at `role`.
        let r = env
            .call("user.me", as_user(&env.alice))
            .query(query)
            .send()
            .await;
        if query.contains("role") {
            r.assert_invalid_key("role", "role", param);
        } else {
            r.assert_invalid_key(key, path, param);
        }
    }
}
both!(private_keys, super::private_keys_are_refused);

/// The answer does not depend on whether the guess was right: no oracle.
async fn no_boolean_oracle(url: String) {
    let env = Env::new(&url).await;
    let ask = |q: String| {
        let env = &env;
        async move {
            env.call("user.find", as_user(&env.carol))
                .query(&q)
                .send()
                .await
                .text
        }
    };
    let right = ask("filters[resetPasswordToken][$startsWith]=5ec7".into()).await;
    let wrong = ask("filters[resetPasswordToken][$startsWith]=zzzz".into()).await;
    assert_eq!(right, wrong);
    let right = ask(
        "filters[$or][0][username]=nobody&filters[$or][1][password][$startsWith]=%24argon2id"
            .into(),
    )
    .await;
    let wrong = ask(
        "filters[$or][0][username]=nobody&filters[$or][1][password][$startsWith]=bcrypt".into(),
    )
    .await;
    assert_eq!(right, wrong);
    // Sorting by a private field would rank users by it; refused as well.
    let a = ask("sort=resetPasswordToken:asc".into()).await;
    let b = ask("sort=resetPasswordToken:desc".into()).await;
    assert!(
        a.contains("Invalid key resetPasswordToken")
            && b.contains("Invalid key resetPasswordToken")
    );
}
both!(oracle, super::no_boolean_oracle);

/// Values are bound, never spliced: classic payloads match nothing and
/// the table survives.
async fn injection_is_inert(url: String) {
    let env = Env::new(&url).await;
    let names = |q: &'static str| {
        let env = &env;
        async move {
            env.call("user.find", as_user(&env.carol))
                .query(q)
                .send()
                .await
                .usernames()
        }
    };
    for q in [
        "filters[username][$eq]=' OR '1'='1",
        "filters[username][$eq]=alice' --",
        "filters[username]=alice%27%3B%20DROP%20TABLE%20up_users%3B%20--",
        "filters[username][$in][0]=x') OR 1=1 --",
        "filters[username][$contains]=%25",
        "filters[username][$contains]=_",
        "filters[username][$startsWith]=%5C",
        "filters[email][$containsi]=%' OR 1=1 --",
        "filters[username][$eqi]=x') OR ('1'='1",
        "_q=' OR 1=1 --",
    ] {
        assert!(names(q).await.is_empty(), "{q}");
    }
    // `_q` still searches the public text attributes.
    assert_eq!(names("_q=ARO").await, ["carol"]);
    for q in [
        "filters[id][$eq]=1 OR 1=1",
        "filters[id][$in][0]=1);DELETE FROM up_users;--",
    ] {
        let r = env
            .call("user.find", as_user(&env.carol))
            .query(q)
            .send()
            .await;
        r.assert_error(
            400,
            "ValidationError",
            "Invalid number input. Expected an integer",
        );
    }
    let r = env
        .call("user.find", as_user(&env.carol))
        .query("filters[createdAt][$gt]=2020-01-01'--")
        .send()
        .await;
    assert_eq!(r.status, 400);
    let r = env
        .call("user.find", as_user(&env.carol))
        .query("sort=id;DROP TABLE up_users--:asc")
        .send()
        .await;
    assert_eq!(r.status, 400);
    let r = env.call("user.count", as_user(&env.carol)).send().await;
    assert_eq!(r.text, "4", "the table is intact");
}
both!(injection, super::injection_is_inert);

/// Deep or huge query strings are bounded, not a stack overflow.
async fn pathological_queries(url: String) {
    let env = Env::new(&url).await;
    let deep = format!("filters{}[username][$eq]=alice", "[$or][0]".repeat(200));
    let r = env
        .call("user.find", as_user(&env.carol))
        .query(&deep)
        .send()
        .await;
    assert_eq!(r.status, 400, "{}", r.text);
    let wide: Vec<String> = (0..5000)
        .map(|i| format!("filters[username][$in][]=u{i}"))
        .collect();
    let r = env
        .call("user.find", as_user(&env.carol))
        .query(&wide.join("&"))
        .send()
        .await;
    assert_eq!(r.usernames().len(), 0);
}
both!(pathological, super::pathological_queries);
