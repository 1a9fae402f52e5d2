//! Redis going away: `/readyz` fails, `/auth/verify` fails closed (503, never 200 for a
//! session it cannot check), and service comes back by itself when Redis returns.

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::common::{Backend, Options, TestApp};

struct PrivateRedis {
    port: u16,
    dir: tempfile::TempDir,
    child: Option<Child>,
}

impl PrivateRedis {
    fn start() -> Self {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let mut r = Self {
            port,
            dir: tempfile::tempdir().unwrap(),
            child: None,
        };
        r.restart();
        r
    }

    fn restart(&mut self) {
        let child = Command::new("redis-server")
            .args([
                "--bind",
                "127.0.0.1",
                "--port",
                &self.port.to_string(),
                "--save",
                "",
                "--appendonly",
                "yes",
            ])
            .arg("--dir")
            .arg(self.dir.path())
            .stdout(Stdio::null())
            .spawn()
            .expect("redis-server is installed (scripts/setup.sh test installs it)");
        self.child = Some(child);
        let started = Instant::now();
        while std::net::TcpStream::connect(("127.0.0.1", self.port)).is_err() {
            assert!(
                started.elapsed() < Duration::from_secs(10),
                "private redis did not start"
            );
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    fn kill(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    fn url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.port)
    }
}

impl Drop for PrivateRedis {
    fn drop(&mut self) {
        self.kill();
    }
}

async fn wait_for_status(app: &TestApp, token: &str, want: u16, within: Duration) -> Duration {
    let started = Instant::now();
    loop {
        let got = app.verify_bearer(token).await.status().as_u16();
        if got == want {
            return started.elapsed();
        }
        assert!(
            started.elapsed() < within,
            "wanted {want}, still {got} after {within:?}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_outage_fails_closed_and_recovers() {
    let mut redis = PrivateRedis::start();
    let mut opts = Options::new(Backend::Redis);
    opts.redis_url = Some(redis.url());
    let app = TestApp::spawn_with(opts).await;
    let (tenant, user, _) = app.tenant_with_user().await;
    let minted = app
        .mint_token(tenant["id"].as_str().unwrap(), user["id"].as_str().unwrap())
        .await;
    let token = minted["token"].as_str().unwrap().to_string();
    assert_eq!(app.verify_bearer(&token).await.status(), 200);

    redis.kill();
    // The cached answer is dropped as soon as the event feed is lost: 503, not 200.
    wait_for_status(&app, &token, 503, Duration::from_secs(5)).await;
    let ready = reqwest::get(app.url("/readyz")).await.unwrap();
    assert_eq!(ready.status(), 503);
    assert_eq!(
        app.verify_bearer("not-a-token").await.status(),
        401,
        "garbage is still simply refused"
    );
    let login_page = reqwest::get(app.url("/login")).await.unwrap();
    assert_eq!(
        login_page.status(),
        200,
        "pages that need no store still render"
    );

    redis.restart();
    let recovered = wait_for_status(&app, &token, 200, Duration::from_secs(10)).await;
    eprintln!("service recovered {recovered:?} after Redis came back");
    app.wait_until_ready().await;
    app.stop().await;
}
