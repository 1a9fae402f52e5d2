//! The admin console over HTTP: who gets in, the SAML page with its copy values and
//! save-time checks, the test sign-in report with a diagnostic per check, the SSO-only gate,
//! users and logs, and the first-operator setup link.

use std::io::Read;

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use reqwest::Method;
use serde_json::{json, Value};

use crate::common::{
    csrf_from, header, session_cookie, unique_domain, Backend, Options, TestApp, PASSWORD,
};
use crate::saml_idp::{Resp, TestIdp};

pub(crate) struct Console {
    pub(crate) app: TestApp,
    pub(crate) tenant: Value,
    pub(crate) domain: String,
    pub(crate) admin: reqwest::Client,
    pub(crate) idp: TestIdp,
}

impl Console {
    /// A tenant, a signed-in tenant admin, and an IdP not yet connected.
    pub(crate) async fn new(backend: Backend) -> Self {
        Self::with_options(Options::new(backend)).await
    }

    /// [`Console::new`] on a gateway started with `options`.
    pub(crate) async fn with_options(options: Options) -> Self {
        let app = TestApp::spawn_with(options).await;
        let domain = unique_domain();
        let tenant = app.create_tenant(&domain, false).await;
        let tid = tenant["id"].as_str().unwrap().to_owned();
        let r = app
            .admin(
                Method::POST,
                &format!("/tenants/{tid}/users"),
                Some(json!({"email": format!("it@{domain}"), "password": PASSWORD, "role": "tenant_admin"})),
            )
            .await;
        assert_eq!(r.status(), 201);
        let admin = app.client();
        let r = app
            .password_login(&admin, &format!("it@{domain}"), PASSWORD, "/admin")
            .await;
        assert_eq!(r.status(), 303);
        let idp = TestIdp::new("https://idp.console.example/metadata");
        Self {
            app,
            tenant,
            domain,
            admin,
            idp,
        }
    }

    pub(crate) fn tid(&self) -> &str {
        self.tenant["id"].as_str().unwrap()
    }

    pub(crate) async fn page(&self, path: &str) -> (u16, String) {
        let r = self.admin.get(self.app.url(path)).send().await.unwrap();
        (r.status().as_u16(), r.text().await.unwrap())
    }

    pub(crate) async fn post(&self, path: &str, fields: &[(&str, &str)]) -> reqwest::Response {
        let (_, html) = self.page(&format!("/admin/tenants/{}", self.tid())).await;
        let csrf = csrf_from(&html);
        let mut form: Vec<(&str, &str)> = vec![("csrf_token", &csrf)];
        form.extend_from_slice(fields);
        self.admin
            .post(self.app.url(path))
            .form(&form)
            .send()
            .await
            .unwrap()
    }

    pub(crate) async fn save_saml(&self, certificate: &str) -> reqwest::Response {
        let path = format!("/admin/tenants/{}/saml", self.tid());
        self.post(
            &path,
            &[
                ("provider", "custom"),
                ("idp_entity_id", &self.idp.entity_id),
                ("idp_sso_url", &self.idp.sso_url),
                ("certificate", certificate),
                ("jit_provisioning", "on"),
            ],
        )
        .await
    }

    /// Starts a test sign-in; returns the AuthnRequest ID and RelayState it sent.
    pub(crate) async fn start_test(&self) -> (String, String) {
        let r = self
            .post(&format!("/admin/tenants/{}/saml/test", self.tid()), &[])
            .await;
        assert_eq!(r.status(), 303);
        let location = url::Url::parse(header(&r, "location").unwrap()).unwrap();
        let q: std::collections::HashMap<String, String> =
            location.query_pairs().into_owned().collect();
        let mut xml = String::new();
        flate2::read::DeflateDecoder::new(&STANDARD.decode(&q["SAMLRequest"]).unwrap()[..])
            .read_to_string(&mut xml)
            .unwrap();
        let parsed: samael::schema::AuthnRequest = xml.parse().unwrap();
        (parsed.id, q["RelayState"].clone())
    }

    pub(crate) fn resp(&self, request_id: &str, email: &str) -> Resp {
        Resp::new(
            &self.app.url(&format!("/saml/acs/{}", self.domain)),
            &self.app.url(&format!("/saml/metadata/{}", self.domain)),
            Some(request_id),
            email,
        )
    }

    /// Posts a response to the ACS the way the IdP's page would (no console cookie is
    /// needed there); returns the report page the ACS sent the admin to.
    pub(crate) async fn finish_test(&self, encoded: &str, relay: &str) -> String {
        let idp_browser = self.app.client();
        let r = idp_browser
            .post(self.app.url(&format!("/saml/acs/{}", self.domain)))
            .form(&[("SAMLResponse", encoded), ("RelayState", relay)])
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 303, "a test ends on its report");
        assert!(session_cookie(&r).is_none(), "a test never signs in");
        let report = header(&r, "location").unwrap().to_owned();
        assert!(report.starts_with("/admin/tests/"), "{report}");
        let (status, html) = self.page(&report).await;
        assert_eq!(status, 200);
        html
    }
}

fn row<'a>(html: &'a str, label: &str) -> &'a str {
    let start = html
        .find(&format!("<th scope=\"row\">{label}</th>"))
        .unwrap_or_else(|| panic!("no row {label}"));
    let end = html[start..].find("</tr>").unwrap() + start;
    &html[start..end]
}

async fn console_access(backend: Backend) {
    let c = Console::new(backend).await;
    // Signed out: sent to sign in, keeping the page.
    let r = c
        .app
        .client()
        .get(c.app.url("/admin"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 303);
    assert_eq!(header(&r, "location").unwrap(), "/login?return_to=%2Fadmin");
    // A tenant admin lands on their own tenant, and nowhere else.
    let r = c.admin.get(c.app.url("/admin")).send().await.unwrap();
    assert_eq!(
        header(&r, "location").unwrap(),
        format!("/admin/tenants/{}", c.tid())
    );
    let (status, html) = c.page(&format!("/admin/tenants/{}", c.tid())).await;
    assert_eq!(status, 200);
    assert!(html.contains("Prevent users from logging in with other SSO providers"));
    let other = c.app.create_tenant(&unique_domain(), false).await;
    for path in ["", "/saml", "/users", "/logs"] {
        let (status, _) = c
            .page(&format!(
                "/admin/tenants/{}{path}",
                other["id"].as_str().unwrap()
            ))
            .await;
        assert_eq!(status, 404, "another tenant's {path} page");
    }
    // A member has no console.
    let member_email = format!("member@{}", c.domain);
    c.app.create_user(c.tid(), &member_email).await;
    let member = c.app.client();
    c.app
        .password_login(&member, &member_email, PASSWORD, "/")
        .await;
    let r = member
        .get(c.app.url(&format!("/admin/tenants/{}", c.tid())))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 403);
    assert!(r.text().await.unwrap().contains("No access to the console"));
    // Forms need the CSRF token.
    let r = c
        .admin
        .post(c.app.url(&format!("/admin/tenants/{}/sso-only", c.tid())))
        .form(&[
            ("csrf_token", "forged-forged-forged-forged-forged"),
            ("enabled", "off"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 403);
    c.app.stop().await;
}
crate::both_backends!(console_access_both, super::console_access);

/// The SAML page shows the values to copy, refuses a bad certificate with the reason
/// (saving nothing), and a stale sign-in cannot change certificates.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn saml_page_checks_on_save() {
    let c = Console::new(Backend::Embedded).await;
    let path = format!("/admin/tenants/{}/saml", c.tid());
    let (status, html) = c.page(&path).await;
    assert_eq!(status, 200);
    assert!(html.contains(&c.app.url(&format!("/saml/acs/{}", c.domain))));
    assert!(html.contains(&c.app.url(&format!("/saml/metadata/{}", c.domain))));
    assert!(html.contains("data-copy=\"sp-acs\""));
    // The "Test sign-in" form on this page ends at the IdP: browsers check the redirect
    // after a form against the form page's own `form-action`.
    let r = c.admin.get(c.app.url(&path)).send().await.unwrap();
    let csp = header(&r, "content-security-policy").unwrap();
    assert!(
        csp.contains("form-action 'self' https: http://127.0.0.1:*"),
        "{csp}"
    );

    let r = c.save_saml("MIIBnotacertificate").await;
    assert_eq!(r.status(), 400);
    let html = r.text().await.unwrap();
    assert!(html.contains("Not saved"), "the page says why");
    assert!(html.contains(&c.idp.entity_id), "what was typed is kept");
    let api: Value = c
        .app
        .admin(Method::GET, &format!("/tenants/{}/saml", c.tid()), None)
        .await
        .json()
        .await
        .unwrap();
    assert!(api["connection"].is_null(), "nothing saved");

    let r = c.save_saml(&c.idp.cert_pem).await;
    assert_eq!(r.status(), 303);
    let (_, html) = c.page(&format!("{path}?notice=saved")).await;
    assert!(html.contains("Saved."));
    assert!(
        html.contains("SHA-256"),
        "the certificate's fingerprint is shown"
    );

    c.app.age_sessions(&format!("it@{}", c.domain)).await;
    let r = c.save_saml(&c.idp.cert_pem).await;
    assert_eq!(r.status(), 403);
    assert!(r.text().await.unwrap().contains("Please sign in again"));
    c.app.stop().await;
}

/// The test sign-in: a wrong audience and a wrong certificate each get a precise
/// diagnostic; SSO-only is refused before a passed test and accepted after it; the
/// admin API holds the same rule; the password login of the domain is then refused.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn test_sign_in_diagnostics_and_the_sso_only_gate() {
    let c = Console::new(Backend::Embedded).await;
    assert_eq!(c.save_saml(&c.idp.cert_pem).await.status(), 303);

    // SSO-only before any test: refused, and the tenant stays as it was.
    let r = c
        .post(
            &format!("/admin/tenants/{}/sso-only", c.tid()),
            &[("enabled", "on")],
        )
        .await;
    assert_eq!(r.status(), 303);
    let back = header(&r, "location").unwrap().to_owned();
    assert!(back.ends_with("?error=untested"), "{back}");
    let (_, html) = c.page(&back).await;
    assert!(html.contains("run a successful test sign-in"));
    let api = c
        .app
        .admin(
            Method::PATCH,
            &format!("/tenants/{}", c.tid()),
            Some(json!({"sso_only": true})),
        )
        .await;
    assert_eq!(api.status(), 409, "the admin API holds the same rule");

    // Wrong audience.
    let person = format!("pat@{}", c.domain);
    let (id, relay) = c.start_test().await;
    let mut bad = c.resp(&id, &person);
    bad.audience = Some("https://wrong-sp.example/".into());
    let html = c.finish_test(&c.idp.response(&bad), &relay).await;
    assert!(html.contains("Test sign-in failed"));
    let audience = row(&html, "Audience (SP Entity ID)");
    assert!(audience.contains("fail"), "{audience}");
    assert!(audience.contains("https://wrong-sp.example/"));
    assert!(
        audience.contains(&format!(
            "set the SP Entity ID (Audience URI) in your IdP to {}",
            c.app.url(&format!("/saml/metadata/{}", c.domain))
        )),
        "{audience}"
    );
    assert!(row(&html, "Issuer (IdP Entity ID)").contains("pass"));

    // Signed by a certificate that is not configured.
    let stranger = TestIdp::new(&c.idp.entity_id);
    let (id, relay) = c.start_test().await;
    let html = c
        .finish_test(&stranger.response(&c.resp(&id, &person)), &relay)
        .await;
    let signature = row(&html, "Signature and certificate");
    assert!(signature.contains("fail"), "{signature}");
    assert!(
        signature.contains("which is not configured here"),
        "{signature}"
    );

    // A good response passes every check and says what would happen.
    let (id, relay) = c.start_test().await;
    let html = c
        .finish_test(&c.idp.response(&c.resp(&id, &person)), &relay)
        .await;
    assert!(html.contains("Test sign-in passed"), "{html}");
    assert!(!html.contains("<strong>fail</strong>"));
    assert!(html.contains(&format!("would sign in as {person}")));
    assert!(html.contains("created just in time: yes"));
    assert!(
        gatehouse::user::repo::by_email(c.app.store(), &person)
            .await
            .unwrap()
            .is_none(),
        "a test creates nobody"
    );

    // Now SSO-only can be switched on, and password login for the domain is refused.
    let r = c
        .post(
            &format!("/admin/tenants/{}/sso-only", c.tid()),
            &[("enabled", "on")],
        )
        .await;
    assert!(header(&r, "location")
        .unwrap()
        .ends_with("?notice=sso_only_on"));
    let t: Value = c
        .app
        .admin(Method::GET, &format!("/tenants/{}", c.tid()), None)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(t["sso_only"], true);
    let user_email = format!("staff@{}", c.domain);
    c.app.create_user(c.tid(), &user_email).await;
    let r = c
        .app
        .password_login(&c.app.client(), &user_email, PASSWORD, "/")
        .await;
    assert_eq!(r.status(), 403);
    assert!(r.text().await.unwrap().contains("/login/sso?domain="));

    // The test events are in the logs, marked as tests.
    let (_, logs) = c
        .page(&format!("/admin/tenants/{}/logs?outcome=refused", c.tid()))
        .await;
    assert!(logs.contains("Audience was https://wrong-sp.example/"));
    assert!(logs.contains("· test"));
    let (status, _) = c
        .page(&format!("/admin/tenants/{}/logs?since=yesterday", c.tid()))
        .await;
    assert_eq!(status, 400, "a bad date is a clear 400 page");
    c.app.stop().await;
}

/// Users page: search, deactivate (sessions end at once), reactivate, end sessions.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn users_page_actions() {
    let c = Console::new(Backend::Embedded).await;
    let email = format!("sam@{}", c.domain);
    let user = c.app.create_user(c.tid(), &email).await;
    let uid = user["id"].as_str().unwrap();
    let browser = c.app.client();
    c.app.password_login(&browser, &email, PASSWORD, "/").await;
    assert_eq!(c.app.verify(&browser).await.status(), 200);

    let (_, html) = c
        .page(&format!("/admin/tenants/{}/users?q=SAM", c.tid()))
        .await;
    assert!(html.contains(&email));
    assert!(
        !html.contains(&format!("<td>it@{}", c.domain)),
        "search narrows"
    );

    let r = c
        .post(
            &format!("/admin/tenants/{}/users/{uid}/status", c.tid()),
            &[("status", "deactivated")],
        )
        .await;
    assert_eq!(r.status(), 303);
    assert_eq!(
        c.app.verify(&browser).await.status(),
        401,
        "deactivation ends the person's sessions"
    );
    let (_, html) = c
        .page(&format!("/admin/tenants/{}/users?q=sam", c.tid()))
        .await;
    assert!(html.contains("deactivated"));
    c.post(
        &format!("/admin/tenants/{}/users/{uid}/status", c.tid()),
        &[("status", "active")],
    )
    .await;
    let r = c.app.password_login(&browser, &email, PASSWORD, "/").await;
    assert_eq!(r.status(), 303, "reactivated people sign in again");
    let r = c
        .post(
            &format!("/admin/tenants/{}/users/{uid}/sessions/revoke", c.tid()),
            &[],
        )
        .await;
    assert!(header(&r, "location").unwrap().ends_with("notice=revoked"));
    assert_eq!(c.app.verify(&browser).await.status(), 401);
    c.app.stop().await;
}

/// The first-operator link works once; the operator sees every tenant.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn setup_link_creates_the_first_operator_once() {
    let app = TestApp::spawn(Backend::Embedded).await;
    let other = app.create_tenant(&unique_domain(), false).await;
    let link = gatehouse::console::setup::ensure_link(app.store(), &app.state.config.base_url)
        .await
        .unwrap()
        .unwrap();
    let path = link.strip_prefix(&app.base).unwrap().to_owned();
    let browser = app.client();
    let r = browser.get(app.url(&path)).send().await.unwrap();
    assert_eq!(r.status(), 200);
    let csrf = csrf_from(&r.text().await.unwrap());
    let domain = unique_domain();
    let email = format!("root@{domain}");
    let short = browser
        .post(app.url(&path))
        .form(&[
            ("csrf_token", csrf.as_str()),
            ("organization", "Operator Org"),
            ("email", &email),
            ("password", "short"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(short.status(), 400, "bad input keeps the link usable");
    let r = browser
        .post(app.url(&path))
        .form(&[
            ("csrf_token", csrf.as_str()),
            ("organization", "Operator Org"),
            ("email", &email),
            ("password", PASSWORD),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 303);
    assert_eq!(header(&r, "location").unwrap(), "/admin");
    let r = browser.get(app.url("/admin")).send().await.unwrap();
    assert_eq!(r.status(), 200);
    let html = r.text().await.unwrap();
    assert!(html.contains("Organisations") && html.contains(other["name"].as_str().unwrap()));
    let status = browser
        .get(app.url(&format!("/admin/tenants/{}", other["id"].as_str().unwrap())))
        .send()
        .await
        .unwrap()
        .status();
    assert_eq!(status, 200, "operators reach every tenant");
    let again = app.client().get(app.url(&path)).send().await.unwrap();
    assert_eq!(again.status(), 404, "the link works once");
    assert!(
        gatehouse::console::setup::ensure_link(app.store(), &app.state.config.base_url)
            .await
            .unwrap()
            .is_none(),
        "no new link once an operator exists"
    );
    app.stop().await;
}

/// API keys page: a key is shown once with the SCIM base URL, works for SCIM, is listed
/// without its secret afterwards, and stops working when revoked.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn api_key_is_shown_once_and_works_for_scim() {
    let c = Console::new(Backend::Embedded).await;
    let path = format!("/admin/tenants/{}/api-keys", c.tid());
    let r = c
        .post(&path, &[("label", "Okta"), ("scope_scim", "on")])
        .await;
    assert_eq!(r.status(), 200);
    assert_eq!(header(&r, "cache-control"), Some("no-store"));
    let html = r.text().await.unwrap();
    assert!(
        html.contains(&c.app.url("/scim/v2")),
        "the SCIM base URL to paste"
    );
    let start = html.find("id=\"new-secret\">").unwrap() + "id=\"new-secret\">".len();
    let secret = html[start..start + html[start..].find('<').unwrap()].to_owned();
    assert!(secret.starts_with("ghk_"), "{secret}");

    let scim = |token: String| {
        let url = c.app.url("/scim/v2/Users?startIndex=1&count=2");
        async move {
            reqwest::Client::new()
                .get(url)
                .bearer_auth(token)
                .send()
                .await
                .unwrap()
                .status()
        }
    };
    assert_eq!(scim(secret.clone()).await, 200, "the key works for SCIM");
    let (_, listed) = c.page(&path).await;
    assert!(
        listed.contains("Okta") && !listed.contains(&secret),
        "shown once"
    );

    let key_id = listed
        .split("/api-keys/")
        .nth(1)
        .unwrap()
        .split('/')
        .next()
        .unwrap()
        .to_owned();
    let r = c.post(&format!("{path}/{key_id}/revoke"), &[]).await;
    assert!(header(&r, "location")
        .unwrap()
        .ends_with("notice=key_revoked"));
    assert_eq!(scim(secret).await, 401, "revoked keys open nothing");
    c.app.stop().await;
}
