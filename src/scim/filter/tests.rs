//! Unit tests of the filter grammar, resolution and evaluation (T46).

use serde_json::json;

use super::*;
use crate::scim::schema::{GROUP_RESOURCE, USER_RESOURCE};

fn user() -> Value {
    json!({
        "id": "us_1",
        "userName": "Bjensen@Example.com",
        "externalId": "Ext-1",
        "name": {"givenName": "Barbara", "familyName": "Jensen"},
        "displayName": "Babs \"BJ\" Jensen",
        "title": "Tour Guide",
        "active": true,
        "emails": [
            {"value": "bjensen@example.com", "type": "work", "primary": true},
            {"value": "babs@jensen.org", "type": "home"}
        ],
        "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User": {
            "employeeNumber": "701984",
            "manager": {"value": "us_boss"}
        },
        "meta": {"created": "2024-01-01T00:00:00Z", "lastModified": "2024-06-01T12:00:00Z"}
    })
}

fn eval(f: &str) -> bool {
    let c = compile(&USER_RESOURCE, &parse(f).unwrap()).unwrap();
    matches(&c, &user())
}

fn err(f: &str) -> ScimError {
    parse(f)
        .and_then(|p| compile(&USER_RESOURCE, &p))
        .expect_err(f)
}

#[test]
fn t46_operators_and_case_rules() {
    // userName is caseExact=false; externalId and id are caseExact.
    assert!(eval(r#"userName eq "bjensen@example.com""#));
    assert!(
        eval(r#"USERNAME EQ "BJENSEN@EXAMPLE.COM""#),
        "names and operators are case-insensitive"
    );
    assert!(eval(r#"externalId eq "Ext-1""#));
    assert!(
        !eval(r#"externalId eq "ext-1""#),
        "externalId is case-exact"
    );
    assert!(!eval(r#"id eq "US_1""#));
    assert!(eval(r#"name.familyName co "ens""#));
    assert!(eval(r#"userName sw "bj""#));
    assert!(eval(r#"userName ew "EXAMPLE.COM""#));
    assert!(eval(r#"title ne "Manager""#));
    assert!(!eval(r#"title ne "tour guide""#));
    assert!(
        eval(r#"nickName ne "x""#),
        "absent attribute is ne anything"
    );
    assert!(eval("title pr"));
    assert!(!eval("nickName pr"));
    assert!(eval("active eq true"));
    assert!(!eval("active eq false"));
    assert!(eval(r#"meta.lastModified gt "2024-05-01T00:00:00Z""#));
    assert!(
        eval(r#"meta.lastModified ge "2024-06-01T12:00:00+00:00""#),
        "dateTimes compare as instants"
    );
    assert!(!eval(r#"meta.created lt "2023-12-31T23:59:59Z""#));
    assert!(eval(r#"meta.created le "2024-01-01T00:00:00Z""#));
    assert!(eval(r#"userName gt "a" and userName lt "c""#));
}

#[test]
fn t46_quoted_values_with_spaces_and_escapes() {
    assert!(eval(r#"displayName eq "Babs \"BJ\" Jensen""#));
    assert!(eval(r#"title eq "Tour Guide""#));
    assert!(!eval(r#"title eq "Tour""#), "no split on spaces");
    // The anti-pattern: splitting on `eq ` would break on a value containing it.
    assert!(!eval(r#"title eq "eq Tour Guide""#));
    assert_eq!(
        parse(r#"title eq "unterminated"#).unwrap_err().scim_type,
        Some(crate::scim::error::ScimType::InvalidFilter)
    );
}

#[test]
fn t46_logic_grouping_and_not() {
    assert!(eval(r#"userName eq "x" or title pr"#));
    assert!(!eval(r#"userName eq "x" and title pr"#));
    assert!(eval(r#"not (userName eq "x")"#));
    assert!(eval(
        r#"NOT(title eq "Tour Guide") or (active eq true and title sw "Tour")"#
    ));
    // and binds tighter than or.
    assert!(eval(
        r#"userName eq "x" and title eq "y" or active eq true"#
    ));
    assert!(!eval(
        r#"userName eq "x" and (title eq "y" or active eq true)"#
    ));
}

#[test]
fn t46_value_paths_and_extensions() {
    assert!(eval(
        r#"emails[type eq "work" and value co "@example.com"]"#
    ));
    assert!(!eval(
        r#"emails[type eq "home" and value co "@example.com"]"#
    ));
    assert!(eval(r#"emails.value eq "babs@jensen.org""#));
    assert!(eval(
        r#"emails[type eq "work"].value eq "BJENSEN@example.com""#
    ));
    assert!(!eval(
        r#"emails[type eq "home"].value eq "bjensen@example.com""#
    ));
    assert!(
        eval(r#"emails eq "BABS@jensen.org""#),
        "complex multi-valued compares value"
    );
    assert!(eval(r#"emails[not (type eq "work")]"#));
    assert!(eval(
        r#"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:employeeNumber eq "701984""#
    ));
    assert!(eval(
        r#"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager.value eq "us_boss""#
    ));
    assert!(eval(
        r#"urn:ietf:params:scim:schemas:core:2.0:User:userName pr"#
    ));
}

#[test]
fn t46_depth_and_size_limits() {
    let deep = format!(
        "{}title pr{}",
        "(".repeat(MAX_DEPTH + 1),
        ")".repeat(MAX_DEPTH + 1)
    );
    assert!(parse(&deep).unwrap_err().detail.contains("deeper"));
    let ok = format!("{}title pr{}", "(".repeat(MAX_DEPTH), ")".repeat(MAX_DEPTH));
    assert!(parse(&ok).is_ok());
    let nots = format!("{}title pr{}", "not (".repeat(100), ")".repeat(100));
    assert!(parse(&nots).is_err());
    let long = format!("title eq \"{}\"", "a".repeat(MAX_LEN));
    assert!(parse(&long).unwrap_err().detail.contains("longer"));
    let many = vec!["title pr"; MAX_TERMS + 1].join(" or ");
    assert!(parse(&many).unwrap_err().detail.contains("comparisons"));
}

#[test]
fn t46_errors_are_precise() {
    assert!(err("").detail.contains("empty"));
    assert!(err("userName").detail.contains("operator"));
    assert!(err(r#"userName xx "a""#).detail.contains("not an operator"));
    assert!(err(r#"userName eq"#).detail.contains("value"));
    assert!(err(r#"userName eq "a" extra"#)
        .detail
        .contains("unexpected"));
    assert!(err(r#"(userName eq "a""#).detail.contains("`)`"));
    assert!(err(r#"nosuch eq "a""#).detail.contains("not an attribute"));
    assert!(err(r#"active gt true"#).detail.contains("boolean"));
    assert!(err(r#"meta.created gt "yesterday""#)
        .detail
        .contains("RFC 3339"));
    assert!(err(r#"emails[type eq "work"][value pr]"#)
        .scim_type
        .is_some());
    assert!(err(r#"emails[nosuch eq "x"]"#)
        .detail
        .contains("sub-attribute"));
    assert!(err(r#"name eq "x""#).detail.contains("complex"));
    assert!(err("userName eq 'single'")
        .detail
        .contains("unexpected character"));
    for e in [err(""), err("userName"), err("nosuch pr")] {
        assert_eq!(e.status, 400);
        assert_eq!(
            e.scim_type,
            Some(crate::scim::error::ScimType::InvalidFilter)
        );
    }
}

#[test]
fn hints_use_indexes_only_when_they_cover_every_match() {
    let h = |f: &str| hints(&compile(&USER_RESOURCE, &parse(f).unwrap()).unwrap());
    assert_eq!(
        h(r#"userName eq "a""#),
        Some(vec![Hint::UserName("a".into())])
    );
    assert_eq!(
        h(r#"userName eq "a" and title pr"#),
        Some(vec![Hint::UserName("a".into())])
    );
    assert_eq!(
        h(r#"externalId eq "x" or emails.value eq "a@b.c""#),
        Some(vec![
            Hint::ExternalId("x".into()),
            Hint::Email("a@b.c".into())
        ])
    );
    assert_eq!(
        h(r#"emails[type eq "work" and value eq "a@b.c"]"#),
        Some(vec![Hint::Email("a@b.c".into())])
    );
    assert_eq!(
        h(r#"emails[type eq "work"].value eq "a@b.c""#),
        Some(vec![Hint::Email("a@b.c".into())])
    );
    assert_eq!(h(r#"userName eq "a" or title pr"#), None);
    assert_eq!(h(r#"userName ne "a""#), None);
    assert_eq!(h(r#"not (userName eq "a")"#), None);
    let g = compile(&GROUP_RESOURCE, &parse(r#"displayName eq "Eng""#).unwrap()).unwrap();
    assert_eq!(hints(&g), Some(vec![Hint::DisplayName("Eng".into())]));
}

#[test]
fn patch_paths() {
    let p = parse_path(r#"emails[type eq "work"].value"#).unwrap();
    assert_eq!(p.attr.attr, "emails");
    assert_eq!(p.sub.as_deref(), Some("value"));
    assert!(p.filter.is_some());
    let p =
        parse_path("urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager").unwrap();
    assert_eq!(
        p.attr.uri.as_deref(),
        Some("urn:ietf:params:scim:schemas:extension:enterprise:2.0:User")
    );
    assert_eq!(p.attr.attr, "manager");
    let p = parse_path(r#"members[value eq "2819c223-7f76-453a-919d-413861904646"]"#).unwrap();
    assert_eq!(p.attr.attr, "members");
    assert_eq!(p.attr.sub, None);
    assert_eq!(
        parse_path("name.givenName").unwrap().attr.sub.as_deref(),
        Some("givenName")
    );
    for bad in [
        "",
        "emails[",
        "emails[type eq \"work\"] x",
        "a.b.c",
        "1abc",
        "name.givenName[value pr]",
    ] {
        let e = parse_path(bad).unwrap_err();
        assert_eq!(
            e.scim_type,
            Some(crate::scim::error::ScimType::InvalidPath),
            "{bad}"
        );
    }
}
