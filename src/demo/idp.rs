//! The demo's built-in SAML identity provider: a key and self-signed certificate made at
//! start, and responses signed through samael's xmlsec binding (RSA-SHA256, exclusive
//! c14n, the assertion signed) — the same kind of response a real IdP sends, checked by
//! the same ACS code. It signs only for this gateway's own ACS URLs.

use std::io::Read;

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use samael::crypto::CryptoProvider;
use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;
use url::Url;

use crate::error::{Error, Result};
use crate::random;
use crate::saml::sp_key;

pub struct DemoIdp {
    pub entity_id: String,
    pub sso_url: String,
    pub cert_pem: String,
    cert_base64: String,
    key_der: Vec<u8>,
    base: String,
}

/// What the IdP read from an AuthnRequest.
#[derive(Debug, Clone)]
pub struct Request {
    pub id: String,
    pub acs_url: String,
    pub sp_entity_id: String,
}

fn internal(e: impl std::fmt::Display) -> Error {
    Error::Internal(format!("demo IdP: {e}"))
}

fn xml_escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

fn instant(t: OffsetDateTime) -> String {
    t.replace_nanosecond(0)
        .unwrap_or(t)
        .format(&Rfc3339)
        .unwrap_or_default()
}

impl DemoIdp {
    pub fn new(base_url: &Url) -> Result<Self> {
        let base = base_url.as_str().trim_end_matches('/').to_owned();
        let (key, cert) = sp_key::self_signed("Gatehouse demo IdP")?;
        Ok(Self {
            entity_id: format!("{base}/demo-idp"),
            sso_url: format!("{base}/demo-idp/sso"),
            cert_pem: String::from_utf8(cert.to_pem().map_err(internal)?).map_err(internal)?,
            cert_base64: STANDARD.encode(cert.to_der().map_err(internal)?),
            key_der: key.private_key_to_der().map_err(internal)?,
            base,
        })
    }

    /// Reads an HTTP-Redirect `SAMLRequest`; only requests from this gateway are served.
    pub fn read_request(&self, saml_request: &str) -> Result<Request> {
        let bad = |m: &str| Error::invalid("SAMLRequest", m.to_owned());
        let compressed = STANDARD
            .decode(saml_request.trim())
            .map_err(|_| bad("is not base64"))?;
        let mut xml = String::new();
        flate2::read::DeflateDecoder::new(&compressed[..])
            .take(64 * 1024)
            .read_to_string(&mut xml)
            .map_err(|_| bad("is not a deflated AuthnRequest"))?;
        let request: samael::schema::AuthnRequest =
            xml.parse().map_err(|_| bad("is not an AuthnRequest"))?;
        let acs_url = request
            .assertion_consumer_service_url
            .ok_or_else(|| bad("names no ACS URL"))?;
        let sp_entity_id = request
            .issuer
            .and_then(|i| i.value)
            .ok_or_else(|| bad("names no issuer"))?;
        let ours = format!("{}/saml/", self.base);
        if !acs_url.starts_with(&ours) || !sp_entity_id.starts_with(&ours) {
            return Err(bad(
                "comes from another service provider; the demo IdP serves only this gateway",
            ));
        }
        Ok(Request {
            id: request.id,
            acs_url,
            sp_entity_id,
        })
    }

    /// A signed Response for `email`, base64-encoded for the HTTP-POST binding.
    pub fn sign_in(&self, request: &Request, email: &str, now: OffsetDateTime) -> Result<String> {
        let (given, family) = email
            .split_once('@')
            .map(|(local, _)| (local.to_owned(), "Demo".to_owned()))
            .unwrap_or_default();
        let assertion_id = format!("_a{}", random::token(18).replace(['-', '_'], "x"));
        let response_id = format!("_r{}", random::token(18).replace(['-', '_'], "x"));
        let attribute = |name: &str, value: &str| {
            format!(
                r#"<saml:Attribute Name="{name}"><saml:AttributeValue>{}</saml:AttributeValue></saml:Attribute>"#,
                xml_escape(value)
            )
        };
        let xml = format!(
            r##"<samlp:Response xmlns:samlp="urn:oasis:names:tc:SAML:2.0:protocol" xmlns:saml="urn:oasis:names:tc:SAML:2.0:assertion" ID="{response_id}" Version="2.0" IssueInstant="{now}" Destination="{acs}" InResponseTo="{request_id}"><saml:Issuer>{issuer}</saml:Issuer><samlp:Status><samlp:StatusCode Value="urn:oasis:names:tc:SAML:2.0:status:Success"/></samlp:Status><saml:Assertion ID="{assertion_id}" Version="2.0" IssueInstant="{now}"><saml:Issuer>{issuer}</saml:Issuer><ds:Signature xmlns:ds="http://www.w3.org/2000/09/xmldsig#"><ds:SignedInfo><ds:CanonicalizationMethod Algorithm="http://www.w3.org/2001/10/xml-exc-c14n#"/><ds:SignatureMethod Algorithm="http://www.w3.org/2001/04/xmldsig-more#rsa-sha256"/><ds:Reference URI="#{assertion_id}"><ds:Transforms><ds:Transform Algorithm="http://www.w3.org/2000/09/xmldsig#enveloped-signature"/><ds:Transform Algorithm="http://www.w3.org/2001/10/xml-exc-c14n#"/></ds:Transforms><ds:DigestMethod Algorithm="http://www.w3.org/2001/04/xmlenc#sha256"/><ds:DigestValue></ds:DigestValue></ds:Reference></ds:SignedInfo><ds:SignatureValue></ds:SignatureValue><ds:KeyInfo><ds:X509Data><ds:X509Certificate>{cert}</ds:X509Certificate></ds:X509Data></ds:KeyInfo></ds:Signature><saml:Subject><saml:NameID Format="urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress">{email}</saml:NameID><saml:SubjectConfirmation Method="urn:oasis:names:tc:SAML:2.0:cm:bearer"><saml:SubjectConfirmationData InResponseTo="{request_id}" Recipient="{acs}" NotOnOrAfter="{until}"/></saml:SubjectConfirmation></saml:Subject><saml:Conditions NotBefore="{from}" NotOnOrAfter="{until}"><saml:AudienceRestriction><saml:Audience>{audience}</saml:Audience></saml:AudienceRestriction></saml:Conditions><saml:AuthnStatement AuthnInstant="{now}"><saml:AuthnContext><saml:AuthnContextClassRef>urn:oasis:names:tc:SAML:2.0:ac:classes:PasswordProtectedTransport</saml:AuthnContextClassRef></saml:AuthnContext></saml:AuthnStatement><saml:AttributeStatement>{attributes}</saml:AttributeStatement></saml:Assertion></samlp:Response>"##,
            now = instant(now),
            from = instant(now - time::Duration::seconds(30)),
            until = instant(now + time::Duration::minutes(5)),
            acs = xml_escape(&request.acs_url),
            request_id = xml_escape(&request.id),
            issuer = xml_escape(&self.entity_id),
            audience = xml_escape(&request.sp_entity_id),
            cert = self.cert_base64,
            email = xml_escape(email),
            attributes = [
                attribute("firstName", &given),
                attribute("lastName", &family),
                attribute("groups", "demo"),
            ]
            .concat(),
        );
        let signed = samael::crypto::Crypto::sign_xml(&xml, &self.key_der).map_err(internal)?;
        Ok(STANDARD.encode(signed))
    }
}
