//! Tenants: companies that own email domains. A domain belongs to at most one tenant,
//! enforced by an atomic claim in the store (`domain:{d}` → tenant id), so two racing
//! creates can never both own it.
//!
//! `primary_domain` and `secondary_domains` are the *verified* domains: only they are
//! claimed, route `/login/sso`, bind SSO-only and admit SCIM/JIT users. A domain an admin
//! added but has not proven yet is in `pending_domains`: not claimed (nobody can squat a
//! domain by adding it), not routed, not usable for people.

pub mod domain;
pub mod ownership;
pub mod repo;
pub mod verification;

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use crate::audit::changes::ChangedBy;
use verification::DomainCheck;

/// A domain added to a tenant and waiting for its DNS proof.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PendingDomain {
    pub domain: String,
    /// The value to publish is `gatehouse-domain-verification=<token>`; not a secret (it
    /// is meant for public DNS), but only this tenant's check accepts it.
    pub token: String,
    pub added_by: ChangedBy,
    #[serde(with = "time::serde::rfc3339")]
    pub added_at: OffsetDateTime,
    /// The last "Check now": when, and what was found.
    #[serde(default)]
    pub last_check: Option<DomainCheck>,
}

/// How a verified domain came to be verified.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum VerificationMethod {
    /// The tenant published the TXT record and the gateway found it.
    DnsTxt,
    /// An operator (console role or admin API token) added it without proof.
    Operator,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DomainVerification {
    pub method: VerificationMethod,
    #[serde(with = "time::serde::rfc3339")]
    pub at: OffsetDateTime,
    pub by: ChangedBy,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Tenant {
    pub id: String,
    pub name: String,
    pub primary_domain: String,
    pub secondary_domains: Vec<String>,
    /// "Prevent users from logging in with other SSO providers": refuse password login and
    /// the global Google/Microsoft buttons for this tenant's people.
    pub sso_only: bool,
    /// Domains added but not proven yet (never claimed, never routed).
    #[serde(default)]
    pub pending_domains: Vec<PendingDomain>,
    /// How each verified domain was verified; a domain missing here (older records, the
    /// configuration file, a tenant created through the API) was added by an operator.
    #[serde(default)]
    pub domain_verifications: BTreeMap<String, DomainVerification>,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339")]
    pub updated_at: OffsetDateTime,
}

impl Tenant {
    pub fn domains(&self) -> impl Iterator<Item = &str> {
        std::iter::once(self.primary_domain.as_str())
            .chain(self.secondary_domains.iter().map(String::as_str))
    }

    /// Whether `domain` is one of the tenant's verified domains.
    pub fn owns_domain(&self, domain: &str) -> bool {
        self.domains().any(|d| d == domain)
    }

    pub fn pending(&self, domain: &str) -> Option<&PendingDomain> {
        self.pending_domains.iter().find(|p| p.domain == domain)
    }
}
