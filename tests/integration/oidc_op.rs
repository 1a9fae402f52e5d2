//! A stand-in OpenID provider written for the tests: an actix-web server on 127.0.0.1:0
//! serving discovery, a JWKS, an authorization endpoint that answers at once with a code,
//! and a token endpoint that checks the client's secret, the redirect URI and the PKCE
//! verifier before it hands out an ID token signed here with RSA keys generated here
//! (openssl) — never by the code under test.
//!
//! Tests bend the next ID token (claims, header, signing) through [`TestOp::next_token`].

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use actix_web::{web, App, HttpRequest, HttpResponse, HttpServer};
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use base64::Engine;
use openssl::hash::MessageDigest;
use openssl::pkey::{PKey, Private};
use openssl::rsa::Rsa;
use openssl::sign::Signer;
use serde_json::{json, Map, Value};
use sha2::{Digest, Sha256};

pub const CLIENT_ID: &str = "gatehouse-test-client";
pub const CLIENT_SECRET: &str = "test-client-secret-0123456789";

/// How the next ID token is signed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Signing {
    /// RS256 with the published key number `n`.
    Published(usize),
    /// RS256 with a key that is not (yet) in the JWKS.
    Unpublished,
    /// `alg=none`, empty signature.
    None,
    /// HS256 keyed with the published key's public PEM (the key-confusion trick).
    HmacWithPublicKey,
    /// RS256 with the first key, then the payload's email changed after signing.
    TamperedPayload,
}

/// A change to the next token: claims, header, and how it is signed.
pub type Bend =
    Box<dyn FnOnce(&mut Map<String, Value>, &mut Map<String, Value>, &mut Signing) + Send>;

#[derive(Clone, Debug)]
pub struct TokenRequest {
    pub code_verifier: Option<String>,
    pub authorized: bool,
}

struct Pending {
    redirect_uri: String,
    nonce: Option<String>,
    challenge: Option<String>,
    claims: Map<String, Value>,
}

struct OpState {
    base: String,
    microsoft: bool,
    keys: Vec<(String, PKey<Private>)>,
    unpublished: (String, PKey<Private>),
    /// Claims of the person who "signs in" at the next authorization request.
    person: Map<String, Value>,
    bends: Vec<Bend>,
    pending: HashMap<String, Pending>,
    pub token_requests: Vec<TokenRequest>,
    pub jwks_fetches: usize,
    pub authorize_params: Vec<HashMap<String, String>>,
    /// Time the token endpoint spent per request (the provider's share of a callback).
    pub token_micros: Vec<u64>,
}

pub struct TestOp {
    pub base: String,
    /// Exact issuer (standard mode) or the `{tenantid}` template (Microsoft mode).
    pub issuer: String,
    state: Arc<Mutex<OpState>>,
    handle: actix_web::dev::ServerHandle,
}

fn b64(bytes: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

fn jwk(kid: &str, key: &PKey<Private>) -> Value {
    let rsa = key.rsa().unwrap();
    json!({
        "kty": "RSA", "use": "sig", "alg": "RS256", "kid": kid,
        "n": b64(&rsa.n().to_vec()), "e": b64(&rsa.e().to_vec()),
    })
}

fn new_key() -> PKey<Private> {
    PKey::from_rsa(Rsa::generate(2048).unwrap()).unwrap()
}

impl OpState {
    fn issuer_for(&self, claims: &Map<String, Value>) -> String {
        if self.microsoft {
            let tid = claims.get("tid").and_then(Value::as_str).unwrap_or("none");
            format!("{}/{tid}/v2.0", self.base)
        } else {
            self.base.clone()
        }
    }

    fn sign(
        &self,
        header: &Map<String, Value>,
        claims: &Map<String, Value>,
        signing: Signing,
    ) -> String {
        let input = format!(
            "{}.{}",
            b64(&serde_json::to_vec(header).unwrap()),
            b64(&serde_json::to_vec(claims).unwrap())
        );
        let sig = match signing {
            Signing::None => Vec::new(),
            Signing::HmacWithPublicKey => {
                let public_pem = self.keys[0].1.public_key_to_pem().unwrap();
                let key = PKey::hmac(&public_pem).unwrap();
                let mut s = Signer::new(MessageDigest::sha256(), &key).unwrap();
                s.update(input.as_bytes()).unwrap();
                s.sign_to_vec().unwrap()
            }
            Signing::Published(n) => rs256(&self.keys[n].1, &input),
            Signing::TamperedPayload => {
                let sig = rs256(&self.keys[0].1, &input);
                let mut changed = claims.clone();
                changed.insert("email".into(), json!("someone-else@example.test"));
                let tampered = format!(
                    "{}.{}",
                    b64(&serde_json::to_vec(header).unwrap()),
                    b64(&serde_json::to_vec(&changed).unwrap())
                );
                return format!("{tampered}.{}", b64(&sig));
            }
            Signing::Unpublished => rs256(&self.unpublished.1, &input),
        };
        format!("{input}.{}", b64(&sig))
    }
}

fn rs256(key: &PKey<Private>, input: &str) -> Vec<u8> {
    let mut s = Signer::new(MessageDigest::sha256(), key).unwrap();
    s.update(input.as_bytes()).unwrap();
    s.sign_to_vec().unwrap()
}

async fn discovery(op: web::Data<Arc<Mutex<OpState>>>) -> HttpResponse {
    let s = op.lock().unwrap();
    let issuer = if s.microsoft {
        format!("{}/{{tenantid}}/v2.0", s.base)
    } else {
        s.base.clone()
    };
    HttpResponse::Ok().json(json!({
        "issuer": issuer,
        "authorization_endpoint": format!("{}/authorize", s.base),
        "token_endpoint": format!("{}/token", s.base),
        "jwks_uri": format!("{}/jwks", s.base),
        "response_types_supported": ["code"],
        "subject_types_supported": ["public"],
        "id_token_signing_alg_values_supported": ["RS256"],
        "code_challenge_methods_supported": ["S256"],
        "token_endpoint_auth_methods_supported": ["client_secret_basic"],
    }))
}

async fn jwks(op: web::Data<Arc<Mutex<OpState>>>) -> HttpResponse {
    let mut s = op.lock().unwrap();
    s.jwks_fetches += 1;
    let keys: Vec<Value> = s.keys.iter().map(|(kid, k)| jwk(kid, k)).collect();
    HttpResponse::Ok().json(json!({ "keys": keys }))
}

async fn authorize(
    op: web::Data<Arc<Mutex<OpState>>>,
    q: web::Query<HashMap<String, String>>,
) -> HttpResponse {
    let mut s = op.lock().unwrap();
    s.authorize_params.push(q.0.clone());
    if q.get("client_id").map(String::as_str) != Some(CLIENT_ID) {
        return HttpResponse::BadRequest().body("unknown client_id");
    }
    let redirect_uri = q.get("redirect_uri").cloned().unwrap_or_default();
    let code = gatehouse::random::token(16);
    let pending = Pending {
        redirect_uri: redirect_uri.clone(),
        nonce: q.get("nonce").cloned(),
        challenge: (q.get("code_challenge_method").map(String::as_str) == Some("S256"))
            .then(|| q.get("code_challenge").cloned())
            .flatten(),
        claims: s.person.clone(),
    };
    s.pending.insert(code.clone(), pending);
    let mut loc = url::Url::parse(&redirect_uri).unwrap();
    loc.query_pairs_mut()
        .append_pair("code", &code)
        .append_pair("state", q.get("state").map(String::as_str).unwrap_or(""));
    HttpResponse::Found()
        .insert_header(("location", loc.to_string()))
        .finish()
}

async fn token(
    op: web::Data<Arc<Mutex<OpState>>>,
    req: HttpRequest,
    form: web::Form<HashMap<String, String>>,
) -> HttpResponse {
    let started = std::time::Instant::now();
    let resp = token_answer(&op, &req, &form);
    let micros = u64::try_from(started.elapsed().as_micros()).unwrap_or(u64::MAX);
    op.lock().unwrap().token_micros.push(micros);
    resp
}

fn token_answer(
    op: &Arc<Mutex<OpState>>,
    req: &HttpRequest,
    form: &HashMap<String, String>,
) -> HttpResponse {
    let mut s = op.lock().unwrap();
    let expected = format!(
        "Basic {}",
        STANDARD.encode(format!("{CLIENT_ID}:{CLIENT_SECRET}"))
    );
    let authorized = req
        .headers()
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        == Some(expected.as_str());
    s.token_requests.push(TokenRequest {
        code_verifier: form.get("code_verifier").cloned(),
        authorized,
    });
    let err = |e: &str| HttpResponse::BadRequest().json(json!({ "error": e }));
    if !authorized {
        return HttpResponse::Unauthorized().json(json!({ "error": "invalid_client" }));
    }
    if form.get("grant_type").map(String::as_str) != Some("authorization_code") {
        return err("unsupported_grant_type");
    }
    let Some(p) = form.get("code").and_then(|c| s.pending.remove(c)) else {
        return err("invalid_grant");
    };
    if form.get("redirect_uri") != Some(&p.redirect_uri) {
        return err("invalid_grant");
    }
    // PKCE (RFC 7636 §4.6): BASE64URL(SHA256(verifier)) must equal the challenge.
    let verifier = form.get("code_verifier").cloned().unwrap_or_default();
    if p.challenge.as_deref() != Some(b64(&Sha256::digest(verifier.as_bytes())).as_str()) {
        return err("invalid_grant");
    }
    let now = time::OffsetDateTime::now_utc().unix_timestamp();
    let mut claims = Map::new();
    claims.insert("iss".into(), json!(s.issuer_for(&p.claims)));
    claims.insert("aud".into(), json!(CLIENT_ID));
    claims.insert("iat".into(), json!(now));
    claims.insert("exp".into(), json!(now + 300));
    if let Some(n) = p.nonce {
        claims.insert("nonce".into(), json!(n));
    }
    for (k, v) in p.claims {
        claims.insert(k, v);
    }
    let mut header = Map::new();
    header.insert("alg".into(), json!("RS256"));
    header.insert("typ".into(), json!("JWT"));
    header.insert("kid".into(), json!(s.keys[0].0.clone()));
    let mut signing = Signing::Published(0);
    if !s.bends.is_empty() {
        let bend = s.bends.remove(0);
        bend(&mut claims, &mut header, &mut signing);
    }
    match signing {
        Signing::None => {
            header.insert("alg".into(), json!("none"));
        }
        Signing::HmacWithPublicKey => {
            header.insert("alg".into(), json!("HS256"));
        }
        Signing::Unpublished => {
            header.insert("kid".into(), json!(s.unpublished.0.clone()));
        }
        Signing::TamperedPayload => {}
        Signing::Published(n) => {
            if header.get("kid") == Some(&json!(s.keys[0].0.clone())) {
                header.insert("kid".into(), json!(s.keys[n].0.clone()));
            }
        }
    }
    let id_token = s.sign(&header, &claims, signing);
    HttpResponse::Ok().json(json!({
        "access_token": gatehouse::random::token(16),
        "token_type": "Bearer",
        "expires_in": 300,
        "id_token": id_token,
    }))
}

impl TestOp {
    /// A standard provider whose issuer is its base URL.
    pub async fn start() -> Self {
        Self::start_mode(false).await
    }

    /// A Microsoft-style multi-tenant provider: the discovery issuer is
    /// `{base}/{tenantid}/v2.0` and tokens carry `{base}/{tid}/v2.0`.
    pub async fn start_microsoft() -> Self {
        Self::start_mode(true).await
    }

    async fn start_mode(microsoft: bool) -> Self {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let base = format!("http://127.0.0.1:{}", listener.local_addr().unwrap().port());
        let state = Arc::new(Mutex::new(OpState {
            base: base.clone(),
            microsoft,
            keys: vec![(gatehouse::random::token(6), new_key())],
            unpublished: (gatehouse::random::token(6), new_key()),
            person: Map::new(),
            bends: Vec::new(),
            pending: HashMap::new(),
            token_requests: Vec::new(),
            jwks_fetches: 0,
            authorize_params: Vec::new(),
            token_micros: Vec::new(),
        }));
        let data = state.clone();
        let (tx, rx) = tokio::sync::oneshot::channel();
        std::thread::spawn(move || {
            let system = actix_web::rt::System::new();
            system.block_on(async move {
                let server = HttpServer::new(move || {
                    App::new()
                        .app_data(web::Data::new(data.clone()))
                        .route("/jwks", web::get().to(jwks))
                        .route("/authorize", web::get().to(authorize))
                        .route("/token", web::post().to(token))
                        .default_service(web::get().to(
                            |req: HttpRequest, op: web::Data<Arc<Mutex<OpState>>>| async move {
                                if req.path().ends_with("/.well-known/openid-configuration") {
                                    discovery(op).await
                                } else {
                                    HttpResponse::NotFound().finish()
                                }
                            },
                        ))
                })
                .workers(1)
                .listen(listener)
                .unwrap()
                .run();
                let _ = tx.send(server.handle());
                let _ = server.await;
            });
        });
        let handle = rx.await.unwrap();
        let issuer = if microsoft {
            format!("{base}/{{tenantid}}/v2.0")
        } else {
            base.clone()
        };
        Self {
            base,
            issuer,
            state,
            handle,
        }
    }

    /// The person who signs in next (claims merged into the ID token).
    pub fn sign_in_as(&self, claims: Value) {
        self.state.lock().unwrap().person = claims.as_object().unwrap().clone();
    }

    /// Bends the next ID token the token endpoint issues.
    pub fn next_token(
        &self,
        bend: impl FnOnce(&mut Map<String, Value>, &mut Map<String, Value>, &mut Signing)
            + Send
            + 'static,
    ) {
        self.state.lock().unwrap().bends.push(Box::new(bend));
    }

    /// Publishes a new signing key (rotation); returns its index.
    pub fn rotate_in_new_key(&self) -> usize {
        let mut s = self.state.lock().unwrap();
        s.keys.push((gatehouse::random::token(6), new_key()));
        s.keys.len() - 1
    }

    pub fn token_requests(&self) -> Vec<TokenRequest> {
        self.state.lock().unwrap().token_requests.clone()
    }

    pub fn jwks_fetches(&self) -> usize {
        self.state.lock().unwrap().jwks_fetches
    }

    pub fn token_micros(&self) -> Vec<u64> {
        self.state.lock().unwrap().token_micros.clone()
    }

    pub fn authorize_params(&self) -> Vec<HashMap<String, String>> {
        self.state.lock().unwrap().authorize_params.clone()
    }

    pub async fn stop(self) {
        self.handle.stop(false).await;
    }
}
