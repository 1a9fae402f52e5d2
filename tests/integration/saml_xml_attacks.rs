//! XML-level attacks on the ACS (SECURITY-CHECKLIST T02–T11, T23, T26, T30), each posted over
//! HTTP to the real gateway. Every forgery is built from what an attacker can really hold: a
//! response the IdP signed for *them* (here: for jane, an ordinary member of the tenant) or
//! any other IdP-signed document, then spliced by hand. `ceo@<tenant>` exists in every
//! tenant, so a forgery that the gateway consumed would sign in as the CEO: the tests check
//! that it is refused *and* that nobody was signed in as the CEO.
//!
//! Where a refusal comes from our own code, the comment names the function; several shapes
//! are stopped twice (our structural layer first; samael, which hands back only the canonical
//! bytes its signature covered, behind it).

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use reqwest::Method;
use serde_json::{json, Value};
use time::format_description::well_known::Rfc3339;

use crate::common::{session_cookie, Backend};
use crate::saml_acs::{assert_refused, Saml};
use crate::saml_idp::{Resp, Sign, TestIdp};

const ASSERTION_END: &str = "</saml:Assertion>";

/// Builds one forged response XML for a request ID.
type Shape<'a> = Box<dyn Fn(&str) -> String + 'a>;

fn now() -> String {
    time::OffsetDateTime::now_utc()
        .replace_nanosecond(0)
        .unwrap()
        .format(&Rfc3339)
        .unwrap()
}

fn rand_id(prefix: &str) -> String {
    format!(
        "{prefix}{}",
        gatehouse::random::token(12).replace(['-', '_'], "x")
    )
}

/// A tenant whose CEO exists, so that a consumed forgery would really sign in.
async fn tenant(connection: Value) -> (Saml, String) {
    let s = Saml::new(Backend::Embedded, connection).await;
    let ceo = format!("ceo@{}", s.domain);
    s.app
        .create_user(s.tenant["id"].as_str().unwrap(), &ceo)
        .await;
    (s, ceo)
}

/// The IdP-signed `<saml:Assertion>` for `r` (signature inside), cut out of its Response.
fn signed_assertion(s: &Saml, r: &Resp) -> String {
    let mut r = r.clone();
    r.sign = Sign::Assertion;
    let xml = s.idp.response_xml(&r);
    let start = xml.find("<saml:Assertion").unwrap();
    let end = xml.rfind(ASSERTION_END).unwrap() + ASSERTION_END.len();
    xml[start..end].to_string()
}

/// An unsigned Response envelope that passes every envelope check for `request_id`, with
/// `before_status` (e.g. Extensions) and `body` (assertions) spliced in.
fn envelope(s: &Saml, request_id: &str, before_status: &str, body: &str) -> String {
    format!(
        r#"<samlp:Response xmlns:samlp="urn:oasis:names:tc:SAML:2.0:protocol" xmlns:saml="urn:oasis:names:tc:SAML:2.0:assertion" ID="{id}" Version="2.0" IssueInstant="{now}" Destination="{acs}" InResponseTo="{request_id}"><saml:Issuer>{issuer}</saml:Issuer>{before_status}<samlp:Status><samlp:StatusCode Value="urn:oasis:names:tc:SAML:2.0:status:Success"/></samlp:Status>{body}</samlp:Response>"#,
        id = rand_id("_env"),
        now = now(),
        acs = s.acs(),
        issuer = s.idp.entity_id,
    )
}

fn extensions(inner: &str) -> String {
    format!("<samlp:Extensions>{inner}</samlp:Extensions>")
}

/// The `<ds:Signature>…</ds:Signature>` element inside `xml`.
fn signature_of(xml: &str) -> String {
    let start = xml.find("<ds:Signature").unwrap();
    let end = xml.find("</ds:Signature>").unwrap() + "</ds:Signature>".len();
    xml[start..end].to_string()
}

fn without_signature(xml: &str) -> String {
    xml.replacen(&signature_of(xml), "", 1)
}

/// Runs one SP-initiated attempt whose response XML `build` makes for the request ID.
async fn post_xml(s: &Saml, build: impl FnOnce(&str) -> String) -> reqwest::Response {
    let browser = s.app.client();
    let (id, relay) = s.start(&browser, "/").await;
    let xml = build(&id);
    s.post(&browser, &STANDARD.encode(xml), &relay).await
}

/// The newest refused login event of the tenant: (cause, asserted email if any).
async fn last_refusal(s: &Saml) -> (String, Option<String>) {
    let events: Value = s
        .app
        .admin(
            Method::GET,
            &format!(
                "/tenants/{}/login-events?outcome=refused",
                s.tenant["id"].as_str().unwrap()
            ),
            None,
        )
        .await
        .json()
        .await
        .unwrap();
    let e = &events["items"][0];
    (
        e["cause"].as_str().unwrap_or_default().to_string(),
        e["email"].as_str().map(str::to_owned),
    )
}

/// Refused, and the refusal's cause contains `because` (our check that caught it).
async fn refused_because(s: &Saml, resp: reqwest::Response, what: &str, because: &str) {
    assert_refused(resp, what).await;
    let (cause, _) = last_refusal(s).await;
    assert!(
        cause.contains(because),
        "{what}: refused, but for another reason: {cause}"
    );
}

/// Accepted, and the session belongs to `email`.
async fn signed_in_as(s: &Saml, browser: &reqwest::Client, resp: reqwest::Response, email: &str) {
    assert_eq!(resp.status(), 303, "{}", resp.text().await.unwrap());
    let verify = s.app.verify(browser).await;
    assert_eq!(verify.status(), 200);
    assert_eq!(
        crate::common::header(&verify, "x-gatehouse-email"),
        Some(email)
    );
}

/// The hand-built envelope is accepted when nothing is forged: the refusals below come from
/// the forgery, not from the splicing.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn spliced_envelope_control_is_accepted() {
    let (s, _) = tenant(json!({})).await;
    let browser = s.app.client();
    let (id, relay) = s.start(&browser, "/").await;
    let xml = envelope(&s, &id, "", &signed_assertion(&s, &s.resp(Some(&id))));
    let resp = s.post(&browser, &STANDARD.encode(xml), &relay).await;
    signed_in_as(&s, &browser, resp, &s.email).await;
    s.stop().await;
}

/// T05: exactly one root element and nothing after it. Caught by the strict parse in
/// `saml::xml_shape::check` (libxml2 without recovery); the raw-text assertion count and
/// samael (whose own parse recovers from such damage) would not notice trailing roots.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn t05_multiple_roots_trailing_data_no_root() {
    let (s, _) = tenant(json!({})).await;
    let second_root = r#"<samlp:Response xmlns:samlp="urn:oasis:names:tc:SAML:2.0:protocol" ID="_second" Version="2.0" IssueInstant="2030-01-01T00:00:00Z"/>"#;
    type Splice = fn(&str, &str) -> String;
    let shapes: [(&str, Splice); 5] = [
        ("second root after the response", |good, extra| {
            format!("{good}{extra}")
        }),
        ("decoy root before the response", |good, extra| {
            format!("{extra}{good}")
        }),
        ("trailing text", |good, _| format!("{good}trailing")),
        ("unclosed trailing element", |good, _| {
            format!("{good}<samlp:Response")
        }),
        ("truncated document", |good, _| {
            good[..good.len() - "</samlp:Response>".len()].to_string()
        }),
    ];
    for (what, shape) in shapes {
        let resp = post_xml(&s, |id| {
            let mut r = s.resp(Some(id));
            r.sign = Sign::Response;
            shape(&s.idp.response_xml(&r), second_root)
        })
        .await;
        assert_refused(resp, &format!("T05 {what}")).await;
    }
    for no_root in [
        "",
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>",
        "<!-- only a comment -->",
        "   ",
    ] {
        let resp = post_xml(&s, |_| no_root.to_string()).await;
        assert!(session_cookie(&resp).is_none());
        assert!(
            resp.status() == 403 || resp.status() == 400,
            "T05 no root {no_root:?}: {}",
            resp.status()
        );
    }
    s.stop().await;
}

/// T05/T14: the bytes must be UTF-8 XML as declared. A UTF-16 or UTF-7 document is valid
/// UTF-8 text that libxml2 re-decodes, hiding `<!DOCTYPE` and extra `<Assertion` tags from
/// every textual guard. Caught by `saml::xml_shape::check` (declared encoding, NUL bytes).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn t05_t14_foreign_encodings_are_refused() {
    let (s, _) = tenant(json!({})).await;
    let resp = post_xml(&s, |id| {
        let mut r = s.resp(Some(id));
        r.sign = Sign::Response;
        let xml = s.idp.response_xml(&r);
        let body = xml.split_once("?>").map(|(_, b)| b).unwrap_or(&xml);
        // UTF-16LE without BOM: every ASCII byte followed by NUL — still valid UTF-8.
        let utf16: String = "<?xml version=\"1.0\" encoding=\"UTF-16\"?>"
            .chars()
            .chain(body.trim().chars())
            .flat_map(|c| [c, '\0'])
            .collect();
        utf16
    })
    .await;
    assert_refused(resp, "T05 UTF-16 disguised as UTF-8").await;
    // UTF-7 spells `<` as `+ADw-`: a DOCTYPE no textual check would see.
    let resp = post_xml(&s, |id| {
        let mut r = s.resp(Some(id));
        r.sign = Sign::Response;
        let xml = s.idp.response_xml(&r);
        let body = xml.split_once("?>").map(|(_, b)| b).unwrap_or(&xml);
        format!(
            "<?xml version=\"1.0\" encoding=\"UTF-7\"?>+ADw-!DOCTYPE r +AFs-+ADw-!ENTITY x \"y\"+AD4-+AF0-+AD4-{}",
            body.trim()
        )
    })
    .await;
    assert_refused(resp, "T14 UTF-7 DOCTYPE").await;
    // The declared encoding is checked even when the body is plain ASCII.
    let resp = post_xml(&s, |id| {
        let mut r = s.resp(Some(id));
        r.sign = Sign::Response;
        let xml = s.idp.response_xml(&r);
        let body = xml.split_once("?>").map(|(_, b)| b).unwrap_or(&xml);
        format!("<?xml version=\"1.0\" encoding=\"UTF-7\"?>{}", body.trim())
    })
    .await;
    refused_because(&s, resp, "T05 declared UTF-7", "encoding").await;
    s.stop().await;
}

/// T06: a comment (or a CDATA split) inside the signed NameID or email attribute. Exclusive
/// c14n drops comments, so the signature still verifies; a reader taking the first text
/// node would see `jane@<tenant>` although the IdP vouched for `jane@<tenant>.evil.test`.
/// `acs::validate` reads identity from samael's pre-digest output — the canonical bytes
/// that were hashed — so the identity is the full text, a foreign domain refused by
/// `signin::resolve` (T25); read from the first text node, this test would sign in jane.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn t06_comment_inside_name_id_or_email_attribute() {
    for attribute in [false, true] {
        let conn = if attribute {
            json!({"attributes": {"email": "email"}})
        } else {
            json!({})
        };
        let (s, _) = tenant(conn).await;
        let jane = s.email.clone();
        let attacker = format!("{jane}.evil.test");
        for split in ["<!---->", "<!-- x -->", "<![CDATA[]]>"] {
            let browser = s.app.client();
            let (id, relay) = s.start(&browser, "/").await;
            let mut r = s.resp(Some(&id));
            if attribute {
                r.email = format!("someone-{}", s.domain);
                r.attributes = vec![("email".into(), vec![attacker.clone()])];
            } else {
                r.email = attacker.clone();
            }
            let signed = s.idp.response_xml(&r);
            let tail = if split.starts_with("<![CDATA[") {
                "<![CDATA[.evil.test]]>".to_string()
            } else {
                format!("{split}.evil.test")
            };
            let forged = signed.replacen(&format!(">{attacker}<"), &format!(">{jane}{tail}<"), 1);
            assert_ne!(forged, signed, "the split was applied");
            let resp = s.post(&browser, &STANDARD.encode(&forged), &relay).await;
            assert_refused(resp, &format!("T06 {split} attribute={attribute}")).await;
            let (_, email) = last_refusal(&s).await;
            assert_eq!(
                email.as_deref(),
                Some(attacker.as_str()),
                "T06 {split}: the identity is the full canonical text"
            );
        }
        s.stop().await;
    }
}

/// T07: a processing instruction inside NameID. Added after signing it changes the digest
/// (c14n keeps PIs): refused by the signature check. Signed by the IdP itself, the identity
/// is the whole text around the PI — the same text the digest covered — never the part
/// before it: `jane@<tenant><?x?>.evil.test` is a foreign domain (`signin::resolve`, T25)
/// and `ja<?x?>ne@<tenant>` is jane.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn t07_processing_instruction_inside_name_id() {
    let (s, _) = tenant(json!({})).await;
    let jane = s.email.clone();
    let attacker = format!("{jane}.evil.test");
    let resp = post_xml(&s, |id| {
        let mut r = s.resp(Some(id));
        r.email = attacker.clone();
        s.idp.response_xml(&r).replacen(
            &format!(">{attacker}<"),
            &format!(">{jane}<?x y?>.evil.test<"),
            1,
        )
    })
    .await;
    refused_because(
        &s,
        resp,
        "T07 PI added after signing",
        "signature did not verify",
    )
    .await;
    let resp = post_xml(&s, |id| {
        let mut r = s.resp(Some(id));
        r.email = format!("{jane}<?x y?>.evil.test");
        s.idp.response_xml(&r)
    })
    .await;
    refused_because(
        &s,
        resp,
        "T07 PI signed by the IdP",
        &format!("domain {}.evil.test", s.domain),
    )
    .await;
    let (_, email) = last_refusal(&s).await;
    assert_eq!(
        email.as_deref(),
        Some(attacker.as_str()),
        "the whole text was read"
    );

    let browser = s.app.client();
    let (id, relay) = s.start(&browser, "/").await;
    let mut r = s.resp(Some(&id));
    r.email = format!("ja<?x y?>{}", &jane[2..]);
    let resp = s.post(&browser, &s.idp.response(&r), &relay).await;
    signed_in_as(&s, &browser, resp, &jane).await;
    s.stop().await;
}

/// T08: a valid signature whose Reference points at another element than the assertion
/// consumed. (a) Any IdP-signed document (here a LogoutResponse) hidden in Extensions, its
/// signature moved into a forged assertion; (b) jane's signed assertion kept aside and its
/// signature moved into the forged one. `saml::xml_shape::check` requires every signature's
/// Reference to name its own parent element; samael would also only keep what it verified.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn t08_reference_to_another_element() {
    let (s, ceo) = tenant(json!({})).await;
    let lr_id = rand_id("_lr");
    let logout = s.idp.xmlsec_sign(&format!(
        r#"<samlp:LogoutResponse xmlns:samlp="urn:oasis:names:tc:SAML:2.0:protocol" ID="{lr_id}" Version="2.0" IssueInstant="{now}" Destination="{acs}"><saml:Issuer xmlns:saml="urn:oasis:names:tc:SAML:2.0:assertion">{issuer}</saml:Issuer>{sig}<samlp:Status><samlp:StatusCode Value="urn:oasis:names:tc:SAML:2.0:status:Success"/></samlp:Status></samlp:LogoutResponse>"#,
        now = now(),
        acs = s.acs(),
        issuer = s.idp.entity_id,
        sig = s.idp.signature(&lr_id, false),
    ));
    let logout = logout
        .split_once("?>")
        .map(|(_, b)| b.trim())
        .unwrap()
        .to_string();
    let resp = post_xml(&s, |id| {
        let mut forged = s.resp(Some(id));
        forged.email = ceo.clone();
        let assertion = s.idp.unsigned_assertion(&forged).replacen(
            "<saml:Subject>",
            &format!("{}<saml:Subject>", signature_of(&logout)),
            1,
        );
        envelope(&s, id, &extensions(&without_signature(&logout)), &assertion)
    })
    .await;
    refused_because(&s, resp, "T08 LogoutResponse signature", "Reference").await;

    let resp = post_xml(&s, |id| {
        let good = signed_assertion(&s, &s.resp(Some(id)));
        let mut forged = s.resp(Some(id));
        forged.email = ceo.clone();
        let assertion = s.idp.unsigned_assertion(&forged).replacen(
            "<saml:Subject>",
            &format!("{}<saml:Subject>", signature_of(&good)),
            1,
        );
        envelope(&s, id, &extensions(&without_signature(&good)), &assertion)
    })
    .await;
    assert_refused(resp, "T08 assertion signature moved").await;
    let (_, email) = last_refusal(&s).await;
    assert_ne!(email.as_deref(), Some(ceo.as_str()));
    s.stop().await;
}

/// T09: identity comes only from samael's verified output (the signed canonical bytes). The unsigned envelope
/// carries a decoy Subject/NameID and email attribute for the CEO *before* the signed
/// assertion: the test's own naive re-parse of the raw input (first NameID in document
/// order) reads the CEO — and the gateway still signs in jane, the person the IdP signed
/// for. If `acs::identity` read the raw document, this test would sign in the CEO.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn t09_identity_never_comes_from_a_reparse_of_the_raw_input() {
    for attribute in [false, true] {
        let conn = if attribute {
            json!({"attributes": {"email": "email"}})
        } else {
            json!({})
        };
        let (s, ceo) = tenant(conn).await;
        let browser = s.app.client();
        let (id, relay) = s.start(&browser, "/").await;
        let mut r = s.resp(Some(&id));
        r.attributes = vec![("email".into(), vec![s.email.clone()])];
        let decoy = format!(
            r#"<saml:Subject><saml:NameID Format="urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress">{ceo}</saml:NameID></saml:Subject><saml:AttributeStatement><saml:Attribute Name="email"><saml:AttributeValue>{ceo}</saml:AttributeValue></saml:Attribute></saml:AttributeStatement>"#
        );
        let xml = envelope(&s, &id, &extensions(&decoy), &signed_assertion(&s, &r));

        // What a second parser of the raw bytes would believe.
        let naive_name_id = {
            let start = xml.find("<saml:NameID").unwrap();
            let text = &xml[start..];
            let text = &text[text.find('>').unwrap() + 1..];
            text[..text.find('<').unwrap()].to_string()
        };
        assert_eq!(
            naive_name_id, ceo,
            "the decoy is what a naive re-parse reads"
        );

        let resp = s.post(&browser, &STANDARD.encode(&xml), &relay).await;
        signed_in_as(&s, &browser, resp, &s.email).await;
        s.stop().await;
    }
}

/// T10: DigestValue and SignedInfo tricks (xml-crypto's comment-in-DigestValue, SAMLStorm's
/// second SignedInfo). The forged assertion's true digest is computed by signing it with an
/// attacker key (a digest does not depend on the key) and smuggled in as a comment or as a
/// second SignedInfo. The comments are refused by xmlsec's digest check (it reads the text,
/// not the comment); a second SignedInfo by `saml::xml_shape::check` (exactly one SignedInfo
/// and one Reference per signature) and, behind it, by the envelope parse in `acs::check_envelope`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn t10_digest_value_and_signed_info_tricks() {
    let (s, ceo) = tenant(json!({})).await;
    let attacker = TestIdp::new(&s.idp.entity_id);
    let digest = |xml: &str| {
        let start = xml.find("<ds:DigestValue>").unwrap() + "<ds:DigestValue>".len();
        let end = xml.find("</ds:DigestValue>").unwrap();
        xml[start..end].to_string()
    };
    let signed_info = |xml: &str| {
        let start = xml.find("<ds:SignedInfo>").unwrap();
        let end = xml.find("</ds:SignedInfo>").unwrap() + "</ds:SignedInfo>".len();
        xml[start..end].to_string()
    };
    // (legit signed assertion, forged copy with the legit signature, forged copy's true
    // SignedInfo under the attacker's key)
    let forge = |id: &str| {
        let good = signed_assertion(&s, &s.resp(Some(id)));
        let forged = good.replacen(&format!(">{}<", s.email), &format!(">{ceo}<"), 1);
        assert_ne!(forged, good);
        let aid = good
            .split("ID=\"")
            .nth(1)
            .unwrap()
            .split('"')
            .next()
            .unwrap()
            .to_string();
        let resigned = attacker.xmlsec_sign(&forged.replacen(
            &signature_of(&forged),
            &attacker.signature(&aid, false),
            1,
        ));
        (good, forged, resigned)
    };
    for (what, place) in [
        ("forged digest in a comment before", 0),
        ("forged digest in a comment after", 1),
        ("second SignedInfo after the first", 2),
        ("second SignedInfo before the first", 3),
    ] {
        let resp = post_xml(&s, |id| {
            let (good, forged, resigned) = forge(id);
            let original = digest(&good);
            let theirs = digest(&resigned);
            assert_ne!(original, theirs);
            let spliced = match place {
                0 => forged.replacen(
                    &format!("<ds:DigestValue>{original}"),
                    &format!("<ds:DigestValue><!--{theirs}-->{original}"),
                    1,
                ),
                1 => forged.replacen(
                    &format!("{original}</ds:DigestValue>"),
                    &format!("{original}<!--{theirs}--></ds:DigestValue>"),
                    1,
                ),
                2 => forged.replacen(
                    "</ds:SignedInfo>",
                    &format!("</ds:SignedInfo>{}", signed_info(&resigned)),
                    1,
                ),
                _ => forged.replacen(
                    "<ds:SignedInfo>",
                    &format!("{}<ds:SignedInfo>", signed_info(&resigned)),
                    1,
                ),
            };
            envelope(&s, id, "", &spliced)
        })
        .await;
        assert_refused(resp, &format!("T10 {what}")).await;
        let (_, email) = last_refusal(&s).await;
        assert_ne!(email.as_deref(), Some(ceo.as_str()), "T10 {what}");
    }
    s.stop().await;
}

/// T11: attribute pollution, namespace confusion, void canonicalization (Fragile Lock).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn t11_attribute_pollution_namespace_confusion_void_canonicalization() {
    let (s, ceo) = tenant(json!({})).await;

    // Duplicate attributes: a parser keeping the first and one keeping the last disagree.
    // Not well-formed XML: refused by the strict parse in `saml::xml_shape::check`.
    let resp = post_xml(&s, |id| {
        let xml = envelope(&s, id, "", &signed_assertion(&s, &s.resp(Some(id))));
        xml.replacen(
            "<samlp:Response ",
            "<samlp:Response Destination=\"https://evil.example/acs\" ",
            1,
        )
    })
    .await;
    assert_refused(resp, "T11 duplicate Destination").await;
    let resp = post_xml(&s, |id| {
        let good = signed_assertion(&s, &s.resp(Some(id)));
        let polluted = good.replacen("<saml:Assertion ", "<saml:Assertion ID=\"_decoy\" ", 1);
        envelope(&s, id, "", &polluted)
    })
    .await;
    assert_refused(resp, "T11 duplicate ID on the signed assertion").await;
    // The same attribute twice through two prefixes bound to one namespace.
    let resp = post_xml(&s, |id| {
        let xml = envelope(&s, id, "", &signed_assertion(&s, &s.resp(Some(id))));
        xml.replacen(
            "<samlp:Response ",
            "<samlp:Response xmlns:a=\"urn:x\" xmlns:b=\"urn:x\" a:Destination=\"1\" b:Destination=\"2\" ",
            1,
        )
    })
    .await;
    assert_refused(resp, "T11 namespaced duplicate attribute").await;

    // A decoy ID attribute elsewhere reusing the signed assertion's ID (count stays 1).
    // samael refuses duplicate IDs (`collect_id_attributes`).
    let resp = post_xml(&s, |id| {
        let good = signed_assertion(&s, &s.resp(Some(id)));
        let aid = good
            .split("ID=\"")
            .nth(1)
            .unwrap()
            .split('"')
            .next()
            .unwrap();
        let decoy = format!(r#"<samlp:Extensions ID="{aid}"><x/></samlp:Extensions>"#);
        envelope(&s, id, &decoy, &good)
    })
    .await;
    assert_refused(resp, "T11 duplicate ID value").await;

    // Namespace confusion: a forged assertion whose `saml` prefix is rebound to a foreign
    // namespace (a namespace-blind reader still calls it an Assertion), and a forged
    // assertion whose `ds:Signature` is in a foreign namespace.
    let resp = post_xml(&s, |id| {
        let mut forged = s.resp(Some(id));
        forged.email = ceo.clone();
        let decoy = s.idp.unsigned_assertion(&forged).replace(
            "xmlns:saml=\"urn:oasis:names:tc:SAML:2.0:assertion\"",
            "xmlns:saml=\"urn:evil:assertion\"",
        );
        envelope(
            &s,
            id,
            "",
            &format!("{decoy}{}", signed_assertion(&s, &s.resp(Some(id)))),
        )
    })
    .await;
    assert_refused(resp, "T11 rebound saml prefix").await;
    let resp = post_xml(&s, |id| {
        let good = signed_assertion(&s, &s.resp(Some(id)));
        let mut forged = s.resp(Some(id));
        forged.email = ceo.clone();
        let fake_sig = signature_of(&good).replacen(
            "xmlns:ds=\"http://www.w3.org/2000/09/xmldsig#\"",
            "xmlns:ds=\"urn:evil:dsig\"",
            1,
        );
        let assertion = s.idp.unsigned_assertion(&forged).replacen(
            "<saml:Subject>",
            &format!("{fake_sig}<saml:Subject>"),
            1,
        );
        envelope(&s, id, "", &assertion)
    })
    .await;
    assert_refused(resp, "T11 Signature in a foreign namespace").await;
    // The root itself in a foreign namespace: not a SAML protocol Response.
    let resp = post_xml(&s, |id| {
        let mut r = s.resp(Some(id));
        r.sign = Sign::Assertion;
        s.idp.response_xml(&r).replacen(
            "xmlns:samlp=\"urn:oasis:names:tc:SAML:2.0:protocol\"",
            "xmlns:samlp=\"urn:evil:protocol\"",
            1,
        )
    })
    .await;
    refused_because(
        &s,
        resp,
        "T11 foreign root namespace",
        "SAML protocol Response",
    )
    .await;

    // Void canonicalization: an algorithm the verifier does not know must fail the
    // signature, never canonicalize to nothing and compare equal.
    for (what, from, to) in [
        (
            "unknown CanonicalizationMethod",
            "<ds:CanonicalizationMethod Algorithm=\"http://www.w3.org/2001/10/xml-exc-c14n#\"/>",
            "<ds:CanonicalizationMethod Algorithm=\"urn:void\"/>",
        ),
        (
            "unknown Transform",
            "<ds:Transform Algorithm=\"http://www.w3.org/2001/10/xml-exc-c14n#\"/>",
            "<ds:Transform Algorithm=\"urn:void\"/>",
        ),
        (
            "empty CanonicalizationMethod",
            "<ds:CanonicalizationMethod Algorithm=\"http://www.w3.org/2001/10/xml-exc-c14n#\"/>",
            "<ds:CanonicalizationMethod Algorithm=\"\"/>",
        ),
    ] {
        let resp = post_xml(&s, |id| {
            let good = signed_assertion(&s, &s.resp(Some(id)));
            let forged = good.replacen(&format!(">{}<", s.email), &format!(">{ceo}<"), 1);
            let voided = forged.replacen(from, to, 1);
            assert_ne!(voided, forged, "{what} applied");
            envelope(&s, id, "", &voided)
        })
        .await;
        assert_refused(resp, &format!("T11 {what}")).await;
    }
    s.stop().await;
}

/// T03: the XSW family and samael's attack fixtures, rebuilt as shapes with our test IdP.
/// `acs::count_elements` (exactly one Assertion, any prefix) and `saml::xml_shape::check`
/// (the Assertion is a direct child of the Response; Reference = parent's ID; only the
/// profile's transforms) refuse them before samael, which would only return the element its
/// signature covers.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn t03_signature_wrapping_shapes() {
    let (s, ceo) = tenant(json!({})).await;
    let forged = |id: &str| {
        let mut r = s.resp(Some(id));
        r.email = ceo.clone();
        s.idp.unsigned_assertion(&r)
    };
    let shapes: Vec<(&str, Shape)> = vec![
        (
            "signed assertion moved into Extensions, forged one in its place",
            Box::new(|id| {
                let good = signed_assertion(&s, &s.resp(Some(id)));
                envelope(&s, id, &extensions(&good), &forged(id))
            }),
        ),
        (
            "signed assertion alone in Extensions",
            Box::new(|id| {
                let good = signed_assertion(&s, &s.resp(Some(id)));
                envelope(&s, id, &extensions(&good), "")
            }),
        ),
        (
            "signed assertion in the forged assertion's Advice",
            Box::new(|id| {
                let good = signed_assertion(&s, &s.resp(Some(id)));
                let wrapper = forged(id).replacen(
                    "<saml:AuthnStatement",
                    &format!("<saml:Advice>{good}</saml:Advice><saml:AuthnStatement"),
                    1,
                );
                envelope(&s, id, "", &wrapper)
            }),
        ),
        (
            "signed assertion in a ds:Object of the forged one's signature",
            Box::new(|id| {
                let good = signed_assertion(&s, &s.resp(Some(id)));
                let sig = signature_of(&good).replacen(
                    "</ds:Signature>",
                    &format!(
                        "<ds:Object>{}</ds:Object></ds:Signature>",
                        without_signature(&good)
                    ),
                    1,
                );
                let wrapper =
                    forged(id).replacen("<saml:Subject>", &format!("{sig}<saml:Subject>"), 1);
                envelope(&s, id, "", &wrapper)
            }),
        ),
        (
            "decoy reusing the signed ID, signed one in Extensions",
            Box::new(|id| {
                let good = signed_assertion(&s, &s.resp(Some(id)));
                let aid = good
                    .split("ID=\"")
                    .nth(1)
                    .unwrap()
                    .split('"')
                    .next()
                    .unwrap();
                let decoy = forged(id).replacen("ID=\"", &format!("ID=\"{aid}\" X=\""), 1);
                envelope(&s, id, &extensions(&good), &decoy)
            }),
        ),
        (
            // samael's ancestor_attack: the IdP-signed Response nested inside an attacker's
            // outer Response (there inside Issuer), so that keeping ancestors keeps the lie.
            "signed Response nested inside an outer Response",
            Box::new(|id| {
                let mut r = s.resp(Some(id));
                r.sign = Sign::Response;
                let inner = s.idp.response_xml(&r);
                let inner = inner
                    .split_once("?>")
                    .map(|(_, b)| b.trim())
                    .unwrap_or(&inner);
                envelope(&s, id, &extensions(inner), "")
            }),
        ),
        (
            // samael's object_attack: a signature inside the assertion whose Reference is
            // the enclosing Response; the attacker then swaps the assertion's content.
            "assertion-held signature over the whole Response",
            Box::new(|id| {
                let mut r = s.resp(Some(id));
                r.sign = Sign::Nothing;
                let xml = s.idp.response_xml(&r);
                let rid = xml
                    .split("ID=\"")
                    .nth(1)
                    .unwrap()
                    .split('"')
                    .next()
                    .unwrap()
                    .to_string();
                let template = xml.replacen(
                    "<saml:Subject>",
                    &format!("{}<saml:Subject>", s.idp.signature(&rid, false)),
                    1,
                );
                s.idp.xmlsec_sign(&template)
            }),
        ),
        (
            // samael's xpointer_attack: a Reference by XPointer instead of by ID.
            "Reference by XPointer",
            Box::new(|id| {
                let mut r = s.resp(Some(id));
                r.sign = Sign::Nothing;
                let xml = s.idp.response_xml(&r);
                let rid = xml
                    .split("ID=\"")
                    .nth(1)
                    .unwrap()
                    .split('"')
                    .next()
                    .unwrap()
                    .to_string();
                let sig = s.idp.signature(&rid, false).replacen(
                    &format!("URI=\"#{rid}\""),
                    &format!("URI=\"#xpointer(id('{rid}'))\""),
                    1,
                );
                let template = xml.replacen("<samlp:Status>", &format!("{sig}<samlp:Status>"), 1);
                s.idp.xmlsec_sign(&template)
            }),
        ),
        (
            // samael's xpath_transform: the IdP's signature filters an ID out of the digest,
            // and the attacker adds an assertion with that ID.
            "XPath transform excluding an injected assertion",
            Box::new(|id| {
                let mut r = s.resp(Some(id));
                r.sign = Sign::Nothing;
                let xml = s.idp.response_xml(&r);
                let rid = xml
                    .split("ID=\"")
                    .nth(1)
                    .unwrap()
                    .split('"')
                    .next()
                    .unwrap()
                    .to_string();
                let sig = s.idp.signature(&rid, false).replacen(
                    "<ds:Transform Algorithm=\"http://www.w3.org/2001/10/xml-exc-c14n#\"/>",
                    "<ds:Transform Algorithm=\"http://www.w3.org/TR/1999/REC-xpath-19991116\"><ds:XPath xmlns:saml=\"urn:oasis:names:tc:SAML:2.0:assertion\">not(ancestor-or-self::saml:Assertion[@ID='_evil'])</ds:XPath></ds:Transform><ds:Transform Algorithm=\"http://www.w3.org/2001/10/xml-exc-c14n#\"/>",
                    1,
                );
                let signed = s.idp.xmlsec_sign(&xml.replacen(
                    "<samlp:Status>",
                    &format!("{sig}<samlp:Status>"),
                    1,
                ));
                let injected = forged(id).replacen("ID=\"", "ID=\"_evil\" X=\"", 1);
                signed.replacen(
                    "<saml:Assertion ",
                    &format!("{injected}<saml:Assertion "),
                    1,
                )
            }),
        ),
    ];
    for (what, shape) in shapes {
        let resp = post_xml(&s, |id| shape(id)).await;
        assert_refused(resp, &format!("T03 {what}")).await;
        let (_, email) = last_refusal(&s).await;
        assert_ne!(email.as_deref(), Some(ceo.as_str()), "T03 {what}");
    }
    s.stop().await;
}

/// T23: encrypted assertions are not supported at all, so an EncryptedAssertion anywhere
/// is refused with a clear cause — also next to a valid plaintext signed assertion (the
/// CVE-2026-2092 injection) and also hidden where the schema parser would not look.
/// Caught by `acs::validate`'s EncryptedAssertion count (any prefix, anywhere).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn t23_encrypted_assertion_anywhere_is_refused() {
    let (s, _) = tenant(json!({})).await;
    let encrypted = |prefix: &str| {
        let p = if prefix.is_empty() {
            String::new()
        } else {
            format!("{prefix}:")
        };
        let decl = if prefix.is_empty() {
            "xmlns=\"urn:oasis:names:tc:SAML:2.0:assertion\"".to_string()
        } else {
            format!("xmlns:{prefix}=\"urn:oasis:names:tc:SAML:2.0:assertion\"")
        };
        format!(
            r#"<{p}EncryptedAssertion {decl}><xenc:EncryptedData xmlns:xenc="http://www.w3.org/2001/04/xmlenc#" Type="http://www.w3.org/2001/04/xmlenc#Element"><xenc:EncryptionMethod Algorithm="http://www.w3.org/2001/04/xmlenc#aes128-cbc"/><xenc:CipherData><xenc:CipherValue>AAAA</xenc:CipherValue></xenc:CipherData></xenc:EncryptedData></{p}EncryptedAssertion>"#
        )
    };
    let shapes: Vec<(&str, Shape)> = vec![
        (
            "sibling after the signed assertion",
            Box::new(|id| {
                let good = signed_assertion(&s, &s.resp(Some(id)));
                envelope(&s, id, "", &format!("{good}{}", encrypted("saml")))
            }),
        ),
        (
            "sibling before, other prefix",
            Box::new(|id| {
                let good = signed_assertion(&s, &s.resp(Some(id)));
                envelope(&s, id, "", &format!("{}{good}", encrypted("saml2")))
            }),
        ),
        (
            "hidden in Extensions, default namespace",
            Box::new(|id| {
                let good = signed_assertion(&s, &s.resp(Some(id)));
                envelope(&s, id, &extensions(&encrypted("")), &good)
            }),
        ),
        (
            "inside a Response the IdP signed",
            Box::new(|id| {
                let mut r = s.resp(Some(id));
                r.sign = Sign::Response;
                r.extra_assertion = Some(encrypted("saml"));
                s.idp.response_xml(&r)
            }),
        ),
    ];
    for (what, shape) in shapes {
        let resp = post_xml(&s, |id| shape(id)).await;
        refused_because(
            &s,
            resp,
            &format!("T23 {what}"),
            "encrypted assertions are not supported",
        )
        .await;
    }
    s.stop().await;
}

/// T02/T30 at the API: metadata whose KeyDescriptor has no `use="signing"` is refused at
/// save time (`cert::parse_certificates`), and two pasted certificates (rollover) both
/// verify at the ACS.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn t02_t30_connection_certificates() {
    let (s, _) = tenant(json!({})).await;
    let tid = s.tenant["id"].as_str().unwrap().to_string();
    let bare: String = s
        .idp
        .cert_pem
        .lines()
        .filter(|l| !l.starts_with("-----"))
        .collect();
    for key_use in ["", " use=\"encryption\""] {
        let metadata = format!(
            r#"<md:EntityDescriptor xmlns:md="urn:oasis:names:tc:SAML:2.0:metadata" xmlns:ds="http://www.w3.org/2000/09/xmldsig#" entityID="{}"><md:IDPSSODescriptor protocolSupportEnumeration="urn:oasis:names:tc:SAML:2.0:protocol"><md:KeyDescriptor{key_use}><ds:KeyInfo><ds:X509Data><ds:X509Certificate>{bare}</ds:X509Certificate></ds:X509Data></ds:KeyInfo></md:KeyDescriptor><md:SingleSignOnService Binding="urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Redirect" Location="{}"/></md:IDPSSODescriptor></md:EntityDescriptor>"#,
            s.idp.entity_id, s.idp.sso_url
        );
        let r = s
            .app
            .admin(
                Method::PUT,
                &format!("/tenants/{tid}/saml"),
                Some(json!({"provider": "custom", "metadata_xml": metadata})),
            )
            .await;
        assert_eq!(r.status(), 400, "T02 KeyDescriptor{key_use}");
    }

    // Rollover: the old and the new certificate are both trusted, anything else is not.
    let next = TestIdp::new(&s.idp.entity_id);
    let both = format!("{}\n{}", s.idp.cert_pem, next.cert_pem);
    let r = s
        .app
        .admin(
            Method::PUT,
            &format!("/tenants/{tid}/saml"),
            Some(json!({"provider": "custom", "idp_entity_id": s.idp.entity_id, "idp_sso_url": s.idp.sso_url, "certificate": both})),
        )
        .await;
    assert_eq!(r.status(), 200, "T30 two certificates");
    let saved: Value = r.json().await.unwrap();
    assert_eq!(
        saved["connection"]["certificates"]
            .as_array()
            .unwrap()
            .len(),
        2
    );
    for idp in [&s.idp, &next] {
        let browser = s.app.client();
        let (id, relay) = s.start(&browser, "/").await;
        let resp = s
            .post(&browser, &idp.response(&s.resp(Some(&id))), &relay)
            .await;
        signed_in_as(&s, &browser, resp, &s.email).await;
    }
    let stranger = TestIdp::new(&s.idp.entity_id);
    let browser = s.app.client();
    let (id, relay) = s.start(&browser, "/").await;
    let resp = s
        .post(&browser, &stranger.response(&s.resp(Some(&id))), &relay)
        .await;
    assert_refused(resp, "T13 a third key").await;
    s.stop().await;
}

/// T26: a connection removed while a sign-in is in flight refuses the response that comes
/// back (`saml::routes::consume` loads the connection per response).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn t26_removed_connection_refuses_in_flight_responses() {
    let (s, _) = tenant(json!({"allow_idp_initiated": true})).await;
    let browser = s.app.client();
    let (id, relay) = s.start(&browser, "/").await;
    let in_flight = s.idp.response(&s.resp(Some(&id)));
    let unsolicited = s.idp.response(&s.resp(None));
    let r = s
        .app
        .admin(
            Method::DELETE,
            &format!("/tenants/{}/saml", s.tenant["id"].as_str().unwrap()),
            None,
        )
        .await;
    assert_eq!(r.status(), 204);
    refused_because(
        &s,
        s.post(&browser, &in_flight, &relay).await,
        "T26 in flight",
        "has no SAML connection",
    )
    .await;
    refused_because(
        &s,
        s.post(&s.app.client(), &unsolicited, "").await,
        "T26 IdP-initiated",
        "has no SAML connection",
    )
    .await;
    s.stop().await;
}

/// T14: nothing in a response makes the gateway fetch anything. The KeyInfo is unsigned, so
/// an attacker may point a RetrievalMethod (or an XInclude) at an internal address: the key
/// comes only from the tenant's configured certificates, and no connection is ever made.
/// (samael hands xmlsec the configured key; libxml2 parses without XInclude or network.)
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn t14_keyinfo_retrieval_and_xinclude_are_never_fetched() {
    let (s, _) = tenant(json!({})).await;
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    listener.set_nonblocking(true).unwrap();
    let target = format!("http://{}/key", listener.local_addr().unwrap());

    let browser = s.app.client();
    let (id, relay) = s.start(&browser, "/").await;
    let good = signed_assertion(&s, &s.resp(Some(&id)));
    let key_info_start = good.find("<ds:KeyInfo>").unwrap();
    let key_info_end = good.find("</ds:KeyInfo>").unwrap() + "</ds:KeyInfo>".len();
    let retrieval = format!(
        r#"<ds:KeyInfo><ds:RetrievalMethod URI="{target}" Type="http://www.w3.org/2000/09/xmldsig#X509Data"/><ds:KeyName>{target}</ds:KeyName></ds:KeyInfo>"#
    );
    let pointed = format!(
        "{}{retrieval}{}",
        &good[..key_info_start],
        &good[key_info_end..]
    );
    let xinclude = format!(
        r#"<samlp:Extensions><xi:include xmlns:xi="http://www.w3.org/2001/XInclude" href="{target}" parse="text"/></samlp:Extensions>"#
    );
    let xml = envelope(&s, &id, &xinclude, &pointed);
    let resp = s.post(&browser, &STANDARD.encode(&xml), &relay).await;
    // The signature still verifies with the configured key: KeyInfo is only a hint.
    signed_in_as(&s, &browser, resp, &s.email).await;
    tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    match listener.accept() {
        Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {}
        other => panic!("T14: the gateway connected to the attacker's URL: {other:?}"),
    }
    s.stop().await;
}
