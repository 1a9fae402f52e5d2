//! `gatehouse demo`: try the product in one command. A gateway on loopback with a demo
//! organisation (`demo.test`) connected to a built-in SAML IdP, just-in-time creation on,
//! and an operator account for the console. Never part of `serve`; refuses any address a
//! neighbour could reach, since the built-in IdP signs in whoever asks.

pub mod idp;
pub mod routes;

use crate::audit::changes::ChangedBy;
use std::net::SocketAddr;

use crate::error::{Error, Result};
use crate::random;
use crate::saml::connection::{self, Provider, SamlConnectionInput};
use crate::state::AppState;
use crate::tenant::repo::{self as tenants, NewTenant};
use crate::user::repo::{self as users, NewUser, UserUpdate};
use crate::user::Role;
use idp::DemoIdp;

pub const DOMAIN: &str = "demo.test";

/// The demo only listens where nobody else can connect.
pub fn check_loopback(listen: SocketAddr) -> std::result::Result<(), String> {
    if listen.ip().is_loopback() {
        Ok(())
    } else {
        Err(format!(
            "the demo signs in anyone through its built-in IdP, so it only listens on loopback (127.0.0.1 or ::1), not {}",
            listen.ip()
        ))
    }
}

/// What the person trying the demo needs to know.
pub struct DemoAccounts {
    pub admin_email: String,
    pub admin_password: String,
}

/// Creates (or refreshes) the demo organisation, its SAML connection to `idp`, and the
/// console operator with a new password.
pub async fn provision(state: &AppState, idp: &DemoIdp) -> Result<DemoAccounts> {
    let store = &*state.store;
    let clock = &*state.clock;
    let tenant = match tenants::by_domain(store, DOMAIN).await? {
        Some(t) => t,
        None => {
            tenants::create(
                store,
                clock,
                NewTenant {
                    name: "Demo Co".into(),
                    primary_domain: DOMAIN.into(),
                    secondary_domains: Vec::new(),
                    sso_only: false,
                },
            )
            .await?
        }
    };
    connection::save(
        store,
        clock,
        state.config.outbound,
        &tenant.id,
        SamlConnectionInput {
            provider: Some(Provider::Custom),
            idp_entity_id: Some(idp.entity_id.clone()),
            idp_sso_url: Some(idp.sso_url.clone()),
            certificate: Some(idp.cert_pem.clone()),
            jit_provisioning: true,
            ..SamlConnectionInput::default()
        },
        &ChangedBy::Gateway {
            task: "demo setup".into(),
        },
    )
    .await?;
    let admin_email = format!("admin@{DOMAIN}");
    let admin_password = random::token(12);
    match users::by_email(store, &admin_email).await? {
        Some(existing) => {
            users::update(
                store,
                clock,
                &tenant.id,
                &existing.id,
                UserUpdate {
                    password: Some(admin_password.clone()),
                    role: Some(Role::Operator),
                    ..UserUpdate::default()
                },
            )
            .await?;
        }
        None => {
            users::create(
                store,
                clock,
                &tenant,
                NewUser {
                    email: admin_email.clone(),
                    password: Some(admin_password.clone()),
                    display_name: Some("Demo Admin".into()),
                    groups: Vec::new(),
                    role: Role::Operator,
                },
            )
            .await
            .map_err(|e| Error::Internal(format!("demo admin: {e}")))?;
        }
    }
    Ok(DemoAccounts {
        admin_email,
        admin_password,
    })
}

#[cfg(test)]
mod tests {
    use super::check_loopback;

    #[test]
    fn the_demo_listens_on_loopback_only() {
        assert!(check_loopback("127.0.0.1:8080".parse().unwrap()).is_ok());
        assert!(check_loopback("[::1]:8080".parse().unwrap()).is_ok());
        assert!(check_loopback("0.0.0.0:8080".parse().unwrap()).is_err());
        assert!(check_loopback("192.168.1.5:8080".parse().unwrap()).is_err());
    }
}
