//! Login events: one record per sign-in attempt that reached a decision, successful or
//! refused, with the precise cause for refusals ("Audience was X, expected Y") and the
//! reference id shown to the person, so an admin can go from a screenshot to the reason.

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use super::{append, newest_first, Journal, Window};
use crate::random;
use crate::session::LoginMethod;
use crate::store::{Store, StoreResult};

/// Scope for attempts that could not be tied to a tenant (an unknown domain's ACS).
pub const NO_TENANT: &str = "-";

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    Succeeded,
    Refused,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LoginEvent {
    /// Also the reference id printed on the person's error page.
    pub reference: String,
    #[serde(with = "time::serde::rfc3339")]
    pub at: OffsetDateTime,
    pub tenant_id: Option<String>,
    pub method: LoginMethod,
    /// Which IdP or global provider, when the method has several (`google`, `okta`, …).
    pub provider: Option<String>,
    pub outcome: Outcome,
    pub email: Option<String>,
    pub user_id: Option<String>,
    /// The precise reason for a refusal; never shown to the person, only to admins.
    pub cause: Option<String>,
    pub client_ip: Option<String>,
    /// A console test sign-in: it ended on a report, not a session.
    #[serde(default)]
    pub test: bool,
}

impl LoginEvent {
    /// A new event with a fresh reference id; fill in what is known with the builders.
    pub fn new(at: OffsetDateTime, method: LoginMethod, outcome: Outcome) -> Self {
        Self {
            reference: random::token(6),
            at,
            tenant_id: None,
            method,
            provider: None,
            outcome,
            email: None,
            user_id: None,
            cause: None,
            client_ip: None,
            test: false,
        }
    }

    pub fn tenant(mut self, tenant_id: &str) -> Self {
        self.tenant_id = Some(tenant_id.to_owned());
        self
    }

    pub fn provider(mut self, provider: &str) -> Self {
        self.provider = Some(provider.to_owned());
        self
    }

    pub fn email(mut self, email: &str) -> Self {
        self.email = Some(email.chars().take(320).collect());
        self
    }

    pub fn user(mut self, user_id: &str) -> Self {
        self.user_id = Some(user_id.to_owned());
        self
    }

    pub fn cause(mut self, cause: impl Into<String>) -> Self {
        let cause: String = cause.into();
        self.cause = Some(cause.chars().take(2000).collect());
        self
    }

    pub fn client_ip(mut self, ip: Option<String>) -> Self {
        self.client_ip = ip;
        self
    }
}

/// Records the event. A failure to record is logged, not returned: the login decision
/// has been made and the log line carries the same facts.
pub async fn record(store: &dyn Store, event: &LoginEvent) {
    let scope = event.tenant_id.as_deref().unwrap_or(NO_TENANT);
    match event.outcome {
        Outcome::Succeeded => tracing::info!(
            reference = %event.reference, tenant = scope, method = event.method.as_str(),
            email = event.email.as_deref().unwrap_or(""), "login succeeded"
        ),
        Outcome::Refused => tracing::info!(
            reference = %event.reference, tenant = scope, method = event.method.as_str(),
            email = event.email.as_deref().unwrap_or(""),
            cause = event.cause.as_deref().unwrap_or(""), "login refused"
        ),
    }
    if let Err(e) = append(
        store,
        Journal::Login,
        scope,
        &event.reference,
        event.at,
        event,
    )
    .await
    {
        tracing::warn!(error = %e, reference = %event.reference, "login event not recorded");
    }
}

/// What an admin filters login events by.
#[derive(Debug, Clone, Default)]
pub struct Filter {
    pub outcome: Option<Outcome>,
    /// Case-insensitive substring of the email.
    pub email: Option<String>,
}

pub async fn list(
    store: &dyn Store,
    tenant_id: &str,
    window: Window,
    filter: &Filter,
) -> StoreResult<Vec<LoginEvent>> {
    let email = filter.email.as_deref().map(str::to_lowercase);
    newest_first(
        store,
        Journal::Login,
        tenant_id,
        window,
        |e: &LoginEvent| {
            filter.outcome.is_none_or(|o| o == e.outcome)
                && email.as_deref().is_none_or(|needle| {
                    e.email
                        .as_deref()
                        .is_some_and(|m| m.to_lowercase().contains(needle))
                })
        },
    )
    .await
}
