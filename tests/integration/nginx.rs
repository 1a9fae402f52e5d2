//! The shipped nginx configuration (`deploy/nginx/gatehouse-locations.conf`, the same file
//! docker-compose mounts) in front of a small upstream, with Debian's nginx on loopback:
//! signed out → redirected to login; signed in → through, with identity headers;
//! signed out again → redirected.

use std::io::{Read, Write};
use std::net::TcpListener;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use crate::common::{header, Backend, Options, TestApp, PASSWORD};

/// An upstream app that answers every request with the request headers it received.
fn spawn_echo_upstream() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut s) = stream else { continue };
            std::thread::spawn(move || {
                let _ = s.set_read_timeout(Some(Duration::from_secs(5)));
                let mut buf = Vec::new();
                let mut chunk = [0u8; 4096];
                while !buf.windows(4).any(|w| w == b"\r\n\r\n") {
                    match s.read(&mut chunk) {
                        Ok(0) | Err(_) => return,
                        Ok(n) => buf.extend_from_slice(&chunk[..n]),
                    }
                }
                let head = String::from_utf8_lossy(&buf).to_lowercase();
                let body = format!("upstream saw:\n{head}");
                let _ = write!(
                    s,
                    "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                    body.len()
                );
            });
        }
    });
    port
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

struct Nginx {
    child: Child,
    _dir: tempfile::TempDir,
}

impl Drop for Nginx {
    fn drop(&mut self) {
        // SIGTERM lets the master stop its workers; SIGKILL would orphan them.
        let stopped = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status()
            .is_ok_and(|s| s.success());
        if !stopped {
            let _ = self.child.kill();
        }
        let _ = self.child.wait();
    }
}

fn start_nginx(port: u16, gateway: u16, app: u16) -> Nginx {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path().display();
    let locations =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("deploy/nginx/gatehouse-locations.conf");
    let conf = format!(
        "worker_processes 1;\nerror_log {d}/error.log warn;\npid {d}/nginx.pid;\nevents {{ worker_connections 256; }}\n\
         http {{\n  access_log off;\n  client_body_temp_path {d}/body;\n  proxy_temp_path {d}/proxy;\n  fastcgi_temp_path {d}/fcgi;\n  uwsgi_temp_path {d}/uwsgi;\n  scgi_temp_path {d}/scgi;\n\
           upstream gatehouse_upstream {{ server 127.0.0.1:{gateway}; }}\n  upstream app_upstream {{ server 127.0.0.1:{app}; }}\n\
           server {{\n    listen 127.0.0.1:{port};\n    include {};\n  }}\n}}\n",
        locations.display()
    );
    let conf_path = dir.path().join("nginx.conf");
    std::fs::write(&conf_path, conf).unwrap();
    let nginx = ["/usr/sbin/nginx", "/usr/bin/nginx"]
        .into_iter()
        .find(|p| Path::new(p).exists())
        .expect("nginx is installed (scripts/setup.sh test installs it)");
    let child = Command::new(nginx)
        .arg("-p")
        .arg(dir.path())
        .arg("-c")
        .arg(&conf_path)
        .args(["-g", "daemon off;"])
        .stdout(Stdio::null())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap();
    // Owned by the guard from here on, so a failed start still reaps the process.
    let nginx = Nginx { child, _dir: dir };
    for _ in 0..500 {
        if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
            return nginx;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    panic!("nginx did not start on port {port}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nginx_auth_request_protects_an_upstream() {
    let mut opts = Options::new(Backend::Embedded);
    opts.trusted_proxies = vec!["127.0.0.1/32".into()];
    opts.allowed_return_hosts = vec!["127.0.0.1".into()];
    let gw = TestApp::spawn_with(opts).await;
    let gw_port: u16 = gw.base.rsplit(':').next().unwrap().parse().unwrap();
    let upstream = spawn_echo_upstream();
    let port = free_port();
    let _nginx = start_nginx(port, gw_port, upstream);
    let site = format!("http://127.0.0.1:{port}");
    let (_, _, email) = gw.tenant_with_user().await;
    let browser = gw.client();

    // Signed out: nginx turns the gateway's 401 + Location into a redirect to login.
    let r = browser
        .get(format!("{site}/reports?id=7"))
        .header("Accept", "text/html")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 302);
    let login = header(&r, "location").unwrap().to_string();
    let expected_return = format!("http%3A%2F%2F127.0.0.1%3A{port}%2Freports%3Fid%3D7");
    assert_eq!(
        login,
        gw.url(&format!("/login?return_to={expected_return}"))
    );

    // Sign in at the gateway, carrying return_to through the form, and land back.
    let signed_in = gw
        .password_login(
            &browser,
            &email,
            PASSWORD,
            &format!("http://127.0.0.1:{port}/reports?id=7"),
        )
        .await;
    assert_eq!(signed_in.status(), 303);
    assert_eq!(
        header(&signed_in, "location"),
        Some(format!("{site}/reports?id=7").as_str())
    );

    let through = browser
        .get(format!("{site}/reports?id=7"))
        .header("Remote-User", "admin")
        .header("X-Gatehouse-Email", "forged@evil.example")
        .send()
        .await
        .unwrap();
    assert_eq!(through.status(), 200);
    let seen = through.text().await.unwrap();
    assert!(
        seen.contains(&format!("x-gatehouse-email: {email}")),
        "{seen}"
    );
    assert!(seen.contains("x-gatehouse-groups: staff,eng"), "{seen}");
    assert!(
        !seen.contains("forged@evil.example"),
        "client identity headers are replaced: {seen}"
    );
    assert!(
        !seen.contains("remote-user"),
        "other identity headers are dropped: {seen}"
    );

    // Sign out: the same cookie no longer passes nginx.
    browser.get(gw.url("/logout")).send().await.unwrap();
    let after = browser
        .get(format!("{site}/reports?id=7"))
        .send()
        .await
        .unwrap();
    assert_eq!(after.status(), 302);
    gw.stop().await;
}
