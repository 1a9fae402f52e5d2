//! Gatehouse: a multi-tenant SSO gateway.
//!
//! Layout: `config` (settings), `store` (persistence backends), `tenant` and `user`
//! (the directory), `session` (records, JWTs, the verification cache), `login` (password
//! sign-in), `forward_auth` (reverse-proxy checks), `admin` (JSON API), `web` (HTTP edge).
//! Only `web` and the `*/routes.rs` files depend on actix-web.

pub mod admin;
pub mod apikey;
pub mod audit;
pub mod clock;
pub mod config;
pub mod console;
pub mod demo;
pub mod error;
pub mod forward_auth;
pub mod it_setup;
pub mod login;
pub mod metrics;
pub mod oidc;
pub mod outbound;
pub mod random;
pub mod redirect;
pub mod saml;
pub mod scim;
pub mod session;
pub mod sso_test;
pub mod state;
pub mod store;
pub mod tenant;
pub mod user;
pub mod web;

use std::net::TcpListener;
use std::sync::Arc;
use std::time::Duration;

use actix_web::body::MessageBody;
use actix_web::dev::{Server, ServiceFactory, ServiceRequest, ServiceResponse};
use actix_web::middleware::from_fn;
use actix_web::{web as aweb, App, HttpRequest, HttpServer, ResponseError};

use clock::SharedClock;
use config::{Config, StoreConfig};
use error::Error;
use state::AppState;
use store::Store;
use web::error::{ApiError, PageError};

const JSON_LIMIT: usize = 64 * 1024;
const FORM_LIMIT: usize = 16 * 1024;

/// Chooses the process-wide crypto providers. Two crates could each pick a rustls or
/// jsonwebtoken provider; choosing explicitly means a feature added later by some other
/// dependency can never make start-up panic. Idempotent.
pub fn install_crypto_providers() {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let _ = jsonwebtoken::crypto::rust_crypto::DEFAULT_PROVIDER.install_default();
}

/// Initialises libxml2/xmlsec on the calling thread before any worker starts: Debian's
/// libxml2 wants `xmlInitParser()` on the main thread, and samael only initialises on its
/// first parse. The call is given a real (throw-away, EC) certificate so that xmlsec loads
/// it quietly; it then fails on the unsigned document, which is expected.
pub fn warm_up_xml() {
    use samael::crypto::CryptoProvider;
    let cert = throwaway_certificate().unwrap_or_default();
    let _ = samael::crypto::Crypto::verify_signed_xml("<a/>", &cert.into(), None);
}

fn throwaway_certificate() -> Option<Vec<u8>> {
    use openssl::{ec, hash, nid, pkey, x509};
    let group = ec::EcGroup::from_curve_name(nid::Nid::X9_62_PRIME256V1).ok()?;
    let key = pkey::PKey::from_ec_key(ec::EcKey::generate(&group).ok()?).ok()?;
    let mut b = x509::X509::builder().ok()?;
    b.set_pubkey(&key).ok()?;
    let (from, until) = (
        openssl::asn1::Asn1Time::days_from_now(0).ok()?,
        openssl::asn1::Asn1Time::days_from_now(1).ok()?,
    );
    b.set_not_before(&from).ok()?;
    b.set_not_after(&until).ok()?;
    b.sign(&key, hash::MessageDigest::sha256()).ok()?;
    b.build().to_der().ok()
}

/// Opens the configured store backend.
pub fn open_store(
    config: &Config,
    clock: SharedClock,
) -> Result<Arc<dyn Store>, store::StoreError> {
    Ok(match &config.store {
        StoreConfig::Embedded { path } => {
            let s = Arc::new(store::embedded::EmbeddedStore::open(path, clock)?);
            store::embedded::spawn_sweeper(s.clone(), Duration::from_secs(60));
            s
        }
        StoreConfig::Redis {
            url,
            key_prefix,
            pool_size,
        } => Arc::new(store::redis::RedisStore::connect(
            url, key_prefix, *pool_size,
        )?),
    })
}

/// Builds everything handlers need: upserts declared tenants and loads signing keys.
pub async fn build_state(
    config: Config,
    store: Arc<dyn Store>,
    clock: SharedClock,
) -> Result<AppState, Error> {
    let declared = tenant::repo::upsert_declared(&*store, &*clock, &config.tenants).await?;
    if declared > 0 {
        tracing::info!(count = declared, "declared tenants upserted");
    }
    let issuer = config.base_url.as_str().trim_end_matches('/').to_owned();
    let config_oidc_loopback = config.oidc.allow_http_loopback;
    let dns = Arc::new(tenant::verification::DnsResolver::new(&config.dns));
    let sessions = session::Sessions::start(
        store.clone(),
        clock.clone(),
        issuer,
        config.session_lifetime,
    )
    .await?;
    Ok(AppState {
        config: Arc::new(config),
        store,
        clock,
        sessions,
        metrics: metrics::Metrics::new(),
        oidc: Arc::new(
            oidc::provider::Providers::new(config_oidc_loopback)
                .map_err(|e| Error::Internal(e.detail()))?,
        ),
        dns,
    })
}

/// Extractor failures become the same error shapes as handler failures: JSON under the
/// API prefixes, a page elsewhere. An oversized body is a 413, anything else a 400.
fn extractor_error(
    req: &HttpRequest,
    field: &str,
    detail: String,
    too_large: bool,
) -> actix_web::Error {
    let path = req.path();
    if path.starts_with("/scim/") {
        let err = if too_large {
            scim::error::ScimError::too_large(format!(
                "the request body is larger than {JSON_LIMIT} bytes"
            ))
        } else {
            scim::error::ScimError::invalid_syntax(format!("{field}: {detail}"))
        };
        return actix_web::error::InternalError::from_response(
            err.to_string(),
            err.error_response(),
        )
        .into();
    }
    if path.starts_with("/api/") {
        let err = if too_large {
            ApiError(Error::TooLarge(format!(
                "the request body is larger than {JSON_LIMIT} bytes"
            )))
        } else {
            ApiError::invalid(field, detail)
        };
        actix_web::error::InternalError::from_response(err.to_string(), err.error_response()).into()
    } else {
        let status = if too_large {
            actix_web::http::StatusCode::PAYLOAD_TOO_LARGE
        } else {
            actix_web::http::StatusCode::BAD_REQUEST
        };
        let page = PageError::new(
            status,
            "Please check what you entered",
            "The form was incomplete or too large.",
            "Go back, fill in every field, and try again.",
        )
        .with_cause(detail);
        actix_web::error::InternalError::from_response(page.to_string(), page.error_response())
            .into()
    }
}

pub fn build_app(
    state: AppState,
) -> App<
    impl ServiceFactory<
        ServiceRequest,
        Config = (),
        Response = ServiceResponse<impl MessageBody>,
        Error = actix_web::Error,
        InitError = (),
    >,
> {
    App::new()
        .app_data(aweb::Data::new(state))
        .app_data(
            aweb::JsonConfig::default()
                .limit(JSON_LIMIT)
                .error_handler(|e, req| {
                    let too_large = matches!(
                        e,
                        actix_web::error::JsonPayloadError::Overflow { .. }
                            | actix_web::error::JsonPayloadError::OverflowKnownLength { .. }
                    );
                    extractor_error(req, "body", e.to_string(), too_large)
                }),
        )
        .app_data(
            aweb::FormConfig::default()
                .limit(FORM_LIMIT)
                .error_handler(|e, req| {
                    let too_large = matches!(e, actix_web::error::UrlencodedError::Overflow { .. });
                    extractor_error(req, "form", e.to_string(), too_large)
                }),
        )
        .app_data(
            aweb::QueryConfig::default()
                .error_handler(|e, req| extractor_error(req, "query", e.to_string(), false)),
        )
        .app_data(
            aweb::PathConfig::default()
                .error_handler(|e, req| extractor_error(req, "path", e.to_string(), false)),
        )
        .app_data(aweb::PayloadConfig::default().limit(JSON_LIMIT))
        .configure(web::configure)
        .default_service(aweb::to(web::ops::not_found))
        .wrap(from_fn(web::middleware::security_headers))
        .wrap(from_fn(web::middleware::record_metrics))
}

/// Starts serving on `listener` (TLS when configured), and the periodic SAML metadata
/// refresh when configured. The returned server is running; await it, or stop it through
/// its handle.
pub fn serve(state: AppState, listener: TcpListener) -> std::io::Result<Server> {
    serve_with(state, listener, |_| {})
}

/// [`serve`] with extra routes (the demo's built-in IdP).
pub fn serve_with(
    state: AppState,
    listener: TcpListener,
    extra: impl Fn(&mut aweb::ServiceConfig) + Clone + Send + 'static,
) -> std::io::Result<Server> {
    let tls = match &state.config.tls {
        Some((cert, key)) => Some(web::tls::server_config(cert, key)?),
        None => None,
    };
    let app_state = state.clone();
    let server = HttpServer::new(move || build_app(app_state.clone()).configure(extra.clone()))
        .shutdown_timeout(10)
        .client_request_timeout(Duration::from_secs(10));
    let server = match tls {
        Some(cfg) => server.listen_rustls_0_23(listener, cfg)?,
        None => server.listen(listener)?,
    };
    if let Some(every) = state.config.saml_metadata_refresh {
        saml::metadata_refresh::spawn(
            &state.store,
            state.clock.clone(),
            state.config.outbound,
            every,
        );
    }
    Ok(server.run())
}
