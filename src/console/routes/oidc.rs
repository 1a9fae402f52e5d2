//! Authentication › OIDC: the redirect URI to register at the provider, the connection's
//! settings checked on save (the issuer's discovery document included), the test sign-in
//! (a new tab that ends on a report), and removing the connection.
//!
//! The client secret is write-only here as everywhere: never put back into the page, even
//! after a refused save; the page says whether one is stored.

use actix_web::http::header::{HeaderValue, CONTENT_SECURITY_POLICY};
use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest};
use askama::Template;
use serde::Deserialize;

use super::{
    datetime, form_error, managed_tenant, notice_text, remove_connection, require_recent,
    start_test, CsrfForm, NoticeQuery, Page, RemoveForm,
};
use crate::console::{Actor, ConsoleUser, Nav};
use crate::error::Error;
use crate::oidc::connection::{self, ClaimMap, OidcConnection, OidcConnectionInput, Preset};
use crate::sso_test::{self, Protocol};
use crate::state::AppState;
use crate::tenant::Tenant;
use crate::web::page::{check_csrf, see_other, with_forms};

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/admin/tenants/{tenant_id}/oidc", web::get().to(get_oidc))
        .route("/admin/tenants/{tenant_id}/oidc", web::post().to(post_oidc))
        .route(
            "/admin/tenants/{tenant_id}/oidc/test",
            web::post().to(post_oidc_test),
        )
        .route(
            "/admin/tenants/{tenant_id}/oidc/remove",
            web::post().to(post_oidc_remove),
        );
}

/// The form as typed: strings throughout, so a refused save shows what was sent (except
/// the secret, which is never shown again).
#[derive(Debug, Default, Deserialize)]
struct OidcForm {
    csrf_token: String,
    #[serde(default)]
    provider: String,
    #[serde(default)]
    issuer: String,
    #[serde(default)]
    client_id: String,
    #[serde(default)]
    client_secret: String,
    #[serde(default)]
    scopes: String,
    #[serde(default)]
    claim_email: String,
    #[serde(default)]
    claim_email_verified: String,
    #[serde(default)]
    claim_given_name: String,
    #[serde(default)]
    claim_family_name: String,
    #[serde(default)]
    claim_groups: String,
    #[serde(default)]
    jit_provisioning: Option<String>,
    #[serde(default)]
    clock_skew_secs: String,
}

const PROVIDERS: [(&str, &str, Preset); 4] = [
    ("okta", "Okta", Preset::Okta),
    ("entra_id", "Microsoft Entra ID", Preset::EntraId),
    (
        "google_workspace",
        "Google Workspace",
        Preset::GoogleWorkspace,
    ),
    ("custom", "Custom (any OpenID provider)", Preset::Custom),
];

struct ProviderOption {
    value: &'static str,
    label: &'static str,
    selected: bool,
}

#[derive(Template)]
#[template(path = "console/oidc.html")]
struct OidcPage {
    admin_email: String,
    is_operator: bool,
    guest: bool,
    tenant: Tenant,
    redirect_uri: String,
    providers: Vec<ProviderOption>,
    form: OidcForm,
    configured: bool,
    secret_stored: bool,
    /// The tenant signs in with SAML: a tenant has one SSO connection.
    saml_configured: bool,
    updated: Option<String>,
    tested: Option<String>,
    /// (form field, message) of a refused save.
    error: Option<(String, String)>,
    notice: Option<String>,
    csrf_token: String,
}

impl Nav for OidcPage {
    fn guest(&self) -> bool {
        self.guest
    }
}

impl OidcPage {
    /// The refusal to show next to `field`, if the save was refused there.
    fn error_for(&self, field: &str) -> Option<&str> {
        self.error
            .as_ref()
            .filter(|(f, _)| f == field)
            .map(|(_, m)| m.as_str())
    }
}

/// The form field a domain error names (`scopes[2]` → `scopes`, `claims.email` →
/// `claim_email`); anything else is about the whole form.
fn field_of(name: &str) -> String {
    let name = name.split('[').next().unwrap_or(name);
    match name {
        "issuer" | "client_id" | "client_secret" | "scopes" | "clock_skew_secs" => name.into(),
        n if n.starts_with("claims.") => format!("claim_{}", &n["claims.".len()..]),
        _ => "form".into(),
    }
}

/// A field's label, for the summary above the form.
fn label_of(field: &str) -> &'static str {
    match field {
        "issuer" => "Issuer",
        "client_id" => "Client ID",
        "client_secret" => "Client secret",
        "scopes" => "Scopes",
        "claim_email" => "Email claim",
        "claim_email_verified" => "Email verified claim",
        "claim_given_name" => "Given name claim",
        "claim_family_name" => "Family name claim",
        "claim_groups" => "Groups claim",
        "clock_skew_secs" => "Clock skew",
        _ => "Settings",
    }
}

fn form_from(c: &OidcConnection) -> OidcForm {
    let opt = |o: &Option<String>| o.clone().unwrap_or_default();
    OidcForm {
        provider: c.provider.id().to_owned(),
        issuer: c.issuer.clone(),
        client_id: c.client_id.clone(),
        scopes: c.scopes.join(" "),
        claim_email: c.claims.email.clone(),
        claim_email_verified: opt(&c.claims.email_verified),
        claim_given_name: opt(&c.claims.given_name),
        claim_family_name: opt(&c.claims.family_name),
        claim_groups: opt(&c.claims.groups),
        jit_provisioning: c.jit_provisioning.then(|| "on".into()),
        clock_skew_secs: c.clock_skew_secs.to_string(),
        ..OidcForm::default()
    }
}

struct Shown {
    form: Option<OidcForm>,
    error: Option<(String, String)>,
    notice: Option<String>,
}

async fn render(
    req: &HttpRequest,
    state: &AppState,
    admin: &Actor,
    tenant: Tenant,
    shown: Shown,
) -> Page {
    let store = &*state.store;
    let existing = connection::get(store, &tenant.id).await?;
    let saml_configured = crate::saml::connection::get(store, &tenant.id)
        .await?
        .is_some();
    let tested = match &existing {
        Some(_) => sso_test::passed_at(store, &tenant.id)
            .await?
            .filter(|(p, _)| *p == Protocol::Oidc)
            .map(|(_, at)| datetime(at)),
        None => None,
    };
    let mut form = shown
        .form
        .or_else(|| existing.as_ref().map(form_from))
        .unwrap_or_else(|| OidcForm {
            provider: "okta".into(),
            ..OidcForm::default()
        });
    // Write-only: whatever was typed is never sent back.
    form.client_secret = String::new();
    let status = if shown.error.is_some() {
        StatusCode::BAD_REQUEST
    } else {
        StatusCode::OK
    };
    let mut resp = with_forms(req, &state.config, status, |csrf_token| OidcPage {
        admin_email: admin.display_name(),
        guest: admin.is_guest(),
        is_operator: admin.is_operator(),
        redirect_uri: crate::oidc::routes::redirect_uri(state),
        providers: PROVIDERS
            .iter()
            .map(|(value, label, _)| ProviderOption {
                value,
                label,
                selected: *value == form.provider,
            })
            .collect(),
        configured: existing.is_some(),
        secret_stored: existing
            .as_ref()
            .is_some_and(|c| !c.client_secret.is_empty()),
        saml_configured,
        updated: existing.as_ref().map(|c| datetime(c.updated_at)),
        tested,
        tenant,
        form,
        error: shown.error,
        notice: shown.notice,
        csrf_token,
    })?;
    // The "Test sign-in" form's answer redirects to the provider: browsers check that
    // redirect against this page's `form-action`.
    resp.headers_mut().insert(
        CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(crate::web::middleware::CSP_SSO_FORMS),
    );
    Ok(resp)
}

async fn get_oidc(
    req: HttpRequest,
    admin: Actor,
    path: web::Path<String>,
    query: web::Query<NoticeQuery>,
    state: web::Data<AppState>,
) -> Page {
    let tenant = managed_tenant(&state, &admin, &path).await?;
    let notice =
        notice_text(query.notice.as_deref()).or_else(|| notice_text(query.error.as_deref()));
    let shown = Shown {
        form: None,
        error: None,
        notice,
    };
    render(&req, &state, &admin, tenant, shown).await
}

fn input_from(
    form: &OidcForm,
    existing: Option<&OidcConnection>,
) -> Result<OidcConnectionInput, Error> {
    let text = |s: &str| Some(s.trim().to_owned()).filter(|s| !s.is_empty());
    let provider = PROVIDERS
        .iter()
        .find(|(v, _, _)| *v == form.provider)
        .map(|(_, _, p)| *p);
    let scopes = text(&form.scopes).map(|s| {
        s.split(|c: char| c.is_whitespace() || c == ',')
            .filter(|p| !p.is_empty())
            .map(str::to_owned)
            .collect()
    });
    let claim_fields = [
        &form.claim_email,
        &form.claim_email_verified,
        &form.claim_given_name,
        &form.claim_family_name,
        &form.claim_groups,
    ];
    // All blank: the provider's defaults. Otherwise as typed; a blank one is "not mapped".
    let claims = claim_fields
        .iter()
        .any(|f| !f.trim().is_empty())
        .then(|| ClaimMap {
            email: form.claim_email.trim().to_owned(),
            email_verified: text(&form.claim_email_verified),
            given_name: text(&form.claim_given_name),
            family_name: text(&form.claim_family_name),
            groups: text(&form.claim_groups),
        });
    let clock_skew_secs = match text(&form.clock_skew_secs) {
        None => existing.map(|c| c.clock_skew_secs),
        Some(s) => Some(s.parse::<u32>().map_err(|_| {
            Error::invalid(
                "clock_skew_secs",
                "must be a whole number of seconds, from 0 to 300",
            )
        })?),
    };
    Ok(OidcConnectionInput {
        provider,
        issuer: text(&form.issuer),
        client_id: text(&form.client_id),
        // Blank keeps the stored secret (unless the issuer or client id change).
        client_secret: text(&form.client_secret),
        scopes,
        claims,
        jit_provisioning: form.jit_provisioning.is_some(),
        clock_skew_secs,
    })
}

async fn post_oidc(
    req: HttpRequest,
    admin: Actor,
    path: web::Path<String>,
    form: web::Form<OidcForm>,
    state: web::Data<AppState>,
) -> Page {
    check_csrf(&req, &form.csrf_token)?;
    let tenant = managed_tenant(&state, &admin, &path).await?;
    let back = format!("/admin/tenants/{}/oidc", tenant.id);
    // The client secret and issuer decide who can sign in as anyone in the organisation.
    require_recent(&state, &admin, &back)?;
    let form = form.into_inner();
    let existing = connection::get(&*state.store, &tenant.id).await?;
    let saved = match input_from(&form, existing.as_ref()) {
        Ok(input) => {
            connection::save(
                &*state.store,
                &*state.clock,
                &state.oidc,
                &tenant.id,
                input,
                &admin.changed_by(),
            )
            .await
        }
        Err(e) => Err(e),
    };
    match saved {
        Ok(_) => {
            tracing::info!(tenant = %tenant.id, admin = %admin.display_name(), "OIDC connection saved in the console");
            Ok(see_other(&format!("{back}?notice=saved")))
        }
        Err(e) => {
            let (field, message) = form_error(e)?;
            let field = field_of(&field);
            let message = format!("{}: {message}", label_of(&field));
            let shown = Shown {
                form: Some(form),
                error: Some((field, message)),
                notice: None,
            };
            render(&req, &state, &admin, tenant, shown).await
        }
    }
}

/// Starts the real code flow marked as a test (the form opens it in a new tab); the
/// callback ends it on a report.
async fn post_oidc_test(
    req: HttpRequest,
    admin: Actor,
    path: web::Path<String>,
    form: web::Form<CsrfForm>,
    state: web::Data<AppState>,
) -> Page {
    start_test(&req, &state, &admin, &path, &form, Protocol::Oidc).await
}

async fn post_oidc_remove(
    req: HttpRequest,
    admin: Actor,
    path: web::Path<String>,
    form: web::Form<RemoveForm>,
    state: web::Data<AppState>,
) -> Page {
    remove_connection(&req, &state, &admin, &path, &form, Protocol::Oidc).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refusals_land_next_to_their_field() {
        assert_eq!(field_of("issuer"), "issuer");
        assert_eq!(field_of("scopes[2]"), "scopes");
        assert_eq!(field_of("claims.email_verified"), "claim_email_verified");
        assert_eq!(field_of("form"), "form");
        assert_eq!(label_of("claim_email"), "Email claim");
    }

    #[test]
    fn blank_fields_mean_defaults_or_keep() {
        let blank = OidcForm {
            provider: "okta".into(),
            issuer: " https://acme.okta.example ".into(),
            client_id: "0oa1".into(),
            ..OidcForm::default()
        };
        let input = input_from(&blank, None).unwrap();
        assert_eq!(input.provider, Some(Preset::Okta));
        assert_eq!(input.issuer.as_deref(), Some("https://acme.okta.example"));
        assert!(
            input.client_secret.is_none(),
            "blank secret: keep the stored one"
        );
        assert!(
            input.scopes.is_none() && input.claims.is_none(),
            "preset defaults"
        );
        let typed = OidcForm {
            scopes: "openid email, groups".into(),
            claim_email: "upn".into(),
            clock_skew_secs: "x".into(),
            ..blank
        };
        let err = input_from(&typed, None).unwrap_err();
        assert!(matches!(err, Error::Invalid { ref field, .. } if field == "clock_skew_secs"));
        let typed = OidcForm {
            clock_skew_secs: "120".into(),
            ..typed
        };
        let input = input_from(&typed, None).unwrap();
        assert_eq!(input.scopes.unwrap(), ["openid", "email", "groups"]);
        let claims = input.claims.unwrap();
        assert_eq!(claims.email, "upn");
        assert!(claims.email_verified.is_none(), "blank: not mapped");
        assert_eq!(input.clock_skew_secs, Some(120));
    }
}
