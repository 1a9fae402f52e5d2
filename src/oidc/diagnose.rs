//! The OIDC test sign-in: every callback check spelled out, pass or fail, with what the
//! provider sent and one sentence on what to change on which side.
//!
//! The verdict is always the real code's: the browser binding and the provider's `error`
//! are judged as the callback judges them, the code exchange and the ID token by
//! [`flow::finish_traced`] (the same steps as [`flow::finish`], hence `verify::verify`).
//! The checklist reads the unverified token only to explain: it can turn a line red, never
//! turn a refused answer into a pass. What a real sign-in would do comes from
//! [`signin::decide`], the decision a real login applies, without applying it.
//!
//! Never shown: the ID token itself, the code, the access token, and the claims that are
//! secrets of the flow (`nonce`, `at_hash`, `c_hash`).

use openidconnect::core::{CoreIdToken, CoreJsonWebKeySet};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use subtle::ConstantTimeEq;
use time::OffsetDateTime;

use super::connection::{OidcConnection, Preset};
use super::flow::{self, FlowState, Stage, Target, Trace};
use super::provider::Providers;
use super::signin::{self, Authority, Decision};
use super::verify::{self, TokenCheck, Verified, VerifyError};
use super::OidcError;
use crate::error::Result;
use crate::login::federated::clean_groups;
use crate::sso_test::listed;
use crate::store::Store;
use crate::tenant::Tenant;
use crate::user::normalize_email;

/// Claims that are secrets of the flow: shown as redacted.
const REDACTED: [&str; 3] = ["nonce", "at_hash", "c_hash"];
const REDACTION: &str = "(redacted)";

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CheckKind {
    ProviderAnswer,
    StateAndBrowser,
    TokenExchange,
    Signature,
    Issuer,
    Audience,
    AuthorizedParty,
    Nonce,
    TimeWindow,
    Email,
    EmailDomain,
    Groups,
}

impl CheckKind {
    pub fn label(self) -> &'static str {
        match self {
            Self::ProviderAnswer => "Provider's answer",
            Self::StateAndBrowser => "State and browser binding",
            Self::TokenExchange => "Token exchange (code for ID token)",
            Self::Signature => "Signature, algorithm and key",
            Self::Issuer => "Issuer (iss)",
            Self::Audience => "Audience (aud, the Client ID)",
            Self::AuthorizedParty => "Authorized party (azp)",
            Self::Nonce => "Nonce (this test's request)",
            Self::TimeWindow => "Expiry, issue time and clocks",
            Self::Email => "Email claim",
            Self::EmailDomain => "Email domain",
            Self::Groups => "Groups claim (informational)",
        }
    }

    fn of(check: TokenCheck) -> Self {
        match check {
            TokenCheck::Format | TokenCheck::Signature => Self::Signature,
            TokenCheck::Issuer => Self::Issuer,
            TokenCheck::Audience => Self::Audience,
            TokenCheck::AuthorizedParty => Self::AuthorizedParty,
            TokenCheck::Nonce => Self::Nonce,
            TokenCheck::TimeWindow => Self::TimeWindow,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Check {
    pub kind: CheckKind,
    pub passed: bool,
    /// False when the answer was refused before this check could be made.
    pub checked: bool,
    pub observed: String,
    /// One sentence: what to change, and on which side. Only for failed checks.
    pub fix: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct IdentitySummary {
    /// The provider's stable subject, in words (`issuer subject`).
    pub subject: String,
    pub email: Option<String>,
    pub email_verified: bool,
    pub given_name: Option<String>,
    pub family_name: Option<String>,
    /// `None`: groups not mapped or not sent.
    pub groups: Option<Vec<String>>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Report {
    pub passed: bool,
    /// The verdict's precise cause when the answer was refused.
    pub refusal: Option<String>,
    pub checks: Vec<Check>,
    /// The provider's `iat` minus our clock (seconds).
    pub clock_difference_secs: Option<i64>,
    pub algorithm: Option<String>,
    pub key_id: Option<String>,
    /// The JWKS key the token's header names (`kid`, key type).
    pub matched_key: Option<String>,
    pub jwks_key_ids: Vec<String>,
    /// The ID token's claims with the flow's secrets redacted.
    pub claims: Option<Map<String, Value>>,
    /// Whether `claims` passed every ID token check.
    pub claims_verified: bool,
    pub identity: Option<IdentitySummary>,
}

/// What the callback received, besides the flow it names.
pub struct Callback<'a> {
    pub code: Option<&'a str>,
    pub error: Option<&'a str>,
    pub error_description: Option<&'a str>,
    /// The flow cookie matched the flow (see [`flow::same_browser`]).
    pub same_browser: bool,
}

/// Everything a diagnosis compares against.
pub struct Setting<'a> {
    pub tenant: &'a Tenant,
    pub connection: &'a OidcConnection,
    pub redirect_uri: &'a str,
    pub now: OffsetDateTime,
}

/// Runs the test: the callback's checks, the real exchange and verification, the report,
/// and what a real sign-in would do (decided, not done). Returns the report and that sentence.
pub async fn run(
    store: &dyn Store,
    providers: &Providers,
    setting: &Setting<'_>,
    flow: &FlowState,
    callback: &Callback<'_>,
) -> Result<(Report, String)> {
    let before = early_refusal(callback);
    let (verdict, trace) = match (&before, callback.code) {
        (None, Some(code)) => {
            let target = Target::tenant(setting.connection);
            flow::finish_traced(
                providers,
                &target,
                flow,
                code,
                setting.redirect_uri,
                setting.now,
            )
            .await
        }
        _ => (
            Err(OidcError::Refused(before.clone().unwrap_or_default())),
            Trace::default(),
        ),
    };
    let mut report = diagnose(setting, flow, callback, &verdict, &trace);
    let outcome = match &verdict {
        Err(_) => "nobody would be signed in: the provider's answer was refused".to_owned(),
        Ok(verified) => {
            let authority = Authority::Tenant {
                tenant: setting.tenant,
                connection: setting.connection,
            };
            match signin::identity(verified, &authority) {
                Err(why) => {
                    report.passed = false;
                    format!("would be refused: {why}")
                }
                Ok(identity) => match signin::decide(store, &authority, &identity).await? {
                    Decision::Admit { user, link } => {
                        let groups = identity
                            .groups
                            .as_deref()
                            .map_or_else(|| user.groups.clone(), clean_groups);
                        format!(
                            "would sign in as {} (existing account{}), groups: {}; created just in time: no",
                            user.email,
                            if link { ", linked to this provider account at its first sign-in" } else { "" },
                            listed(&groups)
                        )
                    }
                    Decision::Create { email, profile, .. } => format!(
                        "would sign in as {email}, groups: {}; created just in time: yes",
                        listed(&clean_groups(&profile.groups))
                    ),
                    Decision::SsoOnly(t) => {
                        report.passed = false;
                        format!("would be refused: {} allows only its own SSO", t.name)
                    }
                    Decision::Refused(why) => {
                        report.passed = false;
                        format!("would be refused: {why}")
                    }
                },
            }
        }
    };
    Ok((report, outcome))
}

/// The callback's own refusals before any exchange, in the callback's order.
fn early_refusal(cb: &Callback<'_>) -> Option<String> {
    if !cb.same_browser {
        return Some("the callback came from another browser than the one that started the login (flow cookie missing or different)".into());
    }
    if let Some(err) = cb.error {
        return Some(format!(
            "the provider answered error={:?} {:?}",
            short(err, 100),
            short(cb.error_description.unwrap_or(""), 300)
        ));
    }
    match cb.code {
        Some(c) if !c.is_empty() && c.len() <= 4096 => None,
        _ => Some("the callback carries no authorization code".into()),
    }
}

fn short(s: &str, n: usize) -> String {
    s.chars().take(n).collect()
}

fn where_hint(p: Preset) -> &'static str {
    match p {
        Preset::Okta => "in Okta (Applications › the app › Assignments)",
        Preset::EntraId => "in Entra ID (Enterprise applications › the app › Users and groups)",
        Preset::GoogleWorkspace => "in Google Cloud (the OAuth consent screen: internal, or the person added as a test user)",
        Preset::Custom => "at the provider",
    }
}

fn client_id_hint(p: Preset) -> &'static str {
    match p {
        Preset::Okta => "in Okta the audience is the app's Client ID (General tab)",
        Preset::EntraId => {
            "in Entra ID the audience is the app registration's Application (client) ID"
        }
        Preset::GoogleWorkspace => "in Google Cloud the audience is the OAuth client's Client ID",
        Preset::Custom => "the audience is the client id of the app at the provider",
    }
}

fn issuer_hint(p: Preset) -> &'static str {
    match p {
        Preset::Okta => " (Okta: https://<org>.okta.com for the org server, https://<org>.okta.com/oauth2/default for the default custom server)",
        Preset::EntraId => " (Entra ID: https://login.microsoftonline.com/<directory id>/v2.0)",
        Preset::GoogleWorkspace => " (Google: https://accounts.google.com)",
        Preset::Custom => "",
    }
}

/// The fix for an `error=` the provider sent to the callback.
fn provider_error_fix(error: &str, description: &str, s: &Setting<'_>) -> String {
    let c = s.connection;
    match error {
        "access_denied" => format!(
            "The provider refused the sign-in (access_denied): {} assign the person, or a group they are in, to the Gatehouse application, then test again.",
            where_hint(c.provider)
        ),
        "invalid_scope" => format!(
            "The provider does not allow one of the requested scopes ({}): remove it from Scopes on this page, or allow it for the app at the provider.",
            c.scopes.join(" ")
        ),
        "unauthorized_client" | "unsupported_response_type" => "The app at the provider does not allow the authorization code flow: enable the Authorization Code grant type for it at the provider.".into(),
        "invalid_request" => format!(
            "The provider refused the request ({}): check at the provider that the app's redirect URI is exactly {}.",
            short(description, 200),
            s.redirect_uri
        ),
        "login_required" | "interaction_required" | "consent_required" => "The provider needs the person to sign in or consent interactively: run the test again and complete the provider's pages.".into(),
        other => format!(
            "The provider answered {}: fix what its description says in the app's settings at the provider, then test again.",
            short(other, 100)
        ),
    }
}

/// The OAuth error code in our own token-endpoint refusal ("refused the code: invalid_grant …").
fn oauth_error(message: &str) -> Option<&str> {
    let rest = message.split("refused the code: ").nth(1)?;
    rest.split_whitespace().next()
}

fn exchange_fix(verdict: &OidcError, s: &Setting<'_>) -> String {
    let message = verdict.detail();
    match (verdict, oauth_error(&message)) {
        (OidcError::Refused(_), Some("invalid_client")) => "The provider does not accept the client credentials (invalid_client): copy the app's client secret from the provider into Client secret on this page, and check Client ID.".into(),
        (OidcError::Refused(_), Some("invalid_grant")) => format!(
            "The provider refused the code (invalid_grant): check at the provider that the app's redirect URI is exactly {}, then test again.",
            s.redirect_uri
        ),
        (OidcError::Refused(_), Some("unauthorized_client")) => "The app at the provider may not use the authorization code: enable the Authorization Code grant type for it at the provider.".into(),
        (OidcError::Refused(_), Some(code)) => format!(
            "The token endpoint answered {code}: fix the app's settings at the provider accordingly, then test again."
        ),
        _ => format!(
            "The gateway could not complete the token request: check that the provider at {} is reachable from the gateway and grants the openid scope to this app.",
            s.connection.issuer
        ),
    }
}

fn describe_key(key: &Value) -> String {
    let field = |n: &str| key.get(n).and_then(Value::as_str).unwrap_or("?").to_owned();
    let mut out = format!("kid {:?} ({}", field("kid"), field("kty"));
    if let Some(alg) = key.get("alg").and_then(Value::as_str) {
        out.push_str(", ");
        out.push_str(alg);
    }
    out.push(')');
    out
}

fn aud_list(claims: &Map<String, Value>) -> Vec<String> {
    match claims.get("aud") {
        Some(Value::String(s)) => vec![s.clone()],
        Some(Value::Array(a)) => a
            .iter()
            .filter_map(|v| v.as_str().map(str::to_owned))
            .collect(),
        _ => Vec::new(),
    }
}

fn redacted(claims: &Map<String, Value>) -> Map<String, Value> {
    claims
        .iter()
        .map(|(k, v)| {
            if REDACTED.contains(&k.as_str()) {
                (k.clone(), Value::String(REDACTION.into()))
            } else {
                (k.clone(), v.clone())
            }
        })
        .collect()
}

/// The explanation of every check, from the callback, the trace and the verdict.
pub fn diagnose(
    s: &Setting<'_>,
    flow: &FlowState,
    cb: &Callback<'_>,
    verdict: &std::result::Result<Verified, OidcError>,
    trace: &Trace,
) -> Report {
    let conn = s.connection;
    let mut checks: Vec<Check> = Vec::new();
    let mut push = |kind, checked: bool, passed: bool, observed: String, fix: String| {
        checks.push(Check {
            kind,
            passed: checked && passed,
            checked,
            observed: if checked {
                observed
            } else {
                "not reached: the answer was refused at an earlier check".into()
            },
            fix: (checked && !passed).then_some(fix),
        });
    };

    // 1. What came back to the callback.
    let provider_error = cb
        .error
        .map(|e| (short(e, 100), cb.error_description.unwrap_or("")));
    push(
        CheckKind::ProviderAnswer,
        true,
        provider_error.is_none(),
        match &provider_error {
            None => "an authorization code, no error".into(),
            Some((e, "")) => format!("error={e}"),
            Some((e, d)) => format!("error={e}: {}", short(d, 300)),
        },
        provider_error
            .as_ref()
            .map(|(e, d)| provider_error_fix(e, d, s))
            .unwrap_or_default(),
    );
    push(
        CheckKind::StateAndBrowser,
        true,
        cb.same_browser,
        if cb.same_browser {
            "this test's state, in the browser that started it".into()
        } else {
            "this test's state, but the flow cookie is missing or belongs to another browser"
                .into()
        },
        "Finish the test in the browser that started it, with cookies allowed for this site: start it again from this page.".into(),
    );
    let reached = cb.same_browser && provider_error.is_none();

    // 2. The exchange.
    let exchanged = trace.id_token.is_some();
    let exchange_observed = match (&trace.token_endpoint, exchanged, verdict) {
        (Some(url), true, _) => format!("{url} answered with an ID token"),
        (_, false, Err(e)) if reached => e.detail(),
        _ => "not reached".into(),
    };
    let exchange_failed_here =
        reached && !exchanged && matches!(trace.stage, Stage::Discovery | Stage::Exchange);
    push(
        CheckKind::TokenExchange,
        reached,
        exchanged,
        exchange_observed,
        match verdict {
            Err(e) if exchange_failed_here => match (cb.code, trace.stage) {
                (None, _) => "The provider sent no authorization code: make sure the app at the provider uses the authorization code flow (response type code).".into(),
                (_, Stage::Discovery) => format!(
                    "The gateway could not read the provider's discovery document: check Issuer on this page and that {} is reachable from the gateway.",
                    conn.issuer
                ),
                _ => exchange_fix(e, s),
            },
            _ => String::new(),
        },
    );

    // 3. The ID token, read without trust to explain the verdict.
    let compact = trace.id_token.as_deref();
    let header = compact.and_then(verify::unverified_header);
    let claims = compact.and_then(verify::unverified_payload);
    let token_ok = verdict.is_ok();
    let refused_by = trace.token_error.as_ref().map(|e| match e {
        VerifyError::Refused(check, _) => CheckKind::of(*check),
        VerifyError::UnknownKey(_) => CheckKind::Signature,
    });
    let have_token = exchanged && claims.is_some();

    let algorithm = header
        .as_ref()
        .and_then(|h| h.get("alg"))
        .and_then(Value::as_str)
        .map(|a| short(a, 32));
    let key_id = header
        .as_ref()
        .and_then(|h| h.get("kid"))
        .and_then(Value::as_str)
        .map(|k| short(k, 64));
    let jwks: Vec<Value> = trace
        .keys
        .as_ref()
        .map(|k| {
            k.keys()
                .iter()
                .filter_map(|j| serde_json::to_value(j).ok())
                .collect()
        })
        .unwrap_or_default();
    let jwks_key_ids: Vec<String> = jwks
        .iter()
        .filter_map(|k| k.get("kid").and_then(Value::as_str).map(str::to_owned))
        .collect();
    let matched = jwks.iter().find(|k| {
        let kid = k.get("kid").and_then(Value::as_str);
        match key_id.as_deref() {
            Some(want) => kid == Some(want),
            None => jwks.len() == 1,
        }
    });
    let matched_key = matched.map(describe_key);
    let signature_ok = match (token_ok, refused_by, &trace.keys, compact) {
        (true, _, _, _) => true,
        (false, Some(CheckKind::Signature), _, _) => false,
        // Refused by another check, which the crate makes before the signature: check the
        // signature alone, so this line says what it would be.
        (false, _, Some(keys), Some(c)) => signature_alone(c, keys),
        _ => false,
    };
    let alg_word = algorithm.clone().unwrap_or_else(|| "(none)".into());
    let kid_word = key_id.clone().unwrap_or_else(|| "(none)".into());
    push(
        CheckKind::Signature,
        have_token,
        signature_ok,
        format!(
            "alg {alg_word}, kid {kid_word}; {}",
            match (&matched_key, trace.keys.is_some()) {
                (Some(k), _) => format!("provider key {k}"),
                (None, true) => format!(
                    "no key in the provider's JWKS has this kid (keys: {})",
                    if jwks_key_ids.is_empty() {
                        "none".into()
                    } else {
                        jwks_key_ids.join(", ")
                    }
                ),
                (None, false) => "the provider's keys (JWKS) could not be fetched".into(),
            }
        ),
        if alg_word.eq_ignore_ascii_case("none") {
            "The provider sent an unsigned ID token (alg=none): configure the app at the provider to sign ID tokens with RS256.".into()
        } else if alg_word.to_ascii_uppercase().starts_with("HS") {
            format!("The provider signs ID tokens with {alg_word} (a shared secret), which is refused: configure the app at the provider to sign ID tokens with RS256 (its published keys).")
        } else if trace.keys.is_none() {
            "The gateway could not fetch the provider's signing keys (jwks_uri in its discovery document): check that they are reachable from the gateway.".into()
        } else if matched_key.is_none() {
            format!("No key in the provider's JWKS has kid {kid_word}: the provider signs with a key it does not publish — check the app's signing key settings at the provider (or finish its key rotation), then test again.")
        } else {
            format!("The signature does not verify with the provider's key {kid_word}: the token was altered on the way or signed with another key — check the app's signing key at the provider and any proxy in between.")
        },
    );

    let empty = Map::new();
    let c = claims.as_ref().unwrap_or(&empty);
    let iss = c.get("iss").and_then(Value::as_str).unwrap_or("");
    push(
        CheckKind::Issuer,
        have_token,
        iss == conn.issuer,
        if iss.is_empty() { "not present".into() } else { iss.to_owned() },
        format!(
            "The provider sends iss {}; set Issuer on the Gatehouse OIDC page to exactly that value if it is your provider (configured: {}){}.",
            if iss.is_empty() { "nothing" } else { iss },
            conn.issuer,
            issuer_hint(conn.provider)
        ),
    );
    let aud = aud_list(c);
    let aud_words = if aud.is_empty() {
        "nothing".to_owned()
    } else {
        aud.join(", ")
    };
    push(
        CheckKind::Audience,
        have_token,
        aud.contains(&conn.client_id),
        aud_words.clone(),
        format!(
            "The provider sends aud {aud_words}, but Client ID here is {}: {} — set Client ID on the Gatehouse OIDC page to that value.",
            conn.client_id,
            client_id_hint(conn.provider)
        ),
    );
    let azp = c.get("azp").and_then(Value::as_str);
    push(
        CheckKind::AuthorizedParty,
        have_token,
        match azp {
            Some(a) => a == conn.client_id,
            None => aud.len() <= 1,
        },
        match azp {
            Some(a) => a.to_owned(),
            None => format!("not present ({} audience{})", aud.len(), if aud.len() == 1 { "" } else { "s" }),
        },
        format!(
            "The token was issued for another client (azp {}, audiences {aud_words}): set Client ID on the Gatehouse OIDC page to the client id of the app this sign-in used, or remove the extra audiences at the provider.",
            azp.unwrap_or("missing")
        ),
    );
    let nonce = c.get("nonce").and_then(Value::as_str);
    let nonce_ok = nonce.is_some_and(|n| bool::from(n.as_bytes().ct_eq(flow.nonce.as_bytes())));
    push(
        CheckKind::Nonce,
        have_token,
        nonce_ok,
        match (nonce, nonce_ok) {
            (None, _) => "not present".into(),
            (Some(_), true) => "present, equal to this test's request (value redacted)".into(),
            (Some(_), false) => "present, but not this test's request (value redacted)".into(),
        },
        "The ID token does not carry this test's nonce: the provider must copy the nonce of the authorization request into the ID token (check token hooks or custom claims at the provider), then test again from this page.".into(),
    );
    let now = s.now.unix_timestamp();
    let skew = i64::from(conn.clock_skew_secs);
    let iat = c.get("iat").and_then(Value::as_i64);
    let exp = c.get("exp").and_then(Value::as_i64);
    let clock_difference_secs = iat.map(|t| t - now);
    let (window_ok, window_fix) = match (iat, exp) {
        (Some(_), Some(e)) if now >= e + skew => (false, format!(
            "The ID token had expired {} s before it arrived (allowed skew {skew} s): check the provider's and the gateway's clocks (NTP), then test again; raise Clock skew on this page only if the difference is expected (at most 300 s).",
            now - e
        )),
        (Some(i), Some(_)) if i > now + skew => (false, format!(
            "The provider's clock is {} s ahead of the gateway's (allowed skew {skew} s): fix the clock on the side that is wrong (NTP), or raise Clock skew on this page (at most 300 s).",
            i - now
        )),
        (Some(_), Some(_)) => (true, String::new()),
        _ => (false, "The ID token lacks exp or iat: the provider must send both (OpenID Connect Core requires them).".into()),
    };
    push(
        CheckKind::TimeWindow,
        have_token,
        window_ok,
        format!(
            "issued (iat) {}, expires (exp) {}; the provider's clock is {} ours; allowed skew {skew} s",
            iat.map_or("not set".into(), |i| format!("{:+} s from now", i - now)),
            exp.map_or("not set".into(), |e| format!("{:+} s from now", e - now)),
            clock_difference_secs.map_or("unknown relative to".into(), |d| format!("{d:+} s from")),
        ),
        window_fix,
    );

    // 4. The person: read from verified claims only.
    let identity = verdict.as_ref().ok().and_then(|v| {
        signin::identity(
            v,
            &Authority::Tenant {
                tenant: s.tenant,
                connection: conn,
            },
        )
        .ok()
    });
    let map = &conn.claims;
    let verified_claim = map.email_verified.as_deref();
    let email = identity.as_ref().and_then(|i| i.email.clone());
    let email_verified = identity.as_ref().is_some_and(|i| i.email_verified);
    let sent: Vec<&str> = c.keys().map(String::as_str).collect();
    push(
        CheckKind::Email,
        identity.is_some(),
        email.is_some() && email_verified,
        match (&email, verified_claim) {
            (None, _) => format!("no {} claim", map.email),
            (Some(e), Some(v)) => format!("{}: {e}; {v}: {}", map.email, c.get(v).map_or("not present".into(), Value::to_string)),
            (Some(e), None) => format!("{}: {e}; verification not required by the mapping", map.email),
        },
        match &email {
            None => format!(
                "The ID token has no {} claim: request the email scope (Scopes on this page) and release the email claim for the app at the provider, or set Email claim on this page to the claim your provider uses (claims sent: {}).",
                map.email,
                sent.join(", ")
            ),
            Some(_) => format!(
                "The provider does not mark the email verified ({} is false or missing): verify the address at the provider, or clear Email verified claim on this page if this provider only issues addresses it controls.",
                verified_claim.unwrap_or("email_verified")
            ),
        },
    );
    let normalized = email.as_deref().map(normalize_email);
    let domains: Vec<String> = s.tenant.domains().map(str::to_owned).collect();
    push(
        CheckKind::EmailDomain,
        email.is_some(),
        matches!(&normalized, Some(Ok((_, d))) if s.tenant.owns_domain(d)),
        match &normalized {
            Some(Ok((_, d))) => format!("{d} (this organisation: {})", domains.join(", ")),
            Some(Err(why)) => format!("the address {why}"),
            None => "no email".into(),
        },
        match &normalized {
            Some(Ok((_, d))) => format!(
                "The email's domain {d} is not one of this organisation's domains ({}): sign in with an account at one of them, or have {d} added to this organisation by your Gatehouse operator.",
                domains.join(", ")
            ),
            _ => format!(
                "The provider sends an address that is refused: send the person's plain work email in the {} claim.",
                map.email
            ),
        },
    );
    let groups_observed = match (
        &map.groups,
        identity.as_ref().and_then(|i| i.groups.as_ref()),
    ) {
        (None, _) => "not mapped (groups are not synced)".to_owned(),
        (Some(claim), Some(g)) => format!("{claim}: {}", listed(g)),
        (Some(claim), None) => format!(
            "no {claim} claim in the token (groups stay as they are){}",
            if conn.provider == Preset::Okta {
                "; Okta sends groups only with the groups scope and a groups claim filter on the app"
            } else {
                ""
            }
        ),
    };
    push(
        CheckKind::Groups,
        identity.is_some(),
        true,
        groups_observed,
        String::new(),
    );

    // The verdict is authoritative: the check it failed on is red, whatever the
    // explanations made of the unverified token.
    let refusal = verdict.as_ref().err().map(OidcError::detail);
    if let Err(err) = verdict {
        let kind = match (refused_by, trace.stage) {
            (Some(k), _) => k,
            _ if !cb.same_browser => CheckKind::StateAndBrowser,
            _ if cb.error.is_some() => CheckKind::ProviderAnswer,
            (None, Stage::Keys) => CheckKind::Signature,
            _ => CheckKind::TokenExchange,
        };
        if let Some(check) = checks.iter_mut().find(|c| c.kind == kind) {
            if !check.passed {
                check.checked = true;
            } else {
                check.passed = false;
                check.checked = true;
                check.fix = Some(err.detail());
            }
            if check.fix.is_none() {
                check.fix = Some(err.detail());
            }
        }
    }
    Report {
        passed: verdict.is_ok() && checks.iter().all(|c| c.passed),
        refusal,
        checks,
        clock_difference_secs,
        algorithm,
        key_id,
        matched_key,
        jwks_key_ids,
        claims: claims.as_ref().map(redacted),
        claims_verified: verdict.is_ok(),
        identity: identity.map(|i| IdentitySummary {
            subject: i.subject,
            email: i.email,
            email_verified: i.email_verified,
            given_name: i.given_name,
            family_name: i.family_name,
            groups: i.groups,
        }),
    }
}

/// Whether the token's signature alone verifies with `keys` (explanations only).
fn signature_alone(compact: &str, keys: &CoreJsonWebKeySet) -> bool {
    compact
        .parse::<CoreIdToken>()
        .ok()
        .is_some_and(|t| verify::signature_only(&t, keys))
}

#[cfg(test)]
mod tests;
