//! The request sequences IdPs send — "Test connection", create, update, deactivate,
//! reactivate, group push — replayed over HTTP in their own shapes (from each vendor's
//! public SCIM documentation), on both stores.

use reqwest::Method;
use serde_json::{json, Value};

use crate::common::{header, Backend};
use crate::scim_support::{ops, Scim, ENTERPRISE, GATEHOUSE, GROUP, USER};

fn q(filter: &str) -> String {
    url::form_urlencoded::byte_serialize(filter.as_bytes()).collect()
}

async fn forward_auth_groups(s: &Scim, user_id: &str) -> Option<String> {
    let token = s.session(user_id).await;
    let r = s.app.verify_bearer(&token).await;
    (r.status() == 200).then(|| header(&r, "x-gatehouse-groups").unwrap_or("").to_string())
}

/// Okta (T44): the `startIndex=1&count=2` connection test, `userName eq` before create,
/// PATCH (OIN template) and PUT (AIW) updates, deactivate/reactivate through PATCH of
/// `active`, and group push with rename, member add and member remove by filter.
async fn okta(backend: Backend) {
    let s = Scim::start(backend).await;
    let r = s
        .app
        .admin(
            Method::PUT,
            &format!("/tenants/{}/scim", s.tenant_id),
            Some(json!({"allowed_license_types": ["talk", "lite", "support", "sell"]})),
        )
        .await;
    assert_eq!(r.status(), 200);
    // Test API credentials.
    let test = s.get("/Users?startIndex=1&count=2").await;
    assert_eq!(test.status, 200);
    for k in ["totalResults", "itemsPerPage", "startIndex"] {
        assert!(test.body[k].is_number(), "{k}");
    }
    assert!(test.body["Resources"].is_array());
    assert_eq!(s.get("/Groups?startIndex=1&count=100").await.status, 200);

    // Assign a person: look up, then create.
    let email = s.email("test.user");
    let found = s
        .get(&format!(
            "/Users?filter={}&startIndex=1&count=100",
            q(&format!("userName eq \"{email}\""))
        ))
        .await;
    assert_eq!(found.body["totalResults"], 0);
    let created = s
        .post(
            "/Users",
            json!({
                "schemas": [USER, GATEHOUSE],
                "userName": email,
                "name": {"givenName": "Test", "familyName": "User"},
                "emails": [{"primary": true, "value": email, "type": "work"}],
                "displayName": "Test User",
                "locale": "en-US",
                "preferredLanguage": "en",
                "title": "Agent",
                "externalId": "00ujl29u0le5T6Aj10h7",
                "groups": [],
                "password": "1mz050nq",
                "addresses": [{"type": "work", "country": "US"}],
                GATEHOUSE: {"office": "Austin", "licenseType": "talk"},
                "active": true
            }),
        )
        .await;
    assert_eq!(created.status, 201, "{}", created.body);
    let id = created.body["id"].as_str().unwrap().to_string();
    assert_eq!(s.get(&format!("/Users/{id}")).await.body["userName"], email);
    let again = s
        .get(&format!(
            "/Users?filter={}&startIndex=1&count=100",
            q(&format!("userName eq \"{email}\""))
        ))
        .await;
    assert_eq!(again.body["Resources"][0]["id"], id.as_str());

    // Profile push, OIN template: PATCH replace.
    let p = s
        .patch(&format!("/Users/{id}"), ops(json!([{"op": "replace", "value": {"name": {"givenName": "Tess"}, "title": "Lead"}}])))
        .await;
    assert_eq!(p.status, 200, "{}", p.body);
    assert_eq!(
        p.body["name"],
        json!({"givenName": "Tess", "familyName": "User"})
    );
    // AIW template: PUT of the whole profile, without `active`.
    let mut whole = p.body.clone();
    whole.as_object_mut().unwrap().remove("active");
    whole[GATEHOUSE]["licenseType"] = json!("support");
    let put = s.put(&format!("/Users/{id}"), whole).await;
    assert_eq!(put.status, 200, "{}", put.body);
    assert_eq!(put.body["active"], true);
    assert_eq!(put.body[GATEHOUSE]["licenseType"], "support");

    // Deactivate, reactivate.
    let off = s
        .patch(
            &format!("/Users/{id}"),
            ops(json!([{"op": "replace", "value": {"active": false}}])),
        )
        .await;
    assert_eq!(off.body["active"], false);
    assert_eq!(s.admin_user(&id).await["status"], "deprovisioned");
    let on = s
        .patch(
            &format!("/Users/{id}"),
            ops(json!([{"op": "replace", "value": {"active": true}}])),
        )
        .await;
    assert_eq!(on.body["active"], true);

    // Group push.
    let g = s
        .post(
            "/Groups",
            json!({"schemas": [GROUP], "displayName": "Test SCIMv2", "members": []}),
        )
        .await;
    assert_eq!(g.status, 201, "{}", g.body);
    let gid = g.body["id"].as_str().unwrap().to_string();
    let renamed = s
        .patch(
            &format!("/Groups/{gid}"),
            ops(json!([{"op": "replace", "value": {"id": gid, "displayName": "Support Team"}}])),
        )
        .await;
    assert_eq!(renamed.status, 204);
    let add = s
        .patch(&format!("/Groups/{gid}"), ops(json!([{"op": "add", "path": "members", "value": [{"value": id, "display": email}]}])))
        .await;
    assert_eq!(add.status, 204);
    assert_eq!(
        forward_auth_groups(&s, &id).await.as_deref(),
        Some("Support Team")
    );
    let rm = s
        .patch(
            &format!("/Groups/{gid}"),
            ops(json!([{"op": "remove", "path": format!("members[value eq \"{id}\"]")}])),
        )
        .await;
    assert_eq!(rm.status, 204);
    assert_eq!(forward_auth_groups(&s, &id).await.as_deref(), Some(""));
    assert_eq!(s.delete(&format!("/Groups/{gid}")).await.status, 204);
    s.stop().await;
}
crate::both_backends!(okta_both, super::okta);

/// Entra ID (T43): the connection test filter, create with the enterprise extension, PATCH
/// with capitalised ops and filtered paths, the manager by URN path, `"False"`/`"True"`
/// strings, the `aadOptscim062020` flag, group creation with Microsoft's schema URN,
/// membership check by filter, member removal by value, rename, delete.
async fn entra(backend: Backend) {
    let s = Scim::start(backend).await;
    let flag = "aadOptscim062020";
    let test = s
        .get(&format!(
            "/Users?filter={}&{flag}",
            q("userName eq \"5b3cf5ff-33d4-4f44-9d5c-3b6b1d1a7a2e\"")
        ))
        .await;
    assert_eq!(test.status, 200);
    assert_eq!(test.body["totalResults"], 0);

    let upn = s.email("Test_User_ab6490ee");
    let lookup = s
        .get(&format!(
            "/Users?filter={}",
            q(&format!("userName eq \"{upn}\""))
        ))
        .await;
    assert_eq!(lookup.body["totalResults"], 0);
    let created = s
        .post(&format!("/Users?{flag}"), json!({
            "schemas": [USER, ENTERPRISE],
            "externalId": "0a21f0f2-8d2a-4f8e-bf98-7363c4aed4ef",
            "userName": upn,
            "active": true,
            "emails": [{"primary": true, "type": "work", "value": upn}],
            "meta": {"resourceType": "User"},
            "name": {"formatted": "givenName familyName", "familyName": "familyName", "givenName": "givenName"},
            "roles": [],
            ENTERPRISE: {"department": "Sales", "employeeNumber": "1234"}
        }))
        .await;
    assert_eq!(created.status, 201, "{}", created.body);
    let id = created.body["id"].as_str().unwrap().to_string();
    assert_eq!(created.body["displayName"], Value::Null);
    assert_eq!(
        s.admin_user(&id).await["display_name"],
        "givenName familyName"
    );
    let by_ext = s
        .get(&format!(
            "/Users?filter={}",
            q("externalId eq \"0a21f0f2-8d2a-4f8e-bf98-7363c4aed4ef\"")
        ))
        .await;
    assert_eq!(by_ext.body["Resources"][0]["id"], id.as_str());
    let by_work = s
        .filter(
            "Users",
            &format!("emails[type eq \"work\"].value eq \"{upn}\""),
        )
        .await;
    assert_eq!(by_work["totalResults"], 1);

    let new_mail = s.email("updated.email");
    let upd = s
        .patch(&format!("/Users/{id}"), ops(json!([
            {"op": "Replace", "path": "emails[type eq \"work\"].value", "value": new_mail},
            {"op": "Replace", "path": "name.familyName", "value": "updatedFamilyName"},
            {"op": "Add", "path": "phoneNumbers[type eq \"mobile\"].value", "value": "+1 555 0101"},
            {"op": "Add", "path": format!("{ENTERPRISE}:manager"), "value": "2819c223-7f76-453a-919d-413861904646"},
            {"op": "Replace", "path": "addresses[type eq \"work\"].country", "value": "NO"}
        ])))
        .await;
    assert_eq!(upd.status, 200, "{}", upd.body);
    assert_eq!(upd.body["emails"][0]["value"], new_mail);
    assert_eq!(
        s.admin_user(&id).await["email"],
        new_mail,
        "the sign-in address follows the work email"
    );
    assert_eq!(upd.body["name"]["familyName"], "updatedFamilyName");
    assert_eq!(
        upd.body["phoneNumbers"],
        json!([{"type": "mobile", "value": "+1 555 0101"}])
    );
    assert_eq!(
        upd.body[ENTERPRISE]["manager"]["value"],
        "2819c223-7f76-453a-919d-413861904646"
    );
    assert_eq!(upd.body[ENTERPRISE]["department"], "Sales");
    let rm_mgr = s
        .patch(
            &format!("/Users/{id}"),
            ops(json!([{"op": "Remove", "path": format!("{ENTERPRISE}:manager")}])),
        )
        .await;
    assert!(rm_mgr.body[ENTERPRISE].get("manager").is_none());

    // Disable with the non-compliant string boolean, enable again.
    let token = s.session(&id).await;
    let off = s
        .patch(
            &format!("/Users/{id}"),
            ops(json!([{"op": "Replace", "path": "active", "value": "False"}])),
        )
        .await;
    assert_eq!(off.body["active"], false);
    assert_eq!(s.app.verify_bearer(&token).await.status(), 401);
    let on = s
        .patch(
            &format!("/Users/{id}"),
            ops(json!([{"op": "Replace", "path": "active", "value": "True"}])),
        )
        .await;
    assert_eq!(on.body["active"], true);

    // Groups.
    let other = s.create_user("other").await["id"]
        .as_str()
        .unwrap()
        .to_string();
    let g = s
        .post("/Groups", json!({
            "schemas": [GROUP, "http://schemas.microsoft.com/2006/11/ResourceManagement/ADSCIM/2.0/Group"],
            "externalId": "8aa1a0c0-c4c3-4bc0-b4a5-2ef676900159",
            "displayName": "displayName",
            "meta": {"resourceType": "Group"}
        }))
        .await;
    assert_eq!(g.status, 201, "{}", g.body);
    let gid = g.body["id"].as_str().unwrap().to_string();
    let look = s
        .get(&format!(
            "/Groups?excludedAttributes=members&filter={}",
            q("displayName eq \"displayName\"")
        ))
        .await;
    assert_eq!(look.body["Resources"][0]["id"], gid.as_str());
    let add = s
        .patch(&format!("/Groups/{gid}"), ops(json!([{"op": "Add", "path": "members", "value": [{"value": id}, {"value": other}]}])))
        .await;
    assert_eq!(add.status, 204);
    let member_check = format!("id eq \"{gid}\" and members[value eq \"{id}\"]");
    let check = s
        .get(&format!(
            "/Groups?excludedAttributes=members&filter={}",
            q(&member_check)
        ))
        .await;
    assert_eq!(check.body["totalResults"], 1);
    assert!(check.body["Resources"][0].get("members").is_none());
    let remove = s
        .patch(
            &format!("/Groups/{gid}"),
            ops(json!([{"op": "Remove", "path": "members", "value": [{"value": id}]}])),
        )
        .await;
    assert_eq!(remove.status, 204);
    let check = s
        .get(&format!(
            "/Groups?excludedAttributes=members&filter={}",
            q(&member_check)
        ))
        .await;
    assert_eq!(check.body["totalResults"], 0);
    assert_eq!(
        forward_auth_groups(&s, &other).await.as_deref(),
        Some("displayName"),
        "the other member stays"
    );
    let rename = s
        .patch(&format!("/Groups/{gid}"), ops(json!([{"op": "Replace", "path": "displayName", "value": "1879db59updatedDisplayName"}])))
        .await;
    assert_eq!(rename.status, 204);
    assert_eq!(
        forward_auth_groups(&s, &other).await.as_deref(),
        Some("1879db59updatedDisplayName")
    );
    assert_eq!(
        s.get(&format!("/Groups/{gid}?excludedAttributes=members"))
            .await
            .body["displayName"],
        "1879db59updatedDisplayName"
    );

    assert_eq!(s.delete(&format!("/Users/{id}")).await.status, 204);
    assert_eq!(s.delete(&format!("/Groups/{gid}")).await.status, 204);
    assert_eq!(forward_auth_groups(&s, &other).await.as_deref(), Some(""));
    s.stop().await;
}
crate::both_backends!(entra_both, super::entra);

/// OneLogin: lookup by userName, create, PUT updates (including `active: false` to
/// deactivate), group create, path-less replace renaming it, member add/remove.
async fn onelogin(backend: Backend) {
    let s = Scim::start(backend).await;
    let email = s.email("jane.doe");
    assert_eq!(
        s.filter("Users", &format!("userName eq \"{email}\"")).await["totalResults"],
        0
    );
    let body = json!({"schemas": [USER, GATEHOUSE], "userName": email, "externalId": "ol-12345",
                      "name": {"givenName": "Jane", "familyName": "Doe"},
                      "emails": [{"value": email, "primary": true}],
                      "phoneNumbers": [{"value": "+1 555 0102", "type": "work"}],
                      GATEHOUSE: {"office": "Main"}, "active": true});
    let created = s.post("/Users", body.clone()).await;
    assert_eq!(created.status, 201, "{}", created.body);
    let id = created.body["id"].as_str().unwrap().to_string();
    let mut update = body.clone();
    update["name"]["familyName"] = json!("Smith");
    update[GATEHOUSE]["office"] = json!("Remote");
    let put = s.put(&format!("/Users/{id}"), update.clone()).await;
    assert_eq!(put.status, 200, "{}", put.body);
    assert_eq!(put.body[GATEHOUSE]["office"], "Remote");
    let token = s.session(&id).await;
    update["active"] = json!(false);
    assert_eq!(
        s.put(&format!("/Users/{id}"), update.clone()).await.body["active"],
        false
    );
    assert_eq!(s.app.verify_bearer(&token).await.status(), 401);
    update["active"] = json!(true);
    assert_eq!(
        s.put(&format!("/Users/{id}"), update).await.body["active"],
        true
    );

    let g = s
        .post(
            "/Groups",
            json!({"schemas": [GROUP], "displayName": "Sales"}),
        )
        .await;
    let gid = g.body["id"].as_str().unwrap().to_string();
    let add = s
        .patch(
            &format!("/Groups/{gid}"),
            ops(json!([{"op": "add", "path": "members", "value": [{"value": id}]}])),
        )
        .await;
    assert_eq!(add.status, 204);
    let rename = s
        .patch(
            &format!("/Groups/{gid}"),
            ops(json!([{"op": "replace", "value": {"displayName": "Sales EMEA"}}])),
        )
        .await;
    assert_eq!(rename.status, 204);
    assert_eq!(
        forward_auth_groups(&s, &id).await.as_deref(),
        Some("Sales EMEA")
    );
    let rm = s
        .patch(
            &format!("/Groups/{gid}"),
            ops(json!([{"op": "remove", "path": "members", "value": [{"value": id}]}])),
        )
        .await;
    assert_eq!(rm.status, 204);
    assert_eq!(forward_auth_groups(&s, &id).await.as_deref(), Some(""));
    s.stop().await;
}
crate::both_backends!(onelogin_both, super::onelogin);

/// JumpCloud (T45, T47): connection test, the activation test user at jumpcloud.com
/// (refused until the admin adds the domain, then created and deleted), updates,
/// deactivation, group push with a path-less rename and member add by value.
async fn jumpcloud(backend: Backend) {
    let s = Scim::start(backend).await;
    assert_eq!(s.get("/ServiceProviderConfig").await.status, 200);
    assert_eq!(
        s.get("/Users?filter=userName%20eq%20%22nobody%40jumpcloud.com%22")
            .await
            .status,
        200
    );
    let test_user = json!({"schemas": [USER], "userName": "scim.test@jumpcloud.com",
                           "name": {"givenName": "SCIM", "familyName": "Test"},
                           "emails": [{"value": "scim.test@jumpcloud.com", "type": "work", "primary": true}],
                           "active": true});
    let refused = s.post("/Users", test_user.clone()).await;
    refused.assert_error(
        400,
        Some("invalidValue"),
        "test user outside the tenant's domains",
    );
    assert!(refused.body["detail"]
        .as_str()
        .unwrap()
        .contains("secondary domain"));
    let r = s
        .app
        .admin(
            Method::POST,
            &format!("/tenants/{}/domains", s.tenant_id),
            Some(json!({"domain": "jumpcloud.com"})),
        )
        .await;
    assert_eq!(r.status(), 201);
    let t = s.post("/Users", test_user).await;
    assert_eq!(t.status, 201, "{}", t.body);
    assert_eq!(
        s.delete(&format!("/Users/{}", t.body["id"].as_str().unwrap()))
            .await
            .status,
        204
    );

    let email = s.email("jc.user");
    let created = s
        .post("/Users", json!({"schemas": [USER, ENTERPRISE], "userName": email, "externalId": "5f1e6a0b9d",
                               "displayName": "JC User", "emails": [{"value": email, "type": "work", "primary": true}],
                               ENTERPRISE: {"employeeNumber": "77", "costCenter": "CC1"}, "active": true}))
        .await;
    assert_eq!(created.status, 201, "{}", created.body);
    let id = created.body["id"].as_str().unwrap().to_string();
    let off = s
        .patch(
            &format!("/Users/{id}"),
            ops(json!([{"op": "replace", "path": "active", "value": false}])),
        )
        .await;
    assert_eq!(off.body["active"], false);
    let on = s
        .patch(
            &format!("/Users/{id}"),
            ops(json!([{"op": "replace", "path": "active", "value": true}])),
        )
        .await;
    assert_eq!(on.body["active"], true);

    let g = s
        .post(
            "/Groups",
            json!({"schemas": [GROUP], "displayName": "jc-group"}),
        )
        .await;
    assert_eq!(g.status, 201);
    let gid = g.body["id"].as_str().unwrap().to_string();
    let add = s
        .patch(
            &format!("/Groups/{gid}"),
            ops(json!([{"op": "add", "path": "members", "value": [{"value": id}]}])),
        )
        .await;
    assert_eq!(add.status, 204);
    let rename = s
        .patch(
            &format!("/Groups/{gid}"),
            ops(
                json!([{"op": "replace", "value": {"id": gid, "displayName": "jc-group-renamed"}}]),
            ),
        )
        .await;
    assert_eq!(rename.status, 204);
    assert_eq!(
        forward_auth_groups(&s, &id).await.as_deref(),
        Some("jc-group-renamed")
    );
    let got = s.get(&format!("/Groups/{gid}")).await.body;
    assert_eq!(got["displayName"], "jc-group-renamed");
    assert_eq!(got["members"][0]["value"], id.as_str());
    assert_eq!(s.delete(&format!("/Groups/{gid}")).await.status, 204);
    s.stop().await;
}
crate::both_backends!(jumpcloud_both, super::jumpcloud);

/// Every write above lands in the provisioning log with the key's label; the admin can
/// filter by result and time.
async fn provisioning_log(backend: Backend) {
    let s = Scim::start(backend).await;
    let ok = s.create_user("logged").await;
    let id = ok["id"].as_str().unwrap();
    s.post(
        "/Users",
        json!({"schemas": [USER], "userName": "x@elsewhere.test"}),
    )
    .await;
    s.patch(
        &format!("/Users/{id}"),
        ops(json!([{"op": "replace", "path": "active", "value": false}])),
    )
    .await;
    s.delete("/Users/us_missing").await;

    let all = s.provisioning_log("").await;
    assert_eq!(all.len(), 4, "{all:?}");
    assert_eq!(all[0]["operation"], "delete");
    assert_eq!(all[0]["result"], "failed");
    assert_eq!(all[0]["status"], 404);
    assert_eq!(all[1]["operation"], "patch");
    assert_eq!(all[1]["resource_id"], id);
    assert_eq!(all[2]["operation"], "create");
    assert_eq!(all[2]["target"], "x@elsewhere.test");
    assert!(all[2]["error"].as_str().unwrap().contains("elsewhere.test"));
    assert_eq!(all[3]["result"], "succeeded");
    assert_eq!(all[3]["resource_type"], "User");
    assert!(all
        .iter()
        .all(|e| e["key_label"] == "IdP" && e["key_id"] == s.key_id.as_str()));
    assert_eq!(s.provisioning_log("?result=failed").await.len(), 2);
    assert_eq!(s.provisioning_log("?result=succeeded").await.len(), 2);
    assert!(s
        .provisioning_log("?since=2999-01-01T00:00:00Z")
        .await
        .is_empty());
    assert_eq!(
        s.provisioning_log("?until=2999-01-01T00:00:00Z&limit=1")
            .await
            .len(),
        1
    );
    let bad = s
        .app
        .admin(
            Method::GET,
            &format!("/tenants/{}/provisioning-log?result=maybe", s.tenant_id),
            None,
        )
        .await;
    assert_eq!(bad.status(), 400);
    s.stop().await;
}
crate::both_backends!(provisioning_log_both, super::provisioning_log);
