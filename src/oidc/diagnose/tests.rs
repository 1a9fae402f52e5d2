//! Each check's wording, from given tokens, traces and verdicts. Tokens are signed here with
//! an RSA key made for the test (openssl), so the signature line is judged for real.

use std::sync::Arc;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use openssl::hash::MessageDigest;
use openssl::pkey::{PKey, Private};
use openssl::rsa::Rsa;
use openssl::sign::Signer;
use serde_json::json;

use super::*;
use crate::oidc::connection::{build, OidcConnectionInput};

const NOW: i64 = 1_800_000_000;
const NONCE: &str = "the-flow-nonce";

fn now() -> OffsetDateTime {
    OffsetDateTime::from_unix_timestamp(NOW).unwrap()
}

fn b64(b: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(b)
}

struct Fixture {
    tenant: Tenant,
    connection: OidcConnection,
    key: PKey<Private>,
    flow: FlowState,
}

fn fixture() -> Fixture {
    let t = now();
    let tenant = Tenant {
        id: "tn_1".into(),
        name: "Acme".into(),
        primary_domain: "acme.test".into(),
        secondary_domains: vec!["acme.example".into()],
        sso_only: false,
        pending_domains: Vec::new(),
        domain_verifications: Default::default(),
        created_at: t,
        updated_at: t,
    };
    let input = OidcConnectionInput {
        provider: Some(Preset::Okta),
        issuer: Some("https://acme.okta.example".into()),
        client_id: Some("0oa-right".into()),
        client_secret: Some("s3cret".into()),
        jit_provisioning: true,
        ..Default::default()
    };
    let connection = build("tn_1", input, None, false, t).unwrap();
    let flow = FlowState {
        origin: flow::Origin::Tenant {
            tenant_id: "tn_1".into(),
        },
        nonce: NONCE.into(),
        pkce_verifier: "v".into(),
        browser: String::new(),
        return_to: None,
        test: None,
    };
    Fixture {
        tenant,
        connection,
        key: PKey::from_rsa(Rsa::generate(2048).unwrap()).unwrap(),
        flow,
    }
}

impl Fixture {
    fn setting(&self) -> Setting<'_> {
        Setting {
            tenant: &self.tenant,
            connection: &self.connection,
            redirect_uri: "https://sso.example/oidc/callback",
            now: now(),
        }
    }

    fn claims(&self) -> Map<String, Value> {
        json!({
            "iss": "https://acme.okta.example", "sub": "00u1", "aud": "0oa-right",
            "iat": NOW - 2, "exp": NOW + 300, "nonce": NONCE, "at_hash": "ah",
            "email": "pat@acme.test", "email_verified": true, "groups": ["eng"],
        })
        .as_object()
        .unwrap()
        .clone()
    }

    fn token(&self, header: Value, claims: &Map<String, Value>) -> String {
        let input = format!(
            "{}.{}",
            b64(&serde_json::to_vec(&header).unwrap()),
            b64(&serde_json::to_vec(claims).unwrap())
        );
        let mut s = Signer::new(MessageDigest::sha256(), &self.key).unwrap();
        s.update(input.as_bytes()).unwrap();
        format!("{input}.{}", b64(&s.sign_to_vec().unwrap()))
    }

    fn keys(&self, kid: &str) -> Arc<CoreJsonWebKeySet> {
        let rsa = self.key.rsa().unwrap();
        let set = json!({ "keys": [{
            "kty": "RSA", "use": "sig", "alg": "RS256", "kid": kid,
            "n": b64(&rsa.n().to_vec()), "e": b64(&rsa.e().to_vec()),
        }]});
        Arc::new(serde_json::from_value(set).unwrap())
    }

    /// A trace that got an ID token signed with kid `k1` and the key set `k1`.
    fn trace(&self, claims: &Map<String, Value>, error: Option<VerifyError>) -> Trace {
        Trace {
            stage: Stage::IdToken,
            token_endpoint: Some("https://acme.okta.example/token".into()),
            id_token: Some(self.token(json!({"alg": "RS256", "kid": "k1"}), claims)),
            keys: Some(self.keys("k1")),
            token_error: error,
        }
    }

    fn verified(&self, claims: &Map<String, Value>) -> std::result::Result<Verified, OidcError> {
        Ok(Verified {
            issuer: "https://acme.okta.example".into(),
            subject: "00u1".into(),
            claims: claims.clone(),
        })
    }
}

fn callback() -> Callback<'static> {
    Callback {
        code: Some("code"),
        error: None,
        error_description: None,
        same_browser: true,
    }
}

fn check(r: &Report, kind: CheckKind) -> &Check {
    r.checks.iter().find(|c| c.kind == kind).unwrap()
}

fn refused(check: TokenCheck, m: &str) -> (std::result::Result<Verified, OidcError>, VerifyError) {
    (
        Err(OidcError::Refused(m.into())),
        VerifyError::Refused(check, m.into()),
    )
}

#[test]
fn a_good_answer_passes_every_check_and_redacts_the_flow_secrets() {
    let f = fixture();
    let claims = f.claims();
    let r = diagnose(
        &f.setting(),
        &f.flow,
        &callback(),
        &f.verified(&claims),
        &f.trace(&claims, None),
    );
    assert!(r.passed, "{:#?}", r.checks);
    assert_eq!(r.checks.len(), 12);
    assert!(r
        .checks
        .iter()
        .all(|c| c.checked && c.passed && c.fix.is_none()));
    assert_eq!(
        check(&r, CheckKind::Signature).observed,
        r#"alg RS256, kid k1; provider key kid "k1" (RSA, RS256)"#
    );
    assert_eq!(
        check(&r, CheckKind::TimeWindow).observed,
        "issued (iat) -2 s from now, expires (exp) +300 s from now; the provider's clock is -2 s from ours; allowed skew 60 s"
    );
    assert_eq!(r.clock_difference_secs, Some(-2));
    assert_eq!(check(&r, CheckKind::Groups).observed, "groups: eng");
    assert_eq!(
        check(&r, CheckKind::EmailDomain).observed,
        "acme.test (this organisation: acme.test, acme.example)"
    );
    let shown = r.claims.unwrap();
    assert_eq!(shown["nonce"], "(redacted)");
    assert_eq!(shown["at_hash"], "(redacted)");
    assert_eq!(shown["email"], "pat@acme.test");
    assert!(r.claims_verified);
    assert_eq!(r.identity.unwrap().email.as_deref(), Some("pat@acme.test"));
}

#[test]
fn a_wrong_audience_names_what_the_provider_sends_and_where_to_change_it() {
    let f = fixture();
    let mut claims = f.claims();
    claims.insert("aud".into(), json!("0oa-other"));
    let (verdict, e) = refused(
        TokenCheck::Audience,
        "audience mismatch: `0oa-right` not in [0oa-other]",
    );
    let r = diagnose(
        &f.setting(),
        &f.flow,
        &callback(),
        &verdict,
        &f.trace(&claims, Some(e)),
    );
    assert!(!r.passed);
    let aud = check(&r, CheckKind::Audience);
    assert!(!aud.passed);
    assert_eq!(aud.observed, "0oa-other");
    assert_eq!(
        aud.fix.as_deref(),
        Some("The provider sends aud 0oa-other, but Client ID here is 0oa-right: in Okta the audience is the app's Client ID (General tab) — set Client ID on the Gatehouse OIDC page to that value.")
    );
    // The signature is judged on its own (really verified with the published key), and the
    // person is read from verified claims only.
    assert!(check(&r, CheckKind::Signature).passed);
    assert!(check(&r, CheckKind::Issuer).passed);
    assert!(!check(&r, CheckKind::Email).checked);
    assert!(r.identity.is_none() && !r.claims_verified);
    assert_eq!(
        r.refusal.as_deref(),
        Some("audience mismatch: `0oa-right` not in [0oa-other]")
    );
}

#[test]
fn a_wrong_issuer_says_what_to_set_with_the_providers_issuer_forms() {
    let f = fixture();
    let mut claims = f.claims();
    claims.insert(
        "iss".into(),
        json!("https://acme.okta.example/oauth2/default"),
    );
    let (verdict, e) = refused(TokenCheck::Issuer, "issuer mismatch");
    let r = diagnose(
        &f.setting(),
        &f.flow,
        &callback(),
        &verdict,
        &f.trace(&claims, Some(e)),
    );
    let iss = check(&r, CheckKind::Issuer);
    assert!(!iss.passed);
    assert_eq!(
        iss.fix.as_deref(),
        Some("The provider sends iss https://acme.okta.example/oauth2/default; set Issuer on the Gatehouse OIDC page to exactly that value if it is your provider (configured: https://acme.okta.example) (Okta: https://<org>.okta.com for the org server, https://<org>.okta.com/oauth2/default for the default custom server).")
    );
}

#[test]
fn an_expired_token_reports_the_measured_clock_difference() {
    let f = fixture();
    let mut claims = f.claims();
    claims.insert("iat".into(), json!(NOW - 700));
    claims.insert("exp".into(), json!(NOW - 400));
    let (verdict, e) = refused(TokenCheck::TimeWindow, "the ID token is expired");
    let r = diagnose(
        &f.setting(),
        &f.flow,
        &callback(),
        &verdict,
        &f.trace(&claims, Some(e)),
    );
    let w = check(&r, CheckKind::TimeWindow);
    assert!(!w.passed);
    assert_eq!(r.clock_difference_secs, Some(-700));
    assert!(
        w.observed.contains("expires (exp) -400 s from now"),
        "{}",
        w.observed
    );
    assert!(
        w.fix.as_deref().unwrap().starts_with("The ID token had expired 400 s before it arrived (allowed skew 60 s): check the provider's and the gateway's clocks (NTP)"),
        "{:?}",
        w.fix
    );
    // A provider clock running ahead is worded as such.
    let mut ahead = f.claims();
    ahead.insert("iat".into(), json!(NOW + 120));
    let (verdict, e) = refused(TokenCheck::TimeWindow, "issued in the future");
    let r = diagnose(
        &f.setting(),
        &f.flow,
        &callback(),
        &verdict,
        &f.trace(&ahead, Some(e)),
    );
    assert_eq!(
        check(&r, CheckKind::TimeWindow).fix.as_deref(),
        Some("The provider's clock is 120 s ahead of the gateway's (allowed skew 60 s): fix the clock on the side that is wrong (NTP), or raise Clock skew on this page (at most 300 s).")
    );
}

#[test]
fn signature_problems_are_worded_by_cause() {
    let f = fixture();
    let claims = f.claims();
    // A bad signature: the verdict's check, and the key that was used.
    let (verdict, e) = refused(
        TokenCheck::Signature,
        "the ID token's signature does not verify",
    );
    let mut trace = f.trace(&claims, Some(e));
    let t = trace.id_token.clone().unwrap();
    trace.id_token = Some(format!("{}AAAA", &t[..t.len() - 4]));
    let r = diagnose(&f.setting(), &f.flow, &callback(), &verdict, &trace);
    let sig = check(&r, CheckKind::Signature);
    assert!(!sig.passed);
    assert!(sig
        .fix
        .as_deref()
        .unwrap()
        .starts_with("The signature does not verify with the provider's key k1"));

    // An unknown kid: the published ones are named.
    let (verdict, e) = refused(
        TokenCheck::Signature,
        "no key in the provider's JWKS matches",
    );
    let mut trace = f.trace(&claims, Some(e));
    trace.keys = Some(f.keys("k2"));
    let r = diagnose(&f.setting(), &f.flow, &callback(), &verdict, &trace);
    let sig = check(&r, CheckKind::Signature);
    assert_eq!(
        sig.observed,
        "alg RS256, kid k1; no key in the provider's JWKS has this kid (keys: k2)"
    );
    assert!(sig
        .fix
        .as_deref()
        .unwrap()
        .starts_with("No key in the provider's JWKS has kid k1"));

    // HMAC and none.
    for (alg, start) in [
        (
            "HS256",
            "The provider signs ID tokens with HS256 (a shared secret), which is refused",
        ),
        ("none", "The provider sent an unsigned ID token (alg=none)"),
    ] {
        let (verdict, e) = refused(TokenCheck::Signature, "refused");
        let mut trace = f.trace(&claims, Some(e));
        trace.id_token = Some(f.token(json!({"alg": alg, "kid": "k1"}), &claims));
        let r = diagnose(&f.setting(), &f.flow, &callback(), &verdict, &trace);
        assert!(
            check(&r, CheckKind::Signature)
                .fix
                .as_deref()
                .unwrap()
                .starts_with(start),
            "{alg}"
        );
    }
}

#[test]
fn the_verdict_is_authoritative_even_where_the_explanation_would_pass() {
    let f = fixture();
    let claims = f.claims();
    // The token looks right to the explanation, but the real check refused the nonce.
    let (verdict, e) = refused(TokenCheck::Nonce, "nonce mismatch: x");
    let r = diagnose(
        &f.setting(),
        &f.flow,
        &callback(),
        &verdict,
        &f.trace(&claims, Some(e)),
    );
    let n = check(&r, CheckKind::Nonce);
    assert!(!n.passed && n.checked);
    assert_eq!(n.fix.as_deref(), Some("nonce mismatch: x"));
    assert!(!r.passed);
}

#[test]
fn the_providers_error_and_the_browser_binding_come_first() {
    let f = fixture();
    let cb = Callback {
        code: None,
        error: Some("access_denied"),
        error_description: Some("User is not assigned to the client application."),
        same_browser: true,
    };
    let verdict = Err(OidcError::Refused(early_refusal(&cb).unwrap()));
    let r = diagnose(&f.setting(), &f.flow, &cb, &verdict, &Trace::default());
    let p = check(&r, CheckKind::ProviderAnswer);
    assert_eq!(
        p.observed,
        "error=access_denied: User is not assigned to the client application."
    );
    assert_eq!(
        p.fix.as_deref(),
        Some("The provider refused the sign-in (access_denied): in Okta (Applications › the app › Assignments) assign the person, or a group they are in, to the Gatehouse application, then test again.")
    );
    assert!(!check(&r, CheckKind::TokenExchange).checked);
    assert!(!check(&r, CheckKind::Signature).checked);

    let cb = Callback {
        same_browser: false,
        ..callback()
    };
    let verdict = Err(OidcError::Refused(early_refusal(&cb).unwrap()));
    let r = diagnose(&f.setting(), &f.flow, &cb, &verdict, &Trace::default());
    let b = check(&r, CheckKind::StateAndBrowser);
    assert!(!b.passed);
    assert!(b
        .fix
        .as_deref()
        .unwrap()
        .starts_with("Finish the test in the browser that started it"));
}

#[test]
fn a_refused_code_exchange_names_the_oauth_error() {
    let f = fixture();
    let verdict = Err(OidcError::Refused(
        "the token endpoint refused the code: invalid_client (bad secret)".into(),
    ));
    let trace = Trace {
        stage: Stage::Exchange,
        token_endpoint: Some("https://acme.okta.example/token".into()),
        ..Trace::default()
    };
    let r = diagnose(&f.setting(), &f.flow, &callback(), &verdict, &trace);
    let x = check(&r, CheckKind::TokenExchange);
    assert!(!x.passed);
    assert_eq!(
        x.observed,
        "the token endpoint refused the code: invalid_client (bad secret)"
    );
    assert!(x.fix.as_deref().unwrap().starts_with("The provider does not accept the client credentials (invalid_client): copy the app's client secret"));
    assert_eq!(
        oauth_error("… refused the code: invalid_grant (x)"),
        Some("invalid_grant")
    );
}

#[test]
fn email_checks_use_the_mapping_and_the_tenants_domains() {
    let f = fixture();
    let mut claims = f.claims();
    claims.remove("email");
    let r = diagnose(
        &f.setting(),
        &f.flow,
        &callback(),
        &f.verified(&claims),
        &f.trace(&claims, None),
    );
    let e = check(&r, CheckKind::Email);
    assert!(!e.passed && !r.passed);
    assert_eq!(e.observed, "no email claim");
    assert!(e.fix.as_deref().unwrap().contains("claims sent: "));
    assert!(!check(&r, CheckKind::EmailDomain).checked);

    let mut claims = f.claims();
    claims.insert("email_verified".into(), json!(false));
    let r = diagnose(
        &f.setting(),
        &f.flow,
        &callback(),
        &f.verified(&claims),
        &f.trace(&claims, None),
    );
    assert!(check(&r, CheckKind::Email)
        .fix
        .as_deref()
        .unwrap()
        .starts_with(
            "The provider does not mark the email verified (email_verified is false or missing)"
        ));

    let mut claims = f.claims();
    claims.insert("email".into(), json!("pat@elsewhere.test"));
    let r = diagnose(
        &f.setting(),
        &f.flow,
        &callback(),
        &f.verified(&claims),
        &f.trace(&claims, None),
    );
    let d = check(&r, CheckKind::EmailDomain);
    assert!(!d.passed);
    assert_eq!(
        d.fix.as_deref(),
        Some("The email's domain elsewhere.test is not one of this organisation's domains (acme.test, acme.example): sign in with an account at one of them, or have elsewhere.test added to this organisation by your Gatehouse operator.")
    );

    // Groups are informational: absent groups pass, with Okta's hint.
    let mut claims = f.claims();
    claims.remove("groups");
    let r = diagnose(
        &f.setting(),
        &f.flow,
        &callback(),
        &f.verified(&claims),
        &f.trace(&claims, None),
    );
    let g = check(&r, CheckKind::Groups);
    assert!(g.passed && r.passed);
    assert!(g
        .observed
        .starts_with("no groups claim in the token (groups stay as they are); Okta sends groups"));
}
