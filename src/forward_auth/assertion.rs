//! The optional `X-Gatehouse-Assertion` header: a short-lived JWT, signed with the session
//! key ring, that an upstream app can verify against `/.well-known/jwks.json` instead of
//! trusting plain identity headers. Its audience is the host the request was for.

use serde::Serialize;

use super::proxy::OriginalRequest;
use crate::session::cache::SessionView;
use crate::session::jwt::KeyRing;

/// Lifetime of an assertion; upstreams should allow a little clock skew on top.
const ASSERTION_SECS: i64 = 60;

#[derive(Serialize)]
struct AssertionClaims<'a> {
    iss: &'a str,
    aud: String,
    sub: &'a str,
    email: &'a str,
    tid: &'a str,
    groups: Vec<&'a str>,
    sid: &'a str,
    iat: i64,
    exp: i64,
}

/// Signs the assertion for `view`, addressed to the host the proxy said the request was for.
pub fn for_upstream(
    keys: &KeyRing,
    now: i64,
    view: &SessionView,
    original: Option<&OriginalRequest>,
) -> Option<String> {
    let audience = original
        .map(|o| format!("{}://{}", o.proto, o.host))
        .unwrap_or_else(|| "gatehouse-upstream".into());
    let claims = AssertionClaims {
        iss: keys.issuer(),
        aud: audience,
        sub: view.user_id(),
        email: view.email(),
        tid: view.tenant_id(),
        groups: view.groups().split(',').filter(|g| !g.is_empty()).collect(),
        sid: view.session_id(),
        iat: now,
        exp: (now + ASSERTION_SECS).min(view.expires_unix),
    };
    match keys.sign(&claims) {
        Ok(t) => Some(t),
        Err(e) => {
            tracing::error!(error = %e, "identity assertion could not be signed");
            None
        }
    }
}
