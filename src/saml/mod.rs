//! SAML 2.0 service provider, one connection per tenant.
//!
//! Built in steps; each part here is complete and tested on its own:
//! - `cert`: intake of IdP signing certificates and metadata, checked at save time;
//! - `connection`: the per-tenant connection (provider preset, IdP values, switches),
//!   which can never be stored without a valid signing certificate;
//! - `sp`: our Entity ID / ACS URL per tenant and the SP metadata document;
//! - `sp_key`: the deployment's SP key for signed AuthnRequests;
//! - `flow`: SP-initiated login (AuthnRequest, opaque RelayState, single-use flow state);
//! - `acs`: the hardened ACS on top of samael (`xml_shape`: a strict structural pre-check);
//!   `signin`: from a verified identity to a user;
//! - `diagnose`: the test sign-in's report per check (records live in `crate::sso_test`);
//! - `metadata_refresh`: connections imported from a metadata URL, fetched again
//!   periodically (certificate rollovers), changes recorded in the configuration log.

pub mod acs;
pub mod cert;
pub mod connection;
pub mod diagnose;
pub mod flow;
pub mod metadata_refresh;
pub mod routes;
pub mod signin;
pub mod sp;
pub mod sp_key;
mod xml_shape;
