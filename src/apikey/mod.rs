//! Tenant API keys: the credential an IdP uses for SCIM (and, later, a tenant admin's
//! console automation).
//!
//! Invariants:
//! - a key is 256 random bits, shown once in the create response and stored only as its
//!   SHA-256. A hash is enough (no argon2): the secret is high-entropy, so there is nothing
//!   to brute-force, and a fast hash lets every SCIM request be checked in one store read;
//! - a presented key is found by looking up its hash, never by comparing secrets, so the
//!   time taken says nothing about how much of a guess was right; that lookup carries the
//!   key's tenant, label and scopes, so authenticating a request is one store read;
//! - a key belongs to exactly one tenant and everything it reaches is derived from that
//!   tenant id, never from anything in the request;
//! - revocation deletes the hash lookup at once; the record stays for the admin's list.

pub mod repo;
pub mod routes;

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use time::OffsetDateTime;

/// Prefix of every key, so a leaked one is recognisable by secret scanners.
pub const KEY_PREFIX: &str = "ghk_";

/// Random bytes in a key's secret (256 bits).
const SECRET_BYTES: usize = 32;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Scope {
    /// `/scim/v2` provisioning.
    Scim,
    /// The tenant's own admin API (reserved; the operator token still guards `/api/v1`).
    Admin,
}

impl Scope {
    pub fn as_str(self) -> &'static str {
        match self {
            Scope::Scim => "scim",
            Scope::Admin => "admin",
        }
    }
}

/// `scim, admin`, as pages and the configuration log show scopes.
pub fn scope_list(scopes: &[Scope]) -> String {
    scopes
        .iter()
        .map(|s| s.as_str())
        .collect::<Vec<_>>()
        .join(", ")
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ApiKey {
    pub id: String,
    pub tenant_id: String,
    pub label: String,
    pub scopes: Vec<Scope>,
    /// SHA-256 of the secret, lower-case hex. Never leaves the store.
    #[serde(default)]
    pub hash: String,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
    #[serde(default, with = "time::serde::rfc3339::option")]
    pub last_used_at: Option<OffsetDateTime>,
    #[serde(default, with = "time::serde::rfc3339::option")]
    pub revoked_at: Option<OffsetDateTime>,
}

impl ApiKey {
    pub fn has_scope(&self, scope: Scope) -> bool {
        self.revoked_at.is_none() && self.scopes.contains(&scope)
    }
}

/// A fresh secret: `ghk_` + 256 random bits in base64url.
pub fn generate_secret() -> String {
    format!("{KEY_PREFIX}{}", crate::random::token(SECRET_BYTES))
}

/// What the store keeps of a secret.
pub fn hash_secret(secret: &str) -> String {
    let digest = Sha256::digest(secret.as_bytes());
    digest.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_are_long_random_and_hashed() {
        let a = generate_secret();
        let b = generate_secret();
        assert_ne!(a, b);
        assert!(a.starts_with(KEY_PREFIX));
        // 32 bytes of base64url without padding: 43 characters.
        assert_eq!(a.len(), KEY_PREFIX.len() + 43);
        let h = hash_secret(&a);
        assert_eq!(h.len(), 64);
        assert_eq!(h, hash_secret(&a));
        assert_ne!(h, hash_secret(&b));
    }
}
