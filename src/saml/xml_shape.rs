//! The shape a SAML Response must have before samael verifies it (SECURITY-CHECKLIST T03,
//! T05, T08, T10, T11, T14). Judged with libxml2 — the parser samael and xmlsec use — so the
//! document we inspect is the document they verify (one XML stack, T09), but parsed
//! *strictly*: samael's own parse runs in libxml2's recovery mode, which silently drops
//! trailing roots, duplicate attributes and other damage instead of refusing it.
//!
//! These checks can only refuse. Identity is still read from samael's verified output alone.
//! What they pin down is the SAML profile (SAML core §5.4): one signed Response and/or one
//! Assertion directly inside it, each Signature referencing its own parent by ID with the
//! profile's transforms only. Every XML signature-wrapping shape needs to break one of those.

use libxml::parser::{Parser, ParserOptions};
use libxml::tree::{Node, NodeType};

const PROTOCOL_NS: &str = "urn:oasis:names:tc:SAML:2.0:protocol";
const ASSERTION_NS: &str = "urn:oasis:names:tc:SAML:2.0:assertion";
const DSIG_NS: &str = "http://www.w3.org/2000/09/xmldsig#";

/// Canonicalization algorithms (as CanonicalizationMethod or Transform) that cover a whole
/// element: no filtering of what the digest sees.
const C14N: &[&str] = &[
    "http://www.w3.org/2001/10/xml-exc-c14n#",
    "http://www.w3.org/2001/10/xml-exc-c14n#WithComments",
    "http://www.w3.org/TR/2001/REC-xml-c14n-20010315",
    "http://www.w3.org/TR/2001/REC-xml-c14n-20010315#WithComments",
    "http://www.w3.org/2006/12/xml-c14n11",
    "http://www.w3.org/2006/12/xml-c14n11#WithComments",
];
const ENVELOPED: &str = "http://www.w3.org/2000/09/xmldsig#enveloped-signature";

fn local_name(node: &Node) -> String {
    let name = node.get_name();
    name.rsplit(':').next().unwrap_or_default().to_owned()
}

fn is(node: &Node, ns: &str, local: &str) -> bool {
    node.get_namespace().is_some_and(|n| n.get_href() == ns) && local_name(node) == local
}

/// The value of `encoding="…"` in a leading XML declaration, if any.
fn declared_encoding(xml: &str) -> Result<Option<String>, String> {
    let xml = xml.strip_prefix('\u{feff}').unwrap_or(xml);
    let Some(decl) = xml.strip_prefix("<?xml") else {
        return Ok(None);
    };
    let decl = decl
        .split_once("?>")
        .map(|(d, _)| d)
        .ok_or("unterminated XML declaration")?;
    let Some((_, rest)) = decl.split_once("encoding") else {
        return Ok(None);
    };
    let rest = rest
        .trim_start()
        .strip_prefix('=')
        .ok_or("malformed XML declaration")?;
    let rest = rest.trim_start();
    let quote = rest.chars().next().ok_or("malformed XML declaration")?;
    if quote != '"' && quote != '\'' {
        return Err("malformed XML declaration".into());
    }
    rest[1..]
        .split_once(quote)
        .map(|(value, _)| Some(value.to_owned()))
        .ok_or_else(|| "malformed XML declaration".into())
}

/// Refuses a response whose bytes or structure fall outside the SAML profile; the reason
/// is for the log and the admin's diagnostics.
pub(crate) fn check(xml: &str) -> Result<(), String> {
    // libxml2 re-decodes the bytes as the declaration (or a UTF-16 byte pattern) says; our
    // textual guards and samael's quick-xml read them as UTF-8. Only UTF-8 means one reading.
    if xml.contains('\0') {
        return Err("the document contains NUL characters (UTF-16/32 or binary data)".into());
    }
    if let Some(encoding) = declared_encoding(xml)? {
        if !encoding.eq_ignore_ascii_case("UTF-8") {
            return Err(format!(
                "the document declares encoding {encoding:?}; only UTF-8 is accepted"
            ));
        }
    }
    let options = ParserOptions {
        recover: false,
        no_net: true,
        ..ParserOptions::default()
    };
    let doc = Parser::default()
        .parse_string_with_options(xml, options)
        .map_err(|_| {
            "not well-formed XML (e.g. several root elements, trailing data, a duplicate attribute or a truncated document)".to_owned()
        })?;
    let top = doc.as_node().get_child_nodes();
    if top.iter().any(|n| {
        matches!(
            n.get_type(),
            Some(NodeType::DTDNode | NodeType::DocumentTypeNode)
        )
    }) {
        return Err("the document has a DTD".into());
    }
    let root = doc
        .get_root_element()
        .ok_or("the document has no root element")?;
    if !is(&root, PROTOCOL_NS, "Response") {
        return Err(format!(
            "the root element {} is not a SAML protocol Response",
            root.get_name()
        ));
    }
    let assertions: Vec<Node> = root
        .get_child_elements()
        .into_iter()
        .filter(|c| is(c, ASSERTION_NS, "Assertion"))
        .collect();
    if assertions.len() != 1 {
        return Err(format!(
            "the Response has {} Assertion children; exactly one is required, directly inside the Response",
            assertions.len()
        ));
    }
    // Signatures may sit only in the Response or in that Assertion, one each.
    let allowed_parents = [root.clone(), assertions[0].clone()];
    let mut stack = vec![root.clone()];
    let mut seen_parents: Vec<Node> = Vec::new();
    while let Some(node) = stack.pop() {
        for child in node.get_child_elements() {
            if is(&child, ASSERTION_NS, "Assertion") && node != root {
                return Err("an Assertion is nested below the Response's direct children".into());
            }
            if is(&child, DSIG_NS, "Signature") {
                if !allowed_parents.contains(&node) {
                    return Err(format!("a Signature sits inside {}", node.get_name()));
                }
                if seen_parents.contains(&node) {
                    return Err(format!("{} holds more than one Signature", node.get_name()));
                }
                seen_parents.push(node.clone());
                check_signature(&child, &node)?;
            }
            stack.push(child);
        }
    }
    Ok(())
}

/// One SignedInfo with one Reference to the Signature's own parent, by ID, with only the
/// enveloped-signature and canonicalization transforms (T08, T10, and the XPath/XPointer
/// shapes of T03); no ds:Object to smuggle content in.
fn check_signature(signature: &Node, parent: &Node) -> Result<(), String> {
    let children = signature.get_child_elements();
    if children.iter().any(|c| is(c, DSIG_NS, "Object")) {
        return Err("the Signature carries a ds:Object".into());
    }
    let signed_infos: Vec<&Node> = children
        .iter()
        .filter(|c| local_name(c) == "SignedInfo")
        .collect();
    let [signed_info] = signed_infos.as_slice() else {
        return Err(format!(
            "the Signature has {} SignedInfo elements; exactly one is required",
            signed_infos.len()
        ));
    };
    let mut references = Vec::new();
    for c in signed_info.get_child_elements() {
        match local_name(&c).as_str() {
            "CanonicalizationMethod" => {
                let algorithm = c.get_attribute("Algorithm").unwrap_or_default();
                if !C14N.contains(&algorithm.as_str()) {
                    return Err(format!(
                        "CanonicalizationMethod {algorithm:?} is not allowed"
                    ));
                }
            }
            "Reference" => references.push(c),
            _ => {}
        }
    }
    let [reference] = references.as_slice() else {
        return Err(format!(
            "the SignedInfo has {} Reference elements; exactly one is required",
            references.len()
        ));
    };
    let id = parent.get_attribute("ID").unwrap_or_default();
    let uri = reference.get_attribute("URI").unwrap_or_default();
    if id.is_empty() || uri != format!("#{id}") {
        return Err(format!(
            "the signature's Reference URI {uri:?} does not name its parent {} (ID {id:?})",
            parent.get_name()
        ));
    }
    for transforms in reference.get_child_elements() {
        if local_name(&transforms) != "Transforms" {
            continue;
        }
        for t in transforms.get_child_elements() {
            let algorithm = t.get_attribute("Algorithm").unwrap_or_default();
            if algorithm != ENVELOPED && !C14N.contains(&algorithm.as_str()) {
                return Err(format!("Transform {algorithm:?} is not allowed"));
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::{check, declared_encoding};

    #[test]
    fn declared_encoding_is_read_in_every_spelling() {
        assert_eq!(declared_encoding("<a/>"), Ok(None));
        assert_eq!(declared_encoding("<?xml version=\"1.0\"?><a/>"), Ok(None));
        assert_eq!(
            declared_encoding("<?xml version='1.0' encoding = 'utf-8' ?><a/>"),
            Ok(Some("utf-8".into()))
        );
        assert_eq!(
            declared_encoding("\u{feff}<?xml version=\"1.0\" encoding=\"UTF-7\"?>"),
            Ok(Some("UTF-7".into()))
        );
        assert!(declared_encoding("<?xml version=\"1.0\" encoding=UTF-7?>").is_err());
        assert!(declared_encoding("<?xml version=\"1.0\" encoding=\"UTF-7").is_err());
    }

    #[test]
    fn only_a_bare_protocol_response_root_passes() {
        crate::warm_up_xml();
        let ok = r#"<p:Response xmlns:p="urn:oasis:names:tc:SAML:2.0:protocol" ID="r"><a:Assertion xmlns:a="urn:oasis:names:tc:SAML:2.0:assertion" ID="a"/></p:Response>"#;
        assert_eq!(check(ok), Ok(()));
        for bad in [
            format!("{ok}<x/>"),
            format!("{ok}text"),
            ok.replace("ID=\"r\"", "ID=\"r\" ID=\"s\""),
            ok.replace(":protocol", ":other"),
            format!("<?xml version=\"1.0\" encoding=\"ISO-8859-1\"?>{ok}"),
            ok.replace("<a:Assertion", "<p:Extensions><a:Assertion")
                .replace("</p:Response>", "</p:Extensions></p:Response>"),
            String::new(),
        ] {
            assert!(check(&bad).is_err(), "{bad}");
        }
    }
}
