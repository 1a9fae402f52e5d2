//! SCIM 2.0 provisioning (RFC 7643/7644) at `{base}/scim/v2`, authenticated by a tenant API
//! key with the `scim` scope.
//!
//! Invariants:
//! - the tenant comes from the API key only ([`auth::ScimAuth`]); every lookup is scoped to
//!   it and a resource of another tenant is "not found";
//! - writes are validated completely (schema, tenant domains, license values, uniqueness)
//!   before anything is stored; claims taken on the way are released when a later check
//!   fails, so a rejected request leaves no partial write;
//! - `active=false` and DELETE end every session of the person at once (revocation reaches
//!   every instance through the store's event feed) and mark them deprovisioned, so SAML/OIDC
//!   just-in-time creation cannot bring them back; DELETE also hides them from SCIM;
//! - every write is recorded in the provisioning log ([`log`]).
//!
//! Storage: the core [`crate::user::User`] keeps what sign-in needs (email, display name,
//! groups, status). SCIM attributes live in a separate record per user (`scim_user:{id}`,
//! see [`user`]) so the core type stays unchanged, every existing record still decodes, and
//! the sign-in path never decodes SCIM data it does not use. People created by the admin
//! API or just in time have no SCIM record until an IdP first writes them; until then they
//! appear with `userName` = their email, which is what IdPs filter on to link them.

pub mod auth;
pub mod error;
pub mod filter;
pub mod group;
pub mod log;
pub mod patch;
pub mod query;
pub mod resource;
pub mod routes;
pub mod schema;
pub mod settings;
pub mod user;

use crate::clock::Clock;
use crate::store::Store;
use crate::tenant::Tenant;

/// Everything a SCIM operation needs: the store, the clock, the key's tenant and the URL
/// resources are located under.
pub struct Ctx<'a> {
    pub store: &'a dyn Store,
    pub clock: &'a dyn Clock,
    pub tenant: &'a Tenant,
    /// `{base}/scim/v2`, for `meta.location` and `$ref`.
    pub base: &'a str,
}

/// The SCIM base URL for the gateway's public URL.
pub fn base_url(public: &url::Url) -> String {
    format!("{}/scim/v2", public.as_str().trim_end_matches('/'))
}

/// A weak ETag from a modification time: every write moves it.
pub fn version_of(t: time::OffsetDateTime) -> String {
    format!("W/\"{:x}\"", t.unix_timestamp_nanos())
}

/// `If-Match`: refuses the write when the client's version is not the current one.
pub fn check_precondition(if_match: Option<&str>, current: &str) -> error::ScimResult<()> {
    let Some(wanted) = if_match else {
        return Ok(());
    };
    let strip = |s: &str| {
        s.trim()
            .trim_start_matches("W/")
            .trim_matches('"')
            .to_owned()
    };
    let current = strip(current);
    if wanted
        .split(',')
        .any(|w| w.trim() == "*" || strip(w) == current)
    {
        Ok(())
    } else {
        Err(error::ScimError::precondition_failed(
            "the resource changed since the version in If-Match; read it again and retry",
        ))
    }
}

/// Removes every SCIM record of a tenant (tenant deletion); the people themselves are
/// deleted by the user repository.
pub async fn purge_tenant(store: &dyn Store, tenant_id: &str) -> crate::error::Result<()> {
    group::purge_tenant(store, tenant_id).await?;
    user::purge_tenant(store, tenant_id).await?;
    crate::apikey::repo::delete_all_in_tenant(store, tenant_id).await?;
    store
        .delete(&crate::store::keys::scim_settings(tenant_id))
        .await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn preconditions() {
        let v = version_of(time::OffsetDateTime::UNIX_EPOCH + time::Duration::seconds(1));
        assert!(check_precondition(None, &v).is_ok());
        assert!(check_precondition(Some(&v), &v).is_ok());
        assert!(check_precondition(Some("*"), &v).is_ok());
        assert!(check_precondition(Some(v.trim_start_matches("W/")), &v).is_ok());
        assert_eq!(
            check_precondition(Some("W/\"1\""), &v).unwrap_err().status,
            412
        );
    }
}
