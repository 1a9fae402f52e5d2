//! The console's test sign-in: every ACS check spelled out, pass or fail, with what the IdP
//! sent and one sentence on what to change on which side.
//!
//! The verdict is always [`acs::validate`]'s — the same code a real login runs. The
//! checklist around it reads the response *without* trusting it, only to explain: it can
//! turn a check red (the verdict failed there), never green a response the verdict refused.

use sha2::{Digest, Sha256};
use time::OffsetDateTime;

use super::acs::{self, AcsError, Expectation, SamlIdentity};
use super::connection::SamlConnection;
use super::sp::SpEndpoints;

const SUCCESS: &str = "urn:oasis:names:tc:SAML:2.0:status:Success";
const SHA256_FAMILY: &[&str] = &[
    "http://www.w3.org/2001/04/xmldsig-more#rsa-sha256",
    "http://www.w3.org/2001/04/xmldsig-more#rsa-sha384",
    "http://www.w3.org/2001/04/xmldsig-more#rsa-sha512",
    "http://www.w3.org/2001/04/xmldsig-more#ecdsa-sha256",
    "http://www.w3.org/2001/04/xmldsig-more#ecdsa-sha384",
    "http://www.w3.org/2001/04/xmldsig-more#ecdsa-sha512",
];

fn yes() -> bool {
    true
}

/// Which ACS check a line of the report is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CheckKind {
    Structure,
    Signature,
    Algorithm,
    Issuer,
    Audience,
    Destination,
    Recipient,
    InResponseTo,
    TimeWindow,
    Status,
    Email,
}

impl CheckKind {
    pub fn label(self) -> &'static str {
        match self {
            Self::Structure => "Response structure",
            Self::Signature => "Signature and certificate",
            Self::Algorithm => "Signature algorithm",
            Self::Issuer => "Issuer (IdP Entity ID)",
            Self::Audience => "Audience (SP Entity ID)",
            Self::Destination => "Destination (ACS URL)",
            Self::Recipient => "Recipient (ACS URL)",
            Self::InResponseTo => "InResponseTo (this test's request)",
            Self::TimeWindow => "Validity window and clocks",
            Self::Status => "Status",
            Self::Email => "Email and domain",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Check {
    pub kind: CheckKind,
    pub passed: bool,
    /// False when the response was refused before this check could be made; such a line
    /// neither passes nor fails.
    #[serde(default = "yes")]
    pub checked: bool,
    /// What the response said (or "not present").
    pub observed: String,
    /// One sentence: what to change, and on which side. Only for failed checks.
    pub fix: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Report {
    pub passed: bool,
    /// The verdict's precise cause when the response was refused.
    pub refusal: Option<String>,
    pub checks: Vec<Check>,
    /// The IdP's clock minus ours, from IssueInstant (seconds).
    pub clock_difference_secs: Option<i64>,
    /// Fingerprint of the certificate in the response's KeyInfo, if it carried one.
    pub signing_certificate: Option<String>,
    pub configured_certificates: Vec<String>,
    pub identity: Option<IdentitySummary>,
    /// The response XML for reading; signature values elided.
    pub response_xml: String,
}

#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct IdentitySummary {
    pub email: String,
    pub name_id: Option<String>,
    pub first_name: Option<String>,
    pub last_name: Option<String>,
    pub groups: Vec<String>,
}

impl From<&SamlIdentity> for IdentitySummary {
    fn from(i: &SamlIdentity) -> Self {
        Self {
            email: i.email.clone(),
            name_id: i.name_id.clone(),
            first_name: i.first_name.clone(),
            last_name: i.last_name.clone(),
            groups: i.groups.clone(),
        }
    }
}

/// The check a verdict error is about.
fn kind_of(err: &AcsError) -> CheckKind {
    match err {
        AcsError::Signature(_) => CheckKind::Signature,
        AcsError::Status(_) => CheckKind::Status,
        AcsError::Destination { .. } => CheckKind::Destination,
        AcsError::Issuer { .. } => CheckKind::Issuer,
        AcsError::InResponseTo { .. } => CheckKind::InResponseTo,
        AcsError::NoValidityWindow => CheckKind::TimeWindow,
        AcsError::AudienceMissing | AcsError::Audience { .. } => CheckKind::Audience,
        AcsError::NoEmail { .. } => CheckKind::Email,
        AcsError::Rejected(m) if m.contains("Recipient") => CheckKind::Recipient,
        AcsError::Rejected(m) if m.contains("expired") || m.contains("not valid until") => {
            CheckKind::TimeWindow
        }
        _ => CheckKind::Structure,
    }
}

fn fingerprint(der_base64: &str) -> Option<String> {
    use base64::Engine;
    let compact: String = der_base64.split_whitespace().collect();
    let der = base64::engine::general_purpose::STANDARD
        .decode(compact)
        .ok()?;
    Some(
        Sha256::digest(der)
            .iter()
            .map(|b| format!("{b:02X}"))
            .collect::<Vec<_>>()
            .join(":"),
    )
}

/// The value of `attr` on the first element whose local name is `element`, by plain text
/// search (explanations only).
fn first_attribute(xml: &str, element: &str, attr: &str) -> Option<String> {
    let at = xml
        .find(&format!(":{element} "))
        .or_else(|| xml.find(&format!("<{element} ")))?;
    let rest = &xml[at..];
    let tag = &rest[..rest.find('>')?];
    let key = format!("{attr}=\"");
    let start = tag.find(&key)? + key.len();
    let len = tag[start..].find('"')?;
    Some(tag[start..start + len].to_owned())
}

/// Elides signature and certificate values so the XML stays readable.
fn readable(xml: &str) -> String {
    let mut out = xml.to_owned();
    for element in ["SignatureValue", "X509Certificate", "DigestValue"] {
        let mut from = 0;
        while let Some(open) = out[from..].find(&format!(":{element}>")).map(|i| i + from) {
            let body_start = open + element.len() + 2;
            let Some(close) = out[body_start..].find("</").map(|i| i + body_start) else {
                break;
            };
            if close > body_start + 16 {
                out.replace_range(body_start + 8..close, "…");
            }
            from = body_start + 1;
        }
    }
    out
}

fn describe(values: &[String]) -> String {
    if values.is_empty() {
        "not present".into()
    } else {
        values.join(", ")
    }
}

/// Runs the real validation and explains each check.
pub fn diagnose(encoded: &str, exp: &Expectation<'_>, now: OffsetDateTime) -> Report {
    let verdict = acs::validate(encoded, exp);
    let xml = acs::decode(encoded).unwrap_or_default();
    let parsed = xml.parse::<samael::schema::Response>().ok();
    let conn: &SamlConnection = exp.connection;
    let sp: &SpEndpoints = exp.sp;
    let assertion = parsed.as_ref().and_then(|r| r.assertion.as_ref());
    let mut checks = Vec::new();
    let mut push = |kind, passed: bool, observed: String, fix: String| {
        checks.push(Check {
            kind,
            passed,
            checked: true,
            observed,
            fix: (!passed).then_some(fix),
        });
    };

    // Signature, and which certificate signed.
    let key_info_cert = assertion
        .and_then(|a| a.signature.as_ref())
        .or_else(|| parsed.as_ref().and_then(|r| r.signature.as_ref()))
        .and_then(|s| s.key_info.as_ref())
        .and_then(|k| k.iter().find_map(|ki| ki.x509_data.as_ref()))
        .and_then(|d| d.certificates.first())
        .and_then(|c| fingerprint(c));
    let configured: Vec<String> = conn
        .certificates
        .iter()
        .map(|c| c.sha256_fingerprint.clone())
        .collect();
    let signed_parts: Vec<&str> = [
        parsed
            .as_ref()
            .is_some_and(|r| r.signature.is_some())
            .then_some("Response"),
        assertion
            .is_some_and(|a| a.signature.is_some())
            .then_some("Assertion"),
    ]
    .into_iter()
    .flatten()
    .collect();
    let cert_known = key_info_cert
        .as_ref()
        .is_none_or(|fp| configured.contains(fp));
    push(
        CheckKind::Signature,
        !signed_parts.is_empty() && cert_known,
        format!(
            "signed: {}; certificate in the response: {}",
            if signed_parts.is_empty() {
                "nothing".into()
            } else {
                signed_parts.join(" and ")
            },
            key_info_cert.clone().unwrap_or_else(|| "not included".into())
        ),
        match (&key_info_cert, signed_parts.is_empty()) {
            (_, true) => "The IdP sent an unsigned response: switch on signing of the assertion (or the response) in the IdP.".into(),
            (Some(fp), false) => format!("The IdP signs with certificate {fp}, which is not configured here: paste the IdP's current signing certificate (or its metadata) into these settings."),
            (None, false) => "The signature does not verify with any configured certificate: paste the IdP's current signing certificate into these settings.".into(),
        },
    );

    let algorithm = first_attribute(&xml, "SignatureMethod", "Algorithm");
    let algorithm_ok = algorithm
        .as_deref()
        .is_some_and(|a| SHA256_FAMILY.contains(&a) || (conn.allow_sha1 && a.ends_with("sha1")));
    push(
        CheckKind::Algorithm,
        algorithm_ok,
        algorithm.clone().unwrap_or_else(|| "not present".into()),
        "Set the signature algorithm in the IdP to RSA-SHA256 (SHA-1 is refused).".into(),
    );

    let issuers: Vec<String> = parsed
        .iter()
        .filter_map(|r| r.issuer.as_ref().and_then(|i| i.value.clone()))
        .chain(assertion.and_then(|a| a.issuer.value.clone()))
        .map(|i| i.trim().to_owned())
        .collect();
    push(
        CheckKind::Issuer,
        !issuers.is_empty() && issuers.iter().all(|i| *i == conn.idp_entity_id),
        describe(&issuers),
        format!(
            "The IdP identifies itself as {}; set \"IdP Entity ID (Issuer)\" here to that value if it is your IdP (configured: {}).",
            issuers.first().cloned().unwrap_or_else(|| "nothing".into()),
            conn.idp_entity_id
        ),
    );

    let audiences: Vec<String> = assertion
        .and_then(|a| a.conditions.as_ref())
        .map(|c| {
            c.audience_restrictions
                .iter()
                .flatten()
                .flat_map(|r| r.audience.iter().cloned())
                .collect()
        })
        .unwrap_or_default();
    push(
        CheckKind::Audience,
        audiences.contains(&sp.entity_id),
        describe(&audiences),
        format!(
            "The IdP sends Audience {}; set the SP Entity ID (Audience URI) in your IdP to {}.",
            describe(&audiences),
            sp.entity_id
        ),
    );

    let destination = parsed.as_ref().and_then(|r| r.destination.clone());
    push(
        CheckKind::Destination,
        destination.as_deref().is_none_or(|d| d == sp.acs_url),
        destination.clone().unwrap_or_else(|| "not present".into()),
        format!(
            "The IdP sends Destination {}; set the ACS URL (Single sign-on URL) in your IdP to {}.",
            destination.clone().unwrap_or_default(),
            sp.acs_url
        ),
    );

    let confirmation = assertion
        .and_then(|a| a.subject.as_ref())
        .and_then(|s| s.subject_confirmations.as_ref())
        .and_then(|c| c.first())
        .and_then(|c| c.subject_confirmation_data.as_ref());
    let recipient = confirmation.and_then(|d| d.recipient.clone());
    push(
        CheckKind::Recipient,
        recipient.as_deref() == Some(sp.acs_url.as_str()),
        recipient.clone().unwrap_or_else(|| "not present".into()),
        format!(
            "The IdP sends Recipient {}; set the ACS URL (Single sign-on URL) in your IdP to {}.",
            recipient.clone().unwrap_or_else(|| "nothing".into()),
            sp.acs_url
        ),
    );

    let in_response_to = confirmation
        .and_then(|d| d.in_response_to.clone())
        .or_else(|| parsed.as_ref().and_then(|r| r.in_response_to.clone()));
    push(
        CheckKind::InResponseTo,
        in_response_to.as_deref() == exp.request_id,
        in_response_to.clone().unwrap_or_else(|| "not present".into()),
        "The response does not answer this test's request: start the test again from this page (not from the IdP's app list), and make sure the IdP is not caching an older response.".into(),
    );

    let issue_instant = parsed
        .as_ref()
        .map(|r| r.issue_instant.timestamp())
        .or_else(|| assertion.map(|a| a.issue_instant.timestamp()));
    let clock_difference_secs = issue_instant.map(|t| t - now.unix_timestamp());
    let window = assertion.and_then(|a| a.conditions.as_ref()).map(|c| {
        (
            c.not_before.map(|t| t.timestamp()),
            c.not_on_or_after.map(|t| t.timestamp()),
        )
    });
    let skew = i64::from(conn.clock_skew_secs);
    let now_s = now.unix_timestamp();
    let window_ok = match window {
        Some((before, Some(after))) => {
            before.is_none_or(|b| b - skew <= now_s) && now_s < after + skew
        }
        _ => false,
    };
    push(
        CheckKind::TimeWindow,
        window_ok,
        match (window, clock_difference_secs) {
            (Some((b, a)), diff) => format!(
                "NotBefore {}, NotOnOrAfter {}; the IdP's clock is {} our clock",
                b.map_or("not set".into(), |b| format!("{:+} s from now", b - now_s)),
                a.map_or("not set".into(), |a| format!("{:+} s from now", a - now_s)),
                diff.map_or("unknown relative to".into(), |d| format!("{d:+} s from")),
            ),
            (None, _) => "the assertion has no Conditions".into(),
        },
        format!(
            "Check the IdP's clock (NTP): the difference is {} s and at most {skew} s is allowed; an assertion must say until when it is valid (NotOnOrAfter).",
            clock_difference_secs.unwrap_or_default()
        ),
    );

    let status = parsed
        .as_ref()
        .and_then(|r| r.status.as_ref())
        .and_then(|s| s.status_code.value.clone());
    push(
        CheckKind::Status,
        status.as_deref() == Some(SUCCESS),
        status.clone().unwrap_or_else(|| "not present".into()),
        "The IdP refused the sign-in: check that the person is assigned to this application in the IdP.".into(),
    );

    let identity = verdict.as_ref().ok().map(IdentitySummary::from);
    let email_observed = match (&identity, &conn.attributes.email) {
        (Some(i), _) => i.email.clone(),
        (None, Some(attr)) => format!("attribute {attr} (value not readable)"),
        (None, None) => "NameID (value not readable)".into(),
    };
    let email_ok = !matches!(verdict, Err(AcsError::NoEmail { .. }));
    push(
        CheckKind::Email,
        email_ok,
        email_observed,
        match &conn.attributes.email {
            Some(attr) => format!("Send the person's email in attribute {attr}, or change the attribute mapping here to the name your IdP uses."),
            None => "Send the person's email address as NameID (format emailAddress) in the IdP, or map an email attribute here.".into(),
        },
    );

    // The email is read from the verified assertion only: when the response was refused for
    // another reason, there is nothing to judge.
    if identity.is_none() && email_ok {
        if let Some(check) = checks.iter_mut().find(|c| c.kind == CheckKind::Email) {
            check.checked = false;
        }
    }
    let refusal = verdict.as_ref().err().map(ToString::to_string);
    if let Err(err) = &verdict {
        // The verdict is authoritative: the check it failed on is red, whatever the
        // explanation above made of the unverified text.
        let kind = kind_of(err);
        match checks.iter_mut().find(|c| c.kind == kind) {
            Some(check) if check.passed => {
                check.passed = false;
                check.fix = Some(err.to_string());
            }
            Some(_) => {}
            None => checks.insert(
                0,
                Check {
                    kind,
                    passed: false,
                    checked: true,
                    observed: err.to_string(),
                    fix: Some("The response's structure was refused (see the cause); make sure the IdP sends one signed, unencrypted assertion.".into()),
                },
            ),
        }
    }
    Report {
        passed: verdict.is_ok() && checks.iter().all(|c| c.passed),
        refusal,
        checks,
        clock_difference_secs,
        signing_certificate: key_info_cert,
        configured_certificates: configured,
        identity,
        response_xml: readable(&xml),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn attribute_lookup_and_readable_xml() {
        let xml = r#"<ds:SignedInfo><ds:SignatureMethod Algorithm="http://www.w3.org/2001/04/xmldsig-more#rsa-sha256"/></ds:SignedInfo><ds:SignatureValue>AAAABBBBCCCCDDDDEEEEFFFF</ds:SignatureValue>"#;
        assert_eq!(
            first_attribute(xml, "SignatureMethod", "Algorithm").as_deref(),
            Some("http://www.w3.org/2001/04/xmldsig-more#rsa-sha256")
        );
        assert_eq!(
            readable(xml),
            r#"<ds:SignedInfo><ds:SignatureMethod Algorithm="http://www.w3.org/2001/04/xmldsig-more#rsa-sha256"/></ds:SignedInfo><ds:SignatureValue>AAAABBBB…</ds:SignatureValue>"#
        );
    }

    #[test]
    fn verdict_errors_map_to_their_check() {
        assert_eq!(
            kind_of(&AcsError::Audience {
                got: "a".into(),
                expected: "b".into()
            }),
            CheckKind::Audience
        );
        assert_eq!(
            kind_of(&AcsError::Signature("x".into())),
            CheckKind::Signature
        );
        assert_eq!(kind_of(&AcsError::Dtd), CheckKind::Structure);
    }
}
