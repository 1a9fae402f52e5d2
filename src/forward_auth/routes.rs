//! `GET /auth/verify`: translate the session check and [`super::decide_unauthenticated`]
//! into the answer nginx, Traefik or Caddy expects.
//!
//! Identity headers in the answer come only from the session; nothing the client sent is
//! echoed. Store trouble is a 503, never a 200 (fail closed).

use actix_web::http::header;
use actix_web::{web, HttpRequest, HttpResponse};
use serde::Deserialize;

use super::proxy::original_request;
use super::{decide_unauthenticated, wants_page, Mode, Unauthenticated};
use crate::session::AuthFailure;
use crate::state::AppState;
use crate::web::extract::{header_str, peer_ip, session_token, Headers};

pub const HEADER_USER: &str = "x-gatehouse-user";
pub const HEADER_EMAIL: &str = "x-gatehouse-email";
pub const HEADER_TENANT: &str = "x-gatehouse-tenant";
pub const HEADER_GROUPS: &str = "x-gatehouse-groups";
pub const HEADER_ASSERTION: &str = "x-gatehouse-assertion";

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/auth/verify", web::get().to(get_verify))
        .route("/auth/verify", web::head().to(get_verify));
}

#[derive(Debug, Deserialize)]
pub struct VerifyQuery {
    mode: Option<String>,
}

async fn get_verify(
    req: HttpRequest,
    query: web::Query<VerifyQuery>,
    state: web::Data<AppState>,
) -> HttpResponse {
    let config = &state.config;
    if let Some(token) = session_token(&req, &config.cookie_name) {
        match state.sessions.authenticate(&token).await {
            Ok(view) => {
                let mut ok = HttpResponse::Ok();
                ok.insert_header((HEADER_USER, view.user_id()))
                    .insert_header((HEADER_EMAIL, view.email()))
                    .insert_header((HEADER_TENANT, view.tenant_id()))
                    .insert_header((HEADER_GROUPS, view.groups()))
                    .insert_header((header::CACHE_CONTROL, "no-store"));
                if config.identity_assertion_header {
                    if let Some(assertion) = super::assertion::for_upstream(
                        state.sessions.keys(),
                        state.clock.unix(),
                        &view,
                        original_request(
                            peer_ip(&req),
                            &config.trusted_proxies,
                            &Headers(req.headers()),
                        )
                        .as_ref(),
                    ) {
                        ok.insert_header((HEADER_ASSERTION, assertion));
                    }
                }
                return ok.finish();
            }
            Err(AuthFailure::Unavailable) => {
                return HttpResponse::ServiceUnavailable()
                    .insert_header((header::RETRY_AFTER, "1"))
                    .json(serde_json::json!({"error": {"code": "store_unavailable",
                        "message": "sessions cannot be checked right now"}}));
            }
            Err(AuthFailure::Invalid) => {}
        }
    }
    let mode = match query.mode.as_deref() {
        Some("nginx") => Mode::Nginx,
        _ => Mode::Redirecting,
    };
    let original = original_request(
        peer_ip(&req),
        &config.trusted_proxies,
        &Headers(req.headers()),
    );
    let page = wants_page(
        header_str(&req, header::ACCEPT),
        req.headers()
            .get("x-requested-with")
            .and_then(|v| v.to_str().ok()),
    );
    match decide_unauthenticated(
        mode,
        page,
        &config.base_url,
        &config.allowed_return_hosts,
        original.as_ref(),
    ) {
        Unauthenticated::Redirect302 { location } => HttpResponse::Found()
            .insert_header((header::LOCATION, location))
            .insert_header((header::CACHE_CONTROL, "no-store"))
            .finish(),
        Unauthenticated::Status401 { location } => HttpResponse::Unauthorized()
            .insert_header((header::LOCATION, location))
            .insert_header((header::CACHE_CONTROL, "no-store"))
            .insert_header((header::WWW_AUTHENTICATE, "Bearer"))
            .finish(),
    }
}
