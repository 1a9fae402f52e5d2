//! Everything a request handler may use, built once at start-up.

use std::sync::Arc;

use crate::clock::SharedClock;
use crate::config::Config;
use crate::metrics::Metrics;
use crate::session::Sessions;
use crate::store::Store;

#[derive(Clone)]
pub struct AppState {
    pub config: Arc<Config>,
    pub store: Arc<dyn Store>,
    pub clock: SharedClock,
    pub sessions: Arc<Sessions>,
    pub metrics: Arc<Metrics>,
    /// OpenID providers' metadata and keys (cached) and the HTTP client that fetches them.
    pub oidc: Arc<crate::oidc::provider::Providers>,
    /// The resolver that checks domain-ownership TXT records (built once).
    pub dns: Arc<dyn crate::tenant::verification::TxtLookup>,
}
