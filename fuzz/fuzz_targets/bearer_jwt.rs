//! The `Authorization` parser and JWT verification on arbitrary bytes: never
//! a panic, and nothing unsigned is ever accepted.
#![no_main]

use std::time::Duration;

use libfuzzer_sys::fuzz_target;
use portcullis_auth::{JwtKeys, bearer_token};

fuzz_target!(|data: &[u8]| {
    let keys = JwtKeys::new(b"fuzz-secret", Duration::from_secs(60));
    if let Some(token) = bearer_token(Some(data)) {
        // A random input that verifies would mean a forged signature.
        assert!(keys.verify(token).is_err());
    }
    if let Ok(s) = std::str::from_utf8(data) {
        assert!(keys.verify(s).is_err());
    }
});
