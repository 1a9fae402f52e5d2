//! Setup links for a customer's IT admin: made by a tenant admin, they open that tenant's
//! SSO and provisioning setup (with the test sign-in) to someone without an account, and
//! nothing else; revocation and expiry end them at once.

use reqwest::Method;
use serde_json::{json, Value};

use crate::common::{csrf_from, header, unique_domain, Backend};
use crate::console::Console;

/// What the admin copies from the page that created a link.
fn link_from(html: &str) -> String {
    let start = html
        .find("id=\"new-link-url\">")
        .expect("the new link is shown")
        + 18;
    html[start..start + html[start..].find('<').unwrap()].to_owned()
}

async fn create_link(c: &Console, label: &str, hours: &str) -> String {
    let r = c
        .post(
            &format!("/admin/tenants/{}/it-setup", c.tid()),
            &[("label", label), ("lifetime_hours", hours)],
        )
        .await;
    assert_eq!(r.status(), 200);
    assert_eq!(header(&r, "cache-control"), Some("no-store"));
    link_from(&r.text().await.unwrap())
}

/// A browser without an account that opens `link`.
async fn guest_opening(c: &Console, link: &str) -> reqwest::Client {
    let guest = c.app.client();
    let r = guest.get(link).send().await.unwrap();
    assert_eq!(r.status(), 303, "the link trades its secret for a cookie");
    assert_eq!(
        header(&r, "location").unwrap(),
        format!("/admin/tenants/{}/saml", c.tid())
    );
    guest
}

/// The ID of the AuthnRequest in a Redirect-binding URL.
fn request_id_from(location: &url::Url) -> String {
    use std::io::Read;

    use base64::Engine;
    let encoded = location
        .query_pairs()
        .find(|(k, _)| k == "SAMLRequest")
        .unwrap()
        .1
        .into_owned();
    let deflated = base64::engine::general_purpose::STANDARD
        .decode(encoded)
        .unwrap();
    let mut xml = String::new();
    flate2::read::DeflateDecoder::new(&deflated[..])
        .read_to_string(&mut xml)
        .unwrap();
    let parsed: samael::schema::AuthnRequest = xml.parse().unwrap();
    parsed.id
}

async fn get(c: &Console, client: &reqwest::Client, path: &str) -> (u16, String) {
    let r = client.get(c.app.url(path)).send().await.unwrap();
    (r.status().as_u16(), r.text().await.unwrap())
}

async fn it_setup_link(backend: Backend) {
    let c = Console::new(backend).await;
    let tid = c.tid().to_owned();

    // Lifetimes longer than 7 days are refused, with what was typed kept.
    let r = c
        .post(
            &format!("/admin/tenants/{tid}/it-setup"),
            &[("label", "Jane, Acme IT"), ("lifetime_hours", "169")],
        )
        .await;
    assert_eq!(r.status(), 400);
    let html = r.text().await.unwrap();
    assert!(html.contains("between 1 and 168 hours"), "{html}");
    assert!(html.contains("value=\"Jane, Acme IT\""));

    let link = create_link(&c, "Jane, Acme IT", "24").await;
    assert!(link.starts_with(&c.app.url("/it-setup/ghs_")), "{link}");
    let (_, listed) = c.page(&format!("/admin/tenants/{tid}/it-setup")).await;
    let secret = link.rsplit('/').next().unwrap();
    assert!(
        listed.contains("Jane, Acme IT") && !listed.contains(secret),
        "shown once"
    );

    // The IT admin, without an account, lands on the SAML setup with the reduced menu.
    let guest = guest_opening(&c, &link).await;
    let (status, html) = get(&c, &guest, &format!("/admin/tenants/{tid}/saml")).await;
    assert_eq!(status, 200);
    assert!(html.contains("Jane, Acme IT"));
    assert!(
        !html.contains(&format!("/admin/tenants/{tid}/users")),
        "no Users link"
    );

    // They can save the connection (no account, so no "recent sign-in" to ask for) ...
    let csrf = csrf_from(&html);
    let r = guest
        .post(c.app.url(&format!("/admin/tenants/{tid}/saml")))
        .form(&[
            ("csrf_token", csrf.as_str()),
            ("provider", "custom"),
            ("idp_entity_id", c.idp.entity_id.as_str()),
            ("idp_sso_url", c.idp.sso_url.as_str()),
            ("certificate", c.idp.cert_pem.as_str()),
            ("jit_provisioning", "on"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 303, "saved");

    // ... run the test sign-in and read its report ...
    let r = guest
        .post(c.app.url(&format!("/admin/tenants/{tid}/saml/test")))
        .form(&[("csrf_token", csrf.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 303);
    let location = url::Url::parse(header(&r, "location").unwrap()).unwrap();
    let relay = location
        .query_pairs()
        .find(|(k, _)| k == "RelayState")
        .unwrap()
        .1
        .into_owned();
    let request_id = request_id_from(&location);
    let encoded = c
        .idp
        .response(&c.resp(&request_id, &format!("pat@{}", c.domain)));
    let r = c
        .app
        .client()
        .post(c.app.url(&format!("/saml/acs/{}", c.domain)))
        .form(&[("SAMLResponse", encoded.as_str()), ("RelayState", &relay)])
        .send()
        .await
        .unwrap();
    let report = header(&r, "location").unwrap().to_owned();
    let (status, html) = get(&c, &guest, &report).await;
    assert_eq!(status, 200);
    assert!(html.contains("Test sign-in passed"), "{html}");

    // ... and create a provisioning key.
    let (_, html) = get(&c, &guest, &format!("/admin/tenants/{tid}/api-keys")).await;
    let r = guest
        .post(c.app.url(&format!("/admin/tenants/{tid}/api-keys")))
        .form(&[
            ("csrf_token", csrf_from(&html).as_str()),
            ("label", "Okta"),
            ("scope_scim", "on"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert!(r.text().await.unwrap().contains("ghk_"));

    // Nothing else: people, logs, the tenant's policy, more links.
    for path in ["", "/users", "/logs", "/it-setup"] {
        let (status, html) = get(&c, &guest, &format!("/admin/tenants/{tid}{path}")).await;
        assert_eq!(status, 403, "{path}");
        assert!(html.contains("Not part of this setup link"), "{path}");
    }
    let r = guest
        .post(c.app.url(&format!("/admin/tenants/{tid}/sso-only")))
        .form(&[("csrf_token", csrf.as_str()), ("enabled", "off")])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 403, "policy stays with the tenant's admins");
    // Another tenant's setup pages do not exist for this link.
    let other = c.app.create_tenant(&unique_domain(), false).await;
    let other_id = other["id"].as_str().unwrap();
    for path in ["/saml", "/api-keys"] {
        let (status, _) = get(&c, &guest, &format!("/admin/tenants/{other_id}{path}")).await;
        assert_eq!(status, 404, "{path}");
    }
    // A made-up or mangled secret opens nothing.
    for bad in [
        format!("{}x", link),
        c.app
            .url("/it-setup/ghs_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"),
        c.app.url("/it-setup/not-a-link"),
    ] {
        let r = c.app.client().get(&bad).send().await.unwrap();
        assert_eq!(r.status(), 404, "{bad}");
        assert!(r
            .text()
            .await
            .unwrap()
            .contains("This setup link does not work"));
    }

    // Revoked: the very next request is refused, and the link no longer opens.
    let link_id = listed
        .split("/it-setup/isl_")
        .nth(1)
        .map(|rest| format!("isl_{}", rest.split('/').next().unwrap()))
        .unwrap();
    let r = c
        .post(
            &format!("/admin/tenants/{tid}/it-setup/{link_id}/revoke"),
            &[],
        )
        .await;
    assert!(header(&r, "location").unwrap().ends_with("notice=revoked"));
    let r = guest
        .get(c.app.url(&format!("/admin/tenants/{tid}/saml")))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 303, "back to sign-in: the link is gone");
    assert!(header(&r, "location").unwrap().starts_with("/login"));
    assert_eq!(
        c.app.client().get(&link).send().await.unwrap().status(),
        404
    );
    let (_, listed) = c.page(&format!("/admin/tenants/{tid}/it-setup")).await;
    assert!(listed.contains("revoked"));

    // Expired: a link past its time opens nothing even though nobody revoked it.
    let link = create_link(&c, "Sam, Acme IT", "4").await;
    let guest = guest_opening(&c, &link).await;
    let key = c
        .app
        .store()
        .index_page(&format!("tenant_it_setup_links:{tid}"), 0, 100)
        .await
        .unwrap();
    let mut aged = 0;
    for id in key {
        let record_key = format!("it_setup_link:{id}");
        let bytes = c.app.store().get(&record_key).await.unwrap().unwrap();
        let mut record: Value = serde_json::from_slice(&bytes).unwrap();
        if record["label"] == "Sam, Acme IT" {
            record["expires_at"] = json!("2020-01-01T00:00:00Z");
            c.app
                .store()
                .put(&record_key, record.to_string().as_bytes(), None)
                .await
                .unwrap();
            aged += 1;
        }
    }
    assert_eq!(aged, 1);
    let (status, _) = get(&c, &guest, &format!("/admin/tenants/{tid}/saml")).await;
    assert_eq!(status, 303, "expired links are refused");
    assert_eq!(
        c.app.client().get(&link).send().await.unwrap().status(),
        404
    );
    c.app.stop().await;
}
crate::both_backends!(it_setup_link_both, super::it_setup_link);

/// The same through the admin API: create (the URL once), list, revoke; same validation.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn it_setup_links_in_the_admin_api() {
    let c = Console::new(Backend::Embedded).await;
    let path = format!("/tenants/{}/it-setup-links", c.tid());
    let r = c
        .app
        .admin(
            Method::POST,
            &path,
            Some(json!({"label": "Jane", "lifetime_hours": 200})),
        )
        .await;
    assert_eq!(r.status(), 400);
    let body: Value = r.json().await.unwrap();
    assert!(body.to_string().contains("lifetime_hours"), "{body}");

    let r = c
        .app
        .admin(
            Method::POST,
            &path,
            Some(json!({"label": "Jane", "lifetime_hours": 168})),
        )
        .await;
    assert_eq!(r.status(), 201);
    assert_eq!(header(&r, "cache-control"), Some("no-store"));
    let created: Value = r.json().await.unwrap();
    let url = created["url"].as_str().unwrap().to_owned();
    assert_eq!(created["status"], "active");
    assert_eq!(created["created_by"], "admin API token");
    assert!(created.get("hash").is_none());
    guest_opening(&c, &url).await;

    let listed: Value = c
        .app
        .admin(Method::GET, &path, None)
        .await
        .json()
        .await
        .unwrap();
    let text = listed.to_string();
    assert!(
        !text.contains(url.rsplit('/').next().unwrap()),
        "no secret in lists"
    );
    assert_eq!(listed["items"].as_array().unwrap().len(), 1);
    let id = created["id"].as_str().unwrap();
    let r = c
        .app
        .admin(Method::DELETE, &format!("{path}/{id}"), None)
        .await;
    assert_eq!(r.status(), 204);
    assert_eq!(c.app.client().get(&url).send().await.unwrap().status(), 404);
    let r = c
        .app
        .admin(
            Method::DELETE,
            &format!("/tenants/tn_nope/it-setup-links/{id}"),
            None,
        )
        .await;
    assert_eq!(r.status(), 404);
    c.app.stop().await;
}
