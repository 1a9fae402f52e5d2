//! Where the gateway may send a browser after login or logout.
//!
//! A `return_to` / RelayState value is accepted only when it is a plain local path
//! (`/…`, never `//…` or `/\…`) or an absolute http(s) URL whose host is the gateway's own
//! or an allowed host. Backslashes, control characters and their percent-encoded forms are
//! refused outright, because browsers "fix" them into protocol-relative URLs
//! (`\\evil`, `/\evil`, `https:%5c%5cevil`).

use url::Url;

use crate::tenant::domain::normalize_host;

/// Returns the value to redirect to, or `None` when it is not allowed.
pub fn safe_return_to(raw: &str, base: &Url, allowed_hosts: &[String]) -> Option<String> {
    if raw.is_empty() || raw.len() > 2048 || has_forbidden_chars(raw) {
        return None;
    }
    let decoded = percent_decode(raw)?;
    if has_forbidden_chars(&decoded) || decoded.starts_with("//") {
        return None;
    }
    if raw.starts_with('/') {
        if raw.starts_with("//") {
            return None;
        }
        // Resolve against the base so `/a/../b` cannot climb out; the result must stay local.
        let joined = base.join(raw).ok()?;
        return (joined.origin() == base.origin()).then(|| {
            let mut local = joined.path().to_owned();
            if let Some(q) = joined.query() {
                local.push('?');
                local.push_str(q);
            }
            local
        });
    }
    let url = Url::parse(raw).ok()?;
    if !matches!(url.scheme(), "http" | "https")
        || !url.username().is_empty()
        || url.password().is_some()
    {
        return None;
    }
    let host = normalize_host(url.host_str()?).ok()?;
    let base_host = base.host_str().and_then(|h| normalize_host(h).ok());
    let allowed = base_host.as_deref() == Some(host.as_str())
        || allowed_hosts.iter().any(|a| host_matches(a, &host));
    allowed.then(|| url.to_string())
}

fn host_matches(pattern: &str, host: &str) -> bool {
    match pattern.strip_prefix("*.") {
        Some(parent) => host
            .strip_suffix(parent)
            .is_some_and(|rest| rest.ends_with('.') && rest.len() > 1),
        None => pattern == host,
    }
}

fn has_forbidden_chars(s: &str) -> bool {
    s.chars()
        .any(|c| c == '\\' || c.is_control() || c.is_whitespace())
}

/// Decodes %XX escapes, repeatedly (up to three rounds) to catch double encoding.
fn percent_decode(s: &str) -> Option<String> {
    let mut current = s.to_owned();
    for _ in 0..3 {
        let next = percent_encoding::percent_decode_str(&current)
            .decode_utf8()
            .ok()?
            .into_owned();
        if next == current {
            return Some(next);
        }
        current = next;
    }
    Some(current)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(raw: &str) -> Option<String> {
        let base = Url::parse("https://sso.example.com").unwrap();
        safe_return_to(
            raw,
            &base,
            &["app.example.com".into(), "*.apps.example.com".into()],
        )
    }

    #[test]
    fn local_paths_and_allowed_hosts_pass() {
        assert_eq!(check("/dashboard?x=1").as_deref(), Some("/dashboard?x=1"));
        assert_eq!(
            check("https://app.example.com/a").as_deref(),
            Some("https://app.example.com/a")
        );
        assert_eq!(
            check("https://x.apps.example.com/").as_deref(),
            Some("https://x.apps.example.com/")
        );
        assert_eq!(
            check("https://sso.example.com/").as_deref(),
            Some("https://sso.example.com/")
        );
    }

    /// T27: open-redirect shapes seen in mod_auth_mellon and Shibboleth advisories.
    #[test]
    fn t27_open_redirect_shapes_are_refused() {
        for raw in [
            "https://evil.com/",
            "//evil.com",
            "///evil.com",
            "/\\evil.com",
            "\\\\evil.com",
            "https:%5c%5cevil.com",
            "/%5c%5cevil.com",
            "/%2f%2fevil.com",
            "%2F%2Fevil.com",
            "/%252f%252fevil.com",
            "https://app.example.com@evil.com/",
            "https://user:pw@app.example.com/",
            "javascript:alert(1)",
            "https://apps.example.com.evil.com/",
            "https://evilapps.example.com/",
            "/ok\r\nLocation: https://evil.com",
            "",
        ] {
            assert_eq!(check(raw), None, "{raw:?} must be refused");
        }
    }
}
