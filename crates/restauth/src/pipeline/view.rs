//! Ready routers an application mounts, and [`ApiView`], which gives any handler DRF's view
//! behaviour.

use std::convert::Infallible;
use std::sync::Arc;

use axum::handler::Handler;
use axum::response::{IntoResponse, Response};
use axum::routing::{MethodFilter, MethodRouter};
use http::{HeaderValue, Method, header};
use serde_json::json;

use crate::core::error::{Error, json_response};
use crate::pipeline::policy::{Guard, Policy, ViewGuard};

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
    dyn FnOnce(MethodRouter<S, Infallible>, &Arc<ViewGuard>) -> MethodRouter<S, Infallible> + Send,
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
        self.handlers.push(Box::new(move |router, view| {
            router.on(
                filter,
                Guard {
                    handler,
                    view: view.clone(),
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
        let allow =
            HeaderValue::from_str(&self.allow()).unwrap_or(HeaderValue::from_static("OPTIONS"));
        let view = Arc::new(ViewGuard { policy, allow });
        let name = self.name;
        let mut router = MethodRouter::new();
        for add in self.handlers {
            router = add(router, &view);
        }
        let metadata = move || async move { options_metadata(name) };
        let not_allowed = |method: Method| async move { Error::MethodNotAllowed(method) };
        router
            .on(
                MethodFilter::OPTIONS,
                Guard {
                    handler: metadata,
                    view: view.clone(),
                },
            )
            .fallback(Guard {
                handler: not_allowed,
                view,
            })
    }
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
