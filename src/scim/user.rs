//! SCIM Users over the core directory.
//!
//! A person is the core [`User`] (email, display name, groups, status: what sign-in needs)
//! plus an optional [`ScimUserRecord`] with the SCIM attributes. Why a separate record:
//! the core type stays as it is (existing records decode unchanged, the other flows never
//! touch SCIM data), and people created before provisioning started simply have no record —
//! they show up with `userName` = their email so an IdP's `filter=userName eq "…"` finds
//! and links them; its first PUT/PATCH then writes the record (and the `externalId`).
//!
//! Lookups are O(1) claims: `userName` (case-insensitive, per tenant), `externalId`
//! (case-exact, per tenant), every email address (an index per address), and the core
//! `email:` claim for the sign-in address.
//!
//! Deleted over SCIM means: deprovisioned (sessions ended, no just-in-time re-creation),
//! removed from groups, hidden from SCIM, kept in the directory. Creating the same address
//! again over SCIM revives that person.

use std::collections::BTreeSet;

use serde::{Deserialize, Serialize};
use serde_json::{json, Map, Value};

use super::error::{ScimError, ScimResult};
use super::filter::{self, Hint};
use super::patch;
use super::query::ListQuery;
use super::resource::{self, Projection};
use super::schema::{ENTERPRISE_SCHEMA, GATEHOUSE_SCHEMA, USER_RESOURCE, USER_SCHEMA};
use super::settings;
use super::{check_precondition, group, version_of, Ctx};
use crate::error::{Error, Result};
use crate::random;
use crate::session;
use crate::store::{encode, get_json, keys, BatchOp, Store};
use crate::user::{normalize_email, User, UserStatus};

/// Users examined by one unindexed filter before the answer is "too many".
const MAX_SCAN: usize = 200_000;
const SCAN_CHUNK: usize = 500;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ScimUserRecord {
    pub user_id: String,
    pub tenant_id: String,
    /// Validated SCIM attributes (see `resource::validate`), without `active`, which is
    /// the core status.
    pub attrs: Map<String, Value>,
    /// Deleted over SCIM (hidden, deprovisioned, kept).
    #[serde(default)]
    pub removed: bool,
    /// The IdP removed `active` with a PATCH: the representation leaves it out (the
    /// status itself is unchanged — removing an attribute is no instruction to switch
    /// anyone off). Any later value for `active` clears this.
    #[serde(default)]
    pub active_unassigned: bool,
}

/// A person as SCIM sees them.
#[derive(Debug, Clone)]
pub struct Person {
    pub user: User,
    pub record: Option<ScimUserRecord>,
}

impl Person {
    pub fn id(&self) -> &str {
        &self.user.id
    }

    /// The SCIM attributes: the record's, or those a person without one shows.
    pub fn attrs(&self) -> Map<String, Value> {
        match &self.record {
            Some(r) => r.attrs.clone(),
            None => {
                let mut m = Map::new();
                m.insert("userName".into(), json!(self.user.email));
                if let Some(d) = &self.user.display_name {
                    m.insert("displayName".into(), json!(d));
                }
                m.insert(
                    "emails".into(),
                    json!([{"value": self.user.email, "type": "work", "primary": true}]),
                );
                m
            }
        }
    }

    pub fn user_name(&self) -> String {
        match &self.record {
            Some(r) => r
                .attrs
                .get("userName")
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_owned(),
            None => self.user.email.clone(),
        }
    }

    fn external_id(&self) -> Option<String> {
        self.record
            .as_ref()
            .and_then(|r| r.attrs.get("externalId"))
            .and_then(Value::as_str)
            .map(str::to_owned)
    }

    fn email_index(&self) -> BTreeSet<String> {
        self.record
            .as_ref()
            .map(|r| emails_of(&r.attrs))
            .unwrap_or_default()
    }

    pub fn version(&self) -> String {
        version_of(self.user.updated_at)
    }
}

fn emails_of(attrs: &Map<String, Value>) -> BTreeSet<String> {
    attrs
        .get("emails")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(|e| e.get("value").and_then(Value::as_str))
        .map(str::to_lowercase)
        .collect()
}

async fn load_any(store: &dyn Store, id: &str) -> Result<Option<Person>> {
    let Some(user) = crate::user::repo::get(store, id).await? else {
        return Ok(None);
    };
    let record = get_json(store, &keys::scim_user(id)).await?;
    Ok(Some(Person { user, record }))
}

/// The person `id` if SCIM may see them in this tenant.
pub async fn load(ctx: &Ctx<'_>, id: &str) -> Result<Option<Person>> {
    Ok(load_any(ctx.store, id).await?.filter(|p| {
        p.user.tenant_id == ctx.tenant.id && !p.record.as_ref().is_some_and(|r| r.removed)
    }))
}

async fn require(ctx: &Ctx<'_>, id: &str) -> ScimResult<Person> {
    load(ctx, id)
        .await?
        .ok_or_else(|| ScimError::not_found(format!("no User with id {id}")))
}

/// The SCIM representation.
pub async fn render(ctx: &Ctx<'_>, p: &Person, with_groups: bool) -> Result<Value> {
    let mut doc = p.attrs();
    let mut schemas = vec![json!(USER_SCHEMA)];
    for ext in [ENTERPRISE_SCHEMA, GATEHOUSE_SCHEMA] {
        if doc.contains_key(ext) {
            schemas.push(json!(ext));
        }
    }
    doc.insert("schemas".into(), Value::Array(schemas));
    doc.insert("id".into(), json!(p.user.id));
    if !p.record.as_ref().is_some_and(|r| r.active_unassigned) {
        doc.insert("active".into(), json!(p.user.is_active()));
    }
    if with_groups {
        let groups = group::groups_of_user(ctx.store, &p.user.id).await?;
        if !groups.is_empty() {
            let list: Vec<Value> = groups
                .iter()
                .map(|g| {
                    json!({"value": g.id, "$ref": format!("{}/Groups/{}", ctx.base, g.id),
                           "display": g.display_name, "type": "direct"})
                })
                .collect();
            doc.insert("groups".into(), Value::Array(list));
        }
    }
    let fmt = |t: time::OffsetDateTime| {
        t.format(&time::format_description::well_known::Rfc3339)
            .unwrap_or_default()
    };
    doc.insert(
        "meta".into(),
        json!({
            "resourceType": "User",
            "created": fmt(p.user.created_at),
            "lastModified": fmt(p.user.updated_at),
            "location": format!("{}/Users/{}", ctx.base, p.user.id),
            "version": p.version(),
        }),
    );
    Ok(Value::Object(doc))
}

/// What a write will store, worked out before anything is written.
struct Plan {
    attrs: Map<String, Value>,
    user_name_lc: String,
    external_id: Option<String>,
    email: String,
    display_name: Option<String>,
    active: Option<bool>,
}

fn domains_hint(ctx: &Ctx<'_>) -> String {
    ctx.tenant.domains().collect::<Vec<_>>().join(", ")
}

/// Said when the domain was added but is still waiting for its DNS proof.
fn pending_hint(ctx: &Ctx<'_>, domain: &str) -> &'static str {
    if ctx.tenant.pending(domain).is_some() {
        " (it was added but is not verified yet: its DNS TXT record must be published and checked on the Domains page)"
    } else {
        ""
    }
}

/// The sign-in address: the primary email, else the work one, else the first, else a
/// userName that is an address.
fn sign_in_address(attrs: &Map<String, Value>) -> Option<String> {
    let emails: Vec<&Value> = attrs
        .get("emails")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .collect();
    let value = |e: &&Value| e.get("value").and_then(Value::as_str).map(str::to_owned);
    emails
        .iter()
        .find(|e| e.get("primary") == Some(&Value::Bool(true)))
        .and_then(value)
        .or_else(|| {
            emails
                .iter()
                .find(|e| {
                    e.get("type")
                        .and_then(Value::as_str)
                        .is_some_and(|t| t.eq_ignore_ascii_case("work"))
                })
                .and_then(value)
        })
        .or_else(|| emails.first().and_then(value))
        .or_else(|| {
            attrs
                .get("userName")
                .and_then(Value::as_str)
                .filter(|u| u.contains('@'))
                .map(str::to_owned)
        })
}

async fn plan(ctx: &Ctx<'_>, attrs: Map<String, Value>) -> ScimResult<Plan> {
    let user_name = attrs
        .get("userName")
        .and_then(Value::as_str)
        .map(str::trim)
        .unwrap_or_default()
        .to_owned();
    if user_name.is_empty() || user_name.chars().count() > 256 {
        return Err(ScimError::invalid_value(
            "userName must be 1 to 256 characters",
        ));
    }
    // T47: a userName that is an address must be in the tenant's domains too.
    if let Ok((_, domain)) = normalize_email(&user_name) {
        if !ctx.tenant.owns_domain(&domain) {
            return Err(ScimError::invalid_value(format!(
                "userName {user_name}: the domain {domain} is not one of this tenant's domains ({}); \
                 the tenant admin must add it as a secondary domain first{}",
                domains_hint(ctx),
                pending_hint(ctx, &domain)
            )));
        }
    }
    let Some(address) = sign_in_address(&attrs) else {
        return Err(ScimError::invalid_value(format!(
            "a person needs an email address in one of this tenant's domains ({}): send emails \
             (primary or type work) or a userName that is an email address",
            domains_hint(ctx)
        )));
    };
    let (email, domain) = normalize_email(&address)
        .map_err(|m| ScimError::invalid_value(format!("email {address} {m}")))?;
    if !ctx.tenant.owns_domain(&domain) {
        return Err(ScimError::invalid_value(format!(
            "email {email}: the domain {domain} is not one of this tenant's domains ({}); \
             the tenant admin must add it as a secondary domain first{}",
            domains_hint(ctx),
            pending_hint(ctx, &domain)
        )));
    }
    let license = attrs
        .get(GATEHOUSE_SCHEMA)
        .and_then(|g| g.get("licenseType"))
        .and_then(Value::as_str);
    if let Some(license) = license {
        let allowed = settings::get(ctx.store, &ctx.tenant.id)
            .await?
            .allowed_license_types;
        if !allowed.is_empty() && !allowed.iter().any(|a| a == license) {
            return Err(ScimError::invalid_value(format!(
                "licenseType \"{license}\" is not allowed for this tenant; allowed values: {}",
                allowed.join(", ")
            )));
        }
    }
    let display_name = attrs
        .get("displayName")
        .and_then(Value::as_str)
        .map(str::to_owned)
        .or_else(|| {
            let name = attrs.get("name")?;
            name.get("formatted")
                .and_then(Value::as_str)
                .map(str::to_owned)
                .or_else(|| {
                    let parts: Vec<&str> = ["givenName", "familyName"]
                        .iter()
                        .filter_map(|k| name.get(*k).and_then(Value::as_str))
                        .collect();
                    (!parts.is_empty()).then(|| parts.join(" "))
                })
        })
        .map(|d| {
            d.chars()
                .map(|c| if c.is_control() { ' ' } else { c })
                .take(200)
                .collect::<String>()
                .trim()
                .to_owned()
        })
        .filter(|d| !d.is_empty());
    Ok(Plan {
        active: attrs.get("active").and_then(Value::as_bool),
        external_id: attrs
            .get("externalId")
            .and_then(Value::as_str)
            .map(str::to_owned),
        user_name_lc: user_name.to_lowercase(),
        attrs,
        email,
        display_name,
    })
}

/// Someone else already holds a claim: take it only when it is stale (its owner is gone
/// or no longer has the value), else report the owner.
async fn claim(
    ctx: &Ctx<'_>,
    key: &str,
    id: &str,
    still_holds: impl Fn(&Person) -> bool,
) -> ScimResult<Option<String>> {
    for _ in 0..3 {
        if ctx.store.put_if_absent(key, id.as_bytes(), None).await? {
            return Ok(None);
        }
        let Some(owner) = ctx.store.get(key).await? else {
            continue;
        };
        let owner = String::from_utf8_lossy(&owner).into_owned();
        if owner == id {
            return Ok(None);
        }
        let live = load_any(ctx.store, &owner)
            .await?
            .filter(|p| !p.record.as_ref().is_some_and(|r| r.removed))
            .is_some_and(|p| still_holds(&p));
        if live {
            return Ok(Some(owner));
        }
        ctx.store.delete_if_equals(key, owner.as_bytes()).await?;
    }
    Err(ScimError::uniqueness(
        "a concurrent request is writing the same value; retry",
    ))
}

/// Claims taken during one write, released again if the write is refused.
#[derive(Default)]
struct Taken(Vec<(String, String)>);

impl Taken {
    async fn release(self, store: &dyn Store) {
        for (key, id) in self.0 {
            if let Err(e) = store.delete_if_equals(&key, id.as_bytes()).await {
                tracing::warn!(error = %e, key, "claim left behind after a refused SCIM write");
            }
        }
    }
}

/// Finds who a userName belongs to: a SCIM claim, or a person without a SCIM record whose
/// email is that userName.
pub async fn find_by_user_name(ctx: &Ctx<'_>, user_name: &str) -> Result<Option<Person>> {
    find_other_by_user_name(ctx, user_name, None).await
}

/// As [`find_by_user_name`], not counting `except` (the person being written).
async fn find_other_by_user_name(
    ctx: &Ctx<'_>,
    user_name: &str,
    except: Option<&str>,
) -> Result<Option<Person>> {
    for id in user_name_candidates(ctx, user_name).await? {
        if Some(id.as_str()) == except {
            continue;
        }
        if let Some(p) = load(ctx, &id).await? {
            if p.user_name().to_lowercase() == user_name.to_lowercase() {
                return Ok(Some(p));
            }
        }
    }
    Ok(None)
}

/// Who may hold `user_name`: the SCIM claim's owner if it holds it, else the person whose
/// sign-in address it is (someone without a SCIM record yet).
async fn user_name_candidates(ctx: &Ctx<'_>, user_name: &str) -> Result<Vec<String>> {
    let lc = user_name.to_lowercase();
    if let Some(id) = ctx
        .store
        .get(&keys::scim_user_name(&ctx.tenant.id, &lc))
        .await?
    {
        return Ok(vec![String::from_utf8_lossy(&id).into_owned()]);
    }
    let mut out = Vec::new();
    if let Ok((email, _)) = normalize_email(user_name) {
        if let Some(id) = ctx.store.get(&keys::user_email(&email)).await? {
            out.push(String::from_utf8_lossy(&id).into_owned());
        }
    }
    Ok(out)
}

async fn take_user_name(ctx: &Ctx<'_>, plan: &Plan, id: &str, taken: &mut Taken) -> ScimResult<()> {
    // A person without a SCIM record owns the userName equal to their email: look that
    // up, unless it is the address this write itself holds (then only the claim below can
    // conflict, and it checks atomically).
    let other = match normalize_email(&plan.user_name_lc) {
        Ok((address, _)) if address != plan.email => {
            find_other_by_user_name(ctx, &plan.user_name_lc, Some(id)).await?
        }
        _ => None,
    };
    if let Some(other) = other {
        {
            return Err(ScimError::uniqueness(format!(
                "userName {} is already used by User {}",
                plan.attrs
                    .get("userName")
                    .and_then(Value::as_str)
                    .unwrap_or_default(),
                other.id()
            )));
        }
    }
    let key = keys::scim_user_name(&ctx.tenant.id, &plan.user_name_lc);
    let lc = plan.user_name_lc.clone();
    match claim(ctx, &key, id, |p| p.user_name().to_lowercase() == lc).await? {
        None => {
            taken.0.push((key, id.to_owned()));
            Ok(())
        }
        Some(owner) => Err(ScimError::uniqueness(format!(
            "userName {} is already used by User {owner}",
            plan.user_name_lc
        ))),
    }
}

async fn take_external_id(
    ctx: &Ctx<'_>,
    plan: &Plan,
    id: &str,
    taken: &mut Taken,
) -> ScimResult<()> {
    let Some(ext) = &plan.external_id else {
        return Ok(());
    };
    let key = keys::scim_external_id(&ctx.tenant.id, "User", ext);
    let wanted = ext.clone();
    match claim(ctx, &key, id, |p| {
        p.external_id().as_deref() == Some(wanted.as_str())
    })
    .await?
    {
        None => {
            taken.0.push((key, id.to_owned()));
            Ok(())
        }
        Some(owner) => Err(ScimError::uniqueness(format!(
            "externalId {ext} is already used by User {owner}"
        ))),
    }
}

/// The common case in one round trip: nobody holds the address, the userName or the
/// externalId, and the userName names no other person's address. Returns false (having
/// taken nothing) when the slow path must decide.
async fn claim_all_fresh(
    ctx: &Ctx<'_>,
    plan: &Plan,
    id: &str,
    taken: &mut Taken,
) -> ScimResult<bool> {
    if matches!(normalize_email(&plan.user_name_lc), Ok((address, _)) if address != plan.email) {
        return Ok(false);
    }
    let mut keys_taken = vec![
        keys::user_email(&plan.email),
        keys::scim_user_name(&ctx.tenant.id, &plan.user_name_lc),
    ];
    if let Some(ext) = &plan.external_id {
        keys_taken.push(keys::scim_external_id(&ctx.tenant.id, "User", ext));
    }
    let entries: Vec<(String, Vec<u8>)> = keys_taken
        .iter()
        .map(|k| (k.clone(), id.as_bytes().to_vec()))
        .collect();
    if !ctx.store.put_all_if_absent(&entries).await? {
        return Ok(false);
    }
    taken
        .0
        .extend(keys_taken.into_iter().map(|k| (k, id.to_owned())));
    Ok(true)
}

/// What the sign-in address claim said on create.
enum AddressClaim {
    Fresh,
    /// A person deleted over SCIM holds it: bring them back.
    Revive(Box<Person>),
}

async fn take_address_for_create(
    ctx: &Ctx<'_>,
    email: &str,
    id: &str,
    taken: &mut Taken,
) -> ScimResult<AddressClaim> {
    let key = keys::user_email(email);
    for _ in 0..3 {
        if ctx.store.put_if_absent(&key, id.as_bytes(), None).await? {
            taken.0.push((key, id.to_owned()));
            return Ok(AddressClaim::Fresh);
        }
        let Some(owner) = ctx.store.get(&key).await? else {
            continue;
        };
        let owner = String::from_utf8_lossy(&owner).into_owned();
        match load_any(ctx.store, &owner).await? {
            None => {
                // The address's user is gone (a crash mid-delete): the claim is stale.
                ctx.store.delete_if_equals(&key, owner.as_bytes()).await?;
            }
            Some(p) if p.user.tenant_id != ctx.tenant.id => {
                return Err(ScimError::uniqueness(format!(
                    "email {email} belongs to a person of another tenant"
                )))
            }
            Some(p) if p.record.as_ref().is_some_and(|r| r.removed) => {
                return Ok(AddressClaim::Revive(Box::new(p)))
            }
            Some(p) => {
                return Err(ScimError::uniqueness(format!(
                    "a person with email {email} already exists (User {}); find them with \
                     filter=userName eq \"{email}\" and update them instead",
                    p.id()
                )))
            }
        }
    }
    Err(ScimError::uniqueness(
        "a concurrent request is writing the same email; retry",
    ))
}

async fn take_address_for_update(
    ctx: &Ctx<'_>,
    email: &str,
    id: &str,
    taken: &mut Taken,
) -> ScimResult<()> {
    let key = keys::user_email(email);
    for _ in 0..3 {
        if ctx.store.put_if_absent(&key, id.as_bytes(), None).await? {
            taken.0.push((key, id.to_owned()));
            return Ok(());
        }
        let Some(owner) = ctx.store.get(&key).await? else {
            continue;
        };
        let owner = String::from_utf8_lossy(&owner).into_owned();
        if owner == id {
            return Ok(());
        }
        if crate::user::repo::get(ctx.store, &owner).await?.is_none() {
            ctx.store.delete_if_equals(&key, owner.as_bytes()).await?;
            continue;
        }
        return Err(ScimError::uniqueness(format!(
            "email {email} already belongs to User {owner}"
        )));
    }
    Err(ScimError::uniqueness(
        "a concurrent request is writing the same email; retry",
    ))
}

fn next_status(current: UserStatus, active: Option<bool>) -> UserStatus {
    match active {
        Some(true) => UserStatus::Active,
        Some(false) if current == UserStatus::Active => UserStatus::Deprovisioned,
        _ => current,
    }
}

/// The index updates that take a person's addresses from `old` to `new`.
fn email_index_ops(
    tenant_id: &str,
    id: &str,
    old: &BTreeSet<String>,
    new: &BTreeSet<String>,
) -> Vec<BatchOp> {
    old.difference(new)
        .map(|e| BatchOp::IndexRemove {
            index: keys::scim_email(tenant_id, e),
            member: id.to_owned(),
        })
        .chain(new.difference(old).map(|e| BatchOp::IndexAdd {
            index: keys::scim_email(tenant_id, e),
            member: id.to_owned(),
        }))
        .collect()
}

fn record_op(record: &ScimUserRecord) -> Result<BatchOp> {
    Ok(BatchOp::Put {
        key: keys::scim_user(&record.user_id),
        value: encode(record)?,
        ttl: None,
    })
}

fn user_op(user: &User) -> Result<BatchOp> {
    Ok(BatchOp::Put {
        key: keys::user(&user.id),
        value: encode(user)?,
        ttl: None,
    })
}

/// POST /Users.
pub async fn create(ctx: &Ctx<'_>, body: &Value) -> ScimResult<Person> {
    let attrs = resource::validate(&USER_RESOURCE, body)?;
    let mut plan = plan(ctx, attrs).await?;
    plan.attrs.remove("active");
    let new_id = random::id("us");
    let mut taken = Taken::default();
    let result = create_claimed(ctx, &plan, &new_id, &mut taken).await;
    match result {
        Ok(p) => Ok(p),
        Err(e) => {
            taken.release(ctx.store).await;
            Err(e)
        }
    }
}

async fn create_claimed(
    ctx: &Ctx<'_>,
    plan: &Plan,
    new_id: &str,
    taken: &mut Taken,
) -> ScimResult<Person> {
    let address = if claim_all_fresh(ctx, plan, new_id, taken).await? {
        AddressClaim::Fresh
    } else {
        // Something is held: claim one by one for the precise answer (conflict, stale
        // claim, or a deleted person to revive).
        let address = take_address_for_create(ctx, &plan.email, new_id, taken).await?;
        let id = match &address {
            AddressClaim::Fresh => new_id,
            AddressClaim::Revive(p) => p.id(),
        };
        take_user_name(ctx, plan, id, taken).await?;
        take_external_id(ctx, plan, id, taken).await?;
        address
    };
    let revived = matches!(address, AddressClaim::Revive(_));
    let id = match &address {
        AddressClaim::Fresh => new_id.to_owned(),
        AddressClaim::Revive(p) => p.id().to_owned(),
    };
    let now = ctx.clock.now();
    let status = if plan.active == Some(false) {
        UserStatus::Deprovisioned
    } else {
        UserStatus::Active
    };
    let user = match address {
        AddressClaim::Fresh => User {
            id: id.clone(),
            tenant_id: ctx.tenant.id.clone(),
            email: plan.email.clone(),
            display_name: plan.display_name.clone(),
            groups: Vec::new(),
            status,
            password_hash: None,
            created_at: now,
            updated_at: now,
            role: Default::default(),
        },
        AddressClaim::Revive(p) => User {
            display_name: plan.display_name.clone(),
            status,
            updated_at: now,
            ..p.user
        },
    };
    let record = ScimUserRecord {
        user_id: id.clone(),
        tenant_id: ctx.tenant.id.clone(),
        attrs: plan.attrs.clone(),
        removed: false,
        active_unassigned: false,
    };
    // Attributes, person and indexes land together or not at all.
    let mut ops = vec![record_op(&record)?, user_op(&user)?];
    if revived {
        ops.push(BatchOp::IndexRemove {
            index: keys::tenant_removed_users(&ctx.tenant.id),
            member: id.clone(),
        });
    }
    ops.push(BatchOp::IndexAdd {
        index: keys::tenant_users(&ctx.tenant.id),
        member: id.clone(),
    });
    ops.extend(email_index_ops(
        &ctx.tenant.id,
        &id,
        &BTreeSet::new(),
        &emails_of(&record.attrs),
    ));
    ctx.store.batch(&ops).await?;
    Ok(Person {
        user,
        record: Some(record),
    })
}

/// PUT /Users/{id}: replaces every attribute; `active` left out keeps the current status
/// (Okta's full replace omits it and must not deactivate anyone, T44).
pub async fn replace(
    ctx: &Ctx<'_>,
    id: &str,
    body: &Value,
    if_match: Option<&str>,
) -> ScimResult<Person> {
    let current = require(ctx, id).await?;
    check_precondition(if_match, &current.version())?;
    let attrs = resource::validate(&USER_RESOURCE, body)?;
    write(ctx, current, attrs, None).await
}

/// PATCH /Users/{id}.
pub async fn patch(
    ctx: &Ctx<'_>,
    id: &str,
    body: &Value,
    if_match: Option<&str>,
) -> ScimResult<Person> {
    let ops = patch::parse_request(body)?;
    let current = require(ctx, id).await?;
    check_precondition(if_match, &current.version())?;
    let mut doc = current.attrs();
    let shown = !current.record.as_ref().is_some_and(|r| r.active_unassigned);
    if shown {
        doc.insert("active".into(), Value::Bool(current.user.is_active()));
    }
    patch::apply(&USER_RESOURCE, &mut doc, &ops)?;
    let removed_active = shown && !doc.keys().any(|k| k.eq_ignore_ascii_case("active"));
    let attrs = resource::validate(&USER_RESOURCE, &Value::Object(doc))?;
    write(ctx, current, attrs, Some(removed_active)).await
}

/// `unassigned`: whether `active` ends up unassigned when the write names no value for it
/// (`None`: keep what it was — a PUT that leaves `active` out changes nothing about it).
async fn write(
    ctx: &Ctx<'_>,
    current: Person,
    attrs: Map<String, Value>,
    unassigned: Option<bool>,
) -> ScimResult<Person> {
    let mut plan = plan(ctx, attrs).await?;
    plan.attrs.remove("active");
    let id = current.id().to_owned();
    let mut taken = Taken::default();
    let claimed = async {
        let had_record = current.record.is_some();
        if !had_record || current.user_name().to_lowercase() != plan.user_name_lc {
            take_user_name(ctx, &plan, &id, &mut taken).await?;
        }
        if plan.external_id.is_some() && current.external_id() != plan.external_id {
            take_external_id(ctx, &plan, &id, &mut taken).await?;
        }
        if plan.email != current.user.email {
            take_address_for_update(ctx, &plan.email, &id, &mut taken).await?;
        }
        Ok::<(), ScimError>(())
    }
    .await;
    if let Err(e) = claimed {
        taken.release(ctx.store).await;
        return Err(e);
    }
    let old_user = current.user.clone();
    let status = next_status(old_user.status, plan.active);
    let user = User {
        email: plan.email.clone(),
        display_name: plan.display_name.clone(),
        status,
        updated_at: ctx
            .clock
            .now()
            .max(old_user.updated_at + time::Duration::nanoseconds(1)),
        ..old_user.clone()
    };
    let was_unassigned = current.record.as_ref().is_some_and(|r| r.active_unassigned);
    let record = ScimUserRecord {
        user_id: id.clone(),
        tenant_id: ctx.tenant.id.clone(),
        attrs: plan.attrs.clone(),
        removed: false,
        active_unassigned: plan.active.is_none() && unassigned.unwrap_or(was_unassigned),
    };
    let mut ops = vec![record_op(&record)?, user_op(&user)?];
    ops.extend(email_index_ops(
        &ctx.tenant.id,
        &id,
        &current.email_index(),
        &emails_of(&record.attrs),
    ));
    ctx.store.batch(&ops).await?;
    // Old values are released only once the new ones are stored.
    if current.record.is_some() {
        let old_lc = current.user_name().to_lowercase();
        if old_lc != plan.user_name_lc {
            ctx.store
                .delete_if_equals(
                    &keys::scim_user_name(&ctx.tenant.id, &old_lc),
                    id.as_bytes(),
                )
                .await?;
        }
        if let Some(old_ext) = current
            .external_id()
            .filter(|e| Some(e) != plan.external_id.as_ref())
        {
            ctx.store
                .delete_if_equals(
                    &keys::scim_external_id(&ctx.tenant.id, "User", &old_ext),
                    id.as_bytes(),
                )
                .await?;
        }
    }
    if old_user.email != user.email {
        ctx.store
            .delete_if_equals(&keys::user_email(&old_user.email), id.as_bytes())
            .await?;
    }
    if old_user.is_active() && !user.is_active() {
        session::store::revoke_all_for_user(ctx.store, &id).await?;
    }
    Ok(Person {
        user,
        record: Some(record),
    })
}

/// DELETE /Users/{id}: deprovisioned, sessions ended, removed from groups, hidden.
pub async fn delete(ctx: &Ctx<'_>, id: &str, if_match: Option<&str>) -> ScimResult<()> {
    let current = require(ctx, id).await?;
    check_precondition(if_match, &current.version())?;
    let mut user = current.user.clone();
    group::remove_user_everywhere(ctx.store, &mut user).await?;
    user.status = UserStatus::Deprovisioned;
    user.updated_at = ctx.clock.now();
    let mut record = current.record.clone().unwrap_or(ScimUserRecord {
        user_id: id.to_owned(),
        tenant_id: ctx.tenant.id.clone(),
        attrs: current.attrs(),
        removed: false,
        active_unassigned: false,
    });
    record.removed = true;
    ctx.store
        .batch(&[
            record_op(&record)?,
            user_op(&user)?,
            BatchOp::IndexRemove {
                index: keys::tenant_users(&ctx.tenant.id),
                member: id.to_owned(),
            },
            BatchOp::IndexAdd {
                index: keys::tenant_removed_users(&ctx.tenant.id),
                member: id.to_owned(),
            },
        ])
        .await?;
    session::store::revoke_all_for_user(ctx.store, id).await?;
    release_lookups(ctx.store, &ctx.tenant.id, &current).await?;
    Ok(())
}

/// Frees the userName, externalId and email lookups of a person leaving SCIM.
async fn release_lookups(store: &dyn Store, tenant_id: &str, p: &Person) -> Result<()> {
    let id = p.id().as_bytes();
    if p.record.is_some() {
        store
            .delete_if_equals(
                &keys::scim_user_name(tenant_id, &p.user_name().to_lowercase()),
                id,
            )
            .await?;
    }
    if let Some(ext) = p.external_id() {
        store
            .delete_if_equals(&keys::scim_external_id(tenant_id, "User", &ext), id)
            .await?;
    }
    store
        .batch(&email_index_ops(
            tenant_id,
            p.id(),
            &p.email_index(),
            &BTreeSet::new(),
        ))
        .await?;
    Ok(())
}

/// Forgets everything SCIM kept about a user the admin deletes for good.
pub async fn forget(store: &dyn Store, user: &User) -> Result<()> {
    let Some(p) = load_any(store, &user.id).await? else {
        return Ok(());
    };
    let mut u = p.user.clone();
    group::remove_user_everywhere(store, &mut u).await?;
    release_lookups(store, &user.tenant_id, &p).await?;
    store
        .index_remove(&keys::tenant_removed_users(&user.tenant_id), &user.id)
        .await?;
    store.delete(&keys::scim_user(&user.id)).await?;
    Ok(())
}

/// Deletes the people deleted over SCIM (the others go with the tenant's user index).
pub async fn purge_tenant(store: &dyn Store, tenant_id: &str) -> Result<()> {
    let index = keys::tenant_removed_users(tenant_id);
    loop {
        let ids = store.index_page(&index, 0, SCAN_CHUNK).await?;
        if ids.is_empty() {
            return Ok(());
        }
        for id in ids {
            match crate::user::repo::delete(store, tenant_id, &id).await {
                Ok(()) | Err(Error::NotFound(_)) => {}
                Err(e) => return Err(e),
            }
            store.index_remove(&index, &id).await?;
            store.delete(&keys::scim_user(&id)).await?;
        }
    }
}

pub async fn get(ctx: &Ctx<'_>, id: &str) -> ScimResult<Person> {
    require(ctx, id).await
}

/// Ids an index can name for a hint; `None` when the hint needs a scan.
async fn hint_candidates(ctx: &Ctx<'_>, hint: &Hint) -> Result<Option<Vec<String>>> {
    let store = ctx.store;
    let tid = &ctx.tenant.id;
    let one = |v: Option<Vec<u8>>| v.map(|b| String::from_utf8_lossy(&b).into_owned());
    Ok(Some(match hint {
        Hint::Id(id) => vec![id.clone()],
        Hint::UserName(u) => user_name_candidates(ctx, u).await?,
        Hint::ExternalId(e) => one(store.get(&keys::scim_external_id(tid, "User", e)).await?)
            .into_iter()
            .collect(),
        Hint::Email(e) => {
            let mut ids = store
                .index_page(&keys::scim_email(tid, &e.to_lowercase()), 0, 100)
                .await?;
            if let Ok((email, _)) = normalize_email(e) {
                ids.extend(one(store.get(&keys::user_email(&email)).await?));
            }
            ids
        }
        Hint::DisplayName(_) => return Ok(None),
    }))
}

/// GET /Users: a page and the total number of matches.
pub async fn list(ctx: &Ctx<'_>, q: &ListQuery) -> ScimResult<(Vec<Value>, usize)> {
    let with_groups = !q.projection.omits("groups")
        || q.filter
            .as_ref()
            .is_some_and(|f| filter::mentions(f, "groups"));
    let index = keys::tenant_users(&ctx.tenant.id);
    let skip = q.start_index - 1;
    let Some(f) = &q.filter else {
        let total = ctx.store.index_len(&index).await?;
        let mut page = Vec::new();
        if q.count > 0 {
            for id in ctx.store.index_page(&index, skip, q.count).await? {
                if let Some(p) = load(ctx, &id).await? {
                    page.push(project(&q.projection, render(ctx, &p, with_groups).await?));
                }
            }
        }
        return Ok((page, total));
    };
    let mut candidates: Option<BTreeSet<String>> = None;
    if let Some(hints) = filter::hints(f) {
        let mut ids = BTreeSet::new();
        let mut indexed = true;
        for h in &hints {
            match hint_candidates(ctx, h).await? {
                Some(found) => ids.extend(found),
                None => indexed = false,
            }
        }
        if indexed {
            candidates = Some(ids);
        }
    }
    let mut total = 0;
    let mut page = Vec::new();
    let consider = |doc: Value, total: &mut usize, page: &mut Vec<Value>| {
        if filter::matches(f, &doc) {
            if *total >= skip && page.len() < q.count {
                page.push(project(&q.projection, doc));
            }
            *total += 1;
        }
    };
    match candidates {
        Some(ids) => {
            for id in ids {
                if let Some(p) = load(ctx, &id).await? {
                    let doc = render(ctx, &p, with_groups).await?;
                    consider(doc, &mut total, &mut page);
                }
            }
        }
        None => {
            let mut offset = 0;
            loop {
                let ids = ctx.store.index_page(&index, offset, SCAN_CHUNK).await?;
                if ids.is_empty() {
                    break;
                }
                offset += ids.len();
                if offset > MAX_SCAN {
                    return Err(ScimError::bad(
                        super::error::ScimType::TooMany,
                        format!(
                            "this filter would examine more than {MAX_SCAN} users; filter with eq on \
                             userName, externalId, id or emails.value"
                        ),
                    ));
                }
                for id in ids {
                    if let Some(p) = load(ctx, &id).await? {
                        let doc = render(ctx, &p, with_groups).await?;
                        consider(doc, &mut total, &mut page);
                    }
                }
            }
        }
    }
    Ok((page, total))
}

fn project(p: &Projection, doc: Value) -> Value {
    p.apply(&USER_RESOURCE, doc)
}
