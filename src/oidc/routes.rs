//! OIDC routes: `GET /login/google`, `GET /login/microsoft` (plain links from the login
//! page, so no form posts cross origins under the page's CSP), and `GET /oidc/callback`.
//! `/login/sso` (in `login::routes`) reaches a tenant's connection through
//! [`redirect_to_provider`].
//!
//! Every decided callback records a login event whose reference is the one on the page the
//! person sees, with the precise cause ("issuer mismatch: got X, expected Y").

use actix_web::http::{header, StatusCode};
use actix_web::{web, HttpRequest, HttpResponse};
use askama::Template;
use serde::Deserialize;

use super::connection::OidcConnection;
use super::flow::{self, FlowState, Origin, Target};
use super::signin::{self, Authority, Outcome as Resolved};
use super::{connection, diagnose, OidcError};
use crate::audit::login::{self as login_events, LoginEvent, Outcome};
use crate::error::Error;
use crate::redirect::safe_return_to;
use crate::session::LoginMethod;
use crate::sso_test::{self, ConnectionVersion, Protocol, TestMark};
use crate::state::AppState;
use crate::tenant::repo as tenants;
use crate::tenant::Tenant;
use crate::web::cookies;
use crate::web::error::PageError;
use crate::web::extract::{client_info, client_ip};

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/login/google", web::get().to(get_google))
        .route("/login/microsoft", web::get().to(get_microsoft))
        .route("/oidc/callback", web::get().to(get_callback));
}

#[derive(Template)]
#[template(path = "login/sso_only.html")]
struct SsoOnlyPage {
    tenant_name: String,
    domain: String,
    sso_href: String,
}

/// `{base}/oidc/callback`, the one redirect URI registered with every provider.
pub fn redirect_uri(state: &AppState) -> String {
    format!(
        "{}/oidc/callback",
        state.config.base_url.as_str().trim_end_matches('/')
    )
}

fn see_other(location: &str) -> HttpResponse {
    HttpResponse::SeeOther()
        .insert_header((header::LOCATION, location))
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .finish()
}

fn refused(cause: impl Into<String>) -> PageError {
    PageError::new(
        StatusCode::FORBIDDEN,
        "Single sign-on did not complete",
        "Your identity provider's sign-in answer could not be accepted.",
        "Try signing in again. If it keeps failing, give your IT administrator the reference below; it points to the exact reason in our logs.",
    )
    .with_cause(cause)
}

fn unreachable(cause: impl Into<String>) -> PageError {
    PageError::new(
        StatusCode::BAD_GATEWAY,
        "Your identity provider did not answer",
        "We could not complete the sign-in with your identity provider.",
        "Try again in a minute. If it keeps failing, give your IT administrator the reference below.",
    )
    .with_cause(cause)
}

fn page_for(err: OidcError) -> PageError {
    match err {
        OidcError::Provider(m) => unreachable(m),
        OidcError::Refused(m) => refused(m),
        OidcError::App(e) => PageError::from(e),
        OidcError::Internal(m) => PageError::from(Error::Internal(m)),
    }
}

/// Sends the browser to the provider: a fresh flow, bound to this browser's flow cookie.
pub async fn redirect_to_provider(
    req: &HttpRequest,
    state: &AppState,
    target: &Target,
    return_to: Option<String>,
    login_hint: Option<&str>,
) -> Result<HttpResponse, PageError> {
    start_flow(req, state, target, return_to, login_hint, None).await
}

/// Starts a test sign-in of the tenant's connection: the real flow, bound to this browser,
/// whose callback ends on a report instead of a session.
pub async fn redirect_to_provider_for_test(
    req: &HttpRequest,
    state: &AppState,
    connection: &OidcConnection,
    mark: TestMark,
) -> Result<HttpResponse, PageError> {
    start_flow(
        req,
        state,
        &Target::tenant(connection),
        None,
        None,
        Some(mark),
    )
    .await
}

async fn start_flow(
    req: &HttpRequest,
    state: &AppState,
    target: &Target,
    return_to: Option<String>,
    login_hint: Option<&str>,
    test: Option<TestMark>,
) -> Result<HttpResponse, PageError> {
    // Reusing the cookie keeps two tabs' flows working; a new value otherwise.
    let binding = req
        .cookie(cookies::OIDC_FLOW_COOKIE)
        .map(|c| c.value().to_owned())
        .filter(|v| v.len() >= 32 && v.len() <= 64)
        .unwrap_or_else(flow::new_browser_binding);
    let url = flow::start(
        &*state.store,
        &state.oidc,
        target,
        &redirect_uri(state),
        &binding,
        flow::StartOptions {
            return_to,
            login_hint,
            test,
        },
    )
    .await
    .map_err(page_for)?;
    let mut resp = see_other(&url);
    cookies::attach(&mut resp, &cookies::oidc_flow(&state.config, binding))?;
    Ok(resp)
}

#[derive(Deserialize)]
struct StartQuery {
    return_to: Option<String>,
    login_hint: Option<String>,
}

fn not_configured(name: &str) -> PageError {
    PageError::new(
        StatusCode::NOT_FOUND,
        &format!("{name} sign-in is not available"),
        format!("This gateway does not offer sign-in with {name}."),
        "Use another way to sign in on the sign-in page.",
    )
    .with_cause(format!("{name} is not configured"))
}

fn allowed_return(state: &AppState, raw: Option<&str>) -> Option<String> {
    raw.and_then(|r| {
        safe_return_to(
            r,
            &state.config.base_url,
            &state.config.allowed_return_hosts,
        )
    })
}

async fn get_google(
    req: HttpRequest,
    query: web::Query<StartQuery>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, PageError> {
    let Some(google) = &state.config.oidc.google else {
        return Err(not_configured("Google"));
    };
    let return_to = allowed_return(&state, query.return_to.as_deref());
    redirect_to_provider(
        &req,
        &state,
        &Target::google(google),
        return_to,
        query.login_hint.as_deref(),
    )
    .await
}

async fn get_microsoft(
    req: HttpRequest,
    query: web::Query<StartQuery>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, PageError> {
    let Some(ms) = &state.config.oidc.microsoft else {
        return Err(not_configured("Microsoft"));
    };
    let return_to = allowed_return(&state, query.return_to.as_deref());
    redirect_to_provider(
        &req,
        &state,
        &Target::microsoft(ms),
        return_to,
        query.login_hint.as_deref(),
    )
    .await
}

#[derive(Deserialize)]
struct CallbackQuery {
    code: Option<String>,
    state: Option<String>,
    error: Option<String>,
    error_description: Option<String>,
}

/// A decided callback that is not an error page.
enum Decided {
    SignedIn(HttpResponse),
    /// The SSO-only page, with the cause for the login event.
    SsoOnly(HttpResponse, String),
    /// A test sign-in ended on its report; the event's outcome is the test's.
    Tested(HttpResponse),
}

async fn get_callback(
    req: HttpRequest,
    query: web::Query<CallbackQuery>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, PageError> {
    let mut event = LoginEvent::new(state.clock.now(), LoginMethod::Oidc, Outcome::Refused)
        .client_ip(client_ip(&req, &state.config).map(|ip| ip.to_string()));
    let result = consume(&req, query.into_inner(), &state, &mut event).await;
    let label = match &result {
        Ok(Decided::SignedIn(_)) => {
            event.outcome = Outcome::Succeeded;
            "success"
        }
        Ok(Decided::SsoOnly(_, cause)) => {
            event.cause = Some(cause.clone());
            "sso_required"
        }
        Ok(Decided::Tested(_)) => "test",
        Err(page) => {
            event.reference = page.reference().to_owned();
            event.cause = Some(page.cause().chars().take(2000).collect());
            "rejected"
        }
    };
    state.metrics.login("oidc", label);
    login_events::record(&*state.store, &event).await;
    result.map(|d| match d {
        Decided::SignedIn(r) | Decided::SsoOnly(r, _) | Decided::Tested(r) => r,
    })
}

fn sso_only_page(tenant: &Tenant, return_to: Option<&str>) -> Result<HttpResponse, PageError> {
    let mut href = format!("/login/sso?domain={}", tenant.primary_domain);
    if let Some(r) = return_to {
        href.push_str("&return_to=");
        href.push_str(&url::form_urlencoded::byte_serialize(r.as_bytes()).collect::<String>());
    }
    let body = SsoOnlyPage {
        tenant_name: tenant.name.clone(),
        domain: tenant.primary_domain.clone(),
        sso_href: href,
    }
    .render()
    .map_err(|e| PageError::from(Error::Internal(format!("template: {e}"))))?;
    Ok(HttpResponse::Forbidden()
        .content_type("text/html; charset=utf-8")
        .body(body))
}

async fn consume(
    req: &HttpRequest,
    q: CallbackQuery,
    state: &AppState,
    event: &mut LoginEvent,
) -> Result<Decided, PageError> {
    let store = &*state.store;
    // The flow is taken (single use) before anything else can fail.
    let flow = match q.state.as_deref() {
        Some(s) => flow::take(store, s).await.map_err(page_for)?,
        None => None,
    };
    let Some(flow) = flow else {
        return Err(PageError::new(
            StatusCode::BAD_REQUEST,
            "This sign-in link has expired",
            "The sign-in took too long, was already completed, or did not start here.",
            "Start again from the sign-in page.",
        )
        .with_cause("OIDC state unknown, expired or already used (replayed state)"));
    };
    let (target, tenant_conn) = match &flow.origin {
        Origin::Tenant { tenant_id } => {
            event.tenant_id = Some(tenant_id.clone());
            let tenant = tenants::get(store, tenant_id).await?;
            let conn = connection::get(store, tenant_id).await?;
            match (tenant, conn) {
                (Some(t), Some(c)) => (Target::tenant(&c), Some((t, c))),
                _ => {
                    return Err(refused(format!(
                        "tenant {tenant_id} or its OIDC connection was removed during the login"
                    )))
                }
            }
        }
        Origin::Google => match &state.config.oidc.google {
            Some(g) => (Target::google(g), None),
            None => return Err(refused("Google is no longer configured")),
        },
        Origin::Microsoft => match &state.config.oidc.microsoft {
            Some(m) => (Target::microsoft(m), None),
            None => return Err(refused("Microsoft is no longer configured")),
        },
    };
    event.provider = Some(target.provider_name.clone());
    // A test flow ends here, on its report: no code path below (session, person) runs.
    if let Some(mark) = flow.test.clone() {
        let Some((tenant, conn)) = &tenant_conn else {
            return Err(refused("a test sign-in flow without a tenant connection"));
        };
        let test = TestRun {
            tenant,
            connection: conn,
            flow: &flow,
            mark,
        };
        return test
            .report(req, &q, state, event)
            .await
            .map(Decided::Tested);
    }
    let cookie = req.cookie(cookies::OIDC_FLOW_COOKIE);
    if !flow::same_browser(&flow, cookie.as_ref().map(|c| c.value())) {
        return Err(refused(
            "the callback came from another browser than the one that started the login (flow cookie missing or different)",
        ));
    }
    if let Some(err) = q.error.as_deref() {
        let desc: String = q
            .error_description
            .as_deref()
            .unwrap_or("")
            .chars()
            .take(300)
            .collect();
        return Err(refused(format!(
            "the provider answered error={:?} {desc:?}",
            err.chars().take(100).collect::<String>()
        )));
    }
    let Some(code) = q
        .code
        .as_deref()
        .filter(|c| !c.is_empty() && c.len() <= 4096)
    else {
        return Err(refused("the callback carries no authorization code"));
    };
    let verified = flow::finish(
        &state.oidc,
        &target,
        &flow,
        code,
        &redirect_uri(state),
        state.clock.now(),
    )
    .await
    .map_err(page_for)?;
    let authority = match (&flow.origin, &tenant_conn) {
        (Origin::Tenant { .. }, Some((t, c))) => Authority::Tenant {
            tenant: t,
            connection: c,
        },
        (Origin::Microsoft, _) => Authority::Microsoft {
            allowlisted: !target.allowed_tenant_ids.is_empty(),
        },
        _ => Authority::Google,
    };
    let identity = signin::identity(&verified, &authority).map_err(refused)?;
    event.email = identity
        .email
        .as_ref()
        .map(|e| e.chars().take(320).collect());
    // File the attempt under the email's tenant, so its admins see why it failed.
    if event.tenant_id.is_none() {
        if let Some((_, domain)) = identity
            .email
            .as_deref()
            .and_then(|e| crate::user::normalize_email(e).ok())
        {
            event.tenant_id = tenants::by_domain(store, &domain).await?.map(|t| t.id);
        }
    }
    if let Origin::Google = flow.origin {
        let google = state.config.oidc.google.as_ref();
        let allowed = google.map(|g| g.allowed_hd.as_slice()).unwrap_or_default();
        let hd = verified.str_claim("hd");
        if !allowed.is_empty() && !hd.is_some_and(|h| allowed.iter().any(|a| a == h)) {
            return Err(refused(format!(
                "Google hosted domain (hd) {:?} is not one of google.allowed_hd {allowed:?}",
                hd.unwrap_or("absent")
            )));
        }
    }
    let outcome = signin::resolve(store, &*state.clock, &authority, &identity).await?;
    let user = match outcome {
        Resolved::SignedIn { user, created } => {
            if created {
                tracing::info!(user = %user.id, tenant = %user.tenant_id, "created just in time from OIDC");
            }
            user
        }
        Resolved::SsoOnly(tenant) => {
            event.tenant_id = Some(tenant.id.clone());
            let page = sso_only_page(&tenant, flow.return_to.as_deref())?;
            return Ok(Decided::SsoOnly(
                page,
                format!(
                    "{} login refused: tenant {} allows only its own SSO",
                    target.provider_name, tenant.id
                ),
            ));
        }
        Resolved::Refused(cause) => return Err(refused(cause)),
    };
    event.tenant_id = Some(user.tenant_id.clone());
    event.user_id = Some(user.id.clone());
    let issued = state
        .sessions
        .issue(&user, LoginMethod::Oidc, client_info(req, &state.config))
        .await?;
    tracing::info!(user = %user.id, tenant = %user.tenant_id, sid = %issued.session.id, provider = %target.provider_name, subject = %identity.subject, "OIDC login");
    let target_url = flow.return_to.unwrap_or_else(|| "/".into());
    cookies::signed_in_redirect(&state.config, &target_url, issued.token).map(Decided::SignedIn)
}

/// A test sign-in arriving at the callback.
struct TestRun<'a> {
    tenant: &'a Tenant,
    connection: &'a OidcConnection,
    flow: &'a FlowState,
    mark: TestMark,
}

impl TestRun<'_> {
    /// Diagnoses the answer (the real exchange and checks), works out what a real sign-in
    /// would have done without doing it, stores the report and ends the test. No session is
    /// created and nobody is created or linked.
    async fn report(
        self,
        req: &HttpRequest,
        q: &CallbackQuery,
        state: &AppState,
        event: &mut LoginEvent,
    ) -> Result<HttpResponse, PageError> {
        let cookie = req.cookie(cookies::OIDC_FLOW_COOKIE);
        let callback = diagnose::Callback {
            code: q.code.as_deref(),
            error: q.error.as_deref(),
            error_description: q.error_description.as_deref(),
            same_browser: flow::same_browser(self.flow, cookie.as_ref().map(|c| c.value())),
        };
        let now = state.clock.now();
        let redirect = redirect_uri(state);
        let setting = diagnose::Setting {
            tenant: self.tenant,
            connection: self.connection,
            redirect_uri: &redirect,
            now,
        };
        let (report, outcome) =
            diagnose::run(&*state.store, &state.oidc, &setting, self.flow, &callback).await?;
        event.test = true;
        event.email = report
            .identity
            .as_ref()
            .and_then(|i| i.email.as_ref())
            .map(|e| e.chars().take(320).collect());
        event.outcome = if report.passed {
            Outcome::Succeeded
        } else {
            Outcome::Refused
        };
        let cause = format!(
            "test sign-in {} by {}: {}",
            self.mark.id,
            self.mark.by,
            report.refusal.clone().unwrap_or_else(|| outcome.clone())
        );
        event.cause = Some(cause.chars().take(2000).collect());
        let record = sso_test::finish(
            &*state.store,
            &self.tenant.id,
            &self.mark,
            ConnectionVersion {
                protocol: Protocol::Oidc,
                updated_at: self.connection.updated_at,
            },
            now,
            sso_test::Report::Oidc(report),
            outcome,
        )
        .await?;
        sso_test::routes::ended(&record)
    }
}
