//! The policy file schema (`policies/*.yaml`), as written: every top-level
//! key optional, unknown keys rejected, values kept with their locations.

use std::path::Path;

use serde::Deserialize;
use serde_saphyr::Spanned;

use crate::diagnostic::Diagnostic;
use crate::entries::Entries;

pub(crate) type Str = Spanned<String>;

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub(crate) struct PolicyFile {
    pub(crate) content_types: Vec<ContentTypeFile>,
    pub(crate) routes: Vec<RouteFile>,
    /// Keyed by the role's Strapi `type`, in file order.
    pub(crate) roles: Entries<Str, RoleFile>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct ContentTypeFile {
    pub(crate) uid: Str,
    pub(crate) kind: Spanned<KindFile>,
    pub(crate) plural: Option<Str>,
    pub(crate) singular: Option<Str>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
pub(crate) enum KindFile {
    #[serde(rename = "collectionType")]
    Collection,
    #[serde(rename = "singleType")]
    Single,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RouteFile {
    pub(crate) method: Str,
    pub(crate) path: Str,
    pub(crate) action: Str,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub(crate) struct RoleFile {
    pub(crate) name: Option<Str>,
    pub(crate) description: Option<Str>,
    /// Controller uid → actions.
    pub(crate) permissions: Entries<Str, Vec<Str>>,
}

/// Parses one policy file; a syntax or schema error is one diagnostic.
pub(crate) fn parse(file: &Path, text: &str) -> Result<PolicyFile, Diagnostic> {
    serde_saphyr::from_str(text).map_err(|e| Diagnostic::from_yaml(file, &e))
}
