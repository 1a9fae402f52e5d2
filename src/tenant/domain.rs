//! Domain names as the gateway compares them: lower case, IDNA (punycode), no trailing dot.
//! Every domain that enters the system — config, admin API, login form, URL path — goes
//! through [`normalize_domain`], so `ACME.com`, `acme.com.` and `xn--…` forms of the
//! same name can never become two tenants' domains.

use std::fmt;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub struct DomainError(String);

impl fmt::Display for DomainError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Normalizes a host name (a domain, `localhost`, or an IP address literal).
pub fn normalize_host(input: &str) -> Result<String, DomainError> {
    let trimmed = input.trim().trim_end_matches('.');
    if trimmed.is_empty() {
        return Err(DomainError("must not be empty".into()));
    }
    if let Ok(ip) = trimmed.trim_matches(['[', ']']).parse::<std::net::IpAddr>() {
        return Ok(ip.to_string());
    }
    let ascii = idna::domain_to_ascii(trimmed)
        .map_err(|_| DomainError(format!("`{trimmed}` is not a valid domain name")))?;
    if ascii.len() > 253 {
        return Err(DomainError("is longer than 253 characters".into()));
    }
    for label in ascii.split('.') {
        let ok = !label.is_empty()
            && label.len() <= 63
            && !label.starts_with('-')
            && !label.ends_with('-')
            && label.chars().all(|c| c.is_ascii_alphanumeric() || c == '-');
        if !ok {
            return Err(DomainError(format!(
                "`{trimmed}` is not a valid domain name (letters, digits and hyphens between dots)"
            )));
        }
    }
    Ok(ascii)
}

/// Normalizes a tenant's email domain: like [`normalize_host`], but it must be a
/// registrable-looking name with at least one dot, not an address.
pub fn normalize_domain(input: &str) -> Result<String, DomainError> {
    let host = normalize_host(input)?;
    if host.parse::<std::net::IpAddr>().is_ok() {
        return Err(DomainError(format!(
            "`{host}` is an IP address, not a domain"
        )));
    }
    if !host.contains('.') {
        return Err(DomainError(format!(
            "`{host}` has no dot; use a full domain such as example.com"
        )));
    }
    Ok(host)
}

/// Takes what a person typed on the login page — a domain or an email address — and
/// returns the normalized domain.
pub fn domain_from_input(input: &str) -> Result<String, DomainError> {
    let input = input.trim();
    let domain_part = match input.rsplit_once('@') {
        Some((local, domain)) => {
            if local.is_empty() || local.contains('@') {
                return Err(DomainError("is not a valid email address".into()));
            }
            domain
        }
        None => input,
    };
    normalize_domain(domain_part)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn case_trailing_dot_and_idna_fold_to_one_form() {
        assert_eq!(normalize_domain("ACME.Example.").unwrap(), "acme.example");
        assert_eq!(normalize_domain("bücher.de").unwrap(), "xn--bcher-kva.de");
        assert_eq!(
            normalize_domain("XN--BCHER-KVA.de").unwrap(),
            normalize_domain("bücher.de").unwrap()
        );
    }

    #[test]
    fn rejects_non_domains() {
        for bad in [
            "",
            "localhost",
            "10.0.0.1",
            "a..b",
            "-a.com",
            "a_b.com",
            "evil.com/x",
            "a b.com",
        ] {
            assert!(normalize_domain(bad).is_err(), "{bad:?} should be rejected");
        }
    }

    #[test]
    fn login_input_accepts_domain_or_email() {
        assert_eq!(domain_from_input(" Alice@Acme.COM ").unwrap(), "acme.com");
        assert_eq!(domain_from_input("acme.com").unwrap(), "acme.com");
        assert!(domain_from_input("a@b@acme.com").is_err());
        assert!(domain_from_input("@acme.com").is_err());
    }

    #[test]
    fn hosts_may_be_addresses() {
        assert_eq!(normalize_host("127.0.0.1").unwrap(), "127.0.0.1");
        assert_eq!(normalize_host("[::1]").unwrap(), "::1");
        assert_eq!(normalize_host("LocalHost").unwrap(), "localhost");
    }
}
