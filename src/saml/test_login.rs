//! Test sign-ins from the console: the real flow, marked as a test in its flow state, that
//! ends on a report instead of a session. A passed test of the current connection is what
//! allows switching SSO-only on (so nobody is locked out by a connection that never worked).

use std::time::Duration;

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use super::connection::SamlConnection;
use super::diagnose::Report;
use crate::error::{Error, Result};
use crate::random;
use crate::store::{encode, get_json, keys, Store};

/// How long a report can be looked at.
pub const REPORT_TTL: Duration = Duration::from_secs(3600);

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TestRecord {
    pub id: String,
    pub tenant_id: String,
    /// The admin who ran it; only admins of the tenant may read it.
    pub by_user: String,
    #[serde(with = "time::serde::rfc3339")]
    pub at: OffsetDateTime,
    pub report: Report,
    /// What a real sign-in would have done with this identity.
    pub outcome: String,
}

/// Proof that the connection as it is now has completed a test sign-in.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
struct Passed {
    #[serde(with = "time::serde::rfc3339")]
    at: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339")]
    connection_updated_at: OffsetDateTime,
}

pub async fn save(
    store: &dyn Store,
    connection: &SamlConnection,
    by_user: &str,
    at: OffsetDateTime,
    report: Report,
    outcome: String,
) -> Result<TestRecord> {
    let record = TestRecord {
        id: random::token(18),
        tenant_id: connection.tenant_id.clone(),
        by_user: by_user.to_owned(),
        at,
        report,
        outcome,
    };
    store
        .put(
            &keys::saml_test(&record.id),
            &encode(&record)?,
            Some(REPORT_TTL),
        )
        .await?;
    if record.report.passed {
        let passed = Passed {
            at,
            connection_updated_at: connection.updated_at,
        };
        store
            .put(
                &keys::saml_test_passed(&connection.tenant_id),
                &encode(&passed)?,
                None,
            )
            .await?;
    }
    Ok(record)
}

pub async fn get(store: &dyn Store, id: &str) -> Result<Option<TestRecord>> {
    if id.len() > 64 {
        return Ok(None);
    }
    Ok(get_json(store, &keys::saml_test(id)).await?)
}

/// When the connection in its current form last passed a test sign-in.
pub async fn passed_at(
    store: &dyn Store,
    connection: &SamlConnection,
) -> Result<Option<OffsetDateTime>> {
    let passed: Option<Passed> =
        get_json(store, &keys::saml_test_passed(&connection.tenant_id)).await?;
    Ok(passed
        .filter(|p| p.connection_updated_at == connection.updated_at)
        .map(|p| p.at))
}

/// SSO-only may be switched on only once the tenant's connection, as configured now, has
/// completed a test sign-in — otherwise the switch could lock every person out.
pub async fn require_passed(store: &dyn Store, tenant_id: &str) -> Result<()> {
    let Some(connection) = super::connection::get(store, tenant_id).await? else {
        return Err(Error::Conflict(
            "SSO-only needs a working SSO connection: set up SAML first, then run a test sign-in"
                .into(),
        ));
    };
    match passed_at(store, &connection).await? {
        Some(_) => Ok(()),
        None => Err(Error::Conflict(
            "run a successful test sign-in of the current SAML connection before switching SSO-only on".into(),
        )),
    }
}
