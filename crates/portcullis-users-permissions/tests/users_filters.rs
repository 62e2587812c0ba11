//! The query language of `GET /api/users`: filter operators (with the
//! `role` relation), sorting, field selection and pagination, each body run
//! on SQLite and PostgreSQL.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod users_support;

use serde_json::json;
use users_support::{Env, as_user};

async fn filters(url: String) {
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
    assert_eq!(names("filters[username][$eq]=alice").await, ["alice"]);
    assert_eq!(names("filters[username]=bob").await, ["bob"]);
    assert_eq!(
        names("filters[username][$ne]=alice").await,
        ["bob", "carol", "dave"]
    );
    assert_eq!(
        names("filters[username][$in][0]=alice&filters[username][$in][1]=dave").await,
        ["alice", "dave"]
    );
    assert_eq!(names("filters[username][$in]=carol").await, ["carol"]);
    assert_eq!(
        names("filters[username][0]=bob&filters[username][1]=carol").await,
        ["bob", "carol"]
    );
    assert_eq!(
        names("filters[username][$notIn][0]=alice&filters[username][$notIn][1]=bob").await,
        ["carol", "dave"]
    );
    assert_eq!(
        names("filters[email][$endsWith]=e@example.com").await,
        ["alice", "dave"]
    );
    assert_eq!(names("filters[username][$startsWith]=ca").await, ["carol"]);
    assert_eq!(
        names("filters[username][$contains]=o").await,
        ["bob", "carol"]
    );
    assert_eq!(names("filters[username][$containsi]=AR").await, ["carol"]);
    assert_eq!(names("filters[username][$notContains]=a").await, ["bob"]);
    assert_eq!(names("filters[username][$eqi]=ALICE").await, ["alice"]);
    assert_eq!(names("filters[confirmed][$eq]=false").await, ["bob"]);
    assert_eq!(names("filters[blocked]=true").await, ["bob"]);
    assert_eq!(names("filters[provider][$eq]=local").await.len(), 4);
    assert_eq!(names("filters[publishedAt][$null]=true").await.len(), 0);
    assert_eq!(names("filters[publishedAt][$notNull]=true").await.len(), 4);
    let ids = format!(
        "filters[id][$gt]={}&filters[id][$lte]={}",
        env.alice.id, env.carol.id
    );
    let r = env
        .call("user.find", as_user(&env.carol))
        .query(&ids)
        .send()
        .await;
    assert_eq!(r.usernames(), ["bob", "carol"]);
    let between = format!(
        "filters[id][$between][0]={}&filters[id][$between][1]={}",
        env.bob.id, env.carol.id
    );
    let r = env
        .call("user.find", as_user(&env.carol))
        .query(&between)
        .send()
        .await;
    assert_eq!(r.usernames(), ["bob", "carol"]);
    let r = env
        .call("user.find", as_user(&env.carol))
        .query(&format!("filters[documentId]={}", env.dave.document_id))
        .send()
        .await;
    assert_eq!(r.usernames(), ["dave"]);
    // Dates: ISO strings are compared with the stored epoch milliseconds.
    assert_eq!(names("filters[createdAt][$gte]=2000-01-01").await.len(), 4);
    assert_eq!(
        names("filters[createdAt][$gt]=2999-12-31T23:59:59.999Z")
            .await
            .len(),
        0
    );
    assert_eq!(
        names("filters[updatedAt][$lt]=2999-01-01T00:00:00%2B02:00")
            .await
            .len(),
        4
    );
    // Logical operators.
    assert_eq!(
        names("filters[$or][0][username][$eq]=alice&filters[$or][1][username][$eq]=dave").await,
        ["alice", "dave"]
    );
    assert_eq!(
        names("filters[$and][0][confirmed]=true&filters[$and][1][username][$ne]=carol").await,
        ["alice", "dave"]
    );
    assert_eq!(
        names("filters[$not][username][$eq]=alice").await,
        ["bob", "carol", "dave"]
    );
    assert_eq!(names("filters[username][$not][$contains]=a").await, ["bob"]);
    assert_eq!(
        names(
            "filters[$or][0][username]=alice&filters[$or][1][blocked]=true&filters[confirmed]=false"
        )
        .await,
        ["bob"]
    );
    // The role relation, for callers who may read roles.
    assert_eq!(names("filters[role][type][$eq]=manager").await, ["carol"]);
    assert_eq!(
        names("filters[role][name][$eq]=Authenticated").await,
        ["alice", "bob"]
    );
    assert_eq!(
        names("filters[role][id][$in][0]=3&filters[role][id][$in][1]=4").await,
        ["carol", "dave"]
    );
    assert_eq!(names("filters[role]=4").await, ["dave"]);
    assert_eq!(
        names("filters[role][name][$containsi]=nobody").await.len(),
        0
    );
    env.call("user.find", as_user(&env.dave))
        .query("filters[role][type][$eq]=manager")
        .send()
        .await
        .assert_invalid_key("role", "role", "filters");
    // Malformed values.
    let r = env
        .call("user.find", as_user(&env.carol))
        .query("filters[confirmed][$eq]=maybe")
        .send()
        .await;
    r.assert_error(
        400,
        "ValidationError",
        r#"Invalid boolean input. Expected "t","1","true","false","0","f""#,
    );
    let r = env
        .call("user.find", as_user(&env.carol))
        .query("filters[createdAt][$gt]=yesterday")
        .send()
        .await;
    r.assert_error(
        400,
        "ValidationError",
        "Invalid format, expected a timestamp or an ISO date",
    );
    let r = env
        .call("user.find", as_user(&env.carol))
        .query("filters=abc")
        .send()
        .await;
    r.assert_error(
        400,
        "ValidationError",
        "The filters parameter must be an object or an array",
    );
    env.call("user.find", as_user(&env.carol))
        .query("filters[username][$regex]=.*")
        .send()
        .await
        .assert_invalid_key("$regex", "username.$regex", "filters");
}
both!(filter_operators, super::filters);

async fn sort_fields_pagination(url: String) {
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
    assert_eq!(
        names("sort=username:desc").await,
        ["dave", "carol", "bob", "alice"]
    );
    assert_eq!(
        names("sort[0]=confirmed:asc&sort[1]=username:DESC").await,
        ["bob", "dave", "carol", "alice"]
    );
    assert_eq!(
        names("sort=blocked:desc,email").await,
        ["bob", "alice", "carol", "dave"]
    );
    assert_eq!(
        names("sort[username]=desc").await,
        ["dave", "carol", "bob", "alice"]
    );
    assert_eq!(
        names("sort=role.name:asc,username:desc").await,
        ["bob", "alice", "dave", "carol"]
    );
    assert_eq!(
        names("sort=role.id:desc").await,
        ["dave", "carol", "alice", "bob"]
    );
    let r = env
        .call("user.find", as_user(&env.carol))
        .query("sort=username:sideways")
        .send()
        .await;
    r.assert_error(
        400,
        "ValidationError",
        "Invalid order. order can only be one of asc|desc|ASC|DESC",
    );
    env.call("user.find", as_user(&env.dave))
        .query("sort=role.name:asc")
        .send()
        .await
        .assert_invalid_key("role", "role", "sort");
    // fields
    let r = env
        .call("user.find", as_user(&env.carol))
        .query("fields[0]=username&fields[1]=email")
        .send()
        .await;
    assert_eq!(
        r.json[0],
        json!({"id": env.alice.id, "documentId": env.alice.document_id, "username": "alice", "email": "alice@example.com"})
    );
    let r = env
        .call("user.find", as_user(&env.carol))
        .query("fields=blocked&populate=role")
        .send()
        .await;
    let keys: Vec<&String> = r.json[0].as_object().unwrap().keys().collect();
    assert_eq!(keys, ["id", "documentId", "blocked", "role"]);
    // pagination, in every spelling
    assert_eq!(
        names("pagination[page]=2&pagination[pageSize]=3").await,
        ["dave"]
    );
    assert_eq!(names("page=1&pageSize=2").await, ["alice", "bob"]);
    assert_eq!(
        names("pagination[start]=1&pagination[limit]=2").await,
        ["bob", "carol"]
    );
    assert_eq!(names("start=3&limit=10").await, ["dave"]);
    assert_eq!(names("start=2").await, ["carol", "dave"]);
    assert_eq!(names("limit=-1").await.len(), 4);
    assert_eq!(names("limit=0").await.len(), 0);
    assert_eq!(names("pagination[page]=9").await.len(), 0);
    assert_eq!(
        names("sort=username:desc&pagination[pageSize]=1&pagination[page]=2").await,
        ["carol"]
    );
    let err = |q: &'static str| {
        let env = &env;
        async move {
            env.call("user.find", as_user(&env.carol))
                .query(q)
                .send()
                .await
        }
    };
    let msg = "Invalid pagination attributes. You cannot use page and offset pagination in the same query";
    err("page=1&start=0")
        .await
        .assert_error(400, "PaginationError", msg);
    err("pagination[page]=0").await.assert_error(
        400,
        "PaginationError",
        "Invalid 'page' parameter. Expected an integer > 0, received: 0",
    );
    err("pageSize=abc").await.assert_error(
        400,
        "PaginationError",
        "Invalid 'pageSize' parameter. Expected an integer > 0, received: abc",
    );
    err("start=-2").await.assert_error(
        400,
        "PaginationError",
        "Invalid 'start' parameter. Expected an integer >= 0, received: -2",
    );
    err("limit=x").await.assert_error(
        400,
        "PaginationError",
        "Invalid 'limit' parameter. Expected an integer >= -1, received: x",
    );
}
both!(sort_fields_page, super::sort_fields_pagination);
