//! Test sign-ins of a tenant's SSO connection, SAML or OpenID Connect, in one place: the
//! mark a test flow carries, the stored reports, the "passed" marker, and the gate that keeps
//! SSO-only off until the connection the tenant has *now* has completed a test sign-in.
//!
//! Why a module of its own (not under `saml/`, `oidc/` or `login/`): both protocols write
//! here, and the console, the admin API and the tenant policy read from here; putting it under
//! one protocol would make the other depend on it, and `login/` is the password sign-in.
//!
//! Invariants:
//! - a flow whose state carries a [`TestMark`] ends on a report, never on a session or a
//!   new person (the ACS and the OIDC callback branch on the mark before any sign-in step);
//! - a report is bound to the connection version it ran against (protocol + `updated_at`):
//!   changing or replacing the connection makes every earlier pass stale, so
//!   [`require_passed`] refuses until a new test of the current connection passes;
//! - an API start link is single use (taken atomically), stored only as its SHA-256, and
//!   lives [`START_TTL`].

pub mod routes;

use std::time::Duration;

use serde::{Deserialize, Deserializer, Serialize};
use serde_json::Value;
use time::OffsetDateTime;

use crate::apikey::hash_secret;
use crate::error::{Error, Result};
use crate::random;
use crate::store::{encode, get_json, keys, Store};
use crate::{oidc, saml};

/// How long a report can be read (console and API).
pub const REPORT_TTL: Duration = Duration::from_secs(24 * 3600);
/// How long an API start link can be opened.
pub const START_TTL: Duration = Duration::from_secs(600);
/// A test not finished after this long will not finish: the start link and the flow state
/// (ten minutes each) have both run out.
const PENDING_FOR: time::Duration = time::Duration::minutes(20);
/// Tests kept in a tenant's list; the oldest are dropped first.
const MAX_KEPT: usize = 100;
/// Who starts tests through the admin API, as recorded with them.
pub const API_RUNNER: &str = "admin API";

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Protocol {
    /// The default: records written before OIDC tests existed are SAML ones.
    #[default]
    Saml,
    Oidc,
}

impl Protocol {
    pub fn label(self) -> &'static str {
        match self {
            Self::Saml => "SAML",
            Self::Oidc => "OpenID Connect",
        }
    }
}

/// Where a test was started, which decides where the browser ends: the console's report
/// page, or a page that only says passed/failed (the report is read through the API).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Via {
    #[default]
    Console,
    Api,
}

/// Carried by the flow state of a test sign-in.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TestMark {
    /// The report's id.
    pub id: String,
    /// Who runs it: an admin's user id, a setup link's id, or [`API_RUNNER`].
    pub by: String,
    #[serde(default)]
    pub via: Via,
}

/// Reads a flow's test mark, or the admin id alone that SAML flows carried before marks
/// existed (`test_by`), so flows in flight across an upgrade still end on a report.
pub fn mark_or_runner<'de, D: Deserializer<'de>>(d: D) -> Result<Option<TestMark>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Either {
        Mark(TestMark),
        Runner(String),
    }
    Ok(match Option::<Either>::deserialize(d)? {
        Some(Either::Mark(m)) => Some(m),
        Some(Either::Runner(by)) => Some(TestMark {
            id: new_id(),
            by,
            via: Via::Console,
        }),
        None => None,
    })
}

fn new_id() -> String {
    random::token(18)
}

/// Which connection a test ran against, in which version.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ConnectionVersion {
    pub protocol: Protocol,
    pub updated_at: OffsetDateTime,
}

/// The tenant's SSO connection as it is now (a tenant has at most one).
pub async fn current_connection(
    store: &dyn Store,
    tenant_id: &str,
) -> Result<Option<ConnectionVersion>> {
    if let Some(c) = saml::connection::get(store, tenant_id).await? {
        return Ok(Some(ConnectionVersion {
            protocol: Protocol::Saml,
            updated_at: c.updated_at,
        }));
    }
    Ok(oidc::connection::get(store, tenant_id)
        .await?
        .map(|c| ConnectionVersion {
            protocol: Protocol::Oidc,
            updated_at: c.updated_at,
        }))
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Report {
    Saml(saml::diagnose::Report),
    Oidc(oidc::diagnose::Report),
}

impl Report {
    pub fn passed(&self) -> bool {
        match self {
            Self::Saml(r) => r.passed,
            Self::Oidc(r) => r.passed,
        }
    }

    pub fn protocol(&self) -> Protocol {
        match self {
            Self::Saml(_) => Protocol::Saml,
            Self::Oidc(_) => Protocol::Oidc,
        }
    }
}

/// One test sign-in: pending until its flow comes back, then its report.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "Stored", into = "Stored")]
pub struct TestRecord {
    pub id: String,
    pub tenant_id: String,
    /// Who ran it; only admins of the tenant (or the API) may read it.
    pub by_user: String,
    pub via: Via,
    pub protocol: Protocol,
    pub started_at: OffsetDateTime,
    /// When the report was made.
    pub finished_at: Option<OffsetDateTime>,
    /// `None` while the test is pending.
    pub report: Option<Report>,
    /// What a real sign-in would have done with this identity.
    pub outcome: String,
}

/// The stored shape. Field names are those of the SAML-only records before this module,
/// which therefore still read (as SAML, finished at `at`).
#[derive(Serialize, Deserialize)]
struct Stored {
    id: String,
    tenant_id: String,
    by_user: String,
    #[serde(default)]
    via: Via,
    #[serde(default)]
    protocol: Protocol,
    #[serde(default, with = "time::serde::rfc3339::option")]
    started_at: Option<OffsetDateTime>,
    /// Finished at (or started at, while pending).
    #[serde(with = "time::serde::rfc3339")]
    at: OffsetDateTime,
    #[serde(default)]
    report: Option<Value>,
    #[serde(default)]
    outcome: String,
}

impl TryFrom<Stored> for TestRecord {
    type Error = serde_json::Error;

    fn try_from(s: Stored) -> Result<Self, Self::Error> {
        let report = match s.report {
            None | Some(Value::Null) => None,
            Some(v) => Some(match s.protocol {
                Protocol::Saml => Report::Saml(serde_json::from_value(v)?),
                Protocol::Oidc => Report::Oidc(serde_json::from_value(v)?),
            }),
        };
        Ok(Self {
            started_at: s.started_at.unwrap_or(s.at),
            finished_at: report.is_some().then_some(s.at),
            id: s.id,
            tenant_id: s.tenant_id,
            by_user: s.by_user,
            via: s.via,
            protocol: s.protocol,
            report,
            outcome: s.outcome,
        })
    }
}

impl From<TestRecord> for Stored {
    fn from(r: TestRecord) -> Self {
        let report = r.report.and_then(|rep| match rep {
            Report::Saml(x) => serde_json::to_value(x).ok(),
            Report::Oidc(x) => serde_json::to_value(x).ok(),
        });
        Self {
            id: r.id,
            tenant_id: r.tenant_id,
            by_user: r.by_user,
            via: r.via,
            protocol: r.protocol,
            started_at: Some(r.started_at),
            at: r.finished_at.unwrap_or(r.started_at),
            report,
            outcome: r.outcome,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    /// Started; its flow has not come back yet.
    Pending,
    /// Started, and the flow can no longer come back.
    Expired,
    Passed,
    Failed,
}

impl TestRecord {
    pub fn status(&self, now: OffsetDateTime) -> Status {
        match &self.report {
            Some(r) if r.passed() => Status::Passed,
            Some(_) => Status::Failed,
            None if now < self.started_at + PENDING_FOR => Status::Pending,
            None => Status::Expired,
        }
    }
}

/// Proof that a connection, in one version, has completed a test sign-in.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
struct Passed {
    #[serde(with = "time::serde::rfc3339")]
    at: OffsetDateTime,
    /// Markers written before OIDC tests existed are SAML ones.
    #[serde(default)]
    protocol: Protocol,
    #[serde(with = "time::serde::rfc3339")]
    connection_updated_at: OffsetDateTime,
}

fn index_member(at: OffsetDateTime, id: &str) -> String {
    let nanos = u128::try_from(at.unix_timestamp_nanos()).unwrap_or(0);
    format!("{nanos:020}:{id}")
}

async fn put(store: &dyn Store, record: &TestRecord) -> Result<()> {
    store
        .put(
            &keys::sso_test(&record.id),
            &encode(record)?,
            Some(REPORT_TTL),
        )
        .await?;
    Ok(())
}

/// Keeps the tenant's index within [`MAX_KEPT`], dropping the oldest tests.
async fn trim(store: &dyn Store, tenant_id: &str) -> Result<()> {
    let index = keys::tenant_sso_tests(tenant_id);
    let len = store.index_len(&index).await?;
    if len <= MAX_KEPT {
        return Ok(());
    }
    for member in store.index_page(&index, 0, len - MAX_KEPT).await? {
        store.index_remove(&index, &member).await?;
        if let Some((_, id)) = member.split_once(':') {
            store.delete(&keys::sso_test(id)).await?;
        }
    }
    Ok(())
}

/// Records a test as started and returns the mark its flow state must carry.
pub async fn begin(
    store: &dyn Store,
    now: OffsetDateTime,
    tenant_id: &str,
    protocol: Protocol,
    by: &str,
    via: Via,
) -> Result<TestMark> {
    let record = TestRecord {
        id: new_id(),
        tenant_id: tenant_id.to_owned(),
        by_user: by.to_owned(),
        via,
        protocol,
        started_at: now,
        finished_at: None,
        report: None,
        outcome: String::new(),
    };
    put(store, &record).await?;
    store
        .index_add(
            &keys::tenant_sso_tests(tenant_id),
            &index_member(now, &record.id),
        )
        .await?;
    trim(store, tenant_id).await?;
    Ok(TestMark {
        id: record.id,
        by: by.to_owned(),
        via,
    })
}

/// What an API start link names.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StartLink {
    pub test_id: String,
    pub tenant_id: String,
}

/// Starts a test through the admin API: a pending record and a one-time secret for the
/// start URL, which a browser opens to run the flow against the tenant's connection.
pub async fn create_start_link(
    store: &dyn Store,
    now: OffsetDateTime,
    tenant_id: &str,
) -> Result<(TestRecord, String)> {
    let Some(connection) = current_connection(store, tenant_id).await? else {
        return Err(Error::Conflict(
            "this tenant has no SSO connection to test: set up SAML or OpenID Connect first".into(),
        ));
    };
    let mark = begin(
        store,
        now,
        tenant_id,
        connection.protocol,
        API_RUNNER,
        Via::Api,
    )
    .await?;
    let secret = random::token(32);
    let link = StartLink {
        test_id: mark.id.clone(),
        tenant_id: tenant_id.to_owned(),
    };
    store
        .put(
            &keys::sso_test_start(&hash_secret(&secret)),
            &encode(&link)?,
            Some(START_TTL),
        )
        .await?;
    let record = get(store, &mark.id)
        .await?
        .ok_or_else(|| Error::Internal("test record vanished after its creation".into()))?;
    Ok((record, secret))
}

/// Takes (single use) the start link `secret` names; `None` for anything else.
pub async fn take_start_link(store: &dyn Store, secret: &str) -> Result<Option<StartLink>> {
    if secret.is_empty() || secret.len() > 100 {
        return Ok(None);
    }
    let key = keys::sso_test_start(&hash_secret(secret));
    Ok(match store.take(&key).await? {
        Some(bytes) => Some(crate::store::decode(&key, &bytes)?),
        None => None,
    })
}

/// Stores the report of a finished test (under its mark's id) and, when it passed, marks
/// the connection version it ran against as tested.
pub async fn finish(
    store: &dyn Store,
    tenant_id: &str,
    mark: &TestMark,
    connection: ConnectionVersion,
    at: OffsetDateTime,
    report: Report,
    outcome: String,
) -> Result<TestRecord> {
    let started = get(store, &mark.id).await?;
    if started.is_none() {
        // A flow from before marks existed: it gets its record now.
        store
            .index_add(
                &keys::tenant_sso_tests(tenant_id),
                &index_member(at, &mark.id),
            )
            .await?;
    }
    let passed = report.passed();
    let record = TestRecord {
        id: mark.id.clone(),
        tenant_id: tenant_id.to_owned(),
        by_user: mark.by.clone(),
        via: mark.via,
        protocol: report.protocol(),
        started_at: started.map_or(at, |s| s.started_at),
        finished_at: Some(at),
        report: Some(report),
        outcome,
    };
    put(store, &record).await?;
    if passed && connection.protocol == record.protocol {
        let marker = Passed {
            at,
            protocol: connection.protocol,
            connection_updated_at: connection.updated_at,
        };
        store
            .put(&keys::sso_test_passed(tenant_id), &encode(&marker)?, None)
            .await?;
    }
    Ok(record)
}

pub async fn get(store: &dyn Store, id: &str) -> Result<Option<TestRecord>> {
    if id.is_empty() || id.len() > 64 {
        return Ok(None);
    }
    Ok(get_json(store, &keys::sso_test(id)).await?)
}

/// The tenant's tests, newest first, at most `limit`.
pub async fn list(store: &dyn Store, tenant_id: &str, limit: usize) -> Result<Vec<TestRecord>> {
    let index = keys::tenant_sso_tests(tenant_id);
    let len = store.index_len(&index).await?;
    // The newest members are at the end of the (chronological) index.
    let start = len.saturating_sub(MAX_KEPT * 2);
    let members = store.index_page(&index, start, len - start).await?;
    let mut out = Vec::new();
    for member in members.iter().rev() {
        let Some((_, id)) = member.split_once(':') else {
            continue;
        };
        match get(store, id).await? {
            Some(r) if r.tenant_id == tenant_id => out.push(r),
            Some(_) => {}
            // Aged out with its TTL: drop the dangling member.
            None => store.index_remove(&index, member).await?,
        }
        if out.len() == limit {
            break;
        }
    }
    Ok(out)
}

/// When the tenant's connection, as it is now, last passed a test sign-in.
pub async fn passed_at(
    store: &dyn Store,
    tenant_id: &str,
) -> Result<Option<(Protocol, OffsetDateTime)>> {
    let Some(current) = current_connection(store, tenant_id).await? else {
        return Ok(None);
    };
    let passed: Option<Passed> = get_json(store, &keys::sso_test_passed(tenant_id)).await?;
    Ok(passed
        .filter(|p| p.protocol == current.protocol && p.connection_updated_at == current.updated_at)
        .map(|p| (p.protocol, p.at)))
}

/// SSO-only may be switched on only once the tenant's connection (SAML or OIDC, whichever
/// it has), as configured now, has completed a test sign-in — otherwise the switch could
/// lock every person out.
pub async fn require_passed(store: &dyn Store, tenant_id: &str) -> Result<()> {
    let Some(current) = current_connection(store, tenant_id).await? else {
        return Err(Error::Conflict(
            "SSO-only needs a working SSO connection: set up SAML or OpenID Connect first, then run a test sign-in"
                .into(),
        ));
    };
    match passed_at(store, tenant_id).await? {
        Some(_) => Ok(()),
        None => Err(Error::Conflict(format!(
            "run a successful test sign-in of the current SSO connection ({}) before switching SSO-only on",
            current.protocol.label()
        ))),
    }
}

/// Groups in an outcome sentence.
pub fn listed(groups: &[String]) -> String {
    if groups.is_empty() {
        "none".into()
    } else {
        groups.join(", ")
    }
}

/// Whether the tenant's connection may be removed: not while SSO-only is on, since its
/// people could then sign in no way at all (switching SSO-only off always works first).
pub fn check_removable(tenant: &crate::tenant::Tenant) -> Result<()> {
    if tenant.sso_only {
        return Err(Error::Conflict(
            "SSO-only is on: removing the connection would lock everyone out; switch SSO-only off first".into(),
        ));
    }
    Ok(())
}

/// One check as the API shows it, whichever protocol.
#[derive(Debug, Clone, Serialize)]
pub struct CheckView {
    pub kind: String,
    pub label: &'static str,
    /// `pass`, `fail` or `not_checked`.
    pub result: &'static str,
    pub observed: String,
    pub fix: Option<String>,
}

fn result_word(checked: bool, passed: bool) -> &'static str {
    match (checked, passed) {
        (false, _) => "not_checked",
        (true, true) => "pass",
        (true, false) => "fail",
    }
}

fn kind_id<T: Serialize>(kind: &T) -> String {
    serde_json::to_value(kind)
        .ok()
        .and_then(|v| v.as_str().map(str::to_owned))
        .unwrap_or_default()
}

/// A test as the admin API shows it.
#[derive(Debug, Clone, Serialize)]
pub struct TestView {
    pub id: String,
    pub tenant_id: String,
    pub protocol: Protocol,
    pub status: Status,
    pub via: Via,
    pub started_by: String,
    #[serde(with = "time::serde::rfc3339")]
    pub started_at: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339::option")]
    pub finished_at: Option<OffsetDateTime>,
    /// What a real sign-in would do ("would sign in as …" / "would be refused: …").
    pub outcome: Option<String>,
    /// The verdict's precise cause when the answer was refused.
    pub refusal: Option<String>,
    pub checks: Vec<CheckView>,
    /// The IdP's clock minus the gateway's, in seconds.
    pub clock_difference_secs: Option<i64>,
    pub identity: Option<Value>,
    /// Protocol-specific facts: certificates and the readable response (SAML); algorithm,
    /// keys and the redacted ID token claims (OIDC).
    pub details: Option<Value>,
}

impl TestView {
    /// The whole report (`full`), or the summary a list shows.
    pub fn new(r: &TestRecord, now: OffsetDateTime, full: bool) -> Self {
        let mut view = Self {
            id: r.id.clone(),
            tenant_id: r.tenant_id.clone(),
            protocol: r.protocol,
            status: r.status(now),
            via: r.via,
            started_by: r.by_user.clone(),
            started_at: r.started_at,
            finished_at: r.finished_at,
            outcome: r.report.as_ref().map(|_| r.outcome.clone()),
            refusal: None,
            checks: Vec::new(),
            clock_difference_secs: None,
            identity: None,
            details: None,
        };
        let Some(report) = &r.report else {
            return view;
        };
        match report {
            Report::Saml(s) => {
                view.refusal = s.refusal.clone();
                view.clock_difference_secs = s.clock_difference_secs;
                if full {
                    view.checks = s
                        .checks
                        .iter()
                        .map(|c| CheckView {
                            kind: kind_id(&c.kind),
                            label: c.kind.label(),
                            result: result_word(c.checked, c.passed),
                            observed: c.observed.clone(),
                            fix: c.fix.clone(),
                        })
                        .collect();
                    view.identity = s
                        .identity
                        .as_ref()
                        .and_then(|i| serde_json::to_value(i).ok());
                    view.details = Some(serde_json::json!({
                        "signing_certificate": s.signing_certificate,
                        "configured_certificates": s.configured_certificates,
                        "response_xml": s.response_xml,
                    }));
                }
            }
            Report::Oidc(o) => {
                view.refusal = o.refusal.clone();
                view.clock_difference_secs = o.clock_difference_secs;
                if full {
                    view.checks = o
                        .checks
                        .iter()
                        .map(|c| CheckView {
                            kind: kind_id(&c.kind),
                            label: c.kind.label(),
                            result: result_word(c.checked, c.passed),
                            observed: c.observed.clone(),
                            fix: c.fix.clone(),
                        })
                        .collect();
                    view.identity = o
                        .identity
                        .as_ref()
                        .and_then(|i| serde_json::to_value(i).ok());
                    view.details = Some(serde_json::json!({
                        "algorithm": o.algorithm,
                        "key_id": o.key_id,
                        "matched_key": o.matched_key,
                        "jwks_key_ids": o.jwks_key_ids,
                        "claims_verified": o.claims_verified,
                        "claims": o.claims,
                    }));
                }
            }
        }
        view
    }
}

#[cfg(test)]
mod tests;
