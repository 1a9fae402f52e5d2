//! Logs, three views of one tenant's journals, newest first, each entry with its reference
//! id: sign-ins (login events by person, result and date), provisioning (every SCIM write
//! by person, result and date) and configuration changes (who changed what, by area and
//! date). The date fields and their reading are shared by the three.

use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest};
use askama::Template;
use serde::Deserialize;

use super::{datetime, managed_tenant, Page};
use crate::audit::changes::{self, Area, ChangeEvent};
use crate::audit::login::{self as login_events, LoginEvent, Outcome};
use crate::audit::Window;
use crate::console::{Admin, Nav};
use crate::scim::log::{self as provisioning, ProvisioningEvent};
use crate::state::AppState;
use crate::tenant::Tenant;
use crate::web::error::PageError;
use crate::web::page::with_forms;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route(
        "/admin/tenants/{tenant_id}/logs",
        web::get().to(get_sign_ins),
    )
    .route(
        "/admin/tenants/{tenant_id}/logs/provisioning",
        web::get().to(get_provisioning),
    )
    .route(
        "/admin/tenants/{tenant_id}/logs/changes",
        web::get().to(get_changes),
    );
}

/// Entries shown at most per view.
const LIMIT: usize = 200;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Tab {
    SignIns,
    Provisioning,
    Changes,
}

impl Tab {
    const ALL: [Tab; 3] = [Tab::SignIns, Tab::Provisioning, Tab::Changes];

    fn label(self) -> &'static str {
        match self {
            Tab::SignIns => "Sign-ins",
            Tab::Provisioning => "Provisioning",
            Tab::Changes => "Configuration changes",
        }
    }

    fn heading(self) -> &'static str {
        match self {
            Tab::SignIns => "Login events",
            Tab::Provisioning => "Provisioning log",
            Tab::Changes => "Configuration changes",
        }
    }

    fn path(self, tenant_id: &str) -> String {
        let base = format!("/admin/tenants/{tenant_id}/logs");
        match self {
            Tab::SignIns => base,
            Tab::Provisioning => format!("{base}/provisioning"),
            Tab::Changes => format!("{base}/changes"),
        }
    }
}

struct TabLink {
    label: &'static str,
    href: String,
    current: bool,
}

#[derive(Template)]
#[template(path = "console/logs.html")]
struct LogsPage {
    admin_email: String,
    is_operator: bool,
    tenant: Tenant,
    tabs: Vec<TabLink>,
    heading: &'static str,
    action: String,
    dates: Dates,
    view: View,
    csrf_token: String,
}

impl Nav for LogsPage {}

/// What differs between the views: their own filter fields and rows.
enum View {
    SignIns(SignIns),
    Provisioning(Provisioning),
    Changes(Changes),
}

struct SignIns {
    rows: Vec<SignInRow>,
    email: String,
    outcome: String,
}

struct SignInRow {
    at: String,
    reference: String,
    method: &'static str,
    provider: String,
    succeeded: bool,
    test: bool,
    email: String,
    cause: String,
}

impl From<LoginEvent> for SignInRow {
    fn from(e: LoginEvent) -> Self {
        Self {
            at: datetime(e.at),
            method: e.method.as_str(),
            provider: e.provider.unwrap_or_default(),
            succeeded: e.outcome == Outcome::Succeeded,
            test: e.test,
            email: e.email.unwrap_or_default(),
            cause: e.cause.unwrap_or_default(),
            reference: e.reference,
        }
    }
}

struct Provisioning {
    rows: Vec<ProvisioningRow>,
    person: String,
    result: String,
}

struct ProvisioningRow {
    at: String,
    reference: String,
    key_label: String,
    operation: &'static str,
    resource_type: String,
    target: String,
    succeeded: bool,
    status: u16,
    error: String,
}

impl From<ProvisioningEvent> for ProvisioningRow {
    fn from(e: ProvisioningEvent) -> Self {
        Self {
            at: datetime(e.at),
            reference: e.id,
            key_label: e.key_label,
            operation: e.operation.as_str(),
            resource_type: e.resource_type,
            target: e.target.unwrap_or_default(),
            succeeded: e.result == provisioning::Outcome::Succeeded,
            status: e.status,
            error: e.error.unwrap_or_default(),
        }
    }
}

struct Changes {
    rows: Vec<ChangeRow>,
    areas: Vec<AreaOption>,
}

struct AreaOption {
    value: &'static str,
    label: &'static str,
    selected: bool,
}

struct ChangeRow {
    at: String,
    reference: String,
    by: String,
    area: &'static str,
    summary: String,
    details: Vec<String>,
    applied: bool,
}

impl From<ChangeEvent> for ChangeRow {
    fn from(e: ChangeEvent) -> Self {
        Self {
            at: datetime(e.at),
            by: e.by.describe(),
            area: e.area.label(),
            summary: e.summary,
            details: e.details,
            applied: e.applied,
            reference: e.id,
        }
    }
}

/// The date fields every view has: `YYYY-MM-DD` (a whole day, UTC) or RFC 3339.
#[derive(Debug, Default, Deserialize)]
struct Dates {
    #[serde(default)]
    since: String,
    #[serde(default)]
    until: String,
}

impl Dates {
    /// The window the fields describe. A date that cannot be read is a 400 page that
    /// says how to write one, with a way back to `back`.
    fn window(&self, back: String) -> Result<Window, PageError> {
        let bad_date = |message: String| {
            PageError::new(
                StatusCode::BAD_REQUEST,
                "Please check the dates",
                message,
                "Use the form YYYY-MM-DD, e.g. 2026-11-23, or leave the field empty.",
            )
            .with_action("Back to the logs", back.clone())
        };
        Ok(Window {
            since: parse_when(&self.since, false).map_err(bad_date)?,
            until: parse_when(&self.until, true).map_err(bad_date)?,
            limit: LIMIT,
        })
    }
}

/// A date or date-time from a filter field; `end_of_day` for an "until" date.
fn parse_when(raw: &str, end_of_day: bool) -> Result<Option<time::OffsetDateTime>, String> {
    let raw = raw.trim();
    if raw.is_empty() {
        return Ok(None);
    }
    if let Ok(t) = time::OffsetDateTime::parse(raw, &time::format_description::well_known::Rfc3339)
    {
        return Ok(Some(t));
    }
    let format = time::macros::format_description!("[year]-[month]-[day]");
    let day = time::Date::parse(raw, &format).map_err(|_| format!("\"{raw}\" is not a date."))?;
    let time = if end_of_day {
        time::Time::from_hms(23, 59, 59).unwrap_or(time::Time::MIDNIGHT)
    } else {
        time::Time::MIDNIGHT
    };
    Ok(Some(day.with_time(time).assume_utc()))
}

/// A filter field's text, `None` when left empty.
fn typed(field: &str) -> Option<String> {
    Some(field.trim().to_owned()).filter(|f| !f.is_empty())
}

/// The page around a view: navigation between the three, the shared date fields.
fn render(
    req: &HttpRequest,
    state: &AppState,
    admin: &Admin,
    tenant: Tenant,
    tab: Tab,
    dates: Dates,
    view: View,
) -> Page {
    let tabs = Tab::ALL
        .into_iter()
        .map(|t| TabLink {
            label: t.label(),
            href: t.path(&tenant.id),
            current: t == tab,
        })
        .collect();
    with_forms(req, &state.config, StatusCode::OK, |csrf_token| LogsPage {
        admin_email: admin.user.email.clone(),
        is_operator: admin.is_operator(),
        heading: tab.heading(),
        action: tab.path(&tenant.id),
        tenant,
        tabs,
        dates,
        view,
        csrf_token,
    })
}

#[derive(Deserialize)]
struct SignInQuery {
    #[serde(flatten)]
    dates: Dates,
    #[serde(default)]
    email: String,
    #[serde(default)]
    outcome: String,
}

async fn get_sign_ins(
    req: HttpRequest,
    admin: Admin,
    path: web::Path<String>,
    query: web::Query<SignInQuery>,
    state: web::Data<AppState>,
) -> Page {
    let tenant = managed_tenant(&state, &admin, &path).await?;
    let q = query.into_inner();
    let window = q.dates.window(Tab::SignIns.path(&tenant.id))?;
    let filter = login_events::Filter {
        outcome: match q.outcome.as_str() {
            "succeeded" => Some(Outcome::Succeeded),
            "refused" => Some(Outcome::Refused),
            _ => None,
        },
        email: typed(&q.email),
    };
    let rows = login_events::list(&*state.store, &tenant.id, window, &filter).await?;
    let view = View::SignIns(SignIns {
        rows: rows.into_iter().map(SignInRow::from).collect(),
        email: q.email,
        outcome: q.outcome,
    });
    render(&req, &state, &admin, tenant, Tab::SignIns, q.dates, view)
}

#[derive(Deserialize)]
struct ProvisioningQuery {
    #[serde(flatten)]
    dates: Dates,
    /// Substring of the userName or group displayName the IdP sent.
    #[serde(default)]
    person: String,
    #[serde(default)]
    result: String,
}

async fn get_provisioning(
    req: HttpRequest,
    admin: Admin,
    path: web::Path<String>,
    query: web::Query<ProvisioningQuery>,
    state: web::Data<AppState>,
) -> Page {
    let tenant = managed_tenant(&state, &admin, &path).await?;
    let q = query.into_inner();
    let window = q.dates.window(Tab::Provisioning.path(&tenant.id))?;
    let filter = provisioning::Filter {
        result: match q.result.as_str() {
            "succeeded" => Some(provisioning::Outcome::Succeeded),
            "failed" => Some(provisioning::Outcome::Failed),
            _ => None,
        },
        target: typed(&q.person),
    };
    let rows = provisioning::list(&*state.store, &tenant.id, window, &filter).await?;
    let view = View::Provisioning(Provisioning {
        rows: rows.into_iter().map(ProvisioningRow::from).collect(),
        person: q.person,
        result: q.result,
    });
    render(
        &req,
        &state,
        &admin,
        tenant,
        Tab::Provisioning,
        q.dates,
        view,
    )
}

#[derive(Deserialize)]
struct ChangesQuery {
    #[serde(flatten)]
    dates: Dates,
    #[serde(default)]
    area: String,
}

async fn get_changes(
    req: HttpRequest,
    admin: Admin,
    path: web::Path<String>,
    query: web::Query<ChangesQuery>,
    state: web::Data<AppState>,
) -> Page {
    let tenant = managed_tenant(&state, &admin, &path).await?;
    let q = query.into_inner();
    let window = q.dates.window(Tab::Changes.path(&tenant.id))?;
    let area = Area::parse(q.area.trim());
    let rows = changes::list(&*state.store, &tenant.id, window, area).await?;
    let view = View::Changes(Changes {
        rows: rows.into_iter().map(ChangeRow::from).collect(),
        areas: Area::ALL
            .into_iter()
            .map(|a| AreaOption {
                value: a.as_str(),
                label: a.label(),
                selected: Some(a) == area,
            })
            .collect(),
    });
    render(&req, &state, &admin, tenant, Tab::Changes, q.dates, view)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_are_days_or_instants() {
        assert_eq!(parse_when("  ", false), Ok(None));
        let day = parse_when("2026-11-23", false).unwrap().unwrap();
        assert_eq!(day.to_string(), "2026-11-23 0:00:00.0 +00:00:00");
        let end = parse_when("2026-11-23", true).unwrap().unwrap();
        assert_eq!(end.to_string(), "2026-11-23 23:59:59.0 +00:00:00");
        let instant = parse_when("2026-11-23T10:00:00+01:00", true)
            .unwrap()
            .unwrap();
        assert_eq!(instant.unix_timestamp(), day.unix_timestamp() + 9 * 3600);
        let err = parse_when("yesterday", false).unwrap_err();
        assert_eq!(err, "\"yesterday\" is not a date.");
        assert!(parse_when("2026-13-01", false).is_err());
    }

    #[test]
    fn a_bad_date_names_the_way_back() {
        let dates = Dates {
            since: "2026-11-01".into(),
            until: "soon".into(),
        };
        let err = dates.window("/admin/tenants/tn_1/logs/changes".into());
        assert!(err.is_err());
        let ok = Dates::default().window(String::new()).unwrap();
        assert!(ok.since.is_none() && ok.until.is_none());
        assert_eq!(ok.limit, LIMIT);
    }

    #[test]
    fn every_tab_has_its_own_address_under_logs() {
        let paths: Vec<String> = Tab::ALL.iter().map(|t| t.path("tn_1")).collect();
        assert_eq!(
            paths,
            [
                "/admin/tenants/tn_1/logs",
                "/admin/tenants/tn_1/logs/provisioning",
                "/admin/tenants/tn_1/logs/changes"
            ]
        );
    }
}
