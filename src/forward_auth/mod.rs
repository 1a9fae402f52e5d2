//! Forward auth: the answer a reverse proxy gets to "may this request through?".
//!
//! The decision is a pure function of plain facts so it can be tested without HTTP.
//! Forwarded headers only count when the TCP peer is a trusted proxy ([`proxy`]); the
//! identity in the answer always comes from the session, never from request headers.

pub mod assertion;
pub mod proxy;
pub mod routes;

use url::Url;

use crate::redirect::safe_return_to;
use proxy::OriginalRequest;

/// How the proxy wants "not signed in" expressed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// nginx `auth_request` cannot follow redirects: always 401, with `Location` for its
    /// `error_page` to use.
    Nginx,
    /// Traefik `forwardAuth`, Caddy `forward_auth`: 302 for page loads, 401 for XHR/JSON.
    Redirecting,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Unauthenticated {
    Status401 { location: String },
    Redirect302 { location: String },
}

/// Builds the login URL, carrying the original URL as `return_to` when it is allowed.
pub fn login_url(
    base: &Url,
    allowed_hosts: &[String],
    original: Option<&OriginalRequest>,
) -> String {
    let mut login = base.clone();
    login.set_path("/login");
    login.set_query(None);
    if let Some(target) = original
        .map(OriginalRequest::url)
        .and_then(|u| safe_return_to(&u, base, allowed_hosts))
    {
        login.query_pairs_mut().append_pair("return_to", &target);
    }
    login.to_string()
}

/// What to answer when the request carries no valid session.
pub fn decide_unauthenticated(
    mode: Mode,
    wants_page: bool,
    base: &Url,
    allowed_hosts: &[String],
    original: Option<&OriginalRequest>,
) -> Unauthenticated {
    let location = login_url(base, allowed_hosts, original);
    match (mode, wants_page) {
        (Mode::Redirecting, true) => Unauthenticated::Redirect302 { location },
        _ => Unauthenticated::Status401 { location },
    }
}

/// A browser navigation (HTML wanted), as opposed to XHR/fetch/API calls.
pub fn wants_page(accept: Option<&str>, requested_with: Option<&str>) -> bool {
    if requested_with.is_some_and(|v| v.eq_ignore_ascii_case("xmlhttprequest")) {
        return false;
    }
    accept.is_some_and(|a| a.contains("text/html"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn base() -> Url {
        Url::parse("https://sso.example.com").unwrap()
    }

    fn original(host: &str) -> OriginalRequest {
        OriginalRequest {
            proto: "https".into(),
            host: host.into(),
            uri: "/reports?q=1".into(),
        }
    }

    #[test]
    fn decision_table() {
        let allowed = vec!["app.example.com".to_string()];
        let o = original("app.example.com");
        let want = "https://sso.example.com/login?return_to=https%3A%2F%2Fapp.example.com%2Freports%3Fq%3D1";
        let cases = [
            (
                Mode::Nginx,
                true,
                Unauthenticated::Status401 {
                    location: want.into(),
                },
            ),
            (
                Mode::Nginx,
                false,
                Unauthenticated::Status401 {
                    location: want.into(),
                },
            ),
            (
                Mode::Redirecting,
                true,
                Unauthenticated::Redirect302 {
                    location: want.into(),
                },
            ),
            (
                Mode::Redirecting,
                false,
                Unauthenticated::Status401 {
                    location: want.into(),
                },
            ),
        ];
        for (mode, page, expected) in cases {
            assert_eq!(
                decide_unauthenticated(mode, page, &base(), &allowed, Some(&o)),
                expected
            );
        }
    }

    #[test]
    fn foreign_hosts_do_not_become_return_to() {
        let o = original("evil.com");
        assert_eq!(
            login_url(&base(), &[], Some(&o)),
            "https://sso.example.com/login"
        );
    }

    #[test]
    fn page_detection() {
        assert!(wants_page(Some("text/html,application/xhtml+xml"), None));
        assert!(!wants_page(Some("text/html"), Some("XMLHttpRequest")));
        assert!(!wants_page(Some("application/json"), None));
        assert!(!wants_page(None, None));
    }
}
