//! The one place domain errors become HTTP answers: JSON for machines ([`ApiError`]),
//! an HTML page for people ([`PageError`]). Each answer carries a reference id that is
//! also in the log line holding the precise cause; bodies never carry internal details.

use actix_web::http::header::{self, HeaderValue};
use actix_web::http::StatusCode;
use actix_web::{HttpResponse, ResponseError};
use askama::Template;

use crate::error::Error;
use crate::random;
use crate::store::StoreError;

fn reference() -> String {
    random::token(6)
}

/// (status, stable code) for each domain error.
fn classify(err: &Error) -> (StatusCode, &'static str) {
    match err {
        Error::NotFound(_) => (StatusCode::NOT_FOUND, "not_found"),
        Error::Conflict(_) => (StatusCode::CONFLICT, "conflict"),
        Error::Invalid { .. } => (StatusCode::BAD_REQUEST, "invalid_request"),
        Error::TooLarge(_) => (StatusCode::PAYLOAD_TOO_LARGE, "payload_too_large"),
        Error::Unauthorized => (StatusCode::UNAUTHORIZED, "unauthorized"),
        Error::RateLimited { .. } => (StatusCode::TOO_MANY_REQUESTS, "rate_limited"),
        Error::NotVerified(_) => (StatusCode::CONFLICT, "not_verified"),
        Error::DnsUnavailable(_) => (StatusCode::SERVICE_UNAVAILABLE, "dns_unavailable"),
        Error::Store(StoreError::Unavailable(_)) => {
            (StatusCode::SERVICE_UNAVAILABLE, "store_unavailable")
        }
        Error::Store(StoreError::Corrupt(_)) | Error::Internal(_) => {
            (StatusCode::INTERNAL_SERVER_ERROR, "internal")
        }
    }
}

/// The message shown to a client: the error's own text only where it was written for them.
fn public_message(err: &Error) -> String {
    match err {
        Error::NotFound(_)
        | Error::Conflict(_)
        | Error::Invalid { .. }
        | Error::TooLarge(_)
        | Error::NotVerified(_)
        | Error::DnsUnavailable(_)
        | Error::Unauthorized => err.to_string(),
        Error::RateLimited { retry_after } => format!(
            "too many attempts; try again in {} seconds",
            retry_after.as_secs().max(1)
        ),
        Error::Store(StoreError::Unavailable(_)) => {
            "the gateway's store is unavailable; try again shortly".into()
        }
        Error::Store(StoreError::Corrupt(_)) | Error::Internal(_) => "internal error".into(),
    }
}

fn log(err: &Error, status: StatusCode, reference: &str) {
    if status.is_server_error() {
        tracing::error!(error = %err, reference, "request failed");
    } else {
        tracing::info!(error = %err, reference, "request refused");
    }
}

#[derive(Debug, thiserror::Error)]
#[error(transparent)]
pub struct ApiError(#[from] pub Error);

impl ApiError {
    pub fn invalid(field: &str, message: impl Into<String>) -> Self {
        Self(Error::invalid(field, message))
    }
}

impl From<crate::store::StoreError> for ApiError {
    fn from(e: crate::store::StoreError) -> Self {
        Self(Error::Store(e))
    }
}

impl ResponseError for ApiError {
    fn status_code(&self) -> StatusCode {
        classify(&self.0).0
    }

    fn error_response(&self) -> HttpResponse {
        let (status, code) = classify(&self.0);
        let reference = reference();
        log(&self.0, status, &reference);
        let mut body = serde_json::json!({
            "error": { "code": code, "message": public_message(&self.0), "reference": reference }
        });
        if let Error::Invalid { field, .. } = &self.0 {
            body["error"]["field"] = serde_json::Value::String(field.clone());
        }
        let mut resp = HttpResponse::build(status);
        if status == StatusCode::UNAUTHORIZED {
            resp.insert_header((header::WWW_AUTHENTICATE, "Bearer"));
        }
        if let Error::RateLimited { retry_after } = &self.0 {
            resp.insert_header((
                header::RETRY_AFTER,
                retry_after.as_secs().max(1).to_string(),
            ));
        }
        resp.json(body)
    }
}

/// An error page for a person: what went wrong, what to do, and a reference id.
/// Boxed so `Result<_, PageError>` stays small on every handler's happy path.
#[derive(Debug)]
pub struct PageError(Box<PageDetails>);

#[derive(Debug)]
struct PageDetails {
    status: u16,
    title: String,
    message: String,
    next_step: String,
    action: Option<(String, String)>,
    reference: String,
    cause: Option<String>,
}

#[derive(Template)]
#[template(path = "errors/page.html")]
struct ErrorPage<'a> {
    status: u16,
    title: &'a str,
    message: &'a str,
    next_step: &'a str,
    action: &'a Option<(String, String)>,
    reference: &'a str,
}

impl std::fmt::Display for PageError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.0.title, self.0.message)
    }
}

impl PageError {
    pub fn new(
        status: StatusCode,
        title: &str,
        message: impl Into<String>,
        next_step: &str,
    ) -> Self {
        Self(Box::new(PageDetails {
            status: status.as_u16(),
            title: title.to_owned(),
            message: message.into(),
            next_step: next_step.to_owned(),
            action: Some(("Back to sign in".into(), "/login".into())),
            reference: reference(),
            cause: None,
        }))
    }

    pub fn with_action(mut self, label: &str, href: String) -> Self {
        self.0.action = Some((label.to_owned(), href));
        self
    }

    /// The precise cause, for the log only.
    pub fn with_cause(mut self, cause: impl Into<String>) -> Self {
        self.0.cause = Some(cause.into());
        self
    }

    /// The reference id the person sees; login events are recorded under the same id.
    pub fn reference(&self) -> &str {
        &self.0.reference
    }

    /// The precise cause for the log, or the public message when none was given.
    pub fn cause(&self) -> &str {
        self.0.cause.as_deref().unwrap_or(&self.0.message)
    }

    pub fn not_found() -> Self {
        Self::new(
            StatusCode::NOT_FOUND,
            "Page not found",
            "There is nothing at this address.",
            "Check the link, or start again from the sign-in page.",
        )
    }
}

impl From<Error> for PageError {
    fn from(err: Error) -> Self {
        let (status, _) = classify(&err);
        let (title, next) = match &err {
            Error::RateLimited { .. } => ("Too many attempts", "Wait a few minutes, then try again."),
            Error::Store(StoreError::Unavailable(_)) => (
                "Temporarily unavailable",
                "The sign-in service cannot reach its database. Try again in a minute; if it persists, tell your administrator the reference below.",
            ),
            Error::Invalid { .. } => ("Please check what you entered", "Correct it and try again."),
            Error::NotFound(_) => ("Not found", "Start again from the sign-in page."),
            _ => ("Something went wrong", "Try again. If it happens again, tell your administrator the reference below."),
        };
        Self::new(status, title, public_message(&err), next).with_cause(err.to_string())
    }
}

impl ResponseError for PageError {
    fn status_code(&self) -> StatusCode {
        StatusCode::from_u16(self.0.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR)
    }

    fn error_response(&self) -> HttpResponse {
        let status = self.status_code();
        let d = &self.0;
        let cause = d.cause.as_deref().unwrap_or(&d.message);
        if status.is_server_error() {
            tracing::error!(reference = %d.reference, cause, "page error");
        } else {
            tracing::info!(reference = %d.reference, cause, "page refused");
        }
        let page = ErrorPage {
            status: d.status,
            title: &d.title,
            message: &d.message,
            next_step: &d.next_step,
            action: &d.action,
            reference: &d.reference,
        };
        match page.render() {
            Ok(html) => HttpResponse::build(status)
                .insert_header((
                    header::CONTENT_TYPE,
                    HeaderValue::from_static("text/html; charset=utf-8"),
                ))
                .insert_header((header::CACHE_CONTROL, "no-store"))
                .body(html),
            Err(e) => {
                tracing::error!(error = %e, "error page failed to render");
                HttpResponse::build(status).body(format!("{} (reference {})", d.title, d.reference))
            }
        }
    }
}

impl From<crate::store::StoreError> for PageError {
    fn from(e: crate::store::StoreError) -> Self {
        Self::from(Error::Store(e))
    }
}
