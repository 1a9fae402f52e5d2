//! Append-only records kept for a retention period and read newest first: login events
//! ([`login`]), the SCIM provisioning log, and configuration changes ([`changes`]). They
//! answer an admin's "why did this fail?" and "what changed?", so each entry carries the
//! precise cause and a reference id.
//!
//! An entry is a JSON value under its own key (expiring after the retention period) plus a
//! member `{time}:{id}` of a per-tenant ordered index. Zero-padded nanoseconds make the
//! index's lexicographic order chronological, so paging from its end is newest first.

pub mod changes;
pub mod login;

use std::time::Duration;

use serde::de::DeserializeOwned;
use serde::Serialize;
use time::OffsetDateTime;

use crate::store::{encode, get_json, keys, BatchOp, Store, StoreResult};

/// How long entries are kept.
pub const RETENTION: Duration = Duration::from_secs(30 * 24 * 3600);

/// Entries kept per tenant and journal; older ones are dropped from the index first.
const MAX_ENTRIES: usize = 20_000;

/// One append in this many checks the index length: trimming is housekeeping, and skipping
/// the extra round trip on most sign-ins keeps the login path short. The index overshoots
/// `MAX_ENTRIES` by a few dozen at most before it is trimmed back.
const TRIM_EVERY: u32 = 64;

/// Entries read from the index per round trip while filtering.
const SCAN_CHUNK: usize = 200;

/// Upper bound on index members examined by one query, so a filter that matches nothing
/// costs a bounded amount of work.
const MAX_SCANNED: usize = 5_000;

/// Which journal an entry belongs to; part of its keys.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Journal {
    Login,
    Provisioning,
    /// Configuration changes ([`changes`]).
    Changes,
}

impl Journal {
    fn name(self) -> &'static str {
        match self {
            Journal::Login => "login",
            Journal::Provisioning => "provisioning",
            Journal::Changes => "changes",
        }
    }
}

fn index_member(at: OffsetDateTime, id: &str) -> String {
    // Nanoseconds since 1970 fit in 20 digits until the year 5138.
    let nanos = u128::try_from(at.unix_timestamp_nanos()).unwrap_or(0);
    format!("{nanos:020}:{id}")
}

fn member_time(member: &str) -> Option<i128> {
    member.split_once(':')?.0.parse().ok()
}

fn member_id(member: &str) -> &str {
    member.split_once(':').map_or(member, |(_, id)| id)
}

/// Appends an entry. `scope` is the tenant id, or `-` for events no tenant can be named for.
pub async fn append<T: Serialize>(
    store: &dyn Store,
    journal: Journal,
    scope: &str,
    id: &str,
    at: OffsetDateTime,
    entry: &T,
) -> StoreResult<()> {
    let name = journal.name();
    let index = keys::journal(name, scope);
    // Entry and index member in one atomic round trip.
    store
        .batch(&[
            BatchOp::Put {
                key: keys::journal_entry(name, scope, id),
                value: encode(entry)?,
                ttl: Some(RETENTION),
            },
            BatchOp::IndexAdd {
                index: index.clone(),
                member: index_member(at, id),
            },
        ])
        .await?;
    if rand::random::<u32>() % TRIM_EVERY != 0 {
        return Ok(());
    }
    let len = store.index_len(&index).await?;
    if len > MAX_ENTRIES {
        for old in store.index_page(&index, 0, len - MAX_ENTRIES).await? {
            store.index_remove(&index, &old).await?;
            store
                .delete(&keys::journal_entry(name, scope, member_id(&old)))
                .await?;
        }
    }
    Ok(())
}

/// A time window and a page size for [`newest_first`].
#[derive(Debug, Clone, Copy)]
pub struct Window {
    pub since: Option<OffsetDateTime>,
    pub until: Option<OffsetDateTime>,
    pub limit: usize,
}

impl Window {
    /// Entries shown by one API call when the caller names no `limit`, and at most.
    pub const API_DEFAULT: usize = 100;
    pub const API_MAX: usize = 500;

    /// An admin API query's window: `limit` defaults to 100 and is held to 1 … 500.
    pub fn page(
        since: Option<OffsetDateTime>,
        until: Option<OffsetDateTime>,
        limit: Option<usize>,
    ) -> Self {
        Self {
            since,
            until,
            limit: limit.unwrap_or(Self::API_DEFAULT).clamp(1, Self::API_MAX),
        }
    }
}

/// Entries inside `window` for which `keep` holds, newest first, at most `window.limit`.
pub async fn newest_first<T: DeserializeOwned>(
    store: &dyn Store,
    journal: Journal,
    scope: &str,
    window: Window,
    keep: impl Fn(&T) -> bool,
) -> StoreResult<Vec<T>> {
    let name = journal.name();
    let index = keys::journal(name, scope);
    let since = window.since.map(OffsetDateTime::unix_timestamp_nanos);
    let until = window.until.map(OffsetDateTime::unix_timestamp_nanos);
    let mut end = store.index_len(&index).await?;
    let mut scanned = 0;
    let mut out = Vec::new();
    while end > 0 && out.len() < window.limit && scanned < MAX_SCANNED {
        let start = end.saturating_sub(SCAN_CHUNK);
        let members = store.index_page(&index, start, end - start).await?;
        scanned += members.len();
        for member in members.iter().rev() {
            let Some(t) = member_time(member) else {
                continue;
            };
            if until.is_some_and(|u| t > u) {
                continue;
            }
            if since.is_some_and(|s| t < s) {
                return Ok(out);
            }
            let key = keys::journal_entry(name, scope, member_id(member));
            match get_json::<T>(store, &key).await? {
                Some(entry) if keep(&entry) => {
                    out.push(entry);
                    if out.len() == window.limit {
                        return Ok(out);
                    }
                }
                Some(_) => {}
                // Expired with its retention period: drop the dangling member.
                None => store.index_remove(&index, member).await?,
            }
        }
        end = start;
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn members_sort_chronologically() {
        let a = OffsetDateTime::from_unix_timestamp(9).unwrap();
        let b = OffsetDateTime::from_unix_timestamp(10).unwrap();
        assert!(index_member(a, "z") < index_member(b, "a"));
        assert_eq!(member_id(&index_member(b, "ev_1")), "ev_1");
        assert_eq!(member_time(&index_member(b, "x")), Some(10_000_000_000));
    }
}
