//! Fuzzes the ACS parsing and validation path: arbitrary bytes as the XML document
//! (base64-encoded as a browser would post it) and, when they are UTF-8, as the raw
//! `SAMLResponse` form value — through `gatehouse::saml::acs::validate` against one fixed
//! tenant whose IdP key lives in `fixtures/` (the seeds in `corpus/` are signed with it).
//!
//! Oracle beyond "no panic, no crash": the fuzzer cannot forge a signature, so anything
//! accepted must carry the identity the seeds signed. Any other accepted identity is a
//! signature-wrapping bug.
#![no_main]

use std::sync::OnceLock;

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use gatehouse::saml::acs::{validate, Expectation};
use gatehouse::saml::cert::parse_certificates;
use gatehouse::saml::connection::{AttributeMap, Provider, SamlConnection};
use gatehouse::saml::sp::{endpoints, SpEndpoints};
use libfuzzer_sys::fuzz_target;

/// Must match make_corpus.sh.
const REQUEST_ID: &str = "_fuzzrequest0123456789abcdef0123";
const SIGNED_EMAIL: &str = "jane@acme.example";
const SIGNED_ASSERTION_ID: &str = "_fuzzassertion";

struct Tenant {
    sp: SpEndpoints,
    connection: SamlConnection,
}

fn tenant() -> &'static Tenant {
    static TENANT: OnceLock<Tenant> = OnceLock::new();
    TENANT.get_or_init(|| {
        // libFuzzer calls the target on the main thread first: initialise libxml2/xmlsec
        // there, as the server does before starting its workers.
        gatehouse::warm_up_xml();
        let now = time::OffsetDateTime::now_utc();
        let base = "https://sso.fuzz.example".parse().expect("static URL");
        Tenant {
            sp: endpoints(&base, "acme.example"),
            connection: SamlConnection {
                tenant_id: "tn_fuzz".into(),
                provider: Provider::Custom,
                idp_entity_id: "https://idp.fuzz.example/metadata".into(),
                idp_sso_url: "https://idp.fuzz.example/sso".into(),
                certificates: parse_certificates(include_str!("../fixtures/idp-cert.pem"), now)
                    .expect("fixture certificate is valid"),
                attributes: AttributeMap {
                    email: None,
                    first_name: Some("firstName".into()),
                    last_name: Some("lastName".into()),
                    groups: Some("groups".into()),
                },
                allow_idp_initiated: false,
                jit_provisioning: false,
                sign_authn_requests: false,
                allow_sha1: false,
                clock_skew_secs: 120,
                default_return_url: None,
                metadata_url: None,
                updated_at: now,
            },
        }
    })
}

fn check(form_value: &str, request_id: Option<&str>) {
    let t = tenant();
    let exp = Expectation {
        sp: &t.sp,
        connection: &t.connection,
        request_id,
    };
    if let Ok(identity) = validate(form_value, &exp) {
        assert_eq!(identity.email, SIGNED_EMAIL, "accepted a forged identity");
        assert_eq!(identity.assertion_id, SIGNED_ASSERTION_ID);
        assert_eq!(identity.name_id.as_deref(), Some(SIGNED_EMAIL));
    }
}

fuzz_target!(|data: &[u8]| {
    check(&STANDARD.encode(data), Some(REQUEST_ID));
    if let Ok(text) = std::str::from_utf8(data) {
        check(text, None);
    }
});
