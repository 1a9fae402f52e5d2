//! The console's Logs over HTTP: the provisioning view (every SCIM write, the JumpCloud
//! wrong-domain refusal among them) and the configuration changes view (a SAML save with
//! its fingerprints and who made it), their filters and bad-date page, the admin API's
//! `/changes` and `provisioning-log?target=`, and certificate expiry on the organisations
//! list and the test report.

use reqwest::Method;
use serde_json::{json, Value};

use crate::common::{certificate, unique_domain, Backend, TestApp};
use crate::console::Console;
use crate::scim_support::{create_key, USER};

/// The rows of the page's log table (empty when the page says nothing matches).
fn rows(html: &str) -> Vec<String> {
    let Some(start) = html.find("<tbody>") else {
        return Vec::new();
    };
    let end = html[start..].find("</tbody>").unwrap() + start;
    html[start..end]
        .split("<tr>")
        .skip(1)
        .map(str::to_owned)
        .collect()
}

async fn api_items(app: &TestApp, path: &str) -> Vec<Value> {
    let r = app.admin(Method::GET, path, None).await;
    assert_eq!(r.status(), 200, "{path}");
    r.json::<Value>().await.unwrap()["items"]
        .as_array()
        .unwrap()
        .clone()
}

/// The SHA-256 fingerprint of the console tenant's first IdP certificate.
async fn first_fingerprint(c: &Console) -> String {
    let settings: Value = c
        .app
        .admin(Method::GET, &format!("/tenants/{}/saml", c.tid()), None)
        .await
        .json()
        .await
        .unwrap();
    settings["connection"]["certificates"][0]["sha256_fingerprint"]
        .as_str()
        .unwrap()
        .to_owned()
}

fn today() -> String {
    time::OffsetDateTime::now_utc().date().to_string()
}

async fn provisioning_view(backend: Backend) {
    let c = Console::new(backend).await;
    let tid = c.tid().to_owned();
    let key = create_key(&c.app, &tid, "JumpCloud directory", json!(["scim"])).await;
    let scim = |body: Value| {
        reqwest::Client::new()
            .post(c.app.url("/scim/v2/Users"))
            .bearer_auth(key["secret"].as_str().unwrap())
            .header("content-type", "application/scim+json")
            .body(body.to_string())
            .send()
    };
    let jane = format!("jane.doe@{}", c.domain);
    let ok = scim(json!({"schemas": [USER], "userName": jane, "active": true}))
        .await
        .unwrap();
    assert_eq!(ok.status(), 201);
    // JumpCloud's activation test user is outside the tenant's domains.
    let refused =
        scim(json!({"schemas": [USER], "userName": "scim.test@jumpcloud.com", "active": true}))
            .await
            .unwrap();
    assert_eq!(refused.status(), 400);
    let log = api_items(&c.app, &format!("/tenants/{tid}/provisioning-log")).await;
    let [failed_id, ok_id] = [&log[0]["id"], &log[1]["id"]].map(|v| v.as_str().unwrap().to_owned());

    let view = format!("/admin/tenants/{tid}/logs/provisioning");
    let (status, html) = c.page(&view).await;
    assert_eq!(status, 200);
    assert!(html.contains(r#"aria-current="page">Provisioning</a>"#));
    assert!(html.contains(&format!(r#"href="/admin/tenants/{tid}/logs/changes""#)));
    let all = rows(&html);
    assert_eq!(all.len(), 2, "{html}");
    // Newest first, each with its reference id, key, operation, target, result, status.
    assert!(all[0].contains(&failed_id) && all[1].contains(&ok_id));
    for row in &all {
        assert!(
            row.contains("JumpCloud directory") && row.contains("create User"),
            "{row}"
        );
    }
    assert!(all[0].contains("scim.test@jumpcloud.com"));
    assert!(all[0].contains("<strong>failed</strong> · HTTP 400"));
    assert!(
        all[0].contains("secondary domain"),
        "the SCIM error: {}",
        all[0]
    );
    assert!(all[1].contains(&jane) && all[1].contains("succeeded · HTTP 201"));

    for (query, expect) in [
        ("?person=JUMPCLOUD", vec![&failed_id]),
        ("?person=jane.doe", vec![&ok_id]),
        ("?result=succeeded", vec![&ok_id]),
        ("?result=failed", vec![&failed_id]),
        ("?result=failed&person=jane", vec![]),
        (&format!("?since={}", today()), vec![&failed_id, &ok_id]),
        (&format!("?until={}", today()), vec![&failed_id, &ok_id]),
        ("?until=2000-01-01", vec![]),
        ("?since=2999-01-01T00:00:00Z", vec![]),
    ] {
        let (status, html) = c.page(&format!("{view}{query}")).await;
        assert_eq!(status, 200, "{query}");
        let found = rows(&html);
        assert_eq!(found.len(), expect.len(), "{query}");
        for (row, id) in found.iter().zip(&expect) {
            assert!(row.contains(id.as_str()), "{query}");
        }
        if expect.is_empty() {
            assert!(html.contains("No SCIM writes match."), "{query}");
        }
    }
    // What was typed stays in the form.
    let (_, html) = c
        .page(&format!("{view}?person=jumpcloud&result=failed"))
        .await;
    assert!(html.contains(r#"name="person" type="text" value="jumpcloud""#));
    assert!(html.contains(r#"<option value="failed" selected>"#));

    // The admin API filters the same way.
    let by_target = api_items(
        &c.app,
        &format!("/tenants/{tid}/provisioning-log?target=JumpCloud"),
    )
    .await;
    assert_eq!(by_target.len(), 1);
    assert_eq!(by_target[0]["id"], failed_id.as_str());
    assert_bad_date_page(&c, &view).await;
    c.app.stop().await;
}
crate::both_backends!(provisioning, super::provisioning_view);

/// A date that cannot be read gives a 400 page saying how to write one (the check is
/// what makes it a 400: without it the filter would silently be dropped).
async fn assert_bad_date_page(c: &Console, view: &str) {
    for query in ["?since=yesterday", "?until=2026-13-45"] {
        let (status, html) = c.page(&format!("{view}{query}")).await;
        assert_eq!(status, 400, "{view}{query}");
        assert!(html.contains("Use the form YYYY-MM-DD"), "{view}{query}");
        assert!(html.contains(&format!(r#"href="{view}""#)), "the way back");
    }
}

async fn changes_view(backend: Backend) {
    let c = Console::new(backend).await;
    let tid = c.tid().to_owned();
    assert_eq!(c.save_saml(&c.idp.cert_pem).await.status(), 303);
    let saml = api_items(&c.app, &format!("/tenants/{tid}/changes?area=saml")).await;
    assert_eq!(saml.len(), 1, "{saml:?}");
    let fp = first_fingerprint(&c).await;
    let admin_email = format!("it@{}", c.domain);
    assert_eq!(saml[0]["summary"], "SAML connection set up");
    assert_eq!(saml[0]["by"]["kind"], "person");
    assert_eq!(saml[0]["by"]["email"], admin_email.as_str());
    assert!(saml[0]["details"]
        .as_array()
        .unwrap()
        .contains(&json!(format!("certificate added: SHA-256 {fp}"))));
    create_key(&c.app, &tid, "Okta provisioning", json!(["scim"])).await;

    let view = format!("/admin/tenants/{tid}/logs/changes");
    let (status, html) = c.page(&view).await;
    assert_eq!(status, 200);
    assert!(html.contains(r#"aria-current="page">Configuration changes</a>"#));
    let all = rows(&html);
    let saml_row = all
        .iter()
        .find(|r| r.contains("SAML connection set up"))
        .expect("the SAML save is listed");
    let saml_id = saml[0]["id"].as_str().unwrap();
    assert!(saml_row.contains(saml_id), "its reference id");
    assert!(saml_row.contains(&admin_email), "who made it");
    assert!(saml_row.contains(&format!("certificate added: SHA-256 {fp}")));
    assert!(saml_row.contains("<td>SAML</td>"));
    let key_row = all
        .iter()
        .position(|r| r.contains("Okta provisioning"))
        .expect("the API key is listed");
    assert!(all[key_row].contains("admin API token"));
    let saml_pos = all.iter().position(|r| r.contains(saml_id)).unwrap();
    assert!(key_row < saml_pos, "newest first");

    let (_, html) = c.page(&format!("{view}?area=saml")).await;
    let only_saml = rows(&html);
    assert_eq!(only_saml.len(), 1);
    assert!(only_saml[0].contains(saml_id));
    assert!(html.contains(r#"<option value="saml" selected>SAML</option>"#));
    let (_, html) = c.page(&format!("{view}?area=api_keys")).await;
    assert!(rows(&html).iter().all(|r| !r.contains(saml_id)));
    let (_, html) = c.page(&format!("{view}?since=2999-01-01")).await;
    assert!(html.contains("No configuration changes match."));
    assert_bad_date_page(&c, &view).await;

    // The admin API: newest first, filters, limits, clear refusals.
    let api = format!("/tenants/{tid}/changes");
    let items = api_items(&c.app, &api).await;
    assert_eq!(items.len(), all.len(), "the page shows what the API lists");
    assert_eq!(items[0]["area"], "api_keys");
    assert_eq!(items[0]["by"], json!({"kind": "admin_api"}));
    assert_eq!(api_items(&c.app, &format!("{api}?limit=1")).await.len(), 1);
    assert!(
        api_items(&c.app, &format!("{api}?since=2999-01-01T00:00:00Z"))
            .await
            .is_empty()
    );
    assert!(
        api_items(&c.app, &format!("{api}?until=2000-01-01T00:00:00Z"))
            .await
            .is_empty()
    );
    assert_eq!(
        api_items(&c.app, &format!("{api}?area=api_keys"))
            .await
            .len(),
        1
    );
    for bad in ["?area=nope", "?since=yesterday", "?colour=red"] {
        let r = c.app.admin(Method::GET, &format!("{api}{bad}"), None).await;
        assert_eq!(r.status(), 400, "{bad}");
    }
    // Documented next to the provisioning log, with the new filter there.
    let spec: Value = c
        .app
        .client()
        .get(c.app.url("/api/v1/openapi.json"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let paths = &spec["paths"];
    assert_eq!(
        paths["/api/v1/tenants/{tenant_id}/changes"]["get"]["operationId"],
        "list_changes"
    );
    assert!(paths["/api/v1/tenants/{tenant_id}/saml/metadata-refresh"]["post"].is_object());
    let plog = &paths["/api/v1/tenants/{tenant_id}/provisioning-log"]["get"]["parameters"];
    assert!(plog
        .as_array()
        .unwrap()
        .iter()
        .any(|p| p["name"] == "target"));
    let r = c
        .app
        .admin(Method::GET, "/tenants/tn_nope/changes", None)
        .await;
    assert_eq!(r.status(), 404);
    let r = c
        .app
        .client()
        .get(c.app.url(&format!("/api/v1{api}")))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);

    // Another tenant's logs are not found.
    let other = c.app.create_tenant(&unique_domain(), false).await;
    for tab in ["/logs/provisioning", "/logs/changes"] {
        let path = format!("/admin/tenants/{}{tab}", other["id"].as_str().unwrap());
        assert_eq!(c.page(&path).await.0, 404, "{tab}");
    }
    c.app.stop().await;
}
crate::both_backends!(changes, super::changes_view);

/// Certificates show their expiry on the test report; the operators' organisations list
/// warns about every organisation whose IdP certificate expires within 30 days.
async fn certificate_expiry(backend: Backend) {
    // The console's test IdP has a certificate valid for 30 days: within the warning.
    let c = Console::new(backend).await;
    assert_eq!(c.save_saml(&c.idp.cert_pem).await.status(), 303);
    let (id, relay) = c.start_test().await;
    let encoded = c.idp.response(&c.resp(&id, &format!("pat@{}", c.domain)));
    let report = c.finish_test(&encoded, &relay).await;
    let configured = report
        .split("<dt>Configured certificates</dt>")
        .nth(1)
        .unwrap()
        .split("</dd>")
        .next()
        .unwrap();
    let fp = first_fingerprint(&c).await;
    assert!(
        configured.contains(&format!("<code>{fp}</code> · expires ")),
        "{configured}"
    );
    assert!(configured.contains("days)"), "{configured}");
    assert!(configured.contains("expires soon"), "{configured}");

    // A second organisation with a long-lived certificate.
    let far_domain = unique_domain();
    let far = c.app.create_tenant(&far_domain, false).await;
    let key = openssl::pkey::PKey::from_rsa(openssl::rsa::Rsa::generate(2048).unwrap()).unwrap();
    let pem = String::from_utf8(
        certificate(&key, "far.idp", -1, 365, None)
            .to_pem()
            .unwrap(),
    )
    .unwrap();
    let r = c
        .app
        .admin(
            Method::PUT,
            &format!("/tenants/{}/saml", far["id"].as_str().unwrap()),
            Some(json!({"provider": "custom", "idp_entity_id": "https://far.idp/", "idp_sso_url": "https://far.idp/sso", "certificate": pem})),
        )
        .await;
    assert_eq!(r.status(), 200);

    // An operator's list: the banner and a marker on the one organisation only.
    let ops_domain = unique_domain();
    let ops = c.app.create_tenant(&ops_domain, false).await;
    let operator = c
        .app
        .signed_in(
            ops["id"].as_str().unwrap(),
            &format!("root@{ops_domain}"),
            "operator",
        )
        .await;
    let (_, html) = c.app.page(&operator, "/admin").await;
    assert!(
        html.contains(
            "One organisation has an IdP signing certificate that expires within 30 days"
        ),
        "{html}"
    );
    let list = rows(&html);
    let near_row = list.iter().find(|r| r.contains(&c.domain)).unwrap();
    assert!(
        near_row.contains(r#"<strong class="warn">expires "#),
        "{near_row}"
    );
    assert!(near_row.contains("days)"), "{near_row}");
    let far_row = list.iter().find(|r| r.contains(&far_domain)).unwrap();
    assert!(!far_row.contains("expires"), "{far_row}");
    let ops_row = list.iter().find(|r| r.contains(&ops_domain)).unwrap();
    assert!(!ops_row.contains("expires"), "no SAML, no marker");
    c.app.stop().await;
}
crate::both_backends!(expiry, super::certificate_expiry);
