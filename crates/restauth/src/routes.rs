//! [`Restauth::routes`]: every route of the library that the settings enable, in one router.

use axum::Router;

use crate::core::error::Error;
use crate::restauth::Restauth;

impl Restauth {
    /// Every route the settings enable, for any app state `S`: DRF's token view, simplejwt's
    /// views and the JWKS, the session's JSON login and (with `html-login`) the login pages,
    /// the devices views and the account page, the staff API, `/auth/forward/` when `[forward_auth]
    /// enabled`, and djoser's endpoints when `[accounts] enabled` (with `email`). Each feature's
    /// `router(&restauth)` gives its own part, for an app that mounts only some.
    ///
    /// An error names the setting at fault (a page of `[session] templates_dir` that does not
    /// parse), or two views on one path.
    pub fn routes<S: Clone + Send + Sync + 'static>(&self) -> Result<Router<S>, Error> {
        let parts = [
            crate::token::router(self)?,
            crate::jwt::router(self)?,
            crate::session::router(self)?,
            crate::devices::router(self)?,
            crate::admin::router(self)?,
            crate::forward::router(self)?,
            #[cfg(feature = "email")]
            crate::accounts::router(self)?,
        ];
        Ok(parts.into_iter().fold(Router::new(), Router::merge))
    }
}
