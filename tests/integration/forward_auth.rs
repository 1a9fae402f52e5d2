//! `/auth/verify` as nginx, Traefik and Caddy call it: forged tokens, trusted-proxy rules,
//! identity headers, redirect vs 401.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use serde_json::json;

use crate::common::{header, Backend, Options, TestApp};

fn b64(v: &serde_json::Value) -> String {
    URL_SAFE_NO_PAD.encode(serde_json::to_vec(v).unwrap())
}

/// Forged, tampered, expired, wrong-audience and `alg=none` tokens: 401, never 500.
async fn forged_tokens_are_401(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let (tenant, user, _) = app.tenant_with_user().await;
    let minted = app
        .mint_token(tenant["id"].as_str().unwrap(), user["id"].as_str().unwrap())
        .await;
    let good = minted["token"].as_str().unwrap().to_string();
    assert_eq!(app.verify_bearer(&good).await.status(), 200);

    let parts: Vec<&str> = good.split('.').collect();
    let claims: serde_json::Value =
        serde_json::from_slice(&URL_SAFE_NO_PAD.decode(parts[1]).unwrap()).unwrap();
    let header_json: serde_json::Value =
        serde_json::from_slice(&URL_SAFE_NO_PAD.decode(parts[0]).unwrap()).unwrap();
    let with_claims = |c: serde_json::Value| format!("{}.{}.{}", parts[0], b64(&c), parts[2]);
    let mut expired = claims.clone();
    expired["exp"] = json!(1_000_000_000);
    let mut wrong_aud = claims.clone();
    wrong_aud["aud"] = json!("someone-else");
    let mut wrong_iss = claims.clone();
    wrong_iss["iss"] = json!("https://evil.example");
    let mut other_user = claims.clone();
    other_user["sub"] = json!("us_someoneelse");
    let none_alg = format!(
        "{}.{}.",
        b64(&json!({"alg": "none", "typ": "JWT"})),
        parts[1]
    );
    let mut hs = header_json.clone();
    hs["alg"] = json!("HS256");
    let hmac_confusion = format!("{}.{}.{}", b64(&hs), parts[1], parts[2]);
    let mut unknown_kid = header_json.clone();
    unknown_kid["kid"] = json!("not-a-key");
    let unknown_kid = format!("{}.{}.{}", b64(&unknown_kid), parts[1], parts[2]);
    let mut flipped = good.clone().into_bytes();
    let last = flipped.len() - 2;
    flipped[last] = if flipped[last] == b'A' { b'B' } else { b'A' };
    let flipped = String::from_utf8(flipped).unwrap();

    for (what, token) in [
        ("expired", with_claims(expired)),
        ("wrong audience", with_claims(wrong_aud)),
        ("wrong issuer", with_claims(wrong_iss)),
        ("other subject", with_claims(other_user)),
        ("alg=none", none_alg),
        ("HS256 with the public key", hmac_confusion),
        ("unknown kid", unknown_kid),
        ("tampered signature", flipped),
        ("garbage", "not.a.jwt".into()),
        ("empty segments", "..".into()),
        ("huge", "a".repeat(6000)),
    ] {
        let r = app.verify_bearer(&token).await;
        assert_eq!(r.status(), 401, "{what}");
    }
    app.stop().await;
}
crate::both_backends!(forged_tokens_both, super::forged_tokens_are_401);

/// Revocation through the admin API is honoured at once (the cache is invalidated).
async fn revoked_sessions_stop_passing(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let (tenant, user, _) = app.tenant_with_user().await;
    let minted = app
        .mint_token(tenant["id"].as_str().unwrap(), user["id"].as_str().unwrap())
        .await;
    let token = minted["token"].as_str().unwrap();
    for _ in 0..3 {
        assert_eq!(app.verify_bearer(token).await.status(), 200); // warm the cache
    }
    let sid = minted["session_id"].as_str().unwrap();
    let r = app
        .admin(reqwest::Method::DELETE, &format!("/sessions/{sid}"), None)
        .await;
    assert_eq!(r.status(), 204);
    let started = std::time::Instant::now();
    loop {
        if app.verify_bearer(token).await.status() == 401 {
            break;
        }
        assert!(
            started.elapsed() < std::time::Duration::from_millis(100),
            "revocation took over 100 ms"
        );
    }
    app.stop().await;
}
crate::both_backends!(revocation_both, super::revoked_sessions_stop_passing);

/// Deactivating a user and changing the password end every session.
async fn deactivation_and_password_change_end_sessions(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let (tenant, user, _) = app.tenant_with_user().await;
    let (tid, uid) = (tenant["id"].as_str().unwrap(), user["id"].as_str().unwrap());
    let a = app.mint_token(tid, uid).await;
    let b = app.mint_token(tid, uid).await;
    for t in [&a, &b] {
        assert_eq!(
            app.verify_bearer(t["token"].as_str().unwrap())
                .await
                .status(),
            200
        );
    }
    let r = app
        .admin(
            reqwest::Method::PATCH,
            &format!("/tenants/{tid}/users/{uid}"),
            Some(json!({"password": "a brand new password"})),
        )
        .await;
    assert_eq!(r.status(), 200);
    for t in [&a, &b] {
        assert_eq!(
            app.verify_bearer(t["token"].as_str().unwrap())
                .await
                .status(),
            401
        );
    }
    let c = app.mint_token(tid, uid).await;
    assert_eq!(
        app.verify_bearer(c["token"].as_str().unwrap())
            .await
            .status(),
        200
    );
    let r = app
        .admin(
            reqwest::Method::PATCH,
            &format!("/tenants/{tid}/users/{uid}"),
            Some(json!({"status": "deactivated"})),
        )
        .await;
    assert_eq!(r.status(), 200);
    assert_eq!(
        app.verify_bearer(c["token"].as_str().unwrap())
            .await
            .status(),
        401
    );
    let refused = app
        .admin(
            reqwest::Method::POST,
            &format!("/tenants/{tid}/users/{uid}/sessions"),
            None,
        )
        .await;
    assert_eq!(
        refused.status(),
        409,
        "no new sessions for a deactivated user (409)"
    );
    app.stop().await;
}
crate::both_backends!(
    deactivation_both,
    super::deactivation_and_password_change_end_sessions
);

fn forwarded(req: reqwest::RequestBuilder, host: &str) -> reqwest::RequestBuilder {
    req.header("X-Forwarded-Proto", "https")
        .header("X-Forwarded-Host", host)
        .header("X-Forwarded-Uri", "/reports?id=7")
}

/// T36/T41: forwarded headers count only from trusted proxies; nginx mode answers 401 with
/// Location, redirect mode answers 302 to pages and 401 to XHR.
async fn t36_t41_trusted_proxies_and_modes(backend: Backend) {
    let mut opts = Options::new(backend);
    opts.allowed_return_hosts = vec!["app.example.test".into()];
    let untrusted = TestApp::spawn_with(opts.clone()).await;
    let c = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let r = forwarded(
        c.get(untrusted.url("/auth/verify?mode=nginx")),
        "app.example.test",
    )
    .send()
    .await
    .unwrap();
    assert_eq!(r.status(), 401);
    assert_eq!(
        header(&r, "location"),
        Some(untrusted.url("/login").as_str()),
        "untrusted peer: no return_to"
    );
    untrusted.stop().await;

    opts.trusted_proxies = vec!["127.0.0.1/32".into()];
    let app = TestApp::spawn_with(opts).await;
    let want = app.url("/login?return_to=https%3A%2F%2Fapp.example.test%2Freports%3Fid%3D7");
    let r = forwarded(
        c.get(app.url("/auth/verify?mode=nginx")),
        "app.example.test",
    )
    .header("Accept", "text/html")
    .send()
    .await
    .unwrap();
    assert_eq!(r.status(), 401, "nginx cannot follow redirects");
    assert_eq!(header(&r, "location"), Some(want.as_str()));
    let page = forwarded(c.get(app.url("/auth/verify")), "app.example.test")
        .header("Accept", "text/html,application/xhtml+xml")
        .send()
        .await
        .unwrap();
    assert_eq!(page.status(), 302);
    assert_eq!(header(&page, "location"), Some(want.as_str()));
    let xhr = forwarded(c.get(app.url("/auth/verify")), "app.example.test")
        .header("Accept", "application/json")
        .send()
        .await
        .unwrap();
    assert_eq!(xhr.status(), 401);
    // A host outside the allowed list never becomes a return_to, even from a trusted proxy.
    let foreign = forwarded(c.get(app.url("/auth/verify")), "evil.example")
        .header("Accept", "text/html")
        .send()
        .await
        .unwrap();
    assert_eq!(
        header(&foreign, "location"),
        Some(app.url("/login").as_str())
    );
    app.stop().await;
}
crate::both_backends!(
    proxies_and_modes_both,
    super::t36_t41_trusted_proxies_and_modes
);

/// T38/T40: identity headers sent by the client never come back; no header or
/// User-Agent lets an anonymous request through.
async fn t38_t40_client_headers_change_nothing(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let (tenant, user, email) = app.tenant_with_user().await;
    let c = reqwest::Client::new();
    let anon = c
        .get(app.url("/auth/verify"))
        .header("X-Gatehouse-User", "us_admin")
        .header("X-Gatehouse-Email", "ceo@example.test")
        .header("Remote-User", "admin")
        .header("User-Agent", "kube-probe/1.27")
        .header("X-Forwarded-Uri", "/healthz")
        .send()
        .await
        .unwrap();
    assert_eq!(anon.status(), 401);
    assert!(anon.headers().get("x-gatehouse-user").is_none());

    let minted = app
        .mint_token(tenant["id"].as_str().unwrap(), user["id"].as_str().unwrap())
        .await;
    let r = c
        .get(app.url("/auth/verify"))
        .bearer_auth(minted["token"].as_str().unwrap())
        .header("X-Gatehouse-Email", "ceo@example.test")
        .header("X-Gatehouse-Groups", "admins")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(header(&r, "x-gatehouse-email"), Some(email.as_str()));
    assert_eq!(header(&r, "x-gatehouse-groups"), Some("staff,eng"));
    assert_eq!(r.headers().get_all("x-gatehouse-email").iter().count(), 1);
    app.stop().await;
}
crate::both_backends!(
    client_headers_both,
    super::t38_t40_client_headers_change_nothing
);

/// T31: a token is bound to the gateway that issued it (issuer = its base URL): another
/// deployment with its own keys and URL refuses it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn t31_tokens_from_another_deployment_are_refused() {
    let a = TestApp::spawn(Backend::Embedded).await;
    let b = TestApp::spawn(Backend::Embedded).await;
    let (tenant, user, _) = a.tenant_with_user().await;
    let minted = a
        .mint_token(tenant["id"].as_str().unwrap(), user["id"].as_str().unwrap())
        .await;
    let token = minted["token"].as_str().unwrap();
    assert_eq!(a.verify_bearer(token).await.status(), 200);
    assert_eq!(b.verify_bearer(token).await.status(), 401);
    a.stop().await;
    b.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn identity_assertion_header_verifies_with_the_jwks() {
    let mut opts = Options::new(Backend::Embedded);
    opts.identity_assertion_header = true;
    let app = TestApp::spawn_with(opts).await;
    let (tenant, user, email) = app.tenant_with_user().await;
    let minted = app
        .mint_token(tenant["id"].as_str().unwrap(), user["id"].as_str().unwrap())
        .await;
    let r = app.verify_bearer(minted["token"].as_str().unwrap()).await;
    let assertion = header(&r, "x-gatehouse-assertion")
        .expect("assertion header")
        .to_string();
    let jwks: jsonwebtoken::jwk::JwkSet = reqwest::get(app.url("/.well-known/jwks.json"))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let kid = jsonwebtoken::decode_header(&assertion)
        .unwrap()
        .kid
        .unwrap();
    let key = jsonwebtoken::DecodingKey::from_jwk(jwks.find(&kid).unwrap()).unwrap();
    let mut v = jsonwebtoken::Validation::new(jsonwebtoken::Algorithm::EdDSA);
    v.set_audience(&["gatehouse-upstream"]);
    let claims = jsonwebtoken::decode::<serde_json::Value>(&assertion, &key, &v)
        .unwrap()
        .claims;
    assert_eq!(claims["email"], email);
    assert!(claims["exp"].as_i64().unwrap() - claims["iat"].as_i64().unwrap() <= 60);
    app.stop().await;
}
