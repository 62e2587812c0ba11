//! Path canonicalization: the one place where a raw request path becomes the
//! form that is routed, authorized and forwarded.
//!
//! Koa (Strapi's router) matches the *raw* path, case-insensitively, with an
//! optional trailing slash. A gateway that decides on one spelling and
//! forwards another is the classic bypass (threats.md, class 1), so the
//! gateway canonicalizes once and forwards exactly the canonical form:
//!
//! * percent-encoded unreserved characters (`%70` → `p`, `%2E` → `.`) are
//!   decoded, every other escape is kept with upper-case hex;
//! * `.` and `..` segments are resolved (after decoding), and a `..` that
//!   would climb above the root is rejected;
//! * empty segments (`//`, a trailing `/`) are dropped;
//! * an encoded `/` or `\`, a raw `\`, NUL or any control character, a
//!   malformed escape, or a non-ASCII byte is rejected: these are read
//!   differently by different servers, so no reading of them is safe.
//!
//! Case is not changed here: the router matches literal segments without
//! regard to case (as Koa does) and rewrites them to the policy's spelling.

use std::borrow::Cow;

use thiserror::Error;

/// Why a path was refused. Each is answered 400 and never forwarded.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Error)]
pub enum PathError {
    #[error("path must start with '/'")]
    NotAbsolute,
    #[error("encoded '/' or '\\' in path")]
    EncodedSeparator,
    #[error("backslash in path")]
    Backslash,
    #[error("NUL or control character in path")]
    ControlChar,
    #[error("malformed percent-encoding in path")]
    BadPercent,
    #[error("non-ASCII byte in path")]
    NonAscii,
    #[error("path climbs above the root")]
    AboveRoot,
    #[error("path too long")]
    TooLong,
}

/// Paths longer than this are refused before any work is done on them.
pub const MAX_PATH_LEN: usize = 8192;

/// A canonical path: starts with `/`, no empty, `.` or `..` segments, no
/// trailing slash (except the root itself). Borrows the request's path
/// when that already is canonical (the common case: no allocation).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CanonicalPath<'a> {
    path: Cow<'a, str>,
}

impl CanonicalPath<'_> {
    pub fn as_str(&self) -> &str {
        &self.path
    }

    pub fn into_string(self) -> String {
        self.path.into_owned()
    }

    /// Whether the canonical form is the input itself, byte for byte.
    pub fn is_unchanged(&self) -> bool {
        matches!(self.path, Cow::Borrowed(_))
    }

    /// The segments after the leading `/` (none for the root).
    pub fn segments(&self) -> Segments<'_> {
        Segments { rest: &self.path }
    }
}

/// Iterator over a canonical path's segments. Scans bytes for `/`: the
/// generic `str::split` was most of the router's cost for a short path.
#[derive(Debug, Clone)]
pub struct Segments<'a> {
    rest: &'a str,
}

impl<'a> Iterator for Segments<'a> {
    type Item = &'a str;

    fn next(&mut self) -> Option<&'a str> {
        loop {
            let rest = self.rest.strip_prefix('/').unwrap_or(self.rest);
            if rest.is_empty() {
                self.rest = rest;
                return None;
            }
            let end = rest.bytes().position(|b| b == b'/').unwrap_or(rest.len());
            let (seg, tail) = rest.split_at(end);
            self.rest = tail;
            if !seg.is_empty() {
                return Some(seg);
            }
        }
    }
}

impl std::fmt::Display for CanonicalPath<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.path)
    }
}

fn is_unreserved(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~')
}

fn hex_val(b: u8) -> Option<u8> {
    match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'a'..=b'f' => Some(b - b'a' + 10),
        b'A'..=b'F' => Some(b - b'A' + 10),
        _ => None,
    }
}

const HEX_UPPER: &[u8; 16] = b"0123456789ABCDEF";

/// Decodes unreserved escapes and validates every byte of one segment.
fn normalize_segment(raw: &[u8], out: &mut String) -> Result<(), PathError> {
    let mut i = 0;
    while i < raw.len() {
        let b = raw[i];
        match b {
            b'%' => {
                let hi = raw.get(i + 1).copied().and_then(hex_val);
                let lo = raw.get(i + 2).copied().and_then(hex_val);
                let (Some(hi), Some(lo)) = (hi, lo) else {
                    return Err(PathError::BadPercent);
                };
                let v = hi << 4 | lo;
                if v == b'/' || v == b'\\' {
                    return Err(PathError::EncodedSeparator);
                }
                if v < 0x20 || v == 0x7f {
                    return Err(PathError::ControlChar);
                }
                if is_unreserved(v) {
                    out.push(char::from(v));
                } else {
                    out.push('%');
                    out.push(char::from(HEX_UPPER[usize::from(hi)]));
                    out.push(char::from(HEX_UPPER[usize::from(lo)]));
                }
                i += 3;
            }
            b'\\' => return Err(PathError::Backslash),
            0..=0x1f | 0x7f => return Err(PathError::ControlChar),
            0x80..=0xff => return Err(PathError::NonAscii),
            _ => {
                out.push(char::from(b));
                i += 1;
            }
        }
    }
    Ok(())
}

/// Canonicalizes the path part of a request target (no query string).
pub fn canonicalize(raw: &str) -> Result<CanonicalPath<'_>, PathError> {
    if raw.len() > MAX_PATH_LEN {
        return Err(PathError::TooLong);
    }
    let bytes = raw.as_bytes();
    if bytes.first() != Some(&b'/') {
        return Err(PathError::NotAbsolute);
    }
    if is_already_canonical(bytes) {
        return Ok(CanonicalPath {
            path: Cow::Borrowed(raw),
        });
    }
    canonicalize_general(bytes)
}

/// The common case, checked in one pass: printable ASCII without `%` or `\`,
/// no empty segment, no segment starting with `.`, no trailing slash. Such
/// a path is its own canonical form (`canonicalize_general` returns it
/// unchanged; a property test holds the two to that).
fn is_already_canonical(bytes: &[u8]) -> bool {
    let mut prev = 0u8;
    for &b in bytes {
        let plain = (0x20..0x7f).contains(&b) && b != b'%' && b != b'\\';
        if !plain || (prev == b'/' && (b == b'/' || b == b'.')) {
            return false;
        }
        prev = b;
    }
    prev != b'/' || bytes.len() == 1
}

/// Canonicalizes an absolute path (`bytes[0] == b'/'`) segment by segment.
pub(crate) fn canonicalize_general(bytes: &[u8]) -> Result<CanonicalPath<'static>, PathError> {
    // Positions in `path` where each kept segment starts, to pop on "..".
    let mut starts: Vec<usize> = Vec::new();
    let mut path = String::with_capacity(bytes.len());
    let mut seg = String::new();
    for raw_seg in bytes[1..].split(|&b| b == b'/') {
        seg.clear();
        normalize_segment(raw_seg, &mut seg)?;
        match seg.as_str() {
            "" | "." => {}
            ".." => {
                let start = starts.pop().ok_or(PathError::AboveRoot)?;
                path.truncate(start);
            }
            s => {
                starts.push(path.len());
                path.push('/');
                path.push_str(s);
            }
        }
    }
    if path.is_empty() {
        path.push('/');
    }
    Ok(CanonicalPath {
        path: Cow::Owned(path),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ok(raw: &str) -> String {
        match canonicalize(raw) {
            Ok(p) => p.as_str().to_owned(),
            Err(e) => panic!("{raw}: {e}"),
        }
    }

    #[test]
    fn plain_paths_are_unchanged() {
        assert_eq!(ok("/"), "/");
        assert_eq!(ok("/api/posts"), "/api/posts");
        assert_eq!(ok("/api/posts/abc-123_x~y"), "/api/posts/abc-123_x~y");
    }

    #[test]
    fn slashes_are_collapsed_and_trailing_slash_dropped() {
        assert_eq!(ok("//api///posts/"), "/api/posts");
        assert_eq!(ok("/api/posts//"), "/api/posts");
        assert_eq!(ok("//"), "/");
    }

    #[test]
    fn dot_segments_are_resolved() {
        assert_eq!(ok("/api/./posts"), "/api/posts");
        assert_eq!(ok("/api/posts/../users"), "/api/users");
        assert_eq!(ok("/uploads/../api/users/me"), "/api/users/me");
        assert_eq!(ok("/api/posts/%2e%2E/users"), "/api/users");
        assert_eq!(ok("/api/posts/%2E"), "/api/posts");
        assert_eq!(ok("/api/posts/.."), "/api");
    }

    #[test]
    fn dots_inside_segments_are_kept() {
        assert_eq!(ok("/api/posts/..x"), "/api/posts/..x");
        assert_eq!(ok("/api/posts/x.."), "/api/posts/x..");
        assert_eq!(ok("/api/posts/..;"), "/api/posts/..;");
    }

    #[test]
    fn climbing_above_root_is_rejected() {
        assert_eq!(canonicalize("/.."), Err(PathError::AboveRoot));
        assert_eq!(canonicalize("/api/../../x"), Err(PathError::AboveRoot));
    }

    #[test]
    fn unreserved_escapes_are_decoded_others_kept_upper() {
        assert_eq!(ok("/api/%70osts"), "/api/posts");
        assert_eq!(ok("/api/posts/a%7eb"), "/api/posts/a~b");
        assert_eq!(ok("/api/posts/a%3fb"), "/api/posts/a%3Fb");
        assert_eq!(ok("/api/posts/a%25b"), "/api/posts/a%25b");
        assert_eq!(ok("/api/posts/%c3%a9"), "/api/posts/%C3%A9");
    }

    #[test]
    fn ambiguous_forms_are_rejected() {
        for (raw, err) in [
            ("/api/posts%2f1", PathError::EncodedSeparator),
            ("/api/posts%2F1", PathError::EncodedSeparator),
            ("/api/posts%5c1", PathError::EncodedSeparator),
            ("/api\\posts", PathError::Backslash),
            ("/api/posts%00", PathError::ControlChar),
            ("/api/posts%0a", PathError::ControlChar),
            ("/api/posts\u{0}", PathError::ControlChar),
            ("/api/posts%", PathError::BadPercent),
            ("/api/posts%4", PathError::BadPercent),
            ("/api/posts%zz", PathError::BadPercent),
            ("/api/pösts", PathError::NonAscii),
            ("api/posts", PathError::NotAbsolute),
            ("", PathError::NotAbsolute),
        ] {
            assert_eq!(canonicalize(raw), Err(err), "{raw:?}");
        }
    }

    #[test]
    fn canonical_form_is_a_fixed_point() {
        for raw in ["/api//x/../y/", "/a/%2e/b/%41", "/a/%3F/"] {
            let once = ok(raw);
            assert_eq!(ok(&once), once);
        }
    }

    #[test]
    fn an_already_canonical_path_is_borrowed() {
        for (raw, unchanged) in [
            ("/api/posts", true),
            ("/", true),
            ("/api//posts", false),
            ("/api/./posts", false),
            ("/api/posts/", false),
            ("/api/%70osts", false),
        ] {
            let c = canonicalize(raw).unwrap_or_else(|e| panic!("{raw}: {e}"));
            assert_eq!(c.is_unchanged(), unchanged, "{raw}");
            if unchanged {
                assert_eq!(c.as_str(), raw);
            }
        }
    }

    #[test]
    fn segments_iterate_without_empties() {
        let p = canonicalize("/api/posts/1").unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(p.segments().collect::<Vec<_>>(), ["api", "posts", "1"]);
        let root = canonicalize("/").unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(root.segments().count(), 0);
    }

    proptest::proptest! {
        #[test]
        fn segments_are_the_non_empty_parts(path in "[a/.%-]{0,24}") {
            let c = CanonicalPath {
                path: Cow::Owned(path.clone()),
            };
            let want: Vec<&str> = path.split('/').skip(1).filter(|s| !s.is_empty()).collect();
            let got: Vec<&str> = c.segments().collect();
            // A path not starting with '/' is not canonical; the iterator
            // then reads its first part as a segment, which `skip(1)` drops.
            if path.starts_with('/') || path.is_empty() {
                proptest::prop_assert_eq!(got, want);
            }
        }
    }
}
