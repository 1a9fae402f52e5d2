//! `/api/v1/tenants/{tenant_id}/it-setup-links`: create (the link is in this response
//! only), list, revoke — the console's setup-link page as an API.

use crate::audit::changes::ChangedBy;
use actix_web::{web, HttpResponse};
use serde::Serialize;
use time::OffsetDateTime;

use super::auth::AdminAuth;
use crate::console::routes::it_setup::link_url;
use crate::it_setup::{self, ItSetupLink, LinkStatus, NewItSetupLink};
use crate::state::AppState;
use crate::tenant::repo as tenants;
use crate::web::error::ApiError;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(
        web::resource("/api/v1/tenants/{tenant_id}/it-setup-links")
            .route(web::get().to(list_links))
            .route(web::post().to(post_link)),
    )
    .service(
        web::resource("/api/v1/tenants/{tenant_id}/it-setup-links/{link_id}")
            .route(web::delete().to(delete_link)),
    );
}

type ApiResult = Result<HttpResponse, ApiError>;

/// A link as the admin sees it: never the secret's hash.
#[derive(Serialize)]
struct LinkResponse {
    id: String,
    tenant_id: String,
    label: String,
    created_by: String,
    status: LinkStatus,
    #[serde(with = "time::serde::rfc3339")]
    created_at: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339")]
    expires_at: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339::option")]
    last_used_at: Option<OffsetDateTime>,
    #[serde(with = "time::serde::rfc3339::option")]
    revoked_at: Option<OffsetDateTime>,
}

impl LinkResponse {
    fn new(l: ItSetupLink, now: OffsetDateTime) -> Self {
        Self {
            status: l.status(now),
            id: l.id,
            tenant_id: l.tenant_id,
            label: l.label,
            created_by: l.created_by,
            created_at: l.created_at,
            expires_at: l.expires_at,
            last_used_at: l.last_used_at,
            revoked_at: l.revoked_at,
        }
    }
}

#[derive(Serialize)]
struct CreatedLink {
    #[serde(flatten)]
    link: LinkResponse,
    /// The URL to send to the IT admin; shown here once and never again.
    url: String,
}

async fn post_link(
    _: AdminAuth,
    tenant_id: web::Path<String>,
    body: web::Json<NewItSetupLink>,
    state: web::Data<AppState>,
) -> ApiResult {
    let tenant = tenants::require(&*state.store, &tenant_id).await?;
    let (link, secret) = it_setup::create(
        &*state.store,
        &*state.clock,
        &tenant.id,
        &ChangedBy::AdminApi,
        body.into_inner(),
    )
    .await?;
    Ok(HttpResponse::Created()
        .insert_header(("cache-control", "no-store"))
        .json(CreatedLink {
            link: LinkResponse::new(link, state.clock.now()),
            url: link_url(&state.config.base_url, &secret),
        }))
}

async fn list_links(
    _: AdminAuth,
    tenant_id: web::Path<String>,
    state: web::Data<AppState>,
) -> ApiResult {
    let tenant = tenants::require(&*state.store, &tenant_id).await?;
    let now = state.clock.now();
    let links: Vec<LinkResponse> = it_setup::list(&*state.store, &tenant.id)
        .await?
        .into_iter()
        .map(|l| LinkResponse::new(l, now))
        .collect();
    Ok(HttpResponse::Ok().json(serde_json::json!({ "items": links })))
}

async fn delete_link(
    _: AdminAuth,
    path: web::Path<(String, String)>,
    state: web::Data<AppState>,
) -> ApiResult {
    let (tenant_id, link_id) = path.into_inner();
    let tenant = tenants::require(&*state.store, &tenant_id).await?;
    it_setup::revoke(
        &*state.store,
        &*state.clock,
        &tenant.id,
        &link_id,
        &ChangedBy::AdminApi,
    )
    .await?;
    Ok(HttpResponse::NoContent().finish())
}
