//! Proof that a tenant controls a domain: a DNS TXT record the tenant's admin publishes at
//! `_gatehouse-challenge.<domain>` with the value `gatehouse-domain-verification=<token>`.
//!
//! Invariants:
//! - the token is random (160 bits from the OS CSPRNG) and belongs to one pending domain of one
//!   tenant: another tenant's token, an old token or the right token at the wrong name never
//!   proves anything;
//! - DNS answers are untrusted input: at most [`MAX_RECORDS_SHOWN`] values of at most
//!   [`MAX_VALUE_SHOWN`] characters are kept (control characters replaced), and every
//!   lookup is bounded in time;
//! - a lookup that fails (timeout, unreachable, refused) is never read as "no record": it is
//!   its own outcome, and nothing changes.
//!
//! [`check`] runs over the small [`TxtLookup`] trait so its reading of answers is testable
//! without a network; [`DnsResolver`] is the real one (hickory-resolver), built once at start.

use std::fmt::Write as _;
use std::net::SocketAddr;
use std::time::Duration;

use async_trait::async_trait;
use hickory_resolver::config::{ConnectionConfig, NameServerConfig, ResolverConfig, ResolverOpts};
use hickory_resolver::net::runtime::TokioRuntimeProvider;
use hickory_resolver::net::{DnsError, NetError};
use hickory_resolver::proto::op::ResponseCode;
use hickory_resolver::proto::rr::{RData, RecordType};
use hickory_resolver::TokioResolver;
use rand::RngCore;
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use crate::config::DnsConfig;
use crate::error::Error;

/// The label in front of the domain where the record is published.
pub const RECORD_LABEL: &str = "_gatehouse-challenge";
/// What the record's value starts with; the token follows.
pub const VALUE_PREFIX: &str = "gatehouse-domain-verification=";
/// How many of the values found are kept and shown.
pub const MAX_RECORDS_SHOWN: usize = 5;
/// How many characters of one value are kept and shown.
pub const MAX_VALUE_SHOWN: usize = 100;
/// TXT records read from one answer at most (the rest are ignored).
const MAX_RECORDS_READ: usize = 50;

/// A fresh verification token: 20 random bytes, lower-case hex (easy to copy, no look-alike
/// characters, unchanged by DNS provider forms that fold case).
pub fn new_token() -> String {
    let mut buf = [0u8; 20];
    rand::rngs::OsRng.fill_bytes(&mut buf);
    buf.iter().fold(String::with_capacity(40), |mut s, b| {
        let _ = write!(s, "{b:02x}");
        s
    })
}

/// The name the TXT record must be published at.
pub fn record_name(domain: &str) -> String {
    format!("{RECORD_LABEL}.{domain}")
}

/// The value the TXT record must hold.
pub fn record_value(token: &str) -> String {
    format!("{VALUE_PREFIX}{token}")
}

/// What one TXT lookup answered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TxtAnswer {
    /// TXT records, each one value (its character-strings joined, as RFC 7208 reads them).
    Found(Vec<Vec<u8>>),
    /// NXDOMAIN: the name does not exist at all.
    NoSuchName,
    /// The name exists but holds no TXT record.
    NoTxtRecord,
    /// No usable answer: the resolver timed out, could not be reached, or refused.
    Unavailable(String),
}

/// A TXT lookup, by fully qualified name (without the trailing dot).
#[async_trait]
pub trait TxtLookup: Send + Sync {
    async fn txt(&self, name: &str) -> TxtAnswer;
}

/// The result of one check, as stored with the pending domain and shown to the admin.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "result", rename_all = "snake_case")]
pub enum CheckOutcome {
    /// The expected value was found at the expected name.
    Verified,
    /// NXDOMAIN for the record's name.
    NoSuchName {
        /// The expected value was found at the domain itself instead.
        #[serde(default)]
        found_at_domain: bool,
    },
    /// The name exists but has no TXT record.
    NoTxtRecord {
        #[serde(default)]
        found_at_domain: bool,
    },
    /// TXT records exist at the name, none with the expected value.
    WrongValue {
        /// What was found (sanitized, truncated, at most [`MAX_RECORDS_SHOWN`]).
        found: Vec<String>,
        /// How many values there were in all.
        #[serde(default)]
        total: usize,
        #[serde(default)]
        found_at_domain: bool,
    },
    /// The resolver gave no usable answer; nothing can be concluded.
    ResolverUnavailable { reason: String },
    /// The record is right, but another tenant has verified the domain already.
    TakenElsewhere,
}

impl CheckOutcome {
    /// A stable code for the API and the configuration log.
    pub fn code(&self) -> &'static str {
        match self {
            Self::Verified => "verified",
            Self::NoSuchName { .. } => "no_such_name",
            Self::NoTxtRecord { .. } => "no_txt_record",
            Self::WrongValue { .. } => "wrong_value",
            Self::ResolverUnavailable { .. } => "resolver_unavailable",
            Self::TakenElsewhere => "taken_elsewhere",
        }
    }

    pub fn is_verified(&self) -> bool {
        matches!(self, Self::Verified)
    }

    /// A failed check as a domain error: no proof (409 `not_verified`), no answer from the
    /// resolver (503 `dns_unavailable`), or the domain is another tenant's (409 `conflict`).
    pub fn failure(&self, domain: &str) -> Option<Error> {
        let message = self.message(domain);
        match self {
            Self::Verified => None,
            Self::NoSuchName { .. } | Self::NoTxtRecord { .. } | Self::WrongValue { .. } => {
                Some(Error::NotVerified(message))
            }
            Self::ResolverUnavailable { .. } => Some(Error::DnsUnavailable(message)),
            Self::TakenElsewhere => Some(Error::Conflict(message)),
        }
    }

    /// What happened and what to do, in words for the admin.
    pub fn message(&self, domain: &str) -> String {
        let name = record_name(domain);
        let misplaced = |found: bool| {
            if found {
                format!(
                    " The expected value was found at {domain} itself: move the record to {name} (some DNS providers want only \"{RECORD_LABEL}\" as the host name)."
                )
            } else {
                String::new()
            }
        };
        match self {
            Self::Verified => format!("{domain} is verified: the TXT record at {name} holds the expected value."),
            Self::NoSuchName { found_at_domain } => format!(
                "Not verified: the name {name} does not exist in DNS (NXDOMAIN). Publish the TXT record there, then check again; new records can take a few minutes to appear.{}",
                misplaced(*found_at_domain)
            ),
            Self::NoTxtRecord { found_at_domain } => format!(
                "Not verified: {name} exists but has no TXT record. Add the TXT record with the value shown, then check again.{}",
                misplaced(*found_at_domain)
            ),
            Self::WrongValue { found, total, found_at_domain } => {
                let listed = found
                    .iter()
                    .map(|v| format!("\"{v}\""))
                    .collect::<Vec<_>>()
                    .join(", ");
                let more = total.saturating_sub(found.len());
                let more = if more > 0 { format!(" and {more} more") } else { String::new() };
                let ours = found.iter().any(|v| v.starts_with(VALUE_PREFIX));
                let hint = if ours {
                    " A gatehouse-domain-verification value is there, but with another token (an older one, or another organisation's): replace it with the value shown."
                } else {
                    " Add a TXT record with the value shown (other TXT records may stay)."
                };
                format!(
                    "Not verified: the TXT records at {name} do not hold the expected value. Found: {listed}{more}.{hint}{}",
                    misplaced(*found_at_domain)
                )
            }
            Self::ResolverUnavailable { reason } => format!(
                "Could not check: the DNS resolver {reason}. Nothing was changed; try again in a few minutes. If it keeps failing, the gateway's operator should check its DNS settings."
            ),
            Self::TakenElsewhere => format!(
                "The TXT record is right, but {domain} is already verified by another organisation on this gateway, so it stays theirs. Remove it here; if your organisation owns it now, ask the gateway's operator to remove it from the other organisation first."
            ),
        }
    }
}

/// One check of a pending domain: when, and what was found.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DomainCheck {
    #[serde(with = "time::serde::rfc3339")]
    pub at: OffsetDateTime,
    pub outcome: CheckOutcome,
}

/// What a TXT value looks like when shown: lossy UTF-8, control characters replaced,
/// at most [`MAX_VALUE_SHOWN`] characters.
pub fn shown_value(raw: &[u8]) -> String {
    let text = String::from_utf8_lossy(raw);
    let mut out: String = text
        .chars()
        .take(MAX_VALUE_SHOWN)
        .map(|c| if c.is_control() { '\u{fffd}' } else { c })
        .collect();
    if text.chars().count() > MAX_VALUE_SHOWN {
        out.push('…');
    }
    out
}

fn holds(values: &[Vec<u8>], expected: &str) -> bool {
    values.iter().any(|v| v.trim_ascii() == expected.as_bytes())
}

/// Looks for `gatehouse-domain-verification=<token>` at `_gatehouse-challenge.<domain>`.
/// When it is not there, the domain itself is looked at too, to say so if the record was
/// published one level too high (a frequent slip in DNS provider forms).
pub async fn check(lookup: &dyn TxtLookup, domain: &str, token: &str) -> CheckOutcome {
    let expected = record_value(token);
    let outcome = match lookup.txt(&record_name(domain)).await {
        TxtAnswer::Found(values) if holds(&values, &expected) => return CheckOutcome::Verified,
        TxtAnswer::Found(values) => CheckOutcome::WrongValue {
            total: values.len(),
            found: values
                .iter()
                .take(MAX_RECORDS_SHOWN)
                .map(|v| shown_value(v))
                .collect(),
            found_at_domain: false,
        },
        TxtAnswer::NoSuchName => CheckOutcome::NoSuchName {
            found_at_domain: false,
        },
        TxtAnswer::NoTxtRecord => CheckOutcome::NoTxtRecord {
            found_at_domain: false,
        },
        TxtAnswer::Unavailable(reason) => return CheckOutcome::ResolverUnavailable { reason },
    };
    let at_domain = matches!(lookup.txt(domain).await, TxtAnswer::Found(v) if holds(&v, &expected));
    match outcome {
        CheckOutcome::WrongValue { found, total, .. } => CheckOutcome::WrongValue {
            found,
            total,
            found_at_domain: at_domain,
        },
        CheckOutcome::NoSuchName { .. } => CheckOutcome::NoSuchName {
            found_at_domain: at_domain,
        },
        CheckOutcome::NoTxtRecord { .. } => CheckOutcome::NoTxtRecord {
            found_at_domain: at_domain,
        },
        other => other,
    }
}

/// The real resolver: the configured nameservers, or the system's (`/etc/resolv.conf`).
/// Built once at start-up; it keeps no cache, so "Check now" right after publishing a
/// record asks again instead of repeating an earlier "no such name".
pub struct DnsResolver {
    resolver: Result<TokioResolver, String>,
    timeout: Duration,
}

impl DnsResolver {
    pub fn new(config: &DnsConfig) -> Self {
        let resolver = if config.nameservers.is_empty() {
            TokioResolver::builder_tokio()
                .and_then(|mut b| {
                    tune(b.options_mut(), config.timeout);
                    b.build()
                })
                .map_err(|e| format!("the system resolver configuration could not be read: {e}"))
        } else {
            let servers = config.nameservers.iter().map(name_server).collect();
            let mut opts = ResolverOpts::default();
            tune(&mut opts, config.timeout);
            TokioResolver::builder_with_config(
                ResolverConfig::from_name_servers(servers),
                TokioRuntimeProvider::default(),
            )
            .with_options(opts)
            .build()
            .map_err(|e| format!("the resolver could not be built: {e}"))
        };
        if let Err(e) = &resolver {
            tracing::warn!(error = %e, "domain verification: no DNS resolver; checks will report it unavailable");
        }
        Self {
            resolver,
            timeout: config.timeout,
        }
    }
}

/// One attempt per query within the configured timeout, no cache at all.
fn tune(opts: &mut ResolverOpts, timeout: Duration) {
    opts.timeout = timeout;
    opts.attempts = 1;
    opts.cache_size = 0;
    opts.positive_max_ttl = Some(Duration::ZERO);
    opts.negative_max_ttl = Some(Duration::ZERO);
    opts.try_tcp_on_error = true;
}

fn name_server(addr: &SocketAddr) -> NameServerConfig {
    let mut udp = ConnectionConfig::udp();
    udp.port = addr.port();
    let mut tcp = ConnectionConfig::tcp();
    tcp.port = addr.port();
    NameServerConfig::new(addr.ip(), true, vec![udp, tcp])
}

/// Our words for a failed lookup (the admin sees them; details go to the log).
fn unavailable_reason(err: &NetError) -> String {
    match err {
        NetError::Timeout => "did not answer in time".into(),
        NetError::Dns(DnsError::ResponseCode(ResponseCode::Refused)) => "refused the query".into(),
        NetError::Dns(DnsError::ResponseCode(ResponseCode::ServFail)) => {
            "reported a server failure (SERVFAIL)".into()
        }
        NetError::Dns(DnsError::ResponseCode(code)) => format!("answered with an error ({code})"),
        NetError::Io(_) | NetError::NoConnections => "could not be reached".into(),
        _ => "gave no usable answer".into(),
    }
}

#[async_trait]
impl TxtLookup for DnsResolver {
    async fn txt(&self, name: &str) -> TxtAnswer {
        let resolver = match &self.resolver {
            Ok(r) => r,
            Err(e) => {
                tracing::warn!(error = %e, "domain verification without a resolver");
                return TxtAnswer::Unavailable("is not configured on this gateway".into());
            }
        };
        // A fully qualified name: no search domain is ever appended.
        let fqdn = format!("{name}.");
        let lookup = resolver.lookup(fqdn.as_str(), RecordType::TXT);
        // The resolver has its own per-query timeout; this bounds the whole lookup
        // (TCP retry included) whatever happens inside it.
        let answer = match tokio::time::timeout(self.timeout * 3, lookup).await {
            Err(_) => return TxtAnswer::Unavailable("did not answer in time".into()),
            Ok(a) => a,
        };
        match answer {
            Ok(found) => {
                let values: Vec<Vec<u8>> = found
                    .answers()
                    .iter()
                    .filter_map(|r| match &r.data {
                        RData::TXT(txt) => Some(txt.txt_data.concat()),
                        _ => None,
                    })
                    .take(MAX_RECORDS_READ)
                    .collect();
                if values.is_empty() {
                    TxtAnswer::NoTxtRecord
                } else {
                    TxtAnswer::Found(values)
                }
            }
            Err(e) if e.is_nx_domain() => TxtAnswer::NoSuchName,
            Err(e) if e.is_no_records_found() => TxtAnswer::NoTxtRecord,
            Err(e) => {
                tracing::info!(error = %e, name, "domain verification lookup failed");
                TxtAnswer::Unavailable(unavailable_reason(&e))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::*;

    /// Answers from a table; a name not in it is NXDOMAIN.
    struct Table(HashMap<String, TxtAnswer>);

    #[async_trait]
    impl TxtLookup for Table {
        async fn txt(&self, name: &str) -> TxtAnswer {
            self.0.get(name).cloned().unwrap_or(TxtAnswer::NoSuchName)
        }
    }

    fn table(entries: &[(&str, TxtAnswer)]) -> Table {
        Table(
            entries
                .iter()
                .map(|(k, v)| ((*k).to_owned(), v.clone()))
                .collect(),
        )
    }

    fn found(values: &[&str]) -> TxtAnswer {
        TxtAnswer::Found(values.iter().map(|v| v.as_bytes().to_vec()).collect())
    }

    #[test]
    fn record_name_and_value() {
        assert_eq!(record_name("acme.com"), "_gatehouse-challenge.acme.com");
        assert_eq!(record_value("abc"), "gatehouse-domain-verification=abc");
        let t = new_token();
        assert_eq!(t.len(), 40, "160 bits in hex");
        assert!(t
            .chars()
            .all(|c| c.is_ascii_hexdigit() && !c.is_ascii_uppercase()));
        assert_ne!(t, new_token());
    }

    #[tokio::test]
    async fn the_expected_value_at_the_expected_name_verifies() {
        let t = table(&[(
            "_gatehouse-challenge.acme.com",
            found(&["v=spf1 -all", " gatehouse-domain-verification=tok "]),
        )]);
        assert_eq!(check(&t, "acme.com", "tok").await, CheckOutcome::Verified);
    }

    #[tokio::test]
    async fn another_token_is_a_wrong_value_and_is_shown() {
        let t = table(&[(
            "_gatehouse-challenge.acme.com",
            found(&["gatehouse-domain-verification=someone-elses"]),
        )]);
        let out = check(&t, "acme.com", "mine").await;
        assert_eq!(
            out,
            CheckOutcome::WrongValue {
                found: vec!["gatehouse-domain-verification=someone-elses".into()],
                total: 1,
                found_at_domain: false
            }
        );
        let msg = out.message("acme.com");
        assert!(
            msg.contains("someone-elses") && msg.contains("another token"),
            "{msg}"
        );
    }

    #[tokio::test]
    async fn a_prefix_or_a_longer_value_does_not_verify() {
        for v in [
            "gatehouse-domain-verification=to",
            "gatehouse-domain-verification=tokX",
            "xgatehouse-domain-verification=tok",
            "gatehouse-domain-verification=",
        ] {
            let t = table(&[("_gatehouse-challenge.acme.com", found(&[v]))]);
            assert!(
                !check(&t, "acme.com", "tok").await.is_verified(),
                "{v} must not verify"
            );
        }
    }

    #[tokio::test]
    async fn a_record_at_the_domain_itself_does_not_verify_but_is_pointed_out() {
        let t = table(&[
            ("acme.com", found(&["gatehouse-domain-verification=tok"])),
            ("_gatehouse-challenge.acme.com", TxtAnswer::NoSuchName),
        ]);
        let out = check(&t, "acme.com", "tok").await;
        assert_eq!(
            out,
            CheckOutcome::NoSuchName {
                found_at_domain: true
            }
        );
        assert!(out.message("acme.com").contains("move the record"));
    }

    #[tokio::test]
    async fn no_name_no_record_and_an_unavailable_resolver_are_told_apart() {
        let t = table(&[
            ("_gatehouse-challenge.a.com", TxtAnswer::NoTxtRecord),
            (
                "_gatehouse-challenge.b.com",
                TxtAnswer::Unavailable("did not answer in time".into()),
            ),
        ]);
        assert_eq!(
            check(&t, "a.com", "x").await,
            CheckOutcome::NoTxtRecord {
                found_at_domain: false
            }
        );
        let down = check(&t, "b.com", "x").await;
        assert_eq!(down.code(), "resolver_unavailable");
        assert!(down.message("b.com").contains("Nothing was changed"));
        let none = check(&t, "c.com", "x").await;
        assert_eq!(none.code(), "no_such_name");
        assert!(none.message("c.com").contains("NXDOMAIN"));
    }

    #[test]
    fn values_found_are_bounded_and_sanitized() {
        let long = "a".repeat(10_000);
        let shown = shown_value(long.as_bytes());
        assert_eq!(shown.chars().count(), MAX_VALUE_SHOWN + 1);
        assert!(shown.ends_with('…'));
        assert_eq!(shown_value(b"a\x00b\n\xffc"), "a\u{fffd}b\u{fffd}\u{fffd}c");
    }

    #[tokio::test]
    async fn many_values_keep_only_a_few_and_count_the_rest() {
        let many: Vec<String> = (0..20).map(|i| format!("v{i}")).collect();
        let refs: Vec<&str> = many.iter().map(String::as_str).collect();
        let t = table(&[("_gatehouse-challenge.acme.com", found(&refs))]);
        let CheckOutcome::WrongValue { found, total, .. } = check(&t, "acme.com", "x").await else {
            panic!("wrong value expected")
        };
        assert_eq!(found.len(), MAX_RECORDS_SHOWN);
        assert_eq!(total, 20);
    }

    #[test]
    fn outcomes_round_trip_through_json() {
        let o = CheckOutcome::WrongValue {
            found: vec!["x".into()],
            total: 3,
            found_at_domain: true,
        };
        let json = serde_json::to_value(&o).unwrap();
        assert_eq!(json["result"], "wrong_value");
        assert_eq!(serde_json::from_value::<CheckOutcome>(json).unwrap(), o);
    }
}
