//! Configuration: defaults, then a TOML file, then `GATEHOUSE_*` environment variables.
//!
//! `RawConfig` is what serde reads (unknown keys are errors, so a typo never silently falls
//! back to a default); `Config` is built from it by validation and cannot hold an invalid
//! value. Secrets never appear in `Debug` output.

use std::fmt;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use figment::providers::{Env, Format, Serialized, Toml};
use figment::Figment;
use ipnet::IpNet;
use serde::{Deserialize, Serialize};
use url::Url;

use crate::tenant::domain::{normalize_domain, normalize_host};

/// The file read when `--config` is not given and it exists.
pub const DEFAULT_CONFIG_FILE: &str = "gatehouse.toml";
const MIN_ADMIN_TOKEN_LEN: usize = 24;
const MAX_SESSION_LIFETIME_SECS: u64 = 30 * 24 * 3600;

/// Exactly what the file and the environment may contain.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawConfig {
    /// Address to listen on. env: GATEHOUSE_LISTEN
    pub listen: String,
    /// Public URL of the gateway, used for redirects, ACS URLs and the JWT issuer.
    /// Default: `http://{listen}`. env: GATEHOUSE_BASE_URL
    pub base_url: Option<String>,
    /// Directory of the embedded store and generated files. env: GATEHOUSE_DATA_DIR
    pub data_dir: PathBuf,
    /// When set, Redis is the store (many instances). env: GATEHOUSE_REDIS_URL
    pub redis_url: Option<String>,
    /// Prefix of every Redis key, so one Redis can serve several deployments.
    pub redis_key_prefix: String,
    /// Connections in the Redis pool.
    pub redis_pool_size: usize,
    /// Bearer token for `/api/v1` (at least 24 characters). env: GATEHOUSE_ADMIN_TOKEN
    pub admin_token: Option<String>,
    /// Absolute lifetime of a session, in seconds.
    pub session_lifetime_secs: u64,
    /// Name of the session cookie.
    pub cookie_name: String,
    /// Domain attribute of the session cookie (to share it with sibling hosts); host-only when unset.
    pub cookie_domain: Option<String>,
    /// Peers whose X-Forwarded-* / Forwarded headers are believed (CIDR list). Default: none.
    pub trusted_proxies: Vec<String>,
    /// Hosts `return_to` may point at besides the gateway's own (`app.example.com` or `*.example.com`).
    pub allowed_return_hosts: Vec<String>,
    /// PEM certificate chain; with `tls_key`, the gateway serves HTTPS itself (rustls).
    pub tls_cert: Option<PathBuf>,
    /// PEM private key for `tls_cert`.
    pub tls_key: Option<PathBuf>,
    /// `text` or `json`.
    pub log_format: String,
    /// Add a short-lived signed `X-Gatehouse-Assertion` JWT to forward-auth answers.
    pub identity_assertion_header: bool,
    /// Let the gateway fetch IdP metadata and discovery documents from loopback over plain
    /// http. For tests and the local demo only: it opens a door into the gateway's own host.
    pub outbound_allow_loopback: bool,
    /// Seconds between two fetches of each SAML connection's metadata URL (certificate
    /// rollovers are picked up); 0 turns the periodic refresh off.
    /// env: GATEHOUSE_SAML_METADATA_REFRESH_INTERVAL_SECS
    pub saml_metadata_refresh_interval_secs: u64,
    /// Login attempts one client address may make per 5 minutes.
    pub login_attempts_per_client: u32,
    /// Failed logins one account may take per 15 minutes before it is paused.
    pub login_failures_per_account: u32,
    /// Tenants declared as code, upserted (by primary domain) at start.
    pub tenants: Vec<TenantConfig>,
    /// "Continue with Google". env: GATEHOUSE_GOOGLE__CLIENT_ID, GATEHOUSE_GOOGLE__CLIENT_SECRET, …
    pub google: Option<crate::oidc::global::RawGoogle>,
    /// "Continue with Microsoft". env: GATEHOUSE_MICROSOFT__CLIENT_ID, …
    pub microsoft: Option<crate::oidc::global::RawMicrosoft>,
    /// Accept OpenID providers on plain http at loopback addresses (local testing only).
    /// env: GATEHOUSE_DANGER_OIDC_ALLOW_HTTP_LOOPBACK
    pub danger_oidc_allow_http_loopback: bool,
    /// The DNS resolver that checks domain-ownership TXT records.
    /// env: GATEHOUSE_DNS__NAMESERVERS, GATEHOUSE_DNS__TIMEOUT_SECS
    pub dns: RawDns,
}

/// `[dns]` as written by the operator.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RawDns {
    /// Nameservers asked for domain-verification TXT records, as `ip:port`
    /// (`"10.0.0.53:53"`, `"[2001:db8::53]:53"`). Empty: the system resolver
    /// (`/etc/resolv.conf`).
    pub nameservers: Vec<String>,
    /// How long one query may take before the check says "the resolver did not answer".
    pub timeout_secs: u64,
}

impl Default for RawDns {
    fn default() -> Self {
        Self {
            nameservers: Vec::new(),
            timeout_secs: 5,
        }
    }
}

/// The validated `[dns]` section.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DnsConfig {
    /// Empty: the system resolver.
    pub nameservers: Vec<SocketAddr>,
    pub timeout: Duration,
}

const MAX_DNS_TIMEOUT_SECS: u64 = 30;

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TenantConfig {
    pub name: String,
    pub primary_domain: String,
    #[serde(default)]
    pub secondary_domains: Vec<String>,
    /// "Prevent users from logging in with other SSO providers".
    #[serde(default)]
    pub sso_only: bool,
}

impl Default for RawConfig {
    fn default() -> Self {
        Self {
            listen: "127.0.0.1:8080".into(),
            base_url: None,
            data_dir: PathBuf::from("./data"),
            redis_url: None,
            redis_key_prefix: "gh".into(),
            redis_pool_size: 16,
            admin_token: None,
            session_lifetime_secs: 12 * 3600,
            cookie_name: "gatehouse_session".into(),
            cookie_domain: None,
            trusted_proxies: Vec::new(),
            allowed_return_hosts: Vec::new(),
            tls_cert: None,
            tls_key: None,
            log_format: "text".into(),
            identity_assertion_header: false,
            outbound_allow_loopback: false,
            saml_metadata_refresh_interval_secs: 12 * 3600,
            login_attempts_per_client: 30,
            login_failures_per_account: 10,
            tenants: Vec::new(),
            google: None,
            microsoft: None,
            danger_oidc_allow_http_loopback: false,
            dns: RawDns::default(),
        }
    }
}

#[derive(Clone)]
pub enum StoreConfig {
    Embedded {
        path: PathBuf,
    },
    Redis {
        url: String,
        key_prefix: String,
        pool_size: usize,
    },
}

impl fmt::Debug for StoreConfig {
    // The Redis URL may carry a password: print only its host.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Embedded { path } => write!(f, "embedded store at {}", path.display()),
            Self::Redis {
                url, key_prefix, ..
            } => {
                let host = Url::parse(url)
                    .ok()
                    .and_then(|u| u.host_str().map(str::to_owned))
                    .unwrap_or_else(|| "?".into());
                write!(f, "redis at {host} (key prefix {key_prefix:?})")
            }
        }
    }
}

#[derive(Clone)]
pub struct Config {
    pub listen: SocketAddr,
    pub base_url: Url,
    pub data_dir: PathBuf,
    pub store: StoreConfig,
    pub admin_token: Option<String>,
    pub session_lifetime: Duration,
    pub cookie_name: String,
    pub cookie_domain: Option<String>,
    pub trusted_proxies: Vec<IpNet>,
    pub allowed_return_hosts: Vec<String>,
    pub tls: Option<(PathBuf, PathBuf)>,
    pub log_json: bool,
    pub identity_assertion_header: bool,
    pub outbound: crate::outbound::Policy,
    /// How often SAML metadata URLs are fetched again; `None`: never (only on demand).
    pub saml_metadata_refresh: Option<Duration>,
    pub login_attempts_per_client: u32,
    pub login_failures_per_account: u32,
    pub tenants: Vec<TenantConfig>,
    /// Global OpenID providers (Google, Microsoft) and the loopback switch.
    pub oidc: crate::oidc::global::GlobalProviders,
    /// The resolver of domain-verification TXT records.
    pub dns: DnsConfig,
}

impl fmt::Debug for Config {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Config")
            .field("listen", &self.listen)
            .field("base_url", &self.base_url.as_str())
            .field("store", &self.store)
            .field(
                "admin_token",
                &self.admin_token.as_ref().map(|_| "<redacted>"),
            )
            .field("session_lifetime", &self.session_lifetime)
            .field("trusted_proxies", &self.trusted_proxies)
            .field("allowed_return_hosts", &self.allowed_return_hosts)
            .field("tls", &self.tls.is_some())
            .field("tenants", &self.tenants.len())
            .field("oidc", &self.oidc)
            .field("dns", &self.dns)
            .finish_non_exhaustive()
    }
}

impl Config {
    /// True when the gateway is reached over https, so cookies must be `Secure`.
    pub fn is_https(&self) -> bool {
        self.base_url.scheme() == "https"
    }
}

/// One thing wrong with the configuration, named by its key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigProblem {
    pub key: String,
    pub message: String,
}

impl fmt::Display for ConfigProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.key, self.message)
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("{source_name}: {message}")]
    Unreadable {
        source_name: String,
        message: String,
    },
    #[error("{} problem(s) in {source_name}:\n{}", problems.len(), problems.iter().map(|p| format!("  - {p}")).collect::<Vec<_>>().join("\n"))]
    Invalid {
        source_name: String,
        problems: Vec<ConfigProblem>,
    },
}

/// Every key `RawConfig` accepts, as `GATEHOUSE_{KEY}` spells it (lower-cased).
const ENV_KEYS: &[&str] = &[
    "listen",
    "base_url",
    "data_dir",
    "redis_url",
    "redis_key_prefix",
    "redis_pool_size",
    "admin_token",
    "session_lifetime_secs",
    "cookie_name",
    "cookie_domain",
    "trusted_proxies",
    "allowed_return_hosts",
    "tls_cert",
    "tls_key",
    "log_format",
    "identity_assertion_header",
    "outbound_allow_loopback",
    "saml_metadata_refresh_interval_secs",
    "login_attempts_per_client",
    "login_failures_per_account",
    "google",
    "microsoft",
    "danger_oidc_allow_http_loopback",
    "dns",
];

/// Variables with our prefix that are not settings but are read elsewhere.
const ENV_NOT_SETTINGS: &[&str] = &["log"];

/// The environment provider: only known keys, so that unrelated `GATEHOUSE_*` variables
/// (a test harness's, a wrapper script's) never stop the gateway from starting.
pub fn env_provider() -> Env {
    Env::prefixed("GATEHOUSE_")
        .split("__")
        .filter(|k| is_setting_key(k.as_str()))
}

/// Whether an environment key (prefix removed, `__` turned into `.`) names a setting. A
/// table's keys arrive as `google.client_id`: they are judged by their first part.
fn is_setting_key(key: &str) -> bool {
    let top = key.split('.').next().unwrap_or("");
    ENV_KEYS.iter().any(|known| top.eq_ignore_ascii_case(known))
}

/// `GATEHOUSE_*` variables that are neither settings nor known to the gateway: likely typos,
/// reported at start-up (`GATEHOUSE_LISTN` would otherwise be silently ignored).
pub fn unknown_env_vars() -> Vec<String> {
    std::env::vars()
        .filter_map(|(k, _)| k.strip_prefix("GATEHOUSE_").map(str::to_ascii_lowercase))
        .filter(|k| {
            let top = k.split("__").next().unwrap_or("");
            !ENV_KEYS.contains(&top) && !ENV_NOT_SETTINGS.contains(&k.as_str())
        })
        .map(|k| format!("GATEHOUSE_{}", k.to_ascii_uppercase()))
        .collect()
}

/// Reads defaults, the file (when given or present) and the environment.
pub fn load(file: Option<&Path>) -> Result<Config, ConfigError> {
    load_from(file, env_provider())
}

/// Like [`load`], with the environment provider passed in (tests use an empty one).
pub fn load_from(file: Option<&Path>, env: Env) -> Result<Config, ConfigError> {
    let (figment, source_name) = figment_for(file, env)?;
    let raw: RawConfig = figment.extract().map_err(|e| ConfigError::Unreadable {
        source_name: source_name.clone(),
        message: explain_figment_error(&e),
    })?;
    Config::try_from(raw).map_err(|problems| ConfigError::Invalid {
        source_name,
        problems,
    })
}

fn figment_for(file: Option<&Path>, env: Env) -> Result<(Figment, String), ConfigError> {
    let mut figment = Figment::from(Serialized::defaults(RawConfig::default()));
    let mut source_name = "environment".to_string();
    let path = match file {
        Some(p) => {
            if !p.exists() {
                return Err(ConfigError::Unreadable {
                    source_name: p.display().to_string(),
                    message: "file not found".into(),
                });
            }
            Some(p.to_path_buf())
        }
        None => Some(PathBuf::from(DEFAULT_CONFIG_FILE)).filter(|p| p.exists()),
    };
    if let Some(p) = path {
        source_name = format!("{} and environment", p.display());
        figment = figment.merge(Toml::file_exact(p));
    }
    Ok((figment.merge(env), source_name))
}

fn explain_figment_error(err: &figment::Error) -> String {
    err.clone()
        .into_iter()
        .map(|e| {
            let key = if e.path.is_empty() {
                String::new()
            } else {
                format!("key `{}`: ", e.path.join("."))
            };
            let origin = e
                .metadata
                .as_ref()
                .map(|m| format!(" (from {})", m.name))
                .unwrap_or_default();
            format!("{key}{}{origin}", e.kind)
        })
        .collect::<Vec<_>>()
        .join("; ")
}

impl TryFrom<RawConfig> for Config {
    type Error = Vec<ConfigProblem>;

    fn try_from(raw: RawConfig) -> Result<Self, Self::Error> {
        // Destructure exhaustively: a new field that is not validated fails to compile.
        let RawConfig {
            listen,
            base_url,
            data_dir,
            redis_url,
            redis_key_prefix,
            redis_pool_size,
            admin_token,
            session_lifetime_secs,
            cookie_name,
            cookie_domain,
            trusted_proxies,
            allowed_return_hosts,
            tls_cert,
            tls_key,
            log_format,
            identity_assertion_header,
            outbound_allow_loopback,
            saml_metadata_refresh_interval_secs,
            login_attempts_per_client,
            login_failures_per_account,
            tenants,
            google,
            microsoft,
            danger_oidc_allow_http_loopback,
            dns,
        } = raw;
        let mut problems = Vec::new();
        let mut problem = |key: &str, message: String| {
            problems.push(ConfigProblem {
                key: key.into(),
                message,
            })
        };

        let listen_addr = listen
            .parse::<SocketAddr>()
            .map_err(|_| format!("`{listen}` is not an address with a port, e.g. 127.0.0.1:8080"));
        let listen_addr = match listen_addr {
            Ok(a) => a,
            Err(m) => {
                problem("listen", m);
                SocketAddr::from(([127, 0, 0, 1], 8080))
            }
        };

        let scheme = if tls_cert.is_some() { "https" } else { "http" };
        let base_url_text = base_url.unwrap_or_else(|| format!("{scheme}://{listen_addr}"));
        let base = match Url::parse(base_url_text.trim_end_matches('/')) {
            Ok(u) if matches!(u.scheme(), "http" | "https") && u.host_str().is_some() => {
                if u.query().is_some() || u.fragment().is_some() {
                    problem("base_url", "must not have a query or fragment".into());
                }
                Some(u)
            }
            _ => {
                problem(
                    "base_url",
                    format!(
                        "`{base_url_text}` is not an http(s) URL such as https://sso.example.com"
                    ),
                );
                None
            }
        };

        let store = match redis_url.filter(|u| !u.trim().is_empty()) {
            Some(url) => {
                if !(url.starts_with("redis://")
                    || url.starts_with("rediss://")
                    || url.starts_with("unix://"))
                {
                    problem(
                        "redis_url",
                        "must start with redis://, rediss:// or unix://".into(),
                    );
                }
                if redis_pool_size == 0 || redis_pool_size > 1024 {
                    problem("redis_pool_size", "must be between 1 and 1024".into());
                }
                if redis_key_prefix.is_empty()
                    || !redis_key_prefix
                        .chars()
                        .all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c))
                {
                    problem(
                        "redis_key_prefix",
                        "must be non-empty letters, digits, '-', '_' or '.'".into(),
                    );
                }
                StoreConfig::Redis {
                    url,
                    key_prefix: redis_key_prefix,
                    pool_size: redis_pool_size,
                }
            }
            None => StoreConfig::Embedded {
                path: data_dir.join("gatehouse.redb"),
            },
        };

        let admin_token = admin_token.filter(|t| !t.is_empty());
        if let Some(t) = &admin_token {
            if t.len() < MIN_ADMIN_TOKEN_LEN {
                problem(
                    "admin_token",
                    format!("must be at least {MIN_ADMIN_TOKEN_LEN} characters (generate one with `openssl rand -hex 24`)"),
                );
            }
        }
        if !(60..=MAX_SESSION_LIFETIME_SECS).contains(&session_lifetime_secs) {
            problem(
                "session_lifetime_secs",
                format!("must be between 60 and {MAX_SESSION_LIFETIME_SECS} seconds"),
            );
        }
        if cookie_name.is_empty()
            || !cookie_name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
        {
            problem("cookie_name", "must be letters, digits, '_' or '-'".into());
        }

        let mut proxies = Vec::new();
        for (i, p) in trusted_proxies.iter().enumerate() {
            match parse_cidr(p) {
                Some(net) => proxies.push(net),
                None => problem(
                    &format!("trusted_proxies[{i}]"),
                    format!("`{p}` is not an IP address or CIDR range such as 10.0.0.0/8"),
                ),
            }
        }

        let mut return_hosts = Vec::new();
        for (i, h) in allowed_return_hosts.iter().enumerate() {
            let (wild, bare) = match h.strip_prefix("*.") {
                Some(rest) => (true, rest),
                None => (false, h.as_str()),
            };
            match normalize_host(bare) {
                Ok(d) => return_hosts.push(if wild { format!("*.{d}") } else { d }),
                Err(e) => problem(&format!("allowed_return_hosts[{i}]"), e.to_string()),
            }
        }

        let tls = match (tls_cert, tls_key) {
            (Some(c), Some(k)) => {
                for (key, path) in [("tls_cert", &c), ("tls_key", &k)] {
                    if !path.is_file() {
                        problem(key, format!("{} is not a readable file", path.display()));
                    }
                }
                Some((c, k))
            }
            (None, None) => None,
            (Some(_), None) => {
                problem("tls_key", "is required when tls_cert is set".into());
                None
            }
            (None, Some(_)) => {
                problem("tls_cert", "is required when tls_key is set".into());
                None
            }
        };

        let log_json = match log_format.as_str() {
            "text" => false,
            "json" => true,
            other => {
                problem("log_format", format!("`{other}` is not `text` or `json`"));
                false
            }
        };
        let refresh = crate::saml::metadata_refresh::INTERVAL_BOUNDS_SECS;
        let saml_metadata_refresh = match saml_metadata_refresh_interval_secs {
            0 => None,
            s if refresh.contains(&s) => Some(Duration::from_secs(s)),
            _ => {
                problem(
                    "saml_metadata_refresh_interval_secs",
                    format!(
                        "must be 0 (off) or between {} and {} seconds",
                        refresh.start(),
                        refresh.end()
                    ),
                );
                None
            }
        };
        if login_attempts_per_client == 0 {
            problem("login_attempts_per_client", "must be at least 1".into());
        }
        if login_failures_per_account == 0 {
            problem("login_failures_per_account", "must be at least 1".into());
        }

        let mut seen_domains = std::collections::HashSet::new();
        for (i, t) in tenants.iter().enumerate() {
            if t.name.trim().is_empty() {
                problem(&format!("tenants[{i}].name"), "must not be empty".into());
            }
            let domains = std::iter::once(("primary_domain".to_string(), &t.primary_domain)).chain(
                t.secondary_domains
                    .iter()
                    .enumerate()
                    .map(|(j, d)| (format!("secondary_domains[{j}]"), d)),
            );
            for (field, d) in domains {
                match normalize_domain(d) {
                    Ok(n) => {
                        if !seen_domains.insert(n.clone()) {
                            problem(
                                &format!("tenants[{i}].{field}"),
                                format!("domain `{n}` is declared twice; a domain belongs to one tenant"),
                            );
                        }
                    }
                    Err(e) => problem(&format!("tenants[{i}].{field}"), e.to_string()),
                }
            }
        }

        let oidc = crate::oidc::global::validate(
            google,
            microsoft,
            danger_oidc_allow_http_loopback,
            &mut problem,
        );

        let dns = validate_dns(dns, &mut problem);

        let Some(base) = base.filter(|_| problems.is_empty()) else {
            return Err(problems);
        };
        Ok(Config {
            listen: listen_addr,
            base_url: base,
            data_dir,
            store,
            admin_token,
            session_lifetime: Duration::from_secs(session_lifetime_secs),
            cookie_name,
            cookie_domain: cookie_domain.filter(|d| !d.is_empty()),
            trusted_proxies: proxies,
            allowed_return_hosts: return_hosts,
            tls,
            log_json,
            identity_assertion_header,
            outbound: crate::outbound::Policy {
                allow_loopback: outbound_allow_loopback,
            },
            saml_metadata_refresh,
            login_attempts_per_client,
            login_failures_per_account,
            tenants,
            oidc,
            dns,
        })
    }
}

fn validate_dns(raw: RawDns, problem: &mut dyn FnMut(&str, String)) -> DnsConfig {
    let RawDns {
        nameservers,
        timeout_secs,
    } = raw;
    let mut out = Vec::new();
    for (i, ns) in nameservers.iter().enumerate() {
        match ns.trim().parse::<SocketAddr>() {
            Ok(a) if a.port() != 0 => out.push(a),
            _ => problem(
                &format!("dns.nameservers[{i}]"),
                format!(
                    "`{ns}` is not an address with a port, e.g. 10.0.0.53:53 or [2001:db8::53]:53"
                ),
            ),
        }
    }
    if !(1..=MAX_DNS_TIMEOUT_SECS).contains(&timeout_secs) {
        problem(
            "dns.timeout_secs",
            format!("must be between 1 and {MAX_DNS_TIMEOUT_SECS} seconds"),
        );
    }
    DnsConfig {
        nameservers: out,
        timeout: Duration::from_secs(timeout_secs.clamp(1, MAX_DNS_TIMEOUT_SECS)),
    }
}

fn parse_cidr(text: &str) -> Option<IpNet> {
    let t = text.trim();
    t.parse::<IpNet>()
        .ok()
        .or_else(|| t.parse::<std::net::IpAddr>().ok().map(IpNet::from))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn load_toml(text: &str) -> Result<Config, ConfigError> {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("g.toml");
        std::fs::write(&path, text).unwrap();
        load_from(Some(&path), Env::prefixed("GATEHOUSE_TEST_NOTHING_"))
    }

    #[test]
    fn defaults_are_valid_and_embedded() {
        let cfg = load_toml("").unwrap();
        assert_eq!(cfg.listen.to_string(), "127.0.0.1:8080");
        assert_eq!(cfg.base_url.as_str(), "http://127.0.0.1:8080/");
        assert!(matches!(cfg.store, StoreConfig::Embedded { .. }));
        assert!(cfg.trusted_proxies.is_empty(), "trust no proxy by default");
    }

    #[test]
    fn unknown_keys_are_errors_naming_the_key() {
        let err = load_toml("lisen = \"1.2.3.4:1\"").unwrap_err().to_string();
        assert!(err.contains("lisen"), "{err}");
    }

    #[test]
    fn every_problem_is_reported_with_its_key() {
        let err = load_toml(
            "listen = \"nope\"\nadmin_token = \"short\"\ntrusted_proxies = [\"10.0.0.0/8\", \"bogus\"]\n\
             [[tenants]]\nname = \"A\"\nprimary_domain = \"a.test\"\n\
             [[tenants]]\nname = \"B\"\nprimary_domain = \"A.TEST\"\n",
        )
        .unwrap_err();
        let ConfigError::Invalid { problems, .. } = err else {
            panic!("expected validation problems")
        };
        let keys: Vec<_> = problems.iter().map(|p| p.key.as_str()).collect();
        assert_eq!(
            keys,
            [
                "listen",
                "admin_token",
                "trusted_proxies[1]",
                "tenants[1].primary_domain"
            ]
        );
    }

    #[test]
    fn every_setting_can_come_from_the_environment() {
        let fields = serde_json::to_value(RawConfig::default()).unwrap();
        let mut fields: Vec<String> = fields.as_object().unwrap().keys().cloned().collect();
        fields.retain(|f| f != "tenants");
        fields.sort();
        let mut env: Vec<String> = ENV_KEYS.iter().map(|s| s.to_string()).collect();
        env.sort();
        assert_eq!(fields, env);
    }

    #[test]
    fn global_providers_come_from_tables_and_nested_env_keys() {
        let cfg = load_toml(
            "[google]\nclient_id = \"g-id\"\nclient_secret = \"g-secret\"\nallowed_hd = [\"Acme.COM\"]\n",
        )
        .unwrap();
        let google = cfg.oidc.google.as_ref().unwrap();
        assert_eq!(google.allowed_hd, ["acme.com"]);
        assert!(!format!("{cfg:?}").contains("g-secret"));
        assert!(is_setting_key("google.client_id"));
        assert!(is_setting_key("MICROSOFT.allowed_tenant_ids"));
        assert!(is_setting_key("danger_oidc_allow_http_loopback"));
        assert!(!is_setting_key("bin"));
    }

    #[test]
    fn dns_section_is_validated_and_defaults_to_the_system_resolver() {
        let cfg = load_toml("").unwrap();
        assert!(cfg.dns.nameservers.is_empty(), "system resolver by default");
        assert_eq!(cfg.dns.timeout, Duration::from_secs(5));
        let cfg = load_toml(
            "[dns]\nnameservers = [\"127.0.0.1:5353\", \"[::1]:53\"]\ntimeout_secs = 2\n",
        )
        .unwrap();
        assert_eq!(
            cfg.dns.nameservers,
            [
                "127.0.0.1:5353".parse::<SocketAddr>().unwrap(),
                "[::1]:53".parse().unwrap()
            ]
        );
        let err = load_toml("[dns]\nnameservers = [\"127.0.0.1\"]\ntimeout_secs = 0\n")
            .unwrap_err()
            .to_string();
        assert!(err.contains("dns.nameservers[0]"), "{err}");
        assert!(err.contains("dns.timeout_secs"), "{err}");
        let err = load_toml("[dns]\nservers = []\n").unwrap_err().to_string();
        assert!(err.contains("servers"), "unknown keys are refused: {err}");
        assert!(is_setting_key("dns.nameservers"));
    }

    #[test]
    fn metadata_refresh_interval_is_bounded_or_off() {
        let cfg = load_toml("").unwrap();
        assert_eq!(
            cfg.saml_metadata_refresh,
            Some(Duration::from_secs(12 * 3600))
        );
        let off = load_toml("saml_metadata_refresh_interval_secs = 0").unwrap();
        assert_eq!(off.saml_metadata_refresh, None);
        for bad in ["10", "99999999"] {
            let err = load_toml(&format!("saml_metadata_refresh_interval_secs = {bad}"))
                .unwrap_err()
                .to_string();
            assert!(err.contains("saml_metadata_refresh_interval_secs"), "{err}");
        }
    }

    #[test]
    fn redis_url_selects_redis_and_debug_hides_password() {
        let cfg = load_toml("redis_url = \"redis://:hunter2@cache.internal:6379\"").unwrap();
        let shown = format!("{cfg:?}");
        assert!(shown.contains("cache.internal"));
        assert!(!shown.contains("hunter2"));
    }
}
