//! The authorization code flow: the request we send people to the provider with, the flow
//! state that binds the answer to it, and the token exchange.
//!
//! Invariants (SECURITY-CHECKLIST T35):
//! - `state` is 192 random bits naming the flow state in the store for ten minutes; it is
//!   taken (atomically read and deleted) at the callback, so it works once;
//! - the flow is bound to the browser that started it (a random cookie whose hash is in the
//!   state), so a code minted for someone else's account cannot be planted in a victim's
//!   browser (login CSRF);
//! - every request carries a PKCE S256 challenge whose verifier only the token request
//!   reveals, and a `nonce` the ID token must echo.

use std::sync::Arc;
use std::time::Duration;

use openidconnect::core::{CoreAuthenticationFlow, CoreClient, CoreIdToken, CoreJsonWebKeySet};
use openidconnect::{
    AuthType, AuthUrl, AuthorizationCode, ClientId, ClientSecret, CsrfToken, IssuerUrl,
    JsonWebKeySet, Nonce, OAuth2TokenResponse, PkceCodeChallenge, PkceCodeVerifier, RedirectUrl,
    RequestTokenError, Scope, TokenResponse, TokenUrl,
};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;
use time::OffsetDateTime;

use super::connection::OidcConnection;
use super::global::{Google, Microsoft};
use super::provider::{discovery_url_for, Discovered, IssuerRule, Providers};
use super::verify::{self, Expected, Verified, VerifyError};
use super::OidcError;
use crate::random;
use crate::sso_test::TestMark;
use crate::store::{decode, encode, keys, Store};

pub const FLOW_TTL: Duration = Duration::from_secs(600);

/// Who the login is with.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Origin {
    /// A tenant's own connection.
    Tenant {
        tenant_id: String,
    },
    Google,
    Microsoft,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct FlowState {
    pub origin: Origin,
    pub nonce: String,
    pub pkce_verifier: String,
    /// SHA-256 (hex) of the browser-binding cookie's value.
    pub browser: String,
    pub return_to: Option<String>,
    /// Set for a test sign-in: the callback then reports instead of signing anyone in.
    /// (Defaulted, so flows stored before tests existed still load.)
    #[serde(default)]
    pub test: Option<TestMark>,
}

/// Everything needed to talk to one provider for one login.
#[derive(Clone)]
pub struct Target {
    pub origin: Origin,
    /// For login events and logs: `google`, `microsoft`, or the tenant preset (`okta`, …).
    pub provider_name: String,
    pub discovery_url: String,
    pub issuer: IssuerRule,
    pub client_id: String,
    pub client_secret: String,
    pub scopes: Vec<String>,
    pub allowed_tenant_ids: Vec<String>,
    pub skew_secs: i64,
}

const GLOBAL_SKEW_SECS: i64 = 60;

impl Target {
    pub fn tenant(c: &OidcConnection) -> Self {
        Self {
            origin: Origin::Tenant {
                tenant_id: c.tenant_id.clone(),
            },
            provider_name: c.provider.id().to_owned(),
            discovery_url: discovery_url_for(&c.issuer),
            issuer: IssuerRule::Exact(c.issuer.clone()),
            client_id: c.client_id.clone(),
            client_secret: c.client_secret.clone(),
            scopes: c.scopes.clone(),
            allowed_tenant_ids: Vec::new(),
            skew_secs: i64::from(c.clock_skew_secs),
        }
    }

    pub fn google(g: &Google) -> Self {
        Self {
            origin: Origin::Google,
            provider_name: "google".into(),
            discovery_url: discovery_url_for(&g.issuer),
            issuer: IssuerRule::Exact(g.issuer.clone()),
            client_id: g.client_id.clone(),
            client_secret: g.client_secret.clone(),
            scopes: vec!["openid".into(), "email".into(), "profile".into()],
            allowed_tenant_ids: Vec::new(),
            skew_secs: GLOBAL_SKEW_SECS,
        }
    }

    pub fn microsoft(m: &Microsoft) -> Self {
        let issuer = if m
            .issuer_template
            .contains(super::global::TENANT_PLACEHOLDER)
        {
            IssuerRule::Template(m.issuer_template.clone())
        } else {
            IssuerRule::Exact(m.issuer_template.clone())
        };
        Self {
            origin: Origin::Microsoft,
            provider_name: "microsoft".into(),
            discovery_url: m.discovery_url.clone(),
            issuer,
            client_id: m.client_id.clone(),
            client_secret: m.client_secret.clone(),
            scopes: vec!["openid".into(), "email".into(), "profile".into()],
            allowed_tenant_ids: m.allowed_tenant_ids.clone(),
            skew_secs: GLOBAL_SKEW_SECS,
        }
    }
}

fn hash_hex(value: &str) -> String {
    Sha256::digest(value.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// A new browser-binding value for the flow cookie.
pub fn new_browser_binding() -> String {
    random::token(24)
}

fn redirect_url(redirect_uri: &str) -> Result<RedirectUrl, OidcError> {
    RedirectUrl::new(redirect_uri.to_owned())
        .map_err(|e| OidcError::Internal(format!("redirect URI {redirect_uri}: {e}")))
}

/// What a login carries besides its provider.
#[derive(Default)]
pub struct StartOptions<'a> {
    pub return_to: Option<String>,
    pub login_hint: Option<&'a str>,
    /// Marks the flow as a test sign-in.
    pub test: Option<TestMark>,
}

/// Starts a login: stores the flow state and returns the provider URL to send the browser to.
pub async fn start(
    store: &dyn Store,
    providers: &Providers,
    target: &Target,
    redirect_uri: &str,
    browser_binding: &str,
    options: StartOptions<'_>,
) -> Result<String, OidcError> {
    let StartOptions {
        return_to,
        login_hint,
        test,
    } = options;
    let discovered = providers
        .discover(&target.discovery_url, &target.issuer)
        .await?;
    let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
    let state = random::token(24);
    let nonce = random::token(24);
    let client = CoreClient::new(
        ClientId::new(target.client_id.clone()),
        IssuerUrl::from_url(discovered.authorization_endpoint.clone()),
        JsonWebKeySet::new(Vec::new()),
    )
    .set_auth_uri(AuthUrl::from_url(discovered.authorization_endpoint.clone()))
    .set_redirect_uri(redirect_url(redirect_uri)?);
    let (state_for_url, nonce_for_url) = (state.clone(), nonce.clone());
    let mut request = client
        .authorize_url(
            CoreAuthenticationFlow::AuthorizationCode,
            move || CsrfToken::new(state_for_url),
            move || Nonce::new(nonce_for_url),
        )
        .set_pkce_challenge(challenge);
    for scope in target.scopes.iter().filter(|s| *s != "openid") {
        request = request.add_scope(Scope::new(scope.clone()));
    }
    if let Some(hint) = login_hint.filter(|h| !h.is_empty() && h.len() <= 320) {
        request = request.add_extra_param("login_hint", hint.to_owned());
    }
    let (url, _, _) = request.url();
    let flow = FlowState {
        origin: target.origin.clone(),
        nonce,
        pkce_verifier: verifier.secret().clone(),
        browser: hash_hex(browser_binding),
        return_to,
        test,
    };
    store
        .put(&keys::oidc_flow(&state), &encode(&flow)?, Some(FLOW_TTL))
        .await?;
    Ok(url.to_string())
}

/// Takes (single use) the flow named by `state`.
pub async fn take(store: &dyn Store, state: &str) -> Result<Option<FlowState>, OidcError> {
    if state.is_empty() || state.len() > 128 {
        return Ok(None);
    }
    let key = keys::oidc_flow(state);
    match store.take(&key).await? {
        Some(bytes) => Ok(Some(decode(&key, &bytes)?)),
        None => Ok(None),
    }
}

/// Whether the browser presenting the callback is the one that started the flow.
pub fn same_browser(flow: &FlowState, cookie: Option<&str>) -> bool {
    match cookie {
        Some(c) if !c.is_empty() => hash_hex(c).as_bytes().ct_eq(flow.browser.as_bytes()).into(),
        _ => false,
    }
}

/// Exchanges the code (with the PKCE verifier) and checks the ID token.
pub async fn finish(
    providers: &Providers,
    target: &Target,
    flow: &FlowState,
    code: &str,
    redirect_uri: &str,
    now: OffsetDateTime,
) -> Result<Verified, OidcError> {
    finish_traced(providers, target, flow, code, redirect_uri, now)
        .await
        .0
}

/// How far a callback got, and what it saw on the way: the test sign-in's report explains
/// the verdict from this. Nothing here is believed; the verdict is [`finish`]'s result.
#[derive(Default)]
pub struct Trace {
    pub stage: Stage,
    pub token_endpoint: Option<String>,
    /// The ID token the token endpoint answered with (read for explanations, never shown).
    pub id_token: Option<String>,
    /// The key set the final check ran with.
    pub keys: Option<Arc<CoreJsonWebKeySet>>,
    /// The ID token check that refused it.
    pub token_error: Option<VerifyError>,
}

/// The last step a callback reached.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub enum Stage {
    #[default]
    Discovery,
    Exchange,
    Keys,
    IdToken,
}

/// [`finish`] with its [`Trace`]; the same steps, in the same order, with the same verdict.
pub async fn finish_traced(
    providers: &Providers,
    target: &Target,
    flow: &FlowState,
    code: &str,
    redirect_uri: &str,
    now: OffsetDateTime,
) -> (Result<Verified, OidcError>, Trace) {
    let mut trace = Trace::default();
    let verdict = steps(providers, target, flow, code, redirect_uri, now, &mut trace).await;
    (verdict, trace)
}

async fn steps(
    providers: &Providers,
    target: &Target,
    flow: &FlowState,
    code: &str,
    redirect_uri: &str,
    now: OffsetDateTime,
    trace: &mut Trace,
) -> Result<Verified, OidcError> {
    let discovered = providers
        .discover(&target.discovery_url, &target.issuer)
        .await?;
    trace.stage = Stage::Exchange;
    trace.token_endpoint = Some(discovered.token_endpoint.to_string());
    let id_token = exchange(providers, target, &discovered, flow, code, redirect_uri).await?;
    trace.id_token = Some(id_token.to_string());
    trace.stage = Stage::Keys;
    let expected = Expected {
        client_id: &target.client_id,
        issuer: target.issuer.as_str(),
        allowed_tenant_ids: &target.allowed_tenant_ids,
        nonce: &flow.nonce,
        now,
        skew_secs: target.skew_secs,
    };
    let keys = providers.keys(&discovered.jwks_uri).await?;
    trace.stage = Stage::IdToken;
    trace.keys = Some(keys.clone());
    let first = verify::verify(&id_token, &keys, &expected);
    let result = match first {
        Err(VerifyError::UnknownKey(kid)) => {
            // Keys rotate: fetch the set again (rate-limited) and retry once.
            trace.stage = Stage::Keys;
            let keys = providers.refresh_keys(&discovered.jwks_uri).await?;
            trace.stage = Stage::IdToken;
            trace.keys = Some(keys.clone());
            match verify::verify(&id_token, &keys, &expected) {
                Err(VerifyError::UnknownKey(_)) => Err(VerifyError::Refused(
                    verify::TokenCheck::Signature,
                    format!(
                        "no key in the provider's JWKS matches the ID token's {kid}, even after fetching the keys again"
                    ),
                )),
                other => other,
            }
        }
        other => other,
    };
    match result {
        Ok(v) => Ok(v),
        Err(e) => {
            let message = match &e {
                VerifyError::Refused(_, m) | VerifyError::UnknownKey(m) => m.clone(),
            };
            trace.token_error = Some(e);
            Err(OidcError::Refused(message))
        }
    }
}

async fn exchange(
    providers: &Providers,
    target: &Target,
    discovered: &Discovered,
    flow: &FlowState,
    code: &str,
    redirect_uri: &str,
) -> Result<CoreIdToken, OidcError> {
    let client = CoreClient::new(
        ClientId::new(target.client_id.clone()),
        IssuerUrl::from_url(discovered.token_endpoint.clone()),
        JsonWebKeySet::new(Vec::new()),
    )
    .set_client_secret(ClientSecret::new(target.client_secret.clone()))
    .set_token_uri(TokenUrl::from_url(discovered.token_endpoint.clone()))
    .set_redirect_uri(redirect_url(redirect_uri)?)
    .set_auth_type(if discovered.secret_in_body {
        AuthType::RequestBody
    } else {
        AuthType::BasicAuth
    });
    let endpoint = discovered.token_endpoint.as_str();
    let response = client
        .exchange_code(AuthorizationCode::new(code.to_owned()))
        .set_pkce_verifier(PkceCodeVerifier::new(flow.pkce_verifier.clone()))
        .request_async(providers.http())
        .await
        .map_err(|e| match e {
            RequestTokenError::ServerResponse(r) => OidcError::Refused(format!(
                "the token endpoint refused the code: {}{}",
                r.error().as_ref(),
                r.error_description()
                    .map(|d| format!(" ({d})"))
                    .unwrap_or_default()
            )),
            RequestTokenError::Request(e) => {
                OidcError::Provider(format!("token endpoint {endpoint} could not be reached: {e}"))
            }
            RequestTokenError::Parse(e, _) => OidcError::Provider(format!(
                "token endpoint {endpoint} answered something that is not a token response with a readable ID token: {e}"
            )),
            RequestTokenError::Other(m) => {
                OidcError::Provider(format!("token endpoint {endpoint}: {m}"))
            }
        })?;
    // The access token is not used: sign-in needs only the ID token.
    let _ = response.access_token();
    response
        .id_token()
        .cloned()
        .ok_or_else(|| OidcError::Provider("the token response carries no id_token".into()))
}
