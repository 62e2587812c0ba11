//! argon2id cost of OWASP's five equivalent parameter sets (Password Storage
//! Cheat Sheet): which one gives the most logins per second per core.
//!
//!     cargo bench -p portcullis-store --bench password

use argon2::{Algorithm, Argon2, Params, Version};
use criterion::{Criterion, criterion_group, criterion_main};

fn owasp_sets(c: &mut Criterion) {
    let mut g = c.benchmark_group("argon2id");
    g.sample_size(10);
    let salt = [7u8; 16];
    let mut out = [0u8; 32];
    for (m, t) in [
        (47_104, 1),
        (19_456, 2),
        (12_288, 3),
        (9_216, 4),
        (7_168, 5),
    ] {
        let params = Params::new(m, t, 1, Some(32)).unwrap_or_else(|e| panic!("{e}"));
        let hasher = Argon2::new(Algorithm::Argon2id, Version::V0x13, params);
        g.bench_function(format!("m={m},t={t},p=1"), |b| {
            b.iter(|| {
                hasher
                    .hash_password_into(b"correct horse battery staple", &salt, &mut out)
                    .unwrap_or_else(|e| panic!("{e}"));
            });
        });
    }
    // The same, reusing one memory block instead of allocating (and page
    // faulting) it per hash.
    for (m, t) in [(19_456, 2), (7_168, 5)] {
        let params = Params::new(m, t, 1, Some(32)).unwrap_or_else(|e| panic!("{e}"));
        let hasher = Argon2::new(Algorithm::Argon2id, Version::V0x13, params);
        let mut blocks = vec![argon2::Block::default(); m as usize];
        g.bench_function(format!("m={m},t={t},p=1 reused memory"), |b| {
            b.iter(|| {
                hasher
                    .hash_password_into_with_memory(
                        b"correct horse battery staple",
                        &salt,
                        &mut out,
                        &mut blocks,
                    )
                    .unwrap_or_else(|e| panic!("{e}"));
            });
        });
    }
    g.finish();
}

criterion_group!(benches, owasp_sets);
criterion_main!(benches);
