//! The store's behaviour, each body run on SQLite and on PostgreSQL.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use portcullis_store::{Backend, Error, NewUser, Store, migrate, now_ms};

fn new_user(username: &str, email: &str) -> NewUser {
    NewUser {
        username: username.to_owned(),
        email: email.to_owned(),
        password_hash: Some("$argon2id$placeholder".to_owned()),
        provider: "local".to_owned(),
        role: "authenticated".to_owned(),
        confirmed: true,
        blocked: false,
    }
}

async fn migrations_are_idempotent(url: String) {
    let first = common::connect(&url).await;
    let expected = if url.starts_with("sqlite") {
        Backend::Sqlite
    } else {
        Backend::Postgres
    };
    assert_eq!(first.backend(), expected);
    let versions: Vec<i64> = migrate::MIGRATIONS.iter().map(|m| m.version).collect();
    assert_eq!(migrate::applied_versions(&first).await.unwrap(), versions);
    first
        .create_user(new_user("alice", "alice@example.com"))
        .await
        .unwrap();
    first.close().await;

    let second = common::connect(&url).await;
    assert_eq!(migrate::run(&second).await.unwrap(), 0);
    assert_eq!(migrate::applied_versions(&second).await.unwrap(), versions);
    assert_eq!(
        second.count_users().await.unwrap(),
        1,
        "data survives reconnect"
    );
    second.ping().await.unwrap();
}
on_both!(migrations_idempotent, super::migrations_are_idempotent);

async fn user_crud(url: String) {
    let store = common::connect(&url).await;
    let before = now_ms();
    let alice = store
        .create_user(new_user("alice", "alice@example.com"))
        .await
        .unwrap();
    assert!(alice.id > 0);
    assert_eq!(alice.document_id.len(), 24);
    assert!(
        alice
            .document_id
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
    );
    assert_eq!(alice.provider, "local");
    assert!(alice.confirmed && !alice.blocked);
    assert_eq!(alice.role, "authenticated");
    assert!(alice.created_at >= before && alice.updated_at == alice.created_at);
    assert_eq!(alice.published_at, Some(alice.created_at));
    assert_eq!(alice.tokens_valid_after, None);
    assert_eq!(alice.reset_password_token, None);

    assert_eq!(
        store.user_by_id(alice.id).await.unwrap(),
        Some(alice.clone())
    );
    assert_eq!(store.user_by_id(alice.id + 1000).await.unwrap(), None);
    assert_eq!(
        store.user_by_document_id(&alice.document_id).await.unwrap(),
        Some(alice.clone())
    );

    let oauth = NewUser {
        password_hash: None,
        provider: "github".to_owned(),
        confirmed: false,
        blocked: true,
        role: "public".to_owned(),
        ..new_user("bob", "bob@example.com")
    };
    let bob = store.create_user(oauth).await.unwrap();
    assert!(bob.id > alice.id);
    assert_eq!(bob.password, None);
    assert!(!bob.confirmed && bob.blocked);
    assert_ne!(bob.document_id, alice.document_id);

    let now = now_ms() + 5_000;
    assert!(store.set_role(alice.id, "editor", now).await.unwrap());
    assert!(store.set_confirmed(bob.id, true, now).await.unwrap());
    assert!(store.set_blocked(bob.id, false, now).await.unwrap());
    assert!(
        !store.set_role(9_999_999, "editor", now).await.unwrap(),
        "unknown id"
    );
    let state = store.user_state(bob.id).await.unwrap().unwrap();
    assert!(state.confirmed && !state.blocked);
    assert_eq!(&*state.role, "public");
    assert_eq!(
        store
            .user_state(alice.id)
            .await
            .unwrap()
            .unwrap()
            .role
            .as_ref(),
        "editor"
    );
    assert_eq!(
        store
            .user_by_id(alice.id)
            .await
            .unwrap()
            .unwrap()
            .updated_at,
        now
    );

    assert!(
        store
            .update_profile(bob.id, Some("bobby"), None, now)
            .await
            .unwrap()
    );
    let bobby = store.user_by_username("bobby").await.unwrap().unwrap();
    assert_eq!(bobby.email, "bob@example.com");

    let listed = store.list_users(10, 0).await.unwrap();
    assert_eq!(
        listed.iter().map(|u| u.id).collect::<Vec<_>>(),
        vec![alice.id, bob.id]
    );
    assert_eq!(store.list_users(10, 1).await.unwrap().len(), 1);
    assert_eq!(store.count_users().await.unwrap(), 2);

    let deleted = store.delete_user(alice.id).await.unwrap().unwrap();
    assert_eq!(deleted.username, "alice");
    assert_eq!(store.delete_user(alice.id).await.unwrap(), None);
    assert_eq!(store.user_by_id(alice.id).await.unwrap(), None);
    assert_eq!(store.user_state(alice.id).await.unwrap(), None);
    assert_eq!(store.count_users().await.unwrap(), 1);

    // Ids of deleted users are never handed out again.
    let carol = store
        .create_user(new_user("carol", "carol@example.com"))
        .await
        .unwrap();
    assert!(carol.id > bob.id);
}
on_both!(crud, super::user_crud);

async fn conflicts(url: String) {
    let store = common::connect(&url).await;
    store
        .create_user(new_user("alice", "alice@example.com"))
        .await
        .unwrap();
    let err = store
        .create_user(new_user("alice", "other@example.com"))
        .await
        .unwrap_err();
    assert!(
        matches!(err, Error::Conflict { field: "username" }),
        "{err:?}"
    );
    let err = store
        .create_user(new_user("alice2", "alice@example.com"))
        .await
        .unwrap_err();
    assert!(matches!(err, Error::Conflict { field: "email" }), "{err:?}");
    let err = store
        .create_user(new_user("alice3", "ALICE@Example.com"))
        .await
        .unwrap_err();
    assert!(
        matches!(err, Error::Conflict { field: "email" }),
        "case-insensitive: {err:?}"
    );
    // Usernames are case-sensitive, as in Strapi.
    let upper = store
        .create_user(new_user("Alice", "upper@example.com"))
        .await
        .unwrap();
    let err = store
        .update_profile(upper.id, Some("alice"), None, now_ms())
        .await
        .unwrap_err();
    assert!(
        matches!(err, Error::Conflict { field: "username" }),
        "{err:?}"
    );
    assert_eq!(
        store.count_users().await.unwrap(),
        2,
        "failed inserts leave nothing behind"
    );
}
on_both!(conflict, super::conflicts);

async fn identifier_lookup(url: String) {
    let store = common::connect(&url).await;
    let alice = store
        .create_user(new_user("Alice", "alice@example.com"))
        .await
        .unwrap();
    let github = NewUser {
        provider: "github".to_owned(),
        ..new_user("gh", "gh@example.com")
    };
    store.create_user(github).await.unwrap();

    for ident in [
        "alice@example.com",
        "ALICE@EXAMPLE.COM",
        "Alice@Example.Com",
        "Alice",
    ] {
        let found = store.user_by_identifier(ident).await.unwrap();
        assert_eq!(found.map(|u| u.id), Some(alice.id), "{ident}");
    }
    for ident in [
        "alice",
        "ALICE",
        "nobody@example.com",
        "",
        "gh",
        "gh@example.com",
    ] {
        assert_eq!(
            store.user_by_identifier(ident).await.unwrap(),
            None,
            "{ident}"
        );
    }
    assert!(
        store
            .user_by_email_lower("GH@example.com")
            .await
            .unwrap()
            .is_some(),
        "any provider"
    );
    assert_eq!(
        store
            .user_by_email_lower("ALICE@example.COM")
            .await
            .unwrap()
            .unwrap()
            .id,
        alice.id
    );
    // Parameters are bound, never spliced.
    assert_eq!(store.user_by_identifier("' OR '1'='1").await.unwrap(), None);
}
on_both!(identifier, super::identifier_lookup);

async fn reset_and_confirmation_tokens(url: String) {
    let store = common::connect(&url).await;
    let u = store
        .create_user(new_user("alice", "alice@example.com"))
        .await
        .unwrap();
    let t0 = 1_772_620_200_123;
    assert!(
        store
            .set_reset_token(u.id, Some("reset-abc"), t0)
            .await
            .unwrap()
    );
    let found = store
        .user_by_reset_token("reset-abc")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(found.id, u.id);
    assert_eq!(found.reset_password_token.as_deref(), Some("reset-abc"));
    assert_eq!(found.reset_password_sent_at, Some(t0));
    assert_eq!(store.user_by_reset_token("reset-abd").await.unwrap(), None);
    assert!(store.set_reset_token(u.id, None, t0 + 1).await.unwrap());
    assert_eq!(store.user_by_reset_token("reset-abc").await.unwrap(), None);
    let cleared = store.user_by_id(u.id).await.unwrap().unwrap();
    assert_eq!(
        (cleared.reset_password_token, cleared.reset_password_sent_at),
        (None, None)
    );

    // A password change also voids a pending reset link.
    store
        .set_reset_token(u.id, Some("reset-2"), t0)
        .await
        .unwrap();
    store
        .update_password(u.id, "$argon2id$new", t0 + 10)
        .await
        .unwrap();
    assert_eq!(store.user_by_reset_token("reset-2").await.unwrap(), None);

    assert!(
        store
            .set_confirmation_token(u.id, Some("confirm-1"), t0)
            .await
            .unwrap()
    );
    assert_eq!(
        store
            .user_by_confirmation_token("confirm-1")
            .await
            .unwrap()
            .unwrap()
            .id,
        u.id
    );
    store.set_confirmation_token(u.id, None, t0).await.unwrap();
    assert_eq!(
        store.user_by_confirmation_token("confirm-1").await.unwrap(),
        None
    );
}
on_both!(reset_tokens, super::reset_and_confirmation_tokens);

async fn revocation_instants(url: String) {
    let store = common::connect(&url).await;
    let u = store
        .create_user(new_user("alice", "alice@example.com"))
        .await
        .unwrap();
    let t = 1_772_620_200_789;
    assert!(
        store
            .update_password(u.id, "$argon2id$v2", t)
            .await
            .unwrap()
    );
    let after = store.user_by_id(u.id).await.unwrap().unwrap();
    assert_eq!(after.password.as_deref(), Some("$argon2id$v2"));
    // The start of the next second: every JWT minted up to the change (its
    // second included) is refused.
    assert_eq!(after.tokens_valid_after, Some(1_772_620_201_000));
    assert_eq!(after.updated_at, t);

    assert!(store.set_blocked(u.id, true, t + 60_000).await.unwrap());
    let state = store.user_state(u.id).await.unwrap().unwrap();
    assert!(state.blocked);
    assert_eq!(state.tokens_valid_after, Some(1_772_620_261_000));
    // Unblocking keeps the revocation: old tokens stay dead.
    store.set_blocked(u.id, false, t + 120_000).await.unwrap();
    let state = store.user_state(u.id).await.unwrap().unwrap();
    assert!(!state.blocked);
    assert_eq!(state.tokens_valid_after, Some(1_772_620_261_000));
}
on_both!(revocation, super::revocation_instants);

async fn counts_by_role(url: String) {
    let store = common::connect(&url).await;
    assert!(store.count_users_by_role().await.unwrap().is_empty());
    for (i, role) in ["authenticated", "authenticated", "editor", "authenticated"]
        .iter()
        .enumerate()
    {
        let mut u = new_user(&format!("user{i}"), &format!("user{i}@example.com"));
        u.role = (*role).to_owned();
        store.create_user(u).await.unwrap();
    }
    let counts = store.count_users_by_role().await.unwrap();
    assert_eq!(counts.len(), 2);
    assert_eq!(counts["authenticated"], 3);
    assert_eq!(counts["editor"], 1);
}
on_both!(role_counts, super::counts_by_role);

#[tokio::test]
async fn postgres_test_database_is_dropped() {
    let name = common::on_postgres(|url| async move {
        let store = Store::connect(&url).await.unwrap();
        store
            .create_user(new_user("alice", "alice@example.com"))
            .await
            .unwrap();
        // Left open on purpose: the drop must force it closed.
        std::mem::forget(store);
    })
    .await;
    if let Some(name) = name {
        assert!(name.starts_with("portcullis_test_"));
        assert!(!common::database_exists(&name).await, "{name} still exists");
    }
}

#[tokio::test]
async fn sqlite_uses_wal_and_creates_directories() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("nested/deeper/gw.db");
    let store = Store::connect(&format!("sqlite://{}", path.display()))
        .await
        .unwrap();
    assert!(path.is_file());
    let (mode,): (String,) = sqlx::query_as("PRAGMA journal_mode")
        .fetch_one(store.pool())
        .await
        .unwrap();
    assert_eq!(mode, "wal");
}

#[tokio::test]
async fn sqlite_in_memory_works() {
    let store = Store::connect("sqlite::memory:").await.unwrap();
    store
        .create_user(new_user("alice", "alice@example.com"))
        .await
        .unwrap();
    assert_eq!(store.count_users().await.unwrap(), 1);
}

#[tokio::test]
async fn unsupported_scheme_is_rejected() {
    let err = Store::connect("mysql://root:hunter2@localhost/db")
        .await
        .unwrap_err();
    assert!(matches!(err, Error::UnsupportedUrl { .. }));
    assert!(!err.to_string().contains("hunter2"));
}
