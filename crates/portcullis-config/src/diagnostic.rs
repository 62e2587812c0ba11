//! `file:line:column: message` diagnostics, the one error shape every
//! configuration problem is reported in.

use std::fmt;
use std::path::{Path, PathBuf};

use serde_saphyr::Location;

/// One configuration problem, located in a file (1-based line and column).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Diagnostic {
    pub file: PathBuf,
    pub line: u64,
    pub column: u64,
    pub message: String,
}

impl Diagnostic {
    pub fn new(
        file: impl Into<PathBuf>,
        line: u64,
        column: u64,
        message: impl Into<String>,
    ) -> Self {
        Diagnostic {
            file: file.into(),
            line: line.max(1),
            column: column.max(1),
            message: message.into(),
        }
    }

    /// A problem with the file as a whole (missing, unreadable, empty
    /// directory): reported at line 1, column 1.
    pub fn whole_file(file: impl Into<PathBuf>, message: impl Into<String>) -> Self {
        Diagnostic::new(file, 1, 1, message)
    }

    /// A problem at a YAML node. An unknown location (line 0) becomes 1:1.
    pub(crate) fn at(file: &Path, loc: &Location, message: impl Into<String>) -> Self {
        Diagnostic::new(file, loc.line(), loc.column(), message)
    }

    /// A YAML syntax or schema error (unknown key, wrong type, duplicate key).
    pub(crate) fn from_yaml(file: &Path, err: &serde_saphyr::Error) -> Self {
        let rendered = err.render_with_options(serde_saphyr::render_options! {
            snippets: serde_saphyr::SnippetMode::Off,
            formatter: &serde_saphyr::UserMessageFormatter,
        });
        let message = strip_location_suffix(&rendered).to_owned();
        match err.location() {
            Some(loc) => Diagnostic::at(file, &loc, message),
            None => Diagnostic::whole_file(file, message),
        }
    }
}

/// The YAML crate appends ` at line L, column C`; we print the location in
/// front instead, so drop the suffix.
fn strip_location_suffix(msg: &str) -> &str {
    let Some((head, tail)) = msg.rsplit_once(" at line ") else {
        return msg;
    };
    let is_location = tail
        .split_once(", column ")
        .is_some_and(|(l, c)| is_number(l) && is_number(c.trim_end()));
    if is_location { head } else { msg }
}

fn is_number(s: &str) -> bool {
    !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit())
}

impl fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}:{}:{}: {}",
            self.file.display(),
            self.line,
            self.column,
            self.message
        )
    }
}

impl std::error::Error for Diagnostic {}

/// Where something was first defined, for "already defined at" messages.
#[derive(Debug, Clone)]
pub(crate) struct Place {
    pub(crate) file: PathBuf,
    pub(crate) line: u64,
    pub(crate) column: u64,
}

impl Place {
    pub(crate) fn new(file: &Path, loc: &Location) -> Self {
        Place {
            file: file.to_path_buf(),
            line: loc.line().max(1),
            column: loc.column().max(1),
        }
    }
}

impl fmt::Display for Place {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}:{}", self.file.display(), self.line, self.column)
    }
}
