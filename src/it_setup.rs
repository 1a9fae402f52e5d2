//! Setup links for a customer's IT admin: the person who owns the IdP finishes the SSO and
//! provisioning setup of one tenant without an account of their own.
//!
//! Invariants:
//! - a link opens one tenant's SSO and provisioning pages and nothing else (no users, logs,
//!   domains, policy switches, or more links);
//! - it lives at most [`MAX_LIFETIME_HOURS`]; revocation and expiry take effect on the next
//!   request, because every request looks the link up again;
//! - the secret (256 random bits) is shown once and stored only as its SHA-256, found by
//!   that hash (like API keys: nothing to brute-force, one read per request).

use std::time::Duration;

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use crate::apikey::hash_secret;
use crate::audit::changes::{self, Area, ChangeEvent, ChangedBy};
use crate::clock::Clock;
use crate::error::{Error, Result};
use crate::random;
use crate::store::{encode, get_json, keys, Store};

/// Prefix of every link secret, so a leaked one is recognisable.
pub const SECRET_PREFIX: &str = "ghs_";
/// The longest a link may live: long enough for an IT admin's working week.
pub const MAX_LIFETIME_HOURS: u32 = 7 * 24;
/// Links per tenant, live or recently ended; a guard against runaway creation.
const MAX_LINKS_PER_TENANT: usize = 50;
/// Ended links stay in the admin's list this long, so "who had access" can be answered.
const KEEP_AFTER_END: Duration = Duration::from_secs(30 * 24 * 3600);

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ItSetupLink {
    pub id: String,
    pub tenant_id: String,
    /// Who it is for, e.g. "Jane (Acme IT)"; shown on the pages the link opens.
    pub label: String,
    /// The admin who created it.
    pub created_by: String,
    /// SHA-256 of the secret, lower-case hex. Never leaves the store.
    #[serde(default)]
    pub hash: String,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339")]
    pub expires_at: OffsetDateTime,
    #[serde(default, with = "time::serde::rfc3339::option")]
    pub revoked_at: Option<OffsetDateTime>,
    #[serde(default, with = "time::serde::rfc3339::option")]
    pub last_used_at: Option<OffsetDateTime>,
}

/// Where a link stands, for lists.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum LinkStatus {
    Active,
    Expired,
    Revoked,
}

impl LinkStatus {
    pub fn label(self) -> &'static str {
        match self {
            Self::Active => "active",
            Self::Expired => "expired",
            Self::Revoked => "revoked",
        }
    }
}

impl ItSetupLink {
    pub fn status(&self, now: OffsetDateTime) -> LinkStatus {
        if self.revoked_at.is_some() {
            LinkStatus::Revoked
        } else if now >= self.expires_at {
            LinkStatus::Expired
        } else {
            LinkStatus::Active
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewItSetupLink {
    pub label: String,
    /// 1 to 168 hours.
    pub lifetime_hours: u32,
}

fn validate(new: &NewItSetupLink) -> Result<String> {
    let label = new.label.trim();
    if label.is_empty() || label.chars().count() > 100 || label.chars().any(char::is_control) {
        return Err(Error::invalid(
            "label",
            "say who the link is for, in 1 to 100 characters",
        ));
    }
    if !(1..=MAX_LIFETIME_HOURS).contains(&new.lifetime_hours) {
        return Err(Error::invalid(
            "lifetime_hours",
            format!("must be between 1 and {MAX_LIFETIME_HOURS} hours (7 days)"),
        ));
    }
    Ok(label.to_owned())
}

fn remaining(until: OffsetDateTime, now: OffsetDateTime) -> Option<Duration> {
    let secs = (until - now).whole_seconds();
    u64::try_from(secs)
        .ok()
        .filter(|s| *s > 0)
        .map(Duration::from_secs)
}

/// Creates a link; returns it and the secret, which is never available again.
pub async fn create(
    store: &dyn Store,
    clock: &dyn Clock,
    tenant_id: &str,
    by: &ChangedBy,
    new: NewItSetupLink,
) -> Result<(ItSetupLink, String)> {
    let label = validate(&new)?;
    if store
        .index_len(&keys::tenant_it_setup_links(tenant_id))
        .await?
        >= MAX_LINKS_PER_TENANT
    {
        prune(store, tenant_id).await?;
        if store
            .index_len(&keys::tenant_it_setup_links(tenant_id))
            .await?
            >= MAX_LINKS_PER_TENANT
        {
            return Err(Error::Conflict(format!(
                "this organisation already has {MAX_LINKS_PER_TENANT} setup links; revoke unused ones first"
            )));
        }
    }
    let now = clock.now();
    let secret = format!("{SECRET_PREFIX}{}", random::token(32));
    let lifetime = Duration::from_secs(u64::from(new.lifetime_hours) * 3600);
    let link = ItSetupLink {
        id: random::id("isl"),
        tenant_id: tenant_id.to_owned(),
        label,
        created_by: by.describe(),
        hash: hash_secret(&secret),
        created_at: now,
        expires_at: now + lifetime,
        revoked_at: None,
        last_used_at: None,
    };
    store
        .put(
            &keys::it_setup_link(&link.id),
            &encode(&link)?,
            Some(lifetime + KEEP_AFTER_END),
        )
        .await?;
    store
        .index_add(&keys::tenant_it_setup_links(tenant_id), &link.id)
        .await?;
    // The lookup expires on its own with the link, so an expired secret opens nothing
    // even if nobody ever revokes it.
    if !store
        .put_if_absent(
            &keys::it_setup_hash(&link.hash),
            link.id.as_bytes(),
            Some(lifetime),
        )
        .await?
    {
        return Err(Error::Internal("setup link hash collision".into()));
    }
    let event = ChangeEvent::new(
        now,
        tenant_id,
        by.clone(),
        Area::SetupLinks,
        format!("setup link for \"{}\" created", link.label),
    )
    .detail(format!(
        "id {}, valid until {}",
        link.id,
        link.expires_at
            .replace_nanosecond(0)
            .unwrap_or(link.expires_at)
    ));
    changes::record(store, &event).await;
    Ok((link, secret))
}

pub async fn get(store: &dyn Store, link_id: &str) -> Result<Option<ItSetupLink>> {
    if link_id.len() > 64 {
        return Ok(None);
    }
    Ok(get_json(store, &keys::it_setup_link(link_id)).await?)
}

/// The tenant's links, newest first.
pub async fn list(store: &dyn Store, tenant_id: &str) -> Result<Vec<ItSetupLink>> {
    let ids = store
        .index_page(
            &keys::tenant_it_setup_links(tenant_id),
            0,
            MAX_LINKS_PER_TENANT * 2,
        )
        .await?;
    let mut out = Vec::with_capacity(ids.len());
    for id in ids {
        if let Some(link) = get(store, &id).await? {
            out.push(link);
        }
    }
    out.sort_by(|a, b| b.created_at.cmp(&a.created_at).then(a.id.cmp(&b.id)));
    Ok(out)
}

/// Drops index entries whose records have aged out.
async fn prune(store: &dyn Store, tenant_id: &str) -> Result<()> {
    let index = keys::tenant_it_setup_links(tenant_id);
    let ids = store
        .index_page(&index, 0, MAX_LINKS_PER_TENANT * 2)
        .await?;
    for id in ids {
        if get(store, &id).await?.is_none() {
            store.index_remove(&index, &id).await?;
        }
    }
    Ok(())
}

/// Revokes a link of `tenant_id`; another tenant's link is "not found".
pub async fn revoke(
    store: &dyn Store,
    clock: &dyn Clock,
    tenant_id: &str,
    link_id: &str,
    by: &ChangedBy,
) -> Result<ItSetupLink> {
    let mut link = get(store, link_id)
        .await?
        .filter(|l| l.tenant_id == tenant_id)
        .ok_or(Error::NotFound("setup link"))?;
    // The lookup goes first: from this moment the secret opens nothing.
    store.delete(&keys::it_setup_hash(&link.hash)).await?;
    if link.revoked_at.is_none() {
        let now = clock.now();
        link.revoked_at = Some(now);
        store
            .put(
                &keys::it_setup_link(&link.id),
                &encode(&link)?,
                Some(KEEP_AFTER_END),
            )
            .await?;
        let event = ChangeEvent::new(
            now,
            tenant_id,
            by.clone(),
            Area::SetupLinks,
            format!("setup link for \"{}\" revoked", link.label),
        )
        .detail(format!("id {}", link.id));
        changes::record(store, &event).await;
    }
    Ok(link)
}

/// Deletes every link of a tenant (tenant deletion).
pub async fn delete_all_in_tenant(store: &dyn Store, tenant_id: &str) -> Result<()> {
    let index = keys::tenant_it_setup_links(tenant_id);
    loop {
        let ids = store.index_page(&index, 0, 200).await?;
        if ids.is_empty() {
            return Ok(());
        }
        for id in ids {
            if let Some(link) = get(store, &id).await? {
                store.delete(&keys::it_setup_hash(&link.hash)).await?;
            }
            store.delete(&keys::it_setup_link(&id)).await?;
            store.index_remove(&index, &id).await?;
        }
    }
}

/// The live link a presented secret belongs to; `None` for anything else (unknown,
/// revoked, expired, malformed), which callers answer all the same way.
pub async fn resolve(
    store: &dyn Store,
    clock: &dyn Clock,
    secret: &str,
) -> Result<Option<ItSetupLink>> {
    if !secret.starts_with(SECRET_PREFIX) || secret.len() > 100 {
        return Ok(None);
    }
    let Some(id) = store
        .get(&keys::it_setup_hash(&hash_secret(secret)))
        .await?
    else {
        return Ok(None);
    };
    let Ok(id) = String::from_utf8(id) else {
        return Ok(None);
    };
    let now = clock.now();
    let Some(mut link) = get(store, &id).await? else {
        return Ok(None);
    };
    if link.status(now) != LinkStatus::Active {
        return Ok(None);
    }
    // "Last used" is for the admin's list; once a minute is precise enough.
    let stale = link
        .last_used_at
        .is_none_or(|t| (now - t).whole_seconds() >= 60);
    if stale {
        link.last_used_at = Some(now);
        if let Some(ttl) = remaining(link.expires_at, now) {
            store
                .put(
                    &keys::it_setup_link(&link.id),
                    &encode(&link)?,
                    Some(ttl + KEEP_AFTER_END),
                )
                .await?;
        }
    }
    Ok(Some(link))
}

/// The page a link's holder lands on (and goes back to): the SSO page of the protocol the
/// tenant uses, SAML when it has none yet.
pub async fn landing_path(store: &dyn Store, tenant_id: &str) -> Result<String> {
    let page = match crate::oidc::connection::get(store, tenant_id).await? {
        Some(_) => "oidc",
        None => "saml",
    };
    Ok(format!("/admin/tenants/{tenant_id}/{page}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn new(label: &str, hours: u32) -> NewItSetupLink {
        NewItSetupLink {
            label: label.into(),
            lifetime_hours: hours,
        }
    }

    #[test]
    fn lifetime_is_one_hour_to_seven_days() {
        assert!(validate(&new("Jane", 1)).is_ok());
        assert!(validate(&new("Jane", 168)).is_ok());
        assert!(validate(&new("Jane", 0)).is_err());
        assert!(validate(&new("Jane", 169)).is_err());
    }

    #[test]
    fn a_link_needs_a_label_without_control_characters() {
        assert!(validate(&new("  ", 24)).is_err());
        assert!(validate(&new("Jane\n", 24)).is_ok(), "trimmed");
        assert!(validate(&new("Ja\u{7}ne", 24)).is_err());
        assert!(validate(&new(&"x".repeat(101), 24)).is_err());
    }

    #[test]
    fn status_follows_revocation_then_expiry() {
        let now = OffsetDateTime::now_utc();
        let mut link = ItSetupLink {
            id: "isl_1".into(),
            tenant_id: "tn_1".into(),
            label: "Jane".into(),
            created_by: "admin@a.test".into(),
            hash: String::new(),
            created_at: now,
            expires_at: now + time::Duration::hours(1),
            revoked_at: None,
            last_used_at: None,
        };
        assert_eq!(link.status(now), LinkStatus::Active);
        assert_eq!(
            link.status(now + time::Duration::hours(1)),
            LinkStatus::Expired
        );
        link.revoked_at = Some(now);
        assert_eq!(link.status(now), LinkStatus::Revoked);
    }
}
