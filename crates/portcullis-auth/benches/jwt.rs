//! JWT verification and issue (HS256), and bearer parsing.

use std::hint::black_box;
use std::time::Duration;

use criterion::{Criterion, criterion_group, criterion_main};
use portcullis_auth::{JwtKeys, bearer_token};

fn bench(c: &mut Criterion) {
    let keys = JwtKeys::new(
        b"bench-secret-of-a-realistic-length-000",
        Duration::from_secs(3600),
    );
    let token = keys.issue(42).unwrap_or_else(|e| panic!("{e}"));
    c.bench_function("jwt/verify valid", |b| {
        b.iter(|| black_box(keys.verify(black_box(&token))))
    });
    let mut bad = token.clone();
    bad.pop();
    bad.push('A');
    c.bench_function("jwt/verify bad signature", |b| {
        b.iter(|| black_box(keys.verify(black_box(&bad))))
    });
    c.bench_function("jwt/issue", |b| {
        b.iter(|| black_box(keys.issue(black_box(42))))
    });
    let header = format!("Bearer {token}");
    c.bench_function("bearer/parse", |b| {
        b.iter(|| black_box(bearer_token(Some(black_box(header.as_bytes())))))
    });
}

criterion_group!(benches, bench);
criterion_main!(benches);
