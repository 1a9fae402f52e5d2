//! Public SAML routes: `GET /saml/metadata/{domain}` and `POST /saml/acs/{domain}`.
//! `/login/sso` (in `login::routes`) starts the flow through [`super::flow::start`].

use actix_web::http::{header, StatusCode};
use actix_web::{web, HttpRequest, HttpResponse};
use serde::Deserialize;

use super::acs::{self, Expectation};
use super::connection::SamlConnection;
use super::signin::{self, Outcome as Resolved};
use super::sp::SpEndpoints;
use super::sp::{endpoints, metadata_xml};
use super::{connection, diagnose, flow, sp_key};
use crate::audit::login::{self as login_events, LoginEvent, Outcome};
use crate::login::federated::clean_groups;
use crate::session::LoginMethod;
use crate::sso_test::{self, ConnectionVersion, Protocol, TestMark};
use crate::state::AppState;
use crate::store::keys;
use crate::tenant::domain::normalize_domain;
use crate::tenant::repo as tenants;
use crate::tenant::Tenant;
use crate::web::cookies;
use crate::web::error::{ApiError, PageError};
use crate::web::extract::{client_info, client_ip};

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/saml/metadata/{domain}", web::get().to(get_metadata))
        .service(
            web::resource("/saml/acs/{domain}")
                // SAML responses are larger than ordinary forms; still bounded (T28).
                .app_data(
                    web::FormConfig::default()
                        .limit(acs::MAX_ENCODED + 4096)
                        .error_handler(|e, _| {
                            PageError::new(
                                StatusCode::BAD_REQUEST,
                                "Sign-in response not accepted",
                                "The identity provider's response was missing, malformed or too large.",
                                "Start again from the sign-in page.",
                            )
                            .with_cause(e.to_string())
                            .into()
                        }),
                )
                .route(web::post().to(post_acs)),
        );
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
    let signed = connection::get(&*state.store, &tenant.id)
        .await?
        .is_some_and(|c| c.sign_authn_requests);
    let signing_key = match signed {
        true => Some(sp_key::for_base_url(&*state.store, &state.config.base_url).await?),
        false => None,
    };
    Ok(HttpResponse::Ok()
        .content_type("application/samlmetadata+xml")
        .insert_header((header::CACHE_CONTROL, "public, max-age=300"))
        .body(metadata_xml(
            &sp,
            signing_key.as_ref().map(|k| k.cert_base64.as_str()),
        )))
}

#[derive(Deserialize)]
struct AcsForm {
    #[serde(rename = "SAMLResponse")]
    saml_response: String,
    #[serde(rename = "RelayState", default)]
    relay_state: String,
}

fn refused(cause: impl Into<String>) -> PageError {
    PageError::new(
        StatusCode::FORBIDDEN,
        "Single sign-on did not complete",
        "Your company's identity provider sent a sign-in response we could not accept.",
        "Try signing in again. If it keeps failing, give your IT administrator the reference below; it points to the exact reason in our logs.",
    )
    .with_cause(cause)
}

async fn post_acs(
    req: HttpRequest,
    domain: web::Path<String>,
    form: web::Form<AcsForm>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, PageError> {
    let mut event = LoginEvent::new(state.clock.now(), LoginMethod::Saml, Outcome::Refused)
        .client_ip(client_ip(&req, &state.config).map(|ip| ip.to_string()));
    let result = consume(&req, &domain, form.into_inner(), &state, &mut event).await;
    match &result {
        // A test sign-in decided its own outcome.
        Ok(_) if event.test => {}
        Ok(_) => event.outcome = Outcome::Succeeded,
        Err(page) => {
            event.reference = page.reference().to_owned();
            event.cause = Some(page.cause().to_owned());
        }
    }
    state.metrics.login(
        "saml",
        if result.is_ok() {
            "success"
        } else {
            "rejected"
        },
    );
    login_events::record(&*state.store, &event).await;
    result
}

async fn consume(
    req: &HttpRequest,
    domain: &str,
    form: AcsForm,
    state: &AppState,
    event: &mut LoginEvent,
) -> Result<HttpResponse, PageError> {
    let store = &*state.store;
    let domain = normalize_domain(domain).map_err(|_| PageError::not_found())?;
    let tenant = tenants::by_domain(store, &domain)
        .await?
        .ok_or_else(PageError::not_found)?;
    event.tenant_id = Some(tenant.id.clone());
    let conn = connection::get(store, &tenant.id)
        .await?
        .ok_or_else(|| refused(format!("tenant {} has no SAML connection", tenant.id)))?;
    // The flow state is taken (single use) before anything else can fail.
    let flow = flow::take(store, &form.relay_state).await?;
    let request_id = match &flow {
        Some(f) if f.tenant_id != tenant.id => {
            return Err(refused(format!(
                "RelayState belongs to tenant {}, response posted to tenant {} (T24)",
                f.tenant_id, tenant.id
            )))
        }
        Some(f) => Some(f.request_id.clone()),
        None if conn.allow_idp_initiated => None,
        None => {
            return Err(refused(
                "unsolicited response (no pending request for this RelayState) and IdP-initiated login is off for this tenant",
            ))
        }
    };
    let sp = endpoints(&state.config.base_url, &tenant.primary_domain);
    if let Some(mark) = flow.as_ref().and_then(|f| f.test.clone()) {
        let test = TestRun {
            tenant: &tenant,
            connection: &conn,
            sp: &sp,
            request_id,
            mark,
        };
        return test.report(state, form.saml_response, event).await;
    }
    let (sp_v, conn_v, encoded) = (sp.clone(), conn.clone(), form.saml_response);
    let identity = web::block(move || {
        acs::validate(
            &encoded,
            &Expectation {
                sp: &sp_v,
                connection: &conn_v,
                request_id: request_id.as_deref(),
            },
        )
    })
    .await
    .map_err(|e| refused(format!("validation task failed: {e}")))?
    .map_err(|e| refused(format!("SAML response refused: {e}")))?;
    event.email = Some(identity.email.chars().take(320).collect());
    event.provider = Some(conn.provider.label().to_owned());

    // Replay cache (T17): the assertion ID is remembered until it expires anyway.
    let now = state.clock.now();
    let ttl =
        (identity.not_on_or_after - now) + time::Duration::seconds(i64::from(conn.clock_skew_secs));
    let ttl = std::time::Duration::try_from(ttl).unwrap_or(std::time::Duration::from_secs(1));
    if !store
        .put_if_absent(
            &keys::saml_seen(&tenant.id, &identity.assertion_id),
            b"1",
            Some(ttl),
        )
        .await?
    {
        return Err(refused(format!(
            "assertion {} was already used (replay)",
            identity.assertion_id
        )));
    }

    let user = match signin::resolve(store, &*state.clock, &tenant, &conn, &identity).await? {
        Resolved::SignedIn { user, created } => {
            if created {
                tracing::info!(user = %user.id, tenant = %tenant.id, "created just in time from SAML");
            }
            user
        }
        Resolved::Refused(why) => return Err(refused(why.to_string())),
    };
    event.user_id = Some(user.id.clone());
    let issued = state
        .sessions
        .issue(&user, LoginMethod::Saml, client_info(req, &state.config))
        .await?;
    tracing::info!(user = %user.id, tenant = %tenant.id, sid = %issued.session.id, idp_initiated = flow.is_none(), "SAML login");
    let target = flow
        .and_then(|f| f.return_to)
        .or(conn.default_return_url)
        .unwrap_or_else(|| "/".into());
    cookies::signed_in_redirect(&state.config, &target, issued.token)
}

/// A test sign-in arriving at the ACS.
struct TestRun<'a> {
    tenant: &'a Tenant,
    connection: &'a SamlConnection,
    sp: &'a SpEndpoints,
    request_id: Option<String>,
    mark: TestMark,
}

impl TestRun<'_> {
    /// Diagnoses the response, works out what a real sign-in would have done (without
    /// doing it), stores the report and sends the admin to it. No session is created.
    async fn report(
        self,
        state: &AppState,
        encoded: String,
        event: &mut LoginEvent,
    ) -> Result<HttpResponse, PageError> {
        let (sp, conn, request_id, now) = (
            self.sp.clone(),
            self.connection.clone(),
            self.request_id.clone(),
            state.clock.now(),
        );
        let report = web::block(move || {
            diagnose::diagnose(
                &encoded,
                &acs::Expectation {
                    sp: &sp,
                    connection: &conn,
                    request_id: request_id.as_deref(),
                },
                now,
            )
        })
        .await
        .map_err(|e| refused(format!("diagnosis task failed: {e}")))?;
        let mut report = report;
        let outcome = match &report.identity {
            None => "nobody would be signed in: the response was refused".to_owned(),
            Some(identity) => {
                let identity = acs::SamlIdentity {
                    email: identity.email.clone(),
                    name_id: identity.name_id.clone(),
                    first_name: identity.first_name.clone(),
                    last_name: identity.last_name.clone(),
                    groups: identity.groups.clone(),
                    assertion_id: String::new(),
                    not_on_or_after: now,
                };
                match signin::decide(&*state.store, self.tenant, self.connection, &identity)
                    .await?
                {
                    signin::Decision::Found(signin::Outcome::SignedIn { user, .. }) => format!(
                        "would sign in as {} (existing account), groups: {}; created just in time: no",
                        user.email,
                        sso_test::listed(&user.groups)
                    ),
                    signin::Decision::Found(signin::Outcome::Refused(why)) => {
                        report.passed = false;
                        format!("would be refused: {why}")
                    }
                    signin::Decision::Create { email, profile, .. } => format!(
                        "would sign in as {email}, groups: {}; created just in time: yes",
                        sso_test::listed(&clean_groups(&profile.groups))
                    ),
                    signin::Decision::Refused(why) => {
                        report.passed = false;
                        format!("would be refused: {why}")
                    }
                }
            }
        };
        event.test = true;
        event.email = report.identity.as_ref().map(|i| i.email.clone());
        event.outcome = if report.passed {
            Outcome::Succeeded
        } else {
            Outcome::Refused
        };
        event.cause = Some(format!(
            "test sign-in {} by {}: {}",
            self.mark.id,
            self.mark.by,
            report.refusal.clone().unwrap_or_else(|| outcome.clone())
        ));
        let record = sso_test::finish(
            &*state.store,
            &self.tenant.id,
            &self.mark,
            ConnectionVersion {
                protocol: Protocol::Saml,
                updated_at: self.connection.updated_at,
            },
            now,
            sso_test::Report::Saml(report),
            outcome,
        )
        .await?;
        sso_test::routes::ended(&record)
    }
}
