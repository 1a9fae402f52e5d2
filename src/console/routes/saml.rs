//! Authentication › SAML: the SP values to copy, the IdP settings checked on save, and the
//! test sign-in with its report.

use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest};
use askama::Template;
use serde::Deserialize;

use super::{
    cert_views, form_error, managed_tenant, notice_text, refresh_view, remove_connection,
    require_recent, start_test, CertView, CsrfForm, NoticeQuery, Page, RefreshView, RemoveForm,
};
use crate::console::{Actor, ConsoleUser, Nav};
use crate::error::Error;
use crate::oidc::connection as oidc_connection;
use crate::saml::connection::{self, Provider, SamlConnection, SamlConnectionInput};
use crate::saml::metadata_refresh::{self, Outcome};
use crate::saml::{sp, sp_key};
use crate::sso_test::Protocol;
use crate::state::AppState;
use crate::tenant::Tenant;
use crate::web::page::{check_csrf, see_other, with_forms};

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/admin/tenants/{tenant_id}/saml", web::get().to(get_saml))
        .route("/admin/tenants/{tenant_id}/saml", web::post().to(post_saml))
        .route(
            "/admin/tenants/{tenant_id}/saml/test",
            web::post().to(post_saml_test),
        )
        .route(
            "/admin/tenants/{tenant_id}/saml/remove",
            web::post().to(post_saml_remove),
        )
        .route(
            "/admin/tenants/{tenant_id}/saml/metadata-refresh",
            web::post().to(post_metadata_refresh),
        );
}

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
    /// The tenant signs in with OIDC: a tenant has one SSO connection.
    oidc_configured: bool,
    certificates: Vec<CertView>,
    refresh: Option<RefreshView>,
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
    let oidc_configured = oidc_connection::get(&*state.store, &tenant.id)
        .await?
        .is_some();
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
    let refresh = refresh_view(state, existing.as_ref()).await?;
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
        oidc_configured,
        certificates,
        refresh,
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
    let notice =
        notice_text(query.notice.as_deref()).or_else(|| notice_text(query.error.as_deref()));
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
        &admin.changed_by(),
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

/// Fetches the metadata URL now, as the periodic refresh does. No recent sign-in is
/// needed: it applies only what the IdP publishes at the URL already configured, which
/// the gateway would apply on its own at the next interval.
async fn post_metadata_refresh(
    req: HttpRequest,
    admin: Actor,
    path: web::Path<String>,
    form: web::Form<CsrfForm>,
    state: web::Data<AppState>,
) -> Page {
    check_csrf(&req, &form.csrf_token)?;
    let tenant = managed_tenant(&state, &admin, &path).await?;
    let outcome = metadata_refresh::refresh_one(
        &*state.store,
        &*state.clock,
        state.config.outbound,
        &tenant.id,
    )
    .await;
    let code = match outcome {
        Ok(Outcome::Unchanged) => "metadata_unchanged",
        Ok(Outcome::Changed { .. }) => "metadata_changed",
        Ok(Outcome::Failed { .. }) => "metadata_failed",
        Ok(Outcome::Superseded) => "metadata_superseded",
        Err(Error::NotFound(_) | Error::Conflict(_)) => "metadata_none",
        Err(e) => return Err(e.into()),
    };
    tracing::info!(tenant = %tenant.id, by = %admin.display_name(), code, "SAML metadata refreshed from the console");
    Ok(see_other(&format!(
        "/admin/tenants/{}/saml?notice={code}",
        tenant.id
    )))
}

/// Starts a real SP-initiated flow marked as a test; the ACS ends it on a report.
async fn post_saml_test(
    req: HttpRequest,
    admin: Actor,
    path: web::Path<String>,
    form: web::Form<CsrfForm>,
    state: web::Data<AppState>,
) -> Page {
    start_test(&req, &state, &admin, &path, &form, Protocol::Saml).await
}

/// Removes the SAML connection (so the tenant can switch to OIDC, or stop SSO).
async fn post_saml_remove(
    req: HttpRequest,
    admin: Actor,
    path: web::Path<String>,
    form: web::Form<RemoveForm>,
    state: web::Data<AppState>,
) -> Page {
    remove_connection(&req, &state, &admin, &path, &form, Protocol::Saml).await
}
