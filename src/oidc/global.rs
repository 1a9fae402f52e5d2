//! The operator's global providers: "Continue with Google" and "Continue with Microsoft".
//!
//! Read from `[google]` / `[microsoft]` in the configuration file or from
//! `GATEHOUSE_GOOGLE__CLIENT_ID`-style variables; a provider without a client id is not
//! configured and its button is not shown. Endpoints are overridable so tests (and sovereign
//! clouds) can point a provider elsewhere; the issuer rules stay on either way.
//!
//! Microsoft's multi-tenant authorities (`common`, `organizations`) publish the issuer
//! `https://login.microsoftonline.com/{tenantid}/v2.0`: every token must carry the issuer
//! with its own `tid` substituted (see `verify`), optionally limited to `allowed_tenant_ids`.

use std::fmt;

use serde::{Deserialize, Serialize};
use url::Url;

pub const GOOGLE_ISSUER: &str = "https://accounts.google.com";
pub const MICROSOFT_ISSUER_TEMPLATE: &str = "https://login.microsoftonline.com/{tenantid}/v2.0";
pub const TENANT_PLACEHOLDER: &str = "{tenantid}";

/// `[google]` as written by the operator.
#[derive(Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RawGoogle {
    pub client_id: String,
    pub client_secret: String,
    /// Google Workspace domains (`hd` claim) allowed to sign in; empty: any account.
    pub allowed_hd: Vec<String>,
    /// Issuer whose discovery document is read (tests point it at a local provider).
    pub issuer: Option<String>,
}

/// `[microsoft]` as written by the operator.
#[derive(Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RawMicrosoft {
    pub client_id: String,
    pub client_secret: String,
    /// `organizations` (work and school accounts, the default), `common`, or one
    /// directory's tenant id.
    pub authority: Option<String>,
    /// Entra directory ids (`tid`) allowed to sign in; empty: any directory.
    pub allowed_tenant_ids: Vec<String>,
    /// Base URL of the authority; discovery is read from
    /// `{authority_url}/.well-known/openid-configuration`.
    /// Default: `https://login.microsoftonline.com/{authority}/v2.0`.
    pub authority_url: Option<String>,
    /// Issuer the discovery document must publish, with the `{tenantid}` placeholder.
    pub issuer_template: Option<String>,
}

// Hand-written: the client secrets must never reach a log line.
impl fmt::Debug for RawGoogle {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RawGoogle")
            .field("client_id", &self.client_id)
            .field("allowed_hd", &self.allowed_hd)
            .finish_non_exhaustive()
    }
}

impl fmt::Debug for RawMicrosoft {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RawMicrosoft")
            .field("client_id", &self.client_id)
            .field("authority", &self.authority)
            .field("allowed_tenant_ids", &self.allowed_tenant_ids)
            .finish_non_exhaustive()
    }
}

/// A validated Google provider.
#[derive(Clone)]
pub struct Google {
    pub client_id: String,
    pub client_secret: String,
    pub allowed_hd: Vec<String>,
    pub issuer: String,
}

/// A validated Microsoft provider.
#[derive(Clone)]
pub struct Microsoft {
    pub client_id: String,
    pub client_secret: String,
    pub allowed_tenant_ids: Vec<String>,
    /// Where the discovery document is read.
    pub discovery_url: String,
    /// The issuer with `{tenantid}`; a single-directory authority has none.
    pub issuer_template: String,
}

/// Everything the OIDC module reads from the configuration.
#[derive(Clone, Default)]
pub struct GlobalProviders {
    pub google: Option<Google>,
    pub microsoft: Option<Microsoft>,
    /// `danger_oidc_allow_http_loopback`: issuers on `http://127.0.0.1`/`localhost`
    /// (local test providers). Never on in production.
    pub allow_http_loopback: bool,
}

impl fmt::Debug for GlobalProviders {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("GlobalProviders")
            .field("google", &self.google.is_some())
            .field("microsoft", &self.microsoft.is_some())
            .field("allow_http_loopback", &self.allow_http_loopback)
            .finish()
    }
}

fn is_loopback(url: &Url) -> bool {
    match url.host() {
        Some(url::Host::Domain(d)) => d.eq_ignore_ascii_case("localhost"),
        Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
        Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
        None => false,
    }
}

/// Checks that a provider URL is https (plain http only on loopback, and only when the
/// operator allowed it) and carries no credentials, query or fragment.
pub fn check_provider_url(raw: &str, allow_http_loopback: bool) -> Result<Url, String> {
    let url = Url::parse(raw.trim()).map_err(|_| format!("`{raw}` is not a URL"))?;
    match url.scheme() {
        "https" => {}
        "http" if allow_http_loopback && is_loopback(&url) => {}
        "http" if is_loopback(&url) => {
            return Err(format!(
                "`{raw}` is plain http; loopback http is allowed only with danger_oidc_allow_http_loopback = true (local testing)"
            ))
        }
        _ => return Err(format!("`{raw}` must be an https:// URL")),
    }
    if url.host_str().is_none() {
        return Err(format!("`{raw}` has no host"));
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err(format!("`{raw}` must not contain a user name or password"));
    }
    if url.query().is_some() || url.fragment().is_some() {
        return Err(format!("`{raw}` must not have a query or fragment"));
    }
    Ok(url)
}

/// Entra directory ids are GUIDs; anything else cannot be substituted into an issuer.
pub fn is_tenant_id(s: &str) -> bool {
    s.len() == 36
        && s.char_indices().all(|(i, c)| match i {
            8 | 13 | 18 | 23 => c == '-',
            _ => c.is_ascii_hexdigit(),
        })
}

/// Validates both providers; each problem is reported with its key.
pub fn validate(
    google: Option<RawGoogle>,
    microsoft: Option<RawMicrosoft>,
    allow_http_loopback: bool,
    problem: &mut dyn FnMut(&str, String),
) -> GlobalProviders {
    let mut out = GlobalProviders {
        allow_http_loopback,
        ..Default::default()
    };
    if let Some(g) = google.filter(|g| !g.client_id.trim().is_empty()) {
        if g.client_secret.is_empty() {
            problem(
                "google.client_secret",
                "is required with google.client_id".into(),
            );
        }
        let issuer = g.issuer.unwrap_or_else(|| GOOGLE_ISSUER.into());
        if let Err(m) = check_provider_url(&issuer, allow_http_loopback) {
            problem("google.issuer", m);
        }
        let mut hds = Vec::new();
        for (i, hd) in g.allowed_hd.iter().enumerate() {
            match crate::tenant::domain::normalize_domain(hd) {
                Ok(d) => hds.push(d),
                Err(e) => problem(&format!("google.allowed_hd[{i}]"), e.to_string()),
            }
        }
        out.google = Some(Google {
            client_id: g.client_id.trim().to_owned(),
            client_secret: g.client_secret,
            allowed_hd: hds,
            issuer: issuer.trim_end_matches('/').to_owned(),
        });
    }
    if let Some(m) = microsoft.filter(|m| !m.client_id.trim().is_empty()) {
        if m.client_secret.is_empty() {
            problem(
                "microsoft.client_secret",
                "is required with microsoft.client_id".into(),
            );
        }
        let authority = m.authority.unwrap_or_else(|| "organizations".into());
        let single_directory = is_tenant_id(&authority);
        if !(single_directory || matches!(authority.as_str(), "organizations" | "common")) {
            problem(
                "microsoft.authority",
                format!(
                    "`{authority}` must be `organizations`, `common` or a directory (tenant) id"
                ),
            );
        }
        let authority_url = m
            .authority_url
            .unwrap_or_else(|| format!("https://login.microsoftonline.com/{authority}/v2.0"));
        if let Err(e) = check_provider_url(&authority_url, allow_http_loopback) {
            problem("microsoft.authority_url", e);
        }
        let template = m.issuer_template.unwrap_or_else(|| {
            if single_directory {
                MICROSOFT_ISSUER_TEMPLATE.replace(TENANT_PLACEHOLDER, &authority)
            } else {
                MICROSOFT_ISSUER_TEMPLATE.into()
            }
        });
        if let Err(e) = check_provider_url(
            &template.replace(TENANT_PLACEHOLDER, "t"),
            allow_http_loopback,
        ) {
            problem("microsoft.issuer_template", e);
        }
        if template.matches(TENANT_PLACEHOLDER).count() > 1 {
            problem(
                "microsoft.issuer_template",
                "may contain the {tenantid} placeholder at most once".into(),
            );
        }
        let mut tids = Vec::new();
        for (i, t) in m.allowed_tenant_ids.iter().enumerate() {
            let t = t.trim().to_ascii_lowercase();
            if is_tenant_id(&t) {
                tids.push(t);
            } else {
                problem(
                    &format!("microsoft.allowed_tenant_ids[{i}]"),
                    format!("`{t}` is not a directory (tenant) id such as 72f988bf-86f1-41af-91ab-2d7cd011db47"),
                );
            }
        }
        out.microsoft = Some(Microsoft {
            client_id: m.client_id.trim().to_owned(),
            client_secret: m.client_secret,
            allowed_tenant_ids: tids,
            discovery_url: format!(
                "{}/.well-known/openid-configuration",
                authority_url.trim_end_matches('/')
            ),
            issuer_template: template,
        });
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(
        g: Option<RawGoogle>,
        m: Option<RawMicrosoft>,
        loopback: bool,
    ) -> (GlobalProviders, Vec<String>) {
        let mut problems = Vec::new();
        let out = validate(g, m, loopback, &mut |k, msg| {
            problems.push(format!("{k}: {msg}"))
        });
        (out, problems)
    }

    #[test]
    fn defaults_point_at_the_real_providers() {
        let (p, problems) = run(
            Some(RawGoogle {
                client_id: "g".into(),
                client_secret: "s".into(),
                ..Default::default()
            }),
            Some(RawMicrosoft {
                client_id: "m".into(),
                client_secret: "s".into(),
                ..Default::default()
            }),
            false,
        );
        assert!(problems.is_empty(), "{problems:?}");
        assert_eq!(p.google.unwrap().issuer, GOOGLE_ISSUER);
        let ms = p.microsoft.unwrap();
        assert_eq!(
            ms.discovery_url,
            "https://login.microsoftonline.com/organizations/v2.0/.well-known/openid-configuration"
        );
        assert_eq!(ms.issuer_template, MICROSOFT_ISSUER_TEMPLATE);
    }

    #[test]
    fn a_provider_without_client_id_is_off() {
        let (p, problems) = run(Some(RawGoogle::default()), None, false);
        assert!(problems.is_empty());
        assert!(p.google.is_none());
    }

    #[test]
    fn loopback_http_needs_the_danger_switch() {
        let g = || {
            Some(RawGoogle {
                client_id: "g".into(),
                client_secret: "s".into(),
                issuer: Some("http://127.0.0.1:9999".into()),
                ..Default::default()
            })
        };
        let (_, problems) = run(g(), None, false);
        assert_eq!(problems.len(), 1, "{problems:?}");
        assert!(problems[0].starts_with("google.issuer"));
        let (p, problems) = run(g(), None, true);
        assert!(problems.is_empty());
        assert!(p.google.is_some());
        assert!(check_provider_url("http://idp.example", true).is_err());
    }

    #[test]
    fn bad_tenant_ids_and_authorities_are_named() {
        let (_, problems) = run(
            None,
            Some(RawMicrosoft {
                client_id: "m".into(),
                client_secret: "s".into(),
                authority: Some("consumers-ish".into()),
                allowed_tenant_ids: vec!["not-a-guid".into()],
                ..Default::default()
            }),
            false,
        );
        assert_eq!(problems.len(), 2, "{problems:?}");
        assert!(problems[0].starts_with("microsoft.authority"));
        assert!(problems[1].starts_with("microsoft.allowed_tenant_ids[0]"));
        assert!(is_tenant_id("72f988bf-86f1-41af-91ab-2d7cd011db47"));
        assert!(!is_tenant_id("72f988bf-86f1-41af-91ab-2d7cd011db4/"));
    }
}
