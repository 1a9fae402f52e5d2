//! Middleware: security headers on every answer, and request metrics by route pattern.

use std::time::Instant;

use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::header::{self, HeaderValue};
use actix_web::middleware::Next;
use actix_web::web;

use crate::metrics::{RequestLabels, RouteLabels};
use crate::state::AppState;

/// No inline script or style anywhere, forms may only post to us, no framing.
const CSP: &str = "default-src 'none'; style-src 'self'; img-src 'self'; script-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'";

/// For pages whose forms lead to a company's IdP: browsers apply `form-action` to the
/// redirect that follows a form submission, so the IdP (any https origin; plain http only on
/// loopback, for local test IdPs) must be allowed as a form target there.
pub const CSP_SSO_FORMS: &str = "default-src 'none'; style-src 'self'; img-src 'self'; script-src 'self'; form-action 'self' https: http://127.0.0.1:* http://localhost:*; frame-ancestors 'none'; base-uri 'none'";

pub async fn security_headers(
    req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<impl MessageBody>, actix_web::Error> {
    let mut res = next.call(req).await?;
    let h = res.headers_mut();
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    let is_html = h
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("text/html"));
    if is_html {
        if !h.contains_key(header::CONTENT_SECURITY_POLICY) {
            h.insert(
                header::CONTENT_SECURITY_POLICY,
                HeaderValue::from_static(CSP),
            );
        }
        h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
        if !h.contains_key(header::CACHE_CONTROL) {
            h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
        }
    }
    Ok(res)
}

pub async fn record_metrics(
    req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<impl MessageBody>, actix_web::Error> {
    let started = Instant::now();
    let state = req.app_data::<web::Data<AppState>>().cloned();
    let route = req.match_pattern().unwrap_or_else(|| "unmatched".into());
    let res = next.call(req).await?;
    if let Some(state) = state {
        let status = res.status().as_u16();
        state
            .metrics
            .requests
            .get_or_create(&RequestLabels {
                route: route.clone(),
                status,
            })
            .inc();
        state
            .metrics
            .latency
            .get_or_create(&RouteLabels { route })
            .observe(started.elapsed().as_secs_f64());
    }
    Ok(res)
}
