//! Environment interpolation in gateway.yaml string values.
//!
//! - `${NAME}` is replaced by the variable's value; unset is an error.
//! - `${NAME:-default}` uses `default` when the variable is unset or empty
//!   (as in the shell). The default is literal text up to the next `}`.
//! - `$${` is a literal `${` (the escape); any other `$` is literal.
//!
//! Substituted values are not interpolated again, and they are never parsed
//! as YAML: interpolation runs on scalar values after parsing, so a variable
//! cannot inject keys.

use crate::error::{Error, Result};

/// Where variable values come from; injectable so tests need not touch the
/// process environment.
pub type Env<'a> = &'a dyn Fn(&str) -> Option<String>;

/// The process environment, for binaries.
pub fn process_env(name: &str) -> Option<String> {
    std::env::var(name).ok()
}

/// Expands `${...}` references in `value`.
pub fn interpolate(value: &str, env: Env<'_>) -> Result<String> {
    let mut out = String::with_capacity(value.len());
    let mut rest = value;
    while let Some(i) = rest.find('$') {
        out.push_str(&rest[..i]);
        let after = &rest[i..];
        if let Some(tail) = after.strip_prefix("$${") {
            out.push_str("${");
            rest = tail;
        } else if let Some(tail) = after.strip_prefix("${") {
            let end = tail.find('}').ok_or(Error::UnterminatedVariable)?;
            out.push_str(&expand(&tail[..end], env)?);
            rest = &tail[end + 1..];
        } else {
            out.push('$');
            rest = &after[1..];
        }
    }
    out.push_str(rest);
    Ok(out)
}

/// Expands the inside of one `${...}`.
fn expand(reference: &str, env: Env<'_>) -> Result<String> {
    let (name, default) = match reference.split_once(":-") {
        Some((name, default)) => (name, Some(default)),
        None => (reference, None),
    };
    if !is_variable_name(name) {
        return Err(Error::InvalidVariableName(name.to_owned()));
    }
    match (env(name), default) {
        (Some(v), Some(d)) if v.is_empty() => Ok(d.to_owned()),
        (Some(v), _) => Ok(v),
        (None, Some(d)) => Ok(d.to_owned()),
        (None, None) => Err(Error::UnsetVariable(name.to_owned())),
    }
}

fn is_variable_name(name: &str) -> bool {
    let mut bytes = name.bytes();
    bytes
        .next()
        .is_some_and(|b| b.is_ascii_alphabetic() || b == b'_')
        && bytes.all(|b| b.is_ascii_alphanumeric() || b == b'_')
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(name: &str) -> Option<String> {
        match name {
            "HOST" => Some("db.internal".into()),
            "EMPTY" => Some(String::new()),
            "TRICKY" => Some("${HOST}".into()),
            _ => None,
        }
    }

    fn i(s: &str) -> Result<String> {
        interpolate(s, &env)
    }

    #[test]
    fn set_variables_are_substituted() {
        assert_eq!(
            i("postgres://${HOST}/app").as_deref(),
            Ok("postgres://db.internal/app")
        );
        assert_eq!(i("${HOST}${HOST}").as_deref(), Ok("db.internaldb.internal"));
    }

    #[test]
    fn defaults_apply_when_unset_or_empty() {
        assert_eq!(i("${NOPE:-fallback}").as_deref(), Ok("fallback"));
        assert_eq!(i("${EMPTY:-fallback}").as_deref(), Ok("fallback"));
        assert_eq!(i("${NOPE:-}").as_deref(), Ok(""));
        assert_eq!(i("${HOST:-fallback}").as_deref(), Ok("db.internal"));
        assert_eq!(i("${EMPTY}").as_deref(), Ok(""));
    }

    #[test]
    fn unset_without_default_is_an_error_naming_it() {
        assert_eq!(i("x ${NOPE} y"), Err(Error::UnsetVariable("NOPE".into())));
        let msg = Error::UnsetVariable("NOPE".into()).to_string();
        assert_eq!(
            msg,
            "environment variable NOPE is not set and has no default (write ${NOPE:-default} to give one)"
        );
    }

    #[test]
    fn escapes_and_lone_dollars_are_literal() {
        assert_eq!(i("$${HOST}").as_deref(), Ok("${HOST}"));
        assert_eq!(i("a$b$").as_deref(), Ok("a$b$"));
        assert_eq!(i("$$").as_deref(), Ok("$$"));
        assert_eq!(i("$$${HOST}").as_deref(), Ok("$${HOST}"));
    }

    #[test]
    fn substituted_values_are_not_expanded_again() {
        assert_eq!(i("${TRICKY}").as_deref(), Ok("${HOST}"));
    }

    #[test]
    fn malformed_references_are_errors() {
        assert_eq!(i("${HOST"), Err(Error::UnterminatedVariable));
        assert_eq!(i("${}"), Err(Error::InvalidVariableName(String::new())));
        assert_eq!(i("${1X}"), Err(Error::InvalidVariableName("1X".into())));
        assert_eq!(i("${A-B}"), Err(Error::InvalidVariableName("A-B".into())));
    }
}
