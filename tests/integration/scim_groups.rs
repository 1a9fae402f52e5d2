//! SCIM Groups: membership shows up in forward auth's X-Gatehouse-Groups, renames reach every
//! member, member removal never drops more than it names (T43), and refused writes add nobody.

use serde_json::{json, Value};

use crate::common::{header, Backend};
use crate::scim_support::{ops, Scim, GROUP};

async fn groups_header(s: &Scim, user_id: &str) -> String {
    let token = s.session(user_id).await;
    let r = s.app.verify_bearer(&token).await;
    assert_eq!(r.status(), 200);
    header(&r, "x-gatehouse-groups").unwrap_or("").to_string()
}

fn member_ids(g: &Value) -> Vec<String> {
    let mut v: Vec<String> = g["members"]
        .as_array()
        .map(|a| {
            a.iter()
                .map(|m| m["value"].as_str().unwrap().to_string())
                .collect()
        })
        .unwrap_or_default();
    v.sort();
    v
}

async fn membership_renames_and_forward_auth(backend: Backend) {
    let s = Scim::start(backend).await;
    let a = s.create_user("ann").await["id"]
        .as_str()
        .unwrap()
        .to_string();
    let b = s.create_user("ben").await["id"]
        .as_str()
        .unwrap()
        .to_string();
    let c = s.create_user("cat").await["id"]
        .as_str()
        .unwrap()
        .to_string();

    let g = s
        .post(
            "/Groups",
            json!({"schemas": [GROUP], "displayName": "Engineering", "externalId": "g-1",
                                "members": [{"value": a}, {"value": b, "type": "User"}]}),
        )
        .await;
    assert_eq!(g.status, 201, "{}", g.body);
    let gid = g.body["id"].as_str().unwrap().to_string();
    let mut expected = vec![a.clone(), b.clone()];
    expected.sort();
    assert_eq!(member_ids(&g.body), expected);
    assert_eq!(groups_header(&s, &a).await, "Engineering");
    let user = s.get(&format!("/Users/{a}")).await.body;
    assert_eq!(user["groups"][0]["value"], gid.as_str());
    assert_eq!(user["groups"][0]["display"], "Engineering");

    // Rename (the Entra guide lists the lack of this as a vendor limitation).
    let renamed = s
        .patch(
            &format!("/Groups/{gid}"),
            ops(json!([{"op": "Replace", "path": "displayName", "value": "Platform"}])),
        )
        .await;
    assert_eq!(renamed.status, 204, "{}", renamed.body);
    assert_eq!(groups_header(&s, &a).await, "Platform");
    assert_eq!(groups_header(&s, &b).await, "Platform");
    assert_eq!(
        s.filter("Groups", "displayName eq \"engineering\"").await["totalResults"],
        0
    );
    assert_eq!(
        s.filter("Groups", "displayName eq \"PLATFORM\"").await["totalResults"],
        1
    );

    // Names are unique per tenant and travel in a comma-separated header.
    s.post(
        "/Groups",
        json!({"schemas": [GROUP], "displayName": "platform"}),
    )
    .await
    .assert_error(409, Some("uniqueness"), "duplicate name");
    s.post("/Groups", json!({"schemas": [GROUP], "displayName": "a,b"}))
        .await
        .assert_error(400, Some("invalidValue"), "comma");

    // An unknown member refuses the whole PATCH: c is not added either.
    s.patch(
        &format!("/Groups/{gid}"),
        ops(json!([{"op": "add", "path": "members", "value": [{"value": c}, {"value": "us_nobody"}]}])),
    )
    .await
    .assert_error(400, Some("invalidValue"), "unknown member");
    assert_eq!(groups_header(&s, &c).await, "");
    s.patch(
        &format!("/Groups/{gid}"),
        ops(json!([{"op": "add", "path": "members", "value": [{"value": gid.clone(), "type": "Group"}]}])),
    )
    .await
    .assert_error(400, Some("invalidValue"), "nested group");

    // T43: removal by value list takes only those; by filter only the match.
    let added = s
        .patch(
            &format!("/Groups/{gid}?attributes=members"),
            ops(json!([{"op": "add", "path": "members", "value": [{"value": c}]}])),
        )
        .await;
    assert_eq!(added.status, 200);
    assert_eq!(member_ids(&added.body).len(), 3);
    let r = s
        .patch(
            &format!("/Groups/{gid}"),
            ops(json!([{"op": "Remove", "path": "members", "value": [{"value": a}]}])),
        )
        .await;
    assert_eq!(r.status, 204);
    let now = s.get(&format!("/Groups/{gid}")).await.body;
    let mut rest = vec![b.clone(), c.clone()];
    rest.sort();
    assert_eq!(member_ids(&now), rest, "only the named member left");
    assert_eq!(groups_header(&s, &a).await, "");
    s.patch(
        &format!("/Groups/{gid}"),
        ops(json!([{"op": "remove", "path": format!("members[value eq \"{b}\"]")}])),
    )
    .await;
    assert_eq!(
        member_ids(&s.get(&format!("/Groups/{gid}")).await.body),
        vec![c.clone()]
    );
    // Entra's membership check.
    let q = format!("id eq \"{gid}\" and members[value eq \"{c}\"]");
    assert_eq!(s.filter("Groups", &q).await["totalResults"], 1);
    let q = format!("id eq \"{gid}\" and members[value eq \"{a}\"]");
    assert_eq!(s.filter("Groups", &q).await["totalResults"], 0);

    // PUT replaces the member list; deleting a user or the group cleans up.
    let put = s
        .put(&format!("/Groups/{gid}"), json!({"schemas": [GROUP], "displayName": "Platform", "members": [{"value": a}, {"value": b}]}))
        .await;
    assert_eq!(put.status, 200, "{}", put.body);
    assert_eq!(member_ids(&put.body), expected);
    assert_eq!(groups_header(&s, &c).await, "");
    assert_eq!(s.delete(&format!("/Users/{a}")).await.status, 204);
    assert_eq!(
        member_ids(&s.get(&format!("/Groups/{gid}")).await.body),
        vec![b.clone()]
    );
    assert_eq!(s.delete(&format!("/Groups/{gid}")).await.status, 204);
    assert_eq!(groups_header(&s, &b).await, "");
    s.get(&format!("/Groups/{gid}"))
        .await
        .assert_error(404, None, "deleted group");
    assert!(s
        .get(&format!("/Users/{b}"))
        .await
        .body
        .get("groups")
        .is_none());
    s.stop().await;
}
crate::both_backends!(groups_both, super::membership_renames_and_forward_auth);

/// A big membership change in one PATCH: every member lands, none twice.
async fn large_membership_patch(backend: Backend) {
    let s = Scim::start(backend).await;
    let mut ids = Vec::new();
    for i in 0..60 {
        ids.push(
            s.create_user(&format!("m{i}")).await["id"]
                .as_str()
                .unwrap()
                .to_string(),
        );
    }
    let g = s
        .post("/Groups", json!({"schemas": [GROUP], "displayName": "All"}))
        .await;
    let gid = g.body["id"].as_str().unwrap().to_string();
    let values: Vec<Value> = ids
        .iter()
        .chain(ids.iter().take(10))
        .map(|id| json!({"value": id}))
        .collect();
    let r = s
        .patch(
            &format!("/Groups/{gid}"),
            ops(json!([{"op": "add", "path": "members", "value": values}])),
        )
        .await;
    assert_eq!(r.status, 204, "{}", r.body);
    let got = s.get(&format!("/Groups/{gid}")).await.body;
    let mut want = ids.clone();
    want.sort();
    assert_eq!(member_ids(&got), want);
    let listed = s.get("/Groups?excludedAttributes=members").await.body;
    assert_eq!(listed["totalResults"], 1);
    assert!(listed["Resources"][0].get("members").is_none());
    s.stop().await;
}
crate::both_backends!(large_membership_both, super::large_membership_patch);
