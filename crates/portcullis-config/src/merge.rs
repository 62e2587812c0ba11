//! Merges parsed policy files in file-name order into a [`PolicySpec`],
//! applying the rules of `validate` and the cross-file ones (duplicates,
//! shadowing, unknown uids and actions, required roles). Every problem is
//! collected; nothing stops at the first.

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};

use portcullis_core::users_permissions::controller_actions;
use portcullis_core::{ContentKind, ContentType, CustomRoute, PolicySpec, Role};
use serde_saphyr::Location;

use crate::diagnostic::{Diagnostic, Place};
use crate::policy_file::{KindFile, PolicyFile, RoleFile, Str};
use crate::validate::{self as rule, Rule};

/// Roles every policy must define.
pub(crate) const REQUIRED_ROLES: &[&str] = &["public", "authenticated"];

pub(crate) struct Merge<'a> {
    api_prefix: &'a str,
    diags: Vec<Diagnostic>,
    /// Some file did not parse: skip checks that need every file.
    incomplete: bool,
    first_file: Option<PathBuf>,
    content_types: Vec<ContentType>,
    /// Declared uids, also those whose segment was bad (no cascades).
    kinds: HashMap<String, (ContentKind, Place)>,
    segments: HashMap<String, Place>,
    routes: Vec<(CustomRoute, Place)>,
    /// Every custom route action, also those whose path was bad.
    route_actions: Vec<String>,
    roles: Vec<(PathBuf, Str, RoleFile)>,
    role_places: HashMap<String, Place>,
}

impl<'a> Merge<'a> {
    pub(crate) fn new(api_prefix: &'a str) -> Self {
        Merge {
            api_prefix,
            diags: Vec::new(),
            incomplete: false,
            first_file: None,
            content_types: Vec::new(),
            kinds: HashMap::new(),
            segments: HashMap::new(),
            routes: Vec::new(),
            route_actions: Vec::new(),
            roles: Vec::new(),
            role_places: HashMap::new(),
        }
    }

    fn check<T>(&mut self, file: &Path, loc: &Location, r: Rule<T>) -> Option<T> {
        r.map_err(|m| self.diags.push(Diagnostic::at(file, loc, m)))
            .ok()
    }

    /// Records a problem that is not about one file's contents.
    pub(crate) fn report(&mut self, d: Diagnostic) {
        self.incomplete = true;
        self.diags.push(d);
    }

    pub(crate) fn add(&mut self, file: &Path, parsed: Result<PolicyFile, Diagnostic>) {
        self.first_file.get_or_insert_with(|| file.to_path_buf());
        let doc = match parsed {
            Ok(doc) => doc,
            Err(d) => return self.report(d),
        };
        for ct in &doc.content_types {
            self.content_type(file, ct);
        }
        for r in &doc.routes {
            self.route(file, r);
        }
        for (kind, role) in doc.roles.0 {
            self.role(file, kind, role);
        }
    }

    fn content_type(&mut self, file: &Path, ct: &crate::policy_file::ContentTypeFile) {
        let uid = &ct.uid.value;
        let here = Place::new(file, &ct.uid.referenced);
        let kind = match ct.kind.value {
            KindFile::Collection => ContentKind::Collection,
            KindFile::Single => ContentKind::Single,
        };
        let uid_ok = self
            .check(file, &ct.uid.referenced, rule::content_type_uid(uid))
            .is_some();
        let unique = match self.kinds.get(uid) {
            Some((_, first)) => {
                let m = format!("content type {uid} is already defined at {first}");
                self.check::<()>(file, &ct.uid.referenced, Err(m))
            }
            None => Some(()),
        };
        if uid_ok && unique.is_some() {
            self.kinds.insert(uid.clone(), (kind, here));
        }
        let shape = rule::kind_segment(uid, kind, ct.plural.is_some(), ct.singular.is_some());
        let Some(()) = self.check(file, &ct.kind.referenced, shape) else {
            return;
        };
        let (key, seg) = match (&ct.plural, &ct.singular) {
            (Some(p), _) => ("plural", p),
            (_, Some(s)) => ("singular", s),
            _ => return,
        };
        let seg_ok = self
            .check(file, &seg.referenced, rule::segment(key, &seg.value))
            .is_some();
        let seg_unique = self.unique_segment(file, seg);
        if uid_ok && unique.is_some() && seg_ok && seg_unique {
            self.content_types.push(ContentType {
                uid: uid.clone(),
                kind,
                segment: seg.value.clone(),
            });
        }
    }

    fn unique_segment(&mut self, file: &Path, seg: &Str) -> bool {
        let key = seg.value.to_ascii_lowercase();
        if let Some(first) = self.segments.get(&key) {
            let m = format!("route segment {:?} is already used at {first}", seg.value);
            self.diags.push(Diagnostic::at(file, &seg.referenced, m));
            return false;
        }
        self.segments.insert(key, Place::new(file, &seg.referenced));
        true
    }

    fn route(&mut self, file: &Path, r: &crate::policy_file::RouteFile) {
        let method = self.check(
            file,
            &r.method.referenced,
            rule::route_method(&r.method.value),
        );
        let pattern = self.check(
            file,
            &r.path.referenced,
            rule::route_path(&r.path.value, self.api_prefix),
        );
        let action = self.check(
            file,
            &r.action.referenced,
            rule::route_action(&r.action.value),
        );
        if action.is_some() {
            self.route_actions.push(r.action.value.clone());
        }
        let (Some(method), Some(pattern), Some(_)) = (method, pattern, action) else {
            return;
        };
        let loc = &r.path.referenced;
        for (earlier, at) in &self.routes {
            if earlier.method != method {
                continue;
            }
            let m = if earlier.pattern.is_shadowed_by(&pattern)
                && pattern.is_shadowed_by(&earlier.pattern)
            {
                Err(format!(
                    "route {method} {pattern} is already defined at {at}"
                ))
            } else {
                rule::not_shadowed(&pattern, &earlier.pattern, method, &at.to_string())
            };
            if let Err(m) = m {
                self.diags.push(Diagnostic::at(file, loc, m));
                return;
            }
        }
        let up = rule::not_users_permissions(method, &pattern, self.api_prefix);
        let Some(()) = self.check(file, loc, up) else {
            return;
        };
        let route = CustomRoute {
            method,
            pattern,
            action: r.action.value.clone(),
        };
        self.routes.push((route, Place::new(file, loc)));
    }

    fn role(&mut self, file: &Path, kind: Str, role: RoleFile) {
        if let Some(first) = self.role_places.get(&kind.value) {
            let m = format!("role {} is already defined at {first}", kind.value);
            self.diags.push(Diagnostic::at(file, &kind.referenced, m));
            return;
        }
        self.role_places
            .insert(kind.value.clone(), Place::new(file, &kind.referenced));
        self.roles.push((file.to_path_buf(), kind, role));
    }

    /// The actions a role may grant on `uid`; `None` for an unknown uid.
    fn allowed_actions(&self, uid: &str) -> Option<Vec<&str>> {
        let from_routes = self
            .route_actions
            .iter()
            .filter_map(|a| a.rsplit_once('.'))
            .filter(|(u, _)| *u == uid)
            .map(|(_, a)| a);
        if let Some(actions) = controller_actions(uid) {
            return Some(actions.to_vec());
        }
        let mut allowed: Vec<&str> = match self.kinds.get(uid) {
            Some((kind, _)) => kind.actions().to_vec(),
            None => Vec::new(),
        };
        for a in from_routes {
            if !allowed.contains(&a) {
                allowed.push(a);
            }
        }
        (self.kinds.contains_key(uid) || !allowed.is_empty()).then_some(allowed)
    }

    fn permissions(&mut self, file: &Path, role: &RoleFile) {
        for (uid, actions) in &role.permissions.0 {
            let allowed = self.allowed_actions(&uid.value);
            let problems: Vec<Diagnostic> = match allowed {
                None => vec![Diagnostic::at(
                    file,
                    &uid.referenced,
                    rule::known_uid(&uid.value, false).err().unwrap_or_default(),
                )],
                Some(allowed) => actions
                    .iter()
                    .filter_map(|a| {
                        let r = rule::permission_action(&uid.value, &a.value, &allowed);
                        r.err().map(|m| Diagnostic::at(file, &a.referenced, m))
                    })
                    .collect(),
            };
            self.diags.extend(problems);
        }
    }

    fn required_roles(&mut self) {
        let place = match self.roles.first() {
            Some((file, kind, _)) => Place::new(file, &kind.referenced),
            None => match &self.first_file {
                Some(f) => Place::new(f, &Location::UNKNOWN),
                None => return,
            },
        };
        for required in REQUIRED_ROLES {
            if !self.role_places.contains_key(*required) {
                let m = format!(
                    "role {required} is not defined; every policy needs the public and authenticated roles"
                );
                self.diags
                    .push(Diagnostic::new(&place.file, place.line, place.column, m));
            }
        }
    }

    /// The gateway.yaml cross-check: `users_permissions.default_role` must
    /// be a role of the policy. Skipped when some file did not parse.
    pub(crate) fn require_role(&mut self, kind: &str, file: &Path, loc: &Location) {
        if !self.incomplete && !self.role_places.contains_key(kind) {
            let m = format!(
                "users_permissions.default_role {kind:?} is not a role defined in the policy files"
            );
            self.diags.push(Diagnostic::at(file, loc, m));
        }
    }

    pub(crate) fn finish(
        mut self,
        passthrough: &[String],
        version: String,
    ) -> Result<PolicySpec, Vec<Diagnostic>> {
        if !self.incomplete {
            let roles = std::mem::take(&mut self.roles);
            for (file, _, role) in &roles {
                self.permissions(file, role);
            }
            self.roles = roles;
            self.required_roles();
        }
        if !self.diags.is_empty() {
            return Err(self.diags);
        }
        let roles = self
            .roles
            .into_iter()
            .map(|(_, kind, r)| to_role(kind, r))
            .collect();
        Ok(PolicySpec {
            api_prefix: self.api_prefix.to_owned(),
            passthrough: passthrough.to_vec(),
            content_types: self.content_types,
            routes: self.routes.into_iter().map(|(r, _)| r).collect(),
            roles,
            version,
        })
    }
}

fn to_role(kind: Str, role: RoleFile) -> Role {
    let permissions: BTreeMap<String, Vec<String>> = role
        .permissions
        .0
        .into_iter()
        .map(|(uid, actions)| (uid.value, actions.into_iter().map(|a| a.value).collect()))
        .collect();
    let name = role.name.map_or_else(|| kind.value.clone(), |n| n.value);
    let description = role.description.map(|d| d.value).unwrap_or_default();
    Role::new(kind.value, name, description, permissions)
}
