//! OpenID Connect sign-in through a tenant's own connection, end to end over HTTP:
//! `/login/sso` → provider (the stand-in in `oidc_op`) → `/oidc/callback` → session →
//! `/auth/verify`; and a negative test for each ID-token and flow check, named after its
//! SECURITY-CHECKLIST line (T33 nOAuth, T34 odd emails, T35 PKCE/state/nonce).

use std::sync::Arc;

use reqwest::Method;
use serde_json::{json, Value};

use crate::common::{header, session_cookie, unique_domain, Backend, Options, TestApp};
use crate::oidc_op::{Signing, TestOp, CLIENT_ID, CLIENT_SECRET};

pub fn oidc_options(backend: Backend) -> Options {
    let mut o = Options::new(backend);
    o.configure = Some(Arc::new(|raw| raw.danger_oidc_allow_http_loopback = true));
    o
}

pub struct Oidc {
    pub app: TestApp,
    pub op: TestOp,
    pub tenant: Value,
    pub domain: String,
    pub email: String,
}

/// Follows one redirect by hand: the `Location` of a 302/303.
pub fn location(resp: &reqwest::Response) -> String {
    assert!(
        resp.status().is_redirection(),
        "expected a redirect, got {}",
        resp.status()
    );
    header(resp, "location").unwrap().to_string()
}

/// The provider's part: GET its authorization URL, return the callback URL it sends back.
pub async fn at_provider(authorize_url: &str) -> String {
    let plain = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let r = plain.get(authorize_url).send().await.unwrap();
    location(&r)
}

impl Oidc {
    pub async fn new(backend: Backend, connection: Value) -> Self {
        let app = TestApp::spawn_with(oidc_options(backend)).await;
        let op = TestOp::start().await;
        let domain = unique_domain();
        let tenant = app.create_tenant(&domain, false).await;
        let email = format!("jane@{domain}");
        app.create_user(tenant["id"].as_str().unwrap(), &email)
            .await;
        let mut body = json!({
            "provider": "okta",
            "issuer": op.issuer,
            "client_id": CLIENT_ID,
            "client_secret": CLIENT_SECRET,
        });
        for (k, v) in connection.as_object().unwrap() {
            body[k] = v.clone();
        }
        let r = app
            .admin(
                Method::PUT,
                &format!("/tenants/{}/oidc", tenant["id"].as_str().unwrap()),
                Some(body),
            )
            .await;
        assert_eq!(r.status(), 200, "{}", r.text().await.unwrap());
        op.sign_in_as(json!({
            "sub": "okta-user-1", "email": email, "email_verified": true,
            "given_name": "Jane", "family_name": "Doe", "groups": ["eng", "oncall"],
        }));
        Self {
            app,
            op,
            tenant,
            domain,
            email,
        }
    }

    pub fn tenant_id(&self) -> &str {
        self.tenant["id"].as_str().unwrap()
    }

    /// `/login/sso` → the provider's authorization URL.
    pub async fn start(&self, browser: &reqwest::Client, return_to: &str) -> String {
        let r = browser
            .get(self.app.url(&format!(
                "/login/sso?domain={}&return_to={return_to}",
                self.domain
            )))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 303, "{}", r.text().await.unwrap());
        let to = location(&r);
        assert!(
            to.starts_with(&format!("{}/authorize?", self.op.base)),
            "{to}"
        );
        to
    }

    /// A whole attempt in `browser`; returns the callback's answer.
    pub async fn attempt_in(&self, browser: &reqwest::Client) -> reqwest::Response {
        let authorize = self.start(browser, "/account").await;
        let callback = at_provider(&authorize).await;
        browser.get(callback).send().await.unwrap()
    }

    pub async fn attempt(&self) -> reqwest::Response {
        self.attempt_in(&self.app.client()).await
    }

    pub async fn events(&self) -> Vec<Value> {
        let r = self
            .app
            .admin(
                Method::GET,
                &format!("/tenants/{}/login-events", self.tenant_id()),
                None,
            )
            .await;
        let body: Value = r.json().await.unwrap();
        body["items"].as_array().unwrap().clone()
    }

    pub async fn stop(self) {
        self.op.stop().await;
        self.app.stop().await;
    }
}

/// A refusal page with a reference, no session, and the precise cause in the login events
/// under that same reference.
pub async fn assert_refused(o: &Oidc, resp: reqwest::Response, cause_part: &str) {
    let status = resp.status();
    assert!(session_cookie(&resp).is_none(), "{cause_part}: no session");
    let page = resp.text().await.unwrap();
    assert!(
        status == 403 || status == 400,
        "{cause_part}: expected a refusal, got {status}: {page}"
    );
    let marker = "Reference: <code>";
    let start = page.find(marker).expect("page shows a reference") + marker.len();
    let reference = &page[start..start + page[start..].find('<').unwrap()];
    let mut events = o.events().await;
    // Attempts that could not be tied to a tenant (an unknown state) are filed under "-".
    let unscoped = gatehouse::audit::login::list(
        o.app.store(),
        gatehouse::audit::login::NO_TENANT,
        gatehouse::audit::Window {
            since: None,
            until: None,
            limit: 50,
        },
        &gatehouse::audit::login::Filter::default(),
    )
    .await
    .unwrap();
    events.extend(
        unscoped
            .into_iter()
            .map(|e| serde_json::to_value(e).unwrap()),
    );
    let event = events
        .iter()
        .find(|e| e["reference"] == reference)
        .unwrap_or_else(|| panic!("{cause_part}: no login event {reference} in {events:?}"));
    assert_eq!(event["outcome"], "refused");
    assert_eq!(event["method"], "oidc");
    let cause = event["cause"].as_str().unwrap();
    assert!(
        cause.contains(cause_part),
        "expected cause containing {cause_part:?}, got {cause:?}"
    );
}

async fn login_lands_signed_in(backend: Backend) {
    let o = Oidc::new(backend, json!({})).await;
    let browser = o.app.client();
    let resp = o.attempt_in(&browser).await;
    assert_eq!(resp.status(), 303, "{}", resp.text().await.unwrap());
    assert_eq!(header(&resp, "location"), Some("/account"));
    let verify = o.app.verify(&browser).await;
    assert_eq!(verify.status(), 200);
    assert_eq!(header(&verify, "x-gatehouse-email"), Some(o.email.as_str()));
    assert_eq!(
        header(&verify, "x-gatehouse-groups"),
        Some("eng,oncall"),
        "groups come from the mapped claim"
    );
    // The authorization request asked for what the flow needs.
    let params = o.op.authorize_params().pop().unwrap();
    assert_eq!(params["response_type"], "code");
    assert_eq!(params["code_challenge_method"], "S256");
    assert_eq!(params["redirect_uri"], o.app.url("/oidc/callback"));
    assert!(
        params["scope"].split(' ').any(|s| s == "groups"),
        "Okta preset scopes"
    );
    assert!(params["state"].len() >= 32 && params["nonce"].len() >= 32);
    // Second login: found through the subject link.
    assert_eq!(o.attempt().await.status(), 303);
    let events = o.events().await;
    assert_eq!(events[0]["outcome"], "succeeded", "{events:?}");
    assert_eq!(events[0]["provider"], "okta");
    assert_eq!(events[0]["method"], "oidc");
    o.stop().await;
}
crate::both_backends!(login_both, super::login_lands_signed_in);

/// T35: the token request carries the PKCE verifier matching the challenge (the stand-in
/// refuses the code otherwise), and the client authenticates with its secret.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn t35_pkce_verifier_is_sent() {
    let o = Oidc::new(Backend::Embedded, json!({})).await;
    assert_eq!(o.attempt().await.status(), 303);
    let reqs = o.op.token_requests();
    assert_eq!(reqs.len(), 1);
    let verifier = reqs[0].code_verifier.clone().expect("code_verifier sent");
    assert!(verifier.len() >= 43, "RFC 7636 verifier length");
    assert!(reqs[0].authorized, "client_secret_basic");
    o.stop().await;
}

/// T35: a `state` works once; a second callback with it is refused.
async fn t35_replayed_state_is_refused(backend: Backend) {
    let o = Oidc::new(backend, json!({})).await;
    let browser = o.app.client();
    let authorize = o.start(&browser, "/").await;
    let callback = at_provider(&authorize).await;
    assert_eq!(browser.get(&callback).send().await.unwrap().status(), 303);
    let again = browser.get(&callback).send().await.unwrap();
    assert_refused(&o, again, "already used").await;
    o.stop().await;
}
crate::both_backends!(replayed_state_both, super::t35_replayed_state_is_refused);

/// T35: the ID token must echo the nonce of this flow.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn t35_wrong_nonce_is_refused() {
    let o = Oidc::new(Backend::Embedded, json!({})).await;
    o.op.next_token(|c, _, _| {
        c.insert("nonce".into(), json!("not-the-nonce"));
    });
    assert_refused(&o, o.attempt().await, "nonce mismatch").await;
    o.op.next_token(|c, _, _| {
        c.remove("nonce");
    });
    assert_refused(&o, o.attempt().await, "nonce").await;
    o.stop().await;
}

/// A callback in another browser than the one that started the flow (login CSRF).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn callback_in_another_browser_is_refused() {
    let o = Oidc::new(Backend::Embedded, json!({})).await;
    let authorize = o.start(&o.app.client(), "/").await;
    let callback = at_provider(&authorize).await;
    let victim = o.app.client();
    assert_refused(
        &o,
        victim.get(callback).send().await.unwrap(),
        "another browser",
    )
    .await;
    o.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn id_token_claim_checks() {
    let o = Oidc::new(Backend::Embedded, json!({})).await;
    let issuer = o.op.issuer.clone();
    o.op.next_token(|c, _, _| {
        c.insert("iss".into(), json!("https://evil.example"));
    });
    assert_refused(
        &o,
        o.attempt().await,
        &format!("issuer mismatch: got \"https://evil.example\", expected \"{issuer}\""),
    )
    .await;
    o.op.next_token(|c, _, _| {
        c.insert("aud".into(), json!("someone-else"));
    });
    assert_refused(&o, o.attempt().await, "audience mismatch").await;
    o.op.next_token(|c, _, _| {
        c.insert("aud".into(), json!([CLIENT_ID, "someone-else"]));
        c.insert("azp".into(), json!(CLIENT_ID));
    });
    assert_refused(&o, o.attempt().await, "not a trusted audience").await;
    o.op.next_token(|c, _, _| {
        c.insert("azp".into(), json!("someone-else"));
    });
    assert_refused(&o, o.attempt().await, "authorized party (azp) mismatch").await;
    o.op.next_token(|c, _, _| {
        let now = time::OffsetDateTime::now_utc().unix_timestamp();
        c.insert("exp".into(), json!(now - 120));
        c.insert("iat".into(), json!(now - 400));
    });
    assert_refused(&o, o.attempt().await, "expired").await;
    // Within the connection's skew (60 s default): still accepted.
    o.op.next_token(|c, _, _| {
        let now = time::OffsetDateTime::now_utc().unix_timestamp();
        c.insert("exp".into(), json!(now - 20));
    });
    assert_eq!(
        o.attempt().await.status(),
        303,
        "expired less than the skew ago"
    );
    o.op.next_token(|c, _, _| {
        let now = time::OffsetDateTime::now_utc().unix_timestamp();
        c.insert("iat".into(), json!(now + 3600));
        c.insert("exp".into(), json!(now + 7200));
    });
    assert_refused(&o, o.attempt().await, "issued in the future").await;
    o.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn t35_alg_none_and_hmac_with_public_key_are_refused() {
    let o = Oidc::new(Backend::Embedded, json!({})).await;
    o.op.next_token(|_, _, s| *s = Signing::None);
    assert_refused(&o, o.attempt().await, "alg=none").await;
    o.op.next_token(|_, _, s| *s = Signing::HmacWithPublicKey);
    assert_refused(&o, o.attempt().await, "not allowed").await;
    // A good signature over a changed payload (tampering) fails too.
    o.op.next_token(|_, _, s| *s = Signing::TamperedPayload);
    assert_refused(&o, o.attempt().await, "signature does not verify").await;
    // An algorithm the published key is not for finds no key.
    o.op.next_token(|_, h, _| {
        h.insert("alg".into(), json!("RS384"));
    });
    assert_refused(&o, o.attempt().await, "algorithm RS384").await;
    o.stop().await;
}

/// Unknown `kid`: the JWKS is fetched again once; a key published since then verifies, a
/// key still unknown is refused.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unknown_kid_refreshes_keys_then_refuses() {
    let o = Oidc::new(Backend::Embedded, json!({})).await;
    assert_eq!(o.attempt().await.status(), 303);
    let fetched = o.op.jwks_fetches();
    // Rotation at the provider: the new key verifies after one refetch.
    let new = o.op.rotate_in_new_key();
    // The refetch is rate-limited (10 s) after the previous fetch: wait it out by moving on
    // only once the limit has passed, bounded.
    tokio::time::sleep(gatehouse::oidc::provider::KEY_REFRESH_MIN_INTERVAL).await;
    o.op.next_token(move |_, _, s| *s = Signing::Published(new));
    assert_eq!(o.attempt().await.status(), 303, "rotated key accepted");
    assert_eq!(
        o.op.jwks_fetches(),
        fetched + 1,
        "one refetch for the unknown kid"
    );
    // A key nobody published: one more refetch is skipped (rate limit) and it is refused.
    o.op.next_token(|_, _, s| *s = Signing::Unpublished);
    assert_refused(&o, o.attempt().await, "even after fetching the keys again").await;
    o.stop().await;
}

/// `email_verified` must be true before an email links to a person.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unverified_email_is_refused() {
    let o = Oidc::new(Backend::Embedded, json!({})).await;
    o.op.next_token(|c, _, _| {
        c.insert("email_verified".into(), json!(false));
    });
    assert_refused(&o, o.attempt().await, "not verified").await;
    o.op.next_token(|c, _, _| {
        c.remove("email_verified");
    });
    assert_refused(&o, o.attempt().await, "not verified").await;
    o.stop().await;
}

/// T34: two `@`, confusable Unicode and foreign domains never reach a person.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn t34_odd_emails_are_refused() {
    let o = Oidc::new(Backend::Embedded, json!({"jit_provisioning": true})).await;
    let d = o.domain.clone();
    o.op.next_token(move |c, _, _| {
        c.insert("email".into(), json!(format!("evil@attacker.test@{d}")));
    });
    assert_refused(&o, o.attempt().await, "more than one @").await;
    let d = o.domain.clone();
    o.op.next_token(move |c, _, _| {
        // Cyrillic "а" in the local part.
        c.insert("email".into(), json!(format!("j\u{430}ne@{d}")));
    });
    assert_refused(&o, o.attempt().await, "plain ASCII").await;
    o.op.next_token(|c, _, _| {
        c.insert("email".into(), json!("jane@not-this-tenant.test"));
    });
    assert_refused(&o, o.attempt().await, "no tenant owns").await;
    o.stop().await;
}

/// T33 nOAuth: once a person is linked to a subject, another subject with the same email
/// does not sign in as them.
async fn t33_same_email_other_subject_is_refused(backend: Backend) {
    let o = Oidc::new(backend, json!({})).await;
    assert_eq!(
        o.attempt().await.status(),
        303,
        "first login links okta-user-1"
    );
    o.op.sign_in_as(json!({
        "sub": "attacker-account", "email": o.email, "email_verified": true,
    }));
    assert_refused(&o, o.attempt().await, "nOAuth").await;
    o.stop().await;
}
crate::both_backends!(noauth_both, super::t33_same_email_other_subject_is_refused);

/// Just-in-time creation when the tenant switched it on, refusal when off; deactivated
/// people are refused even through their link.
async fn jit_and_deactivation(backend: Backend) {
    let o = Oidc::new(backend, json!({"jit_provisioning": true})).await;
    let newbie = format!("newbie@{}", o.domain);
    o.op.sign_in_as(json!({
        "sub": "okta-newbie", "email": newbie, "email_verified": true,
        "given_name": "Nora", "family_name": "Newbie", "groups": ["sales"],
    }));
    let browser = o.app.client();
    assert_eq!(o.attempt_in(&browser).await.status(), 303);
    let verify = o.app.verify(&browser).await;
    assert_eq!(header(&verify, "x-gatehouse-email"), Some(newbie.as_str()));
    assert_eq!(header(&verify, "x-gatehouse-groups"), Some("sales"));

    // Deactivate the person: refused although the subject is linked.
    let users: Value = o
        .app
        .admin(
            Method::GET,
            &format!("/tenants/{}/users", o.tenant_id()),
            None,
        )
        .await
        .json()
        .await
        .unwrap();
    let id = users["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|u| u["email"] == newbie.as_str())
        .unwrap()["id"]
        .as_str()
        .unwrap()
        .to_string();
    let r = o
        .app
        .admin(
            Method::PATCH,
            &format!("/tenants/{}/users/{id}", o.tenant_id()),
            Some(json!({"status": "deactivated"})),
        )
        .await;
    assert_eq!(r.status(), 200);
    assert_refused(&o, o.attempt().await, "deactivated").await;
    o.stop().await;
}
crate::both_backends!(jit_both, super::jit_and_deactivation);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unknown_person_without_jit_is_refused() {
    let o = Oidc::new(Backend::Embedded, json!({})).await;
    o.op.sign_in_as(json!({
        "sub": "okta-2", "email": format!("stranger@{}", o.domain), "email_verified": true,
    }));
    assert_refused(&o, o.attempt().await, "just-in-time creation is off").await;
    o.stop().await;
}

/// The provider said no (the person cancelled): a clear page, and the event says why.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn provider_error_answer_is_explained() {
    let o = Oidc::new(Backend::Embedded, json!({})).await;
    let browser = o.app.client();
    let authorize = o.start(&browser, "/").await;
    let url = url::Url::parse(&authorize).unwrap();
    let state = url
        .query_pairs()
        .find(|(k, _)| k == "state")
        .unwrap()
        .1
        .to_string();
    let resp = browser
        .get(o.app.url(&format!(
            "/oidc/callback?error=access_denied&error_description=User%20cancelled&state={state}"
        )))
        .send()
        .await
        .unwrap();
    assert_refused(&o, resp, "access_denied").await;
    o.stop().await;
}

/// Admin API: the secret is write-only, discovery is checked at save time, and a tenant has
/// one SSO connection kind at a time (409 either way).
async fn admin_api_connection(backend: Backend) {
    let o = Oidc::new(backend, json!({})).await;
    let path = format!("/tenants/{}/oidc", o.tenant_id());
    let r = o.app.admin(Method::GET, &path, None).await;
    assert_eq!(r.status(), 200);
    let text = r.text().await.unwrap();
    assert!(
        !text.contains(CLIENT_SECRET),
        "secret never returned: {text}"
    );
    let body: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(body["redirect_uri"], o.app.url("/oidc/callback"));
    assert_eq!(body["connection"]["client_secret_set"], true);
    assert_eq!(body["connection"]["claims"]["groups"], "groups");

    // Saving again without the secret keeps it (the next login still authenticates).
    let r = o
        .app
        .admin(
            Method::PUT,
            &path,
            Some(json!({"provider": "okta", "issuer": o.op.issuer, "client_id": CLIENT_ID})),
        )
        .await;
    assert_eq!(r.status(), 200);
    assert_eq!(o.attempt().await.status(), 303);

    // A wrong issuer is explained at save time.
    let r = o
        .app
        .admin(
            Method::PUT,
            &path,
            Some(json!({"issuer": format!("{}/elsewhere", o.op.base), "client_id": CLIENT_ID, "client_secret": "x"})),
        )
        .await;
    assert_eq!(r.status(), 400);
    let err: Value = r.json().await.unwrap();
    assert_eq!(err["error"]["field"], "issuer");
    let r = o
        .app
        .admin(
            Method::PUT,
            &path,
            Some(json!({"issuer": "http://127.0.0.1:1", "client_id": CLIENT_ID, "client_secret": "x"})),
        )
        .await;
    assert_eq!(r.status(), 400, "unreachable provider");
    let err: Value = r.json().await.unwrap();
    assert!(
        err["error"]["message"]
            .as_str()
            .unwrap()
            .contains("connection failed"),
        "{err}"
    );

    // One SSO connection kind per tenant.
    let saml = o
        .app
        .admin(
            Method::PUT,
            &format!("/tenants/{}/saml", o.tenant_id()),
            Some(json!({"idp_entity_id": "x", "idp_sso_url": "https://idp.example/sso", "certificate": "x"})),
        )
        .await;
    assert_eq!(saml.status(), 409);
    assert_eq!(o.app.admin(Method::DELETE, &path, None).await.status(), 204);
    assert_eq!(o.app.admin(Method::DELETE, &path, None).await.status(), 404);
    // And the other way round: with a SAML connection, OIDC cannot be saved.
    let idp = crate::saml_idp::TestIdp::new("https://idp.example.test/metadata");
    let saml = o
        .app
        .admin(
            Method::PUT,
            &format!("/tenants/{}/saml", o.tenant_id()),
            Some(json!({"idp_entity_id": idp.entity_id, "idp_sso_url": idp.sso_url, "certificate": idp.cert_pem})),
        )
        .await;
    assert_eq!(saml.status(), 200);
    let r = o
        .app
        .admin(
            Method::PUT,
            &path,
            Some(json!({"issuer": o.op.issuer, "client_id": CLIENT_ID, "client_secret": CLIENT_SECRET})),
        )
        .await;
    assert_eq!(r.status(), 409);
    o.stop().await;
}

/// The provider goes away between the redirect and the token exchange: a clear page that
/// says so (502), and the event names the endpoint that could not be reached.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unreachable_token_endpoint_is_explained() {
    let o = Oidc::new(Backend::Embedded, json!({})).await;
    let browser = o.app.client();
    let authorize = o.start(&browser, "/").await;
    let callback = at_provider(&authorize).await;
    let Oidc {
        app, op, tenant, ..
    } = o;
    op.stop().await;
    let resp = browser.get(callback).send().await.unwrap();
    assert_eq!(resp.status(), 502);
    let page = resp.text().await.unwrap();
    assert!(
        page.contains("Your identity provider did not answer"),
        "{page}"
    );
    let events: Value = app
        .admin(
            Method::GET,
            &format!("/tenants/{}/login-events", tenant["id"].as_str().unwrap()),
            None,
        )
        .await
        .json()
        .await
        .unwrap();
    let cause = events["items"][0]["cause"].as_str().unwrap();
    assert!(cause.contains("could not be reached"), "{cause}");
    app.stop().await;
}
crate::both_backends!(admin_api_both, super::admin_api_connection);
