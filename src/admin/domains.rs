//! `/api/v1/tenants/{tenant_id}/domains`: the console's Domains page as an API — list
//! (verified, and pending with the TXT record to publish), add (verified on the operator
//! token's word, or pending with `"verification": "dns"`), check a pending domain's TXT
//! record, make a verified domain primary, remove.

use actix_web::{web, HttpResponse};
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use super::auth::AdminAuth;
use crate::audit::changes::ChangedBy;
use crate::state::AppState;
use crate::tenant::ownership::{self, Added};
use crate::tenant::repo as tenants;
use crate::web::error::ApiError;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(
        web::resource("/api/v1/tenants/{tenant_id}/domains")
            .route(web::get().to(list_domains))
            .route(web::post().to(post_domain)),
    )
    .service(
        web::resource("/api/v1/tenants/{tenant_id}/domains/{domain}")
            .route(web::delete().to(delete_domain)),
    )
    .service(
        web::resource("/api/v1/tenants/{tenant_id}/domains/{domain}/verify")
            .route(web::post().to(post_verify)),
    )
    .service(
        web::resource("/api/v1/tenants/{tenant_id}/domains/{domain}/primary")
            .route(web::post().to(post_primary)),
    );
}

type ApiResult = Result<HttpResponse, ApiError>;

#[derive(Deserialize, Clone, Copy, Default)]
#[serde(rename_all = "snake_case")]
enum Verification {
    /// Verified at once: the operator token vouches for it (the historical behaviour).
    #[default]
    Operator,
    /// Pending until its DNS TXT record is found.
    Dns,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct DomainBody {
    domain: String,
    #[serde(default)]
    verification: Verification,
}

async fn list_domains(
    _: AdminAuth,
    id: web::Path<String>,
    state: web::Data<AppState>,
) -> ApiResult {
    let tenant = tenants::require(&*state.store, &id).await?;
    Ok(HttpResponse::Ok().json(ownership::view(&tenant)))
}

/// Answers the updated tenant: 201 when something was added, 200 when the domain was
/// already there (verified, or pending with its token unchanged).
async fn post_domain(
    _: AdminAuth,
    id: web::Path<String>,
    body: web::Json<DomainBody>,
    state: web::Data<AppState>,
) -> ApiResult {
    let (store, clock) = (&*state.store, &*state.clock);
    let by = ChangedBy::AdminApi;
    let (tenant, added) = match body.verification {
        Verification::Operator => {
            ownership::add_verified(store, clock, &id, &body.domain, &by).await?
        }
        Verification::Dns => ownership::add_pending(store, clock, &id, &body.domain, &by).await?,
    };
    Ok(match added {
        Added::Pending(_) | Added::Verified => HttpResponse::Created().json(tenant),
        Added::AlreadyPending(_) | Added::AlreadyVerified => HttpResponse::Ok().json(tenant),
    })
}

#[derive(Serialize)]
struct CheckResponse {
    domain: String,
    result: &'static str,
    message: String,
    #[serde(with = "time::serde::rfc3339")]
    checked_at: OffsetDateTime,
}

/// Checks the TXT record now: 200 when the domain is (now) verified; otherwise the precise
/// cause as an error (409 `not_verified`, 409 `conflict`, 503 `dns_unavailable`), which
/// is also kept as the pending domain's `last_check`.
async fn post_verify(
    _: AdminAuth,
    path: web::Path<(String, String)>,
    state: web::Data<AppState>,
) -> ApiResult {
    let (id, domain) = path.into_inner();
    let (tenant, check) = ownership::check(
        &*state.store,
        &*state.clock,
        &*state.dns,
        &id,
        &domain,
        &ChangedBy::AdminApi,
    )
    .await?;
    let domain = crate::tenant::domain::normalize_domain(&domain).unwrap_or(domain);
    if let Some(err) = check.outcome.failure(&domain) {
        return Err(ApiError(err));
    }
    tracing::info!(tenant = %tenant.id, domain, "domain verified through the admin API");
    Ok(HttpResponse::Ok().json(CheckResponse {
        result: check.outcome.code(),
        message: check.outcome.message(&domain),
        domain,
        checked_at: check.at,
    }))
}

async fn post_primary(
    _: AdminAuth,
    path: web::Path<(String, String)>,
    state: web::Data<AppState>,
) -> ApiResult {
    let (id, domain) = path.into_inner();
    let tenant = ownership::make_primary(
        &*state.store,
        &*state.clock,
        &id,
        &domain,
        &ChangedBy::AdminApi,
    )
    .await?;
    Ok(HttpResponse::Ok().json(tenant))
}

/// Removes a secondary or a pending domain; the primary domain is refused (409).
async fn delete_domain(
    _: AdminAuth,
    path: web::Path<(String, String)>,
    state: web::Data<AppState>,
) -> ApiResult {
    let (id, domain) = path.into_inner();
    tenants::require(&*state.store, &id).await?;
    ownership::remove(
        &*state.store,
        &*state.clock,
        &id,
        &domain,
        &ChangedBy::AdminApi,
    )
    .await?;
    Ok(HttpResponse::NoContent().finish())
}
