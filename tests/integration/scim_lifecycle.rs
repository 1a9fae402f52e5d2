//! Deprovisioning (T42, T49): `active=false` and DELETE over SCIM end every session at once
//! — on every instance within 100 ms — and keep the person from coming back just in time;
//! reactivation restores sign-in.

use std::io::Read;
use std::time::{Duration, Instant};

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use reqwest::Method;
use serde_json::{json, Value};

use crate::common::{header, session_cookie, Backend};
use crate::saml_idp::{Resp, TestIdp};
use crate::scim_support::{ops, Scim, USER};

async fn minted_status(s: &Scim, user_id: &str) -> u16 {
    s.app
        .admin(
            Method::POST,
            &format!("/tenants/{}/users/{user_id}/sessions", s.tenant_id),
            None,
        )
        .await
        .status()
        .as_u16()
}

/// T49 on one instance: deactivate (Entra's string boolean), Okta's PUT without `active`
/// keeps the status either way, reactivate, delete, re-create.
async fn t49_deactivate_reactivate_delete(backend: Backend) {
    let s = Scim::start(backend).await;
    let u = s.create_user("dana").await;
    let id = u["id"].as_str().unwrap().to_string();
    let token = s.session(&id).await;
    assert_eq!(s.app.verify_bearer(&token).await.status(), 200);

    let off = s
        .patch(
            &format!("/Users/{id}"),
            ops(json!([{"op": "Replace", "path": "active", "value": "False"}])),
        )
        .await;
    assert_eq!(off.status, 200, "{}", off.body);
    assert_eq!(off.body["active"], false);
    assert_eq!(
        s.app.verify_bearer(&token).await.status(),
        401,
        "session ended at once"
    );
    assert_eq!(s.admin_user(&id).await["status"], "deprovisioned");
    assert_eq!(
        minted_status(&s, &id).await,
        409,
        "no new session for a deprovisioned person"
    );
    assert_eq!(
        s.filter("Users", "active eq false").await["totalResults"],
        1
    );

    // Okta's full replace leaves `active` out: the status stays what it is.
    let email = s.email("dana");
    let full = json!({"schemas": [USER], "userName": email, "name": {"givenName": "Dana", "familyName": "Test"},
                      "emails": [{"value": email, "type": "work", "primary": true}]});
    let put = s.put(&format!("/Users/{id}"), full.clone()).await;
    assert_eq!(put.status, 200, "{}", put.body);
    assert_eq!(
        put.body["active"], false,
        "PUT without active does not reactivate"
    );

    let on = s
        .patch(
            &format!("/Users/{id}"),
            ops(json!([{"op": "replace", "value": {"active": true}}])),
        )
        .await;
    assert_eq!(on.body["active"], true);
    assert_eq!(s.admin_user(&id).await["status"], "active");
    let token = s.session(&id).await;
    assert_eq!(
        s.app.verify_bearer(&token).await.status(),
        200,
        "reactivation restores sign-in"
    );
    let full_again = full.clone();
    let put = s.put(&format!("/Users/{id}"), full).await;
    assert_eq!(
        put.body["active"], true,
        "T44: PUT without active does not deactivate"
    );
    assert_eq!(s.app.verify_bearer(&token).await.status(), 200);
    // Removing `active` unassigns the attribute but is no instruction to switch anyone off.
    let removed = s
        .patch(
            &format!("/Users/{id}"),
            ops(json!([{"op": "remove", "path": "active"}])),
        )
        .await;
    assert_eq!(removed.status, 200, "{}", removed.body);
    assert!(removed.body.get("active").is_none());
    assert_eq!(s.app.verify_bearer(&token).await.status(), 200);
    let kept = s.put(&format!("/Users/{id}"), full_again.clone()).await;
    assert!(kept.body.get("active").is_none(), "PUT keeps it unassigned");
    let back = s
        .patch(
            &format!("/Users/{id}"),
            ops(json!([{"op": "add", "path": "active", "value": true}])),
        )
        .await;
    assert_eq!(back.body["active"], true);

    assert_eq!(s.delete(&format!("/Users/{id}")).await.status, 204);
    assert_eq!(s.app.verify_bearer(&token).await.status(), 401);
    assert_eq!(
        s.admin_user(&id).await["status"],
        "deprovisioned",
        "kept, switched off"
    );
    s.get(&format!("/Users/{id}"))
        .await
        .assert_error(404, None, "hidden from SCIM");
    assert_eq!(
        s.filter("Users", &format!("userName eq \"{email}\"")).await["totalResults"],
        0
    );
    assert_eq!(s.get("/Users").await.body["totalResults"], 0);
    // The IdP creates the person again (rehired): the same person comes back, active.
    let again = s.create_user("dana").await;
    assert_eq!(again["id"], id.as_str());
    assert_eq!(again["active"], true);
    assert_eq!(s.get("/Users").await.body["totalResults"], 1);
    s.stop().await;
}
crate::both_backends!(t49_lifecycle_both, super::t49_deactivate_reactivate_delete);

/// T42/T49: two gateway instances on one Redis; deactivation over SCIM on A makes B refuse
/// the person's session within 100 ms, and so does DELETE.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn t42_t49_scim_deactivation_reaches_every_instance_within_100ms() {
    let s = Scim::start(Backend::Redis).await;
    let b = s.app.sibling().await;
    for (local, deprovision) in [("eli", "patch"), ("fay", "delete")] {
        let id = s.create_user(local).await["id"]
            .as_str()
            .unwrap()
            .to_string();
        let token = s.session(&id).await;
        for _ in 0..3 {
            assert_eq!(
                b.verify_bearer(&token).await.status(),
                200,
                "B caches the session"
            );
        }
        let answer = if deprovision == "patch" {
            s.patch(
                &format!("/Users/{id}"),
                ops(json!([{"op": "replace", "path": "active", "value": false}])),
            )
            .await
        } else {
            s.delete(&format!("/Users/{id}")).await
        };
        assert!(answer.status < 300, "{}", answer.body);
        let started = Instant::now();
        while b.verify_bearer(&token).await.status() != 401 {
            assert!(
                started.elapsed() < Duration::from_millis(100),
                "B still honoured the session of a person deprovisioned by {deprovision}"
            );
        }
        assert_eq!(s.app.verify_bearer(&token).await.status(), 401);
    }
    b.stop().await;
    s.stop().await;
}

/// SP-initiated SAML sign-in for `email`; returns the ACS answer.
async fn saml_login(s: &Scim, idp: &TestIdp, email: &str) -> reqwest::Response {
    let browser = s.app.client();
    let r = browser
        .get(s.app.url(&format!("/login/sso?domain={}", s.domain)))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 303);
    let location = url::Url::parse(header(&r, "location").unwrap()).unwrap();
    let q: std::collections::HashMap<String, String> =
        location.query_pairs().into_owned().collect();
    let mut xml = String::new();
    flate2::read::DeflateDecoder::new(&STANDARD.decode(&q["SAMLRequest"]).unwrap()[..])
        .read_to_string(&mut xml)
        .unwrap();
    let request: samael::schema::AuthnRequest = xml.parse().unwrap();
    let acs = s.app.url(&format!("/saml/acs/{}", s.domain));
    let entity = s.app.url(&format!("/saml/metadata/{}", s.domain));
    let resp = Resp::new(&acs, &entity, Some(&request.id), email);
    browser
        .post(&acs)
        .form(&[
            ("SAMLResponse", idp.response(&resp).as_str()),
            ("RelayState", q["RelayState"].as_str()),
        ])
        .send()
        .await
        .unwrap()
}

/// T49: after DELETE over SCIM the next SAML login is refused and does not create the
/// person again, even with just-in-time creation on; re-provisioning brings them back.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn t49_deleted_people_are_not_recreated_just_in_time() {
    let s = Scim::start(Backend::Embedded).await;
    let idp = TestIdp::new("https://idp.example.test/metadata");
    let r = s
        .app
        .admin(
            Method::PUT,
            &format!("/tenants/{}/saml", s.tenant_id),
            Some(json!({"provider": "custom", "idp_entity_id": idp.entity_id, "idp_sso_url": idp.sso_url,
                        "certificate": idp.cert_pem, "jit_provisioning": true})),
        )
        .await;
    assert_eq!(r.status(), 200, "{}", r.text().await.unwrap());
    let email = s.email("gus");
    let id = s.create_user("gus").await["id"]
        .as_str()
        .unwrap()
        .to_string();
    let ok = saml_login(&s, &idp, &email).await;
    assert_eq!(ok.status(), 303, "provisioned person signs in");
    let token = session_cookie(&ok).unwrap();
    assert_eq!(s.app.verify_bearer(&token).await.status(), 200);

    assert_eq!(s.delete(&format!("/Users/{id}")).await.status, 204);
    assert_eq!(s.app.verify_bearer(&token).await.status(), 401);
    let refused = saml_login(&s, &idp, &email).await;
    assert_eq!(refused.status(), 403, "deleted over SCIM: no sign-in");
    assert!(session_cookie(&refused).is_none());
    let users: Value = s
        .app
        .admin(
            Method::GET,
            &format!("/tenants/{}/users/{id}", s.tenant_id),
            None,
        )
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(
        users["status"], "deprovisioned",
        "not re-created or reactivated just in time"
    );
    assert_eq!(
        s.filter("Users", &format!("userName eq \"{email}\"")).await["totalResults"],
        0
    );

    let back = s.create_user("gus").await;
    assert_eq!(back["id"], id.as_str());
    assert_eq!(
        saml_login(&s, &idp, &email).await.status(),
        303,
        "re-provisioned"
    );
    s.stop().await;
}
