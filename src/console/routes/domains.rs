//! The Domains page: the organisation's verified domains (how each was verified, make
//! primary, remove) and the pending ones with the DNS TXT record to publish and "Check now".
//!
//! Tenant admins add domains as pending and prove them by DNS only; an operator may also
//! vouch for a domain (verified at once). Setup-link holders never reach this page (the
//! [`Admin`] extractor answers "Not part of this setup link"). Every change needs the CSRF
//! token; the ones that change where people sign in (check, remove, make primary, an
//! operator's add) also need a recent sign-in.

use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest};
use askama::Template;
use serde::Deserialize;

use super::{date, datetime, form_error, managed_tenant, require_recent, CsrfForm, Page};
use crate::console::{Admin, ConsoleUser, Nav};
use crate::error::Error;
use crate::state::AppState;
use crate::tenant::ownership::{self, Added};
use crate::tenant::verification::{self, CheckOutcome, RECORD_LABEL};
use crate::tenant::{Tenant, VerificationMethod};
use crate::web::error::PageError;
use crate::web::page::{check_csrf, see_other, with_forms};

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route(
        "/admin/tenants/{tenant_id}/domains",
        web::get().to(get_domains),
    )
    .route(
        "/admin/tenants/{tenant_id}/domains",
        web::post().to(post_domain),
    )
    .route(
        "/admin/tenants/{tenant_id}/domains/{domain}/check",
        web::post().to(post_check),
    )
    .route(
        "/admin/tenants/{tenant_id}/domains/{domain}/remove",
        web::post().to(post_remove),
    )
    .route(
        "/admin/tenants/{tenant_id}/domains/{domain}/primary",
        web::post().to(post_primary),
    );
}

struct VerifiedRow {
    domain: String,
    primary: bool,
    how: String,
}

struct LastCheck {
    at: String,
    message: String,
    /// `warning` when the resolver gave no answer (nothing is known), `error` otherwise.
    class: &'static str,
}

struct PendingRow {
    domain: String,
    record_name: String,
    record_value: String,
    added: String,
    added_by: String,
    last_check: Option<LastCheck>,
}

#[derive(Template)]
#[template(path = "console/domains.html")]
struct DomainsPage {
    admin_email: String,
    is_operator: bool,
    tenant: Tenant,
    verified: Vec<VerifiedRow>,
    pending: Vec<PendingRow>,
    record_label: &'static str,
    /// What was typed in the add form, kept when it is refused.
    typed: String,
    /// Why the add form was refused, shown next to its field.
    add_error: Option<String>,
    /// Why another action was refused.
    error: Option<String>,
    notice: Option<&'static str>,
    csrf_token: String,
}

impl Nav for DomainsPage {}

fn how_verified(tenant: &Tenant, domain: &str) -> String {
    match tenant.domain_verifications.get(domain) {
        Some(v) if v.method == VerificationMethod::DnsTxt => format!(
            "verified by DNS TXT on {} ({})",
            date(v.at),
            v.by.describe()
        ),
        Some(v) => format!("added by an operator ({}, {})", v.by.describe(), date(v.at)),
        None => "added by an operator".into(),
    }
}

fn rows(tenant: &Tenant) -> (Vec<VerifiedRow>, Vec<PendingRow>) {
    let verified = tenant
        .domains()
        .map(|d| VerifiedRow {
            domain: d.to_owned(),
            primary: d == tenant.primary_domain,
            how: how_verified(tenant, d),
        })
        .collect();
    let pending = tenant
        .pending_domains
        .iter()
        .map(|p| PendingRow {
            record_name: verification::record_name(&p.domain),
            record_value: verification::record_value(&p.token),
            added: datetime(p.added_at),
            added_by: p.added_by.describe(),
            last_check: p.last_check.as_ref().map(|c| LastCheck {
                at: datetime(c.at),
                message: c.outcome.message(&p.domain),
                class: match c.outcome {
                    CheckOutcome::ResolverUnavailable { .. } => "warning",
                    _ => "error",
                },
            }),
            domain: p.domain.clone(),
        })
        .collect();
    (verified, pending)
}

/// Messages passed through a redirect: looked up, never echoed.
fn notice_text(code: Option<&str>) -> Option<&'static str> {
    Some(match code? {
        "added" => "Domain added. Publish the TXT record shown below at your DNS provider, then press “Check now”.",
        "already_pending" => "This domain is already waiting for its proof; its TXT record is unchanged.",
        "already_verified" => "This domain is already verified for this organisation.",
        "added_verified" => "Domain added as verified, on your word as operator.",
        "verified" => "Domain verified: people with addresses at it now sign in through this organisation's SSO, and SSO-only applies to them when it is on.",
        "removed" => "Domain removed.",
        "primary" => "Primary domain changed. The SP Entity ID and ACS URL contain it, so they changed too: update them in your identity provider.",
        "check_failed" => "Not verified yet: the result of the check is shown with the domain below. Nothing was changed.",
        _ => return None,
    })
}

struct Shown {
    status: StatusCode,
    typed: String,
    add_error: Option<String>,
    error: Option<String>,
    notice: Option<&'static str>,
}

fn render(
    req: &HttpRequest,
    state: &AppState,
    admin: &Admin,
    tenant: Tenant,
    shown: Shown,
) -> Page {
    let (verified, pending) = rows(&tenant);
    with_forms(req, &state.config, shown.status, |csrf_token| DomainsPage {
        admin_email: admin.user.email.clone(),
        is_operator: admin.is_operator(),
        tenant,
        verified,
        pending,
        record_label: RECORD_LABEL,
        typed: shown.typed,
        add_error: shown.add_error,
        error: shown.error,
        notice: shown.notice,
        csrf_token,
    })
}

#[derive(Deserialize)]
struct DomainsQuery {
    notice: Option<String>,
    error: Option<String>,
}

async fn get_domains(
    req: HttpRequest,
    admin: Admin,
    path: web::Path<String>,
    query: web::Query<DomainsQuery>,
    state: web::Data<AppState>,
) -> Page {
    let tenant = managed_tenant(&state, &admin, &path).await?;
    let shown = Shown {
        status: StatusCode::OK,
        typed: String::new(),
        add_error: None,
        error: notice_text(query.error.as_deref()).map(str::to_owned),
        notice: notice_text(query.notice.as_deref()),
    };
    render(&req, &state, &admin, tenant, shown)
}

fn back(tenant_id: &str) -> String {
    format!("/admin/tenants/{tenant_id}/domains")
}

#[derive(Deserialize)]
struct AddForm {
    csrf_token: String,
    domain: String,
    /// `dns` (the default) or `operator`.
    #[serde(default)]
    verification: Option<String>,
}

async fn post_domain(
    req: HttpRequest,
    admin: Admin,
    path: web::Path<String>,
    form: web::Form<AddForm>,
    state: web::Data<AppState>,
) -> Page {
    check_csrf(&req, &form.csrf_token)?;
    let tenant = managed_tenant(&state, &admin, &path).await?;
    let vouch = form.verification.as_deref() == Some("operator");
    if vouch {
        // The proof may be skipped on an operator's word only.
        if !admin.is_operator() {
            return Err(PageError::new(
                StatusCode::FORBIDDEN,
                "Only an operator can skip the proof",
                "Domains you add are verified by their DNS TXT record.",
                "Add the domain without the operator option and publish the TXT record shown.",
            )
            .with_action("Back to Domains", back(&tenant.id)));
        }
        require_recent(&state, &admin, &back(&tenant.id))?;
    }
    let (store, clock, by) = (&*state.store, &*state.clock, admin.changed_by());
    let added = if vouch {
        ownership::add_verified(store, clock, &tenant.id, &form.domain, &by).await
    } else {
        ownership::add_pending(store, clock, &tenant.id, &form.domain, &by).await
    };
    let added = match added {
        Ok((_, added)) => added,
        Err(e) => {
            let (_, message) = form_error(e)?;
            let shown = Shown {
                status: StatusCode::BAD_REQUEST,
                typed: form.domain.clone(),
                add_error: Some(message),
                error: None,
                notice: None,
            };
            return render(&req, &state, &admin, tenant, shown);
        }
    };
    tracing::info!(tenant = %tenant.id, admin = %admin.user.id, domain = %form.domain.trim(), vouch, "domain added in the console");
    let code = match added {
        Added::Pending(_) => "added",
        Added::AlreadyPending(_) => "already_pending",
        Added::Verified => "added_verified",
        Added::AlreadyVerified => "already_verified",
    };
    Ok(see_other(&format!("{}?notice={code}", back(&tenant.id))))
}

/// Renders the page with `err` as a refusal (a conflict or an invalid value), or turns
/// any other error into an error page.
fn refused(req: &HttpRequest, state: &AppState, admin: &Admin, tenant: Tenant, err: Error) -> Page {
    let (_, message) = form_error(err)?;
    let shown = Shown {
        status: StatusCode::BAD_REQUEST,
        typed: String::new(),
        add_error: None,
        error: Some(message),
        notice: None,
    };
    render(req, state, admin, tenant, shown)
}

/// The buttons next to a domain. Each changes where the organisation's people sign in, so
/// each needs a recent sign-in.
enum DomainAction {
    Check,
    Remove,
    MakePrimary,
}

/// Runs `action` on the domain in the path, then back to the page with its notice, or the
/// page again with the refusal.
async fn act_on_domain(
    req: &HttpRequest,
    state: &AppState,
    admin: &Admin,
    form: &CsrfForm,
    path: web::Path<(String, String)>,
    action: DomainAction,
) -> Page {
    check_csrf(req, &form.csrf_token)?;
    let (tenant_id, domain) = path.into_inner();
    let tenant = managed_tenant(state, admin, &tenant_id).await?;
    require_recent(state, admin, &back(&tenant.id))?;
    let (store, clock, by) = (&*state.store, &*state.clock, admin.changed_by());
    // The query the page is shown with afterwards: a notice, or why nothing changed.
    let query = match action {
        DomainAction::Check => {
            ownership::check(store, clock, &*state.dns, &tenant.id, &domain, &by)
                .await
                .map(|(_, check)| match check.outcome.is_verified() {
                    true => "notice=verified",
                    false => "error=check_failed",
                })
        }
        DomainAction::Remove => ownership::remove(store, clock, &tenant.id, &domain, &by)
            .await
            .map(|_| "notice=removed"),
        DomainAction::MakePrimary => {
            ownership::make_primary(store, clock, &tenant.id, &domain, &by)
                .await
                .map(|_| "notice=primary")
        }
    };
    match query {
        Ok(query) => Ok(see_other(&format!("{}?{query}", back(&tenant.id)))),
        Err(e) => refused(req, state, admin, tenant, e),
    }
}

async fn post_check(
    req: HttpRequest,
    admin: Admin,
    path: web::Path<(String, String)>,
    form: web::Form<CsrfForm>,
    state: web::Data<AppState>,
) -> Page {
    act_on_domain(&req, &state, &admin, &form, path, DomainAction::Check).await
}

async fn post_remove(
    req: HttpRequest,
    admin: Admin,
    path: web::Path<(String, String)>,
    form: web::Form<CsrfForm>,
    state: web::Data<AppState>,
) -> Page {
    act_on_domain(&req, &state, &admin, &form, path, DomainAction::Remove).await
}

async fn post_primary(
    req: HttpRequest,
    admin: Admin,
    path: web::Path<(String, String)>,
    form: web::Form<CsrfForm>,
    state: web::Data<AppState>,
) -> Page {
    act_on_domain(&req, &state, &admin, &form, path, DomainAction::MakePrimary).await
}
