//! The test sign-in's report page, `/admin/tests/{id}`, for both protocols: the SAML
//! report (certificates, the response XML) or the OIDC report (algorithm and key, the
//! redacted ID token claims). Readable by the tenant's admins and its setup-link holders.

use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest};
use askama::Template;

use super::{cert_views, datetime, managed_tenant, CertView, Page};
use crate::console::{Actor, Nav};
use crate::oidc::diagnose as oidc_report;
use crate::saml::connection as saml_connection;
use crate::saml::diagnose::{self as saml_report, IdentitySummary};
use crate::sso_test::{self, Report, TestRecord};
use crate::state::AppState;
use crate::tenant::Tenant;
use crate::web::error::PageError;
use crate::web::page::with_forms;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/admin/tests/{test_id}", web::get().to(get_test));
}

struct CheckView {
    label: &'static str,
    passed: bool,
    checked: bool,
    observed: String,
    fix: String,
}

impl From<&saml_report::Check> for CheckView {
    fn from(c: &saml_report::Check) -> Self {
        Self {
            label: c.kind.label(),
            passed: c.passed,
            checked: c.checked,
            observed: c.observed.clone(),
            fix: c.fix.clone().unwrap_or_default(),
        }
    }
}

impl From<&oidc_report::Check> for CheckView {
    fn from(c: &oidc_report::Check) -> Self {
        Self {
            label: c.kind.label(),
            passed: c.passed,
            checked: c.checked,
            observed: c.observed.clone(),
            fix: c.fix.clone().unwrap_or_default(),
        }
    }
}

fn clock(d: Option<i64>) -> String {
    d.map_or_else(|| "unknown".into(), |d| format!("{d:+} s"))
}

/// What both protocols' report pages open with (`console/_test_verdict.html`): when the
/// test ran, whether a real sign-in would complete, and each check.
struct Verdict {
    at: String,
    passed: bool,
    outcome: String,
    refusal: Option<String>,
    checks: Vec<CheckView>,
    clock_difference: String,
}

impl Verdict {
    fn new(
        record: &TestRecord,
        passed: bool,
        refusal: &Option<String>,
        checks: Vec<CheckView>,
        clock_difference_secs: Option<i64>,
    ) -> Self {
        Self {
            at: datetime(record.finished_at.unwrap_or(record.started_at)),
            passed,
            outcome: record.outcome.clone(),
            refusal: refusal.clone(),
            checks,
            clock_difference: clock(clock_difference_secs),
        }
    }
}

#[derive(Template)]
#[template(path = "console/test_report.html")]
struct SamlReportPage {
    admin_email: String,
    is_operator: bool,
    guest: bool,
    tenant: Tenant,
    verdict: Verdict,
    signing_certificate: String,
    /// Fingerprints configured when the test ran, with the certificate's expiry when it is
    /// still configured.
    configured_certificates: Vec<(String, Option<CertView>)>,
    identity: Option<IdentitySummary>,
    response_xml: String,
    csrf_token: String,
}

impl Nav for SamlReportPage {
    fn guest(&self) -> bool {
        self.guest
    }
}

#[derive(Template)]
#[template(path = "console/oidc_test_report.html")]
struct OidcReportPage {
    admin_email: String,
    is_operator: bool,
    guest: bool,
    tenant: Tenant,
    verdict: Verdict,
    algorithm: String,
    key_id: String,
    matched_key: String,
    jwks_key_ids: String,
    claims_verified: bool,
    /// Pretty JSON of the redacted claims; empty when no ID token came back.
    claims: String,
    identity: Option<oidc_report::IdentitySummary>,
    csrf_token: String,
}

impl Nav for OidcReportPage {
    fn guest(&self) -> bool {
        self.guest
    }
}

impl OidcReportPage {
    fn groups(&self) -> String {
        match self.identity.as_ref().and_then(|i| i.groups.as_ref()) {
            Some(g) => sso_test::listed(g),
            None => "not sent".into(),
        }
    }
}

/// Each fingerprint a SAML test was checked against, with its certificate's expiry when
/// the connection still has it.
async fn configured_certificates(
    state: &AppState,
    tenant: &Tenant,
    fingerprints: &[String],
) -> Result<Vec<(String, Option<CertView>)>, PageError> {
    let mut current = saml_connection::get(&*state.store, &tenant.id)
        .await?
        .map(|c| cert_views(&c.certificates, state.clock.now()))
        .unwrap_or_default();
    Ok(fingerprints
        .iter()
        .map(|fp| {
            let still = current.iter().position(|c| &c.fingerprint == fp);
            (fp.clone(), still.map(|i| current.swap_remove(i)))
        })
        .collect())
}

fn not_finished() -> PageError {
    PageError::new(
        StatusCode::NOT_FOUND,
        "This test sign-in has not finished",
        "The test was started but its sign-in has not come back from the identity provider.",
        "Finish the sign-in in the tab that opened for it, or start a new test from the SSO page.",
    )
}

async fn get_test(
    req: HttpRequest,
    admin: Actor,
    path: web::Path<String>,
    state: web::Data<AppState>,
) -> Page {
    let record = sso_test::get(&*state.store, &path)
        .await?
        .ok_or_else(PageError::not_found)?;
    let tenant = managed_tenant(&state, &admin, &record.tenant_id).await?;
    let (admin_email, guest, is_operator) =
        (admin.display_name(), admin.is_guest(), admin.is_operator());
    match &record.report {
        None => Err(not_finished()),
        Some(Report::Saml(r)) => {
            let configured_certificates =
                configured_certificates(&state, &tenant, &r.configured_certificates).await?;
            with_forms(&req, &state.config, StatusCode::OK, |csrf_token| {
                SamlReportPage {
                    admin_email,
                    guest,
                    is_operator,
                    tenant,
                    verdict: Verdict::new(
                        &record,
                        r.passed,
                        &r.refusal,
                        r.checks.iter().map(CheckView::from).collect(),
                        r.clock_difference_secs,
                    ),
                    signing_certificate: r
                        .signing_certificate
                        .clone()
                        .unwrap_or_else(|| "not included in the response".into()),
                    configured_certificates,
                    identity: r.identity.clone(),
                    response_xml: r.response_xml.clone(),
                    csrf_token,
                }
            })
        }
        Some(Report::Oidc(r)) => with_forms(&req, &state.config, StatusCode::OK, |csrf_token| {
            OidcReportPage {
                admin_email,
                guest,
                is_operator,
                tenant,
                verdict: Verdict::new(
                    &record,
                    r.passed,
                    &r.refusal,
                    r.checks.iter().map(CheckView::from).collect(),
                    r.clock_difference_secs,
                ),
                algorithm: r.algorithm.clone().unwrap_or_else(|| "not received".into()),
                key_id: r.key_id.clone().unwrap_or_else(|| "none".into()),
                matched_key: r
                    .matched_key
                    .clone()
                    .unwrap_or_else(|| "no matching key".into()),
                jwks_key_ids: if r.jwks_key_ids.is_empty() {
                    "none fetched".into()
                } else {
                    r.jwks_key_ids.join(", ")
                },
                claims_verified: r.claims_verified,
                claims: r
                    .claims
                    .as_ref()
                    .and_then(|c| serde_json::to_string_pretty(c).ok())
                    .unwrap_or_default(),
                identity: r.identity.clone(),
                csrf_token,
            }
        }),
    }
}
