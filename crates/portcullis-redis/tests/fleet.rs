//! Policy publication, user cache and events between two replicas, against
//! a real `redis-server`.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::sync::Arc;
use std::time::Duration;

use common::{Events, RedisServer};
use portcullis_redis::{CachedUserState, Event, Fleet, Health};

const WITHIN: Duration = Duration::from_secs(1);

fn sources(text: &str) -> Vec<(String, String)> {
    vec![("roles.yaml".to_owned(), text.to_owned())]
}

fn user(id: i64, role: &str, blocked: bool) -> CachedUserState {
    CachedUserState {
        id,
        role: role.to_owned(),
        blocked,
        confirmed: true,
        tokens_valid_after: Some(1_700_000_000),
    }
}

/// A fleet whose subscriber is live (first `Reconnected` seen).
async fn subscribed(url: &str) -> (Fleet, Arc<Events>) {
    let fleet = Fleet::connect(url, "pc").await.unwrap();
    let events = Arc::new(Events::default());
    let sink = events.clone();
    fleet.subscribe(move |e| sink.push(e));
    events.wait_for(WITHIN, |e| *e == Event::Reconnected).await;
    (fleet, events)
}

#[tokio::test]
async fn policy_publish_and_read() {
    let redis = RedisServer::start();
    let a = Fleet::connect(&redis.url(), "pc").await.unwrap();
    assert_eq!(a.health(), Health::Up);
    assert_eq!(a.active_policy().await.unwrap(), None);

    let first = a.publish_policy("hash1", sources("one")).await.unwrap();
    assert_eq!(first.version, "hash1");
    assert_eq!(first.sources, sources("one"));
    let second = a
        .publish_policy("hash2", sources("two \"quoted\" ✓\n"))
        .await
        .unwrap();
    assert!(second.revision > first.revision);

    // Another replica starting reads the active document.
    let b = Fleet::connect(&redis.url(), "pc").await.unwrap();
    assert_eq!(b.active_policy().await.unwrap(), Some(second.clone()));

    // Republishing the active version changes nothing.
    let again = b
        .publish_policy("hash2", sources("two \"quoted\" ✓\n"))
        .await
        .unwrap();
    assert_eq!(again, second);
    let third = b.publish_policy("hash1", sources("one")).await.unwrap();
    assert!(third.revision > second.revision);
    assert_eq!(a.active_policy().await.unwrap(), Some(third));

    assert!(a.publish_policy("has space", sources("x")).await.is_err());
    assert!(a.publish_policy("", sources("x")).await.is_err());

    // Another prefix is another fleet.
    let other = Fleet::connect(&redis.url(), "other").await.unwrap();
    assert_eq!(other.active_policy().await.unwrap(), None);
}

#[tokio::test]
async fn policy_announced_to_other_replica() {
    let redis = RedisServer::start();
    let (_b, b_events) = subscribed(&redis.url()).await;
    let a = Fleet::connect(&redis.url(), "pc").await.unwrap();
    let doc = a.publish_policy("v-abc", sources("rules")).await.unwrap();
    let got = b_events
        .wait_for(WITHIN, |e| matches!(e, Event::Policy { .. }))
        .await;
    assert_eq!(
        got,
        Event::Policy {
            version: "v-abc".into(),
            revision: doc.revision
        }
    );
}

#[tokio::test]
async fn user_cache_and_invalidation() {
    let redis = RedisServer::start();
    let (a, _) = subscribed(&redis.url()).await;
    let (b, b_events) = subscribed(&redis.url()).await;
    let ttl = Duration::from_secs(60);

    assert_eq!(b.get_user(1).await.unwrap(), None);
    let alice = user(1, "authenticated", false);
    a.put_user(1, Some(&alice), ttl).await.unwrap();
    assert_eq!(b.get_user(1).await.unwrap(), Some(Some(alice.clone())));

    // Negative entry: a deleted user.
    a.put_user(2, None, ttl).await.unwrap();
    assert_eq!(b.get_user(2).await.unwrap(), Some(None));

    // A changes the user: B's shared entry is gone and B hears of it.
    a.user_changed(1).await.unwrap();
    assert_eq!(
        b_events
            .wait_for(WITHIN, |e| matches!(e, Event::User(_)))
            .await,
        Event::User(1)
    );
    assert_eq!(b.get_user(1).await.unwrap(), None);

    // A read that began before the change cannot put the stale state back.
    b.put_user(1, Some(&alice), ttl).await.unwrap();
    assert_eq!(b.get_user(1).await.unwrap(), None);

    // Token revocation.
    a.token_changed("key-123").await.unwrap();
    assert_eq!(
        b_events
            .wait_for(WITHIN, |e| matches!(e, Event::Token(_)))
            .await,
        Event::Token("key-123".into())
    );

    // Entries expire.
    a.put_user(
        3,
        Some(&user(3, "editor", true)),
        Duration::from_millis(100),
    )
    .await
    .unwrap();
    assert!(b.get_user(3).await.unwrap().is_some());
    tokio::time::sleep(Duration::from_millis(250)).await;
    assert_eq!(b.get_user(3).await.unwrap(), None);
}

#[tokio::test]
async fn commands_are_counted() {
    let redis = RedisServer::start();
    let fleet = Fleet::connect(&redis.url(), "pc").await.unwrap();
    let start = fleet.commands_sent();
    fleet.get_user(9).await.unwrap();
    fleet
        .put_user(9, None, Duration::from_secs(5))
        .await
        .unwrap();
    fleet.user_changed(9).await.unwrap(); // one pipeline, one round trip
    fleet.ping().await.unwrap();
    assert_eq!(fleet.commands_sent() - start, 4);
    // Clones share the counter.
    let clone = fleet.clone();
    clone.active_policy().await.unwrap();
    assert_eq!(fleet.commands_sent() - start, 5);
    // Idle: the background tasks send nothing counted.
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(fleet.commands_sent() - start, 5);
    assert_eq!(fleet.errors(), 0);
}

#[tokio::test]
async fn bad_url_is_an_error() {
    assert!(Fleet::connect("not a url", "pc").await.is_err());
}
