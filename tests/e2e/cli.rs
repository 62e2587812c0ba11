//! The command line as a process (CONTRACT §1): `check`, `explain`,
//! `user create`.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::process::Output;

use common::*;
use portcullis_tests::{
    DEFAULT_POLICY, EchoUpstream, GatewayBuilder, GatewayFiles, expired_user_jwt, user_jwt,
    user_jwt_wrong_secret,
};

fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// `<file>:<line>:<column>` of the first occurrence of `needle` in a file.
fn position(path: &std::path::Path, needle: &str) -> String {
    let text = std::fs::read_to_string(path).unwrap();
    for (i, line) in text.lines().enumerate() {
        if let Some(col) = line.find(needle) {
            return format!("{}:{}:{}", path.display(), i + 1, col + 1);
        }
    }
    panic!("{needle:?} not in {}", path.display());
}

/// The value of `key:` in explain's output.
fn field(out: &str, key: &str) -> String {
    out.lines()
        .find_map(|l| l.strip_prefix(&format!("{key}:")))
        .map(|v| v.trim().to_owned())
        .unwrap_or_else(|| panic!("no {key}: line in\n{out}"))
}

async fn explain(files: &GatewayFiles, args: &[&str]) -> String {
    let mut all = vec!["explain"];
    all.extend_from_slice(args);
    let out = files.run_cli(&all).await.unwrap();
    assert!(
        out.status.success(),
        "explain {args:?}: {}\n{}",
        out.status,
        stderr(&out)
    );
    stdout(&out)
}

#[tokio::test]
async fn check_accepts_a_good_configuration() {
    let files = GatewayBuilder::new().write().await.unwrap();
    let out = files.run_cli(&["check"]).await.unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let text = stdout(&out);
    let lines: Vec<&str> = text.lines().filter(|l| !l.trim().is_empty()).collect();
    assert_eq!(lines.len(), 1, "one-line summary expected: {text:?}");
}

#[tokio::test]
async fn check_reports_every_problem_with_its_position() {
    // An unknown action.
    let bad = DEFAULT_POLICY.replace("[find, findOne]", "[find, findOne, fly]");
    let files = GatewayBuilder::new()
        .policy_file("default.yaml", &bad)
        .write()
        .await
        .unwrap();
    let policy = files.dir().join("policies/default.yaml");
    let out = files.run_cli(&["check"]).await.unwrap();
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(1), "{}{err}", stdout(&out));
    let at = position(&policy, "fly");
    assert!(
        err.lines()
            .any(|l| l.starts_with(&format!("{at}: ")) && l.contains("fly")),
        "expected a line starting {at}: …fly…, got:\n{err}"
    );

    // A role defined in two files.
    let dup = "roles:\n  public:\n    name: Public\n    description: again\n    permissions: {}\n";
    let files = GatewayBuilder::new()
        .policy_file("a.yaml", DEFAULT_POLICY)
        .policy_file("b.yaml", dup)
        .write()
        .await
        .unwrap();
    let out = files.run_cli(&["check"]).await.unwrap();
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(1), "{err}");
    let at = position(&files.dir().join("policies/b.yaml"), "public:");
    assert!(
        err.lines()
            .any(|l| l.starts_with(&format!("{at}: ")) && l.contains("public")),
        "expected a line starting {at}: …public…, got:\n{err}"
    );

    // Both at once: both diagnostics, each on its own line.
    let files = GatewayBuilder::new()
        .policy_file("a.yaml", &bad)
        .policy_file("b.yaml", dup)
        .write()
        .await
        .unwrap();
    let out = files.run_cli(&["check"]).await.unwrap();
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(1), "{err}");
    let unknown = position(&files.dir().join("policies/a.yaml"), "fly");
    let duplicate = position(&files.dir().join("policies/b.yaml"), "public:");
    assert!(
        err.lines().any(|l| l.starts_with(&format!("{unknown}: "))),
        "unknown action missing ({unknown}):\n{err}"
    );
    assert!(
        err.lines()
            .any(|l| l.starts_with(&format!("{duplicate}: "))),
        "duplicate role missing ({duplicate}):\n{err}"
    );
    assert!(stdout(&out).trim().is_empty(), "{}", stdout(&out));

    // gateway.yaml problems are reported the same way.
    let files = GatewayBuilder::new()
        .section_extra("upstream", "authorisation: strip")
        .write()
        .await
        .unwrap();
    let out = files.run_cli(&["check"]).await.unwrap();
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(1), "{err}");
    let at = position(&files.config_path(), "authorisation");
    assert!(
        err.lines().any(|l| l.starts_with(&format!("{at}: "))),
        "expected {at}: …, got:\n{err}"
    );
}

#[tokio::test]
async fn explain_prints_the_decision_without_the_upstream() {
    let upstream = EchoUpstream::start().await.unwrap();
    let files = GatewayBuilder::new()
        .upstream(upstream.url())
        .write()
        .await
        .unwrap();

    let out = explain(&files, &["GET", "/api/posts"]).await;
    assert!(field(&out, "decision").starts_with("allow"), "{out}");
    assert_eq!(field(&out, "action"), "api::post.post.find", "{out}");
    assert!(!field(&out, "rule").is_empty(), "{out}");

    let out = explain(
        &files,
        &["DELETE", "/api/posts/1", "--role", "authenticated"],
    )
    .await;
    assert!(field(&out, "decision").starts_with("403"), "{out}");
    assert_eq!(field(&out, "action"), "api::post.post.delete", "{out}");

    let out = explain(&files, &["POST", "/api/posts", "--role", "authenticated"]).await;
    assert!(field(&out, "decision").starts_with("allow"), "{out}");
    assert_eq!(field(&out, "action"), "api::post.post.create", "{out}");

    let out = explain(&files, &["POST", "/api/posts"]).await;
    assert!(field(&out, "decision").starts_with("403"), "{out}");

    let out = explain(&files, &["GET", "/api/posts%2f1"]).await;
    assert!(field(&out, "decision").starts_with("400"), "{out}");

    let out = explain(&files, &["GET", "/api/nothing"]).await;
    assert!(field(&out, "decision").starts_with("404"), "{out}");

    let out = explain(&files, &["get", "/API/Posts/../posts/7/related"]).await;
    assert!(field(&out, "decision").starts_with("allow"), "{out}");
    assert_eq!(field(&out, "action"), "api::post.post.findOne", "{out}");
    assert_eq!(field(&out, "canonical"), "/api/posts/7/related", "{out}");

    // With a user token: the store is consulted.
    let out = files
        .run_cli_stdin(
            &[
                "user",
                "create",
                "--username",
                "alice",
                "--email",
                "alice@example.com",
                "--password-stdin",
                "--confirmed",
            ],
            Some(b"Test1234"),
        )
        .await
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    let id = parse_user_id(&stdout(&out));
    let token = user_jwt(id);
    let out = explain(&files, &["GET", "/api/users/me", "--token", &token]).await;
    assert!(field(&out, "decision").starts_with("allow"), "{out}");
    assert!(out.contains(&format!("user {id}")), "{out}");
    assert_eq!(
        field(&out, "action"),
        "plugin::users-permissions.user.me",
        "{out}"
    );
    let out = explain(&files, &["DELETE", "/api/posts/1", "--token", &token]).await;
    assert!(field(&out, "decision").starts_with("403"), "{out}");

    for (what, bad) in [
        ("expired", expired_user_jwt(id)),
        ("wrong secret", user_jwt_wrong_secret(id)),
        ("deleted user", user_jwt(id + 100)),
        ("garbage", "x.y.z".to_owned()),
    ] {
        let out = explain(&files, &["GET", "/api/posts", "--token", &bad]).await;
        assert!(field(&out, "decision").starts_with("401"), "{what}: {out}");
    }
    assert_untouched(&upstream, "explain");
}

#[tokio::test]
async fn user_create_validates_its_input() {
    let files = GatewayBuilder::new().write().await.unwrap();
    let create = |username: &'static str, email: &'static str, extra: &'static [&'static str]| {
        let mut args = vec![
            "user",
            "create",
            "--username",
            username,
            "--email",
            email,
            "--password-stdin",
        ];
        args.extend_from_slice(extra);
        args
    };
    let out = files
        .run_cli_stdin(
            &create("alice", "alice@example.com", &[]),
            Some(b"Test1234"),
        )
        .await
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    let alice = parse_user_id(&stdout(&out));
    assert!(
        stdout(&out).contains("authenticated"),
        "default role: {}",
        stdout(&out)
    );

    let out = files
        .run_cli_stdin(
            &create("bob", "bob@example.com", &["--role", "public"]),
            Some(b"Test1234\n"),
        )
        .await
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    assert_ne!(parse_user_id(&stdout(&out)), alice);

    for (what, args, password) in [
        (
            "unknown role",
            create("carol", "carol@example.com", &["--role", "admin"]),
            b"Test1234".as_slice(),
        ),
        (
            "duplicate username",
            create("alice", "other@example.com", &[]),
            b"Test1234",
        ),
        (
            "duplicate email",
            create("alice2", "alice@example.com", &[]),
            b"Test1234",
        ),
        (
            "short password",
            create("dave", "dave@example.com", &[]),
            b"abc",
        ),
        (
            "bad email",
            create("erin", "not-an-email", &[]),
            b"Test1234",
        ),
    ] {
        let out = files.run_cli_stdin(&args, Some(password)).await.unwrap();
        assert!(
            !out.status.success(),
            "{what}: user create succeeded: {}",
            stdout(&out)
        );
        assert!(!stderr(&out).trim().is_empty(), "{what}: no error message");
        assert!(
            !stdout(&out).contains("created user"),
            "{what}: {}",
            stdout(&out)
        );
    }

    // A refused create left nothing behind: carol does not exist, so
    // creating her properly now works.
    let out = files
        .run_cli_stdin(
            &create("carol", "carol@example.com", &[]),
            Some(b"Test1234"),
        )
        .await
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
}
