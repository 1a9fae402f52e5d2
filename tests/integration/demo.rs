//! `gatehouse demo` as a newcomer runs it: the real binary on loopback, a sign-in through
//! "Log in with another provider" and the built-in IdP, forward auth, and the console's
//! test sign-in; and its refusal to listen anywhere but loopback.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};

use crate::common::{csrf_from, header, session_cookie};

struct Demo {
    child: Child,
    base: String,
    admin_email: String,
    admin_password: String,
}

impl Drop for Demo {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn start() -> Demo {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let mut child = Command::new(env!("CARGO_BIN_EXE_gatehouse"))
        .args(["demo", "--listen", &format!("127.0.0.1:{port}")])
        .env("GATEHOUSE_LOG", "warn")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut out = BufReader::new(child.stdout.take().unwrap());
    let (mut admin_email, mut admin_password) = (String::new(), String::new());
    let mut line = String::new();
    while out.read_line(&mut line).unwrap() > 0 {
        if let Some((_, creds)) = line.split_once("/admin  → ") {
            let (e, p) = creds.trim().split_once(" / ").unwrap();
            (admin_email, admin_password) = (e.to_owned(), p.to_owned());
        }
        if line.contains("Press Ctrl+C") {
            break;
        }
        line.clear();
    }
    assert!(
        !admin_password.is_empty(),
        "the demo prints the console account"
    );
    Demo {
        child,
        base: format!("http://127.0.0.1:{port}"),
        admin_email,
        admin_password,
    }
}

fn browser() -> reqwest::Client {
    reqwest::Client::builder()
        .cookie_store(true)
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

/// The attribute value that follows `marker` (which ends with the opening quote).
fn quoted_after(html: &str, marker: &str) -> String {
    let start = html.find(marker).unwrap() + marker.len();
    let end = html[start..].find('"').unwrap() + start;
    html[start..end]
        .replace("&#43;", "+")
        .replace("&#x2f;", "/")
}

fn hidden(html: &str, name: &str) -> String {
    quoted_after(html, &format!("name=\"{name}\" value=\""))
}

/// From a redirect to the demo IdP, through its sign-in form and hand-off page to the ACS.
async fn through_the_idp(
    demo: &Demo,
    b: &reqwest::Client,
    idp_url: &str,
    email: &str,
) -> reqwest::Response {
    let url = url::Url::parse(&format!("{}{idp_url}", demo.base)).unwrap();
    let q: std::collections::HashMap<String, String> = url.query_pairs().into_owned().collect();
    let form = b.get(url.clone()).send().await.unwrap();
    assert_eq!(form.status(), 200);
    assert!(form
        .text()
        .await
        .unwrap()
        .contains("Demo identity provider"));
    let handoff = b
        .post(format!("{}/demo-idp/sso", demo.base))
        .form(&[
            ("SAMLRequest", q["SAMLRequest"].as_str()),
            ("RelayState", q["RelayState"].as_str()),
            ("email", email),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(handoff.status(), 200);
    let html = handoff.text().await.unwrap();
    let acs = quoted_after(&html, "id=\"saml-post\" method=\"post\" action=\"");
    b.post(acs)
        .form(&[
            ("SAMLResponse", hidden(&html, "SAMLResponse")),
            ("RelayState", hidden(&html, "RelayState")),
        ])
        .send()
        .await
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_newcomer_signs_in_through_the_demo() {
    let demo = start();
    let b = browser();
    let r = b
        .post(format!("{}/login/sso", demo.base))
        .form(&[
            ("domain", "demo.test"),
            ("csrf_token", &{
                let login = b.get(format!("{}/login", demo.base)).send().await.unwrap();
                csrf_from(&login.text().await.unwrap())
            }),
            ("return_to", "/"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 303);
    let idp_url = header(&r, "location").unwrap().replace(&demo.base, "");
    assert!(
        idp_url.starts_with("/demo-idp/sso?SAMLRequest="),
        "{idp_url}"
    );
    let landed = through_the_idp(&demo, &b, &idp_url, "newcomer@demo.test").await;
    assert_eq!(landed.status(), 303, "signed in");
    assert!(session_cookie(&landed).is_some());
    let verify = b
        .get(format!("{}/auth/verify", demo.base))
        .send()
        .await
        .unwrap();
    assert_eq!(verify.status(), 200);
    assert_eq!(
        header(&verify, "x-gatehouse-email"),
        Some("newcomer@demo.test")
    );

    // The console's test sign-in against the same IdP.
    let admin = browser();
    let login = admin
        .get(format!("{}/login", demo.base))
        .send()
        .await
        .unwrap();
    let csrf = csrf_from(&login.text().await.unwrap());
    let r = admin
        .post(format!("{}/login/password", demo.base))
        .form(&[
            ("email", demo.admin_email.as_str()),
            ("password", &demo.admin_password),
            ("csrf_token", &csrf),
            ("return_to", "/admin"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 303);
    let home = admin
        .get(format!("{}/admin", demo.base))
        .send()
        .await
        .unwrap();
    let html = home.text().await.unwrap();
    assert!(html.contains("Demo Co"));
    let tenant_path = html
        .split("href=\"/admin/tenants/")
        .nth(1)
        .unwrap()
        .split('"')
        .next()
        .unwrap()
        .to_owned();
    let r = admin
        .post(format!(
            "{}/admin/tenants/{tenant_path}/saml/test",
            demo.base
        ))
        .form(&[("csrf_token", csrf.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 303);
    let idp_url = header(&r, "location").unwrap().replace(&demo.base, "");
    let report = through_the_idp(&demo, &admin, &idp_url, "tester@demo.test").await;
    assert_eq!(report.status(), 303);
    let report_path = header(&report, "location").unwrap().to_owned();
    let page = admin
        .get(format!("{}{report_path}", demo.base))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(page.contains("Test sign-in passed"), "{page}");
}

#[test]
fn the_demo_refuses_a_non_loopback_address() {
    let out = Command::new(env!("CARGO_BIN_EXE_gatehouse"))
        .args(["demo", "--listen", "0.0.0.0:0"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("only listens on loopback"));
}
