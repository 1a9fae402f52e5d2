//! The SP's own signing key, for tenants whose IdP wants signed AuthnRequests.
//!
//! One RSA-2048 key and self-signed certificate per deployment, created on first use and
//! kept in the store (so every instance signs with the same key and the certificate in our
//! metadata stays valid across restarts). Two instances racing to create it both end up
//! with the winner's key (`put_if_absent`, then read back).
//!
//! HTTP-Redirect binding signatures (SAML Bindings §3.4.4.1) cover the exact query string
//! `SAMLRequest=…&RelayState=…&SigAlg=…` as sent, so [`signed_query`] builds that string
//! itself instead of leaving the encoding to a URL library.

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use openssl::asn1::Asn1Time;
use openssl::bn::{BigNum, MsbOption};
use openssl::hash::MessageDigest;
use openssl::pkey::{PKey, Private};
use openssl::rsa::Rsa;
use openssl::sign::Signer;
use openssl::x509::{X509NameBuilder, X509};
use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::store::{decode, encode, keys, Store};

pub const SIG_ALG_RSA_SHA256: &str = "http://www.w3.org/2001/04/xmldsig-more#rsa-sha256";

const VALIDITY_DAYS: u32 = 3650;

#[derive(Serialize, Deserialize)]
struct Stored {
    key_pem: String,
    cert_pem: String,
}

pub struct SpKey {
    key: PKey<Private>,
    /// The certificate, base64 DER, as it goes into `<ds:X509Certificate>`.
    pub cert_base64: String,
}

fn internal(e: impl std::fmt::Display) -> Error {
    Error::Internal(format!("SP signing key: {e}"))
}

/// A fresh RSA-2048 key and a self-signed certificate for it (ten years).
pub fn self_signed(common_name: &str) -> Result<(PKey<Private>, X509)> {
    let key = PKey::from_rsa(Rsa::generate(2048).map_err(internal)?).map_err(internal)?;
    let mut name = X509NameBuilder::new().map_err(internal)?;
    let cn: String = common_name.chars().take(64).collect();
    name.append_entry_by_text("CN", &cn).map_err(internal)?;
    let name = name.build();
    let mut serial = BigNum::new().map_err(internal)?;
    serial
        .rand(127, MsbOption::MAYBE_ZERO, false)
        .map_err(internal)?;
    let mut b = X509::builder().map_err(internal)?;
    b.set_version(2).map_err(internal)?;
    let serial = serial.to_asn1_integer().map_err(internal)?;
    b.set_serial_number(&serial).map_err(internal)?;
    b.set_subject_name(&name).map_err(internal)?;
    b.set_issuer_name(&name).map_err(internal)?;
    b.set_pubkey(&key).map_err(internal)?;
    let not_before = Asn1Time::days_from_now(0).map_err(internal)?;
    let not_after = Asn1Time::days_from_now(VALIDITY_DAYS).map_err(internal)?;
    b.set_not_before(&not_before).map_err(internal)?;
    b.set_not_after(&not_after).map_err(internal)?;
    b.sign(&key, MessageDigest::sha256()).map_err(internal)?;
    Ok((key, b.build()))
}

fn generate(common_name: &str) -> Result<Stored> {
    let (key, cert) = self_signed(common_name)?;
    Ok(Stored {
        key_pem: String::from_utf8(key.private_key_to_pem_pkcs8().map_err(internal)?)
            .map_err(internal)?,
        cert_pem: String::from_utf8(cert.to_pem().map_err(internal)?).map_err(internal)?,
    })
}

fn load(stored: &Stored) -> Result<SpKey> {
    let key = PKey::private_key_from_pem(stored.key_pem.as_bytes()).map_err(internal)?;
    let cert = X509::from_pem(stored.cert_pem.as_bytes()).map_err(internal)?;
    Ok(SpKey {
        key,
        cert_base64: STANDARD.encode(cert.to_der().map_err(internal)?),
    })
}

/// The deployment's SP key, created on first use. `common_name` names the certificate
/// (the gateway's host); it does not matter to IdPs, which trust the certificate itself.
pub async fn get_or_create(store: &dyn Store, common_name: &str) -> Result<SpKey> {
    let key = keys::saml_sp_key();
    if let Some(bytes) = store.get(key).await? {
        return load(&decode(key, &bytes)?);
    }
    let cn = common_name.to_owned();
    let fresh = tokio::task::spawn_blocking(move || generate(&cn))
        .await
        .map_err(internal)??;
    store.put_if_absent(key, &encode(&fresh)?, None).await?;
    let bytes = store
        .get(key)
        .await?
        .ok_or_else(|| internal("vanished right after creation"))?;
    load(&decode(key, &bytes)?)
}

/// The deployment's SP key, its certificate named after the public host.
pub async fn for_base_url(store: &dyn Store, base_url: &url::Url) -> Result<SpKey> {
    get_or_create(store, base_url.host_str().unwrap_or("gatehouse")).await
}

fn form_encode(value: &str) -> String {
    url::form_urlencoded::byte_serialize(value.as_bytes()).collect()
}

impl SpKey {
    /// The certificate as PEM, for admins who paste it into their IdP.
    pub fn cert_pem(&self) -> String {
        let body: Vec<String> = self
            .cert_base64
            .as_bytes()
            .chunks(64)
            .map(|c| String::from_utf8_lossy(c).into_owned())
            .collect();
        format!(
            "-----BEGIN CERTIFICATE-----\n{}\n-----END CERTIFICATE-----\n",
            body.join("\n")
        )
    }

    /// The HTTP-Redirect query for a signed request: the three signed parameters in the
    /// order the binding prescribes, then `Signature`.
    pub fn signed_query(&self, saml_request: &str, relay_state: &str) -> Result<String> {
        let signed = format!(
            "SAMLRequest={}&RelayState={}&SigAlg={}",
            form_encode(saml_request),
            form_encode(relay_state),
            form_encode(SIG_ALG_RSA_SHA256)
        );
        let mut signer = Signer::new(MessageDigest::sha256(), &self.key).map_err(internal)?;
        signer.update(signed.as_bytes()).map_err(internal)?;
        let signature = signer.sign_to_vec().map_err(internal)?;
        Ok(format!(
            "{signed}&Signature={}",
            form_encode(&STANDARD.encode(signature))
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use openssl::sign::Verifier;

    #[test]
    fn redirect_signatures_verify_with_the_published_certificate() {
        let sp = load(&generate("sso.example.com").unwrap()).unwrap();
        let query = sp.signed_query("fZJNb+Iw", "r/s+t=").unwrap();
        let signed = query.split_once("&Signature=").unwrap().0;
        assert!(signed.starts_with("SAMLRequest=fZJNb%2BIw&RelayState=r%2Fs%2Bt%3D&SigAlg="));
        let sig = STANDARD.decode(sig_of(&query)).unwrap();
        let cert = X509::from_der(&STANDARD.decode(&sp.cert_base64).unwrap()).unwrap();
        let public = cert.public_key().unwrap();
        let mut v = Verifier::new(MessageDigest::sha256(), &public).unwrap();
        v.update(signed.as_bytes()).unwrap();
        assert!(v.verify(&sig).unwrap());
        let mut v = Verifier::new(MessageDigest::sha256(), &public).unwrap();
        v.update(signed.replace("r%2Fs", "r%2Fx").as_bytes())
            .unwrap();
        assert!(
            !v.verify(&sig).unwrap(),
            "a changed RelayState breaks the signature"
        );
    }

    fn sig_of(query: &str) -> String {
        let sig = query.split_once("&Signature=").unwrap().1;
        url::form_urlencoded::parse(format!("s={sig}").as_bytes())
            .next()
            .unwrap()
            .1
            .into_owned()
    }
}
