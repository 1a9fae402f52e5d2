//! The only place cookies are built, so every flag is decided once.

use actix_web::cookie::{time::Duration as CookieDuration, Cookie, SameSite};
use actix_web::http::header;
use actix_web::HttpResponse;

use crate::config::Config;
use crate::error::Error;
use crate::web::error::PageError;

pub const CSRF_COOKIE: &str = "gatehouse_csrf";

/// The session cookie.
/// - `HttpOnly`: page scripts (and XSS) cannot read the token.
/// - `SameSite=Lax`: sent on top-level navigations back from an IdP, not on cross-site
///   sub-requests or POSTs (CSRF).
/// - `Secure` whenever the gateway is reached over https.
/// - host-only unless the operator sets `cookie_domain` to share it with sibling apps.
pub fn session(config: &Config, token: String) -> Cookie<'static> {
    let mut c = Cookie::build(config.cookie_name.clone(), token)
        .path("/")
        .http_only(true)
        .same_site(SameSite::Lax)
        .secure(config.is_https())
        .max_age(CookieDuration::seconds(
            i64::try_from(config.session_lifetime.as_secs()).unwrap_or(i64::MAX),
        ))
        .finish();
    if let Some(d) = &config.cookie_domain {
        c.set_domain(d.clone());
    }
    c
}

/// An expired session cookie with the same name, path and domain, which deletes it.
pub fn clear_session(config: &Config) -> Cookie<'static> {
    let mut c = session(config, String::new());
    c.make_removal();
    c
}

/// The CSRF double-submit cookie: `SameSite=Strict`, so a cross-site form can neither
/// read nor send it, and `HttpOnly`, since only the server compares it.
pub fn csrf(config: &Config, value: String) -> Cookie<'static> {
    Cookie::build(CSRF_COOKIE, value)
        .path("/")
        .http_only(true)
        .same_site(SameSite::Strict)
        .secure(config.is_https())
        .finish()
}

/// Adds `cookie` to a browser-facing response.
pub fn attach(resp: &mut HttpResponse, cookie: &Cookie<'static>) -> Result<(), PageError> {
    resp.add_cookie(cookie)
        .map_err(|e| PageError::from(Error::Internal(format!("cookie: {e}"))))
}

/// The answer to every successful sign-in: the session cookie and a 303 to `target`.
pub fn signed_in_redirect(
    config: &Config,
    target: &str,
    token: String,
) -> Result<HttpResponse, PageError> {
    let mut resp = HttpResponse::SeeOther()
        .insert_header((header::LOCATION, target))
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .finish();
    attach(&mut resp, &session(config, token))?;
    Ok(resp)
}

pub const OIDC_FLOW_COOKIE: &str = "gatehouse_oidc";

/// Binds OpenID Connect flows to the browser that started them (login CSRF).
/// - `SameSite=Lax`: the provider's redirect back to `/oidc/callback` is a top-level GET,
///   on which Lax cookies are sent; cross-site sub-requests never carry it.
/// - `HttpOnly`, and `Secure` over https; it lives as long as a flow may.
pub fn oidc_flow(config: &Config, value: String) -> Cookie<'static> {
    Cookie::build(OIDC_FLOW_COOKIE, value)
        .path("/")
        .http_only(true)
        .same_site(SameSite::Lax)
        .secure(config.is_https())
        .max_age(CookieDuration::seconds(600))
        .finish()
}

pub const IT_SETUP_COOKIE: &str = "gatehouse_it_setup";

/// Carries an IT-admin setup link's secret once the link has been opened, so the secret
/// leaves the address bar (and the history) after the first request.
/// - path `/admin`: only the console sees it;
/// - `SameSite=Lax`: a test sign-in comes back from the IdP as a top-level navigation;
/// - `HttpOnly`, `Secure` over https; it dies with the link.
pub fn it_setup(config: &Config, secret: String, lifetime_secs: i64) -> Cookie<'static> {
    Cookie::build(IT_SETUP_COOKIE, secret)
        .path("/admin")
        .http_only(true)
        .same_site(SameSite::Lax)
        .secure(config.is_https())
        .max_age(CookieDuration::seconds(lifetime_secs.max(0)))
        .finish()
}
