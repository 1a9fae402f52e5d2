//! The SCIM credential: `Authorization: Bearer <tenant API key with the scim scope>`.
//!
//! Invariants (T48): the key is found by the hash of what was presented (no secret is ever
//! compared byte by byte), every failure — no header, another scheme, unknown, revoked,
//! wrong scope, tenant gone — gets the same 401, and the tenant every handler works on is
//! the key's own, whatever the URL or body names.

use std::future::Future;
use std::pin::Pin;

use actix_web::dev::Payload;
use actix_web::http::header;
use actix_web::{web, FromRequest, HttpRequest};

use super::error::ScimError;
use crate::apikey::repo::{self as keys, LiveKey};
use crate::apikey::Scope;
use crate::error::Error;
use crate::state::AppState;
use crate::tenant::{repo as tenants, Tenant};

/// Proof that the request carried a live SCIM key, and whose it is.
pub struct ScimAuth {
    pub key: LiveKey,
    pub tenant: Tenant,
}

fn bearer(req: &HttpRequest) -> Option<String> {
    req.headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split_once(' '))
        .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
        .map(|(_, token)| token.trim().to_owned())
}

async fn check(state: web::Data<AppState>, token: Option<String>) -> Result<ScimAuth, ScimError> {
    let Some(token) = token else {
        return Err(ScimError::unauthorized());
    };
    let key = keys::authenticate(state.store.clone(), &*state.clock, &token)
        .await?
        .filter(|k| k.has_scope(Scope::Scim))
        .ok_or_else(ScimError::unauthorized)?;
    let tenant = tenants::get(&*state.store, &key.tenant_id)
        .await?
        .ok_or_else(ScimError::unauthorized)?;
    Ok(ScimAuth { key, tenant })
}

impl FromRequest for ScimAuth {
    type Error = ScimError;
    type Future = Pin<Box<dyn Future<Output = Result<Self, Self::Error>>>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let state = req.app_data::<web::Data<AppState>>().cloned();
        let token = bearer(req);
        Box::pin(async move {
            let state =
                state.ok_or_else(|| ScimError::from(Error::Internal("state missing".into())))?;
            check(state, token).await
        })
    }
}
