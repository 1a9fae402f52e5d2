//! People of a tenant. An email address belongs to at most one user (atomic claim
//! `email:{address}` → user id) and its domain must be one of the tenant's domains.

pub mod password;
pub mod repo;

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use crate::tenant::domain::normalize_domain;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum UserStatus {
    Active,
    /// Switched off by an admin.
    Deactivated,
    /// Switched off by the IdP over SCIM; just-in-time login must not bring it back.
    Deprovisioned,
}

impl UserStatus {
    /// How pages and the configuration log name the status.
    pub fn label(self) -> &'static str {
        match self {
            Self::Active => "active",
            Self::Deactivated => "deactivated",
            Self::Deprovisioned => "deprovisioned by SCIM",
        }
    }
}

/// What a person may do in the admin console.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// Signs in to applications; no console access.
    #[default]
    Member,
    /// Configures SSO, provisioning and policy of their own tenant only.
    TenantAdmin,
    /// Runs the deployment: every tenant, and break-glass switches.
    Operator,
}

impl Role {
    pub const ALL: [Role; 3] = [Role::Member, Role::TenantAdmin, Role::Operator];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Member => "member",
            Self::TenantAdmin => "tenant_admin",
            Self::Operator => "operator",
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            Self::Member => "member",
            Self::TenantAdmin => "tenant admin",
            Self::Operator => "operator",
        }
    }

    pub fn parse(s: &str) -> Option<Role> {
        Role::ALL.into_iter().find(|r| r.as_str() == s)
    }
}

#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct User {
    pub id: String,
    pub tenant_id: String,
    pub email: String,
    pub display_name: Option<String>,
    pub groups: Vec<String>,
    pub status: UserStatus,
    /// argon2id PHC string; `None` for people who only sign in through SSO.
    pub password_hash: Option<String>,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339")]
    pub updated_at: OffsetDateTime,
    #[serde(default)]
    pub role: Role,
}

// Hand-written so a password hash can never reach a log line.
impl std::fmt::Debug for User {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("User")
            .field("id", &self.id)
            .field("tenant_id", &self.tenant_id)
            .field("email", &self.email)
            .field("status", &self.status)
            .field("role", &self.role)
            .finish_non_exhaustive()
    }
}

impl User {
    pub fn is_active(&self) -> bool {
        self.status == UserStatus::Active
    }
}

/// Normalizes an email address: lower case, IDNA domain, exactly one `@`, an ASCII local
/// part. Confusable Unicode in the local part is refused rather than folded, so two
/// addresses that look alike can never be two accounts (or one).
pub fn normalize_email(input: &str) -> Result<(String, String), String> {
    let input = input.trim();
    let Some((local, domain)) = input.split_once('@') else {
        return Err("is not an email address (no @)".into());
    };
    if domain.contains('@') {
        return Err("has more than one @".into());
    }
    if local.is_empty() || local.len() > 64 {
        return Err("has an empty or too long name before the @".into());
    }
    if !local
        .chars()
        .all(|c| c.is_ascii_graphic() && !"<>()[]\\,;:\"".contains(c))
    {
        return Err("may only use plain ASCII letters, digits and . _ % + - before the @".into());
    }
    let domain = normalize_domain(domain).map_err(|e| format!("domain {e}"))?;
    let local = local.to_ascii_lowercase();
    Ok((format!("{local}@{domain}"), domain))
}

#[cfg(test)]
mod tests {
    use super::normalize_email;

    #[test]
    fn email_normalization() {
        assert_eq!(
            normalize_email(" Alice@ACME.test ").unwrap(),
            ("alice@acme.test".into(), "acme.test".into())
        );
        for bad in [
            "alice",
            "a@b@acme.test",
            "@acme.test",
            "аlice@acme.test",
            "a b@acme.test",
            "alice@localhost",
        ] {
            assert!(normalize_email(bad).is_err(), "{bad:?} must be refused");
        }
    }
}
