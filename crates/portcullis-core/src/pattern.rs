//! Route patterns with `:param` segments, matched segment by segment.

use thiserror::Error;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PatternSeg {
    /// Matched without regard to ASCII case, as Koa does; forwarded in this
    /// spelling.
    Literal(String),
    Param(String),
}

/// A parsed route path such as `/api/posts/:id/related`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RoutePattern {
    segments: Vec<PatternSeg>,
}

#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum PatternError {
    #[error("route path must start with '/'")]
    NotAbsolute,
    #[error("route path has an empty segment")]
    EmptySegment,
    #[error("route parameter has no name")]
    EmptyParam,
    #[error(
        "route segment {0:?} is not canonical (use plain characters, no '.' or '..', no escapes)"
    )]
    NotCanonical(String),
}

impl RoutePattern {
    pub fn parse(path: &str) -> Result<RoutePattern, PatternError> {
        let rest = path.strip_prefix('/').ok_or(PatternError::NotAbsolute)?;
        let mut segments = Vec::new();
        for seg in rest.split('/') {
            if seg.is_empty() {
                return Err(PatternError::EmptySegment);
            }
            if let Some(name) = seg.strip_prefix(':') {
                if name.is_empty() {
                    return Err(PatternError::EmptyParam);
                }
                segments.push(PatternSeg::Param(name.to_owned()));
            } else {
                let canonical = seg != "."
                    && seg != ".."
                    && seg
                        .bytes()
                        .all(|b| b.is_ascii_graphic() && !matches!(b, b'%' | b'\\' | b'?' | b'#'));
                if !canonical {
                    return Err(PatternError::NotCanonical(seg.to_owned()));
                }
                segments.push(PatternSeg::Literal(seg.to_owned()));
            }
        }
        Ok(RoutePattern { segments })
    }

    pub fn segments(&self) -> &[PatternSeg] {
        &self.segments
    }

    /// Whether `path` (canonical segments) matches; literals ignore case.
    pub fn matches(&self, path: &[&str]) -> bool {
        self.segments.len() == path.len()
            && self.segments.iter().zip(path).all(|(p, s)| match p {
                PatternSeg::Literal(l) => l.eq_ignore_ascii_case(s),
                PatternSeg::Param(_) => true,
            })
    }

    /// Whether every path this pattern matches is also matched by `earlier`
    /// (so this pattern, listed after it, can never win).
    pub fn is_shadowed_by(&self, earlier: &RoutePattern) -> bool {
        self.segments.len() == earlier.segments.len()
            && earlier
                .segments
                .iter()
                .zip(&self.segments)
                .all(|(e, s)| match (e, s) {
                    (PatternSeg::Param(_), _) => true,
                    (PatternSeg::Literal(a), PatternSeg::Literal(b)) => a.eq_ignore_ascii_case(b),
                    (PatternSeg::Literal(_), PatternSeg::Param(_)) => false,
                })
    }

    /// Whether some path matches both patterns.
    pub fn overlaps(&self, other: &RoutePattern) -> bool {
        self.segments.len() == other.segments.len()
            && self
                .segments
                .iter()
                .zip(&other.segments)
                .all(|(a, b)| match (a, b) {
                    (PatternSeg::Literal(x), PatternSeg::Literal(y)) => x.eq_ignore_ascii_case(y),
                    _ => true,
                })
    }

    /// Writes the canonical forward path for a matching request: literals in
    /// the pattern's spelling, parameters as sent.
    pub(crate) fn write_forward(&self, path: &[&str], out: &mut String) {
        for (p, s) in self.segments.iter().zip(path) {
            out.push('/');
            match p {
                PatternSeg::Literal(l) => out.push_str(l),
                PatternSeg::Param(_) => out.push_str(s),
            }
        }
    }
}

impl std::fmt::Display for RoutePattern {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        for s in &self.segments {
            match s {
                PatternSeg::Literal(l) => write!(f, "/{l}")?,
                PatternSeg::Param(p) => write!(f, "/:{p}")?,
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(s: &str) -> RoutePattern {
        RoutePattern::parse(s).unwrap_or_else(|e| panic!("{s}: {e}"))
    }

    #[test]
    fn literal_segments_match_whole_segments_only() {
        let pat = p("/api/post");
        assert!(pat.matches(&["api", "post"]));
        assert!(pat.matches(&["API", "Post"]));
        assert!(!pat.matches(&["api", "posts"]));
        assert!(!pat.matches(&["api", "post", "x"]));
    }

    #[test]
    fn params_match_one_segment() {
        let pat = p("/api/posts/:id/related");
        assert!(pat.matches(&["api", "posts", "7", "related"]));
        assert!(!pat.matches(&["api", "posts", "related"]));
    }

    #[test]
    fn shadowing_is_about_every_path() {
        assert!(p("/api/posts/featured").is_shadowed_by(&p("/api/posts/:id")));
        assert!(!p("/api/posts/:id").is_shadowed_by(&p("/api/posts/featured")));
        assert!(p("/api/posts/:id").overlaps(&p("/api/posts/featured")));
        assert!(!p("/api/posts/:id").overlaps(&p("/api/posts")));
    }

    #[test]
    fn bad_patterns_are_rejected() {
        assert_eq!(RoutePattern::parse("api"), Err(PatternError::NotAbsolute));
        assert_eq!(
            RoutePattern::parse("/api//x"),
            Err(PatternError::EmptySegment)
        );
        assert_eq!(RoutePattern::parse("/api/:"), Err(PatternError::EmptyParam));
        assert!(matches!(
            RoutePattern::parse("/api/%70"),
            Err(PatternError::NotCanonical(_))
        ));
        assert!(matches!(
            RoutePattern::parse("/api/.."),
            Err(PatternError::NotCanonical(_))
        ));
    }
}
