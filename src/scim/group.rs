//! SCIM Groups. A group's members are an index of user ids (and each user has an index of
//! group ids), so adding or removing a member is a constant number of store operations
//! whatever the group's size — a 1,000-member PATCH is 1,000 small steps, never a rewrite
//! of a member list per step. Membership shows up where forward auth reads it: the group's
//! displayName is added to (removed from) the core `User.groups`, which sessions carry into
//! `X-Gatehouse-Groups`. Renames are supported and carried to every member.
//!
//! displayName is unique per tenant (case-insensitive): two groups of one name would be
//! indistinguishable in `X-Gatehouse-Groups`.

use std::collections::{BTreeSet, HashMap, HashSet};

use serde::{Deserialize, Serialize};
use serde_json::{json, Map, Value};
use time::OffsetDateTime;

use super::error::{ScimError, ScimResult};
use super::filter::{self, CompareOp, Compiled, Hint};
use super::patch::{self, OpKind, Operation};
use super::query::ListQuery;
use super::resource::{self, Projection, MAX_MEMBERS};
use super::schema::{GROUP_RESOURCE, GROUP_SCHEMA};
use super::{check_precondition, user, version_of, Ctx};
use crate::clock::Clock;
use crate::error::Result;
use crate::random;
use crate::store::{encode, get_json, keys, BatchOp, Store};
use crate::user::User;

const PAGE: usize = 1000;
const MAX_GROUPS_PER_USER: usize = 1000;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GroupRecord {
    pub id: String,
    pub tenant_id: String,
    pub display_name: String,
    pub external_id: Option<String>,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339")]
    pub updated_at: OffsetDateTime,
}

impl GroupRecord {
    pub fn version(&self) -> String {
        version_of(self.updated_at)
    }
}

pub async fn get_record(store: &dyn Store, id: &str) -> Result<Option<GroupRecord>> {
    Ok(get_json(store, &keys::scim_group(id)).await?)
}

async fn require(ctx: &Ctx<'_>, id: &str) -> ScimResult<GroupRecord> {
    get_record(ctx.store, id)
        .await?
        .filter(|g| g.tenant_id == ctx.tenant.id)
        .ok_or_else(|| ScimError::not_found(format!("no Group with id {id}")))
}

pub async fn get(ctx: &Ctx<'_>, id: &str) -> ScimResult<GroupRecord> {
    require(ctx, id).await
}

/// The groups a user is a member of.
pub async fn groups_of_user(store: &dyn Store, user_id: &str) -> Result<Vec<GroupRecord>> {
    let mut out = Vec::new();
    for gid in store
        .index_page(&keys::scim_user_groups(user_id), 0, MAX_GROUPS_PER_USER)
        .await?
    {
        if let Some(g) = get_record(store, &gid).await? {
            out.push(g);
        }
    }
    Ok(out)
}

async fn member_ids(store: &dyn Store, group_id: &str) -> Result<Vec<String>> {
    let index = keys::scim_group_members(group_id);
    let mut out = Vec::new();
    loop {
        let page = store.index_page(&index, out.len(), PAGE).await?;
        let n = page.len();
        out.extend(page);
        if n < PAGE {
            return Ok(out);
        }
    }
}

pub async fn render(ctx: &Ctx<'_>, g: &GroupRecord, with_members: bool) -> Result<Value> {
    let mut doc = Map::new();
    doc.insert("schemas".into(), json!([GROUP_SCHEMA]));
    doc.insert("id".into(), json!(g.id));
    doc.insert("displayName".into(), json!(g.display_name));
    if let Some(e) = &g.external_id {
        doc.insert("externalId".into(), json!(e));
    }
    if with_members {
        let members: Vec<Value> = member_ids(ctx.store, &g.id)
            .await?
            .into_iter()
            .map(|id| json!({"value": id, "$ref": format!("{}/Users/{id}", ctx.base), "type": "User"}))
            .collect();
        if !members.is_empty() {
            doc.insert("members".into(), Value::Array(members));
        }
    }
    let fmt = |t: OffsetDateTime| {
        t.format(&time::format_description::well_known::Rfc3339)
            .unwrap_or_default()
    };
    doc.insert(
        "meta".into(),
        json!({
            "resourceType": "Group",
            "created": fmt(g.created_at),
            "lastModified": fmt(g.updated_at),
            "location": format!("{}/Groups/{}", ctx.base, g.id),
            "version": g.version(),
        }),
    );
    Ok(Value::Object(doc))
}

fn validate_name(name: &str) -> ScimResult<String> {
    let n = name.trim();
    // Names travel in the comma-separated X-Gatehouse-Groups header.
    if n.is_empty() || n.chars().count() > 256 || n.contains(',') || n.chars().any(char::is_control)
    {
        return Err(ScimError::invalid_value(
            "displayName must be 1 to 256 characters without commas or control characters",
        ));
    }
    Ok(n.to_owned())
}

/// Member ids named in a members value (`[{"value": id}, …]` or one such object).
fn member_values(v: &Value) -> ScimResult<Vec<String>> {
    let items: Vec<&Value> = match v {
        Value::Array(a) => a.iter().collect(),
        Value::Null => Vec::new(),
        other => vec![other],
    };
    if items.len() > MAX_MEMBERS {
        return Err(ScimError::too_large(format!(
            "{} members in one request; at most {MAX_MEMBERS}",
            items.len()
        )));
    }
    items
        .into_iter()
        .enumerate()
        .map(|(i, item)| {
            let obj = item
                .as_object()
                .ok_or_else(|| ScimError::invalid_value(format!("members[{i}] must be an object with a value")))?;
            let get = |k: &str| obj.iter().find(|(key, _)| key.eq_ignore_ascii_case(k)).map(|(_, v)| v);
            if let Some(t) = get("type").and_then(Value::as_str) {
                if !t.eq_ignore_ascii_case("User") {
                    return Err(ScimError::invalid_value(format!(
                        "members[{i}]: type {t} is not supported; members are Users (no nested groups)"
                    )));
                }
            }
            get("value")
                .and_then(Value::as_str)
                .filter(|s| !s.is_empty() && s.len() <= 128)
                .map(str::to_owned)
                .ok_or_else(|| ScimError::invalid_value(format!("members[{i}].value must be a User id")))
        })
        .collect()
}

/// What a write does to membership.
#[derive(Debug, Default)]
struct Membership {
    /// Start from no members (replace or remove-all) rather than the current ones.
    reset: bool,
    added: Vec<String>,
    added_set: HashSet<String>,
    removed: HashSet<String>,
}

impl Membership {
    fn add(&mut self, ids: Vec<String>) {
        for id in ids {
            self.removed.remove(&id);
            if self.added_set.insert(id.clone()) {
                self.added.push(id);
            }
        }
    }
    fn remove(&mut self, ids: Vec<String>) {
        for id in ids {
            if self.added_set.remove(&id) {
                self.added.retain(|a| *a != id);
            }
            self.removed.insert(id);
        }
    }
    fn reset(&mut self, ids: Vec<String>) {
        *self = Self {
            reset: true,
            ..Self::default()
        };
        self.add(ids);
    }
    fn is_empty(&self) -> bool {
        !self.reset && self.added.is_empty() && self.removed.is_empty()
    }
}

struct Plan {
    display_name: String,
    external_id: Option<String>,
}

fn plan_from(attrs: &Map<String, Value>) -> ScimResult<Plan> {
    let name = attrs
        .get("displayName")
        .and_then(Value::as_str)
        .unwrap_or_default();
    Ok(Plan {
        display_name: validate_name(name)?,
        external_id: attrs
            .get("externalId")
            .and_then(Value::as_str)
            .map(str::to_owned),
    })
}

/// Loads every user to be added; refuses the whole request if one is not a User of this
/// tenant, before anything is written.
async fn load_new_members(ctx: &Ctx<'_>, ids: &[String]) -> ScimResult<HashMap<String, User>> {
    let mut out = HashMap::with_capacity(ids.len());
    for id in ids {
        match user::load(ctx, id).await? {
            Some(p) => {
                out.insert(id.clone(), p.user);
            }
            None => {
                return Err(ScimError::invalid_value(format!(
                    "members: {id} is not a User of this tenant"
                )))
            }
        }
    }
    Ok(out)
}

async fn claim_name(ctx: &Ctx<'_>, name: &str, id: &str) -> ScimResult<bool> {
    let key = keys::scim_group_name(&ctx.tenant.id, &name.to_lowercase());
    for _ in 0..3 {
        if ctx.store.put_if_absent(&key, id.as_bytes(), None).await? {
            return Ok(true);
        }
        let Some(owner) = ctx.store.get(&key).await? else {
            continue;
        };
        let owner = String::from_utf8_lossy(&owner).into_owned();
        if owner == id {
            return Ok(false);
        }
        let live = get_record(ctx.store, &owner)
            .await?
            .is_some_and(|g| g.display_name.to_lowercase() == name.to_lowercase());
        if live {
            return Err(ScimError::uniqueness(format!(
                "a Group named {name} already exists ({owner})"
            )));
        }
        ctx.store.delete_if_equals(&key, owner.as_bytes()).await?;
    }
    Err(ScimError::uniqueness(
        "a concurrent request is writing the same group name; retry",
    ))
}

async fn claim_external_id(ctx: &Ctx<'_>, ext: &str, id: &str) -> ScimResult<bool> {
    let key = keys::scim_external_id(&ctx.tenant.id, "Group", ext);
    for _ in 0..3 {
        if ctx.store.put_if_absent(&key, id.as_bytes(), None).await? {
            return Ok(true);
        }
        let Some(owner) = ctx.store.get(&key).await? else {
            continue;
        };
        let owner = String::from_utf8_lossy(&owner).into_owned();
        if owner == id {
            return Ok(false);
        }
        let live = get_record(ctx.store, &owner)
            .await?
            .is_some_and(|g| g.external_id.as_deref() == Some(ext));
        if live {
            return Err(ScimError::uniqueness(format!(
                "externalId {ext} is already used by Group {owner}"
            )));
        }
        ctx.store.delete_if_equals(&key, owner.as_bytes()).await?;
    }
    Err(ScimError::uniqueness(
        "a concurrent request is writing the same externalId; retry",
    ))
}

/// Both membership indexes and the person's group names, in one atomic round trip.
async fn add_member(
    store: &dyn Store,
    clock: &dyn Clock,
    g: &GroupRecord,
    mut u: User,
) -> Result<()> {
    let mut ops = vec![
        BatchOp::IndexAdd {
            index: keys::scim_group_members(&g.id),
            member: u.id.clone(),
        },
        BatchOp::IndexAdd {
            index: keys::scim_user_groups(&u.id),
            member: g.id.clone(),
        },
    ];
    if !u.groups.contains(&g.display_name) {
        u.groups.push(g.display_name.clone());
        u.updated_at = clock.now();
        ops.push(BatchOp::Put {
            key: keys::user(&u.id),
            value: encode(&u)?,
            ttl: None,
        });
    }
    store.batch(&ops).await?;
    Ok(())
}

async fn remove_member(
    store: &dyn Store,
    clock: &dyn Clock,
    g: &GroupRecord,
    user_id: &str,
) -> Result<()> {
    let mut ops = vec![
        BatchOp::IndexRemove {
            index: keys::scim_group_members(&g.id),
            member: user_id.to_owned(),
        },
        BatchOp::IndexRemove {
            index: keys::scim_user_groups(user_id),
            member: g.id.clone(),
        },
    ];
    if let Some(mut u) = crate::user::repo::get(store, user_id).await? {
        if u.groups.contains(&g.display_name) {
            u.groups.retain(|n| *n != g.display_name);
            u.updated_at = clock.now();
            ops.push(BatchOp::Put {
                key: keys::user(&u.id),
                value: encode(&u)?,
                ttl: None,
            });
        }
    }
    store.batch(&ops).await?;
    Ok(())
}

/// Takes `user` out of every group (the caller stores `user` with its groups updated).
pub async fn remove_user_everywhere(store: &dyn Store, user: &mut User) -> Result<()> {
    let index = keys::scim_user_groups(&user.id);
    loop {
        let gids = store.index_page(&index, 0, PAGE).await?;
        if gids.is_empty() {
            return Ok(());
        }
        for gid in gids {
            if let Some(g) = get_record(store, &gid).await? {
                user.groups.retain(|n| *n != g.display_name);
            }
            store
                .index_remove(&keys::scim_group_members(&gid), &user.id)
                .await?;
            store.index_remove(&index, &gid).await?;
        }
    }
}

async fn apply_membership(
    ctx: &Ctx<'_>,
    g: &GroupRecord,
    m: Membership,
    new_users: HashMap<String, User>,
) -> Result<()> {
    let mut doomed: Vec<String> = m.removed.into_iter().collect();
    if m.reset {
        let keep: HashSet<&String> = m.added_set.iter().collect();
        doomed = member_ids(ctx.store, &g.id)
            .await?
            .into_iter()
            .filter(|id| !keep.contains(id))
            .collect();
    }
    doomed.sort();
    for id in doomed {
        remove_member(ctx.store, ctx.clock, g, &id).await?;
    }
    let mut new_users = new_users;
    for id in m.added {
        if let Some(u) = new_users.remove(&id) {
            add_member(ctx.store, ctx.clock, g, u).await?;
        }
    }
    Ok(())
}

/// Carries a rename to every member's groups.
async fn rename_for_members(ctx: &Ctx<'_>, group_id: &str, old: &str, new: &str) -> Result<()> {
    for id in member_ids(ctx.store, group_id).await? {
        if let Some(mut u) = crate::user::repo::get(ctx.store, &id).await? {
            u.groups.retain(|n| n != old && n != new);
            u.groups.push(new.to_owned());
            u.updated_at = ctx.clock.now();
            ctx.store
                .put(&keys::user(&u.id), &encode(&u)?, None)
                .await?;
        }
    }
    Ok(())
}

/// POST /Groups.
pub async fn create(ctx: &Ctx<'_>, body: &Value) -> ScimResult<GroupRecord> {
    let attrs = resource::validate(&GROUP_RESOURCE, body)?;
    let plan = plan_from(&attrs)?;
    let members = attrs
        .get("members")
        .map(member_values)
        .transpose()?
        .unwrap_or_default();
    let new_users = load_new_members(ctx, &members).await?;
    let id = random::id("gr");
    claim_name(ctx, &plan.display_name, &id).await?;
    if let Some(ext) = &plan.external_id {
        if let Err(e) = claim_external_id(ctx, ext, &id).await {
            ctx.store
                .delete_if_equals(
                    &keys::scim_group_name(&ctx.tenant.id, &plan.display_name.to_lowercase()),
                    id.as_bytes(),
                )
                .await?;
            return Err(e);
        }
    }
    let now = ctx.clock.now();
    let g = GroupRecord {
        id: id.clone(),
        tenant_id: ctx.tenant.id.clone(),
        display_name: plan.display_name,
        external_id: plan.external_id,
        created_at: now,
        updated_at: now,
    };
    ctx.store
        .put(&keys::scim_group(&id), &encode(&g)?, None)
        .await?;
    ctx.store
        .index_add(&keys::tenant_groups(&ctx.tenant.id), &id)
        .await?;
    let mut m = Membership::default();
    m.add(members);
    apply_membership(ctx, &g, m, new_users).await?;
    Ok(g)
}

/// Applies a new name/externalId and membership to an existing group.
async fn write(
    ctx: &Ctx<'_>,
    current: GroupRecord,
    plan: Plan,
    m: Membership,
) -> ScimResult<GroupRecord> {
    let new_users = load_new_members(ctx, &m.added).await?;
    let renamed = plan.display_name != current.display_name;
    let mut taken_name = false;
    if plan.display_name.to_lowercase() != current.display_name.to_lowercase() {
        taken_name = claim_name(ctx, &plan.display_name, &current.id).await?;
    }
    if let Some(ext) = plan
        .external_id
        .as_ref()
        .filter(|e| Some(*e) != current.external_id.as_ref())
    {
        if let Err(e) = claim_external_id(ctx, ext, &current.id).await {
            if taken_name {
                ctx.store
                    .delete_if_equals(
                        &keys::scim_group_name(&ctx.tenant.id, &plan.display_name.to_lowercase()),
                        current.id.as_bytes(),
                    )
                    .await?;
            }
            return Err(e);
        }
    }
    let g = GroupRecord {
        display_name: plan.display_name,
        external_id: plan.external_id,
        updated_at: ctx
            .clock
            .now()
            .max(current.updated_at + time::Duration::nanoseconds(1)),
        ..current.clone()
    };
    ctx.store
        .put(&keys::scim_group(&g.id), &encode(&g)?, None)
        .await?;
    if current.display_name.to_lowercase() != g.display_name.to_lowercase() {
        ctx.store
            .delete_if_equals(
                &keys::scim_group_name(&ctx.tenant.id, &current.display_name.to_lowercase()),
                g.id.as_bytes(),
            )
            .await?;
    }
    if let Some(old) = current
        .external_id
        .as_ref()
        .filter(|e| Some(*e) != g.external_id.as_ref())
    {
        ctx.store
            .delete_if_equals(
                &keys::scim_external_id(&ctx.tenant.id, "Group", old),
                g.id.as_bytes(),
            )
            .await?;
    }
    if renamed {
        rename_for_members(ctx, &g.id, &current.display_name, &g.display_name).await?;
    }
    if !m.is_empty() {
        apply_membership(ctx, &g, m, new_users).await?;
    }
    Ok(g)
}

/// PUT /Groups/{id}: name, externalId and the full member list.
pub async fn replace(
    ctx: &Ctx<'_>,
    id: &str,
    body: &Value,
    if_match: Option<&str>,
) -> ScimResult<GroupRecord> {
    let current = require(ctx, id).await?;
    check_precondition(if_match, &current.version())?;
    let attrs = resource::validate(&GROUP_RESOURCE, body)?;
    let plan = plan_from(&attrs)?;
    let mut m = Membership::default();
    m.reset(
        attrs
            .get("members")
            .map(member_values)
            .transpose()?
            .unwrap_or_default(),
    );
    write(ctx, current, plan, m).await
}

/// Ids a `members[…]` filter selects: `value eq` alternatives directly, anything else by
/// evaluating it over the current members.
async fn selected_members(ctx: &Ctx<'_>, group_id: &str, inner: &Compiled) -> Result<Vec<String>> {
    fn direct(c: &Compiled, out: &mut Vec<String>) -> bool {
        match c {
            Compiled::Compare(r, CompareOp::Eq, Value::String(s)) if r.attr.name == "value" => {
                out.push(s.clone());
                true
            }
            Compiled::Or(parts) => parts.iter().all(|p| direct(p, out)),
            _ => false,
        }
    }
    let mut ids = Vec::new();
    if direct(inner, &mut ids) {
        return Ok(ids);
    }
    Ok(member_ids(ctx.store, group_id)
        .await?
        .into_iter()
        .filter(|id| filter::matches(inner, &json!({"value": id, "type": "User"})))
        .collect())
}

/// PATCH /Groups/{id}. Member operations become index updates (see the module comment);
/// the rest (displayName, externalId) is applied to the group's small document.
pub async fn patch(
    ctx: &Ctx<'_>,
    id: &str,
    body: &Value,
    if_match: Option<&str>,
) -> ScimResult<GroupRecord> {
    let ops = patch::parse_request(body)?;
    let current = require(ctx, id).await?;
    check_precondition(if_match, &current.version())?;
    let mut doc = Map::new();
    doc.insert("displayName".into(), json!(current.display_name));
    if let Some(e) = &current.external_id {
        doc.insert("externalId".into(), json!(e));
    }
    let mut m = Membership::default();
    for op in ops {
        let Some(path) = &op.path else {
            // Path-less add/replace: members inside the value object are membership.
            let mut value = op.value.clone().unwrap_or(Value::Null);
            if let Some(obj) = value.as_object_mut() {
                let key = obj
                    .keys()
                    .find(|k| k.eq_ignore_ascii_case("members"))
                    .cloned();
                if let Some(members) = key.and_then(|k| obj.remove(&k)) {
                    let ids = member_values(&members)?;
                    match op.kind {
                        OpKind::Replace => m.reset(ids),
                        _ => m.add(ids),
                    }
                }
            }
            patch::apply(
                &GROUP_RESOURCE,
                &mut doc,
                &[Operation {
                    value: Some(value),
                    ..op
                }],
            )?;
            continue;
        };
        if !path.attr.attr.eq_ignore_ascii_case("members") || path.attr.uri.is_some() {
            patch::apply(&GROUP_RESOURCE, &mut doc, std::slice::from_ref(&op))?;
            continue;
        }
        if path.attr.sub.is_some() || path.sub.is_some() {
            return Err(ScimError::invalid_path(
                "members can be added, replaced or removed as a whole value ({\"value\": id}), not by sub-attribute",
            ));
        }
        match (op.kind, &path.filter) {
            (OpKind::Add, None) => m.add(member_values(op.value.as_ref().unwrap_or(&Value::Null))?),
            (OpKind::Replace, None) => m.reset(member_values(op.value.as_ref().unwrap_or(&Value::Null))?),
            (OpKind::Remove, None) => match op.value.as_ref().filter(|v| !v.is_null()) {
                // Remove only those named (Entra ID); without a value: all, per the RFC.
                Some(v) => m.remove(member_values(v)?),
                None => m.reset(Vec::new()),
            },
            (OpKind::Remove, Some(f)) => {
                let wrapped = filter::Filter::ValuePath(path.attr.clone(), Box::new(f.clone()));
                let Compiled::Any(_, inner) = filter::compile(&GROUP_RESOURCE, &wrapped)
                    .map_err(|e| ScimError::invalid_path(e.detail))?
                else {
                    return Err(ScimError::invalid_path("members[…] needs a filter on value"));
                };
                m.remove(selected_members(ctx, id, &inner).await?);
            }
            (_, Some(_)) => {
                return Err(ScimError::invalid_path(
                    "members[…] can only be removed; add members with {\"op\": \"add\", \"path\": \"members\"}",
                ))
            }
        }
    }
    let attrs = resource::validate(&GROUP_RESOURCE, &Value::Object(doc))?;
    let plan = plan_from(&attrs)?;
    write(ctx, current, plan, m).await
}

/// DELETE /Groups/{id}: members lose the group.
pub async fn delete(ctx: &Ctx<'_>, id: &str, if_match: Option<&str>) -> ScimResult<()> {
    let g = require(ctx, id).await?;
    check_precondition(if_match, &g.version())?;
    delete_record(ctx.store, ctx.clock, &g).await?;
    Ok(())
}

async fn delete_record(store: &dyn Store, clock: &dyn Clock, g: &GroupRecord) -> Result<()> {
    for uid in member_ids(store, &g.id).await? {
        remove_member(store, clock, g, &uid).await?;
    }
    store
        .delete_if_equals(
            &keys::scim_group_name(&g.tenant_id, &g.display_name.to_lowercase()),
            g.id.as_bytes(),
        )
        .await?;
    if let Some(ext) = &g.external_id {
        store
            .delete_if_equals(
                &keys::scim_external_id(&g.tenant_id, "Group", ext),
                g.id.as_bytes(),
            )
            .await?;
    }
    store
        .index_remove(&keys::tenant_groups(&g.tenant_id), &g.id)
        .await?;
    store.delete(&keys::scim_group(&g.id)).await?;
    Ok(())
}

pub async fn purge_tenant(store: &dyn Store, tenant_id: &str) -> Result<()> {
    let index = keys::tenant_groups(tenant_id);
    let clock = crate::clock::SystemClock;
    loop {
        let ids = store.index_page(&index, 0, PAGE).await?;
        if ids.is_empty() {
            return Ok(());
        }
        for id in ids {
            match get_record(store, &id).await? {
                Some(g) => delete_record(store, &clock, &g).await?,
                None => store.index_remove(&index, &id).await?,
            }
        }
    }
}

async fn hint_candidates(ctx: &Ctx<'_>, hint: &Hint) -> Result<Option<Vec<String>>> {
    let one = |v: Option<Vec<u8>>| v.map(|b| String::from_utf8_lossy(&b).into_owned());
    let tid = &ctx.tenant.id;
    Ok(Some(match hint {
        Hint::Id(id) => vec![id.clone()],
        Hint::DisplayName(n) => one(ctx
            .store
            .get(&keys::scim_group_name(tid, &n.to_lowercase()))
            .await?)
        .into_iter()
        .collect(),
        Hint::ExternalId(e) => one(ctx
            .store
            .get(&keys::scim_external_id(tid, "Group", e))
            .await?)
        .into_iter()
        .collect(),
        Hint::UserName(_) | Hint::Email(_) => return Ok(None),
    }))
}

/// GET /Groups.
pub async fn list(ctx: &Ctx<'_>, q: &ListQuery) -> ScimResult<(Vec<Value>, usize)> {
    let with_members = !q.projection.omits("members")
        || q.filter
            .as_ref()
            .is_some_and(|f| filter::mentions(f, "members"));
    let index = keys::tenant_groups(&ctx.tenant.id);
    let skip = q.start_index - 1;
    let mut ids: Vec<String> = Vec::new();
    let mut total_unfiltered = None;
    match &q.filter {
        None => {
            total_unfiltered = Some(ctx.store.index_len(&index).await?);
            if q.count > 0 {
                ids = ctx.store.index_page(&index, skip, q.count).await?;
            }
        }
        Some(f) => {
            let mut set = BTreeSet::new();
            let mut indexed = false;
            if let Some(hints) = filter::hints(f) {
                indexed = true;
                for h in &hints {
                    match hint_candidates(ctx, h).await? {
                        Some(found) => set.extend(found),
                        None => indexed = false,
                    }
                }
            }
            if !indexed {
                set.clear();
                let mut offset = 0;
                loop {
                    let page = ctx.store.index_page(&index, offset, PAGE).await?;
                    if page.is_empty() {
                        break;
                    }
                    offset += page.len();
                    set.extend(page);
                }
            }
            ids = set.into_iter().collect();
        }
    }
    let mut page = Vec::new();
    let mut total = 0;
    for id in ids {
        let Some(g) = get_record(ctx.store, &id)
            .await?
            .filter(|g| g.tenant_id == ctx.tenant.id)
        else {
            continue;
        };
        let doc = render(ctx, &g, with_members).await?;
        match &q.filter {
            None => page.push(project(&q.projection, doc)),
            Some(f) => {
                if filter::matches(f, &doc) {
                    if total >= skip && page.len() < q.count {
                        page.push(project(&q.projection, doc));
                    }
                    total += 1;
                }
            }
        }
    }
    Ok((page, total_unfiltered.unwrap_or(total)))
}

fn project(p: &Projection, doc: Value) -> Value {
    p.apply(&GROUP_RESOURCE, doc)
}
