//! Ready routers an application mounts, and [`ApiView`], which gives any handler DRF's view
//! behaviour.

use std::convert::Infallible;
use std::sync::{Mutex, PoisonError};

use axum::handler::Handler;
use axum::response::{IntoResponse, Response};
use axum::routing::{MethodFilter, MethodRouter};
use http::{HeaderValue, Method, header};
use serde_json::json;

use crate::core::error::{Error, json_response};
use crate::pipeline::policy::{Guard, Policy};

/// A DRF `APIView` around axum handlers: the policy runs before everything (405 included),
/// `OPTIONS` answers with DRF's metadata, unknown methods get DRF's 405 body, and every
/// response carries DRF's `Allow` header.
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

impl<S: Clone + Send + Sync + 'static> ApiView<S> {
    /// `name` is what `OPTIONS` reports, like DRF's view name ("Obtain Auth Token").
    pub fn new(name: &'static str) -> Self {
        ApiView {
            name,
            handlers: Vec::new(),
            methods: Vec::new(),
        }
    }

    fn add<H, T>(mut self, method: Method, filter: MethodFilter, handler: H) -> Self
    where
        H: Handler<T, S>,
        T: 'static,
    {
        self.handlers.push(Box::new(move |router, policy, allow| {
            router.on(
                filter,
                Guard {
                    handler,
                    policy: policy.clone(),
                    allow: allow.clone(),
                },
            )
        }));
        self.methods.push(method);
        self
    }

    pub fn get<H: Handler<T, S>, T: 'static>(self, handler: H) -> Self {
        self.add(Method::GET, MethodFilter::GET, handler)
    }
    pub fn post<H: Handler<T, S>, T: 'static>(self, handler: H) -> Self {
        self.add(Method::POST, MethodFilter::POST, handler)
    }
    pub fn put<H: Handler<T, S>, T: 'static>(self, handler: H) -> Self {
        self.add(Method::PUT, MethodFilter::PUT, handler)
    }
    pub fn patch<H: Handler<T, S>, T: 'static>(self, handler: H) -> Self {
        self.add(Method::PATCH, MethodFilter::PATCH, handler)
    }
    pub fn delete<H: Handler<T, S>, T: 'static>(self, handler: H) -> Self {
        self.add(Method::DELETE, MethodFilter::DELETE, handler)
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
pub fn no_store(mut response: Response) -> Response {
    response
        .headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

/// The 404 body of DRF, for an application's fallback.
pub async fn not_found() -> Response {
    Error::NotFound.into_response()
}
