//! One conformance suite, run against both store backends: the guarantees the rest of
//! the gateway relies on (atomic claims, single-use takes, TTLs, ordered indexes, events).

use std::sync::Arc;
use std::time::Duration;

use gatehouse::clock::{ManualClock, SharedClock};
use gatehouse::store::embedded::EmbeddedStore;
use gatehouse::store::redis::RedisStore;
use gatehouse::store::{Event, Store};

use crate::common::{redis_url, unique, Backend};

/// A store plus what is needed to move its time forward and clean up after it.
struct Subject {
    store: Arc<dyn Store>,
    clock: ManualClock,
    redis: Option<Arc<RedisStore>>,
    _dir: Option<tempfile::TempDir>,
}

impl Subject {
    async fn new(backend: Backend) -> Self {
        let clock = ManualClock::starting_now();
        match backend {
            Backend::Embedded => {
                let dir = tempfile::tempdir().unwrap();
                let shared: SharedClock = Arc::new(clock.clone());
                let store =
                    Arc::new(EmbeddedStore::open(&dir.path().join("s.redb"), shared).unwrap());
                Self {
                    store,
                    clock,
                    redis: None,
                    _dir: Some(dir),
                }
            }
            Backend::Redis => {
                let store =
                    Arc::new(RedisStore::connect(&redis_url(), &unique("ghconf-"), 8).unwrap());
                let mut healthy = store.subscribe().healthy;
                tokio::time::timeout(Duration::from_secs(5), healthy.wait_for(|h| *h))
                    .await
                    .expect("redis event feed connects")
                    .unwrap();
                Self {
                    store: store.clone(),
                    clock,
                    redis: Some(store),
                    _dir: None,
                }
            }
        }
    }

    /// Lets `d` pass: the manual clock for the embedded store, real time for Redis.
    async fn pass(&self, d: Duration) {
        match &self.redis {
            None => self.clock.advance(d),
            Some(_) => tokio::time::sleep(d).await,
        }
    }

    async fn finish(self) {
        if let Some(r) = &self.redis {
            r.delete_all_with_prefix().await.unwrap();
        }
    }
}

async fn values_and_ttls(backend: Backend) {
    let s = Subject::new(backend).await;
    let st = &*s.store;
    assert_eq!(st.get("k").await.unwrap(), None);
    st.put("k", b"v1", None).await.unwrap();
    assert_eq!(st.get("k").await.unwrap().as_deref(), Some(&b"v1"[..]));
    st.put("k", b"v2", None).await.unwrap();
    assert_eq!(st.get("k").await.unwrap().as_deref(), Some(&b"v2"[..]));
    assert!(st.delete("k").await.unwrap());
    assert!(!st.delete("k").await.unwrap());

    st.put("short", b"x", Some(Duration::from_millis(300)))
        .await
        .unwrap();
    st.put("long", b"y", Some(Duration::from_secs(60)))
        .await
        .unwrap();
    assert!(st.get("short").await.unwrap().is_some());
    s.pass(Duration::from_millis(450)).await;
    assert_eq!(
        st.get("short").await.unwrap(),
        None,
        "expired values are invisible"
    );
    assert!(st.get("long").await.unwrap().is_some());
    // An expired key can be claimed again.
    assert!(st.put_if_absent("short", b"z", None).await.unwrap());
    s.finish().await;
}
crate::both_backends!(values_and_ttls_both, super::values_and_ttls);

async fn put_if_absent_has_one_winner(backend: Backend) {
    let s = Subject::new(backend).await;
    let mut tasks = Vec::new();
    for i in 0..24 {
        let st = s.store.clone();
        tasks.push(tokio::spawn(async move {
            st.put_if_absent("claim", format!("owner{i}").as_bytes(), None)
                .await
                .unwrap()
        }));
    }
    let mut winners = 0;
    for t in tasks {
        winners += usize::from(t.await.unwrap());
    }
    assert_eq!(winners, 1);
    s.finish().await;
}
crate::both_backends!(
    put_if_absent_has_one_winner_both,
    super::put_if_absent_has_one_winner
);

async fn take_is_single_use(backend: Backend) {
    let s = Subject::new(backend).await;
    s.store
        .put("flow", b"state", Some(Duration::from_secs(60)))
        .await
        .unwrap();
    let mut tasks = Vec::new();
    for _ in 0..24 {
        let st = s.store.clone();
        tasks.push(tokio::spawn(async move { st.take("flow").await.unwrap() }));
    }
    let mut got = Vec::new();
    for t in tasks {
        if let Some(v) = t.await.unwrap() {
            got.push(v);
        }
    }
    assert_eq!(got, vec![b"state".to_vec()]);
    assert_eq!(s.store.get("flow").await.unwrap(), None);
    s.finish().await;
}
crate::both_backends!(take_is_single_use_both, super::take_is_single_use);

async fn delete_if_equals_only_releases_own_claim(backend: Backend) {
    let s = Subject::new(backend).await;
    s.store.put("domain:x", b"tenant-a", None).await.unwrap();
    assert!(!s
        .store
        .delete_if_equals("domain:x", b"tenant-b")
        .await
        .unwrap());
    assert!(s.store.get("domain:x").await.unwrap().is_some());
    assert!(s
        .store
        .delete_if_equals("domain:x", b"tenant-a")
        .await
        .unwrap());
    assert_eq!(s.store.get("domain:x").await.unwrap(), None);
    s.finish().await;
}
crate::both_backends!(
    delete_if_equals_both,
    super::delete_if_equals_only_releases_own_claim
);

async fn counters_use_a_fixed_window(backend: Backend) {
    let s = Subject::new(backend).await;
    for expected in 1..=5 {
        assert_eq!(
            s.store
                .incr("rate:x", Duration::from_millis(400))
                .await
                .unwrap(),
            expected
        );
    }
    s.pass(Duration::from_millis(550)).await;
    assert_eq!(
        s.store
            .incr("rate:x", Duration::from_millis(400))
            .await
            .unwrap(),
        1
    );
    s.finish().await;
}
crate::both_backends!(counters_both, super::counters_use_a_fixed_window);

async fn indexes_are_ordered_and_counted(backend: Backend) {
    let s = Subject::new(backend).await;
    let st = &*s.store;
    for m in ["m3", "m1", "m2", "m1"] {
        st.index_add("idx", m).await.unwrap();
    }
    st.index_add("other", "zz").await.unwrap();
    assert_eq!(st.index_len("idx").await.unwrap(), 3);
    assert_eq!(
        st.index_page("idx", 0, 10).await.unwrap(),
        ["m1", "m2", "m3"]
    );
    assert_eq!(st.index_page("idx", 1, 1).await.unwrap(), ["m2"]);
    assert!(st.index_page("idx", 5, 10).await.unwrap().is_empty());
    st.index_remove("idx", "m2").await.unwrap();
    st.index_remove("idx", "absent").await.unwrap();
    assert_eq!(st.index_len("idx").await.unwrap(), 2);
    assert_eq!(st.index_page("idx", 0, 10).await.unwrap(), ["m1", "m3"]);
    assert_eq!(st.index_len("nothing").await.unwrap(), 0);
    s.finish().await;
}
crate::both_backends!(indexes_both, super::indexes_are_ordered_and_counted);

async fn events_reach_subscribers(backend: Backend) {
    let s = Subject::new(backend).await;
    let mut sub = s.store.subscribe();
    assert!(*sub.healthy.borrow());
    let event = Event::SessionRevoked {
        sid: "se_123".into(),
    };
    s.store.publish(&event).await.unwrap();
    let got = tokio::time::timeout(Duration::from_secs(2), sub.events.recv())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(got, event);
    // The publishing instance's own hooks have run by the time `publish` returns.
    let seen = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let sink = seen.clone();
    s.store
        .local_hooks()
        .add(std::sync::Arc::new(move |e: &Event| {
            sink.lock().unwrap().push(e.clone())
        }));
    s.store.publish(&event).await.unwrap();
    assert_eq!(*seen.lock().unwrap(), vec![event]);
    s.finish().await;
}
crate::both_backends!(events_both, super::events_reach_subscribers);

/// A domain belongs to at most one tenant, even when many creates race for it.
async fn concurrent_tenant_creates_claim_a_domain_once(backend: Backend) {
    let s = Subject::new(backend).await;
    let domain = crate::common::unique_domain();
    let mut tasks = Vec::new();
    for i in 0..12 {
        let st = s.store.clone();
        let clock = s.clock.clone();
        let d = domain.clone();
        tasks.push(tokio::spawn(async move {
            gatehouse::tenant::repo::create(
                &*st,
                &clock,
                gatehouse::tenant::repo::NewTenant {
                    name: format!("racer {i}"),
                    primary_domain: d,
                    secondary_domains: vec![],
                    sso_only: false,
                },
            )
            .await
        }));
    }
    let mut ok = 0;
    for t in tasks {
        match t.await.unwrap() {
            Ok(_) => ok += 1,
            Err(gatehouse::error::Error::Conflict(_)) => {}
            Err(e) => panic!("unexpected error {e}"),
        }
    }
    assert_eq!(ok, 1);
    let owner = gatehouse::tenant::repo::by_domain(&*s.store, &domain)
        .await
        .unwrap()
        .unwrap();
    let (all, total) = gatehouse::tenant::repo::list(&*s.store, 0, 100)
        .await
        .unwrap();
    assert_eq!((all.len(), total), (1, 1));
    assert_eq!(all[0].id, owner.id);
    s.finish().await;
}
crate::both_backends!(
    domain_claims_both,
    super::concurrent_tenant_creates_claim_a_domain_once
);
