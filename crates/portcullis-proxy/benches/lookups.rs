//! The request path's lookups: API token (cache hit, and a miss that goes to
//! SQLite) and user state (cache hit).

use std::hint::black_box;
use std::time::Duration;

use criterion::{Criterion, criterion_group, criterion_main};
use portcullis_proxy::UserDirectory;
use portcullis_proxy::tokens::TokenDirectory;
use portcullis_store::tokens::{generate_secret, hash_access_key};
use portcullis_store::{NewApiToken, NewUser, Store, TokenType, UserCache, now_ms};

const SALT: &str = "bench-salt";

fn bench(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap_or_else(|e| panic!("{e}"));
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let url = format!("sqlite://{}/bench.db", dir.path().display());
    let (store, secret, user_id) = rt.block_on(async {
        let store = Store::connect(&url).await.unwrap_or_else(|e| panic!("{e}"));
        let secret = generate_secret();
        store
            .create_api_token(
                NewApiToken {
                    name: "bench".into(),
                    description: String::new(),
                    token_type: TokenType::ReadOnly,
                    access_key: hash_access_key(SALT, &secret),
                    permissions: "[]".into(),
                    lifespan_ms: None,
                },
                now_ms(),
            )
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        let user = store
            .create_user(NewUser {
                username: "alice".into(),
                email: "alice@example.com".into(),
                password_hash: None,
                provider: "local".into(),
                role: "authenticated".into(),
                confirmed: true,
                blocked: false,
            })
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        (store, secret, user.id)
    });
    let tokens = TokenDirectory::new(
        Some(SALT.into()),
        Duration::from_secs(600),
        store.clone(),
        rt.handle().clone(),
    );
    let users = UserDirectory::new(
        UserCache::new(Duration::from_secs(600)),
        store,
        rt.handle().clone(),
    );
    // The proxy awaits lookups on its own runtime; a current-thread one here.
    let front = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap_or_else(|e| panic!("{e}"));
    front.block_on(async {
        let _ = tokens.lookup(&secret).await;
        let _ = users.get(user_id).await;
    });
    c.bench_function("api token lookup/cache hit (HMAC-SHA512 + cache)", |b| {
        b.iter(|| front.block_on(async { black_box(tokens.lookup(black_box(&secret)).await) }))
    });
    c.bench_function("api token lookup/cache miss (SQLite query)", |b| {
        b.iter(|| {
            tokens.invalidate(&hash_access_key(SALT, &secret));
            front.block_on(async { black_box(tokens.lookup(black_box(&secret)).await) })
        })
    });
    c.bench_function("user state/cache hit", |b| {
        b.iter(|| front.block_on(async { black_box(users.get(black_box(user_id)).await) }))
    });
}

criterion_group!(benches, bench);
criterion_main!(benches);
