//! Setup links in the console: an admin creates, lists and revokes them under
//! `/admin/tenants/{id}/it-setup`; the customer's IT admin opens one at `/it-setup/{secret}`,
//! which trades the secret for a cookie and lands on the tenant's SSO setup.

use actix_web::http::header::{self, HeaderValue};
use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest};
use askama::Template;
use serde::Deserialize;

use super::{datetime, form_error, managed_tenant, require_recent, CsrfForm, Page};
use crate::console::{Admin, ConsoleUser, Nav};
use crate::it_setup::{self, ItSetupLink, NewItSetupLink, MAX_LIFETIME_HOURS};
use crate::state::AppState;
use crate::tenant::Tenant;
use crate::web::cookies;
use crate::web::error::PageError;
use crate::web::page::{check_csrf, see_other, with_forms};

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/it-setup/{secret}", web::get().to(open_link))
        .route(
            "/admin/tenants/{tenant_id}/it-setup",
            web::get().to(get_links),
        )
        .route(
            "/admin/tenants/{tenant_id}/it-setup",
            web::post().to(post_link),
        )
        .route(
            "/admin/tenants/{tenant_id}/it-setup/{link_id}/revoke",
            web::post().to(post_revoke),
        );
}

/// Lifetimes offered in the form; the API takes any number of hours up to the maximum.
const LIFETIME_CHOICES: [(u32, &str); 4] = [
    (4, "4 hours"),
    (24, "1 day"),
    (72, "3 days"),
    (MAX_LIFETIME_HOURS, "7 days"),
];

struct LinkRow {
    id: String,
    label: String,
    created_by: String,
    created: String,
    expires: String,
    last_used: String,
    status: &'static str,
    active: bool,
}

struct LifetimeOption {
    hours: u32,
    label: &'static str,
    selected: bool,
}

#[derive(Template)]
#[template(path = "console/it_setup.html")]
struct LinksPage {
    admin_email: String,
    is_operator: bool,
    tenant: Tenant,
    links: Vec<LinkRow>,
    lifetimes: Vec<LifetimeOption>,
    label: String,
    /// A link just created: (who it is for, the URL), shown this once.
    created: Option<(String, String)>,
    error: Option<(String, String)>,
    notice: Option<&'static str>,
    csrf_token: String,
}

impl Nav for LinksPage {}

/// The URL a link's holder opens.
pub fn link_url(base_url: &url::Url, secret: &str) -> String {
    format!(
        "{}/it-setup/{secret}",
        base_url.as_str().trim_end_matches('/')
    )
}

fn rows(links: Vec<ItSetupLink>, now: time::OffsetDateTime) -> Vec<LinkRow> {
    links
        .into_iter()
        .map(|l| {
            let status = l.status(now);
            LinkRow {
                status: status.label(),
                active: status == it_setup::LinkStatus::Active,
                created: datetime(l.created_at),
                expires: datetime(l.expires_at),
                last_used: l.last_used_at.map_or_else(|| "never".into(), datetime),
                id: l.id,
                label: l.label,
                created_by: l.created_by,
            }
        })
        .collect()
}

struct Rendered {
    label: String,
    lifetime_hours: u32,
    created: Option<(String, String)>,
    error: Option<(String, String)>,
    notice: Option<&'static str>,
}

async fn render(
    req: &HttpRequest,
    state: &AppState,
    admin: &Admin,
    tenant: Tenant,
    shown: Rendered,
) -> Page {
    let links = it_setup::list(&*state.store, &tenant.id).await?;
    let status = if shown.error.is_some() {
        StatusCode::BAD_REQUEST
    } else {
        StatusCode::OK
    };
    let mut resp = with_forms(req, &state.config, status, |csrf_token| LinksPage {
        admin_email: admin.user.email.clone(),
        is_operator: admin.is_operator(),
        links: rows(links, state.clock.now()),
        lifetimes: LIFETIME_CHOICES
            .iter()
            .map(|(hours, label)| LifetimeOption {
                hours: *hours,
                label,
                selected: *hours == shown.lifetime_hours,
            })
            .collect(),
        tenant,
        label: shown.label,
        created: shown.created,
        error: shown.error,
        notice: shown.notice,
        csrf_token,
    })?;
    // A page that may hold a link's secret must not linger in any cache.
    resp.headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    Ok(resp)
}

#[derive(Deserialize)]
struct NoticeQuery {
    notice: Option<String>,
}

async fn get_links(
    req: HttpRequest,
    admin: Admin,
    path: web::Path<String>,
    query: web::Query<NoticeQuery>,
    state: web::Data<AppState>,
) -> Page {
    let tenant = managed_tenant(&state, &admin, &path).await?;
    let notice = match query.notice.as_deref() {
        Some("revoked") => Some("The setup link was revoked: it opens nothing from now on."),
        _ => None,
    };
    let shown = Rendered {
        label: String::new(),
        lifetime_hours: 72,
        created: None,
        error: None,
        notice,
    };
    render(&req, &state, &admin, tenant, shown).await
}

#[derive(Deserialize)]
struct NewLinkForm {
    csrf_token: String,
    label: String,
    /// Text, so a tampered value is a form error rather than an extractor error.
    lifetime_hours: String,
}

/// Creates a link and shows it on this one answer. Needs a recent sign-in: the link lets
/// someone without an account change how the organisation signs in.
async fn post_link(
    req: HttpRequest,
    admin: Admin,
    path: web::Path<String>,
    form: web::Form<NewLinkForm>,
    state: web::Data<AppState>,
) -> Page {
    check_csrf(&req, &form.csrf_token)?;
    let tenant = managed_tenant(&state, &admin, &path).await?;
    require_recent(
        &state,
        &admin,
        &format!("/admin/tenants/{}/it-setup", tenant.id),
    )?;
    let form = form.into_inner();
    let lifetime_hours = form.lifetime_hours.trim().parse::<u32>().unwrap_or(0);
    let new = NewItSetupLink {
        label: form.label.clone(),
        lifetime_hours,
    };
    let created = it_setup::create(
        &*state.store,
        &*state.clock,
        &tenant.id,
        &admin.changed_by(),
        new,
    )
    .await;
    let shown = match created {
        Ok((link, secret)) => {
            tracing::info!(tenant = %tenant.id, admin = %admin.user.id, link = %link.id, "IT setup link created");
            Rendered {
                label: String::new(),
                lifetime_hours: 72,
                created: Some((link.label, link_url(&state.config.base_url, &secret))),
                error: None,
                notice: None,
            }
        }
        Err(e) => Rendered {
            label: form.label,
            lifetime_hours,
            created: None,
            error: Some(form_error(e)?),
            notice: None,
        },
    };
    render(&req, &state, &admin, tenant, shown).await
}

async fn post_revoke(
    req: HttpRequest,
    admin: Admin,
    path: web::Path<(String, String)>,
    form: web::Form<CsrfForm>,
    state: web::Data<AppState>,
) -> Page {
    check_csrf(&req, &form.csrf_token)?;
    let (tenant_id, link_id) = path.into_inner();
    let tenant = managed_tenant(&state, &admin, &tenant_id).await?;
    it_setup::revoke(
        &*state.store,
        &*state.clock,
        &tenant.id,
        &link_id,
        &admin.changed_by(),
    )
    .await?;
    tracing::info!(tenant = %tenant.id, admin = %admin.user.id, link = %link_id, "IT setup link revoked");
    Ok(see_other(&format!(
        "/admin/tenants/{}/it-setup?notice=revoked",
        tenant.id
    )))
}

fn link_not_valid() -> PageError {
    PageError::new(
        StatusCode::NOT_FOUND,
        "This setup link does not work",
        "The link has expired, was revoked, or was copied incompletely.",
        "Ask the person who sent it to you for a new setup link.",
    )
}

/// Opening a link: the secret moves from the address into a cookie scoped to the console,
/// and the browser lands on the tenant's SSO setup.
async fn open_link(path: web::Path<String>, state: web::Data<AppState>) -> Page {
    let secret = path.into_inner();
    let link = it_setup::resolve(&*state.store, &*state.clock, &secret)
        .await?
        .ok_or_else(link_not_valid)?;
    let lifetime = (link.expires_at - state.clock.now()).whole_seconds();
    let landing = it_setup::landing_path(&*state.store, &link.tenant_id).await?;
    let mut resp = see_other(&landing);
    cookies::attach(
        &mut resp,
        &cookies::it_setup(&state.config, secret, lifetime),
    )?;
    resp.headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    Ok(resp)
}
