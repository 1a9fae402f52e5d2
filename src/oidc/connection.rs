//! A tenant's OpenID Connect connection: which provider (preset), its issuer, our client
//! id and secret there, scopes, how claims map to a person, and the tenant's switches.
//!
//! Invariants:
//! - a connection is stored only after its issuer's discovery document was fetched and
//!   matched (issuer exact, https endpoints, PKCE S256), so problems show at save time;
//! - the client secret is write-only: stored, never returned ([`OidcConnectionView`]);
//! - a tenant has at most one SSO connection kind: saving OIDC while a SAML connection
//!   exists (and the reverse, in `admin::routes`) is a 409 — delete the other one first.

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use super::global::check_provider_url;
use super::provider::{discovery_url_for, IssuerRule, Providers};
use crate::audit::changes::{self, Area, ChangeEvent, ChangedBy, Diff};
use crate::clock::Clock;
use crate::error::{Error, Result};
use crate::store::{encode, get_json, keys, Store};

pub const MAX_CLOCK_SKEW_SECS: u32 = 300;
pub const DEFAULT_CLOCK_SKEW_SECS: u32 = 60;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Preset {
    Okta,
    EntraId,
    GoogleWorkspace,
    Custom,
}

impl Preset {
    /// The name in login events and logs.
    pub fn id(self) -> &'static str {
        match self {
            Self::Okta => "okta",
            Self::EntraId => "entra_id",
            Self::GoogleWorkspace => "google_workspace",
            Self::Custom => "custom",
        }
    }

    /// The name pages show.
    pub fn label(self) -> &'static str {
        match self {
            Self::Okta => "Okta",
            Self::EntraId => "Microsoft Entra ID",
            Self::GoogleWorkspace => "Google Workspace",
            Self::Custom => "Custom",
        }
    }

    pub fn default_scopes(self) -> Vec<String> {
        let mut s = vec!["openid".to_owned(), "email".into(), "profile".into()];
        if self == Self::Okta {
            // Okta sends group names only when the `groups` scope (and claim) are set up.
            s.push("groups".into());
        }
        s
    }

    pub fn default_claims(self) -> ClaimMap {
        ClaimMap {
            email: "email".into(),
            email_verified: Some("email_verified".into()),
            given_name: Some("given_name".into()),
            family_name: Some("family_name".into()),
            groups: match self {
                // Google's ID tokens carry no groups.
                Self::GoogleWorkspace => None,
                _ => Some("groups".into()),
            },
        }
    }

    /// The issuer when the admin leaves it out (only Google has a single one).
    fn default_issuer(self) -> Option<&'static str> {
        match self {
            Self::GoogleWorkspace => Some(super::global::GOOGLE_ISSUER),
            _ => None,
        }
    }
}

/// Which ID token claim carries what.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ClaimMap {
    pub email: String,
    /// The claim that says the email was verified. `null` is an explicit admin decision
    /// that this IdP only issues addresses it controls (e.g. an Entra directory that sends
    /// no `email_verified`); the email's domain must still be one of the tenant's.
    pub email_verified: Option<String>,
    pub given_name: Option<String>,
    pub family_name: Option<String>,
    /// A claim holding a list of group names (or one name); `null`: groups are not synced.
    pub groups: Option<String>,
}

impl ClaimMap {
    /// `email=email, email_verified=email_verified, …` for the configuration log.
    pub fn describe(&self) -> String {
        let name = |n: &Option<String>| n.clone().unwrap_or_else(|| "(not mapped)".into());
        format!(
            "email={}, email_verified={}, given_name={}, family_name={}, groups={}",
            self.email,
            name(&self.email_verified),
            name(&self.given_name),
            name(&self.family_name),
            name(&self.groups)
        )
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OidcConnection {
    pub tenant_id: String,
    pub provider: Preset,
    pub issuer: String,
    pub client_id: String,
    /// Stored for the token request; never serialized into API answers (see the view).
    pub client_secret: String,
    pub scopes: Vec<String>,
    pub claims: ClaimMap,
    /// Create people on their first login instead of refusing unknown ones.
    pub jit_provisioning: bool,
    pub clock_skew_secs: u32,
    #[serde(with = "time::serde::rfc3339")]
    pub updated_at: OffsetDateTime,
}

/// What the admin API shows: everything but the secret.
#[derive(Debug, Clone, Serialize)]
pub struct OidcConnectionView {
    pub provider: Preset,
    pub issuer: String,
    pub client_id: String,
    pub client_secret_set: bool,
    pub scopes: Vec<String>,
    pub claims: ClaimMap,
    pub jit_provisioning: bool,
    pub clock_skew_secs: u32,
    #[serde(with = "time::serde::rfc3339")]
    pub updated_at: OffsetDateTime,
}

impl From<&OidcConnection> for OidcConnectionView {
    fn from(c: &OidcConnection) -> Self {
        Self {
            provider: c.provider,
            issuer: c.issuer.clone(),
            client_id: c.client_id.clone(),
            client_secret_set: !c.client_secret.is_empty(),
            scopes: c.scopes.clone(),
            claims: c.claims.clone(),
            jit_provisioning: c.jit_provisioning,
            clock_skew_secs: c.clock_skew_secs,
            updated_at: c.updated_at,
        }
    }
}

/// What an admin submits.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OidcConnectionInput {
    pub provider: Option<Preset>,
    pub issuer: Option<String>,
    pub client_id: Option<String>,
    /// Required the first time; when left out later, the stored secret is kept.
    pub client_secret: Option<String>,
    pub scopes: Option<Vec<String>>,
    pub claims: Option<ClaimMap>,
    #[serde(default)]
    pub jit_provisioning: bool,
    pub clock_skew_secs: Option<u32>,
}

fn check_claim_name(field: &str, name: &str) -> Result<()> {
    if name.is_empty() || name.len() > 128 || name.chars().any(|c| c.is_control()) {
        return Err(Error::invalid(
            field,
            "must be a claim name of 1 to 128 characters",
        ));
    }
    Ok(())
}

/// Checks `input` (everything that needs no network) and builds the connection.
pub fn build(
    tenant_id: &str,
    input: OidcConnectionInput,
    existing: Option<&OidcConnection>,
    allow_http_loopback: bool,
    now: OffsetDateTime,
) -> Result<OidcConnection> {
    let provider = input.provider.unwrap_or(Preset::Custom);
    let issuer = input
        .issuer
        .filter(|i| !i.trim().is_empty())
        .or_else(|| provider.default_issuer().map(str::to_owned))
        .ok_or_else(|| {
            Error::invalid(
                "issuer",
                "is required: the provider's issuer URL, e.g. https://acme.okta.com or https://login.microsoftonline.com/<directory id>/v2.0",
            )
        })?;
    let issuer = issuer.trim().to_owned();
    if issuer.contains(super::global::TENANT_PLACEHOLDER)
        || issuer.ends_with("/common/v2.0")
        || issuer.ends_with("/organizations/v2.0")
    {
        return Err(Error::invalid(
            "issuer",
            "must be one directory's issuer (https://login.microsoftonline.com/<directory id>/v2.0), not a multi-tenant authority",
        ));
    }
    check_provider_url(&issuer, allow_http_loopback).map_err(|m| Error::invalid("issuer", m))?;
    let client_id = input
        .client_id
        .map(|c| c.trim().to_owned())
        .filter(|c| !c.is_empty())
        .ok_or_else(|| {
            Error::invalid(
                "client_id",
                "is required: the client (application) id the provider gave this app",
            )
        })?;
    if client_id.len() > 512 || client_id.chars().any(char::is_control) {
        return Err(Error::invalid(
            "client_id",
            "must be at most 512 characters",
        ));
    }
    let client_secret = match input.client_secret.filter(|s| !s.is_empty()) {
        Some(s) if s.len() > 4096 => {
            return Err(Error::invalid("client_secret", "is longer than 4096 bytes"))
        }
        Some(s) => s,
        None => existing
            .filter(|e| e.issuer == issuer && e.client_id == client_id)
            .map(|e| e.client_secret.clone())
            .ok_or_else(|| {
                Error::invalid(
                    "client_secret",
                    "is required (it is kept when you save again without it, unless the issuer or client id change)",
                )
            })?,
    };
    let mut scopes = input.scopes.unwrap_or_else(|| provider.default_scopes());
    for (i, s) in scopes.iter().enumerate() {
        if s.is_empty()
            || s.len() > 128
            || !s
                .chars()
                .all(|c| c.is_ascii_graphic() && c != '"' && c != '\\')
        {
            return Err(Error::invalid(
                &format!("scopes[{i}]"),
                "must be a scope name (printable ASCII, no spaces)",
            ));
        }
    }
    if !scopes.iter().any(|s| s == "openid") {
        scopes.insert(0, "openid".into());
    }
    let claims = input.claims.unwrap_or_else(|| provider.default_claims());
    check_claim_name("claims.email", &claims.email)?;
    for (field, name) in [
        ("claims.email_verified", &claims.email_verified),
        ("claims.given_name", &claims.given_name),
        ("claims.family_name", &claims.family_name),
        ("claims.groups", &claims.groups),
    ] {
        if let Some(n) = name {
            check_claim_name(field, n)?;
        }
    }
    let skew = input.clock_skew_secs.unwrap_or(DEFAULT_CLOCK_SKEW_SECS);
    if skew > MAX_CLOCK_SKEW_SECS {
        return Err(Error::invalid(
            "clock_skew_secs",
            format!("must be at most {MAX_CLOCK_SKEW_SECS} seconds"),
        ));
    }
    Ok(OidcConnection {
        tenant_id: tenant_id.to_owned(),
        provider,
        issuer,
        client_id,
        client_secret,
        scopes,
        claims,
        jit_provisioning: input.jit_provisioning,
        clock_skew_secs: skew,
        updated_at: now,
    })
}

/// Validates (including the provider's discovery document) and stores the connection.
pub async fn save(
    store: &dyn Store,
    clock: &dyn Clock,
    providers: &Providers,
    tenant_id: &str,
    input: OidcConnectionInput,
    by: &ChangedBy,
) -> Result<OidcConnection> {
    if crate::saml::connection::get(store, tenant_id)
        .await?
        .is_some()
    {
        return Err(Error::Conflict(
            "this tenant already signs in with SAML; delete its SAML connection first (a tenant has one SSO connection)".into(),
        ));
    }
    let existing = get(store, tenant_id).await?;
    let connection = build(
        tenant_id,
        input,
        existing.as_ref(),
        providers.allow_http_loopback(),
        clock.now(),
    )?;
    let discovery = discovery_url_for(&connection.issuer);
    providers.forget(&discovery);
    providers
        .discover(&discovery, &IssuerRule::Exact(connection.issuer.clone()))
        .await
        .map_err(|e| Error::invalid("issuer", e.detail()))?;
    store
        .put(
            &keys::oidc_connection(tenant_id),
            &encode(&connection)?,
            None,
        )
        .await?;
    let summary = match &existing {
        Some(_) => "OIDC connection changed",
        None => "OIDC connection set up",
    };
    let event = ChangeEvent::new(clock.now(), tenant_id, by.clone(), Area::Oidc, summary)
        .details(describe_changes(existing.as_ref(), &connection));
    changes::record(store, &event).await;
    Ok(connection)
}

/// What differs between two versions of a connection, one line per setting; the client
/// secret only as "changed", never its value.
pub fn describe_changes(old: Option<&OidcConnection>, new: &OidcConnection) -> Vec<String> {
    let mut diff = Diff::default();
    diff.field("provider", old.map(|o| o.provider.id()), new.provider.id());
    diff.field("issuer", old.map(|o| o.issuer.as_str()), &new.issuer);
    diff.field(
        "client id",
        old.map(|o| o.client_id.as_str()),
        &new.client_id,
    );
    diff.field(
        "scopes",
        old.map(|o| o.scopes.join(" ")).as_deref(),
        &new.scopes.join(" "),
    );
    diff.field(
        "claims",
        old.map(|o| o.claims.describe()).as_deref(),
        &new.claims.describe(),
    );
    diff.switch(
        "just-in-time creation",
        old.map(|o| o.jit_provisioning),
        new.jit_provisioning,
    );
    if old.is_some_and(|o| o.client_secret != new.client_secret) {
        diff.line("client secret: changed");
    }
    diff.into_lines()
}

pub async fn get(store: &dyn Store, tenant_id: &str) -> Result<Option<OidcConnection>> {
    Ok(get_json(store, &keys::oidc_connection(tenant_id)).await?)
}

/// Removes the connection (recorded in the configuration log); false when there was none.
pub async fn delete(
    store: &dyn Store,
    clock: &dyn Clock,
    tenant_id: &str,
    by: &ChangedBy,
) -> Result<bool> {
    let removed = store.delete(&keys::oidc_connection(tenant_id)).await?;
    if removed {
        let event = ChangeEvent::new(
            clock.now(),
            tenant_id,
            by.clone(),
            Area::Oidc,
            "OIDC connection removed",
        );
        changes::record(store, &event).await;
    }
    Ok(removed)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn input() -> OidcConnectionInput {
        OidcConnectionInput {
            provider: Some(Preset::Okta),
            issuer: Some("https://acme.okta.example".into()),
            client_id: Some("0oa1".into()),
            client_secret: Some("s3cret".into()),
            ..Default::default()
        }
    }

    #[test]
    fn presets_fill_scopes_and_claims() {
        let c = build("tn", input(), None, false, OffsetDateTime::UNIX_EPOCH).unwrap();
        assert_eq!(c.scopes, ["openid", "email", "profile", "groups"]);
        assert_eq!(c.claims.groups.as_deref(), Some("groups"));
        let g = build(
            "tn",
            OidcConnectionInput {
                provider: Some(Preset::GoogleWorkspace),
                issuer: None,
                ..input()
            },
            None,
            false,
            OffsetDateTime::UNIX_EPOCH,
        )
        .unwrap();
        assert_eq!(g.issuer, "https://accounts.google.com");
        assert!(g.claims.groups.is_none());
    }

    #[test]
    fn the_secret_is_required_once_and_kept_after() {
        let first = build("tn", input(), None, false, OffsetDateTime::UNIX_EPOCH).unwrap();
        let again = OidcConnectionInput {
            client_secret: None,
            ..input()
        };
        let kept = build(
            "tn",
            again.clone(),
            Some(&first),
            false,
            OffsetDateTime::UNIX_EPOCH,
        )
        .unwrap();
        assert_eq!(kept.client_secret, "s3cret");
        let err = build("tn", again, None, false, OffsetDateTime::UNIX_EPOCH).unwrap_err();
        assert!(matches!(err, Error::Invalid { ref field, .. } if field == "client_secret"));
        let view = serde_json::to_string(&OidcConnectionView::from(&kept)).unwrap();
        assert!(!view.contains("s3cret"), "{view}");
    }

    #[test]
    fn issuers_must_be_https_and_single_directory() {
        for bad in [
            "http://acme.okta.example",
            "https://login.microsoftonline.com/common/v2.0",
            "https://login.microsoftonline.com/{tenantid}/v2.0",
            "https://acme.okta.example/?x=1",
        ] {
            let i = OidcConnectionInput {
                issuer: Some(bad.into()),
                ..input()
            };
            assert!(
                build("tn", i, None, false, OffsetDateTime::UNIX_EPOCH).is_err(),
                "{bad}"
            );
        }
        let loopback = OidcConnectionInput {
            issuer: Some("http://127.0.0.1:5555".into()),
            ..input()
        };
        assert!(build(
            "tn",
            loopback.clone(),
            None,
            false,
            OffsetDateTime::UNIX_EPOCH
        )
        .is_err());
        assert!(build("tn", loopback, None, true, OffsetDateTime::UNIX_EPOCH).is_ok());
    }
}
