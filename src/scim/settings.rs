//! Per-tenant SCIM settings the admin controls: which license types IdPs may assign.

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::store::{encode, get_json, keys, Store};

const MAX_LICENSE_TYPES: usize = 100;

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ScimSettings {
    /// Values `licenseType` may take; empty means any value is accepted.
    #[serde(default)]
    pub allowed_license_types: Vec<String>,
}

pub async fn get(store: &dyn Store, tenant_id: &str) -> Result<ScimSettings> {
    Ok(get_json(store, &keys::scim_settings(tenant_id))
        .await?
        .unwrap_or_default())
}

pub async fn save(store: &dyn Store, tenant_id: &str, input: ScimSettings) -> Result<ScimSettings> {
    if input.allowed_license_types.len() > MAX_LICENSE_TYPES {
        return Err(Error::invalid(
            "allowed_license_types",
            format!("at most {MAX_LICENSE_TYPES} values"),
        ));
    }
    let mut out: Vec<String> = Vec::new();
    for (i, v) in input.allowed_license_types.iter().enumerate() {
        let v = v.trim();
        if v.is_empty() || v.len() > 100 || v.chars().any(char::is_control) {
            return Err(Error::invalid(
                &format!("allowed_license_types[{i}]"),
                "must be 1 to 100 characters without control characters",
            ));
        }
        if !out.iter().any(|x| x == v) {
            out.push(v.to_owned());
        }
    }
    let settings = ScimSettings {
        allowed_license_types: out,
    };
    store
        .put(&keys::scim_settings(tenant_id), &encode(&settings)?, None)
        .await?;
    Ok(settings)
}
