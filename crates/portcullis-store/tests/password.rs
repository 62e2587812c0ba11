//! Password hashing and the bounded hashing pool.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::Duration;

use portcullis_store::{PasswordPool, Verified, hash_password, verify_password};

#[test]
fn argon2id_hash_and_verify() {
    let hash = hash_password("s3cret-Passw0rd").unwrap();
    assert!(hash.starts_with("$argon2id$v=19$m=7168,t=5,p=1$"));
    assert_ne!(hash, hash_password("s3cret-Passw0rd").unwrap(), "salted");
    assert_eq!(
        verify_password("s3cret-Passw0rd", &hash).unwrap(),
        Verified::Ok
    );
    assert_eq!(
        verify_password("s3cret-passw0rd", &hash).unwrap(),
        Verified::Mismatch
    );
    assert_eq!(verify_password("", &hash).unwrap(), Verified::Mismatch);
}

#[test]
fn strapi_bcrypt_hashes_verify_and_ask_for_rehash() {
    let b = bcrypt::hash("Password123", 4).unwrap();
    assert!(b.starts_with("$2b$04$"));
    assert_eq!(
        verify_password("Password123", &b).unwrap(),
        Verified::OkNeedsRehash
    );
    assert_eq!(
        verify_password("password123", &b).unwrap(),
        Verified::Mismatch
    );
    // bcryptjs (Strapi) writes $2a$; PHP-era imports may carry $2y$.
    for prefix in ["$2a$", "$2y$"] {
        let variant = b.replacen("$2b$", prefix, 1);
        assert_eq!(
            verify_password("Password123", &variant).unwrap(),
            Verified::OkNeedsRehash
        );
        assert_eq!(
            verify_password("nope", &variant).unwrap(),
            Verified::Mismatch
        );
    }
    assert!(Verified::OkNeedsRehash.is_ok() && !Verified::Mismatch.is_ok());
}

#[test]
fn bcrypt_uses_first_72_bytes_like_bcryptjs() {
    let long = "x".repeat(80);
    let b = bcrypt::hash(&long[..72], 4).unwrap();
    assert_eq!(verify_password(&long, &b).unwrap(), Verified::OkNeedsRehash);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn pool_bounds_concurrency_and_completes_everything() {
    let pool = PasswordPool::new(2);
    let hash = pool.hash("pw".to_owned()).await.unwrap();
    assert_eq!(
        pool.verify("pw".to_owned(), hash.clone()).await.unwrap(),
        Verified::Ok
    );

    let mut tasks = Vec::new();
    for i in 0..8 {
        let (pool, hash) = (pool.clone(), hash.clone());
        let plain = if i % 2 == 0 { "pw" } else { "wrong" }.to_owned();
        tasks.push(tokio::spawn(
            async move { (i, pool.verify(plain, hash).await) },
        ));
    }
    for task in tasks {
        let (i, outcome) = tokio::time::timeout(Duration::from_secs(60), task)
            .await
            .expect("verify finished")
            .unwrap();
        let want = if i % 2 == 0 {
            Verified::Ok
        } else {
            Verified::Mismatch
        };
        assert_eq!(outcome.unwrap(), want);
    }
    assert!(pool.peak_in_flight() <= 2, "peak {}", pool.peak_in_flight());
    assert_eq!(
        pool.peak_in_flight(),
        2,
        "eight overlapping jobs fill both slots"
    );
    assert_eq!(pool.in_flight(), 0);
}

#[tokio::test(flavor = "current_thread")]
async fn pool_keeps_the_reactor_responsive() {
    // On a single-threaded runtime a timer still fires while hashes run,
    // because the work happens on blocking threads.
    let pool = PasswordPool::new(1);
    let work = tokio::spawn({
        let pool = pool.clone();
        async move {
            for _ in 0..3 {
                pool.hash("pw".to_owned()).await.unwrap();
            }
        }
    });
    let started = std::time::Instant::now();
    tokio::time::sleep(Duration::from_millis(5)).await;
    assert!(
        started.elapsed() < Duration::from_millis(500),
        "reactor was blocked"
    );
    work.await.unwrap();
}
