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

/// Ordered index of the tenants whose SAML connection was imported from a metadata URL
/// (the periodic refresh walks it instead of every tenant).
pub fn saml_metadata_urls() -> &'static str {
    "saml_metadata_urls"
}

/// When a tenant's metadata URL was last refreshed and whether it is failing.
pub fn saml_metadata_refresh(tenant_id: &str) -> String {
    format!("saml_metadata_refresh:{tenant_id}")
}

/// Held (with a TTL of one refresh interval) by the instance that refreshed the tenant's
/// metadata last; while it exists no other instance refreshes that connection.
pub fn saml_metadata_lease(tenant_id: &str) -> String {
    format!("saml_metadata_lease:{tenant_id}")
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

/// A test sign-in's record (SAML or OIDC). The spelling predates OIDC tests and is kept so
/// that stored reports stay readable.
pub fn sso_test(id: &str) -> String {
    format!("saml_test:{id}")
}

/// The last passed test sign-in of a tenant's SSO connection (spelling kept, as above:
/// markers written by SAML-only versions still count).
pub fn sso_test_passed(tenant_id: &str) -> String {
    format!("saml_test_passed:{tenant_id}")
}

/// Index of a tenant's test sign-ins (`{time}:{id}`, so the order is chronological).
pub fn tenant_sso_tests(tenant_id: &str) -> String {
    format!("tenant_sso_tests:{tenant_id}")
}

/// A one-time start link of a test started through the admin API, by the SHA-256 (hex) of
/// its secret.
pub fn sso_test_start(secret_hash: &str) -> String {
    format!("sso_test_start:{secret_hash}")
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

/// A tenant API key's record.
pub fn api_key(key_id: &str) -> String {
    format!("api_key:{key_id}")
}

/// Lookup of an API key by the SHA-256 of its secret (hex); the value is the key id.
pub fn api_key_hash(hash_hex: &str) -> String {
    format!("api_key_hash:{hash_hex}")
}

/// Index of a tenant's API key ids.
pub fn tenant_api_keys(tenant_id: &str) -> String {
    format!("tenant_api_keys:{tenant_id}")
}

/// A tenant's SCIM settings (allowed license types).
pub fn scim_settings(tenant_id: &str) -> String {
    format!("scim_settings:{tenant_id}")
}

/// The SCIM attributes of a user that the core `User` does not carry.
pub fn scim_user(user_id: &str) -> String {
    format!("scim_user:{user_id}")
}

/// Claim of a SCIM `userName` (lower-cased; case-insensitive per RFC 7643) inside a tenant.
pub fn scim_user_name(tenant_id: &str, user_name_lower: &str) -> String {
    format!("scim_user_name:{tenant_id}:{user_name_lower}")
}

/// Claim of an `externalId` (case-exact) of one resource type inside a tenant.
pub fn scim_external_id(tenant_id: &str, resource: &str, external_id: &str) -> String {
    format!("scim_external_id:{tenant_id}:{resource}:{external_id}")
}

/// Users of a tenant carrying an email address (any of their `emails`, lower-cased).
pub fn scim_email(tenant_id: &str, email_lower: &str) -> String {
    format!("scim_email:{tenant_id}:{email_lower}")
}

/// Users deleted over SCIM: kept (deprovisioned, so no just-in-time re-creation) but no
/// longer listed.
pub fn tenant_removed_users(tenant_id: &str) -> String {
    format!("tenant_removed_users:{tenant_id}")
}

pub fn scim_group(group_id: &str) -> String {
    format!("scim_group:{group_id}")
}

/// Index of a tenant's group ids.
pub fn tenant_groups(tenant_id: &str) -> String {
    format!("tenant_groups:{tenant_id}")
}

/// Claim of a group's displayName (lower-cased) inside a tenant.
pub fn scim_group_name(tenant_id: &str, name_lower: &str) -> String {
    format!("scim_group_name:{tenant_id}:{name_lower}")
}

/// Index of a group's member user ids.
pub fn scim_group_members(group_id: &str) -> String {
    format!("scim_group_members:{group_id}")
}

/// Index of the group ids a user belongs to.
pub fn scim_user_groups(user_id: &str) -> String {
    format!("scim_user_groups:{user_id}")
}

/// An IT-admin setup link's record.
pub fn it_setup_link(link_id: &str) -> String {
    format!("it_setup_link:{link_id}")
}

/// Lookup of a live setup link by the SHA-256 of its secret (hex); the value is the link id.
pub fn it_setup_hash(hash_hex: &str) -> String {
    format!("it_setup_hash:{hash_hex}")
}

/// Index of a tenant's setup link ids.
pub fn tenant_it_setup_links(tenant_id: &str) -> String {
    format!("tenant_it_setup_links:{tenant_id}")
}
