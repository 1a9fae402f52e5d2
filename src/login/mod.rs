//! Password sign-in as a plain function: rate limits, SSO-only policy, constant-effort
//! verification. Every refusal a person sees is the same generic message, whether the
//! email is unknown, the password wrong or the account switched off.

pub mod csrf;
pub mod federated;
pub mod routes;

use std::time::Duration;

use crate::config::Config;
use crate::error::{Error, Result};
use crate::store::{keys, Store};
use crate::tenant::{repo as tenants, Tenant};
use crate::user::{normalize_email, password, repo as users, User};

pub const CLIENT_WINDOW: Duration = Duration::from_secs(5 * 60);
pub const ACCOUNT_WINDOW: Duration = Duration::from_secs(15 * 60);

#[derive(Debug)]
pub enum PasswordOutcome {
    SignedIn(User),
    /// The email's tenant allows only its own SSO.
    SsoRequired(Tenant),
    /// Unknown email, wrong password, no password set, or inactive account. The person
    /// sees one generic message; `cause` is for the admin's login events only.
    Rejected {
        tenant_id: Option<String>,
        cause: &'static str,
    },
}

async fn verify_off_thread(hash: Option<String>, pw: String) -> Result<bool> {
    tokio::task::spawn_blocking(move || password::verify(hash.as_deref(), &pw))
        .await
        .map_err(|e| Error::Internal(format!("verify task: {e}")))
}

pub async fn password_login(
    store: &dyn Store,
    config: &Config,
    client: &str,
    email_input: &str,
    pw: &str,
) -> Result<PasswordOutcome> {
    let attempts = store
        .incr(&keys::rate("login_client", client), CLIENT_WINDOW)
        .await?;
    if attempts > u64::from(config.login_attempts_per_client) {
        return Err(Error::RateLimited {
            retry_after: CLIENT_WINDOW,
        });
    }
    let Ok((email, domain)) = normalize_email(email_input) else {
        verify_off_thread(None, pw.to_owned()).await?;
        return Ok(PasswordOutcome::Rejected {
            tenant_id: None,
            cause: "not a valid email address",
        });
    };
    let tenant = tenants::by_domain(store, &domain).await?;
    if let Some(t) = tenant.as_ref().filter(|t| t.sso_only) {
        return Ok(PasswordOutcome::SsoRequired(t.clone()));
    }
    let account_key = keys::rate("login_account", &email);
    let failures = store.incr(&account_key, ACCOUNT_WINDOW).await?;
    if failures > u64::from(config.login_failures_per_account) {
        return Err(Error::RateLimited {
            retry_after: ACCOUNT_WINDOW,
        });
    }
    let user = match &tenant {
        Some(_) => users::by_email(store, &email).await?,
        None => None,
    };
    let hash = user.as_ref().and_then(|u| u.password_hash.clone());
    let password_ok = verify_off_thread(hash, pw.to_owned()).await?;
    let cause = match &user {
        Some(u) if password_ok && u.is_active() => {
            store.delete(&account_key).await?;
            return Ok(PasswordOutcome::SignedIn(u.clone()));
        }
        None if tenant.is_none() => "no tenant owns the email's domain",
        None => "no account with this email",
        Some(u) if u.password_hash.is_none() => "the account has no password (SSO only)",
        Some(_) if !password_ok => "wrong password",
        Some(_) => "the account is deactivated or deprovisioned",
    };
    Ok(PasswordOutcome::Rejected {
        tenant_id: tenant.map(|t| t.id),
        cause,
    })
}
