//! Our side of SAML: the SP Entity ID and ACS URL of a tenant, and the SP metadata document.
//!
//! Both URLs are built from the tenant's primary domain, so each tenant has its own
//! audience and recipient — an assertion minted for tenant A fails tenant B's checks.

use url::Url;

/// The values an admin copies into the IdP.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SpEndpoints {
    /// "SP Entity ID" (also the metadata URL).
    pub entity_id: String,
    /// "SP SSO URL (ACS)".
    pub acs_url: String,
}

pub fn endpoints(base: &Url, primary_domain: &str) -> SpEndpoints {
    let root = base.as_str().trim_end_matches('/');
    SpEndpoints {
        entity_id: format!("{root}/saml/metadata/{primary_domain}"),
        acs_url: format!("{root}/saml/acs/{primary_domain}"),
    }
}

fn xml_escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
        .replace('\'', "&apos;")
}

/// SP metadata: entity ID, one ACS with the HTTP-POST binding, the email NameID format,
/// the wish for signed assertions and, when AuthnRequests are signed, the certificate
/// (base64 DER) the IdP verifies them with.
pub fn metadata_xml(sp: &SpEndpoints, signing_cert: Option<&str>) -> String {
    let key_descriptor = signing_cert.map_or_else(String::new, |cert| {
        format!(
            r#"
    <md:KeyDescriptor use="signing"><ds:KeyInfo xmlns:ds="http://www.w3.org/2000/09/xmldsig#"><ds:X509Data><ds:X509Certificate>{}</ds:X509Certificate></ds:X509Data></ds:KeyInfo></md:KeyDescriptor>"#,
            xml_escape(cert)
        )
    });
    format!(
        r#"<?xml version="1.0" encoding="UTF-8"?>
<md:EntityDescriptor xmlns:md="urn:oasis:names:tc:SAML:2.0:metadata" entityID="{entity}">
  <md:SPSSODescriptor AuthnRequestsSigned="{signed}" WantAssertionsSigned="true" protocolSupportEnumeration="urn:oasis:names:tc:SAML:2.0:protocol">{key_descriptor}
    <md:NameIDFormat>urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress</md:NameIDFormat>
    <md:AssertionConsumerService Binding="urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST" Location="{acs}" index="0" isDefault="true"/>
  </md:SPSSODescriptor>
</md:EntityDescriptor>
"#,
        entity = xml_escape(&sp.entity_id),
        acs = xml_escape(&sp.acs_url),
        signed = signing_cert.is_some(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn endpoints_follow_the_contract() {
        let sp = endpoints(&Url::parse("https://sso.example.com/").unwrap(), "acme.com");
        assert_eq!(
            sp.entity_id,
            "https://sso.example.com/saml/metadata/acme.com"
        );
        assert_eq!(sp.acs_url, "https://sso.example.com/saml/acs/acme.com");
    }

    #[test]
    fn metadata_is_parseable_saml_metadata() {
        let sp = endpoints(&Url::parse("https://sso.example.com").unwrap(), "acme.com");
        let xml = metadata_xml(&sp, None);
        let parsed: samael::metadata::EntityDescriptor = xml.parse().unwrap();
        assert_eq!(parsed.entity_id.as_deref(), Some(sp.entity_id.as_str()));
        let acs = &parsed.sp_sso_descriptors.unwrap()[0].assertion_consumer_services[0];
        assert_eq!(acs.location, sp.acs_url);
        assert_eq!(
            acs.binding,
            "urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST"
        );
        let signed = metadata_xml(&sp, Some("MIIBfake"));
        let parsed: samael::metadata::EntityDescriptor = signed.parse().unwrap();
        let descriptor = &parsed.sp_sso_descriptors.unwrap()[0];
        assert_eq!(descriptor.authn_requests_signed, Some(true));
        assert_eq!(descriptor.key_descriptors.as_ref().map(Vec::len), Some(1));
    }
}
