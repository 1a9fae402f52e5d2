//! Tenant persistence: create, read, update, delete, with domain claims kept consistent.

use std::collections::BTreeSet;

use serde::Deserialize;

use super::domain::normalize_domain;
use super::Tenant;
use crate::audit::changes::{self, Area, ChangeEvent, ChangedBy};
use crate::clock::Clock;
use crate::error::{Error, Result};
use crate::random;
use crate::store::{encode, get_json, keys, Store};

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewTenant {
    pub name: String,
    pub primary_domain: String,
    #[serde(default)]
    pub secondary_domains: Vec<String>,
    #[serde(default)]
    pub sso_only: bool,
}

/// A partial update: absent fields keep their value.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TenantUpdate {
    pub name: Option<String>,
    pub primary_domain: Option<String>,
    pub secondary_domains: Option<Vec<String>>,
    pub sso_only: Option<bool>,
}

fn validate_name(name: &str) -> Result<String> {
    let name = name.trim();
    if name.is_empty() || name.chars().count() > 200 {
        return Err(Error::invalid("name", "must be 1 to 200 characters"));
    }
    if name.chars().any(char::is_control) {
        return Err(Error::invalid(
            "name",
            "must not contain control characters",
        ));
    }
    Ok(name.to_owned())
}

/// Normalizes primary + secondary domains; the primary is never repeated as a secondary.
fn normalize_domains(primary: &str, secondary: &[String]) -> Result<(String, Vec<String>)> {
    let primary =
        normalize_domain(primary).map_err(|e| Error::invalid("primary_domain", e.to_string()))?;
    let mut seen = BTreeSet::new();
    let mut out = Vec::new();
    for (i, d) in secondary.iter().enumerate() {
        let d = normalize_domain(d)
            .map_err(|e| Error::invalid(&format!("secondary_domains[{i}]"), e.to_string()))?;
        if d != primary && seen.insert(d.clone()) {
            out.push(d);
        }
    }
    Ok((primary, out))
}

/// Claims `domain` for `tenant_id`. A claim left behind by a tenant whose record no longer
/// exists (a crash between deleting claims and record) is taken over rather than blocking
/// the domain forever. Safe because `create` writes the record before claiming.
pub(super) async fn claim_domain(store: &dyn Store, domain: &str, tenant_id: &str) -> Result<()> {
    let key = keys::domain(domain);
    for _ in 0..2 {
        if store
            .put_if_absent(&key, tenant_id.as_bytes(), None)
            .await?
        {
            return Ok(());
        }
        let Some(owner) = store.get(&key).await? else {
            continue;
        };
        if owner == tenant_id.as_bytes() {
            return Ok(());
        }
        let owner_id = String::from_utf8_lossy(&owner).into_owned();
        if store.get(&keys::tenant(&owner_id)).await?.is_some() {
            return Err(Error::Conflict(format!(
                "domain {domain} already belongs to another tenant"
            )));
        }
        store.delete_if_equals(&key, &owner).await?;
    }
    Err(Error::Conflict(format!(
        "domain {domain} is being claimed concurrently; retry"
    )))
}

pub(super) async fn release_domain(store: &dyn Store, domain: &str, tenant_id: &str) -> Result<()> {
    store
        .delete_if_equals(&keys::domain(domain), tenant_id.as_bytes())
        .await?;
    Ok(())
}

/// Claims all `domains` or none: on a conflict the ones already claimed are released.
async fn claim_all(store: &dyn Store, domains: &[&str], tenant_id: &str) -> Result<()> {
    for (i, d) in domains.iter().enumerate() {
        if let Err(e) = claim_domain(store, d, tenant_id).await {
            for done in &domains[..i] {
                release_domain(store, done, tenant_id).await?;
            }
            return Err(e);
        }
    }
    Ok(())
}

pub async fn create(store: &dyn Store, clock: &dyn Clock, new: NewTenant) -> Result<Tenant> {
    let name = validate_name(&new.name)?;
    let (primary, secondary) = normalize_domains(&new.primary_domain, &new.secondary_domains)?;
    let now = clock.now();
    let tenant = Tenant {
        id: random::id("tn"),
        name,
        primary_domain: primary,
        secondary_domains: secondary,
        sso_only: new.sso_only,
        pending_domains: Vec::new(),
        domain_verifications: Default::default(),
        created_at: now,
        updated_at: now,
    };
    // The record is written before the claims: a claim whose tenant record is missing is
    // then known to be stale (see `claim_domain`), never a create still in progress.
    let key = keys::tenant(&tenant.id);
    store.put(&key, &encode(&tenant)?, None).await?;
    let domains: Vec<&str> = tenant.domains().collect();
    if let Err(e) = claim_all(store, &domains, &tenant.id).await {
        store.delete(&key).await?;
        return Err(e);
    }
    store.index_add(keys::tenants(), &tenant.id).await?;
    Ok(tenant)
}

/// An operator adds an organisation (console or admin API): [`create`], recorded in the
/// configuration log. The operator vouches for the domains, so they are verified at once.
pub async fn add_by_admin(
    store: &dyn Store,
    clock: &dyn Clock,
    new: NewTenant,
    by: &ChangedBy,
) -> Result<Tenant> {
    let tenant = create(store, clock, new).await?;
    let event = ChangeEvent::new(
        tenant.created_at,
        &tenant.id,
        by.clone(),
        Area::Organisation,
        format!("organisation \"{}\" created", tenant.name),
    )
    .details(tenant.domains().map(|d| format!("domain: {d}")).collect());
    changes::record(store, &event).await;
    Ok(tenant)
}

pub async fn get(store: &dyn Store, id: &str) -> Result<Option<Tenant>> {
    Ok(get_json(store, &keys::tenant(id)).await?)
}

pub async fn require(store: &dyn Store, id: &str) -> Result<Tenant> {
    get(store, id).await?.ok_or(Error::NotFound("tenant"))
}

/// The tenant owning `domain` (already normalized), in two reads.
pub async fn by_domain(store: &dyn Store, domain: &str) -> Result<Option<Tenant>> {
    let Some(owner) = store.get(&keys::domain(domain)).await? else {
        return Ok(None);
    };
    get(store, &String::from_utf8_lossy(&owner)).await
}

pub async fn list(store: &dyn Store, offset: usize, limit: usize) -> Result<(Vec<Tenant>, usize)> {
    let total = store.index_len(keys::tenants()).await?;
    let ids = store.index_page(keys::tenants(), offset, limit).await?;
    let mut out = Vec::with_capacity(ids.len());
    for id in ids {
        if let Some(t) = get(store, &id).await? {
            out.push(t);
        }
    }
    Ok((out, total))
}

/// Applies `change` and records in the configuration log what it changed (name, domains,
/// SSO-only), each under its own area.
pub async fn update(
    store: &dyn Store,
    clock: &dyn Clock,
    id: &str,
    change: TenantUpdate,
    by: &ChangedBy,
) -> Result<Tenant> {
    let mut tenant = require(store, id).await?;
    let before = tenant.clone();
    if let Some(name) = &change.name {
        tenant.name = validate_name(name)?;
    }
    if let Some(sso_only) = change.sso_only {
        tenant.sso_only = sso_only;
    }
    if change.primary_domain.is_some() || change.secondary_domains.is_some() {
        let primary = change
            .primary_domain
            .as_deref()
            .unwrap_or(&tenant.primary_domain);
        let secondary = change
            .secondary_domains
            .as_deref()
            .unwrap_or(&tenant.secondary_domains);
        let (primary, secondary) = normalize_domains(primary, secondary)?;
        let old: BTreeSet<String> = tenant.domains().map(str::to_owned).collect();
        let new: BTreeSet<String> = std::iter::once(primary.clone())
            .chain(secondary.iter().cloned())
            .collect();
        let added: Vec<&str> = new.difference(&old).map(String::as_str).collect();
        claim_all(store, &added, &tenant.id).await?;
        for dropped in old.difference(&new) {
            release_domain(store, dropped, &tenant.id).await?;
        }
        // A pending domain listed here is now verified (an operator's word); a dropped
        // domain's verification record goes with it.
        tenant.pending_domains.retain(|p| !new.contains(&p.domain));
        tenant.domain_verifications.retain(|d, _| new.contains(d));
        tenant.primary_domain = primary;
        tenant.secondary_domains = secondary;
    }
    tenant.updated_at = clock.now();
    store
        .put(&keys::tenant(&tenant.id), &encode(&tenant)?, None)
        .await?;
    for event in describe_update(&before, &tenant, by, tenant.updated_at) {
        changes::record(store, &event).await;
    }
    Ok(tenant)
}

/// The configuration-log entries for a tenant update: one per area that changed.
fn describe_update(
    before: &Tenant,
    after: &Tenant,
    by: &ChangedBy,
    at: time::OffsetDateTime,
) -> Vec<ChangeEvent> {
    let mut out = Vec::new();
    let event = |area, summary: String| ChangeEvent::new(at, &after.id, by.clone(), area, summary);
    if before.name != after.name {
        out.push(event(
            Area::Organisation,
            format!("renamed from \"{}\" to \"{}\"", before.name, after.name),
        ));
    }
    if before.sso_only != after.sso_only {
        let summary = if after.sso_only {
            "SSO-only switched on: password and global Google/Microsoft sign-in refused"
        } else {
            "SSO-only switched off: every sign-in method allowed"
        };
        out.push(event(Area::Policy, summary.to_owned()));
    }
    let old: BTreeSet<&str> = before.domains().collect();
    let new: BTreeSet<&str> = after.domains().collect();
    let mut lines = Vec::new();
    if before.primary_domain != after.primary_domain {
        lines.push(format!(
            "primary domain: {} → {}",
            before.primary_domain, after.primary_domain
        ));
    }
    lines.extend(new.difference(&old).map(|d| format!("added: {d}")));
    lines.extend(old.difference(&new).map(|d| format!("removed: {d}")));
    if !lines.is_empty() {
        out.push(event(Area::Domains, "domains changed".to_owned()).details(lines));
    }
    out
}

/// Deletes the tenant, its users and their sessions, and frees its domains.
pub async fn delete(store: &dyn Store, id: &str) -> Result<()> {
    let tenant = require(store, id).await?;
    crate::scim::purge_tenant(store, &tenant.id).await?;
    crate::user::repo::delete_all_in_tenant(store, &tenant.id).await?;
    crate::it_setup::delete_all_in_tenant(store, &tenant.id).await?;
    for d in tenant.domains() {
        release_domain(store, d, &tenant.id).await?;
    }
    store.delete(&keys::saml_connection(&tenant.id)).await?;
    store.index_remove(keys::tenants(), &tenant.id).await?;
    store.delete(&keys::tenant(&tenant.id)).await?;
    Ok(())
}

/// Creates or updates the tenants declared in the configuration (matched by primary
/// domain). The file adds and raises, it never takes away: declared domains are added but
/// domains added since (console, admin API, DNS proof) are kept, and `sso_only = true`
/// switches the policy on but `false` does not switch off what an admin switched on — a
/// restart must never weaken a tenant's sign-in policy or lose a verified domain.
pub async fn upsert_declared(
    store: &dyn Store,
    clock: &dyn Clock,
    declared: &[crate::config::TenantConfig],
) -> Result<usize> {
    for t in declared {
        let primary = normalize_domain(&t.primary_domain)
            .map_err(|e| Error::invalid("primary_domain", e.to_string()))?;
        match by_domain(store, &primary).await? {
            Some(existing) => {
                let mut secondary = existing.secondary_domains.clone();
                secondary.extend(t.secondary_domains.iter().cloned());
                update(
                    store,
                    clock,
                    &existing.id,
                    TenantUpdate {
                        name: Some(t.name.clone()),
                        primary_domain: Some(primary),
                        secondary_domains: Some(secondary),
                        sso_only: Some(existing.sso_only || t.sso_only),
                    },
                    &ChangedBy::Gateway {
                        task: "configuration file".into(),
                    },
                )
                .await?;
            }
            None => {
                create(
                    store,
                    clock,
                    NewTenant {
                        name: t.name.clone(),
                        primary_domain: primary,
                        secondary_domains: t.secondary_domains.clone(),
                        sso_only: t.sso_only,
                    },
                )
                .await?;
            }
        }
    }
    Ok(declared.len())
}
