//! The policy-file loader on arbitrary text: diagnostics, never a panic.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(text) = std::str::from_utf8(data) {
        let _ = portcullis_config::parse_policy_str("fuzz.yaml", text);
    }
});
