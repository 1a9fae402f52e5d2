//! Building blocks of server-rendered pages: rendering an askama template, the CSRF
//! double-submit pair, and redirects. Shared by the sign-in pages and the console.

use actix_web::http::{header, StatusCode};
use actix_web::{HttpRequest, HttpResponse};
use askama::Template;

use super::cookies;
use super::error::PageError;
use crate::config::Config;
use crate::error::Error;
use crate::login::csrf;

pub fn html(status: StatusCode, page: &impl Template) -> Result<HttpResponse, PageError> {
    let body = page
        .render()
        .map_err(|e| PageError::from(Error::Internal(format!("template: {e}"))))?;
    Ok(HttpResponse::build(status)
        .content_type("text/html; charset=utf-8")
        .body(body))
}

/// The CSRF value for this browser: the existing cookie's, or a fresh one to set.
pub fn csrf_for(req: &HttpRequest) -> (String, bool) {
    match req.cookie(cookies::CSRF_COOKIE) {
        Some(c) if c.value().len() >= 32 => (c.value().to_owned(), false),
        _ => (csrf::new_token(), true),
    }
}

/// Renders a page that holds forms: the CSRF token is handed to `build`, and the cookie is
/// set when this browser had none yet.
pub fn with_forms<T: Template>(
    req: &HttpRequest,
    config: &Config,
    status: StatusCode,
    build: impl FnOnce(String) -> T,
) -> Result<HttpResponse, PageError> {
    let (token, fresh) = csrf_for(req);
    let mut resp = html(status, &build(token.clone()))?;
    if fresh {
        cookies::attach(&mut resp, &cookies::csrf(config, token))?;
    }
    Ok(resp)
}

pub fn check_csrf(req: &HttpRequest, form_token: &str) -> Result<(), PageError> {
    let cookie = req.cookie(cookies::CSRF_COOKIE);
    if csrf::tokens_match(cookie.as_ref().map(|c| c.value()), form_token) {
        Ok(())
    } else {
        Err(PageError::new(
            StatusCode::FORBIDDEN,
            "This form has expired",
            "The page you submitted was too old or was opened in another browser, so it was not accepted.",
            "Go back, reload the page, and try again.",
        ))
    }
}

pub fn see_other(location: &str) -> HttpResponse {
    HttpResponse::SeeOther()
        .insert_header((header::LOCATION, location))
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .finish()
}
