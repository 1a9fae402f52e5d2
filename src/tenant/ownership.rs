//! A tenant's domains over their life: added (pending, or verified at once on an operator's
//! word), proven by the DNS TXT check, made primary, removed. Each step records one entry in
//! the configuration log (failed checks as "not applied").
//!
//! Invariants:
//! - a pending domain is never claimed, so adding one takes nothing from anybody;
//! - a domain becomes verified only through the atomic claim (`repo::claim_domain`): a domain
//!   another tenant verified first stays theirs, whatever the DNS says;
//! - only callers that hold an operator's authority call [`add_verified`] (the console checks
//!   the operator role, the admin API its operator token); tenant admins go through
//!   [`add_pending`] and [`check`].

use std::time::Duration;

use serde::Serialize;
use time::OffsetDateTime;

use super::domain::normalize_domain;
use super::repo::{self, claim_domain, release_domain, TenantUpdate};
use super::verification::{self, CheckOutcome, DomainCheck, TxtLookup};
use super::{DomainVerification, PendingDomain, Tenant, VerificationMethod};
use crate::audit::changes::{self, Area, ChangeEvent, ChangedBy};
use crate::clock::Clock;
use crate::error::{Error, Result};
use crate::store::{encode, keys, Store};

/// Domains that may wait for their proof at once, per tenant.
pub const MAX_PENDING: usize = 20;
/// Verified domains a tenant may reach through these functions.
pub const MAX_VERIFIED: usize = 100;
/// DNS checks one tenant may run per [`CHECK_WINDOW`] (each asks the resolver at most
/// twice), so "Check now" cannot be turned into a stream of queries.
pub const MAX_CHECKS: u64 = 30;
pub const CHECK_WINDOW: Duration = Duration::from_secs(600);

fn parse(input: &str) -> Result<String> {
    normalize_domain(input).map_err(|e| Error::invalid("domain", e.to_string()))
}

fn taken_elsewhere(domain: &str) -> Error {
    Error::Conflict(format!(
        "{domain} is already verified by another organisation on this gateway and stays theirs; if your organisation owns it now, ask the gateway's operator to remove it from the other organisation first"
    ))
}

async fn save(store: &dyn Store, tenant: &Tenant) -> Result<()> {
    store
        .put(&keys::tenant(&tenant.id), &encode(tenant)?, None)
        .await?;
    Ok(())
}

fn event(at: OffsetDateTime, tenant: &Tenant, by: &ChangedBy, summary: String) -> ChangeEvent {
    ChangeEvent::new(at, &tenant.id, by.clone(), Area::Domains, summary)
}

/// Moves `domain` (claimed for the tenant by the caller) from the pending ones, if it is
/// there, to the verified ones, noting how, when and by whom it was verified.
fn mark_verified(
    tenant: &mut Tenant,
    domain: &str,
    method: VerificationMethod,
    at: OffsetDateTime,
    by: &ChangedBy,
) {
    tenant.pending_domains.retain(|p| p.domain != domain);
    tenant.secondary_domains.push(domain.to_owned());
    tenant.domain_verifications.insert(
        domain.to_owned(),
        DomainVerification {
            method,
            at,
            by: by.clone(),
        },
    );
}

/// What adding a domain did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Added {
    /// Now pending, with this token to publish.
    Pending(PendingDomain),
    /// It was pending already: nothing changed (same token).
    AlreadyPending(PendingDomain),
    /// Now verified (an operator vouched for it).
    Verified,
    /// It was verified already: nothing changed.
    AlreadyVerified,
}

/// Adds `input` as a pending domain: not claimed, not routed, waiting for its DNS proof.
pub async fn add_pending(
    store: &dyn Store,
    clock: &dyn Clock,
    tenant_id: &str,
    input: &str,
    by: &ChangedBy,
) -> Result<(Tenant, Added)> {
    let domain = parse(input)?;
    let mut tenant = repo::require(store, tenant_id).await?;
    if tenant.owns_domain(&domain) {
        return Ok((tenant, Added::AlreadyVerified));
    }
    if repo::by_domain(store, &domain)
        .await?
        .is_some_and(|owner| owner.id != tenant.id)
    {
        return Err(taken_elsewhere(&domain));
    }
    if let Some(p) = tenant.pending(&domain) {
        let p = p.clone();
        return Ok((tenant, Added::AlreadyPending(p)));
    }
    if tenant.pending_domains.len() >= MAX_PENDING {
        return Err(Error::invalid(
            "domain",
            format!(
                "at most {MAX_PENDING} domains can wait for their proof at once; remove one first"
            ),
        ));
    }
    let now = clock.now();
    let pending = PendingDomain {
        domain: domain.clone(),
        token: verification::new_token(),
        added_by: by.clone(),
        added_at: now,
        last_check: None,
    };
    tenant.pending_domains.push(pending.clone());
    tenant.updated_at = now;
    save(store, &tenant).await?;
    changes::record(
        store,
        &event(
            now,
            &tenant,
            by,
            format!("domain {domain} added, waiting for its DNS TXT proof"),
        )
        .detail(format!(
            "TXT record to publish at {}",
            verification::record_name(&domain)
        )),
    )
    .await;
    Ok((tenant, Added::Pending(pending)))
}

/// Adds `input` as a verified domain without proof, on an operator's word. A pending entry
/// for it is dropped. The claim is atomic: a domain of another tenant is refused.
pub async fn add_verified(
    store: &dyn Store,
    clock: &dyn Clock,
    tenant_id: &str,
    input: &str,
    by: &ChangedBy,
) -> Result<(Tenant, Added)> {
    let domain = parse(input)?;
    let mut tenant = repo::require(store, tenant_id).await?;
    if tenant.owns_domain(&domain) {
        return Ok((tenant, Added::AlreadyVerified));
    }
    if tenant.domains().count() >= MAX_VERIFIED {
        return Err(Error::invalid(
            "domain",
            format!("a tenant can have at most {MAX_VERIFIED} verified domains"),
        ));
    }
    claim_domain(store, &domain, &tenant.id).await?;
    let was_pending = tenant.pending(&domain).is_some();
    let now = clock.now();
    mark_verified(&mut tenant, &domain, VerificationMethod::Operator, now, by);
    tenant.updated_at = now;
    if let Err(e) = save(store, &tenant).await {
        release_domain(store, &domain, &tenant.id).await?;
        return Err(e);
    }
    let mut entry = event(
        now,
        &tenant,
        by,
        format!("domain {domain} added as verified on an operator's word (no DNS proof)"),
    );
    if was_pending {
        entry = entry.detail("it was waiting for its DNS TXT proof");
    }
    changes::record(store, &entry).await;
    Ok((tenant, Added::Verified))
}

/// "Check now": looks up the pending domain's TXT record and, when it holds the expected
/// value, claims the domain and moves it to the verified ones. Every outcome is stored with
/// the pending domain (shown on the page) and recorded in the configuration log; a failure
/// changes nothing else.
pub async fn check(
    store: &dyn Store,
    clock: &dyn Clock,
    lookup: &dyn TxtLookup,
    tenant_id: &str,
    input: &str,
    by: &ChangedBy,
) -> Result<(Tenant, DomainCheck)> {
    let domain = parse(input)?;
    let tenant = repo::require(store, tenant_id).await?;
    if tenant.owns_domain(&domain) {
        let check = DomainCheck {
            at: clock.now(),
            outcome: CheckOutcome::Verified,
        };
        return Ok((tenant, check));
    }
    let pending = tenant
        .pending(&domain)
        .cloned()
        .ok_or(Error::NotFound("pending domain"))?;
    let checks = store
        .incr(&keys::rate("domain_check", &tenant.id), CHECK_WINDOW)
        .await?;
    if checks > MAX_CHECKS {
        return Err(Error::RateLimited {
            retry_after: CHECK_WINDOW,
        });
    }
    let owner = repo::by_domain(store, &domain).await?;
    let mut outcome = if owner.is_some_and(|o| o.id != tenant.id) {
        CheckOutcome::TakenElsewhere
    } else {
        verification::check(lookup, &domain, &pending.token).await
    };
    let mut claimed = false;
    if outcome.is_verified() {
        match claim_domain(store, &domain, &tenant.id).await {
            Ok(()) => claimed = true,
            Err(Error::Conflict(_)) => outcome = CheckOutcome::TakenElsewhere,
            Err(e) => return Err(e),
        }
    }
    // The lookup may have taken seconds: apply the result to the record as it is now.
    let mut tenant = repo::require(store, tenant_id).await?;
    if tenant.pending(&domain).is_none() {
        if claimed && !tenant.owns_domain(&domain) {
            release_domain(store, &domain, &tenant.id).await?;
        }
        return Err(Error::NotFound("pending domain"));
    }
    let now = clock.now();
    let check = DomainCheck {
        at: now,
        outcome: outcome.clone(),
    };
    let name = verification::record_name(&domain);
    let entry = if claimed {
        mark_verified(&mut tenant, &domain, VerificationMethod::DnsTxt, now, by);
        event(
            now,
            &tenant,
            by,
            format!("domain {domain} verified by its DNS TXT record"),
        )
        .detail(format!("found the expected value at {name}"))
    } else {
        if let Some(p) = tenant
            .pending_domains
            .iter_mut()
            .find(|p| p.domain == domain)
        {
            p.last_check = Some(check.clone());
        }
        event(
            now,
            &tenant,
            by,
            format!(
                "domain {domain} not verified: {}",
                outcome.code().replace('_', " ")
            ),
        )
        .detail(outcome.message(&domain))
        .not_applied()
    };
    tenant.updated_at = now;
    if let Err(e) = save(store, &tenant).await {
        if claimed {
            release_domain(store, &domain, &tenant.id).await?;
        }
        return Err(e);
    }
    changes::record(store, &entry).await;
    Ok((tenant, check))
}

/// What removing a domain removed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Removed {
    Verified,
    Pending,
}

/// Removes a secondary (verified) or pending domain. The primary domain stays: another
/// verified domain must be made primary first.
pub async fn remove(
    store: &dyn Store,
    clock: &dyn Clock,
    tenant_id: &str,
    input: &str,
    by: &ChangedBy,
) -> Result<Removed> {
    let domain = parse(input)?;
    let mut tenant = repo::require(store, tenant_id).await?;
    let now = clock.now();
    if tenant.primary_domain == domain {
        return Err(Error::Conflict(format!(
            "{domain} is the primary domain and cannot be removed; make another verified domain primary first"
        )));
    }
    let removed = if tenant.secondary_domains.contains(&domain) {
        tenant.secondary_domains.retain(|d| *d != domain);
        tenant.domain_verifications.remove(&domain);
        Removed::Verified
    } else if tenant.pending(&domain).is_some() {
        tenant.pending_domains.retain(|p| p.domain != domain);
        Removed::Pending
    } else {
        return Err(Error::NotFound("domain"));
    };
    tenant.updated_at = now;
    save(store, &tenant).await?;
    let entry = match removed {
        Removed::Verified => {
            release_domain(store, &domain, &tenant.id).await?;
            event(now, &tenant, by, format!("domain {domain} removed")).detail(
                "it no longer routes to this organisation's SSO; people with addresses there are kept",
            )
        }
        Removed::Pending => event(
            now,
            &tenant,
            by,
            format!("pending domain {domain} removed (it was never verified)"),
        ),
    };
    changes::record(store, &entry).await;
    Ok(removed)
}

/// Makes a verified secondary domain the primary one (the old primary becomes secondary).
/// The SP Entity ID and ACS URL are built from the primary domain, so they change too.
pub async fn make_primary(
    store: &dyn Store,
    clock: &dyn Clock,
    tenant_id: &str,
    input: &str,
    by: &ChangedBy,
) -> Result<Tenant> {
    let domain = parse(input)?;
    let tenant = repo::require(store, tenant_id).await?;
    if tenant.primary_domain == domain {
        return Ok(tenant);
    }
    if !tenant.secondary_domains.contains(&domain) {
        return Err(match tenant.pending(&domain) {
            Some(_) => Error::Conflict(format!(
                "{domain} is not verified yet; verify it before making it primary"
            )),
            None => Error::NotFound("domain"),
        });
    }
    let secondary = std::iter::once(tenant.primary_domain.clone())
        .chain(
            tenant
                .secondary_domains
                .iter()
                .filter(|d| **d != domain)
                .cloned(),
        )
        .collect();
    // `repo::update` records the change ("primary domain: a → b") in the log.
    repo::update(
        store,
        clock,
        tenant_id,
        TenantUpdate {
            primary_domain: Some(domain),
            secondary_domains: Some(secondary),
            ..TenantUpdate::default()
        },
        by,
    )
    .await
}

/// A tenant's domains as the API and the console show them.
#[derive(Debug, Clone, Serialize)]
pub struct DomainsView {
    pub primary_domain: String,
    pub verified: Vec<VerifiedView>,
    pub pending: Vec<PendingView>,
}

#[derive(Debug, Clone, Serialize)]
pub struct VerifiedView {
    pub domain: String,
    pub primary: bool,
    /// `dns_txt` or `operator`; records without this information read as `operator`.
    pub method: VerificationMethod,
    #[serde(with = "time::serde::rfc3339::option")]
    pub verified_at: Option<OffsetDateTime>,
    pub verified_by: Option<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct TxtRecord {
    #[serde(rename = "type")]
    pub kind: &'static str,
    pub name: String,
    pub value: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct CheckView {
    #[serde(with = "time::serde::rfc3339")]
    pub at: OffsetDateTime,
    pub result: &'static str,
    pub message: String,
    /// The TXT values found, when they were wrong (sanitized, truncated).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub found: Vec<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct PendingView {
    pub domain: String,
    pub record: TxtRecord,
    #[serde(with = "time::serde::rfc3339")]
    pub added_at: OffsetDateTime,
    pub added_by: String,
    pub last_check: Option<CheckView>,
}

pub fn check_view(domain: &str, check: &DomainCheck) -> CheckView {
    CheckView {
        at: check.at,
        result: check.outcome.code(),
        message: check.outcome.message(domain),
        found: match &check.outcome {
            CheckOutcome::WrongValue { found, .. } => found.clone(),
            _ => Vec::new(),
        },
    }
}

pub fn view(tenant: &Tenant) -> DomainsView {
    let verified = tenant
        .domains()
        .map(|d| {
            let v = tenant.domain_verifications.get(d);
            VerifiedView {
                domain: d.to_owned(),
                primary: d == tenant.primary_domain,
                method: v.map_or(VerificationMethod::Operator, |v| v.method),
                verified_at: v.map(|v| v.at),
                verified_by: v.map(|v| v.by.describe()),
            }
        })
        .collect();
    let pending = tenant
        .pending_domains
        .iter()
        .map(|p| PendingView {
            domain: p.domain.clone(),
            record: TxtRecord {
                kind: "TXT",
                name: verification::record_name(&p.domain),
                value: verification::record_value(&p.token),
            },
            added_at: p.added_at,
            added_by: p.added_by.describe(),
            last_check: p.last_check.as_ref().map(|c| check_view(&p.domain, c)),
        })
        .collect();
    DomainsView {
        primary_domain: tenant.primary_domain.clone(),
        verified,
        pending,
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;
    use std::sync::Arc;

    use async_trait::async_trait;

    use super::*;
    use crate::audit::Window;
    use crate::clock::{SharedClock, SystemClock};
    use crate::store::embedded::EmbeddedStore;
    use crate::tenant::repo::NewTenant;
    use crate::tenant::verification::TxtAnswer;

    /// TXT answers from a table; any other name is NXDOMAIN.
    struct Dns(HashMap<String, TxtAnswer>);

    #[async_trait]
    impl TxtLookup for Dns {
        async fn txt(&self, name: &str) -> TxtAnswer {
            self.0.get(name).cloned().unwrap_or(TxtAnswer::NoSuchName)
        }
    }

    fn dns(entries: &[(String, TxtAnswer)]) -> Dns {
        Dns(entries.iter().cloned().collect())
    }

    fn published(domain: &str, token: &str) -> (String, TxtAnswer) {
        (
            verification::record_name(domain),
            TxtAnswer::Found(vec![verification::record_value(token).into_bytes()]),
        )
    }

    struct Fixture {
        store: EmbeddedStore,
        _dir: tempfile::TempDir,
    }

    fn fixture() -> Fixture {
        let dir = tempfile::tempdir().unwrap();
        let clock: SharedClock = Arc::new(SystemClock);
        let store = EmbeddedStore::open(&dir.path().join("s.redb"), clock).unwrap();
        Fixture { store, _dir: dir }
    }

    async fn tenant(store: &dyn Store, domain: &str) -> Tenant {
        repo::create(
            store,
            &SystemClock,
            NewTenant {
                name: format!("T {domain}"),
                primary_domain: domain.into(),
                secondary_domains: vec![],
                sso_only: false,
            },
        )
        .await
        .unwrap()
    }

    fn admin() -> ChangedBy {
        ChangedBy::Person {
            user_id: "us_1".into(),
            email: "it@a.test".into(),
        }
    }

    async fn log(store: &dyn Store, tenant_id: &str) -> Vec<ChangeEvent> {
        let window = Window {
            since: None,
            until: None,
            limit: 100,
        };
        changes::list(store, tenant_id, window, Some(Area::Domains))
            .await
            .unwrap()
    }

    #[tokio::test]
    async fn a_pending_domain_is_not_claimed_until_its_record_is_found() {
        let f = fixture();
        let store: &dyn Store = &f.store;
        let a = tenant(store, "a.test").await;
        let (t, added) = add_pending(store, &SystemClock, &a.id, "New.A.test.", &admin())
            .await
            .unwrap();
        let Added::Pending(p) = added else {
            panic!("pending expected")
        };
        assert_eq!(p.domain, "new.a.test");
        assert!(!t.owns_domain("new.a.test"));
        assert!(
            repo::by_domain(store, "new.a.test")
                .await
                .unwrap()
                .is_none(),
            "not claimed"
        );

        // Adding it again keeps the token.
        let (_, again) = add_pending(store, &SystemClock, &a.id, "new.a.test", &admin())
            .await
            .unwrap();
        assert_eq!(again, Added::AlreadyPending(p.clone()));

        // No record: still pending, the result is kept, a not-applied entry is logged.
        let (t, c) = check(
            store,
            &SystemClock,
            &dns(&[]),
            &a.id,
            "new.a.test",
            &admin(),
        )
        .await
        .unwrap();
        assert_eq!(c.outcome.code(), "no_such_name");
        assert!(!t.owns_domain("new.a.test"));
        assert_eq!(t.pending("new.a.test").unwrap().last_check, Some(c));

        // The record: verified, claimed, moved, and how is recorded.
        let lookup = dns(&[published("new.a.test", &p.token)]);
        let (t, c) = check(store, &SystemClock, &lookup, &a.id, "new.a.test", &admin())
            .await
            .unwrap();
        assert!(c.outcome.is_verified());
        assert!(t.owns_domain("new.a.test") && t.pending("new.a.test").is_none());
        assert_eq!(
            t.domain_verifications["new.a.test"].method,
            VerificationMethod::DnsTxt
        );
        assert_eq!(
            repo::by_domain(store, "new.a.test")
                .await
                .unwrap()
                .unwrap()
                .id,
            a.id
        );
        let entries = log(store, &a.id).await;
        let summaries: Vec<(&str, bool)> = entries
            .iter()
            .map(|e| (e.summary.as_str(), e.applied))
            .collect();
        assert_eq!(
            summaries,
            [
                ("domain new.a.test verified by its DNS TXT record", true),
                ("domain new.a.test not verified: no such name", false),
                (
                    "domain new.a.test added, waiting for its DNS TXT proof",
                    true
                ),
            ],
            "one entry per step, none twice"
        );
    }

    #[tokio::test]
    async fn another_tenants_token_or_domain_proves_nothing() {
        let f = fixture();
        let store: &dyn Store = &f.store;
        let a = tenant(store, "a.test").await;
        let b = tenant(store, "b.test").await;
        let (_, Added::Pending(pa)) =
            add_pending(store, &SystemClock, &a.id, "shared.test", &admin())
                .await
                .unwrap()
        else {
            panic!()
        };
        let (_, Added::Pending(pb)) =
            add_pending(store, &SystemClock, &b.id, "shared.test", &admin())
                .await
                .unwrap()
        else {
            panic!()
        };
        assert_ne!(pa.token, pb.token, "a token per tenant and domain");
        // A's record does not verify B.
        let lookup = dns(&[published("shared.test", &pa.token)]);
        let (t, c) = check(store, &SystemClock, &lookup, &b.id, "shared.test", &admin())
            .await
            .unwrap();
        assert_eq!(c.outcome.code(), "wrong_value");
        assert!(!t.owns_domain("shared.test"));
        // A verifies; B's later check, even with B's own record, is refused: it stays A's.
        check(store, &SystemClock, &lookup, &a.id, "shared.test", &admin())
            .await
            .unwrap();
        let lookup = dns(&[published("shared.test", &pb.token)]);
        let (t, c) = check(store, &SystemClock, &lookup, &b.id, "shared.test", &admin())
            .await
            .unwrap();
        assert_eq!(c.outcome, CheckOutcome::TakenElsewhere);
        assert!(!t.owns_domain("shared.test"));
        assert_eq!(
            repo::by_domain(store, "shared.test")
                .await
                .unwrap()
                .unwrap()
                .id,
            a.id
        );
        // Adding a domain another tenant verified is refused with a conflict.
        let err = add_pending(store, &SystemClock, &b.id, "a.test", &admin())
            .await
            .unwrap_err();
        assert!(matches!(err, Error::Conflict(m) if m.contains("another organisation")));
    }

    #[tokio::test]
    async fn an_unavailable_resolver_changes_nothing_but_the_last_check() {
        let f = fixture();
        let store: &dyn Store = &f.store;
        let a = tenant(store, "a.test").await;
        add_pending(store, &SystemClock, &a.id, "x.test", &admin())
            .await
            .unwrap();
        let lookup = dns(&[(
            verification::record_name("x.test"),
            TxtAnswer::Unavailable("did not answer in time".into()),
        )]);
        let (t, c) = check(store, &SystemClock, &lookup, &a.id, "x.test", &admin())
            .await
            .unwrap();
        assert_eq!(c.outcome.code(), "resolver_unavailable");
        assert!(matches!(
            c.outcome.failure("x.test"),
            Some(Error::DnsUnavailable(_))
        ));
        assert!(t.pending("x.test").is_some() && !t.owns_domain("x.test"));
    }

    #[tokio::test]
    async fn operators_vouch_removal_and_primary() {
        let f = fixture();
        let store: &dyn Store = &f.store;
        let a = tenant(store, "a.test").await;
        add_pending(store, &SystemClock, &a.id, "p.test", &admin())
            .await
            .unwrap();
        let (t, added) = add_verified(store, &SystemClock, &a.id, "p.test", &ChangedBy::AdminApi)
            .await
            .unwrap();
        assert_eq!(added, Added::Verified);
        assert!(t.owns_domain("p.test") && t.pending_domains.is_empty());
        let v = view(&t);
        assert_eq!(v.verified[1].method, VerificationMethod::Operator);
        assert_eq!(
            v.verified[0].method,
            VerificationMethod::Operator,
            "no record reads as operator"
        );
        assert!(v.verified[0].verified_at.is_none());

        // The primary stays; a secondary goes and frees its claim.
        assert!(matches!(
            remove(store, &SystemClock, &a.id, "a.test", &admin()).await,
            Err(Error::Conflict(m)) if m.contains("make another verified domain primary first")
        ));
        let t = make_primary(store, &SystemClock, &a.id, "p.test", &admin())
            .await
            .unwrap();
        assert_eq!(t.primary_domain, "p.test");
        assert_eq!(t.secondary_domains, ["a.test"]);
        assert_eq!(
            remove(store, &SystemClock, &a.id, "a.test", &admin())
                .await
                .unwrap(),
            Removed::Verified
        );
        assert!(repo::by_domain(store, "a.test").await.unwrap().is_none());
        add_pending(store, &SystemClock, &a.id, "q.test", &admin())
            .await
            .unwrap();
        assert_eq!(
            remove(store, &SystemClock, &a.id, "q.test", &admin())
                .await
                .unwrap(),
            Removed::Pending
        );
        assert!(matches!(
            remove(store, &SystemClock, &a.id, "q.test", &admin()).await,
            Err(Error::NotFound(_))
        ));
        // Each step logged once: make_primary through repo::update only.
        let summaries: Vec<String> = log(store, &a.id)
            .await
            .into_iter()
            .map(|e| e.summary)
            .collect();
        assert_eq!(
            summaries.iter().filter(|s| *s == "domains changed").count(),
            1,
            "{summaries:?}"
        );
        assert_eq!(summaries.len(), 6, "{summaries:?}");
    }

    #[tokio::test]
    async fn checks_are_rate_limited_per_tenant() {
        let f = fixture();
        let store: &dyn Store = &f.store;
        let a = tenant(store, "a.test").await;
        add_pending(store, &SystemClock, &a.id, "x.test", &admin())
            .await
            .unwrap();
        for _ in 0..MAX_CHECKS {
            check(store, &SystemClock, &dns(&[]), &a.id, "x.test", &admin())
                .await
                .unwrap();
        }
        assert!(matches!(
            check(store, &SystemClock, &dns(&[]), &a.id, "x.test", &admin()).await,
            Err(Error::RateLimited { .. })
        ));
    }

    #[tokio::test]
    async fn old_records_without_the_new_fields_load() {
        let json = serde_json::json!({
            "id": "tn_x", "name": "Old", "primary_domain": "old.test",
            "secondary_domains": ["o2.test"], "sso_only": false,
            "created_at": "2026-01-01T00:00:00Z", "updated_at": "2026-01-01T00:00:00Z"
        });
        let t: Tenant = serde_json::from_value(json).unwrap();
        assert!(t.pending_domains.is_empty() && t.domain_verifications.is_empty());
        assert_eq!(view(&t).verified.len(), 2);
    }
}
