//! SAML sign-in end to end over HTTP — `/login/sso` → AuthnRequest → signed Response →
//! `/saml/acs/{domain}` → session — and a negative test for each check, named after its
//! SECURITY-CHECKLIST line. Responses are signed by xmlsec1 (see `saml_idp`).

use std::io::Read;

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use reqwest::Method;
use serde_json::{json, Value};

use crate::common::{header, session_cookie, unique_domain, Backend, Options, TestApp};
use crate::saml_idp::{Resp, Sign, TestIdp};

/// Gateway + tenant + SAML connection + test IdP; shared with `saml_xml_attacks`.
pub(crate) struct Saml {
    pub(crate) app: TestApp,
    pub(crate) idp: TestIdp,
    pub(crate) tenant: Value,
    pub(crate) domain: String,
    pub(crate) email: String,
}

impl Saml {
    pub(crate) async fn new(backend: Backend, connection: Value) -> Self {
        let app = TestApp::spawn_with(Options::new(backend)).await;
        let domain = unique_domain();
        let tenant = app.create_tenant(&domain, false).await;
        let email = format!("jane@{domain}");
        app.create_user(tenant["id"].as_str().unwrap(), &email)
            .await;
        let idp = TestIdp::new("https://idp.example.test/metadata");
        let mut body = json!({
            "provider": "custom",
            "idp_entity_id": idp.entity_id,
            "idp_sso_url": idp.sso_url,
            "certificate": idp.cert_pem,
        });
        for (k, v) in connection.as_object().unwrap() {
            body[k] = v.clone();
        }
        let r = app
            .admin(
                Method::PUT,
                &format!("/tenants/{}/saml", tenant["id"].as_str().unwrap()),
                Some(body),
            )
            .await;
        assert_eq!(r.status(), 200, "{}", r.text().await.unwrap());
        Self {
            app,
            idp,
            tenant,
            domain,
            email,
        }
    }

    pub(crate) fn acs(&self) -> String {
        self.app.url(&format!("/saml/acs/{}", self.domain))
    }

    pub(crate) fn entity(&self) -> String {
        self.app.url(&format!("/saml/metadata/{}", self.domain))
    }

    /// Starts SP-initiated login; returns (AuthnRequest ID, RelayState).
    pub(crate) async fn start(
        &self,
        browser: &reqwest::Client,
        return_to: &str,
    ) -> (String, String) {
        let r = browser
            .get(self.app.url(&format!(
                "/login/sso?domain={}&return_to={return_to}",
                self.domain
            )))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 303);
        let location = url::Url::parse(header(&r, "location").unwrap()).unwrap();
        assert!(location.as_str().starts_with(&self.idp.sso_url));
        let q: std::collections::HashMap<String, String> =
            location.query_pairs().into_owned().collect();
        let mut xml = String::new();
        flate2::read::DeflateDecoder::new(&STANDARD.decode(&q["SAMLRequest"]).unwrap()[..])
            .read_to_string(&mut xml)
            .unwrap();
        let parsed: samael::schema::AuthnRequest = xml.parse().unwrap();
        assert_eq!(parsed.issuer.unwrap().value.unwrap(), self.entity());
        assert_eq!(parsed.assertion_consumer_service_url.unwrap(), self.acs());
        (parsed.id, q["RelayState"].clone())
    }

    pub(crate) fn resp(&self, request_id: Option<&str>) -> Resp {
        Resp::new(&self.acs(), &self.entity(), request_id, &self.email)
    }

    pub(crate) async fn post(
        &self,
        browser: &reqwest::Client,
        saml_response: &str,
        relay: &str,
    ) -> reqwest::Response {
        browser
            .post(self.acs())
            .form(&[("SAMLResponse", saml_response), ("RelayState", relay)])
            .send()
            .await
            .unwrap()
    }

    /// Runs a full SP-initiated attempt with `bend` applied to the response; returns the
    /// ACS answer.
    pub(crate) async fn attempt(&self, bend: impl FnOnce(&mut Resp)) -> reqwest::Response {
        let browser = self.app.client();
        let (id, relay) = self.start(&browser, "/").await;
        let mut r = self.resp(Some(&id));
        bend(&mut r);
        let encoded = self.idp.response(&r);
        self.post(&browser, &encoded, &relay).await
    }

    pub(crate) async fn stop(self) {
        self.app.stop().await;
    }
}

pub(crate) async fn assert_refused(resp: reqwest::Response, what: &str) {
    assert_eq!(resp.status(), 403, "{what}: expected a refusal");
    assert!(session_cookie(&resp).is_none(), "{what}: no session");
    let page = resp.text().await.unwrap();
    assert!(
        page.contains("Single sign-on did not complete") && page.contains("Reference"),
        "{what}"
    );
}

async fn sp_initiated_login_lands_signed_in(backend: Backend) {
    let s = Saml::new(backend, json!({"attributes": {"email": null, "first_name": "firstName", "last_name": "lastName", "groups": "groups"}})).await;
    let browser = s.app.client();
    let (id, relay) = s.start(&browser, "/account").await;
    assert_eq!(id.len(), 33, "128-bit request ids");
    for sign in [Sign::Assertion, Sign::Response, Sign::Both] {
        let (id, relay) = if sign == Sign::Assertion {
            (id.clone(), relay.clone())
        } else {
            s.start(&browser, "/account").await
        };
        let mut r = s.resp(Some(&id));
        r.sign = sign;
        let resp = s.post(&browser, &s.idp.response(&r), &relay).await;
        assert_eq!(
            resp.status(),
            303,
            "signed: {sign:?}: {}",
            resp.text().await.unwrap()
        );
        assert_eq!(header(&resp, "location"), Some("/account"));
        let verify = s.app.verify(&browser).await;
        assert_eq!(verify.status(), 200);
        assert_eq!(header(&verify, "x-gatehouse-email"), Some(s.email.as_str()));
    }
    s.stop().await;
}
crate::both_backends!(sp_initiated_both, super::sp_initiated_login_lands_signed_in);

/// T16/T17: a captured response cannot be used twice — its flow is single use, and its
/// assertion ID is remembered even where unsolicited responses are allowed.
async fn t16_t17_replays_are_refused(backend: Backend) {
    let s = Saml::new(backend, json!({"allow_idp_initiated": true})).await;
    let browser = s.app.client();
    let (id, relay) = s.start(&browser, "/").await;
    let encoded = s.idp.response(&s.resp(Some(&id)));
    assert_eq!(s.post(&browser, &encoded, &relay).await.status(), 303);
    assert_refused(
        s.post(&s.app.client(), &encoded, &relay).await,
        "T16 same flow again",
    )
    .await;
    let unsolicited = s.idp.response(&s.resp(None));
    assert_eq!(
        s.post(&s.app.client(), &unsolicited, "").await.status(),
        303,
        "IdP-initiated allowed"
    );
    assert_refused(
        s.post(&s.app.client(), &unsolicited, "").await,
        "T17 same assertion ID",
    )
    .await;
    s.stop().await;
}
crate::both_backends!(replays_both, super::t16_t17_replays_are_refused);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn t01_t12_t13_signature_checks() {
    let s = Saml::new(Backend::Embedded, json!({})).await;
    assert_refused(s.attempt(|r| r.sign = Sign::Nothing).await, "T01 unsigned").await;
    assert_refused(
        s.attempt(|r| r.sha1 = true).await,
        "T12 rsa-sha1 without opt-in",
    )
    .await;
    let other = TestIdp::new(&s.idp.entity_id);
    let browser = s.app.client();
    let (id, relay) = s.start(&browser, "/").await;
    let forged = other.response(&s.resp(Some(&id)));
    assert_refused(
        s.post(&browser, &forged, &relay).await,
        "T13 signed by another key",
    )
    .await;
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn t03_t04_wrapping_and_extra_assertions() {
    let s = Saml::new(Backend::Embedded, json!({})).await;
    let evil = format!("ceo@{}", s.domain);
    let mut forged = s.resp(None);
    forged.email = evil.clone();
    let extra = s.idp.unsigned_assertion(&forged);
    assert_refused(
        s.attempt(|r| r.extra_assertion = Some(extra.clone())).await,
        "T04 signed + unsigned assertion",
    )
    .await;
    // T03: the signed Response wraps an assertion the attacker swapped in.
    let browser = s.app.client();
    let (id, relay) = s.start(&browser, "/").await;
    let mut good = s.resp(Some(&id));
    good.sign = Sign::Response;
    let signed = s.idp.response_xml(&good);
    let start = signed.find("<saml:Assertion").unwrap();
    let end = signed.find("</saml:Assertion>").unwrap() + "</saml:Assertion>".len();
    let mut attacker = s.resp(Some(&id));
    attacker.email = evil;
    let swapped = format!(
        "{}{}{}",
        &signed[..start],
        s.idp.unsigned_assertion(&attacker),
        &signed[end..]
    );
    assert_refused(
        s.post(&browser, &STANDARD.encode(swapped), &relay).await,
        "T03 swapped assertion",
    )
    .await;
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn t14_t28_structure_and_size() {
    let s = Saml::new(Backend::Embedded, json!({})).await;
    let browser = s.app.client();
    let (_, relay) = s.start(&browser, "/").await;
    let dtd = STANDARD.encode("<?xml version=\"1.0\"?><!DOCTYPE r [<!ENTITY x SYSTEM \"file:///etc/passwd\">]><samlp:Response xmlns:samlp=\"urn:oasis:names:tc:SAML:2.0:protocol\">&x;</samlp:Response>");
    assert_refused(s.post(&browser, &dtd, &relay).await, "T14 DTD").await;
    for junk in [
        "not base64 at all!",
        "",
        &STANDARD.encode("<a><b></a>"),
        &STANDARD.encode([0xff, 0xfe, 0x00]),
    ] {
        let (_, relay) = s.start(&browser, "/").await;
        let r = s.post(&browser, junk, &relay).await;
        assert!(
            r.status() == 403 || r.status() == 400,
            "junk {junk:?}: {}",
            r.status()
        );
        assert!(session_cookie(&r).is_none());
    }
    let huge = "A".repeat(600 * 1024);
    let r = s.post(&browser, &huge, "").await;
    assert_eq!(r.status(), 400, "T28 oversized POST");
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn t15_t18_t19_t20_binding_and_time() {
    let s = Saml::new(Backend::Embedded, json!({"clock_skew_secs": 60})).await;
    assert_refused(
        s.attempt(|r| r.in_response_to = Some("_someotherrequest".into()))
            .await,
        "T15 bound to another request",
    )
    .await;
    assert_refused(
        s.attempt(|r| {
            r.in_response_to = None;
            r.envelope_in_response_to = Some(None);
        })
        .await,
        "T15 InResponseTo stripped",
    )
    .await;
    assert_refused(
        s.attempt(|r| r.omit_conditions = true).await,
        "T18 no Conditions",
    )
    .await;
    assert_refused(
        s.attempt(|r| {
            r.not_on_or_after_secs = -120;
            r.not_before_secs = -600;
        })
        .await,
        "T18 expired",
    )
    .await;
    assert_refused(
        s.attempt(|r| r.confirmation_not_on_or_after_secs = -120)
            .await,
        "T19 confirmation lapsed",
    )
    .await;
    assert_refused(
        s.attempt(|r| r.not_before_secs = 300).await,
        "T20 not yet valid beyond skew",
    )
    .await;
    assert_eq!(
        s.attempt(|r| r.not_before_secs = 30).await.status(),
        303,
        "T20 inside the skew"
    );
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn t21_t22_audience_recipient_destination_issuer_status() {
    let s = Saml::new(Backend::Embedded, json!({})).await;
    let resp = s
        .attempt(|r| r.audience = Some("https://other-sp.example/".into()))
        .await;
    assert_eq!(resp.status(), 403);
    let page = resp.text().await.unwrap();
    // The admin's login event holds the precise cause under the reference the person saw.
    let events: Value = s
        .app
        .admin(
            Method::GET,
            &format!(
                "/tenants/{}/login-events?outcome=refused",
                s.tenant["id"].as_str().unwrap()
            ),
            None,
        )
        .await
        .json()
        .await
        .unwrap();
    let event = &events["items"][0];
    assert_eq!(event["method"], "saml");
    let cause = event["cause"].as_str().unwrap();
    assert!(
        cause.contains("Audience was https://other-sp.example/, expected"),
        "{cause}"
    );
    let reference = event["reference"].as_str().unwrap();
    assert!(page.contains(reference), "page shows reference {reference}");
    assert!(
        !page.contains("other-sp.example"),
        "the cause stays out of the page"
    );
    assert_refused(
        s.attempt(|r| r.audience = None).await,
        "T21 missing AudienceRestriction",
    )
    .await;
    assert_refused(
        s.attempt(|r| r.recipient = Some("https://evil.example/acs".into()))
            .await,
        "T21 recipient",
    )
    .await;
    assert_refused(
        s.attempt(|r| r.destination = Some("https://evil.example/acs".into()))
            .await,
        "T21 destination",
    )
    .await;
    assert_refused(
        s.attempt(|r| r.issuer = Some("https://evil-idp.example/".into()))
            .await,
        "T22 issuer",
    )
    .await;
    assert_refused(
        s.attempt(|r| r.assertion_issuer = Some("https://evil-idp.example/".into()))
            .await,
        "T22 assertion issuer",
    )
    .await;
    assert_refused(
        s.attempt(|r| r.status = "urn:oasis:names:tc:SAML:2.0:status:Requester".into())
            .await,
        "T22 status",
    )
    .await;
    s.stop().await;
}

/// T24: a response (and flow) of tenant A posted to tenant B's ACS is refused.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn t24_cross_tenant() {
    let a = Saml::new(Backend::Embedded, json!({})).await;
    // Tenant B on the same gateway trusts the same IdP certificate (worst case).
    let domain_b = unique_domain();
    let tenant_b = a.app.create_tenant(&domain_b, false).await;
    let body = json!({"idp_entity_id": a.idp.entity_id, "idp_sso_url": a.idp.sso_url, "certificate": a.idp.cert_pem, "allow_idp_initiated": true});
    let r = a
        .app
        .admin(
            Method::PUT,
            &format!("/tenants/{}/saml", tenant_b["id"].as_str().unwrap()),
            Some(body),
        )
        .await;
    assert_eq!(r.status(), 200);
    let browser = a.app.client();
    let (id, relay) = a.start(&browser, "/").await;
    let encoded = a.idp.response(&a.resp(Some(&id)));
    let to_b = browser
        .post(a.app.url(&format!("/saml/acs/{domain_b}")))
        .form(&[
            ("SAMLResponse", encoded.as_str()),
            ("RelayState", relay.as_str()),
        ])
        .send()
        .await
        .unwrap();
    assert_refused(to_b, "T24 flow of A at B").await;
    let unsolicited = a.idp.response(&a.resp(None));
    let to_b = browser
        .post(a.app.url(&format!("/saml/acs/{domain_b}")))
        .form(&[("SAMLResponse", unsolicited.as_str()), ("RelayState", "")])
        .send()
        .await
        .unwrap();
    assert_refused(to_b, "T24 audience/recipient of A at B").await;
    a.stop().await;
}

/// T25, T26, JIT and deactivated people.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn t25_t26_identity_policy() {
    let s = Saml::new(Backend::Embedded, json!({})).await;
    assert_refused(
        s.attempt(|r| r.email = "jane@elsewhere.test".into()).await,
        "T25 foreign domain",
    )
    .await;
    let unsolicited = s.idp.response(&s.resp(None));
    assert_refused(
        s.post(&s.app.client(), &unsolicited, "").await,
        "T26 IdP-initiated off",
    )
    .await;
    let newcomer = format!("new@{}", s.domain);
    assert_refused(
        s.attempt(|r| r.email = newcomer.clone()).await,
        "unknown person without JIT",
    )
    .await;

    let tid = s.tenant["id"].as_str().unwrap().to_string();
    let users: Value = s
        .app
        .admin(Method::GET, &format!("/tenants/{tid}/users"), None)
        .await
        .json()
        .await
        .unwrap();
    let uid = users["items"][0]["id"].as_str().unwrap().to_string();
    s.app
        .admin(
            Method::PATCH,
            &format!("/tenants/{tid}/users/{uid}"),
            Some(json!({"status": "deprovisioned"})),
        )
        .await;
    let mut jit = json!({"idp_entity_id": s.idp.entity_id, "idp_sso_url": s.idp.sso_url, "certificate": s.idp.cert_pem, "jit_provisioning": true});
    jit["attributes"] = json!({"email": null, "first_name": "firstName", "last_name": "lastName", "groups": "groups"});
    assert_eq!(
        s.app
            .admin(Method::PUT, &format!("/tenants/{tid}/saml"), Some(jit))
            .await
            .status(),
        200
    );
    assert_refused(
        s.attempt(|_| {}).await,
        "deprovisioned person is not re-created just in time",
    )
    .await;
    let created = s
        .attempt(|r| {
            r.email = newcomer.clone();
            r.attributes = vec![
                ("firstName".into(), vec!["New".into()]),
                ("lastName".into(), vec!["Person".into()]),
                ("groups".into(), vec!["eng".into(), "ops".into()]),
            ];
        })
        .await;
    assert_eq!(created.status(), 303, "JIT creates the person");
    let users: Value = s
        .app
        .admin(Method::GET, &format!("/tenants/{tid}/users"), None)
        .await
        .json()
        .await
        .unwrap();
    let made = users["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|u| u["email"] == json!(newcomer))
        .unwrap();
    assert_eq!(made["display_name"], "New Person");
    assert_eq!(made["groups"], json!(["eng", "ops"]));
    assert_eq!(made["has_password"], false);
    s.stop().await;
}

/// Signed AuthnRequests (HTTP-Redirect binding): the signature over
/// `SAMLRequest&RelayState&SigAlg` verifies, with the `openssl` command-line tool, against
/// the certificate our SP metadata publishes, and breaks when the RelayState is changed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn signed_authn_requests_verify_against_the_published_certificate() {
    let s = Saml::new(Backend::Embedded, json!({"sign_authn_requests": true})).await;
    let md = reqwest::get(s.entity())
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let parsed: samael::metadata::EntityDescriptor = md.parse().unwrap();
    let descriptor = &parsed.sp_sso_descriptors.unwrap()[0];
    assert_eq!(descriptor.authn_requests_signed, Some(true));
    let cert_b64 = descriptor.key_descriptors.as_ref().unwrap()[0]
        .key_info
        .x509_data
        .as_ref()
        .unwrap()
        .certificates[0]
        .clone();

    let browser = s.app.client();
    let r = browser
        .get(s.app.url(&format!("/login/sso?domain={}", s.domain)))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 303);
    let location = url::Url::parse(header(&r, "location").unwrap()).unwrap();
    let query = location.query().unwrap().to_owned();
    let (signed, signature) = query.split_once("&Signature=").unwrap();
    assert!(signed.starts_with("SAMLRequest=") && signed.contains("&RelayState="));
    assert!(
        signed.ends_with("&SigAlg=http%3A%2F%2Fwww.w3.org%2F2001%2F04%2Fxmldsig-more%23rsa-sha256")
    );
    let signature: String = url::form_urlencoded::parse(format!("s={signature}").as_bytes())
        .next()
        .unwrap()
        .1
        .into_owned();

    let dir = tempfile::tempdir().unwrap();
    let der = STANDARD.decode(cert_b64.replace(['\n', ' '], "")).unwrap();
    std::fs::write(dir.path().join("cert.der"), der).unwrap();
    std::fs::write(
        dir.path().join("sig.bin"),
        STANDARD.decode(signature).unwrap(),
    )
    .unwrap();
    let verify = |data: &str| {
        std::fs::write(dir.path().join("data.txt"), data).unwrap();
        let pubkey = std::process::Command::new("openssl")
            .args(["x509", "-inform", "DER", "-pubkey", "-noout", "-in"])
            .arg(dir.path().join("cert.der"))
            .output()
            .unwrap();
        assert!(pubkey.status.success());
        std::fs::write(dir.path().join("pub.pem"), pubkey.stdout).unwrap();
        std::process::Command::new("openssl")
            .args(["dgst", "-sha256", "-verify"])
            .arg(dir.path().join("pub.pem"))
            .arg("-signature")
            .arg(dir.path().join("sig.bin"))
            .arg(dir.path().join("data.txt"))
            .output()
            .unwrap()
            .status
            .success()
    };
    assert!(
        verify(signed),
        "the signature verifies with the metadata certificate"
    );
    assert!(
        !verify(&signed.replace("RelayState=", "RelayState=x")),
        "a changed RelayState does not verify"
    );

    // The signed flow still completes.
    let (id, relay) = s.start(&browser, "/").await;
    let encoded = s.idp.response(&s.resp(Some(&id)));
    assert_eq!(s.post(&browser, &encoded, &relay).await.status(), 303);
    s.stop().await;
}
