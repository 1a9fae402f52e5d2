//! From a verified SAML identity to a person of the tenant: the tenant's own domains only
//! (T25), existing people matched by email (case-insensitive), unknown people created only
//! when the tenant switched on just-in-time creation, and nobody who is switched off —
//! including people deprovisioned by SCIM, who are never re-created just in time.

use super::acs::SamlIdentity;
use super::connection::SamlConnection;
use crate::clock::Clock;
use crate::error::{Error, Result};
use crate::store::Store;
use crate::tenant::Tenant;
use crate::user::repo::{self as users, NewUser};
use crate::user::{normalize_email, User};

/// Why a verified identity still may not sign in (the precise cause, for logs).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Refusal {
    #[error("asserted email {0:?} is not a valid address")]
    BadEmail(String),
    #[error("asserted email domain {domain} is not one of the tenant's domains")]
    ForeignDomain { domain: String },
    #[error("{email} has no account and just-in-time creation is off")]
    UnknownUser { email: String },
    #[error("{email}'s account is {status}")]
    Inactive { email: String, status: String },
}

pub enum Outcome {
    SignedIn { user: User, created: bool },
    Refused(Refusal),
}

/// What a sign-in would do, decided without writing anything (the console's test sign-in
/// shows this; [`resolve`] carries it out).
#[derive(Debug)]
pub enum Decision {
    Existing(User),
    /// Unknown person, and the tenant creates people just in time.
    Create(NewUser),
    Refused(Refusal),
}

pub async fn decide(
    store: &dyn Store,
    tenant: &Tenant,
    connection: &SamlConnection,
    identity: &SamlIdentity,
) -> Result<Decision> {
    let Ok((email, domain)) = normalize_email(&identity.email) else {
        return Ok(Decision::Refused(Refusal::BadEmail(
            identity.email.chars().take(200).collect(),
        )));
    };
    if !tenant.owns_domain(&domain) {
        return Ok(Decision::Refused(Refusal::ForeignDomain { domain }));
    }
    if let Some(user) = users::by_email(store, &email).await? {
        if user.tenant_id != tenant.id {
            return Ok(Decision::Refused(Refusal::ForeignDomain { domain }));
        }
        if !user.is_active() {
            let status = serde_json::to_value(user.status)
                .ok()
                .and_then(|v| v.as_str().map(str::to_owned))
                .unwrap_or_default();
            return Ok(Decision::Refused(Refusal::Inactive { email, status }));
        }
        return Ok(Decision::Existing(user));
    }
    if !connection.jit_provisioning {
        return Ok(Decision::Refused(Refusal::UnknownUser { email }));
    }
    let display_name = match (&identity.first_name, &identity.last_name) {
        (Some(f), Some(l)) => Some(format!("{f} {l}")),
        (Some(n), None) | (None, Some(n)) => Some(n.clone()),
        (None, None) => None,
    };
    let groups: Vec<String> = identity
        .groups
        .iter()
        .filter(|g| !g.contains(',') && g.len() <= 256)
        .cloned()
        .collect();
    Ok(Decision::Create(NewUser {
        email,
        password: None,
        display_name,
        groups,
        role: Default::default(),
    }))
}

pub async fn resolve(
    store: &dyn Store,
    clock: &dyn Clock,
    tenant: &Tenant,
    connection: &SamlConnection,
    identity: &SamlIdentity,
) -> Result<Outcome> {
    let new = match decide(store, tenant, connection, identity).await? {
        Decision::Existing(user) => {
            return Ok(Outcome::SignedIn {
                user,
                created: false,
            })
        }
        Decision::Refused(why) => return Ok(Outcome::Refused(why)),
        Decision::Create(new) => new,
    };
    let email = new.email.clone();
    match users::create(store, clock, tenant, new).await {
        Ok(user) => Ok(Outcome::SignedIn {
            user,
            created: true,
        }),
        // Created by a concurrent login a moment ago: use that account.
        Err(Error::Conflict(_)) => match users::by_email(store, &email).await? {
            Some(user) if user.is_active() && user.tenant_id == tenant.id => {
                Ok(Outcome::SignedIn {
                    user,
                    created: false,
                })
            }
            _ => Ok(Outcome::Refused(Refusal::UnknownUser { email })),
        },
        Err(e) => Err(e),
    }
}
