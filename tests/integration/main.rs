#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a failed unwrap is a failed test

//! One integration binary (one link step): every module drives the real gateway over
//! HTTP on loopback, against the embedded store and a real redis-server.

mod common;

mod admin_api;
mod console;
mod console_it_setup;
mod console_logs;
mod console_people;
mod demo;
mod domains;
mod forward_auth;
mod login;
mod login_events;
mod metadata_refresh;
mod nginx;
mod oidc_bench;
mod oidc_console;
mod oidc_global;
mod oidc_login;
mod oidc_op;
mod redis_faults;
mod saml_acs;
mod saml_idp;
mod saml_setup;
mod saml_xml_attacks;
mod scim_api;
mod scim_groups;
mod scim_lifecycle;
mod scim_store;
mod scim_support;
mod scim_vendors;
mod sessions;
mod store_conformance;
mod tls;
