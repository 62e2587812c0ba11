//! The path canonicalizer and router on arbitrary request paths: never a
//! panic, the canonical form is a fixed point, and the forwarded path decides
//! exactly like the request (threats.md INV-3).
#![no_main]

use libfuzzer_sys::fuzz_target;
use portcullis_core::{Caller, ContentKind, ContentType, Method, Policy, PolicySpec, Role, canonicalize};

fn policy() -> Policy {
    let mut perms = std::collections::BTreeMap::new();
    perms.insert("api::post.post".to_string(), vec!["find".to_string()]);
    Policy::compile(PolicySpec {
        api_prefix: "/api".into(),
        passthrough: vec!["/uploads/".into()],
        content_types: vec![ContentType {
            uid: "api::post.post".into(),
            kind: ContentKind::Collection,
            segment: "posts".into(),
        }],
        routes: vec![],
        roles: vec![Role::new("public", "Public", "", perms)],
        version: "fuzz".into(),
    })
}

fuzz_target!(|data: &[u8]| {
    let Ok(raw) = std::str::from_utf8(data) else { return };
    let Ok(c) = canonicalize(raw) else { return };
    let again = canonicalize(c.as_str()).ok();
    assert_eq!(again.as_ref().map(|p| p.as_str()), Some(c.as_str()));
    let p = policy();
    for m in [Method::Get, Method::Post, Method::Delete] {
        let d = p.decide(m, &c, &Caller::Public);
        if let Ok(fwd) = canonicalize(&d.forward_path) {
            let d2 = p.decide(m, &fwd, &Caller::Public);
            assert_eq!((d.outcome, d.action), (d2.outcome, d2.action));
        } else {
            panic!("forward path {:?} is not canonical", d.forward_path);
        }
    }
});
