//! Liveness, readiness, metrics, the JWKS and static assets.

use actix_web::http::header;
use actix_web::{web, HttpResponse};

use crate::state::AppState;
use crate::web::error::PageError;

const APP_CSS: &str = include_str!("../../static/css/app.css");
const CONSOLE_JS: &str = include_str!("../../static/js/console.js");

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/healthz", web::get().to(get_healthz))
        .route("/readyz", web::get().to(get_readyz))
        .route("/metrics", web::get().to(get_metrics))
        .route("/.well-known/jwks.json", web::get().to(get_jwks))
        .route("/static/app.css", web::get().to(get_css))
        .route("/static/console.js", web::get().to(get_console_js))
        .route("/favicon.ico", web::get().to(get_favicon));
}

async fn get_healthz() -> HttpResponse {
    HttpResponse::Ok().content_type("text/plain").body("ok")
}

/// Ready when the store answers (and, for Redis, the event feed is connected).
async fn get_readyz(state: web::Data<AppState>) -> HttpResponse {
    let store = state.store.ping().await;
    let feed = state.sessions.cache().is_healthy();
    match (store, feed) {
        (Ok(()), true) => HttpResponse::Ok().json(serde_json::json!({"status": "ready"})),
        (Err(e), _) => {
            tracing::warn!(error = %e, "readiness: store unreachable");
            HttpResponse::ServiceUnavailable()
                .json(serde_json::json!({"status": "unavailable", "reason": "store unreachable"}))
        }
        (Ok(()), false) => HttpResponse::ServiceUnavailable().json(
            serde_json::json!({"status": "unavailable", "reason": "store event feed disconnected"}),
        ),
    }
}

async fn get_metrics(state: web::Data<AppState>) -> HttpResponse {
    HttpResponse::Ok()
        .content_type("text/plain; version=0.0.4")
        .body(state.metrics.render(state.sessions.cache()))
}

async fn get_jwks(state: web::Data<AppState>) -> HttpResponse {
    HttpResponse::Ok()
        .insert_header((header::CACHE_CONTROL, "public, max-age=300"))
        .json(&*state.sessions.keys().jwks())
}

async fn get_css() -> HttpResponse {
    HttpResponse::Ok()
        .content_type("text/css; charset=utf-8")
        .insert_header((header::CACHE_CONTROL, "public, max-age=300"))
        .body(APP_CSS)
}

async fn get_console_js() -> HttpResponse {
    HttpResponse::Ok()
        .content_type("text/javascript; charset=utf-8")
        .insert_header((header::CACHE_CONTROL, "public, max-age=300"))
        .body(CONSOLE_JS)
}

/// No icon yet: answer "nothing here" without an error page or a log line.
async fn get_favicon() -> HttpResponse {
    HttpResponse::NoContent()
        .insert_header((header::CACHE_CONTROL, "public, max-age=86400"))
        .finish()
}

/// Unknown routes: JSON for API paths, a page for people.
pub async fn not_found(req: actix_web::HttpRequest) -> Result<HttpResponse, PageError> {
    let path = req.path();
    if path.starts_with("/api/") || path.starts_with("/scim/") || path.starts_with("/auth/") {
        return Ok(HttpResponse::NotFound().json(serde_json::json!({
            "error": {"code": "not_found", "message": "no such endpoint"}
        })));
    }
    Err(PageError::not_found())
}
