//! Console pages under `/admin` and the first-operator setup under `/setup/{token}`.
//! Every form carries the CSRF token; every handler takes an [`Admin`] and checks
//! [`Admin::may_manage`] for the tenant in its path before reading anything.

use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};
use askama::Template;
use serde::Deserialize;

use super::setup::{self, FirstOperator};
use super::{Actor, Admin, ConsoleUser, Nav};
use crate::apikey::repo::{self as apikeys, NewApiKey};
use crate::apikey::Scope;
use crate::audit::login::{self as login_events, LoginEvent, Outcome};
use crate::audit::Window;
use crate::error::Error;
use crate::saml::cert::IdpCertificate;
use crate::saml::connection::{self, Provider, SamlConnection, SamlConnectionInput};
use crate::saml::diagnose::Check;
use crate::saml::{flow, sp, sp_key, test_login};
use crate::session::store as sessions;
use crate::session::{LoginMethod, Session};
use crate::state::AppState;
use crate::tenant::repo::{self as tenants, TenantUpdate};
use crate::tenant::Tenant;
use crate::user::repo::{self as users, UserUpdate};
use crate::user::{User, UserStatus};
use crate::web::cookies;
use crate::web::error::PageError;
use crate::web::extract::client_info;
use crate::web::page::{check_csrf, html, see_other, with_forms};

/// Certificates expiring within this many days get a warning everywhere they are shown.
const EXPIRY_WARNING_DAYS: i64 = 30;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/admin", web::get().to(get_home))
        .route("/admin/tenants/{tenant_id}", web::get().to(get_tenant))
        .route(
            "/admin/tenants/{tenant_id}/sso-only",
            web::post().to(post_sso_only),
        )
        .route("/admin/tenants/{tenant_id}/saml", web::get().to(get_saml))
        .route("/admin/tenants/{tenant_id}/saml", web::post().to(post_saml))
        .route(
            "/admin/tenants/{tenant_id}/saml/test",
            web::post().to(post_saml_test),
        )
        .route("/admin/tests/{test_id}", web::get().to(get_test))
        .route("/admin/tenants/{tenant_id}/users", web::get().to(get_users))
        .route(
            "/admin/tenants/{tenant_id}/users/{user_id}/status",
            web::post().to(post_user_status),
        )
        .route(
            "/admin/tenants/{tenant_id}/users/{user_id}/sessions/revoke",
            web::post().to(post_revoke_sessions),
        )
        .route("/admin/tenants/{tenant_id}/logs", web::get().to(get_logs))
        .route(
            "/admin/tenants/{tenant_id}/api-keys",
            web::get().to(get_api_keys),
        )
        .route(
            "/admin/tenants/{tenant_id}/api-keys",
            web::post().to(post_api_key),
        )
        .route(
            "/admin/tenants/{tenant_id}/api-keys/{key_id}/revoke",
            web::post().to(post_revoke_api_key),
        )
        .route("/setup/{token}", web::get().to(get_setup))
        .route("/setup/{token}", web::post().to(post_setup));
}

pub(super) type Page = Result<HttpResponse, PageError>;

/// The tenant in the path, if this admin may manage it. Another tenant's id reads as
/// "not found", so ids cannot be probed.
pub(super) async fn managed_tenant(
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
pub(super) fn require_recent(
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

pub(super) fn form_error(err: Error) -> Result<(String, String), PageError> {
    match err {
        Error::Invalid { field, message } => Ok((field, message)),
        Error::Conflict(message) => Ok(("form".into(), message)),
        other => Err(PageError::from(other)),
    }
}

fn date(t: time::OffsetDateTime) -> String {
    t.date().to_string()
}

/// To the second: nanoseconds only make a table harder to read.
pub(super) fn datetime(t: time::OffsetDateTime) -> String {
    t.replace_nanosecond(0)
        .unwrap_or(t)
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_default()
}

/// A certificate as the console shows it.
struct CertView {
    subject: String,
    fingerprint: String,
    key: String,
    expires: String,
    days_left: i64,
    warn: bool,
}

fn cert_views(certs: &[IdpCertificate], now: time::OffsetDateTime) -> Vec<CertView> {
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

// ---------------------------------------------------------------- home and tenant

#[derive(Template)]
#[template(path = "console/tenants.html")]
struct TenantsPage {
    admin_email: String,
    tenants: Vec<Tenant>,
    csrf_token: String,
}

impl Nav for TenantsPage {}

async fn get_home(req: HttpRequest, admin: Admin, state: web::Data<AppState>) -> Page {
    if !admin.is_operator() {
        return Ok(see_other(&format!(
            "/admin/tenants/{}",
            admin.user.tenant_id
        )));
    }
    let (tenants, _) = tenants::list(&*state.store, 0, 500).await?;
    with_forms(&req, &state.config, StatusCode::OK, |csrf_token| {
        TenantsPage {
            admin_email: admin.user.email.clone(),
            tenants,
            csrf_token,
        }
    })
}

#[derive(Template)]
#[template(path = "console/tenant.html")]
struct TenantPage {
    admin_email: String,
    is_operator: bool,
    tenant: Tenant,
    saml: Option<SamlConnection>,
    tested_at: Option<String>,
    certificates: Vec<CertView>,
    expiring_soon: bool,
    notice: Option<String>,
    error: Option<String>,
    csrf_token: String,
}

impl Nav for TenantPage {}

#[derive(Deserialize)]
struct NoticeQuery {
    notice: Option<String>,
    error: Option<String>,
}

/// Messages passed through a redirect are looked up, never echoed, so a link cannot put
/// arbitrary text on an admin's screen.
fn notice_text(code: Option<&str>) -> Option<String> {
    let text = match code? {
        "saved" => "Saved.",
        "sso_only_on" => "SSO-only is on: password login and the global Google/Microsoft buttons are refused for this organisation's people.",
        "sso_only_off" => "SSO-only is off: every sign-in method is allowed again.",
        "status" => "The person's status was changed.",
        "revoked" => "The person's sessions were ended on every gateway instance.",
        "key_revoked" => "The API key was revoked: it opens nothing from now on.",
        "untested" => "SSO-only cannot be switched on yet: run a successful test sign-in of the current SAML connection first.",
        "no_saml" => "SSO-only needs a working SSO connection: set up SAML and run a test sign-in first.",
        _ => return None,
    };
    Some(text.to_owned())
}

async fn get_tenant(
    req: HttpRequest,
    admin: Admin,
    path: web::Path<String>,
    query: web::Query<NoticeQuery>,
    state: web::Data<AppState>,
) -> Page {
    let tenant = managed_tenant(&state, &admin, &path).await?;
    let saml = connection::get(&*state.store, &tenant.id).await?;
    let tested_at = match &saml {
        Some(c) => test_login::passed_at(&*state.store, c).await?.map(datetime),
        None => None,
    };
    let now = state.clock.now();
    let certificates = saml
        .as_ref()
        .map(|c| cert_views(&c.certificates, now))
        .unwrap_or_default();
    let expiring_soon = certificates.iter().any(|c| c.warn);
    with_forms(&req, &state.config, StatusCode::OK, |csrf_token| {
        TenantPage {
            admin_email: admin.user.email.clone(),
            is_operator: admin.is_operator(),
            tenant,
            saml,
            tested_at,
            certificates,
            expiring_soon,
            notice: notice_text(query.notice.as_deref()),
            error: notice_text(query.error.as_deref()),
            csrf_token,
        }
    })
}

#[derive(Deserialize)]
struct SsoOnlyForm {
    csrf_token: String,
    enabled: String,
}

async fn post_sso_only(
    req: HttpRequest,
    admin: Admin,
    path: web::Path<String>,
    form: web::Form<SsoOnlyForm>,
    state: web::Data<AppState>,
) -> Page {
    check_csrf(&req, &form.csrf_token)?;
    let tenant = managed_tenant(&state, &admin, &path).await?;
    let back = format!("/admin/tenants/{}", tenant.id);
    let enable = form.enabled == "on";
    if enable && !tenant.sso_only {
        require_recent(&state, &admin, &back)?;
        if let Err(e) = test_login::require_passed(&*state.store, &tenant.id).await {
            let code = match connection::get(&*state.store, &tenant.id).await? {
                Some(_) => "untested",
                None => "no_saml",
            };
            tracing::info!(tenant = %tenant.id, admin = %admin.user.id, cause = %e, "SSO-only refused");
            return Ok(see_other(&format!("{back}?error={code}")));
        }
    }
    tenants::update(
        &*state.store,
        &*state.clock,
        &tenant.id,
        TenantUpdate {
            sso_only: Some(enable),
            ..TenantUpdate::default()
        },
    )
    .await?;
    tracing::info!(tenant = %tenant.id, admin = %admin.user.id, enable, "SSO-only changed");
    let code = if enable {
        "sso_only_on"
    } else {
        "sso_only_off"
    };
    Ok(see_other(&format!("{back}?notice={code}")))
}

// ---------------------------------------------------------------- SAML settings

/// The form as typed: strings throughout, so a refused save shows exactly what was sent.
#[derive(Debug, Default, Deserialize)]
struct SamlForm {
    csrf_token: String,
    #[serde(default)]
    provider: String,
    #[serde(default)]
    idp_entity_id: String,
    #[serde(default)]
    idp_sso_url: String,
    #[serde(default)]
    certificate: String,
    #[serde(default)]
    metadata_xml: String,
    #[serde(default)]
    metadata_url: String,
    #[serde(default)]
    allow_idp_initiated: Option<String>,
    #[serde(default)]
    jit_provisioning: Option<String>,
    #[serde(default)]
    sign_authn_requests: Option<String>,
    #[serde(default)]
    default_return_url: String,
}

struct ProviderOption {
    value: &'static str,
    label: &'static str,
    selected: bool,
}

const PROVIDERS: [(&str, Provider); 6] = [
    ("okta", Provider::Okta),
    ("onelogin", Provider::Onelogin),
    ("jumpcloud", Provider::Jumpcloud),
    ("entra_id", Provider::EntraId),
    ("google_workspace", Provider::GoogleWorkspace),
    ("custom", Provider::Custom),
];

fn provider_options(selected: &str) -> Vec<ProviderOption> {
    PROVIDERS
        .iter()
        .map(|(value, p)| ProviderOption {
            value,
            label: p.label(),
            selected: *value == selected,
        })
        .collect()
}

#[derive(Template)]
#[template(path = "console/saml.html")]
struct SamlPage {
    admin_email: String,
    is_operator: bool,
    guest: bool,
    tenant: Tenant,
    sp_entity_id: String,
    sp_acs_url: String,
    sp_metadata_url: String,
    sp_signing_certificate: Option<String>,
    providers: Vec<ProviderOption>,
    form: SamlForm,
    configured: bool,
    certificates: Vec<CertView>,
    error: Option<(String, String)>,
    notice: Option<String>,
    csrf_token: String,
}

impl Nav for SamlPage {
    fn guest(&self) -> bool {
        self.guest
    }
}

fn form_from(conn: &SamlConnection) -> SamlForm {
    let provider = PROVIDERS
        .iter()
        .find(|(_, p)| *p == conn.provider)
        .map_or("custom", |(v, _)| v);
    SamlForm {
        provider: provider.to_owned(),
        idp_entity_id: conn.idp_entity_id.clone(),
        idp_sso_url: conn.idp_sso_url.clone(),
        metadata_url: conn.metadata_url.clone().unwrap_or_default(),
        allow_idp_initiated: conn.allow_idp_initiated.then(|| "on".into()),
        jit_provisioning: conn.jit_provisioning.then(|| "on".into()),
        sign_authn_requests: conn.sign_authn_requests.then(|| "on".into()),
        default_return_url: conn.default_return_url.clone().unwrap_or_default(),
        ..SamlForm::default()
    }
}

async fn render_saml(
    req: &HttpRequest,
    state: &AppState,
    admin: &Actor,
    tenant: Tenant,
    form: Option<SamlForm>,
    error: Option<(String, String)>,
    notice: Option<String>,
) -> Page {
    let endpoints = sp::endpoints(&state.config.base_url, &tenant.primary_domain);
    let existing = connection::get(&*state.store, &tenant.id).await?;
    let sp_signing_certificate = match &existing {
        Some(c) if c.sign_authn_requests => Some(
            sp_key::for_base_url(&*state.store, &state.config.base_url)
                .await?
                .cert_pem(),
        ),
        _ => None,
    };
    let form = form
        .or_else(|| existing.as_ref().map(form_from))
        .unwrap_or_else(|| SamlForm {
            provider: "okta".into(),
            ..SamlForm::default()
        });
    let certificates = existing
        .as_ref()
        .map(|c| cert_views(&c.certificates, state.clock.now()))
        .unwrap_or_default();
    let status = if error.is_some() {
        StatusCode::BAD_REQUEST
    } else {
        StatusCode::OK
    };
    let mut resp = with_forms(req, &state.config, status, |csrf_token| SamlPage {
        admin_email: admin.display_name(),
        guest: admin.is_guest(),
        is_operator: admin.is_operator(),
        sp_metadata_url: endpoints.entity_id.clone(),
        sp_entity_id: endpoints.entity_id,
        sp_acs_url: endpoints.acs_url,
        sp_signing_certificate,
        providers: provider_options(&form.provider),
        configured: existing.is_some(),
        certificates,
        tenant,
        form,
        error,
        notice,
        csrf_token,
    })?;
    // Browsers check `form-action` of the page holding the form against every redirect
    // that follows its submission: the "Test sign-in" form ends at the IdP.
    resp.headers_mut().insert(
        actix_web::http::header::CONTENT_SECURITY_POLICY,
        actix_web::http::header::HeaderValue::from_static(crate::web::middleware::CSP_SSO_FORMS),
    );
    Ok(resp)
}

async fn get_saml(
    req: HttpRequest,
    admin: Actor,
    path: web::Path<String>,
    query: web::Query<NoticeQuery>,
    state: web::Data<AppState>,
) -> Page {
    let tenant = managed_tenant(&state, &admin, &path).await?;
    let notice = notice_text(query.notice.as_deref());
    render_saml(&req, &state, &admin, tenant, None, None, notice).await
}

fn input_from(form: &SamlForm, existing: Option<&SamlConnection>) -> SamlConnectionInput {
    let text = |s: &str| Some(s.trim().to_owned()).filter(|s| !s.is_empty());
    let provider = PROVIDERS
        .iter()
        .find(|(v, _)| *v == form.provider)
        .map(|(_, p)| *p);
    let mut certificate = text(&form.certificate);
    let new_metadata = text(&form.metadata_xml).is_some() || text(&form.metadata_url).is_some();
    // Left blank on an existing connection: keep the certificates it has.
    if certificate.is_none() && !new_metadata {
        certificate = existing.map(|c| {
            c.certificates
                .iter()
                .map(|cert| cert.der_base64.clone())
                .collect::<Vec<_>>()
                .join("\n")
        });
    }
    SamlConnectionInput {
        provider,
        idp_entity_id: text(&form.idp_entity_id),
        idp_sso_url: text(&form.idp_sso_url),
        certificate,
        metadata_xml: text(&form.metadata_xml),
        metadata_url: text(&form.metadata_url),
        // Attribute names follow the provider preset; keep a custom mapping once set.
        attributes: existing
            .filter(|c| Some(c.provider) == provider)
            .map(|c| c.attributes.clone()),
        allow_idp_initiated: form.allow_idp_initiated.is_some(),
        jit_provisioning: form.jit_provisioning.is_some(),
        sign_authn_requests: form.sign_authn_requests.is_some(),
        allow_sha1: existing.is_some_and(|c| c.allow_sha1),
        clock_skew_secs: existing.map(|c| c.clock_skew_secs),
        default_return_url: text(&form.default_return_url),
    }
}

async fn post_saml(
    req: HttpRequest,
    admin: Actor,
    path: web::Path<String>,
    form: web::Form<SamlForm>,
    state: web::Data<AppState>,
) -> Page {
    check_csrf(&req, &form.csrf_token)?;
    let tenant = managed_tenant(&state, &admin, &path).await?;
    let back = format!("/admin/tenants/{}/saml", tenant.id);
    // Certificates decide who can sign in as anyone in the organisation.
    require_recent(&state, &admin, &back)?;
    let form = form.into_inner();
    let existing = connection::get(&*state.store, &tenant.id).await?;
    let input = input_from(&form, existing.as_ref());
    match connection::save(
        &*state.store,
        &*state.clock,
        state.config.outbound,
        &tenant.id,
        input,
    )
    .await
    {
        Ok(_) => {
            tracing::info!(tenant = %tenant.id, admin = %admin.display_name(), "SAML connection saved in the console");
            Ok(see_other(&format!("{back}?notice=saved")))
        }
        Err(e) => {
            let error = form_error(e)?;
            render_saml(&req, &state, &admin, tenant, Some(form), Some(error), None).await
        }
    }
}

#[derive(Deserialize)]
pub(super) struct CsrfForm {
    pub(super) csrf_token: String,
}

/// Starts a real SP-initiated flow marked as a test; the ACS ends it on a report.
async fn post_saml_test(
    req: HttpRequest,
    admin: Actor,
    path: web::Path<String>,
    form: web::Form<CsrfForm>,
    state: web::Data<AppState>,
) -> Page {
    check_csrf(&req, &form.csrf_token)?;
    let tenant = managed_tenant(&state, &admin, &path).await?;
    let Some(conn) = connection::get(&*state.store, &tenant.id).await? else {
        return Ok(see_other(&format!("/admin/tenants/{}/saml", tenant.id)));
    };
    let endpoints = sp::endpoints(&state.config.base_url, &tenant.primary_domain);
    let signer = match conn.sign_authn_requests {
        true => Some(sp_key::for_base_url(&*state.store, &state.config.base_url).await?),
        false => None,
    };
    let target = flow::start(
        &*state.store,
        &conn,
        &endpoints,
        signer.as_ref(),
        None,
        Some(admin.test_runner()),
        state.clock.now(),
    )
    .await?;
    // The browser goes on to the IdP; the SAML page's CSP allows that (see render_saml).
    Ok(see_other(&target))
}

#[derive(Template)]
#[template(path = "console/test_report.html")]
struct TestReportPage {
    admin_email: String,
    is_operator: bool,
    guest: bool,
    tenant: Tenant,
    at: String,
    passed: bool,
    outcome: String,
    refusal: Option<String>,
    checks: Vec<CheckView>,
    clock_difference: String,
    signing_certificate: String,
    configured_certificates: Vec<String>,
    identity: Option<crate::saml::diagnose::IdentitySummary>,
    response_xml: String,
    csrf_token: String,
}

impl Nav for TestReportPage {
    fn guest(&self) -> bool {
        self.guest
    }
}

struct CheckView {
    label: &'static str,
    passed: bool,
    checked: bool,
    observed: String,
    fix: String,
}

impl From<&Check> for CheckView {
    fn from(c: &Check) -> Self {
        Self {
            label: c.kind.label(),
            passed: c.passed,
            checked: c.checked,
            observed: c.observed.clone(),
            fix: c.fix.clone().unwrap_or_default(),
        }
    }
}

async fn get_test(
    req: HttpRequest,
    admin: Actor,
    path: web::Path<String>,
    state: web::Data<AppState>,
) -> Page {
    let record = test_login::get(&*state.store, &path)
        .await?
        .ok_or_else(PageError::not_found)?;
    let tenant = managed_tenant(&state, &admin, &record.tenant_id).await?;
    let r = &record.report;
    with_forms(&req, &state.config, StatusCode::OK, |csrf_token| {
        TestReportPage {
            admin_email: admin.display_name(),
            guest: admin.is_guest(),
            is_operator: admin.is_operator(),
            tenant,
            at: datetime(record.at),
            passed: r.passed,
            outcome: record.outcome.clone(),
            refusal: r.refusal.clone(),
            checks: r.checks.iter().map(CheckView::from).collect(),
            clock_difference: r
                .clock_difference_secs
                .map_or_else(|| "unknown".into(), |d| format!("{d:+} s")),
            signing_certificate: r
                .signing_certificate
                .clone()
                .unwrap_or_else(|| "not included in the response".into()),
            configured_certificates: r.configured_certificates.clone(),
            identity: r.identity.clone(),
            response_xml: r.response_xml.clone(),
            csrf_token,
        }
    })
}

// ---------------------------------------------------------------- users

struct UserRow {
    user: User,
    status: &'static str,
    sessions: Vec<Session>,
}

#[derive(Template)]
#[template(path = "console/users.html")]
struct UsersPage {
    admin_email: String,
    is_operator: bool,
    tenant: Tenant,
    q: String,
    rows: Vec<UserRow>,
    total: usize,
    notice: Option<String>,
    csrf_token: String,
}

impl Nav for UsersPage {}

#[derive(Deserialize)]
struct UsersQuery {
    #[serde(default)]
    q: String,
    notice: Option<String>,
}

fn status_label(status: UserStatus) -> &'static str {
    match status {
        UserStatus::Active => "active",
        UserStatus::Deactivated => "deactivated",
        UserStatus::Deprovisioned => "deprovisioned by SCIM",
    }
}

const USERS_SHOWN: usize = 200;

async fn get_users(
    req: HttpRequest,
    admin: Admin,
    path: web::Path<String>,
    query: web::Query<UsersQuery>,
    state: web::Data<AppState>,
) -> Page {
    let tenant = managed_tenant(&state, &admin, &path).await?;
    let needle = query.q.trim().to_lowercase();
    let (all, total) = users::list(&*state.store, &tenant.id, 0, 5_000).await?;
    let mut rows = Vec::new();
    for user in all.into_iter().filter(|u| {
        needle.is_empty()
            || u.email.contains(&needle)
            || u.display_name
                .as_deref()
                .is_some_and(|n| n.to_lowercase().contains(&needle))
            || u.groups.iter().any(|g| g.to_lowercase().contains(&needle))
    }) {
        if rows.len() == USERS_SHOWN {
            break;
        }
        let sessions = sessions::list_for_user(&*state.store, &user.id).await?;
        rows.push(UserRow {
            status: status_label(user.status),
            user,
            sessions,
        });
    }
    with_forms(&req, &state.config, StatusCode::OK, |csrf_token| {
        UsersPage {
            admin_email: admin.user.email.clone(),
            is_operator: admin.is_operator(),
            tenant,
            q: query.q.clone(),
            rows,
            total,
            notice: notice_text(query.notice.as_deref()),
            csrf_token,
        }
    })
}

#[derive(Deserialize)]
struct StatusForm {
    csrf_token: String,
    status: UserStatus,
}

async fn post_user_status(
    req: HttpRequest,
    admin: Admin,
    path: web::Path<(String, String)>,
    form: web::Form<StatusForm>,
    state: web::Data<AppState>,
) -> Page {
    check_csrf(&req, &form.csrf_token)?;
    let (tenant_id, user_id) = path.into_inner();
    let tenant = managed_tenant(&state, &admin, &tenant_id).await?;
    users::update(
        &*state.store,
        &*state.clock,
        &tenant.id,
        &user_id,
        UserUpdate {
            status: Some(form.status),
            ..UserUpdate::default()
        },
    )
    .await?;
    tracing::info!(tenant = %tenant.id, admin = %admin.user.id, user = %user_id, status = ?form.status, "user status changed in the console");
    Ok(see_other(&format!(
        "/admin/tenants/{}/users?notice=status",
        tenant.id
    )))
}

async fn post_revoke_sessions(
    req: HttpRequest,
    admin: Admin,
    path: web::Path<(String, String)>,
    form: web::Form<CsrfForm>,
    state: web::Data<AppState>,
) -> Page {
    check_csrf(&req, &form.csrf_token)?;
    let (tenant_id, user_id) = path.into_inner();
    let tenant = managed_tenant(&state, &admin, &tenant_id).await?;
    let user = users::require_in_tenant(&*state.store, &tenant.id, &user_id).await?;
    let ended = sessions::revoke_all_for_user(&*state.store, &user.id).await?;
    tracing::info!(tenant = %tenant.id, admin = %admin.user.id, user = %user.id, ended, "sessions revoked in the console");
    Ok(see_other(&format!(
        "/admin/tenants/{}/users?notice=revoked",
        tenant.id
    )))
}

// ---------------------------------------------------------------- logs

#[derive(Template)]
#[template(path = "console/logs.html")]
struct LogsPage {
    admin_email: String,
    is_operator: bool,
    tenant: Tenant,
    events: Vec<EventRow>,
    email: String,
    outcome: String,
    since: String,
    until: String,
    csrf_token: String,
}

impl Nav for LogsPage {}

struct EventRow {
    at: String,
    reference: String,
    method: &'static str,
    provider: String,
    succeeded: bool,
    test: bool,
    email: String,
    cause: String,
}

#[derive(Deserialize)]
struct LogsQuery {
    #[serde(default)]
    email: String,
    #[serde(default)]
    outcome: String,
    /// `YYYY-MM-DD` (start of day, UTC) or RFC 3339.
    #[serde(default)]
    since: String,
    #[serde(default)]
    until: String,
}

/// A date or date-time from a filter field; `end_of_day` for an "until" date.
fn parse_when(raw: &str, end_of_day: bool) -> Result<Option<time::OffsetDateTime>, String> {
    let raw = raw.trim();
    if raw.is_empty() {
        return Ok(None);
    }
    if let Ok(t) = time::OffsetDateTime::parse(raw, &time::format_description::well_known::Rfc3339)
    {
        return Ok(Some(t));
    }
    let format = time::macros::format_description!("[year]-[month]-[day]");
    let day = time::Date::parse(raw, &format).map_err(|_| format!("\"{raw}\" is not a date."))?;
    let time = if end_of_day {
        time::Time::from_hms(23, 59, 59).unwrap_or(time::Time::MIDNIGHT)
    } else {
        time::Time::MIDNIGHT
    };
    Ok(Some(day.with_time(time).assume_utc()))
}

async fn get_logs(
    req: HttpRequest,
    admin: Admin,
    path: web::Path<String>,
    query: web::Query<LogsQuery>,
    state: web::Data<AppState>,
) -> Page {
    let tenant = managed_tenant(&state, &admin, &path).await?;
    let q = query.into_inner();
    let bad_date = |message: String| {
        PageError::new(
            StatusCode::BAD_REQUEST,
            "Please check the dates",
            message,
            "Use the form YYYY-MM-DD, e.g. 2026-11-23, or leave the field empty.",
        )
        .with_action(
            "Back to the logs",
            format!("/admin/tenants/{}/logs", tenant.id),
        )
    };
    let window = Window {
        since: parse_when(&q.since, false).map_err(bad_date)?,
        until: parse_when(&q.until, true).map_err(bad_date)?,
        limit: 200,
    };
    let filter = login_events::Filter {
        outcome: match q.outcome.as_str() {
            "succeeded" => Some(Outcome::Succeeded),
            "refused" => Some(Outcome::Refused),
            _ => None,
        },
        email: Some(q.email.trim().to_owned()).filter(|e| !e.is_empty()),
    };
    let events = login_events::list(&*state.store, &tenant.id, window, &filter).await?;
    let events = events
        .into_iter()
        .map(|e: LoginEvent| EventRow {
            at: datetime(e.at),
            method: e.method.as_str(),
            provider: e.provider.unwrap_or_default(),
            succeeded: e.outcome == Outcome::Succeeded,
            test: e.test,
            email: e.email.unwrap_or_default(),
            cause: e.cause.unwrap_or_default(),
            reference: e.reference,
        })
        .collect();
    with_forms(&req, &state.config, StatusCode::OK, |csrf_token| LogsPage {
        admin_email: admin.user.email.clone(),
        is_operator: admin.is_operator(),
        tenant,
        events,
        email: q.email,
        outcome: q.outcome,
        since: q.since,
        until: q.until,
        csrf_token,
    })
}

// ---------------------------------------------------------------- API keys

struct KeyRow {
    id: String,
    label: String,
    scopes: String,
    created: String,
    last_used: String,
    revoked: Option<String>,
}

#[derive(Template)]
#[template(path = "console/api_keys.html")]
struct ApiKeysPage {
    admin_email: String,
    is_operator: bool,
    guest: bool,
    tenant: Tenant,
    keys: Vec<KeyRow>,
    scim_base_url: String,
    /// A key just created: its secret, shown this once.
    created: Option<(String, String)>,
    error: Option<(String, String)>,
    notice: Option<String>,
    csrf_token: String,
}

impl Nav for ApiKeysPage {
    fn guest(&self) -> bool {
        self.guest
    }
}

fn scope_names(scopes: &[Scope]) -> String {
    scopes
        .iter()
        .map(|s| match s {
            Scope::Scim => "scim",
            Scope::Admin => "admin",
        })
        .collect::<Vec<_>>()
        .join(", ")
}

async fn render_api_keys(
    req: &HttpRequest,
    state: &AppState,
    admin: &Actor,
    tenant: Tenant,
    created: Option<(String, String)>,
    error: Option<(String, String)>,
    notice: Option<String>,
) -> Page {
    let keys = apikeys::list(&*state.store, &tenant.id)
        .await?
        .into_iter()
        .map(|k| KeyRow {
            scopes: scope_names(&k.scopes),
            created: datetime(k.created_at),
            last_used: k.last_used_at.map_or_else(|| "never".into(), datetime),
            revoked: k.revoked_at.map(datetime),
            id: k.id,
            label: k.label,
        })
        .collect();
    let status = if error.is_some() {
        StatusCode::BAD_REQUEST
    } else {
        StatusCode::OK
    };
    with_forms(req, &state.config, status, |csrf_token| ApiKeysPage {
        admin_email: admin.display_name(),
        guest: admin.is_guest(),
        is_operator: admin.is_operator(),
        tenant,
        keys,
        scim_base_url: crate::scim::base_url(&state.config.base_url),
        created,
        error,
        notice,
        csrf_token,
    })
}

async fn get_api_keys(
    req: HttpRequest,
    admin: Actor,
    path: web::Path<String>,
    query: web::Query<NoticeQuery>,
    state: web::Data<AppState>,
) -> Page {
    let tenant = managed_tenant(&state, &admin, &path).await?;
    let notice = notice_text(query.notice.as_deref());
    render_api_keys(&req, &state, &admin, tenant, None, None, notice).await
}

#[derive(Deserialize)]
struct NewKeyForm {
    csrf_token: String,
    label: String,
    #[serde(default)]
    scope_scim: Option<String>,
    #[serde(default)]
    scope_admin: Option<String>,
}

/// Creates a key and shows its secret on this one answer (never stored in clear, never
/// shown again). Needs a recent sign-in: a key provisions and deprovisions people.
async fn post_api_key(
    req: HttpRequest,
    admin: Actor,
    path: web::Path<String>,
    form: web::Form<NewKeyForm>,
    state: web::Data<AppState>,
) -> Page {
    check_csrf(&req, &form.csrf_token)?;
    let tenant = managed_tenant(&state, &admin, &path).await?;
    require_recent(
        &state,
        &admin,
        &format!("/admin/tenants/{}/api-keys", tenant.id),
    )?;
    let scopes: Vec<Scope> = [
        form.scope_scim.as_ref().map(|_| Scope::Scim),
        form.scope_admin.as_ref().map(|_| Scope::Admin),
    ]
    .into_iter()
    .flatten()
    .collect();
    let new = NewApiKey {
        label: form.label.clone(),
        scopes,
    };
    match apikeys::create(&*state.store, &*state.clock, &tenant.id, new).await {
        Ok((key, secret)) => {
            tracing::info!(tenant = %tenant.id, admin = %admin.display_name(), key = %key.id, "API key created in the console");
            let mut resp = render_api_keys(
                &req,
                &state,
                &admin,
                tenant,
                Some((key.label, secret)),
                None,
                None,
            )
            .await?;
            // The secret must not linger in any cache or history.
            resp.headers_mut().insert(
                actix_web::http::header::CACHE_CONTROL,
                actix_web::http::header::HeaderValue::from_static("no-store"),
            );
            Ok(resp)
        }
        Err(e) => {
            let error = form_error(e)?;
            render_api_keys(&req, &state, &admin, tenant, None, Some(error), None).await
        }
    }
}

async fn post_revoke_api_key(
    req: HttpRequest,
    admin: Actor,
    path: web::Path<(String, String)>,
    form: web::Form<CsrfForm>,
    state: web::Data<AppState>,
) -> Page {
    check_csrf(&req, &form.csrf_token)?;
    let (tenant_id, key_id) = path.into_inner();
    let tenant = managed_tenant(&state, &admin, &tenant_id).await?;
    apikeys::revoke(&*state.store, &*state.clock, &tenant.id, &key_id).await?;
    tracing::info!(tenant = %tenant.id, admin = %admin.display_name(), key = %key_id, "API key revoked in the console");
    Ok(see_other(&format!(
        "/admin/tenants/{}/api-keys?notice=key_revoked",
        tenant.id
    )))
}

// ---------------------------------------------------------------- first operator

#[derive(Template)]
#[template(path = "console/setup.html")]
struct SetupPage {
    token: String,
    organization: String,
    email: String,
    error: Option<(String, String)>,
    csrf_token: String,
}

fn setup_link_invalid() -> PageError {
    PageError::new(
        StatusCode::NOT_FOUND,
        "This setup link is not valid",
        "The link has been used, has expired, or was replaced when the gateway restarted.",
        "Look for the newest setup link in the gateway's log, or sign in if the operator account exists.",
    )
}

async fn get_setup(req: HttpRequest, path: web::Path<String>, state: web::Data<AppState>) -> Page {
    if !setup::is_valid(&*state.store, &path).await? {
        return Err(setup_link_invalid());
    }
    with_forms(&req, &state.config, StatusCode::OK, |csrf_token| {
        SetupPage {
            token: path.into_inner(),
            organization: String::new(),
            email: String::new(),
            error: None,
            csrf_token,
        }
    })
}

#[derive(Deserialize)]
struct SetupForm {
    csrf_token: String,
    organization: String,
    email: String,
    password: String,
}

async fn post_setup(
    req: HttpRequest,
    path: web::Path<String>,
    form: web::Form<SetupForm>,
    state: web::Data<AppState>,
) -> Page {
    check_csrf(&req, &form.csrf_token)?;
    let form = form.into_inner();
    let input = FirstOperator {
        organization: form.organization.clone(),
        email: form.email.clone(),
        password: form.password,
    };
    match setup::complete(&*state.store, &*state.clock, &path, input).await {
        Ok(user) => {
            tracing::warn!(user = %user.id, email = %user.email, "first operator account created");
            let issued = state
                .sessions
                .issue(
                    &user,
                    LoginMethod::Password,
                    client_info(&req, &state.config),
                )
                .await?;
            cookies::signed_in_redirect(&state.config, "/admin", issued.token)
        }
        Err(Error::Unauthorized) => Err(setup_link_invalid()),
        Err(e) => {
            let error = form_error(e)?;
            let page = SetupPage {
                token: path.into_inner(),
                organization: form.organization,
                email: form.email,
                error: Some(error),
                csrf_token: form.csrf_token,
            };
            html(StatusCode::BAD_REQUEST, &page)
        }
    }
}
