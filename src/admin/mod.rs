//! The admin JSON API under `/api/v1` (described in `static/openapi.json`).
//!
//! Authorization lives in the [`auth::AdminAuth`] extractor: a handler that takes it cannot
//! run without a valid bearer token, compared in constant time.

pub mod auth;
pub mod domains;
pub mod it_setup;
pub mod routes;
pub mod sso_tests;
