//! A tenant's SAML connection: which IdP, how to reach it, which certificates sign for it,
//! how its attributes map to a person, and the tenant's switches.
//!
//! Invariant: a stored connection always has at least one valid signing certificate; input
//! without one is refused here, so the ACS can never reach samael without certificates
//! (samael would then skip signature verification — SECURITY-CHECKLIST T02).

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use url::Url;

use super::cert::{parse_certificates, read_metadata, IdpCertificate};
use crate::audit::changes::{self, Area, ChangeEvent, ChangedBy, Diff};
use crate::clock::Clock;
use crate::error::{Error, Result};
use crate::outbound::{self, Policy};
use crate::store::{encode, get_json, keys, BatchOp, Store};

/// Largest clock skew a tenant may allow (SECURITY-CHECKLIST T20).
pub const MAX_CLOCK_SKEW_SECS: u32 = 300;
pub const DEFAULT_CLOCK_SKEW_SECS: u32 = 120;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Provider {
    Onelogin,
    Okta,
    Jumpcloud,
    EntraId,
    GoogleWorkspace,
    Custom,
}

impl Provider {
    pub fn label(self) -> &'static str {
        match self {
            Self::Onelogin => "OneLogin",
            Self::Okta => "Okta",
            Self::Jumpcloud => "JumpCloud",
            Self::EntraId => "Microsoft Entra ID",
            Self::GoogleWorkspace => "Google Workspace",
            Self::Custom => "Custom",
        }
    }

    /// The attribute names each vendor sends by default. `None` for email means the NameID.
    pub fn default_attributes(self) -> AttributeMap {
        let map = |email: Option<&str>, first: &str, last: &str, groups: &str| AttributeMap {
            email: email.map(str::to_owned),
            first_name: Some(first.to_owned()),
            last_name: Some(last.to_owned()),
            groups: Some(groups.to_owned()),
        };
        match self {
            Self::Onelogin => map(None, "User.FirstName", "User.LastName", "memberOf"),
            Self::Okta => map(None, "firstName", "lastName", "groups"),
            Self::Jumpcloud => map(Some("email"), "firstname", "lastname", "memberOf"),
            Self::EntraId => map(
                Some("http://schemas.xmlsoap.org/ws/2005/05/identity/claims/emailaddress"),
                "http://schemas.xmlsoap.org/ws/2005/05/identity/claims/givenname",
                "http://schemas.xmlsoap.org/ws/2005/05/identity/claims/surname",
                "http://schemas.microsoft.com/ws/2008/06/identity/claims/groups",
            ),
            Self::GoogleWorkspace => map(None, "firstName", "lastName", "groups"),
            Self::Custom => map(None, "firstName", "lastName", "groups"),
        }
    }
}

/// Which SAML attribute carries what. `email: None` means "the NameID is the email".
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AttributeMap {
    pub email: Option<String>,
    pub first_name: Option<String>,
    pub last_name: Option<String>,
    pub groups: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SamlConnection {
    pub tenant_id: String,
    pub provider: Provider,
    /// "IdP Entity ID (Issuer)".
    pub idp_entity_id: String,
    /// "IdP SSO URL": where AuthnRequests go (HTTP-Redirect binding).
    pub idp_sso_url: String,
    /// Every certificate that may sign (more than one during a rollover).
    pub certificates: Vec<IdpCertificate>,
    pub attributes: AttributeMap,
    /// IdP-initiated login (OneLogin app panel, JumpCloud portal); off unless switched on.
    pub allow_idp_initiated: bool,
    /// Create people on their first login (just-in-time) instead of refusing unknown ones.
    pub jit_provisioning: bool,
    /// Sign AuthnRequests with the SP key.
    pub sign_authn_requests: bool,
    /// Accept RSA-SHA1 signatures (legacy IdPs only; off by default, T12).
    pub allow_sha1: bool,
    pub clock_skew_secs: u32,
    /// Where people land after IdP-initiated login.
    pub default_return_url: Option<String>,
    /// The metadata URL the IdP values were imported from, if any.
    #[serde(default)]
    pub metadata_url: Option<String>,
    #[serde(with = "time::serde::rfc3339")]
    pub updated_at: OffsetDateTime,
}

/// What an admin submits. Either the IdP fields with a certificate, or metadata XML (whose
/// values the explicit fields override).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SamlConnectionInput {
    pub provider: Option<Provider>,
    pub idp_entity_id: Option<String>,
    pub idp_sso_url: Option<String>,
    /// One or more certificates: PEM with or without BEGIN/END lines, or base64 DER.
    pub certificate: Option<String>,
    pub metadata_xml: Option<String>,
    /// Where the IdP publishes its metadata; fetched at save time (https, public address).
    pub metadata_url: Option<String>,
    pub attributes: Option<AttributeMap>,
    #[serde(default)]
    pub allow_idp_initiated: bool,
    #[serde(default)]
    pub jit_provisioning: bool,
    #[serde(default)]
    pub sign_authn_requests: bool,
    #[serde(default)]
    pub allow_sha1: bool,
    pub clock_skew_secs: Option<u32>,
    pub default_return_url: Option<String>,
}

/// IdP URLs must be https; plain http only on loopback (local test IdPs).
fn validate_idp_url(field: &str, raw: &str) -> Result<String> {
    let url = Url::parse(raw.trim())
        .map_err(|_| Error::invalid(field, format!("`{raw}` is not a URL")))?;
    let loopback = matches!(url.host_str(), Some("localhost" | "127.0.0.1" | "[::1]"));
    match url.scheme() {
        "https" => {}
        "http" if loopback => {}
        _ => return Err(Error::invalid(field, "must be an https:// URL")),
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err(Error::invalid(
            field,
            "must not contain a user name or password",
        ));
    }
    Ok(url.to_string())
}

/// Checks `input` and builds the connection to store. Nothing invalid is ever returned.
pub fn build(
    tenant_id: &str,
    input: SamlConnectionInput,
    now: OffsetDateTime,
) -> Result<SamlConnection> {
    let from_metadata = match input
        .metadata_xml
        .as_deref()
        .filter(|m| !m.trim().is_empty())
    {
        Some(xml) => {
            Some(read_metadata(xml).map_err(|e| Error::invalid("metadata_xml", e.to_string()))?)
        }
        None => None,
    };
    let provider = input.provider.unwrap_or(Provider::Custom);
    let entity_id = input
        .idp_entity_id
        .filter(|s| !s.trim().is_empty())
        .or_else(|| from_metadata.as_ref().and_then(|m| m.entity_id.clone()))
        .ok_or_else(|| {
            Error::invalid(
                "idp_entity_id",
                "is required: copy the IdP Entity ID (Issuer) from your IdP",
            )
        })?;
    let entity_id = entity_id.trim().to_owned();
    if entity_id.len() > 1024 || entity_id.chars().any(char::is_control) {
        return Err(Error::invalid(
            "idp_entity_id",
            "must be at most 1024 characters without control characters",
        ));
    }
    let sso_url = input
        .idp_sso_url
        .filter(|s| !s.trim().is_empty())
        .or_else(|| {
            from_metadata
                .as_ref()
                .and_then(|m| m.sso_redirect_url.clone())
        })
        .ok_or_else(|| {
            Error::invalid(
                "idp_sso_url",
                "is required: copy the IdP SSO URL from your IdP",
            )
        })?;
    let sso_url = validate_idp_url("idp_sso_url", &sso_url)?;
    let certificates = match (input.certificate.as_deref().filter(|c| !c.trim().is_empty()), input.metadata_xml.as_deref()) {
        (Some(pasted), _) => parse_certificates(pasted, now).map_err(|e| Error::invalid("certificate", e.to_string()))?,
        (None, Some(xml)) if !xml.trim().is_empty() => {
            parse_certificates(xml, now).map_err(|e| Error::invalid("metadata_xml", e.to_string()))?
        }
        _ => {
            return Err(Error::invalid(
                "certificate",
                "is required: paste the IdP's signing certificate (PEM, with or without the BEGIN/END lines) or its metadata",
            ))
        }
    };
    let skew = input.clock_skew_secs.unwrap_or(DEFAULT_CLOCK_SKEW_SECS);
    if skew > MAX_CLOCK_SKEW_SECS {
        return Err(Error::invalid(
            "clock_skew_secs",
            format!("must be at most {MAX_CLOCK_SKEW_SECS} seconds"),
        ));
    }
    let default_return_url = match input.default_return_url.filter(|u| !u.trim().is_empty()) {
        Some(u) => {
            let parsed =
                Url::parse(&u).map_err(|_| Error::invalid("default_return_url", "is not a URL"))?;
            if !matches!(parsed.scheme(), "http" | "https") {
                return Err(Error::invalid(
                    "default_return_url",
                    "must be an http(s) URL",
                ));
            }
            Some(parsed.to_string())
        }
        None => None,
    };
    Ok(SamlConnection {
        tenant_id: tenant_id.to_owned(),
        provider,
        idp_entity_id: entity_id,
        idp_sso_url: sso_url,
        certificates,
        attributes: input
            .attributes
            .unwrap_or_else(|| provider.default_attributes()),
        allow_idp_initiated: input.allow_idp_initiated,
        jit_provisioning: input.jit_provisioning,
        sign_authn_requests: input.sign_authn_requests,
        allow_sha1: input.allow_sha1,
        clock_skew_secs: skew,
        default_return_url,
        metadata_url: input.metadata_url.filter(|u| !u.trim().is_empty()),
        updated_at: now,
    })
}

/// Fetches the metadata behind `input.metadata_url` (unless metadata was pasted as well,
/// which then wins) so that [`build`] checks it like pasted metadata.
pub async fn fetch_metadata(input: &mut SamlConnectionInput, policy: Policy) -> Result<()> {
    let pasted = input
        .metadata_xml
        .as_deref()
        .is_some_and(|m| !m.trim().is_empty());
    let Some(url) = input
        .metadata_url
        .as_deref()
        .filter(|u| !u.trim().is_empty())
    else {
        return Ok(());
    };
    if pasted {
        return Ok(());
    }
    let xml = fetch_document(url, policy)
        .await
        .map_err(|e| Error::invalid("metadata_url", format!("could not be fetched: {e}")))?;
    input.metadata_xml = Some(xml);
    Ok(())
}

/// The document behind a metadata URL, through the SSRF-safe fetch (T29); a save and the
/// periodic refresh read it the same way.
pub(crate) async fn fetch_document(
    url: &str,
    policy: Policy,
) -> std::result::Result<String, outbound::FetchError> {
    outbound::fetch_text(
        url,
        "application/samlmetadata+xml, application/xml, text/xml",
        policy,
    )
    .await
}

/// Validates (fetching `metadata_url` when given) and stores the connection, and records
/// what changed in the configuration log. A tenant has one SSO connection: saving SAML
/// while an OIDC connection exists is a conflict.
pub async fn save(
    store: &dyn Store,
    clock: &dyn Clock,
    policy: Policy,
    tenant_id: &str,
    mut input: SamlConnectionInput,
    by: &ChangedBy,
) -> Result<SamlConnection> {
    if crate::oidc::connection::get(store, tenant_id)
        .await?
        .is_some()
    {
        return Err(Error::Conflict(
            "this tenant already signs in with OpenID Connect; delete its OIDC connection first (a tenant has one SSO connection)".into(),
        ));
    }
    fetch_metadata(&mut input, policy).await?;
    let connection = build(tenant_id, input, clock.now())?;
    let previous = get(store, tenant_id).await?;
    put(store, &connection).await?;
    // What the periodic refresh knew was about the previous settings.
    super::metadata_refresh::forget(store, tenant_id).await?;
    let summary = match previous {
        Some(_) => "SAML connection changed",
        None => "SAML connection set up",
    };
    let event = ChangeEvent::new(clock.now(), tenant_id, by.clone(), Area::Saml, summary)
        .details(describe_changes(previous.as_ref(), &connection));
    changes::record(store, &event).await;
    Ok(connection)
}

/// What differs between two versions of a connection, one line per setting, in the words
/// of the console (certificates by SHA-256 fingerprint).
pub fn describe_changes(old: Option<&SamlConnection>, new: &SamlConnection) -> Vec<String> {
    let mut diff = Diff::default();
    diff.field(
        "provider",
        old.map(|o| o.provider.label()),
        new.provider.label(),
    );
    diff.field(
        "IdP Entity ID",
        old.map(|o| o.idp_entity_id.as_str()),
        &new.idp_entity_id,
    );
    diff.field(
        "IdP SSO URL",
        old.map(|o| o.idp_sso_url.as_str()),
        &new.idp_sso_url,
    );
    diff.field(
        "metadata URL",
        old.map(|o| o.metadata_url.as_deref().unwrap_or("none")),
        new.metadata_url.as_deref().unwrap_or("none"),
    );
    diff.switch(
        "IdP-initiated login",
        old.map(|o| o.allow_idp_initiated),
        new.allow_idp_initiated,
    );
    diff.switch(
        "just-in-time creation",
        old.map(|o| o.jit_provisioning),
        new.jit_provisioning,
    );
    diff.switch(
        "signed AuthnRequests",
        old.map(|o| o.sign_authn_requests),
        new.sign_authn_requests,
    );
    let fingerprints = |c: &SamlConnection| -> Vec<String> {
        c.certificates
            .iter()
            .map(|c| c.sha256_fingerprint.clone())
            .collect()
    };
    let before = old.map(fingerprints).unwrap_or_default();
    let after = fingerprints(new);
    for added in after.iter().filter(|f| !before.contains(f)) {
        diff.line(format!("certificate added: SHA-256 {added}"));
    }
    for removed in before.iter().filter(|f| !after.contains(f)) {
        diff.line(format!("certificate removed: SHA-256 {removed}"));
    }
    diff.into_lines()
}

pub async fn get(store: &dyn Store, tenant_id: &str) -> Result<Option<SamlConnection>> {
    Ok(get_json(store, &keys::saml_connection(tenant_id)).await?)
}

/// Stores a connection built by [`build`], and keeps the index of connections with a
/// metadata URL (which the periodic refresh walks) in step, in one atomic write.
pub(crate) async fn put(store: &dyn Store, connection: &SamlConnection) -> Result<()> {
    let index = keys::saml_metadata_urls().to_owned();
    let member = connection.tenant_id.clone();
    let index_op = match connection.metadata_url {
        Some(_) => BatchOp::IndexAdd { index, member },
        None => BatchOp::IndexRemove { index, member },
    };
    store
        .batch(&[
            BatchOp::Put {
                key: keys::saml_connection(&connection.tenant_id),
                value: encode(connection)?,
                ttl: None,
            },
            index_op,
        ])
        .await?;
    Ok(())
}

/// Removes the connection (recorded in the configuration log); false when there was none.
pub async fn delete(
    store: &dyn Store,
    clock: &dyn Clock,
    tenant_id: &str,
    by: &ChangedBy,
) -> Result<bool> {
    let removed = store.delete(&keys::saml_connection(tenant_id)).await?;
    store
        .index_remove(keys::saml_metadata_urls(), tenant_id)
        .await?;
    super::metadata_refresh::forget(store, tenant_id).await?;
    if removed {
        let event = ChangeEvent::new(
            clock.now(),
            tenant_id,
            by.clone(),
            Area::Saml,
            "SAML connection removed",
        );
        changes::record(store, &event).await;
    }
    Ok(removed)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_connection_without_a_certificate_cannot_be_built() {
        let input = SamlConnectionInput {
            idp_entity_id: Some("JumpCloud".into()),
            idp_sso_url: Some("https://sso.jumpcloud.example/saml2/app".into()),
            ..Default::default()
        };
        let err = build("tn_1", input, OffsetDateTime::now_utc()).unwrap_err();
        assert!(
            matches!(err, Error::Invalid { ref field, .. } if field == "certificate"),
            "{err}"
        );
    }

    #[test]
    fn idp_urls_must_be_https_except_on_loopback() {
        assert!(validate_idp_url("f", "http://idp.example/sso").is_err());
        assert!(validate_idp_url("f", "javascript:alert(1)").is_err());
        assert!(validate_idp_url("f", "https://user:pw@idp.example/").is_err());
        assert!(validate_idp_url("f", "https://idp.example/sso").is_ok());
        assert!(validate_idp_url("f", "http://127.0.0.1:9000/sso").is_ok());
    }

    #[test]
    fn presets_know_vendor_attribute_names() {
        assert_eq!(
            Provider::Jumpcloud.default_attributes().email.as_deref(),
            Some("email")
        );
        assert!(Provider::EntraId
            .default_attributes()
            .email
            .unwrap()
            .ends_with("/claims/emailaddress"));
        assert_eq!(
            Provider::Okta.default_attributes().email,
            None,
            "Okta sends the email as NameID"
        );
    }
}
