//! Setting up a tenant's SAML connection as the vendor guides describe: copy the SP values,
//! paste the IdP values back; bad certificates are refused at save time with an explanation.

use openssl::pkey::PKey;
use openssl::rsa::Rsa;
use reqwest::Method;
use serde_json::json;

use crate::common::{certificate, unique_domain, Backend, TestApp};

fn rsa_cert_pem(cn: &str, from_days: i64, to_days: i64) -> String {
    let key = PKey::from_rsa(Rsa::generate(2048).unwrap()).unwrap();
    String::from_utf8(
        certificate(&key, cn, from_days, to_days, None)
            .to_pem()
            .unwrap(),
    )
    .unwrap()
}

fn without_armor(pem: &str) -> String {
    pem.lines()
        .filter(|l| !l.starts_with("-----"))
        .collect::<Vec<_>>()
        .join("\n")
}

async fn sp_metadata_per_tenant_domain(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let primary = unique_domain();
    let secondary = unique_domain();
    let r = app
        .admin(Method::POST, "/tenants", Some(json!({"name": "Aero", "primary_domain": primary, "secondary_domains": [secondary]})))
        .await;
    assert_eq!(r.status(), 201);
    let c = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let md = c
        .get(app.url(&format!("/saml/metadata/{}", primary.to_uppercase())))
        .send()
        .await
        .unwrap();
    assert_eq!(md.status(), 200);
    let xml = md.text().await.unwrap();
    let parsed: samael::metadata::EntityDescriptor = xml.parse().unwrap();
    assert_eq!(
        parsed.entity_id.unwrap(),
        app.url(&format!("/saml/metadata/{primary}"))
    );
    let acs = &parsed.sp_sso_descriptors.unwrap()[0].assertion_consumer_services[0];
    assert_eq!(acs.location, app.url(&format!("/saml/acs/{primary}")));
    let moved = c
        .get(app.url(&format!("/saml/metadata/{secondary}")))
        .send()
        .await
        .unwrap();
    assert_eq!(moved.status(), 301);
    assert_eq!(
        moved.headers()["location"],
        app.url(&format!("/saml/metadata/{primary}")).as_str()
    );
    let unknown = c
        .get(app.url("/saml/metadata/nobody.test"))
        .send()
        .await
        .unwrap();
    assert_eq!(unknown.status(), 404);
    app.stop().await;
}
crate::both_backends!(sp_metadata_both, super::sp_metadata_per_tenant_domain);

/// The JumpCloud guide's flow: Custom provider, IdP Entity ID "JumpCloud", the SSO URL, and
/// the certificate "without the BEGIN and END tags".
async fn saml_connection_is_validated_at_save_time(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let domain = unique_domain();
    let tenant = app.create_tenant(&domain, false).await;
    let path = format!("/tenants/{}/saml", tenant["id"].as_str().unwrap());

    let settings: serde_json::Value = app
        .admin(Method::GET, &path, None)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(
        settings["sp_entity_id"],
        app.url(&format!("/saml/metadata/{domain}"))
    );
    assert_eq!(
        settings["sp_acs_url"],
        app.url(&format!("/saml/acs/{domain}"))
    );
    assert!(settings["connection"].is_null());

    let base = json!({"provider": "jumpcloud", "idp_entity_id": "JumpCloud", "idp_sso_url": "https://sso.jumpcloud.example/saml2/gatehouse"});
    let with = |extra: serde_json::Value| {
        let mut b = base.clone();
        for (k, v) in extra.as_object().unwrap() {
            b[k] = v.clone();
        }
        b
    };
    for (body, field, says) in [
        (base.clone(), "certificate", "is required"),
        (
            with(json!({"certificate": "not a certificate"})),
            "certificate",
            "not valid base64",
        ),
        (
            with(json!({"certificate": rsa_cert_pem("old.idp", -400, -2)})),
            "certificate",
            "expired on",
        ),
        (
            with(
                json!({"certificate": rsa_cert_pem("ok", -1, 300), "idp_sso_url": "http://sso.jumpcloud.example/"}),
            ),
            "idp_sso_url",
            "https",
        ),
        (
            with(json!({"certificate": rsa_cert_pem("ok", -1, 300), "clock_skew_secs": 3600})),
            "clock_skew_secs",
            "at most 300",
        ),
    ] {
        let r = app.admin(Method::PUT, &path, Some(body)).await;
        assert_eq!(r.status(), 400);
        let err: serde_json::Value = r.json().await.unwrap();
        assert_eq!(err["error"]["field"], field);
        assert!(
            err["error"]["message"].as_str().unwrap().contains(says),
            "{err}"
        );
    }
    let still: serde_json::Value = app
        .admin(Method::GET, &path, None)
        .await
        .json()
        .await
        .unwrap();
    assert!(
        still["connection"].is_null(),
        "nothing is saved by a refused request"
    );

    let pem = rsa_cert_pem("jumpcloud.idp", -1, 365);
    let r = app
        .admin(
            Method::PUT,
            &path,
            Some(with(json!({"certificate": without_armor(&pem)}))),
        )
        .await;
    assert_eq!(r.status(), 200);
    let saved: serde_json::Value = r.json().await.unwrap();
    let conn = &saved["connection"];
    assert_eq!(conn["provider"], "jumpcloud");
    assert_eq!(
        conn["attributes"]["email"], "email",
        "JumpCloud preset maps the email attribute"
    );
    assert_eq!(conn["certificates"][0]["subject"], "CN=jumpcloud.idp");
    assert_eq!(conn["certificates"][0]["key"], "RSA 2048");
    assert!(
        conn["allow_idp_initiated"] == json!(false),
        "IdP-initiated login is off by default"
    );
    assert_eq!(app.admin(Method::DELETE, &path, None).await.status(), 204);
    app.stop().await;
}
crate::both_backends!(
    saml_connection_both,
    super::saml_connection_is_validated_at_save_time
);

/// A plain HTTP peer on loopback answering by path: the IdP's metadata, an oversized
/// document, a redirect loop, redirects to the metadata and to a private address.
async fn metadata_server(metadata: String) -> String {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move {
        loop {
            let Ok((mut socket, _)) = listener.accept().await else {
                return;
            };
            let metadata = metadata.clone();
            tokio::spawn(async move {
                let mut buf = vec![0u8; 4096];
                let n = socket.read(&mut buf).await.unwrap_or(0);
                let request = String::from_utf8_lossy(&buf[..n]).to_string();
                let path = request.split_whitespace().nth(1).unwrap_or("/").to_owned();
                let (status, headers, body) = match path.as_str() {
                    "/metadata" => ("200 OK", String::new(), metadata),
                    "/big" => ("200 OK", String::new(), "<x>".repeat(700_000)),
                    "/loop" => ("302 Found", "Location: /loop\r\n".into(), String::new()),
                    "/hop" => ("302 Found", "Location: /metadata\r\n".into(), String::new()),
                    "/to-private" => (
                        "302 Found",
                        "Location: https://10.0.0.1/metadata\r\n".into(),
                        String::new(),
                    ),
                    _ => ("404 Not Found", String::new(), String::new()),
                };
                let head = format!(
                    "HTTP/1.1 {status}\r\n{headers}Content-Length: {}\r\nConnection: close\r\n\r\n",
                    body.len()
                );
                let _ = socket.write_all(head.as_bytes()).await;
                let _ = socket.write_all(body.as_bytes()).await;
            });
        }
    });
    base
}

/// T29: metadata URLs are fetched only over https from public addresses, with redirect and
/// size limits; with loopback allowed (test peers only) the imported values are checked
/// like pasted metadata.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn t29_metadata_url_import() {
    let pem = rsa_cert_pem("okta.idp", -1, 365);
    let metadata = format!(
        r#"<md:EntityDescriptor xmlns:md="urn:oasis:names:tc:SAML:2.0:metadata" entityID="http://www.okta.com/exk1"><md:IDPSSODescriptor protocolSupportEnumeration="urn:oasis:names:tc:SAML:2.0:protocol"><md:KeyDescriptor use="signing"><ds:KeyInfo xmlns:ds="http://www.w3.org/2000/09/xmldsig#"><ds:X509Data><ds:X509Certificate>{}</ds:X509Certificate></ds:X509Data></ds:KeyInfo></md:KeyDescriptor><md:SingleSignOnService Binding="urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Redirect" Location="https://acme.okta.example/app/sso/saml"/></md:IDPSSODescriptor></md:EntityDescriptor>"#,
        without_armor(&pem).replace('\n', "")
    );
    let peer = metadata_server(metadata).await;

    // Production policy: nothing private, nothing plain.
    let strict = TestApp::spawn(Backend::Embedded).await;
    let tenant = strict.create_tenant(&unique_domain(), false).await;
    let path = format!("/tenants/{}/saml", tenant["id"].as_str().unwrap());
    for (url, says) in [
        (format!("{peer}/metadata"), "only https"),
        ("http://idp.example.com/metadata".into(), "only https"),
        ("https://127.0.0.1/metadata".into(), "private, loopback"),
        ("https://localhost/metadata".into(), "private, loopback"),
        ("https://10.1.2.3/metadata".into(), "private, loopback"),
        ("https://[fd00::1]/metadata".into(), "private, loopback"),
        (
            "https://169.254.169.254/metadata".into(),
            "private, loopback",
        ),
        ("javascript:alert(1)".into(), "only https"),
    ] {
        let r = strict
            .admin(
                Method::PUT,
                &path,
                Some(json!({"provider": "okta", "metadata_url": url})),
            )
            .await;
        assert_eq!(r.status(), 400, "{url}");
        let err: serde_json::Value = r.json().await.unwrap();
        assert_eq!(err["error"]["field"], "metadata_url", "{url}");
        let message = err["error"]["message"].as_str().unwrap();
        assert!(message.contains(says), "{url}: {message}");
    }
    strict.stop().await;

    // Test policy: loopback peers allowed; limits still hold.
    let mut options = crate::common::Options::new(Backend::Embedded);
    options.outbound_allow_loopback = true;
    let app = TestApp::spawn_with(options).await;
    let tenant = app.create_tenant(&unique_domain(), false).await;
    let path = format!("/tenants/{}/saml", tenant["id"].as_str().unwrap());
    for (suffix, says) in [
        ("/big", "larger than 1024 KiB"),
        ("/loop", "more than 3 redirects"),
        ("/to-private", "private, loopback"),
        ("/missing", "HTTP 404"),
    ] {
        let r = app
            .admin(
                Method::PUT,
                &path,
                Some(json!({"provider": "okta", "metadata_url": format!("{peer}{suffix}")})),
            )
            .await;
        assert_eq!(r.status(), 400, "{suffix}");
        let err: serde_json::Value = r.json().await.unwrap();
        let message = err["error"]["message"].as_str().unwrap();
        assert!(message.contains(says), "{suffix}: {message}");
    }
    let r = app
        .admin(
            Method::PUT,
            &path,
            Some(json!({"provider": "okta", "metadata_url": format!("{peer}/hop")})),
        )
        .await;
    assert_eq!(r.status(), 200, "{}", r.text().await.unwrap());
    let saved: serde_json::Value = r.json().await.unwrap();
    let conn = &saved["connection"];
    assert_eq!(conn["idp_entity_id"], "http://www.okta.com/exk1");
    assert_eq!(
        conn["idp_sso_url"],
        "https://acme.okta.example/app/sso/saml"
    );
    assert_eq!(conn["certificates"][0]["subject"], "CN=okta.idp");
    assert_eq!(conn["metadata_url"], format!("{peer}/hop"));
    app.stop().await;
}
