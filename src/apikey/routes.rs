//! `/api/v1/tenants/{tenant_id}/api-keys`: create (the secret is in this response only),
//! list, revoke. Operator-authorized like the rest of `/api/v1`.

use crate::audit::changes::ChangedBy;
use actix_web::{web, HttpResponse};
use serde::Serialize;
use time::OffsetDateTime;

use super::repo::{self, NewApiKey};
use super::{ApiKey, Scope};
use crate::admin::auth::AdminAuth;
use crate::state::AppState;
use crate::tenant::repo as tenants;
use crate::web::error::ApiError;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(
        web::resource("/api/v1/tenants/{tenant_id}/api-keys")
            .route(web::get().to(list_api_keys))
            .route(web::post().to(post_api_key)),
    )
    .service(
        web::resource("/api/v1/tenants/{tenant_id}/api-keys/{key_id}")
            .route(web::delete().to(delete_api_key)),
    );
}

type ApiResult = Result<HttpResponse, ApiError>;

/// A key as the admin sees it: never the hash.
#[derive(Serialize)]
struct ApiKeyResponse {
    id: String,
    tenant_id: String,
    label: String,
    scopes: Vec<Scope>,
    #[serde(with = "time::serde::rfc3339")]
    created_at: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339::option")]
    last_used_at: Option<OffsetDateTime>,
    #[serde(with = "time::serde::rfc3339::option")]
    revoked_at: Option<OffsetDateTime>,
}

impl From<ApiKey> for ApiKeyResponse {
    fn from(k: ApiKey) -> Self {
        Self {
            id: k.id,
            tenant_id: k.tenant_id,
            label: k.label,
            scopes: k.scopes,
            created_at: k.created_at,
            last_used_at: k.last_used_at,
            revoked_at: k.revoked_at,
        }
    }
}

#[derive(Serialize)]
struct CreatedApiKey {
    #[serde(flatten)]
    key: ApiKeyResponse,
    /// The secret; shown here once and never again.
    secret: String,
    /// What to paste into the IdP as the SCIM base URL / tenant URL.
    scim_base_url: String,
}

async fn post_api_key(
    _: AdminAuth,
    tenant_id: web::Path<String>,
    body: web::Json<NewApiKey>,
    state: web::Data<AppState>,
) -> ApiResult {
    let tenant = tenants::require(&*state.store, &tenant_id).await?;
    let (key, secret) = repo::create(
        &*state.store,
        &*state.clock,
        &tenant.id,
        body.into_inner(),
        &ChangedBy::AdminApi,
    )
    .await?;
    Ok(HttpResponse::Created()
        .insert_header(("cache-control", "no-store"))
        .json(CreatedApiKey {
            key: key.into(),
            secret,
            scim_base_url: crate::scim::base_url(&state.config.base_url),
        }))
}

async fn list_api_keys(
    _: AdminAuth,
    tenant_id: web::Path<String>,
    state: web::Data<AppState>,
) -> ApiResult {
    tenants::require(&*state.store, &tenant_id).await?;
    let items: Vec<ApiKeyResponse> = repo::list(&*state.store, &tenant_id)
        .await?
        .into_iter()
        .map(Into::into)
        .collect();
    Ok(HttpResponse::Ok().json(serde_json::json!({ "items": items })))
}

async fn delete_api_key(
    _: AdminAuth,
    path: web::Path<(String, String)>,
    state: web::Data<AppState>,
) -> ApiResult {
    let (tenant_id, key_id) = path.into_inner();
    tenants::require(&*state.store, &tenant_id).await?;
    repo::revoke(
        &*state.store,
        &*state.clock,
        &tenant_id,
        &key_id,
        &ChangedBy::AdminApi,
    )
    .await?;
    Ok(HttpResponse::NoContent().finish())
}
