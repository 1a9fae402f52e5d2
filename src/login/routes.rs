//! Browser routes: `/login`, `/login/password`, `/login/sso`, `/logout`, and the signed-in
//! landing page `/`.

use actix_web::http::{header, StatusCode};
use actix_web::{web, HttpRequest, HttpResponse};
use askama::Template;
use serde::Deserialize;

use super::{password_login, PasswordOutcome};
use crate::audit::login::{self as login_events, LoginEvent, Outcome};
use crate::redirect::safe_return_to;
use crate::session::LoginMethod;
use crate::state::AppState;
use crate::tenant::domain::domain_from_input;
use crate::tenant::repo as tenants;
use crate::web::cookies;
use crate::web::error::PageError;
use crate::web::extract::{client_info, client_ip, session_token};
use crate::web::page::{check_csrf, csrf_for, html, see_other};

const GENERIC_FAILURE: &str =
    "That email and password do not match an account. Check both and try again.";

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/", web::get().to(get_home))
        .route("/login", web::get().to(get_login))
        .route("/login/password", web::post().to(post_password))
        .route("/login/sso", web::get().to(get_sso))
        .route("/login/sso", web::post().to(post_sso))
        .route("/logout", web::get().to(get_logout))
        .route("/logout", web::post().to(post_logout));
}

#[derive(Template)]
#[template(path = "login/login.html")]
struct LoginPage {
    csrf_token: String,
    return_to: String,
    email: String,
    error: Option<String>,
    notice: Option<String>,
    /// Links to the operator's global providers; `None` when not configured.
    google_href: Option<String>,
    microsoft_href: Option<String>,
}

#[derive(Template)]
#[template(path = "login/sso_only.html")]
struct SsoOnlyPage {
    tenant_name: String,
    domain: String,
    sso_href: String,
}

#[derive(Template)]
#[template(path = "account/home.html")]
struct HomePage {
    email: String,
    tenant_name: String,
    method: String,
    expires: String,
    csrf_token: String,
}

#[derive(Template)]
#[template(path = "account/signed_out.html")]
struct SignedOutPage;

fn allowed_return(state: &AppState, raw: Option<&str>) -> Option<String> {
    raw.and_then(|r| {
        safe_return_to(
            r,
            &state.config.base_url,
            &state.config.allowed_return_hosts,
        )
    })
}

fn render_login(
    req: &HttpRequest,
    state: &AppState,
    status: StatusCode,
    return_to: Option<String>,
    email: String,
    error: Option<String>,
    notice: Option<String>,
) -> Result<HttpResponse, PageError> {
    let (token, fresh) = csrf_for(req);
    let provider_href = |path: &str| {
        let mut href = path.to_owned();
        if let Some(r) = &return_to {
            href.push_str("?return_to=");
            href.push_str(&url::form_urlencoded::byte_serialize(r.as_bytes()).collect::<String>());
        }
        href
    };
    let google_href = state
        .config
        .oidc
        .google
        .as_ref()
        .map(|_| provider_href("/login/google"));
    let microsoft_href = state
        .config
        .oidc
        .microsoft
        .as_ref()
        .map(|_| provider_href("/login/microsoft"));
    let page = LoginPage {
        google_href,
        microsoft_href,
        csrf_token: token.clone(),
        return_to: return_to.unwrap_or_default(),
        email,
        error,
        notice,
    };
    let mut resp = html(status, &page)?;
    resp.headers_mut().insert(
        header::CONTENT_SECURITY_POLICY,
        header::HeaderValue::from_static(crate::web::middleware::CSP_SSO_FORMS),
    );
    if fresh {
        cookies::attach(&mut resp, &cookies::csrf(&state.config, token))?;
    }
    Ok(resp)
}

#[derive(Deserialize)]
struct LoginQuery {
    return_to: Option<String>,
}

async fn get_login(
    req: HttpRequest,
    query: web::Query<LoginQuery>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, PageError> {
    let return_to = allowed_return(&state, query.return_to.as_deref());
    // Already signed in and sent here by a proxy: go straight back.
    if let (Some(target), Some(token)) =
        (&return_to, session_token(&req, &state.config.cookie_name))
    {
        if state.sessions.authenticate(&token).await.is_ok() {
            return Ok(see_other(target));
        }
    }
    let notice = query
        .return_to
        .as_ref()
        .filter(|_| return_to.is_none())
        .map(|_| "The page that sent you here is not on the list of allowed destinations, so you will land on your account page after signing in.".to_owned());
    render_login(
        &req,
        &state,
        StatusCode::OK,
        return_to,
        String::new(),
        None,
        notice,
    )
}

#[derive(Deserialize)]
struct PasswordForm {
    email: String,
    password: String,
    csrf_token: String,
    #[serde(default)]
    return_to: String,
}

async fn post_password(
    req: HttpRequest,
    form: web::Form<PasswordForm>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, PageError> {
    check_csrf(&req, &form.csrf_token)?;
    let return_to = allowed_return(&state, Some(&form.return_to));
    let client =
        client_ip(&req, &state.config).map_or_else(|| "unknown".into(), |ip| ip.to_string());
    let outcome = password_login(
        &*state.store,
        &state.config,
        &client,
        &form.email,
        &form.password,
    )
    .await;
    let event = |outcome| {
        LoginEvent::new(state.clock.now(), LoginMethod::Password, outcome)
            .email(form.email.trim())
            .client_ip(Some(client.clone()))
    };
    match outcome {
        Ok(PasswordOutcome::SignedIn(user)) => {
            let issued = state
                .sessions
                .issue(
                    &user,
                    LoginMethod::Password,
                    client_info(&req, &state.config),
                )
                .await
                .map_err(PageError::from)?;
            state.metrics.login("password", "success");
            let ev = event(Outcome::Succeeded)
                .tenant(&user.tenant_id)
                .user(&user.id);
            login_events::record(&*state.store, &ev).await;
            cookies::signed_in_redirect(
                &state.config,
                return_to.as_deref().unwrap_or("/"),
                issued.token,
            )
        }
        Ok(PasswordOutcome::SsoRequired(tenant)) => {
            state.metrics.login("password", "sso_required");
            let ev = event(Outcome::Refused)
                .tenant(&tenant.id)
                .cause("password login refused: the tenant allows only its own SSO");
            login_events::record(&*state.store, &ev).await;
            let mut href = format!("/login/sso?domain={}", tenant.primary_domain);
            if let Some(r) = &return_to {
                href.push_str("&return_to=");
                href.push_str(
                    &url::form_urlencoded::byte_serialize(r.as_bytes()).collect::<String>(),
                );
            }
            html(
                StatusCode::FORBIDDEN,
                &SsoOnlyPage {
                    tenant_name: tenant.name,
                    domain: tenant.primary_domain,
                    sso_href: href,
                },
            )
        }
        Ok(PasswordOutcome::Rejected { tenant_id, cause }) => {
            state.metrics.login("password", "rejected");
            let mut ev = event(Outcome::Refused).cause(cause);
            ev.tenant_id = tenant_id;
            login_events::record(&*state.store, &ev).await;
            render_login(
                &req,
                &state,
                StatusCode::UNAUTHORIZED,
                return_to,
                form.email.chars().take(320).collect(),
                Some(GENERIC_FAILURE.into()),
                None,
            )
        }
        Err(e) => {
            state.metrics.login("password", "error");
            Err(PageError::from(e))
        }
    }
}

#[derive(Deserialize)]
struct SsoQuery {
    domain: Option<String>,
    return_to: Option<String>,
}

#[derive(Deserialize)]
struct SsoForm {
    domain: String,
    csrf_token: String,
    #[serde(default)]
    return_to: String,
}

async fn get_sso(
    req: HttpRequest,
    query: web::Query<SsoQuery>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, PageError> {
    let Some(domain) = query.domain.as_deref().filter(|d| !d.trim().is_empty()) else {
        let return_to = allowed_return(&state, query.return_to.as_deref());
        return render_login(
            &req,
            &state,
            StatusCode::OK,
            return_to,
            String::new(),
            None,
            None,
        );
    };
    let return_to = allowed_return(&state, query.return_to.as_deref());
    route_to_sso(&req, &state, domain, return_to).await
}

async fn post_sso(
    req: HttpRequest,
    form: web::Form<SsoForm>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, PageError> {
    check_csrf(&req, &form.csrf_token)?;
    let return_to = allowed_return(&state, Some(&form.return_to));
    route_to_sso(&req, &state, &form.domain, return_to).await
}

/// Finds the tenant for what the person typed. Unknown domains get the same page whatever
/// the reason, so the form cannot be used to list which domains exist.
async fn route_to_sso(
    req: &HttpRequest,
    state: &AppState,
    input: &str,
    return_to: Option<String>,
) -> Result<HttpResponse, PageError> {
    let unknown = || {
        PageError::new(
            StatusCode::NOT_FOUND,
            "No single sign-on for that domain",
            "We could not find a single sign-on setup for what you entered.",
            "Check the spelling of your company domain (for example example.com) or enter your full work email, then try again. If it still fails, ask your IT administrator whether single sign-on is set up.",
        )
        .with_action("Try again", "/login".into())
    };
    let Ok(domain) = domain_from_input(input) else {
        return Err(unknown().with_cause(format!(
            "unparseable SSO input {:?}",
            input.chars().take(100).collect::<String>()
        )));
    };
    let Some(tenant) = tenants::by_domain(&*state.store, &domain)
        .await
        .map_err(PageError::from)?
    else {
        return Err(unknown().with_cause(format!("no tenant for domain {domain}")));
    };
    if let Some(conn) = crate::saml::connection::get(&*state.store, &tenant.id)
        .await
        .map_err(PageError::from)?
    {
        let sp = crate::saml::sp::endpoints(&state.config.base_url, &tenant.primary_domain);
        let signer = match conn.sign_authn_requests {
            true => Some(
                crate::saml::sp_key::for_base_url(&*state.store, &state.config.base_url)
                    .await
                    .map_err(PageError::from)?,
            ),
            false => None,
        };
        let target = crate::saml::flow::start(
            &*state.store,
            &conn,
            &sp,
            signer.as_ref(),
            return_to,
            None,
            state.clock.now(),
        )
        .await
        .map_err(PageError::from)?;
        return Ok(see_other(&target));
    }
    if let Some(conn) = crate::oidc::connection::get(&*state.store, &tenant.id)
        .await
        .map_err(PageError::from)?
    {
        let target = crate::oidc::flow::Target::tenant(&conn);
        let hint = input.contains('@').then_some(input.trim());
        return crate::oidc::routes::redirect_to_provider(req, state, &target, return_to, hint)
            .await;
    }
    // Tenants exist before their IdP connection is configured: say so plainly.
    Err(PageError::new(
        StatusCode::CONFLICT,
        "Single sign-on is not set up yet",
        format!("{} has not finished connecting its identity provider.", tenant.name),
        "Ask your IT administrator to complete the SAML or OpenID Connect setup in the Gatehouse console.",
    )
    .with_cause(format!("tenant {} has no SSO connection", tenant.id)))
}

async fn get_home(req: HttpRequest, state: web::Data<AppState>) -> Result<HttpResponse, PageError> {
    let Some(token) = session_token(&req, &state.config.cookie_name) else {
        return Ok(see_other("/login"));
    };
    let Ok(view) = state.sessions.authenticate(&token).await else {
        return Ok(see_other("/login"));
    };
    let tenant_name = tenants::get(&*state.store, view.tenant_id())
        .await
        .map_err(PageError::from)?
        .map_or_else(|| view.tenant_id().to_owned(), |t| t.name);
    let expires = time::OffsetDateTime::from_unix_timestamp(view.expires_unix)
        .ok()
        .and_then(|t| {
            t.format(&time::format_description::well_known::Rfc3339)
                .ok()
        })
        .unwrap_or_default();
    let (csrf_token, fresh) = csrf_for(&req);
    let mut resp = html(
        StatusCode::OK,
        &HomePage {
            email: view.email().to_owned(),
            tenant_name,
            method: view.method.to_owned(),
            expires,
            csrf_token: csrf_token.clone(),
        },
    )?;
    if fresh {
        cookies::attach(&mut resp, &cookies::csrf(&state.config, csrf_token))?;
    }
    Ok(resp)
}

#[derive(Deserialize)]
struct LogoutForm {
    csrf_token: String,
}

async fn get_logout(
    req: HttpRequest,
    state: web::Data<AppState>,
) -> Result<HttpResponse, PageError> {
    end_session(&req, &state).await
}

async fn post_logout(
    req: HttpRequest,
    form: web::Form<LogoutForm>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, PageError> {
    check_csrf(&req, &form.csrf_token)?;
    end_session(&req, &state).await
}

/// Deletes the session record (every instance stops honouring the token) and the cookie.
async fn end_session(req: &HttpRequest, state: &AppState) -> Result<HttpResponse, PageError> {
    if let Some(token) = session_token(req, &state.config.cookie_name) {
        if let Ok(claims) = state.sessions.keys().verify(&token, &*state.store).await {
            state
                .sessions
                .revoke(&claims.sid)
                .await
                .map_err(PageError::from)?;
            tracing::info!(sid = %claims.sid, "logout");
        }
    }
    let mut resp = html(StatusCode::OK, &SignedOutPage)?;
    cookies::attach(&mut resp, &cookies::clear_session(&state.config))?;
    Ok(resp)
}
