//! Redis backend (deadpool-redis), for several gateway instances sharing one store.
//!
//! Every key is prefixed (`{prefix}:…`) so deployments and test runs can share a server.
//! Indexes are sorted sets with score 0, which Redis orders lexicographically — the
//! stable order SCIM pagination needs. Events travel over Pub/Sub on a dedicated
//! connection (pooled connections are multiplexed and cannot subscribe); while that
//! connection is down the subscription reports itself unhealthy, and the session cache
//! stops trusting anything it learned (fail closed).

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use deadpool_redis::redis::{self, AsyncCommands};
use deadpool_redis::{Pool, PoolConfig, Runtime, Timeouts};
use futures_util::StreamExt;
use tokio::sync::{broadcast, watch};

use super::{BatchOp, Event, LocalHooks, Store, StoreError, StoreResult, Subscription};

/// How long one command may take before the store counts as unavailable.
const COMMAND_TIMEOUT: Duration = Duration::from_secs(2);

const DELETE_IF_EQUALS: &str = r"
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('DEL', KEYS[1])
end
return 0";

pub struct RedisStore {
    pool: Pool,
    prefix: String,
    host: String,
    events: broadcast::Sender<Event>,
    hooks: LocalHooks,
    healthy: watch::Receiver<bool>,
    shutdown: Arc<tokio::sync::Notify>,
}

fn unavailable(e: impl std::fmt::Display) -> StoreError {
    StoreError::Unavailable(e.to_string())
}

impl RedisStore {
    /// Builds the pool and starts the event subscriber. Does not fail when Redis is down:
    /// the gateway starts, `/readyz` reports it, and service resumes when Redis returns.
    pub fn connect(url: &str, prefix: &str, pool_size: usize) -> StoreResult<Self> {
        let mut cfg = deadpool_redis::Config::from_url(url);
        let mut pool_cfg = PoolConfig::new(pool_size);
        pool_cfg.timeouts = Timeouts {
            wait: Some(COMMAND_TIMEOUT),
            create: Some(COMMAND_TIMEOUT),
            recycle: Some(COMMAND_TIMEOUT),
        };
        cfg.pool = Some(pool_cfg);
        let pool = cfg
            .create_pool(Some(Runtime::Tokio1))
            .map_err(|e| unavailable(format!("invalid Redis configuration: {e}")))?;
        let client = redis::Client::open(url).map_err(unavailable)?;
        let host = client.get_connection_info().addr().to_string();
        let (events, _) = broadcast::channel(4096);
        let (healthy_tx, healthy) = watch::channel(false);
        let shutdown = Arc::new(tokio::sync::Notify::new());
        let channel = format!("{prefix}:events");
        tokio::spawn(run_subscriber(
            client,
            channel,
            events.clone(),
            healthy_tx,
            shutdown.clone(),
        ));
        Ok(Self {
            pool,
            prefix: prefix.to_owned(),
            host,
            events,
            hooks: LocalHooks::default(),
            healthy,
            shutdown,
        })
    }

    fn key(&self, key: &str) -> String {
        format!("{}:{key}", self.prefix)
    }

    async fn conn(&self) -> StoreResult<deadpool_redis::Connection> {
        self.pool.get().await.map_err(unavailable)
    }

    async fn run<T: redis::FromRedisValue>(&self, cmd: &redis::Cmd) -> StoreResult<T> {
        let mut conn = self.conn().await?;
        tokio::time::timeout(COMMAND_TIMEOUT, cmd.query_async::<T>(&mut conn))
            .await
            .map_err(|_| unavailable("Redis did not answer in time"))?
            .map_err(unavailable)
    }

    /// Deletes every key under this store's prefix (test clean-up).
    pub async fn delete_all_with_prefix(&self) -> StoreResult<u64> {
        let mut conn = self.conn().await?;
        let pattern = format!("{}:*", self.prefix);
        let mut keys: Vec<String> = Vec::new();
        {
            let mut iter: redis::AsyncIter<String> =
                conn.scan_match(&pattern).await.map_err(unavailable)?;
            while let Some(k) = iter.next_item().await {
                keys.push(k.map_err(unavailable)?);
            }
        }
        let mut deleted = 0;
        for chunk in keys.chunks(500) {
            let n: u64 = conn.del(chunk).await.map_err(unavailable)?;
            deleted += n;
        }
        Ok(deleted)
    }
}

impl Drop for RedisStore {
    fn drop(&mut self) {
        self.shutdown.notify_waiters();
        self.shutdown.notify_one();
    }
}

fn ttl_ms(ttl: Duration) -> u64 {
    u64::try_from(ttl.as_millis()).unwrap_or(u64::MAX).max(1)
}

/// Keeps one Pub/Sub connection open, reconnecting with back-off, and reports whether the
/// feed is complete. After a reconnect the feed may have gaps, so `healthy` goes
/// false → true and consumers drop what they cached.
async fn run_subscriber(
    client: redis::Client,
    channel: String,
    events: broadcast::Sender<Event>,
    healthy: watch::Sender<bool>,
    shutdown: Arc<tokio::sync::Notify>,
) {
    let mut backoff = Duration::from_millis(50);
    loop {
        let session = async {
            let mut pubsub = client.get_async_pubsub().await?;
            pubsub.subscribe(&channel).await?;
            Ok::<_, redis::RedisError>(pubsub)
        };
        let connected = tokio::select! {
            r = tokio::time::timeout(COMMAND_TIMEOUT, session) => r,
            () = shutdown.notified() => return,
        };
        match connected {
            Ok(Ok(pubsub)) => {
                backoff = Duration::from_millis(50);
                let _ = healthy.send(true);
                tracing::info!(%channel, "store event feed connected");
                let mut stream = pubsub.into_on_message();
                loop {
                    let msg = tokio::select! {
                        m = stream.next() => m,
                        () = shutdown.notified() => return,
                    };
                    let Some(msg) = msg else { break };
                    let payload: String = match msg.get_payload() {
                        Ok(p) => p,
                        Err(e) => {
                            tracing::warn!(error = %e, "undecodable store event");
                            continue;
                        }
                    };
                    match serde_json::from_str::<Event>(&payload) {
                        Ok(event) => {
                            let _ = events.send(event);
                        }
                        Err(e) => tracing::warn!(error = %e, "unknown store event"),
                    }
                }
                let _ = healthy.send(false);
                tracing::warn!(%channel, "store event feed lost; cached sessions are no longer trusted");
            }
            Ok(Err(e)) => {
                let _ = healthy.send(false);
                tracing::debug!(error = %e, "store event feed: connect failed");
            }
            Err(_) => {
                let _ = healthy.send(false);
            }
        }
        tokio::select! {
            () = tokio::time::sleep(backoff) => {},
            () = shutdown.notified() => return,
        }
        backoff = (backoff * 2).min(Duration::from_secs(2));
    }
}

#[async_trait]
impl Store for RedisStore {
    fn describe(&self) -> String {
        format!("redis at {} (key prefix {:?})", self.host, self.prefix)
    }

    async fn ping(&self) -> StoreResult<()> {
        let pong: String = self.run(&redis::cmd("PING")).await?;
        if pong == "PONG" {
            Ok(())
        } else {
            Err(unavailable(format!("unexpected PING answer {pong:?}")))
        }
    }

    async fn get(&self, key: &str) -> StoreResult<Option<Vec<u8>>> {
        self.run(redis::cmd("GET").arg(self.key(key))).await
    }

    async fn put(&self, key: &str, value: &[u8], ttl: Option<Duration>) -> StoreResult<()> {
        let mut cmd = redis::cmd("SET");
        cmd.arg(self.key(key)).arg(value);
        if let Some(ttl) = ttl {
            cmd.arg("PX").arg(ttl_ms(ttl));
        }
        self.run::<()>(&cmd).await
    }

    async fn put_if_absent(
        &self,
        key: &str,
        value: &[u8],
        ttl: Option<Duration>,
    ) -> StoreResult<bool> {
        let mut cmd = redis::cmd("SET");
        cmd.arg(self.key(key)).arg(value).arg("NX");
        if let Some(ttl) = ttl {
            cmd.arg("PX").arg(ttl_ms(ttl));
        }
        let answer: Option<String> = self.run(&cmd).await?;
        Ok(answer.is_some())
    }

    async fn take(&self, key: &str) -> StoreResult<Option<Vec<u8>>> {
        self.run(redis::cmd("GETDEL").arg(self.key(key))).await
    }

    async fn delete(&self, key: &str) -> StoreResult<bool> {
        let n: u64 = self.run(redis::cmd("DEL").arg(self.key(key))).await?;
        Ok(n > 0)
    }

    async fn delete_if_equals(&self, key: &str, expected: &[u8]) -> StoreResult<bool> {
        let n: u64 = self
            .run(
                redis::cmd("EVAL")
                    .arg(DELETE_IF_EQUALS)
                    .arg(1)
                    .arg(self.key(key))
                    .arg(expected),
            )
            .await?;
        Ok(n > 0)
    }

    async fn incr(&self, key: &str, window: Duration) -> StoreResult<u64> {
        let key = self.key(key);
        let mut conn = self.conn().await?;
        // INCR then set the expiry only if none is set yet: a fixed window from the first hit.
        let pipe = redis::pipe()
            .atomic()
            .cmd("INCR")
            .arg(&key)
            .cmd("PEXPIRE")
            .arg(&key)
            .arg(ttl_ms(window))
            .arg("NX")
            .ignore()
            .clone();
        let (count,): (u64,) = tokio::time::timeout(COMMAND_TIMEOUT, pipe.query_async(&mut conn))
            .await
            .map_err(|_| unavailable("Redis did not answer in time"))?
            .map_err(unavailable)?;
        Ok(count)
    }

    async fn index_add(&self, index: &str, member: &str) -> StoreResult<()> {
        self.run::<()>(redis::cmd("ZADD").arg(self.key(index)).arg(0).arg(member))
            .await
    }

    async fn index_remove(&self, index: &str, member: &str) -> StoreResult<()> {
        self.run::<()>(redis::cmd("ZREM").arg(self.key(index)).arg(member))
            .await
    }

    async fn index_page(
        &self,
        index: &str,
        offset: usize,
        limit: usize,
    ) -> StoreResult<Vec<String>> {
        if limit == 0 {
            return Ok(Vec::new());
        }
        let stop = offset.saturating_add(limit) - 1;
        self.run(
            redis::cmd("ZRANGE")
                .arg(self.key(index))
                .arg(offset)
                .arg(stop),
        )
        .await
    }

    async fn index_len(&self, index: &str) -> StoreResult<usize> {
        self.run(redis::cmd("ZCARD").arg(self.key(index))).await
    }

    async fn publish(&self, event: &Event) -> StoreResult<()> {
        self.hooks.run(event);
        let payload =
            serde_json::to_string(event).map_err(|e| StoreError::Corrupt(e.to_string()))?;
        self.run::<u64>(
            redis::cmd("PUBLISH")
                .arg(format!("{}:events", self.prefix))
                .arg(payload),
        )
        .await
        .map(|_| ())
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
        if entries.is_empty() {
            return Ok(true);
        }
        let mut cmd = redis::cmd("MSETNX");
        for (key, value) in entries {
            cmd.arg(self.key(key)).arg(value.as_slice());
        }
        let wrote: u64 = self.run(&cmd).await?;
        Ok(wrote == 1)
    }

    async fn batch(&self, ops: &[BatchOp]) -> StoreResult<()> {
        if ops.is_empty() {
            return Ok(());
        }
        let mut pipe = redis::pipe();
        pipe.atomic();
        for op in ops {
            match op {
                BatchOp::Put { key, value, ttl } => {
                    pipe.cmd("SET").arg(self.key(key)).arg(value.as_slice());
                    if let Some(ttl) = ttl {
                        pipe.arg("PX").arg(ttl_ms(*ttl));
                    }
                }
                BatchOp::Delete { key } => {
                    pipe.cmd("DEL").arg(self.key(key));
                }
                BatchOp::IndexAdd { index, member } => {
                    pipe.cmd("ZADD").arg(self.key(index)).arg(0).arg(member);
                }
                BatchOp::IndexRemove { index, member } => {
                    pipe.cmd("ZREM").arg(self.key(index)).arg(member);
                }
            }
            pipe.ignore();
        }
        let mut conn = self.conn().await?;
        tokio::time::timeout(COMMAND_TIMEOUT, pipe.query_async::<()>(&mut conn))
            .await
            .map_err(|_| unavailable("Redis did not answer in time"))?
            .map_err(unavailable)
    }
}
