#![allow(dead_code)]

//! Helpers for the SCIM tests: a gateway with a tenant and a SCIM API key created through
//! the admin API, and a client that speaks SCIM to it.

use std::sync::Arc;

use reqwest::Method;
use serde_json::{json, Value};

use crate::common::{unique_domain, Backend, TestApp};

pub const USER: &str = "urn:ietf:params:scim:schemas:core:2.0:User";
pub const GROUP: &str = "urn:ietf:params:scim:schemas:core:2.0:Group";
pub const ENTERPRISE: &str = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User";
pub const GATEHOUSE: &str = "urn:gatehouse:params:scim:schemas:extension:gatehouse:2.0:User";
pub const PATCH_OP: &str = "urn:ietf:params:scim:api:messages:2.0:PatchOp";
pub const ERROR: &str = "urn:ietf:params:scim:api:messages:2.0:Error";

pub struct Answer {
    pub status: u16,
    pub body: Value,
    pub headers: reqwest::header::HeaderMap,
}

impl Answer {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    /// Asserts a SCIM error document with this status (and scimType when given).
    pub fn assert_error(&self, status: u16, scim_type: Option<&str>, what: &str) {
        assert_eq!(self.status, status, "{what}: {}", self.body);
        assert_eq!(
            self.body["schemas"],
            json!([ERROR]),
            "{what}: SCIM error shape"
        );
        assert_eq!(self.body["status"], status.to_string(), "{what}");
        if let Some(t) = scim_type {
            assert_eq!(self.body["scimType"], t, "{what}: {}", self.body);
        }
        assert!(
            self.body["detail"].as_str().is_some_and(|d| !d.is_empty()),
            "{what}: a detail"
        );
        assert!(
            self.header("content-type")
                .is_some_and(|c| c.starts_with("application/scim+json")),
            "{what}: content type"
        );
    }
}

pub struct Scim {
    pub app: Arc<TestApp>,
    pub tenant_id: String,
    pub domain: String,
    pub token: String,
    pub key_id: String,
    http: reqwest::Client,
}

pub fn ops(list: Value) -> Value {
    json!({"schemas": [PATCH_OP], "Operations": list})
}

/// Creates an API key through the admin API; returns the whole create answer.
pub async fn create_key(app: &TestApp, tenant_id: &str, label: &str, scopes: Value) -> Value {
    let r = app
        .admin(
            Method::POST,
            &format!("/tenants/{tenant_id}/api-keys"),
            Some(json!({"label": label, "scopes": scopes})),
        )
        .await;
    assert_eq!(r.status(), 201, "create API key");
    r.json().await.unwrap()
}

impl Scim {
    pub async fn start(backend: Backend) -> Self {
        Self::on(Arc::new(TestApp::spawn(backend).await)).await
    }

    /// A new tenant with a SCIM key on an already running gateway.
    pub async fn on(app: Arc<TestApp>) -> Self {
        let domain = unique_domain();
        let tenant = app.create_tenant(&domain, false).await;
        let tenant_id = tenant["id"].as_str().unwrap().to_string();
        let key = create_key(&app, &tenant_id, "IdP", json!(["scim"])).await;
        assert_eq!(key["scim_base_url"], format!("{}/scim/v2", app.base));
        Self {
            token: key["secret"].as_str().unwrap().to_string(),
            key_id: key["id"].as_str().unwrap().to_string(),
            app,
            tenant_id,
            domain,
            http: reqwest::Client::new(),
        }
    }

    pub fn email(&self, local: &str) -> String {
        format!("{local}@{}", self.domain)
    }

    pub async fn send_raw(
        &self,
        method: Method,
        path: &str,
        token: Option<&str>,
        body: Option<reqwest::Body>,
        headers: &[(&str, &str)],
    ) -> Answer {
        let mut req = self
            .http
            .request(method, format!("{}/scim/v2{path}", self.app.base));
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        if let Some(b) = body {
            req = req.header("content-type", "application/scim+json").body(b);
        }
        for (k, v) in headers {
            req = req.header(*k, *v);
        }
        let r = req.send().await.unwrap();
        let status = r.status().as_u16();
        let headers = r.headers().clone();
        let text = r.text().await.unwrap();
        let body = if text.is_empty() {
            Value::Null
        } else {
            serde_json::from_str(&text).unwrap_or(Value::String(text))
        };
        Answer {
            status,
            body,
            headers,
        }
    }

    pub async fn send(&self, method: Method, path: &str, body: Option<Value>) -> Answer {
        self.send_raw(
            method,
            path,
            Some(&self.token.clone()),
            body.map(|b| reqwest::Body::from(b.to_string())),
            &[],
        )
        .await
    }

    pub async fn get(&self, path: &str) -> Answer {
        self.send(Method::GET, path, None).await
    }
    pub async fn post(&self, path: &str, body: Value) -> Answer {
        self.send(Method::POST, path, Some(body)).await
    }
    pub async fn put(&self, path: &str, body: Value) -> Answer {
        self.send(Method::PUT, path, Some(body)).await
    }
    pub async fn patch(&self, path: &str, body: Value) -> Answer {
        self.send(Method::PATCH, path, Some(body)).await
    }
    pub async fn delete(&self, path: &str) -> Answer {
        self.send(Method::DELETE, path, None).await
    }

    /// `GET /Users?filter=…` (URL-encoded here); returns the list answer.
    pub async fn filter(&self, resource: &str, filter: &str) -> Value {
        let q: String = url::form_urlencoded::byte_serialize(filter.as_bytes()).collect();
        let a = self.get(&format!("/{resource}?filter={q}")).await;
        assert_eq!(a.status, 200, "filter {filter}: {}", a.body);
        a.body
    }

    /// Creates a user the way most IdPs do; returns its SCIM representation.
    pub async fn create_user(&self, local: &str) -> Value {
        let email = self.email(local);
        let a = self
            .post(
                "/Users",
                json!({"schemas": [USER], "userName": email, "name": {"givenName": local, "familyName": "Test"},
                       "emails": [{"value": email, "type": "work", "primary": true}], "active": true}),
            )
            .await;
        assert_eq!(a.status, 201, "create {local}: {}", a.body);
        a.body
    }

    pub async fn admin_user(&self, user_id: &str) -> Value {
        let r = self
            .app
            .admin(
                Method::GET,
                &format!("/tenants/{}/users/{user_id}", self.tenant_id),
                None,
            )
            .await;
        assert_eq!(r.status(), 200);
        r.json().await.unwrap()
    }

    /// A session for the user minted by the admin API; returns its token.
    pub async fn session(&self, user_id: &str) -> String {
        self.app.mint_token(&self.tenant_id, user_id).await["token"]
            .as_str()
            .unwrap()
            .to_string()
    }

    pub async fn provisioning_log(&self, query: &str) -> Vec<Value> {
        let r = self
            .app
            .admin(
                Method::GET,
                &format!("/tenants/{}/provisioning-log{query}", self.tenant_id),
                None,
            )
            .await;
        assert_eq!(r.status(), 200, "{query}");
        r.json::<Value>().await.unwrap()["items"]
            .as_array()
            .unwrap()
            .clone()
    }

    /// Stops the gateway once no other tenant's helper shares it.
    pub async fn stop(self) {
        if let Ok(app) = Arc::try_unwrap(self.app) {
            app.stop().await;
        }
    }
}
