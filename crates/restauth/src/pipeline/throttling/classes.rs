//! DRF's throttle classes over a [`ThrottleStore`]: `AnonRateThrottle`, `UserRateThrottle`,
//! `ScopedRateThrottle`, and the client identity they key on.

use std::net::SocketAddr;

use axum::extract::{ConnectInfo, FromRequestParts};
use http::request::Parts;
use http::{Extensions, HeaderMap};

use std::collections::BTreeMap;
use std::sync::Arc;

use super::{
    ACCOUNT_SCOPES, Decision, LOGIN_SCOPES, Rate, RateSetting, ThrottleClass, ThrottleStore,
    client_ident, combine_waits, unix_time,
};
use crate::core::error::Error;
use crate::core::settings::RestFrameworkSettings;
use crate::core::user::Identity;

/// Why a throttle refuses a request that carries no peer address.
pub const NO_PEER_ADDRESS: &str = "throttling needs the client's address, but the request \
    carries no ConnectInfo<SocketAddr>: serve the app with restauth::serve(listener, app, \
    ServeOptions::default()), or with axum::serve(listener, \
    app.into_make_service_with_connect_info::<SocketAddr>())";

/// The client address throttles key on: the peer, unless `num_proxies` trusted proxies append
/// to `X-Forwarded-For`.
///
/// Without the peer address (an app served by `axum::serve(listener, app)`) every client would
/// share one bucket, so that one stranger's failures lock everybody out: this is an error
/// (500, logged with the fix) instead.
pub fn client_of(
    headers: &HeaderMap,
    extensions: &Extensions,
    num_proxies: Option<usize>,
) -> Result<String, Error> {
    let Some(ConnectInfo(peer)) = extensions.get::<ConnectInfo<SocketAddr>>() else {
        return Err(Error::Misconfigured(NO_PEER_ADDRESS));
    };
    let peer = peer.ip();
    if num_proxies.is_none() {
        return Ok(client_ident(peer, None, None));
    }
    let forwarded: Vec<&str> = headers
        .get_all("x-forwarded-for")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .collect();
    let joined = forwarded.join(",");
    Ok(client_ident(
        peer,
        (!forwarded.is_empty()).then_some(joined.as_str()),
        num_proxies,
    ))
}

/// The default rate of a built-in scope (logins, mail, sign-up).
fn built_in(scope: &str) -> Option<&'static str> {
    LOGIN_SCOPES
        .iter()
        .chain(ACCOUNT_SCOPES.iter())
        .find(|(name, _)| *name == scope)
        .map(|(_, default)| *default)
}

/// The client address of a request on a route guarded by a [`Policy`](crate::pipeline::policy::Policy).
#[derive(Clone, Debug)]
pub struct ClientIdent(pub String);

impl<S: Send + Sync> FromRequestParts<S> for ClientIdent {
    type Rejection = Error;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        let num_proxies =
            crate::pipeline::policy::policy_of(&parts.extensions).and_then(|p| p.num_proxies());
        client_of(&parts.headers, &parts.extensions, num_proxies).map(ClientIdent)
    }
}

/// The throttles of `[rest_framework]`: the rates by scope, the counters' store, and how the
/// client is told apart (`num_proxies`). Cheap to clone.
#[derive(Clone)]
pub struct Throttles {
    inner: Arc<ThrottlesInner>,
}

struct ThrottlesInner {
    rates: BTreeMap<String, RateSetting>,
    num_proxies: Option<usize>,
    store: Arc<dyn ThrottleStore>,
}

impl Throttles {
    /// The throttles `[rest_framework]` configures (classes and rates), counting in `store`.
    pub fn new(settings: &RestFrameworkSettings, store: Arc<dyn ThrottleStore>) -> Self {
        Throttles {
            inner: Arc::new(ThrottlesInner {
                rates: settings.default_throttle_rates.clone(),
                num_proxies: settings.num_proxies,
                store,
            }),
        }
    }

    /// Where the counters are kept.
    pub fn store(&self) -> &Arc<dyn ThrottleStore> {
        &self.inner.store
    }

    /// `[rest_framework] num_proxies`: how many trusted proxies append to `X-Forwarded-For`.
    pub fn num_proxies(&self) -> Option<usize> {
        self.inner.num_proxies
    }

    /// The client address of a request, as [`client_of`] reads it with these settings.
    pub fn client_of(&self, headers: &HeaderMap, extensions: &Extensions) -> Result<String, Error> {
        client_of(headers, extensions, self.inner.num_proxies)
    }

    /// The configured rate of a scope; the built-in scopes are on by default: `login_user_ip`
    /// 10/min, `login_user` 30/hour, `login_ip` 30/min, `reset_password_ip` 10/hour,
    /// `reset_password_email` 3/hour, `activation_resend` 3/hour, `registration_ip` 10/hour.
    pub fn rate(&self, scope: &str) -> Option<Rate> {
        let rates = &self.inner.rates;
        match rates.get(scope) {
            Some(setting) => setting.0,
            None => built_in(scope).and_then(|default| default.parse().ok()),
        }
    }

    /// Whether `scope` has a rate: one in `default_throttle_rates` (`"off"` included), or a
    /// built-in scope's default.
    pub fn has_rate(&self, scope: &str) -> bool {
        self.inner.rates.contains_key(scope) || built_in(scope).is_some()
    }

    /// Counts one request of `scope` from (or for) `key`, whatever the request then does:
    /// DRF's 429 once the scope's rate is spent. A scope set to `"off"` counts nothing.
    pub async fn take(&self, scope: &str, key: &str) -> Result<(), Error> {
        let Some(rate) = self.rate(scope) else {
            return Ok(());
        };
        let key = format!("throttle_{scope}_{key}");
        match self.inner.store.hit(&key, rate, unix_time()).await {
            Ok(Decision::Allow) => Ok(()),
            Ok(Decision::Deny { wait }) => {
                crate::core::metrics::throttled(scope);
                tracing::debug!(scope, "throttled");
                Err(Error::Throttled { wait })
            }
            Err(e) => {
                tracing::warn!(error = %e, "throttle store unavailable");
                Err(Error::Unavailable)
            }
        }
    }

    /// Runs a route's throttles (after authentication and permissions, as DRF). Every
    /// throttle is evaluated; the ones that pass record the request.
    pub async fn check(
        &self,
        classes: &[ThrottleClass],
        scope: Option<&str>,
        identity: &Identity,
        client: impl FnOnce() -> Result<String, Error>,
    ) -> Result<(), Error> {
        let mut client = Some(client);
        let mut ident = String::new();
        let mut who = |authenticated_key: bool| -> Result<String, Error> {
            match (&identity.user, authenticated_key) {
                (Some(u), true) => Ok(u.id.to_string()),
                _ => {
                    if let Some(f) = client.take() {
                        ident = f()?;
                    }
                    Ok(ident.clone())
                }
            }
        };
        let now = unix_time();
        let mut waits = Vec::new();
        for class in classes {
            let (scope, key) = match class {
                ThrottleClass::Anon if identity.user.is_some() => continue,
                ThrottleClass::Anon => ("anon", who(false)?),
                ThrottleClass::User => ("user", who(true)?),
                ThrottleClass::Scoped => match scope {
                    Some(s) => (s, who(true)?),
                    None => continue,
                },
            };
            let Some(rate) = self.rate(scope) else {
                continue;
            };
            let key = format!("throttle_{scope}_{key}");
            match self.inner.store.hit(&key, rate, now).await {
                Ok(Decision::Allow) => {}
                Ok(Decision::Deny { wait }) => {
                    crate::core::metrics::throttled(scope);
                    waits.push(wait);
                }
                Err(e) => {
                    tracing::warn!(error = %e, "throttle store unavailable");
                    return Err(Error::Unavailable);
                }
            }
        }
        if waits.is_empty() {
            Ok(())
        } else {
            Err(Error::Throttled {
                wait: combine_waits(waits),
            })
        }
    }
}
