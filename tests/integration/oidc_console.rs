//! Authentication › OIDC in the console, the OIDC test sign-in and the test sign-in through
//! the admin API, over HTTP against the stand-in provider (`oidc_op`: real RSA-signed ID
//! tokens over loopback): save-time checks shown at their field, the write-only secret, a
//! report line per check with its fix, the SSO-only gate for whichever protocol the tenant
//! uses, switching protocols through the console, and that a test flow never signs anyone
//! in nor creates anyone.

use reqwest::Method;
use serde_json::{json, Value};

use crate::common::{csrf_from, header, session_cookie, unique_domain, Backend, TestApp, PASSWORD};
use crate::oidc_login::{at_provider, location, oidc_options};
use crate::oidc_op::{Signing, TestOp, CLIENT_ID, CLIENT_SECRET};
use crate::saml_idp::TestIdp;

struct Setup {
    app: TestApp,
    op: TestOp,
    tenant: Value,
    domain: String,
    admin: reqwest::Client,
}

impl Setup {
    async fn new(backend: Backend) -> Self {
        let app = TestApp::spawn_with(oidc_options(backend)).await;
        let op = TestOp::start().await;
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
        op.sign_in_as(json!({
            "sub": "okta-pat", "email": format!("pat@{domain}"), "email_verified": true,
            "given_name": "Pat", "family_name": "Tester", "groups": ["eng", "oncall"],
        }));
        Self {
            app,
            op,
            tenant,
            domain,
            admin,
        }
    }

    fn tid(&self) -> &str {
        self.tenant["id"].as_str().unwrap()
    }

    fn oidc_page(&self) -> String {
        format!("/admin/tenants/{}/oidc", self.tid())
    }

    async fn page_in(&self, client: &reqwest::Client, path: &str) -> (u16, String) {
        let r = client.get(self.app.url(path)).send().await.unwrap();
        (r.status().as_u16(), r.text().await.unwrap())
    }

    async fn page(&self, path: &str) -> (u16, String) {
        self.page_in(&self.admin, path).await
    }

    async fn post_in(
        &self,
        client: &reqwest::Client,
        path: &str,
        fields: &[(&str, &str)],
    ) -> reqwest::Response {
        let (_, html) = self.page_in(client, &self.oidc_page()).await;
        let csrf = csrf_from(&html);
        let mut form: Vec<(&str, &str)> = vec![("csrf_token", &csrf)];
        form.extend_from_slice(fields);
        client
            .post(self.app.url(path))
            .form(&form)
            .send()
            .await
            .unwrap()
    }

    async fn post(&self, path: &str, fields: &[(&str, &str)]) -> reqwest::Response {
        self.post_in(&self.admin, path, fields).await
    }

    async fn save(&self, extra: &[(&str, &str)]) -> reqwest::Response {
        let mut fields = vec![
            ("provider", "okta"),
            ("issuer", self.op.issuer.as_str()),
            ("client_id", CLIENT_ID),
            ("client_secret", CLIENT_SECRET),
            ("jit_provisioning", "on"),
        ];
        for (k, v) in extra {
            fields.retain(|(f, _)| f != k);
            fields.push((k, v));
        }
        self.post(&self.oidc_page(), &fields).await
    }

    /// A console test in `client`: the button, the provider, the callback. Returns the
    /// callback's answer.
    async fn test_in(&self, client: &reqwest::Client) -> reqwest::Response {
        let r = self
            .post_in(client, &format!("{}/test", self.oidc_page()), &[])
            .await;
        let authorize = location(&r);
        assert!(
            authorize.starts_with(&format!("{}/authorize?", self.op.base)),
            "{authorize}"
        );
        let callback = at_provider(&authorize).await;
        client.get(callback).send().await.unwrap()
    }

    /// A console test by the admin, ending on its report page (HTML).
    async fn report(&self) -> String {
        let r = self.test_in(&self.admin).await;
        assert_eq!(r.status(), 303, "a test ends on its report");
        assert!(session_cookie(&r).is_none(), "a test never signs in");
        let to = location(&r);
        assert!(to.starts_with("/admin/tests/"), "{to}");
        let (status, html) = self.page(&to).await;
        assert_eq!(status, 200);
        html
    }

    async fn sso_only_console(&self) -> String {
        let r = self
            .post(
                &format!("/admin/tenants/{}/sso-only", self.tid()),
                &[("enabled", "on")],
            )
            .await;
        location(&r)
    }

    async fn sso_only_api(&self, on: bool) -> u16 {
        self.app
            .admin(
                Method::PATCH,
                &format!("/tenants/{}", self.tid()),
                Some(json!({ "sso_only": on })),
            )
            .await
            .status()
            .as_u16()
    }

    async fn users(&self) -> u64 {
        let body: Value = self
            .app
            .admin(Method::GET, &format!("/tenants/{}/users", self.tid()), None)
            .await
            .json()
            .await
            .unwrap();
        body["total"].as_u64().unwrap()
    }

    async fn stop(self) {
        self.op.stop().await;
        self.app.stop().await;
    }
}

/// The report's row for `label`.
fn row<'a>(html: &'a str, label: &str) -> &'a str {
    let start = html
        .find(&format!("<th scope=\"row\">{label}</th>"))
        .unwrap_or_else(|| panic!("no row {label}"));
    let end = html[start..].find("</tr>").unwrap() + start;
    &html[start..end]
}

fn unescape(html: &str) -> String {
    html.replace("&#39;", "'")
        .replace("&#34;", "\"")
        .replace("&quot;", "\"")
        .replace("&#60;", "<")
        .replace("&#62;", ">")
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&amp;", "&")
}

async fn page_saves_and_never_echoes_the_secret(backend: Backend) {
    let s = Setup::new(backend).await;
    let (status, html) = s.page(&s.oidc_page()).await;
    assert_eq!(status, 200);
    assert!(
        html.contains(&s.app.url("/oidc/callback")),
        "the redirect URI to register"
    );
    assert!(html.contains("data-copy=\"oidc-redirect\""));
    let r = s.admin.get(s.app.url(&s.oidc_page())).send().await.unwrap();
    let csp = header(&r, "content-security-policy").unwrap().to_owned();
    assert!(
        csp.contains("form-action 'self' https: http://127.0.0.1:*"),
        "{csp}"
    );

    // A wrong issuer: refused at save (discovery), shown at the issuer field, typed values
    // kept, the typed secret not echoed.
    let typed_secret = "typed-secret-never-shown-9876";
    let wrong = format!("{}/nowhere", s.op.base);
    let r = s
        .save(&[("issuer", wrong.as_str()), ("client_secret", typed_secret)])
        .await;
    assert_eq!(r.status(), 400);
    let html = r.text().await.unwrap();
    assert!(
        html.contains("id=\"issuer-error\""),
        "the refusal sits at its field"
    );
    let at_field = &html[html.find("id=\"issuer-error\"").unwrap()..];
    assert!(
        unescape(at_field).contains("discovery document at"),
        "{at_field:.300}"
    );
    assert!(
        html.contains(&format!("value=\"{wrong}\"")),
        "the typed issuer is kept"
    );
    assert!(html.contains(&format!("value=\"{CLIENT_ID}\"")));
    assert!(!html.contains(typed_secret), "the secret is never echoed");
    let api: Value = s
        .app
        .admin(Method::GET, &format!("/tenants/{}/oidc", s.tid()), None)
        .await
        .json()
        .await
        .unwrap();
    assert!(api["connection"].is_null(), "nothing saved");

    // A bad clock skew is refused at its field too.
    let r = s.save(&[("clock_skew_secs", "900")]).await;
    assert_eq!(r.status(), 400);
    assert!(r
        .text()
        .await
        .unwrap()
        .contains("id=\"clock_skew_secs-error\""));

    // Saved; the page says a secret is stored, never shows it.
    let r = s.save(&[]).await;
    assert_eq!(r.status(), 303, "{}", r.text().await.unwrap());
    let (_, html) = s.page(&format!("{}?notice=saved", s.oidc_page())).await;
    assert!(html.contains("Saved."));
    assert!(html.contains("A client secret is stored. Leave this empty to keep it"));
    assert!(!html.contains(CLIENT_SECRET));
    assert!(
        html.contains("value=\"openid email profile groups\""),
        "the preset's scopes"
    );
    assert!(html.contains("Test sign-in"));

    // Saved again with the secret left blank: it is kept (the test's token request, which
    // the provider checks with the secret, still works).
    let r = s
        .save(&[("client_secret", ""), ("scopes", "openid email profile")])
        .await;
    assert_eq!(r.status(), 303);
    let html = s.report().await;
    assert!(html.contains("Test sign-in passed"), "{html}");
    assert!(s.op.token_requests().last().unwrap().authorized);

    // Recorded in the configuration log, the secret never.
    let changes = gatehouse::audit::changes::list(
        s.app.store(),
        s.tid(),
        gatehouse::audit::Window {
            since: None,
            until: None,
            limit: 10,
        },
        None,
    )
    .await
    .unwrap();
    let text = serde_json::to_string(&changes).unwrap();
    assert!(text.contains("OIDC connection set up"), "{text}");
    assert!(!text.contains(CLIENT_SECRET));
    s.stop().await;
}
crate::both_backends!(
    page_saves_and_never_echoes_the_secret_both,
    super::page_saves_and_never_echoes_the_secret
);

/// A passing test creates nobody and no session — run by a setup-link holder, who has no
/// session at all, so a test mark that were ignored would show as a 200 at /auth/verify.
async fn a_test_creates_nobody_and_no_session(backend: Backend) {
    let s = Setup::new(backend).await;
    assert_eq!(s.save(&[]).await.status(), 303);
    let users_before = s.users().await;
    let link: Value = s
        .app
        .admin(
            Method::POST,
            &format!("/tenants/{}/it-setup-links", s.tid()),
            Some(json!({"label": "Jane", "lifetime_hours": 2})),
        )
        .await
        .json()
        .await
        .unwrap();
    let guest = s.app.client();
    let r = guest
        .get(link["url"].as_str().unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(
        location(&r),
        s.oidc_page(),
        "a setup link lands on the OIDC page"
    );

    let r = s.test_in(&guest).await;
    assert_eq!(r.status(), 303);
    assert!(session_cookie(&r).is_none());
    let report = location(&r);
    assert_eq!(
        s.app.verify(&guest).await.status(),
        401,
        "nobody is signed in"
    );
    let (status, html) = s.page_in(&guest, &report).await;
    assert_eq!(status, 200);
    assert!(html.contains("Test sign-in passed"), "{html}");
    let html = unescape(&html);
    assert!(
        html.contains(&format!(
            "would sign in as pat@{}, groups: eng, oncall; created just in time: yes",
            s.domain
        )),
        "{html}"
    );
    for label in [
        "Provider&#39;s answer",
        "State and browser binding",
        "Token exchange (code for ID token)",
        "Signature, algorithm and key",
        "Issuer (iss)",
        "Audience (aud, the Client ID)",
        "Authorized party (azp)",
        "Nonce (this test&#39;s request)",
        "Expiry, issue time and clocks",
        "Email claim",
        "Email domain",
        "Groups claim (informational)",
    ] {
        let label = unescape(label);
        assert!(
            row(&html, &label).contains("<td>pass</td>"),
            "{label}: {}",
            row(&html, &label)
        );
    }
    assert!(
        html.contains("\"nonce\": \"(redacted)\""),
        "the claims, nonce redacted"
    );
    assert!(!html.contains("id_token") && !html.contains("access_token"));
    assert_eq!(s.users().await, users_before, "nobody was created");
    assert!(
        gatehouse::user::repo::by_email(s.app.store(), &format!("pat@{}", s.domain))
            .await
            .unwrap()
            .is_none()
    );
    // The login event says it was a test.
    let events: Value = s
        .app
        .admin(
            Method::GET,
            &format!("/tenants/{}/login-events", s.tid()),
            None,
        )
        .await
        .json()
        .await
        .unwrap();
    let last = &events["items"][0];
    assert_eq!(last["test"], true);
    assert_eq!(last["method"], "oidc");
    assert_eq!(last["outcome"], "succeeded");
    s.stop().await;
}
crate::both_backends!(
    a_test_creates_nobody_and_no_session_both,
    super::a_test_creates_nobody_and_no_session
);

/// Each failing check is named with what the provider sent and the fix.
async fn each_failure_gets_its_check_and_fix(backend: Backend) {
    let s = Setup::new(backend).await;
    assert_eq!(s.save(&[]).await.status(), 303);
    let cases: Vec<(&str, &str, crate::oidc_op::Bend)> = vec![
        (
            "Audience (aud, the Client ID)",
            "The provider sends aud wrong-client, but Client ID here is gatehouse-test-client: in Okta the audience is the app's Client ID (General tab) — set Client ID on the Gatehouse OIDC page to that value.",
            Box::new(|c, _, _| {
                c.insert("aud".into(), json!("wrong-client"));
            }),
        ),
        (
            "Issuer (iss)",
            "The provider sends iss https://evil.example; set Issuer on the Gatehouse OIDC page to exactly that value if it is your provider",
            Box::new(|c, _, _| {
                c.insert("iss".into(), json!("https://evil.example"));
            }),
        ),
        (
            "Expiry, issue time and clocks",
            "The ID token had expired",
            Box::new(|c, _, _| {
                let now = time::OffsetDateTime::now_utc().unix_timestamp();
                c.insert("iat".into(), json!(now - 1000));
                c.insert("exp".into(), json!(now - 600));
            }),
        ),
        (
            "Signature, algorithm and key",
            "The signature does not verify with the provider's key",
            Box::new(|_, _, sig| *sig = Signing::TamperedPayload),
        ),
        (
            "Signature, algorithm and key",
            "No key in the provider's JWKS has kid",
            Box::new(|_, _, sig| *sig = Signing::Unpublished),
        ),
        (
            "Signature, algorithm and key",
            "(a shared secret), which is refused",
            Box::new(|_, _, sig| *sig = Signing::HmacWithPublicKey),
        ),
    ];
    for (label, fix, bend) in cases {
        s.op.next_token(bend);
        let html = unescape(&s.report().await);
        assert!(html.contains("Test sign-in failed"), "{label}");
        let line = row(&html, label);
        assert!(line.contains("<strong>fail</strong>"), "{label}: {line}");
        assert!(line.contains(fix), "{label}: expected {fix:?} in {line}");
        assert!(html.contains("nobody would be signed in"), "{label}");
    }
    // The expired case measured the clock difference from iat.
    s.op.next_token(|c, _, _| {
        let now = time::OffsetDateTime::now_utc().unix_timestamp();
        c.insert("iat".into(), json!(now + 200));
    });
    let html = unescape(&s.report().await);
    assert!(
        row(&html, "Expiry, issue time and clocks").contains("The provider's clock is"),
        "{html}"
    );
    assert!(
        html.contains("Clock difference (provider − gateway, from iat)</dt><dd>+"),
        "{html}"
    );
    s.stop().await;
}
crate::both_backends!(
    each_failure_gets_its_check_and_fix_both,
    super::each_failure_gets_its_check_and_fix
);

/// SSO-only: refused before a passed OIDC test (console and API), accepted after, refused
/// again once the connection changed.
async fn sso_only_needs_a_passed_test_of_the_current_connection(backend: Backend) {
    let s = Setup::new(backend).await;
    assert!(s.sso_only_console().await.ends_with("?error=no_sso"));
    assert_eq!(s.sso_only_api(true).await, 409);
    assert_eq!(s.save(&[]).await.status(), 303);
    let back = s.sso_only_console().await;
    assert!(back.ends_with("?error=untested"), "{back}");
    let (_, html) = s.page(&back).await;
    assert!(html.contains("run a successful test sign-in of the current SSO connection"));
    assert_eq!(s.sso_only_api(true).await, 409);

    // A failed test does not count.
    s.op.next_token(|c, _, _| {
        c.insert("aud".into(), json!("x"));
    });
    assert!(s.report().await.contains("Test sign-in failed"));
    assert!(s.sso_only_console().await.ends_with("?error=untested"));

    assert!(s.report().await.contains("Test sign-in passed"));
    let (_, html) = s.page(&format!("/admin/tenants/{}", s.tid())).await;
    assert!(
        html.contains("(OpenID Connect)"),
        "the last pass is shown with its protocol"
    );
    assert!(
        html.contains(&s.op.issuer),
        "the tenant page shows the OIDC connection"
    );
    assert!(s.sso_only_console().await.ends_with("?notice=sso_only_on"));
    // Break-glass, then the API's turn.
    assert_eq!(s.sso_only_api(false).await, 200);
    assert_eq!(s.sso_only_api(true).await, 200);
    assert_eq!(s.sso_only_api(false).await, 200);

    // Changed settings need a new test.
    assert_eq!(s.save(&[("scopes", "openid email")]).await.status(), 303);
    assert!(s.sso_only_console().await.ends_with("?error=untested"));
    assert_eq!(s.sso_only_api(true).await, 409);
    s.stop().await;
}
crate::both_backends!(
    sso_only_gate_both,
    super::sso_only_needs_a_passed_test_of_the_current_connection
);

/// A tenant has one SSO connection; the console's remove buttons switch between them.
async fn switching_protocols_through_the_console(backend: Backend) {
    let s = Setup::new(backend).await;
    assert_eq!(s.save(&[]).await.status(), 303);
    let saml_page = format!("/admin/tenants/{}/saml", s.tid());
    let (_, html) = s.page(&saml_page).await;
    assert!(html.contains("This organisation signs in with OpenID Connect"));
    assert!(
        !html.contains("name=\"idp_entity_id\""),
        "no SAML form meanwhile"
    );

    // Removing needs the confirmation, and is refused while SSO-only is on.
    let remove = format!("{}/remove", s.oidc_page());
    let r = s.post(&remove, &[]).await;
    assert!(location(&r).ends_with("?error=confirm_remove"));
    assert!(s.report().await.contains("Test sign-in passed"));
    assert_eq!(s.sso_only_api(true).await, 200);
    let r = s.post(&remove, &[("confirm", "yes")]).await;
    assert!(location(&r).ends_with("?error=remove_sso_only"));
    let api = s
        .app
        .admin(Method::DELETE, &format!("/tenants/{}/oidc", s.tid()), None)
        .await;
    assert_eq!(api.status(), 409, "the API holds the same rule");
    assert_eq!(s.sso_only_api(false).await, 200);
    let r = s.post(&remove, &[("confirm", "yes")]).await;
    assert!(location(&r).ends_with("?notice=removed"));
    let api: Value = s
        .app
        .admin(Method::GET, &format!("/tenants/{}/oidc", s.tid()), None)
        .await
        .json()
        .await
        .unwrap();
    assert!(api["connection"].is_null());

    // Now SAML can be set up in the console, and the OIDC page says so.
    let idp = TestIdp::new("https://idp.switch.example/metadata");
    let r = s
        .post(
            &saml_page,
            &[
                ("provider", "custom"),
                ("idp_entity_id", &idp.entity_id),
                ("idp_sso_url", &idp.sso_url),
                ("certificate", &idp.cert_pem),
            ],
        )
        .await;
    assert_eq!(r.status(), 303);
    let (_, html) = s.page(&s.oidc_page()).await;
    assert!(html.contains("This organisation signs in with SAML"));
    assert!(!html.contains("name=\"client_secret\""));
    // The passed OIDC test does not open SSO-only for the SAML connection.
    assert_eq!(s.sso_only_api(true).await, 409);

    // And back: remove SAML, save OIDC again.
    let r = s
        .post(&format!("{saml_page}/remove"), &[("confirm", "yes")])
        .await;
    assert!(location(&r).ends_with("?notice=removed"));
    assert_eq!(s.save(&[]).await.status(), 303);
    s.stop().await;
}
crate::both_backends!(
    switching_protocols_both,
    super::switching_protocols_through_the_console
);

/// The admin API: a one-time start URL a browser opens (bound to that browser), a page that
/// only says passed/failed, and the report as JSON.
async fn api_test_sign_in(backend: Backend) {
    let s = Setup::new(backend).await;
    let base = format!("/tenants/{}/sso-tests", s.tid());
    let r = s.app.admin(Method::POST, &base, None).await;
    assert_eq!(r.status(), 409, "nothing to test yet");
    assert_eq!(s.save(&[]).await.status(), 303);

    let r = s.app.admin(Method::POST, &base, None).await;
    assert_eq!(r.status(), 201);
    let started: Value = r.json().await.unwrap();
    assert_eq!(started["status"], "pending");
    assert_eq!(started["protocol"], "oidc");
    assert_eq!(started["via"], "api");
    let id = started["id"].as_str().unwrap().to_owned();
    let start_url = started["start_url"].as_str().unwrap().to_owned();
    assert!(
        start_url.starts_with(&s.app.url("/sso-tests/start/")),
        "{start_url}"
    );

    let browser = s.app.client();
    let r = browser.get(&start_url).send().await.unwrap();
    let authorize = location(&r);
    assert!(
        r.headers()
            .get_all("set-cookie")
            .iter()
            .any(|c| c.to_str().unwrap().starts_with("gatehouse_oidc=")),
        "the start URL binds the flow to this browser"
    );
    assert!(authorize.starts_with(&format!("{}/authorize?", s.op.base)));
    let again = browser.get(&start_url).send().await.unwrap();
    assert_eq!(again.status(), 404, "a start URL works once");

    let callback = at_provider(&authorize).await;
    let r = browser.get(callback).send().await.unwrap();
    assert_eq!(r.status(), 200);
    assert!(session_cookie(&r).is_none());
    let html = r.text().await.unwrap();
    assert!(html.contains("Test sign-in passed"));
    assert!(html.contains(&id), "the page names the test id");
    assert!(
        !html.contains("pat@"),
        "the identity is not shown in the browser"
    );
    assert_eq!(s.app.verify(&browser).await.status(), 401);

    let report: Value = s
        .app
        .admin(Method::GET, &format!("{base}/{id}"), None)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(report["status"], "passed", "{report}");
    let checks = report["checks"].as_array().unwrap();
    assert_eq!(checks.len(), 12);
    assert!(checks.iter().all(|c| c["result"] == "pass"), "{report}");
    assert_eq!(report["details"]["claims"]["nonce"], "(redacted)");
    assert_eq!(report["identity"]["email"], format!("pat@{}", s.domain));
    assert!(report["outcome"]
        .as_str()
        .unwrap()
        .contains("created just in time: yes"));
    assert!(!report.to_string().contains("id_token"));

    // Another browser presenting a test's callback: a failed report, no exchange.
    let started: Value = s
        .app
        .admin(Method::POST, &base, None)
        .await
        .json()
        .await
        .unwrap();
    let id2 = started["id"].as_str().unwrap().to_owned();
    let r = browser
        .get(started["start_url"].as_str().unwrap())
        .send()
        .await
        .unwrap();
    let callback = at_provider(&location(&r)).await;
    let exchanges = s.op.token_requests().len();
    let r = s.app.client().get(callback).send().await.unwrap();
    assert!(r.text().await.unwrap().contains("Test sign-in failed"));
    assert_eq!(
        s.op.token_requests().len(),
        exchanges,
        "the code was not exchanged"
    );
    let report: Value = s
        .app
        .admin(Method::GET, &format!("{base}/{id2}"), None)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(report["status"], "failed");
    let binding = checks_of(&report, "state_and_browser");
    assert_eq!(binding["result"], "fail");

    // The list, newest first; another tenant's id is not found.
    let list: Value = s
        .app
        .admin(Method::GET, &base, None)
        .await
        .json()
        .await
        .unwrap();
    let items = list["items"].as_array().unwrap();
    assert_eq!(items[0]["id"], id2.as_str());
    assert_eq!(items[1]["id"], id.as_str());
    let other = s.app.create_tenant(&unique_domain(), false).await;
    let r = s
        .app
        .admin(
            Method::GET,
            &format!("/tenants/{}/sso-tests/{id}", other["id"].as_str().unwrap()),
            None,
        )
        .await;
    assert_eq!(r.status(), 404);
    // Documented next to the OIDC paths.
    let spec: Value = reqwest::get(s.app.url("/api/v1/openapi.json"))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    for path in [
        "/api/v1/tenants/{tenant_id}/sso-tests",
        "/api/v1/tenants/{tenant_id}/sso-tests/{test_id}",
    ] {
        assert!(spec["paths"][path].is_object(), "{path} documented");
    }
    // A passed API test opens SSO-only as well.
    assert_eq!(s.sso_only_api(true).await, 200);
    s.stop().await;
}
crate::both_backends!(api_test_sign_in_both, super::api_test_sign_in);

fn checks_of<'a>(report: &'a Value, kind: &str) -> &'a Value {
    report["checks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["kind"] == kind)
        .unwrap()
}
