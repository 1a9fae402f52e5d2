//! Users: search, status, live sessions; deactivate, reactivate, end sessions.

use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest};
use askama::Template;
use serde::Deserialize;

use super::{managed_tenant, notice_text, CsrfForm, Page};
use crate::console::{Admin, Nav};
use crate::session::store as sessions;
use crate::session::Session;
use crate::state::AppState;
use crate::tenant::Tenant;
use crate::user::repo::{self as users, UserUpdate};
use crate::user::{User, UserStatus};
use crate::web::page::{check_csrf, see_other, with_forms};

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/admin/tenants/{tenant_id}/users", web::get().to(get_users))
        .route(
            "/admin/tenants/{tenant_id}/users/{user_id}/status",
            web::post().to(post_user_status),
        )
        .route(
            "/admin/tenants/{tenant_id}/users/{user_id}/sessions/revoke",
            web::post().to(post_revoke_sessions),
        );
}

struct UserRow {
    user: User,
    status: &'static str,
    sessions: Vec<Session>,
}

#[derive(Template)]
#[template(path = "console/users.html")]
struct UsersPage {
    admin_email: String,
    is_operator: bool,
    tenant: Tenant,
    q: String,
    rows: Vec<UserRow>,
    total: usize,
    notice: Option<String>,
    csrf_token: String,
}

impl Nav for UsersPage {}

#[derive(Deserialize)]
struct UsersQuery {
    #[serde(default)]
    q: String,
    notice: Option<String>,
}

fn status_label(status: UserStatus) -> &'static str {
    match status {
        UserStatus::Active => "active",
        UserStatus::Deactivated => "deactivated",
        UserStatus::Deprovisioned => "deprovisioned by SCIM",
    }
}

const USERS_SHOWN: usize = 200;

async fn get_users(
    req: HttpRequest,
    admin: Admin,
    path: web::Path<String>,
    query: web::Query<UsersQuery>,
    state: web::Data<AppState>,
) -> Page {
    let tenant = managed_tenant(&state, &admin, &path).await?;
    let needle = query.q.trim().to_lowercase();
    let (all, total) = users::list(&*state.store, &tenant.id, 0, 5_000).await?;
    let mut rows = Vec::new();
    for user in all.into_iter().filter(|u| {
        needle.is_empty()
            || u.email.contains(&needle)
            || u.display_name
                .as_deref()
                .is_some_and(|n| n.to_lowercase().contains(&needle))
            || u.groups.iter().any(|g| g.to_lowercase().contains(&needle))
    }) {
        if rows.len() == USERS_SHOWN {
            break;
        }
        let sessions = sessions::list_for_user(&*state.store, &user.id).await?;
        rows.push(UserRow {
            status: status_label(user.status),
            user,
            sessions,
        });
    }
    with_forms(&req, &state.config, StatusCode::OK, |csrf_token| {
        UsersPage {
            admin_email: admin.user.email.clone(),
            is_operator: admin.is_operator(),
            tenant,
            q: query.q.clone(),
            rows,
            total,
            notice: notice_text(query.notice.as_deref()),
            csrf_token,
        }
    })
}

#[derive(Deserialize)]
struct StatusForm {
    csrf_token: String,
    status: UserStatus,
}

async fn post_user_status(
    req: HttpRequest,
    admin: Admin,
    path: web::Path<(String, String)>,
    form: web::Form<StatusForm>,
    state: web::Data<AppState>,
) -> Page {
    check_csrf(&req, &form.csrf_token)?;
    let (tenant_id, user_id) = path.into_inner();
    let tenant = managed_tenant(&state, &admin, &tenant_id).await?;
    users::update(
        &*state.store,
        &*state.clock,
        &tenant.id,
        &user_id,
        UserUpdate {
            status: Some(form.status),
            ..UserUpdate::default()
        },
    )
    .await?;
    tracing::info!(tenant = %tenant.id, admin = %admin.user.id, user = %user_id, status = ?form.status, "user status changed in the console");
    Ok(see_other(&format!(
        "/admin/tenants/{}/users?notice=status",
        tenant.id
    )))
}

async fn post_revoke_sessions(
    req: HttpRequest,
    admin: Admin,
    path: web::Path<(String, String)>,
    form: web::Form<CsrfForm>,
    state: web::Data<AppState>,
) -> Page {
    check_csrf(&req, &form.csrf_token)?;
    let (tenant_id, user_id) = path.into_inner();
    let tenant = managed_tenant(&state, &admin, &tenant_id).await?;
    let user = users::require_in_tenant(&*state.store, &tenant.id, &user_id).await?;
    let ended = sessions::revoke_all_for_user(&*state.store, &user.id).await?;
    tracing::info!(tenant = %tenant.id, admin = %admin.user.id, user = %user.id, ended, "sessions revoked in the console");
    Ok(see_other(&format!(
        "/admin/tenants/{}/users?notice=revoked",
        tenant.id
    )))
}
