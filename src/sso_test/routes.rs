//! The browser side of test sign-ins that are not tied to a console page: the one-time
//! start URL handed out by the admin API (`GET /sso-tests/start/{secret}`), and where a
//! finished test sends the browser.
//!
//! A test started through the API ends on a page that says passed or failed and names the
//! test id; it never shows the identity or the checks to whoever holds the browser (the
//! report is read through the API).

use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};
use askama::Template;

use super::{take_start_link, TestMark, TestRecord, Via};
use crate::error::Error;
use crate::state::AppState;
use crate::tenant::repo as tenants;
use crate::tenant::Tenant;
use crate::web::error::PageError;
use crate::web::page::{html, see_other};
use crate::{oidc, saml};

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/sso-tests/start/{secret}", web::get().to(get_start));
}

/// The path of a started test's start URL.
pub fn start_path(secret: &str) -> String {
    format!("/sso-tests/start/{secret}")
}

#[derive(Template)]
#[template(path = "sso_test/done.html")]
struct DonePage {
    passed: bool,
    protocol: &'static str,
    tenant_id: String,
    test_id: String,
}

/// Where a finished test sends the browser: the console's report page for console tests,
/// a passed/failed page for API tests.
pub fn ended(record: &TestRecord) -> Result<HttpResponse, PageError> {
    match record.via {
        Via::Console => Ok(see_other(&format!("/admin/tests/{}", record.id))),
        Via::Api => html(
            StatusCode::OK,
            &DonePage {
                passed: record.report.as_ref().is_some_and(super::Report::passed),
                protocol: record.protocol.label(),
                tenant_id: record.tenant_id.clone(),
                test_id: record.id.clone(),
            },
        ),
    }
}

fn start_link_not_valid() -> PageError {
    PageError::new(
        StatusCode::NOT_FOUND,
        "This test link does not work",
        "Test links work once and for ten minutes; this one was used, has expired, or was copied incompletely.",
        "Start a new test sign-in through the admin API and open its start_url.",
    )
}

async fn get_start(
    req: HttpRequest,
    path: web::Path<String>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, PageError> {
    let store = &*state.store;
    let link = take_start_link(store, &path)
        .await?
        .ok_or_else(start_link_not_valid)?;
    let record = super::get(store, &link.test_id)
        .await?
        .filter(|r| r.tenant_id == link.tenant_id && r.report.is_none())
        .ok_or_else(start_link_not_valid)?;
    let tenant = tenants::get(store, &link.tenant_id)
        .await?
        .ok_or_else(start_link_not_valid)?;
    let mark = TestMark {
        id: record.id,
        by: record.by_user,
        via: record.via,
    };
    start_flow(&req, &state, &tenant, mark).await
}

/// Starts the real flow of whichever connection the tenant has now, marked as a test; for
/// OIDC the answer sets the browser-binding cookie, so the flow stays in this browser.
pub async fn start_flow(
    req: &HttpRequest,
    state: &AppState,
    tenant: &Tenant,
    mark: TestMark,
) -> Result<HttpResponse, PageError> {
    let store = &*state.store;
    if let Some(conn) = saml::connection::get(store, &tenant.id).await? {
        let endpoints = saml::sp::endpoints(&state.config.base_url, &tenant.primary_domain);
        let signer = match conn.sign_authn_requests {
            true => Some(saml::sp_key::for_base_url(store, &state.config.base_url).await?),
            false => None,
        };
        let target = saml::flow::start(
            store,
            &conn,
            &endpoints,
            signer.as_ref(),
            None,
            Some(mark),
            state.clock.now(),
        )
        .await?;
        return Ok(see_other(&target));
    }
    if let Some(conn) = oidc::connection::get(store, &tenant.id).await? {
        return oidc::routes::redirect_to_provider_for_test(req, state, &conn, mark).await;
    }
    Err(PageError::from(Error::Conflict(format!(
        "{} has no SSO connection to test",
        tenant.name
    ))))
}
