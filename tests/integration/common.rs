//! Test harness: a real gateway on `127.0.0.1:0`, in its own thread and actix system,
//! with either a fresh embedded store in a temp dir or a unique key prefix on Redis.

#![allow(dead_code)]

use std::net::TcpListener;
use std::path::PathBuf;
use std::sync::Arc;

use gatehouse::clock::{SharedClock, SystemClock};
use gatehouse::config::{RawConfig, TenantConfig};
use gatehouse::state::AppState;
use gatehouse::store::Store;
use reqwest::redirect::Policy;
use serde_json::{json, Value};

pub const PASSWORD: &str = "correct horse battery staple";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Embedded,
    Redis,
}

/// Runs an async test body once per backend: `both_backends!(name, body_fn)` expands to
/// `name::embedded` and `name::redis`.
#[macro_export]
macro_rules! both_backends {
    ($name:ident, $body:path) => {
        mod $name {
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn embedded() {
                $body($crate::common::Backend::Embedded).await
            }
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn redis() {
                $body($crate::common::Backend::Redis).await
            }
        }
    };
}

pub fn redis_url() -> String {
    std::env::var("GATEHOUSE_TEST_REDIS_URL").unwrap_or_else(|_| "redis://127.0.0.1:6379".into())
}

pub fn unique(prefix: &str) -> String {
    format!(
        "{prefix}{}",
        gatehouse::random::token(9)
            .to_lowercase()
            .replace(['-', '_'], "x")
    )
}

pub fn unique_domain() -> String {
    format!("{}.test", unique("t"))
}

/// A change a test makes to the raw configuration before the gateway starts.
pub type ConfigHook = Arc<dyn Fn(&mut RawConfig) + Send + Sync>;

/// Everything a test may want to vary about the gateway it starts.
#[derive(Clone)]
pub struct Options {
    pub backend: Backend,
    pub trusted_proxies: Vec<String>,
    pub allowed_return_hosts: Vec<String>,
    pub tenants: Vec<TenantConfig>,
    pub login_failures_per_account: u32,
    pub login_attempts_per_client: u32,
    /// Reuse a data dir / key prefix (restart tests, several instances).
    pub data_dir: Option<PathBuf>,
    pub redis_prefix: Option<String>,
    pub redis_url: Option<String>,
    pub identity_assertion_header: bool,
    /// Let the gateway fetch metadata from loopback over http (test peers).
    pub outbound_allow_loopback: bool,
    /// Listen on this port (a restart keeps its URL, so its issuer too).
    pub port: Option<u16>,
    /// Public URL when it differs from the listen address (several instances share one).
    pub base_url: Option<String>,
    /// Serve HTTPS with this PEM certificate and key.
    pub tls: Option<(PathBuf, PathBuf)>,
    /// Last word on the raw configuration (global OIDC providers, danger switches).
    pub configure: Option<ConfigHook>,
}

impl Options {
    pub fn new(backend: Backend) -> Self {
        Self {
            backend,
            trusted_proxies: Vec::new(),
            allowed_return_hosts: Vec::new(),
            tenants: Vec::new(),
            login_failures_per_account: 10,
            login_attempts_per_client: 1000,
            data_dir: None,
            redis_prefix: None,
            redis_url: None,
            identity_assertion_header: false,
            outbound_allow_loopback: false,
            port: None,
            base_url: None,
            tls: None,
            configure: None,
        }
    }
}

pub struct TestApp {
    pub base: String,
    pub admin_token: String,
    pub state: AppState,
    pub options: Options,
    handle: actix_web::dev::ServerHandle,
    thread: Option<std::thread::JoinHandle<()>>,
    _tmp: Option<Arc<tempfile::TempDir>>,
}

impl TestApp {
    pub async fn spawn(backend: Backend) -> Self {
        Self::spawn_with(Options::new(backend)).await
    }

    pub async fn spawn_with(mut options: Options) -> Self {
        gatehouse::install_crypto_providers();
        gatehouse::warm_up_xml();
        if std::env::var_os("GATEHOUSE_TEST_LOG").is_some() {
            let _ = tracing_subscriber::fmt().with_test_writer().try_init();
        }
        let listener = TcpListener::bind(("127.0.0.1", options.port.unwrap_or(0))).unwrap();
        let port = listener.local_addr().unwrap().port();
        options.port = Some(port);
        let scheme = if options.tls.is_some() {
            "https"
        } else {
            "http"
        };
        let own = format!("{scheme}://127.0.0.1:{port}");
        let public = options.base_url.clone().unwrap_or_else(|| own.clone());
        let admin_token = "test-admin-token-0123456789abcdef".to_string();
        let mut tmp = None;
        let mut raw = RawConfig {
            listen: format!("127.0.0.1:{port}"),
            base_url: Some(public),
            admin_token: Some(admin_token.clone()),
            trusted_proxies: options.trusted_proxies.clone(),
            allowed_return_hosts: options.allowed_return_hosts.clone(),
            tenants: options.tenants.clone(),
            login_failures_per_account: options.login_failures_per_account,
            login_attempts_per_client: options.login_attempts_per_client,
            identity_assertion_header: options.identity_assertion_header,
            outbound_allow_loopback: options.outbound_allow_loopback,
            tls_cert: options.tls.as_ref().map(|t| t.0.clone()),
            tls_key: options.tls.as_ref().map(|t| t.1.clone()),
            ..RawConfig::default()
        };
        match options.backend {
            Backend::Embedded => {
                let dir = match &options.data_dir {
                    Some(d) => d.clone(),
                    None => {
                        let t = Arc::new(tempfile::tempdir().unwrap());
                        let d = t.path().to_path_buf();
                        tmp = Some(t);
                        options.data_dir = Some(d.clone());
                        d
                    }
                };
                raw.data_dir = dir;
            }
            Backend::Redis => {
                let prefix = options
                    .redis_prefix
                    .get_or_insert_with(|| unique("ghtest-"))
                    .clone();
                raw.redis_url = Some(options.redis_url.clone().unwrap_or_else(redis_url));
                raw.redis_key_prefix = prefix;
            }
        }
        if let Some(configure) = &options.configure {
            configure(&mut raw);
        }
        let config = gatehouse::config::Config::try_from(raw).expect("test config is valid");
        let (tx, rx) = tokio::sync::oneshot::channel();
        let thread = std::thread::spawn(move || {
            let system = actix_web::rt::System::new();
            system.block_on(async move {
                let clock: SharedClock = Arc::new(SystemClock);
                // A restarted instance may find the previous one's file lock not yet released.
                let mut store = gatehouse::open_store(&config, clock.clone());
                for _ in 0..200 {
                    if store.is_ok() {
                        break;
                    }
                    std::thread::sleep(std::time::Duration::from_millis(10));
                    store = gatehouse::open_store(&config, clock.clone());
                }
                let store = store.expect("store opens");
                let state = gatehouse::build_state(config, store, clock)
                    .await
                    .expect("state builds");
                let server = gatehouse::serve(state.clone(), listener).expect("server starts");
                let _ = tx.send((server.handle(), state));
                let _ = server.await;
            });
        });
        let (handle, state) = rx.await.expect("gateway started");
        let app = Self {
            base: own,
            admin_token,
            state,
            options,
            handle,
            thread: Some(thread),
            _tmp: tmp,
        };
        if app.options.backend == Backend::Redis {
            app.wait_until_ready().await;
        }
        app
    }

    /// Polls /readyz (the Redis event feed connects asynchronously); bounded, no fixed sleep.
    pub async fn wait_until_ready(&self) {
        for _ in 0..200 {
            let r = self.client().get(self.url("/readyz")).send().await;
            if r.map(|r| r.status() == 200).unwrap_or(false) {
                return;
            }
            tokio::time::sleep(std::time::Duration::from_millis(10)).await;
        }
        panic!("gateway at {} never became ready", self.base);
    }

    /// Starts a second instance sharing this one's store (same data dir or Redis prefix).
    pub async fn sibling(&self) -> TestApp {
        let mut opts = self.options.clone();
        if opts.backend == Backend::Embedded {
            panic!("the embedded store is single-process");
        }
        opts.redis_prefix = self.options.redis_prefix.clone();
        opts.port = None;
        opts.base_url = Some(
            self.options
                .base_url
                .clone()
                .unwrap_or_else(|| self.base.clone()),
        );
        TestApp::spawn_with(opts).await
    }

    pub fn store(&self) -> &dyn Store {
        &*self.state.store
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.base, path)
    }

    /// A browser-like client: cookie jar, no automatic redirects.
    pub fn client(&self) -> reqwest::Client {
        reqwest::Client::builder()
            .cookie_store(true)
            .redirect(Policy::none())
            // The TLS test checks the certificate with its own client; helpers need not.
            .danger_accept_invalid_certs(self.options.tls.is_some())
            .build()
            .unwrap()
    }

    pub async fn admin(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<Value>,
    ) -> reqwest::Response {
        let mut req = self
            .client()
            .request(method, self.url(&format!("/api/v1{path}")))
            .bearer_auth(&self.admin_token);
        if let Some(b) = body {
            req = req.json(&b);
        }
        req.send().await.unwrap()
    }

    pub async fn create_tenant(&self, domain: &str, sso_only: bool) -> Value {
        let r = self
            .admin(
                reqwest::Method::POST,
                "/tenants",
                Some(json!({"name": format!("Tenant {domain}"), "primary_domain": domain, "sso_only": sso_only})),
            )
            .await;
        assert_eq!(r.status(), 201, "create tenant");
        r.json().await.unwrap()
    }

    pub async fn create_user(&self, tenant_id: &str, email: &str) -> Value {
        let r = self
            .admin(
                reqwest::Method::POST,
                &format!("/tenants/{tenant_id}/users"),
                Some(json!({"email": email, "password": PASSWORD, "groups": ["staff", "eng"]})),
            )
            .await;
        assert_eq!(r.status(), 201, "create user");
        r.json().await.unwrap()
    }

    /// A tenant with one password user; returns (tenant, user, email).
    pub async fn tenant_with_user(&self) -> (Value, Value, String) {
        let domain = unique_domain();
        let tenant = self.create_tenant(&domain, false).await;
        let email = format!("alice@{domain}");
        let user = self
            .create_user(tenant["id"].as_str().unwrap(), &email)
            .await;
        (tenant, user, email)
    }

    pub async fn mint_token(&self, tenant_id: &str, user_id: &str) -> Value {
        let r = self
            .admin(
                reqwest::Method::POST,
                &format!("/tenants/{tenant_id}/users/{user_id}/sessions"),
                None,
            )
            .await;
        assert_eq!(r.status(), 201);
        r.json().await.unwrap()
    }

    /// A console user of `tenant_id` with `role` (`tenant_admin`, `operator`), signed in
    /// through the password form; returns their browser.
    pub async fn signed_in(&self, tenant_id: &str, email: &str, role: &str) -> reqwest::Client {
        let r = self
            .admin(
                reqwest::Method::POST,
                &format!("/tenants/{tenant_id}/users"),
                Some(json!({"email": email, "password": PASSWORD, "role": role})),
            )
            .await;
        assert_eq!(r.status(), 201, "create {role}");
        let client = self.client();
        let r = self
            .password_login(&client, email, PASSWORD, "/admin")
            .await;
        assert_eq!(r.status(), 303, "{role} signs in");
        client
    }

    /// A page as `client` gets it: (status, body).
    pub async fn page(&self, client: &reqwest::Client, path: &str) -> (u16, String) {
        let r = client.get(self.url(path)).send().await.unwrap();
        (r.status().as_u16(), r.text().await.unwrap())
    }

    /// GET /login and return the CSRF token from the form (the cookie stays in `client`).
    pub async fn csrf(&self, client: &reqwest::Client) -> String {
        let html = client
            .get(self.url("/login"))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        csrf_from(&html)
    }

    /// Signs in through the real form; returns the POST's response.
    pub async fn password_login(
        &self,
        client: &reqwest::Client,
        email: &str,
        password: &str,
        return_to: &str,
    ) -> reqwest::Response {
        let csrf = self.csrf(client).await;
        client
            .post(self.url("/login/password"))
            .form(&[
                ("email", email),
                ("password", password),
                ("csrf_token", &csrf),
                ("return_to", return_to),
            ])
            .send()
            .await
            .unwrap()
    }

    /// Makes every session of `email` older than the console's recent-sign-in window.
    pub async fn age_sessions(&self, email: &str) {
        let store = self.store();
        let user = gatehouse::user::repo::by_email(store, email)
            .await
            .unwrap()
            .unwrap();
        for mut s in gatehouse::session::store::list_for_user(store, &user.id)
            .await
            .unwrap()
        {
            s.created_at -= time::Duration::hours(1);
            gatehouse::session::store::save(store, &gatehouse::clock::SystemClock, &s)
                .await
                .unwrap();
        }
    }

    pub async fn verify(&self, client: &reqwest::Client) -> reqwest::Response {
        client.get(self.url("/auth/verify")).send().await.unwrap()
    }

    pub async fn verify_bearer(&self, token: &str) -> reqwest::Response {
        reqwest::Client::new()
            .get(self.url("/auth/verify"))
            .bearer_auth(token)
            .send()
            .await
            .unwrap()
    }

    /// Stops the server and removes what the test wrote to Redis.
    pub async fn stop(mut self) {
        self.handle.stop(true).await;
        if let Some(t) = self.thread.take() {
            let _ = tokio::task::spawn_blocking(move || t.join()).await;
        }
        if self.options.backend == Backend::Redis {
            cleanup_redis_prefix(self.options.redis_prefix.as_deref().unwrap_or("none")).await;
        }
    }

    /// Stops the server but keeps its data (restart tests).
    pub async fn stop_keep_data(mut self) -> (Options, Option<Arc<tempfile::TempDir>>) {
        self.handle.stop(true).await;
        if let Some(t) = self.thread.take() {
            let _ = tokio::task::spawn_blocking(move || t.join()).await;
        }
        (self.options.clone(), self._tmp.take())
    }
}

impl Drop for TestApp {
    fn drop(&mut self) {
        if self.thread.is_some() {
            // Not stopped explicitly (a failed assertion): stop without waiting.
            drop(self.handle.stop(false));
        }
    }
}

pub async fn cleanup_redis_prefix(prefix: &str) {
    if let Ok(store) = gatehouse::store::redis::RedisStore::connect(&redis_url(), prefix, 2) {
        let _ = store.delete_all_with_prefix().await;
    }
}

pub fn csrf_from(html: &str) -> String {
    let marker = "name=\"csrf_token\" value=\"";
    let start = html.find(marker).expect("page has a CSRF field") + marker.len();
    let end = html[start..].find('"').unwrap() + start;
    html[start..end].to_string()
}

pub fn header<'a>(resp: &'a reqwest::Response, name: &str) -> Option<&'a str> {
    resp.headers().get(name).and_then(|v| v.to_str().ok())
}

/// The session token from a response's `Set-Cookie`.
pub fn session_cookie(resp: &reqwest::Response) -> Option<String> {
    resp.headers()
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find_map(|v| v.strip_prefix("gatehouse_session="))
        .map(|v| v.split(';').next().unwrap_or("").to_string())
        .filter(|v| !v.is_empty())
}

/// A self-signed X.509 certificate for `key`, valid from `from_days` to `to_days` around
/// now, optionally with an IP subject alternative name.
pub fn certificate(
    key: &openssl::pkey::PKey<openssl::pkey::Private>,
    cn: &str,
    from_days: i64,
    to_days: i64,
    san_ip: Option<&str>,
) -> openssl::x509::X509 {
    use openssl::asn1::Asn1Time;
    let mut name = openssl::x509::X509NameBuilder::new().unwrap();
    name.append_entry_by_text("CN", cn).unwrap();
    let name = name.build();
    let mut b = openssl::x509::X509::builder().unwrap();
    b.set_version(2).unwrap();
    b.set_subject_name(&name).unwrap();
    b.set_issuer_name(&name).unwrap();
    b.set_pubkey(key).unwrap();
    let now = time::OffsetDateTime::now_utc().unix_timestamp();
    b.set_not_before(&Asn1Time::from_unix(now + from_days * 86_400).unwrap())
        .unwrap();
    b.set_not_after(&Asn1Time::from_unix(now + to_days * 86_400).unwrap())
        .unwrap();
    if let Some(ip) = san_ip {
        let san = openssl::x509::extension::SubjectAlternativeName::new()
            .ip(ip)
            .build(&b.x509v3_context(None, None))
            .unwrap();
        b.append_extension(san).unwrap();
    }
    b.sign(key, openssl::hash::MessageDigest::sha256()).unwrap();
    b.build()
}
