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
mod routes;

pub use routes::router;
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
use crate::core::settings::{FORWARDED_METHOD_HEADERS, FORWARDED_URI_HEADERS, ForwardAuthSettings};
use crate::pipeline::permissions::from_class;
use crate::pipeline::policy::{MaybeUser, Policy};
use crate::pipeline::view::no_store;

/// Where the route is mounted; Envoy appends the original path to it.
pub const PATH: &str = "/auth/forward";

const HOST_HEADER: &str = "x-forwarded-host";

/// The policy `[forward_auth]` describes over the default one: its authentication classes
/// (else the defaults) and its permission classes, with the default throttles.
pub fn policy(defaults: Policy, settings: &ForwardAuthSettings) -> Policy {
    let mut policy = defaults;
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

/// `/auth/forward/` (any method, and any path below it) behind `policy`, when
/// `[forward_auth] enabled`; an empty router otherwise, so an app can merge it
/// unconditionally.
pub(crate) fn routes<S: Clone + Send + Sync + 'static>(
    policy: Policy,
    settings: &ForwardAuthSettings,
) -> Router<S> {
    if !settings.enabled {
        return Router::new();
    }
    let names = Arc::new(Names::new(settings));
    let guarded: MethodRouter<(), Infallible> = any(granted).layer(policy).with_state(names);
    let route = any(forward).with_state(Forward {
        guarded,
        trusted: Arc::new(Trusted::new(settings)),
    });
    Router::new()
        .route(PATH, route.clone())
        .route(&format!("{PATH}/"), route.clone())
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

/// Which of the two spellings of each forwarding header the proxy sets, and the other one,
/// which a request must not carry.
struct Trusted {
    method: HeaderName,
    not_method: HeaderName,
    uri: HeaderName,
    not_uri: HeaderName,
}

impl Trusted {
    fn new(s: &ForwardAuthSettings) -> Self {
        // The settings allow only the two spellings of each.
        let pick = |setting: &str, spellings: [&'static str; 2]| {
            let first = spellings[0].eq_ignore_ascii_case(setting);
            let (one, other) = if first {
                (spellings[0], spellings[1])
            } else {
                (spellings[1], spellings[0])
            };
            (HeaderName::from_static(one), HeaderName::from_static(other))
        };
        let (method, not_method) = pick(&s.method_header, FORWARDED_METHOD_HEADERS);
        let (uri, not_uri) = pick(&s.uri_header, FORWARDED_URI_HEADERS);
        Trusted {
            method,
            not_method,
            uri,
            not_uri,
        }
    }
}

impl Default for Trusted {
    fn default() -> Self {
        Trusted::new(&ForwardAuthSettings::default())
    }
}

#[derive(Clone)]
struct Forward {
    guarded: MethodRouter<(), Infallible>,
    trusted: Arc<Trusted>,
}

/// Rebuilds the original request from the proxy's headers and runs it through the policy.
async fn forward(
    State(Forward { guarded, trusted }): State<Forward>,
    request: Request<Body>,
) -> Response {
    match original(request, &trusted) {
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
    // `str(pk)`: an integer's digits, a UUID's dashed form; both are valid header text.
    let id = HeaderValue::from_str(&user.id.to_string())
        .map_err(|_| Error::Internal("a user's key is not a header value".into()))?;
    headers.insert(names.user_id.clone(), id);
    headers.insert(
        names.is_staff.clone(),
        HeaderValue::from_static(if user.is_staff { "true" } else { "false" }),
    );
    Ok(response)
}

/// The request the proxy is asking about: its method, path and host from the forwarding
/// headers, or the request's own. Its `Accept` is dropped: it names what the client wants
/// from the application, not from this route.
fn original(mut request: Request<Body>, trusted: &Trusted) -> Result<Request<Body>, Error> {
    let headers = request.headers();
    // The spelling the proxy does not set can only come from the client (or a proxy that
    // passes the client's through): refused, never weighed against the trusted one.
    for (other, said) in [
        (&trusted.not_method, &trusted.method),
        (&trusted.not_uri, &trusted.uri),
    ] {
        if headers.get_all(other).iter().any(|v| !v.is_empty()) {
            return Err(Error::Parse(format!(
                "{} is not accepted here: the proxy states it in {}.",
                display_name(other),
                display_name(said)
            )));
        }
    }
    let method = match last_of(headers, trusted.method.as_str()) {
        Some(value) => Some(
            Method::from_bytes(value.trim().as_bytes())
                .map_err(|_| Error::Parse("X-Forwarded-Method is not an HTTP method.".into()))?,
        ),
        None => None,
    };
    let path = match last_of(headers, trusted.uri.as_str()) {
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
    let host = last_of(headers, HOST_HEADER)
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

/// [`original`] for the fuzz target: a request of `headers` on `path`, with the default
/// spellings trusted or nginx's.
#[doc(hidden)]
pub fn read_original(
    headers: &[(&str, &[u8])],
    path: &str,
    nginx: bool,
) -> Result<(String, String), u16> {
    let mut request = Request::builder().uri(path);
    for (name, value) in headers {
        let (Ok(name), Ok(value)) = (
            HeaderName::from_bytes(name.as_bytes()),
            HeaderValue::from_bytes(value),
        ) else {
            continue;
        };
        request = request.header(name, value);
    }
    let Ok(request) = request.body(Body::empty()) else {
        return Err(400);
    };
    let trusted = if nginx {
        Trusted::new(&ForwardAuthSettings {
            method_header: "X-Original-Method".into(),
            uri_header: "X-Original-URI".into(),
            ..ForwardAuthSettings::default()
        })
    } else {
        Trusted::default()
    };
    match original(request, &trusted) {
        Ok(r) => Ok((r.method().to_string(), r.uri().to_string())),
        Err(e) => Err(e.status().as_u16()),
    }
}

/// The last non-empty value of the header `name`, as text.
fn last_of<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get_all(name)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .rfind(|v| !v.trim().is_empty())
}

/// A forwarding header's name as proxies' documentation spells it.
fn display_name(name: &HeaderName) -> &'static str {
    match name.as_str() {
        "x-forwarded-method" => "X-Forwarded-Method",
        "x-original-method" => "X-Original-Method",
        "x-forwarded-uri" => "X-Forwarded-Uri",
        _ => "X-Original-URI",
    }
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
        let forwarded = Trusted::default();
        let r = original(
            request(
                "/auth/forward",
                &[
                    ("x-forwarded-method", "DELETE"),
                    ("x-forwarded-uri", "/notes/1?x=y"),
                    ("x-forwarded-host", "app.example.com"),
                    ("host", "127.0.0.1:8000"),
                ],
            ),
            &forwarded,
        )
        .unwrap();
        assert_eq!(r.method(), Method::DELETE);
        assert_eq!(r.uri(), "/notes/1?x=y");
        assert_eq!(r.headers()["host"], "app.example.com");
        assert!(r.headers().get("accept").is_none());
        // nginx's names, when the settings name them.
        let nginx = Trusted::new(&ForwardAuthSettings {
            method_header: "X-Original-Method".into(),
            uri_header: "X-Original-URI".into(),
            ..ForwardAuthSettings::default()
        });
        let r = original(
            request(
                "/auth/forward",
                &[("x-original-method", "POST"), ("x-original-uri", "/a")],
            ),
            &nginx,
        )
        .unwrap();
        assert_eq!((r.method(), r.uri().path()), (&Method::POST, "/a"));
        // The other spelling beside the trusted one is refused, whichever is configured.
        for (trusted, other) in [
            (&forwarded, "x-original-method"),
            (&nginx, "x-forwarded-method"),
        ] {
            let err = original(
                request(
                    "/auth/forward",
                    &[
                        ("x-forwarded-method", "POST"),
                        ("x-original-method", "POST"),
                        (other, "GET"),
                    ],
                ),
                trusted,
            )
            .unwrap_err();
            assert_eq!(err.status(), StatusCode::BAD_REQUEST, "{other}");
        }
    }

    #[test]
    fn without_them_the_request_is_the_original_as_envoy_sends_it() {
        let mut r = request("/auth/forward/api/notes?page=2", &[]);
        *r.method_mut() = Method::PATCH;
        let r = original(r, &Trusted::default()).unwrap();
        assert_eq!(r.method(), Method::PATCH);
        assert_eq!(r.uri(), "/api/notes?page=2");
        assert_eq!(
            original(request("/auth/forward", &[]), &Trusted::default())
                .unwrap()
                .uri(),
            "/"
        );
    }

    #[test]
    fn malformed_headers_are_refused_not_guessed() {
        for (name, value) in [
            ("x-forwarded-method", "GE T"),
            ("x-forwarded-uri", "https://evil.example/"),
            ("x-forwarded-uri", "//evil.example/"),
            ("x-forwarded-uri", "notes"),
        ] {
            let err = original(
                request("/auth/forward", &[(name, value)]),
                &Trusted::default(),
            )
            .unwrap_err();
            assert_eq!(err.status(), StatusCode::BAD_REQUEST, "{name}: {value}");
        }
    }
}
