//! What an IdP sends, checked against the schema: known attributes must have the right
//! shape (a string where a string belongs, at most one `primary`, …), Entra ID's
//! `"True"`/`"False"` strings become booleans, read-only attributes in input are ignored
//! (RFC 7643 §7), unknown schemas are refused, and attributes Gatehouse does not keep are
//! dropped. The result uses the schema's spelling of every name, so everything after this
//! point can match names exactly.

use serde_json::{Map, Value};

use super::error::{ScimError, ScimResult};
use super::filter::AttrPath;
use super::schema::{Attr, AttrType, Mutability, ResourceSchema};

const MAX_STRING: usize = 2048;
const MAX_VALUES: usize = 100;
/// Members a group can be given in one request.
pub const MAX_MEMBERS: usize = 20_000;

/// Schemas Entra ID lists in its requests without sending attributes of them; tolerated
/// (and ignored) rather than refused as unknown.
const TOLERATED_SCHEMA_PREFIX: &str =
    "http://schemas.microsoft.com/2006/11/ResourceManagement/ADSCIM/2.0/";

/// Validated attributes of a resource (core attributes at the top, extensions under their
/// URN), without `schemas`, `id` and `meta`.
pub fn validate(rs: &ResourceSchema, body: &Value) -> ScimResult<Map<String, Value>> {
    let Some(obj) = body.as_object() else {
        return Err(ScimError::invalid_syntax(format!(
            "the body must be a JSON object describing a {}",
            rs.name
        )));
    };
    if let Some(schemas) = obj
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case("schemas"))
        .map(|(_, v)| v)
    {
        let list = schemas
            .as_array()
            .ok_or_else(|| ScimError::invalid_syntax("schemas must be an array of schema URIs"))?;
        let mut has_core = false;
        for s in list {
            let s = s.as_str().ok_or_else(|| {
                ScimError::invalid_syntax("schemas must be an array of schema URIs")
            })?;
            match rs.schema(s) {
                Some(schema) => has_core |= schema.id == rs.core.id,
                None if s.starts_with(TOLERATED_SCHEMA_PREFIX) => {}
                None => {
                    return Err(ScimError::invalid_value(format!(
                        "unknown schema {s}; a {} may use {}",
                        rs.name,
                        known_schemas(rs)
                    )))
                }
            }
        }
        if !has_core {
            return Err(ScimError::invalid_value(format!(
                "schemas must include {}",
                rs.core.id
            )));
        }
    }
    let mut out = Map::new();
    for (key, value) in obj {
        if ["schemas", "id", "meta", "password"]
            .iter()
            .any(|k| key.eq_ignore_ascii_case(k))
            || key.starts_with(TOLERATED_SCHEMA_PREFIX)
        {
            // password: people of an SSO tenant sign in at their IdP; a copy is never kept.
            continue;
        }
        if key.eq_ignore_ascii_case("externalId") {
            match value {
                Value::Null => {}
                Value::String(s) if s.is_empty() => {}
                Value::String(s) if s.chars().count() <= 512 => {
                    out.insert("externalId".into(), value.clone());
                }
                _ => {
                    return Err(ScimError::invalid_value(
                        "externalId must be a string of at most 512 characters",
                    ))
                }
            }
            continue;
        }
        if let Some(ext) = rs.extension(key) {
            let Some(fields) = value.as_object() else {
                if value.is_null() {
                    continue;
                }
                return Err(ScimError::invalid_syntax(format!(
                    "{} must be an object of its attributes",
                    ext.id
                )));
            };
            let mut ext_out = Map::new();
            for (k, v) in fields {
                if let Some(attr) = ext.attr(k) {
                    if let Some(v) = validate_attr(attr, v, &format!("{}:{}", ext.id, attr.name))? {
                        ext_out.insert(attr.name.to_owned(), v);
                    }
                }
            }
            if !ext_out.is_empty() {
                out.insert(ext.id.to_owned(), Value::Object(ext_out));
            }
            continue;
        }
        if key.len() > 4 && key[..4].eq_ignore_ascii_case("urn:") {
            // A fully qualified attribute (`urn:…:User:userName`) or an unknown extension.
            let path = AttrPath::parse(key).ok();
            let target = path.as_ref().and_then(|p| {
                let schema = rs.schema(p.uri.as_deref()?)?;
                Some((schema, schema.attr(&p.attr)?, p))
            });
            match target {
                Some((schema, attr, p)) if p.sub.is_none() => {
                    if let Some(v) = validate_attr(attr, value, key)? {
                        if schema.id == rs.core.id {
                            out.insert(attr.name.to_owned(), v);
                        } else if let Some(o) = out
                            .entry(schema.id.to_owned())
                            .or_insert_with(|| Value::Object(Map::new()))
                            .as_object_mut()
                        {
                            o.insert(attr.name.to_owned(), v);
                        }
                    }
                }
                _ => {
                    return Err(ScimError::invalid_value(format!(
                        "unknown schema extension {key}; a {} may use {}",
                        rs.name,
                        known_schemas(rs)
                    )))
                }
            }
            continue;
        }
        if let Some(attr) = rs.core.attr(key) {
            if attr.mutability == Mutability::ReadOnly {
                continue;
            }
            if let Some(v) = validate_attr(attr, value, attr.name)? {
                out.insert(attr.name.to_owned(), v);
            }
        }
        // Anything else is an attribute Gatehouse does not keep; ignored like read-only ones.
    }
    for attr in rs.core.attrs.iter().filter(|a| a.required) {
        if !out.contains_key(attr.name) {
            return Err(ScimError::invalid_value(format!(
                "{} is required for a {}",
                attr.name, rs.name
            )));
        }
    }
    Ok(out)
}

fn known_schemas(rs: &ResourceSchema) -> String {
    std::iter::once(rs.core.id)
        .chain(rs.extensions.iter().map(|s| s.id))
        .collect::<Vec<_>>()
        .join(", ")
}

/// One attribute's value; `None` when it is unassigned (null, empty).
pub fn validate_attr(attr: &Attr, v: &Value, at: &str) -> ScimResult<Option<Value>> {
    if v.is_null() {
        return Ok(None);
    }
    if attr.multi {
        let items = match v {
            Value::Array(a) => a,
            _ => {
                return Err(ScimError::invalid_value(format!(
                    "{at} is multi-valued: send an array"
                )))
            }
        };
        let limit = if attr.name == "members" {
            MAX_MEMBERS
        } else {
            MAX_VALUES
        };
        if items.len() > limit {
            return Err(ScimError::too_large(format!(
                "{at} has {} values; at most {limit} are accepted",
                items.len()
            )));
        }
        let mut out = Vec::with_capacity(items.len());
        let mut primaries = 0;
        for (i, item) in items.iter().enumerate() {
            if let Some(v) = validate_single(attr, item, &format!("{at}[{i}]"))? {
                if v.get("primary") == Some(&Value::Bool(true)) {
                    primaries += 1;
                }
                out.push(v);
            }
        }
        if primaries > 1 {
            return Err(ScimError::invalid_value(format!(
                "{at}: at most one value may be primary"
            )));
        }
        return Ok((!out.is_empty()).then_some(Value::Array(out)));
    }
    validate_single(attr, v, at)
}

fn validate_single(attr: &Attr, v: &Value, at: &str) -> ScimResult<Option<Value>> {
    if v.is_null() {
        return Ok(None);
    }
    match attr.ty {
        AttrType::Complex => {
            let obj = match v {
                Value::Object(o) => o.clone(),
                // Entra ID sends the enterprise manager as a bare id.
                Value::String(s) if attr.sub_attr("value").is_some() => {
                    let mut o = Map::new();
                    o.insert("value".into(), Value::String(s.clone()));
                    o
                }
                _ => {
                    return Err(ScimError::invalid_value(format!(
                        "{at} must be an object with sub-attributes ({})",
                        attr.sub
                            .iter()
                            .map(|s| s.name)
                            .collect::<Vec<_>>()
                            .join(", ")
                    )))
                }
            };
            let mut out = Map::new();
            for (k, sv) in &obj {
                let Some(sub) = attr.sub_attr(k) else {
                    continue;
                };
                if sub.mutability == Mutability::ReadOnly && attr.name != "members" {
                    continue;
                }
                if let Some(sv) = validate_single(sub, sv, &format!("{at}.{}", sub.name))? {
                    out.insert(sub.name.to_owned(), sv);
                }
            }
            Ok((!out.is_empty()).then_some(Value::Object(out)))
        }
        AttrType::Boolean => match v {
            Value::Bool(_) => Ok(Some(v.clone())),
            Value::String(s) if s.eq_ignore_ascii_case("true") => Ok(Some(Value::Bool(true))),
            Value::String(s) if s.eq_ignore_ascii_case("false") => Ok(Some(Value::Bool(false))),
            _ => Err(ScimError::invalid_value(format!(
                "{at} must be true or false, not {v}"
            ))),
        },
        AttrType::String | AttrType::Reference => match v {
            Value::String(s) if s.chars().count() > MAX_STRING => Err(ScimError::invalid_value(
                format!("{at} is longer than {MAX_STRING} characters"),
            )),
            Value::String(s) if s.chars().any(|c| c.is_control() && c != '\n' && c != '\t') => Err(
                ScimError::invalid_value(format!("{at} must not contain control characters")),
            ),
            Value::String(s) if s.is_empty() => Ok(None),
            Value::String(_) => Ok(Some(v.clone())),
            _ => Err(ScimError::invalid_value(format!(
                "{at} must be a string, not {}",
                kind(v)
            ))),
        },
        AttrType::DateTime => match v.as_str() {
            Some(s)
                if time::OffsetDateTime::parse(
                    s,
                    &time::format_description::well_known::Rfc3339,
                )
                .is_ok() =>
            {
                Ok(Some(v.clone()))
            }
            _ => Err(ScimError::invalid_value(format!(
                "{at} must be an RFC 3339 date and time"
            ))),
        },
        AttrType::Decimal | AttrType::Integer => match v {
            Value::Number(n) if attr.ty == AttrType::Decimal || n.is_i64() || n.is_u64() => {
                Ok(Some(v.clone()))
            }
            _ => Err(ScimError::invalid_value(format!("{at} must be a number"))),
        },
    }
}

fn kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

/// The `attributes` / `excludedAttributes` parameters (RFC 7644 §3.9).
#[derive(Debug, Clone, Default)]
pub struct Projection {
    pub attributes: Vec<AttrPath>,
    pub excluded: Vec<AttrPath>,
}

impl Projection {
    pub fn parse(attributes: Option<&str>, excluded: Option<&str>) -> ScimResult<Self> {
        let list = |s: Option<&str>| -> ScimResult<Vec<AttrPath>> {
            s.map(|s| {
                s.split(',')
                    .map(str::trim)
                    .filter(|p| !p.is_empty())
                    .map(AttrPath::parse)
                    .collect()
            })
            .unwrap_or(Ok(Vec::new()))
        };
        Ok(Self {
            attributes: list(attributes)?,
            excluded: list(excluded)?,
        })
    }

    /// Whether `attr` (a top-level core attribute) can be left out of the answer, so the
    /// caller may skip loading it.
    pub fn omits(&self, attr: &str) -> bool {
        let named = |v: &Vec<AttrPath>| {
            v.iter()
                .any(|p| p.uri.is_none() && p.attr.eq_ignore_ascii_case(attr))
        };
        if !self.attributes.is_empty() {
            return !named(&self.attributes);
        }
        named(&self.excluded)
    }

    pub fn apply(&self, rs: &ResourceSchema, resource: Value) -> Value {
        let Value::Object(mut obj) = resource else {
            return resource;
        };
        if !self.attributes.is_empty() {
            let mut out = Map::new();
            for key in ["schemas", "id"] {
                if let Some(v) = obj.remove(key) {
                    out.insert(key.into(), v);
                }
            }
            for p in &self.attributes {
                copy_path(rs, &obj, &mut out, p);
            }
            return Value::Object(out);
        }
        for p in &self.excluded {
            remove_path(rs, &mut obj, p);
        }
        Value::Object(obj)
    }
}

/// (container key if an extension, attribute name) for a path, in the resource's spelling.
fn locate(rs: &ResourceSchema, p: &AttrPath) -> Option<(Option<&'static str>, String)> {
    match &p.uri {
        Some(uri) => {
            if let Some(schema) = rs.schema(&format!("{uri}:{}", p.attr)) {
                // The path names a whole extension.
                return Some((None, schema.id.to_owned()));
            }
            let schema = rs.schema(uri)?;
            let attr = schema.attr(&p.attr)?;
            let ext = (schema.id != rs.core.id).then_some(schema.id);
            Some((ext, attr.name.to_owned()))
        }
        None => {
            if let Some(a) = rs.core.attr(&p.attr) {
                return Some((None, a.name.to_owned()));
            }
            ["id", "externalId", "meta"]
                .iter()
                .find(|n| n.eq_ignore_ascii_case(&p.attr))
                .map(|n| (None, (*n).to_owned()))
        }
    }
}

fn copy_path(
    rs: &ResourceSchema,
    from: &Map<String, Value>,
    to: &mut Map<String, Value>,
    p: &AttrPath,
) {
    let Some((ext, name)) = locate(rs, p) else {
        return;
    };
    let (src, dst) = match ext {
        Some(e) => {
            let Some(Value::Object(src)) = from.get(e) else {
                return;
            };
            let dst = to
                .entry(e.to_owned())
                .or_insert_with(|| Value::Object(Map::new()));
            match dst.as_object_mut() {
                Some(d) => (src, d),
                None => return,
            }
        }
        None => (from, &mut *to),
    };
    let Some(v) = src.get(&name) else {
        return;
    };
    match &p.sub {
        None => {
            dst.insert(name, v.clone());
        }
        Some(sub) => {
            let pick = |o: &Value| -> Option<Value> {
                let o = o.as_object()?;
                let (k, sv) = o.iter().find(|(k, _)| k.eq_ignore_ascii_case(sub))?;
                let mut m = Map::new();
                m.insert(k.clone(), sv.clone());
                Some(Value::Object(m))
            };
            let picked = match v {
                Value::Array(items) => Value::Array(items.iter().filter_map(pick).collect()),
                other => match pick(other) {
                    Some(p) => p,
                    None => return,
                },
            };
            merge_into(dst, name, picked);
        }
    }
}

fn merge_into(dst: &mut Map<String, Value>, name: String, picked: Value) {
    match (dst.get_mut(&name), picked) {
        (Some(Value::Object(existing)), Value::Object(add)) => existing.extend(add),
        (Some(Value::Array(existing)), Value::Array(add)) if existing.len() == add.len() => {
            for (e, a) in existing.iter_mut().zip(add) {
                if let (Some(e), Value::Object(a)) = (e.as_object_mut(), a) {
                    e.extend(a);
                }
            }
        }
        (_, picked) => {
            dst.insert(name, picked);
        }
    }
}

fn remove_path(rs: &ResourceSchema, obj: &mut Map<String, Value>, p: &AttrPath) {
    let Some((ext, name)) = locate(rs, p) else {
        return;
    };
    if ext.is_none() && (name == "id" || name == "schemas") {
        return;
    }
    let container = match ext {
        Some(e) => match obj.get_mut(e).and_then(Value::as_object_mut) {
            Some(c) => c,
            None => return,
        },
        None => obj,
    };
    match &p.sub {
        None => {
            container.remove(&name);
        }
        Some(sub) => match container.get_mut(&name) {
            Some(Value::Object(o)) => {
                o.retain(|k, _| !k.eq_ignore_ascii_case(sub));
            }
            Some(Value::Array(items)) => {
                for item in items.iter_mut().filter_map(Value::as_object_mut) {
                    item.retain(|k, _| !k.eq_ignore_ascii_case(sub));
                }
            }
            _ => {}
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scim::schema::USER_RESOURCE;
    use serde_json::json;

    #[test]
    fn validation_coerces_entra_booleans_and_refuses_wrong_types() {
        let v = validate(
            &USER_RESOURCE,
            &json!({"schemas": [crate::scim::schema::USER_SCHEMA], "userName": "a@b.test", "active": "False",
                    "emails": [{"value": "a@b.test", "primary": "True", "type": "work"}],
                    "groups": [{"value": "ignored"}], "nonsense": 1, "password": "x"}),
        )
        .unwrap();
        assert_eq!(v["active"], json!(false));
        assert_eq!(v["emails"][0]["primary"], json!(true));
        assert!(
            !v.contains_key("groups") && !v.contains_key("nonsense") && !v.contains_key("password")
        );

        let e = validate(&USER_RESOURCE, &json!({"userName": 5})).unwrap_err();
        assert_eq!(
            (e.status, e.detail.as_str()),
            (400, "userName must be a string, not a number")
        );
        let e = validate(
            &USER_RESOURCE,
            &json!({"userName": "a", "emails": {"value": "x"}}),
        )
        .unwrap_err();
        assert!(e.detail.contains("multi-valued"));
        let e = validate(&USER_RESOURCE, &json!({"userName": "a", "active": "yes"})).unwrap_err();
        assert!(e.detail.contains("true or false"));
        let e = validate(
            &USER_RESOURCE,
            &json!({"schemas": ["urn:x:unknown"], "userName": "a"}),
        )
        .unwrap_err();
        assert!(e.detail.contains("unknown schema urn:x:unknown"));
        let e = validate(&USER_RESOURCE, &json!({"displayName": "a"})).unwrap_err();
        assert!(e.detail.contains("userName is required"));
        let e = validate(
            &USER_RESOURCE,
            &json!({"userName": "a", "emails": [{"value": "a@x", "primary": true}, {"value": "b@x", "primary": true}]}),
        )
        .unwrap_err();
        assert!(e.detail.contains("primary"));
        let e = validate(&USER_RESOURCE, &json!(["not", "an", "object"])).unwrap_err();
        assert_eq!(
            e.scim_type,
            Some(crate::scim::error::ScimType::InvalidSyntax)
        );
    }

    #[test]
    fn projection_keeps_id_and_named_attributes() {
        let user = json!({"schemas": ["s"], "id": "1", "userName": "u", "title": "t",
            "emails": [{"value": "a", "type": "work"}],
            "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User": {"department": "d", "division": "x"}});
        let p = Projection::parse(
            Some("userName,emails.value,urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department"),
            None,
        )
        .unwrap();
        let out = p.apply(&USER_RESOURCE, user.clone());
        assert_eq!(
            out,
            json!({"schemas": ["s"], "id": "1", "userName": "u", "emails": [{"value": "a"}],
                   "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User": {"department": "d"}})
        );
        let p = Projection::parse(None, Some("emails,title,id")).unwrap();
        let out = p.apply(&USER_RESOURCE, user);
        assert!(out.get("emails").is_none() && out.get("title").is_none());
        assert_eq!(out["id"], "1");
        assert!(p.omits("emails") && !p.omits("userName"));
    }
}
