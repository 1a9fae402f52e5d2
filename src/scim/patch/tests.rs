//! Unit tests of PATCH parsing and application with the shapes vendors send (T43–T45).

use serde_json::json;

use super::*;
use crate::scim::resource::validate;
use crate::scim::schema::{ENTERPRISE_SCHEMA, GROUP_RESOURCE, USER_RESOURCE};

fn doc() -> Map<String, Value> {
    json!({
        "userName": "bjensen@example.com",
        "active": true,
        "displayName": "Barbara Jensen",
        "name": {"givenName": "Barbara", "familyName": "Jensen"},
        "emails": [{"value": "bjensen@example.com", "type": "work", "primary": true}],
        ENTERPRISE_SCHEMA: {"department": "Tours"}
    })
    .as_object()
    .unwrap()
    .clone()
}

fn patch(rs: &ResourceSchema, d: &mut Map<String, Value>, body: Value) -> ScimResult<()> {
    let ops = parse_request(&body)?;
    apply(rs, d, &ops)
}

fn ops(list: Value) -> Value {
    json!({"schemas": [PATCH_SCHEMA], "Operations": list})
}

#[test]
fn t43_entra_capitalised_ops_and_string_booleans() {
    let mut d = doc();
    patch(
        &USER_RESOURCE,
        &mut d,
        ops(json!([{"op": "Replace", "path": "active", "value": "False"}])),
    )
    .unwrap();
    let v = validate(&USER_RESOURCE, &Value::Object(d)).unwrap();
    assert_eq!(
        v["active"],
        json!(false),
        "\"False\" is false after validation"
    );

    let mut d = doc();
    patch(
        &USER_RESOURCE,
        &mut d,
        ops(json!([
            {"op": "Add", "path": "title", "value": "Guide"},
            {"op": "REMOVE", "path": "displayName"}
        ])),
    )
    .unwrap();
    assert_eq!(d["title"], "Guide");
    assert!(!d.contains_key("displayName"));
}

#[test]
fn t43_pathless_replace_with_object_and_subpaths() {
    let mut d = doc();
    patch(
        &USER_RESOURCE,
        &mut d,
        ops(json!([{"op": "replace", "value": {
            "active": false,
            "name.givenName": "Babs",
            "displayName": "Babs Jensen",
            ENTERPRISE_SCHEMA: {"department": "Sales"},
            "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:employeeNumber": "42"
        }}])),
    )
    .unwrap();
    assert_eq!(d["active"], false);
    assert_eq!(
        d["name"],
        json!({"givenName": "Babs", "familyName": "Jensen"}),
        "complex merge keeps familyName"
    );
    assert_eq!(
        d[ENTERPRISE_SCHEMA],
        json!({"department": "Sales", "employeeNumber": "42"})
    );
}

#[test]
fn t43_enterprise_manager_by_urn_path_with_bare_id() {
    let mut d = doc();
    patch(
        &USER_RESOURCE,
        &mut d,
        ops(json!([{"op": "Add", "path": "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager", "value": "us_boss"}])),
    )
    .unwrap();
    assert_eq!(d[ENTERPRISE_SCHEMA]["manager"], json!({"value": "us_boss"}));
    patch(
        &USER_RESOURCE,
        &mut d,
        ops(json!([{"op": "Remove", "path": "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager"}])),
    )
    .unwrap();
    assert!(d[ENTERPRISE_SCHEMA].get("manager").is_none());
}

#[test]
fn t43_filtered_path_on_absent_values_creates_them() {
    let mut d = doc();
    d.remove("emails");
    patch(
        &USER_RESOURCE,
        &mut d,
        ops(json!([
            {"op": "Replace", "path": "emails[type eq \"work\"].value", "value": "b@example.com"},
            {"op": "Add", "path": "phoneNumbers[type eq \"mobile\"].value", "value": "+1 555 0100"},
            {"op": "replace", "path": "addresses[type eq \"work\"].country", "value": "US"}
        ])),
    )
    .unwrap();
    assert_eq!(
        d["emails"],
        json!([{"type": "work", "value": "b@example.com"}])
    );
    assert_eq!(
        d["phoneNumbers"],
        json!([{"type": "mobile", "value": "+1 555 0100"}])
    );
    assert_eq!(d["addresses"], json!([{"type": "work", "country": "US"}]));
    // Existing value: changed in place, not duplicated.
    patch(
        &USER_RESOURCE,
        &mut d,
        ops(json!([{"op": "replace", "path": "emails[type eq \"work\"].value", "value": "c@example.com"}])),
    )
    .unwrap();
    assert_eq!(
        d["emails"],
        json!([{"type": "work", "value": "c@example.com"}])
    );
    // A filter that pins nothing cannot create: noTarget.
    let e = patch(
        &USER_RESOURCE,
        &mut d,
        ops(json!([{"op": "replace", "path": "emails[value co \"zzz\"].type", "value": "home"}])),
    )
    .unwrap_err();
    assert_eq!(e.scim_type, Some(crate::scim::error::ScimType::NoTarget));
}

#[test]
fn t43_remove_with_value_list_removes_only_those() {
    let mut g =
        json!({"displayName": "Eng", "members": [{"value": "a"}, {"value": "b"}, {"value": "c"}]})
            .as_object()
            .unwrap()
            .clone();
    patch(
        &GROUP_RESOURCE,
        &mut g,
        ops(json!([{"op": "Remove", "path": "members", "value": [{"value": "b"}]}])),
    )
    .unwrap();
    assert_eq!(
        g["members"],
        json!([{"value": "a"}, {"value": "c"}]),
        "never all members"
    );
    patch(
        &GROUP_RESOURCE,
        &mut g,
        ops(json!([{"op": "remove", "path": "members[value eq \"a\"]"}])),
    )
    .unwrap();
    assert_eq!(g["members"], json!([{"value": "c"}]));
    patch(
        &GROUP_RESOURCE,
        &mut g,
        ops(json!([{"op": "remove", "path": "members"}])),
    )
    .unwrap();
    assert!(
        g.get("members").is_none(),
        "no value and no filter: all, as the RFC says"
    );
}

#[test]
fn add_to_multi_valued_appends_dedupes_and_keeps_one_primary() {
    let mut d = doc();
    patch(
        &USER_RESOURCE,
        &mut d,
        ops(json!([{"op": "add", "path": "emails", "value": [
            {"value": "BJENSEN@example.com", "display": "work"},
            {"value": "new@example.com", "type": "other", "primary": true}
        ]}])),
    )
    .unwrap();
    let emails = d["emails"].as_array().unwrap();
    assert_eq!(emails.len(), 2);
    assert_eq!(emails[0]["primary"], false);
    assert_eq!(emails[0]["display"], "work");
    assert_eq!(emails[1]["primary"], true);
    validate(&USER_RESOURCE, &Value::Object(d)).unwrap();
}

#[test]
fn t45_pathless_replace_renames_a_group() {
    let mut g = json!({"displayName": "Eng"}).as_object().unwrap().clone();
    patch(
        &GROUP_RESOURCE,
        &mut g,
        ops(json!([{"op": "replace", "value": {"id": "ignored", "displayName": "Engineering"}}])),
    )
    .unwrap();
    assert_eq!(g["displayName"], "Engineering");
    assert!(g.get("id").is_none());
}

#[test]
fn bad_requests_are_precise() {
    let mut d = doc();
    let e = |body: Value| patch(&USER_RESOURCE, &mut doc(), body).unwrap_err();
    assert!(e(json!({"Operations": []})).detail.contains("empty"));
    assert!(
        e(json!({"schemas": ["urn:x"], "Operations": [{"op": "add"}]}))
            .detail
            .contains("PatchOp")
    );
    assert!(e(ops(json!([{"op": "move", "path": "title", "value": 1}])))
        .detail
        .contains("add, replace or remove"));
    assert!(e(ops(json!([{"op": "add", "path": "title"}])))
        .detail
        .contains("needs a value"));
    assert_eq!(
        e(ops(json!([{"op": "remove"}]))).scim_type,
        Some(crate::scim::error::ScimType::NoTarget)
    );
    assert_eq!(
        e(ops(json!([{"op": "replace", "path": "id", "value": "x"}]))).scim_type,
        Some(crate::scim::error::ScimType::Mutability)
    );
    assert_eq!(
        e(ops(
            json!([{"op": "replace", "path": "groups", "value": []}])
        ))
        .scim_type,
        Some(crate::scim::error::ScimType::Mutability)
    );
    assert_eq!(
        e(ops(
            json!([{"op": "replace", "path": "nosuch", "value": 1}])
        ))
        .scim_type,
        Some(crate::scim::error::ScimType::InvalidPath)
    );
    assert_eq!(
        e(ops(
            json!([{"op": "replace", "path": "emails[type eq]", "value": 1}])
        ))
        .scim_type,
        Some(crate::scim::error::ScimType::InvalidPath)
    );
    assert!(e(json!([1])).detail.contains("object"));
    // Nothing was applied to the caller's document by a failing request.
    let before = d.clone();
    let _ = patch(
        &USER_RESOURCE,
        &mut d.clone(),
        ops(
            json!([{"op": "replace", "path": "title", "value": "x"}, {"op": "replace", "path": "id", "value": "y"}]),
        ),
    );
    assert_eq!(d, before);
    d.clear();
}
