//! `load`, `load_policies` and `summary` over real files.

use std::path::{Path, PathBuf};

use super::{lines, no_env};
use crate::{AuthorizationMode, Duration, StoreKind, load, load_policies, summary};

fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn write(dir: &Path, name: &str, text: &str) {
    if let Err(e) = std::fs::write(dir.join(name), text) {
        panic!("writing {name}: {e}");
    }
}

#[test]
fn shipped_gateway_yaml_and_policies_load() {
    let loaded = match load(&repo_root().join("gateway.yaml"), &no_env) {
        Ok(l) => l,
        Err(d) => panic!("{:#?}", lines(&d)),
    };
    let g = &loaded.gateway;
    assert_eq!(g.server.listen.to_string(), "127.0.0.1:8080");
    assert_eq!(g.server.admin_listen.to_string(), "127.0.0.1:9091");
    assert_eq!(g.upstream.host, "127.0.0.1");
    assert_eq!(g.upstream.port, 1337);
    assert_eq!(g.upstream.authorization, AuthorizationMode::Strip);
    assert_eq!(g.jwt.secret, "change-me-dev-only-secret");
    assert_eq!(
        g.api_tokens.salt.as_deref(),
        Some("change-me-dev-only-salt")
    );
    assert_eq!(g.store.kind(), StoreKind::Sqlite);
    assert_eq!(g.cache.redis_url, None);
    assert_eq!(g.email.smtp_url, None);
    assert_eq!(
        g.users_permissions.reset_token_ttl,
        Duration::from_secs(3600)
    );
    assert!(loaded.ready_to_serve().is_ok());
    let p = &loaded.policy;
    assert_eq!(p.content_types().len(), 2);
    assert_eq!(p.routes().len(), 2);
    assert!(
        p.role("public")
            .is_some_and(|r| r.grants("api::newsletter.newsletter.subscribe"))
    );
    assert!(
        p.role("public")
            .is_some_and(|r| r.grants("api::site-setting.site-setting.find"))
    );
    assert_eq!(loaded.policy_files.len(), 3);
    let version = p.version().to_owned();
    assert_eq!(version.len(), 16);
    assert_eq!(
        summary(&loaded),
        format!(
            "ok: {}, 3 policy files, 2 content types, 2 custom routes, 2 roles (version {version})",
            repo_root().join("gateway.yaml").display()
        )
    );
}

#[test]
fn shipped_gateway_yaml_equals_the_defaults() {
    let loaded = load(&repo_root().join("gateway.yaml"), &no_env).map_err(|d| lines(&d));
    let Ok(loaded) = loaded else {
        panic!("{loaded:?}")
    };
    let mut expected = crate::GatewayConfig::default();
    expected.jwt.secret = "change-me-dev-only-secret".into();
    expected.api_tokens.salt = Some("change-me-dev-only-salt".into());
    expected.policies.dir = repo_root().join("policies");
    assert_eq!(loaded.gateway, expected);
}

fn project(gateway: &str, files: &[(&str, &str)]) -> tempfile::TempDir {
    let dir = match tempfile::tempdir() {
        Ok(d) => d,
        Err(e) => panic!("tempdir: {e}"),
    };
    write(dir.path(), "gateway.yaml", gateway);
    if let Err(e) = std::fs::create_dir(dir.path().join("policies")) {
        panic!("mkdir: {e}");
    }
    for (name, text) in files {
        write(&dir.path().join("policies"), name, text);
    }
    dir
}

const ROLES: &str = "roles:\n  public: {}\n  authenticated: {}\n";

#[test]
fn version_is_stable_and_follows_the_contents() {
    let a = project("jwt: { secret: s }\n", &[("roles.yaml", ROLES)]);
    let b = project("jwt: { secret: s }\n", &[("roles.yaml", ROLES)]);
    let c = project(
        "jwt: { secret: s }\n",
        &[("roles.yaml", &format!("{ROLES}# changed\n"))],
    );
    let v = |d: &tempfile::TempDir| {
        load_policies(&d.path().join("policies"), "/api", &[])
            .map(|p| p.version().to_owned())
            .map_err(|d| lines(&d))
    };
    assert_eq!(v(&a), v(&b));
    assert_ne!(v(&a), v(&c));
}

#[test]
fn missing_config_file_is_one_clear_sentence_at_1_1() {
    let dir = project("", &[]);
    let path = dir.path().join("nope.yaml");
    let errs = load(&path, &no_env).err().unwrap_or_default();
    assert_eq!(errs.len(), 1);
    assert_eq!((errs[0].line, errs[0].column), (1, 1));
    assert!(
        errs[0].to_string().starts_with(&format!(
            "{}:1:1: cannot read the gateway configuration: ",
            path.display()
        )),
        "{}",
        errs[0]
    );
}

#[test]
fn missing_or_empty_policy_dir_is_reported() {
    let dir = project("policies: { dir: elsewhere }\n", &[]);
    let errs = lines(
        &load(&dir.path().join("gateway.yaml"), &no_env)
            .err()
            .unwrap_or_default(),
    );
    let missing = dir.path().join("elsewhere");
    assert_eq!(errs.len(), 1);
    assert!(errs[0].starts_with(&format!(
        "{}:1:1: cannot read the policy directory: ",
        missing.display()
    )));

    let dir = project("", &[("notes.txt", "hello")]);
    let errs = lines(
        &load(&dir.path().join("gateway.yaml"), &no_env)
            .err()
            .unwrap_or_default(),
    );
    let policies = dir.path().join("policies");
    assert_eq!(
        errs,
        [format!(
            "{}:1:1: the policy directory has no *.yaml or *.yml files",
            policies.display()
        )]
    );
}

#[test]
fn gateway_and_policy_problems_are_reported_together() {
    let gateway = "server:\n  listen: nowhere\nusers_permissions:\n  default_role: editor\n";
    let policy =
        format!("{ROLES}content_types:\n  - {{ uid: bad, kind: singleType, singular: x }}\n");
    let dir = project(gateway, &[("a.yaml", &policy)]);
    let g = dir.path().join("gateway.yaml");
    let a = dir.path().join("policies/a.yaml");
    let errs = lines(&load(&g, &no_env).err().unwrap_or_default());
    assert_eq!(
        errs,
        [
            format!(
                "{}:2:11: server.listen \"nowhere\" is not an IP address and port such as \"127.0.0.1:8080\"",
                g.display()
            ),
            format!(
                "{}:5:12: invalid uid \"bad\": expected api::<name>.<name> or plugin::<name>.<name> with names of a-z, 0-9 and '-'",
                a.display()
            ),
            format!(
                "{}:4:17: users_permissions.default_role \"editor\" is not a role defined in the policy files",
                g.display()
            ),
        ]
    );
}

#[test]
fn empty_jwt_secret_passes_check_but_not_serve() {
    let dir = project(
        "jwt:\n  secret: \"${JWT_SECRET:-}\"\n",
        &[("roles.yaml", ROLES)],
    );
    let g = dir.path().join("gateway.yaml");
    let loaded = load(&g, &no_env).map_err(|d| lines(&d));
    let Ok(loaded) = loaded else {
        panic!("{loaded:?}")
    };
    let errs = lines(&loaded.ready_to_serve().err().unwrap_or_default());
    assert_eq!(
        errs,
        [format!(
            "{}:2:11: jwt.secret is empty; serve needs it to sign user tokens",
            g.display()
        )]
    );
}

#[test]
fn policies_dir_is_relative_to_the_gateway_yaml() {
    let dir = project("jwt: { secret: s }\n", &[("roles.yaml", ROLES)]);
    let loaded = load(&dir.path().join("gateway.yaml"), &no_env).map_err(|d| lines(&d));
    let Ok(loaded) = loaded else {
        panic!("{loaded:?}")
    };
    assert_eq!(loaded.gateway.policies.dir, dir.path().join("policies"));
    assert_eq!(
        loaded.policy_files,
        [dir.path().join("policies/roles.yaml")]
    );
}
