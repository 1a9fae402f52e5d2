#!/usr/bin/env bash
# Regenerates the seed corpus of the `acs_response` fuzz target: SAML Responses for the
# target's fixed expectation, signed by xmlsec1 with the fuzz-only key in fixtures/.
# Their validity window runs until 2099, so the seeds pass every check and the fuzzer
# starts from the accepted path. Run by hand after changing the target's expectation;
# the output is committed.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")"
out=corpus/acs_response
mkdir -p "$out"
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT

# Must match fuzz_targets/acs_response.rs.
sp="https://sso.fuzz.example/saml/metadata/acme.example"
acs="https://sso.fuzz.example/saml/acs/acme.example"
idp="https://idp.fuzz.example/metadata"
request="_fuzzrequest0123456789abcdef0123"
cert="$(grep -v -- ----- fixtures/idp-cert.pem | tr -d '\n')"

signature() {
  cat <<EOF
<ds:Signature xmlns:ds="http://www.w3.org/2000/09/xmldsig#"><ds:SignedInfo><ds:CanonicalizationMethod Algorithm="http://www.w3.org/2001/10/xml-exc-c14n#"/><ds:SignatureMethod Algorithm="http://www.w3.org/2001/04/xmldsig-more#rsa-sha256"/><ds:Reference URI="#$1"><ds:Transforms><ds:Transform Algorithm="http://www.w3.org/2000/09/xmldsig#enveloped-signature"/><ds:Transform Algorithm="http://www.w3.org/2001/10/xml-exc-c14n#"/></ds:Transforms><ds:DigestMethod Algorithm="http://www.w3.org/2001/04/xmlenc#sha256"/><ds:DigestValue></ds:DigestValue></ds:Reference></ds:SignedInfo><ds:SignatureValue></ds:SignatureValue><ds:KeyInfo><ds:X509Data><ds:X509Certificate>$cert</ds:X509Certificate></ds:X509Data></ds:KeyInfo></ds:Signature>
EOF
}

assertion() { # $1 = signature template or empty
  cat <<EOF
<saml:Assertion xmlns:saml="urn:oasis:names:tc:SAML:2.0:assertion" ID="_fuzzassertion" Version="2.0" IssueInstant="2099-01-01T00:00:00Z"><saml:Issuer>$idp</saml:Issuer>$1<saml:Subject><saml:NameID Format="urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress">jane@acme.example</saml:NameID><saml:SubjectConfirmation Method="urn:oasis:names:tc:SAML:2.0:cm:bearer"><saml:SubjectConfirmationData NotOnOrAfter="2099-01-01T00:05:00Z" Recipient="$acs" InResponseTo="$request"/></saml:SubjectConfirmation></saml:Subject><saml:Conditions NotBefore="2020-01-01T00:00:00Z" NotOnOrAfter="2099-01-01T00:05:00Z"><saml:AudienceRestriction><saml:Audience>$sp</saml:Audience></saml:AudienceRestriction></saml:Conditions><saml:AuthnStatement AuthnInstant="2099-01-01T00:00:00Z"><saml:AuthnContext><saml:AuthnContextClassRef>urn:oasis:names:tc:SAML:2.0:ac:classes:PasswordProtectedTransport</saml:AuthnContextClassRef></saml:AuthnContext></saml:AuthnStatement><saml:AttributeStatement><saml:Attribute Name="firstName"><saml:AttributeValue>Jane</saml:AttributeValue></saml:Attribute><saml:Attribute Name="groups"><saml:AttributeValue>eng</saml:AttributeValue><saml:AttributeValue>ops</saml:AttributeValue></saml:Attribute></saml:AttributeStatement></saml:Assertion>
EOF
}

response() { # $1 = signature template or empty, $2 = body, $3 = extensions
  cat <<EOF
<samlp:Response xmlns:samlp="urn:oasis:names:tc:SAML:2.0:protocol" xmlns:saml="urn:oasis:names:tc:SAML:2.0:assertion" ID="_fuzzresponse" Version="2.0" IssueInstant="2099-01-01T00:00:00Z" Destination="$acs" InResponseTo="$request"><saml:Issuer>$idp</saml:Issuer>$1$3<samlp:Status><samlp:StatusCode Value="urn:oasis:names:tc:SAML:2.0:status:Success"/></samlp:Status>$2</samlp:Response>
EOF
}

sign() { # stdin → stdout, signs the first template
  cat >"$tmp/in.xml"
  xmlsec1 --sign --privkey-pem fixtures/idp-key.pem \
    --id-attr:ID urn:oasis:names:tc:SAML:2.0:assertion:Assertion \
    --id-attr:ID urn:oasis:names:tc:SAML:2.0:protocol:Response \
    --output "$tmp/out.xml" "$tmp/in.xml"
  cat "$tmp/out.xml"
}

signed_assertion="$(assertion "$(signature _fuzzassertion)" | sign | sed '1{/^<?xml/d}')"
response "" "$signed_assertion" "" >"$out/assertion-signed.xml"
response "$(signature _fuzzresponse)" "$(assertion "")" "" | sign >"$out/response-signed.xml"
response "$(signature _fuzzresponse)" "$signed_assertion" "" | sign >"$out/both-signed.xml"
response "" "$(assertion "")" "" >"$out/unsigned.xml"
response "" "$signed_assertion" \
  '<samlp:Extensions><saml:Subject><saml:NameID>ceo@acme.example</saml:NameID></saml:Subject></samlp:Extensions>' \
  >"$out/decoy-in-extensions.xml"
# The same, as the base64 form value the browser posts.
base64 -w0 "$out/assertion-signed.xml" >"$out/assertion-signed.b64"
ls -l "$out"
