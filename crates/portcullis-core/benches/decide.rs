//! decide() on a large policy: 100 content types × 20 roles, 50 custom routes.

use std::collections::BTreeMap;
use std::hint::black_box;

use criterion::{Criterion, criterion_group, criterion_main};
use portcullis_core::{
    Caller, ContentKind, ContentType, CustomRoute, Method, Policy, PolicySpec, Role, RoutePattern,
    canonicalize,
};

fn big_policy() -> Policy {
    let content_types = (0..100)
        .map(|i| ContentType {
            uid: format!("api::type{i}.type{i}"),
            kind: if i % 10 == 0 {
                ContentKind::Single
            } else {
                ContentKind::Collection
            },
            segment: format!("type{i}s"),
        })
        .collect();
    let routes = (0..50)
        .filter_map(|i| {
            Some(CustomRoute {
                method: Method::Get,
                pattern: RoutePattern::parse(&format!("/api/type{i}s/:id/extra{i}")).ok()?,
                action: format!("api::type{i}.type{i}.extra"),
            })
        })
        .collect();
    let roles = (0..20)
        .map(|r| {
            let mut perms = BTreeMap::new();
            for i in (r..100).step_by(3) {
                perms.insert(
                    format!("api::type{i}.type{i}"),
                    vec!["find".into(), "findOne".into()],
                );
            }
            let kind = match r {
                0 => "public".to_string(),
                1 => "authenticated".to_string(),
                n => format!("role{n}"),
            };
            Role::new(kind.clone(), kind, "", perms)
        })
        .collect();
    Policy::compile(PolicySpec {
        api_prefix: "/api".into(),
        passthrough: vec!["/uploads/".into()],
        content_types,
        routes,
        roles,
        version: "bench".into(),
    })
}

fn bench(c: &mut Criterion) {
    let p = big_policy();
    let find_one = canonicalize("/api/type42s/abc123").unwrap_or_else(|e| panic!("{e}"));
    let caller = Caller::User {
        id: 7,
        role: "role3",
    };
    c.bench_function(
        "decide/findOne allowed (100 types, 20 roles, 50 routes)",
        |b| b.iter(|| black_box(p.decide(Method::Get, black_box(&find_one), &caller))),
    );
    let custom = canonicalize("/api/type49s/1/extra49").unwrap_or_else(|e| panic!("{e}"));
    c.bench_function("decide/last custom route", |b| {
        b.iter(|| black_box(p.decide(Method::Get, black_box(&custom), &Caller::Public)))
    });
    let missing = canonicalize("/api/nothing/here").unwrap_or_else(|e| panic!("{e}"));
    c.bench_function("decide/404", |b| {
        b.iter(|| black_box(p.decide(Method::Get, black_box(&missing), &Caller::Public)))
    });
    c.bench_function("canonicalize/messy path", |b| {
        b.iter(|| black_box(canonicalize(black_box("/API//type42s/./%61bc/../abc123/"))))
    });
    c.bench_function("canonicalize/clean path", |b| {
        b.iter(|| black_box(canonicalize(black_box("/api/type42s/abc123"))))
    });
}

criterion_group!(benches, bench);
criterion_main!(benches);
