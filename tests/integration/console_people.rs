//! Setting an organisation up through the console alone: an operator adds the
//! organisation, a tenant admin adds people and gives roles. Negative tests for the role
//! rules: tenant admins cannot make operators, cannot touch an operator's account or their
//! own, cannot reach another tenant's people, and role changes need a recent sign-in.

use reqwest::Method;
use serde_json::{json, Value};

use crate::common::{csrf_from, header, unique_domain, Backend, TestApp, PASSWORD};
use crate::console::Console;

async fn user_id(app: &TestApp, email: &str) -> String {
    gatehouse::user::repo::by_email(app.store(), email)
        .await
        .unwrap()
        .unwrap()
        .id
}

async fn changes(app: &TestApp, tenant_id: &str) -> Vec<gatehouse::audit::changes::ChangeEvent> {
    gatehouse::audit::changes::list(
        app.store(),
        tenant_id,
        gatehouse::audit::Window {
            since: None,
            until: None,
            limit: 100,
        },
        None,
    )
    .await
    .unwrap()
}

async fn people_and_roles(backend: Backend) {
    let c = Console::new(backend).await;
    let users = format!("/admin/tenants/{}/users", c.tid());

    // A tenant admin adds a colleague as tenant admin, with a password.
    let colleague = format!("pat@{}", c.domain);
    let r = c
        .post(
            &users,
            &[
                ("email", &colleague),
                ("display_name", "Pat"),
                ("role", "tenant_admin"),
                ("password", PASSWORD),
            ],
        )
        .await;
    assert_eq!(r.status(), 303);
    assert!(header(&r, "location")
        .unwrap()
        .ends_with("notice=person_added"));
    let pat = c.app.client();
    let r = c
        .app
        .password_login(&pat, &colleague, PASSWORD, "/admin")
        .await;
    assert_eq!(r.status(), 303);
    let r = pat
        .get(c.app.url(&format!("/admin/tenants/{}", c.tid())))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200, "the new tenant admin has a console");

    // An address outside the organisation's domains is refused next to the field,
    // keeping what was typed.
    let r = c
        .post(
            &users,
            &[("email", "eve@elsewhere.example"), ("role", "member")],
        )
        .await;
    assert_eq!(r.status(), 400);
    let html = r.text().await.unwrap();
    assert!(html.contains("Not added"), "{html}");
    assert!(html.contains("eve@elsewhere.example"), "typed value kept");

    // Negative: a tenant admin cannot make an operator, neither when adding nor later.
    let r = c
        .post(
            &users,
            &[
                ("email", &format!("root@{}", c.domain)),
                ("role", "operator"),
            ],
        )
        .await;
    assert_eq!(r.status(), 403);
    assert!(
        gatehouse::user::repo::by_email(c.app.store(), &format!("root@{}", c.domain))
            .await
            .unwrap()
            .is_none(),
        "nobody was created"
    );
    let pat_id = user_id(&c.app, &colleague).await;
    let r = c
        .post(&format!("{users}/{pat_id}/role"), &[("role", "operator")])
        .await;
    assert_eq!(r.status(), 403);
    let stored = gatehouse::user::repo::get(c.app.store(), &pat_id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(stored.role, gatehouse::user::Role::TenantAdmin);

    // A role change takes effect on the next request: demoted, Pat loses the console.
    let r = c
        .post(&format!("{users}/{pat_id}/role"), &[("role", "member")])
        .await;
    assert_eq!(r.status(), 303);
    let r = pat
        .get(c.app.url(&format!("/admin/tenants/{}", c.tid())))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 403, "members have no console");

    // Negative: nobody changes their own role or status from the console.
    let me = user_id(&c.app, &format!("it@{}", c.domain)).await;
    let r = c
        .post(
            &format!("{users}/{me}/status"),
            &[("status", "deactivated")],
        )
        .await;
    assert_eq!(r.status(), 403);

    // Negative: an operator's account in this tenant is out of the tenant admin's reach.
    let op = c
        .app
        .admin(
            Method::POST,
            &format!("/tenants/{}/users", c.tid()),
            Some(json!({"email": format!("ops@{}", c.domain), "password": PASSWORD, "role": "operator"})),
        )
        .await;
    assert_eq!(op.status(), 201);
    let op: Value = op.json().await.unwrap();
    let op_id = op["id"].as_str().unwrap();
    for (path, field) in [
        (format!("{users}/{op_id}/status"), ("status", "deactivated")),
        (format!("{users}/{op_id}/role"), ("role", "member")),
        (format!("{users}/{op_id}/sessions/revoke"), ("x", "y")),
    ] {
        let r = c.post(&path, &[field]).await;
        assert_eq!(r.status(), 403, "{path}");
    }
    let stored = gatehouse::user::repo::get(c.app.store(), op_id)
        .await
        .unwrap()
        .unwrap();
    assert!(stored.is_active());
    assert_eq!(stored.role, gatehouse::user::Role::Operator);
    let (_, html) = c.page(&users).await;
    assert!(html.contains("managed by operators"));

    // Negative: another tenant's person is "not found" through this tenant's pages, and
    // the other tenant's pages too.
    let other = c.app.create_tenant(&unique_domain(), false).await;
    let other_id = other["id"].as_str().unwrap();
    let stranger = c
        .app
        .create_user(
            other_id,
            &format!("x@{}", other["primary_domain"].as_str().unwrap()),
        )
        .await;
    let sid = stranger["id"].as_str().unwrap();
    let r = c
        .post(
            &format!("{users}/{sid}/status"),
            &[("status", "deactivated")],
        )
        .await;
    assert_eq!(r.status(), 404);
    let r = c
        .post(
            &format!("/admin/tenants/{other_id}/users"),
            &[("email", "y@x.example"), ("role", "member")],
        )
        .await;
    assert_eq!(r.status(), 404);

    // Giving a console role needs a recent sign-in; adding a member does not.
    c.app.age_sessions(&format!("it@{}", c.domain)).await;
    let r = c
        .post(
            &format!("{users}/{pat_id}/role"),
            &[("role", "tenant_admin")],
        )
        .await;
    assert_eq!(r.status(), 403);
    assert!(r.text().await.unwrap().contains("Please sign in again"));
    let r = c
        .post(
            &users,
            &[("email", &format!("kim@{}", c.domain)), ("role", "member")],
        )
        .await;
    assert_eq!(r.status(), 303);

    // Negative: CSRF.
    let r = c
        .admin
        .post(c.app.url(&users))
        .form(&[
            ("csrf_token", "forged"),
            ("email", &format!("lee@{}", c.domain)),
            ("role", "member"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 403);

    // Every change is in the configuration log with who made it.
    let log = changes(&c.app, c.tid()).await;
    let by_it =
        |e: &&gatehouse::audit::changes::ChangeEvent| e.by.describe() == format!("it@{}", c.domain);
    assert!(log
        .iter()
        .filter(by_it)
        .any(|e| e.summary == format!("{colleague} added")
            && e.details.iter().any(|d| d == "role: tenant admin")));
    assert!(log
        .iter()
        .filter(by_it)
        .any(|e| e.summary == format!("{colleague} changed")
            && e.details.iter().any(|d| d == "role: tenant admin → member")));
    c.app.stop().await;
}

crate::both_backends!(people_and_roles_both, super::people_and_roles);

/// An operator adds an organisation in the console; its domain routes at once; a tenant
/// admin cannot add organisations.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn operators_add_organisations() {
    let c = Console::new(Backend::Embedded).await;
    // Negative: the tenant admin of `c` is refused.
    let (status, _) = c.page("/admin/organisations/new").await;
    assert_eq!(status, 403);
    let r = c
        .post(
            "/admin/organisations",
            &[("name", "Sneaky"), ("primary_domain", &unique_domain())],
        )
        .await;
    assert_eq!(r.status(), 403);

    // An operator (made through the API) signs in and adds one.
    let op_email = format!("ops@{}", c.domain);
    let r = c
        .app
        .admin(
            Method::POST,
            &format!("/tenants/{}/users", c.tid()),
            Some(json!({"email": op_email, "password": PASSWORD, "role": "operator"})),
        )
        .await;
    assert_eq!(r.status(), 201);
    let op = c.app.client();
    c.app
        .password_login(&op, &op_email, PASSWORD, "/admin")
        .await;
    let html = op
        .get(c.app.url("/admin/organisations/new"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let csrf = csrf_from(&html);
    let bad = op
        .post(c.app.url("/admin/organisations"))
        .form(&[
            ("csrf_token", csrf.as_str()),
            ("name", "Globex"),
            ("primary_domain", "not a domain"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(bad.status(), 400);
    let html = bad.text().await.unwrap();
    assert!(html.contains("primary_domain"), "{html}");
    assert!(html.contains("Globex"), "typed values kept");

    let domain = unique_domain();
    let second = unique_domain();
    let r = op
        .post(c.app.url("/admin/organisations"))
        .form(&[
            ("csrf_token", csrf.as_str()),
            ("name", "Globex"),
            ("primary_domain", &domain.to_uppercase()),
            ("secondary_domains", &format!("{second}, ")),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 303);
    let location = header(&r, "location").unwrap().to_owned();
    assert!(
        location.ends_with("?notice=organisation_added"),
        "{location}"
    );
    let tenant = gatehouse::tenant::repo::by_domain(c.app.store(), &domain)
        .await
        .unwrap()
        .expect("the domain routes to the new organisation");
    assert_eq!(tenant.name, "Globex");
    assert_eq!(tenant.secondary_domains, [second]);
    let html = op
        .get(c.app.url(&location))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(html.contains("The organisation was added"));
    // The same domain cannot be added twice.
    let dup = op
        .post(c.app.url("/admin/organisations"))
        .form(&[
            ("csrf_token", csrf.as_str()),
            ("name", "Copy"),
            ("primary_domain", &domain),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(dup.status(), 400);
    assert!(dup.text().await.unwrap().contains("already belongs"));
    let log = changes(&c.app, &tenant.id).await;
    assert!(log
        .iter()
        .any(|e| e.summary == "organisation \"Globex\" created" && e.by.describe() == op_email));
    c.app.stop().await;
}
