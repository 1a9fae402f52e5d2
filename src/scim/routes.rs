//! `/scim/v2` (RFC 7644) and the SCIM parts of the admin API (`/api/v1/tenants/{id}/scim`,
//! `/api/v1/tenants/{id}/provisioning-log`). Handlers read the request, call the domain
//! functions in `user`/`group`, record writes in the provisioning log, and shape the answer.
//! Every failure under `/scim` — unknown path, wrong method, unreadable body — is a SCIM
//! error document.

use actix_web::http::header;
use actix_web::{web, HttpRequest, HttpResponse};
use futures_util::StreamExt;
use serde::Deserialize;
use serde_json::{json, Value};

use super::auth::ScimAuth;
use super::error::{ScimError, ScimResult, CONTENT_TYPE};
use super::log::{self as plog, Operation, Outcome, ProvisioningEvent};
use super::schema::{self, TenantFacts, GROUP_RESOURCE, LIST_SCHEMA, USER_RESOURCE};
use super::settings::{self, ScimSettings};
use super::{base_url, group, query, user, Ctx};
use crate::admin::auth::AdminAuth;
use crate::audit::Window;
use crate::state::AppState;
use crate::tenant::repo as tenants;
use crate::web::error::ApiError;

/// Largest SCIM request body (a PATCH adding 20,000 members fits).
const BODY_LIMIT: usize = 2 * 1024 * 1024;

pub fn configure(cfg: &mut web::ServiceConfig) {
    let resource = |path: &str| web::resource(path).default_service(web::to(method_not_allowed));
    cfg.service(
        web::scope("/scim")
            .service(
                resource("/v2/ServiceProviderConfig")
                    .route(web::get().to(get_service_provider_config)),
            )
            .service(resource("/v2/ResourceTypes").route(web::get().to(list_resource_types)))
            .service(resource("/v2/ResourceTypes/{id}").route(web::get().to(get_resource_type)))
            .service(resource("/v2/Schemas").route(web::get().to(list_schemas)))
            .service(resource("/v2/Schemas/{id}").route(web::get().to(get_schema)))
            .service(
                resource("/v2/Users")
                    .route(web::get().to(list_users))
                    .route(web::post().to(post_user)),
            )
            .service(resource("/v2/.search").route(web::post().to(post_search_all)))
            .service(resource("/v2/Users/.search").route(web::post().to(post_search_users)))
            .service(resource("/v2/Groups/.search").route(web::post().to(post_search_groups)))
            .service(
                resource("/v2/Users/{id}")
                    .route(web::get().to(get_user))
                    .route(web::put().to(put_user))
                    .route(web::patch().to(patch_user))
                    .route(web::delete().to(delete_user)),
            )
            .service(
                resource("/v2/Groups")
                    .route(web::get().to(list_groups))
                    .route(web::post().to(post_group)),
            )
            .service(
                resource("/v2/Groups/{id}")
                    .route(web::get().to(get_group))
                    .route(web::put().to(put_group))
                    .route(web::patch().to(patch_group))
                    .route(web::delete().to(delete_group)),
            )
            .default_service(web::to(scim_not_found)),
    )
    .service(
        web::resource("/api/v1/tenants/{tenant_id}/scim")
            .route(web::get().to(get_scim_settings))
            .route(web::put().to(put_scim_settings)),
    )
    .service(
        web::resource("/api/v1/tenants/{tenant_id}/provisioning-log")
            .route(web::get().to(list_provisioning_log)),
    );
}

type ScimResponse = Result<HttpResponse, ScimError>;

async fn scim_not_found(req: HttpRequest) -> ScimResponse {
    Err(ScimError::not_found(format!(
        "no SCIM endpoint at {}; the base URL is …/scim/v2 with Users, Groups, Schemas, ResourceTypes and ServiceProviderConfig",
        req.path()
    )))
}

async fn method_not_allowed(req: HttpRequest) -> ScimResponse {
    Err(ScimError::new(
        405,
        None,
        format!("{} is not supported on {}", req.method(), req.path()),
    ))
}

fn scim_json(status: u16, body: &Value) -> HttpResponse {
    HttpResponse::build(
        actix_web::http::StatusCode::from_u16(status).unwrap_or(actix_web::http::StatusCode::OK),
    )
    .insert_header((header::CONTENT_TYPE, CONTENT_TYPE))
    .body(body.to_string())
}

fn with_version(status: u16, body: &Value) -> HttpResponse {
    let mut resp = scim_json(status, body);
    let meta = &body["meta"];
    for (name, field) in [(header::ETAG, "version"), (header::LOCATION, "location")] {
        if status == 201 || name == header::ETAG {
            if let Some(v) = meta[field]
                .as_str()
                .and_then(|v| header::HeaderValue::from_str(v).ok())
            {
                resp.headers_mut().insert(name, v);
            }
        }
    }
    resp
}

fn if_match(req: &HttpRequest) -> Option<String> {
    req.headers()
        .get(header::IF_MATCH)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned)
}

/// Reads the JSON body with a size limit; every failure is a precise SCIM 400/413.
async fn read_json(mut payload: web::Payload) -> ScimResult<Value> {
    let mut buf: Vec<u8> = Vec::new();
    while let Some(chunk) = payload.next().await {
        let chunk = chunk.map_err(|e| {
            ScimError::invalid_syntax(format!("the request body could not be read: {e}"))
        })?;
        if buf.len() + chunk.len() > BODY_LIMIT {
            return Err(ScimError::too_large(format!(
                "the request body is larger than {} KiB",
                BODY_LIMIT / 1024
            )));
        }
        buf.extend_from_slice(&chunk);
    }
    if buf.iter().all(u8::is_ascii_whitespace) {
        return Err(ScimError::invalid_syntax(
            "the request body is empty; send a JSON object",
        ));
    }
    serde_json::from_slice(&buf)
        .map_err(|e| ScimError::invalid_syntax(format!("the body is not valid JSON: {e}")))
}

fn target_of(body: &ScimResult<Value>, attr: &str) -> Option<String> {
    body.as_ref()
        .ok()
        .and_then(|b| b.get(attr))
        .and_then(Value::as_str)
        .map(str::to_owned)
}

/// Records a write in the provisioning log; a log failure never fails the write.
#[allow(clippy::too_many_arguments)]
async fn record(
    state: &AppState,
    auth: &ScimAuth,
    op: Operation,
    resource_type: &str,
    resource_id: Option<String>,
    target: Option<String>,
    error: Option<&ScimError>,
    status: u16,
) {
    let event = ProvisioningEvent::new(
        state.clock.now(),
        &auth.key.id,
        &auth.key.label,
        op,
        resource_type,
        resource_id,
        target,
        error.map_or(status, |e| e.status),
        error.map(|e| e.detail.clone()),
    );
    if let Err(e) = plog::record(&*state.store, &auth.tenant.id, &event).await {
        tracing::warn!(error = %e, "provisioning log entry lost");
    }
}

macro_rules! ctx {
    ($state:expr, $auth:expr, $base:ident) => {{
        $base = base_url(&$state.config.base_url);
        Ctx {
            store: &*$state.store,
            clock: &*$state.clock,
            tenant: &$auth.tenant,
            base: &$base,
        }
    }};
}

async fn get_service_provider_config(_: ScimAuth, state: web::Data<AppState>) -> ScimResponse {
    Ok(scim_json(
        200,
        &schema::service_provider_config(&base_url(&state.config.base_url)),
    ))
}

fn list_response(resources: Vec<Value>, total: usize, start: usize) -> Value {
    json!({
        "schemas": [LIST_SCHEMA],
        "totalResults": total,
        "startIndex": start,
        "itemsPerPage": resources.len(),
        "Resources": resources,
    })
}

async fn list_resource_types(_: ScimAuth, state: web::Data<AppState>) -> ScimResponse {
    let base = base_url(&state.config.base_url);
    let docs: Vec<Value> = [&USER_RESOURCE, &GROUP_RESOURCE]
        .iter()
        .map(|rt| schema::resource_type_document(rt, &base))
        .collect();
    let n = docs.len();
    Ok(scim_json(200, &list_response(docs, n, 1)))
}

async fn get_resource_type(
    _: ScimAuth,
    id: web::Path<String>,
    state: web::Data<AppState>,
) -> ScimResponse {
    let base = base_url(&state.config.base_url);
    [&USER_RESOURCE, &GROUP_RESOURCE]
        .iter()
        .find(|rt| rt.name.eq_ignore_ascii_case(&id))
        .map(|rt| scim_json(200, &schema::resource_type_document(rt, &base)))
        .ok_or_else(|| {
            ScimError::not_found(format!("no ResourceType {id}; there are User and Group"))
        })
}

async fn tenant_facts(state: &AppState, tenant_id: &str) -> ScimResult<TenantFacts> {
    Ok(TenantFacts {
        license_types: settings::get(&*state.store, tenant_id)
            .await?
            .allowed_license_types,
    })
}

async fn list_schemas(auth: ScimAuth, state: web::Data<AppState>) -> ScimResponse {
    let base = base_url(&state.config.base_url);
    let facts = tenant_facts(&state, &auth.tenant.id).await?;
    let docs: Vec<Value> = schema::all_schemas()
        .iter()
        .map(|s| schema::schema_document(s, &base, &facts))
        .collect();
    let n = docs.len();
    Ok(scim_json(200, &list_response(docs, n, 1)))
}

async fn get_schema(
    auth: ScimAuth,
    id: web::Path<String>,
    state: web::Data<AppState>,
) -> ScimResponse {
    let base = base_url(&state.config.base_url);
    let facts = tenant_facts(&state, &auth.tenant.id).await?;
    schema::all_schemas()
        .iter()
        .find(|s| s.id.eq_ignore_ascii_case(&id))
        .map(|s| scim_json(200, &schema::schema_document(s, &base, &facts)))
        .ok_or_else(|| ScimError::not_found(format!("no Schema {id}")))
}

// ---- Users ------------------------------------------------------------------------------

async fn list_users(auth: ScimAuth, req: HttpRequest, state: web::Data<AppState>) -> ScimResponse {
    let base;
    let ctx = ctx!(state, auth, base);
    let q = query::parse(&USER_RESOURCE, req.query_string())?;
    let (page, total) = user::list(&ctx, &q).await?;
    Ok(scim_json(200, &list_response(page, total, q.start_index)))
}

/// Searching several resource types at once is not offered (RFC 7644 §3.4.3 lets a
/// server answer 501); each type has its own `/.search`.
async fn post_search_all(_: ScimAuth) -> ScimResponse {
    Err(ScimError::new(
        501,
        None,
        "searching several resource types at once is not supported; POST to /Users/.search or /Groups/.search",
    ))
}

async fn post_search_users(
    auth: ScimAuth,
    body: web::Payload,
    state: web::Data<AppState>,
) -> ScimResponse {
    let base;
    let ctx = ctx!(state, auth, base);
    let q = query::parse_search(&USER_RESOURCE, &read_json(body).await?)?;
    let (page, total) = user::list(&ctx, &q).await?;
    Ok(scim_json(200, &list_response(page, total, q.start_index)))
}

async fn post_search_groups(
    auth: ScimAuth,
    body: web::Payload,
    state: web::Data<AppState>,
) -> ScimResponse {
    let base;
    let ctx = ctx!(state, auth, base);
    let q = query::parse_search(&GROUP_RESOURCE, &read_json(body).await?)?;
    let (page, total) = group::list(&ctx, &q).await?;
    Ok(scim_json(200, &list_response(page, total, q.start_index)))
}

async fn user_answer(
    ctx: &Ctx<'_>,
    req: &HttpRequest,
    p: &user::Person,
    status: u16,
) -> ScimResponse {
    let projection = query::projection(req.query_string())?;
    // A person just created (or revived) belongs to no group yet: skip the lookup.
    let with_groups = status != 201 && !projection.omits("groups");
    let doc = user::render(ctx, p, with_groups).await?;
    let doc = projection.apply(&USER_RESOURCE, doc);
    let mut resp = with_version(status, &doc);
    if doc.get("meta").is_none() {
        if let Ok(v) = header::HeaderValue::from_str(&p.version()) {
            resp.headers_mut().insert(header::ETAG, v);
        }
    }
    Ok(resp)
}

async fn get_user(
    auth: ScimAuth,
    req: HttpRequest,
    id: web::Path<String>,
    state: web::Data<AppState>,
) -> ScimResponse {
    let base;
    let ctx = ctx!(state, auth, base);
    let p = user::get(&ctx, &id).await?;
    if let Some(inm) = req
        .headers()
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
    {
        if super::check_precondition(Some(inm), &p.version()).is_ok() {
            return Ok(HttpResponse::NotModified().finish());
        }
    }
    user_answer(&ctx, &req, &p, 200).await
}

async fn post_user(
    auth: ScimAuth,
    req: HttpRequest,
    body: web::Payload,
    state: web::Data<AppState>,
) -> ScimResponse {
    let base;
    let ctx = ctx!(state, auth, base);
    let body = read_json(body).await;
    let target = target_of(&body, "userName");
    let result = match &body {
        Ok(b) => user::create(&ctx, b).await,
        Err(e) => Err(e.clone()),
    };
    let id = result.as_ref().ok().map(|p| p.id().to_owned());
    record(
        &state,
        &auth,
        Operation::Create,
        "User",
        id,
        target,
        result.as_ref().err(),
        201,
    )
    .await;
    user_answer(&ctx, &req, &result?, 201).await
}

async fn put_user(
    auth: ScimAuth,
    req: HttpRequest,
    id: web::Path<String>,
    body: web::Payload,
    state: web::Data<AppState>,
) -> ScimResponse {
    let base;
    let ctx = ctx!(state, auth, base);
    let body = read_json(body).await;
    let target = target_of(&body, "userName");
    let result = match &body {
        Ok(b) => user::replace(&ctx, &id, b, if_match(&req).as_deref()).await,
        Err(e) => Err(e.clone()),
    };
    record(
        &state,
        &auth,
        Operation::Replace,
        "User",
        Some(id.to_string()),
        target,
        result.as_ref().err(),
        200,
    )
    .await;
    user_answer(&ctx, &req, &result?, 200).await
}

async fn patch_user(
    auth: ScimAuth,
    req: HttpRequest,
    id: web::Path<String>,
    body: web::Payload,
    state: web::Data<AppState>,
) -> ScimResponse {
    let base;
    let ctx = ctx!(state, auth, base);
    let body = read_json(body).await;
    let result = match &body {
        Ok(b) => user::patch(&ctx, &id, b, if_match(&req).as_deref()).await,
        Err(e) => Err(e.clone()),
    };
    let target = result.as_ref().ok().map(user::Person::user_name);
    record(
        &state,
        &auth,
        Operation::Patch,
        "User",
        Some(id.to_string()),
        target,
        result.as_ref().err(),
        200,
    )
    .await;
    user_answer(&ctx, &req, &result?, 200).await
}

async fn delete_user(
    auth: ScimAuth,
    req: HttpRequest,
    id: web::Path<String>,
    state: web::Data<AppState>,
) -> ScimResponse {
    let base;
    let ctx = ctx!(state, auth, base);
    let result = user::delete(&ctx, &id, if_match(&req).as_deref()).await;
    record(
        &state,
        &auth,
        Operation::Delete,
        "User",
        Some(id.to_string()),
        None,
        result.as_ref().err(),
        204,
    )
    .await;
    result?;
    Ok(HttpResponse::NoContent().finish())
}

// ---- Groups -----------------------------------------------------------------------------

async fn list_groups(auth: ScimAuth, req: HttpRequest, state: web::Data<AppState>) -> ScimResponse {
    let base;
    let ctx = ctx!(state, auth, base);
    let q = query::parse(&GROUP_RESOURCE, req.query_string())?;
    let (page, total) = group::list(&ctx, &q).await?;
    Ok(scim_json(200, &list_response(page, total, q.start_index)))
}

async fn group_answer(
    ctx: &Ctx<'_>,
    req: &HttpRequest,
    g: &group::GroupRecord,
    status: u16,
) -> ScimResponse {
    let projection = query::projection(req.query_string())?;
    let doc = group::render(ctx, g, !projection.omits("members")).await?;
    Ok(with_version(
        status,
        &projection.apply(&GROUP_RESOURCE, doc),
    ))
}

async fn get_group(
    auth: ScimAuth,
    req: HttpRequest,
    id: web::Path<String>,
    state: web::Data<AppState>,
) -> ScimResponse {
    let base;
    let ctx = ctx!(state, auth, base);
    let g = group::get(&ctx, &id).await?;
    group_answer(&ctx, &req, &g, 200).await
}

async fn post_group(
    auth: ScimAuth,
    req: HttpRequest,
    body: web::Payload,
    state: web::Data<AppState>,
) -> ScimResponse {
    let base;
    let ctx = ctx!(state, auth, base);
    let body = read_json(body).await;
    let target = target_of(&body, "displayName");
    let result = match &body {
        Ok(b) => group::create(&ctx, b).await,
        Err(e) => Err(e.clone()),
    };
    let id = result.as_ref().ok().map(|g| g.id.clone());
    record(
        &state,
        &auth,
        Operation::Create,
        "Group",
        id,
        target,
        result.as_ref().err(),
        201,
    )
    .await;
    group_answer(&ctx, &req, &result?, 201).await
}

async fn put_group(
    auth: ScimAuth,
    req: HttpRequest,
    id: web::Path<String>,
    body: web::Payload,
    state: web::Data<AppState>,
) -> ScimResponse {
    let base;
    let ctx = ctx!(state, auth, base);
    let body = read_json(body).await;
    let target = target_of(&body, "displayName");
    let result = match &body {
        Ok(b) => group::replace(&ctx, &id, b, if_match(&req).as_deref()).await,
        Err(e) => Err(e.clone()),
    };
    record(
        &state,
        &auth,
        Operation::Replace,
        "Group",
        Some(id.to_string()),
        target,
        result.as_ref().err(),
        200,
    )
    .await;
    group_answer(&ctx, &req, &result?, 200).await
}

async fn patch_group(
    auth: ScimAuth,
    req: HttpRequest,
    id: web::Path<String>,
    body: web::Payload,
    state: web::Data<AppState>,
) -> ScimResponse {
    let base;
    let ctx = ctx!(state, auth, base);
    let body = read_json(body).await;
    let result = match &body {
        Ok(b) => group::patch(&ctx, &id, b, if_match(&req).as_deref()).await,
        Err(e) => Err(e.clone()),
    };
    let target = result.as_ref().ok().map(|g| g.display_name.clone());
    record(
        &state,
        &auth,
        Operation::Patch,
        "Group",
        Some(id.to_string()),
        target,
        result.as_ref().err(),
        200,
    )
    .await;
    let g = result?;
    // Entra ID and Okta send membership PATCHes by the thousand; answer them without
    // listing every member back unless asked to (RFC 7644 §3.5.2 allows 204).
    if req.query_string().is_empty() {
        return Ok(HttpResponse::NoContent()
            .insert_header((header::ETAG, g.version()))
            .finish());
    }
    group_answer(&ctx, &req, &g, 200).await
}

async fn delete_group(
    auth: ScimAuth,
    req: HttpRequest,
    id: web::Path<String>,
    state: web::Data<AppState>,
) -> ScimResponse {
    let base;
    let ctx = ctx!(state, auth, base);
    let result = group::delete(&ctx, &id, if_match(&req).as_deref()).await;
    record(
        &state,
        &auth,
        Operation::Delete,
        "Group",
        Some(id.to_string()),
        None,
        result.as_ref().err(),
        204,
    )
    .await;
    result?;
    Ok(HttpResponse::NoContent().finish())
}

// ---- Admin API --------------------------------------------------------------------------

type ApiResult = Result<HttpResponse, ApiError>;

fn settings_response(state: &AppState, s: ScimSettings) -> Value {
    json!({
        "scim_base_url": base_url(&state.config.base_url),
        "allowed_license_types": s.allowed_license_types,
    })
}

async fn get_scim_settings(
    _: AdminAuth,
    tenant_id: web::Path<String>,
    state: web::Data<AppState>,
) -> ApiResult {
    tenants::require(&*state.store, &tenant_id).await?;
    let s = settings::get(&*state.store, &tenant_id).await?;
    Ok(HttpResponse::Ok().json(settings_response(&state, s)))
}

async fn put_scim_settings(
    _: AdminAuth,
    tenant_id: web::Path<String>,
    body: web::Json<ScimSettings>,
    state: web::Data<AppState>,
) -> ApiResult {
    tenants::require(&*state.store, &tenant_id).await?;
    let s = settings::save(&*state.store, &tenant_id, body.into_inner()).await?;
    Ok(HttpResponse::Ok().json(settings_response(&state, s)))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct LogQuery {
    #[serde(default, with = "time::serde::rfc3339::option")]
    since: Option<time::OffsetDateTime>,
    #[serde(default, with = "time::serde::rfc3339::option")]
    until: Option<time::OffsetDateTime>,
    result: Option<Outcome>,
    /// Case-insensitive substring of the userName/displayName the IdP sent.
    target: Option<String>,
    limit: Option<usize>,
}

/// Newest first; the admin's answer to "why was this person not provisioned?".
async fn list_provisioning_log(
    _: AdminAuth,
    tenant_id: web::Path<String>,
    q: web::Query<LogQuery>,
    state: web::Data<AppState>,
) -> ApiResult {
    tenants::require(&*state.store, &tenant_id).await?;
    let q = q.into_inner();
    let window = Window::page(q.since, q.until, q.limit);
    let filter = plog::Filter {
        result: q.result,
        target: q.target,
    };
    let items = plog::list(&*state.store, &tenant_id, window, &filter).await?;
    Ok(HttpResponse::Ok().json(json!({ "items": items })))
}
