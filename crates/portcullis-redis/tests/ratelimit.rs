//! The shared rate limiter against a real `redis-server`.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::sync::Arc;
use std::time::Duration;

use common::{CountingFallback, RedisServer};
use portcullis_redis::{Fleet, RedisRateLimiter};
use portcullis_users_permissions::RateLimiter;

#[tokio::test]
async fn shared_fixed_window() {
    let redis = RedisServer::start();
    let fallback = Arc::new(CountingFallback::default());
    let a = Fleet::connect(&redis.url(), "pc").await.unwrap();
    let b = Fleet::connect(&redis.url(), "pc").await.unwrap();
    let la = RedisRateLimiter::new(a.clone(), fallback.clone());
    let lb = RedisRateLimiter::new(b.clone(), fallback.clone());
    let window = Duration::from_secs(1);

    let before = a.commands_sent();
    // 10 allowed, alternating replicas, then the 11th refused on either.
    for i in 0..10u32 {
        let limiter = if i % 2 == 0 { &la } else { &lb };
        let d = limiter.hit("login:1.2.3.4", window, 10).await;
        assert!(d.allowed, "hit {i} refused");
        assert_eq!(d.limit, 10);
        assert_eq!(d.remaining, 9 - i);
        assert!(d.reset > 0);
    }
    assert!(!la.hit("login:1.2.3.4", window, 10).await.allowed);
    let d = lb.hit("login:1.2.3.4", window, 10).await;
    assert!(!d.allowed);
    assert_eq!(d.remaining, 0);
    // One round trip per hit (the script is loaded on the first EVALSHA
    // miss inside the same call).
    assert_eq!(a.commands_sent() - before, 6);

    // Other keys have their own window.
    assert!(la.hit("login:5.6.7.8", window, 10).await.allowed);

    // The window ends one second after the first hit.
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let d = lb.hit("login:1.2.3.4", window, 10).await;
    assert!(d.allowed);
    assert_eq!(d.remaining, 9);
    assert_eq!(*fallback.0.lock().unwrap(), 0);
}
