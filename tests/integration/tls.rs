//! The gateway terminating TLS itself (rustls): HTTPS answers, and cookies gain `Secure`.

use openssl::ec::{EcGroup, EcKey};
use openssl::nid::Nid;
use openssl::pkey::PKey;

use crate::common::{certificate, header, Backend, Options, TestApp, PASSWORD};

/// A self-signed P-256 certificate for 127.0.0.1, written as PEM files.
fn self_signed(dir: &std::path::Path) -> (std::path::PathBuf, std::path::PathBuf, Vec<u8>) {
    let group = EcGroup::from_curve_name(Nid::X9_62_PRIME256V1).unwrap();
    let key = PKey::from_ec_key(EcKey::generate(&group).unwrap()).unwrap();
    let cert_pem = certificate(&key, "gatehouse test", 0, 1, Some("127.0.0.1"))
        .to_pem()
        .unwrap();
    let (cert, keyf) = (dir.join("cert.pem"), dir.join("key.pem"));
    std::fs::write(&cert, &cert_pem).unwrap();
    std::fs::write(&keyf, key.private_key_to_pem_pkcs8().unwrap()).unwrap();
    (cert, keyf, cert_pem)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn serves_https_with_secure_cookies() {
    let dir = tempfile::tempdir().unwrap();
    let (cert, key, pem) = self_signed(dir.path());
    let mut opts = Options::new(Backend::Embedded);
    opts.tls = Some((cert, key));
    let app = TestApp::spawn_with(opts).await;
    assert!(app.base.starts_with("https://"));
    let client = reqwest::Client::builder()
        .add_root_certificate(reqwest::Certificate::from_pem(&pem).unwrap())
        .cookie_store(true)
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    assert_eq!(
        client
            .get(app.url("/healthz"))
            .send()
            .await
            .unwrap()
            .status(),
        200
    );
    let (_, _, email) = app.tenant_with_user().await;
    let r = app.password_login(&client, &email, PASSWORD, "").await;
    assert_eq!(r.status(), 303);
    let cookie = header(&r, "set-cookie").unwrap();
    assert!(
        cookie.contains("Secure") && cookie.contains("HttpOnly"),
        "{cookie}"
    );
    assert_eq!(app.verify(&client).await.status(), 200);
    app.stop().await;
}
