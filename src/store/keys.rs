//! The only place store keys are spelled. Every key of per-tenant data is reachable
//! from its tenant; lookups by domain, email and session id are single reads.

pub fn tenant(id: &str) -> String {
    format!("tenant:{id}")
}

/// Index of every tenant id.
pub fn tenants() -> &'static str {
    "tenants"
}

/// Claim of a domain by one tenant; the value is the tenant id.
pub fn domain(domain: &str) -> String {
    format!("domain:{domain}")
}

pub fn user(id: &str) -> String {
    format!("user:{id}")
}

/// Claim of an email address by one user; the value is the user id.
pub fn user_email(email: &str) -> String {
    format!("email:{email}")
}

pub fn tenant_users(tenant_id: &str) -> String {
    format!("tenant_users:{tenant_id}")
}

pub fn session(sid: &str) -> String {
    format!("session:{sid}")
}

pub fn user_sessions(user_id: &str) -> String {
    format!("user_sessions:{user_id}")
}

pub fn signing_keys() -> &'static str {
    "signing_keys"
}

/// A rate-limit counter; `bucket` names the rule, `subject` whom it counts.
pub fn rate(bucket: &str, subject: &str) -> String {
    format!("rate:{bucket}:{subject}")
}

/// A tenant's SAML connection.
pub fn saml_connection(tenant_id: &str) -> String {
    format!("saml_connection:{tenant_id}")
}

/// Pending SP-initiated SAML login, keyed by the opaque RelayState (single use).
pub fn saml_flow(relay_state: &str) -> String {
    format!("saml_flow:{relay_state}")
}

/// An assertion ID already consumed by this tenant (replay cache).
pub fn saml_seen(tenant_id: &str, assertion_id: &str) -> String {
    format!("saml_seen:{tenant_id}:{assertion_id}")
}

/// Ordered index of a journal's entries for one tenant (`-` when no tenant is known).
pub fn journal(name: &str, scope: &str) -> String {
    format!("journal:{name}:{scope}")
}

pub fn journal_entry(name: &str, scope: &str, id: &str) -> String {
    format!("journal_entry:{name}:{scope}:{id}")
}

/// The deployment's SAML SP signing key and certificate (signed AuthnRequests).
pub fn saml_sp_key() -> &'static str {
    "saml_sp_key"
}

/// A console test sign-in's report.
pub fn saml_test(id: &str) -> String {
    format!("saml_test:{id}")
}

/// The last passed test sign-in of a tenant's SAML connection.
pub fn saml_test_passed(tenant_id: &str) -> String {
    format!("saml_test_passed:{tenant_id}")
}

/// The one-time link that creates the first operator account.
pub fn setup_token() -> &'static str {
    "setup_token"
}

/// Set once the first operator exists; no setup link is printed after that.
pub fn setup_done() -> &'static str {
    "setup_done"
}

/// A tenant's OpenID Connect connection (holds the client secret; the API never shows it).
pub fn oidc_connection(tenant_id: &str) -> String {
    format!("oidc_connection:{tenant_id}")
}

/// Pending OIDC login, keyed by the `state` sent to the provider (single use).
pub fn oidc_flow(state: &str) -> String {
    format!("oidc_flow:{state}")
}

/// A provider account (hash of its stable subject) linked to a user; the value is the user id.
pub fn oidc_link(subject_hash: &str) -> String {
    format!("oidc_link:{subject_hash}")
}

/// The provider account a user is linked to within one provider scope (Google, Microsoft,
/// or one tenant issuer); the value is the subject hash. Guards against a second account
/// taking over the user through a matching email (nOAuth).
pub fn oidc_user_link(user_id: &str, scope: &str) -> String {
    format!("oidc_user_link:{user_id}:{scope}")
}
