//! The admin JSON API: authorization, validation, conflicts, error shapes.

use reqwest::Method;
use serde_json::json;

use crate::common::{unique_domain, Backend, TestApp};

async fn tenant_and_domain_lifecycle(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let domain = unique_domain();
    let r = app
        .admin(Method::POST, "/tenants", Some(json!({"name": "Acme", "primary_domain": domain.to_uppercase(), "secondary_domains": ["bücher-x.test"]})))
        .await;
    assert_eq!(r.status(), 201);
    let tenant: serde_json::Value = r.json().await.unwrap();
    let tid = tenant["id"].as_str().unwrap();
    assert_eq!(tenant["primary_domain"], domain, "domains are normalized");
    assert!(
        tenant["secondary_domains"][0]
            .as_str()
            .unwrap()
            .starts_with("xn--bcher-x-"),
        "IDNA"
    );

    // The same domain in any spelling belongs to one tenant only.
    let clash = app
        .admin(
            Method::POST,
            "/tenants",
            Some(json!({"name": "Other", "primary_domain": format!("{domain}.")})),
        )
        .await;
    assert_eq!(clash.status(), 409);
    assert_eq!(
        clash.json::<serde_json::Value>().await.unwrap()["error"]["code"],
        "conflict"
    );

    let extra = unique_domain();
    let r = app
        .admin(
            Method::POST,
            &format!("/tenants/{tid}/domains"),
            Some(json!({"domain": extra})),
        )
        .await;
    assert_eq!(r.status(), 201);
    let r = app
        .admin(Method::GET, &format!("/tenants/{tid}"), None)
        .await;
    let got: serde_json::Value = r.json().await.unwrap();
    assert!(got["secondary_domains"]
        .as_array()
        .unwrap()
        .iter()
        .any(|d| d == &json!(extra)));
    let r = app
        .admin(
            Method::DELETE,
            &format!("/tenants/{tid}/domains/{extra}"),
            None,
        )
        .await;
    assert_eq!(r.status(), 204);
    let r = app
        .admin(
            Method::DELETE,
            &format!("/tenants/{tid}/domains/{domain}"),
            None,
        )
        .await;
    assert_eq!(r.status(), 409, "primary domain stays");

    // Users: email must be in the tenant's domains.
    let r = app
        .admin(
            Method::POST,
            &format!("/tenants/{tid}/users"),
            Some(json!({"email": "x@jumpcloud.test", "password": "long enough pw"})),
        )
        .await;
    assert_eq!(r.status(), 400);
    let body: serde_json::Value = r.json().await.unwrap();
    assert_eq!(body["error"]["field"], "email");
    assert!(body["error"]["message"]
        .as_str()
        .unwrap()
        .contains("secondary domain"));
    let r = app
        .admin(
            Method::POST,
            &format!("/tenants/{tid}/users"),
            Some(json!({"email": format!("x@{domain}"), "password": "long enough pw"})),
        )
        .await;
    assert_eq!(r.status(), 201);
    let user: serde_json::Value = r.json().await.unwrap();
    assert!(user.get("password_hash").is_none() && user["has_password"] == json!(true));
    let dup = app
        .admin(
            Method::POST,
            &format!("/tenants/{tid}/users"),
            Some(json!({"email": format!("X@{domain}")})),
        )
        .await;
    assert_eq!(dup.status(), 409);
    let r = app
        .admin(Method::GET, &format!("/tenants/{tid}/users"), None)
        .await;
    assert_eq!(r.json::<serde_json::Value>().await.unwrap()["total"], 1);

    // Deleting the tenant frees its domain.
    assert_eq!(
        app.admin(Method::DELETE, &format!("/tenants/{tid}"), None)
            .await
            .status(),
        204
    );
    assert_eq!(
        app.admin(Method::GET, &format!("/tenants/{tid}"), None)
            .await
            .status(),
        404
    );
    let again = app
        .admin(
            Method::POST,
            "/tenants",
            Some(json!({"name": "Acme 2", "primary_domain": domain})),
        )
        .await;
    assert_eq!(again.status(), 201);
    app.stop().await;
}
crate::both_backends!(lifecycle_both, super::tenant_and_domain_lifecycle);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn admin_api_requires_the_token_and_answers_json() {
    let app = TestApp::spawn(Backend::Embedded).await;
    let c = reqwest::Client::new();
    for auth in [None, Some("Bearer wrong-token"), Some("Basic dGVzdDp0ZXN0")] {
        let mut req = c.get(app.url("/api/v1/tenants"));
        if let Some(a) = auth {
            req = req.header("Authorization", a);
        }
        let r = req.send().await.unwrap();
        assert_eq!(r.status(), 401);
        assert_eq!(
            r.json::<serde_json::Value>().await.unwrap()["error"]["code"],
            "unauthorized"
        );
    }
    let bad_json = c
        .post(app.url("/api/v1/tenants"))
        .bearer_auth(&app.admin_token)
        .header("content-type", "application/json")
        .body("{not json")
        .send()
        .await
        .unwrap();
    assert_eq!(bad_json.status(), 400);
    assert_eq!(
        bad_json.json::<serde_json::Value>().await.unwrap()["error"]["code"],
        "invalid_request"
    );
    let unknown_field = app
        .admin(
            Method::POST,
            "/tenants",
            Some(json!({"name": "A", "primary_domain": unique_domain(), "sso_onyl": true})),
        )
        .await;
    assert_eq!(
        unknown_field.status(),
        400,
        "typos are errors, not silently ignored"
    );
    let bad_domain = app
        .admin(
            Method::POST,
            "/tenants",
            Some(json!({"name": "A", "primary_domain": "localhost"})),
        )
        .await;
    assert_eq!(bad_domain.status(), 400);
    let huge = app
        .admin(
            Method::POST,
            "/tenants",
            Some(json!({"name": "x".repeat(100_000), "primary_domain": "a.test"})),
        )
        .await;
    assert!(huge.status() == 400 || huge.status() == 413);
    let nowhere = app.admin(Method::GET, "/nothing-here", None).await;
    assert_eq!(nowhere.status(), 404);
    assert_eq!(
        nowhere.json::<serde_json::Value>().await.unwrap()["error"]["code"],
        "not_found"
    );
    let spec: serde_json::Value = reqwest::get(app.url("/api/v1/openapi.json"))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(spec["openapi"].as_str().unwrap().starts_with("3."));
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn declared_tenants_are_upserted_at_start() {
    let domain = unique_domain();
    let mut opts = crate::common::Options::new(Backend::Embedded);
    opts.tenants = vec![gatehouse::config::TenantConfig {
        name: "Declared".into(),
        primary_domain: domain.clone(),
        secondary_domains: vec![],
        sso_only: true,
    }];
    let app = TestApp::spawn_with(opts).await;
    let list: serde_json::Value = app
        .admin(Method::GET, "/tenants", None)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(list["total"], 1);
    assert_eq!(list["items"][0]["primary_domain"], domain);
    assert_eq!(list["items"][0]["sso_only"], true);
    // Between starts an admin adds a domain; the next start must keep it, and a file
    // that says sso_only = false must not switch the policy off.
    let tid = list["items"][0]["id"].as_str().unwrap().to_owned();
    let added = unique_domain();
    let r = app
        .admin(
            Method::POST,
            &format!("/tenants/{tid}/domains"),
            Some(serde_json::json!({ "domain": added })),
        )
        .await;
    assert!(r.status().is_success(), "{}", r.status());
    let (mut opts, tmp) = app.stop_keep_data().await;
    let declared_later = unique_domain();
    opts.tenants[0].sso_only = false;
    opts.tenants[0].secondary_domains = vec![declared_later.clone()];
    let again = TestApp::spawn_with(opts).await;
    let list: serde_json::Value = again
        .admin(Method::GET, "/tenants", None)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(list["total"], 1, "a restart updates, never duplicates");
    let secondary = list["items"][0]["secondary_domains"].as_array().unwrap();
    assert!(secondary.contains(&added.clone().into()), "{secondary:?}");
    assert!(
        secondary.contains(&declared_later.clone().into()),
        "{secondary:?}"
    );
    assert_eq!(
        list["items"][0]["sso_only"], true,
        "a restart never weakens SSO-only"
    );
    drop(tmp);
    again.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn operational_endpoints() {
    let app = TestApp::spawn(Backend::Embedded).await;
    assert_eq!(
        reqwest::get(app.url("/healthz")).await.unwrap().status(),
        200
    );
    assert_eq!(
        reqwest::get(app.url("/readyz")).await.unwrap().status(),
        200
    );
    let (tenant, user, _) = app.tenant_with_user().await;
    let minted = app
        .mint_token(tenant["id"].as_str().unwrap(), user["id"].as_str().unwrap())
        .await;
    for _ in 0..3 {
        app.verify_bearer(minted["token"].as_str().unwrap()).await;
    }
    let metrics = reqwest::get(app.url("/metrics"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        metrics.contains("gatehouse_http_requests_total{route=\"/auth/verify\",status=\"200\"} 3"),
        "{metrics}"
    );
    assert!(
        metrics.contains("gatehouse_session_cache_hits 2"),
        "{metrics}"
    );
    assert!(!metrics.contains(minted["token"].as_str().unwrap()));
    app.stop().await;
}
