//! Logs: login events filtered by person, result and date, with their reference ids.

use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest};
use askama::Template;
use serde::Deserialize;

use super::{datetime, managed_tenant, Page};
use crate::audit::login::{self as login_events, LoginEvent, Outcome};
use crate::audit::Window;
use crate::console::{Admin, Nav};
use crate::state::AppState;
use crate::tenant::Tenant;
use crate::web::error::PageError;
use crate::web::page::with_forms;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/admin/tenants/{tenant_id}/logs", web::get().to(get_logs));
}

#[derive(Template)]
#[template(path = "console/logs.html")]
struct LogsPage {
    admin_email: String,
    is_operator: bool,
    tenant: Tenant,
    events: Vec<EventRow>,
    email: String,
    outcome: String,
    since: String,
    until: String,
    csrf_token: String,
}

impl Nav for LogsPage {}

struct EventRow {
    at: String,
    reference: String,
    method: &'static str,
    provider: String,
    succeeded: bool,
    test: bool,
    email: String,
    cause: String,
}

#[derive(Deserialize)]
struct LogsQuery {
    #[serde(default)]
    email: String,
    #[serde(default)]
    outcome: String,
    /// `YYYY-MM-DD` (start of day, UTC) or RFC 3339.
    #[serde(default)]
    since: String,
    #[serde(default)]
    until: String,
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

async fn get_logs(
    req: HttpRequest,
    admin: Admin,
    path: web::Path<String>,
    query: web::Query<LogsQuery>,
    state: web::Data<AppState>,
) -> Page {
    let tenant = managed_tenant(&state, &admin, &path).await?;
    let q = query.into_inner();
    let bad_date = |message: String| {
        PageError::new(
            StatusCode::BAD_REQUEST,
            "Please check the dates",
            message,
            "Use the form YYYY-MM-DD, e.g. 2026-11-23, or leave the field empty.",
        )
        .with_action(
            "Back to the logs",
            format!("/admin/tenants/{}/logs", tenant.id),
        )
    };
    let window = Window {
        since: parse_when(&q.since, false).map_err(bad_date)?,
        until: parse_when(&q.until, true).map_err(bad_date)?,
        limit: 200,
    };
    let filter = login_events::Filter {
        outcome: match q.outcome.as_str() {
            "succeeded" => Some(Outcome::Succeeded),
            "refused" => Some(Outcome::Refused),
            _ => None,
        },
        email: Some(q.email.trim().to_owned()).filter(|e| !e.is_empty()),
    };
    let events = login_events::list(&*state.store, &tenant.id, window, &filter).await?;
    let events = events
        .into_iter()
        .map(|e: LoginEvent| EventRow {
            at: datetime(e.at),
            method: e.method.as_str(),
            provider: e.provider.unwrap_or_default(),
            succeeded: e.outcome == Outcome::Succeeded,
            test: e.test,
            email: e.email.unwrap_or_default(),
            cause: e.cause.unwrap_or_default(),
            reference: e.reference,
        })
        .collect();
    with_forms(&req, &state.config, StatusCode::OK, |csrf_token| LogsPage {
        admin_email: admin.user.email.clone(),
        is_operator: admin.is_operator(),
        tenant,
        events,
        email: q.email,
        outcome: q.outcome,
        since: q.since,
        until: q.until,
        csrf_token,
    })
}
