//! The console's door: a handler that takes an [`Admin`] runs only for a signed-in,
//! active person with an admin role. Everyone else is sent to sign in (keeping the page
//! they wanted) or shown why they cannot enter.

use actix_web::dev::Payload;
use actix_web::error::InternalError;
use actix_web::http::StatusCode;
use actix_web::{web, FromRequest, HttpRequest};
use futures_util::future::LocalBoxFuture;

use super::{Actor, Admin};
use crate::it_setup::{self, ItSetupLink};
use crate::session::store as sessions;
use crate::state::AppState;
use crate::user::repo as users;
use crate::web::cookies::IT_SETUP_COOKIE;
use crate::web::error::PageError;
use crate::web::extract::session_token;
use crate::web::page::see_other;

/// `/login` with a way back to the page that was asked for.
pub fn sign_in_url(path_and_query: &str) -> String {
    format!(
        "/login?return_to={}",
        url::form_urlencoded::byte_serialize(path_and_query.as_bytes()).collect::<String>()
    )
}

fn sign_in(req: &HttpRequest) -> actix_web::Error {
    let wanted = req.uri().path_and_query().map_or("/admin", |p| p.as_str());
    InternalError::from_response("sign in first", see_other(&sign_in_url(wanted))).into()
}

async fn admin_of(req: HttpRequest) -> Result<Admin, actix_web::Error> {
    let state = req
        .app_data::<web::Data<AppState>>()
        .cloned()
        .ok_or_else(|| sign_in(&req))?;
    let Some(token) = session_token(&req, &state.config.cookie_name) else {
        return Err(sign_in(&req));
    };
    let Ok(view) = state.sessions.authenticate(&token).await else {
        return Err(sign_in(&req));
    };
    let session = sessions::get(&*state.store, view.session_id())
        .await
        .map_err(PageError::from)?
        .ok_or_else(|| sign_in(&req))?;
    let user = users::get(&*state.store, &session.user_id)
        .await
        .map_err(PageError::from)?
        .ok_or_else(|| sign_in(&req))?;
    Admin::from_parts(user, session).ok_or_else(|| {
        PageError::new(
            StatusCode::FORBIDDEN,
            "No access to the console",
            "Your account can sign in to applications but does not administer Gatehouse.",
            "Ask your organisation's Gatehouse administrator for the admin role if you need it.",
        )
        .with_action("Your account", "/".into())
        .into()
    })
}

/// The live setup link this browser holds, if any.
async fn setup_link_of(req: &HttpRequest) -> Result<Option<ItSetupLink>, actix_web::Error> {
    let Some(secret) = req.cookie(IT_SETUP_COOKIE) else {
        return Ok(None);
    };
    let Some(state) = req.app_data::<web::Data<AppState>>() else {
        return Ok(None);
    };
    Ok(
        it_setup::resolve(&*state.store, &*state.clock, secret.value())
            .await
            .map_err(PageError::from)?,
    )
}

/// A setup link's holder on a page the link does not open: say so instead of asking them
/// to sign in with an account they do not have.
async fn outside_setup_link(req: &HttpRequest, link: &ItSetupLink) -> actix_web::Error {
    let back = match req.app_data::<web::Data<AppState>>() {
        Some(state) => it_setup::landing_path(&*state.store, &link.tenant_id)
            .await
            .unwrap_or_else(|_| format!("/admin/tenants/{}/saml", link.tenant_id)),
        None => format!("/admin/tenants/{}/saml", link.tenant_id),
    };
    PageError::new(
        StatusCode::FORBIDDEN,
        "Not part of this setup link",
        "Your setup link opens the single sign-on and provisioning setup pages only.",
        "Go back to the setup pages; for anything else, ask the organisation's administrator.",
    )
    .with_action("Back to the setup", back)
    .into()
}

impl FromRequest for Admin {
    type Error = actix_web::Error;
    type Future = LocalBoxFuture<'static, Result<Self, Self::Error>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let req = req.clone();
        Box::pin(async move {
            match admin_of(req.clone()).await {
                Ok(admin) => Ok(admin),
                Err(refusal) => match setup_link_of(&req).await? {
                    Some(link) => Err(outside_setup_link(&req, &link).await),
                    None => Err(refusal),
                },
            }
        })
    }
}

impl FromRequest for Actor {
    type Error = actix_web::Error;
    type Future = LocalBoxFuture<'static, Result<Self, Self::Error>>;

    /// A signed-in admin first; otherwise the holder of a live setup link; otherwise the
    /// admin refusal (sign in, or "no console for members").
    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let req = req.clone();
        Box::pin(async move {
            match admin_of(req.clone()).await {
                Ok(admin) => Ok(Actor::Admin(Box::new(admin))),
                Err(refusal) => match setup_link_of(&req).await? {
                    Some(link) => Ok(Actor::ItSetup(link)),
                    None => Err(refusal),
                },
            }
        })
    }
}
