//! From a verified ID token to a person.
//!
//! Policy (SECURITY-CHECKLIST T33/T34):
//! - an account is the provider's stable subject — `iss`+`sub`, for Microsoft `tid`+`oid` —
//!   stored as a link to a user id; once linked, the link alone decides who signs in;
//! - an unlinked subject may link to an existing person by email only when the email is
//!   verified, well formed (one `@`, no confusable Unicode) and the person has no link yet
//!   in this provider scope. A person already linked to another subject is refused: same
//!   email, different account (the "nOAuth" takeover);
//! - who may link by email: a tenant's own connection, for the tenant's own domains (that
//!   IdP is the tenant's authority for them). Google: only Workspace accounts whose `hd` is
//!   the email's domain (Google vouches that the domain manages the account; a consumer
//!   account may carry any verified address). Microsoft: only directories the operator
//!   allowlisted (`allowed_tenant_ids`), since any Entra directory can put any address in
//!   `email`. Global providers never create people; tenants' connections do when their
//!   just-in-time switch is on;
//! - SSO-only tenants refuse global providers for their people (they get their SSO offered);
//!   deactivated and deprovisioned people are refused everywhere.

use serde_json::Value;
use sha2::{Digest, Sha256};

use super::connection::{OidcConnection, Preset};
use super::verify::Verified;
use crate::clock::Clock;
use crate::error::Result;
use crate::login::federated::{clean_groups, create_just_in_time, status_word, Profile};
use crate::store::{keys, Store};
use crate::tenant::{repo as tenants, Tenant};
use crate::user::repo::{self as users, UserUpdate};
use crate::user::{normalize_email, User};

/// Who vouches for the identity.
pub enum Authority<'a> {
    Tenant {
        tenant: &'a Tenant,
        connection: &'a OidcConnection,
    },
    Google,
    Microsoft {
        /// The operator allowlisted the directories, so their emails may link.
        allowlisted: bool,
    },
}

/// What the token says about the person, mapped through the connection's claim names.
#[derive(Debug, Clone)]
pub struct Identity {
    /// The link scope: `google`, `microsoft`, or `issuer:<hash>` for a tenant connection.
    pub scope: String,
    /// Hash of the stable subject (the link key).
    pub subject_hash: String,
    /// The subject in words, for logs.
    pub subject: String,
    pub email: Option<String>,
    pub email_verified: bool,
    pub given_name: Option<String>,
    pub family_name: Option<String>,
    /// `None` when groups are not mapped or the claim is absent (then groups are left alone).
    pub groups: Option<Vec<String>>,
    pub hd: Option<String>,
}

#[derive(Debug)]
pub enum Outcome {
    SignedIn {
        user: User,
        created: bool,
    },
    /// The email's tenant allows only its own SSO.
    SsoOnly(Tenant),
    /// Refused, with the precise cause.
    Refused(String),
}

fn hash_hex(parts: &[&str]) -> String {
    let mut h = Sha256::new();
    for p in parts {
        h.update(p.as_bytes());
        h.update([0u8]);
    }
    h.finalize().iter().map(|b| format!("{b:02x}")).collect()
}

fn truthy(v: Option<&Value>) -> bool {
    match v {
        Some(Value::Bool(b)) => *b,
        // Some providers (older Cognito, some Entra optional claims) send "true".
        Some(Value::String(s)) => s.eq_ignore_ascii_case("true"),
        _ => false,
    }
}

fn string_list(v: Option<&Value>) -> Option<Vec<String>> {
    match v? {
        Value::Array(items) => Some(
            items
                .iter()
                .filter_map(|i| i.as_str().map(str::to_owned))
                .collect(),
        ),
        Value::String(s) => Some(vec![s.clone()]),
        _ => None,
    }
}

fn short(s: &str) -> String {
    s.chars().take(200).collect()
}

/// Reads the identity out of verified claims.
pub fn identity(
    verified: &Verified,
    authority: &Authority<'_>,
) -> std::result::Result<Identity, String> {
    let c = &verified.claims;
    let s = |name: &str| c.get(name).and_then(Value::as_str).map(str::to_owned);
    match authority {
        Authority::Tenant { connection, .. } => {
            let map = &connection.claims;
            Ok(Identity {
                scope: format!("issuer:{}", &hash_hex(&[&verified.issuer])[..32]),
                subject_hash: hash_hex(&["iss", &verified.issuer, &verified.subject]),
                subject: format!("{} {}", verified.issuer, verified.subject),
                email: s(&map.email),
                email_verified: match &map.email_verified {
                    Some(name) => truthy(c.get(name)),
                    // The admin decided this IdP only issues addresses it controls.
                    None => true,
                },
                given_name: map.given_name.as_deref().and_then(s),
                family_name: map.family_name.as_deref().and_then(s),
                groups: map.groups.as_deref().and_then(|g| string_list(c.get(g))),
                hd: s("hd"),
            })
        }
        Authority::Google => Ok(Identity {
            scope: "google".into(),
            subject_hash: hash_hex(&["iss", &verified.issuer, &verified.subject]),
            subject: format!("{} {}", verified.issuer, verified.subject),
            email: s("email"),
            email_verified: truthy(c.get("email_verified")),
            given_name: s("given_name"),
            family_name: s("family_name"),
            groups: None,
            hd: s("hd"),
        }),
        Authority::Microsoft { .. } => {
            // `sub` is pairwise per application; `oid` is the person in their directory.
            let tid = s("tid").ok_or("Microsoft token without tid")?;
            let oid = s("oid").ok_or("Microsoft token without oid (object id) claim")?;
            Ok(Identity {
                scope: "microsoft".into(),
                subject_hash: hash_hex(&[
                    "ms",
                    &tid.to_ascii_lowercase(),
                    &oid.to_ascii_lowercase(),
                ]),
                subject: format!("tid {tid} oid {oid}"),
                email: s("email"),
                // Entra sends no email_verified unless configured; `xms_edov` says the
                // email's domain is verified by the directory's owner.
                email_verified: truthy(c.get("email_verified")) || truthy(c.get("xms_edov")),
                given_name: s("given_name"),
                family_name: s("family_name"),
                groups: None,
                hd: None,
            })
        }
    }
}

/// What a sign-in with this identity would do, decided without writing anything: the test
/// sign-in shows it, and [`apply`] carries it out (so both run the same rules).
#[derive(Debug)]
pub enum Decision {
    /// A person who may sign in; `link` when their first sign-in with this provider account
    /// links it to them.
    Admit { user: User, link: bool },
    /// Nobody with that email, and the tenant's connection creates people just in time.
    Create {
        tenant: Tenant,
        email: String,
        profile: Profile,
    },
    /// The email's tenant allows only its own SSO.
    SsoOnly(Tenant),
    /// Refused, with the precise cause.
    Refused(String),
}

/// The checks every found person passes (read-only): their tenant still exists, is the
/// connection's own (tenant connections) or allows global providers, and they are active.
async fn admission(
    store: &dyn Store,
    authority: &Authority<'_>,
    user: User,
    link: bool,
) -> Result<Decision> {
    let tenant = match tenants::get(store, &user.tenant_id).await? {
        Some(t) => t,
        None => {
            return Ok(Decision::Refused(format!(
                "{}'s tenant no longer exists",
                user.email
            )))
        }
    };
    if let Authority::Tenant { tenant: own, .. } = authority {
        if own.id != tenant.id {
            return Ok(Decision::Refused(format!(
                "the linked person {} belongs to tenant {}, not {}",
                user.email, tenant.id, own.id
            )));
        }
    } else if tenant.sso_only {
        return Ok(Decision::SsoOnly(tenant));
    }
    if !user.is_active() {
        return Ok(Decision::Refused(format!(
            "{}'s account is {}",
            user.email,
            status_word(&user)
        )));
    }
    Ok(Decision::Admit { user, link })
}

/// Syncs groups from a tenant's own IdP onto an admitted person.
async fn sync_groups(
    store: &dyn Store,
    clock: &dyn Clock,
    authority: &Authority<'_>,
    identity: &Identity,
    user: User,
) -> Result<User> {
    if let (Authority::Tenant { .. }, Some(groups)) = (authority, &identity.groups) {
        let groups = clean_groups(groups);
        if groups != user.groups {
            return users::update(
                store,
                clock,
                &user.tenant_id,
                &user.id,
                UserUpdate {
                    groups: Some(groups),
                    ..Default::default()
                },
            )
            .await;
        }
    }
    Ok(user)
}

fn nooauth_refusal(identity: &Identity, user: &User) -> String {
    format!(
        "{} is already linked to another {} account; this token's subject ({}) differs, so the matching email does not sign in as them (nOAuth)",
        user.email,
        identity.scope.split(':').next().unwrap_or("provider"),
        identity.subject
    )
}

/// Whether `user` is linked to another subject in this scope (read-only; [`link`] decides
/// atomically when it writes).
async fn linked_elsewhere(
    store: &dyn Store,
    identity: &Identity,
    user: &User,
) -> Result<Option<String>> {
    let current = store
        .get(&keys::oidc_user_link(&user.id, &identity.scope))
        .await?;
    Ok(current
        .filter(|c| c != identity.subject_hash.as_bytes())
        .map(|_| nooauth_refusal(identity, user)))
}

/// Links the subject to `user` unless the user is already linked to another subject in this
/// scope. Returns the refusal cause when it is.
async fn link(store: &dyn Store, identity: &Identity, user: &User) -> Result<Option<String>> {
    let user_key = keys::oidc_user_link(&user.id, &identity.scope);
    if !store
        .put_if_absent(&user_key, identity.subject_hash.as_bytes(), None)
        .await?
    {
        let current = store.get(&user_key).await?.unwrap_or_default();
        if current != identity.subject_hash.as_bytes() {
            return Ok(Some(nooauth_refusal(identity, user)));
        }
    }
    store
        .put(
            &keys::oidc_link(&identity.subject_hash),
            user.id.as_bytes(),
            None,
        )
        .await?;
    Ok(None)
}

pub async fn decide(
    store: &dyn Store,
    authority: &Authority<'_>,
    identity: &Identity,
) -> Result<Decision> {
    // 1. A linked subject: the link decides, whatever the email claim says now.
    if let Some(user_id) = store.get(&keys::oidc_link(&identity.subject_hash)).await? {
        if let Some(user) = users::get(store, &String::from_utf8_lossy(&user_id)).await? {
            return admission(store, authority, user, false).await;
        }
        // The person was deleted: treat the subject as new.
    }

    // 2. A new subject: only a verified, well-formed email of a known tenant may go further.
    let Some(raw_email) = identity.email.as_deref() else {
        return Ok(Decision::Refused(
            "the ID token has no email claim (check the claim mapping and the `email` scope)"
                .into(),
        ));
    };
    let (email, domain) = match normalize_email(raw_email) {
        Ok(v) => v,
        Err(why) => {
            return Ok(Decision::Refused(format!(
                "email {:?} refused: {why}",
                short(raw_email)
            )))
        }
    };
    if !identity.email_verified {
        return Ok(Decision::Refused(format!(
            "email {email} is not verified by the provider (email_verified missing or false)"
        )));
    }
    let Some(tenant) = tenants::by_domain(store, &domain).await? else {
        return Ok(Decision::Refused(format!(
            "no tenant owns the domain {domain}"
        )));
    };
    let may_link = match authority {
        Authority::Tenant {
            tenant: own,
            connection,
        } => {
            if own.id != tenant.id {
                return Ok(Decision::Refused(format!(
                    "email domain {domain} is not one of tenant {}'s domains",
                    own.id
                )));
            }
            if connection.provider == Preset::GoogleWorkspace
                && !identity.hd.as_deref().is_some_and(|hd| own.owns_domain(hd))
            {
                return Ok(Decision::Refused(format!(
                    "Google account is not managed by one of the tenant's domains (hd {:?})",
                    identity.hd.as_deref().unwrap_or("absent")
                )));
            }
            true
        }
        Authority::Google => identity.hd.as_deref() == Some(domain.as_str()),
        Authority::Microsoft { allowlisted } => *allowlisted,
    };
    if !matches!(authority, Authority::Tenant { .. }) && tenant.sso_only {
        return Ok(Decision::SsoOnly(tenant));
    }

    // 3. An existing person: link (once) and admit.
    if let Some(user) = users::by_email(store, &email).await? {
        if user.tenant_id != tenant.id {
            return Ok(Decision::Refused(format!(
                "{email} belongs to another tenant than its domain's"
            )));
        }
        if !may_link {
            let why = match authority {
                Authority::Google => "Google links a first sign-in to an existing person only for Workspace accounts whose hd is the email's domain",
                _ => "Microsoft links a first sign-in to an existing person only for allowlisted directories (microsoft.allowed_tenant_ids)",
            };
            return Ok(Decision::Refused(format!(
                "{email} has no linked account for this provider; {why}"
            )));
        }
        if !user.is_active() {
            return Ok(Decision::Refused(format!(
                "{email}'s account is {}",
                status_word(&user)
            )));
        }
        if let Some(cause) = linked_elsewhere(store, identity, &user).await? {
            return Ok(Decision::Refused(cause));
        }
        return admission(store, authority, user, true).await;
    }

    // 4. Nobody with that email: just-in-time creation, tenants' own connections only.
    let Authority::Tenant { connection, .. } = authority else {
        return Ok(Decision::Refused(format!(
            "{email} has no account; global providers never create accounts"
        )));
    };
    if !connection.jit_provisioning {
        return Ok(Decision::Refused(format!(
            "{email} has no account and just-in-time creation is off"
        )));
    }
    Ok(Decision::Create {
        tenant,
        email,
        profile: Profile {
            given_name: identity.given_name.clone(),
            family_name: identity.family_name.clone(),
            groups: identity.groups.clone().unwrap_or_default(),
        },
    })
}

/// Carries out a [`Decision`]: links, creates and syncs groups. The writes that can race
/// (the link claim, the creation) decide again atomically.
pub async fn apply(
    store: &dyn Store,
    clock: &dyn Clock,
    authority: &Authority<'_>,
    identity: &Identity,
    decision: Decision,
) -> Result<Outcome> {
    match decision {
        Decision::Refused(cause) => Ok(Outcome::Refused(cause)),
        Decision::SsoOnly(tenant) => Ok(Outcome::SsoOnly(tenant)),
        Decision::Admit { user, link: first } => {
            if first {
                if let Some(cause) = link(store, identity, &user).await? {
                    return Ok(Outcome::Refused(cause));
                }
            }
            let user = sync_groups(store, clock, authority, identity, user).await?;
            Ok(Outcome::SignedIn {
                user,
                created: false,
            })
        }
        Decision::Create {
            tenant,
            email,
            profile,
        } => {
            // A person created by a concurrent login goes through the link rules like anyone else.
            let Some((user, created)) =
                create_just_in_time(store, clock, &tenant, &email, &profile).await?
            else {
                return Ok(Outcome::Refused(format!("{email} could not be created")));
            };
            if let Some(cause) = link(store, identity, &user).await? {
                return Ok(Outcome::Refused(cause));
            }
            match admission(store, authority, user, false).await? {
                Decision::Admit { user, .. } => {
                    let user = sync_groups(store, clock, authority, identity, user).await?;
                    Ok(Outcome::SignedIn { user, created })
                }
                Decision::SsoOnly(t) => Ok(Outcome::SsoOnly(t)),
                Decision::Refused(cause) => Ok(Outcome::Refused(cause)),
                Decision::Create { .. } => {
                    Ok(Outcome::Refused(format!("{email} could not be admitted")))
                }
            }
        }
    }
}

pub async fn resolve(
    store: &dyn Store,
    clock: &dyn Clock,
    authority: &Authority<'_>,
    identity: &Identity,
) -> Result<Outcome> {
    let decision = decide(store, authority, identity).await?;
    apply(store, clock, authority, identity, decision).await
}
