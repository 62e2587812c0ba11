//! Policy files: each rule with its exact `file:line:column: message`,
//! multi-file merging and error collection.

use std::path::Path;

use portcullis_core::{ContentKind, Method, PolicySpec};

use super::lines;
use crate::{load_policies, parse_policy_str};

/// A minimal valid role section, appended after the text under test so the
/// line numbers of the text are unchanged.
const ROLES: &str = "roles:\n  public: {}\n  authenticated: {}\n";

fn pol(text: &str) -> Result<PolicySpec, Vec<String>> {
    parse_policy_str("p.yaml", text).map_err(|d| lines(&d))
}

/// Problems of `text` followed by the minimal roles.
fn errs(text: &str) -> Vec<String> {
    match pol(&format!("{text}{ROLES}")) {
        Ok(_) => panic!("accepted: {text}"),
        Err(e) => e,
    }
}

fn err(text: &str) -> String {
    match errs(text).as_slice() {
        [one] => one.clone(),
        many => panic!("expected one problem, got {many:#?}"),
    }
}

#[test]
fn a_valid_file_compiles_to_a_spec() {
    let text = "content_types:\n  - { uid: api::post.post, kind: collectionType, plural: posts }\n  - { uid: api::home.home, kind: singleType, singular: home }\nroutes:\n  - { method: post, path: /api/posts/:id/publish, action: api::post.post.publish }\nroles:\n  public:\n    permissions:\n      api::post.post: [find, publish]\n  authenticated:\n    name: Authenticated\n    description: Logged in.\n    permissions:\n      plugin::users-permissions.user: [me]\n";
    let spec = pol(text).unwrap_or_else(|e| panic!("{e:#?}"));
    assert_eq!(spec.content_types[1].kind, ContentKind::Single);
    assert_eq!(spec.content_types[1].segment, "home");
    assert_eq!(spec.routes[0].method, Method::Post);
    assert_eq!(spec.routes[0].pattern.to_string(), "/api/posts/:id/publish");
    assert_eq!(spec.roles[0].kind, "public");
    assert_eq!(spec.roles[0].name, "public");
    assert!(spec.roles[0].grants("api::post.post.publish"));
    assert_eq!(spec.roles[1].description, "Logged in.");
    assert_eq!(spec.api_prefix, "/api");
    assert_eq!(spec.version.len(), 16);
}

#[test]
fn unknown_keys_are_rejected_at_any_level() {
    assert_eq!(
        err(
            "content_types:\n  - uid: api::post.post\n    kind: collectionType\n    plurals: posts\n"
        ),
        "p.yaml:4:5: unknown field `plurals`, expected one of uid, kind, plural, singular"
    );
    assert_eq!(
        pol("roles:\n  public:\n    permission: {}\n")
            .err()
            .unwrap_or_default(),
        ["p.yaml:3:5: unknown field `permission`, expected one of name, description, permissions"]
    );
    assert!(err("policies: []\n").starts_with("p.yaml:1:1: unknown field `policies`"));
}

#[test]
fn yaml_syntax_errors_are_located() {
    assert_eq!(
        pol("routes:\n  - { method: GET, path: /api/x\n")
            .err()
            .unwrap_or_default()
            .len(),
        1
    );
    assert_eq!(
        err("content_types:\n  - { uid: api::a.a, kind: collection }\n"),
        "p.yaml:2:28: unknown variant `collection`, expected one of collectionType, singleType"
    );
}

#[test]
fn uids_must_be_api_or_plugin_names() {
    let msg = "expected api::<name>.<name> or plugin::<name>.<name> with names of a-z, 0-9 and '-'";
    assert_eq!(
        err("content_types:\n  - { uid: api::Post.post, kind: collectionType, plural: posts }\n"),
        format!("p.yaml:2:12: invalid uid \"api::Post.post\": {msg}")
    );
    assert_eq!(
        err(
            "content_types:\n  - { uid: plugin::users-permissions.user, kind: collectionType, plural: people }\n"
        ),
        "p.yaml:2:12: content type \"plugin::users-permissions.user\" belongs to the Users & Permissions plugin, which the gateway serves itself"
    );
}

#[test]
fn kinds_need_their_segment_key() {
    assert_eq!(
        err("content_types:\n  - { uid: api::a.a, kind: collectionType }\n"),
        "p.yaml:2:28: collectionType api::a.a needs `plural`"
    );
    assert_eq!(
        err("content_types:\n  - { uid: api::a.a, kind: singleType, plural: as }\n"),
        "p.yaml:2:28: singleType api::a.a takes `singular`, not `plural`"
    );
    assert_eq!(
        err(
            "content_types:\n  - { uid: api::a.a, kind: collectionType, plural: as, singular: a }\n"
        ),
        "p.yaml:2:28: collectionType api::a.a takes `plural`, not `singular`"
    );
}

#[test]
fn segments_are_plain_and_not_reserved() {
    assert_eq!(
        err("content_types:\n  - { uid: api::a.a, kind: collectionType, plural: My_Posts }\n"),
        "p.yaml:2:52: plural \"My_Posts\" must consist of a-z, 0-9 and '-'"
    );
    assert_eq!(
        err("content_types:\n  - { uid: api::a.a, kind: singleType, singular: users }\n"),
        "p.yaml:2:50: singular \"users\" collides with the Users & Permissions routes under /users"
    );
    for reserved in ["auth", "connect", "users-permissions"] {
        let e = err(&format!(
            "content_types:\n  - {{ uid: api::a.a, kind: singleType, singular: {reserved} }}\n"
        ));
        assert!(e.contains("collides with the Users & Permissions"), "{e}");
    }
}

#[test]
fn duplicates_name_the_first_definition() {
    let text = "content_types:\n  - { uid: api::a.a, kind: collectionType, plural: as }\n  - { uid: api::a.a, kind: collectionType, plural: bs }\n  - { uid: api::b.b, kind: singleType, singular: as }\nroutes:\n  - { method: GET, path: /api/x/:id, action: api::a.a.x }\n  - { method: get, path: /api/X/:slug, action: api::a.a.y }\n";
    assert_eq!(
        errs(text),
        [
            "p.yaml:3:12: content type api::a.a is already defined at p.yaml:2:12",
            "p.yaml:4:50: route segment \"as\" is already used at p.yaml:2:52",
            "p.yaml:7:26: route GET /api/X/:slug is already defined at p.yaml:6:26",
        ]
    );
    assert_eq!(
        pol("roles:\n  public: {}\n  authenticated: {}\n  public: {}\n")
            .err()
            .unwrap_or_default()
            .len(),
        1,
        "duplicate keys in one file are a YAML error"
    );
}

#[test]
fn route_fields_are_checked() {
    let text = "routes:\n  - { method: HEAD, path: /api/a, action: api::a.a.x }\n  - { method: GET, path: /api//a, action: api::a.a.x }\n  - { method: GET, path: /admin/a, action: api::a.a.x }\n  - { method: GET, path: /api, action: api::a.a.x }\n  - { method: GET, path: /api/b, action: find }\n";
    assert_eq!(
        errs(text),
        [
            "p.yaml:2:15: route method \"HEAD\" must be one of GET, POST, PUT, PATCH, DELETE",
            "p.yaml:3:26: route path \"/api//a\": route path has an empty segment",
            "p.yaml:4:26: route path \"/admin/a\" must start with the API prefix /api/",
            "p.yaml:5:26: route path \"/api\" must start with the API prefix /api/",
            "p.yaml:6:42: route action \"find\" must be <uid>.<action>, such as api::post.post.find",
        ]
    );
}

#[test]
fn a_route_behind_a_broader_one_is_shadowed() {
    let text = "routes:\n  - { method: GET, path: /api/posts/:id, action: api::post.post.x }\n  - { method: GET, path: /api/posts/featured, action: api::post.post.y }\n  - { method: POST, path: /api/posts/featured, action: api::post.post.z }\n";
    assert_eq!(
        errs(text),
        [
            "p.yaml:3:26: route GET /api/posts/featured can never match: GET /api/posts/:id at p.yaml:2:26 is listed before it and matches every path it does"
        ]
    );
    // The narrower route first is fine.
    let ok = "routes:\n  - { method: GET, path: /api/posts/featured, action: api::post.post.y }\n  - { method: GET, path: /api/posts/:id, action: api::post.post.x }\n";
    assert!(pol(&format!("{ok}{ROLES}")).is_ok());
}

#[test]
fn routes_may_not_hijack_users_permissions_routes() {
    assert_eq!(
        err("routes:\n  - { method: POST, path: /api/auth/:x, action: api::a.a.x }\n"),
        "p.yaml:2:27: route POST /api/auth/:x overlaps the Users & Permissions route POST /api/auth/local (plugin::users-permissions.auth.callback), which the gateway serves itself"
    );
    assert_eq!(
        err("routes:\n  - { method: GET, path: /api/connect/a/b, action: api::a.a.x }\n"),
        "p.yaml:2:26: route GET /api/connect/a/b overlaps the Users & Permissions route GET /api/connect/* (plugin::users-permissions.auth.connect), which the gateway serves itself"
    );
    // Same path, other method, no U&P route: allowed.
    assert!(
        pol(&format!(
            "routes:\n  - {{ method: PATCH, path: /api/users/me, action: api::a.a.x }}\n{ROLES}"
        ))
        .is_ok()
    );
    assert!(
        pol(&format!(
            "routes:\n  - {{ method: GET, path: /api/connect, action: api::a.a.x }}\n{ROLES}"
        ))
        .is_ok()
    );
}

#[test]
fn permissions_name_known_uids_and_actions() {
    let text = "content_types:\n  - { uid: api::post.post, kind: collectionType, plural: posts }\n  - { uid: api::home.home, kind: singleType, singular: home }\nroutes:\n  - { method: POST, path: /api/newsletter, action: api::newsletter.newsletter.subscribe }\nroles:\n  public:\n    permissions:\n      api::post.post: [find, findAll]\n      api::home.home: [findOne]\n      api::newsletter.newsletter: [subscribe, unsubscribe]\n      plugin::users-permissions.auth: [login]\n      api::ghost.ghost: [find]\n  authenticated: {}\n";
    assert_eq!(
        pol(text).err().unwrap_or_default(),
        [
            "p.yaml:9:30: unknown action \"findAll\" for api::post.post (known: find, findOne, create, update, delete)",
            "p.yaml:10:24: unknown action \"findOne\" for api::home.home (known: find, update, delete)",
            "p.yaml:11:47: unknown action \"unsubscribe\" for api::newsletter.newsletter (known: subscribe)",
            "p.yaml:12:40: unknown action \"login\" for plugin::users-permissions.auth (known: callback, changePassword, connect, emailConfirmation, forgotPassword, register, resetPassword, sendEmailConfirmation, refresh, logout, getSessions, revokeSession)",
            "p.yaml:13:7: unknown uid \"api::ghost.ghost\": not a declared content type, a Users & Permissions controller or the controller of a custom route",
        ]
    );
}

#[test]
fn public_and_authenticated_roles_must_exist() {
    assert_eq!(
        pol("roles:\n  editor: {}\n").err().unwrap_or_default(),
        [
            "p.yaml:2:3: role public is not defined; every policy needs the public and authenticated roles",
            "p.yaml:2:3: role authenticated is not defined; every policy needs the public and authenticated roles",
        ]
    );
    assert_eq!(pol("").err().unwrap_or_default().len(), 2);
}

#[test]
fn problems_are_collected_not_just_the_first() {
    let text = "content_types:\n  - { uid: bad, kind: singleType, singular: ok }\nroutes:\n  - { method: FETCH, path: /api/x, action: api::x.x.y }\n";
    assert_eq!(errs(text).len(), 2);
}

#[test]
fn arbitrary_input_never_panics() {
    let inputs = [
        "",
        "\u{0}",
        "~",
        "[]",
        "- 1",
        "roles: ~",
        "roles: []",
        "routes: [~]",
        "content_types: {}",
        "routes:\n  - { method: GET, path: \"/api/\u{e9}/%\", action: \".\" }\n",
        "roles:\n  public:\n    permissions:\n      \"\": [\"\"]\n",
        "a: &a [*a, *a]",
        "{{{{",
        "\"\\u{d800}\"",
        "routes:\n  - { method: GET, path: /api/connect/*, action: api::a.a.x }\n",
    ];
    for text in inputs {
        let _ = parse_policy_str("fuzz.yaml", text);
    }
}

fn dir_with(files: &[(&str, &str)]) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("tempdir: {e}"));
    for (name, text) in files {
        std::fs::write(dir.path().join(name), text).unwrap_or_else(|e| panic!("{name}: {e}"));
    }
    dir
}

#[test]
fn files_merge_in_name_order_and_duplicates_across_files_are_found() {
    let dir = dir_with(&[
        (
            "b.yml",
            "content_types:\n  - { uid: api::a.a, kind: singleType, singular: a }\nroutes:\n  - { method: GET, path: /api/x/y, action: api::a.a.x }\nroles:\n  public: {}\n",
        ),
        (
            "a.yaml",
            "content_types:\n  - { uid: api::a.a, kind: singleType, singular: a2 }\nroutes:\n  - { method: GET, path: /api/x/:id, action: api::a.a.x }\nroles:\n  public: {}\n  authenticated: {}\n",
        ),
        ("ignored.txt", "not: [valid"),
    ]);
    let (a, b) = (dir.path().join("a.yaml"), dir.path().join("b.yml"));
    let got = lines(
        &load_policies(dir.path(), "/api", &[])
            .err()
            .unwrap_or_default(),
    );
    assert_eq!(
        got,
        [
            format!(
                "{}:2:12: content type api::a.a is already defined at {}:2:12",
                b.display(),
                a.display()
            ),
            format!(
                "{}:4:26: route GET /api/x/y can never match: GET /api/x/:id at {}:4:26 is listed before it and matches every path it does",
                b.display(),
                a.display()
            ),
            format!(
                "{}:6:3: role public is already defined at {}:6:3",
                b.display(),
                a.display()
            ),
        ]
    );
}

#[test]
fn a_broken_file_does_not_cause_cascading_errors() {
    let dir = dir_with(&[
        ("a.yaml", "content_types: [ oops\n"),
        (
            "b.yaml",
            "roles:\n  public:\n    permissions:\n      api::a.a: [find]\n",
        ),
    ]);
    let got = load_policies(dir.path(), "/api", &[])
        .err()
        .unwrap_or_default();
    assert_eq!(got.len(), 1, "{:#?}", lines(&got));
    assert_eq!(got[0].file, dir.path().join("a.yaml"));
}

#[test]
fn a_custom_prefix_applies_to_routes() {
    let dir = dir_with(&[(
        "p.yaml",
        &format!("routes:\n  - {{ method: GET, path: /v2/things, action: api::a.a.x }}\n{ROLES}"),
    )]);
    let policy = load_policies(dir.path(), "/v2", &["/files".into()]).map_err(|d| lines(&d));
    assert_eq!(policy.map(|p| p.api_prefix()), Ok("/v2".to_owned()));
    let _ = Path::new("unused");
}

proptest::proptest! {
    #[test]
    fn parse_policy_str_never_panics(text in "\\PC*") {
        let _ = parse_policy_str("fuzz.yaml", &text);
    }

    #[test]
    fn yaml_shaped_input_never_panics(
        text in "(content_types|routes|roles|public|uid|kind|path|method|action|permissions|[:{}\\[\\]\\-, \n*&!/]|api::[a-z]\\.[a-z]|collectionType|singleType|GET|/api/[a-z:*]{0,4}){0,40}"
    ) {
        let _ = parse_policy_str("fuzz.yaml", &text);
    }
}

#[test]
fn deep_nesting_is_an_error_not_a_stack_overflow() {
    for open in ["[", "{a: ", "- "] {
        let text = open.repeat(100_000);
        assert!(parse_policy_str("deep.yaml", &text).is_err());
    }
}
