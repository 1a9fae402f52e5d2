//! Periodic refresh of SAML connections imported from a metadata URL, so that an IdP's
//! certificate rollover (a new signing certificate published next to the old one, the old
//! one withdrawn later) reaches the gateway without an admin.
//!
//! What must hold:
//! - A refresh reads the document exactly as a save does: the SSRF-safe fetch
//!   ([`connection::fetch_document`], T29) and [`connection::build`], so metadata without a
//!   signing certificate (samael would then skip signature checks, T02), with an expired
//!   certificate or with a non-https SSO URL is refused — and the working connection is left
//!   untouched.
//! - Only the IdP's values move (entity ID, SSO URL, certificates); switches, attribute
//!   mapping, clock skew and return URL are carried over unchanged.
//! - Every applied change is recorded in the configuration log with its fingerprints; a
//!   failing URL is recorded once per failure streak, not at every interval.
//! - With several instances on one store, a lease (`put_if_absent` with a TTL of one
//!   interval) lets exactly one of them refresh a given connection per interval.

use std::ops::RangeInclusive;
use std::sync::Arc;
use std::time::Duration;

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use super::cert::read_metadata;
use super::connection::{self, SamlConnection, SamlConnectionInput};
use crate::audit::changes::{self, Area, ChangeEvent, ChangedBy};
use crate::clock::{Clock, SharedClock};
use crate::error::{Error, Result};
use crate::outbound::Policy;
use crate::store::{encode, get_json, keys, Store};

/// Allowed refresh intervals in seconds (0, outside this range, turns the refresh off).
pub const INTERVAL_BOUNDS_SECS: RangeInclusive<u64> = 300..=7 * 24 * 3600;

/// How the configuration log names the refresh.
pub const TASK: &str = "metadata refresh";

/// Index members read per round trip while walking the connections.
const PAGE: usize = 200;

/// What is known about a connection's metadata URL between refreshes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RefreshStatus {
    #[serde(with = "time::serde::rfc3339")]
    pub last_attempt_at: OffsetDateTime,
    /// The last time the document was fetched and accepted (changed or not).
    #[serde(default, with = "time::serde::rfc3339::option")]
    pub last_success_at: Option<OffsetDateTime>,
    /// While refreshes fail: when the current streak of failures began.
    #[serde(default, with = "time::serde::rfc3339::option")]
    pub failing_since: Option<OffsetDateTime>,
    /// Why the latest attempt failed; `None` once one succeeds.
    #[serde(default)]
    pub last_error: Option<String>,
}

/// What a refresh found, before anything is written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decision {
    Unchanged,
    /// The connection to store instead, and what differs (certificates by fingerprint).
    Changed {
        connection: Box<SamlConnection>,
        details: Vec<String>,
    },
    Failed {
        reason: String,
    },
}

/// What a refresh did.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "result", rename_all = "snake_case")]
pub enum Outcome {
    /// The IdP publishes what is configured; only the time of the refresh was noted.
    Unchanged,
    /// The IdP's new values were applied and recorded.
    Changed { details: Vec<String> },
    /// Nothing was changed; `recorded` when this failure began a streak and so was
    /// written to the configuration log.
    Failed { reason: String, recorded: bool },
    /// The connection was saved while the document was being fetched; nothing applied
    /// (the next refresh starts from the saved settings).
    Superseded,
}

/// Judges a fetched metadata document against the current connection. `fetched` is the
/// document or why it could not be fetched.
pub fn decide(
    current: &SamlConnection,
    fetched: std::result::Result<String, String>,
    now: OffsetDateTime,
) -> Decision {
    let failed = |reason: String| Decision::Failed { reason };
    let xml = match fetched {
        Ok(xml) => xml,
        Err(reason) => return failed(reason),
    };
    let metadata = match read_metadata(&xml) {
        Ok(m) => m,
        Err(e) => return failed(e.to_string()),
    };
    // The IdP's values come from the document (falling back to what is configured when it
    // leaves one out); everything the tenant chose is carried over.
    let input = SamlConnectionInput {
        provider: Some(current.provider),
        idp_entity_id: metadata
            .entity_id
            .or_else(|| Some(current.idp_entity_id.clone())),
        idp_sso_url: metadata
            .sso_redirect_url
            .or_else(|| Some(current.idp_sso_url.clone())),
        certificate: None,
        metadata_xml: Some(xml),
        metadata_url: current.metadata_url.clone(),
        attributes: Some(current.attributes.clone()),
        allow_idp_initiated: current.allow_idp_initiated,
        jit_provisioning: current.jit_provisioning,
        sign_authn_requests: current.sign_authn_requests,
        allow_sha1: current.allow_sha1,
        clock_skew_secs: Some(current.clock_skew_secs),
        default_return_url: current.default_return_url.clone(),
    };
    let fresh = match connection::build(&current.tenant_id, input, now) {
        Ok(c) => c,
        Err(Error::Invalid { message, .. }) => return failed(message),
        Err(other) => return failed(other.to_string()),
    };
    let details = connection::describe_changes(Some(current), &fresh);
    if details.is_empty() {
        Decision::Unchanged
    } else {
        Decision::Changed {
            connection: Box::new(fresh),
            details,
        }
    }
}

/// The status after an attempt (`failure` is its reason when it failed), and whether the
/// failure begins a new streak — only those are written to the configuration log.
pub fn next_status(
    previous: Option<&RefreshStatus>,
    failure: Option<&str>,
    now: OffsetDateTime,
) -> (RefreshStatus, bool) {
    let last_success_at = previous.and_then(|p| p.last_success_at);
    match failure {
        None => (
            RefreshStatus {
                last_attempt_at: now,
                last_success_at: Some(now),
                failing_since: None,
                last_error: None,
            },
            false,
        ),
        Some(reason) => {
            let ongoing = previous.and_then(|p| p.failing_since);
            (
                RefreshStatus {
                    last_attempt_at: now,
                    last_success_at,
                    failing_since: Some(ongoing.unwrap_or(now)),
                    last_error: Some(reason.chars().take(1000).collect()),
                },
                ongoing.is_none(),
            )
        }
    }
}

pub async fn status(store: &dyn Store, tenant_id: &str) -> Result<Option<RefreshStatus>> {
    Ok(get_json(store, &keys::saml_metadata_refresh(tenant_id)).await?)
}

/// Drops what the refresh knew about a tenant's connection (it was saved anew or removed).
pub async fn forget(store: &dyn Store, tenant_id: &str) -> Result<()> {
    store
        .delete(&keys::saml_metadata_refresh(tenant_id))
        .await?;
    store.delete(&keys::saml_metadata_lease(tenant_id)).await?;
    Ok(())
}

/// Refreshes the tenant's connection now (the console's button, the admin API).
pub async fn refresh_one(
    store: &dyn Store,
    clock: &dyn Clock,
    policy: Policy,
    tenant_id: &str,
) -> Result<Outcome> {
    let current = connection::get(store, tenant_id)
        .await?
        .ok_or(Error::NotFound("SAML connection"))?;
    if current.metadata_url.is_none() {
        return Err(Error::Conflict(
            "this SAML connection was not imported from a metadata URL; save it with the IdP's metadata URL to have it refreshed".into(),
        ));
    }
    refresh(store, clock, policy, current).await
}

async fn refresh(
    store: &dyn Store,
    clock: &dyn Clock,
    policy: Policy,
    current: SamlConnection,
) -> Result<Outcome> {
    let tenant_id = current.tenant_id.clone();
    let url = current.metadata_url.clone().unwrap_or_default();
    let fetched = connection::fetch_document(&url, policy)
        .await
        .map_err(|e| format!("the metadata URL could not be fetched: {e}"));
    let now = clock.now();
    let decision = decide(&current, fetched, now);
    let previous = status(store, &tenant_id).await?;
    let failure = match &decision {
        Decision::Failed { reason } => Some(reason.as_str()),
        _ => None,
    };
    let (next, new_streak) = next_status(previous.as_ref(), failure, now);
    let outcome = match decision {
        Decision::Unchanged => Outcome::Unchanged,
        Decision::Changed {
            connection: fresh,
            details,
        } => {
            // Settings an admin saved while the document was in flight win: never
            // overwrite them with values built from the older version.
            if connection::get(store, &tenant_id).await?.as_ref() != Some(&current) {
                return Ok(Outcome::Superseded);
            }
            connection::put(store, &fresh).await?;
            let event = ChangeEvent::new(
                now,
                &tenant_id,
                gateway(),
                Area::Saml,
                "SAML connection updated from the IdP's metadata URL",
            )
            .details(details.clone())
            .detail(format!("metadata URL: {url}"));
            changes::record(store, &event).await;
            Outcome::Changed { details }
        }
        Decision::Failed { reason } => {
            if new_streak {
                let event = ChangeEvent::new(
                    now,
                    &tenant_id,
                    gateway(),
                    Area::Saml,
                    "Metadata refresh failed; the working SAML settings were kept",
                )
                .detail(reason.clone())
                .detail(format!("metadata URL: {url}"))
                .not_applied();
                changes::record(store, &event).await;
            }
            tracing::warn!(tenant = %tenant_id, %url, %reason, "SAML metadata refresh failed");
            Outcome::Failed {
                reason,
                recorded: new_streak,
            }
        }
    };
    store
        .put(
            &keys::saml_metadata_refresh(&tenant_id),
            &encode(&next)?,
            None,
        )
        .await?;
    Ok(outcome)
}

fn gateway() -> ChangedBy {
    ChangedBy::Gateway { task: TASK.into() }
}

/// One pass over every connection with a metadata URL: each one whose lease this call
/// obtains (none was held, i.e. no instance refreshed it within `interval`) is refreshed.
/// Returns what was done, per tenant.
pub async fn refresh_due(
    store: &dyn Store,
    clock: &dyn Clock,
    policy: Policy,
    interval: Duration,
) -> Result<Vec<(String, Outcome)>> {
    let index = keys::saml_metadata_urls();
    let mut done = Vec::new();
    let mut stale = Vec::new();
    let mut offset = 0;
    loop {
        let page = store.index_page(index, offset, PAGE).await?;
        for tenant_id in &page {
            // The lease first: in steady state it is held, and this is the only round trip.
            let lease = keys::saml_metadata_lease(tenant_id);
            if !store.put_if_absent(&lease, b"1", Some(interval)).await? {
                continue;
            }
            let current = match connection::get(store, tenant_id).await? {
                Some(c) if c.metadata_url.is_some() => c,
                // Removed with its tenant (the tenant's deletion leaves the index alone).
                _ => {
                    stale.push(tenant_id.clone());
                    continue;
                }
            };
            match refresh(store, clock, policy, current).await {
                Ok(outcome) => done.push((tenant_id.clone(), outcome)),
                Err(e) => {
                    tracing::warn!(tenant = %tenant_id, error = %e, "SAML metadata refresh not completed")
                }
            }
        }
        if page.len() < PAGE {
            break;
        }
        offset += PAGE;
    }
    for tenant_id in stale {
        store.index_remove(index, &tenant_id).await?;
        forget(store, &tenant_id).await?;
    }
    Ok(done)
}

/// Adds to the refresh index every connection with a metadata URL that was saved before
/// the index existed (data from an older version). Runs once when the refresh starts; an
/// index member is idempotent, so several instances doing it at once is harmless.
pub async fn index_existing(store: &dyn Store) -> Result<usize> {
    let mut added = 0;
    let mut offset = 0;
    loop {
        let (tenants, total) = crate::tenant::repo::list(store, offset, PAGE).await?;
        for tenant in &tenants {
            if let Some(c) = connection::get(store, &tenant.id).await? {
                if c.metadata_url.is_some() {
                    store
                        .index_add(keys::saml_metadata_urls(), &tenant.id)
                        .await?;
                    added += 1;
                }
            }
        }
        offset += PAGE;
        if tenants.is_empty() || offset >= total {
            return Ok(added);
        }
    }
}

/// How often the background task looks for due connections: a fraction of the interval,
/// so a refresh is at most that late, within bounds.
fn tick(interval: Duration) -> Duration {
    (interval / 12).clamp(Duration::from_secs(30), Duration::from_secs(300))
}

/// Starts the background refresh (on the runtime serving requests). It holds the store
/// weakly, so it ends with the gateway; its first pass comes one tick after start.
pub fn spawn(store: &Arc<dyn Store>, clock: SharedClock, policy: Policy, interval: Duration) {
    let store = Arc::downgrade(store);
    tokio::spawn(async move {
        let mut ticks = tokio::time::interval(tick(interval));
        ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        ticks.tick().await;
        if let Some(store) = store.upgrade() {
            if let Err(e) = index_existing(&*store).await {
                tracing::warn!(error = %e, "SAML metadata URLs saved earlier not indexed");
            }
        }
        loop {
            ticks.tick().await;
            let Some(store) = store.upgrade() else { break };
            match refresh_due(&*store, &*clock, policy, interval).await {
                Ok(done) if !done.is_empty() => {
                    tracing::info!(count = done.len(), "SAML metadata URLs refreshed")
                }
                Ok(_) => {}
                Err(e) => tracing::warn!(error = %e, "SAML metadata refresh pass failed"),
            }
        }
    });
}

#[cfg(test)]
mod tests {
    use base64::engine::general_purpose::STANDARD;
    use base64::Engine;

    use super::*;
    use crate::saml::cert::tests::{cert, rsa};
    use crate::saml::connection::{AttributeMap, Provider};

    fn now() -> OffsetDateTime {
        OffsetDateTime::now_utc()
    }

    fn cert_b64(cn: &str) -> String {
        STANDARD.encode(cert(&rsa(2048), cn, -1, 90).to_der().unwrap())
    }

    fn metadata(entity: &str, sso: &str, certs: &[&str]) -> String {
        let keys: String = certs
            .iter()
            .map(|c| format!(r#"<md:KeyDescriptor use="signing"><ds:KeyInfo xmlns:ds="http://www.w3.org/2000/09/xmldsig#"><ds:X509Data><ds:X509Certificate>{c}</ds:X509Certificate></ds:X509Data></ds:KeyInfo></md:KeyDescriptor>"#))
            .collect();
        format!(
            r#"<md:EntityDescriptor xmlns:md="urn:oasis:names:tc:SAML:2.0:metadata" entityID="{entity}"><md:IDPSSODescriptor protocolSupportEnumeration="urn:oasis:names:tc:SAML:2.0:protocol">{keys}<md:SingleSignOnService Binding="urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Redirect" Location="{sso}"/></md:IDPSSODescriptor></md:EntityDescriptor>"#
        )
    }

    /// A connection as a save from `xml` leaves it, with the tenant's own choices set.
    fn connection(xml: &str) -> SamlConnection {
        let input = SamlConnectionInput {
            provider: Some(Provider::Okta),
            metadata_xml: Some(xml.to_owned()),
            metadata_url: Some("https://idp.example/metadata".into()),
            attributes: Some(AttributeMap {
                email: Some("mail".into()),
                ..AttributeMap::default()
            }),
            jit_provisioning: true,
            allow_idp_initiated: true,
            clock_skew_secs: Some(42),
            default_return_url: Some("https://app.example/".into()),
            ..SamlConnectionInput::default()
        };
        connection::build("tn_1", input, now()).unwrap()
    }

    const ENTITY: &str = "https://idp.example/entity";
    const SSO: &str = "https://idp.example/sso";

    #[test]
    fn the_same_document_is_unchanged() {
        let old = cert_b64("old");
        let xml = metadata(ENTITY, SSO, &[&old]);
        assert_eq!(
            decide(&connection(&xml), Ok(xml.clone()), now()),
            Decision::Unchanged
        );
    }

    #[test]
    fn a_rollover_adds_then_removes_certificates_and_keeps_the_tenants_settings() {
        let (old, new) = (cert_b64("old"), cert_b64("new"));
        let current = connection(&metadata(ENTITY, SSO, &[&old]));
        let Decision::Changed {
            connection: rolled,
            details,
        } = decide(&current, Ok(metadata(ENTITY, SSO, &[&old, &new])), now())
        else {
            panic!("a new certificate is a change")
        };
        assert_eq!(rolled.certificates.len(), 2);
        assert_eq!(details.len(), 1, "{details:?}");
        assert!(details[0].starts_with("certificate added: SHA-256 "));
        assert!(details[0].ends_with(&rolled.certificates[1].sha256_fingerprint));
        // Everything the tenant chose is kept.
        assert_eq!(rolled.attributes, current.attributes);
        assert_eq!(rolled.clock_skew_secs, 42);
        assert!(rolled.jit_provisioning && rolled.allow_idp_initiated);
        assert_eq!(rolled.default_return_url, current.default_return_url);
        assert_eq!(rolled.metadata_url, current.metadata_url);
        assert_eq!(rolled.provider, Provider::Okta);

        let Decision::Changed { details, .. } =
            decide(&rolled, Ok(metadata(ENTITY, SSO, &[&new])), now())
        else {
            panic!("a withdrawn certificate is a change")
        };
        assert_eq!(details.len(), 1, "{details:?}");
        assert!(details[0].starts_with("certificate removed: SHA-256 "));
    }

    #[test]
    fn new_idp_urls_are_changes() {
        let old = cert_b64("old");
        let current = connection(&metadata(ENTITY, SSO, &[&old]));
        let Decision::Changed { details, .. } = decide(
            &current,
            Ok(metadata(
                "https://idp.example/entity2",
                "https://idp.example/sso2",
                &[&old],
            )),
            now(),
        ) else {
            panic!("new entity ID and SSO URL are changes")
        };
        assert_eq!(
            details,
            [
                "IdP Entity ID: https://idp.example/entity → https://idp.example/entity2",
                "IdP SSO URL: https://idp.example/sso → https://idp.example/sso2"
            ]
        );
    }

    #[test]
    fn documents_a_save_would_refuse_are_failures() {
        let old = cert_b64("old");
        let current = connection(&metadata(ENTITY, SSO, &[&old]));
        let expired = STANDARD.encode(cert(&rsa(2048), "gone", -30, -1).to_der().unwrap());
        for (fetched, says) in [
            (
                Err("the metadata URL could not be fetched: HTTP 503".to_owned()),
                "HTTP 503",
            ),
            (
                Ok("<html>maintenance</html>".to_owned()),
                "could not be read",
            ),
            // T02: without a signing certificate samael would check no signature at all.
            (Ok(metadata(ENTITY, SSO, &[])), "use=\"signing\""),
            (Ok(metadata(ENTITY, SSO, &[&expired])), "expired"),
            (
                Ok(metadata(ENTITY, "http://idp.example/sso", &[&old])),
                "https",
            ),
        ] {
            match decide(&current, fetched, now()) {
                Decision::Failed { reason } => assert!(reason.contains(says), "{reason}"),
                other => panic!("{says}: {other:?}"),
            }
        }
    }

    #[test]
    fn failures_are_recorded_once_per_streak() {
        let t0 = now();
        let t = |mins: i64| t0 + time::Duration::minutes(mins);
        let (ok, logged) = next_status(None, None, t(0));
        assert!(!logged);
        assert_eq!(ok.last_success_at, Some(t(0)));
        let (failing, logged) = next_status(Some(&ok), Some("HTTP 503"), t(1));
        assert!(logged, "the first failure begins a streak");
        assert_eq!(failing.failing_since, Some(t(1)));
        assert_eq!(failing.last_success_at, Some(t(0)), "still known");
        let (still, logged) = next_status(Some(&failing), Some("timed out"), t(2));
        assert!(!logged, "the streak goes on: no second entry");
        assert_eq!(still.failing_since, Some(t(1)));
        assert_eq!(still.last_error.as_deref(), Some("timed out"));
        let (recovered, logged) = next_status(Some(&still), None, t(3));
        assert!(!logged);
        assert_eq!(recovered.failing_since, None);
        assert_eq!(recovered.last_error, None);
        let (_, logged) = next_status(Some(&recovered), Some("HTTP 404"), t(4));
        assert!(logged, "a new streak after a success is recorded again");
        let (first, logged) = next_status(None, Some("HTTP 404"), t(5));
        assert!(logged && first.last_success_at.is_none());
    }

    #[test]
    fn the_background_task_looks_often_enough() {
        assert_eq!(
            tick(Duration::from_secs(12 * 3600)),
            Duration::from_secs(300)
        );
        assert_eq!(tick(Duration::from_secs(300)), Duration::from_secs(30));
    }
}
