//! Users: search, add a person (with a console role), change roles, deactivate and
//! reactivate, end sessions. Who may change whom is [`Admin::may_administer`]; which roles
//! an admin may hand out is [`Admin::may_grant`].

use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest};
use askama::Template;
use serde::Deserialize;

use super::{form_error, managed_tenant, notice_text, require_recent, CsrfForm, Page};
use crate::console::{Admin, ConsoleUser, Nav};
use crate::error::Error;
use crate::session::store as sessions;
use crate::session::Session;
use crate::state::AppState;
use crate::tenant::Tenant;
use crate::user::repo::{self as users, NewUser, UserUpdate};
use crate::user::{Role, User, UserStatus};
use crate::web::error::PageError;
use crate::web::page::{check_csrf, see_other, with_forms};

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/admin/tenants/{tenant_id}/users", web::get().to(get_users))
        .route(
            "/admin/tenants/{tenant_id}/users",
            web::post().to(post_user),
        )
        .route(
            "/admin/tenants/{tenant_id}/users/{user_id}/status",
            web::post().to(post_user_status),
        )
        .route(
            "/admin/tenants/{tenant_id}/users/{user_id}/role",
            web::post().to(post_user_role),
        )
        .route(
            "/admin/tenants/{tenant_id}/users/{user_id}/sessions/revoke",
            web::post().to(post_revoke_sessions),
        );
}

struct UserRow {
    user: User,
    status: &'static str,
    role: &'static str,
    sessions: Vec<Session>,
    /// The viewer may change this person (role, status, sessions).
    manageable: bool,
}

#[derive(Clone, Copy)]
struct RoleOption {
    value: &'static str,
    label: &'static str,
    selected: bool,
}

/// The add-person form as typed, so a refusal shows it again (the password excepted).
#[derive(Debug, Default, Deserialize)]
struct NewPersonForm {
    csrf_token: String,
    #[serde(default)]
    email: String,
    #[serde(default)]
    display_name: String,
    #[serde(default)]
    role: String,
    #[serde(default)]
    password: String,
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
    grantable: Vec<RoleOption>,
    form: NewPersonForm,
    error: Option<(String, String)>,
    notice: Option<String>,
    csrf_token: String,
}

impl Nav for UsersPage {}

impl UsersPage {
    /// The roles `person` may be given, the current one selected.
    fn role_choices(&self, person: &User) -> Vec<RoleOption> {
        self.grantable
            .iter()
            .map(|o| RoleOption {
                selected: o.value == person.role.as_str(),
                ..*o
            })
            .collect()
    }
}

#[derive(Deserialize)]
struct UsersQuery {
    #[serde(default)]
    q: String,
    notice: Option<String>,
}

const USERS_SHOWN: usize = 200;

fn grantable_roles(admin: &Admin, selected: &str) -> Vec<RoleOption> {
    Role::ALL
        .into_iter()
        .filter(|r| admin.may_grant(*r))
        .map(|r| RoleOption {
            value: r.as_str(),
            label: r.label(),
            selected: r.as_str() == selected,
        })
        .collect()
}

/// What the page shows besides the people: the search, the add-person form as typed, and
/// the outcome of the last action.
struct View {
    q: String,
    form: NewPersonForm,
    error: Option<(String, String)>,
    notice: Option<String>,
}

async fn render_users(
    req: &HttpRequest,
    state: &AppState,
    admin: &Admin,
    tenant: Tenant,
    view: View,
) -> Page {
    let View {
        q,
        form,
        error,
        notice,
    } = view;
    let needle = q.trim().to_lowercase();
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
            status: user.status.label(),
            role: user.role.label(),
            manageable: admin.may_administer(&user),
            user,
            sessions,
        });
    }
    let status = if error.is_some() {
        StatusCode::BAD_REQUEST
    } else {
        StatusCode::OK
    };
    let grantable = grantable_roles(admin, &form.role);
    with_forms(req, &state.config, status, |csrf_token| UsersPage {
        admin_email: admin.user.email.clone(),
        is_operator: admin.is_operator(),
        tenant,
        q,
        rows,
        total,
        grantable,
        form,
        error,
        notice,
        csrf_token,
    })
}

async fn get_users(
    req: HttpRequest,
    admin: Admin,
    path: web::Path<String>,
    query: web::Query<UsersQuery>,
    state: web::Data<AppState>,
) -> Page {
    let tenant = managed_tenant(&state, &admin, &path).await?;
    let notice = notice_text(query.notice.as_deref());
    let form = NewPersonForm {
        role: Role::Member.as_str().into(),
        ..NewPersonForm::default()
    };
    let view = View {
        q: query.q.clone(),
        form,
        error: None,
        notice,
    };
    render_users(&req, &state, &admin, tenant, view).await
}

/// Adds a person. Giving a console role needs a recent sign-in: it hands out the power to
/// change how everyone signs in.
async fn post_user(
    req: HttpRequest,
    admin: Admin,
    path: web::Path<String>,
    form: web::Form<NewPersonForm>,
    state: web::Data<AppState>,
) -> Page {
    check_csrf(&req, &form.csrf_token)?;
    let tenant = managed_tenant(&state, &admin, &path).await?;
    let mut form = form.into_inner();
    let back = format!("/admin/tenants/{}/users", tenant.id);
    let role = match Role::parse(&form.role) {
        Some(role) if admin.may_grant(role) => role,
        _ => return Err(role_not_grantable(&back)),
    };
    if role != Role::Member {
        require_recent(&state, &admin, &back)?;
    }
    let password = std::mem::take(&mut form.password);
    let new = NewUser {
        email: form.email.clone(),
        password: Some(password).filter(|p| !p.is_empty()),
        display_name: Some(form.display_name.clone()).filter(|n| !n.trim().is_empty()),
        groups: Vec::new(),
        role,
    };
    match users::add_by_admin(
        &*state.store,
        &*state.clock,
        &tenant,
        new,
        &admin.changed_by(),
    )
    .await
    {
        Ok(user) => {
            tracing::info!(tenant = %tenant.id, admin = %admin.user.id, user = %user.id, role = role.as_str(), "person added in the console");
            Ok(see_other(&format!("{back}?notice=person_added")))
        }
        Err(e) => {
            let error = form_error(e)?;
            let view = View {
                q: String::new(),
                form,
                error: Some(error),
                notice: None,
            };
            render_users(&req, &state, &admin, tenant, view).await
        }
    }
}

fn role_not_grantable(back: &str) -> PageError {
    PageError::new(
        StatusCode::FORBIDDEN,
        "This role cannot be given here",
        "Only operators can make someone an operator, and only the listed roles exist.",
        "Choose member or tenant admin, or ask an operator.",
    )
    .with_action("Back to the users", back.to_owned())
}

fn not_manageable(back: &str) -> PageError {
    PageError::new(
        StatusCode::FORBIDDEN,
        "You cannot change this account",
        "Operators' accounts are managed by operators, and your own role and status cannot be changed by yourself.",
        "Ask an operator (or another admin of your organisation) to make this change.",
    )
    .with_action("Back to the users", back.to_owned())
}

/// The tenant and the person in the path of a form that changes one person: the CSRF
/// token checked, the tenant one this admin manages, the person one they may change.
async fn manageable_person(
    req: &HttpRequest,
    state: &AppState,
    admin: &Admin,
    csrf_token: &str,
    path: web::Path<(String, String)>,
) -> Result<(Tenant, User), PageError> {
    check_csrf(req, csrf_token)?;
    let (tenant_id, user_id) = path.into_inner();
    let tenant = managed_tenant(state, admin, &tenant_id).await?;
    let person = users::require_in_tenant(&*state.store, &tenant.id, &user_id).await?;
    if !admin.may_administer(&person) {
        return Err(not_manageable(&format!(
            "/admin/tenants/{}/users",
            tenant.id
        )));
    }
    Ok((tenant, person))
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
    let (tenant, person) = manageable_person(&req, &state, &admin, &form.csrf_token, path).await?;
    users::administer(
        &*state.store,
        &*state.clock,
        &tenant.id,
        &person.id,
        UserUpdate {
            status: Some(form.status),
            ..UserUpdate::default()
        },
        &admin.changed_by(),
    )
    .await?;
    tracing::info!(tenant = %tenant.id, admin = %admin.user.id, user = %person.id, status = ?form.status, "user status changed in the console");
    Ok(see_other(&format!(
        "/admin/tenants/{}/users?notice=status",
        tenant.id
    )))
}

#[derive(Deserialize)]
struct RoleForm {
    csrf_token: String,
    role: String,
}

async fn post_user_role(
    req: HttpRequest,
    admin: Admin,
    path: web::Path<(String, String)>,
    form: web::Form<RoleForm>,
    state: web::Data<AppState>,
) -> Page {
    let (tenant, person) = manageable_person(&req, &state, &admin, &form.csrf_token, path).await?;
    let back = format!("/admin/tenants/{}/users", tenant.id);
    let role = match Role::parse(&form.role) {
        Some(role) if admin.may_grant(role) => role,
        _ => return Err(role_not_grantable(&back)),
    };
    require_recent(&state, &admin, &back)?;
    let change = UserUpdate {
        role: Some(role),
        ..UserUpdate::default()
    };
    match users::administer(
        &*state.store,
        &*state.clock,
        &tenant.id,
        &person.id,
        change,
        &admin.changed_by(),
    )
    .await
    {
        Ok(_) => {}
        Err(Error::NotFound(_)) => return Err(PageError::not_found()),
        Err(e) => return Err(e.into()),
    }
    tracing::info!(tenant = %tenant.id, admin = %admin.user.id, user = %person.id, role = role.as_str(), "role changed in the console");
    Ok(see_other(&format!("{back}?notice=role")))
}

async fn post_revoke_sessions(
    req: HttpRequest,
    admin: Admin,
    path: web::Path<(String, String)>,
    form: web::Form<CsrfForm>,
    state: web::Data<AppState>,
) -> Page {
    let (tenant, person) = manageable_person(&req, &state, &admin, &form.csrf_token, path).await?;
    let ended = sessions::revoke_all_for_user(&*state.store, &person.id).await?;
    tracing::info!(tenant = %tenant.id, admin = %admin.user.id, user = %person.id, ended, "sessions revoked in the console");
    Ok(see_other(&format!(
        "/admin/tenants/{}/users?notice=revoked",
        tenant.id
    )))
}
