//! Operators add organisations: name, primary domain and secondary domains. The operator
//! vouches for the domains, so they route at once; the organisation's own admins are then
//! added on its Users page.

use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest};
use askama::Template;
use serde::Deserialize;

use super::{form_error, Page};
use crate::console::{Admin, ConsoleUser, Nav};
use crate::state::AppState;
use crate::tenant::repo::{self as tenants, NewTenant};
use crate::web::error::PageError;
use crate::web::page::{check_csrf, see_other, with_forms};

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/admin/organisations/new", web::get().to(get_new))
        .route("/admin/organisations", web::post().to(post_organisation));
}

/// The form as typed, so a refusal shows it again.
#[derive(Debug, Default, Deserialize)]
struct OrganisationForm {
    csrf_token: String,
    #[serde(default)]
    name: String,
    #[serde(default)]
    primary_domain: String,
    /// Comma- or line-separated.
    #[serde(default)]
    secondary_domains: String,
}

#[derive(Template)]
#[template(path = "console/organisation_new.html")]
struct NewOrganisationPage {
    admin_email: String,
    form: OrganisationForm,
    error: Option<(String, String)>,
    csrf_token: String,
}

impl Nav for NewOrganisationPage {}

fn operators_only() -> PageError {
    PageError::new(
        StatusCode::FORBIDDEN,
        "Only operators add organisations",
        "Your account administers one organisation.",
        "Ask an operator of this Gatehouse deployment to add the organisation.",
    )
    .with_action("Back to the console", "/admin".into())
}

fn render(
    req: &HttpRequest,
    state: &AppState,
    admin: &Admin,
    form: OrganisationForm,
    error: Option<(String, String)>,
) -> Page {
    let status = if error.is_some() {
        StatusCode::BAD_REQUEST
    } else {
        StatusCode::OK
    };
    with_forms(req, &state.config, status, |csrf_token| {
        NewOrganisationPage {
            admin_email: admin.user.email.clone(),
            form,
            error,
            csrf_token,
        }
    })
}

async fn get_new(req: HttpRequest, admin: Admin, state: web::Data<AppState>) -> Page {
    if !admin.is_operator() {
        return Err(operators_only());
    }
    render(&req, &state, &admin, OrganisationForm::default(), None)
}

/// Splits the secondary-domains field; normalisation and checks are the repository's.
fn domain_list(raw: &str) -> Vec<String> {
    raw.split([',', '\n', ' '])
        .map(str::trim)
        .filter(|d| !d.is_empty())
        .map(str::to_owned)
        .collect()
}

async fn post_organisation(
    req: HttpRequest,
    admin: Admin,
    form: web::Form<OrganisationForm>,
    state: web::Data<AppState>,
) -> Page {
    check_csrf(&req, &form.csrf_token)?;
    if !admin.is_operator() {
        return Err(operators_only());
    }
    let form = form.into_inner();
    let new = NewTenant {
        name: form.name.clone(),
        primary_domain: form.primary_domain.clone(),
        secondary_domains: domain_list(&form.secondary_domains),
        sso_only: false,
    };
    match tenants::add_by_admin(&*state.store, &*state.clock, new, &admin.changed_by()).await {
        Ok(tenant) => {
            tracing::info!(tenant = %tenant.id, admin = %admin.user.id, "organisation added in the console");
            Ok(see_other(&format!(
                "/admin/tenants/{}?notice=organisation_added",
                tenant.id
            )))
        }
        Err(e) => {
            let error = form_error(e)?;
            render(&req, &state, &admin, form, Some(error))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::domain_list;

    #[test]
    fn secondary_domains_split_on_commas_spaces_and_lines() {
        assert_eq!(
            domain_list(" a.test, b.test\nc.test  d.test,,"),
            ["a.test", "b.test", "c.test", "d.test"]
        );
        assert!(domain_list("  ").is_empty());
    }
}
