//! The request pipeline, in DRF's order: authenticate → permissions → throttles → handler.
//!
//! A [`Policy`] is one tower layer, so the order cannot be got wrong. It starts from the
//! configured defaults and a route overrides what it needs, in one line:
//!
//! ```no_run
//! # use axum::{Router, routing::get};
//! # use restauth::{AuthClass, CurrentUser, IsAuthenticated, Restauth};
//! # async fn profile(CurrentUser(user): CurrentUser) -> String {
//! #     user.username.clone()
//! # }
//! # fn routes(restauth: &Restauth) -> Router {
//! # Router::new().route("/api/profile",
//! get(profile).layer(restauth.policy().authentication([AuthClass::Token]).permission(IsAuthenticated))
//! # )
//! # }
//! ```
//!
//! Put it on the route's `MethodRouter` (`.layer`, not `.route_layer`) so that, as in DRF,
//! authentication and permissions run before a 405.

use std::any::Any;
use std::sync::Arc;

use axum::body::Body;
use axum::extract::FromRequestParts;
use http::request::Parts;
use http::{HeaderMap, HeaderName, HeaderValue, Request};

use crate::core::error::{Error, PERMISSION_DENIED};
use crate::core::metrics;
use crate::core::settings::{ConfigError, RestFrameworkSettings};
use crate::core::user::{Identity, User};
use crate::pipeline::authentication::{Authenticator, Classes, Outcome};
use crate::pipeline::permissions::{ObjectType, Permission, RequestInfo, from_class};
use crate::pipeline::throttling::{ThrottleClass, Throttles};

/// A route's authentication and permission classes.
#[derive(Clone)]
pub struct Policy {
    inner: Arc<PolicyInner>,
}

#[derive(Clone)]
struct PolicyInner {
    /// Where the classes named later are found.
    classes: Arc<dyn Classes>,
    throttles_of: Throttles,
    authenticators: Vec<Arc<dyn Authenticator>>,
    permissions: Vec<Arc<dyn Permission>>,
    throttles: Vec<ThrottleClass>,
    throttle_scope: Option<String>,
    /// Whether a class reads the session cookie: kept with the classes, not asked per request.
    reads_session: bool,
    /// The classes' credential headers, kept with the classes too.
    sought: Sought,
    /// Whether a permission reads the user's groups and permissions, which are then loaded
    /// before the permissions run.
    loads_permissions: bool,
}

fn loads_permissions(permissions: &[Arc<dyn Permission>]) -> bool {
    permissions.iter().any(|p| p.needs_permissions())
}

/// Whether one of `classes` reads the session cookie.
fn reads_session(classes: &[Arc<dyn Authenticator>]) -> bool {
    classes.iter().any(|a| a.name() == "session")
}

/// The headers a policy's classes take their credentials from
/// ([`Authenticator::credentials_header`]), so that a request without them (an anonymous one,
/// say) passes the classes after one look at its header names, where each class would hash
/// and look up its own.
#[derive(Clone, Default)]
struct Sought {
    /// The distinct headers, at most eight.
    names: Vec<HeaderName>,
    /// Per class, the bit of its header in `names`; 0 for a class that is always asked.
    bits: Vec<u8>,
}

impl Sought {
    fn of(classes: &[Arc<dyn Authenticator>]) -> Sought {
        let mut sought = Sought::default();
        for class in classes {
            let bit = match class.credentials_header() {
                Some(name) => match sought.names.iter().position(|n| *n == name) {
                    Some(i) => 1 << i,
                    None if sought.names.len() < 8 => {
                        sought.names.push(name);
                        1 << (sought.names.len() - 1)
                    }
                    None => 0,
                },
                None => 0,
            };
            sought.bits.push(bit);
        }
        sought
    }

    /// The bits of the sought headers that `headers` holds.
    fn present(&self, headers: &HeaderMap) -> u8 {
        if self.names.is_empty() {
            return 0;
        }
        let mut found = 0;
        for name in headers.keys() {
            for (i, sought) in self.names.iter().enumerate() {
                if name == sought {
                    found |= 1 << i;
                }
            }
        }
        found
    }

    /// Whether the `i`th class can be skipped for a request holding the `present` headers.
    fn skips(&self, i: usize, present: u8) -> bool {
        let bit = self.bits.get(i).copied().unwrap_or(0);
        bit != 0 && present & bit == 0
    }
}

impl Policy {
    /// A policy with the default authentication, permission and throttle classes of
    /// `settings`, its classes found in `classes`, counted in `throttles`.
    pub fn new(
        classes: Arc<dyn Classes>,
        settings: &RestFrameworkSettings,
        throttles: Throttles,
    ) -> Policy {
        // Every configured name was checked against the registry at start.
        let authenticators: Vec<_> = settings
            .default_authentication_classes
            .iter()
            .filter_map(|c| classes.authenticator(c.as_str()))
            .collect();
        let permissions: Vec<_> = settings
            .default_permission_classes
            .iter()
            .map(|c| from_class(*c))
            .collect();
        Policy {
            inner: Arc::new(PolicyInner {
                classes,
                throttles_of: throttles,
                reads_session: reads_session(&authenticators),
                sought: Sought::of(&authenticators),
                loads_permissions: loads_permissions(&permissions),
                authenticators,
                permissions,
                throttles: settings.default_throttle_classes.clone(),
                throttle_scope: None,
            }),
        }
    }
}

impl Policy {
    fn edit(mut self, f: impl FnOnce(&mut PolicyInner)) -> Self {
        let inner = Arc::make_mut(&mut self.inner);
        f(inner);
        inner.reads_session = reads_session(&inner.authenticators);
        inner.sought = Sought::of(&inner.authenticators);
        inner.loads_permissions = loads_permissions(&inner.permissions);
        self
    }

    /// Replaces the authentication classes with registered ones, in this order: the built-in
    /// [`AuthClass`](crate::AuthClass)es or names an app registered.
    ///
    /// # Panics
    /// On a name nobody registered, when the route is built (a typo would otherwise leave the
    /// route with fewer classes than it says).
    pub fn authentication<N: AsRef<str>>(self, classes: impl IntoIterator<Item = N>) -> Self {
        let registry = self.inner.classes.clone();
        let list = classes
            .into_iter()
            .map(|c| {
                let name = c.as_ref();
                registry.authenticator(name).unwrap_or_else(|| {
                    panic!("no authentication class is registered as \"{name}\"")
                })
            })
            .collect();
        self.edit(|p| p.authenticators = list)
    }

    /// Replaces the authentication classes with any authenticators, custom ones included.
    pub fn authenticators(self, list: Vec<Arc<dyn Authenticator>>) -> Self {
        self.edit(|p| p.authenticators = list)
    }

    /// Replaces the permission classes with this one.
    pub fn permission(self, permission: impl Permission) -> Self {
        let list: Vec<Arc<dyn Permission>> = vec![Arc::new(permission)];
        self.edit(|p| p.permissions = list)
    }

    /// Replaces the permission classes; all must pass. An empty list allows everyone.
    pub fn permissions(self, list: Vec<Arc<dyn Permission>>) -> Self {
        self.edit(|p| p.permissions = list)
    }

    /// Replaces the throttle classes (checked after authentication and permissions).
    pub fn throttles(self, classes: impl IntoIterator<Item = ThrottleClass>) -> Self {
        let list = classes.into_iter().collect();
        self.edit(|p| p.throttles = list)
    }

    /// DRF's `throttle_scope`: the rate `ScopedRateThrottle` applies to this route. Adds the
    /// scoped class if the route's throttles lack it.
    ///
    /// A scope without a rate in `[rest_framework.default_throttle_rates]` is an error here,
    /// when the route is built (DRF raises `ImproperlyConfigured`): a typo would otherwise
    /// leave the route unthrottled. Set the rate to `"off"` to declare the scope unlimited.
    pub fn throttle_scope(self, scope: &str) -> Result<Self, ConfigError> {
        if !self.inner.throttles_of.has_rate(scope) {
            return Err(ConfigError(format!(
                "rest_framework.default_throttle_rates: no rate for the \"{scope}\" throttle_scope of a route"
            )));
        }
        let scope = scope.to_owned();
        Ok(self.edit(|p| {
            if !p.throttles.contains(&ThrottleClass::Scoped) {
                p.throttles.push(ThrottleClass::Scoped);
            }
            p.throttle_scope = Some(scope);
        }))
    }

    /// The challenge of the first authenticator, which decides 401 vs 403 (DRF's rule).
    pub fn challenge(&self) -> Option<HeaderValue> {
        self.inner
            .authenticators
            .first()
            .and_then(|a| a.authenticate_header())
    }

    /// Whether the route authenticates with the session cookie (its answers vary on it).
    pub fn reads_session(&self) -> bool {
        self.inner.reads_session
    }

    /// The throttles the policy counts in (and how it tells clients apart).
    pub fn throttling(&self) -> &Throttles {
        &self.inner.throttles_of
    }

    /// `[rest_framework] num_proxies`, for extractors that need the client's address.
    pub fn num_proxies(&self) -> Option<usize> {
        self.inner.throttles_of.num_proxies()
    }

    /// Runs the authenticators, then the permissions. The identity on success; the error to
    /// answer with otherwise (already carrying the right challenge).
    pub async fn check(&self, request: &mut Request<Body>) -> Result<Identity, Error> {
        self.check_from(request, 0).await
    }

    /// [`check`](Self::check), starting at the `from`th authenticator (the ones before it
    /// answered "not mine").
    pub(crate) async fn check_from(
        &self,
        request: &mut Request<Body>,
        from: usize,
    ) -> Result<Identity, Error> {
        let identity = match self.authenticate(request, from).await {
            Ok(identity) => identity,
            Err(e) => return Err(e.with_challenge(self.challenge().as_ref())),
        };
        self.permit_loaded(request, identity).await
    }

    /// The permissions, with the user's groups and permissions loaded first where one of
    /// them reads them, then the throttles.
    pub(crate) async fn permit_loaded(
        &self,
        request: &mut Request<Body>,
        identity: Identity,
    ) -> Result<Identity, Error> {
        if self.inner.loads_permissions
            && let Some(user) = &identity.user
        {
            self.inner.classes.load_permissions(user).await?;
        }
        self.permit(request, &identity)?;
        self.throttle(request.headers(), request.extensions(), &identity)
            .await?;
        Ok(identity)
    }

    /// Whether the permissions must wait for the user's groups and permissions to be read.
    fn waits_for_permissions(&self, identity: &Identity) -> bool {
        self.inner.loads_permissions
            && identity
                .user
                .as_ref()
                .is_some_and(|u| u.needs_permissions())
    }

    /// The permissions, in order; the first that refuses answers.
    fn permit(&self, request: &Request<Body>, identity: &Identity) -> Result<(), Error> {
        let info = RequestInfo {
            method: request.method(),
            uri: request.uri(),
            headers: request.headers(),
            identity,
        };
        for permission in &self.inner.permissions {
            if !permission.has_permission(&info) {
                return Err(self.denied(identity, permission.as_ref(), self.challenge().as_ref()));
            }
        }
        Ok(())
    }

    /// The throttles. It borrows the request's parts, not the request: its body is not Sync.
    pub(crate) async fn throttle(
        &self,
        headers: &http::HeaderMap,
        extensions: &http::Extensions,
        identity: &Identity,
    ) -> Result<(), Error> {
        if self.inner.throttles.is_empty() {
            return Ok(());
        }
        let throttles = &self.inner.throttles_of;
        throttles
            .check(
                &self.inner.throttles,
                self.inner.throttle_scope.as_deref(),
                identity,
                || throttles.client_of(headers, extensions),
            )
            .await
    }

    async fn authenticate(
        &self,
        request: &mut Request<Body>,
        from: usize,
    ) -> Result<Identity, Error> {
        let present = self.inner.sought.present(request.headers());
        for (i, authenticator) in self.inner.authenticators.iter().enumerate().skip(from) {
            if self.inner.sought.skips(i, present) {
                continue;
            }
            let answer = authenticator.authenticate(request).resolve().await;
            if let Some(decided) = Self::authenticated(authenticator.as_ref(), answer) {
                return decided;
            }
        }
        Ok(Identity::anonymous())
    }

    /// One class's answer: `None` to try the next, else the identity or the refusal.
    fn authenticated(
        authenticator: &dyn Authenticator,
        answer: Result<Option<Identity>, Error>,
    ) -> Option<Result<Identity, Error>> {
        match answer {
            Ok(None) => None,
            Ok(Some(identity)) => {
                metrics::authentication(authenticator.name(), true);
                Some(Ok(identity))
            }
            Err(e) => {
                // Refused credentials; a store outage is no verdict on them.
                if !matches!(e, Error::Unavailable | Error::Internal(_)) {
                    metrics::authentication(authenticator.name(), false);
                }
                Some(Err(e))
            }
        }
    }

    /// The whole check when it needs no waiting: every class answered at once (a cached
    /// token or session, a JWT of a cached user, no credentials) and no throttle applies.
    /// Otherwise where the async check must start.
    pub(crate) fn check_at_once(&self, request: &mut Request<Body>) -> Now {
        let mut identity = Identity::anonymous();
        let present = self.inner.sought.present(request.headers());
        for (i, authenticator) in self.inner.authenticators.iter().enumerate() {
            if self.inner.sought.skips(i, present) {
                continue;
            }
            if !authenticator.retry_safe() {
                return Now::Later(Resume::Authenticate(i));
            }
            let answer = match authenticator.authenticate(request) {
                Outcome::Ready(answer) => answer,
                // Dropped unpolled: the async check asks this class again.
                Outcome::Pending(_) => return Now::Later(Resume::Authenticate(i)),
            };
            match Self::authenticated(authenticator.as_ref(), answer) {
                None => continue,
                Some(Ok(found)) => {
                    identity = found;
                    break;
                }
                Some(Err(e)) => {
                    return Now::Done(Err(e.with_challenge(self.challenge().as_ref())));
                }
            }
        }
        if self.waits_for_permissions(&identity) {
            return Now::Later(Resume::Permit(identity));
        }
        if let Err(e) = self.permit(request, &identity) {
            return Now::Done(Err(e));
        }
        if self.inner.throttles.is_empty() {
            Now::Done(Ok(identity))
        } else {
            Now::Later(Resume::Throttle(identity))
        }
    }

    /// DRF's `permission_denied`: "not authenticated" when authenticators exist and none
    /// succeeded, else the permission's own message.
    fn denied(
        &self,
        identity: &Identity,
        permission: &dyn Permission,
        challenge: Option<&HeaderValue>,
    ) -> Error {
        if !self.inner.authenticators.is_empty() && !identity.is_authenticated() {
            return Error::not_authenticated().with_challenge(challenge);
        }
        match permission.message() {
            Some(m) => Error::permission_denied(m.to_owned()),
            None => Error::permission_denied(PERMISSION_DENIED),
        }
    }

    /// DRF's `check_object_permissions`, for a handler about to act on `object`.
    ///
    /// An object of another type than a permission checks (`&Arc<Note>` for a permission on
    /// `Note`) is a bug in the handler, not a refusal: it is logged with both types and
    /// answered with 500, where a 403 would refuse the object's owner without a trace.
    pub fn check_object<T: Any>(
        &self,
        parts: &Parts,
        identity: &Identity,
        object: &T,
    ) -> Result<(), Error> {
        let found = ObjectType::of::<T>();
        for permission in &self.inner.permissions {
            if let Err(expected) = permission.check_object_type(found) {
                // Logged with both names when answered, as every internal error.
                return Err(Error::Internal(format!(
                    "check_object: the permission checks {}, the handler passed {}",
                    expected.name(),
                    found.name()
                )));
            }
        }
        let info = RequestInfo {
            method: &parts.method,
            uri: &parts.uri,
            headers: &parts.headers,
            identity,
        };
        for permission in &self.inner.permissions {
            if !permission.has_object_permission(&info, object) {
                return Err(self.denied(identity, permission.as_ref(), self.challenge().as_ref()));
            }
        }
        Ok(())
    }
}

/// What [`Policy::check_at_once`] decided.
pub(crate) enum Now {
    /// Checked: the identity, or the refusal.
    Done(Result<Identity, Error>),
    /// The rest needs waiting: the async check resumes there.
    Later(Resume),
}

/// Where the async check resumes.
pub(crate) enum Resume {
    /// At this class, which must wait (a database read, a password hash).
    Authenticate(usize),
    /// Authenticated; the user's permissions must be read before the permissions run.
    Permit(Identity),
    /// Authenticated and permitted; the throttles remain.
    Throttle(Identity),
}

/// What the policy layer leaves for the handler's extractors (one extension insert).
#[derive(Clone)]
pub(crate) struct Guarded {
    pub(crate) identity: Identity,
    pub(crate) policy: Policy,
}

/// The authenticated user; answers "not authenticated" on a route whose permissions let
/// anonymous requests through.
#[derive(Clone, Debug)]
pub struct CurrentUser(pub Arc<User>);

/// The user if any (DRF's `request.user` on an `AllowAny` route).
#[derive(Clone, Debug)]
pub struct MaybeUser(pub Option<Arc<User>>);

/// The route's policy and the request's identity, for object-level checks.
#[derive(Clone)]
pub struct Access {
    /// DRF's `request.user` and `request.auth`.
    pub identity: Identity,
    policy: Policy,
    parts: Parts,
}

impl Access {
    /// DRF's `check_object_permissions(request, obj)`. Pass the object itself (`&Note`, not
    /// `&Arc<Note>`): a type the route's permissions do not check is answered with 500.
    pub fn check_object<T: Any>(&self, object: &T) -> Result<(), Error> {
        self.policy
            .check_object(&self.parts, &self.identity, object)
    }
}

fn guarded(parts: &Parts) -> Result<&Guarded, Error> {
    parts
        .extensions
        .get::<Guarded>()
        .ok_or_else(|| Error::Internal("route has no restauth policy layer".into()))
}

fn identity_of(parts: &Parts) -> Result<&Identity, Error> {
    guarded(parts).map(|g| &g.identity)
}

/// The policy of the route a request went through, if any.
pub(crate) fn policy_of(extensions: &http::Extensions) -> Option<&Policy> {
    extensions.get::<Guarded>().map(|g| &g.policy)
}

impl<S: Send + Sync> FromRequestParts<S> for CurrentUser {
    type Rejection = Error;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        match &identity_of(parts)?.user {
            Some(u) => Ok(CurrentUser(u.clone())),
            None => {
                let challenge = policy_of(&parts.extensions).and_then(Policy::challenge);
                Err(Error::not_authenticated().with_challenge(challenge.as_ref()))
            }
        }
    }
}

impl<S: Send + Sync> FromRequestParts<S> for MaybeUser {
    type Rejection = Error;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        Ok(MaybeUser(identity_of(parts)?.user.clone()))
    }
}

impl<S: Send + Sync> FromRequestParts<S> for Access {
    type Rejection = Error;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        let Guarded { identity, policy } = guarded(parts)?.clone();
        let mut copy = Request::new(());
        *copy.method_mut() = parts.method.clone();
        *copy.uri_mut() = parts.uri.clone();
        *copy.headers_mut() = parts.headers.clone();
        let (parts, ()) = copy.into_parts();
        Ok(Access {
            identity,
            policy,
            parts,
        })
    }
}
