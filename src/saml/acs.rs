//! The Assertion Consumer Service's validation: samael verifies the XML signature and
//! reduces the document to what was signed; this layer closes samael's gaps around it
//! (SECURITY-CHECKLIST, top) and reads identity only from the verified assertion.
//!
//! Order matters: cheap structural refusals first (size, DTD, assertion count, then the
//! strict libxml2 shape check of `xml_shape`: one UTF-8 root, the profile's signature
//! layout), then the unsigned envelope — read only to *refuse* (wrong Status, Destination,
//! Issuer), never to accept — then samael, then our checks on the very assertion samael
//! verified, read from the canonical bytes its signature covers.

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use samael::crypto::{AllowedSignatureAlgorithm, ReduceMode};
use samael::schema::Assertion;
use samael::service_provider::ServiceProvider;
use time::OffsetDateTime;

use super::connection::SamlConnection;
use super::sp::SpEndpoints;

/// Largest `SAMLResponse` form value accepted (base64).
pub const MAX_ENCODED: usize = 512 * 1024;
const SUCCESS: &str = "urn:oasis:names:tc:SAML:2.0:status:Success";

/// Why a response was refused. The `Display` text is the precise cause for the log and the
/// admin's diagnostics; people see a short page with a reference id.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AcsError {
    #[error("SAMLResponse is larger than {MAX_ENCODED} bytes")]
    TooLarge,
    #[error("SAMLResponse is not base64-encoded UTF-8 XML")]
    NotBase64,
    #[error("the response contains a DTD or entity declaration")]
    Dtd,
    #[error("the response is not a SAML Response document")]
    NotAResponse,
    #[error("the response does not have the shape of a SAML Response: {0}")]
    Shape(String),
    #[error("expected exactly one Assertion, found {0}")]
    AssertionCount(usize),
    #[error("encrypted assertions are not supported; switch off assertion encryption in the IdP")]
    Encrypted,
    #[error("the IdP reported status {0}")]
    Status(String),
    #[error("Destination was {got}, expected {expected}")]
    Destination { got: String, expected: String },
    #[error("Issuer was {got}, expected {expected}")]
    Issuer { got: String, expected: String },
    #[error("InResponseTo was {got:?}, expected {expected:?}")]
    InResponseTo {
        got: Option<String>,
        expected: Option<String>,
    },
    #[error("the signature did not verify against any configured certificate (fingerprints {0}), or it used a refused algorithm")]
    Signature(String),
    #[error("the assertion has no Conditions with NotOnOrAfter")]
    NoValidityWindow,
    #[error("the assertion has no AudienceRestriction")]
    AudienceMissing,
    #[error("Audience was {got}, expected {expected}")]
    Audience { got: String, expected: String },
    #[error("no email: neither attribute {attribute:?} nor the NameID holds an email address")]
    NoEmail { attribute: Option<String> },
    #[error("{0}")]
    Rejected(String),
}

/// Who the verified assertion says signed in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SamlIdentity {
    pub email: String,
    pub name_id: Option<String>,
    pub first_name: Option<String>,
    pub last_name: Option<String>,
    pub groups: Vec<String>,
    pub assertion_id: String,
    /// End of the assertion's validity: the replay cache keeps its ID until then.
    pub not_on_or_after: OffsetDateTime,
}

/// What this response must match.
pub struct Expectation<'a> {
    pub sp: &'a SpEndpoints,
    pub connection: &'a SamlConnection,
    /// The AuthnRequest ID for SP-initiated logins; `None` for IdP-initiated ones.
    pub request_id: Option<&'a str>,
}

/// Counts start tags whose local name is `local` (any or no prefix). Over-counting (a
/// name inside a comment) only ever causes a refusal.
fn count_elements(xml: &str, local: &str) -> usize {
    xml.match_indices('<')
        .filter(|(i, _)| {
            let rest = &xml[i + 1..];
            let end = rest
                .find(|c: char| c.is_whitespace() || c == '>' || c == '/')
                .unwrap_or(rest.len());
            let name = &rest[..end];
            name.rsplit(':').next() == Some(local)
        })
        .count()
}

pub fn decode(encoded: &str) -> Result<String, AcsError> {
    if encoded.len() > MAX_ENCODED {
        return Err(AcsError::TooLarge);
    }
    let compact: String = encoded.chars().filter(|c| !c.is_whitespace()).collect();
    let bytes = STANDARD.decode(compact).map_err(|_| AcsError::NotBase64)?;
    String::from_utf8(bytes).map_err(|_| AcsError::NotBase64)
}

/// The IdP as samael wants it: a metadata document with our stored signing certificates.
fn idp_metadata(conn: &SamlConnection) -> Result<samael::metadata::EntityDescriptor, AcsError> {
    let esc = |s: &str| {
        s.replace('&', "&amp;")
            .replace('<', "&lt;")
            .replace('"', "&quot;")
    };
    let keys: String = conn
        .certificates
        .iter()
        .map(|c| {
            format!(
                r#"<md:KeyDescriptor use="signing"><ds:KeyInfo><ds:X509Data><ds:X509Certificate>{}</ds:X509Certificate></ds:X509Data></ds:KeyInfo></md:KeyDescriptor>"#,
                c.der_base64
            )
        })
        .collect();
    let xml = format!(
        r#"<md:EntityDescriptor xmlns:md="urn:oasis:names:tc:SAML:2.0:metadata" xmlns:ds="http://www.w3.org/2000/09/xmldsig#" entityID="{}"><md:IDPSSODescriptor protocolSupportEnumeration="urn:oasis:names:tc:SAML:2.0:protocol">{keys}<md:SingleSignOnService Binding="urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Redirect" Location="{}"/></md:IDPSSODescriptor></md:EntityDescriptor>"#,
        esc(&conn.idp_entity_id),
        esc(&conn.idp_sso_url),
    );
    xml.parse()
        .map_err(|e| AcsError::Rejected(format!("stored IdP settings are unusable: {e}")))
}

fn service_provider(exp: &Expectation<'_>) -> Result<ServiceProvider, AcsError> {
    let idp = idp_metadata(exp.connection)?;
    let skew = i64::from(exp.connection.clock_skew_secs);
    let sp = ServiceProvider {
        entity_id: Some(exp.sp.entity_id.clone()),
        metadata_url: Some(exp.sp.entity_id.clone()),
        acs_url: Some(exp.sp.acs_url.clone()),
        idp_metadata: idp,
        allow_idp_initiated: exp.request_id.is_none(),
        max_clock_skew: chrono::Duration::seconds(skew),
        max_issue_delay: chrono::Duration::seconds(90 + skew),
        // SHA-256 family only, unless the tenant explicitly opted into legacy SHA-1 (T12).
        allowed_signature_algorithms: if exp.connection.allow_sha1 {
            None
        } else {
            Some(vec![
                AllowedSignatureAlgorithm::RsaSha256,
                AllowedSignatureAlgorithm::RsaSha384,
                AllowedSignatureAlgorithm::RsaSha512,
                AllowedSignatureAlgorithm::EcdsaSha256,
                AllowedSignatureAlgorithm::EcdsaSha384,
                AllowedSignatureAlgorithm::EcdsaSha512,
            ])
        },
        ..ServiceProvider::default()
    };
    // Belt and braces for T02: without certificates samael would not verify at all.
    match sp.idp_signing_certs() {
        Ok(Some(certs)) if !certs.is_empty() => Ok(sp),
        _ => Err(AcsError::Rejected(
            "the connection has no signing certificate".into(),
        )),
    }
}

/// Refuses on what the unsigned Response envelope says. Nothing here can make a response
/// acceptable; it only catches what samael drops unchecked when only the assertion is signed.
fn check_envelope(xml: &str, exp: &Expectation<'_>) -> Result<(), AcsError> {
    let response: samael::schema::Response = xml.parse().map_err(|_| AcsError::NotAResponse)?;
    if response.encrypted_assertion.is_some() {
        return Err(AcsError::Encrypted);
    }
    if let Some(status) = response
        .status
        .as_ref()
        .and_then(|s| s.status_code.value.clone())
    {
        if status != SUCCESS {
            return Err(AcsError::Status(status));
        }
    }
    if let Some(dest) = &response.destination {
        if dest != &exp.sp.acs_url {
            return Err(AcsError::Destination {
                got: dest.clone(),
                expected: exp.sp.acs_url.clone(),
            });
        }
    }
    if let Some(issuer) = response.issuer.as_ref().and_then(|i| i.value.clone()) {
        if issuer.trim() != exp.connection.idp_entity_id {
            return Err(AcsError::Issuer {
                got: issuer,
                expected: exp.connection.idp_entity_id.clone(),
            });
        }
    }
    let irt = response.in_response_to.clone();
    match (exp.request_id, irt.as_deref()) {
        (Some(want), Some(got)) if want != got => Err(AcsError::InResponseTo {
            got: irt,
            expected: Some(want.into()),
        }),
        (None, Some(_)) => Err(AcsError::InResponseTo {
            got: irt,
            expected: None,
        }),
        _ => Ok(()),
    }
}

fn to_time(t: chrono::DateTime<chrono::Utc>) -> Option<OffsetDateTime> {
    OffsetDateTime::from_unix_timestamp(t.timestamp()).ok()
}

/// Our checks on the verified assertion (T15, T18, T21, T22).
fn check_assertion(a: &Assertion, exp: &Expectation<'_>) -> Result<OffsetDateTime, AcsError> {
    let issuer = a.issuer.value.clone().unwrap_or_default();
    if issuer.trim() != exp.connection.idp_entity_id {
        return Err(AcsError::Issuer {
            got: issuer,
            expected: exp.connection.idp_entity_id.clone(),
        });
    }
    let conditions = a.conditions.as_ref().ok_or(AcsError::NoValidityWindow)?;
    let not_after = conditions
        .not_on_or_after
        .and_then(to_time)
        .ok_or(AcsError::NoValidityWindow)?;
    let audiences: Vec<&String> = conditions
        .audience_restrictions
        .iter()
        .flatten()
        .flat_map(|r| r.audience.iter())
        .collect();
    if audiences.is_empty() {
        return Err(AcsError::AudienceMissing);
    }
    if !audiences.iter().any(|a| **a == exp.sp.entity_id) {
        return Err(AcsError::Audience {
            got: audiences
                .iter()
                .map(|s| s.as_str())
                .collect::<Vec<_>>()
                .join(", "),
            expected: exp.sp.entity_id.clone(),
        });
    }
    // The bearer confirmation must bind to this very request (or to none, IdP-initiated).
    let confirmations: Vec<_> = a
        .subject
        .iter()
        .flat_map(|s| s.subject_confirmations.iter().flatten())
        .filter(|c| c.method.as_deref() == Some("urn:oasis:names:tc:SAML:2.0:cm:bearer"))
        .filter_map(|c| c.subject_confirmation_data.as_ref())
        .collect();
    if confirmations.is_empty() {
        return Err(AcsError::Rejected(
            "the assertion has no bearer SubjectConfirmationData".into(),
        ));
    }
    for data in &confirmations {
        if data.in_response_to.as_deref() != exp.request_id {
            return Err(AcsError::InResponseTo {
                got: data.in_response_to.clone(),
                expected: exp.request_id.map(str::to_owned),
            });
        }
        if data.recipient.as_deref() != Some(exp.sp.acs_url.as_str()) {
            return Err(AcsError::Rejected(format!(
                "Recipient was {:?}, expected {}",
                data.recipient, exp.sp.acs_url
            )));
        }
        if data.not_on_or_after.is_none() {
            return Err(AcsError::NoValidityWindow);
        }
    }
    let confirmation_end = confirmations
        .iter()
        .filter_map(|d| d.not_on_or_after.and_then(to_time))
        .min()
        .unwrap_or(not_after);
    Ok(not_after.min(confirmation_end))
}

fn attribute_values(a: &Assertion, name: &str) -> Vec<String> {
    a.attribute_statements
        .iter()
        .flatten()
        .flat_map(|s| s.attributes.iter())
        .filter(|attr| {
            attr.name.as_deref() == Some(name) || attr.friendly_name.as_deref() == Some(name)
        })
        .flat_map(|attr| attr.values.iter().filter_map(|v| v.value.clone()))
        .map(|v| v.trim().to_owned())
        .filter(|v| !v.is_empty())
        .collect()
}

fn identity(
    a: &Assertion,
    conn: &SamlConnection,
    not_on_or_after: OffsetDateTime,
) -> Result<SamlIdentity, AcsError> {
    let name_id = a
        .subject
        .as_ref()
        .and_then(|s| s.name_id.as_ref())
        .map(|n| n.value.trim().to_owned());
    let map = &conn.attributes;
    let email = match &map.email {
        Some(attr) => attribute_values(a, attr).into_iter().next(),
        None => name_id.clone(),
    }
    .filter(|e| e.contains('@'))
    .ok_or_else(|| AcsError::NoEmail {
        attribute: map.email.clone(),
    })?;
    let first = |attr: &Option<String>| {
        attr.as_deref()
            .and_then(|n| attribute_values(a, n).into_iter().next())
    };
    Ok(SamlIdentity {
        email,
        name_id,
        first_name: first(&map.first_name),
        last_name: first(&map.last_name),
        groups: map
            .groups
            .as_deref()
            .map(|g| attribute_values(a, g))
            .unwrap_or_default(),
        assertion_id: a.id.clone(),
        not_on_or_after,
    })
}

/// The audiences a (possibly unverified) response names, for an error message only.
fn claimed_audiences(xml: &str) -> String {
    let Ok(response) = xml.parse::<samael::schema::Response>() else {
        return "(unreadable)".into();
    };
    let audiences: Vec<String> = response
        .assertion
        .iter()
        .filter_map(|a| a.conditions.as_ref())
        .flat_map(|c| c.audience_restrictions.iter().flatten())
        .flat_map(|r| r.audience.iter().cloned())
        .collect();
    if audiences.is_empty() {
        "(none)".into()
    } else {
        audiences.join(", ")
    }
}

/// Validates a base64 `SAMLResponse`. CPU-bound (XML canonicalisation and RSA): call it on
/// a blocking thread.
pub fn validate(encoded: &str, exp: &Expectation<'_>) -> Result<SamlIdentity, AcsError> {
    let xml = decode(encoded)?;
    if xml.contains("<!DOCTYPE") || xml.contains("<!ENTITY") {
        return Err(AcsError::Dtd);
    }
    if count_elements(&xml, "EncryptedAssertion") > 0 {
        return Err(AcsError::Encrypted);
    }
    let assertions = count_elements(&xml, "Assertion");
    if assertions != 1 {
        return Err(AcsError::AssertionCount(assertions));
    }
    // Strict structure (one root, UTF-8, the profile's signature layout) before samael's
    // lenient parse: see `xml_shape` for the attacks each rule stops.
    super::xml_shape::check(&xml).map_err(AcsError::Shape)?;
    check_envelope(&xml, exp)?;
    let sp = service_provider(exp)?;
    let request_ids: Vec<&str> = exp.request_id.into_iter().collect();
    // PreDigest: samael hands back exactly the canonical bytes xmlsec digested (the signed
    // Response, or the signed Assertion), so identity is read from what was hashed — a
    // comment splitting the NameID is gone from it (T06, T09). samael's default mode instead
    // rebuilds the tree around the signed element and, when only the Assertion is signed,
    // never frees the detached Response envelope: ~2.8 KB of libxml2 memory leaked per
    // verification, which anyone holding one signed assertion of the IdP (even an expired
    // one, for another SP) could repeat at will. Regression test: `tests::no_leak_per_validation`.
    let assertion = sp
        .parse_xml_response_with_mode(
            &xml,
            exp.request_id.map(|_| request_ids.as_slice()),
            ReduceMode::PreDigest,
        )
        .map_err(|e| match e {
            samael::service_provider::Error::FailedToValidateSignature => AcsError::Signature(
                exp.connection
                    .certificates
                    .iter()
                    .map(|c| c.sha256_fingerprint.as_str())
                    .collect::<Vec<_>>()
                    .join(", "),
            ),
            // The response is refused either way; naming what it said (unverified) is
            // only there so the admin knows what to change on the IdP side.
            samael::service_provider::Error::AssertionConditionAudienceRestrictionFailed {
                ..
            } => AcsError::Audience {
                got: claimed_audiences(&xml),
                expected: exp.sp.entity_id.clone(),
            },
            other => AcsError::Rejected(other.to_string()),
        })?;
    let not_on_or_after = check_assertion(&assertion, exp)?;
    identity(&assertion, exp.connection, not_on_or_after)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::saml::connection::{AttributeMap, Provider};
    use crate::saml::sp::endpoints;

    /// The fuzz target's tenant: its IdP key is fuzz/fixtures/, and the seeds in
    /// fuzz/corpus/acs_response/ are signed with it and valid until 2099.
    fn fuzz_tenant() -> (SpEndpoints, SamlConnection) {
        let now = OffsetDateTime::now_utc();
        let base = "https://sso.fuzz.example".parse().unwrap();
        let certificates = crate::saml::cert::parse_certificates(
            include_str!("../../fuzz/fixtures/idp-cert.pem"),
            now,
        )
        .unwrap();
        let connection = SamlConnection {
            tenant_id: "tn_fuzz".into(),
            provider: Provider::Custom,
            idp_entity_id: "https://idp.fuzz.example/metadata".into(),
            idp_sso_url: "https://idp.fuzz.example/sso".into(),
            certificates,
            attributes: AttributeMap::default(),
            allow_idp_initiated: false,
            jit_provisioning: false,
            sign_authn_requests: false,
            allow_sha1: false,
            clock_skew_secs: 120,
            default_return_url: None,
            metadata_url: None,
            updated_at: now,
        };
        (endpoints(&base, "acme.example"), connection)
    }

    const ASSERTION_SIGNED: &str =
        include_str!("../../fuzz/corpus/acs_response/assertion-signed.xml");
    const REQUEST_ID: &str = "_fuzzrequest0123456789abcdef0123";

    fn validate_seed(
        sp: &SpEndpoints,
        connection: &SamlConnection,
    ) -> Result<SamlIdentity, AcsError> {
        validate(
            &STANDARD.encode(ASSERTION_SIGNED),
            &Expectation {
                sp,
                connection,
                request_id: Some(REQUEST_ID),
            },
        )
    }

    #[test]
    fn an_assertion_signed_response_validates_without_http() {
        crate::warm_up_xml();
        let (sp, connection) = fuzz_tenant();
        let identity = validate_seed(&sp, &connection).unwrap();
        assert_eq!(identity.email, "jane@acme.example");
        assert_eq!(identity.assertion_id, "_fuzzassertion");
    }

    /// The measuring half of `no_libxml_memory_leaks_per_validation`, alone in a child
    /// process so that no other test moves the resident set size.
    #[test]
    #[ignore = "run in a child process by no_libxml_memory_leaks_per_validation"]
    fn leak_probe_child() {
        fn rss_bytes() -> i64 {
            let status = std::fs::read_to_string("/proc/self/status").unwrap();
            let kb: i64 = status
                .lines()
                .find_map(|l| l.strip_prefix("VmRSS:"))
                .and_then(|v| v.split_whitespace().next())
                .and_then(|v| v.parse().ok())
                .unwrap();
            kb * 1024
        }
        crate::warm_up_xml();
        let (sp, connection) = fuzz_tenant();
        for _ in 0..100 {
            validate_seed(&sp, &connection).unwrap();
        }
        let before = rss_bytes();
        let runs = 1000;
        for _ in 0..runs {
            validate_seed(&sp, &connection).unwrap();
        }
        println!("LEAK_PROBE {}", (rss_bytes() - before) / runs);
    }

    /// Regression: samael's default reduction leaked ~2.8 KB of libxml2 memory for every
    /// assertion-only-signed response (see `validate`). The fuzzer's LeakSanitizer found it.
    #[test]
    fn no_libxml_memory_leaks_per_validation() {
        let out = std::process::Command::new(std::env::current_exe().unwrap())
            .args([
                "--ignored",
                "--exact",
                "saml::acs::tests::leak_probe_child",
                "--nocapture",
                "--test-threads=1",
            ])
            .output()
            .unwrap();
        let stdout = String::from_utf8_lossy(&out.stdout);
        let per_run: i64 = stdout
            .split("LEAK_PROBE ")
            .nth(1)
            .and_then(|rest| rest.split_whitespace().next())
            .unwrap_or_else(|| panic!("probe did not run: {stdout}"))
            .parse()
            .unwrap();
        assert!(
            per_run < 1000,
            "resident memory grows by {per_run} bytes per validation"
        );
    }

    #[test]
    fn assertion_counting_sees_any_prefix_and_ignores_closing_tags() {
        let xml = r#"<samlp:Response><saml:Assertion ID="a"><x/></saml:Assertion><Assertion
            ID="b"/><ns9:Assertion>…</ns9:Assertion><saml:AssertionIDRef/></samlp:Response>"#;
        assert_eq!(count_elements(xml, "Assertion"), 3);
        assert_eq!(count_elements(xml, "Response"), 1);
    }
}
