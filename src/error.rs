//! The domain layer's error: what went wrong, in terms the HTTP layer can map to a status
//! once (`web::error`). Messages here are safe to show; store details stay in `Store`
//! and are only logged.

use std::time::Duration;

use crate::store::StoreError;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("{0} not found")]
    NotFound(&'static str),
    #[error("{0}")]
    Conflict(String),
    #[error("{field}: {message}")]
    Invalid { field: String, message: String },
    #[error("not authorized")]
    Unauthorized,
    #[error("{0}")]
    TooLarge(String),
    #[error("too many attempts")]
    RateLimited { retry_after: Duration },
    /// A domain's ownership check found no proof (the message says what was found and
    /// what to do).
    #[error("{0}")]
    NotVerified(String),
    /// The DNS resolver gave no usable answer; nothing was changed.
    #[error("{0}")]
    DnsUnavailable(String),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("internal error: {0}")]
    Internal(String),
}

impl Error {
    pub fn invalid(field: &str, message: impl Into<String>) -> Self {
        Self::Invalid {
            field: field.to_owned(),
            message: message.into(),
        }
    }
}

pub type Result<T, E = Error> = std::result::Result<T, E>;
