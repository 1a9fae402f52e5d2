//! The built-in IdP's pages, registered only by `gatehouse demo`: a sign-in form that
//! accepts any address at the demo domain, then a page that posts the signed response to
//! the gateway's ACS (a button, submitted automatically by a small script when allowed).

use std::sync::Arc;

use actix_web::http::StatusCode;
use actix_web::{web, HttpResponse};
use askama::Template;
use serde::Deserialize;

use super::idp::DemoIdp;
use super::DOMAIN;
use crate::state::AppState;
use crate::web::error::PageError;
use crate::web::page::html;

const DEMO_IDP_JS: &str = include_str!("../../static/js/demo_idp.js");

/// Registers the IdP's routes, with the IdP as app data.
pub fn configure(idp: Arc<DemoIdp>) -> impl Fn(&mut web::ServiceConfig) + Clone + Send + 'static {
    move |cfg: &mut web::ServiceConfig| {
        cfg.app_data(web::Data::from(idp.clone()))
            .route("/demo-idp/sso", web::get().to(get_sso))
            .route("/demo-idp/sso", web::post().to(post_sso))
            .route("/static/demo_idp.js", web::get().to(get_js));
    }
}

#[derive(Deserialize)]
struct SsoQuery {
    #[serde(rename = "SAMLRequest")]
    saml_request: String,
    #[serde(rename = "RelayState", default)]
    relay_state: String,
}

#[derive(Template)]
#[template(path = "demo/sign_in.html")]
struct SignInPage {
    saml_request: String,
    relay_state: String,
    email: String,
    domain: &'static str,
    error: Option<String>,
}

#[derive(Template)]
#[template(path = "demo/post.html")]
struct PostPage {
    acs_url: String,
    saml_response: String,
    relay_state: String,
}

fn refused(message: String) -> PageError {
    PageError::new(
        StatusCode::BAD_REQUEST,
        "The demo IdP cannot answer this request",
        message,
        "Start again from the gateway's sign-in page.",
    )
}

async fn get_sso(
    query: web::Query<SsoQuery>,
    idp: web::Data<DemoIdp>,
) -> Result<HttpResponse, PageError> {
    idp.read_request(&query.saml_request)
        .map_err(|e| refused(e.to_string()))?;
    html(
        StatusCode::OK,
        &SignInPage {
            saml_request: query.saml_request.clone(),
            relay_state: query.relay_state.clone(),
            email: format!("pat@{DOMAIN}"),
            domain: DOMAIN,
            error: None,
        },
    )
}

#[derive(Deserialize)]
struct SignInForm {
    #[serde(rename = "SAMLRequest")]
    saml_request: String,
    #[serde(rename = "RelayState", default)]
    relay_state: String,
    email: String,
}

async fn post_sso(
    form: web::Form<SignInForm>,
    idp: web::Data<DemoIdp>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, PageError> {
    let request = idp
        .read_request(&form.saml_request)
        .map_err(|e| refused(e.to_string()))?;
    let email = form.email.trim().to_lowercase();
    if !email.ends_with(&format!("@{DOMAIN}")) || email.len() > 200 {
        return html(
            StatusCode::BAD_REQUEST,
            &SignInPage {
                saml_request: form.saml_request.clone(),
                relay_state: form.relay_state.clone(),
                email: form.email.clone(),
                domain: DOMAIN,
                error: Some(format!("The demo IdP signs in addresses at {DOMAIN} only.")),
            },
        );
    }
    let (idp_v, now) = (idp.clone(), state.clock.now());
    let saml_response = web::block(move || idp_v.sign_in(&request, &email, now))
        .await
        .map_err(|e| refused(format!("signing failed: {e}")))?
        .map_err(PageError::from)?;
    let acs_url = idp
        .read_request(&form.saml_request)
        .map_err(|e| refused(e.to_string()))?
        .acs_url;
    html(
        StatusCode::OK,
        &PostPage {
            acs_url,
            saml_response,
            relay_state: form.relay_state.clone(),
        },
    )
}

async fn get_js() -> HttpResponse {
    HttpResponse::Ok()
        .content_type("text/javascript; charset=utf-8")
        .body(DEMO_IDP_JS)
}
