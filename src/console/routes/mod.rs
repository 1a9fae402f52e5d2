//! Console pages under `/admin` (and the first-operator setup under `/setup/{token}`),
//! one file per page family. Every form carries the CSRF token; every handler takes an
//! [`Admin`](super::Admin) or [`Actor`](super::Actor) and checks `may_manage` for the
//! tenant in its path before reading anything ([`managed_tenant`]).

mod api_keys;
mod domains;
mod first_operator;
pub mod it_setup;
mod logs;
mod organisations;
mod overview;
mod saml;
mod users;

use actix_web::http::StatusCode;
use actix_web::{web, HttpResponse};
use serde::Deserialize;

use super::ConsoleUser;
use crate::error::Error;
use crate::saml::cert::IdpCertificate;
use crate::state::AppState;
use crate::tenant::repo as tenants;
use crate::tenant::Tenant;
use crate::web::error::PageError;

/// Certificates expiring within this many days get a warning everywhere they are shown.
pub(crate) const EXPIRY_WARNING_DAYS: i64 = 30;

pub fn configure(cfg: &mut web::ServiceConfig) {
    overview::configure(cfg);
    organisations::configure(cfg);
    saml::configure(cfg);
    users::configure(cfg);
    logs::configure(cfg);
    api_keys::configure(cfg);
    domains::configure(cfg);
    it_setup::configure(cfg);
    first_operator::configure(cfg);
}

pub(crate) type Page = Result<HttpResponse, PageError>;

/// The tenant in the path, if this admin may manage it. Another tenant's id reads as
/// "not found", so ids cannot be probed.
pub(crate) async fn managed_tenant(
    state: &AppState,
    admin: &impl ConsoleUser,
    tenant_id: &str,
) -> Result<Tenant, PageError> {
    if !admin.may_manage(tenant_id) {
        return Err(PageError::not_found());
    }
    tenants::get(&*state.store, tenant_id)
        .await?
        .ok_or_else(PageError::not_found)
}

/// Sensitive changes need a fresh sign-in; the page says so and leads back here after it.
pub(crate) fn require_recent(
    state: &AppState,
    admin: &impl ConsoleUser,
    back_to: &str,
) -> Result<(), PageError> {
    if admin.signed_in_recently(state.clock.now()) {
        return Ok(());
    }
    Err(PageError::new(
        StatusCode::FORBIDDEN,
        "Please sign in again",
        "This change affects how everyone in the organisation signs in, so it needs a sign-in from the last 10 minutes.",
        "Sign in again; you will come back to this page and can repeat the change.",
    )
    .with_action("Sign in again", super::auth::sign_in_url(back_to)))
}

pub(crate) fn form_error(err: Error) -> Result<(String, String), PageError> {
    match err {
        Error::Invalid { field, message } => Ok((field, message)),
        Error::Conflict(message) => Ok(("form".into(), message)),
        other => Err(PageError::from(other)),
    }
}

pub(crate) fn date(t: time::OffsetDateTime) -> String {
    t.date().to_string()
}

/// To the second: nanoseconds only make a table harder to read.
pub(crate) fn datetime(t: time::OffsetDateTime) -> String {
    t.replace_nanosecond(0)
        .unwrap_or(t)
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_default()
}

/// A certificate as the console shows it.
pub(crate) struct CertView {
    pub(crate) subject: String,
    pub(crate) fingerprint: String,
    pub(crate) key: String,
    pub(crate) expires: String,
    pub(crate) days_left: i64,
    pub(crate) warn: bool,
}

pub(crate) fn cert_views(certs: &[IdpCertificate], now: time::OffsetDateTime) -> Vec<CertView> {
    certs
        .iter()
        .map(|c| {
            let days_left = c.days_left(now);
            CertView {
                subject: c.subject.clone(),
                fingerprint: c.sha256_fingerprint.clone(),
                key: c.key.clone(),
                expires: date(c.not_after),
                days_left,
                warn: days_left <= EXPIRY_WARNING_DAYS,
            }
        })
        .collect()
}

#[derive(Deserialize)]
pub(crate) struct CsrfForm {
    pub(crate) csrf_token: String,
}

#[derive(Deserialize)]
pub(crate) struct NoticeQuery {
    pub(crate) notice: Option<String>,
    pub(crate) error: Option<String>,
}

/// Messages passed through a redirect are looked up, never echoed, so a link cannot put
/// arbitrary text on an admin's screen.
pub(crate) fn notice_text(code: Option<&str>) -> Option<String> {
    let text = match code? {
        "saved" => "Saved.",
        "sso_only_on" => "SSO-only is on: password login and the global Google/Microsoft buttons are refused for this organisation's people.",
        "sso_only_off" => "SSO-only is off: every sign-in method is allowed again.",
        "status" => "The person's status was changed.",
        "organisation_added" => "The organisation was added. Next, add its first admin on the Users page and set up its single sign-on.",
        "person_added" => "The person was added. They sign in through /login (with your SSO, or the password you set).",
        "role" => "The role was changed; it applies from the person's next page load.",
        "revoked" => "The person's sessions were ended on every gateway instance.",
        "key_revoked" => "The API key was revoked: it opens nothing from now on.",
        "untested" => "SSO-only cannot be switched on yet: run a successful test sign-in of the current SAML connection first.",
        "no_saml" => "SSO-only needs a working SSO connection: set up SAML and run a test sign-in first.",
        _ => return None,
    };
    Some(text.to_owned())
}
