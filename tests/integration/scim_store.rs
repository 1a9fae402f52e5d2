//! `Store::batch`, which SCIM writes use to land a person's record, attributes and indexes
//! in one round trip: the same results on both backends as the single operations.

use std::time::Duration;

use gatehouse::store::BatchOp;

use crate::common::{unique, Backend, TestApp};

async fn batch_applies_every_operation(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let store = app.store();
    let p = unique("batch");
    let (a, b, idx) = (format!("{p}:a"), format!("{p}:b"), format!("{p}:idx"));
    store.put(&b, b"old", None).await.unwrap();
    store.index_add(&idx, "m0").await.unwrap();
    store
        .batch(&[
            BatchOp::Put {
                key: a.clone(),
                value: b"A".to_vec(),
                ttl: Some(Duration::from_secs(60)),
            },
            BatchOp::Delete { key: b.clone() },
            BatchOp::IndexAdd {
                index: idx.clone(),
                member: "m2".into(),
            },
            BatchOp::IndexAdd {
                index: idx.clone(),
                member: "m1".into(),
            },
            BatchOp::IndexAdd {
                index: idx.clone(),
                member: "m1".into(),
            },
            BatchOp::IndexRemove {
                index: idx.clone(),
                member: "m0".into(),
            },
            BatchOp::IndexRemove {
                index: idx.clone(),
                member: "absent".into(),
            },
        ])
        .await
        .unwrap();
    assert_eq!(store.get(&a).await.unwrap().as_deref(), Some(&b"A"[..]));
    assert_eq!(store.get(&b).await.unwrap(), None);
    assert_eq!(
        store.index_page(&idx, 0, 10).await.unwrap(),
        vec!["m1", "m2"]
    );
    assert_eq!(
        store.index_len(&idx).await.unwrap(),
        2,
        "duplicates and absent members counted right"
    );
    store.batch(&[]).await.unwrap();
    // A short TTL inside a batch expires like a single put's.
    store
        .batch(&[BatchOp::Put {
            key: a.clone(),
            value: b"x".to_vec(),
            ttl: Some(Duration::from_millis(50)),
        }])
        .await
        .unwrap();
    let mut gone = false;
    for _ in 0..100 {
        if store.get(&a).await.unwrap().is_none() {
            gone = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert!(gone, "TTL honoured");
    app.stop().await;
}
crate::both_backends!(batch_both, super::batch_applies_every_operation);

async fn put_all_if_absent_is_all_or_nothing(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let store = app.store();
    let p = unique("claims");
    let (a, b, c) = (format!("{p}:a"), format!("{p}:b"), format!("{p}:c"));
    let entries = |keys: &[&String], v: &[u8]| -> Vec<(String, Vec<u8>)> {
        keys.iter().map(|k| ((*k).clone(), v.to_vec())).collect()
    };
    assert!(store
        .put_all_if_absent(&entries(&[&a, &b], b"one"))
        .await
        .unwrap());
    // b is held: nothing is written, not even c.
    assert!(!store
        .put_all_if_absent(&entries(&[&c, &b], b"two"))
        .await
        .unwrap());
    assert_eq!(store.get(&c).await.unwrap(), None);
    assert_eq!(store.get(&b).await.unwrap().as_deref(), Some(&b"one"[..]));
    assert!(store.put_all_if_absent(&[]).await.unwrap());
    // Concurrent claimers of overlapping keys: exactly one wins.
    let mut wins = 0;
    let results = futures_util::future::join_all((0..8).map(|i| {
        let keys = vec![
            (format!("{p}:x"), vec![i]),
            (format!("{p}:y{}", i % 2), vec![i]),
        ];
        async move { store.put_all_if_absent(&keys).await.unwrap() }
    }))
    .await;
    wins += results.into_iter().filter(|w| *w).count();
    assert_eq!(wins, 1);
    app.stop().await;
}
crate::both_backends!(
    put_all_if_absent_both,
    super::put_all_if_absent_is_all_or_nothing
);
