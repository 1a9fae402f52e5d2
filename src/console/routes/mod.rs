//! Console pages under `/admin` (and the first-operator setup under `/setup/{token}`),
//! one file per page family. Every form carries the CSRF token; every handler takes an
//! [`Admin`](super::Admin) or [`Actor`](super::Actor) and checks `may_manage` for the
//! tenant in its path before reading anything ([`managed_tenant`]).

mod api_keys;
mod domains;
mod first_operator;
pub mod it_setup;
mod logs;
mod oidc;
mod organisations;
mod overview;
mod saml;
mod sso_tests;
mod users;

use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};
use serde::Deserialize;

use super::{Actor, ConsoleUser};
use crate::error::Error;
use crate::oidc::connection as oidc_connection;
use crate::saml::cert::IdpCertificate;
use crate::saml::connection::{self as saml_connection, SamlConnection};
use crate::saml::metadata_refresh;
use crate::sso_test::{self, Protocol, Via};
use crate::state::AppState;
use crate::tenant::repo as tenants;
use crate::tenant::Tenant;
use crate::web::error::PageError;
use crate::web::page::{check_csrf, see_other};

/// Certificates expiring within this many days get a warning everywhere they are shown.
pub(crate) const EXPIRY_WARNING_DAYS: i64 = 30;

pub fn configure(cfg: &mut web::ServiceConfig) {
    overview::configure(cfg);
    organisations::configure(cfg);
    saml::configure(cfg);
    oidc::configure(cfg);
    sso_tests::configure(cfg);
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

impl CertView {
    /// "expires 2026-12-01 (12 days)", or "expired on 2026-11-01".
    pub(crate) fn expiry(&self) -> String {
        if self.days_left < 0 {
            format!("expired on {}", self.expires)
        } else if self.days_left == 1 {
            format!("expires {} (1 day)", self.expires)
        } else {
            format!("expires {} ({} days)", self.expires, self.days_left)
        }
    }

    /// The marker next to a certificate within the warning period.
    pub(crate) fn warning(&self) -> Option<&'static str> {
        match (self.warn, self.days_left < 0) {
            (false, _) => None,
            (true, false) => Some("expires soon"),
            (true, true) => Some("expired"),
        }
    }
}

/// The certificate that expires first among those within the warning period (or already
/// expired), if any.
pub(crate) fn soonest_expiring(certs: Vec<CertView>) -> Option<CertView> {
    certs
        .into_iter()
        .filter(|c| c.warn)
        .min_by_key(|c| c.days_left)
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

/// The periodic refresh of a connection's metadata URL as the console shows it.
pub(crate) struct RefreshView {
    pub(crate) url: String,
    /// "every 12 h", or that only the button refreshes.
    pub(crate) every: String,
    /// When the document was last fetched and accepted.
    pub(crate) last_success: Option<String>,
    /// When the latest attempt failed, and why (while refreshes fail).
    pub(crate) failure: Option<(String, String)>,
}

/// `None` when the connection was not imported from a metadata URL.
pub(crate) async fn refresh_view(
    state: &AppState,
    connection: Option<&SamlConnection>,
) -> Result<Option<RefreshView>, PageError> {
    let Some((conn, url)) = connection.and_then(|c| Some((c, c.metadata_url.clone()?))) else {
        return Ok(None);
    };
    let status = metadata_refresh::status(&*state.store, &conn.tenant_id).await?;
    let every = match state.config.saml_metadata_refresh {
        Some(d) if d.as_secs() % 3600 == 0 => format!("every {} h", d.as_secs() / 3600),
        Some(d) => format!("every {} min", d.as_secs() / 60),
        None => "only with the button below (the periodic refresh is off)".into(),
    };
    Ok(Some(RefreshView {
        url,
        every,
        last_success: status
            .as_ref()
            .and_then(|s| s.last_success_at)
            .map(datetime),
        failure: status.and_then(|s| Some((datetime(s.last_attempt_at), s.last_error?))),
    }))
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
        "untested" => "SSO-only cannot be switched on yet: run a successful test sign-in of the current SSO connection first.",
        "no_sso" | "no_saml" => "SSO-only needs a working SSO connection: set up SAML or OpenID Connect and run a successful test sign-in first.",
        "removed" => "The connection was removed. This organisation's people cannot use single sign-on until a new connection is set up.",
        "confirm_remove" => "Not removed: tick the box that confirms the removal first.",
        "remove_sso_only" => "Not removed: SSO-only is on, so removing the connection would lock everyone out. Switch SSO-only off on the organisation's page first.",
        "metadata_unchanged" => "The IdP's metadata was fetched: nothing has changed.",
        "metadata_changed" => "The IdP's metadata had changed: the new values were applied and recorded under Logs › Configuration changes.",
        "metadata_failed" => "The metadata URL could not be used, so nothing was changed: the reason is shown under “IdP metadata URL”.",
        "metadata_superseded" => "The settings were saved while the metadata was being fetched, so nothing was applied. Refresh again to compare with the saved settings.",
        "metadata_none" => "This connection was not imported from a metadata URL: there is nothing to refresh.",
        _ => return None,
    };
    Some(text.to_owned())
}

#[derive(Deserialize)]
pub(crate) struct RemoveForm {
    pub(crate) csrf_token: String,
    /// The confirmation checkbox.
    #[serde(default)]
    pub(crate) confirm: Option<String>,
}

/// The console page of the tenant's connection of `protocol`.
fn connection_page(tenant_id: &str, protocol: Protocol) -> String {
    match protocol {
        Protocol::Saml => format!("/admin/tenants/{tenant_id}/saml"),
        Protocol::Oidc => format!("/admin/tenants/{tenant_id}/oidc"),
    }
}

/// "Test sign-in" on the SAML and OIDC pages: records a test as started and sends the
/// browser into the real flow marked as a test, so that its end (the ACS or the OIDC
/// callback) shows a report instead of signing anyone in. Both pages' CSP lets their form
/// go on to the IdP. Without a connection of that protocol, back to its page.
pub(crate) async fn start_test(
    req: &HttpRequest,
    state: &AppState,
    admin: &Actor,
    tenant_id: &str,
    form: &CsrfForm,
    protocol: Protocol,
) -> Page {
    check_csrf(req, &form.csrf_token)?;
    let tenant = managed_tenant(state, admin, tenant_id).await?;
    let store = &*state.store;
    let configured = match protocol {
        Protocol::Saml => saml_connection::get(store, &tenant.id).await?.is_some(),
        Protocol::Oidc => oidc_connection::get(store, &tenant.id).await?.is_some(),
    };
    if !configured {
        return Ok(see_other(&connection_page(&tenant.id, protocol)));
    }
    let mark = sso_test::begin(
        store,
        state.clock.now(),
        &tenant.id,
        protocol,
        &admin.test_runner(),
        Via::Console,
    )
    .await?;
    sso_test::routes::start_flow(req, state, &tenant, mark).await
}

/// "Remove this connection" on the SAML and OIDC pages: a tenant has one SSO connection,
/// so switching protocols starts here. Needs a recent sign-in and the confirmation box;
/// refused while SSO-only is on (nobody could sign in afterwards).
pub(crate) async fn remove_connection(
    req: &HttpRequest,
    state: &AppState,
    admin: &Actor,
    tenant_id: &str,
    form: &RemoveForm,
    protocol: Protocol,
) -> Page {
    check_csrf(req, &form.csrf_token)?;
    let tenant = managed_tenant(state, admin, tenant_id).await?;
    let page = connection_page(&tenant.id, protocol);
    require_recent(state, admin, &page)?;
    if form.confirm.is_none() {
        return Ok(see_other(&format!("{page}?error=confirm_remove")));
    }
    if sso_test::check_removable(&tenant).is_err() {
        return Ok(see_other(&format!("{page}?error=remove_sso_only")));
    }
    let by = admin.changed_by();
    let store = &*state.store;
    let removed = match protocol {
        Protocol::Saml => saml_connection::delete(store, &*state.clock, &tenant.id, &by).await?,
        Protocol::Oidc => oidc_connection::delete(store, &*state.clock, &tenant.id, &by).await?,
    };
    tracing::info!(tenant = %tenant.id, by = %admin.display_name(), removed, protocol = protocol.label(), "SSO connection removed in the console");
    Ok(see_other(&format!("{page}?notice=removed")))
}
