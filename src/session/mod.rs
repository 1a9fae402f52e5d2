//! Sessions: a record in the store plus a signed JWT that names it.
//!
//! Invariant: a JWT is honoured only while its record exists. Logout, admin revocation,
//! deactivation and password changes delete the record and publish `SessionRevoked`, which
//! every instance's [`cache::SessionCache`] applies at once. The hot path verifies from the
//! cache without touching the store; whenever the event feed may have gaps, the cache is
//! bypassed and every request is checked against the store (fail closed).

pub mod cache;
pub mod jwt;
pub mod store;

use std::sync::Arc;
use std::time::Duration;

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use crate::clock::SharedClock;
use crate::error::{Error, Result};
use crate::random;
use crate::store::{Store, StoreError};
use crate::user::User;
use cache::{SessionCache, SessionView};
use jwt::{KeyRing, SessionClaims};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LoginMethod {
    Password,
    Saml,
    Oidc,
    /// Minted by an operator through the admin API (service accounts, support).
    Admin,
}

impl LoginMethod {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Password => "password",
            Self::Saml => "saml",
            Self::Oidc => "oidc",
            Self::Admin => "admin",
        }
    }
}

/// Where a session was created from, for the admin's session list.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ClientInfo {
    pub ip: Option<String>,
    pub user_agent: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Session {
    pub id: String,
    pub tenant_id: String,
    pub user_id: String,
    pub email: String,
    pub groups: Vec<String>,
    pub method: LoginMethod,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339")]
    pub expires_at: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339")]
    pub last_seen_at: OffsetDateTime,
    pub client: ClientInfo,
}

/// A freshly created session and the token that carries it.
pub struct Issued {
    pub session: Session,
    pub token: String,
}

/// Why a token was not accepted. `Invalid` covers every forged, expired, unknown or
/// revoked token alike, so callers cannot leak which check failed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AuthFailure {
    Invalid,
    /// The store could not be asked; the answer must be "no" (503), never "yes".
    Unavailable,
}

pub struct Sessions {
    store: Arc<dyn Store>,
    clock: SharedClock,
    keys: Arc<KeyRing>,
    cache: Arc<SessionCache>,
    lifetime: Duration,
}

impl Sessions {
    /// Loads (or creates) the signing keys and starts following store events.
    pub async fn start(
        store: Arc<dyn Store>,
        clock: SharedClock,
        issuer: String,
        lifetime: Duration,
    ) -> Result<Arc<Self>> {
        let keys = Arc::new(KeyRing::load_or_create(&*store, &*clock, issuer).await?);
        let cache = SessionCache::new(clock.clone());
        cache::spawn_listener(
            cache.clone(),
            keys.clone(),
            store.clone(),
            store.subscribe(),
        );
        Ok(Arc::new(Self {
            store,
            clock,
            keys,
            cache,
            lifetime,
        }))
    }

    pub fn keys(&self) -> &KeyRing {
        &self.keys
    }

    pub fn cache(&self) -> &SessionCache {
        &self.cache
    }

    pub fn lifetime(&self) -> Duration {
        self.lifetime
    }

    /// Creates the record and its JWT. Refuses users who are not active.
    pub async fn issue(
        &self,
        user: &User,
        method: LoginMethod,
        client: ClientInfo,
    ) -> Result<Issued> {
        if !user.is_active() {
            return Err(Error::Unauthorized);
        }
        let now = self.clock.now();
        let session = Session {
            id: random::id("se"),
            tenant_id: user.tenant_id.clone(),
            user_id: user.id.clone(),
            email: user.email.clone(),
            groups: user.groups.clone(),
            method,
            created_at: now,
            expires_at: now + self.lifetime,
            last_seen_at: now,
            client,
        };
        store::save(&*self.store, &*self.clock, &session).await?;
        let token = self
            .keys
            .sign(&SessionClaims::for_session(&session, self.keys.issuer()))?;
        Ok(Issued { session, token })
    }

    /// Answers "who is this token?" — from the cache when the event feed is complete,
    /// otherwise from the store.
    pub async fn authenticate(&self, token: &str) -> Result<Arc<SessionView>, AuthFailure> {
        if let Some(view) = self.cache.lookup(token) {
            self.touch_if_due(&view);
            return Ok(view);
        }
        let claims = self
            .keys
            .verify(token, &*self.store)
            .await
            .map_err(|_| AuthFailure::Invalid)?;
        let generation = self.cache.generation();
        let session = match store::get(&*self.store, &claims.sid).await {
            Ok(Some(s)) => s,
            Ok(None) => return Err(AuthFailure::Invalid),
            Err(StoreError::Unavailable(e)) => {
                tracing::warn!(error = %e, "session check failed: store unavailable");
                return Err(AuthFailure::Unavailable);
            }
            Err(StoreError::Corrupt(e)) => {
                tracing::error!(error = %e, sid = %claims.sid, "corrupt session record");
                return Err(AuthFailure::Invalid);
            }
        };
        if session.user_id != claims.sub
            || session.tenant_id != claims.tid
            || session.expires_at <= self.clock.now()
        {
            return Err(AuthFailure::Invalid);
        }
        let view = Arc::new(SessionView::new(&session, claims.exp));
        self.cache.insert(token, view.clone(), generation);
        Ok(view)
    }

    /// Writes "last seen" at most once a minute per session, off the request path.
    fn touch_if_due(&self, view: &Arc<SessionView>) {
        if view.claim_touch(self.clock.unix()) {
            let store = self.store.clone();
            let sid = view.session_id().to_owned();
            let at = self.clock.now();
            tokio::spawn(async move {
                if let Err(e) = store::touch(&*store, &sid, at).await {
                    tracing::debug!(error = %e, "last-seen update skipped");
                }
            });
        }
    }

    pub async fn revoke(&self, sid: &str) -> Result<bool> {
        store::revoke(&*self.store, sid).await
    }
}
