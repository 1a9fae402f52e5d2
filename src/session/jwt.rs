//! Session JWTs: EdDSA (Ed25519) signatures, a `kid` in every header, and a key ring in
//! the store so every instance signs with the same key and verifies every live key.
//!
//! Rotation adds a new active key and marks the previous one retired; a retired key keeps
//! verifying until every token it signed has expired (one session lifetime), then it is
//! pruned. Only EdDSA is accepted when verifying, so `alg=none` and HMAC-with-the-public-key
//! tokens fail before any signature check.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant};

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use openssl::pkey::PKey;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use time::OffsetDateTime;

use super::Session;
use crate::clock::Clock;
use crate::error::{Error, Result};
use crate::store::{decode, encode, keys, Event, Store};

/// The audience of session tokens: they are for this gateway's forward-auth, nobody else.
pub const SESSION_AUDIENCE: &str = "gatehouse-session";
/// How often an unknown `kid` may trigger a reload of the key ring from the store.
const RELOAD_AT_MOST_EVERY: Duration = Duration::from_secs(1);

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SessionClaims {
    pub iss: String,
    pub aud: String,
    /// User id.
    pub sub: String,
    /// Session id: the token is honoured only while this record exists.
    pub sid: String,
    /// Tenant id.
    pub tid: String,
    /// Login method: password, saml or oidc.
    pub method: String,
    pub iat: i64,
    pub exp: i64,
}

impl SessionClaims {
    pub fn for_session(s: &Session, issuer: &str) -> Self {
        Self {
            iss: issuer.to_owned(),
            aud: SESSION_AUDIENCE.to_owned(),
            sub: s.user_id.clone(),
            sid: s.id.clone(),
            tid: s.tenant_id.clone(),
            method: s.method.as_str().to_owned(),
            iat: s.created_at.unix_timestamp(),
            exp: s.expires_at.unix_timestamp(),
        }
    }
}

#[derive(Clone, Serialize, Deserialize)]
struct StoredKey {
    kid: String,
    /// PKCS#8 PEM. Lives in the store so that all instances share it.
    private_pem: String,
    /// Raw Ed25519 public key, base64url.
    public_x: String,
    #[serde(with = "time::serde::rfc3339")]
    created_at: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339::option", default)]
    retired_at: Option<OffsetDateTime>,
}

#[derive(Clone, Default, Serialize, Deserialize)]
struct StoredRing {
    keys: Vec<StoredKey>,
}

impl StoredRing {
    fn active(&self) -> Option<&StoredKey> {
        self.keys
            .iter()
            .filter(|k| k.retired_at.is_none())
            .max_by_key(|k| k.created_at)
    }
}

struct Loaded {
    active_kid: String,
    signing: EncodingKey,
    verifying: HashMap<String, DecodingKey>,
    jwks: Arc<serde_json::Value>,
}

pub struct KeyRing {
    issuer: String,
    loaded: RwLock<Arc<Loaded>>,
    last_reload: Mutex<Option<Instant>>,
    validation: Validation,
}

fn generate_key(now: OffsetDateTime) -> Result<StoredKey> {
    let internal = |e: openssl::error::ErrorStack| Error::Internal(format!("key generation: {e}"));
    let pkey = PKey::generate_ed25519().map_err(internal)?;
    let private_pem = String::from_utf8(pkey.private_key_to_pem_pkcs8().map_err(internal)?)
        .map_err(|e| Error::Internal(e.to_string()))?;
    let public = pkey.raw_public_key().map_err(internal)?;
    let kid = URL_SAFE_NO_PAD.encode(&Sha256::digest(&public)[..12]);
    Ok(StoredKey {
        kid,
        private_pem,
        public_x: URL_SAFE_NO_PAD.encode(public),
        created_at: now,
        retired_at: None,
    })
}

fn load(ring: &StoredRing) -> Result<Loaded> {
    let active = ring
        .active()
        .ok_or_else(|| Error::Internal("key ring has no active key".into()))?;
    let signing = EncodingKey::from_ed_pem(active.private_pem.as_bytes())
        .map_err(|e| Error::Internal(format!("signing key: {e}")))?;
    let mut verifying = HashMap::new();
    let mut jwks = Vec::new();
    for k in &ring.keys {
        let key = DecodingKey::from_ed_components(&k.public_x)
            .map_err(|e| Error::Internal(format!("verification key {}: {e}", k.kid)))?;
        verifying.insert(k.kid.clone(), key);
        jwks.push(serde_json::json!({
            "kty": "OKP", "crv": "Ed25519", "x": k.public_x,
            "kid": k.kid, "alg": "EdDSA", "use": "sig",
        }));
    }
    Ok(Loaded {
        active_kid: active.kid.clone(),
        signing,
        verifying,
        jwks: Arc::new(serde_json::json!({ "keys": jwks })),
    })
}

async fn read_ring(store: &dyn Store) -> Result<Option<StoredRing>> {
    match store.get(keys::signing_keys()).await? {
        Some(bytes) => Ok(Some(decode(keys::signing_keys(), &bytes)?)),
        None => Ok(None),
    }
}

impl KeyRing {
    /// Reads the ring, creating the first key when the store has none. Two instances
    /// starting together agree on one key: only one `put_if_absent` wins.
    pub async fn load_or_create(
        store: &dyn Store,
        clock: &dyn Clock,
        issuer: String,
    ) -> Result<Self> {
        let ring = match read_ring(store).await? {
            Some(r) if r.active().is_some() => r,
            _ => {
                let fresh = StoredRing {
                    keys: vec![generate_key(clock.now())?],
                };
                if store
                    .put_if_absent(keys::signing_keys(), &encode(&fresh)?, None)
                    .await?
                {
                    tracing::info!(kid = %fresh.keys[0].kid, "generated the first session signing key");
                    fresh
                } else {
                    read_ring(store)
                        .await?
                        .ok_or_else(|| Error::Internal("signing key ring vanished".into()))?
                }
            }
        };
        let mut validation = Validation::new(Algorithm::EdDSA);
        validation.set_issuer(&[issuer.as_str()]);
        validation.set_audience(&[SESSION_AUDIENCE]);
        validation.set_required_spec_claims(&["exp", "iss", "aud", "sub"]);
        validation.leeway = 0;
        Ok(Self {
            issuer,
            loaded: RwLock::new(Arc::new(load(&ring)?)),
            last_reload: Mutex::new(None),
            validation,
        })
    }

    pub fn issuer(&self) -> &str {
        &self.issuer
    }

    fn current(&self) -> Arc<Loaded> {
        match self.loaded.read() {
            Ok(g) => g.clone(),
            Err(poisoned) => poisoned.into_inner().clone(),
        }
    }

    pub fn active_kid(&self) -> String {
        self.current().active_kid.clone()
    }

    /// The public keys, as `/.well-known/jwks.json` serves them.
    pub fn jwks(&self) -> Arc<serde_json::Value> {
        self.current().jwks.clone()
    }

    pub fn sign<C: Serialize>(&self, claims: &C) -> Result<String> {
        let loaded = self.current();
        let mut header = Header::new(Algorithm::EdDSA);
        header.kid = Some(loaded.active_kid.clone());
        jsonwebtoken::encode(&header, claims, &loaded.signing)
            .map_err(|e| Error::Internal(format!("signing: {e}")))
    }

    /// Verifies signature, algorithm, issuer, audience and expiry. An unknown `kid` reloads
    /// the ring once (another instance may have rotated) before giving up.
    pub async fn verify(&self, token: &str, store: &dyn Store) -> Result<SessionClaims> {
        let header = jsonwebtoken::decode_header(token).map_err(|_| Error::Unauthorized)?;
        if header.alg != Algorithm::EdDSA {
            return Err(Error::Unauthorized);
        }
        let kid = header.kid.ok_or(Error::Unauthorized)?;
        let mut loaded = self.current();
        if !loaded.verifying.contains_key(&kid) && self.may_reload() {
            self.reload(store).await?;
            loaded = self.current();
        }
        let key = loaded.verifying.get(&kid).ok_or(Error::Unauthorized)?;
        jsonwebtoken::decode::<SessionClaims>(token, key, &self.validation)
            .map(|d| d.claims)
            .map_err(|_| Error::Unauthorized)
    }

    fn may_reload(&self) -> bool {
        let Ok(mut last) = self.last_reload.lock() else {
            return false;
        };
        let due = last.is_none_or(|t| t.elapsed() >= RELOAD_AT_MOST_EVERY);
        if due {
            *last = Some(Instant::now());
        }
        due
    }

    pub async fn reload(&self, store: &dyn Store) -> Result<()> {
        let ring = read_ring(store)
            .await?
            .ok_or_else(|| Error::Internal("signing key ring missing from the store".into()))?;
        let fresh = Arc::new(load(&ring)?);
        match self.loaded.write() {
            Ok(mut g) => *g = fresh,
            Err(poisoned) => *poisoned.into_inner() = fresh,
        }
        Ok(())
    }

    /// Adds a new active key, retires the current one and prunes keys retired longer
    /// than `keep_retired` ago (no token they signed can still be valid).
    pub async fn rotate(
        &self,
        store: &dyn Store,
        clock: &dyn Clock,
        keep_retired: Duration,
    ) -> Result<String> {
        let now = clock.now();
        let mut ring = read_ring(store).await?.unwrap_or_default();
        for k in &mut ring.keys {
            k.retired_at.get_or_insert(now);
        }
        ring.keys
            .retain(|k| k.retired_at.is_none_or(|r| now - r < keep_retired));
        let fresh = generate_key(now)?;
        let kid = fresh.kid.clone();
        ring.keys.push(fresh);
        store
            .put(keys::signing_keys(), &encode(&ring)?, None)
            .await?;
        self.reload(store).await?;
        store.publish(&Event::SigningKeysChanged).await?;
        tracing::info!(%kid, "rotated the session signing key");
        Ok(kid)
    }
}
