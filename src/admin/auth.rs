//! Bearer-token authorization for the admin API.

use std::future::{ready, Ready};

use actix_web::dev::Payload;
use actix_web::http::header;
use actix_web::{web, FromRequest, HttpRequest};
use subtle::ConstantTimeEq;

use crate::error::Error;
use crate::state::AppState;
use crate::web::error::ApiError;

/// Proof that the request carried the operator's admin token.
pub struct AdminAuth(());

fn check(req: &HttpRequest) -> Result<AdminAuth, ApiError> {
    let state = req
        .app_data::<web::Data<AppState>>()
        .ok_or_else(|| ApiError(Error::Internal("state missing".into())))?;
    // No token configured: the admin API is closed, not open.
    let Some(expected) = state.config.admin_token.as_deref() else {
        return Err(ApiError(Error::Unauthorized));
    };
    let presented = req
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split_once(' '))
        .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
        .map(|(_, token)| token.trim())
        .unwrap_or("");
    if bool::from(presented.as_bytes().ct_eq(expected.as_bytes())) {
        Ok(AdminAuth(()))
    } else {
        Err(ApiError(Error::Unauthorized))
    }
}

impl FromRequest for AdminAuth {
    type Error = ApiError;
    type Future = Ready<Result<Self, Self::Error>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        ready(check(req))
    }
}
