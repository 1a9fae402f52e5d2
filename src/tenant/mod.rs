//! Tenants: companies that own email domains. A domain belongs to at most one tenant,
//! enforced by an atomic claim in the store (`domain:{d}` → tenant id), so two racing
//! creates can never both own it.

pub mod domain;
pub mod repo;

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Tenant {
    pub id: String,
    pub name: String,
    pub primary_domain: String,
    pub secondary_domains: Vec<String>,
    /// "Prevent users from logging in with other SSO providers": refuse password login and
    /// the global Google/Microsoft buttons for this tenant's people.
    pub sso_only: bool,
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

    pub fn owns_domain(&self, domain: &str) -> bool {
        self.domains().any(|d| d == domain)
    }
}
