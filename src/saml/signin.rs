//! From a verified SAML identity to a person of the tenant: the tenant's own domains only
//! (T25), existing people matched by email (case-insensitive), unknown people created only
//! when the tenant switched on just-in-time creation, and nobody who is switched off —
//! including people deprovisioned by SCIM, who are never re-created just in time.

use super::acs::SamlIdentity;
use super::connection::SamlConnection;
use crate::clock::Clock;
use crate::error::Result;
use crate::login::federated::{create_just_in_time, status_word, Profile};
use crate::store::Store;
use crate::tenant::Tenant;
use crate::user::repo as users;
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

#[derive(Debug)]
pub enum Outcome {
    SignedIn { user: User, created: bool },
    Refused(Refusal),
}

/// What a sign-in would do, decided without writing anything (the console's test sign-in
/// shows this; [`resolve`] carries it out).
#[derive(Debug)]
pub enum Decision {
    /// A person found by email, with the checks every found person passes applied.
    Found(Outcome),
    /// Unknown person, and the tenant creates people just in time.
    Create {
        email: String,
        domain: String,
        profile: Profile,
    },
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
        return Ok(Decision::Found(admit(user, &tenant.id, email, domain)));
    }
    if !connection.jit_provisioning {
        return Ok(Decision::Refused(Refusal::UnknownUser { email }));
    }
    let profile = Profile {
        given_name: identity.first_name.clone(),
        family_name: identity.last_name.clone(),
        groups: identity.groups.clone(),
    };
    Ok(Decision::Create {
        email,
        domain,
        profile,
    })
}

pub async fn resolve(
    store: &dyn Store,
    clock: &dyn Clock,
    tenant: &Tenant,
    connection: &SamlConnection,
    identity: &SamlIdentity,
) -> Result<Outcome> {
    let (email, domain, profile) = match decide(store, tenant, connection, identity).await? {
        Decision::Found(outcome) => return Ok(outcome),
        Decision::Refused(why) => return Ok(Outcome::Refused(why)),
        Decision::Create {
            email,
            domain,
            profile,
        } => (email, domain, profile),
    };
    match create_just_in_time(store, clock, tenant, &email, &profile).await? {
        Some((user, created)) => match admit(user, &tenant.id, email, domain) {
            Outcome::SignedIn { user, .. } => Ok(Outcome::SignedIn { user, created }),
            refused => Ok(refused),
        },
        None => Ok(Outcome::Refused(Refusal::UnknownUser { email })),
    }
}

/// The checks every found person passes: same tenant, switched on.
fn admit(user: User, tenant_id: &str, email: String, domain: String) -> Outcome {
    if user.tenant_id != tenant_id {
        return Outcome::Refused(Refusal::ForeignDomain { domain });
    }
    if !user.is_active() {
        let status = status_word(&user);
        return Outcome::Refused(Refusal::Inactive { email, status });
    }
    Outcome::SignedIn {
        user,
        created: false,
    }
}
