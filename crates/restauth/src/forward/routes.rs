//! `/auth/forward/`, mounted from the settings.

use axum::Router;

use crate::core::error::Error;
use crate::restauth::Restauth;

/// `/auth/forward/` (any method, and any path below it), when `[forward_auth] enabled`; an
/// empty router otherwise, so an app can merge it unconditionally.
pub fn router<S: Clone + Send + Sync + 'static>(restauth: &Restauth) -> Result<Router<S>, Error> {
    let settings = &restauth.settings().forward_auth;
    let policy = super::policy(restauth.policy(), settings);
    Ok(super::routes(policy, settings))
}
