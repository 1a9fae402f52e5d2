//! SP-initiated login: the AuthnRequest (HTTP-Redirect binding) and the flow state that
//! binds the IdP's answer to it.
//!
//! The RelayState sent to the IdP is an opaque random id; the request ID, the tenant and
//! the `return_to` live in the store under it for ten minutes and are taken exactly once at
//! the ACS, so a response can neither be replayed into another flow (T16) nor redirect
//! anywhere the login did not ask for (T27).

use std::io::Write;
use std::time::Duration;

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use flate2::write::DeflateEncoder;
use flate2::Compression;
use serde::{Deserialize, Serialize};
use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;
use url::Url;

use super::connection::SamlConnection;
use super::sp::SpEndpoints;
use super::sp_key::SpKey;
use crate::error::{Error, Result};
use crate::random;
use crate::sso_test::TestMark;
use crate::store::{decode, encode, keys, Store};

pub const FLOW_TTL: Duration = Duration::from_secs(600);

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FlowState {
    pub tenant_id: String,
    pub request_id: String,
    pub return_to: Option<String>,
    /// Set for a test sign-in: the ACS then reports instead of signing in. Flows started
    /// before marks existed carried only the admin's id, as `test_by`.
    #[serde(
        default,
        alias = "test_by",
        deserialize_with = "crate::sso_test::mark_or_runner"
    )]
    pub test: Option<TestMark>,
}

/// A request ID with 128 random bits (samael's own have 32). Starts with a letter, as
/// xs:ID requires.
pub fn new_request_id() -> String {
    let mut bytes = [0u8; 16];
    rand::RngCore::fill_bytes(&mut rand::rngs::OsRng, &mut bytes);
    format!(
        "_{}",
        bytes.iter().map(|b| format!("{b:02x}")).collect::<String>()
    )
}

fn xml_escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

pub fn authn_request_xml(
    id: &str,
    sp: &SpEndpoints,
    idp_sso_url: &str,
    now: OffsetDateTime,
) -> String {
    let instant = now
        .replace_nanosecond(0)
        .unwrap_or(now)
        .format(&Rfc3339)
        .unwrap_or_default();
    format!(
        r#"<samlp:AuthnRequest xmlns:samlp="urn:oasis:names:tc:SAML:2.0:protocol" xmlns:saml="urn:oasis:names:tc:SAML:2.0:assertion" ID="{id}" Version="2.0" IssueInstant="{instant}" Destination="{dest}" AssertionConsumerServiceURL="{acs}" ProtocolBinding="urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST"><saml:Issuer>{issuer}</saml:Issuer><samlp:NameIDPolicy Format="urn:oasis:names:tc:SAML:1.1:nameid-format:unspecified" AllowCreate="true"/></samlp:AuthnRequest>"#,
        dest = xml_escape(idp_sso_url),
        acs = xml_escape(&sp.acs_url),
        issuer = xml_escape(&sp.entity_id),
    )
}

/// `SAMLRequest` for the HTTP-Redirect binding: raw DEFLATE, then base64.
pub fn deflate_base64(xml: &str) -> Result<String> {
    let mut enc = DeflateEncoder::new(Vec::new(), Compression::default());
    enc.write_all(xml.as_bytes())
        .map_err(|e| Error::Internal(format!("deflate: {e}")))?;
    let bytes = enc
        .finish()
        .map_err(|e| Error::Internal(format!("deflate: {e}")))?;
    Ok(STANDARD.encode(bytes))
}

/// Starts a login: stores the flow state and returns the URL to send the browser to.
/// With `signer`, the request carries an HTTP-Redirect binding signature.
pub async fn start(
    store: &dyn Store,
    connection: &SamlConnection,
    sp: &SpEndpoints,
    signer: Option<&SpKey>,
    return_to: Option<String>,
    test: Option<TestMark>,
    now: OffsetDateTime,
) -> Result<String> {
    let request_id = new_request_id();
    let relay_state = random::token(24);
    let state = FlowState {
        tenant_id: connection.tenant_id.clone(),
        request_id: request_id.clone(),
        return_to,
        test,
    };
    store
        .put(
            &keys::saml_flow(&relay_state),
            &encode(&state)?,
            Some(FLOW_TTL),
        )
        .await?;
    let request = deflate_base64(&authn_request_xml(
        &request_id,
        sp,
        &connection.idp_sso_url,
        now,
    ))?;
    let mut url = Url::parse(&connection.idp_sso_url)
        .map_err(|e| Error::Internal(format!("stored IdP SSO URL: {e}")))?;
    match signer {
        Some(key) => {
            // The signature covers our parameters byte for byte: append them verbatim
            // after whatever query the IdP's URL already has.
            let ours = key.signed_query(&request, &relay_state)?;
            let query = match url.query().filter(|q| !q.is_empty()) {
                Some(existing) => format!("{existing}&{ours}"),
                None => ours,
            };
            url.set_query(Some(&query));
        }
        None => {
            url.query_pairs_mut()
                .append_pair("SAMLRequest", &request)
                .append_pair("RelayState", &relay_state);
        }
    }
    Ok(url.to_string())
}

/// Takes (single use) the flow state named by a RelayState.
pub async fn take(store: &dyn Store, relay_state: &str) -> Result<Option<FlowState>> {
    if relay_state.is_empty() || relay_state.len() > 128 {
        return Ok(None);
    }
    let key = keys::saml_flow(relay_state);
    match store.take(&key).await? {
        Some(bytes) => Ok(Some(decode(&key, &bytes)?)),
        None => Ok(None),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Read;

    #[test]
    fn request_ids_carry_128_random_bits() {
        let a = new_request_id();
        assert_eq!(a.len(), 33);
        assert!(a.starts_with('_'));
        assert_ne!(a, new_request_id());
    }

    #[test]
    fn redirect_binding_round_trips() {
        let sp = SpEndpoints {
            entity_id: "https://sso.example/saml/metadata/a.com".into(),
            acs_url: "https://sso.example/saml/acs/a.com".into(),
        };
        let xml = authn_request_xml(
            "_abc",
            &sp,
            "https://idp.example/sso?x=1&y=<2>",
            OffsetDateTime::UNIX_EPOCH,
        );
        let encoded = deflate_base64(&xml).unwrap();
        let mut out = String::new();
        flate2::read::DeflateDecoder::new(&STANDARD.decode(encoded).unwrap()[..])
            .read_to_string(&mut out)
            .unwrap();
        assert_eq!(out, xml);
        assert!(xml.contains("Destination=\"https://idp.example/sso?x=1&amp;y=&lt;2&gt;\""));
        assert!(xml.contains("IssueInstant=\"1970-01-01T00:00:00Z\""));
    }
}
