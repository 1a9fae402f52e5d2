//! OpenID Connect sign-in: per-tenant connections (Okta, Entra ID, Google Workspace, any
//! provider) reached through `/login/sso`, and the operator's global providers ("Continue
//! with Google", "Continue with Microsoft") reached through `/login/google` and
//! `/login/microsoft`. One redirect URI for all: `{base}/oidc/callback`.
//!
//! - `global`: the operator's provider settings (config), validated at start-up;
//! - `connection`: a tenant's connection, validated (discovery included) at save time;
//! - `provider`: discovery documents and JWKS over rustls, cached, refreshed on unknown `kid`;
//! - `flow`: authorization code + PKCE (S256), single-use `state`, `nonce`, token exchange;
//! - `verify`: the ID token checks (signature, issuer incl. Microsoft `{tenantid}`, audience,
//!   `azp`, expiry with skew, nonce; `alg=none` and HMAC refused);
//! - `signin`: verified identity → person (subject links, nOAuth guard, SSO-only, JIT),
//!   decided first (`decide`) and then carried out (`apply`);
//! - `diagnose`: the test sign-in's report per check (records live in `crate::sso_test`);
//! - `routes`: the HTTP edge.
//!
//! Security invariant: a person is identified by the provider's stable subject (`iss`+`sub`,
//! or `tid`+`oid` for Microsoft), never by an email claim alone.

pub mod connection;
pub mod diagnose;
pub mod flow;
pub mod global;
pub mod provider;
pub mod routes;
pub mod signin;
pub mod verify;

use crate::error::Error;

/// Why an OIDC step failed. `Provider`: the provider could not be reached or answered
/// something unusable (people are told to retry or call IT); `Refused`: a check failed.
#[derive(Debug, thiserror::Error)]
pub enum OidcError {
    #[error("identity provider problem: {0}")]
    Provider(String),
    #[error("{0}")]
    Refused(String),
    #[error(transparent)]
    App(#[from] Error),
    #[error("internal error: {0}")]
    Internal(String),
}

impl OidcError {
    /// The precise cause, for admins (API validation messages, login events).
    pub fn detail(&self) -> String {
        match self {
            Self::Provider(m) | Self::Refused(m) | Self::Internal(m) => m.clone(),
            Self::App(e) => e.to_string(),
        }
    }
}

impl From<crate::store::StoreError> for OidcError {
    fn from(e: crate::store::StoreError) -> Self {
        Self::App(Error::Store(e))
    }
}
