//! SCIM benchmark driver, against a running gateway (see `bench/scim.sh`).
//!
//! ```text
//! scim_bench --base URL --admin-token TOKEN --domain DOMAIN
//!            [--sequential 10000] [--total 100000] [--queries 2000] [--members 1000]
//! ```
//!
//! 1. creates a tenant and a SCIM API key through the admin API;
//! 2. creates `--sequential` users one after another over one keep-alive connection (timed);
//! 3. fills the tenant up to `--total` users with 16 concurrent clients (setup, also timed);
//! 4. runs `--queries` `filter=userName eq "…"` lookups of random existing people one after
//!    another and reports latency percentiles;
//! 5. adds `--members` people to a new group in one PATCH (timed), then removes them in one.
//!
//! Prints a Markdown table on stdout.

#![allow(clippy::unwrap_used, clippy::expect_used)] // benchmark tooling: fail loudly

use std::time::{Duration, Instant};

use serde_json::{json, Value};

fn arg(args: &[String], name: &str, default: Option<&str>) -> String {
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1))
        .cloned()
        .or(default.map(str::to_owned))
        .unwrap_or_else(|| panic!("missing {name}"))
}

struct Scim {
    http: reqwest::Client,
    base: String,
    token: String,
}

impl Scim {
    async fn send(&self, method: reqwest::Method, path: &str, body: Option<Value>) -> (u16, Value) {
        let mut req = self
            .http
            .request(method, format!("{}/scim/v2{path}", self.base))
            .bearer_auth(&self.token);
        if let Some(b) = body {
            req = req
                .header("content-type", "application/scim+json")
                .body(b.to_string());
        }
        let r = req.send().await.unwrap();
        let status = r.status().as_u16();
        let text = r.text().await.unwrap();
        (status, serde_json::from_str(&text).unwrap_or(Value::Null))
    }
}

fn user_body(domain: &str, i: usize) -> Value {
    let email = format!("user{i:06}@{domain}");
    json!({
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
        "userName": email,
        "externalId": format!("ext-{i:06}"),
        "name": {"givenName": format!("Given{i}"), "familyName": "Bench"},
        "emails": [{"value": email, "type": "work", "primary": true}],
        "active": true
    })
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    let idx = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[idx.min(sorted.len() - 1)]
}

fn ms(d: Duration) -> String {
    format!("{:.2} ms", d.as_secs_f64() * 1000.0)
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let args: Vec<String> = std::env::args().collect();
    let base = arg(&args, "--base", None);
    let admin = arg(&args, "--admin-token", None);
    let domain = arg(&args, "--domain", None);
    let sequential: usize = arg(&args, "--sequential", Some("10000")).parse().unwrap();
    let total: usize = arg(&args, "--total", Some("100000")).parse().unwrap();
    let queries: usize = arg(&args, "--queries", Some("2000")).parse().unwrap();
    let members: usize = arg(&args, "--members", Some("1000")).parse().unwrap();

    let http = reqwest::Client::builder()
        .pool_max_idle_per_host(32)
        .build()
        .unwrap();
    let tenant: Value = http
        .post(format!("{base}/api/v1/tenants"))
        .bearer_auth(&admin)
        .json(&json!({"name": "SCIM bench", "primary_domain": domain}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let tid = tenant["id"].as_str().expect("tenant created").to_string();
    let key: Value = http
        .post(format!("{base}/api/v1/tenants/{tid}/api-keys"))
        .bearer_auth(&admin)
        .json(&json!({"label": "bench", "scopes": ["scim"]}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let scim = std::sync::Arc::new(Scim {
        http: http.clone(),
        base: base.clone(),
        token: key["secret"].as_str().unwrap().to_string(),
    });

    // 2. Sequential creates.
    let mut ids: Vec<String> = Vec::with_capacity(total);
    let started = Instant::now();
    for i in 0..sequential {
        let (status, body) = scim
            .send(reqwest::Method::POST, "/Users", Some(user_body(&domain, i)))
            .await;
        assert_eq!(status, 201, "create {i}: {body}");
        ids.push(body["id"].as_str().unwrap().to_string());
    }
    let seq_time = started.elapsed();
    eprintln!(
        "[scim-bench] {sequential} sequential creates in {:.2} s",
        seq_time.as_secs_f64()
    );

    // 3. Fill up to `total` with 16 concurrent clients.
    let started = Instant::now();
    let next = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(sequential));
    let mut tasks = Vec::new();
    for _ in 0..16 {
        let scim = scim.clone();
        let next = next.clone();
        let domain = domain.clone();
        tasks.push(tokio::spawn(async move {
            let mut mine = Vec::new();
            loop {
                let i = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                if i >= total {
                    return mine;
                }
                // Setup, not measured: a 503 (the store timing out on a loaded machine)
                // is retried.
                let mut attempt = 0;
                let body = loop {
                    let (status, body) = scim
                        .send(reqwest::Method::POST, "/Users", Some(user_body(&domain, i)))
                        .await;
                    if status == 503 && attempt < 5 {
                        attempt += 1;
                        tokio::time::sleep(Duration::from_millis(200)).await;
                        continue;
                    }
                    assert_eq!(status, 201, "create {i}: {body}");
                    break body;
                };
                mine.push(body["id"].as_str().unwrap().to_string());
            }
        }));
    }
    for t in tasks {
        ids.extend(t.await.unwrap());
    }
    let fill_time = started.elapsed();
    let stored = total.max(sequential);
    eprintln!(
        "[scim-bench] filled to {stored} users in {:.1} s",
        fill_time.as_secs_f64()
    );

    // 4. userName eq lookups of random people (xorshift: reproducible, no extra crate),
    // after a warm-up of a tenth as many that is not measured.
    let mut state: u64 = 0x9E37_79B9_7F4A_7C15;
    let mut lat = Vec::with_capacity(queries);
    let warm_up = queries / 10;
    for n in 0..warm_up + queries {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        let i = (state % stored as u64) as usize;
        let filter = format!("userName eq \"user{i:06}@{domain}\"");
        let q: String = url::form_urlencoded::byte_serialize(filter.as_bytes()).collect();
        let t = Instant::now();
        let (status, body) = scim
            .send(reqwest::Method::GET, &format!("/Users?filter={q}"), None)
            .await;
        if n >= warm_up {
            lat.push(t.elapsed());
        }
        assert_eq!(status, 200);
        assert_eq!(body["totalResults"], 1, "{filter}");
    }
    lat.sort();

    // 5. One PATCH adding `members` people to a group, then one removing them.
    let (status, group) = scim
        .send(
            reqwest::Method::POST,
            "/Groups",
            Some(json!({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"], "displayName": "Bench group"})),
        )
        .await;
    assert_eq!(status, 201, "{group}");
    let gid = group["id"].as_str().unwrap().to_string();
    let values: Vec<Value> = ids
        .iter()
        .take(members)
        .map(|id| json!({"value": id}))
        .collect();
    let t = Instant::now();
    let (status, body) = scim
        .send(
            reqwest::Method::PATCH,
            &format!("/Groups/{gid}"),
            Some(
                json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
                        "Operations": [{"op": "add", "path": "members", "value": values.clone()}]}),
            ),
        )
        .await;
    let add_time = t.elapsed();
    assert_eq!(status, 204, "{body}");
    let (_, check) = scim
        .send(reqwest::Method::GET, &format!("/Groups/{gid}"), None)
        .await;
    assert_eq!(check["members"].as_array().map(Vec::len), Some(members));
    let t = Instant::now();
    let (status, body) = scim
        .send(
            reqwest::Method::PATCH,
            &format!("/Groups/{gid}"),
            Some(
                json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
                        "Operations": [{"op": "remove", "path": "members", "value": values}]}),
            ),
        )
        .await;
    let remove_time = t.elapsed();
    assert_eq!(status, 204, "{body}");

    println!("| measurement | result | target |");
    println!("|---|---:|---|");
    println!(
        "| {sequential} user creates in sequence over HTTP (one connection) | {:.2} s ({:.0}/s) | ≤ 10 s |",
        seq_time.as_secs_f64(),
        sequential as f64 / seq_time.as_secs_f64()
    );
    println!(
        "| filling up to {stored} users (16 concurrent clients, setup) | {:.1} s ({:.0}/s) | |",
        fill_time.as_secs_f64(),
        (stored - sequential) as f64 / fill_time.as_secs_f64().max(0.001)
    );
    println!(
        "| `filter=userName eq \"…\"` with {stored} users stored, {queries} lookups: p50 / p90 / p99 / max | {} / {} / **{}** / {} | p99 < 5 ms |",
        ms(percentile(&lat, 0.5)),
        ms(percentile(&lat, 0.9)),
        ms(percentile(&lat, 0.99)),
        ms(*lat.last().unwrap())
    );
    println!(
        "| adding {members} members to a group in one PATCH | {} | < 1 s |",
        ms(add_time)
    );
    println!(
        "| removing the same {members} members in one PATCH | {} | |",
        ms(remove_time)
    );
}
