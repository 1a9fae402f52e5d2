//! IdP signing certificates as admins paste them: PEM with or without the BEGIN/END lines,
//! bare base64 DER, several certificates at once (rollover), or IdP metadata XML.
//!
//! Everything is checked at save time — never first at login time: it must parse as X.509,
//! be valid now, and carry an RSA (≥ 2048 bits) or EC P-256/P-384/P-521 key. Metadata is
//! read only from `KeyDescriptor use="signing"`; a document with no signing key is refused
//! (SECURITY-CHECKLIST T02), since samael would otherwise skip signature checks entirely.

use std::fmt;

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use openssl::asn1::Asn1Time;
use openssl::hash::MessageDigest;
use openssl::nid::Nid;
use openssl::pkey::Id;
use openssl::x509::X509;
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

const MAX_INPUT: usize = 256 * 1024;
const MIN_RSA_BITS: u32 = 2048;

/// A certificate that passed every check, with what an admin needs to recognise it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct IdpCertificate {
    /// DER, base64 (standard alphabet, no line breaks).
    pub der_base64: String,
    pub subject: String,
    /// SHA-256 fingerprint, upper-case hex pairs joined by colons (as IdP consoles show it).
    pub sha256_fingerprint: String,
    #[serde(with = "time::serde::rfc3339")]
    pub not_before: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339")]
    pub not_after: OffsetDateTime,
    /// e.g. "RSA 2048" or "EC P-256".
    pub key: String,
}

impl IdpCertificate {
    pub fn der(&self) -> Vec<u8> {
        STANDARD.decode(&self.der_base64).unwrap_or_default()
    }

    /// Days until expiry (negative once expired).
    pub fn days_left(&self, now: OffsetDateTime) -> i64 {
        (self.not_after - now).whole_days()
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CertError {
    Empty,
    TooLarge,
    NotACertificate { index: usize, detail: String },
    Expired { subject: String, not_after: String },
    NotYetValid { subject: String, not_before: String },
    WeakKey { subject: String, bits: u32 },
    UnsupportedKey { subject: String, kind: String },
    Metadata(String),
    MetadataWithoutSigningKey,
}

impl fmt::Display for CertError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Empty => write!(f, "no certificate was given; paste the IdP's signing certificate (PEM, with or without the BEGIN/END lines) or its metadata"),
            Self::TooLarge => write!(f, "the certificate text is larger than {} KiB", MAX_INPUT / 1024),
            Self::NotACertificate { index, detail } => write!(f, "certificate {} is not an X.509 certificate ({detail}); copy the whole certificate from the IdP, including every line", index + 1),
            Self::Expired { subject, not_after } => write!(f, "the certificate for {subject} expired on {not_after}; download the current signing certificate from the IdP"),
            Self::NotYetValid { subject, not_before } => write!(f, "the certificate for {subject} is not valid before {not_before}; check the IdP's clock or wait until then"),
            Self::WeakKey { subject, bits } => write!(f, "the certificate for {subject} has a {bits}-bit RSA key; at least {MIN_RSA_BITS} bits are required"),
            Self::UnsupportedKey { subject, kind } => write!(f, "the certificate for {subject} has a {kind} key; only RSA and EC (P-256, P-384, P-521) signing keys are supported"),
            Self::Metadata(detail) => write!(f, "the IdP metadata could not be read: {detail}"),
            Self::MetadataWithoutSigningKey => write!(f, "the IdP metadata has no KeyDescriptor with use=\"signing\"; paste the IdP's signing certificate instead"),
        }
    }
}

/// Parses and checks one or more certificates from what an admin pasted.
pub fn parse_certificates(
    input: &str,
    now: OffsetDateTime,
) -> Result<Vec<IdpCertificate>, CertError> {
    if input.len() > MAX_INPUT {
        return Err(CertError::TooLarge);
    }
    let input = input.trim();
    if input.is_empty() {
        return Err(CertError::Empty);
    }
    let ders = if input.starts_with('<') {
        signing_certs_from_metadata(input)?
    } else if input.contains("-----BEGIN") {
        pem_blocks(input)?
    } else {
        vec![decode_base64(input, 0)?]
    };
    ders.iter()
        .enumerate()
        .map(|(i, der)| check(i, der, now))
        .collect()
}

fn decode_base64(text: &str, index: usize) -> Result<Vec<u8>, CertError> {
    let compact: String = text.chars().filter(|c| !c.is_whitespace()).collect();
    STANDARD
        .decode(compact)
        .map_err(|e| CertError::NotACertificate {
            index,
            detail: format!("not valid base64: {e}"),
        })
}

fn pem_blocks(input: &str) -> Result<Vec<Vec<u8>>, CertError> {
    const BEGIN: &str = "-----BEGIN CERTIFICATE-----";
    const END: &str = "-----END CERTIFICATE-----";
    let mut out = Vec::new();
    let mut rest = input;
    while let Some(start) = rest.find(BEGIN) {
        let body_start = start + BEGIN.len();
        let Some(end) = rest[body_start..].find(END) else {
            return Err(CertError::NotACertificate {
                index: out.len(),
                detail: "a BEGIN CERTIFICATE line has no matching END line".into(),
            });
        };
        out.push(decode_base64(
            &rest[body_start..body_start + end],
            out.len(),
        )?);
        rest = &rest[body_start + end + END.len()..];
    }
    if out.is_empty() {
        return Err(CertError::NotACertificate {
            index: 0,
            detail: "the PEM text holds no CERTIFICATE block (a private or public key is not a certificate)".into(),
        });
    }
    Ok(out)
}

/// The IdP part of a metadata document: entity ID, SSO URL (HTTP-Redirect binding) and
/// signing certificates (DER).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IdpMetadata {
    pub entity_id: Option<String>,
    pub sso_redirect_url: Option<String>,
    pub signing_certs: Vec<Vec<u8>>,
}

pub const HTTP_REDIRECT_BINDING: &str = "urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Redirect";

/// Reads IdP metadata. Documents with a DTD are refused before parsing (no entity tricks).
pub fn read_metadata(xml: &str) -> Result<IdpMetadata, CertError> {
    if xml.len() > MAX_INPUT {
        return Err(CertError::TooLarge);
    }
    if xml.contains("<!DOCTYPE") || xml.contains("<!ENTITY") {
        return Err(CertError::Metadata(
            "documents with a DTD are not accepted".into(),
        ));
    }
    let entity: samael::metadata::EntityDescriptor = xml
        .parse()
        .map_err(|e| CertError::Metadata(format!("not SAML metadata ({e})")))?;
    let descriptors = entity.idp_sso_descriptors.unwrap_or_default();
    if descriptors.is_empty() {
        return Err(CertError::Metadata(
            "it describes no identity provider (no IDPSSODescriptor)".into(),
        ));
    }
    let mut signing_certs = Vec::new();
    let mut sso_redirect_url = None;
    for d in &descriptors {
        for kd in &d.key_descriptors {
            if kd.key_use.as_deref() != Some("signing") {
                continue;
            }
            for c in kd
                .key_info
                .x509_data
                .iter()
                .flat_map(|x| x.certificates.iter())
            {
                signing_certs.push(decode_base64(c, signing_certs.len())?);
            }
        }
        for s in &d.single_sign_on_services {
            if s.binding == HTTP_REDIRECT_BINDING && sso_redirect_url.is_none() {
                sso_redirect_url = Some(s.location.clone());
            }
        }
    }
    Ok(IdpMetadata {
        entity_id: entity.entity_id,
        sso_redirect_url,
        signing_certs,
    })
}

fn signing_certs_from_metadata(xml: &str) -> Result<Vec<Vec<u8>>, CertError> {
    let md = read_metadata(xml)?;
    if md.signing_certs.is_empty() {
        return Err(CertError::MetadataWithoutSigningKey);
    }
    Ok(md.signing_certs)
}

fn format_time(t: OffsetDateTime) -> String {
    t.date().to_string()
}

fn asn1_to_time(t: &openssl::asn1::Asn1TimeRef) -> Option<OffsetDateTime> {
    let epoch = Asn1Time::from_unix(0).ok()?;
    let diff = epoch.diff(t).ok()?;
    let secs = i64::from(diff.days) * 86_400 + i64::from(diff.secs);
    OffsetDateTime::from_unix_timestamp(secs).ok()
}

fn check(index: usize, der: &[u8], now: OffsetDateTime) -> Result<IdpCertificate, CertError> {
    let x509 = X509::from_der(der).map_err(|e| CertError::NotACertificate {
        index,
        detail: e.errors().first().map_or_else(
            || "unreadable DER".into(),
            |err| err.reason().unwrap_or("unreadable DER").to_owned(),
        ),
    })?;
    let subject = x509
        .subject_name()
        .entries()
        .map(|e| {
            let key = e.object().nid().short_name().unwrap_or("?");
            let value = e.data().to_string().unwrap_or_default();
            format!("{key}={value}")
        })
        .collect::<Vec<_>>()
        .join(", ");
    let subject = if subject.is_empty() {
        "(no subject)".to_owned()
    } else {
        subject
    };
    let bad_time = || CertError::NotACertificate {
        index,
        detail: "unreadable validity dates".into(),
    };
    let not_before = asn1_to_time(x509.not_before()).ok_or_else(bad_time)?;
    let not_after = asn1_to_time(x509.not_after()).ok_or_else(bad_time)?;
    if not_after <= now {
        return Err(CertError::Expired {
            subject,
            not_after: format_time(not_after),
        });
    }
    if not_before > now + time::Duration::minutes(5) {
        return Err(CertError::NotYetValid {
            subject,
            not_before: format_time(not_before),
        });
    }
    let pkey = x509.public_key().map_err(|_| CertError::UnsupportedKey {
        subject: subject.clone(),
        kind: "unreadable".into(),
    })?;
    let key = match pkey.id() {
        Id::RSA => {
            if pkey.bits() < MIN_RSA_BITS {
                return Err(CertError::WeakKey {
                    subject,
                    bits: pkey.bits(),
                });
            }
            format!("RSA {}", pkey.bits())
        }
        Id::EC => {
            let curve = pkey.ec_key().ok().and_then(|k| k.group().curve_name());
            match curve {
                Some(Nid::X9_62_PRIME256V1) => "EC P-256".into(),
                Some(Nid::SECP384R1) => "EC P-384".into(),
                Some(Nid::SECP521R1) => "EC P-521".into(),
                _ => {
                    return Err(CertError::UnsupportedKey {
                        subject,
                        kind: "EC key on an unsupported curve".into(),
                    })
                }
            }
        }
        Id::DSA => {
            return Err(CertError::UnsupportedKey {
                subject,
                kind: "DSA".into(),
            })
        }
        other => {
            return Err(CertError::UnsupportedKey {
                subject,
                kind: format!("{other:?}"),
            })
        }
    };
    let digest = x509
        .digest(MessageDigest::sha256())
        .map_err(|_| CertError::NotACertificate {
            index,
            detail: "cannot hash".into(),
        })?;
    let sha256_fingerprint = digest
        .iter()
        .map(|b| format!("{b:02X}"))
        .collect::<Vec<_>>()
        .join(":");
    Ok(IdpCertificate {
        der_base64: STANDARD.encode(der),
        subject,
        sha256_fingerprint,
        not_before,
        not_after,
        key,
    })
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use openssl::bn::BigNum;
    use openssl::ec::{EcGroup, EcKey};
    use openssl::pkey::{PKey, Private};
    use openssl::rsa::Rsa;
    use openssl::x509::X509NameBuilder;

    fn now() -> OffsetDateTime {
        OffsetDateTime::now_utc()
    }

    pub(crate) fn cert(key: &PKey<Private>, cn: &str, from_days: i64, to_days: i64) -> X509 {
        let mut name = X509NameBuilder::new().unwrap();
        name.append_entry_by_text("CN", cn).unwrap();
        let name = name.build();
        let mut b = X509::builder().unwrap();
        b.set_version(2).unwrap();
        b.set_serial_number(&BigNum::from_u32(7).unwrap().to_asn1_integer().unwrap())
            .unwrap();
        b.set_subject_name(&name).unwrap();
        b.set_issuer_name(&name).unwrap();
        b.set_pubkey(key).unwrap();
        let start = now().unix_timestamp() + from_days * 86_400;
        let end = now().unix_timestamp() + to_days * 86_400;
        b.set_not_before(&Asn1Time::from_unix(start).unwrap())
            .unwrap();
        b.set_not_after(&Asn1Time::from_unix(end).unwrap()).unwrap();
        b.sign(key, MessageDigest::sha256()).unwrap();
        b.build()
    }

    pub(crate) fn rsa(bits: u32) -> PKey<Private> {
        PKey::from_rsa(Rsa::generate(bits).unwrap()).unwrap()
    }

    fn pem(c: &X509) -> String {
        String::from_utf8(c.to_pem().unwrap()).unwrap()
    }

    fn bare(c: &X509) -> String {
        pem(c)
            .lines()
            .filter(|l| !l.starts_with("-----"))
            .collect::<Vec<_>>()
            .join("\n")
    }

    /// T30: every pasted form normalizes to the same certificate.
    #[test]
    fn t30_pem_bare_base64_and_one_line_all_parse() {
        let c = cert(&rsa(2048), "idp.example", -1, 365);
        let one_line = STANDARD.encode(c.to_der().unwrap());
        let parsed: Vec<_> = [pem(&c), bare(&c), one_line]
            .iter()
            .map(|input| parse_certificates(input, now()).unwrap())
            .collect();
        assert!(parsed.iter().all(|p| p == &parsed[0]));
        assert_eq!(parsed[0][0].subject, "CN=idp.example");
        assert_eq!(parsed[0][0].key, "RSA 2048");
        assert_eq!(parsed[0][0].sha256_fingerprint.len(), 32 * 3 - 1);
    }

    #[test]
    fn rollover_accepts_several_certificates() {
        let a = cert(&rsa(2048), "old", -30, 10);
        let b = cert(
            &PKey::from_ec_key(
                EcKey::generate(&EcGroup::from_curve_name(Nid::X9_62_PRIME256V1).unwrap()).unwrap(),
            )
            .unwrap(),
            "new",
            -1,
            400,
        );
        let both = format!("{}\n{}", pem(&a), pem(&b));
        let parsed = parse_certificates(&both, now()).unwrap();
        assert_eq!(
            parsed.iter().map(|c| c.key.as_str()).collect::<Vec<_>>(),
            ["RSA 2048", "EC P-256"]
        );
        assert_eq!(parsed[0].days_left(now()), 9);
    }

    #[test]
    fn t30_bad_certificates_are_explained() {
        let expired = cert(&rsa(2048), "expired.example", -400, -1);
        let future = cert(&rsa(2048), "future.example", 30, 400);
        let weak = cert(&rsa(1024), "weak.example", -1, 30);
        let cases: Vec<(String, &str)> = vec![
            ("".into(), "no certificate"),
            ("hello world".into(), "not valid base64"),
            (
                STANDARD.encode(b"definitely not DER"),
                "not an X.509 certificate",
            ),
            (pem(&expired), "expired on"),
            (pem(&future), "not valid before"),
            (pem(&weak), "1024-bit RSA key"),
            (
                "-----BEGIN CERTIFICATE-----\nMIIB".into(),
                "no matching END",
            ),
            (
                String::from_utf8(rsa(2048).public_key_to_pem().unwrap()).unwrap(),
                "holds no CERTIFICATE block",
            ),
        ];
        for (input, expected) in cases {
            let err = parse_certificates(&input, now()).unwrap_err().to_string();
            assert!(err.contains(expected), "{input:.40?}: {err}");
        }
    }

    fn metadata(key_use: Option<&str>, cert_b64: &str) -> String {
        let use_attr = key_use.map(|u| format!(" use=\"{u}\"")).unwrap_or_default();
        format!(
            r#"<md:EntityDescriptor xmlns:md="urn:oasis:names:tc:SAML:2.0:metadata" xmlns:ds="http://www.w3.org/2000/09/xmldsig#" entityID="https://idp.example/metadata">
  <md:IDPSSODescriptor protocolSupportEnumeration="urn:oasis:names:tc:SAML:2.0:protocol">
    <md:KeyDescriptor{use_attr}><ds:KeyInfo><ds:X509Data><ds:X509Certificate>{cert_b64}</ds:X509Certificate></ds:X509Data></ds:KeyInfo></md:KeyDescriptor>
    <md:SingleSignOnService Binding="urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST" Location="https://idp.example/sso/post"/>
    <md:SingleSignOnService Binding="urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Redirect" Location="https://idp.example/sso/redirect"/>
  </md:IDPSSODescriptor>
</md:EntityDescriptor>"#
        )
    }

    #[test]
    fn metadata_yields_entity_id_sso_url_and_signing_certs() {
        let c = cert(&rsa(2048), "idp.example", -1, 365);
        let xml = metadata(Some("signing"), &bare(&c));
        let md = read_metadata(&xml).unwrap();
        assert_eq!(
            md.entity_id.as_deref(),
            Some("https://idp.example/metadata")
        );
        assert_eq!(
            md.sso_redirect_url.as_deref(),
            Some("https://idp.example/sso/redirect")
        );
        assert_eq!(
            parse_certificates(&xml, now()).unwrap()[0].subject,
            "CN=idp.example"
        );
    }

    /// T02: metadata whose keys are not marked for signing gives no certificate, and the
    /// connection cannot be saved with it.
    #[test]
    fn t02_metadata_without_signing_key_is_refused() {
        let c = cert(&rsa(2048), "idp.example", -1, 365);
        for key_use in [None, Some("encryption")] {
            let err = parse_certificates(&metadata(key_use, &bare(&c)), now()).unwrap_err();
            assert_eq!(err, CertError::MetadataWithoutSigningKey);
        }
    }

    /// T14: a DTD (entity expansion, external entities) is refused before any parsing.
    #[test]
    fn t14_metadata_with_a_dtd_is_refused() {
        let xml = "<?xml version=\"1.0\"?><!DOCTYPE x [<!ENTITY a \"aaaa\">]><md:EntityDescriptor xmlns:md=\"urn:oasis:names:tc:SAML:2.0:metadata\" entityID=\"&a;\"/>";
        assert!(matches!(read_metadata(xml), Err(CertError::Metadata(m)) if m.contains("DTD")));
    }
}
