//! Decision-table tests that read like the contract (CONTRACT §4) and
//! property tests of the canonicalizer and router.

use std::collections::{BTreeMap, HashSet};

use proptest::prelude::*;

use crate::*;

fn perms(entries: &[(&str, &[&str])]) -> BTreeMap<String, Vec<String>> {
    entries
        .iter()
        .map(|(uid, acts)| {
            (
                uid.to_string(),
                acts.iter().map(|a| a.to_string()).collect(),
            )
        })
        .collect()
}

fn route(method: Method, path: &str, action: &str) -> CustomRoute {
    CustomRoute {
        method,
        pattern: RoutePattern::parse(path).unwrap_or_else(|e| panic!("{e}")),
        action: action.to_owned(),
    }
}

fn policy_with_public(public: &[(&str, &[&str])]) -> Policy {
    Policy::compile(PolicySpec {
        api_prefix: "/api".into(),
        passthrough: vec!["/uploads/".into()],
        content_types: vec![
            ContentType {
                uid: "api::post.post".into(),
                kind: ContentKind::Collection,
                segment: "posts".into(),
            },
            ContentType {
                uid: "api::site-setting.site-setting".into(),
                kind: ContentKind::Single,
                segment: "site-setting".into(),
            },
        ],
        routes: vec![
            route(
                Method::Get,
                "/api/posts/:id/related",
                "api::post.post.findOne",
            ),
            route(
                Method::Post,
                "/api/newsletter",
                "api::newsletter.newsletter.subscribe",
            ),
            route(
                Method::Get,
                "/api/posts/featured",
                "api::post.post.featured",
            ),
        ],
        roles: vec![
            Role::new("public", "Public", "", perms(public)),
            Role::new(
                "authenticated",
                "Authenticated",
                "",
                perms(&[
                    ("api::post.post", &["find", "findOne", "create"]),
                    ("plugin::users-permissions.user", &["me"]),
                ]),
            ),
        ],
        version: "test".into(),
    })
}

fn policy() -> Policy {
    policy_with_public(&[
        ("api::post.post", &["find", "findOne"]),
        ("plugin::users-permissions.auth", &["callback", "register"]),
    ])
}

fn decide<'p>(p: &'p Policy, m: &str, path: &str, caller: Caller<'_>) -> Decision<'p> {
    let c = canonicalize(path).unwrap_or_else(|e| panic!("{path}: {e}"));
    p.decide(Method::parse(m), &c, &caller)
}

fn user(role: &str) -> Caller<'_> {
    Caller::User { id: 1, role }
}

#[test]
fn anonymous_is_decided_by_the_public_role() {
    let p = policy();
    let d = decide(&p, "GET", "/api/posts", Caller::Public);
    assert_eq!(d.outcome, Outcome::Allow);
    assert_eq!(d.action, Some("api::post.post.find"));
    assert_eq!(d.rule, Rule::RoleGrants("public"));
    let d = decide(&p, "POST", "/api/posts", Caller::Public);
    assert_eq!(d.outcome, Outcome::Deny(Deny::FORBIDDEN));
    assert_eq!(d.action, Some("api::post.post.create"));
}

#[test]
fn anonymous_with_an_empty_public_role_is_401() {
    let p = policy_with_public(&[]);
    let d = decide(&p, "GET", "/api/posts", Caller::Public);
    assert_eq!(d.outcome, Outcome::Deny(Deny::MISSING_CREDENTIALS));
    assert_eq!(d.rule, Rule::PublicHasNoPermissions);
}

#[test]
fn a_user_is_decided_by_its_role() {
    let p = policy();
    assert_eq!(
        decide(&p, "POST", "/api/posts", user("authenticated")).outcome,
        Outcome::Allow
    );
    let d = decide(&p, "DELETE", "/api/posts/3", user("authenticated"));
    assert_eq!(d.outcome, Outcome::Deny(Deny::FORBIDDEN));
    assert_eq!(d.action, Some("api::post.post.delete"));
}

#[test]
fn a_role_missing_from_the_policy_grants_nothing() {
    let p = policy();
    let d = decide(&p, "GET", "/api/posts", user("editor"));
    assert_eq!(d.outcome, Outcome::Deny(Deny::FORBIDDEN));
    assert_eq!(d.rule, Rule::UnknownRole);
}

#[test]
fn a_refused_credential_is_401_even_on_public_routes() {
    let p = policy();
    for (f, deny) in [
        (AuthFailure::InvalidToken, Deny::MISSING_CREDENTIALS),
        (AuthFailure::InvalidUser, Deny::INVALID_CREDENTIALS),
        (AuthFailure::TokenExpired, Deny::TOKEN_EXPIRED),
    ] {
        let d = decide(&p, "GET", "/api/posts", Caller::Rejected(f));
        assert_eq!(d.outcome, Outcome::Deny(deny));
    }
}

#[test]
fn api_token_types() {
    let p = policy();
    let tok = |access| Caller::ApiToken { id: 9, access };
    let ro = TokenAccess::ReadOnly;
    assert_eq!(
        decide(&p, "GET", "/api/posts", tok(ro)).outcome,
        Outcome::Allow
    );
    assert_eq!(
        decide(&p, "GET", "/api/posts/1", tok(ro)).outcome,
        Outcome::Allow
    );
    assert_eq!(
        decide(&p, "POST", "/api/posts", tok(ro)).outcome,
        Outcome::Deny(Deny::FORBIDDEN)
    );
    assert_eq!(
        decide(&p, "GET", "/api/users/me", tok(ro)).outcome,
        Outcome::Deny(Deny::FORBIDDEN)
    );
    let fa = TokenAccess::FullAccess;
    assert_eq!(
        decide(&p, "DELETE", "/api/posts/1", tok(fa)).outcome,
        Outcome::Allow
    );
    let set: HashSet<String> = ["api::post.post.find".to_string()].into();
    let custom = TokenAccess::Custom(&set);
    assert_eq!(
        decide(&p, "GET", "/api/posts", tok(custom)).outcome,
        Outcome::Allow
    );
    let d = decide(&p, "GET", "/api/posts/1", tok(custom));
    assert_eq!(d.outcome, Outcome::Deny(Deny::FORBIDDEN));
}

#[test]
fn unknown_api_paths_are_404_and_never_authorized() {
    let p = policy();
    for (m, path) in [
        ("GET", "/api/nothing"),
        ("GET", "/api/post"),
        ("GET", "/api/postsx"),
        ("PATCH", "/api/posts/1"),
        ("POST", "/api/posts/1"),
        ("GET", "/api/posts/1/2"),
        ("POST", "/api/site-setting"),
        ("GET", "/api"),
    ] {
        let d = decide(&p, m, path, Caller::Public);
        assert_eq!(d.outcome, Outcome::Deny(Deny::NOT_FOUND), "{m} {path}");
        assert_eq!(d.action, None);
    }
}

#[test]
fn outside_the_prefix_only_passthrough_is_forwarded() {
    let p = policy();
    let d = decide(&p, "GET", "/uploads/a.png", Caller::Public);
    assert_eq!(d.outcome, Outcome::Forward);
    assert_eq!(d.forward_path, "/uploads/a.png");
    for path in [
        "/admin",
        "/uploadsx/a.png",
        "/",
        "/apix/posts",
        "/Uploads/a.png",
    ] {
        let d = decide(&p, "GET", path, Caller::Public);
        assert_eq!(d.outcome, Outcome::Deny(Deny::NOT_FOUND), "{path}");
    }
}

#[test]
fn custom_routes_come_before_content_type_routes() {
    let p = policy();
    let d = decide(&p, "GET", "/api/posts/featured", Caller::Public);
    assert_eq!(d.action, Some("api::post.post.featured"));
    assert_eq!(d.outcome, Outcome::Deny(Deny::FORBIDDEN));
    let d = decide(&p, "GET", "/api/posts/7/related", Caller::Public);
    assert_eq!(d.action, Some("api::post.post.findOne"));
    assert_eq!(d.outcome, Outcome::Allow);
}

#[test]
fn every_users_permissions_route_resolves_in_any_case() {
    // Guards the router's first-segment shortcut past the U&P table.
    let p = policy();
    for up in crate::users_permissions::ROUTES {
        let concrete: Vec<String> = up
            .path
            .split('/')
            .map(|s| match s {
                "*" => "a/b".to_owned(),
                s if s.starts_with(':') => "7".to_owned(),
                s => s.to_owned(),
            })
            .collect();
        for path in [
            format!("/api/{}", concrete.join("/")),
            format!("/API/{}", concrete.join("/").to_ascii_uppercase()),
        ] {
            let c = canonicalize(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
            let r = p.resolve(up.method, &c);
            assert!(
                matches!(
                    r.target,
                    Target::Action {
                        source: RouteSource::UsersPermissions(_),
                        ..
                    }
                ),
                "{} {path}: {:?}",
                up.method.as_str(),
                r.target
            );
        }
    }
}

#[test]
fn users_permissions_routes_resolve_to_plugin_actions() {
    let p = policy();
    let cases = [
        (
            "POST",
            "/api/auth/local",
            "plugin::users-permissions.auth.callback",
        ),
        ("GET", "/api/users/me", "plugin::users-permissions.user.me"),
        (
            "GET",
            "/api/users/5",
            "plugin::users-permissions.user.findOne",
        ),
        (
            "GET",
            "/api/users/count",
            "plugin::users-permissions.user.count",
        ),
        (
            "GET",
            "/api/connect/github",
            "plugin::users-permissions.auth.connect",
        ),
        (
            "GET",
            "/api/auth/github/callback",
            "plugin::users-permissions.auth.callback",
        ),
        (
            "GET",
            "/api/users-permissions/roles/1",
            "plugin::users-permissions.role.findOne",
        ),
    ];
    for (m, path, action) in cases {
        let r = p.resolve(
            Method::parse(m),
            &canonicalize(path).unwrap_or_else(|e| panic!("{e}")),
        );
        match r.target {
            Target::Action {
                action: a,
                source: RouteSource::UsersPermissions(_),
            } => assert_eq!(a, action, "{m} {path}"),
            other => panic!("{m} {path}: {other:?}"),
        }
    }
    let d = decide(&p, "GET", "/api/connect", Caller::Public);
    assert_eq!(d.outcome, Outcome::Deny(Deny::NOT_FOUND));
}

#[test]
fn a_logged_in_user_calling_login_is_403_under_default_grants() {
    let p = policy();
    let d = decide(&p, "POST", "/api/auth/local", user("authenticated"));
    assert_eq!(d.outcome, Outcome::Deny(Deny::FORBIDDEN));
}

#[test]
fn case_and_spelling_variants_decide_and_forward_the_canonical_form() {
    let p = policy();
    for raw in [
        "/API/Posts/AbC",
        "//api//posts/AbC/",
        "/api/%70osts/AbC",
        "/api/x/../posts/AbC",
    ] {
        let d = decide(&p, "GET", raw, Caller::Public);
        assert_eq!(d.action, Some("api::post.post.findOne"), "{raw}");
        assert_eq!(d.forward_path, "/api/posts/AbC", "{raw}");
    }
    let d = decide(&p, "DELETE", "/API/SITE-SETTING", user("authenticated"));
    assert_eq!(d.forward_path, "/api/site-setting");
    let d = decide(&p, "GET", "/API/USERS/ME", user("authenticated"));
    assert_eq!(d.forward_path, "/api/users/me");
    assert_eq!(d.outcome, Outcome::Allow);
}

#[test]
fn head_is_routed_as_get_and_options_is_a_preflight_for_known_paths() {
    let p = policy();
    let d = decide(&p, "HEAD", "/api/posts", Caller::Public);
    assert_eq!(d.action, Some("api::post.post.find"));
    let d = decide(&p, "OPTIONS", "/api/posts/1", Caller::Public);
    assert_eq!((d.outcome, d.rule), (Outcome::Forward, Rule::Preflight));
    let d = decide(&p, "OPTIONS", "/api/unknown", Caller::Public);
    assert_eq!(d.outcome, Outcome::Deny(Deny::NOT_FOUND));
    let d = decide(&p, "TRACE", "/api/posts", Caller::Public);
    assert_eq!(d.outcome, Outcome::Deny(Deny::NOT_FOUND));
}

#[test]
fn hostname_like_prefix_precedence_is_by_whole_segment() {
    let p = policy();
    assert_eq!(
        decide(&p, "GET", "/apiposts", Caller::Public).outcome,
        Outcome::Deny(Deny::NOT_FOUND)
    );
    assert_eq!(
        decide(&p, "GET", "/api/posts", Caller::Public).outcome,
        Outcome::Allow
    );
}

fn path_strategy() -> impl Strategy<Value = String> {
    let seg = prop_oneof![
        Just("api".to_string()),
        Just("posts".to_string()),
        Just("users".to_string()),
        Just("..".to_string()),
        Just(".".to_string()),
        Just("".to_string()),
        Just("%2e%2e".to_string()),
        Just("%70osts".to_string()),
        Just("%2F".to_string()),
        "[a-zA-Z0-9%._~-]{0,6}",
    ];
    proptest::collection::vec(seg, 0..8).prop_map(|v| format!("/{}", v.join("/")))
}

proptest! {
    #[test]
    fn canonicalize_is_idempotent(raw in path_strategy()) {
        if let Ok(c) = canonicalize(&raw) {
            let again = canonicalize(c.as_str());
            prop_assert_eq!(again.as_ref().map(|p| p.as_str()), Ok(c.as_str()));
            prop_assert!(!c.as_str().contains("//"));
            prop_assert!(c.segments().all(|s| s != "." && s != ".."));
        }
    }

    #[test]
    fn the_fast_path_agrees_with_the_general_one(
        raw in prop_oneof![path_strategy(), "/[a-zA-Z0-9/.%\\\\ ~_-]{0,24}", "/\\PC{0,24}"]
    ) {
        let general = crate::path::canonicalize_general(raw.as_bytes());
        prop_assert_eq!(canonicalize(&raw), general);
    }

    #[test]
    fn canonicalize_never_panics(raw in "\\PC{0,64}") {
        let _ = canonicalize(&raw);
    }

    #[test]
    fn the_forward_path_decides_exactly_like_the_request(raw in path_strategy(), m in 0usize..6) {
        let p = policy();
        let method = ["GET", "POST", "PUT", "DELETE", "HEAD", "PATCH"][m];
        if let Ok(c) = canonicalize(&raw) {
            let d = p.decide(Method::parse(method), &c, &Caller::Public);
            // What the upstream receives decides the same way (INV-3).
            let fwd = canonicalize(&d.forward_path);
            prop_assert!(fwd.is_ok());
            if let Ok(fwd) = fwd {
                prop_assert_eq!(fwd.as_str(), d.forward_path.as_str());
                let again = p.decide(Method::parse(method), &fwd, &Caller::Public);
                prop_assert_eq!(again.outcome, d.outcome);
                prop_assert_eq!(again.action, d.action);
            }
        }
    }

    #[test]
    fn denied_stays_denied_for_the_public_role(raw in path_strategy()) {
        // Only the actions the public role grants are ever allowed anonymously.
        let p = policy();
        if let Ok(c) = canonicalize(&raw) {
            let d = p.decide(Method::Post, &c, &Caller::Public);
            if d.outcome == Outcome::Allow {
                let a = d.action.unwrap_or_default();
                prop_assert!(p.role("public").is_some_and(|r| r.grants(a)));
            }
        }
    }
}
