//! Password sign-in through the real form: CSRF, generic failures, rate limits,
//! SSO-only enforcement and open-redirect refusal.

use crate::common::{header, unique_domain, Backend, Options, TestApp, PASSWORD};

async fn password_login_round_trip(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let (_, user, email) = app.tenant_with_user().await;
    let browser = app.client();

    let resp = app
        .password_login(&browser, &email.to_uppercase(), PASSWORD, "/")
        .await;
    assert_eq!(resp.status(), 303);
    assert_eq!(header(&resp, "location"), Some("/"));
    let cookie = header(&resp, "set-cookie").unwrap().to_string();
    for flag in ["HttpOnly", "SameSite=Lax", "Path=/"] {
        assert!(
            cookie.contains(flag),
            "session cookie lacks {flag}: {cookie}"
        );
    }
    assert!(
        !cookie.contains("Secure"),
        "plain-http gateway must not set Secure"
    );

    let home = browser
        .get(app.url("/"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(home.contains(&email), "landing page shows the email");

    let ok = app.verify(&browser).await;
    assert_eq!(ok.status(), 200);
    assert_eq!(header(&ok, "x-gatehouse-user"), user["id"].as_str());
    assert_eq!(header(&ok, "x-gatehouse-email"), Some(email.as_str()));
    assert_eq!(header(&ok, "x-gatehouse-groups"), Some("staff,eng"));

    // Logout deletes the record and the cookie.
    let csrf = crate::common::csrf_from(
        &browser
            .get(app.url("/"))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap(),
    );
    let out = browser
        .post(app.url("/logout"))
        .form(&[("csrf_token", csrf.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(out.status(), 200);
    assert!(header(&out, "set-cookie").unwrap().contains("Max-Age=0"));
    assert_eq!(app.verify(&browser).await.status(), 401);
    app.stop().await;
}
crate::both_backends!(
    password_login_round_trip_both,
    super::password_login_round_trip
);

/// Unknown email, wrong password and a deactivated account all read the same.
async fn failures_are_generic(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let (tenant, user, email) = app.tenant_with_user().await;
    let browser = app.client();
    let wrong_pw = app
        .password_login(&browser, &email, "not the password", "")
        .await;
    assert_eq!(wrong_pw.status(), 401);
    let wrong_pw = wrong_pw.text().await.unwrap();
    let unknown = app
        .password_login(
            &browser,
            &format!("nobody@{}", tenant["primary_domain"].as_str().unwrap()),
            PASSWORD,
            "",
        )
        .await;
    assert_eq!(unknown.status(), 401);
    let unknown = unknown.text().await.unwrap();
    let message = "That email and password do not match an account";
    assert!(wrong_pw.contains(message) && unknown.contains(message));
    assert_eq!(app.verify(&browser).await.status(), 401);

    let path = format!(
        "/tenants/{}/users/{}",
        tenant["id"].as_str().unwrap(),
        user["id"].as_str().unwrap()
    );
    let r = app
        .admin(
            reqwest::Method::PATCH,
            &path,
            Some(serde_json::json!({"status": "deactivated"})),
        )
        .await;
    assert_eq!(r.status(), 200);
    let deactivated = app.password_login(&browser, &email, PASSWORD, "").await;
    assert_eq!(deactivated.status(), 401);
    assert!(deactivated.text().await.unwrap().contains(message));
    app.stop().await;
}
crate::both_backends!(failures_are_generic_both, super::failures_are_generic);

async fn forms_without_matching_csrf_are_refused(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let (_, _, email) = app.tenant_with_user().await;
    let browser = app.client();
    let _ = app.csrf(&browser).await;
    for token in ["", "forged-token-forged-token-forged-token"] {
        let r = browser
            .post(app.url("/login/password"))
            .form(&[
                ("email", email.as_str()),
                ("password", PASSWORD),
                ("csrf_token", token),
            ])
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 403);
        assert!(r.text().await.unwrap().contains("This form has expired"));
    }
    // A fresh client has no CSRF cookie at all: even a well-formed token fails.
    let other = app.client();
    let token = app.csrf(&browser).await;
    let r = other
        .post(app.url("/login/password"))
        .form(&[
            ("email", email.as_str()),
            ("password", PASSWORD),
            ("csrf_token", token.as_str()),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 403);
    assert_eq!(app.verify(&other).await.status(), 401);
    app.stop().await;
}
crate::both_backends!(csrf_both, super::forms_without_matching_csrf_are_refused);

/// T27: after login, only local paths and allowed hosts are followed.
async fn t27_return_to_cannot_leave_allowed_hosts(backend: Backend) {
    let mut opts = Options::new(backend);
    opts.allowed_return_hosts = vec!["app.example.test".into()];
    let app = TestApp::spawn_with(opts).await;
    let (_, _, email) = app.tenant_with_user().await;
    for (asked, landed) in [
        (
            "https://app.example.test/reports",
            "https://app.example.test/reports",
        ),
        ("/account?tab=1", "/account?tab=1"),
        ("https://evil.example/", "/"),
        ("//evil.example/", "/"),
        ("\\\\evil.example", "/"),
        ("/\\evil.example", "/"),
        ("https:%5c%5cevil.example", "/"),
        ("/%2f%2fevil.example", "/"),
    ] {
        let browser = app.client();
        let r = app.password_login(&browser, &email, PASSWORD, asked).await;
        assert_eq!(r.status(), 303, "{asked}");
        assert_eq!(header(&r, "location"), Some(landed), "return_to {asked:?}");
    }
    app.stop().await;
}
crate::both_backends!(
    t27_return_to_both,
    super::t27_return_to_cannot_leave_allowed_hosts
);

async fn sso_only_tenant_refuses_password_login(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let domain = unique_domain();
    let tenant = app.create_tenant(&domain, true).await;
    let email = format!("bob@{domain}");
    app.create_user(tenant["id"].as_str().unwrap(), &email)
        .await;
    let browser = app.client();
    let r = app.password_login(&browser, &email, PASSWORD, "").await;
    assert_eq!(r.status(), 403);
    let page = r.text().await.unwrap();
    assert!(page.contains("requires everyone at"), "explains why");
    assert!(
        page.contains(&format!("/login/sso?domain={domain}")),
        "offers the tenant's SSO"
    );
    assert_eq!(app.verify(&browser).await.status(), 401);

    // Switching the flag off restores password login.
    let r = app
        .admin(
            reqwest::Method::PATCH,
            &format!("/tenants/{}", tenant["id"].as_str().unwrap()),
            Some(serde_json::json!({"sso_only": false})),
        )
        .await;
    assert_eq!(r.status(), 200);
    assert_eq!(
        app.password_login(&browser, &email, PASSWORD, "")
            .await
            .status(),
        303
    );
    app.stop().await;
}
crate::both_backends!(sso_only_both, super::sso_only_tenant_refuses_password_login);

async fn repeated_failures_pause_the_account(backend: Backend) {
    let mut opts = Options::new(backend);
    opts.login_failures_per_account = 3;
    let app = TestApp::spawn_with(opts).await;
    let (_, _, email) = app.tenant_with_user().await;
    let browser = app.client();
    for _ in 0..3 {
        assert_eq!(
            app.password_login(&browser, &email, "wrong password!", "")
                .await
                .status(),
            401
        );
    }
    let paused = app.password_login(&browser, &email, PASSWORD, "").await;
    assert_eq!(
        paused.status(),
        429,
        "even the right password waits out the window"
    );
    assert!(paused.text().await.unwrap().contains("Too many attempts"));
    app.stop().await;
}
crate::both_backends!(
    account_rate_limit_both,
    super::repeated_failures_pause_the_account
);

async fn client_rate_limit(backend: Backend) {
    let mut opts = Options::new(backend);
    opts.login_attempts_per_client = 4;
    let app = TestApp::spawn_with(opts).await;
    let browser = app.client();
    for i in 0..4 {
        let r = app
            .password_login(
                &browser,
                &format!("u{i}@{}", unique_domain()),
                "whatever pw",
                "",
            )
            .await;
        assert_eq!(r.status(), 401);
    }
    let r = app
        .password_login(&browser, "x@y.test", "whatever pw", "")
        .await;
    assert_eq!(r.status(), 429);
    app.stop().await;
}
crate::both_backends!(client_rate_limit_both, super::client_rate_limit);

async fn sso_routing_pages_explain_without_listing_domains(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let domain = unique_domain();
    app.create_tenant(&domain, false).await;
    let browser = app.client();
    let unknown = browser
        .get(app.url("/login/sso?domain=nobody-here.test"))
        .send()
        .await
        .unwrap();
    assert_eq!(unknown.status(), 404);
    assert!(unknown
        .text()
        .await
        .unwrap()
        .contains("No single sign-on for that domain"));
    let garbage = browser
        .get(app.url("/login/sso?domain=%3Cscript%3E"))
        .send()
        .await
        .unwrap();
    assert_eq!(garbage.status(), 404);
    let body = garbage.text().await.unwrap();
    assert!(
        !body.contains("<script>"),
        "input is never reflected unescaped"
    );
    let known = browser
        .get(app.url(&format!(
            "/login/sso?domain=ALICE@{}",
            domain.to_uppercase()
        )))
        .send()
        .await
        .unwrap();
    assert_eq!(known.status(), 409);
    assert!(known.text().await.unwrap().contains("not set up yet"));
    app.stop().await;
}
crate::both_backends!(
    sso_routing_both,
    super::sso_routing_pages_explain_without_listing_domains
);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_input_gets_pages_not_500s() {
    let app = TestApp::spawn(Backend::Embedded).await;
    let browser = app.client();
    let missing = browser
        .post(app.url("/login/password"))
        .form(&[("email", "a@b.test")])
        .send()
        .await
        .unwrap();
    assert_eq!(missing.status(), 400);
    assert!(missing.headers()["content-type"]
        .to_str()
        .unwrap()
        .starts_with("text/html"));
    let huge = "x".repeat(64 * 1024);
    let big = browser
        .post(app.url("/login/password"))
        .form(&[("email", huge.as_str())])
        .send()
        .await
        .unwrap();
    assert!(
        big.status() == 400 || big.status() == 413,
        "{}",
        big.status()
    );
    let nowhere = browser.get(app.url("/no/such/page")).send().await.unwrap();
    assert_eq!(nowhere.status(), 404);
    assert!(nowhere.text().await.unwrap().contains("Reference"));
    let login = browser.get(app.url("/login")).send().await.unwrap();
    let csp = login.headers()["content-security-policy"]
        .to_str()
        .unwrap()
        .to_string();
    assert!(csp.contains("default-src 'none'") && !csp.contains("unsafe-inline"));
    app.stop().await;
}
