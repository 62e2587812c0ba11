//! HTTP methods as the router sees them.

/// A request method. `Other` covers every method no route can match.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Method {
    Get,
    Head,
    Post,
    Put,
    Patch,
    Delete,
    Options,
    Other,
}

impl Method {
    /// Parses a method token. Methods are case-sensitive (RFC 9110 §9.1).
    pub fn parse(s: &str) -> Method {
        match s {
            "GET" => Method::Get,
            "HEAD" => Method::Head,
            "POST" => Method::Post,
            "PUT" => Method::Put,
            "PATCH" => Method::Patch,
            "DELETE" => Method::Delete,
            "OPTIONS" => Method::Options,
            _ => Method::Other,
        }
    }

    /// Parses a method named in a policy file (any case); `None` if unknown.
    pub fn from_policy(s: &str) -> Option<Method> {
        match Method::parse(&s.to_ascii_uppercase()) {
            Method::Other => None,
            m => Some(m),
        }
    }

    /// Koa answers HEAD with the GET route, so HEAD is routed as GET.
    pub fn routed(self) -> Method {
        if self == Method::Head {
            Method::Get
        } else {
            self
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Method::Get => "GET",
            Method::Head => "HEAD",
            Method::Post => "POST",
            Method::Put => "PUT",
            Method::Patch => "PATCH",
            Method::Delete => "DELETE",
            Method::Options => "OPTIONS",
            Method::Other => "OTHER",
        }
    }
}

impl std::fmt::Display for Method {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}
