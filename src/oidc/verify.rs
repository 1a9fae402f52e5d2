//! ID token checks (OpenID Connect Core §3.1.3.7), on top of openidconnect's verifier.
//!
//! What must hold for a token to be believed:
//! - signed with an asymmetric algorithm by a key from the provider's JWKS: `alg=none`
//!   and every HMAC algorithm are refused outright (an HS256 token "signed" with the
//!   provider's public key must never verify — SECURITY-CHECKLIST T35 family);
//! - `iss` exactly the expected issuer. For Microsoft's multi-tenant authorities the
//!   expected issuer is the template with the token's own `tid` substituted, and the crate's
//!   issuer check stays on with that value (never switched off — T32);
//! - `aud` contains our client id and nothing untrusted; `azp`, when present, is our
//!   client id;
//! - `exp` in the future and `iat` not in the future, each with the allowed skew;
//! - `nonce` equal to the one stored with the flow (compared in constant time by the crate).

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use openidconnect::core::{
    CoreIdToken, CoreIdTokenVerifier, CoreJsonWebKeySet, CoreJwsSigningAlgorithm,
};
use openidconnect::{
    ClaimsVerificationError, ClientId, IssuerUrl, Nonce, SignatureVerificationError,
};
use serde_json::{Map, Value};
use time::OffsetDateTime;

use super::global::{is_tenant_id, TENANT_PLACEHOLDER};

/// Asymmetric algorithms only: never `none`, never HS256/384/512.
pub const ALLOWED_ALGS: [CoreJwsSigningAlgorithm; 9] = [
    CoreJwsSigningAlgorithm::RsaSsaPkcs1V15Sha256,
    CoreJwsSigningAlgorithm::RsaSsaPkcs1V15Sha384,
    CoreJwsSigningAlgorithm::RsaSsaPkcs1V15Sha512,
    CoreJwsSigningAlgorithm::RsaSsaPssSha256,
    CoreJwsSigningAlgorithm::RsaSsaPssSha384,
    CoreJwsSigningAlgorithm::RsaSsaPssSha512,
    CoreJwsSigningAlgorithm::EcdsaP256Sha256,
    CoreJwsSigningAlgorithm::EcdsaP384Sha384,
    CoreJwsSigningAlgorithm::EdDsa,
];

/// What a token must match.
pub struct Expected<'a> {
    pub client_id: &'a str,
    /// The issuer, or for Microsoft multi-tenant the template with `{tenantid}`.
    pub issuer: &'a str,
    /// Directory ids allowed when `issuer` is a template; empty: any.
    pub allowed_tenant_ids: &'a [String],
    pub nonce: &'a str,
    pub now: OffsetDateTime,
    pub skew_secs: i64,
}

/// A token that passed every check: its verified claims.
#[derive(Debug, Clone)]
pub struct Verified {
    pub issuer: String,
    pub subject: String,
    pub claims: Map<String, Value>,
}

impl Verified {
    pub fn str_claim(&self, name: &str) -> Option<&str> {
        self.claims.get(name).and_then(Value::as_str)
    }
}

/// Which check refused a token: the test sign-in's report turns that line red.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenCheck {
    /// Not a readable JWS with a JSON payload.
    Format,
    /// Signature, algorithm (none/HMAC refused) or key.
    Signature,
    Issuer,
    Audience,
    AuthorizedParty,
    Nonce,
    /// `exp` and `iat` against our clock with the skew.
    TimeWindow,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum VerifyError {
    /// No key in the set matches the token's `kid`/algorithm: refresh the JWKS and retry once.
    UnknownKey(String),
    /// Refused by `check`, with the precise reason.
    Refused(TokenCheck, String),
}

impl VerifyError {
    fn refused(check: TokenCheck, message: impl Into<String>) -> Self {
        Self::Refused(check, message.into())
    }
}

/// The payload of a compact JWS, decoded without any check (used only to choose the
/// expected issuer and to word errors; nothing read here is believed).
pub(crate) fn unverified_payload(compact: &str) -> Option<Map<String, Value>> {
    let payload = compact.split('.').nth(1)?;
    let bytes = URL_SAFE_NO_PAD.decode(payload).ok()?;
    serde_json::from_slice(&bytes).ok()
}

pub(crate) fn unverified_header(compact: &str) -> Option<Map<String, Value>> {
    let header = compact.split('.').next()?;
    let bytes = URL_SAFE_NO_PAD.decode(header).ok()?;
    serde_json::from_slice(&bytes).ok()
}

/// The issuer this token must carry.
fn expected_issuer(
    exp: &Expected<'_>,
    claims: &Map<String, Value>,
) -> Result<(String, Option<String>), VerifyError> {
    if !exp.issuer.contains(TENANT_PLACEHOLDER) {
        return Ok((exp.issuer.to_owned(), None));
    }
    let tid = claims
        .get("tid")
        .and_then(Value::as_str)
        .ok_or_else(|| {
            VerifyError::refused(
                TokenCheck::Issuer,
                "Microsoft token without a tid (directory id) claim",
            )
        })?
        .to_ascii_lowercase();
    // Only a GUID may be substituted: a tid like "x/../other" must not shape the issuer.
    if !is_tenant_id(&tid) {
        return Err(VerifyError::refused(
            TokenCheck::Issuer,
            format!("Microsoft token's tid {tid:?} is not a directory id"),
        ));
    }
    if !exp.allowed_tenant_ids.is_empty() && !exp.allowed_tenant_ids.contains(&tid) {
        return Err(VerifyError::refused(
            TokenCheck::Issuer,
            format!(
                "Microsoft directory {tid} is not on the allowlist (microsoft.allowed_tenant_ids)"
            ),
        ));
    }
    Ok((exp.issuer.replace(TENANT_PLACEHOLDER, &tid), Some(tid)))
}

fn describe(err: &ClaimsVerificationError) -> (TokenCheck, String) {
    match err {
        ClaimsVerificationError::SignatureVerification(s) => (
            TokenCheck::Signature,
            match s {
                SignatureVerificationError::NoSignature => {
                    "the ID token is not signed (alg=none)".into()
                }
                SignatureVerificationError::DisallowedAlg(m) => {
                    format!("the ID token's signature algorithm is not allowed: {m}")
                }
                SignatureVerificationError::CryptoError(m) => {
                    format!("the ID token's signature does not verify: {m}")
                }
                other => format!("the ID token's signature was refused: {other}"),
            },
        ),
        ClaimsVerificationError::InvalidAudience(m) => {
            (TokenCheck::Audience, format!("audience mismatch: {m}"))
        }
        ClaimsVerificationError::InvalidIssuer(m) => {
            (TokenCheck::Issuer, format!("issuer mismatch: {m}"))
        }
        ClaimsVerificationError::InvalidNonce(m) => {
            (TokenCheck::Nonce, format!("nonce mismatch: {m}"))
        }
        ClaimsVerificationError::Expired(m) => (
            TokenCheck::TimeWindow,
            format!("the ID token is expired: {m}"),
        ),
        other => (
            TokenCheck::Format,
            format!("the ID token was refused: {other}"),
        ),
    }
}

/// Checks `token` against `keys` and `exp`.
pub fn verify(
    token: &CoreIdToken,
    keys: &CoreJsonWebKeySet,
    exp: &Expected<'_>,
) -> Result<Verified, VerifyError> {
    let compact = token.to_string();
    let peek = unverified_payload(&compact).ok_or_else(|| {
        VerifyError::refused(TokenCheck::Format, "the ID token's payload is not JSON")
    })?;
    let (issuer, tid) = expected_issuer(exp, &peek)?;
    // Worded here for the admin; the crate's check below is what enforces it.
    let got = peek.get("iss").and_then(Value::as_str).unwrap_or("(none)");
    if got != issuer {
        return Err(VerifyError::refused(
            TokenCheck::Issuer,
            format!("issuer mismatch: got {got:?}, expected {issuer:?}"),
        ));
    }
    let issuer_url = IssuerUrl::new(issuer.clone()).map_err(|e| {
        VerifyError::refused(
            TokenCheck::Issuer,
            format!("expected issuer {issuer:?}: {e}"),
        )
    })?;
    let now = exp.now;
    let skew = time::Duration::seconds(exp.skew_secs);
    let to_chrono = |t: OffsetDateTime| {
        chrono::DateTime::<chrono::Utc>::from_timestamp(t.unix_timestamp(), 0).unwrap_or_default()
    };
    let exp_clock = to_chrono(now - skew);
    let latest_iat = to_chrono(now + skew);
    // A public-client verifier: it has no secret, so it can never accept an HMAC.
    let verifier = CoreIdTokenVerifier::new_public_client(
        ClientId::new(exp.client_id.to_owned()),
        issuer_url,
        keys.clone(),
    )
    .set_allowed_algs(ALLOWED_ALGS)
    // `exp` is compared with a clock set back by the skew: a token is still accepted up to
    // `skew` seconds after it expired (the provider's clock may run ahead of ours).
    .set_time_fn(move || exp_clock)
    .set_issue_time_verifier_fn(move |iat| {
        if iat > latest_iat {
            Err(format!("issued in the future ({iat})"))
        } else {
            Ok(())
        }
    });
    let nonce = Nonce::new(exp.nonce.to_owned());
    let claims = match token.claims(&verifier, &nonce) {
        Ok(c) => c,
        Err(ClaimsVerificationError::SignatureVerification(
            SignatureVerificationError::NoMatchingKey,
        )) => {
            let header = unverified_header(&compact).unwrap_or_default();
            let field = |name: &str| {
                header
                    .get(name)
                    .and_then(Value::as_str)
                    .unwrap_or("(none)")
                    .chars()
                    .take(64)
                    .collect::<String>()
            };
            return Err(VerifyError::UnknownKey(format!(
                "kid {:?}, algorithm {}",
                field("kid"),
                field("alg")
            )));
        }
        Err(e) => {
            let (check, message) = describe(&e);
            return Err(VerifyError::Refused(check, message));
        }
    };
    // azp: when present it must be us (Core §3.1.3.7 steps 4–5; the crate leaves this to us).
    if let Some(azp) = claims.authorized_party() {
        if azp.as_str() != exp.client_id {
            return Err(VerifyError::refused(
                TokenCheck::AuthorizedParty,
                format!(
                    "authorized party (azp) mismatch: got {:?}, expected {:?}",
                    azp.as_str(),
                    exp.client_id
                ),
            ));
        }
    } else if claims.audiences().len() > 1 {
        return Err(VerifyError::refused(
            TokenCheck::AuthorizedParty,
            "several audiences but no authorized party (azp)",
        ));
    }
    // The signature covers exactly these bytes, so the payload read now is the verified one.
    let verified = unverified_payload(&compact).ok_or_else(|| {
        VerifyError::refused(TokenCheck::Format, "the ID token's payload is not JSON")
    })?;
    if let Some(tid) = tid {
        let signed_tid = verified.get("tid").and_then(Value::as_str);
        if signed_tid.map(str::to_ascii_lowercase).as_deref() != Some(tid.as_str()) {
            return Err(VerifyError::refused(
                TokenCheck::Issuer,
                "tid changed between checks",
            ));
        }
    }
    Ok(Verified {
        issuer,
        subject: claims.subject().as_str().to_owned(),
        claims: verified,
    })
}

/// Whether the token's signature alone verifies: an allowed algorithm and a key from
/// `keys`, every claim check off. Never a verdict — the test sign-in uses it to say what the
/// signature line would be when [`verify`] refused the token for another reason first.
pub fn signature_only(token: &CoreIdToken, keys: &CoreJsonWebKeySet) -> bool {
    let Ok(issuer) = IssuerUrl::new("https://issuer.invalid".into()) else {
        return false;
    };
    let epoch = chrono::DateTime::<chrono::Utc>::from_timestamp(0, 0).unwrap_or_default();
    let verifier =
        CoreIdTokenVerifier::new_public_client(ClientId::new(String::new()), issuer, keys.clone())
            .set_allowed_algs(ALLOWED_ALGS)
            .require_issuer_match(false)
            .require_audience_match(false)
            .set_time_fn(move || epoch)
            .set_issue_time_verifier_fn(|_| Ok(()));
    token
        .claims(&verifier, |_: Option<&Nonce>| Ok::<(), String>(()))
        .is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn claims(v: Value) -> Map<String, Value> {
        v.as_object().unwrap().clone()
    }

    fn expected<'a>(issuer: &'a str, allowed: &'a [String]) -> Expected<'a> {
        Expected {
            client_id: "c",
            issuer,
            allowed_tenant_ids: allowed,
            nonce: "n",
            now: OffsetDateTime::UNIX_EPOCH,
            skew_secs: 60,
        }
    }

    #[test]
    fn microsoft_issuer_is_the_template_with_the_tokens_own_tid() {
        let tid = "9188040d-6c67-4c5b-b112-36a304b66dad";
        let e = expected("https://login.microsoftonline.com/{tenantid}/v2.0", &[]);
        let (iss, got) = expected_issuer(&e, &claims(serde_json::json!({ "tid": tid }))).unwrap();
        assert_eq!(iss, format!("https://login.microsoftonline.com/{tid}/v2.0"));
        assert_eq!(got.as_deref(), Some(tid));
    }

    #[test]
    fn a_tid_that_is_not_a_guid_never_shapes_the_issuer() {
        let e = expected("https://login.microsoftonline.com/{tenantid}/v2.0", &[]);
        for bad in [
            serde_json::json!({}),
            serde_json::json!({ "tid": "evil/../x" }),
            serde_json::json!({ "tid": 7 }),
        ] {
            assert!(matches!(
                expected_issuer(&e, &claims(bad)),
                Err(VerifyError::Refused(TokenCheck::Issuer, _))
            ));
        }
    }

    #[test]
    fn tid_allowlist_is_applied() {
        let allowed = vec!["9188040d-6c67-4c5b-b112-36a304b66dad".to_string()];
        let e = expected(
            "https://login.microsoftonline.com/{tenantid}/v2.0",
            &allowed,
        );
        let other = serde_json::json!({ "tid": "72f988bf-86f1-41af-91ab-2d7cd011db47" });
        let err = expected_issuer(&e, &claims(other)).unwrap_err();
        assert!(
            matches!(err, VerifyError::Refused(TokenCheck::Issuer, m) if m.contains("allowlist"))
        );
    }

    #[test]
    fn plain_issuers_are_used_as_they_are() {
        let e = expected("https://idp.example", &[]);
        let (iss, tid) = expected_issuer(&e, &claims(serde_json::json!({ "tid": "x" }))).unwrap();
        assert_eq!(iss, "https://idp.example");
        assert!(tid.is_none());
    }
}
