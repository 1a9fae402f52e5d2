//! SCIM errors (RFC 7644 §3.12) and the one place they become HTTP answers: a JSON body with
//! the error schema, the status as a string, a `scimType` where the RFC defines one, and a
//! `detail` precise enough for an IdP admin to act on. Store and internal failures keep
//! their cause in the log under a reference id that the detail names.

use actix_web::http::header::{self, HeaderValue};
use actix_web::http::StatusCode;
use actix_web::{HttpResponse, ResponseError};

use crate::error::Error;
use crate::store::StoreError;

pub const ERROR_SCHEMA: &str = "urn:ietf:params:scim:api:messages:2.0:Error";
pub const CONTENT_TYPE: &str = "application/scim+json";

/// The `scimType` keywords of RFC 7644 table 9.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ScimType {
    InvalidFilter,
    TooMany,
    Uniqueness,
    Mutability,
    InvalidSyntax,
    InvalidPath,
    NoTarget,
    InvalidValue,
    InvalidVers,
}

impl ScimType {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::InvalidFilter => "invalidFilter",
            Self::TooMany => "tooMany",
            Self::Uniqueness => "uniqueness",
            Self::Mutability => "mutability",
            Self::InvalidSyntax => "invalidSyntax",
            Self::InvalidPath => "invalidPath",
            Self::NoTarget => "noTarget",
            Self::InvalidValue => "invalidValue",
            Self::InvalidVers => "invalidVers",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScimError {
    pub status: u16,
    pub scim_type: Option<ScimType>,
    /// Safe to show; written for the IdP admin.
    pub detail: String,
    /// The precise cause for the log, when it must not be shown (store failures).
    pub cause: Option<String>,
}

pub type ScimResult<T> = Result<T, ScimError>;

impl std::fmt::Display for ScimError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} {}", self.status, self.detail)
    }
}

impl std::error::Error for ScimError {}

impl ScimError {
    pub fn new(status: u16, scim_type: Option<ScimType>, detail: impl Into<String>) -> Self {
        Self {
            status,
            scim_type,
            detail: detail.into(),
            cause: None,
        }
    }

    pub fn bad(scim_type: ScimType, detail: impl Into<String>) -> Self {
        Self::new(400, Some(scim_type), detail)
    }

    pub fn invalid_value(detail: impl Into<String>) -> Self {
        Self::bad(ScimType::InvalidValue, detail)
    }

    pub fn invalid_syntax(detail: impl Into<String>) -> Self {
        Self::bad(ScimType::InvalidSyntax, detail)
    }

    pub fn invalid_filter(detail: impl Into<String>) -> Self {
        Self::bad(ScimType::InvalidFilter, detail)
    }

    pub fn invalid_path(detail: impl Into<String>) -> Self {
        Self::bad(ScimType::InvalidPath, detail)
    }

    pub fn mutability(detail: impl Into<String>) -> Self {
        Self::bad(ScimType::Mutability, detail)
    }

    pub fn no_target(detail: impl Into<String>) -> Self {
        Self::bad(ScimType::NoTarget, detail)
    }

    pub fn uniqueness(detail: impl Into<String>) -> Self {
        Self::new(409, Some(ScimType::Uniqueness), detail)
    }

    pub fn not_found(detail: impl Into<String>) -> Self {
        Self::new(404, None, detail)
    }

    pub fn precondition_failed(detail: impl Into<String>) -> Self {
        Self::new(412, None, detail)
    }

    pub fn too_large(detail: impl Into<String>) -> Self {
        Self::new(413, None, detail)
    }

    pub fn unauthorized() -> Self {
        Self::new(
            401,
            None,
            "a valid API key with the scim scope is required (Authorization: Bearer <key>)",
        )
    }

    pub fn internal(cause: impl Into<String>) -> Self {
        Self {
            cause: Some(cause.into()),
            ..Self::new(500, None, "internal error")
        }
    }

    /// The body of the answer (also what the provisioning log records).
    pub fn body(&self) -> serde_json::Value {
        let mut body = serde_json::json!({
            "schemas": [ERROR_SCHEMA],
            "status": self.status.to_string(),
            "detail": self.detail,
        });
        if let Some(t) = self.scim_type {
            body["scimType"] = serde_json::Value::String(t.as_str().to_owned());
        }
        body
    }
}

impl From<Error> for ScimError {
    fn from(err: Error) -> Self {
        match err {
            Error::NotFound(what) => Self::not_found(format!("{what} not found")),
            Error::Conflict(m) => Self::uniqueness(m),
            Error::Invalid { field, message } => Self::invalid_value(format!("{field}: {message}")),
            Error::TooLarge(m) => Self::too_large(m),
            Error::Unauthorized => Self::unauthorized(),
            Error::RateLimited { retry_after } => Self::new(
                429,
                None,
                format!(
                    "too many requests; retry in {} seconds",
                    retry_after.as_secs().max(1)
                ),
            ),
            Error::Store(StoreError::Unavailable(e)) => Self {
                cause: Some(e),
                ..Self::new(
                    503,
                    None,
                    "the gateway's store is unavailable; retry shortly",
                )
            },
            Error::Store(StoreError::Corrupt(e)) => Self::internal(e),
            Error::Internal(e) => Self::internal(e),
            // Domain checks never run under SCIM; mapped for completeness.
            Error::NotVerified(m) => Self::new(409, None, m),
            Error::DnsUnavailable(m) => Self::new(503, None, m),
        }
    }
}

impl From<StoreError> for ScimError {
    fn from(e: StoreError) -> Self {
        Error::Store(e).into()
    }
}

impl ResponseError for ScimError {
    fn status_code(&self) -> StatusCode {
        StatusCode::from_u16(self.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR)
    }

    fn error_response(&self) -> HttpResponse {
        let status = self.status_code();
        let mut body = self.body();
        if status.is_server_error() {
            let reference = crate::random::token(6);
            tracing::error!(reference, cause = ?self.cause, detail = %self.detail, "SCIM request failed");
            body["detail"] =
                serde_json::Value::String(format!("{} (reference {reference})", self.detail));
        } else {
            tracing::info!(status = self.status, detail = %self.detail, "SCIM request refused");
        }
        let mut resp = HttpResponse::build(status);
        resp.insert_header((header::CONTENT_TYPE, HeaderValue::from_static(CONTENT_TYPE)));
        if status == StatusCode::UNAUTHORIZED {
            resp.insert_header((header::WWW_AUTHENTICATE, "Bearer realm=\"scim\""));
        }
        resp.body(body.to_string())
    }
}
