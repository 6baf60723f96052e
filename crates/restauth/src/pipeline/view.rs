//! Ready routers an application mounts, [`ApiView`], which gives any handler DRF's view
//! behaviour, and [`Views`], which mounts views by path with DRF's trailing slash.

use std::convert::Infallible;
use std::sync::{Mutex, PoisonError};

use axum::Router;
use axum::handler::Handler;
use axum::response::{IntoResponse, Response};
use axum::routing::{MethodFilter, MethodRouter};
use http::{HeaderValue, Method, header};
use serde_json::json;

use crate::core::error::{Error, json_response};
use crate::pipeline::guard::Guard;
use crate::pipeline::policy::Policy;

/// A DRF `APIView` around axum handlers: the policy runs before everything (405 included),
/// `OPTIONS` answers with DRF's metadata, unknown methods get DRF's 405 body, and every
/// response carries DRF's `Allow` header.
///
/// A method may carry a policy of its own (`.post_with(create, policy)`), as a DRF view whose
/// `get_permissions()` or `get_throttles()` depend on `request.method`; the others, `OPTIONS`
/// and the 405 run behind the view's policy given to [`ApiView::guard`]. Each request is
/// authenticated once, by the policy of the method it calls.
pub struct ApiView<S> {
    name: &'static str,
    /// Each handler, put on the router once the policy is known (each behind it).
    handlers: Vec<AddHandler<S>>,
    methods: Vec<Method>,
}

type AddHandler<S> = Box<
    dyn FnOnce(MethodRouter<S, Infallible>, &Policy, &HeaderValue) -> MethodRouter<S, Infallible>
        + Send,
>;

/// Each method with and without a policy of its own.
macro_rules! methods {
    ($($(#[$doc:meta])* $name:ident, $with:ident, $method:ident;)*) => {$(
        $(#[$doc])*
        pub fn $name<H: Handler<T, S>, T: 'static>(self, handler: H) -> Self {
            self.add(Method::$method, MethodFilter::$method, handler, None)
        }
        /// The same, behind `policy` instead of the view's.
        pub fn $with<H: Handler<T, S>, T: 'static>(self, handler: H, policy: Policy) -> Self {
            self.add(Method::$method, MethodFilter::$method, handler, Some(policy))
        }
    )*};
}

impl<S: Clone + Send + Sync + 'static> ApiView<S> {
    /// `name` is what `OPTIONS` reports, like DRF's view name ("Obtain Auth Token").
    pub fn new(name: &'static str) -> Self {
        ApiView {
            name,
            handlers: Vec::new(),
            methods: Vec::new(),
        }
    }

    fn add<H, T>(
        mut self,
        method: Method,
        filter: MethodFilter,
        handler: H,
        own: Option<Policy>,
    ) -> Self
    where
        H: Handler<T, S>,
        T: 'static,
    {
        self.handlers.push(Box::new(move |router, policy, allow| {
            router.on(
                filter,
                Guard {
                    handler,
                    policy: own.unwrap_or_else(|| policy.clone()),
                    allow: allow.clone(),
                },
            )
        }));
        self.methods.push(method);
        self
    }

    methods! {
        /// `GET` (and `HEAD`) calls `handler`.
        get, get_with, GET;
        /// `POST` calls `handler`.
        post, post_with, POST;
        /// `PUT` calls `handler`.
        put, put_with, PUT;
        /// `PATCH` calls `handler`.
        patch, patch_with, PATCH;
        /// `DELETE` calls `handler`.
        delete, delete_with, DELETE;
    }

    /// DRF's `Allow`: the view's methods in DRF's order, HEAD with GET, then OPTIONS.
    fn allow(&self) -> String {
        let order = [
            Method::GET,
            Method::POST,
            Method::PUT,
            Method::PATCH,
            Method::DELETE,
        ];
        let mut names: Vec<&str> = order
            .iter()
            .filter(|m| self.methods.contains(m))
            .map(Method::as_str)
            .collect();
        if self.methods.contains(&Method::GET) {
            names.push("HEAD");
        }
        names.push("OPTIONS");
        names.join(", ")
    }

    /// The finished route, guarded by `policy`: every handler, `OPTIONS` and the 405 of the
    /// other methods run behind it.
    pub fn guard(self, policy: Policy) -> MethodRouter<S, Infallible> {
        let allow = interned(self.allow());
        let name = self.name;
        let mut router = MethodRouter::new();
        for add in self.handlers {
            router = add(router, &policy, &allow);
        }
        let metadata = move || async move { options_metadata(name) };
        let not_allowed = |method: Method| async move { Error::MethodNotAllowed(method) };
        router
            .on(
                MethodFilter::OPTIONS,
                Guard {
                    handler: metadata,
                    policy: policy.clone(),
                    allow: allow.clone(),
                },
            )
            .fallback(Guard {
                handler: not_allowed,
                policy,
                allow,
            })
    }
}

/// Views by path, as DRF's URL patterns: each path answers with and without its trailing slash
/// (under `axum::serve` too, where nothing trims it), and a second view on a path is an error
/// that says what to do, where axum's router would panic with "Overlapping method route".
///
/// ```
/// # use restauth::pipeline::view::{ApiView, Views};
/// # fn views(restauth: &restauth::Restauth) -> Result<axum::Router, restauth::Error> {
/// let notes = ApiView::new("Notes")
///     .get(|| async { "[]" })
///     // Only creating a note needs an account.
///     .post_with(|| async { "{}" }, restauth.policy().permission(restauth::IsAuthenticated))
///     .guard(restauth.policy().permission(restauth::AllowAny));
/// Ok(Views::new().view("/api/notes/", notes)?.into_router())
/// # }
/// ```
pub struct Views<S = ()> {
    router: Router<S>,
    paths: Vec<String>,
}

impl<S: Clone + Send + Sync + 'static> Default for Views<S> {
    fn default() -> Self {
        Self::new()
    }
}

impl<S: Clone + Send + Sync + 'static> Views<S> {
    /// No views yet.
    pub fn new() -> Self {
        Views {
            router: Router::new(),
            paths: Vec::new(),
        }
    }

    /// Mounts `view` (an [`ApiView::guard`]ed route) at `path`, written with or without its
    /// trailing slash.
    pub fn view(mut self, path: &str, view: MethodRouter<S, Infallible>) -> Result<Self, Error> {
        let bare = match path.trim_end_matches('/') {
            "" => "/",
            bare => bare,
        };
        if self.paths.iter().any(|p| p == bare) {
            return Err(Error::Config(format!(
                "two views on {bare}: give the path one ApiView, and a method that needs \
                 other classes its own policy (`.post_with(handler, policy)`)"
            )));
        }
        self.paths.push(bare.to_owned());
        self.router = if bare == "/" {
            self.router.route(bare, view)
        } else {
            self.router
                .route(bare, view.clone())
                .route(&format!("{bare}/"), view)
        };
        Ok(self)
    }

    /// Adds the views of `other`; a path both mount is an error, as in [`Views::view`].
    pub fn merge(mut self, other: Views<S>) -> Result<Self, Error> {
        if let Some(twice) = other.paths.iter().find(|p| self.paths.contains(p)) {
            return Err(Error::Config(format!(
                "two views on {twice}: each path takes one ApiView"
            )));
        }
        self.paths.extend(other.paths);
        self.router = self.router.merge(other.router);
        Ok(self)
    }

    /// The paths mounted, without their trailing slash.
    pub fn paths(&self) -> &[String] {
        &self.paths
    }

    /// The router of every view mounted, each at its path with and without a trailing slash.
    pub fn into_router(self) -> Router<S> {
        self.router
    }
}

/// An `Allow` value as a static header value, so that setting it on every answer copies a
/// pointer instead of moving a counter that every request of the view shares. Five methods
/// make at most 32 such values, each kept once for the life of the process.
fn interned(allow: String) -> HeaderValue {
    static KEPT: Mutex<Vec<&'static str>> = Mutex::new(Vec::new());
    let mut kept = KEPT.lock().unwrap_or_else(PoisonError::into_inner);
    let value = match kept.iter().find(|kept| **kept == allow) {
        Some(kept) => *kept,
        None => {
            let leaked: &'static str = Box::leak(allow.into_boxed_str());
            kept.push(leaked);
            leaked
        }
    };
    // Method names, commas and spaces: always a valid value.
    HeaderValue::from_static(value)
}

fn options_metadata(name: &str) -> Response {
    json_response(
        http::StatusCode::OK,
        &json!({
            "name": name,
            "description": "",
            "renders": ["application/json"],
            "parses": [
                "application/json",
                "application/x-www-form-urlencoded",
                "multipart/form-data",
            ],
        }),
    )
}

/// Marks a response as not to be stored by any cache (it carries a credential).
pub(crate) fn no_store(mut response: Response) -> Response {
    response
        .headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

/// The 404 body of DRF, for an application's fallback.
pub async fn not_found() -> Response {
    Error::NotFound.into_response()
}
