//! The configuration log: one entry per change to how a tenant's people sign in — SSO
//! connections saved or removed, certificates changed by a metadata refresh, domains added
//! or verified, SSO-only switched, API keys and setup links made or revoked — with who made
//! it. It answers an admin's "what changed before sign-ins started failing?".
//!
//! Entries describe a change in words and fingerprints; they never carry a secret (client
//! secrets, API key secrets and setup-link secrets are named by their id or label only).

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use super::{append, newest_first, Journal, Window};
use crate::random;
use crate::store::{Store, StoreResult};

/// What part of the setup a change touched; the console filters by it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Area {
    /// The organisation's name.
    Organisation,
    Saml,
    Oidc,
    Domains,
    /// SSO-only and other sign-in policy switches.
    Policy,
    ApiKeys,
    SetupLinks,
    Users,
}

impl Area {
    pub const ALL: [Area; 8] = [
        Area::Organisation,
        Area::Saml,
        Area::Oidc,
        Area::Domains,
        Area::Policy,
        Area::ApiKeys,
        Area::SetupLinks,
        Area::Users,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Area::Organisation => "organisation",
            Area::Saml => "saml",
            Area::Oidc => "oidc",
            Area::Domains => "domains",
            Area::Policy => "policy",
            Area::ApiKeys => "api_keys",
            Area::SetupLinks => "setup_links",
            Area::Users => "users",
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            Area::Organisation => "Organisation",
            Area::Saml => "SAML",
            Area::Oidc => "OpenID Connect",
            Area::Domains => "Domains",
            Area::Policy => "Sign-in policy",
            Area::ApiKeys => "API keys",
            Area::SetupLinks => "Setup links",
            Area::Users => "Users",
        }
    }

    pub fn parse(s: &str) -> Option<Area> {
        Area::ALL.into_iter().find(|a| a.as_str() == s)
    }
}

/// Who made a change, as shown in the log.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum ChangedBy {
    /// A signed-in console user.
    Person { user_id: String, email: String },
    /// The holder of an IT-admin setup link.
    SetupLink { link_id: String, label: String },
    /// A caller of `/api/v1` with the operator's admin token.
    AdminApi,
    /// The gateway itself (a periodic metadata refresh, configuration at start-up).
    Gateway { task: String },
}

impl ChangedBy {
    pub fn describe(&self) -> String {
        match self {
            ChangedBy::Person { email, .. } => email.clone(),
            ChangedBy::SetupLink { label, .. } => format!("{label} (setup link)"),
            ChangedBy::AdminApi => "admin API token".into(),
            ChangedBy::Gateway { task } => format!("Gatehouse ({task})"),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChangeEvent {
    /// Also the reference shown next to the entry.
    pub id: String,
    #[serde(with = "time::serde::rfc3339")]
    pub at: OffsetDateTime,
    pub tenant_id: String,
    pub by: ChangedBy,
    pub area: Area,
    /// One line: what changed ("SAML connection saved", "domain example.com verified").
    pub summary: String,
    /// Details an admin may need: fingerprints added/removed, old → new values.
    #[serde(default)]
    pub details: Vec<String>,
    /// False for a change that was attempted and did not happen (a failed metadata
    /// refresh, a domain check that found no record); `summary` then says why.
    #[serde(default = "yes")]
    pub applied: bool,
}

fn yes() -> bool {
    true
}

impl ChangeEvent {
    pub fn new(
        at: OffsetDateTime,
        tenant_id: &str,
        by: ChangedBy,
        area: Area,
        summary: impl Into<String>,
    ) -> Self {
        Self {
            id: random::id("cf"),
            at,
            tenant_id: tenant_id.to_owned(),
            by,
            area,
            summary: clip(summary.into(), 500),
            details: Vec::new(),
            applied: true,
        }
    }

    pub fn detail(mut self, line: impl Into<String>) -> Self {
        if self.details.len() < 50 {
            self.details.push(clip(line.into(), 1000));
        }
        self
    }

    /// Marks the entry as an attempt that changed nothing.
    pub fn not_applied(mut self) -> Self {
        self.applied = false;
        self
    }
}

/// Lines describing what differs between an old and a new version of some settings.
#[derive(Debug, Default)]
pub struct Diff(Vec<String>);

impl Diff {
    /// `name: before → after` when the value changed; `name: after` when there was no
    /// old version at all.
    pub fn field(&mut self, name: &str, before: Option<&str>, after: &str) {
        if before != Some(after) {
            self.0.push(match before {
                Some(b) => format!("{name}: {b} → {after}"),
                None => format!("{name}: {after}"),
            });
        }
    }

    pub fn switch(&mut self, name: &str, before: Option<bool>, after: bool) {
        let word = |on: bool| if on { "on" } else { "off" };
        self.field(name, before.map(word), word(after));
    }

    pub fn line(&mut self, line: impl Into<String>) {
        self.0.push(line.into());
    }

    pub fn into_lines(self) -> Vec<String> {
        self.0
    }
}

impl ChangeEvent {
    pub fn details(mut self, lines: Vec<String>) -> Self {
        for line in lines {
            self = self.detail(line);
        }
        self
    }
}

fn clip(s: String, max: usize) -> String {
    if s.chars().count() <= max {
        s
    } else {
        s.chars().take(max).collect()
    }
}

/// Records the change. A failure to record is logged, not returned: the change itself
/// has been made, and the log line carries the same facts.
pub async fn record(store: &dyn Store, event: &ChangeEvent) {
    tracing::info!(
        reference = %event.id, tenant = %event.tenant_id, area = event.area.as_str(),
        by = %event.by.describe(), applied = event.applied, summary = %event.summary,
        "configuration change"
    );
    if let Err(e) = append(
        store,
        Journal::Changes,
        &event.tenant_id,
        &event.id,
        event.at,
        event,
    )
    .await
    {
        tracing::warn!(error = %e, reference = %event.id, "configuration change not recorded");
    }
}

/// Newest first, optionally one area only.
pub async fn list(
    store: &dyn Store,
    tenant_id: &str,
    window: Window,
    area: Option<Area>,
) -> StoreResult<Vec<ChangeEvent>> {
    newest_first(
        store,
        Journal::Changes,
        tenant_id,
        window,
        |e: &ChangeEvent| area.is_none_or(|a| e.area == a),
    )
    .await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn areas_round_trip_through_their_names() {
        for a in Area::ALL {
            assert_eq!(Area::parse(a.as_str()), Some(a));
        }
        assert_eq!(Area::parse("nope"), None);
    }

    #[test]
    fn entries_are_bounded() {
        let mut e = ChangeEvent::new(
            OffsetDateTime::UNIX_EPOCH,
            "tn_1",
            ChangedBy::AdminApi,
            Area::Saml,
            "x".repeat(10_000),
        );
        for _ in 0..100 {
            e = e.detail("d");
        }
        assert_eq!(e.summary.chars().count(), 500);
        assert_eq!(e.details.len(), 50);
        assert!(e.applied);
        assert!(!e.clone().not_applied().applied);
    }
}
