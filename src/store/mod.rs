//! Persistence behind one small trait, with two backends chosen once at start-up:
//! [`embedded::EmbeddedStore`] (a redb file, the default) and [`redis::RedisStore`].
//!
//! The trait is deliberately a handful of primitives (values with TTLs, atomic
//! claim/take, ordered indexes, counters, events) so both backends can give the same
//! guarantees and one conformance suite can hold them to it. Typed repositories
//! (tenants, users, sessions) are built on top; they never format keys themselves —
//! [`keys`] does.
//!
//! Invariants every backend keeps:
//! - `put_if_absent` and `take` are atomic: two racing callers never both win.
//! - a value whose TTL has passed is never returned.
//! - `index_page` returns members in a stable (lexicographic) order.

use std::sync::{Arc, PoisonError, RwLock};
use std::time::Duration;

use async_trait::async_trait;
use serde::{Deserialize, Serialize};
use tokio::sync::{broadcast, watch};

pub mod embedded;
pub mod keys;
pub mod redis;

pub type StoreResult<T> = Result<T, StoreError>;

#[derive(Debug, Clone, thiserror::Error)]
pub enum StoreError {
    /// The backend could not be reached or did not answer in time.
    #[error("store unavailable: {0}")]
    Unavailable(String),
    /// A stored value could not be decoded.
    #[error("stored data is corrupt: {0}")]
    Corrupt(String),
}

/// Something every gateway instance must learn at once.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "event", rename_all = "snake_case")]
pub enum Event {
    /// The session's record was deleted: stop honouring its tokens.
    SessionRevoked { sid: String },
    /// A signing key was added or retired.
    SigningKeysChanged,
}

/// A feed of [`Event`]s plus whether the feed is known to be complete.
///
/// While `healthy` is false, events may have been missed, so nothing learned from the
/// store earlier (cached sessions) may be trusted.
pub struct Subscription {
    pub events: broadcast::Receiver<Event>,
    pub healthy: watch::Receiver<bool>,
}

/// Code run inside `publish` on the publishing instance, before it returns.
pub type LocalHook = Arc<dyn Fn(&Event) + Send + Sync>;

/// The hooks of one store. Events reach every instance through the subscription, which is
/// asynchronous; the hooks give the publishing instance read-your-writes: once a revocation
/// call has returned, this instance's own cache has already dropped the session.
#[derive(Default)]
pub struct LocalHooks(RwLock<Vec<LocalHook>>);

impl LocalHooks {
    pub fn add(&self, hook: LocalHook) {
        self.0
            .write()
            .unwrap_or_else(PoisonError::into_inner)
            .push(hook);
    }

    pub fn run(&self, event: &Event) {
        for hook in self.0.read().unwrap_or_else(PoisonError::into_inner).iter() {
            hook(event);
        }
    }
}

#[async_trait]
pub trait Store: Send + Sync + 'static {
    /// Human-readable description for logs (never includes credentials).
    fn describe(&self) -> String;

    async fn ping(&self) -> StoreResult<()>;

    async fn get(&self, key: &str) -> StoreResult<Option<Vec<u8>>>;

    async fn put(&self, key: &str, value: &[u8], ttl: Option<Duration>) -> StoreResult<()>;

    /// Writes only when no live value exists; returns whether this call wrote.
    async fn put_if_absent(
        &self,
        key: &str,
        value: &[u8],
        ttl: Option<Duration>,
    ) -> StoreResult<bool>;

    /// Atomically reads and deletes (one-time flow state, single-use tokens).
    async fn take(&self, key: &str) -> StoreResult<Option<Vec<u8>>>;

    /// Returns whether a live value was deleted.
    async fn delete(&self, key: &str) -> StoreResult<bool>;

    /// Deletes only when the current value equals `expected` (releasing a claim we own).
    async fn delete_if_equals(&self, key: &str, expected: &[u8]) -> StoreResult<bool>;

    /// Increments a counter that starts at 1 and expires `window` after its first increment.
    async fn incr(&self, key: &str, window: Duration) -> StoreResult<u64>;

    async fn index_add(&self, index: &str, member: &str) -> StoreResult<()>;

    async fn index_remove(&self, index: &str, member: &str) -> StoreResult<()>;

    /// Members in lexicographic order, `limit` of them from `offset`.
    async fn index_page(
        &self,
        index: &str,
        offset: usize,
        limit: usize,
    ) -> StoreResult<Vec<String>>;

    async fn index_len(&self, index: &str) -> StoreResult<usize>;

    /// Delivers `event` to every instance's subscription, this one included, after running
    /// this instance's [`LocalHooks`].
    async fn publish(&self, event: &Event) -> StoreResult<()>;

    fn local_hooks(&self) -> &LocalHooks;

    fn subscribe(&self) -> Subscription;

    /// Writes every entry (without expiry) only when none of the keys has a live value;
    /// returns whether it wrote. Several claims in one round trip (Redis MSETNX).
    async fn put_all_if_absent(&self, entries: &[(String, Vec<u8>)]) -> StoreResult<bool> {
        put_all_one_by_one(self, entries).await
    }

    /// Applies several writes at once: all of them or none (one Redis MULTI/EXEC, one
    /// embedded transaction), in one round trip. The default runs them one by one.
    async fn batch(&self, ops: &[BatchOp]) -> StoreResult<()> {
        for op in ops {
            match op {
                BatchOp::Put { key, value, ttl } => self.put(key, value, *ttl).await?,
                BatchOp::Delete { key } => {
                    self.delete(key).await?;
                }
                BatchOp::IndexAdd { index, member } => self.index_add(index, member).await?,
                BatchOp::IndexRemove { index, member } => self.index_remove(index, member).await?,
            }
        }
        Ok(())
    }
}

/// Default for [`Store::put_all_if_absent`]: one claim after the other, undoing the ones
/// taken when a later one is held.
async fn put_all_one_by_one<S: Store + ?Sized>(
    store: &S,
    entries: &[(String, Vec<u8>)],
) -> StoreResult<bool> {
    for (i, (key, value)) in entries.iter().enumerate() {
        if !store.put_if_absent(key, value, None).await? {
            for (k, v) in &entries[..i] {
                store.delete_if_equals(k, v).await?;
            }
            return Ok(false);
        }
    }
    Ok(true)
}

/// One write of a [`Store::batch`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BatchOp {
    Put {
        key: String,
        value: Vec<u8>,
        ttl: Option<Duration>,
    },
    Delete {
        key: String,
    },
    IndexAdd {
        index: String,
        member: String,
    },
    IndexRemove {
        index: String,
        member: String,
    },
}

/// JSON helpers shared by the typed repositories.
pub(crate) fn encode<T: Serialize>(value: &T) -> StoreResult<Vec<u8>> {
    serde_json::to_vec(value).map_err(|e| StoreError::Corrupt(e.to_string()))
}

pub(crate) fn decode<T: serde::de::DeserializeOwned>(key: &str, bytes: &[u8]) -> StoreResult<T> {
    serde_json::from_slice(bytes).map_err(|e| StoreError::Corrupt(format!("{key}: {e}")))
}

/// Reads and decodes a JSON value.
pub(crate) async fn get_json<T: serde::de::DeserializeOwned>(
    store: &dyn Store,
    key: &str,
) -> StoreResult<Option<T>> {
    match store.get(key).await? {
        Some(bytes) => decode(key, &bytes).map(Some),
        None => Ok(None),
    }
}
