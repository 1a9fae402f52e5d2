//! Session lifecycle across restarts, key rotation and several instances.

use std::time::{Duration, Instant};

use crate::common::{Backend, TestApp, PASSWORD};

/// A gateway restart loses no session, on either backend.
async fn sessions_survive_a_restart(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let (tenant, user, _) = app.tenant_with_user().await;
    let minted = app
        .mint_token(tenant["id"].as_str().unwrap(), user["id"].as_str().unwrap())
        .await;
    let token = minted["token"].as_str().unwrap().to_string();
    assert_eq!(app.verify_bearer(&token).await.status(), 200);
    let (opts, tmp) = app.stop_keep_data().await;
    let again = TestApp::spawn_with(opts).await;
    assert_eq!(
        again.verify_bearer(&token).await.status(),
        200,
        "same key ring, same record"
    );
    drop(tmp);
    again.stop().await;
}
crate::both_backends!(restart_both, super::sessions_survive_a_restart);

/// Rotation: new tokens use the new key; old tokens keep working until they expire;
/// the JWKS publishes both.
async fn rotation_keeps_old_tokens_valid(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let (tenant, user, _) = app.tenant_with_user().await;
    let (tid, uid) = (tenant["id"].as_str().unwrap(), user["id"].as_str().unwrap());
    let old = app.mint_token(tid, uid).await["token"]
        .as_str()
        .unwrap()
        .to_string();
    let old_kid = jsonwebtoken::decode_header(&old).unwrap().kid.unwrap();
    let r = app
        .admin(reqwest::Method::POST, "/signing-keys/rotate", None)
        .await;
    assert_eq!(r.status(), 200);
    let new_kid = r.json::<serde_json::Value>().await.unwrap()["active_kid"]
        .as_str()
        .unwrap()
        .to_string();
    assert_ne!(old_kid, new_kid);
    let new = app.mint_token(tid, uid).await["token"]
        .as_str()
        .unwrap()
        .to_string();
    assert_eq!(
        jsonwebtoken::decode_header(&new).unwrap().kid.unwrap(),
        new_kid
    );
    assert_eq!(app.verify_bearer(&old).await.status(), 200);
    assert_eq!(app.verify_bearer(&new).await.status(), 200);
    let jwks: serde_json::Value = reqwest::get(app.url("/.well-known/jwks.json"))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let kids: Vec<&str> = jwks["keys"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| k["kid"].as_str().unwrap())
        .collect();
    assert!(kids.contains(&old_kid.as_str()) && kids.contains(&new_kid.as_str()));
    assert!(
        jwks["keys"]
            .as_array()
            .unwrap()
            .iter()
            .all(|k| k.get("d").is_none()),
        "no private parts"
    );
    app.stop().await;
}
crate::both_backends!(rotation_both, super::rotation_keeps_old_tokens_valid);

/// Two instances on one Redis: a logout on A is refused by B within 100 ms, and a key
/// rotated on A is verified by B.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn revocation_reaches_every_instance_within_100ms() {
    let a = TestApp::spawn(Backend::Redis).await;
    let b = a.sibling().await;
    let (_, _, email) = a.tenant_with_user().await;
    let browser = a.client();
    let login = a.password_login(&browser, &email, PASSWORD, "").await;
    assert_eq!(login.status(), 303);
    let token = crate::common::session_cookie(&login).expect("login sets the session cookie");
    for _ in 0..3 {
        assert_eq!(
            b.verify_bearer(&token).await.status(),
            200,
            "B caches the session"
        );
    }
    browser.get(a.url("/logout")).send().await.unwrap();
    let started = Instant::now();
    while b.verify_bearer(&token).await.status() != 401 {
        assert!(
            started.elapsed() < Duration::from_millis(100),
            "B still honoured a revoked session"
        );
    }

    let r = a
        .admin(reqwest::Method::POST, "/signing-keys/rotate", None)
        .await;
    assert_eq!(r.status(), 200);
    let (tenant, user, _) = a.tenant_with_user().await;
    let fresh = a
        .mint_token(tenant["id"].as_str().unwrap(), user["id"].as_str().unwrap())
        .await;
    assert_eq!(
        b.verify_bearer(fresh["token"].as_str().unwrap())
            .await
            .status(),
        200
    );
    b.stop().await;
    a.stop().await;
}
