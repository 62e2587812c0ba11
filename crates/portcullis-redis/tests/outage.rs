//! Redis going away and coming back, against a real `redis-server`.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::sync::Arc;
use std::time::{Duration, Instant};

use common::{CountingFallback, Events, RedisServer, eventually};
use portcullis_redis::{Error, Event, Fleet, Health, RedisRateLimiter};
use portcullis_users_permissions::RateLimiter;

#[tokio::test]
async fn starts_without_redis_then_connects() {
    let port = {
        let probe = RedisServer::start();
        probe.port
    }; // stopped: nothing listens there now
    let started = Instant::now();
    let fleet = Fleet::connect(&format!("redis://127.0.0.1:{port}"), "pc")
        .await
        .unwrap();
    assert!(started.elapsed() < Duration::from_secs(3));
    assert_eq!(fleet.health(), Health::Down);
    assert!(matches!(fleet.get_user(1).await, Err(Error::Unavailable)));
    assert!(fleet.ping().await.is_err());

    let _redis = RedisServer::start_on(port);
    eventually(Duration::from_secs(3), "health up", || {
        fleet.health() == Health::Up
    })
    .await;
    fleet
        .put_user(1, None, Duration::from_secs(5))
        .await
        .unwrap();
    assert_eq!(fleet.get_user(1).await.unwrap(), Some(None));
}

#[tokio::test]
async fn degrades_and_recovers() {
    let mut redis = RedisServer::start();
    let url = redis.url();
    let fleet = Fleet::connect(&url, "pc").await.unwrap();
    let events = Arc::new(Events::default());
    let sink = events.clone();
    fleet.subscribe(move |e| sink.push(e));
    events
        .wait_for(Duration::from_secs(1), |e| *e == Event::Reconnected)
        .await;
    assert_eq!(fleet.health(), Health::Up);

    let fallback = Arc::new(CountingFallback::default());
    let limiter = RedisRateLimiter::new(fleet.clone(), fallback.clone());
    assert!(limiter.hit("k", Duration::from_secs(60), 1).await.allowed);
    assert!(!limiter.hit("k", Duration::from_secs(60), 1).await.allowed);

    redis.stop();
    eventually(Duration::from_secs(2), "health down", || {
        fleet.health() == Health::Down
    })
    .await;

    // Calls fail quickly instead of hanging.
    let started = Instant::now();
    assert!(fleet.get_user(1).await.is_err());
    assert!(fleet.active_policy().await.is_err());
    assert!(fleet.publish_policy("v", vec![]).await.is_err());
    assert!(fleet.user_changed(1).await.is_err());
    assert!(fleet.ping().await.is_err());
    // The rate limiter counts per replica meanwhile.
    assert!(limiter.hit("k", Duration::from_secs(60), 1).await.allowed);
    assert_eq!(*fallback.0.lock().unwrap(), 1);
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "{:?}",
        started.elapsed()
    );

    // Same port again: everything reconnects on its own.
    std::thread::sleep(Duration::from_millis(300));
    let _redis = RedisServer::start_on(redis.port);
    events
        .wait_for(Duration::from_secs(3), |e| *e == Event::Reconnected)
        .await;
    eventually(Duration::from_secs(2), "health up", || {
        fleet.health() == Health::Up
    })
    .await;

    // Later events arrive again.
    let other = Fleet::connect(&url, "pc").await.unwrap();
    other.user_changed(7).await.unwrap();
    assert_eq!(
        events
            .wait_for(Duration::from_secs(1), |e| matches!(e, Event::User(_)))
            .await,
        Event::User(7)
    );
    // The fresh server has no counter: shared counting resumes.
    let d = limiter.hit("k", Duration::from_secs(60), 1).await;
    assert!(d.allowed);
    assert_eq!(*fallback.0.lock().unwrap(), 1);
    assert!(!limiter.hit("k", Duration::from_secs(60), 1).await.allowed);
}

#[tokio::test]
async fn hung_server_times_out() {
    let redis = RedisServer::start();
    let fleet = Fleet::connect(&redis.url(), "pc").await.unwrap();
    let fallback = Arc::new(CountingFallback::default());
    let limiter = RedisRateLimiter::new(fleet.clone(), fallback.clone());
    fleet.ping().await.unwrap();

    redis.signal("STOP");
    let started = Instant::now();
    assert!(matches!(fleet.get_user(1).await, Err(Error::Timeout(_))));
    assert!(started.elapsed() < Duration::from_millis(1500));
    assert_eq!(fleet.health(), Health::Down);
    // Down: no more waiting, the limiter answers per replica at once.
    let started = Instant::now();
    assert!(limiter.hit("k", Duration::from_secs(1), 5).await.allowed);
    assert!(started.elapsed() < Duration::from_millis(100));
    assert_eq!(*fallback.0.lock().unwrap(), 1);

    redis.signal("CONT");
    eventually(Duration::from_secs(3), "health up", || {
        fleet.health() == Health::Up
    })
    .await;
    let r = fleet.get_user(1).await;
    assert!(r.is_ok(), "{r:?}");
    assert!(fleet.errors() >= 1);
}
