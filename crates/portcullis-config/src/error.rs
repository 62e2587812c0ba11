//! The crate's error enum for the small value parsers (durations,
//! environment interpolation). Whole-file problems are [`crate::Diagnostic`]s.

use thiserror::Error;

#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum Error {
    #[error(
        "invalid duration {0:?}: expected a positive whole number followed by ms, s, m, h or d, such as \"30s\""
    )]
    InvalidDuration(String),
    #[error("duration {0:?} is too large")]
    DurationTooLarge(String),
    // Never include the value being interpolated: it may hold a secret.
    #[error(
        "environment variable {0} is not set and has no default (write ${{{0}:-default}} to give one)"
    )]
    UnsetVariable(String),
    #[error("unterminated \"${{\" (write \"$${{\" for a literal \"${{\")")]
    UnterminatedVariable,
    #[error(
        "invalid environment variable name {0:?} (use letters, digits and '_', not starting with a digit)"
    )]
    InvalidVariableName(String),
}

pub type Result<T, E = Error> = std::result::Result<T, E>;
