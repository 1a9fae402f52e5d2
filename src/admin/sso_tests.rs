//! `/api/v1/tenants/{tenant_id}/sso-tests`: the console's test sign-in as an API. `POST`
//! returns a one-time `start_url` that a browser opens to run the real flow against the
//! tenant's connection (SAML or OIDC); the report is then read here as JSON.

use actix_web::{web, HttpResponse};
use serde::Serialize;
use time::OffsetDateTime;

use super::auth::AdminAuth;
use crate::error::Error;
use crate::sso_test::{self, routes::start_path, TestView, START_TTL};
use crate::state::AppState;
use crate::tenant::repo as tenants;
use crate::web::error::ApiError;

/// Tests a list shows at most.
const LISTED: usize = 50;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(
        web::resource("/api/v1/tenants/{tenant_id}/sso-tests")
            .route(web::get().to(list_tests))
            .route(web::post().to(post_test)),
    )
    .service(
        web::resource("/api/v1/tenants/{tenant_id}/sso-tests/{test_id}")
            .route(web::get().to(get_test)),
    );
}

type ApiResult = Result<HttpResponse, ApiError>;

#[derive(Serialize)]
struct StartedTest {
    #[serde(flatten)]
    test: TestView,
    /// Open in a browser (once, within ten minutes) to run the test.
    start_url: String,
    #[serde(with = "time::serde::rfc3339")]
    start_url_expires_at: OffsetDateTime,
}

async fn post_test(
    _: AdminAuth,
    tenant_id: web::Path<String>,
    state: web::Data<AppState>,
) -> ApiResult {
    let tenant = tenants::require(&*state.store, &tenant_id).await?;
    let now = state.clock.now();
    let (record, secret) = sso_test::create_start_link(&*state.store, now, &tenant.id).await?;
    let base = state.config.base_url.as_str().trim_end_matches('/');
    Ok(HttpResponse::Created()
        .insert_header(("cache-control", "no-store"))
        .json(StartedTest {
            test: TestView::new(&record, now, true),
            start_url: format!("{base}{}", start_path(&secret)),
            start_url_expires_at: now + START_TTL,
        }))
}

async fn list_tests(
    _: AdminAuth,
    tenant_id: web::Path<String>,
    state: web::Data<AppState>,
) -> ApiResult {
    let tenant = tenants::require(&*state.store, &tenant_id).await?;
    let now = state.clock.now();
    let items: Vec<TestView> = sso_test::list(&*state.store, &tenant.id, LISTED)
        .await?
        .iter()
        .map(|r| TestView::new(r, now, false))
        .collect();
    Ok(HttpResponse::Ok().json(serde_json::json!({ "items": items })))
}

async fn get_test(
    _: AdminAuth,
    path: web::Path<(String, String)>,
    state: web::Data<AppState>,
) -> ApiResult {
    let (tenant_id, test_id) = path.into_inner();
    let tenant = tenants::require(&*state.store, &tenant_id).await?;
    // Another tenant's test reads as "not found".
    let record = sso_test::get(&*state.store, &test_id)
        .await?
        .filter(|r| r.tenant_id == tenant.id)
        .ok_or(ApiError(Error::NotFound("test sign-in")))?;
    Ok(HttpResponse::Ok()
        .insert_header(("cache-control", "no-store"))
        .json(TestView::new(&record, state.clock.now(), true)))
}
