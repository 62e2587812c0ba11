//! The Users & Permissions plugin's content-API routes (Strapi 5.54), which
//! the gateway answers itself, and the plugin's action catalogue.

use crate::method::Method;

/// Action uid prefix of every plugin action.
pub const UID_PREFIX: &str = "plugin::users-permissions";

/// One U&P route: method, path below the API prefix (`:x` is a parameter,
/// `*` one or more trailing segments) and the full action uid.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct UpRoute {
    pub method: Method,
    pub path: &'static str,
    pub action: &'static str,
    /// Strapi attaches its rate limiter to this route.
    pub rate_limited: bool,
}

const fn r(method: Method, path: &'static str, action: &'static str, rl: bool) -> UpRoute {
    UpRoute {
        method,
        path,
        action,
        rate_limited: rl,
    }
}

use Method::{Delete, Get, Post, Put};

/// In Strapi's registration order: the first match wins.
pub const ROUTES: &[UpRoute] = &[
    r(
        Get,
        "connect/*",
        "plugin::users-permissions.auth.connect",
        true,
    ),
    r(
        Post,
        "auth/local",
        "plugin::users-permissions.auth.callback",
        true,
    ),
    r(
        Post,
        "auth/local/register",
        "plugin::users-permissions.auth.register",
        true,
    ),
    r(
        Get,
        "auth/:provider/callback",
        "plugin::users-permissions.auth.callback",
        false,
    ),
    r(
        Post,
        "auth/forgot-password",
        "plugin::users-permissions.auth.forgotPassword",
        true,
    ),
    r(
        Post,
        "auth/reset-password",
        "plugin::users-permissions.auth.resetPassword",
        true,
    ),
    r(
        Get,
        "auth/email-confirmation",
        "plugin::users-permissions.auth.emailConfirmation",
        false,
    ),
    r(
        Post,
        "auth/send-email-confirmation",
        "plugin::users-permissions.auth.sendEmailConfirmation",
        true,
    ),
    r(
        Post,
        "auth/change-password",
        "plugin::users-permissions.auth.changePassword",
        true,
    ),
    r(
        Post,
        "auth/refresh",
        "plugin::users-permissions.auth.refresh",
        false,
    ),
    r(
        Post,
        "auth/logout",
        "plugin::users-permissions.auth.logout",
        false,
    ),
    r(
        Get,
        "auth/sessions",
        "plugin::users-permissions.auth.getSessions",
        false,
    ),
    r(
        Delete,
        "auth/sessions/:sessionId",
        "plugin::users-permissions.auth.revokeSession",
        false,
    ),
    r(
        Get,
        "users/count",
        "plugin::users-permissions.user.count",
        false,
    ),
    r(Get, "users", "plugin::users-permissions.user.find", false),
    r(Get, "users/me", "plugin::users-permissions.user.me", false),
    r(
        Put,
        "users/me",
        "plugin::users-permissions.user.updateMe",
        false,
    ),
    r(
        Get,
        "users/:id",
        "plugin::users-permissions.user.findOne",
        false,
    ),
    r(
        Post,
        "users",
        "plugin::users-permissions.user.create",
        false,
    ),
    r(
        Put,
        "users/:id",
        "plugin::users-permissions.user.update",
        false,
    ),
    r(
        Delete,
        "users/:id",
        "plugin::users-permissions.user.destroy",
        false,
    ),
    r(
        Get,
        "users-permissions/roles/:id",
        "plugin::users-permissions.role.findOne",
        false,
    ),
    r(
        Get,
        "users-permissions/roles",
        "plugin::users-permissions.role.find",
        false,
    ),
    r(
        Post,
        "users-permissions/roles",
        "plugin::users-permissions.role.createRole",
        false,
    ),
    r(
        Put,
        "users-permissions/roles/:role",
        "plugin::users-permissions.role.updateRole",
        false,
    ),
    r(
        Delete,
        "users-permissions/roles/:role",
        "plugin::users-permissions.role.deleteRole",
        false,
    ),
    r(
        Get,
        "users-permissions/permissions",
        "plugin::users-permissions.permissions.getPermissions",
        false,
    ),
];

/// The plugin's controllers and their actions, for validating policy files.
pub const CONTROLLERS: &[(&str, &[&str])] = &[
    (
        "plugin::users-permissions.auth",
        &[
            "callback",
            "changePassword",
            "connect",
            "emailConfirmation",
            "forgotPassword",
            "register",
            "resetPassword",
            "sendEmailConfirmation",
            "refresh",
            "logout",
            "getSessions",
            "revokeSession",
        ],
    ),
    (
        "plugin::users-permissions.user",
        &[
            "count", "create", "destroy", "find", "findOne", "me", "update", "updateMe",
        ],
    ),
    (
        "plugin::users-permissions.role",
        &["createRole", "deleteRole", "find", "findOne", "updateRole"],
    ),
    ("plugin::users-permissions.permissions", &["getPermissions"]),
];

/// The actions of a plugin controller uid, if it is one.
pub fn controller_actions(uid: &str) -> Option<&'static [&'static str]> {
    CONTROLLERS
        .iter()
        .find(|(u, _)| *u == uid)
        .map(|(_, actions)| *actions)
}

/// The named parameters of a U&P route in a canonical path's segments below
/// the API prefix (`users/:id` + `["users", "7"]` → `[("id", "7")]`). The
/// rest of a `connect/*` path is returned under the name `*`.
pub fn params(route: &UpRoute, rest: &[&str]) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let mut pattern = route.path.split('/');
    for (i, seg) in rest.iter().enumerate() {
        match pattern.next() {
            Some("*") => {
                out.push(("*".to_owned(), rest[i..].join("/")));
                break;
            }
            Some(p) => {
                if let Some(name) = p.strip_prefix(':') {
                    out.push((name.to_owned(), (*seg).to_owned()));
                }
            }
            None => break,
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn route(path: &str) -> &'static UpRoute {
        ROUTES
            .iter()
            .find(|r| r.path == path)
            .unwrap_or_else(|| panic!("{path}"))
    }

    #[test]
    fn params_by_name() {
        assert_eq!(
            params(route("users/:id"), &["users", "7"]),
            [("id".to_owned(), "7".to_owned())]
        );
        assert_eq!(
            params(
                route("auth/:provider/callback"),
                &["auth", "github", "callback"]
            ),
            [("provider".to_owned(), "github".to_owned())]
        );
        assert_eq!(
            params(route("connect/*"), &["connect", "github", "callback"]),
            [("*".to_owned(), "github/callback".to_owned())]
        );
        assert!(params(route("users/me"), &["users", "me"]).is_empty());
    }
}
