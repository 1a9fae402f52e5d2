//! SCIM over HTTP: API keys, Users CRUD, filters, paging, projections, versions, errors,
//! tenant isolation, domains and license types — on both stores.

use reqwest::Method;
use serde_json::{json, Value};

use crate::common::{Backend, PASSWORD};
use crate::scim_support::{create_key, ops, Scim, ENTERPRISE, GATEHOUSE, USER};

/// Keys: created with the secret shown once, listed without it, never with a hash; usable
/// at once; revoked keys open nothing.
async fn api_key_lifecycle(backend: Backend) {
    let s = Scim::start(backend).await;
    let created = create_key(&s.app, &s.tenant_id, "Okta", json!(["scim", "admin"])).await;
    let secret = created["secret"].as_str().unwrap();
    assert!(
        secret.starts_with("ghk_") && secret.len() >= 47,
        "256-bit key"
    );
    assert_eq!(created["scopes"], json!(["scim", "admin"]));
    assert!(created.get("hash").is_none());
    let list: Value = s
        .app
        .admin(
            Method::GET,
            &format!("/tenants/{}/api-keys", s.tenant_id),
            None,
        )
        .await
        .json()
        .await
        .unwrap();
    let items = list["items"].as_array().unwrap();
    assert_eq!(items.len(), 2);
    let text = list.to_string();
    assert!(
        !text.contains(secret) && !text.contains("hash"),
        "list shows no secret"
    );

    let a = s
        .send_raw(
            Method::GET,
            "/Users?startIndex=1&count=2",
            Some(secret),
            None,
            &[],
        )
        .await;
    assert_eq!(a.status, 200);
    // Last use is recorded (off the request path).
    let mut used = false;
    for _ in 0..100 {
        let list: Value = s
            .app
            .admin(
                Method::GET,
                &format!("/tenants/{}/api-keys", s.tenant_id),
                None,
            )
            .await
            .json()
            .await
            .unwrap();
        used = list["items"]
            .as_array()
            .unwrap()
            .iter()
            .any(|k| k["id"] == created["id"] && k["last_used_at"].is_string());
        if used {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    assert!(used, "last_used_at set");

    let r = s
        .app
        .admin(
            Method::DELETE,
            &format!(
                "/tenants/{}/api-keys/{}",
                s.tenant_id,
                created["id"].as_str().unwrap()
            ),
            None,
        )
        .await;
    assert_eq!(r.status(), 204);
    s.send_raw(Method::GET, "/Users", Some(secret), None, &[])
        .await
        .assert_error(401, None, "revoked key");
    // The other key still works: rotation with overlap.
    assert_eq!(s.get("/Users").await.status, 200);
    let bad = s
        .app
        .admin(
            Method::POST,
            &format!("/tenants/{}/api-keys", s.tenant_id),
            Some(json!({"label": "", "scopes": ["scim"]})),
        )
        .await;
    assert_eq!(bad.status(), 400);
    let bad = s
        .app
        .admin(
            Method::POST,
            &format!("/tenants/{}/api-keys", s.tenant_id),
            Some(json!({"label": "x", "scopes": ["root"]})),
        )
        .await;
    assert_eq!(bad.status(), 400);
    s.stop().await;
}
crate::both_backends!(api_key_lifecycle_both, super::api_key_lifecycle);

/// T48: every credential failure is the same 401; a key reaches only its own tenant.
async fn t48_keys_are_per_tenant(backend: Backend) {
    let a = Scim::start(backend).await;
    let alice = a.create_user("alice").await;
    let b = Scim::on(a.app.clone()).await;
    let bob = b.create_user("bob").await;

    let mut bodies = Vec::new();
    for (token, what) in [
        (None, "no header"),
        (
            Some("ghk_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"),
            "unknown key",
        ),
        (Some("not-a-key"), "garbage"),
        (Some(a.app.admin_token.as_str()), "operator token"),
    ] {
        let r = a.send_raw(Method::GET, "/Users", token, None, &[]).await;
        r.assert_error(401, None, what);
        assert!(r
            .header("www-authenticate")
            .is_some_and(|h| h.starts_with("Bearer")));
        bodies.push(r.body);
    }
    assert!(bodies.windows(2).all(|w| w[0] == w[1]), "identical 401s");
    let admin_only = create_key(&a.app, &a.tenant_id, "console", json!(["admin"])).await;
    a.send_raw(
        Method::GET,
        "/Users",
        admin_only["secret"].as_str(),
        None,
        &[],
    )
    .await
    .assert_error(401, None, "key without the scim scope");
    let basic = a
        .send_raw(
            Method::GET,
            "/Users",
            None,
            None,
            &[("authorization", &format!("Basic {}", a.token))],
        )
        .await;
    basic.assert_error(401, None, "another scheme");

    // A's key cannot see, change or delete B's person, whatever the URL says.
    let bob_id = bob["id"].as_str().unwrap();
    a.get(&format!("/Users/{bob_id}"))
        .await
        .assert_error(404, None, "foreign user");
    a.patch(
        &format!("/Users/{bob_id}"),
        ops(json!([{"op": "replace", "path": "active", "value": false}])),
    )
    .await
    .assert_error(404, None, "foreign patch");
    a.delete(&format!("/Users/{bob_id}"))
        .await
        .assert_error(404, None, "foreign delete");
    let list = a.get("/Users").await.body;
    assert_eq!(list["totalResults"], 1);
    assert_eq!(list["Resources"][0]["id"], alice["id"]);
    assert_eq!(
        a.filter("Users", &format!("userName eq \"{}\"", b.email("bob")))
            .await["totalResults"],
        0
    );
    assert_eq!(
        b.get(&format!("/Users/{bob_id}")).await.body["active"],
        true
    );
    b.stop().await;
    a.stop().await;
}
crate::both_backends!(t48_keys_are_per_tenant_both, super::t48_keys_are_per_tenant);

/// Create, read, replace, patch, delete, with versions and the attributes each keeps.
async fn users_crud(backend: Backend) {
    let s = Scim::start(backend).await;
    let email = s.email("barbara");
    let created = s
        .post(
            "/Users",
            json!({
                "schemas": [USER, ENTERPRISE, GATEHOUSE],
                "userName": email,
                "externalId": "ext-001",
                "name": {"givenName": "Barbara", "familyName": "Jensen", "formatted": "Ms. Barbara J Jensen"},
                "displayName": "Babs Jensen",
                "title": "Tour Guide",
                "preferredLanguage": "en-US",
                "locale": "en-US",
                "emails": [{"value": email, "type": "work", "primary": true}, {"value": "babs@jensen.org", "type": "home"}],
                "phoneNumbers": [{"value": "+1 555 0100", "type": "work"}],
                "addresses": [{"type": "work", "locality": "Oslo", "country": "NO"}],
                ENTERPRISE: {"department": "Tours", "employeeNumber": "701984", "costCenter": "4130",
                             "organization": "Universal", "division": "Theme Park", "manager": {"value": "us_boss"}},
                GATEHOUSE: {"office": "Oslo", "licenseType": "talk"},
                "active": true
            }),
        )
        .await;
    assert_eq!(created.status, 201, "{}", created.body);
    let u = &created.body;
    let id = u["id"].as_str().unwrap();
    assert_eq!(created.header("location"), u["meta"]["location"].as_str());
    assert_eq!(created.header("etag"), u["meta"]["version"].as_str());
    assert_eq!(u["meta"]["resourceType"], "User");
    assert_eq!(u["schemas"], json!([USER, ENTERPRISE, GATEHOUSE]));
    assert_eq!(u[ENTERPRISE]["manager"]["value"], "us_boss");
    assert_eq!(u[GATEHOUSE]["office"], "Oslo");
    assert_eq!(u["addresses"][0]["country"], "NO");
    assert_eq!(u["active"], true);
    assert!(u.get("password").is_none());

    let got = s.get(&format!("/Users/{id}")).await;
    assert_eq!(got.status, 200);
    assert_eq!(got.body, created.body);
    // The core person behind it: sign-in address, display name, SSO only.
    let core = s.admin_user(id).await;
    assert_eq!(core["email"], email);
    assert_eq!(core["display_name"], "Babs Jensen");
    assert_eq!(core["has_password"], false);

    // If-Match with an old version: 412; with the current one: applied.
    let v1 = got.header("etag").unwrap().to_string();
    let patched = s
        .send_raw(
            Method::PATCH,
            &format!("/Users/{id}"),
            Some(&s.token.clone()),
            Some(
                ops(json!([{"op": "replace", "path": "title", "value": "Lead Guide"}]))
                    .to_string()
                    .into(),
            ),
            &[("if-match", &v1)],
        )
        .await;
    assert_eq!(patched.status, 200, "{}", patched.body);
    assert_ne!(patched.header("etag").unwrap(), v1, "the version moves");
    s.send_raw(
        Method::PATCH,
        &format!("/Users/{id}"),
        Some(&s.token.clone()),
        Some(
            ops(json!([{"op": "replace", "path": "title", "value": "x"}]))
                .to_string()
                .into(),
        ),
        &[("if-match", &v1)],
    )
    .await
    .assert_error(412, None, "stale If-Match");
    let not_modified = s
        .send_raw(
            Method::GET,
            &format!("/Users/{id}"),
            Some(&s.token.clone()),
            None,
            &[("if-none-match", patched.header("etag").unwrap())],
        )
        .await;
    assert_eq!(not_modified.status, 304);

    // PUT replaces everything it names; what it leaves out is gone.
    let put = s
        .put(
            &format!("/Users/{id}"),
            json!({"schemas": [USER], "userName": email, "displayName": "Barbara J.",
                   "emails": [{"value": email, "type": "work", "primary": true}]}),
        )
        .await;
    assert_eq!(put.status, 200, "{}", put.body);
    assert!(put.body.get("title").is_none() && put.body.get(ENTERPRISE).is_none());
    assert!(put.body.get("externalId").is_none());
    assert_eq!(put.body["active"], true, "active left out keeps the status");
    assert_eq!(
        s.filter("Users", "externalId eq \"ext-001\"").await["totalResults"],
        0,
        "old externalId released"
    );

    // Renaming the sign-in address moves the email claim.
    let new_email = s.email("barbara.jensen");
    let moved = s
        .patch(
            &format!("/Users/{id}"),
            ops(json!([{"op": "replace", "path": "userName", "value": new_email},
                       {"op": "replace", "path": "emails[type eq \"work\"].value", "value": new_email}])),
        )
        .await;
    assert_eq!(moved.status, 200, "{}", moved.body);
    assert_eq!(s.admin_user(id).await["email"], new_email);
    assert_eq!(
        s.filter("Users", &format!("userName eq \"{email}\"")).await["totalResults"],
        0
    );
    assert_eq!(
        s.filter("Users", &format!("emails.value eq \"{new_email}\""))
            .await["totalResults"],
        1
    );
    // The old address is free again.
    let again = s.create_user("barbara").await;
    assert_ne!(again["id"], id);

    let del = s.delete(&format!("/Users/{id}")).await;
    assert_eq!(del.status, 204);
    s.get(&format!("/Users/{id}"))
        .await
        .assert_error(404, None, "deleted user");
    s.delete(&format!("/Users/{id}"))
        .await
        .assert_error(404, None, "deleted twice");
    s.stop().await;
}
crate::both_backends!(users_crud_both, super::users_crud);

/// Filters (T46) over HTTP, stable paging, attribute projection.
async fn users_list_filter_page_project(backend: Backend) {
    let s = Scim::start(backend).await;
    let mut ids = Vec::new();
    for name in ["ann", "bob", "cid", "dee", "eve"] {
        ids.push(
            s.create_user(name).await["id"]
                .as_str()
                .unwrap()
                .to_string(),
        );
    }
    ids.sort();
    // Stable order: pages of two cover everyone once, in id order.
    let mut seen = Vec::new();
    for start in [1, 3, 5] {
        let page = s
            .get(&format!("/Users?startIndex={start}&count=2"))
            .await
            .body;
        assert_eq!(page["totalResults"], 5);
        assert_eq!(page["startIndex"], start);
        assert_eq!(
            page["schemas"],
            json!(["urn:ietf:params:scim:api:messages:2.0:ListResponse"])
        );
        for r in page["Resources"].as_array().unwrap() {
            seen.push(r["id"].as_str().unwrap().to_string());
        }
    }
    assert_eq!(seen, ids);
    let zero = s.get("/Users?count=0").await.body;
    assert_eq!(
        (zero["totalResults"].clone(), zero["itemsPerPage"].clone()),
        (json!(5), json!(0))
    );

    let owned = s;
    let s = &owned;
    let f = |q: String| async move { s.filter("Users", &q).await };
    assert_eq!(
        f(format!("userName eq \"{}\"", s.email("BOB").to_uppercase())).await["totalResults"],
        1,
        "case-insensitive userName"
    );
    assert_eq!(
        f("name.givenName sw \"c\" or name.givenName eq \"eve\"".into()).await["totalResults"],
        2
    );
    assert_eq!(
        f("not (name.givenName eq \"ann\") and active eq true".into()).await["totalResults"],
        4
    );
    assert_eq!(
        f(format!(
            "emails[type eq \"work\" and value ew \"@{}\"]",
            s.domain
        ))
        .await["totalResults"],
        5
    );
    assert_eq!(
        f("meta.created gt \"2000-01-01T00:00:00Z\"".into()).await["totalResults"],
        5
    );
    assert_eq!(f("title pr".into()).await["totalResults"], 0);
    let paged = f("userName co \"@\"".into()).await;
    assert_eq!(paged["totalResults"], 5);

    let bad = s.get("/Users?filter=userName%20eq").await;
    bad.assert_error(400, Some("invalidFilter"), "incomplete filter");
    let bad = s.get("/Users?filter=nosuch%20eq%20%22x%22").await;
    bad.assert_error(400, Some("invalidFilter"), "unknown attribute");
    assert!(bad.body["detail"].as_str().unwrap().contains("nosuch"));
    let deep = format!("{}userName pr{}", "(".repeat(40), ")".repeat(40));
    let q: String = url::form_urlencoded::byte_serialize(deep.as_bytes()).collect();
    s.get(&format!("/Users?filter={q}"))
        .await
        .assert_error(400, Some("invalidFilter"), "too deep");
    s.get("/Users?count=lots")
        .await
        .assert_error(400, Some("invalidValue"), "count not a number");

    let only = s
        .get("/Users?attributes=userName,name.givenName&count=1")
        .await
        .body;
    let r = &only["Resources"][0];
    let keys: Vec<&String> = r.as_object().unwrap().keys().collect();
    assert_eq!(keys.len(), 4, "{r}");
    assert!(r["id"].is_string() && r["userName"].is_string() && r["name"]["givenName"].is_string());
    assert!(r["name"].get("familyName").is_none());
    // The same query as a POST to /Users/.search; several types at once is not offered.
    let search = s
        .post(
            "/Users/.search",
            json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:SearchRequest"],
                   "filter": "name.givenName eq \"bob\"", "attributes": ["userName"], "startIndex": 1, "count": 10}),
        )
        .await;
    assert_eq!(search.status, 200, "{}", search.body);
    assert_eq!(search.body["totalResults"], 1);
    assert!(search.body["Resources"][0]["userName"].is_string());
    assert!(search.body["Resources"][0].get("emails").is_none());
    s.post("/Users/.search", json!({"filter": 5}))
        .await
        .assert_error(400, Some("invalidFilter"), "filter not a string");
    s.post("/.search", json!({}))
        .await
        .assert_error(501, None, "several types at once");
    let without = s
        .get(&format!("/Users/{}?excludedAttributes=emails,meta", ids[0]))
        .await
        .body;
    assert!(
        without.get("emails").is_none()
            && without.get("meta").is_none()
            && without["id"].is_string()
    );
    owned.stop().await;
}
crate::both_backends!(users_list_both, super::users_list_filter_page_project);

/// Bad input: precise SCIM errors, never a 500, and nothing written by a refused request.
async fn bad_input_is_refused_without_partial_writes(backend: Backend) {
    let s = Scim::start(backend).await;
    let send = |body: &'static str| {
        s.send_raw(
            Method::POST,
            "/Users",
            Some(&s.token),
            Some(body.into()),
            &[],
        )
    };
    send("{\"userName\": ")
        .await
        .assert_error(400, Some("invalidSyntax"), "malformed JSON");
    send("")
        .await
        .assert_error(400, Some("invalidSyntax"), "empty body");
    send("[1,2]")
        .await
        .assert_error(400, Some("invalidSyntax"), "not an object");
    let unknown = s
        .post(
            "/Users",
            json!({"schemas": [USER, "urn:example:unknown"], "userName": s.email("x")}),
        )
        .await;
    unknown.assert_error(400, Some("invalidValue"), "unknown schema");
    assert!(unknown.body["detail"]
        .as_str()
        .unwrap()
        .contains("urn:example:unknown"));
    let wrong = s
        .post(
            "/Users",
            json!({"schemas": [USER], "userName": s.email("x"), "active": 3}),
        )
        .await;
    wrong.assert_error(400, Some("invalidValue"), "wrong type");
    assert!(wrong.body["detail"].as_str().unwrap().contains("active"));
    s.post("/Users", json!({"schemas": [USER], "displayName": "x"}))
        .await
        .assert_error(400, Some("invalidValue"), "userName missing");
    let huge = format!("{{\"userName\": \"{}\"}}", "a".repeat(3 * 1024 * 1024));
    s.send_raw(
        Method::POST,
        "/Users",
        Some(&s.token),
        Some(huge.into()),
        &[],
    )
    .await
    .assert_error(413, None, "oversized body");

    // Unknown endpoints and methods stay in the SCIM error format.
    s.get("/Nope")
        .await
        .assert_error(404, None, "unknown endpoint");
    s.send(Method::DELETE, "/Users", None)
        .await
        .assert_error(405, None, "method");
    s.get("/Users/us_doesnotexist")
        .await
        .assert_error(404, None, "unknown id");

    // 409 on userName, whatever its case; the first person is untouched.
    let first = s.create_user("dup").await;
    let dup = s
        .post(
            "/Users",
            json!({"schemas": [USER], "userName": s.email("DUP").to_uppercase(),
                               "emails": [{"value": s.email("dup2"), "primary": true}]}),
        )
        .await;
    dup.assert_error(409, Some("uniqueness"), "duplicate userName");
    // The refused create left no claim behind: dup2's address is still free.
    let dup2 = s.create_user("dup2").await;
    assert_ne!(dup2["id"], first["id"]);

    // A refused write (bad license after the admin restricted them) changes nothing.
    let r = s
        .app
        .admin(
            Method::PUT,
            &format!("/tenants/{}/scim", s.tenant_id),
            Some(json!({"allowed_license_types": ["talk", "support"]})),
        )
        .await;
    assert_eq!(r.status(), 200);
    let refused = s
        .post(
            "/Users",
            json!({"schemas": [USER, GATEHOUSE], "userName": s.email("lic"), "externalId": "lic-1",
                   GATEHOUSE: {"licenseType": "platinum"}}),
        )
        .await;
    refused.assert_error(400, Some("invalidValue"), "license outside the list");
    let detail = refused.body["detail"].as_str().unwrap();
    assert!(
        detail.contains("platinum") && detail.contains("talk, support"),
        "{detail}"
    );
    assert_eq!(
        s.filter("Users", "externalId eq \"lic-1\"").await["totalResults"],
        0
    );
    assert_eq!(
        s.filter("Users", &format!("userName eq \"{}\"", s.email("lic")))
            .await["totalResults"],
        0
    );
    let ok = s
        .post(
            "/Users",
            json!({"schemas": [USER, GATEHOUSE], "userName": s.email("lic"), "externalId": "lic-1",
                   GATEHOUSE: {"licenseType": "support"}}),
        )
        .await;
    assert_eq!(ok.status, 201, "{}", ok.body);
    // A refused PATCH leaves the person as they were.
    let id = ok.body["id"].as_str().unwrap();
    let before = s.get(&format!("/Users/{id}")).await.body;
    s.patch(
        &format!("/Users/{id}"),
        ops(json!([{"op": "replace", "path": "title", "value": "Boss"},
                   {"op": "replace", "path": format!("{GATEHOUSE}:licenseType"), "value": "gold"}])),
    )
    .await
    .assert_error(400, Some("invalidValue"), "bad license in a PATCH");
    assert_eq!(s.get(&format!("/Users/{id}")).await.body, before);
    // The schema advertises the tenant's license values.
    let schema = s.get(&format!("/Schemas/{GATEHOUSE}")).await.body;
    assert_eq!(
        schema["attributes"][1]["canonicalValues"],
        json!(["talk", "support"])
    );
    // Every refused write is in the provisioning log.
    let failed = s.provisioning_log("?result=failed").await;
    assert!(failed.len() >= 9, "{failed:?}");
    s.stop().await;
}
crate::both_backends!(
    bad_input_both,
    super::bad_input_is_refused_without_partial_writes
);

/// T47: an address outside the tenant's domains is refused with what to do; once the admin
/// adds the domain as a secondary domain (JumpCloud's test user), the same request works.
async fn t47_domains(backend: Backend) {
    let s = Scim::start(backend).await;
    let body = json!({"schemas": [USER], "userName": "scim-test@jumpcloud.com",
                      "emails": [{"value": "scim-test@jumpcloud.com", "primary": true}]});
    let refused = s.post("/Users", body.clone()).await;
    refused.assert_error(400, Some("invalidValue"), "foreign domain");
    let detail = refused.body["detail"].as_str().unwrap();
    assert!(
        detail.contains("jumpcloud.com") && detail.contains("secondary domain"),
        "{detail}"
    );
    let other = s
        .post(
            "/Users",
            json!({"schemas": [USER], "userName": "jdoe",
                               "emails": [{"value": "jdoe@elsewhere.test", "type": "work"}]}),
        )
        .await;
    other.assert_error(400, Some("invalidValue"), "email at another domain");
    let none = s
        .post("/Users", json!({"schemas": [USER], "userName": "jdoe"}))
        .await;
    none.assert_error(400, Some("invalidValue"), "no address at all");

    let r = s
        .app
        .admin(
            Method::POST,
            &format!("/tenants/{}/domains", s.tenant_id),
            Some(json!({"domain": "jumpcloud.com"})),
        )
        .await;
    assert_eq!(r.status(), 201);
    let ok = s.post("/Users", body).await;
    assert_eq!(ok.status, 201, "{}", ok.body);
    // A userName that is not an address is fine when an email names the sign-in address.
    let plain = s
        .post(
            "/Users",
            json!({"schemas": [USER], "userName": "jdoe",
                               "emails": [{"value": s.email("jdoe"), "type": "work"}]}),
        )
        .await;
    assert_eq!(plain.status, 201, "{}", plain.body);
    s.stop().await;
}
crate::both_backends!(t47_domains_both, super::t47_domains);

/// People created before provisioning (admin API with a password, or SSO just in time) are
/// found by the IdP's filters and linked by its first write, keeping their password.
async fn existing_people_are_linked(backend: Backend) {
    let s = Scim::start(backend).await;
    let email = s.email("alice");
    let admin_made = s.app.create_user(&s.tenant_id, &email).await;
    let id = admin_made["id"].as_str().unwrap();
    for q in [
        format!("userName eq \"{}\"", email.to_uppercase()),
        format!("emails.value eq \"{email}\""),
        format!("emails[type eq \"work\"].value eq \"{email}\""),
    ] {
        let found = s.filter("Users", &q).await;
        assert_eq!(found["totalResults"], 1, "{q}");
        assert_eq!(found["Resources"][0]["id"], id);
    }
    // Creating instead of linking is a conflict that says how to link.
    let dup = s
        .post("/Users", json!({"schemas": [USER], "userName": email, "emails": [{"value": email, "primary": true}]}))
        .await;
    dup.assert_error(409, Some("uniqueness"), "existing person");
    assert!(dup.body["detail"].as_str().unwrap().contains(id));
    let linked = s
        .patch(
            &format!("/Users/{id}"),
            ops(json!([{"op": "add", "path": "externalId", "value": "00u1okta"},
                       {"op": "add", "path": "name", "value": {"givenName": "Alice", "familyName": "Liddell"}}])),
        )
        .await;
    assert_eq!(linked.status, 200, "{}", linked.body);
    assert_eq!(linked.body["externalId"], "00u1okta");
    assert_eq!(linked.body["userName"], email);
    let by_ext = s.filter("Users", "externalId eq \"00u1okta\"").await;
    assert_eq!(by_ext["Resources"][0]["id"], id);
    assert_eq!(
        s.filter("Users", "externalId eq \"00U1OKTA\"").await["totalResults"],
        0,
        "externalId is case-exact"
    );
    // Password sign-in still works for the linked person, groups kept.
    let browser = s.app.client();
    assert_eq!(
        s.app
            .password_login(&browser, &email, PASSWORD, "")
            .await
            .status(),
        303
    );
    assert_eq!(s.admin_user(id).await["groups"], json!(["staff", "eng"]));
    s.stop().await;
}
crate::both_backends!(linking_both, super::existing_people_are_linked);

/// Discovery documents.
async fn discovery(backend: Backend) {
    let s = Scim::start(backend).await;
    let spc = s.get("/ServiceProviderConfig").await;
    assert_eq!(spc.status, 200);
    assert_eq!(spc.body["patch"]["supported"], true);
    assert_eq!(spc.body["filter"]["maxResults"], 200);
    assert_eq!(spc.body["etag"]["supported"], true);
    assert_eq!(spc.body["bulk"]["supported"], false);
    let rts = s.get("/ResourceTypes").await.body;
    assert_eq!(rts["totalResults"], 2);
    let user_rt = s.get("/ResourceTypes/User").await.body;
    assert_eq!(user_rt["endpoint"], "/Users");
    assert_eq!(user_rt["schemaExtensions"].as_array().unwrap().len(), 2);
    let schemas = s.get("/Schemas").await.body;
    let ids: Vec<&str> = schemas["Resources"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["id"].as_str().unwrap())
        .collect();
    assert!(ids.contains(&USER) && ids.contains(&ENTERPRISE) && ids.contains(&GATEHOUSE));
    s.get("/Schemas/urn:nope")
        .await
        .assert_error(404, None, "unknown schema");
    s.stop().await;
}
crate::both_backends!(discovery_both, super::discovery);

/// Deleting a person through the admin API, or the whole tenant, leaves no SCIM claim,
/// membership or key behind: the same addresses and names can be provisioned again.
async fn deletions_leave_nothing_behind(backend: Backend) {
    let s = Scim::start(backend).await;
    let kept = s.create_user("kept").await["id"]
        .as_str()
        .unwrap()
        .to_string();
    let gone = s.create_user("gone").await["id"]
        .as_str()
        .unwrap()
        .to_string();
    let g = s
        .post(
            "/Groups",
            json!({"schemas": [crate::scim_support::GROUP], "displayName": "Team",
                                "members": [{"value": kept}, {"value": gone}]}),
        )
        .await;
    let gid = g.body["id"].as_str().unwrap().to_string();

    // The admin deletes `kept` for good: its userName, address and membership are free.
    let r = s
        .app
        .admin(
            Method::DELETE,
            &format!("/tenants/{}/users/{kept}", s.tenant_id),
            None,
        )
        .await;
    assert_eq!(r.status(), 204);
    let members = s.get(&format!("/Groups/{gid}")).await.body["members"].clone();
    assert_eq!(
        members,
        json!([{"value": gone, "$ref": format!("{}/scim/v2/Users/{gone}", s.app.base), "type": "User"}])
    );
    let again = s.create_user("kept").await;
    assert_ne!(again["id"], kept.as_str());

    // `gone` is deleted over SCIM (kept, deprovisioned), then the whole tenant goes.
    assert_eq!(s.delete(&format!("/Users/{gone}")).await.status, 204);
    let r = s
        .app
        .admin(Method::DELETE, &format!("/tenants/{}", s.tenant_id), None)
        .await;
    assert_eq!(r.status(), 204);
    s.get("/Users")
        .await
        .assert_error(401, None, "the deleted tenant's key");

    // A new tenant on the same domain provisions the same people and group name.
    let tenant = s.app.create_tenant(&s.domain, false).await;
    let tid = tenant["id"].as_str().unwrap();
    let key = create_key(&s.app, tid, "IdP", json!(["scim"])).await;
    let token = key["secret"].as_str().unwrap();
    for local in ["kept", "gone"] {
        let email = s.email(local);
        let body = json!({"schemas": [USER], "userName": email, "emails": [{"value": email, "primary": true}]});
        let r = s
            .send_raw(
                Method::POST,
                "/Users",
                Some(token),
                Some(body.to_string().into()),
                &[],
            )
            .await;
        assert_eq!(r.status, 201, "{local}: {}", r.body);
    }
    let body = json!({"schemas": [crate::scim_support::GROUP], "displayName": "Team"});
    let r = s
        .send_raw(
            Method::POST,
            "/Groups",
            Some(token),
            Some(body.to_string().into()),
            &[],
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.body);
    s.stop().await;
}
crate::both_backends!(deletions_both, super::deletions_leave_nothing_behind);
