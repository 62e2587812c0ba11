//! Tests over the public entry points: the shipped files, every gateway and
//! policy rule with its exact `file:line:column: message`, interpolation and
//! multi-file merging.

mod gateway;
mod load;
mod policy;

use crate::Diagnostic;

pub(crate) fn no_env(_: &str) -> Option<String> {
    None
}

/// Diagnostics as the user sees them.
pub(crate) fn lines(diags: &[Diagnostic]) -> Vec<String> {
    diags.iter().map(ToString::to_string).collect()
}
