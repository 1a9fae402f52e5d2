//! OIDC callback latency and login throughput on loopback (ignored by default; run with
//! `bench/oidc_callback.sh`, which builds in release mode). The callback includes the
//! gateway's token request to the stand-in provider, whose own time (RS256 signing) is
//! measured separately and reported, and a plain loopback HTTP round trip is the baseline.

use std::time::{Duration, Instant};

use serde_json::json;

use crate::common::Backend;
use crate::oidc_login::{at_provider, Oidc};

fn pct(sorted: &[Duration], p: f64) -> f64 {
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i].as_secs_f64() * 1000.0
}

fn row(name: &str, mut v: Vec<Duration>) -> String {
    v.sort();
    format!(
        "| {name} | {} | {:.2} | {:.2} | {:.2} |",
        v.len(),
        pct(&v, 0.5),
        pct(&v, 0.95),
        pct(&v, 0.99)
    )
}

async fn run(backend: Backend, logins: usize, concurrency: usize) -> String {
    let o = Oidc::new(backend, json!({})).await;
    // Warm up: discovery and JWKS cached, the subject linked.
    for _ in 0..5 {
        assert_eq!(o.attempt().await.status(), 303);
    }
    let plain = reqwest::Client::new();
    let mut baseline = Vec::new();
    for _ in 0..logins {
        let t = Instant::now();
        let r = plain
            .get(format!("{}/.well-known/openid-configuration", o.op.base))
            .send()
            .await
            .unwrap();
        r.bytes().await.unwrap();
        baseline.push(t.elapsed());
    }
    let before_token = o.op.token_micros().len();
    let (mut starts, mut callbacks) = (Vec::new(), Vec::new());
    for _ in 0..logins {
        let browser = o.app.client();
        let t = Instant::now();
        let authorize = o.start(&browser, "/").await;
        starts.push(t.elapsed());
        let callback = at_provider(&authorize).await;
        let t = Instant::now();
        let r = browser.get(callback).send().await.unwrap();
        callbacks.push(t.elapsed());
        assert_eq!(r.status(), 303);
    }
    let provider: Vec<Duration> = o.op.token_micros()[before_token..]
        .iter()
        .map(|m| Duration::from_micros(*m))
        .collect();

    // Throughput: `concurrency` browsers doing whole logins (start, provider, callback).
    let o = std::sync::Arc::new(o);
    let t = Instant::now();
    let mut tasks = Vec::new();
    for _ in 0..concurrency {
        let o = o.clone();
        let n = logins / concurrency;
        tasks.push(tokio::spawn(async move {
            for _ in 0..n {
                assert_eq!(o.attempt().await.status(), 303);
            }
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    let per_sec = (logins / concurrency * concurrency) as f64 / t.elapsed().as_secs_f64();
    let o = std::sync::Arc::into_inner(o).unwrap();
    o.stop().await;
    [
        format!("**{backend:?} store**, {logins} sequential logins, times in ms:"),
        String::new(),
        "| step | n | p50 | p95 | p99 |".into(),
        "|---|---:|---:|---:|---:|".into(),
        row("baseline: GET of the provider's discovery document (loopback HTTP round trip)", baseline),
        row("`/login/sso` → 303 to the provider (flow state written, PKCE, nonce)", starts),
        row("`/oidc/callback` → 303 signed in (whole request)", callbacks),
        row("… of which the stand-in provider's token endpoint (RS256 signing)", provider),
        String::new(),
        format!(
            "Whole logins (start + provider + callback) with {concurrency} concurrent browsers: **{per_sec:.0} logins/s**."
        ),
        String::new(),
    ]
    .join("\n")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "benchmark: run through bench/oidc_callback.sh (release build)"]
async fn bench_oidc_callback() {
    let logins: usize = std::env::var("BENCH_LOGINS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(400);
    let mut report = String::new();
    for backend in [Backend::Embedded, Backend::Redis] {
        report.push_str(&run(backend, logins, 4).await);
        report.push('\n');
    }
    println!("{report}");
    if let Ok(out) = std::env::var("BENCH_OUT") {
        std::fs::write(out, report).unwrap();
    }
}
