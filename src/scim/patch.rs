//! PATCH (RFC 7644 §3.5.2) applied to a resource's JSON, accepting what real clients send:
//! - Entra ID: `"op": "Replace"`/`"Add"`/`"Remove"` in any case, `"active": "False"`
//!   strings (coerced when the result is validated), `replace` without a path carrying an
//!   object whose keys may be paths (`name.givenName`) or extension URNs, extension-URN
//!   paths (`urn:…:enterprise:2.0:User:manager`) with a bare id as value, and filtered paths
//!   on values that do not exist yet (`emails[type eq "work"].value` creates the work
//!   address instead of failing with noTarget);
//! - `remove` of a multi-valued attribute *with* a value removes only those values — the
//!   RFC-literal reading (remove everything) is how members vanish by mistake (T43).
//!
//! Operations are applied to a copy in order; the caller validates the result as a whole
//! and stores it only if every operation and the validation succeeded, so a rejected PATCH
//! changes nothing.

use serde_json::{Map, Value};

use super::error::{ScimError, ScimResult};
use super::filter::{self, AttrPath, CompareOp, Compiled, PatchPath, Resolved};
use super::schema::{AttrType, Mutability, ResourceSchema, PATCH_SCHEMA};

/// Operations in one request.
pub const MAX_OPERATIONS: usize = 1000;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OpKind {
    Add,
    Replace,
    Remove,
}

#[derive(Debug, Clone)]
pub struct Operation {
    pub kind: OpKind,
    pub path: Option<PatchPath>,
    /// The path as sent, for error messages.
    pub raw_path: Option<String>,
    pub value: Option<Value>,
}

fn get_ci<'a>(obj: &'a Map<String, Value>, key: &str) -> Option<&'a Value> {
    obj.get(key).or_else(|| {
        obj.iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(key))
            .map(|(_, v)| v)
    })
}

/// Parses a PatchOp request body.
pub fn parse_request(body: &Value) -> ScimResult<Vec<Operation>> {
    let obj = body
        .as_object()
        .ok_or_else(|| ScimError::invalid_syntax("a PATCH body must be a JSON object"))?;
    if let Some(schemas) = get_ci(obj, "schemas") {
        let ok = schemas.as_array().is_some_and(|a| {
            a.iter().any(|s| {
                s.as_str()
                    .is_some_and(|s| s.eq_ignore_ascii_case(PATCH_SCHEMA))
            })
        });
        if !ok {
            return Err(ScimError::invalid_value(format!(
                "schemas must be [\"{PATCH_SCHEMA}\"]"
            )));
        }
    }
    let ops = get_ci(obj, "Operations")
        .and_then(Value::as_array)
        .ok_or_else(|| ScimError::invalid_syntax("a PATCH body needs an Operations array"))?;
    if ops.is_empty() {
        return Err(ScimError::invalid_value("Operations is empty"));
    }
    if ops.len() > MAX_OPERATIONS {
        return Err(ScimError::too_large(format!(
            "{} operations in one PATCH; at most {MAX_OPERATIONS}",
            ops.len()
        )));
    }
    ops.iter()
        .enumerate()
        .map(|(i, op)| {
            let o = op.as_object().ok_or_else(|| {
                ScimError::invalid_syntax(format!("Operations[{i}] must be an object"))
            })?;
            let kind = match get_ci(o, "op")
                .and_then(Value::as_str)
                .map(str::to_ascii_lowercase)
                .as_deref()
            {
                Some("add") => OpKind::Add,
                Some("replace") => OpKind::Replace,
                Some("remove") => OpKind::Remove,
                other => {
                    return Err(ScimError::invalid_value(format!(
                        "Operations[{i}].op must be add, replace or remove, not {}",
                        other.map_or("missing".to_owned(), |s| format!("\"{s}\""))
                    )))
                }
            };
            let raw_path = match get_ci(o, "path") {
                None | Some(Value::Null) => None,
                Some(Value::String(s)) if s.trim().is_empty() => None,
                Some(Value::String(s)) => Some(s.trim().to_owned()),
                Some(_) => {
                    return Err(ScimError::invalid_path(format!(
                        "Operations[{i}].path must be a string"
                    )))
                }
            };
            let path = raw_path.as_deref().map(filter::parse_path).transpose()?;
            let value = get_ci(o, "value").cloned();
            if kind != OpKind::Remove && value.is_none() {
                return Err(ScimError::invalid_value(format!(
                    "Operations[{i}] ({}) needs a value",
                    if kind == OpKind::Add {
                        "add"
                    } else {
                        "replace"
                    }
                )));
            }
            if kind == OpKind::Remove && path.is_none() {
                return Err(ScimError::no_target(format!(
                    "Operations[{i}]: remove needs a path"
                )));
            }
            Ok(Operation {
                kind,
                path,
                raw_path,
                value,
            })
        })
        .collect()
}

/// Applies `ops` to `doc` (a resource's JSON; only its attributes matter).
pub fn apply(
    rs: &ResourceSchema,
    doc: &mut Map<String, Value>,
    ops: &[Operation],
) -> ScimResult<()> {
    for op in ops {
        apply_one(rs, doc, op)?;
    }
    Ok(())
}

fn apply_one(rs: &ResourceSchema, doc: &mut Map<String, Value>, op: &Operation) -> ScimResult<()> {
    let Some(path) = &op.path else {
        // add/replace without a path: the value is an object of attributes (or paths).
        let value = op
            .value
            .as_ref()
            .and_then(Value::as_object)
            .ok_or_else(|| {
                ScimError::invalid_value(
                    "add/replace without a path needs an object value of attributes",
                )
            })?;
        for (key, v) in value {
            if ["schemas", "id", "meta"]
                .iter()
                .any(|k| key.eq_ignore_ascii_case(k))
            {
                continue;
            }
            apply_keyed(rs, doc, op.kind, key, v)?;
        }
        return Ok(());
    };
    // A path that names a whole extension: its attributes one by one.
    if path.filter.is_none() && path.attr.sub.is_none() {
        if let Some(uri) = &path.attr.uri {
            if let Some(ext) = rs.extension(&format!("{uri}:{}", path.attr.attr)) {
                return match (op.kind, &op.value) {
                    (OpKind::Remove, _) => {
                        doc.retain(|k, _| !k.eq_ignore_ascii_case(ext.id));
                        Ok(())
                    }
                    (_, Some(Value::Object(fields))) => {
                        for (k, v) in fields
                            .iter()
                            .filter(|(k, _)| !k.eq_ignore_ascii_case("schemas"))
                        {
                            apply_keyed(rs, doc, op.kind, &format!("{}:{k}", ext.id), v)?;
                        }
                        Ok(())
                    }
                    _ => Err(ScimError::invalid_value(format!(
                        "{}: the value must be an object of its attributes",
                        ext.id
                    ))),
                };
            }
        }
    }
    let r = filter::resolve(rs, &path.attr)?;
    check_mutable(&r, op.raw_path.as_deref().unwrap_or_default())?;
    match (op.kind, &path.filter) {
        (OpKind::Remove, None) => remove(doc, &r, op.value.as_ref()),
        (OpKind::Remove, Some(f)) => {
            let inner = compile_value_filter(rs, path, f)?;
            remove_matching(doc, &r, &inner, path.sub.as_deref());
            Ok(())
        }
        (kind, None) => set(doc, &r, kind, op.value.clone().unwrap_or(Value::Null)),
        (kind, Some(f)) => {
            let inner = compile_value_filter(rs, path, f)?;
            set_matching(
                doc,
                &r,
                &inner,
                f,
                path.sub.as_deref(),
                kind,
                op.value.clone().unwrap_or(Value::Null),
            )
        }
    }
}

/// A key of a path-less value: an attribute, a sub-attribute path, a qualified attribute,
/// or an extension URN holding an object.
fn apply_keyed(
    rs: &ResourceSchema,
    doc: &mut Map<String, Value>,
    kind: OpKind,
    key: &str,
    v: &Value,
) -> ScimResult<()> {
    if let Some(ext) = rs.extension(key) {
        let fields = v.as_object().ok_or_else(|| {
            ScimError::invalid_value(format!(
                "{}: the value must be an object of its attributes",
                ext.id
            ))
        })?;
        for (k, fv) in fields
            .iter()
            .filter(|(k, _)| !k.eq_ignore_ascii_case("schemas"))
        {
            apply_keyed(rs, doc, kind, &format!("{}:{k}", ext.id), fv)?;
        }
        return Ok(());
    }
    let path = AttrPath::parse(key)?;
    let r = match filter::resolve(rs, &path) {
        Ok(r) => r,
        // Attributes Gatehouse does not keep are ignored here as on create and replace.
        Err(_) if path.uri.is_none() => return Ok(()),
        Err(e) => return Err(e),
    };
    if r.attr.mutability == Mutability::ReadOnly && r.attr.name != "externalId" {
        return Ok(());
    }
    set(doc, &r, kind, v.clone())
}

fn check_mutable(r: &Resolved, raw: &str) -> ScimResult<()> {
    let read_only = |m: Mutability| m == Mutability::ReadOnly;
    if (read_only(r.attr.mutability) && r.attr.name != "externalId")
        || r.sub.is_some_and(|s| read_only(s.mutability))
    {
        return Err(ScimError::mutability(format!("`{raw}` is read-only")));
    }
    Ok(())
}

fn compile_value_filter(
    rs: &ResourceSchema,
    path: &PatchPath,
    f: &filter::Filter,
) -> ScimResult<Compiled> {
    let wrapped = filter::Filter::ValuePath(path.attr.clone(), Box::new(f.clone()));
    match filter::compile(rs, &wrapped).map_err(|e| ScimError::invalid_path(e.detail))? {
        Compiled::Any(_, inner) => Ok(*inner),
        _ => Err(ScimError::invalid_path(
            "a value filter needs a multi-valued attribute",
        )),
    }
}

fn container<'a>(
    doc: &'a mut Map<String, Value>,
    r: &Resolved,
    create: bool,
) -> Option<&'a mut Map<String, Value>> {
    match r.ext {
        None => Some(doc),
        Some(ext) => {
            if create && !doc.contains_key(ext) {
                doc.insert(ext.to_owned(), Value::Object(Map::new()));
            }
            doc.get_mut(ext).and_then(Value::as_object_mut)
        }
    }
}

fn key_of(c: &Map<String, Value>, name: &str) -> String {
    c.keys()
        .find(|k| k.eq_ignore_ascii_case(name))
        .cloned()
        .unwrap_or_else(|| name.to_owned())
}

/// Entra ID sends the manager (a complex attribute) as a bare id.
fn complex_value(r: &Resolved, v: Value) -> Value {
    match v {
        Value::String(s)
            if r.attr.ty == AttrType::Complex && r.attr.sub_attr("value").is_some() =>
        {
            let mut m = Map::new();
            m.insert("value".into(), Value::String(s));
            Value::Object(m)
        }
        other => other,
    }
}

fn same_value(a: &Value, b: &Value) -> bool {
    match (a.get("value"), b.get("value")) {
        (Some(Value::String(x)), Some(Value::String(y))) => x.eq_ignore_ascii_case(y),
        (Some(x), Some(y)) => x == y,
        _ => a == b,
    }
}

/// At most one primary value: a new primary demotes the others (RFC 7644 §3.5.2).
fn demote_other_primaries(items: &mut [Value], keep: usize) {
    if items.get(keep).and_then(|v| v.get("primary")) != Some(&Value::Bool(true)) {
        return;
    }
    for (i, item) in items.iter_mut().enumerate() {
        if i != keep {
            if let Some(o) = item.as_object_mut() {
                if o.get("primary") == Some(&Value::Bool(true)) {
                    o.insert("primary".into(), Value::Bool(false));
                }
            }
        }
    }
}

fn set(doc: &mut Map<String, Value>, r: &Resolved, kind: OpKind, v: Value) -> ScimResult<()> {
    let Some(c) = container(doc, r, true) else {
        return Err(ScimError::invalid_value("the extension is not an object"));
    };
    let key = key_of(c, r.attr.name);
    if let Some(sub) = r.sub {
        let sub_key = sub.name.to_owned();
        match c.get_mut(&key) {
            Some(Value::Array(items)) if r.attr.multi => {
                for item in items.iter_mut().filter_map(Value::as_object_mut) {
                    item.insert(sub_key.clone(), v.clone());
                }
                if items.is_empty() {
                    items.push(Value::Object(Map::from_iter([(sub_key, v)])));
                }
            }
            Some(Value::Object(o)) => {
                o.insert(sub_key, v);
            }
            _ => {
                let elem = Value::Object(Map::from_iter([(sub_key, v)]));
                c.insert(
                    key,
                    if r.attr.multi {
                        Value::Array(vec![elem])
                    } else {
                        elem
                    },
                );
            }
        }
        return Ok(());
    }
    if r.attr.multi {
        let new: Vec<Value> = match v {
            Value::Array(a) => a,
            Value::Null => Vec::new(),
            other => vec![other],
        };
        if kind == OpKind::Replace {
            c.insert(key, Value::Array(new));
            return Ok(());
        }
        let mut items = match c.remove(&key) {
            Some(Value::Array(a)) => a,
            _ => Vec::new(),
        };
        for n in new {
            match items.iter().position(|e| same_value(e, &n)) {
                Some(i) => {
                    if let (Some(e), Value::Object(n)) = (items[i].as_object_mut(), &n) {
                        e.extend(n.clone());
                    }
                    demote_other_primaries(&mut items, i);
                }
                None => {
                    items.push(n);
                    let last = items.len() - 1;
                    demote_other_primaries(&mut items, last);
                }
            }
        }
        c.insert(key, Value::Array(items));
        return Ok(());
    }
    let v = complex_value(r, v);
    match (c.get_mut(&key), v) {
        // Complex values merge: sub-attributes not named keep their value (§3.5.2.1/3).
        (Some(Value::Object(existing)), Value::Object(new)) if r.attr.ty == AttrType::Complex => {
            existing.extend(new);
        }
        (_, v) => {
            c.insert(key, v);
        }
    }
    Ok(())
}

fn remove(doc: &mut Map<String, Value>, r: &Resolved, value: Option<&Value>) -> ScimResult<()> {
    let Some(c) = container(doc, r, false) else {
        return Ok(());
    };
    let key = key_of(c, r.attr.name);
    if let Some(sub) = r.sub {
        match c.get_mut(&key) {
            Some(Value::Object(o)) => {
                o.retain(|k, _| !k.eq_ignore_ascii_case(sub.name));
            }
            Some(Value::Array(items)) => {
                for item in items.iter_mut().filter_map(Value::as_object_mut) {
                    item.retain(|k, _| !k.eq_ignore_ascii_case(sub.name));
                }
            }
            _ => {}
        }
        return Ok(());
    }
    match (r.attr.multi, value) {
        (true, Some(v)) if !v.is_null() => {
            // Remove only the values named (Entra ID's member removal), never all of them.
            let doomed: Vec<Value> = match v {
                Value::Array(a) => a.clone(),
                other => vec![other.clone()],
            };
            if let Some(Value::Array(items)) = c.get_mut(&key) {
                items.retain(|e| !doomed.iter().any(|d| same_value(e, d)));
                if items.is_empty() {
                    c.remove(&key);
                }
            }
        }
        _ => {
            c.remove(&key);
        }
    }
    Ok(())
}

fn remove_matching(
    doc: &mut Map<String, Value>,
    r: &Resolved,
    inner: &Compiled,
    sub: Option<&str>,
) {
    let Some(c) = container(doc, r, false) else {
        return;
    };
    let key = key_of(c, r.attr.name);
    if let Some(Value::Array(items)) = c.get_mut(&key) {
        match sub {
            None => items.retain(|e| !filter::matches(inner, e)),
            Some(s) => {
                for item in items.iter_mut().filter(|e| filter::matches(inner, e)) {
                    if let Some(o) = item.as_object_mut() {
                        o.retain(|k, _| !k.eq_ignore_ascii_case(s));
                    }
                }
            }
        }
        if items.is_empty() {
            c.remove(&key);
        }
    }
}

/// `attr[type eq "work" and …]`: the sub-attribute values an `eq` conjunction pins down,
/// used to create the value a filtered add/replace targets when none exists yet.
fn pinned_values(f: &filter::Filter, out: &mut Map<String, Value>) -> bool {
    match f {
        filter::Filter::Compare(p, CompareOp::Eq, v) if p.uri.is_none() && p.sub.is_none() => {
            out.insert(p.attr.clone(), v.clone());
            true
        }
        filter::Filter::And(a, b) => pinned_values(a, out) && pinned_values(b, out),
        _ => false,
    }
}

#[allow(clippy::too_many_arguments)]
fn set_matching(
    doc: &mut Map<String, Value>,
    r: &Resolved,
    inner: &Compiled,
    raw_filter: &filter::Filter,
    sub: Option<&str>,
    kind: OpKind,
    v: Value,
) -> ScimResult<()> {
    if let Some(s) = sub {
        if r.attr.sub_attr(s).is_none() {
            return Err(ScimError::invalid_path(format!(
                "`{s}` is not a sub-attribute of {}",
                r.attr.name
            )));
        }
    }
    let canonical_sub = sub
        .and_then(|s| r.attr.sub_attr(s))
        .map(|a| a.name.to_owned());
    let Some(c) = container(doc, r, true) else {
        return Err(ScimError::invalid_value("the extension is not an object"));
    };
    let key = key_of(c, r.attr.name);
    let mut items = match c.remove(&key) {
        Some(Value::Array(a)) => a,
        Some(other) => vec![other],
        None => Vec::new(),
    };
    let mut matched = false;
    for i in 0..items.len() {
        if !filter::matches(inner, &items[i]) {
            continue;
        }
        matched = true;
        match (&canonical_sub, items[i].as_object_mut()) {
            (Some(s), Some(o)) => {
                o.insert(s.clone(), v.clone());
            }
            (None, Some(o)) => match (&v, kind) {
                (Value::Object(n), _) => o.extend(n.clone()),
                _ => {
                    return Err(ScimError::invalid_value(format!(
                        "replacing {}[…] needs an object value",
                        r.attr.name
                    )))
                }
            },
            _ => {}
        }
        demote_other_primaries(&mut items, i);
    }
    if !matched {
        let mut created = Map::new();
        if !pinned_values(raw_filter, &mut created) {
            c.insert(key, Value::Array(items));
            return Err(ScimError::no_target(format!(
                "no value of {} matches the filter",
                r.attr.name
            )));
        }
        // Sub-attribute names in the filter were checked by compile; use their spelling.
        let created: Map<String, Value> = created
            .into_iter()
            .map(|(k, v)| (r.attr.sub_attr(&k).map_or(k, |a| a.name.to_owned()), v))
            .collect();
        let mut created = created;
        match (&canonical_sub, v) {
            (Some(s), v) => {
                created.insert(s.clone(), v);
            }
            (None, Value::Object(n)) => created.extend(n),
            (None, _) => {
                return Err(ScimError::invalid_value(format!(
                    "adding {}[…] needs an object value",
                    r.attr.name
                )))
            }
        }
        items.push(Value::Object(created));
        let last = items.len() - 1;
        demote_other_primaries(&mut items, last);
    }
    c.insert(key, Value::Array(items));
    Ok(())
}

#[cfg(test)]
mod tests;
