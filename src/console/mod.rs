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
