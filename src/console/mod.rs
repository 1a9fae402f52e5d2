//! The admin console: server-rendered pages where tenant admins configure SSO and policy
//! and test their IdP connection, and operators manage every tenant.
//!
//! Who may do what is decided here, in plain functions, so the rules can be tested
//! without HTTP: tenant admins reach their own tenant only; operators reach all; sensitive
//! changes (certificates, SSO-only, API keys) need a sign-in from the last few minutes.

pub mod auth;
pub mod routes;
pub mod setup;

use time::{Duration, OffsetDateTime};

use crate::audit::changes::ChangedBy;
use crate::it_setup::ItSetupLink;
use crate::session::Session;
use crate::user::{Role, User};

/// How recent a sign-in must be for a sensitive change.
pub const RECENT_SIGN_IN: Duration = Duration::minutes(10);

/// A signed-in person with console access.
#[derive(Debug, Clone)]
pub struct Admin {
    pub user: User,
    pub session: Session,
}

impl Admin {
    /// Only active people with an admin role get a console at all.
    pub fn from_parts(user: User, session: Session) -> Option<Self> {
        (user.is_active() && user.role != Role::Member).then_some(Self { user, session })
    }

    pub fn is_operator(&self) -> bool {
        self.user.role == Role::Operator
    }

    pub fn may_manage(&self, tenant_id: &str) -> bool {
        self.is_operator() || self.user.tenant_id == tenant_id
    }

    pub fn signed_in_recently(&self, now: OffsetDateTime) -> bool {
        now - self.session.created_at <= RECENT_SIGN_IN
    }

    /// Whether this admin may change `person`'s role or status or end their sessions.
    /// Tenant admins manage their own tenant's people except operators (an operator's
    /// account lives in some tenant, but a tenant admin must not be able to lock the
    /// deployment's operator out) and except themselves (no self-lockout by accident).
    pub fn may_administer(&self, person: &User) -> bool {
        if person.id == self.user.id {
            return false;
        }
        if self.is_operator() {
            return true;
        }
        person.tenant_id == self.user.tenant_id && person.role != Role::Operator
    }

    /// Only operators make operators: a tenant admin cannot raise anyone above themselves.
    pub fn may_grant(&self, role: Role) -> bool {
        role != Role::Operator || self.is_operator()
    }
}

/// What the console layout asks of every page: whether the viewer holds a setup link, in
/// which case the navigation offers only the pages the link opens.
pub trait Nav {
    fn guest(&self) -> bool {
        false
    }
}

/// What every console handler needs to know about whoever is on the page.
pub trait ConsoleUser {
    fn may_manage(&self, tenant_id: &str) -> bool;
    fn signed_in_recently(&self, now: OffsetDateTime) -> bool;
    fn is_operator(&self) -> bool;
    fn display_name(&self) -> String;
    /// How the configuration log names this person.
    fn changed_by(&self) -> ChangedBy;
}

impl ConsoleUser for Admin {
    fn may_manage(&self, tenant_id: &str) -> bool {
        Admin::may_manage(self, tenant_id)
    }
    fn signed_in_recently(&self, now: OffsetDateTime) -> bool {
        Admin::signed_in_recently(self, now)
    }
    fn is_operator(&self) -> bool {
        Admin::is_operator(self)
    }
    fn display_name(&self) -> String {
        self.user.email.clone()
    }
    fn changed_by(&self) -> ChangedBy {
        ChangedBy::Person {
            user_id: self.user.id.clone(),
            email: self.user.email.clone(),
        }
    }
}

impl ConsoleUser for Actor {
    fn may_manage(&self, tenant_id: &str) -> bool {
        Actor::may_manage(self, tenant_id)
    }
    fn signed_in_recently(&self, now: OffsetDateTime) -> bool {
        Actor::signed_in_recently(self, now)
    }
    fn is_operator(&self) -> bool {
        Actor::is_operator(self)
    }
    fn display_name(&self) -> String {
        Actor::display_name(self)
    }
    fn changed_by(&self) -> ChangedBy {
        match self {
            Self::Admin(a) => a.changed_by(),
            Self::ItSetup(link) => ChangedBy::SetupLink {
                link_id: link.id.clone(),
                label: link.label.clone(),
            },
        }
    }
}

/// Whoever is using a console page that a customer's IT admin may also open with a setup
/// link (the SSO and provisioning pages). Every other page takes an [`Admin`].
#[derive(Debug, Clone)]
pub enum Actor {
    Admin(Box<Admin>),
    /// Holder of a live IT-admin setup link: one tenant's SSO and provisioning setup only.
    ItSetup(ItSetupLink),
}

impl Actor {
    pub fn may_manage(&self, tenant_id: &str) -> bool {
        match self {
            Self::Admin(a) => a.may_manage(tenant_id),
            Self::ItSetup(link) => link.tenant_id == tenant_id,
        }
    }

    /// A setup link counts as a fresh sign-in: it is short-lived, made by an admin for
    /// exactly this setup, and checked again on every request.
    pub fn signed_in_recently(&self, now: OffsetDateTime) -> bool {
        match self {
            Self::Admin(a) => a.signed_in_recently(now),
            Self::ItSetup(link) => now < link.expires_at,
        }
    }

    pub fn is_operator(&self) -> bool {
        matches!(self, Self::Admin(a) if a.is_operator())
    }

    /// Policy switches (SSO-only) stay with the tenant's own admins.
    pub fn may_set_policy(&self) -> bool {
        matches!(self, Self::Admin(_))
    }

    /// How the person is named on pages and in logs.
    pub fn display_name(&self) -> String {
        match self {
            Self::Admin(a) => a.user.email.clone(),
            Self::ItSetup(link) => format!("{} (setup link)", link.label),
        }
    }

    /// Who ran a test sign-in, as recorded with its report.
    pub fn test_runner(&self) -> String {
        match self {
            Self::Admin(a) => a.user.id.clone(),
            Self::ItSetup(link) => link.id.clone(),
        }
    }

    pub fn is_guest(&self) -> bool {
        matches!(self, Self::ItSetup(_))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::session::{ClientInfo, LoginMethod};
    use crate::user::UserStatus;

    fn admin(role: Role, status: UserStatus, signed_in_minutes_ago: i64) -> Option<Admin> {
        let now = OffsetDateTime::now_utc();
        let user = User {
            id: "us_1".into(),
            tenant_id: "tn_a".into(),
            email: "it@a.test".into(),
            display_name: None,
            groups: vec![],
            status,
            password_hash: None,
            created_at: now,
            updated_at: now,
            role,
        };
        let session = Session {
            id: "s".into(),
            tenant_id: "tn_a".into(),
            user_id: "us_1".into(),
            email: "it@a.test".into(),
            groups: vec![],
            method: LoginMethod::Password,
            created_at: now - Duration::minutes(signed_in_minutes_ago),
            expires_at: now + Duration::hours(1),
            last_seen_at: now,
            client: ClientInfo::default(),
        };
        Admin::from_parts(user, session)
    }

    #[test]
    fn tenant_admins_reach_their_own_tenant_only() {
        let a = admin(Role::TenantAdmin, UserStatus::Active, 1).unwrap();
        assert!(a.may_manage("tn_a"));
        assert!(!a.may_manage("tn_b"));
        let op = admin(Role::Operator, UserStatus::Active, 1).unwrap();
        assert!(op.may_manage("tn_b"));
    }

    #[test]
    fn members_and_inactive_people_have_no_console() {
        assert!(admin(Role::Member, UserStatus::Active, 1).is_none());
        assert!(admin(Role::TenantAdmin, UserStatus::Deactivated, 1).is_none());
        assert!(admin(Role::Operator, UserStatus::Deprovisioned, 1).is_none());
    }

    #[test]
    fn a_setup_link_opens_its_own_tenant_and_no_policy() {
        let now = OffsetDateTime::now_utc();
        let link = ItSetupLink {
            id: "isl_1".into(),
            tenant_id: "tn_a".into(),
            label: "Jane".into(),
            created_by: "it@a.test".into(),
            hash: String::new(),
            created_at: now,
            expires_at: now + Duration::hours(2),
            revoked_at: None,
            last_used_at: None,
        };
        let guest = Actor::ItSetup(link);
        assert!(guest.may_manage("tn_a"));
        assert!(!guest.may_manage("tn_b"));
        assert!(!guest.is_operator());
        assert!(!guest.may_set_policy());
        assert!(guest.signed_in_recently(now));
        assert!(!guest.signed_in_recently(now + Duration::hours(3)));
        let admin = Actor::Admin(Box::new(
            admin(Role::TenantAdmin, UserStatus::Active, 1).unwrap(),
        ));
        assert!(admin.may_set_policy());
    }

    #[test]
    fn tenant_admins_cannot_touch_operators_or_make_them() {
        let ta = admin(Role::TenantAdmin, UserStatus::Active, 1).unwrap();
        let op = admin(Role::Operator, UserStatus::Active, 1).unwrap();
        let person = |id: &str, tenant: &str, role: Role| User {
            id: id.into(),
            tenant_id: tenant.into(),
            role,
            ..ta.user.clone()
        };
        assert!(ta.may_administer(&person("us_2", "tn_a", Role::Member)));
        assert!(ta.may_administer(&person("us_2", "tn_a", Role::TenantAdmin)));
        assert!(!ta.may_administer(&person("us_2", "tn_a", Role::Operator)));
        assert!(!ta.may_administer(&person("us_2", "tn_b", Role::Member)));
        assert!(!ta.may_administer(&person("us_1", "tn_a", Role::TenantAdmin)));
        assert!(op.may_administer(&person("us_2", "tn_b", Role::Operator)));
        assert!(!ta.may_grant(Role::Operator));
        assert!(ta.may_grant(Role::TenantAdmin));
        assert!(op.may_grant(Role::Operator));
    }

    #[test]
    fn sensitive_changes_need_a_recent_sign_in() {
        let now = OffsetDateTime::now_utc();
        assert!(admin(Role::TenantAdmin, UserStatus::Active, 3)
            .unwrap()
            .signed_in_recently(now));
        assert!(!admin(Role::TenantAdmin, UserStatus::Active, 30)
            .unwrap()
            .signed_in_recently(now));
    }
}
