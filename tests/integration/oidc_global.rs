//! The operator's global providers, "Continue with Google" and "Continue with Microsoft",
//! pointed at the stand-in provider through the configuration (the same keys an operator
//! uses for sovereign clouds). Negative tests named after SECURITY-CHECKLIST T32–T34.

use std::sync::Arc;

use gatehouse::audit::login::{self as login_events, Filter, NO_TENANT};
use gatehouse::audit::Window;
use gatehouse::oidc::global::{RawGoogle, RawMicrosoft};
use serde_json::{json, Value};

use crate::common::{header, session_cookie, unique_domain, Backend, Options, TestApp};
use crate::oidc_login::{at_provider, location};
use crate::oidc_op::{TestOp, CLIENT_ID, CLIENT_SECRET};

const TID: &str = "9188040d-6c67-4c5b-b112-36a304b66dad";
const OTHER_TID: &str = "72f988bf-86f1-41af-91ab-2d7cd011db47";

struct Global {
    app: TestApp,
    op: TestOp,
    tenant: Value,
    domain: String,
    email: String,
}

impl Global {
    async fn google(backend: Backend, allowed_hd: Vec<String>, sso_only: bool) -> Self {
        let op = TestOp::start().await;
        let issuer = op.issuer.clone();
        let mut o = Options::new(backend);
        o.configure = Some(Arc::new(move |raw| {
            raw.danger_oidc_allow_http_loopback = true;
            raw.google = Some(RawGoogle {
                client_id: CLIENT_ID.into(),
                client_secret: CLIENT_SECRET.into(),
                allowed_hd: allowed_hd.clone(),
                issuer: Some(issuer.clone()),
            });
        }));
        Self::with(o, op, sso_only).await
    }

    async fn microsoft(backend: Backend, allowed: Vec<String>) -> Self {
        let op = TestOp::start_microsoft().await;
        let (base, template) = (op.base.clone(), op.issuer.clone());
        let mut o = Options::new(backend);
        o.configure = Some(Arc::new(move |raw| {
            raw.danger_oidc_allow_http_loopback = true;
            raw.microsoft = Some(RawMicrosoft {
                client_id: CLIENT_ID.into(),
                client_secret: CLIENT_SECRET.into(),
                authority: Some("organizations".into()),
                allowed_tenant_ids: allowed.clone(),
                authority_url: Some(format!("{base}/organizations/v2.0")),
                issuer_template: Some(template.clone()),
            });
        }));
        Self::with(o, op, false).await
    }

    async fn with(options: Options, op: TestOp, sso_only: bool) -> Self {
        let app = TestApp::spawn_with(options).await;
        let domain = unique_domain();
        let tenant = app.create_tenant(&domain, sso_only).await;
        let email = format!("alice@{domain}");
        app.create_user(tenant["id"].as_str().unwrap(), &email)
            .await;
        Self {
            app,
            op,
            tenant,
            domain,
            email,
        }
    }

    async fn attempt_in(&self, browser: &reqwest::Client, path: &str) -> reqwest::Response {
        let r = browser
            .get(self.app.url(&format!("{path}?return_to=/dashboard")))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 303, "{}", r.text().await.unwrap());
        let callback = at_provider(&location(&r)).await;
        browser.get(callback).send().await.unwrap()
    }

    async fn events(&self, scope: Option<&str>) -> Vec<Value> {
        let tenant = self.tenant["id"].as_str().unwrap();
        let items = login_events::list(
            self.app.store(),
            scope.unwrap_or(tenant),
            Window {
                since: None,
                until: None,
                limit: 50,
            },
            &Filter::default(),
        )
        .await
        .unwrap();
        items
            .into_iter()
            .map(|e| serde_json::to_value(e).unwrap())
            .collect()
    }

    /// A refusal page whose reference leads to a login event with `cause_part`.
    async fn assert_refused(&self, resp: reqwest::Response, cause_part: &str) {
        let status = resp.status();
        assert!(session_cookie(&resp).is_none(), "{cause_part}: no session");
        let page = resp.text().await.unwrap();
        assert_eq!(status, 403, "{cause_part}: {page}");
        let marker = "Reference: <code>";
        let start = page.find(marker).expect("a reference") + marker.len();
        let reference = &page[start..start + page[start..].find('<').unwrap()];
        let mut all = self.events(None).await;
        all.extend(self.events(Some(NO_TENANT)).await);
        let event = all
            .iter()
            .find(|e| e["reference"] == reference)
            .unwrap_or_else(|| panic!("{cause_part}: no event {reference}"));
        let cause = event["cause"].as_str().unwrap();
        assert!(
            cause.contains(cause_part),
            "expected {cause_part:?} in {cause:?}"
        );
        assert_eq!(event["method"], "oidc");
    }

    async fn stop(self) {
        self.op.stop().await;
        self.app.stop().await;
    }
}

async fn google_workspace_account_signs_in(backend: Backend) {
    let g = Global::google(backend, Vec::new(), false).await;
    let page = g
        .app
        .client()
        .get(g.app.url("/login?return_to=/dashboard"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(page.contains("Continue with Google"));
    assert!(
        page.contains("href=\"/login/google?return_to=%2Fdashboard\""),
        "{page}"
    );
    assert!(
        !page.contains("Continue with Microsoft"),
        "only configured providers"
    );
    g.op.sign_in_as(json!({
        "sub": "google-1", "email": g.email, "email_verified": true, "hd": g.domain,
    }));
    let browser = g.app.client();
    let resp = g.attempt_in(&browser, "/login/google").await;
    assert_eq!(resp.status(), 303, "{}", resp.text().await.unwrap());
    assert_eq!(header(&resp, "location"), Some("/dashboard"));
    let verify = g.app.verify(&browser).await;
    assert_eq!(verify.status(), 200);
    assert_eq!(header(&verify, "x-gatehouse-email"), Some(g.email.as_str()));
    let events = g.events(None).await;
    assert_eq!(events[0]["outcome"], "succeeded");
    assert_eq!(events[0]["provider"], "google");
    // T33: the link holds; another Google account with the same address is refused.
    g.op.sign_in_as(json!({
        "sub": "google-attacker", "email": g.email, "email_verified": true, "hd": g.domain,
    }));
    let r = g.attempt_in(&g.app.client(), "/login/google").await;
    g.assert_refused(r, "nOAuth").await;
    g.stop().await;
}
crate::both_backends!(google_both, super::google_workspace_account_signs_in);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn login_page_shows_no_provider_buttons_when_none_is_configured() {
    let app = TestApp::spawn(Backend::Embedded).await;
    let page = app
        .client()
        .get(app.url("/login"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(!page.contains("Continue with Google") && !page.contains("Continue with Microsoft"));
    let r = app
        .client()
        .get(app.url("/login/google"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 404);
    app.stop().await;
}

/// T34: the `hd` claim in the ID token is checked against `google.allowed_hd`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn t34_google_hd_outside_allowlist_is_refused() {
    let g = Global::google(Backend::Embedded, vec!["corp.example".into()], false).await;
    g.op.sign_in_as(json!({
        "sub": "google-2", "email": g.email, "email_verified": true, "hd": g.domain,
    }));
    let r = g.attempt_in(&g.app.client(), "/login/google").await;
    g.assert_refused(r, "allowed_hd").await;
    g.stop().await;
}

/// A consumer Google account (no `hd`) carrying a company address never links to the
/// company's person: Google does not vouch that the domain manages it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn t33_google_consumer_account_does_not_link_by_email() {
    let g = Global::google(Backend::Embedded, Vec::new(), false).await;
    g.op.sign_in_as(json!({
        "sub": "google-consumer", "email": g.email, "email_verified": true,
    }));
    let r = g.attempt_in(&g.app.client(), "/login/google").await;
    g.assert_refused(r, "Workspace accounts").await;
    g.stop().await;
}

/// An SSO-only tenant refuses Google for its people and offers its own SSO instead.
async fn sso_only_tenant_refuses_global_login(backend: Backend) {
    let g = Global::google(backend, Vec::new(), true).await;
    g.op.sign_in_as(json!({
        "sub": "google-3", "email": g.email, "email_verified": true, "hd": g.domain,
    }));
    let r = g.attempt_in(&g.app.client(), "/login/google").await;
    assert_eq!(r.status(), 403);
    assert!(session_cookie(&r).is_none());
    let page = r.text().await.unwrap();
    assert!(page.contains("Use your company sign-in"), "{page}");
    assert!(
        page.contains(&format!(
            "href=\"/login/sso?domain={}&#38;return_to=%2Fdashboard\"",
            g.domain
        )),
        "{page}"
    );
    let events = g.events(None).await;
    assert_eq!(events[0]["outcome"], "refused");
    assert!(events[0]["cause"]
        .as_str()
        .unwrap()
        .contains("allows only its own SSO"));
    g.stop().await;
}
crate::both_backends!(sso_only_both, super::sso_only_tenant_refuses_global_login);

async fn microsoft_allowlisted_directory_signs_in(backend: Backend) {
    let m = Global::microsoft(backend, vec![TID.into()]).await;
    m.op.sign_in_as(json!({
        "sub": "pairwise-1", "oid": "00000000-0000-0000-0000-0000000000a1", "tid": TID,
        "email": m.email, "xms_edov": true,
    }));
    let browser = m.app.client();
    let resp = m.attempt_in(&browser, "/login/microsoft").await;
    assert_eq!(resp.status(), 303, "{}", resp.text().await.unwrap());
    assert_eq!(m.app.verify(&browser).await.status(), 200);
    // The discovery document's issuer carried the {tenantid} placeholder.
    let doc: Value = reqwest::get(format!(
        "{}/organizations/v2.0/.well-known/openid-configuration",
        m.op.base
    ))
    .await
    .unwrap()
    .json()
    .await
    .unwrap();
    assert!(doc["issuer"].as_str().unwrap().contains("{tenantid}"));
    m.stop().await;
}
crate::both_backends!(
    microsoft_both,
    super::microsoft_allowlisted_directory_signs_in
);

/// T32: a token whose `iss` names another directory than its own `tid` is refused, and so is
/// a directory outside the allowlist.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn t32_microsoft_tid_must_match_issuer_and_allowlist() {
    let m = Global::microsoft(Backend::Embedded, vec![TID.into()]).await;
    m.op.sign_in_as(json!({
        "sub": "p", "oid": "00000000-0000-0000-0000-0000000000a2", "tid": TID,
        "email": m.email, "email_verified": true,
    }));
    let base = m.op.base.clone();
    m.op.next_token(move |c, _, _| {
        c.insert("iss".into(), json!(format!("{base}/{OTHER_TID}/v2.0")));
    });
    let r = m.attempt_in(&m.app.client(), "/login/microsoft").await;
    m.assert_refused(r, "issuer mismatch").await;
    m.op.sign_in_as(json!({
        "sub": "p", "oid": "00000000-0000-0000-0000-0000000000a3", "tid": OTHER_TID,
        "email": m.email, "email_verified": true,
    }));
    let r = m.attempt_in(&m.app.client(), "/login/microsoft").await;
    m.assert_refused(r, "not on the allowlist").await;
    m.stop().await;
}

/// Without an allowlist any directory may sign in, but none may link to an existing person
/// by email (any directory can claim any address).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn t33_microsoft_unlisted_directory_does_not_link_by_email() {
    let m = Global::microsoft(Backend::Embedded, Vec::new()).await;
    m.op.sign_in_as(json!({
        "sub": "p", "oid": "00000000-0000-0000-0000-0000000000a4", "tid": OTHER_TID,
        "email": m.email, "email_verified": true,
    }));
    let r = m.attempt_in(&m.app.client(), "/login/microsoft").await;
    m.assert_refused(r, "allowlisted directories").await;
    m.stop().await;
}
