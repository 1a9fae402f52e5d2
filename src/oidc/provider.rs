//! Talking to OpenID providers: discovery documents and signing keys (JWKS), fetched over
//! rustls with redirects off, timeouts and size limits, and cached in memory.
//!
//! Invariants:
//! - a discovery document is accepted only when its `issuer` is exactly the one expected
//!   (or, for Microsoft's multi-tenant authorities, exactly the configured template), and
//!   every endpoint in it passes the same https rule as the issuer;
//! - keys are refetched when a token names an unknown `kid`, at most once per
//!   [`KEY_REFRESH_MIN_INTERVAL`] per provider, so forged `kid`s cannot turn the gateway
//!   into a request amplifier.

use std::sync::Arc;
use std::time::{Duration, Instant};

use dashmap::DashMap;
use openidconnect::core::CoreJsonWebKeySet;
use openidconnect::reqwest;
use serde::Deserialize;
use url::Url;

use super::global::check_provider_url;
use super::OidcError;

pub const HTTP_TIMEOUT: Duration = Duration::from_secs(10);
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
const MAX_DOCUMENT_BYTES: usize = 512 * 1024;
const METADATA_TTL: Duration = Duration::from_secs(3600);
const KEYS_TTL: Duration = Duration::from_secs(3600);
pub const KEY_REFRESH_MIN_INTERVAL: Duration = Duration::from_secs(10);

/// What the discovery document's issuer must be.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum IssuerRule {
    /// Exactly this string.
    Exact(String),
    /// Exactly this template with `{tenantid}` (Microsoft multi-tenant authorities).
    Template(String),
}

impl IssuerRule {
    pub fn as_str(&self) -> &str {
        match self {
            Self::Exact(s) | Self::Template(s) => s,
        }
    }
}

/// The parts of a discovery document the gateway uses.
#[derive(Debug, Clone)]
pub struct Discovered {
    pub issuer: String,
    pub authorization_endpoint: Url,
    pub token_endpoint: Url,
    pub jwks_uri: Url,
    /// `client_secret_post` only when the provider does not offer `client_secret_basic`.
    pub secret_in_body: bool,
}

#[derive(Deserialize)]
struct RawDiscovery {
    issuer: String,
    authorization_endpoint: String,
    token_endpoint: Option<String>,
    jwks_uri: String,
    #[serde(default)]
    token_endpoint_auth_methods_supported: Option<Vec<String>>,
    #[serde(default)]
    code_challenge_methods_supported: Option<Vec<String>>,
}

struct Cached<T> {
    value: Arc<T>,
    at: Instant,
}

/// The shared HTTP client and caches. One per process, in `AppState`.
pub struct Providers {
    http: reqwest::Client,
    allow_http_loopback: bool,
    metadata: DashMap<String, Cached<Discovered>>,
    keys: DashMap<String, Cached<CoreJsonWebKeySet>>,
}

impl Providers {
    pub fn new(allow_http_loopback: bool) -> Result<Self, OidcError> {
        let http = reqwest::Client::builder()
            // Following redirects would let a provider (or whoever answers for it) send
            // our token request elsewhere (openidconnect's upgrade guide: SSRF).
            .redirect(reqwest::redirect::Policy::none())
            .timeout(HTTP_TIMEOUT)
            .connect_timeout(CONNECT_TIMEOUT)
            .user_agent(concat!("gatehouse/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| OidcError::Internal(format!("HTTP client: {e}")))?;
        Ok(Self {
            http,
            allow_http_loopback,
            metadata: DashMap::new(),
            keys: DashMap::new(),
        })
    }

    pub fn http(&self) -> &reqwest::Client {
        &self.http
    }

    pub fn allow_http_loopback(&self) -> bool {
        self.allow_http_loopback
    }

    fn check_url(&self, what: &str, raw: &str) -> Result<Url, OidcError> {
        check_provider_url(raw, self.allow_http_loopback)
            .map_err(|m| OidcError::Provider(format!("{what}: {m}")))
    }

    /// GETs `url` and returns its body, refusing redirects, errors and oversized answers.
    async fn fetch(&self, what: &str, url: &Url) -> Result<Vec<u8>, OidcError> {
        let unreachable = |e: reqwest::Error| {
            let why = if e.is_timeout() {
                "timed out".to_owned()
            } else if e.is_connect() {
                "connection failed".to_owned()
            } else {
                e.to_string()
            };
            OidcError::Provider(format!("{what} at {url}: {why}"))
        };
        let mut resp = self
            .http
            .get(url.clone())
            .header("accept", "application/json")
            .send()
            .await
            .map_err(unreachable)?;
        let status = resp.status();
        if !status.is_success() {
            return Err(OidcError::Provider(format!(
                "{what} at {url} answered HTTP {status}{}",
                if status.is_redirection() {
                    " (redirects are not followed)"
                } else {
                    ""
                }
            )));
        }
        let mut body = Vec::new();
        while let Some(chunk) = resp.chunk().await.map_err(unreachable)? {
            if body.len() + chunk.len() > MAX_DOCUMENT_BYTES {
                return Err(OidcError::Provider(format!(
                    "{what} at {url} is larger than {MAX_DOCUMENT_BYTES} bytes"
                )));
            }
            body.extend_from_slice(&chunk);
        }
        Ok(body)
    }

    /// The provider's metadata from `discovery_url`, checked against `rule`; cached.
    pub async fn discover(
        &self,
        discovery_url: &str,
        rule: &IssuerRule,
    ) -> Result<Arc<Discovered>, OidcError> {
        let cache_key = format!("{discovery_url} {}", rule.as_str());
        if let Some(c) = self.metadata.get(&cache_key) {
            if c.at.elapsed() < METADATA_TTL {
                return Ok(c.value.clone());
            }
        }
        let fresh = Arc::new(self.fetch_discovery(discovery_url, rule).await?);
        self.metadata.insert(
            cache_key,
            Cached {
                value: fresh.clone(),
                at: Instant::now(),
            },
        );
        Ok(fresh)
    }

    /// Drops cached metadata so the next use refetches it (after an admin saves a connection).
    pub fn forget(&self, discovery_url: &str) {
        self.metadata
            .retain(|k, _| !k.starts_with(&format!("{discovery_url} ")));
    }

    async fn fetch_discovery(
        &self,
        discovery_url: &str,
        rule: &IssuerRule,
    ) -> Result<Discovered, OidcError> {
        let url = self.check_url("discovery URL", discovery_url)?;
        let body = self.fetch("discovery document", &url).await?;
        let raw: RawDiscovery = serde_json::from_slice(&body).map_err(|e| {
            OidcError::Provider(format!(
                "discovery document at {url} is not valid provider metadata: {e}"
            ))
        })?;
        if raw.issuer != rule.as_str() {
            return Err(OidcError::Provider(format!(
                "discovery document at {url} names issuer {:?}, expected {:?}",
                raw.issuer,
                rule.as_str()
            )));
        }
        let token_endpoint = raw.token_endpoint.ok_or_else(|| {
            OidcError::Provider(format!(
                "discovery document at {url} has no token_endpoint (the code flow needs one)"
            ))
        })?;
        if let Some(methods) = &raw.code_challenge_methods_supported {
            if !methods.iter().any(|m| m == "S256") {
                return Err(OidcError::Provider(format!(
                    "the provider at {url} does not support PKCE with S256 (code_challenge_methods_supported: {methods:?})"
                )));
            }
        }
        let methods = raw
            .token_endpoint_auth_methods_supported
            .unwrap_or_else(|| vec!["client_secret_basic".into()]);
        let basic = methods.iter().any(|m| m == "client_secret_basic");
        let post = methods.iter().any(|m| m == "client_secret_post");
        if !basic && !post {
            return Err(OidcError::Provider(format!(
                "the provider at {url} accepts neither client_secret_basic nor client_secret_post ({methods:?})"
            )));
        }
        Ok(Discovered {
            authorization_endpoint: self
                .check_url("authorization_endpoint", &raw.authorization_endpoint)?,
            token_endpoint: self.check_url("token_endpoint", &token_endpoint)?,
            jwks_uri: self.check_url("jwks_uri", &raw.jwks_uri)?,
            issuer: raw.issuer,
            secret_in_body: !basic,
        })
    }

    /// The provider's signing keys (cached).
    pub async fn keys(&self, jwks_uri: &Url) -> Result<Arc<CoreJsonWebKeySet>, OidcError> {
        if let Some(c) = self.keys.get(jwks_uri.as_str()) {
            if c.at.elapsed() < KEYS_TTL {
                return Ok(c.value.clone());
            }
        }
        self.fetch_keys(jwks_uri).await
    }

    /// Refetches the keys after a token named a `kid` we do not know, unless they were
    /// fetched moments ago (then the cached set is the answer). Returns the set to retry with.
    pub async fn refresh_keys(&self, jwks_uri: &Url) -> Result<Arc<CoreJsonWebKeySet>, OidcError> {
        if let Some(c) = self.keys.get(jwks_uri.as_str()) {
            if c.at.elapsed() < KEY_REFRESH_MIN_INTERVAL {
                return Ok(c.value.clone());
            }
        }
        self.fetch_keys(jwks_uri).await
    }

    async fn fetch_keys(&self, jwks_uri: &Url) -> Result<Arc<CoreJsonWebKeySet>, OidcError> {
        let body = self.fetch("signing keys (JWKS)", jwks_uri).await?;
        let set: CoreJsonWebKeySet = serde_json::from_slice(&body).map_err(|e| {
            OidcError::Provider(format!("signing keys at {jwks_uri} are not a JWK set: {e}"))
        })?;
        let set = Arc::new(set);
        self.keys.insert(
            jwks_uri.as_str().to_owned(),
            Cached {
                value: set.clone(),
                at: Instant::now(),
            },
        );
        Ok(set)
    }
}

/// Where the discovery document of `issuer` lives (OpenID Connect Discovery §4).
pub fn discovery_url_for(issuer: &str) -> String {
    format!(
        "{}/.well-known/openid-configuration",
        issuer.trim_end_matches('/')
    )
}
