//! Stored shapes (old SAML records, old flows), pending/expired, the gate and start links.

use super::*;

fn t(secs: i64) -> OffsetDateTime {
    OffsetDateTime::from_unix_timestamp(1_700_000_000 + secs).unwrap()
}

#[test]
fn saml_records_from_before_this_module_still_read() {
    let old = serde_json::json!({
        "id": "abc", "tenant_id": "tn_1", "by_user": "us_1", "at": "2026-01-01T00:00:00Z",
        "report": {
            "passed": true, "refusal": null, "checks": [], "clock_difference_secs": 2,
            "signing_certificate": null, "configured_certificates": [], "identity": null,
            "response_xml": "<x/>"
        },
        "outcome": "would sign in as a@a.test"
    });
    let r: TestRecord = serde_json::from_value(old).unwrap();
    assert_eq!(r.protocol, Protocol::Saml);
    assert_eq!(r.via, Via::Console);
    assert!(matches!(r.report, Some(Report::Saml(ref s)) if s.passed));
    assert_eq!(r.finished_at, Some(r.started_at));
    assert_eq!(r.status(r.started_at), Status::Passed);
    // And round-trips in the new shape.
    let again: TestRecord = serde_json::from_slice(&encode(&r).unwrap()).unwrap();
    assert_eq!(again, r);
}

#[test]
fn pending_tests_expire_once_their_flow_cannot_come_back() {
    let r = TestRecord {
        id: "x".into(),
        tenant_id: "tn".into(),
        by_user: API_RUNNER.into(),
        via: Via::Api,
        protocol: Protocol::Oidc,
        started_at: t(0),
        finished_at: None,
        report: None,
        outcome: String::new(),
    };
    assert_eq!(r.status(t(60)), Status::Pending);
    assert_eq!(r.status(t(21 * 60)), Status::Expired);
    let again: TestRecord = serde_json::from_slice(&encode(&r).unwrap()).unwrap();
    assert_eq!(again, r);
}

#[test]
fn flows_from_before_marks_carry_the_runner_only() {
    #[derive(Deserialize)]
    struct Flow {
        #[serde(default, alias = "test_by", deserialize_with = "mark_or_runner")]
        test: Option<TestMark>,
    }
    let old: Flow = serde_json::from_str(r#"{"test_by":"us_1"}"#).unwrap();
    let mark = old.test.unwrap();
    assert_eq!((mark.by.as_str(), mark.via), ("us_1", Via::Console));
    let new: Flow =
        serde_json::from_str(r#"{"test":{"id":"t1","by":"admin API","via":"api"}}"#).unwrap();
    assert_eq!(new.test.unwrap().via, Via::Api);
    let none: Flow = serde_json::from_str("{}").unwrap();
    assert!(none.test.is_none());
    let null: Flow = serde_json::from_str(r#"{"test_by":null}"#).unwrap();
    assert!(null.test.is_none());
}

fn passed_oidc_report(passed: bool) -> Report {
    Report::Oidc(oidc::diagnose::Report {
        passed,
        refusal: None,
        checks: Vec::new(),
        clock_difference_secs: Some(0),
        algorithm: Some("RS256".into()),
        key_id: None,
        matched_key: None,
        jwks_key_ids: Vec::new(),
        claims: None,
        claims_verified: passed,
        identity: None,
    })
}

async fn put_oidc(store: &dyn Store, tenant: &str, updated_at: OffsetDateTime) {
    let input = oidc::connection::OidcConnectionInput {
        issuer: Some("https://idp.example".into()),
        client_id: Some("c".into()),
        client_secret: Some("s".into()),
        ..Default::default()
    };
    let c = oidc::connection::build(tenant, input, None, false, updated_at).unwrap();
    store
        .put(&keys::oidc_connection(tenant), &encode(&c).unwrap(), None)
        .await
        .unwrap();
}

#[tokio::test]
async fn the_gate_follows_the_current_connection_of_either_protocol() {
    let dir = tempfile::tempdir().unwrap();
    let clock: crate::clock::SharedClock = std::sync::Arc::new(crate::clock::SystemClock);
    let store = crate::store::embedded::EmbeddedStore::open(&dir.path().join("db"), clock).unwrap();
    let store: &dyn Store = &store;
    let err = require_passed(store, "tn").await.unwrap_err();
    assert!(
        err.to_string().contains("set up SAML or OpenID Connect"),
        "{err}"
    );

    put_oidc(store, "tn", t(0)).await;
    let err = require_passed(store, "tn").await.unwrap_err();
    assert!(
        err.to_string()
            .contains("current SSO connection (OpenID Connect)"),
        "{err}"
    );

    // A failed test opens nothing; a passed one of this version does.
    let version = current_connection(store, "tn").await.unwrap().unwrap();
    let mark = begin(store, t(1), "tn", Protocol::Oidc, "us_1", Via::Console)
        .await
        .unwrap();
    assert_eq!(
        get(store, &mark.id).await.unwrap().unwrap().status(t(2)),
        Status::Pending
    );
    finish(
        store,
        "tn",
        &mark,
        version,
        t(2),
        passed_oidc_report(false),
        String::new(),
    )
    .await
    .unwrap();
    assert!(require_passed(store, "tn").await.is_err());
    let mark = begin(store, t(3), "tn", Protocol::Oidc, "us_1", Via::Console)
        .await
        .unwrap();
    finish(
        store,
        "tn",
        &mark,
        version,
        t(4),
        passed_oidc_report(true),
        String::new(),
    )
    .await
    .unwrap();
    require_passed(store, "tn").await.unwrap();
    assert_eq!(
        passed_at(store, "tn").await.unwrap(),
        Some((Protocol::Oidc, t(4)))
    );
    let listed = list(store, "tn", 10).await.unwrap();
    assert_eq!(listed.len(), 2);
    assert_eq!(listed[0].id, mark.id, "newest first");

    // A changed connection (new updated_at) needs a new test.
    put_oidc(store, "tn", t(5)).await;
    assert!(require_passed(store, "tn").await.is_err());

    // A pass recorded for a SAML connection never opens an OIDC one, even with the
    // same timestamp (markers from SAML-only versions carry no protocol).
    let legacy = serde_json::json!({
        "at": "2023-11-14T22:13:25Z",
        "connection_updated_at": "2023-11-14T22:13:25Z"
    });
    put_oidc(store, "tn", t(5)).await;
    store
        .put(
            &keys::sso_test_passed("tn"),
            legacy.to_string().as_bytes(),
            None,
        )
        .await
        .unwrap();
    assert!(require_passed(store, "tn").await.is_err());
}

#[tokio::test]
async fn an_api_start_link_works_once() {
    let dir = tempfile::tempdir().unwrap();
    let clock: crate::clock::SharedClock = std::sync::Arc::new(crate::clock::SystemClock);
    let store = crate::store::embedded::EmbeddedStore::open(&dir.path().join("db"), clock).unwrap();
    let store: &dyn Store = &store;
    assert!(matches!(
        create_start_link(store, t(0), "tn").await,
        Err(Error::Conflict(_))
    ));
    put_oidc(store, "tn", t(0)).await;
    let (record, secret) = create_start_link(store, t(0), "tn").await.unwrap();
    assert_eq!((record.via, record.protocol), (Via::Api, Protocol::Oidc));
    let link = take_start_link(store, &secret).await.unwrap().unwrap();
    assert_eq!(link.test_id, record.id);
    assert!(take_start_link(store, &secret).await.unwrap().is_none());
    assert!(take_start_link(store, "guess").await.unwrap().is_none());
}
