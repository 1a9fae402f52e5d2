//! The first operator account. On a deployment where nobody has set one up, every start
//! prints a one-time link (valid for a day, replaced at each start); opening it lets the
//! person at the terminal create the operator account, after which no link is printed again.

use std::time::Duration;

use subtle::ConstantTimeEq;

use crate::clock::Clock;
use crate::error::{Error, Result};
use crate::random;
use crate::store::{keys, Store};
use crate::tenant::repo::{self as tenants, NewTenant};
use crate::user::repo::{self as users, NewUser, UserUpdate};
use crate::user::{Role, User};

pub const LINK_TTL: Duration = Duration::from_secs(24 * 3600);

/// A fresh setup link, unless the first operator exists already.
pub async fn ensure_link(store: &dyn Store, base_url: &url::Url) -> Result<Option<String>> {
    if store.get(keys::setup_done()).await?.is_some() {
        return Ok(None);
    }
    let token = random::token(24);
    store
        .put(keys::setup_token(), token.as_bytes(), Some(LINK_TTL))
        .await?;
    Ok(Some(format!(
        "{}/setup/{token}",
        base_url.as_str().trim_end_matches('/')
    )))
}

/// Whether `presented` is the live setup token.
pub async fn is_valid(store: &dyn Store, presented: &str) -> Result<bool> {
    let Some(expected) = store.get(keys::setup_token()).await? else {
        return Ok(false);
    };
    Ok(!presented.is_empty() && bool::from(expected.ct_eq(presented.as_bytes())))
}

#[derive(Debug, Clone, serde::Deserialize)]
pub struct FirstOperator {
    pub organization: String,
    pub email: String,
    pub password: String,
}

/// Creates the operator (and their organisation's tenant, named after the email's domain,
/// unless a tenant owns that domain already). The token is taken first, so two racing
/// submissions cannot both succeed; it is put back if creation fails on bad input.
pub async fn complete(
    store: &dyn Store,
    clock: &dyn Clock,
    presented: &str,
    input: FirstOperator,
) -> Result<User> {
    if !is_valid(store, presented).await? || store.take(keys::setup_token()).await?.is_none() {
        return Err(Error::Unauthorized);
    }
    match create(store, clock, input).await {
        Ok(user) => {
            store.put(keys::setup_done(), b"1", None).await?;
            Ok(user)
        }
        Err(e) => {
            store
                .put_if_absent(keys::setup_token(), presented.as_bytes(), Some(LINK_TTL))
                .await?;
            Err(e)
        }
    }
}

async fn create(store: &dyn Store, clock: &dyn Clock, input: FirstOperator) -> Result<User> {
    let (email, domain) =
        crate::user::normalize_email(&input.email).map_err(|m| Error::invalid("email", m))?;
    let name = input.organization.trim();
    if name.is_empty() {
        return Err(Error::invalid("organization", "is required"));
    }
    crate::user::password::validate_new(&input.password)?;
    let tenant = match tenants::by_domain(store, &domain).await? {
        Some(t) => t,
        None => {
            tenants::create(
                store,
                clock,
                NewTenant {
                    name: name.to_owned(),
                    primary_domain: domain,
                    secondary_domains: Vec::new(),
                    sso_only: false,
                },
            )
            .await?
        }
    };
    match users::by_email(store, &email).await? {
        Some(existing) => {
            users::update(
                store,
                clock,
                &tenant.id,
                &existing.id,
                UserUpdate {
                    password: Some(input.password),
                    role: Some(Role::Operator),
                    ..UserUpdate::default()
                },
            )
            .await
        }
        None => {
            users::create(
                store,
                clock,
                &tenant,
                NewUser {
                    email,
                    password: Some(input.password),
                    display_name: None,
                    groups: Vec::new(),
                    role: Role::Operator,
                },
            )
            .await
        }
    }
}
