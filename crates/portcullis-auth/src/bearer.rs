//! Reading the bearer credential from `Authorization`.
//!
//! Strapi splits the header on whitespace and uses the second part only if
//! there are exactly two parts and the first is `bearer` in any case;
//! anything else is an anonymous request (not an error). Tokens in the query
//! string or cookies are never read.

/// The bearer credential, or `None` when the request is anonymous.
///
/// Runs on every request, over a JWT of 150+ bytes: the header is scanned as
/// bytes (`split_ascii_whitespace` over `str` was ~1k instructions a call),
/// with the same reading of whitespace.
pub fn bearer_token(header: Option<&[u8]>) -> Option<&str> {
    let value = header?.trim_ascii();
    let scheme_end = value.iter().position(u8::is_ascii_whitespace)?;
    let (scheme, rest) = value.split_at(scheme_end);
    if !scheme.eq_ignore_ascii_case(b"bearer") {
        return None;
    }
    let token = rest.trim_ascii_start();
    if has_ascii_whitespace(token) {
        return None;
    }
    std::str::from_utf8(token).ok()
}

/// Whether `bytes` holds ASCII whitespace (`u8::is_ascii_whitespace`). Every
/// such byte is <= 0x20, so a branch-free pass (which the compiler
/// vectorizes) rules most tokens out before the exact per-byte check.
fn has_ascii_whitespace(bytes: &[u8]) -> bool {
    let low = bytes.iter().fold(false, |seen, &b| seen | (b <= b' '));
    low && bytes.iter().any(u8::is_ascii_whitespace)
}

#[cfg(test)]
mod tests {
    use super::bearer_token;

    #[test]
    fn two_parts_with_bearer_in_any_case() {
        assert_eq!(bearer_token(Some(b"Bearer abc")), Some("abc"));
        assert_eq!(bearer_token(Some(b"bEaReR abc")), Some("abc"));
        assert_eq!(bearer_token(Some(b"  Bearer \t abc  ")), Some("abc"));
        // Control bytes that are not whitespace stay in the token, as with
        // `split_ascii_whitespace`.
        assert_eq!(bearer_token(Some(b"Bearer a\x0bb")), Some("a\x0bb"));
    }

    #[test]
    fn anything_else_is_anonymous() {
        for h in [
            &b"Basic abc"[..],
            b"Bearer",
            b"Bearer a b",
            b"abc",
            b"",
            b"Bearerabc",
            b"Bearer \xff\xfe",
            b"Bearer abc\x0cdef",
            b"Bearer abc\rdef",
            b" ",
        ] {
            assert_eq!(bearer_token(Some(h)), None, "{h:?}");
        }
        assert_eq!(bearer_token(None), None);
    }
}

#[cfg(test)]
mod equivalence {
    use proptest::prelude::*;

    /// The reading this module had before the byte scan (Strapi's).
    fn by_split(header: &[u8]) -> Option<&str> {
        let value = std::str::from_utf8(header).ok()?;
        let mut parts = value.split_ascii_whitespace();
        let scheme = parts.next()?;
        let token = parts.next()?;
        if parts.next().is_some() || !scheme.eq_ignore_ascii_case("bearer") {
            return None;
        }
        Some(token)
    }

    proptest! {
        #[test]
        fn same_as_split_ascii_whitespace(
            pre in "[ \t\x0b\x0c\r\n]{0,3}",
            scheme in "(?i:bearer|basic|b)?",
            mid in "[ \t\x0c\r\n]{0,3}",
            token in proptest::collection::vec(any::<u8>(), 0..200),
            post in "[ \t\x0c]{0,2}",
        ) {
            let mut h = Vec::new();
            h.extend_from_slice(pre.as_bytes());
            h.extend_from_slice(scheme.as_bytes());
            h.extend_from_slice(mid.as_bytes());
            h.extend_from_slice(&token);
            h.extend_from_slice(post.as_bytes());
            prop_assert_eq!(super::bearer_token(Some(&h)), by_split(&h));
        }
    }
}
