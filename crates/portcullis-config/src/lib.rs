//! Portcullis configuration: gateway.yaml and the policy files, parsed,
//! interpolated, validated and compiled into the core's [`Policy`].
//!
//! Every problem is a [`Diagnostic`] printed as `file:line:column: message`;
//! loading collects all of them instead of stopping at the first. The file
//! schemas (`gateway_file`, `policy_file`) are kept apart from the validated
//! model ([`GatewayConfig`], [`PolicySpec`]) so the rest of the gateway never
//! sees an unchecked value.

mod diagnostic;
mod duration;
mod entries;
mod error;
mod gateway;
mod gateway_build;
mod gateway_file;
mod gateway_rules;
mod interpolate;
mod merge;
mod policies;
mod policy_file;
mod validate;

use std::path::{Path, PathBuf};

pub use diagnostic::Diagnostic;
pub use duration::Duration;
pub use error::{Error, Result};
pub use gateway::{
    ApiTokensConfig, AuthorizationMode, CacheConfig, EmailConfig, GatewayConfig, HeadersConfig,
    JwtConfig, PoliciesConfig, ProviderConfig, RateLimitConfig, ServerConfig, StoreConfig,
    StoreKind, UpstreamConfig, UsersPermissionsConfig,
};
pub use interpolate::{Env, interpolate, process_env};
use portcullis_core::{Policy, PolicySpec};
use serde_saphyr::Location;

/// A gateway.yaml and its policy directory, both valid.
#[derive(Debug, Clone)]
pub struct Loaded {
    /// The gateway.yaml path as given.
    pub config_path: PathBuf,
    pub gateway: GatewayConfig,
    pub policy: Policy,
    /// The policy files read, in merge (file-name) order.
    pub policy_files: Vec<PathBuf>,
    /// Problems that do not fail `check` but must stop `serve` (an empty
    /// `jwt.secret`). See [`Loaded::ready_to_serve`].
    pub serve_errors: Vec<Diagnostic>,
}

impl Loaded {
    /// `Err` with the reasons the gateway must not start on this config.
    pub fn ready_to_serve(&self) -> Result<(), Vec<Diagnostic>> {
        if self.serve_errors.is_empty() {
            Ok(())
        } else {
            Err(self.serve_errors.clone())
        }
    }
}

fn read(path: &Path, what: &str) -> Result<String, Vec<Diagnostic>> {
    std::fs::read_to_string(path).map_err(|e| {
        vec![Diagnostic::whole_file(
            path,
            format!("cannot read the {what}: {e}"),
        )]
    })
}

/// Loads gateway.yaml and every policy file of its `policies.dir`,
/// interpolating `${VAR}` references from `env` (use [`process_env`] in
/// binaries). All problems of both are returned together.
pub fn load(config_path: &Path, env: Env<'_>) -> Result<Loaded, Vec<Diagnostic>> {
    let text = read(config_path, "gateway configuration")?;
    let built = gateway_build::build(config_path, &text, env)?;
    let gateway = built.config;
    let mut diags = built.diagnostics;
    let prefix = &gateway.server.api_prefix;
    let sources = match policies::read_dir(&gateway.policies.dir) {
        Ok(sources) => sources,
        Err(mut errs) => {
            diags.append(&mut errs);
            return Err(diags);
        }
    };
    let mut merged = policies::merge(&sources, prefix);
    let role_at = built.default_role_at.unwrap_or(Location::UNKNOWN);
    merged.require_role(
        &gateway.users_permissions.default_role,
        config_path,
        &role_at,
    );
    let spec = merged.finish(&gateway.server.passthrough, policies::version(&sources));
    let spec = match spec {
        Ok(spec) if diags.is_empty() => spec,
        Ok(_) => return Err(diags),
        Err(mut errs) => {
            diags.append(&mut errs);
            return Err(diags);
        }
    };
    Ok(Loaded {
        config_path: config_path.to_path_buf(),
        policy: Policy::compile(spec),
        policy_files: sources.into_iter().map(|s| s.path).collect(),
        serve_errors: built.serve_errors,
        gateway,
    })
}

/// Loads and compiles the policy directory alone (for hot reload). The
/// `default_role` cross-check with gateway.yaml is not part of it.
pub fn load_policies(
    dir: &Path,
    api_prefix: &str,
    passthrough: &[String],
) -> Result<Policy, Vec<Diagnostic>> {
    let sources = policies::read_dir(dir)?;
    let version = policies::version(&sources);
    policies::merge(&sources, api_prefix)
        .finish(passthrough, version)
        .map(Policy::compile)
}

/// Validates one policy file as if it were the whole policy directory, with
/// the default API prefix `/api`. Never panics, whatever the input (a fuzz
/// target).
pub fn parse_policy_str(name: &str, text: &str) -> Result<PolicySpec, Vec<Diagnostic>> {
    let defaults = ServerConfig::default();
    let sources = [policies::Source {
        path: PathBuf::from(name),
        text: text.to_owned(),
    }];
    policies::merge(&sources, &defaults.api_prefix)
        .finish(&defaults.passthrough, policies::version(&sources))
}

/// Parses and validates gateway.yaml text alone (no policy cross-checks).
/// `path` names it in diagnostics and anchors a relative `policies.dir`.
pub fn parse_gateway_str(
    path: &Path,
    text: &str,
    env: Env<'_>,
) -> Result<GatewayConfig, Vec<Diagnostic>> {
    let built = gateway_build::build(path, text, env)?;
    if built.diagnostics.is_empty() {
        Ok(built.config)
    } else {
        Err(built.diagnostics)
    }
}

fn count(n: usize, one: &str, many: &str) -> String {
    format!("{n} {}", if n == 1 { one } else { many })
}

/// One line for `portcullis check`, e.g. `ok: gateway.yaml, 3 policy files,
/// 2 content types, 2 custom routes, 2 roles (version 0123456789abcdef)`.
pub fn summary(loaded: &Loaded) -> String {
    let p = &loaded.policy;
    format!(
        "ok: {}, {}, {}, {}, {} (version {})",
        loaded.config_path.display(),
        count(loaded.policy_files.len(), "policy file", "policy files"),
        count(p.content_types().len(), "content type", "content types"),
        count(p.routes().len(), "custom route", "custom routes"),
        count(p.roles().count(), "role", "roles"),
        p.version(),
    )
}

#[cfg(test)]
mod tests;

/// A policy file's name and text: what a replica publishes to the fleet.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PolicySource {
    /// The file name (no directory), e.g. `roles.yaml`.
    pub name: String,
    pub text: String,
}

/// Reads the policy directory's files without compiling them.
pub fn read_policy_sources(dir: &Path) -> Result<Vec<PolicySource>, Vec<Diagnostic>> {
    Ok(policies::read_dir(dir)?
        .into_iter()
        .map(|s| PolicySource {
            name: s.path.file_name().map_or_else(
                || s.path.display().to_string(),
                |n| n.to_string_lossy().into_owned(),
            ),
            text: s.text,
        })
        .collect())
}

/// Validates and compiles policy files held in memory (e.g. received from
/// another replica). The version is the same as for the files on disk.
pub fn compile_policy_sources(
    sources: &[PolicySource],
    api_prefix: &str,
    passthrough: &[String],
) -> Result<Policy, Vec<Diagnostic>> {
    let sources: Vec<policies::Source> = sources
        .iter()
        .map(|s| policies::Source {
            path: PathBuf::from(&s.name),
            text: s.text.clone(),
        })
        .collect();
    let version = policies::version(&sources);
    policies::merge(&sources, api_prefix)
        .finish(passthrough, version)
        .map(Policy::compile)
}
