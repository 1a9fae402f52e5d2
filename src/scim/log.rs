//! The provisioning log: one entry per SCIM write (create, replace, patch, delete), whether
//! it succeeded or not, with the key that made it and the precise error — the admin's
//! answer to "why was this person not created?". Kept in the audit journal.

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use crate::audit::{append, newest_first, Journal, Window};
use crate::random;
use crate::store::{Store, StoreResult};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Operation {
    Create,
    Replace,
    Patch,
    Delete,
}

impl Operation {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Create => "create",
            Self::Replace => "replace",
            Self::Patch => "patch",
            Self::Delete => "delete",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    Succeeded,
    Failed,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProvisioningEvent {
    pub id: String,
    #[serde(with = "time::serde::rfc3339")]
    pub at: OffsetDateTime,
    pub key_id: String,
    pub key_label: String,
    pub operation: Operation,
    /// `User` or `Group`.
    pub resource_type: String,
    /// The resource's id, when one exists (not for a refused create).
    pub resource_id: Option<String>,
    /// userName or displayName as sent, so a refused create can be found.
    pub target: Option<String>,
    pub result: Outcome,
    /// The HTTP status the IdP received.
    pub status: u16,
    /// The SCIM error detail for failures.
    pub error: Option<String>,
}

impl ProvisioningEvent {
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        at: OffsetDateTime,
        key_id: &str,
        key_label: &str,
        operation: Operation,
        resource_type: &str,
        resource_id: Option<String>,
        target: Option<String>,
        status: u16,
        error: Option<String>,
    ) -> Self {
        Self {
            id: random::id("pv"),
            at,
            key_id: key_id.to_owned(),
            key_label: key_label.to_owned(),
            operation,
            resource_type: resource_type.to_owned(),
            resource_id,
            target: target.map(|t| t.chars().take(256).collect()),
            result: if status < 400 {
                Outcome::Succeeded
            } else {
                Outcome::Failed
            },
            status,
            error: error.map(|e| e.chars().take(2000).collect()),
        }
    }
}

pub async fn record(
    store: &dyn Store,
    tenant_id: &str,
    event: &ProvisioningEvent,
) -> StoreResult<()> {
    append(
        store,
        Journal::Provisioning,
        tenant_id,
        &event.id,
        event.at,
        event,
    )
    .await
}

/// What an admin filters the provisioning log by.
#[derive(Debug, Clone, Default)]
pub struct Filter {
    pub result: Option<Outcome>,
    /// Case-insensitive substring of the target (userName or displayName as sent).
    pub target: Option<String>,
}

impl Filter {
    fn keeps(&self, needle: Option<&str>, e: &ProvisioningEvent) -> bool {
        self.result.is_none_or(|r| e.result == r)
            && needle.is_none_or(|n| {
                e.target
                    .as_deref()
                    .is_some_and(|t| t.to_lowercase().contains(n))
            })
    }
}

pub async fn list(
    store: &dyn Store,
    tenant_id: &str,
    window: Window,
    filter: &Filter,
) -> StoreResult<Vec<ProvisioningEvent>> {
    let needle = filter
        .target
        .as_deref()
        .map(str::trim)
        .filter(|t| !t.is_empty())
        .map(str::to_lowercase);
    newest_first(
        store,
        Journal::Provisioning,
        tenant_id,
        window,
        |e: &ProvisioningEvent| filter.keeps(needle.as_deref(), e),
    )
    .await
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event(target: Option<&str>, status: u16) -> ProvisioningEvent {
        ProvisioningEvent::new(
            OffsetDateTime::UNIX_EPOCH,
            "ak_1",
            "Okta",
            Operation::Create,
            "User",
            None,
            target.map(str::to_owned),
            status,
            None,
        )
    }

    #[test]
    fn filters_by_result_and_target_substring() {
        let ok = event(Some("Jane.Doe@Acme.test"), 201);
        let refused = event(Some("scim.test@jumpcloud.com"), 400);
        let anonymous = event(None, 500);
        let by = |result, target: Option<&str>| {
            let f = Filter {
                result,
                target: target.map(str::to_owned),
            };
            let needle = f.target.as_deref().map(str::to_lowercase);
            [&ok, &refused, &anonymous]
                .into_iter()
                .filter(|e| f.keeps(needle.as_deref(), e))
                .count()
        };
        assert_eq!(by(None, None), 3);
        assert_eq!(by(Some(Outcome::Failed), None), 2);
        assert_eq!(by(Some(Outcome::Succeeded), None), 1);
        assert_eq!(by(None, Some("jane.doe")), 1, "case-insensitive");
        assert_eq!(
            by(None, Some("@")),
            2,
            "events without a target never match"
        );
        assert_eq!(by(Some(Outcome::Succeeded), Some("jumpcloud")), 0);
    }
}
