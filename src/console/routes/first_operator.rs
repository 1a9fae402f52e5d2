//! The one-time first-operator setup page under `/setup/{token}`.

use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest};
use askama::Template;
use serde::Deserialize;

use super::{form_error, Page};
use crate::console::setup::{self, FirstOperator};
use crate::error::Error;
use crate::session::LoginMethod;
use crate::state::AppState;
use crate::web::cookies;
use crate::web::error::PageError;
use crate::web::extract::client_info;
use crate::web::page::{check_csrf, html, with_forms};

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/setup/{token}", web::get().to(get_setup))
        .route("/setup/{token}", web::post().to(post_setup));
}

#[derive(Template)]
#[template(path = "console/setup.html")]
struct SetupPage {
    token: String,
    organization: String,
    email: String,
    error: Option<(String, String)>,
    csrf_token: String,
}

fn setup_link_invalid() -> PageError {
    PageError::new(
        StatusCode::NOT_FOUND,
        "This setup link is not valid",
        "The link has been used, has expired, or was replaced when the gateway restarted.",
        "Look for the newest setup link in the gateway's log, or sign in if the operator account exists.",
    )
}

async fn get_setup(req: HttpRequest, path: web::Path<String>, state: web::Data<AppState>) -> Page {
    if !setup::is_valid(&*state.store, &path).await? {
        return Err(setup_link_invalid());
    }
    with_forms(&req, &state.config, StatusCode::OK, |csrf_token| {
        SetupPage {
            token: path.into_inner(),
            organization: String::new(),
            email: String::new(),
            error: None,
            csrf_token,
        }
    })
}

#[derive(Deserialize)]
struct SetupForm {
    csrf_token: String,
    organization: String,
    email: String,
    password: String,
}

async fn post_setup(
    req: HttpRequest,
    path: web::Path<String>,
    form: web::Form<SetupForm>,
    state: web::Data<AppState>,
) -> Page {
    check_csrf(&req, &form.csrf_token)?;
    let form = form.into_inner();
    let input = FirstOperator {
        organization: form.organization.clone(),
        email: form.email.clone(),
        password: form.password,
    };
    match setup::complete(&*state.store, &*state.clock, &path, input).await {
        Ok(user) => {
            tracing::warn!(user = %user.id, email = %user.email, "first operator account created");
            let issued = state
                .sessions
                .issue(
                    &user,
                    LoginMethod::Password,
                    client_info(&req, &state.config),
                )
                .await?;
            cookies::signed_in_redirect(&state.config, "/admin", issued.token)
        }
        Err(Error::Unauthorized) => Err(setup_link_invalid()),
        Err(e) => {
            let error = form_error(e)?;
            let page = SetupPage {
                token: path.into_inner(),
                organization: form.organization,
                email: form.email,
                error: Some(error),
                csrf_token: form.csrf_token,
            };
            html(StatusCode::BAD_REQUEST, &page)
        }
    }
}
