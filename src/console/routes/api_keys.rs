//! API keys: create (the secret shown once, with the SCIM base URL), list, revoke.

use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest};
use askama::Template;
use serde::Deserialize;

use super::{
    datetime, form_error, managed_tenant, notice_text, require_recent, CsrfForm, NoticeQuery, Page,
};
use crate::apikey::repo::{self as apikeys, NewApiKey};
use crate::apikey::Scope;
use crate::console::{Actor, ConsoleUser, Nav};
use crate::state::AppState;
use crate::tenant::Tenant;
use crate::web::page::{check_csrf, see_other, with_forms};

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route(
        "/admin/tenants/{tenant_id}/api-keys",
        web::get().to(get_api_keys),
    )
    .route(
        "/admin/tenants/{tenant_id}/api-keys",
        web::post().to(post_api_key),
    )
    .route(
        "/admin/tenants/{tenant_id}/api-keys/{key_id}/revoke",
        web::post().to(post_revoke_api_key),
    );
}

struct KeyRow {
    id: String,
    label: String,
    scopes: String,
    created: String,
    last_used: String,
    revoked: Option<String>,
}

#[derive(Template)]
#[template(path = "console/api_keys.html")]
struct ApiKeysPage {
    admin_email: String,
    is_operator: bool,
    guest: bool,
    tenant: Tenant,
    keys: Vec<KeyRow>,
    scim_base_url: String,
    /// A key just created: its secret, shown this once.
    created: Option<(String, String)>,
    error: Option<(String, String)>,
    notice: Option<String>,
    csrf_token: String,
}

impl Nav for ApiKeysPage {
    fn guest(&self) -> bool {
        self.guest
    }
}

async fn render_api_keys(
    req: &HttpRequest,
    state: &AppState,
    admin: &Actor,
    tenant: Tenant,
    created: Option<(String, String)>,
    error: Option<(String, String)>,
    notice: Option<String>,
) -> Page {
    let keys = apikeys::list(&*state.store, &tenant.id)
        .await?
        .into_iter()
        .map(|k| KeyRow {
            scopes: crate::apikey::scope_list(&k.scopes),
            created: datetime(k.created_at),
            last_used: k.last_used_at.map_or_else(|| "never".into(), datetime),
            revoked: k.revoked_at.map(datetime),
            id: k.id,
            label: k.label,
        })
        .collect();
    let status = if error.is_some() {
        StatusCode::BAD_REQUEST
    } else {
        StatusCode::OK
    };
    with_forms(req, &state.config, status, |csrf_token| ApiKeysPage {
        admin_email: admin.display_name(),
        guest: admin.is_guest(),
        is_operator: admin.is_operator(),
        tenant,
        keys,
        scim_base_url: crate::scim::base_url(&state.config.base_url),
        created,
        error,
        notice,
        csrf_token,
    })
}

async fn get_api_keys(
    req: HttpRequest,
    admin: Actor,
    path: web::Path<String>,
    query: web::Query<NoticeQuery>,
    state: web::Data<AppState>,
) -> Page {
    let tenant = managed_tenant(&state, &admin, &path).await?;
    let notice = notice_text(query.notice.as_deref());
    render_api_keys(&req, &state, &admin, tenant, None, None, notice).await
}

#[derive(Deserialize)]
struct NewKeyForm {
    csrf_token: String,
    label: String,
    #[serde(default)]
    scope_scim: Option<String>,
    #[serde(default)]
    scope_admin: Option<String>,
}

/// Creates a key and shows its secret on this one answer (never stored in clear, never
/// shown again). Needs a recent sign-in: a key provisions and deprovisions people.
async fn post_api_key(
    req: HttpRequest,
    admin: Actor,
    path: web::Path<String>,
    form: web::Form<NewKeyForm>,
    state: web::Data<AppState>,
) -> Page {
    check_csrf(&req, &form.csrf_token)?;
    let tenant = managed_tenant(&state, &admin, &path).await?;
    require_recent(
        &state,
        &admin,
        &format!("/admin/tenants/{}/api-keys", tenant.id),
    )?;
    let scopes: Vec<Scope> = [
        form.scope_scim.as_ref().map(|_| Scope::Scim),
        form.scope_admin.as_ref().map(|_| Scope::Admin),
    ]
    .into_iter()
    .flatten()
    .collect();
    let new = NewApiKey {
        label: form.label.clone(),
        scopes,
    };
    match apikeys::create(
        &*state.store,
        &*state.clock,
        &tenant.id,
        new,
        &admin.changed_by(),
    )
    .await
    {
        Ok((key, secret)) => {
            tracing::info!(tenant = %tenant.id, admin = %admin.display_name(), key = %key.id, "API key created in the console");
            let mut resp = render_api_keys(
                &req,
                &state,
                &admin,
                tenant,
                Some((key.label, secret)),
                None,
                None,
            )
            .await?;
            // The secret must not linger in any cache or history.
            resp.headers_mut().insert(
                actix_web::http::header::CACHE_CONTROL,
                actix_web::http::header::HeaderValue::from_static("no-store"),
            );
            Ok(resp)
        }
        Err(e) => {
            let error = form_error(e)?;
            render_api_keys(&req, &state, &admin, tenant, None, Some(error), None).await
        }
    }
}

async fn post_revoke_api_key(
    req: HttpRequest,
    admin: Actor,
    path: web::Path<(String, String)>,
    form: web::Form<CsrfForm>,
    state: web::Data<AppState>,
) -> Page {
    check_csrf(&req, &form.csrf_token)?;
    let (tenant_id, key_id) = path.into_inner();
    let tenant = managed_tenant(&state, &admin, &tenant_id).await?;
    apikeys::revoke(
        &*state.store,
        &*state.clock,
        &tenant.id,
        &key_id,
        &admin.changed_by(),
    )
    .await?;
    tracing::info!(tenant = %tenant.id, admin = %admin.display_name(), key = %key_id, "API key revoked in the console");
    Ok(see_other(&format!(
        "/admin/tenants/{}/api-keys?notice=key_revoked",
        tenant.id
    )))
}
