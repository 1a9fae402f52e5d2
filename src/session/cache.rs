//! The forward-auth fast path: tokens already verified against the store, kept in memory.
//!
//! What must hold: an entry is only ever served while the store's event feed is complete
//! (`healthy`), and a revoked session id can never be (re)inserted — a tombstone blocks the
//! race where a store read starts before a revocation and finishes after it. When the feed
//! drops, every entry is discarded and the generation moves on, so reads already in flight
//! cannot re-populate the cache with stale answers.

use dashmap::DashMap;
use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU64, Ordering};
use std::sync::Arc;

use super::jwt::KeyRing;
use super::Session;
use crate::clock::SharedClock;
use crate::store::{Event, Store, Subscription};

/// Upper bound on cached tokens; beyond it the cache starts over (cheap, and only costs
/// one store read per active session).
const MAX_ENTRIES: usize = 500_000;
/// How long a revoked session id is remembered.
const TOMBSTONE_SECS: i64 = 3600;
/// Minimum seconds between two "last seen" writes of one session.
const TOUCH_EVERY_SECS: i64 = 60;

/// What forward auth needs to know about a live session.
#[derive(Debug)]
pub struct SessionView {
    pub session_id: String,
    pub user_id: String,
    pub tenant_id: String,
    pub email: String,
    /// Comma-separated, ready for the `X-Gatehouse-Groups` header.
    pub groups: String,
    pub method: &'static str,
    pub expires_unix: i64,
    last_touch_unix: AtomicI64,
}

impl SessionView {
    pub fn new(s: &Session, token_exp: i64) -> Self {
        Self {
            session_id: s.id.clone(),
            user_id: s.user_id.clone(),
            tenant_id: s.tenant_id.clone(),
            email: s.email.clone(),
            groups: s.groups.join(","),
            method: s.method.as_str(),
            expires_unix: token_exp.min(s.expires_at.unix_timestamp()),
            last_touch_unix: AtomicI64::new(s.last_seen_at.unix_timestamp()),
        }
    }

    /// True for exactly one caller once per [`TOUCH_EVERY_SECS`].
    pub fn claim_touch(&self, now: i64) -> bool {
        let last = self.last_touch_unix.load(Ordering::Relaxed);
        now - last >= TOUCH_EVERY_SECS
            && self
                .last_touch_unix
                .compare_exchange(last, now, Ordering::AcqRel, Ordering::Relaxed)
                .is_ok()
    }
}

pub struct SessionCache {
    clock: SharedClock,
    by_token: DashMap<String, Arc<SessionView>>,
    tokens_by_sid: DashMap<String, Vec<String>>,
    tombstones: DashMap<String, i64>,
    healthy: AtomicBool,
    generation: AtomicU64,
    hits: AtomicU64,
    misses: AtomicU64,
}

impl SessionCache {
    pub fn new(clock: SharedClock) -> Arc<Self> {
        Arc::new(Self {
            clock,
            by_token: DashMap::new(),
            tokens_by_sid: DashMap::new(),
            tombstones: DashMap::new(),
            healthy: AtomicBool::new(false),
            generation: AtomicU64::new(0),
            hits: AtomicU64::new(0),
            misses: AtomicU64::new(0),
        })
    }

    pub fn lookup(&self, token: &str) -> Option<Arc<SessionView>> {
        if !self.healthy.load(Ordering::Acquire) {
            return None;
        }
        let found = self
            .by_token
            .get(token)
            .map(|e| e.value().clone())
            .filter(|v| v.expires_unix > self.clock.unix());
        let counter = if found.is_some() {
            &self.hits
        } else {
            &self.misses
        };
        counter.fetch_add(1, Ordering::Relaxed);
        found
    }

    /// Read before asking the store; pass to [`insert`](Self::insert) afterwards.
    pub fn generation(&self) -> u64 {
        self.generation.load(Ordering::Acquire)
    }

    pub fn insert(&self, token: &str, view: Arc<SessionView>, generation_at_read: u64) {
        if !self.healthy.load(Ordering::Acquire)
            || self.generation() != generation_at_read
            || self.tombstones.contains_key(&view.session_id)
        {
            return;
        }
        if self.by_token.len() >= MAX_ENTRIES {
            self.clear();
        }
        let sid = view.session_id.clone();
        self.by_token.insert(token.to_owned(), view);
        self.tokens_by_sid
            .entry(sid.clone())
            .or_default()
            .push(token.to_owned());
        // A revocation may have landed between the checks above and the insert.
        if self.tombstones.contains_key(&sid) || self.generation() != generation_at_read {
            self.forget_session(&sid);
        }
    }

    pub fn forget_session(&self, sid: &str) {
        if let Some((_, tokens)) = self.tokens_by_sid.remove(sid) {
            for t in tokens {
                self.by_token.remove(&t);
            }
        }
    }

    fn revoke(&self, sid: &str) {
        let now = self.clock.unix();
        if self.tombstones.len() > 100_000 {
            self.tombstones.retain(|_, at| now - *at < TOMBSTONE_SECS);
        }
        self.tombstones.insert(sid.to_owned(), now);
        self.forget_session(sid);
    }

    fn clear(&self) {
        self.generation.fetch_add(1, Ordering::AcqRel);
        self.by_token.clear();
        self.tokens_by_sid.clear();
    }

    fn set_healthy(&self, healthy: bool) {
        // Either way, anything cached may have missed events: start over.
        self.clear();
        self.healthy.store(healthy, Ordering::Release);
    }

    pub fn is_healthy(&self) -> bool {
        self.healthy.load(Ordering::Acquire)
    }

    pub fn len(&self) -> usize {
        self.by_token.len()
    }

    pub fn is_empty(&self) -> bool {
        self.by_token.is_empty()
    }

    pub fn hits(&self) -> u64 {
        self.hits.load(Ordering::Relaxed)
    }

    pub fn misses(&self) -> u64 {
        self.misses.load(Ordering::Relaxed)
    }
}

/// Applies store events to the cache (and key ring) until the process ends.
pub fn spawn_listener(
    cache: Arc<SessionCache>,
    keys: Arc<KeyRing>,
    store: Arc<dyn Store>,
    subscription: Subscription,
) {
    let Subscription {
        mut events,
        mut healthy,
    } = subscription;
    cache.set_healthy(*healthy.borrow_and_update());
    tokio::spawn(async move {
        loop {
            tokio::select! {
                event = events.recv() => match event {
                    Ok(Event::SessionRevoked { sid }) => cache.revoke(&sid),
                    Ok(Event::SigningKeysChanged) => {
                        if let Err(e) = keys.reload(&*store).await {
                            tracing::warn!(error = %e, "reloading signing keys failed");
                        }
                    }
                    Err(tokio::sync::broadcast::error::RecvError::Lagged(n)) => {
                        tracing::warn!(missed = n, "session events lagged; cache cleared");
                        cache.clear();
                    }
                    Err(tokio::sync::broadcast::error::RecvError::Closed) => {
                        cache.set_healthy(false);
                        break;
                    }
                },
                changed = healthy.changed() => {
                    if changed.is_err() {
                        cache.set_healthy(false);
                        break;
                    }
                    let now_healthy = *healthy.borrow_and_update();
                    cache.set_healthy(now_healthy);
                }
            }
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clock::ManualClock;
    use crate::session::{ClientInfo, LoginMethod};
    use std::time::Duration;

    fn view(clock: &ManualClock, sid: &str) -> Arc<SessionView> {
        use crate::clock::Clock;
        let now = clock.now();
        let s = Session {
            id: sid.into(),
            tenant_id: "tn".into(),
            user_id: "us".into(),
            email: "a@b.test".into(),
            groups: vec!["g1".into(), "g2".into()],
            method: LoginMethod::Password,
            created_at: now,
            expires_at: now + Duration::from_secs(600),
            last_seen_at: now,
            client: ClientInfo::default(),
        };
        Arc::new(SessionView::new(
            &s,
            (now + Duration::from_secs(600)).unix_timestamp(),
        ))
    }

    #[test]
    fn nothing_is_served_while_unhealthy() {
        let clock = ManualClock::starting_now();
        let cache = SessionCache::new(Arc::new(clock.clone()));
        cache.insert("t", view(&clock, "s1"), cache.generation());
        assert!(cache.lookup("t").is_none());
        cache.set_healthy(true);
        cache.insert("t", view(&clock, "s1"), cache.generation());
        assert_eq!(cache.lookup("t").unwrap().groups, "g1,g2");
        cache.set_healthy(false);
        assert!(cache.lookup("t").is_none());
    }

    #[test]
    fn revoked_sessions_cannot_come_back() {
        let clock = ManualClock::starting_now();
        let cache = SessionCache::new(Arc::new(clock.clone()));
        cache.set_healthy(true);
        let generation = cache.generation();
        cache.revoke("s1");
        cache.insert("t", view(&clock, "s1"), generation);
        assert!(cache.lookup("t").is_none());
    }

    #[test]
    fn a_read_that_straddles_a_feed_loss_is_not_cached() {
        let clock = ManualClock::starting_now();
        let cache = SessionCache::new(Arc::new(clock.clone()));
        cache.set_healthy(true);
        let generation = cache.generation();
        cache.set_healthy(false);
        cache.set_healthy(true);
        cache.insert("t", view(&clock, "s1"), generation);
        assert!(cache.lookup("t").is_none());
    }

    #[test]
    fn expired_entries_are_not_served() {
        let clock = ManualClock::starting_now();
        let cache = SessionCache::new(Arc::new(clock.clone()));
        cache.set_healthy(true);
        cache.insert("t", view(&clock, "s1"), cache.generation());
        clock.advance(Duration::from_secs(601));
        assert!(cache.lookup("t").is_none());
    }

    #[test]
    fn touch_is_claimed_once_per_minute() {
        let clock = ManualClock::starting_now();
        let v = view(&clock, "s1");
        use crate::clock::Clock;
        let now = clock.unix();
        assert!(!v.claim_touch(now + 10));
        assert!(v.claim_touch(now + 61));
        assert!(!v.claim_touch(now + 62));
    }
}
