//! `/api/v1` handlers: extract, authorize (AdminAuth), call the repository, map.

use actix_web::{web, HttpResponse};
use serde::{Deserialize, Serialize};

use super::auth::AdminAuth;
use crate::audit::changes::{self, Area, ChangedBy};
use crate::audit::login::{self as login_events, Outcome};
use crate::audit::Window;
use crate::error::Error;
use crate::saml;
use crate::session::{store as sessions, ClientInfo, LoginMethod, Session};
use crate::state::AppState;
use crate::tenant::repo::{self as tenants, NewTenant, TenantUpdate};
use crate::user::repo::{self as users, NewUser, UserUpdate};
use crate::user::{Role, User, UserStatus};
use crate::web::error::ApiError;

const OPENAPI: &str = include_str!("../../static/openapi.json");
const MAX_PAGE: usize = 500;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(
        web::scope("/api/v1")
            .route("/openapi.json", web::get().to(get_openapi))
            .route("/tenants", web::get().to(list_tenants))
            .route("/tenants", web::post().to(post_tenant))
            .route("/tenants/{tenant_id}", web::get().to(get_tenant))
            .route("/tenants/{tenant_id}", web::patch().to(patch_tenant))
            .route("/tenants/{tenant_id}", web::delete().to(delete_tenant))
            .route("/tenants/{tenant_id}/users", web::get().to(list_users))
            .route("/tenants/{tenant_id}/users", web::post().to(post_user))
            .route(
                "/tenants/{tenant_id}/users/{user_id}",
                web::get().to(get_user),
            )
            .route(
                "/tenants/{tenant_id}/users/{user_id}",
                web::patch().to(patch_user),
            )
            .route(
                "/tenants/{tenant_id}/users/{user_id}",
                web::delete().to(delete_user),
            )
            .route(
                "/tenants/{tenant_id}/users/{user_id}/sessions",
                web::get().to(list_sessions),
            )
            .route(
                "/tenants/{tenant_id}/users/{user_id}/sessions",
                web::post().to(post_session),
            )
            .route(
                "/tenants/{tenant_id}/users/{user_id}/sessions",
                web::delete().to(delete_user_sessions),
            )
            .route("/tenants/{tenant_id}/saml", web::get().to(get_saml))
            .route("/tenants/{tenant_id}/saml", web::put().to(put_saml))
            .route("/tenants/{tenant_id}/saml", web::delete().to(delete_saml))
            .route(
                "/tenants/{tenant_id}/saml/metadata-refresh",
                web::post().to(post_saml_metadata_refresh),
            )
            .route("/tenants/{tenant_id}/oidc", web::get().to(get_oidc))
            .route("/tenants/{tenant_id}/oidc", web::put().to(put_oidc))
            .route("/tenants/{tenant_id}/oidc", web::delete().to(delete_oidc))
            .route(
                "/tenants/{tenant_id}/login-events",
                web::get().to(list_login_events),
            )
            .route("/tenants/{tenant_id}/changes", web::get().to(list_changes))
            .route("/sessions/{session_id}", web::delete().to(delete_session))
            .route("/signing-keys", web::get().to(get_signing_keys))
            .route("/signing-keys/rotate", web::post().to(post_rotate_key)),
    );
}

type ApiResult = Result<HttpResponse, ApiError>;

#[derive(Deserialize)]
struct Page {
    #[serde(default)]
    offset: usize,
    limit: Option<usize>,
}

impl Page {
    fn limit(&self) -> usize {
        self.limit.unwrap_or(100).clamp(1, MAX_PAGE)
    }
}

#[derive(Serialize)]
struct Listing<T> {
    items: Vec<T>,
    total: usize,
    offset: usize,
}

/// A user as the API shows it: never the password hash.
#[derive(Serialize)]
struct UserResponse {
    id: String,
    tenant_id: String,
    email: String,
    display_name: Option<String>,
    groups: Vec<String>,
    status: UserStatus,
    role: Role,
    has_password: bool,
    #[serde(with = "time::serde::rfc3339")]
    created_at: time::OffsetDateTime,
    #[serde(with = "time::serde::rfc3339")]
    updated_at: time::OffsetDateTime,
}

impl From<User> for UserResponse {
    fn from(u: User) -> Self {
        Self {
            has_password: u.password_hash.is_some(),
            id: u.id,
            tenant_id: u.tenant_id,
            email: u.email,
            display_name: u.display_name,
            groups: u.groups,
            status: u.status,
            role: u.role,
            created_at: u.created_at,
            updated_at: u.updated_at,
        }
    }
}

async fn get_openapi() -> HttpResponse {
    HttpResponse::Ok()
        .content_type("application/json")
        .body(OPENAPI)
}

async fn list_tenants(
    _: AdminAuth,
    page: web::Query<Page>,
    state: web::Data<AppState>,
) -> ApiResult {
    let (items, total) = tenants::list(&*state.store, page.offset, page.limit()).await?;
    Ok(HttpResponse::Ok().json(Listing {
        items,
        total,
        offset: page.offset,
    }))
}

async fn post_tenant(
    _: AdminAuth,
    body: web::Json<NewTenant>,
    state: web::Data<AppState>,
) -> ApiResult {
    let tenant = tenants::add_by_admin(
        &*state.store,
        &*state.clock,
        body.into_inner(),
        &ChangedBy::AdminApi,
    )
    .await?;
    Ok(HttpResponse::Created().json(tenant))
}

async fn get_tenant(_: AdminAuth, id: web::Path<String>, state: web::Data<AppState>) -> ApiResult {
    Ok(HttpResponse::Ok().json(tenants::require(&*state.store, &id).await?))
}

async fn patch_tenant(
    _: AdminAuth,
    id: web::Path<String>,
    body: web::Json<TenantUpdate>,
    state: web::Data<AppState>,
) -> ApiResult {
    let change = body.into_inner();
    // The console's rule holds here too: switching SSO-only on needs a passed test
    // sign-in; switching it off is always possible (break-glass).
    if change.sso_only == Some(true) {
        let current = tenants::require(&*state.store, &id).await?;
        if !current.sso_only {
            crate::sso_test::require_passed(&*state.store, &id).await?;
        }
    }
    let tenant = tenants::update(
        &*state.store,
        &*state.clock,
        &id,
        change,
        &ChangedBy::AdminApi,
    )
    .await?;
    Ok(HttpResponse::Ok().json(tenant))
}

async fn delete_tenant(
    _: AdminAuth,
    id: web::Path<String>,
    state: web::Data<AppState>,
) -> ApiResult {
    tenants::delete(&*state.store, &id).await?;
    Ok(HttpResponse::NoContent().finish())
}

async fn list_users(
    _: AdminAuth,
    id: web::Path<String>,
    page: web::Query<Page>,
    state: web::Data<AppState>,
) -> ApiResult {
    tenants::require(&*state.store, &id).await?;
    let (items, total) = users::list(&*state.store, &id, page.offset, page.limit()).await?;
    let items: Vec<UserResponse> = items.into_iter().map(Into::into).collect();
    Ok(HttpResponse::Ok().json(Listing {
        items,
        total,
        offset: page.offset,
    }))
}

async fn post_user(
    _: AdminAuth,
    id: web::Path<String>,
    body: web::Json<NewUser>,
    state: web::Data<AppState>,
) -> ApiResult {
    let tenant = tenants::require(&*state.store, &id).await?;
    let user = users::add_by_admin(
        &*state.store,
        &*state.clock,
        &tenant,
        body.into_inner(),
        &ChangedBy::AdminApi,
    )
    .await?;
    Ok(HttpResponse::Created().json(UserResponse::from(user)))
}

async fn get_user(
    _: AdminAuth,
    path: web::Path<(String, String)>,
    state: web::Data<AppState>,
) -> ApiResult {
    let (tenant_id, user_id) = path.into_inner();
    let user = users::require_in_tenant(&*state.store, &tenant_id, &user_id).await?;
    Ok(HttpResponse::Ok().json(UserResponse::from(user)))
}

async fn patch_user(
    _: AdminAuth,
    path: web::Path<(String, String)>,
    body: web::Json<UserUpdate>,
    state: web::Data<AppState>,
) -> ApiResult {
    let (tenant_id, user_id) = path.into_inner();
    let user = users::administer(
        &*state.store,
        &*state.clock,
        &tenant_id,
        &user_id,
        body.into_inner(),
        &ChangedBy::AdminApi,
    )
    .await?;
    Ok(HttpResponse::Ok().json(UserResponse::from(user)))
}

async fn delete_user(
    _: AdminAuth,
    path: web::Path<(String, String)>,
    state: web::Data<AppState>,
) -> ApiResult {
    let (tenant_id, user_id) = path.into_inner();
    users::delete(&*state.store, &tenant_id, &user_id).await?;
    Ok(HttpResponse::NoContent().finish())
}

async fn list_sessions(
    _: AdminAuth,
    path: web::Path<(String, String)>,
    state: web::Data<AppState>,
) -> ApiResult {
    let (tenant_id, user_id) = path.into_inner();
    users::require_in_tenant(&*state.store, &tenant_id, &user_id).await?;
    let items: Vec<Session> = sessions::list_for_user(&*state.store, &user_id).await?;
    let total = items.len();
    Ok(HttpResponse::Ok().json(Listing {
        items,
        total,
        offset: 0,
    }))
}

#[derive(Serialize)]
struct IssuedSessionResponse {
    session_id: String,
    token: String,
    #[serde(with = "time::serde::rfc3339")]
    expires_at: time::OffsetDateTime,
}

/// Mints a session for a user (service accounts, support, benchmarks). Same rules as a
/// login: refused for users who are not active.
async fn post_session(
    _: AdminAuth,
    path: web::Path<(String, String)>,
    state: web::Data<AppState>,
) -> ApiResult {
    let (tenant_id, user_id) = path.into_inner();
    let user = users::require_in_tenant(&*state.store, &tenant_id, &user_id).await?;
    if !user.is_active() {
        return Err(ApiError(Error::Conflict("the user is not active".into())));
    }
    let issued = state
        .sessions
        .issue(
            &user,
            LoginMethod::Admin,
            ClientInfo {
                ip: None,
                user_agent: Some("admin-api".into()),
            },
        )
        .await?;
    Ok(HttpResponse::Created().json(IssuedSessionResponse {
        session_id: issued.session.id,
        token: issued.token,
        expires_at: issued.session.expires_at,
    }))
}

async fn delete_user_sessions(
    _: AdminAuth,
    path: web::Path<(String, String)>,
    state: web::Data<AppState>,
) -> ApiResult {
    let (tenant_id, user_id) = path.into_inner();
    users::require_in_tenant(&*state.store, &tenant_id, &user_id).await?;
    let ended = sessions::revoke_all_for_user(&*state.store, &user_id).await?;
    Ok(HttpResponse::Ok().json(serde_json::json!({ "ended": ended })))
}

async fn delete_session(
    _: AdminAuth,
    sid: web::Path<String>,
    state: web::Data<AppState>,
) -> ApiResult {
    if state.sessions.revoke(&sid).await? {
        Ok(HttpResponse::NoContent().finish())
    } else {
        Err(ApiError(Error::NotFound("session")))
    }
}

async fn get_signing_keys(_: AdminAuth, state: web::Data<AppState>) -> ApiResult {
    Ok(HttpResponse::Ok().json(serde_json::json!({
        "active_kid": state.sessions.keys().active_kid(),
        "jwks": &*state.sessions.keys().jwks(),
    })))
}

async fn post_rotate_key(_: AdminAuth, state: web::Data<AppState>) -> ApiResult {
    let kid = state
        .sessions
        .keys()
        .rotate(&*state.store, &*state.clock, state.sessions.lifetime())
        .await?;
    Ok(HttpResponse::Ok().json(serde_json::json!({ "active_kid": kid })))
}

/// The SP values to copy into the IdP, and the stored connection (if any).
#[derive(Serialize)]
struct SamlSettingsResponse {
    sp_entity_id: String,
    sp_acs_url: String,
    sp_metadata_url: String,
    /// PEM of the SP certificate the IdP verifies signed AuthnRequests with (when on).
    sp_signing_certificate: Option<String>,
    connection: Option<saml::connection::SamlConnection>,
    /// The periodic refresh of `connection.metadata_url`: last attempt, last success, and
    /// why it fails while it does.
    metadata_refresh: Option<saml::metadata_refresh::RefreshStatus>,
}

async fn saml_settings(
    state: &AppState,
    tenant_id: &str,
) -> Result<SamlSettingsResponse, ApiError> {
    let tenant = tenants::require(&*state.store, tenant_id).await?;
    let sp = saml::sp::endpoints(&state.config.base_url, &tenant.primary_domain);
    let connection = saml::connection::get(&*state.store, &tenant.id).await?;
    let sp_signing_certificate = match &connection {
        Some(c) if c.sign_authn_requests => Some(
            saml::sp_key::for_base_url(&*state.store, &state.config.base_url)
                .await?
                .cert_pem(),
        ),
        _ => None,
    };
    Ok(SamlSettingsResponse {
        sp_metadata_url: sp.entity_id.clone(),
        sp_entity_id: sp.entity_id,
        sp_acs_url: sp.acs_url,
        sp_signing_certificate,
        connection,
        metadata_refresh: saml::metadata_refresh::status(&*state.store, &tenant.id).await?,
    })
}

async fn get_saml(_: AdminAuth, id: web::Path<String>, state: web::Data<AppState>) -> ApiResult {
    Ok(HttpResponse::Ok().json(saml_settings(&state, &id).await?))
}

/// Saves the tenant's SAML connection; every value is checked now (certificate parse,
/// validity, key type, https URLs), never first at login time.
async fn put_saml(
    _: AdminAuth,
    id: web::Path<String>,
    body: web::Json<saml::connection::SamlConnectionInput>,
    state: web::Data<AppState>,
) -> ApiResult {
    let tenant = tenants::require(&*state.store, &id).await?;
    saml::connection::save(
        &*state.store,
        &*state.clock,
        state.config.outbound,
        &tenant.id,
        body.into_inner(),
        &ChangedBy::AdminApi,
    )
    .await?;
    Ok(HttpResponse::Ok().json(saml_settings(&state, &tenant.id).await?))
}

async fn delete_saml(_: AdminAuth, id: web::Path<String>, state: web::Data<AppState>) -> ApiResult {
    // As in the console: never while SSO-only is on (nobody could sign in afterwards).
    crate::sso_test::check_removable(&tenants::require(&*state.store, &id).await?)?;
    if saml::connection::delete(&*state.store, &*state.clock, &id, &ChangedBy::AdminApi).await? {
        Ok(HttpResponse::NoContent().finish())
    } else {
        Err(ApiError(Error::NotFound("SAML connection")))
    }
}

/// Fetches the connection's metadata URL now, as the periodic refresh does: the IdP's new
/// values are applied (and logged) or, when the document is refused, nothing changes.
async fn post_saml_metadata_refresh(
    _: AdminAuth,
    id: web::Path<String>,
    state: web::Data<AppState>,
) -> ApiResult {
    let tenant = tenants::require(&*state.store, &id).await?;
    let outcome = saml::metadata_refresh::refresh_one(
        &*state.store,
        &*state.clock,
        state.config.outbound,
        &tenant.id,
    )
    .await?;
    let status = saml::metadata_refresh::status(&*state.store, &tenant.id).await?;
    Ok(HttpResponse::Ok().json(serde_json::json!({ "outcome": outcome, "status": status })))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ChangesQuery {
    #[serde(default, with = "time::serde::rfc3339::option")]
    since: Option<time::OffsetDateTime>,
    #[serde(default, with = "time::serde::rfc3339::option")]
    until: Option<time::OffsetDateTime>,
    area: Option<Area>,
    limit: Option<usize>,
}

/// The configuration log, newest first: "what changed before sign-ins started failing?".
async fn list_changes(
    _: AdminAuth,
    id: web::Path<String>,
    query: web::Query<ChangesQuery>,
    state: web::Data<AppState>,
) -> ApiResult {
    tenants::require(&*state.store, &id).await?;
    let q = query.into_inner();
    let window = Window::page(q.since, q.until, q.limit);
    let items = changes::list(&*state.store, &id, window, q.area).await?;
    Ok(HttpResponse::Ok().json(serde_json::json!({ "items": items })))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct LoginEventQuery {
    #[serde(default, with = "time::serde::rfc3339::option")]
    since: Option<time::OffsetDateTime>,
    #[serde(default, with = "time::serde::rfc3339::option")]
    until: Option<time::OffsetDateTime>,
    outcome: Option<Outcome>,
    email: Option<String>,
    limit: Option<usize>,
}

/// Newest first; the admin's answer to "why could this person not sign in?".
async fn list_login_events(
    _: AdminAuth,
    id: web::Path<String>,
    query: web::Query<LoginEventQuery>,
    state: web::Data<AppState>,
) -> ApiResult {
    tenants::require(&*state.store, &id).await?;
    let q = query.into_inner();
    let window = Window::page(q.since, q.until, q.limit);
    let filter = login_events::Filter {
        outcome: q.outcome,
        email: q.email,
    };
    let items = login_events::list(&*state.store, &id, window, &filter).await?;
    Ok(HttpResponse::Ok().json(serde_json::json!({ "items": items })))
}

/// The redirect URI to register at the provider, and the stored connection (no secret).
#[derive(Serialize)]
struct OidcSettingsResponse {
    redirect_uri: String,
    connection: Option<crate::oidc::connection::OidcConnectionView>,
}

async fn oidc_settings(
    state: &AppState,
    tenant_id: &str,
) -> Result<OidcSettingsResponse, ApiError> {
    let tenant = tenants::require(&*state.store, tenant_id).await?;
    let connection = crate::oidc::connection::get(&*state.store, &tenant.id).await?;
    Ok(OidcSettingsResponse {
        redirect_uri: crate::oidc::routes::redirect_uri(state),
        connection: connection.as_ref().map(Into::into),
    })
}

async fn get_oidc(_: AdminAuth, id: web::Path<String>, state: web::Data<AppState>) -> ApiResult {
    Ok(HttpResponse::Ok().json(oidc_settings(&state, &id).await?))
}

/// Saves the tenant's OIDC connection after reading the issuer's discovery document, so a
/// wrong issuer or an unreachable provider is reported now, not at the first login.
async fn put_oidc(
    _: AdminAuth,
    id: web::Path<String>,
    body: web::Json<crate::oidc::connection::OidcConnectionInput>,
    state: web::Data<AppState>,
) -> ApiResult {
    let tenant = tenants::require(&*state.store, &id).await?;
    crate::oidc::connection::save(
        &*state.store,
        &*state.clock,
        &state.oidc,
        &tenant.id,
        body.into_inner(),
        &ChangedBy::AdminApi,
    )
    .await?;
    Ok(HttpResponse::Ok().json(oidc_settings(&state, &tenant.id).await?))
}

async fn delete_oidc(_: AdminAuth, id: web::Path<String>, state: web::Data<AppState>) -> ApiResult {
    crate::sso_test::check_removable(&tenants::require(&*state.store, &id).await?)?;
    if crate::oidc::connection::delete(&*state.store, &*state.clock, &id, &ChangedBy::AdminApi)
        .await?
    {
        Ok(HttpResponse::NoContent().finish())
    } else {
        Err(ApiError(Error::NotFound("OIDC connection")))
    }
}
