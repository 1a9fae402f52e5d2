//! The periodic refresh of SAML connections imported from a metadata URL, against an IdP
//! metadata document served over HTTP on loopback: a certificate rollover is applied and
//! logged, and the IdP's new key then signs (xmlsec1) a response the ACS accepts; broken or
//! unreachable documents change nothing and are logged once per streak; two instances on
//! one Redis fetch once per interval; the console's button and the API need CSRF and auth.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use gatehouse::saml::metadata_refresh::{self, Outcome};
use reqwest::Method;
use serde_json::{json, Value};

use crate::common::{csrf_from, session_cookie, unique_domain, Backend, Options, TestApp};
use crate::console::Console;
use crate::saml_acs::{assert_refused, Saml};
use crate::saml_idp::TestIdp;

const ENTITY: &str = "https://idp.rollover.example/entity";

/// What the IdP's metadata endpoint does when asked.
#[derive(Clone)]
enum Serve {
    Document(String),
    /// HTTP 503, as during the IdP's maintenance.
    Unavailable,
    /// Closes the connection without answering.
    HangUp,
}

/// The IdP's metadata URL on loopback: answers as the test says and counts fetches.
#[derive(Clone)]
struct MetadataHost {
    url: String,
    serve: Arc<Mutex<Serve>>,
    fetches: Arc<AtomicUsize>,
}

impl MetadataHost {
    async fn start(first: Serve) -> Self {
        use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let host = Self {
            url: format!("http://{}/idp/metadata", listener.local_addr().unwrap()),
            serve: Arc::new(Mutex::new(first)),
            fetches: Arc::new(AtomicUsize::new(0)),
        };
        let shared = host.clone();
        tokio::spawn(async move {
            while let Ok((socket, _)) = listener.accept().await {
                let host = shared.clone();
                tokio::spawn(async move {
                    let mut socket = BufReader::new(socket);
                    // The request head ends with an empty line; its content does not matter.
                    let mut line = String::new();
                    while socket.read_line(&mut line).await.unwrap_or(0) > 0 && line != "\r\n" {
                        line.clear();
                    }
                    host.fetches.fetch_add(1, Ordering::SeqCst);
                    let answer = host.serve.lock().unwrap().clone();
                    let (status, body) = match answer {
                        Serve::Document(xml) => ("200 OK", xml),
                        Serve::Unavailable => ("503 Service Unavailable", String::new()),
                        Serve::HangUp => return,
                    };
                    let reply = format!(
                        "HTTP/1.1 {status}\r\nContent-Type: application/samlmetadata+xml\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                        body.len()
                    );
                    let _ = socket.get_mut().write_all(reply.as_bytes()).await;
                });
            }
        });
        host
    }

    fn set(&self, serve: Serve) {
        *self.serve.lock().unwrap() = serve;
    }

    fn fetches(&self) -> usize {
        self.fetches.load(Ordering::SeqCst)
    }
}

/// The certificate's base64 DER, as metadata carries it.
fn der_base64(idp: &TestIdp) -> String {
    idp.cert_pem
        .lines()
        .filter(|l| !l.starts_with("-----"))
        .collect()
}

/// IdP metadata with one signing KeyDescriptor per IdP key (none for `&[]`).
fn metadata(sso_url: &str, signers: &[&TestIdp]) -> String {
    let keys: String = signers
        .iter()
        .map(|idp| format!(r#"<md:KeyDescriptor use="signing"><ds:KeyInfo xmlns:ds="http://www.w3.org/2000/09/xmldsig#"><ds:X509Data><ds:X509Certificate>{}</ds:X509Certificate></ds:X509Data></ds:KeyInfo></md:KeyDescriptor>"#, der_base64(idp)))
        .collect();
    format!(
        r#"<?xml version="1.0"?><md:EntityDescriptor xmlns:md="urn:oasis:names:tc:SAML:2.0:metadata" entityID="{ENTITY}"><md:IDPSSODescriptor protocolSupportEnumeration="urn:oasis:names:tc:SAML:2.0:protocol">{keys}<md:SingleSignOnService Binding="urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Redirect" Location="{sso_url}"/></md:IDPSSODescriptor></md:EntityDescriptor>"#
    )
}

/// Loopback metadata allowed (test peers), the periodic refresh off: the tests call it.
fn options(backend: Backend) -> Options {
    let mut options = Options::new(backend);
    options.outbound_allow_loopback = true;
    options.configure = Some(Arc::new(|raw| {
        raw.saml_metadata_refresh_interval_secs = 0;
    }));
    options
}

/// A tenant whose SAML connection was imported from `host`, served with `old`'s key, plus
/// a person who may sign in.
async fn imported(app: TestApp, host: &MetadataHost, old: TestIdp) -> Saml {
    let domain = unique_domain();
    let tenant = app.create_tenant(&domain, false).await;
    let email = format!("jane@{domain}");
    app.create_user(tenant["id"].as_str().unwrap(), &email)
        .await;
    host.set(Serve::Document(metadata(&old.sso_url, &[&old])));
    let r = app
        .admin(
            Method::PUT,
            &format!("/tenants/{}/saml", tenant["id"].as_str().unwrap()),
            Some(json!({"provider": "custom", "metadata_url": host.url, "clock_skew_secs": 60,
                        "attributes": {"email": null, "first_name": "given", "last_name": "family", "groups": "roles"}})),
        )
        .await;
    assert_eq!(r.status(), 200, "{}", r.text().await.unwrap());
    Saml {
        app,
        idp: old,
        tenant,
        domain,
        email,
    }
}

impl Saml {
    fn tid(&self) -> &str {
        self.tenant["id"].as_str().unwrap()
    }

    async fn refresh(&self) -> Outcome {
        let state = &self.app.state;
        metadata_refresh::refresh_one(
            &*state.store,
            &*state.clock,
            state.config.outbound,
            self.tid(),
        )
        .await
        .unwrap()
    }

    async fn settings(&self) -> Value {
        let r = self
            .app
            .admin(Method::GET, &format!("/tenants/{}/saml", self.tid()), None)
            .await;
        assert_eq!(r.status(), 200);
        r.json().await.unwrap()
    }

    /// Configuration log entries made by the refresh, newest first.
    async fn refresh_entries(&self) -> Vec<Value> {
        let r = self
            .app
            .admin(
                Method::GET,
                &format!("/tenants/{}/changes?area=saml", self.tid()),
                None,
            )
            .await;
        assert_eq!(r.status(), 200);
        let body: Value = r.json().await.unwrap();
        body["items"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|e| e["by"] == json!({"kind": "gateway", "task": "metadata refresh"}))
            .cloned()
            .collect()
    }

    /// A full SP-initiated sign-in whose response `signer` signs with xmlsec1.
    async fn sign_in_signed_by(&self, signer: &TestIdp) -> reqwest::Response {
        let browser = self.app.client();
        let (id, relay) = self.start(&browser, "/").await;
        let encoded = signer.response(&self.resp(Some(&id)));
        self.post(&browser, &encoded, &relay).await
    }
}

fn fingerprints(settings: &Value) -> Vec<String> {
    settings["connection"]["certificates"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["sha256_fingerprint"].as_str().unwrap().to_owned())
        .collect()
}

async fn a_rollover_is_applied_logged_and_signs(backend: Backend) {
    let host = MetadataHost::start(Serve::Unavailable).await;
    let old = TestIdp::new(ENTITY);
    let new = TestIdp::new(ENTITY);
    let s = imported(TestApp::spawn_with(options(backend)).await, &host, old).await;
    let before = s.settings().await;
    let [old_fp] = fingerprints(&before).try_into().unwrap();
    assert_eq!(before["connection"]["idp_entity_id"], ENTITY);

    // The IdP's new key is not trusted yet.
    assert_refused(
        s.sign_in_signed_by(&new).await,
        "new key before the refresh",
    )
    .await;

    // Rollover, step 1: the IdP publishes the new certificate next to the old one.
    host.set(Serve::Document(metadata(&s.idp.sso_url, &[&s.idp, &new])));
    let Outcome::Changed { details } = s.refresh().await else {
        panic!("a new certificate is a change")
    };
    let after = s.settings().await;
    let fps = fingerprints(&after);
    assert_eq!(fps.len(), 2);
    let new_fp = fps.iter().find(|f| **f != old_fp).unwrap().clone();
    assert_eq!(details, [format!("certificate added: SHA-256 {new_fp}")]);
    // Everything the tenant chose is kept.
    let (b, a) = (&before["connection"], &after["connection"]);
    for field in [
        "attributes",
        "clock_skew_secs",
        "jit_provisioning",
        "provider",
        "metadata_url",
    ] {
        assert_eq!(a[field], b[field], "{field}");
    }
    assert_eq!(a["clock_skew_secs"], 60);
    assert!(
        after["metadata_refresh"]["last_success_at"].is_string(),
        "{after}"
    );
    assert!(after["metadata_refresh"]["last_error"].is_null());

    let logged = s.refresh_entries().await;
    assert_eq!(logged.len(), 1, "{logged:?}");
    assert_eq!(logged[0]["applied"], true);
    assert_eq!(
        logged[0]["summary"],
        "SAML connection updated from the IdP's metadata URL"
    );
    assert!(logged[0]["details"]
        .as_array()
        .unwrap()
        .contains(&json!(format!("certificate added: SHA-256 {new_fp}"))));

    // Both keys sign in now: the new one through the real ACS.
    let r = s.sign_in_signed_by(&new).await;
    assert_eq!(r.status(), 303, "{}", r.text().await.unwrap_or_default());
    let browser_ok = s.sign_in_signed_by(&s.idp).await;
    assert_eq!(browser_ok.status(), 303);
    assert!(session_cookie(&browser_ok).is_some());

    // Nothing new: no log entry, the time of the refresh is remembered.
    assert_eq!(s.refresh().await, Outcome::Unchanged);
    assert_eq!(s.refresh_entries().await.len(), 1);
    let again = s.settings().await;
    assert!(
        again["metadata_refresh"]["last_success_at"].as_str()
            >= after["metadata_refresh"]["last_success_at"].as_str()
    );

    // Step 2: the old certificate is withdrawn, and stops working here too.
    host.set(Serve::Document(metadata(&s.idp.sso_url, &[&new])));
    let Outcome::Changed { details } = s.refresh().await else {
        panic!("a withdrawn certificate is a change")
    };
    assert_eq!(details, [format!("certificate removed: SHA-256 {old_fp}")]);
    assert_eq!(fingerprints(&s.settings().await), [new_fp]);
    assert_refused(s.sign_in_signed_by(&s.idp).await, "withdrawn key").await;
    assert_eq!(s.sign_in_signed_by(&new).await.status(), 303);
    assert_eq!(s.refresh_entries().await.len(), 2);
    s.stop().await;
}
crate::both_backends!(rollover, super::a_rollover_is_applied_logged_and_signs);

async fn refused_documents_change_nothing_and_are_logged_once(backend: Backend) {
    let host = MetadataHost::start(Serve::Unavailable).await;
    let s = imported(
        TestApp::spawn_with(options(backend)).await,
        &host,
        TestIdp::new(ENTITY),
    )
    .await;
    let working = s.settings().await["connection"].clone();

    // T02: metadata without a signing certificate is never taken (samael would then
    // check no signature at all); nor an unreachable URL, an error page, a hang-up.
    let no_key = metadata(&s.idp.sso_url, &[]);
    let cases = [
        (Serve::Document(no_key), "use=\"signing\""),
        (Serve::Unavailable, "HTTP 503"),
        (Serve::HangUp, "could not be fetched"),
        (
            Serve::Document("<html>down for maintenance</html>".into()),
            "could not be read",
        ),
    ];
    for (i, (serve, says)) in cases.into_iter().enumerate() {
        host.set(serve);
        let Outcome::Failed { reason, recorded } = s.refresh().await else {
            panic!("{says}: the document must be refused")
        };
        assert!(reason.contains(says), "{says}: {reason}");
        assert_eq!(recorded, i == 0, "{says}: only the first failure is logged");
        let now = s.settings().await;
        assert_eq!(
            now["connection"], working,
            "{says}: the connection is untouched"
        );
        assert_eq!(now["metadata_refresh"]["last_error"], reason.as_str());
    }
    let logged = s.refresh_entries().await;
    assert_eq!(logged.len(), 1, "one entry per failure streak: {logged:?}");
    assert_eq!(logged[0]["applied"], false);
    assert!(logged[0]["details"][0]
        .as_str()
        .unwrap()
        .contains("use=\"signing\""));
    // The working certificate still signs people in.
    assert_eq!(s.sign_in_signed_by(&s.idp).await.status(), 303);

    // The console says so, on the SAML page and the overview.
    let console = s
        .app
        .signed_in(s.tid(), &format!("it@{}", s.domain), "tenant_admin")
        .await;
    for page in ["/saml", ""] {
        let (_, html) = s
            .app
            .page(&console, &format!("/admin/tenants/{}{page}", s.tid()))
            .await;
        assert!(html.contains("Last refresh failed at"), "{page}");
        assert!(
            html.contains("the IdP metadata could not be read"),
            "{page}"
        );
    }

    // The URL works again: the streak ends; the next failure is a new one.
    host.set(Serve::Document(metadata(&s.idp.sso_url, &[&s.idp])));
    assert_eq!(s.refresh().await, Outcome::Unchanged);
    assert!(s.settings().await["metadata_refresh"]["last_error"].is_null());
    host.set(Serve::Unavailable);
    assert!(matches!(
        s.refresh().await,
        Outcome::Failed { recorded: true, .. }
    ));
    assert_eq!(s.refresh_entries().await.len(), 2);
    s.stop().await;
}
crate::both_backends!(
    refused_documents,
    super::refused_documents_change_nothing_and_are_logged_once
);

/// With several instances on one store, one of them refreshes a connection per interval.
async fn one_instance_refreshes_per_interval(backend: Backend) {
    let host = MetadataHost::start(Serve::Unavailable).await;
    let new = TestIdp::new(ENTITY);
    let s = imported(
        TestApp::spawn_with(options(backend)).await,
        &host,
        TestIdp::new(ENTITY),
    )
    .await;
    let sibling = match backend {
        Backend::Redis => Some(s.app.sibling().await),
        Backend::Embedded => None,
    };
    host.set(Serve::Document(metadata(&s.idp.sso_url, &[&s.idp, &new])));
    let fetched_at_save = host.fetches();
    let hour = Duration::from_secs(3600);
    let pass = |app: &TestApp| {
        let state = app.state.clone();
        async move {
            metadata_refresh::refresh_due(&*state.store, &*state.clock, state.config.outbound, hour)
                .await
                .unwrap()
        }
    };
    let instances: Vec<&TestApp> = std::iter::once(&s.app).chain(sibling.as_ref()).collect();
    let passes = futures_util::future::join_all(instances.iter().map(|a| pass(a))).await;
    let done: Vec<_> = passes.into_iter().flatten().collect();
    assert_eq!(done.len(), 1, "one refresh in all: {done:?}");
    assert_eq!(done[0].0, s.tid());
    assert!(matches!(done[0].1, Outcome::Changed { .. }));
    assert_eq!(host.fetches(), fetched_at_save + 1, "fetched once");
    assert_eq!(s.refresh_entries().await.len(), 1, "logged once");

    // Within the interval nobody fetches again, on any instance.
    for app in &instances {
        assert!(pass(app).await.is_empty());
    }
    assert_eq!(host.fetches(), fetched_at_save + 1);

    // A connection saved by an older version (before the index) is indexed at start.
    let index = gatehouse::store::keys::saml_metadata_urls();
    s.app.store().index_remove(index, s.tid()).await.unwrap();
    assert_eq!(
        metadata_refresh::index_existing(s.app.store())
            .await
            .unwrap(),
        1
    );

    // A deleted tenant leaves the walk once its lease is gone.
    assert_eq!(s.app.store().index_len(index).await.unwrap(), 1);
    let r = s
        .app
        .admin(Method::DELETE, &format!("/tenants/{}", s.tid()), None)
        .await;
    assert!(r.status().is_success(), "{}", r.status());
    let lease = gatehouse::store::keys::saml_metadata_lease(s.tid());
    s.app.store().delete(&lease).await.unwrap();
    assert!(pass(&s.app).await.is_empty());
    assert_eq!(s.app.store().index_len(index).await.unwrap(), 0);
    assert_eq!(
        host.fetches(),
        fetched_at_save + 1,
        "nothing fetched for it"
    );
    if let Some(sibling) = sibling {
        sibling.stop().await;
    }
    s.stop().await;
}
crate::both_backends!(
    one_instance_per_interval,
    super::one_instance_refreshes_per_interval
);

/// `POST /api/v1/tenants/{tid}/saml/metadata-refresh` with the admin token.
async fn api_refresh(app: &TestApp, tid: &str) -> reqwest::Response {
    app.admin(
        Method::POST,
        &format!("/tenants/{tid}/saml/metadata-refresh"),
        None,
    )
    .await
}

/// "Refresh from the metadata URL now" in the console and its API twin: CSRF, sign-in
/// and the admin token are required; another tenant's admin gets a 404.
async fn refresh_now_needs_csrf_and_auth(backend: Backend) {
    let host = MetadataHost::start(Serve::Unavailable).await;
    let c = Console::with_options(options(backend)).await;
    let tid = c.tid().to_owned();
    host.set(Serve::Document(metadata(&c.idp.sso_url, &[&c.idp])));
    let (_, page) = c.page(&format!("/admin/tenants/{tid}/saml")).await;
    assert!(
        !page.contains("Refresh from the metadata URL now"),
        "no button without a metadata URL"
    );
    let r = api_refresh(&c.app, &tid).await;
    assert_eq!(r.status(), 404, "no SAML connection yet");
    let r = c
        .app
        .admin(
            Method::PUT,
            &format!("/tenants/{tid}/saml"),
            Some(json!({"provider": "custom", "metadata_url": host.url})),
        )
        .await;
    assert_eq!(r.status(), 200);
    let path = format!("/admin/tenants/{tid}/saml/metadata-refresh");
    let (_, page) = c.page(&format!("/admin/tenants/{tid}/saml")).await;
    assert!(page.contains("Refresh from the metadata URL now"));
    assert!(page.contains(&host.url));
    assert!(page.contains("Not refreshed since the settings were saved."));
    let fetched = host.fetches();

    // No CSRF token, a wrong one, no sign-in: nothing is fetched.
    let r = c.admin.post(c.app.url(&path)).send().await.unwrap();
    assert!(r.status().is_client_error(), "{}", r.status());
    let r = c
        .admin
        .post(c.app.url(&path))
        .form(&[("csrf_token", "x".repeat(43))])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 403);
    let r = c
        .app
        .client()
        .post(c.app.url(&path))
        .form(&[("csrf_token", csrf_from(&page))])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 303);
    assert!(r.headers()["location"]
        .to_str()
        .unwrap()
        .starts_with("/login?"));
    let r = c
        .app
        .client()
        .post(
            c.app
                .url(&format!("/api/v1/tenants/{tid}/saml/metadata-refresh")),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
    assert_eq!(host.fetches(), fetched, "refused requests fetch nothing");

    // Another tenant's admin cannot refresh this one.
    let domain = unique_domain();
    let other = c.app.create_tenant(&domain, false).await;
    let other_id = other["id"].as_str().unwrap();
    let stranger = c
        .app
        .signed_in(other_id, &format!("it@{domain}"), "tenant_admin")
        .await;
    let (_, own_page) = c
        .app
        .page(&stranger, &format!("/admin/tenants/{other_id}"))
        .await;
    let r = stranger
        .post(c.app.url(&path))
        .form(&[("csrf_token", csrf_from(&own_page))])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 404);
    assert_eq!(host.fetches(), fetched);

    // The admin's button: the rollover is applied and said so.
    let new = TestIdp::new(&c.idp.entity_id);
    host.set(Serve::Document(metadata(&c.idp.sso_url, &[&c.idp, &new])));
    let r = c.post(&path, &[]).await;
    assert_eq!(r.status(), 303);
    let to = r.headers()["location"].to_str().unwrap().to_owned();
    assert_eq!(
        to,
        format!("/admin/tenants/{tid}/saml?notice=metadata_changed")
    );
    let (_, page) = c.page(&to).await;
    assert!(page.contains("the new values were applied"));
    assert!(page.contains("Last refreshed at"));
    assert_eq!(
        page.matches("SHA-256 ").count(),
        2,
        "both certificates listed"
    );
    assert_eq!(host.fetches(), fetched + 1);

    // The API: the same refresh, its outcome and the status.
    let r = api_refresh(&c.app, &tid).await;
    assert_eq!(r.status(), 200);
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["outcome"], json!({"result": "unchanged"}));
    assert!(body["status"]["last_success_at"].is_string());
    host.set(Serve::Unavailable);
    let body: Value = api_refresh(&c.app, &tid).await.json().await.unwrap();
    assert_eq!(body["outcome"]["result"], "failed");
    assert_eq!(body["outcome"]["recorded"], true);
    assert!(body["status"]["last_error"]
        .as_str()
        .unwrap()
        .contains("HTTP 503"));
    let r = c.post(&path, &[]).await;
    assert_eq!(
        r.headers()["location"].to_str().unwrap(),
        format!("/admin/tenants/{tid}/saml?notice=metadata_failed")
    );

    // Saved again without a metadata URL: nothing left to refresh.
    let r = c.save_saml(&c.idp.cert_pem).await;
    assert_eq!(r.status(), 303);
    let r = api_refresh(&c.app, &tid).await;
    assert_eq!(r.status(), 409);
    c.app.stop().await;
}
crate::both_backends!(refresh_now, super::refresh_now_needs_csrf_and_auth);
