//! Small request readers shared by the route modules.

use actix_web::http::header;
use actix_web::HttpRequest;

use crate::config::Config;
use crate::forward_auth::proxy::{self, HeaderSource};
use crate::session::ClientInfo;

/// Lets the pure forwarded-header logic read actix's header map.
pub struct Headers<'a>(pub &'a actix_web::http::header::HeaderMap);

impl HeaderSource for Headers<'_> {
    fn values(&self, name: &str) -> Vec<&str> {
        self.0
            .get_all(name)
            .map(|v| v.to_str().unwrap_or("\u{0}"))
            .collect()
    }
}

pub fn peer_ip(req: &HttpRequest) -> Option<std::net::IpAddr> {
    req.peer_addr().map(|a| a.ip())
}

/// The client address for rate limits and session records (trusted-proxy aware).
pub fn client_ip(req: &HttpRequest, config: &Config) -> Option<std::net::IpAddr> {
    proxy::client_ip(
        peer_ip(req),
        &config.trusted_proxies,
        &Headers(req.headers()),
    )
}

pub fn client_info(req: &HttpRequest, config: &Config) -> ClientInfo {
    ClientInfo {
        ip: client_ip(req, config).map(|ip| ip.to_string()),
        user_agent: req
            .headers()
            .get(header::USER_AGENT)
            .and_then(|v| v.to_str().ok())
            .map(|s| s.chars().take(256).collect()),
    }
}

/// The session token from `Authorization: Bearer …` or, failing that, the cookie.
pub fn session_token(req: &HttpRequest, cookie_name: &str) -> Option<String> {
    // Another scheme (an app's own Basic auth) is not ours: fall through to the cookie.
    let bearer = req
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split_once(' '))
        .filter(|(scheme, token)| scheme.eq_ignore_ascii_case("bearer") && !token.trim().is_empty())
        .map(|(_, token)| token.trim().to_owned());
    if bearer.is_some() {
        return bearer;
    }
    req.cookie(cookie_name)
        .map(|c| c.value().to_owned())
        .filter(|v| !v.is_empty())
}

pub fn header_str(req: &HttpRequest, name: header::HeaderName) -> Option<&str> {
    req.headers().get(name).and_then(|v| v.to_str().ok())
}
