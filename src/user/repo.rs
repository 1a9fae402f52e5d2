//! User persistence. Lookups by id and by email are single reads; a tenant's users are
//! an ordered index for paging.

use serde::Deserialize;

use super::{normalize_email, password, Role, User, UserStatus};
use crate::audit::changes::{self, Area, ChangeEvent, ChangedBy, Diff};
use crate::clock::Clock;
use crate::error::{Error, Result};
use crate::random;
use crate::session;
use crate::store::{encode, get_json, keys, Store};
use crate::tenant::Tenant;

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewUser {
    pub email: String,
    #[serde(default)]
    pub password: Option<String>,
    #[serde(default)]
    pub display_name: Option<String>,
    #[serde(default)]
    pub groups: Vec<String>,
    #[serde(default)]
    pub role: Role,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UserUpdate {
    pub display_name: Option<String>,
    pub groups: Option<Vec<String>>,
    pub status: Option<UserStatus>,
    pub password: Option<String>,
    pub role: Option<Role>,
}

fn validate_groups(groups: &[String]) -> Result<Vec<String>> {
    let mut out: Vec<String> = Vec::new();
    for (i, g) in groups.iter().enumerate() {
        let g = g.trim();
        // Groups travel in a comma-separated header: no commas, no control characters.
        if g.is_empty() || g.len() > 256 || g.contains(',') || g.chars().any(char::is_control) {
            return Err(Error::invalid(
                &format!("groups[{i}]"),
                "must be 1 to 256 characters without commas or control characters",
            ));
        }
        if !out.iter().any(|x| x == g) {
            out.push(g.to_owned());
        }
    }
    Ok(out)
}

fn validate_display_name(name: Option<&str>) -> Result<Option<String>> {
    match name.map(str::trim) {
        None | Some("") => Ok(None),
        Some(n) if n.chars().count() > 200 || n.chars().any(char::is_control) => {
            Err(Error::invalid(
                "display_name",
                "must be at most 200 characters without control characters",
            ))
        }
        Some(n) => Ok(Some(n.to_owned())),
    }
}

async fn hash_off_thread(pw: String) -> Result<String> {
    tokio::task::spawn_blocking(move || password::hash(&pw))
        .await
        .map_err(|e| Error::Internal(format!("hash task: {e}")))?
}

/// Checks that `email` is well formed and inside the tenant's domains.
pub fn email_for_tenant(tenant: &Tenant, email: &str) -> Result<String> {
    let (email, domain) = normalize_email(email).map_err(|m| Error::invalid("email", m))?;
    if tenant.pending(&domain).is_some() {
        return Err(Error::invalid(
            "email",
            format!(
                "domain {domain} is not verified yet; publish its DNS TXT record and check it on the Domains page first"
            ),
        ));
    }
    if !tenant.owns_domain(&domain) {
        return Err(Error::invalid(
            "email",
            format!(
                "domain {domain} is not one of this tenant's domains; add it as a secondary domain first"
            ),
        ));
    }
    Ok(email)
}

pub async fn create(
    store: &dyn Store,
    clock: &dyn Clock,
    tenant: &Tenant,
    new: NewUser,
) -> Result<User> {
    let email = email_for_tenant(tenant, &new.email)?;
    let groups = validate_groups(&new.groups)?;
    let display_name = validate_display_name(new.display_name.as_deref())?;
    let password_hash = match new.password {
        Some(pw) => {
            password::validate_new(&pw)?;
            Some(hash_off_thread(pw).await?)
        }
        None => None,
    };
    let now = clock.now();
    let user = User {
        id: random::id("us"),
        tenant_id: tenant.id.clone(),
        email,
        display_name,
        groups,
        status: UserStatus::Active,
        password_hash,
        created_at: now,
        updated_at: now,
        role: new.role,
    };
    if !store
        .put_if_absent(&keys::user_email(&user.email), user.id.as_bytes(), None)
        .await?
    {
        return Err(Error::Conflict(format!(
            "a user with email {} already exists",
            user.email
        )));
    }
    store
        .put(&keys::user(&user.id), &encode(&user)?, None)
        .await?;
    store
        .index_add(&keys::tenant_users(&tenant.id), &user.id)
        .await?;
    Ok(user)
}

pub async fn get(store: &dyn Store, id: &str) -> Result<Option<User>> {
    Ok(get_json(store, &keys::user(id)).await?)
}

/// The user `id` if it belongs to `tenant_id` — a user of another tenant is "not found".
pub async fn require_in_tenant(store: &dyn Store, tenant_id: &str, id: &str) -> Result<User> {
    get(store, id)
        .await?
        .filter(|u| u.tenant_id == tenant_id)
        .ok_or(Error::NotFound("user"))
}

/// Looks up by (already normalized) email.
pub async fn by_email(store: &dyn Store, email: &str) -> Result<Option<User>> {
    let Some(id) = store.get(&keys::user_email(email)).await? else {
        return Ok(None);
    };
    get(store, &String::from_utf8_lossy(&id)).await
}

pub async fn list(
    store: &dyn Store,
    tenant_id: &str,
    offset: usize,
    limit: usize,
) -> Result<(Vec<User>, usize)> {
    let index = keys::tenant_users(tenant_id);
    let total = store.index_len(&index).await?;
    let mut out = Vec::new();
    for id in store.index_page(&index, offset, limit).await? {
        if let Some(u) = get(store, &id).await? {
            out.push(u);
        }
    }
    Ok((out, total))
}

/// Applies `change`. A new password or a status other than active ends every session of
/// the user at once.
pub async fn update(
    store: &dyn Store,
    clock: &dyn Clock,
    tenant_id: &str,
    id: &str,
    change: UserUpdate,
) -> Result<User> {
    let mut user = require_in_tenant(store, tenant_id, id).await?;
    let mut end_sessions = false;
    if let Some(name) = change.display_name.as_deref() {
        user.display_name = validate_display_name(Some(name))?;
    }
    if let Some(groups) = &change.groups {
        user.groups = validate_groups(groups)?;
    }
    if let Some(pw) = change.password {
        password::validate_new(&pw)?;
        user.password_hash = Some(hash_off_thread(pw).await?);
        end_sessions = true;
    }
    if let Some(role) = change.role {
        user.role = role;
    }
    if let Some(status) = change.status {
        end_sessions |= status != UserStatus::Active;
        user.status = status;
    }
    user.updated_at = clock.now();
    store
        .put(&keys::user(&user.id), &encode(&user)?, None)
        .await?;
    if end_sessions {
        session::store::revoke_all_for_user(store, &user.id).await?;
    }
    Ok(user)
}

/// An admin adds a person (console or admin API): [`create`], recorded in the
/// configuration log.
pub async fn add_by_admin(
    store: &dyn Store,
    clock: &dyn Clock,
    tenant: &Tenant,
    new: NewUser,
    by: &ChangedBy,
) -> Result<User> {
    let user = create(store, clock, tenant, new).await?;
    let event = ChangeEvent::new(
        user.created_at,
        &tenant.id,
        by.clone(),
        Area::Users,
        format!("{} added", user.email),
    )
    .detail(format!("role: {}", user.role.label()))
    .detail(format!(
        "password: {}",
        if user.password_hash.is_some() {
            "set"
        } else {
            "none (single sign-on only)"
        }
    ));
    changes::record(store, &event).await;
    Ok(user)
}

/// An admin's change to a person (console or admin API): applied like [`update`], and
/// recorded in the configuration log when it changes the role or the status — the changes
/// that decide who can sign in and who administers. (SCIM's changes are in the
/// provisioning log instead.)
pub async fn administer(
    store: &dyn Store,
    clock: &dyn Clock,
    tenant_id: &str,
    id: &str,
    change: UserUpdate,
    by: &ChangedBy,
) -> Result<User> {
    let before = require_in_tenant(store, tenant_id, id).await?;
    let password_changed = change.password.is_some();
    let after = update(store, clock, tenant_id, id, change).await?;
    let mut diff = Diff::default();
    diff.field("role", Some(before.role.label()), after.role.label());
    diff.field("status", Some(before.status.label()), after.status.label());
    if password_changed {
        diff.line("password: changed (every session ended)");
    }
    let lines = diff.into_lines();
    if !lines.is_empty() {
        let event = ChangeEvent::new(
            after.updated_at,
            tenant_id,
            by.clone(),
            Area::Users,
            format!("{} changed", after.email),
        )
        .details(lines);
        changes::record(store, &event).await;
    }
    Ok(after)
}

pub async fn delete(store: &dyn Store, tenant_id: &str, id: &str) -> Result<()> {
    let user = require_in_tenant(store, tenant_id, id).await?;
    session::store::revoke_all_for_user(store, &user.id).await?;
    crate::scim::user::forget(store, &user).await?;
    store
        .delete_if_equals(&keys::user_email(&user.email), user.id.as_bytes())
        .await?;
    store
        .index_remove(&keys::tenant_users(tenant_id), &user.id)
        .await?;
    store.delete(&keys::user(&user.id)).await?;
    Ok(())
}

pub async fn delete_all_in_tenant(store: &dyn Store, tenant_id: &str) -> Result<()> {
    loop {
        let (users, _) = list(store, tenant_id, 0, 500).await?;
        if users.is_empty() {
            return Ok(());
        }
        for u in users {
            delete(store, tenant_id, &u.id).await?;
        }
    }
}
