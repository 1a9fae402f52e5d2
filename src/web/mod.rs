//! The HTTP edge: route table, middleware, cookies, error mapping, and the small
//! operational endpoints. Only this module and the `*/routes.rs` files know actix-web.

pub mod cookies;
pub mod error;
pub mod extract;
pub mod middleware;
pub mod ops;
pub mod page;
pub mod tls;

use actix_web::web;

/// Registers every route of the gateway.
pub fn configure(cfg: &mut web::ServiceConfig) {
    ops::configure(cfg);
    crate::forward_auth::routes::configure(cfg);
    crate::login::routes::configure(cfg);
    crate::saml::routes::configure(cfg);
    crate::oidc::routes::configure(cfg);
    crate::sso_test::routes::configure(cfg);
    crate::apikey::routes::configure(cfg);
    crate::scim::routes::configure(cfg);
    // Before the `/api/v1` scope, which would otherwise take every path under it.
    crate::admin::it_setup::configure(cfg);
    crate::admin::sso_tests::configure(cfg);
    crate::admin::domains::configure(cfg);
    crate::admin::routes::configure(cfg);
    crate::console::routes::configure(cfg);
    crate::console::routes::it_setup::configure(cfg);
}
