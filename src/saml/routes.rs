//! Public SAML routes: `GET /saml/metadata/{domain}`.

use actix_web::http::header;
use actix_web::{web, HttpResponse};

use super::sp::{endpoints, metadata_xml};
use crate::state::AppState;
use crate::tenant::domain::normalize_domain;
use crate::tenant::repo as tenants;
use crate::web::error::ApiError;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/saml/metadata/{domain}", web::get().to(get_metadata));
}

/// Metadata for the tenant owning `domain`. A secondary domain redirects to the primary
/// domain's URL, because that URL is the SP Entity ID the IdP must be given.
async fn get_metadata(
    domain: web::Path<String>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let not_found = || {
        HttpResponse::NotFound()
            .content_type("text/plain")
            .body("no tenant owns this domain")
    };
    let Ok(domain) = normalize_domain(&domain) else {
        return Ok(not_found());
    };
    let Some(tenant) = tenants::by_domain(&*state.store, &domain).await? else {
        return Ok(not_found());
    };
    let sp = endpoints(&state.config.base_url, &tenant.primary_domain);
    if domain != tenant.primary_domain {
        return Ok(HttpResponse::MovedPermanently()
            .insert_header((header::LOCATION, sp.entity_id))
            .finish());
    }
    let signed = super::connection::get(&*state.store, &tenant.id)
        .await?
        .is_some_and(|c| c.sign_authn_requests);
    Ok(HttpResponse::Ok()
        .content_type("application/samlmetadata+xml")
        .insert_header((header::CACHE_CONTROL, "public, max-age=300"))
        .body(metadata_xml(&sp, signed)))
}
