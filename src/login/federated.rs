//! What SAML and OpenID Connect sign-in share once an identity provider has vouched for a
//! person: how a provider's profile becomes a new person (just-in-time creation, racing
//! logins included) and how refusals name an account's state. The rules about *which*
//! person an identity is stay with each protocol (SAML by asserted email, OIDC by linked
//! subject), since they trust different things.

use crate::clock::Clock;
use crate::error::{Error, Result};
use crate::store::Store;
use crate::tenant::Tenant;
use crate::user::repo::{self as users, NewUser};
use crate::user::User;

/// Names and groups as an identity provider sent them.
#[derive(Debug, Clone, Default)]
pub struct Profile {
    pub given_name: Option<String>,
    pub family_name: Option<String>,
    pub groups: Vec<String>,
}

impl Profile {
    /// "Given Family", or whichever is present; at most 200 characters, no control characters.
    pub fn display_name(&self) -> Option<String> {
        let name = match (&self.given_name, &self.family_name) {
            (Some(f), Some(l)) => format!("{f} {l}"),
            (Some(n), None) | (None, Some(n)) => n.clone(),
            (None, None) => return None,
        };
        Some(name.chars().filter(|c| !c.is_control()).take(200).collect())
    }
}

/// Group names usable in the comma-separated forward-auth header: others are dropped (a
/// provider's odd group must not stop a login), duplicates once.
pub fn clean_groups(groups: &[String]) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for g in groups.iter().map(|g| g.trim()) {
        if !g.is_empty()
            && g.len() <= 256
            && !g.contains(',')
            && !g.chars().any(char::is_control)
            && !out.iter().any(|x| x == g)
        {
            out.push(g.to_owned());
        }
    }
    out
}

/// `active`, `deactivated` or `deprovisioned`, for refusal causes.
pub fn status_word(user: &User) -> String {
    serde_json::to_value(user.status)
        .ok()
        .and_then(|v| v.as_str().map(str::to_owned))
        .unwrap_or_default()
}

/// Creates `email` (already normalized, inside the tenant's domains) just in time; the
/// flag says it was created by this call. When a concurrent login created it a moment ago,
/// that person is returned (flag false) and the caller applies its checks to them as to
/// anyone found; `None` if it vanished again in between.
pub async fn create_just_in_time(
    store: &dyn Store,
    clock: &dyn Clock,
    tenant: &Tenant,
    email: &str,
    profile: &Profile,
) -> Result<Option<(User, bool)>> {
    let created = users::create(
        store,
        clock,
        tenant,
        NewUser {
            email: email.to_owned(),
            password: None,
            display_name: profile.display_name(),
            groups: clean_groups(&profile.groups),
            role: Default::default(),
        },
    )
    .await;
    match created {
        Ok(user) => Ok(Some((user, true))),
        Err(Error::Conflict(_)) => Ok(users::by_email(store, email).await?.map(|u| (u, false))),
        Err(e) => Err(e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn display_names_and_groups_are_made_safe() {
        let p = Profile {
            given_name: Some("Ada\u{7}".into()),
            family_name: Some("Lovelace".into()),
            groups: vec!["eng".into(), "a,b".into(), " eng ".into(), String::new()],
        };
        assert_eq!(p.display_name().as_deref(), Some("Ada Lovelace"));
        assert_eq!(clean_groups(&p.groups), ["eng"]);
        assert_eq!(Profile::default().display_name(), None);
    }
}
