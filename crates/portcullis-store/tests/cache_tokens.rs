//! The user cache and the API-token table, on SQLite and on PostgreSQL.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::sync::Arc;
use std::time::Duration;

use portcullis_store::tokens::{generate_secret, hash_access_key};
use portcullis_store::{Error, NewApiToken, NewUser, TokenStatus, TokenType, UserCache, now_ms};

fn new_user(username: &str) -> NewUser {
    NewUser {
        username: username.to_owned(),
        email: format!("{username}@example.com"),
        password_hash: None,
        provider: "local".to_owned(),
        role: "authenticated".to_owned(),
        confirmed: true,
        blocked: false,
    }
}

async fn cache_behaviour(url: String) {
    let store = common::connect(&url).await;
    let alice = store.create_user(new_user("alice")).await.unwrap();
    let cache = UserCache::new(Duration::from_secs(60));

    assert_eq!(cache.get(alice.id), None);
    assert_eq!((cache.hits(), cache.misses()), (0, 1));

    let loaded = cache.load(&store, alice.id).await.unwrap().unwrap();
    assert_eq!(*loaded, alice.state());
    assert_eq!((cache.hits(), cache.misses()), (0, 2));
    let again = cache.load(&store, alice.id).await.unwrap().unwrap();
    assert!(
        Arc::ptr_eq(&loaded, &again),
        "second load is served from memory"
    );
    assert_eq!((cache.hits(), cache.misses()), (1, 2));

    // A change in the database is invisible until invalidated.
    store.set_blocked(alice.id, true, now_ms()).await.unwrap();
    assert!(!cache.load(&store, alice.id).await.unwrap().unwrap().blocked);
    cache.invalidate(alice.id);
    assert!(cache.load(&store, alice.id).await.unwrap().unwrap().blocked);

    // Negative caching: an unknown id is remembered as absent.
    let ghost = alice.id + 1000;
    assert_eq!(cache.load(&store, ghost).await.unwrap(), None);
    assert_eq!(cache.get(ghost), Some(None));
    let hits = cache.hits();
    assert_eq!(cache.load(&store, ghost).await.unwrap(), None);
    assert_eq!(cache.hits(), hits + 1);

    // A deleted user stays cached until invalidated, then reads as absent.
    store.delete_user(alice.id).await.unwrap();
    assert!(cache.load(&store, alice.id).await.unwrap().is_some());
    cache.invalidate_all();
    assert_eq!(cache.get(alice.id), None);
    assert_eq!(cache.load(&store, alice.id).await.unwrap(), None);
    assert_eq!(cache.get(alice.id), Some(None));

    // Manual insert.
    let bob = store.create_user(new_user("bob")).await.unwrap();
    cache.insert(bob.id, Some(Arc::new(bob.state())));
    assert_eq!(cache.get(bob.id).unwrap().unwrap().id, bob.id);
    assert!(cache.entry_count() >= 2);
}
on_both!(cache, super::cache_behaviour);

async fn cache_ttl(url: String) {
    let store = common::connect(&url).await;
    let alice = store.create_user(new_user("alice")).await.unwrap();
    let cache = UserCache::new(Duration::from_millis(200));
    cache.load(&store, alice.id).await.unwrap();
    assert!(cache.get(alice.id).is_some());
    store.set_role(alice.id, "editor", now_ms()).await.unwrap();
    tokio::time::sleep(Duration::from_millis(350)).await;
    assert_eq!(cache.get(alice.id), None, "expired after the TTL");
    let fresh = cache.load(&store, alice.id).await.unwrap().unwrap();
    assert_eq!(&*fresh.role, "editor");
}
on_both!(ttl, super::cache_ttl);

fn new_token(name: &str, token_type: TokenType, lifespan_ms: Option<i64>) -> (String, NewApiToken) {
    let secret = generate_secret();
    let new = NewApiToken {
        name: name.to_owned(),
        description: format!("{name} token"),
        token_type,
        access_key: hash_access_key("salt", &secret),
        permissions: if token_type == TokenType::Custom {
            r#"["api::post.post.find"]"#.to_owned()
        } else {
            "[]".to_owned()
        },
        lifespan_ms,
    };
    (secret, new)
}

async fn api_tokens(url: String) {
    let store = common::connect(&url).await;
    let now = 1_772_620_200_000;
    let week = 604_800_000;
    let (secret, new) = new_token("ci", TokenType::Custom, Some(week));
    let created = store.create_api_token(new, now).await.unwrap();
    assert_eq!(created.kind(), Some(TokenType::Custom));
    assert_eq!(created.expires_at, Some(now + week));
    assert_eq!(created.permissions, r#"["api::post.post.find"]"#);
    assert_eq!(created.status(now), TokenStatus::Active);
    assert_eq!(created.status(now + week), TokenStatus::Expired);
    assert!(
        !format!("{created:?}").contains(&created.access_key),
        "Debug hides the key"
    );

    let found = store
        .api_token_by_access_key(&hash_access_key("salt", &secret))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(found, created);
    let wrong_salt = hash_access_key("pepper", &secret);
    assert_eq!(
        store.api_token_by_access_key(&wrong_salt).await.unwrap(),
        None
    );

    let (_, dup) = new_token("ci", TokenType::ReadOnly, None);
    let err = store.create_api_token(dup, now).await.unwrap_err();
    assert!(matches!(err, Error::Conflict { field: "name" }), "{err:?}");

    let (_, forever) = new_token("forever", TokenType::FullAccess, None);
    let forever = store.create_api_token(forever, now).await.unwrap();
    assert_eq!((forever.lifespan_ms, forever.expires_at), (None, None));
    assert_eq!(forever.status(i64::MAX), TokenStatus::Active);
    assert_eq!(
        store
            .api_token_by_name("forever")
            .await
            .unwrap()
            .unwrap()
            .id,
        forever.id
    );
    assert_eq!(
        store
            .api_token_by_id(created.id)
            .await
            .unwrap()
            .unwrap()
            .name,
        "ci"
    );

    let names: Vec<String> = store
        .list_api_tokens()
        .await
        .unwrap()
        .into_iter()
        .map(|t| t.name)
        .collect();
    assert_eq!(names, ["ci", "forever"]);

    assert!(store.touch_api_token(forever.id, now).await.unwrap());
    assert!(
        !store
            .touch_api_token(forever.id, now + 60_000)
            .await
            .unwrap(),
        "within the hour"
    );
    assert!(
        store
            .touch_api_token(forever.id, now + 3_600_000)
            .await
            .unwrap()
    );

    assert!(store.revoke_api_token(forever.id, now + 1).await.unwrap());
    assert!(
        !store.revoke_api_token(forever.id, now + 2).await.unwrap(),
        "already revoked"
    );
    let revoked = store.api_token_by_id(forever.id).await.unwrap().unwrap();
    assert_eq!(revoked.revoked_at, Some(now + 1));
    assert_eq!(revoked.last_used_at, Some(now + 3_600_000));
    assert_eq!(revoked.status(now + 5), TokenStatus::Revoked);
}
on_both!(tokens, super::api_tokens);
