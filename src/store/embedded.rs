//! The default store: one redb file, for a single gateway process.
//!
//! redb serialises write transactions, which is what makes `put_if_absent`, `take` and
//! `delete_if_equals` atomic here. Every value carries its expiry (Unix ms, 0 = never) in
//! an 8-byte header; expired values are invisible to reads and swept in the background.
//! redb calls block (a commit waits for fsync), so they run on tokio's blocking pool,
//! never on an actix worker thread.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use redb::{Database, ReadableDatabase, ReadableTable, TableDefinition};
use tokio::sync::{broadcast, watch};

use super::{BatchOp, Event, LocalHooks, Store, StoreError, StoreResult, Subscription};
use crate::clock::SharedClock;

const KV: TableDefinition<&str, &[u8]> = TableDefinition::new("kv");
const INDEX: TableDefinition<(&str, &str), ()> = TableDefinition::new("index");
const INDEX_LEN: TableDefinition<&str, u64> = TableDefinition::new("index_len");
const EXPIRY_HEADER: usize = 8;

pub struct EmbeddedStore {
    db: Arc<Database>,
    clock: SharedClock,
    path: String,
    events: broadcast::Sender<Event>,
    hooks: LocalHooks,
    // Events never leave this process, so the feed is always complete.
    healthy: watch::Receiver<bool>,
    _healthy_tx: watch::Sender<bool>,
}

fn unavailable(e: impl std::fmt::Display) -> StoreError {
    StoreError::Unavailable(e.to_string())
}

impl EmbeddedStore {
    pub fn open(path: &Path, clock: SharedClock) -> StoreResult<Self> {
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).map_err(|e| {
                unavailable(format!(
                    "cannot create data directory {}: {e}",
                    dir.display()
                ))
            })?;
        }
        let db = Database::create(path)
            .map_err(|e| unavailable(format!("cannot open {}: {e}", path.display())))?;
        // Create the tables up front so read transactions never meet a missing table.
        let txn = db.begin_write().map_err(unavailable)?;
        txn.open_table(KV).map_err(unavailable)?;
        txn.open_table(INDEX).map_err(unavailable)?;
        txn.open_table(INDEX_LEN).map_err(unavailable)?;
        txn.commit().map_err(unavailable)?;
        let (events, _) = broadcast::channel(4096);
        let (healthy_tx, healthy) = watch::channel(true);
        Ok(Self {
            db: Arc::new(db),
            clock,
            path: path.display().to_string(),
            events,
            hooks: LocalHooks::default(),
            healthy,
            _healthy_tx: healthy_tx,
        })
    }

    fn now_ms(&self) -> u64 {
        u64::try_from(self.clock.now().unix_timestamp_nanos() / 1_000_000).unwrap_or(0)
    }

    fn expiry_for(&self, ttl: Option<Duration>) -> u64 {
        ttl.map_or(0, |t| {
            self.now_ms()
                .saturating_add(u64::try_from(t.as_millis()).unwrap_or(u64::MAX))
                .max(1)
        })
    }

    async fn blocking<T, F>(&self, f: F) -> StoreResult<T>
    where
        T: Send + 'static,
        F: FnOnce(&Database) -> StoreResult<T> + Send + 'static,
    {
        let db = self.db.clone();
        tokio::task::spawn_blocking(move || f(&db))
            .await
            .map_err(|e| unavailable(format!("store task failed: {e}")))?
    }

    /// Deletes expired values; called periodically by [`spawn_sweeper`].
    pub async fn sweep_expired(&self) -> StoreResult<()> {
        let now = self.now_ms();
        self.blocking(move |db| {
            let txn = db.begin_write().map_err(unavailable)?;
            {
                let mut kv = txn.open_table(KV).map_err(unavailable)?;
                kv.retain(|_, v| is_live(v, now)).map_err(unavailable)?;
            }
            txn.commit().map_err(unavailable)
        })
        .await
    }
}

/// Sweeps expired values every `every` until the store is dropped.
pub fn spawn_sweeper(store: Arc<EmbeddedStore>, every: Duration) {
    let weak = Arc::downgrade(&store);
    drop(store);
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(every);
        tick.tick().await;
        loop {
            tick.tick().await;
            let Some(store) = weak.upgrade() else { break };
            if let Err(e) = store.sweep_expired().await {
                tracing::warn!(error = %e, "expired-value sweep failed");
            }
        }
    });
}

fn is_live(stored: &[u8], now_ms: u64) -> bool {
    let mut header = [0u8; EXPIRY_HEADER];
    match stored.get(..EXPIRY_HEADER) {
        Some(h) => header.copy_from_slice(h),
        None => return false,
    }
    let expires = u64::from_be_bytes(header);
    expires == 0 || expires > now_ms
}

fn payload(stored: &[u8]) -> Vec<u8> {
    stored.get(EXPIRY_HEADER..).unwrap_or_default().to_vec()
}

fn framed(expires_ms: u64, value: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(EXPIRY_HEADER + value.len());
    out.extend_from_slice(&expires_ms.to_be_bytes());
    out.extend_from_slice(value);
    out
}

/// Reads the live payload of `key` inside a write transaction.
fn live_value(
    table: &redb::Table<&str, &[u8]>,
    key: &str,
    now: u64,
) -> StoreResult<Option<Vec<u8>>> {
    Ok(table
        .get(key)
        .map_err(unavailable)?
        .map(|g| g.value().to_vec())
        .filter(|v| is_live(v, now))
        .map(|v| payload(&v)))
}

#[async_trait]
impl Store for EmbeddedStore {
    fn describe(&self) -> String {
        format!("embedded store at {}", self.path)
    }

    async fn ping(&self) -> StoreResult<()> {
        self.blocking(|db| db.begin_read().map(|_| ()).map_err(unavailable))
            .await
    }

    async fn get(&self, key: &str) -> StoreResult<Option<Vec<u8>>> {
        let key = key.to_owned();
        let now = self.now_ms();
        self.blocking(move |db| {
            let txn = db.begin_read().map_err(unavailable)?;
            let table = txn.open_table(KV).map_err(unavailable)?;
            Ok(table
                .get(key.as_str())
                .map_err(unavailable)?
                .map(|g| g.value().to_vec())
                .filter(|v| is_live(v, now))
                .map(|v| payload(&v)))
        })
        .await
    }

    async fn put(&self, key: &str, value: &[u8], ttl: Option<Duration>) -> StoreResult<()> {
        let (key, value) = (key.to_owned(), framed(self.expiry_for(ttl), value));
        self.blocking(move |db| {
            let txn = db.begin_write().map_err(unavailable)?;
            txn.open_table(KV)
                .map_err(unavailable)?
                .insert(key.as_str(), value.as_slice())
                .map_err(unavailable)?;
            txn.commit().map_err(unavailable)
        })
        .await
    }

    async fn put_if_absent(
        &self,
        key: &str,
        value: &[u8],
        ttl: Option<Duration>,
    ) -> StoreResult<bool> {
        let (key, value, now) = (
            key.to_owned(),
            framed(self.expiry_for(ttl), value),
            self.now_ms(),
        );
        self.blocking(move |db| {
            let txn = db.begin_write().map_err(unavailable)?;
            let wrote = {
                let mut table = txn.open_table(KV).map_err(unavailable)?;
                if live_value(&table, &key, now)?.is_some() {
                    false
                } else {
                    table
                        .insert(key.as_str(), value.as_slice())
                        .map_err(unavailable)?;
                    true
                }
            };
            txn.commit().map_err(unavailable)?;
            Ok(wrote)
        })
        .await
    }

    async fn take(&self, key: &str) -> StoreResult<Option<Vec<u8>>> {
        let (key, now) = (key.to_owned(), self.now_ms());
        self.blocking(move |db| {
            let txn = db.begin_write().map_err(unavailable)?;
            let taken = {
                let mut table = txn.open_table(KV).map_err(unavailable)?;
                let v = live_value(&table, &key, now)?;
                table.remove(key.as_str()).map_err(unavailable)?;
                v
            };
            txn.commit().map_err(unavailable)?;
            Ok(taken)
        })
        .await
    }

    async fn delete(&self, key: &str) -> StoreResult<bool> {
        Ok(self.take(key).await?.is_some())
    }

    async fn delete_if_equals(&self, key: &str, expected: &[u8]) -> StoreResult<bool> {
        let (key, expected, now) = (key.to_owned(), expected.to_vec(), self.now_ms());
        self.blocking(move |db| {
            let txn = db.begin_write().map_err(unavailable)?;
            let deleted = {
                let mut table = txn.open_table(KV).map_err(unavailable)?;
                if live_value(&table, &key, now)?.as_deref() == Some(expected.as_slice()) {
                    table.remove(key.as_str()).map_err(unavailable)?;
                    true
                } else {
                    false
                }
            };
            txn.commit().map_err(unavailable)?;
            Ok(deleted)
        })
        .await
    }

    async fn incr(&self, key: &str, window: Duration) -> StoreResult<u64> {
        let (key, now, fresh_expiry) =
            (key.to_owned(), self.now_ms(), self.expiry_for(Some(window)));
        self.blocking(move |db| {
            let txn = db.begin_write().map_err(unavailable)?;
            let count = {
                let mut table = txn.open_table(KV).map_err(unavailable)?;
                let current = table
                    .get(key.as_str())
                    .map_err(unavailable)?
                    .map(|g| g.value().to_vec())
                    .filter(|v| is_live(v, now));
                let (count, expiry) = match current {
                    Some(stored) => {
                        let mut n = [0u8; 8];
                        let body = payload(&stored);
                        if body.len() == 8 {
                            n.copy_from_slice(&body);
                        }
                        let mut header = [0u8; 8];
                        header.copy_from_slice(stored.get(..8).unwrap_or(&[0; 8]));
                        (u64::from_be_bytes(n) + 1, u64::from_be_bytes(header))
                    }
                    None => (1, fresh_expiry),
                };
                table
                    .insert(
                        key.as_str(),
                        framed(expiry, &count.to_be_bytes()).as_slice(),
                    )
                    .map_err(unavailable)?;
                count
            };
            txn.commit().map_err(unavailable)?;
            Ok(count)
        })
        .await
    }

    async fn index_add(&self, index: &str, member: &str) -> StoreResult<()> {
        let (index, member) = (index.to_owned(), member.to_owned());
        self.blocking(move |db| {
            let txn = db.begin_write().map_err(unavailable)?;
            {
                let mut idx = txn.open_table(INDEX).map_err(unavailable)?;
                let existed = idx
                    .insert((index.as_str(), member.as_str()), ())
                    .map_err(unavailable)?
                    .is_some();
                if !existed {
                    let mut lens = txn.open_table(INDEX_LEN).map_err(unavailable)?;
                    let n = lens
                        .get(index.as_str())
                        .map_err(unavailable)?
                        .map_or(0, |g| g.value());
                    lens.insert(index.as_str(), n + 1).map_err(unavailable)?;
                }
            }
            txn.commit().map_err(unavailable)
        })
        .await
    }

    async fn index_remove(&self, index: &str, member: &str) -> StoreResult<()> {
        let (index, member) = (index.to_owned(), member.to_owned());
        self.blocking(move |db| {
            let txn = db.begin_write().map_err(unavailable)?;
            {
                let mut idx = txn.open_table(INDEX).map_err(unavailable)?;
                let existed = idx
                    .remove((index.as_str(), member.as_str()))
                    .map_err(unavailable)?
                    .is_some();
                if existed {
                    let mut lens = txn.open_table(INDEX_LEN).map_err(unavailable)?;
                    let n = lens
                        .get(index.as_str())
                        .map_err(unavailable)?
                        .map_or(0, |g| g.value());
                    if n <= 1 {
                        lens.remove(index.as_str()).map_err(unavailable)?;
                    } else {
                        lens.insert(index.as_str(), n - 1).map_err(unavailable)?;
                    }
                }
            }
            txn.commit().map_err(unavailable)
        })
        .await
    }

    async fn index_page(
        &self,
        index: &str,
        offset: usize,
        limit: usize,
    ) -> StoreResult<Vec<String>> {
        let index = index.to_owned();
        self.blocking(move |db| {
            let txn = db.begin_read().map_err(unavailable)?;
            let idx = txn.open_table(INDEX).map_err(unavailable)?;
            let mut out = Vec::new();
            for entry in idx
                .range((index.as_str(), "")..)
                .map_err(unavailable)?
                .skip(offset)
            {
                let (k, _) = entry.map_err(unavailable)?;
                let (i, member) = k.value();
                if i != index || out.len() >= limit {
                    break;
                }
                out.push(member.to_owned());
            }
            Ok(out)
        })
        .await
    }

    async fn index_len(&self, index: &str) -> StoreResult<usize> {
        let index = index.to_owned();
        self.blocking(move |db| {
            let txn = db.begin_read().map_err(unavailable)?;
            let lens = txn.open_table(INDEX_LEN).map_err(unavailable)?;
            let n = lens
                .get(index.as_str())
                .map_err(unavailable)?
                .map_or(0, |g| g.value());
            Ok(usize::try_from(n).unwrap_or(usize::MAX))
        })
        .await
    }

    async fn publish(&self, event: &Event) -> StoreResult<()> {
        self.hooks.run(event);
        // No receivers is fine: nobody is caching anything yet.
        let _ = self.events.send(event.clone());
        Ok(())
    }

    fn local_hooks(&self) -> &LocalHooks {
        &self.hooks
    }

    fn subscribe(&self) -> Subscription {
        Subscription {
            events: self.events.subscribe(),
            healthy: self.healthy.clone(),
        }
    }

    async fn put_all_if_absent(&self, entries: &[(String, Vec<u8>)]) -> StoreResult<bool> {
        let entries: Vec<(String, Vec<u8>)> = entries
            .iter()
            .map(|(k, v)| (k.clone(), framed(0, v)))
            .collect();
        let now = self.now_ms();
        self.blocking(move |db| {
            let txn = db.begin_write().map_err(unavailable)?;
            let wrote = {
                let mut table = txn.open_table(KV).map_err(unavailable)?;
                let mut free = true;
                for (key, _) in &entries {
                    if live_value(&table, key, now)?.is_some() {
                        free = false;
                        break;
                    }
                }
                if free {
                    for (key, value) in &entries {
                        table
                            .insert(key.as_str(), value.as_slice())
                            .map_err(unavailable)?;
                    }
                }
                free
            };
            txn.commit().map_err(unavailable)?;
            Ok(wrote)
        })
        .await
    }

    async fn batch(&self, ops: &[BatchOp]) -> StoreResult<()> {
        let ops: Vec<(BatchOp, u64)> = ops
            .iter()
            .map(|op| {
                let expiry = match op {
                    BatchOp::Put { ttl, .. } => self.expiry_for(*ttl),
                    _ => 0,
                };
                (op.clone(), expiry)
            })
            .collect();
        self.blocking(move |db| {
            let txn = db.begin_write().map_err(unavailable)?;
            {
                let mut kv = txn.open_table(KV).map_err(unavailable)?;
                let mut idx = txn.open_table(INDEX).map_err(unavailable)?;
                let mut lens = txn.open_table(INDEX_LEN).map_err(unavailable)?;
                for (op, expiry) in &ops {
                    match op {
                        BatchOp::Put { key, value, .. } => {
                            let framed = framed(*expiry, value);
                            kv.insert(key.as_str(), framed.as_slice())
                                .map_err(unavailable)?;
                        }
                        BatchOp::Delete { key } => {
                            kv.remove(key.as_str()).map_err(unavailable)?;
                        }
                        BatchOp::IndexAdd { index, member } => {
                            let added = idx
                                .insert((index.as_str(), member.as_str()), ())
                                .map_err(unavailable)?
                                .is_none();
                            if added {
                                let n = lens
                                    .get(index.as_str())
                                    .map_err(unavailable)?
                                    .map_or(0, |g| g.value());
                                lens.insert(index.as_str(), n + 1).map_err(unavailable)?;
                            }
                        }
                        BatchOp::IndexRemove { index, member } => {
                            let removed = idx
                                .remove((index.as_str(), member.as_str()))
                                .map_err(unavailable)?
                                .is_some();
                            if removed {
                                let n = lens
                                    .get(index.as_str())
                                    .map_err(unavailable)?
                                    .map_or(0, |g| g.value());
                                if n <= 1 {
                                    lens.remove(index.as_str()).map_err(unavailable)?;
                                } else {
                                    lens.insert(index.as_str(), n - 1).map_err(unavailable)?;
                                }
                            }
                        }
                    }
                }
            }
            txn.commit().map_err(unavailable)
        })
        .await
    }
}
