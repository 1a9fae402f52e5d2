//! The organisations list (operators), one organisation's overview, and the SSO-only switch.

use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest};
use askama::Template;
use serde::Deserialize;

use super::{
    cert_views, datetime, managed_tenant, notice_text, refresh_view, require_recent,
    soonest_expiring, CertView, NoticeQuery, Page, RefreshView, EXPIRY_WARNING_DAYS,
};
use crate::console::{Admin, ConsoleUser, Nav};
use crate::oidc::connection::{self as oidc_connection, OidcConnection};
use crate::saml::connection::{self, SamlConnection};
use crate::sso_test;
use crate::state::AppState;
use crate::tenant::repo::{self as tenants, TenantUpdate};
use crate::tenant::Tenant;
use crate::web::page::{check_csrf, see_other, with_forms};

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/admin", web::get().to(get_home))
        .route("/admin/tenants/{tenant_id}", web::get().to(get_tenant))
        .route(
            "/admin/tenants/{tenant_id}/sso-only",
            web::post().to(post_sso_only),
        );
}

#[derive(Template)]
#[template(path = "console/tenants.html")]
struct TenantsPage {
    admin_email: String,
    tenants: Vec<TenantRow>,
    /// How many organisations have an IdP certificate within the warning period.
    expiring: usize,
    warning_days: i64,
    csrf_token: String,
}

struct TenantRow {
    tenant: Tenant,
    /// The IdP certificate that expires first, when within the warning period.
    expiring: Option<CertView>,
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
    let now = state.clock.now();
    let mut rows = Vec::with_capacity(tenants.len());
    for tenant in tenants {
        let certs = connection::get(&*state.store, &tenant.id)
            .await?
            .map(|c| cert_views(&c.certificates, now))
            .unwrap_or_default();
        rows.push(TenantRow {
            tenant,
            expiring: soonest_expiring(certs),
        });
    }
    with_forms(&req, &state.config, StatusCode::OK, |csrf_token| {
        TenantsPage {
            admin_email: admin.user.email.clone(),
            expiring: rows.iter().filter(|r| r.expiring.is_some()).count(),
            warning_days: EXPIRY_WARNING_DAYS,
            tenants: rows,
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
    oidc: Option<OidcConnection>,
    tested_at: Option<String>,
    certificates: Vec<CertView>,
    expiring_soon: bool,
    refresh: Option<RefreshView>,
    notice: Option<String>,
    error: Option<String>,
    csrf_token: String,
}

impl Nav for TenantPage {}

async fn get_tenant(
    req: HttpRequest,
    admin: Admin,
    path: web::Path<String>,
    query: web::Query<NoticeQuery>,
    state: web::Data<AppState>,
) -> Page {
    let tenant = managed_tenant(&state, &admin, &path).await?;
    let saml = connection::get(&*state.store, &tenant.id).await?;
    let oidc = oidc_connection::get(&*state.store, &tenant.id).await?;
    let tested_at = sso_test::passed_at(&*state.store, &tenant.id)
        .await?
        .map(|(protocol, at)| format!("{} ({})", datetime(at), protocol.label()));
    let now = state.clock.now();
    let certificates = saml
        .as_ref()
        .map(|c| cert_views(&c.certificates, now))
        .unwrap_or_default();
    let expiring_soon = certificates.iter().any(|c| c.warn);
    let refresh = refresh_view(&state, saml.as_ref()).await?;
    with_forms(&req, &state.config, StatusCode::OK, |csrf_token| {
        TenantPage {
            admin_email: admin.user.email.clone(),
            is_operator: admin.is_operator(),
            tenant,
            saml,
            oidc,
            tested_at,
            certificates,
            expiring_soon,
            refresh,
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
        if let Err(e) = sso_test::require_passed(&*state.store, &tenant.id).await {
            let code = match sso_test::current_connection(&*state.store, &tenant.id).await? {
                Some(_) => "untested",
                None => "no_sso",
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
        &admin.changed_by(),
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
