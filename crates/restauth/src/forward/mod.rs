//! Forward authentication: `/auth/forward/`, which a reverse proxy asks before it forwards a
//! request to an application restauth does not host (nginx `auth_request`, Traefik
//! `ForwardAuth`, Envoy's HTTP `ext_authz`).
//!
//! The proxy sends the original request's headers (its credentials: `Authorization`, the
//! session cookie, `X-CSRFToken`, `Origin`) and says what the original request was:
//!
//! | header | what it says | sent by |
//! |---|---|---|
//! | `X-Forwarded-Method`, `X-Original-Method` | the method | Traefik; nginx when told to |
//! | `X-Forwarded-Uri`, `X-Original-URI` | path and query | Traefik; nginx when told to |
//! | `X-Forwarded-Host` | the host | Traefik; nginx when told to |
//! | `X-Forwarded-Proto` | the scheme (believed as `[csrf] trust_forwarded_proto` says) | all |
//!
//! Without them the request itself is the original one, as Envoy sends it (its method, and
//! its path after `/auth/forward`). These headers are believed only with a declared proxy
//! (`[rest_framework] num_proxies` ≥ 1, required to enable the route): a proxy must set them,
//! replacing whatever a client sent under those names.
//!
//! The original request then goes through a [`Policy`] made of the `[forward_auth]` classes,
//! exactly as it would through an API view: DRF's 401 (with `WWW-Authenticate`) or 403, the
//! CSRF check for a session on an unsafe original method, the throttles. On success the answer
//! is 200 with the user in `X-Auth-User`, `X-Auth-User-Id` and `X-Auth-Is-Staff` (names
//! configurable), for the proxy to hand to the application.

#[cfg(feature = "openapi")]
pub mod openapi;
use std::convert::Infallible;
use std::sync::Arc;

use axum::Router;
use axum::body::Body;
use axum::extract::State;
use axum::response::{IntoResponse, Response};
use axum::routing::{MethodRouter, any};
use http::uri::PathAndQuery;
use http::{HeaderMap, HeaderName, HeaderValue, Method, Request, StatusCode, Uri, header};
use serde_json::json;
use tower::ServiceExt;

use crate::core::error::{Error, json_response};
use crate::core::settings::ForwardAuthSettings;
use crate::pipeline::context::Context;
use crate::pipeline::permissions::from_class;
use crate::pipeline::policy::{MaybeUser, Policy};
use crate::pipeline::view::no_store;

/// Where the route is mounted; Envoy appends the original path to it.
pub const PATH: &str = "/auth/forward";

const METHOD_HEADERS: [&str; 2] = ["x-forwarded-method", "x-original-method"];
const URI_HEADERS: [&str; 2] = ["x-forwarded-uri", "x-original-uri"];
const HOST_HEADER: &str = "x-forwarded-host";

/// The policy `[forward_auth]` describes: its authentication classes (else the defaults) and
/// its permission classes, with the default throttles.
pub fn policy(ctx: &Context) -> Policy {
    let settings = &ctx.settings().forward_auth;
    let mut policy = ctx.policy();
    if let Some(classes) = &settings.authentication_classes {
        // Every name was checked against the registry when restauth was built.
        policy = policy.authentication(classes.iter().map(|c| c.as_str()));
    }
    policy.permissions(
        settings
            .permission_classes
            .iter()
            .map(|c| from_class(*c))
            .collect(),
    )
}

/// `/auth/forward/` (any method, and any path below it), when `[forward_auth] enabled`; an
/// empty router otherwise, so an app can merge it unconditionally.
pub fn router<S: Clone + Send + Sync + 'static>(ctx: &Context) -> Router<S> {
    let settings = &ctx.settings().forward_auth;
    if !settings.enabled {
        return Router::new();
    }
    let names = Arc::new(Names::new(settings));
    let guarded: MethodRouter<(), Infallible> = any(granted).layer(policy(ctx)).with_state(names);
    let route = any(forward).with_state(guarded);
    Router::new()
        .route(PATH, route.clone())
        .route(&format!("{PATH}/{{*original}}"), route)
}

/// The response header names, parsed once (checked valid with the settings).
struct Names {
    user: HeaderName,
    user_id: HeaderName,
    is_staff: HeaderName,
}

impl Names {
    fn new(s: &ForwardAuthSettings) -> Self {
        let name = |value: &str, default: &'static str| {
            HeaderName::from_bytes(value.as_bytes())
                .unwrap_or_else(|_| HeaderName::from_static(default))
        };
        Names {
            user: name(&s.user_header, "x-auth-user"),
            user_id: name(&s.user_id_header, "x-auth-user-id"),
            is_staff: name(&s.is_staff_header, "x-auth-is-staff"),
        }
    }
}

/// Rebuilds the original request from the proxy's headers and runs it through the policy.
async fn forward(
    State(guarded): State<MethodRouter<(), Infallible>>,
    request: Request<Body>,
) -> Response {
    match original(request) {
        Ok(request) => match guarded.oneshot(request).await {
            Ok(response) => response,
            Err(never) => match never {},
        },
        Err(e) => e.into_response(),
    }
}

/// What the policy let through: 200 naming the user (no user headers for an anonymous
/// request that the permissions allow).
async fn granted(
    State(names): State<Arc<Names>>,
    MaybeUser(user): MaybeUser,
) -> Result<Response, Error> {
    let Some(user) = user else {
        return Ok(no_store(json_response(
            StatusCode::OK,
            &json!({ "authenticated": false }),
        )));
    };
    // Usernames hold no control characters (validators refuse them); their UTF-8 bytes are
    // sent as they are, as a proxy passes them on.
    let username = HeaderValue::from_bytes(user.username.as_bytes()).map_err(|_| {
        Error::Internal(format!(
            "user {}: the username cannot be a header value",
            user.id
        ))
    })?;
    let mut response = no_store(json_response(
        StatusCode::OK,
        &json!({ "authenticated": true, "username": user.username, "id": user.id }),
    ));
    let headers = response.headers_mut();
    headers.insert(names.user.clone(), username);
    headers.insert(names.user_id.clone(), HeaderValue::from(user.id));
    headers.insert(
        names.is_staff.clone(),
        HeaderValue::from_static(if user.is_staff { "true" } else { "false" }),
    );
    Ok(response)
}

/// The request the proxy is asking about: its method, path and host from the forwarding
/// headers, or the request's own. Its `Accept` is dropped: it names what the client wants
/// from the application, not from this route.
fn original(mut request: Request<Body>) -> Result<Request<Body>, Error> {
    let headers = request.headers();
    let method = match last_of(headers, &METHOD_HEADERS) {
        Some(value) => Some(
            Method::from_bytes(value.trim().as_bytes())
                .map_err(|_| Error::Parse("X-Forwarded-Method is not an HTTP method.".into()))?,
        ),
        None => None,
    };
    let path = match last_of(headers, &URI_HEADERS) {
        Some(value) => Some(value.trim().to_owned()),
        // Envoy: the original path follows the route's own.
        None => request.uri().path().strip_prefix(PATH).map(|rest| {
            let path = if rest.is_empty() { "/" } else { rest };
            match request.uri().query() {
                Some(query) => format!("{path}?{query}"),
                None => path.to_owned(),
            }
        }),
    };
    let host = last_of(headers, &[HOST_HEADER])
        .and_then(|v| v.rsplit(',').next())
        .map(|v| v.trim().to_owned());
    if let Some(method) = method {
        *request.method_mut() = method;
    }
    if let Some(path) = path {
        *request.uri_mut() = origin_form(&path)
            .ok_or_else(|| Error::Parse("X-Forwarded-Uri is not a path.".into()))?;
    }
    if let Some(host) = host.filter(|h| !h.is_empty()) {
        let value = HeaderValue::from_str(&host)
            .map_err(|_| Error::Parse("X-Forwarded-Host is not a host.".into()))?;
        request.headers_mut().insert(header::HOST, value);
    }
    request.headers_mut().remove(header::ACCEPT);
    Ok(request)
}

/// The last non-empty value of the first of `names` present, as text.
fn last_of<'a>(headers: &'a HeaderMap, names: &[&str]) -> Option<&'a str> {
    names.iter().find_map(|name| {
        headers
            .get_all(*name)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .rfind(|v| !v.trim().is_empty())
    })
}

/// `/path?query` as a request target; `None` unless it starts with one `/`.
fn origin_form(path: &str) -> Option<Uri> {
    if !path.starts_with('/') || path.starts_with("//") {
        return None;
    }
    let path_and_query: PathAndQuery = path.parse().ok()?;
    Uri::from_parts({
        let mut parts = http::uri::Parts::default();
        parts.path_and_query = Some(path_and_query);
        parts
    })
    .ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(uri: &str, headers: &[(&str, &str)]) -> Request<Body> {
        let mut builder = Request::builder().uri(uri).header("accept", "text/html");
        for (k, v) in headers {
            builder = builder.header(*k, *v);
        }
        builder.body(Body::empty()).unwrap()
    }

    #[test]
    fn the_proxy_headers_describe_the_original_request() {
        let r = original(request(
            "/auth/forward",
            &[
                ("x-forwarded-method", "DELETE"),
                ("x-forwarded-uri", "/notes/1?x=y"),
                ("x-forwarded-host", "app.example.com"),
                ("host", "127.0.0.1:8000"),
            ],
        ))
        .unwrap();
        assert_eq!(r.method(), Method::DELETE);
        assert_eq!(r.uri(), "/notes/1?x=y");
        assert_eq!(r.headers()["host"], "app.example.com");
        assert!(r.headers().get("accept").is_none());
        // nginx's names.
        let r = original(request(
            "/auth/forward",
            &[("x-original-method", "POST"), ("x-original-uri", "/a")],
        ))
        .unwrap();
        assert_eq!((r.method(), r.uri().path()), (&Method::POST, "/a"));
    }

    #[test]
    fn without_them_the_request_is_the_original_as_envoy_sends_it() {
        let mut r = request("/auth/forward/api/notes?page=2", &[]);
        *r.method_mut() = Method::PATCH;
        let r = original(r).unwrap();
        assert_eq!(r.method(), Method::PATCH);
        assert_eq!(r.uri(), "/api/notes?page=2");
        assert_eq!(original(request("/auth/forward", &[])).unwrap().uri(), "/");
    }

    #[test]
    fn malformed_headers_are_refused_not_guessed() {
        for (name, value) in [
            ("x-forwarded-method", "GE T"),
            ("x-forwarded-uri", "https://evil.example/"),
            ("x-forwarded-uri", "//evil.example/"),
            ("x-forwarded-uri", "notes"),
        ] {
            let err = original(request("/auth/forward", &[(name, value)])).unwrap_err();
            assert_eq!(err.status(), StatusCode::BAD_REQUEST, "{name}: {value}");
        }
    }
}
