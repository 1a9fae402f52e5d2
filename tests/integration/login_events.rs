//! Login events through the admin API: every decided attempt is recorded with the precise
//! cause, newest first, filterable by outcome, email and time.

use reqwest::Method;
use serde_json::Value;

use crate::common::{Backend, TestApp, PASSWORD};

async fn events(app: &TestApp, tenant_id: &str, query: &str) -> Vec<Value> {
    let r = app
        .admin(
            Method::GET,
            &format!("/tenants/{tenant_id}/login-events{query}"),
            None,
        )
        .await;
    assert_eq!(r.status(), 200, "{query}");
    let body: Value = r.json().await.unwrap();
    body["items"].as_array().unwrap().clone()
}

async fn password_events_carry_the_precise_cause(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let (tenant, user, email) = app.tenant_with_user().await;
    let tid = tenant["id"].as_str().unwrap();

    let browser = app.client();
    let wrong = app
        .password_login(&browser, &email, "not the password", "/")
        .await;
    assert_eq!(wrong.status(), 401);
    let unknown = format!("nobody@{}", email.split_once('@').unwrap().1);
    app.password_login(&browser, &unknown, PASSWORD, "/").await;
    let ok = app.password_login(&browser, &email, PASSWORD, "/").await;
    assert_eq!(ok.status(), 303);

    let all = events(&app, tid, "").await;
    assert_eq!(all.len(), 3, "{all:?}");
    // Newest first.
    assert_eq!(all[0]["outcome"], "succeeded");
    assert_eq!(all[0]["user_id"], user["id"]);
    assert_eq!(all[1]["cause"], "no account with this email");
    assert_eq!(all[2]["cause"], "wrong password");
    assert!(all.iter().all(|e| e["method"] == "password"));

    let refused = events(&app, tid, "?outcome=refused").await;
    assert_eq!(refused.len(), 2);
    let by_email = events(&app, tid, &format!("?email={}", email.to_uppercase())).await;
    assert_eq!(by_email.len(), 2, "case-insensitive email filter");
    let later = events(&app, tid, "?since=2999-01-01T00:00:00Z").await;
    assert!(later.is_empty());
    let limited = events(&app, tid, "?limit=1").await;
    assert_eq!(limited.len(), 1);

    let bad = app
        .admin(
            Method::GET,
            &format!("/tenants/{tid}/login-events?outcome=maybe"),
            None,
        )
        .await;
    assert_eq!(bad.status(), 400, "an unknown outcome is a clear 400");
    app.stop().await;
}
crate::both_backends!(
    password_events,
    super::password_events_carry_the_precise_cause
);
