//! The forward-auth fast path: tokens already verified against the store, kept in memory.
//!
//! What must hold: an entry is only ever served while the store's event feed is complete
//! (`healthy`), and a revoked session id can never be (re)inserted — a tombstone blocks the
//! race where a store read starts before a revocation and finishes after it. When the feed
//! drops, every entry is discarded and the generation moves on, so reads already in flight
//! cannot re-populate the cache with stale answers. A revoked session stays hidden by its
//! tombstone until the periodic purge has removed its entries.

use std::hash::BuildHasher;
use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use dashmap::DashMap;

use super::jwt::KeyRing;
use super::Session;
use crate::clock::SharedClock;
use crate::store::{Event, Store, Subscription};

/// Upper bound on cached tokens; beyond it the cache starts over (cheap, and only costs
/// one store read per active session).
const MAX_ENTRIES: usize = 1_000_000;
/// How often cached entries of revoked or expired sessions are purged.
pub const PURGE_EVERY: Duration = Duration::from_secs(30);
/// A tombstone outlives at least one purge pass after it was set (that pass removes the
/// revoked session's entries), so it may then be forgotten.
const TOMBSTONE_SECS: i64 = 120;
/// Minimum seconds between two "last seen" writes of one session.
const TOUCH_EVERY_SECS: i64 = 60;

/// What forward auth needs to know about a live session, packed into one string so that
/// 100,000 cached sessions stay within a few tens of megabytes.
#[derive(Debug)]
pub struct SessionView {
    /// session id, user id, tenant id, email, groups (comma-separated), back to back.
    text: Box<str>,
    ends: [u32; 5],
    pub method: &'static str,
    pub expires_unix: i64,
    last_touch_unix: AtomicI64,
}

impl SessionView {
    pub fn new(s: &Session, token_exp: i64) -> Self {
        let groups = s.groups.join(",");
        let parts = [s.id.as_str(), &s.user_id, &s.tenant_id, &s.email, &groups];
        let mut text = String::with_capacity(parts.iter().map(|p| p.len()).sum());
        let mut ends = [0u32; 5];
        for (i, p) in parts.iter().enumerate() {
            text.push_str(p);
            ends[i] = u32::try_from(text.len()).unwrap_or(u32::MAX);
        }
        Self {
            text: text.into_boxed_str(),
            ends,
            method: s.method.as_str(),
            expires_unix: token_exp.min(s.expires_at.unix_timestamp()),
            last_touch_unix: AtomicI64::new(s.last_seen_at.unix_timestamp()),
        }
    }

    fn part(&self, i: usize) -> &str {
        let start = if i == 0 { 0 } else { self.ends[i - 1] as usize };
        self.text.get(start..self.ends[i] as usize).unwrap_or("")
    }

    pub fn session_id(&self) -> &str {
        self.part(0)
    }

    pub fn user_id(&self) -> &str {
        self.part(1)
    }

    pub fn tenant_id(&self) -> &str {
        self.part(2)
    }

    pub fn email(&self) -> &str {
        self.part(3)
    }

    /// Comma-separated, ready for the `X-Gatehouse-Groups` header.
    pub fn groups(&self) -> &str {
        self.part(4)
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
    /// Keyed by a 128-bit SipHash of the token under two random per-process keys: the token
    /// itself (hundreds of bytes) is never kept, and without the keys nobody can aim a
    /// token at another's entry.
    by_token: DashMap<u128, Arc<SessionView>>,
    hash_keys: (std::hash::RandomState, std::hash::RandomState),
    /// Revoked session ids, consulted on every hit until a purge has removed their entries.
    tombstones: DashMap<Box<str>, i64>,
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
            hash_keys: (std::hash::RandomState::new(), std::hash::RandomState::new()),
            tombstones: DashMap::new(),
            healthy: AtomicBool::new(false),
            generation: AtomicU64::new(0),
            hits: AtomicU64::new(0),
            misses: AtomicU64::new(0),
        })
    }

    fn key(&self, token: &str) -> u128 {
        (u128::from(self.hash_keys.0.hash_one(token)) << 64)
            | u128::from(self.hash_keys.1.hash_one(token))
    }

    fn is_revoked(&self, sid: &str) -> bool {
        !self.tombstones.is_empty() && self.tombstones.contains_key(sid)
    }

    pub fn lookup(&self, token: &str) -> Option<Arc<SessionView>> {
        if !self.healthy.load(Ordering::Acquire) {
            return None;
        }
        let found = self
            .by_token
            .get(&self.key(token))
            .map(|e| e.value().clone())
            .filter(|v| v.expires_unix > self.clock.unix() && !self.is_revoked(v.session_id()));
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
            || self.is_revoked(view.session_id())
        {
            return;
        }
        if self.by_token.len() >= MAX_ENTRIES {
            self.clear();
        }
        let key = self.key(token);
        let sid_revoked_meanwhile = {
            let sid = view.session_id().to_owned();
            self.by_token.insert(key, view);
            self.is_revoked(&sid)
        };
        // A revocation or feed loss may have landed between the checks above and the insert.
        if sid_revoked_meanwhile || self.generation() != generation_at_read {
            self.by_token.remove(&key);
        }
    }

    fn revoke(&self, sid: &str) {
        self.tombstones.insert(sid.into(), self.clock.unix());
    }

    /// Drops entries of revoked and expired sessions, then tombstones old enough that a
    /// purge has already removed their entries.
    pub fn purge(&self) {
        let now = self.clock.unix();
        self.by_token
            .retain(|_, v| v.expires_unix > now && !self.is_revoked(v.session_id()));
        self.tombstones.retain(|_, at| now - *at < TOMBSTONE_SECS);
    }

    fn clear(&self) {
        self.generation.fetch_add(1, Ordering::AcqRel);
        self.by_token.clear();
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

/// Applies store events to the cache (and key ring), and purges it periodically, until the
/// process ends. Revocations published by this instance are applied before `publish`
/// returns (a local hook), so a "session ended" answer is never followed by this instance
/// still honouring the session while the event is in flight.
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
    let local = cache.clone();
    store.local_hooks().add(Arc::new(move |event| {
        if let Event::SessionRevoked { sid } = event {
            local.revoke(sid);
        }
    }));
    tokio::spawn(async move {
        let mut purge = tokio::time::interval(PURGE_EVERY);
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
                _ = purge.tick() => cache.purge(),
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
        let v = cache.lookup("t").unwrap();
        assert_eq!(
            (
                v.session_id(),
                v.user_id(),
                v.tenant_id(),
                v.email(),
                v.groups()
            ),
            ("s1", "us", "tn", "a@b.test", "g1,g2")
        );
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
    fn revocation_after_caching_hides_the_entry_and_purge_removes_it() {
        let clock = ManualClock::starting_now();
        let cache = SessionCache::new(Arc::new(clock.clone()));
        cache.set_healthy(true);
        cache.insert("t", view(&clock, "s1"), cache.generation());
        cache.insert("u", view(&clock, "s2"), cache.generation());
        assert!(cache.lookup("t").is_some());
        cache.revoke("s1");
        assert!(cache.lookup("t").is_none());
        cache.purge();
        assert_eq!(cache.len(), 1, "only the live session stays");
        clock.advance(Duration::from_secs(TOMBSTONE_SECS as u64 + 1));
        cache.purge();
        assert!(cache.tombstones.is_empty());
        assert!(cache.lookup("u").is_some());
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
