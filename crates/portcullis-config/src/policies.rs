//! Reading the policy directory: every `*.yaml` / `*.yml` file, sorted by
//! file name, hashed into the policy version, merged and validated.

use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

use crate::diagnostic::Diagnostic;
use crate::merge::Merge;
use crate::policy_file;

/// One policy file's name and contents.
#[derive(Debug, Clone)]
pub(crate) struct Source {
    pub(crate) path: PathBuf,
    pub(crate) text: String,
}

fn is_policy_file(path: &Path) -> bool {
    path.is_file()
        && path
            .extension()
            .and_then(|e| e.to_str())
            .is_some_and(|e| e == "yaml" || e == "yml")
}

/// Reads the directory's policy files in file-name order.
pub(crate) fn read_dir(dir: &Path) -> Result<Vec<Source>, Vec<Diagnostic>> {
    let unreadable = |e: std::io::Error| {
        vec![Diagnostic::whole_file(
            dir,
            format!("cannot read the policy directory: {e}"),
        )]
    };
    let mut paths: Vec<PathBuf> = std::fs::read_dir(dir)
        .map_err(unreadable)?
        .filter_map(|entry| entry.ok().map(|e| e.path()))
        .filter(|p| is_policy_file(p))
        .collect();
    paths.sort_by(|a, b| a.file_name().cmp(&b.file_name()));
    if paths.is_empty() {
        return Err(vec![Diagnostic::whole_file(
            dir,
            "the policy directory has no *.yaml or *.yml files",
        )]);
    }
    let mut sources = Vec::new();
    let mut errors = Vec::new();
    for path in paths {
        match std::fs::read_to_string(&path) {
            Ok(text) => sources.push(Source { path, text }),
            Err(e) => errors.push(Diagnostic::whole_file(
                &path,
                format!("cannot read the policy file: {e}"),
            )),
        }
    }
    if errors.is_empty() {
        Ok(sources)
    } else {
        Err(errors)
    }
}

/// A stable content hash of the files: file names and contents, in order;
/// the first 16 hex digits of SHA-256. Length prefixes keep the encoding
/// unambiguous.
pub(crate) fn version(sources: &[Source]) -> String {
    let mut h = Sha256::new();
    for s in sources {
        let name = s
            .path
            .file_name()
            .map(|n| n.to_string_lossy())
            .unwrap_or_default();
        for part in [name.as_bytes(), s.text.as_bytes()] {
            h.update((part.len() as u64).to_be_bytes());
            h.update(part);
        }
    }
    let mut hex = hex::encode(h.finalize());
    hex.truncate(16);
    hex
}

/// Parses every source and merges them (nothing is compiled yet).
pub(crate) fn merge<'a>(sources: &[Source], api_prefix: &'a str) -> Merge<'a> {
    let mut m = Merge::new(api_prefix);
    for s in sources {
        m.add(&s.path, policy_file::parse(&s.path, &s.text));
    }
    m
}
