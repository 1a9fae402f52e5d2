//! SAML 2.0 service provider, one connection per tenant.
//!
//! This module grows in steps; what is here is complete and tested on its own:
//! `cert` — intake of IdP signing certificates and metadata, checked at save time.

pub mod cert;
