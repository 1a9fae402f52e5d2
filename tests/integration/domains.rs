//! Domains and their ownership proof, against a real DNS server: Debian's dnsmasq on a free
//! loopback port, restarted with new records to play "the record is published now" and
//! killed to play "the resolver is down". The gateway under test asks only that server.
//!
//! A pending domain routes nowhere and admits nobody (login, SCIM, JIT); each wrong record
//! gets its precise message; the right one verifies it, and from then on it routes to the
//! tenant and SSO-only holds for its people. Negative tests for who may skip the proof,
//! who reaches the page, CSRF and the recent sign-in.

use std::net::{SocketAddr, TcpListener, UdpSocket};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::Duration;

use reqwest::Method;
use serde_json::{json, Value};

use crate::common::{csrf_from, header, unique_domain, Backend, Options, TestApp, PASSWORD};
use crate::saml_acs::assert_refused;
use crate::saml_idp::TestIdp;

const CHALLENGE: &str = "_gatehouse-challenge";
const PREFIX: &str = "gatehouse-domain-verification=";

/// What the DNS server answers.
#[derive(Default, Clone)]
struct Zone {
    /// (name, value) TXT records.
    txt: Vec<(String, String)>,
    /// Names that exist with an A record only.
    hosts: Vec<String>,
}

impl Zone {
    fn txt(mut self, name: &str, value: &str) -> Self {
        self.txt.push((name.to_owned(), value.to_owned()));
        self
    }

    fn host(mut self, name: &str) -> Self {
        self.hosts.push(name.to_owned());
        self
    }
}

/// dnsmasq answering for `*.test` from the given zone only (NXDOMAIN for anything else under
/// `.test`), on its own UDP+TCP port of 127.0.0.1.
struct DnsServer {
    port: u16,
    child: Option<Child>,
}

fn dnsmasq_binary() -> &'static str {
    if std::path::Path::new("/usr/sbin/dnsmasq").exists() {
        "/usr/sbin/dnsmasq"
    } else {
        "dnsmasq"
    }
}

/// A port free on 127.0.0.1 for both UDP and TCP a moment ago.
fn free_port() -> u16 {
    for _ in 0..50 {
        let udp = UdpSocket::bind("127.0.0.1:0").unwrap();
        let port = udp.local_addr().unwrap().port();
        if TcpListener::bind(("127.0.0.1", port)).is_ok() {
            return port;
        }
    }
    panic!("no free port for the DNS server");
}

/// A DNS query for `name` (type A), as bytes.
fn query(name: &str) -> Vec<u8> {
    let mut q = vec![0x12, 0x34, 0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0];
    for label in name.split('.') {
        q.push(label.len() as u8);
        q.extend_from_slice(label.as_bytes());
    }
    q.extend_from_slice(&[0, 0, 1, 0, 1]);
    q
}

impl DnsServer {
    fn start(zone: &Zone) -> Self {
        let mut s = Self {
            port: free_port(),
            child: None,
        };
        s.run(zone);
        s
    }

    fn addr(&self) -> SocketAddr {
        SocketAddr::from(([127, 0, 0, 1], self.port))
    }

    fn run(&mut self, zone: &Zone) {
        let mut cmd = Command::new(dnsmasq_binary());
        cmd.args([
            "--keep-in-foreground",
            "--conf-file=/dev/null",
            "--no-resolv",
            "--no-hosts",
            "--no-poll",
            "--listen-address=127.0.0.1",
            "--bind-interfaces",
            "--pid-file=",
            "--local=/test/",
            "--cache-size=0",
        ])
        .arg(format!("--port={}", self.port));
        // dnsmasq started as root drops to "nobody" unless told otherwise; the sockets are
        // bound before that, so staying root changes nothing but avoids depending on the user.
        if std::env::var("USER").as_deref() == Ok("root") || is_root() {
            cmd.args(["--user=root", "--group=root"]);
        }
        for (name, value) in &zone.txt {
            cmd.arg(format!("--txt-record={name},{value}"));
        }
        for name in &zone.hosts {
            cmd.arg(format!("--host-record={name},127.0.0.9"));
        }
        let child = cmd
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("dnsmasq runs (package dnsmasq-base)");
        self.child = Some(child);
        self.wait_until_answering();
    }

    /// Polls with a real query until dnsmasq answers; bounded, no fixed sleep.
    fn wait_until_answering(&mut self) {
        let probe = UdpSocket::bind("127.0.0.1:0").unwrap();
        probe
            .set_read_timeout(Some(Duration::from_millis(50)))
            .unwrap();
        let mut buf = [0u8; 512];
        for _ in 0..200 {
            if let Some(child) = self.child.as_mut() {
                if let Some(status) = child.try_wait().unwrap() {
                    panic!("dnsmasq exited at start: {status}");
                }
            }
            let _ = probe.send_to(&query("probe.test"), self.addr());
            if probe.recv_from(&mut buf).is_ok() {
                return;
            }
        }
        panic!("dnsmasq on port {} never answered", self.port);
    }

    /// Stops the server (the resolver is then unreachable).
    fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Serves `zone` from now on, on the same port.
    fn publish(&mut self, zone: &Zone) {
        self.stop();
        self.run(zone);
    }
}

fn is_root() -> bool {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("Uid:"))
                .map(|l| l.split_whitespace().nth(1) == Some("0"))
        })
        .unwrap_or(false)
}

impl Drop for DnsServer {
    fn drop(&mut self) {
        self.stop();
    }
}

/// A gateway that asks `dns` only (1 s timeout), with a tenant (SAML with JIT, optionally
/// SSO-only) and its tenant admin, signed in before SSO-only was switched on.
struct Setup {
    app: TestApp,
    dns: DnsServer,
    tenant: Value,
    primary: String,
    admin_email: String,
    admin: reqwest::Client,
    idp: TestIdp,
}

async fn setup(backend: Backend, sso_only: bool) -> Setup {
    let dns = DnsServer::start(&Zone::default());
    let mut options = Options::new(backend);
    let addr = dns.addr().to_string();
    options.configure = Some(Arc::new(move |raw| {
        raw.dns.nameservers = vec![addr.clone()];
        raw.dns.timeout_secs = 1;
    }));
    let app = TestApp::spawn_with(options).await;
    let primary = unique_domain();
    let tenant = app.create_tenant(&primary, false).await;
    let tid = tenant["id"].as_str().unwrap().to_owned();
    let idp = TestIdp::new("https://idp.domains.example/metadata");
    let r = app
        .admin(
            Method::PUT,
            &format!("/tenants/{tid}/saml"),
            Some(json!({
                "provider": "custom",
                "idp_entity_id": idp.entity_id,
                "idp_sso_url": idp.sso_url,
                "certificate": idp.cert_pem,
                "jit_provisioning": true,
            })),
        )
        .await;
    assert_eq!(r.status(), 200, "{}", r.text().await.unwrap());
    let admin_email = format!("it@{primary}");
    let r = app
        .admin(
            Method::POST,
            &format!("/tenants/{tid}/users"),
            Some(json!({"email": admin_email, "password": PASSWORD, "role": "tenant_admin"})),
        )
        .await;
    assert_eq!(r.status(), 201);
    let admin = app.client();
    let r = app
        .password_login(&admin, &admin_email, PASSWORD, "/admin")
        .await;
    assert_eq!(r.status(), 303);
    // SSO-only, switched on after the admin's password sign-in (which it would refuse).
    if sso_only {
        gatehouse::tenant::repo::update(
            app.store(),
            &gatehouse::clock::SystemClock,
            &tid,
            gatehouse::tenant::repo::TenantUpdate {
                sso_only: Some(true),
                ..Default::default()
            },
            &gatehouse::audit::changes::ChangedBy::AdminApi,
        )
        .await
        .unwrap();
    }
    Setup {
        app,
        dns,
        tenant,
        primary,
        admin_email,
        admin,
        idp,
    }
}

impl Setup {
    fn tid(&self) -> &str {
        self.tenant["id"].as_str().unwrap()
    }

    fn page_path(&self) -> String {
        format!("/admin/tenants/{}/domains", self.tid())
    }

    async fn page(&self) -> (u16, String) {
        let r = self
            .admin
            .get(self.app.url(&self.page_path()))
            .send()
            .await
            .unwrap();
        (r.status().as_u16(), r.text().await.unwrap())
    }

    /// Posts a console form with the page's CSRF token.
    async fn post(&self, path: &str, fields: &[(&str, &str)]) -> reqwest::Response {
        post_as(&self.app, &self.admin, &self.page_path(), path, fields).await
    }

    /// "Check now"; returns the page it leads to.
    async fn check_now(&self, domain: &str) -> String {
        let r = self
            .post(&format!("{}/{domain}/check", self.page_path()), &[])
            .await;
        assert_eq!(r.status(), 303, "a check ends back on the page");
        let back = header(&r, "location").unwrap().to_owned();
        let r = self.admin.get(self.app.url(&back)).send().await.unwrap();
        assert_eq!(r.status(), 200);
        r.text().await.unwrap()
    }

    async fn tenant_now(&self) -> gatehouse::tenant::Tenant {
        gatehouse::tenant::repo::require(self.app.store(), self.tid())
            .await
            .unwrap()
    }

    async fn token_of(&self, domain: &str) -> String {
        self.tenant_now()
            .await
            .pending(domain)
            .unwrap_or_else(|| panic!("{domain} is pending"))
            .token
            .clone()
    }

    /// A SAML attempt for `email`, started at the primary domain.
    async fn saml_attempt(&self, email: &str) -> reqwest::Response {
        let s = SamlView {
            app: &self.app,
            idp: &self.idp,
            domain: &self.primary,
        };
        s.attempt(email).await
    }

    async fn stop(self) {
        let Setup { app, mut dns, .. } = self;
        dns.stop();
        app.stop().await;
    }
}

/// The SP-initiated flow of `saml_acs::Saml`, over borrowed parts.
struct SamlView<'a> {
    app: &'a TestApp,
    idp: &'a TestIdp,
    domain: &'a str,
}

impl SamlView<'_> {
    async fn attempt(&self, email: &str) -> reqwest::Response {
        let browser = self.app.client();
        let r = browser
            .get(self.app.url(&format!("/login/sso?domain={}", self.domain)))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 303);
        let location = url::Url::parse(header(&r, "location").unwrap()).unwrap();
        let q: std::collections::HashMap<String, String> =
            location.query_pairs().into_owned().collect();
        let id = saml_request_id(&q["SAMLRequest"]);
        let acs = self.app.url(&format!("/saml/acs/{}", self.domain));
        let entity = self.app.url(&format!("/saml/metadata/{}", self.domain));
        let resp = crate::saml_idp::Resp::new(&acs, &entity, Some(&id), email);
        browser
            .post(&acs)
            .form(&[
                ("SAMLResponse", self.idp.response(&resp).as_str()),
                ("RelayState", q["RelayState"].as_str()),
            ])
            .send()
            .await
            .unwrap()
    }
}

fn saml_request_id(encoded: &str) -> String {
    use std::io::Read;

    use base64::Engine;
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

/// Posts a console form with a CSRF token read from `page` by the same client.
async fn post_as(
    app: &TestApp,
    client: &reqwest::Client,
    page: &str,
    path: &str,
    fields: &[(&str, &str)],
) -> reqwest::Response {
    let html = client
        .get(app.url(page))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let csrf = csrf_from(&html);
    let mut form: Vec<(&str, &str)> = vec![("csrf_token", &csrf)];
    form.extend_from_slice(fields);
    client.post(app.url(path)).form(&form).send().await.unwrap()
}

async fn sso_route(app: &TestApp, domain: &str) -> (u16, String) {
    let r = app
        .client()
        .get(app.url(&format!("/login/sso?domain={domain}")))
        .send()
        .await
        .unwrap();
    let status = r.status().as_u16();
    let location = header(&r, "location").unwrap_or("").to_owned();
    (status, location)
}

async fn password_attempt(app: &TestApp, email: &str) -> (u16, String) {
    let r = app
        .password_login(&app.client(), email, PASSWORD, "/")
        .await;
    (r.status().as_u16(), r.text().await.unwrap())
}

async fn scim_create(app: &TestApp, token: &str, email: &str) -> u16 {
    reqwest::Client::new()
        .post(app.url("/scim/v2/Users"))
        .bearer_auth(token)
        .header("content-type", "application/scim+json")
        .body(
            json!({
                "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
                "userName": email,
                "active": true,
            })
            .to_string(),
        )
        .send()
        .await
        .unwrap()
        .status()
        .as_u16()
}

async fn domain_log(app: &TestApp, tenant_id: &str) -> Vec<gatehouse::audit::changes::ChangeEvent> {
    gatehouse::audit::changes::list(
        app.store(),
        tenant_id,
        gatehouse::audit::Window {
            since: None,
            until: None,
            limit: 100,
        },
        Some(gatehouse::audit::changes::Area::Domains),
    )
    .await
    .unwrap()
}

/// The life of a domain: added (pending: routes nowhere, admits nobody), each wrong record
/// explained, the resolver down, then the right record: verified, routed, SSO-only.
async fn proof_by_dns(backend: Backend) {
    let mut s = setup(backend, true).await;
    let domain = unique_domain();
    let record = format!("{CHALLENGE}.{domain}");
    let person = format!("bob@{domain}");
    let key = crate::scim_support::create_key(&s.app, s.tid(), "IdP", json!(["scim"])).await;
    let scim_token = key["secret"].as_str().unwrap().to_owned();

    let r = s.post(&s.page_path(), &[("domain", &domain)]).await;
    assert_eq!(r.status(), 303);
    assert!(header(&r, "location").unwrap().ends_with("?notice=added"));
    let (status, html) = s.page().await;
    assert_eq!(status, 200);
    let token = s.token_of(&domain).await;
    assert!(token.len() >= 32, "at least 128 bits");
    assert!(
        html.contains(&format!("<code id=\"txt-name-1\">{record}</code>")),
        "{html}"
    );
    assert!(html.contains(&format!("<code id=\"txt-value-1\">{PREFIX}{token}</code>")));
    assert!(
        html.contains("data-copy=\"txt-name-1\"") && html.contains("data-copy=\"txt-value-1\"")
    );
    assert!(html.contains("Not checked yet."));

    // Pending: not claimed, so no routing, no SSO-only, no people at it.
    assert!(gatehouse::tenant::repo::by_domain(s.app.store(), &domain)
        .await
        .unwrap()
        .is_none());
    assert_eq!(
        sso_route(&s.app, &domain).await.0,
        404,
        "pending does not route"
    );
    let (status, page) = password_attempt(&s.app, &person).await;
    assert!(
        status != 403 && !page.contains("/login/sso?domain="),
        "SSO-only does not apply to a pending domain"
    );
    assert_eq!(
        scim_create(&s.app, &scim_token, &person).await,
        400,
        "SCIM refuses it"
    );
    assert_refused(
        s.saml_attempt(&person).await,
        "JIT refuses a pending domain",
    )
    .await;
    let r = s
        .app
        .admin(
            Method::POST,
            &format!("/tenants/{}/users", s.tid()),
            Some(json!({"email": person, "password": PASSWORD})),
        )
        .await;
    assert_eq!(r.status(), 400, "the admin API refuses people at it too");

    // No record at all.
    let html = s.check_now(&domain).await;
    assert!(html.contains("Not verified yet"), "{html}");
    assert!(
        html.contains(&format!(
            "the name {record} does not exist in DNS (NXDOMAIN)"
        )),
        "{html}"
    );

    // The right value, one level too high.
    s.dns
        .publish(&Zone::default().txt(&domain, &format!("{PREFIX}{token}")));
    let html = s.check_now(&domain).await;
    assert!(html.contains("NXDOMAIN"), "{html}");
    assert!(
        html.contains(&format!(
            "The expected value was found at {domain} itself: move the record to {record}"
        )),
        "{html}"
    );

    // The name exists, without a TXT record.
    s.dns.publish(&Zone::default().host(&record));
    let html = s.check_now(&domain).await;
    assert!(
        html.contains(&format!("{record} exists but has no TXT record")),
        "{html}"
    );

    // A wrong token (and an unrelated record): what was found is shown.
    s.dns.publish(
        &Zone::default()
            .txt(&record, &format!("{PREFIX}0123456789abcdef"))
            .txt(&record, "v=spf1 -all"),
    );
    let html = s.check_now(&domain).await;
    assert!(html.contains("do not hold the expected value"), "{html}");
    assert!(
        html.contains(&format!("&#34;{PREFIX}0123456789abcdef&#34;")),
        "{html}"
    );
    assert!(html.contains("with another token"), "{html}");
    assert!(!s.tenant_now().await.owns_domain(&domain));

    // The resolver is down: a clear message, nothing changed.
    s.dns.stop();
    let html = s.check_now(&domain).await;
    assert!(html.contains("Could not check: the DNS resolver"), "{html}");
    assert!(html.contains("Nothing was changed"), "{html}");
    let t = s.tenant_now().await;
    assert!(t.pending(&domain).is_some() && !t.owns_domain(&domain));
    assert_eq!(sso_route(&s.app, &domain).await.0, 404);

    // Published: verified, claimed, routed, SSO-only applies, SCIM and JIT admit it.
    s.dns
        .publish(&Zone::default().txt(&record, &format!("{PREFIX}{token}")));
    let html = s.check_now(&domain).await;
    assert!(html.contains("Domain verified"), "{html}");
    let today = time::OffsetDateTime::now_utc().date().to_string();
    assert!(
        html.contains(&format!(
            "verified by DNS TXT on {today} ({})",
            s.admin_email
        )),
        "{html}"
    );
    assert!(!html.contains("waiting for its DNS proof"));
    let (status, location) = sso_route(&s.app, &domain).await;
    assert_eq!(status, 303, "a verified domain routes to the tenant's IdP");
    assert!(location.starts_with(&s.idp.sso_url), "{location}");
    let (status, page) = password_attempt(&s.app, &person).await;
    assert_eq!(
        status, 403,
        "SSO-only holds for people at the verified domain"
    );
    assert!(
        page.contains(&format!("/login/sso?domain={}", s.primary)),
        "{page}"
    );
    assert_eq!(scim_create(&s.app, &scim_token, &person).await, 201);
    let jit = format!("carol@{domain}");
    assert_eq!(
        s.saml_attempt(&jit).await.status(),
        303,
        "JIT admits the verified domain"
    );

    // The overview shows it verified; the log has every step once.
    let r = s
        .admin
        .get(s.app.url(&format!("/admin/tenants/{}", s.tid())))
        .send()
        .await
        .unwrap();
    let overview = r.text().await.unwrap();
    assert!(overview.contains(&domain) && overview.contains("Manage domains"));
    let log = domain_log(&s.app, s.tid()).await;
    let failed = log.iter().filter(|e| !e.applied).count();
    assert_eq!(failed, 5, "each failed check is recorded as not applied");
    let verified: Vec<_> = log
        .iter()
        .filter(|e| e.summary == format!("domain {domain} verified by its DNS TXT record"))
        .collect();
    assert_eq!(verified.len(), 1);
    assert_eq!(
        verified[0].by.describe(),
        s.admin_email,
        "recorded with who checked"
    );
    assert!(
        log.iter().all(|e| e.summary != "domains changed"),
        "no double entry"
    );
    s.stop().await;
}
crate::both_backends!(proof_by_dns_both, super::proof_by_dns);

/// Two tenants want the same domain: the other's token proves nothing; the first to prove
/// it keeps it; the API answers with the precise cause and the right status.
async fn conflicts_and_the_api(backend: Backend) {
    let mut s = setup(backend, false).await;
    let other = s.app.create_tenant(&unique_domain(), false).await;
    let oid = other["id"].as_str().unwrap().to_owned();
    let domain = unique_domain();
    let record = format!("{CHALLENGE}.{domain}");
    let add = |tid: String| {
        let app = &s.app;
        let domain = domain.clone();
        async move {
            app.admin(
                Method::POST,
                &format!("/tenants/{tid}/domains"),
                Some(json!({"domain": domain, "verification": "dns"})),
            )
            .await
        }
    };
    let r = add(s.tid().to_owned()).await;
    assert_eq!(r.status(), 201);
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["pending_domains"][0]["domain"], json!(domain));
    assert!(body["secondary_domains"].as_array().unwrap().is_empty());
    assert_eq!(
        add(s.tid().to_owned()).await.status(),
        200,
        "already pending: unchanged"
    );
    assert_eq!(
        add(oid.clone()).await.status(),
        201,
        "pending claims nothing"
    );

    let listed: Value = s
        .app
        .admin(Method::GET, &format!("/tenants/{}/domains", s.tid()), None)
        .await
        .json()
        .await
        .unwrap();
    let mine = listed["pending"][0]["record"]["value"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_eq!(listed["pending"][0]["record"]["name"], json!(record));
    assert_eq!(listed["pending"][0]["record"]["type"], "TXT");
    assert_eq!(listed["verified"][0]["domain"], json!(s.primary));
    assert_eq!(listed["verified"][0]["method"], "operator");

    let verify = |tid: String| {
        let app = &s.app;
        let domain = domain.clone();
        async move {
            let r = app
                .admin(
                    Method::POST,
                    &format!("/tenants/{tid}/domains/{domain}/verify"),
                    None,
                )
                .await;
            let status = r.status().as_u16();
            (status, r.json::<Value>().await.unwrap())
        }
    };
    // The resolver is down: 503 dns_unavailable.
    s.dns.stop();
    let (status, body) = verify(oid.clone()).await;
    assert_eq!(status, 503, "{body}");
    assert_eq!(body["error"]["code"], "dns_unavailable");
    // Our record published: it proves nothing for the other tenant (409 not_verified, the
    // value found is named) ...
    s.dns.publish(&Zone::default().txt(&record, &mine));
    let (status, body) = verify(oid.clone()).await;
    assert_eq!(status, 409, "{body}");
    assert_eq!(body["error"]["code"], "not_verified");
    assert!(body["error"]["message"].as_str().unwrap().contains(&mine));
    // ... and verifies ours.
    let (status, body) = verify(s.tid().to_owned()).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["result"], "verified");
    assert_eq!(
        verify(s.tid().to_owned()).await.0,
        200,
        "verifying again is harmless"
    );
    // The other tenant publishes its own record: still ours, a conflict that says what to do.
    let theirs = gatehouse::tenant::repo::require(s.app.store(), &oid)
        .await
        .unwrap()
        .pending(&domain)
        .unwrap()
        .token
        .clone();
    s.dns
        .publish(&Zone::default().txt(&record, &format!("{PREFIX}{theirs}")));
    let (status, body) = verify(oid.clone()).await;
    assert_eq!(status, 409, "{body}");
    assert_eq!(body["error"]["code"], "conflict");
    let message = body["error"]["message"].as_str().unwrap();
    assert!(
        message.contains("already verified by another organisation")
            && message.contains("ask the gateway's operator"),
        "{message}"
    );
    let owner = gatehouse::tenant::repo::by_domain(s.app.store(), &domain)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(owner.id, s.tid(), "a verified domain stays with its tenant");
    let theirs_now: Value = s
        .app
        .admin(Method::GET, &format!("/tenants/{oid}/domains"), None)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(
        theirs_now["pending"][0]["last_check"]["result"],
        "taken_elsewhere"
    );
    assert_eq!(
        add(oid.clone()).await.status(),
        409,
        "adding a domain verified elsewhere is refused"
    );
    // The operator token may still vouch; a domain of another tenant stays refused.
    let r = s
        .app
        .admin(
            Method::POST,
            &format!("/tenants/{oid}/domains"),
            Some(json!({"domain": domain})),
        )
        .await;
    assert_eq!(r.status(), 409);
    // Unknown pending domain, bad input.
    let r = s
        .app
        .admin(
            Method::POST,
            &format!("/tenants/{oid}/domains/nothing.test/verify"),
            None,
        )
        .await;
    assert_eq!(r.status(), 404);
    let r = s
        .app
        .admin(
            Method::POST,
            &format!("/tenants/{oid}/domains"),
            Some(json!({"domain": "x.test", "verification": "trust-me"})),
        )
        .await;
    assert_eq!(r.status(), 400);
    // Removing: pending goes, the primary stays.
    let r = s
        .app
        .admin(
            Method::DELETE,
            &format!("/tenants/{oid}/domains/{domain}"),
            None,
        )
        .await;
    assert_eq!(r.status(), 204);
    let primary = other["primary_domain"].as_str().unwrap();
    let r = s
        .app
        .admin(
            Method::DELETE,
            &format!("/tenants/{oid}/domains/{primary}"),
            None,
        )
        .await;
    assert_eq!(r.status(), 409);
    let body: Value = r.json().await.unwrap();
    assert!(body["error"]["message"]
        .as_str()
        .unwrap()
        .contains("make another verified domain primary first"));
    // Make primary keeps the old primary as a verified secondary.
    let r = s
        .app
        .admin(
            Method::POST,
            &format!("/tenants/{}/domains/{domain}/primary", s.tid()),
            None,
        )
        .await;
    assert_eq!(r.status(), 200);
    let t: Value = r.json().await.unwrap();
    assert_eq!(t["primary_domain"], json!(domain));
    assert_eq!(t["secondary_domains"], json!([s.primary]));
    s.stop().await;
}
crate::both_backends!(conflicts_and_the_api_both, super::conflicts_and_the_api);

/// Who may do what on the Domains page: tenant admins cannot skip the proof, operators can;
/// setup-link holders get 403, another tenant's admin 404; CSRF and a recent sign-in.
async fn page_access(backend: Backend) {
    let mut s = setup(backend, false).await;
    let domain = unique_domain();
    let page = s.page_path();

    // A tenant admin asking to skip the proof is refused; nothing is added.
    let r = s
        .post(&page, &[("domain", &domain), ("verification", "operator")])
        .await;
    assert_eq!(r.status(), 403);
    assert!(r
        .text()
        .await
        .unwrap()
        .contains("Only an operator can skip the proof"));
    let t = s.tenant_now().await;
    assert!(!t.owns_domain(&domain) && t.pending(&domain).is_none());
    let (_, html) = s.page().await;
    assert!(
        !html.contains("value=\"operator\""),
        "no such option for tenant admins"
    );

    // Bad input stays next to the field with what was typed.
    let r = s.post(&page, &[("domain", "not a domain")]).await;
    assert_eq!(r.status(), 400);
    let html = r.text().await.unwrap();
    assert!(
        html.contains("id=\"domain-error\"") && html.contains("value=\"not a domain\""),
        "{html}"
    );

    // Add it pending for the checks below.
    assert_eq!(s.post(&page, &[("domain", &domain)]).await.status(), 303);

    // CSRF: a forged token changes nothing.
    for action in ["check", "remove"] {
        let r = s
            .admin
            .post(s.app.url(&format!("{page}/{domain}/{action}")))
            .form(&[("csrf_token", "forged-forged-forged-forged-forged")])
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 403, "{action} without the CSRF token");
    }
    let r = s
        .admin
        .post(s.app.url(&page))
        .form(&[
            ("csrf_token", "forged-forged-forged-forged-forged"),
            ("domain", "other.test"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 403, "add without the CSRF token");
    let t = s.tenant_now().await;
    assert!(
        t.pending(&domain).unwrap().last_check.is_none(),
        "not checked"
    );
    assert!(t.pending("other.test").is_none());

    // A stale sign-in: check, remove and make primary ask for a new one.
    let token = s.token_of(&domain).await;
    s.dns.publish(&Zone::default().txt(
        &format!("{CHALLENGE}.{domain}"),
        &format!("{PREFIX}{token}"),
    ));
    s.app.age_sessions(&s.admin_email).await;
    for action in ["check", "remove", "primary"] {
        let r = s.post(&format!("{page}/{domain}/{action}"), &[]).await;
        assert_eq!(r.status(), 403, "{action} with an old sign-in");
        assert!(r.text().await.unwrap().contains("Please sign in again"));
    }
    let t = s.tenant_now().await;
    assert!(
        t.pending(&domain).unwrap().last_check.is_none() && !t.owns_domain(&domain),
        "nothing changed"
    );
    let r = s
        .app
        .password_login(&s.admin, &s.admin_email, PASSWORD, "/admin")
        .await;
    assert_eq!(r.status(), 303);

    // Another tenant's admin sees nothing of this page.
    let other_domain = unique_domain();
    let other = s.app.create_tenant(&other_domain, false).await;
    let other_email = format!("it@{other_domain}");
    s.app
        .admin(
            Method::POST,
            &format!("/tenants/{}/users", other["id"].as_str().unwrap()),
            Some(json!({"email": other_email, "password": PASSWORD, "role": "tenant_admin"})),
        )
        .await;
    let stranger = s.app.client();
    s.app
        .password_login(&stranger, &other_email, PASSWORD, "/admin")
        .await;
    let r = stranger.get(s.app.url(&page)).send().await.unwrap();
    assert_eq!(r.status(), 404);
    let own = format!("/admin/tenants/{}/domains", other["id"].as_str().unwrap());
    let r = post_as(
        &s.app,
        &stranger,
        &own,
        &format!("{page}/{domain}/check"),
        &[],
    )
    .await;
    assert_eq!(r.status(), 404, "another tenant's check");
    assert!(s
        .tenant_now()
        .await
        .pending(&domain)
        .unwrap()
        .last_check
        .is_none());

    // A setup link's holder: "not part of this setup link", on the page and its forms.
    let r = s
        .app
        .admin(
            Method::POST,
            &format!("/tenants/{}/it-setup-links", s.tid()),
            Some(json!({"label": "Jane", "lifetime_hours": 4})),
        )
        .await;
    assert_eq!(r.status(), 201);
    let link: Value = r.json().await.unwrap();
    let guest = s.app.client();
    let r = guest
        .get(link["url"].as_str().unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 303);
    let r = guest.get(s.app.url(&page)).send().await.unwrap();
    assert_eq!(r.status(), 403);
    assert!(r
        .text()
        .await
        .unwrap()
        .contains("Not part of this setup link"));
    let saml_page = format!("/admin/tenants/{}/saml", s.tid());
    let r = post_as(
        &s.app,
        &guest,
        &saml_page,
        &format!("{page}/{domain}/check"),
        &[],
    )
    .await;
    assert_eq!(r.status(), 403);
    let r = post_as(
        &s.app,
        &guest,
        &saml_page,
        &page,
        &[("domain", "guest.test")],
    )
    .await;
    assert_eq!(r.status(), 403);
    let guest_menu = guest
        .get(s.app.url(&saml_page))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        !guest_menu.contains("/domains\">Domains"),
        "no Domains link in the guest menu"
    );
    let t = s.tenant_now().await;
    assert!(t.pending(&domain).unwrap().last_check.is_none());
    assert!(t.pending("guest.test").is_none());

    // The tenant admin, freshly signed in, proves it; then removes it again.
    let html = s.check_now(&domain).await;
    assert!(html.contains("Domain verified"), "{html}");
    let r = s.post(&format!("{page}/{}/remove", s.primary), &[]).await;
    assert_eq!(r.status(), 400, "the primary domain is not removed");
    assert!(r
        .text()
        .await
        .unwrap()
        .contains("make another verified domain primary first"));
    let r = s.post(&format!("{page}/{domain}/remove"), &[]).await;
    assert_eq!(r.status(), 303);
    assert!(
        gatehouse::tenant::repo::by_domain(s.app.store(), &domain)
            .await
            .unwrap()
            .is_none(),
        "the claim is freed"
    );

    // An operator may vouch for a domain: verified at once, "added by an operator".
    let ops_email = format!("ops@{}", s.primary);
    let r = s
        .app
        .admin(
            Method::POST,
            &format!("/tenants/{}/users", s.tid()),
            Some(json!({"email": ops_email, "password": PASSWORD, "role": "operator"})),
        )
        .await;
    assert_eq!(r.status(), 201);
    let operator = s.app.client();
    s.app
        .password_login(&operator, &ops_email, PASSWORD, "/admin")
        .await;
    let vouched = unique_domain();
    let r = post_as(
        &s.app,
        &operator,
        &page,
        &page,
        &[("domain", &vouched), ("verification", "operator")],
    )
    .await;
    assert_eq!(r.status(), 303);
    assert!(header(&r, "location")
        .unwrap()
        .ends_with("notice=added_verified"));
    assert!(s.tenant_now().await.owns_domain(&vouched));
    let html = operator
        .get(s.app.url(&page))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        html.contains(&format!("added by an operator ({ops_email}")),
        "{html}"
    );
    assert!(
        html.contains("value=\"operator\""),
        "operators get the option"
    );
    s.stop().await;
}
crate::both_backends!(page_access_both, super::page_access);
