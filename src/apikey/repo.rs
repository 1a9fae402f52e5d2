//! API key persistence: the record under `api_key:{id}`, a lookup from the secret's hash to
//! the id, and a per-tenant index for the admin's list.

use std::sync::{Arc, OnceLock};

use dashmap::DashMap;
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use super::scope_list;
use super::{generate_secret, hash_secret, ApiKey, Scope};
use crate::audit::changes::{self, Area, ChangeEvent, ChangedBy};
use crate::clock::Clock;
use crate::error::{Error, Result};
use crate::random;
use crate::store::{encode, get_json, keys, Store};

/// Keys per tenant; enough for rotation with overlap across several IdPs.
const MAX_KEYS_PER_TENANT: usize = 100;

/// "Last used" is written at most this often per key, so SCIM traffic does not turn every
/// request into a write.
const LAST_USED_GRANULARITY_SECS: i64 = 60;

/// What the hash lookup holds: everything a request needs, so authenticating is one read.
/// It exists exactly while the key is live (revocation deletes it).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LiveKey {
    pub id: String,
    pub tenant_id: String,
    pub label: String,
    pub scopes: Vec<Scope>,
}

impl LiveKey {
    pub fn has_scope(&self, scope: Scope) -> bool {
        self.scopes.contains(&scope)
    }
}

/// When this process last recorded each key's use (unix seconds). Process-wide because it
/// only throttles writes: losing or sharing it changes how often "last used" is written,
/// never who is let in.
fn last_touch() -> &'static DashMap<String, i64> {
    static MAP: OnceLock<DashMap<String, i64>> = OnceLock::new();
    MAP.get_or_init(DashMap::new)
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewApiKey {
    pub label: String,
    #[serde(default = "default_scopes")]
    pub scopes: Vec<Scope>,
}

fn default_scopes() -> Vec<Scope> {
    vec![Scope::Scim]
}

fn validate_label(label: &str) -> Result<String> {
    let label = label.trim();
    if label.is_empty() || label.chars().count() > 100 || label.chars().any(char::is_control) {
        return Err(Error::invalid(
            "label",
            "must be 1 to 100 characters without control characters",
        ));
    }
    Ok(label.to_owned())
}

/// Creates a key; returns the record and the secret, which is never available again.
pub async fn create(
    store: &dyn Store,
    clock: &dyn Clock,
    tenant_id: &str,
    new: NewApiKey,
    by: &ChangedBy,
) -> Result<(ApiKey, String)> {
    let label = validate_label(&new.label)?;
    if new.scopes.is_empty() {
        return Err(Error::invalid(
            "scopes",
            "name at least one scope (scim, admin)",
        ));
    }
    let mut scopes = new.scopes;
    scopes.sort_by_key(|s| *s as u8);
    scopes.dedup();
    if store.index_len(&keys::tenant_api_keys(tenant_id)).await? >= MAX_KEYS_PER_TENANT {
        return Err(Error::Conflict(format!(
            "this tenant already has {MAX_KEYS_PER_TENANT} API keys; revoke unused ones first"
        )));
    }
    let secret = generate_secret();
    let key = ApiKey {
        id: random::id("ak"),
        tenant_id: tenant_id.to_owned(),
        label,
        scopes,
        hash: hash_secret(&secret),
        created_at: clock.now(),
        last_used_at: None,
        revoked_at: None,
    };
    // Record first, lookup last: a key is usable only once everything about it is stored.
    store
        .put(&keys::api_key(&key.id), &encode(&key)?, None)
        .await?;
    store
        .index_add(&keys::tenant_api_keys(tenant_id), &key.id)
        .await?;
    let live = LiveKey {
        id: key.id.clone(),
        tenant_id: key.tenant_id.clone(),
        label: key.label.clone(),
        scopes: key.scopes.clone(),
    };
    if !store
        .put_if_absent(&keys::api_key_hash(&key.hash), &encode(&live)?, None)
        .await?
    {
        // 256 random bits collided: practically impossible, but never share a lookup.
        return Err(Error::Internal("API key hash collision".into()));
    }
    let event = ChangeEvent::new(
        key.created_at,
        tenant_id,
        by.clone(),
        Area::ApiKeys,
        format!("API key \"{}\" created", key.label),
    )
    .detail(format!("id {}, scopes {}", key.id, scope_list(&key.scopes)));
    changes::record(store, &event).await;
    Ok((key, secret))
}

pub async fn get(store: &dyn Store, key_id: &str) -> Result<Option<ApiKey>> {
    Ok(get_json(store, &keys::api_key(key_id)).await?)
}

/// The tenant's keys, oldest id first (ids are random, so effectively unordered).
pub async fn list(store: &dyn Store, tenant_id: &str) -> Result<Vec<ApiKey>> {
    let ids = store
        .index_page(
            &keys::tenant_api_keys(tenant_id),
            0,
            MAX_KEYS_PER_TENANT * 2,
        )
        .await?;
    let mut out = Vec::with_capacity(ids.len());
    for id in ids {
        if let Some(k) = get(store, &id).await? {
            out.push(k);
        }
    }
    out.sort_by(|a, b| a.created_at.cmp(&b.created_at).then(a.id.cmp(&b.id)));
    Ok(out)
}

/// Revokes a key of `tenant_id`; a key of another tenant is "not found".
pub async fn revoke(
    store: &dyn Store,
    clock: &dyn Clock,
    tenant_id: &str,
    key_id: &str,
    by: &ChangedBy,
) -> Result<ApiKey> {
    let mut key = get(store, key_id)
        .await?
        .filter(|k| k.tenant_id == tenant_id)
        .ok_or(Error::NotFound("API key"))?;
    // The lookup goes first: from this moment the secret opens nothing.
    store.delete(&keys::api_key_hash(&key.hash)).await?;
    if key.revoked_at.is_none() {
        key.revoked_at = Some(clock.now());
        store
            .put(&keys::api_key(&key.id), &encode(&key)?, None)
            .await?;
        let event = ChangeEvent::new(
            clock.now(),
            tenant_id,
            by.clone(),
            Area::ApiKeys,
            format!("API key \"{}\" revoked", key.label),
        )
        .detail(format!("id {}", key.id));
        changes::record(store, &event).await;
    }
    Ok(key)
}

/// Deletes every key of a tenant (tenant deletion).
pub async fn delete_all_in_tenant(store: &dyn Store, tenant_id: &str) -> Result<()> {
    let index = keys::tenant_api_keys(tenant_id);
    loop {
        let ids = store.index_page(&index, 0, 200).await?;
        if ids.is_empty() {
            return Ok(());
        }
        for id in ids {
            if let Some(k) = get(store, &id).await? {
                store.delete(&keys::api_key_hash(&k.hash)).await?;
            }
            store.delete(&keys::api_key(&id)).await?;
            store.index_remove(&index, &id).await?;
        }
    }
}

/// The live key a presented secret belongs to, or `None` for anything else (unknown,
/// revoked, malformed) — callers answer every `None` the same way. One store read: the
/// lookup by the secret's hash.
pub async fn authenticate(
    store: Arc<dyn Store>,
    clock: &dyn Clock,
    secret: &str,
) -> Result<Option<LiveKey>> {
    if !secret.starts_with(super::KEY_PREFIX) || secret.len() > 200 {
        return Ok(None);
    }
    let Some(live) =
        get_json::<LiveKey>(&*store, &keys::api_key_hash(&hash_secret(secret))).await?
    else {
        return Ok(None);
    };
    let now = clock.unix();
    let due = last_touch()
        .get(&live.id)
        .is_none_or(|t| now - *t >= LAST_USED_GRANULARITY_SECS);
    if due {
        last_touch().insert(live.id.clone(), now);
        touch(store, live.id.clone(), clock.now());
    }
    Ok(Some(live))
}

/// Records use off the request path; a revocation that raced it stays a revocation.
fn touch(store: Arc<dyn Store>, key_id: String, at: OffsetDateTime) {
    tokio::spawn(async move {
        let k = keys::api_key(&key_id);
        let current: Option<ApiKey> = match get_json(&*store, &k).await {
            Ok(c) => c,
            Err(e) => {
                tracing::debug!(error = %e, "API key last-used update skipped");
                return;
            }
        };
        if let Some(mut key) = current.filter(|c| c.revoked_at.is_none()) {
            key.last_used_at = Some(at);
            if let Ok(bytes) = encode(&key) {
                if let Err(e) = store.put(&k, &bytes, None).await {
                    tracing::debug!(error = %e, "API key last-used update skipped");
                }
            }
        }
    });
}
