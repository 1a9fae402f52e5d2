//! TLS termination with rustls (ring provider, installed once in `main`).

use std::io;
use std::path::Path;

use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};

pub fn server_config(cert: &Path, key: &Path) -> io::Result<rustls::ServerConfig> {
    let invalid = |what: &str, p: &Path, e: String| {
        io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("{what} {}: {e}", p.display()),
        )
    };
    let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(cert)
        .map_err(|e| invalid("certificate", cert, e.to_string()))?
        .collect::<Result<_, _>>()
        .map_err(|e| invalid("certificate", cert, e.to_string()))?;
    if certs.is_empty() {
        return Err(invalid(
            "certificate",
            cert,
            "no CERTIFICATE block found".into(),
        ));
    }
    let key_der = PrivateKeyDer::from_pem_file(key)
        .map_err(|e| invalid("private key", key, e.to_string()))?;
    rustls::ServerConfig::builder()
        .with_no_client_auth()
        .with_single_cert(certs, key_der)
        .map_err(|e| invalid("TLS key pair", cert, e.to_string()))
}
