//! Reading the bearer credential from `Authorization`.
//!
//! Strapi splits the header on whitespace and uses the second part only if
//! there are exactly two parts and the first is `bearer` in any case;
//! anything else is an anonymous request (not an error). Tokens in the query
//! string or cookies are never read.

/// The bearer credential, or `None` when the request is anonymous.
pub fn bearer_token(header: Option<&[u8]>) -> Option<&str> {
    let value = std::str::from_utf8(header?).ok()?;
    let mut parts = value.split_ascii_whitespace();
    let scheme = parts.next()?;
    let token = parts.next()?;
    if parts.next().is_some() || !scheme.eq_ignore_ascii_case("bearer") {
        return None;
    }
    Some(token)
}

#[cfg(test)]
mod tests {
    use super::bearer_token;

    #[test]
    fn two_parts_with_bearer_in_any_case() {
        assert_eq!(bearer_token(Some(b"Bearer abc")), Some("abc"));
        assert_eq!(bearer_token(Some(b"bEaReR abc")), Some("abc"));
        assert_eq!(bearer_token(Some(b"  Bearer \t abc  ")), Some("abc"));
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
        ] {
            assert_eq!(bearer_token(Some(h)), None, "{h:?}");
        }
        assert_eq!(bearer_token(None), None);
    }
}
