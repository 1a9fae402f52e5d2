//! A test IdP: an RSA key and certificate of its own, SAML Responses built from a template
//! and signed by the independent `xmlsec1` command-line tool (not by the code under test).

use std::path::PathBuf;
use std::process::Command;

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use openssl::asn1::Asn1Time;
use openssl::hash::MessageDigest;
use openssl::pkey::PKey;
use openssl::rsa::Rsa;
use openssl::x509::{X509NameBuilder, X509};
use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;

pub struct TestIdp {
    pub entity_id: String,
    pub sso_url: String,
    key_path: PathBuf,
    pub cert_pem: String,
    cert_b64: String,
    dir: tempfile::TempDir,
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Sign {
    Nothing,
    Assertion,
    Response,
    Both,
}

/// Everything a test may bend in a response. `Default` is a valid SP-initiated response
/// once `acs`, `audience` and `in_response_to` are set.
#[derive(Clone)]
pub struct Resp {
    pub acs: String,
    pub destination: Option<String>,
    pub recipient: Option<String>,
    pub audience: Option<String>,
    pub in_response_to: Option<String>,
    /// InResponseTo on the Response element only (the unsigned envelope).
    pub envelope_in_response_to: Option<Option<String>>,
    pub issuer: Option<String>,
    pub assertion_issuer: Option<String>,
    pub status: String,
    pub email: String,
    pub attributes: Vec<(String, Vec<String>)>,
    pub sign: Sign,
    pub sha1: bool,
    pub assertion_id: String,
    pub not_before_secs: i64,
    pub not_on_or_after_secs: i64,
    pub confirmation_not_on_or_after_secs: i64,
    pub omit_conditions: bool,
    /// A second, unsigned assertion appended after the signed one.
    pub extra_assertion: Option<String>,
}

impl Resp {
    pub fn new(acs: &str, audience: &str, in_response_to: Option<&str>, email: &str) -> Self {
        Self {
            acs: acs.into(),
            destination: None,
            recipient: None,
            audience: Some(audience.into()),
            in_response_to: in_response_to.map(str::to_owned),
            envelope_in_response_to: None,
            issuer: None,
            assertion_issuer: None,
            status: "urn:oasis:names:tc:SAML:2.0:status:Success".into(),
            email: email.into(),
            attributes: Vec::new(),
            sign: Sign::Assertion,
            sha1: false,
            assertion_id: format!(
                "_a{}",
                gatehouse::random::token(16).replace(['-', '_'], "x")
            ),
            not_before_secs: -60,
            not_on_or_after_secs: 300,
            confirmation_not_on_or_after_secs: 300,
            omit_conditions: false,
            extra_assertion: None,
        }
    }
}

fn instant(offset_secs: i64) -> String {
    (OffsetDateTime::now_utc() + time::Duration::seconds(offset_secs))
        .replace_nanosecond(0)
        .unwrap()
        .format(&Rfc3339)
        .unwrap()
}

impl TestIdp {
    pub fn new(entity_id: &str) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let key = PKey::from_rsa(Rsa::generate(2048).unwrap()).unwrap();
        let mut name = X509NameBuilder::new().unwrap();
        name.append_entry_by_text("CN", "test-idp").unwrap();
        let name = name.build();
        let mut b = X509::builder().unwrap();
        b.set_version(2).unwrap();
        b.set_subject_name(&name).unwrap();
        b.set_issuer_name(&name).unwrap();
        b.set_pubkey(&key).unwrap();
        b.set_not_before(&Asn1Time::days_from_now(0).unwrap())
            .unwrap();
        b.set_not_after(&Asn1Time::days_from_now(30).unwrap())
            .unwrap();
        b.sign(&key, MessageDigest::sha256()).unwrap();
        let cert = b.build();
        let key_path = dir.path().join("idp-key.pem");
        std::fs::write(&key_path, key.private_key_to_pem_pkcs8().unwrap()).unwrap();
        Self {
            entity_id: entity_id.into(),
            sso_url: "https://idp.example.test/sso".into(),
            key_path,
            cert_pem: String::from_utf8(cert.to_pem().unwrap()).unwrap(),
            cert_b64: STANDARD.encode(cert.to_der().unwrap()),
            dir,
        }
    }

    /// An unsigned `ds:Signature` template (RSA-SHA256, exc-c14n) referencing `#reference`.
    pub fn signature(&self, reference: &str, sha1: bool) -> String {
        let (sig, digest) = if sha1 {
            (
                "http://www.w3.org/2000/09/xmldsig#rsa-sha1",
                "http://www.w3.org/2000/09/xmldsig#sha1",
            )
        } else {
            (
                "http://www.w3.org/2001/04/xmldsig-more#rsa-sha256",
                "http://www.w3.org/2001/04/xmlenc#sha256",
            )
        };
        format!(
            r##"<ds:Signature xmlns:ds="http://www.w3.org/2000/09/xmldsig#"><ds:SignedInfo><ds:CanonicalizationMethod Algorithm="http://www.w3.org/2001/10/xml-exc-c14n#"/><ds:SignatureMethod Algorithm="{sig}"/><ds:Reference URI="#{reference}"><ds:Transforms><ds:Transform Algorithm="http://www.w3.org/2000/09/xmldsig#enveloped-signature"/><ds:Transform Algorithm="http://www.w3.org/2001/10/xml-exc-c14n#"/></ds:Transforms><ds:DigestMethod Algorithm="{digest}"/><ds:DigestValue></ds:DigestValue></ds:Reference></ds:SignedInfo><ds:SignatureValue></ds:SignatureValue><ds:KeyInfo><ds:X509Data><ds:X509Certificate>{}</ds:X509Certificate></ds:X509Data></ds:KeyInfo></ds:Signature>"##,
            self.cert_b64
        )
    }

    /// Signs the first `ds:Signature` template in `xml` with xmlsec1.
    pub fn xmlsec_sign(&self, xml: &str) -> String {
        let n = gatehouse::random::token(6).replace(['-', '_'], "x");
        let input = self.dir.path().join(format!("in-{n}.xml"));
        let output = self.dir.path().join(format!("out-{n}.xml"));
        std::fs::write(&input, xml).unwrap();
        let out = Command::new("xmlsec1")
            .args(["--sign", "--privkey-pem"])
            .arg(&self.key_path)
            .args([
                "--id-attr:ID",
                "urn:oasis:names:tc:SAML:2.0:assertion:Assertion",
            ])
            .args([
                "--id-attr:ID",
                "urn:oasis:names:tc:SAML:2.0:protocol:Response",
            ])
            .args([
                "--id-attr:ID",
                "urn:oasis:names:tc:SAML:2.0:protocol:LogoutResponse",
            ])
            .arg("--output")
            .arg(&output)
            .arg(&input)
            .output()
            .expect("xmlsec1 is installed (scripts/setup.sh test installs it)");
        assert!(
            out.status.success(),
            "xmlsec1 failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        std::fs::read_to_string(&output).unwrap()
    }

    fn assertion(&self, r: &Resp, with_signature: bool) -> String {
        let issuer = r
            .assertion_issuer
            .clone()
            .or(r.issuer.clone())
            .unwrap_or(self.entity_id.clone());
        let irt = r
            .in_response_to
            .as_ref()
            .map(|v| format!(" InResponseTo=\"{v}\""))
            .unwrap_or_default();
        let audience = r
            .audience
            .as_ref()
            .map(|a| format!("<saml:AudienceRestriction><saml:Audience>{a}</saml:Audience></saml:AudienceRestriction>"))
            .unwrap_or_default();
        let conditions = if r.omit_conditions {
            String::new()
        } else {
            format!(
                r#"<saml:Conditions NotBefore="{}" NotOnOrAfter="{}">{audience}</saml:Conditions>"#,
                instant(r.not_before_secs),
                instant(r.not_on_or_after_secs)
            )
        };
        let attrs: String = r
            .attributes
            .iter()
            .map(|(name, values)| {
                let vals: String = values
                    .iter()
                    .map(|v| format!(r#"<saml:AttributeValue xmlns:xs="http://www.w3.org/2001/XMLSchema" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" xsi:type="xs:string">{v}</saml:AttributeValue>"#))
                    .collect();
                format!(r#"<saml:Attribute Name="{name}" NameFormat="urn:oasis:names:tc:SAML:2.0:attrname-format:basic">{vals}</saml:Attribute>"#)
            })
            .collect();
        let sig = if with_signature {
            self.signature(&r.assertion_id, r.sha1)
        } else {
            String::new()
        };
        format!(
            r#"<saml:Assertion xmlns:saml="urn:oasis:names:tc:SAML:2.0:assertion" ID="{id}" Version="2.0" IssueInstant="{now}"><saml:Issuer>{issuer}</saml:Issuer>{sig}<saml:Subject><saml:NameID Format="urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress">{email}</saml:NameID><saml:SubjectConfirmation Method="urn:oasis:names:tc:SAML:2.0:cm:bearer"><saml:SubjectConfirmationData NotOnOrAfter="{cexp}" Recipient="{recipient}"{irt}/></saml:SubjectConfirmation></saml:Subject>{conditions}<saml:AuthnStatement AuthnInstant="{now}"><saml:AuthnContext><saml:AuthnContextClassRef>urn:oasis:names:tc:SAML:2.0:ac:classes:PasswordProtectedTransport</saml:AuthnContextClassRef></saml:AuthnContext></saml:AuthnStatement><saml:AttributeStatement>{attrs}</saml:AttributeStatement></saml:Assertion>"#,
            id = r.assertion_id,
            now = instant(0),
            email = r.email,
            cexp = instant(r.confirmation_not_on_or_after_secs),
            recipient = r.recipient.clone().unwrap_or(r.acs.clone()),
        )
    }

    /// The Response as XML (signed as `r.sign` says).
    pub fn response_xml(&self, r: &Resp) -> String {
        let rid = format!(
            "_r{}",
            gatehouse::random::token(16).replace(['-', '_'], "x")
        );
        let issuer = r.issuer.clone().unwrap_or(self.entity_id.clone());
        let envelope_irt = r
            .envelope_in_response_to
            .clone()
            .unwrap_or(r.in_response_to.clone());
        let irt = envelope_irt
            .map(|v| format!(" InResponseTo=\"{v}\""))
            .unwrap_or_default();
        let dest = r.destination.clone().unwrap_or(r.acs.clone());
        let sign_assertion = matches!(r.sign, Sign::Assertion | Sign::Both);
        let mut assertion = self.assertion(r, sign_assertion);
        if sign_assertion {
            let signed = self.xmlsec_sign(&assertion);
            let body = match signed.strip_prefix("<?xml") {
                Some(rest) => rest.split_once("?>").map(|(_, b)| b).unwrap_or(rest),
                None => signed.as_str(),
            };
            assertion = body.trim().to_string();
        }
        if let Some(extra) = &r.extra_assertion {
            assertion.push_str(extra);
        }
        let build = |sig: &str| {
            format!(
                r#"<samlp:Response xmlns:samlp="urn:oasis:names:tc:SAML:2.0:protocol" xmlns:saml="urn:oasis:names:tc:SAML:2.0:assertion" ID="{rid}" Version="2.0" IssueInstant="{now}" Destination="{dest}"{irt}><saml:Issuer>{issuer}</saml:Issuer>{sig}<samlp:Status><samlp:StatusCode Value="{status}"/></samlp:Status>{assertion}</samlp:Response>"#,
                now = instant(0),
                status = r.status,
            )
        };
        if matches!(r.sign, Sign::Response | Sign::Both) {
            self.xmlsec_sign(&build(&self.signature(&rid, r.sha1)))
        } else {
            build("")
        }
    }

    pub fn response(&self, r: &Resp) -> String {
        STANDARD.encode(self.response_xml(r))
    }

    /// A bare (unsigned) assertion, for wrapping attacks.
    pub fn unsigned_assertion(&self, r: &Resp) -> String {
        self.assertion(r, false)
    }
}
