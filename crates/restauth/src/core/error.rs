//! One error type for the library, rendered the way DRF renders its exceptions.
//!
//! Every variant maps to DRF's status code and `{"detail": …}` body (spec `drf-wire.md` §1.4).
//! Authentication errors carry the challenge of the route's *first* authenticator; without one
//! they are answered with 403, exactly as DRF's `handle_exception` does.

use std::borrow::Cow;

use axum::response::{IntoResponse, Response};
use http::{HeaderValue, Method, StatusCode, header};
use serde_json::{Map, Value, json};

use crate::core::throttled::throttled_response_parts;

/// The `detail` of DRF's `NotAuthenticated`.
pub const NOT_AUTHENTICATED: &str = "Authentication credentials were not provided.";
/// The `detail` of DRF's `PermissionDenied`.
pub const PERMISSION_DENIED: &str = "You do not have permission to perform this action.";
/// DRF's `AuthTokenSerializer` refusal, also the JSON login's: the same words whether the user
/// is unknown, inactive or gave a wrong password.
pub const UNABLE_TO_LOG_IN: &str = "Unable to log in with provided credentials.";
/// The `detail` of DRF's `NotAcceptable`.
pub const NOT_ACCEPTABLE: &str = "Could not satisfy the request Accept header.";
/// The `detail` of a 503, when the store cannot answer.
pub const UNAVAILABLE: &str = "Service temporarily unavailable, try again later.";

/// A response body: DRF's plain `{"detail": …}` or a richer object (simplejwt's bodies).
#[derive(Debug, Clone, PartialEq)]
pub enum ErrorBody {
    /// DRF's `{"detail": "…"}`.
    Detail(Cow<'static, str>),
    /// Any other JSON object, sent as it is (simplejwt's `detail`, `code` and `messages`).
    Json(Value),
}

impl ErrorBody {
    fn to_json(&self) -> Value {
        match self {
            ErrorBody::Detail(d) => json!({ "detail": d }),
            ErrorBody::Json(v) => v.clone(),
        }
    }
}

impl From<&'static str> for ErrorBody {
    fn from(s: &'static str) -> Self {
        ErrorBody::Detail(Cow::Borrowed(s))
    }
}

impl From<String> for ErrorBody {
    fn from(s: String) -> Self {
        ErrorBody::Detail(Cow::Owned(s))
    }
}

/// Field errors in serializer order: `{"username":["This field is required."], …}`.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ValidationErrors(Map<String, Value>);

impl ValidationErrors {
    /// No errors yet; [`add`](Self::add) them field by field.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds `message` to the list of `field`.
    pub fn add(&mut self, field: &str, message: impl Into<String>) {
        let entry = self
            .0
            .entry(field.to_owned())
            .or_insert_with(|| Value::Array(Vec::new()));
        if let Value::Array(list) = entry {
            list.push(Value::String(message.into()));
        }
    }

    /// A single `non_field_errors` message, as DRF's object-level validation renders it.
    pub fn non_field(message: impl Into<String>) -> Self {
        let mut errors = Self::new();
        errors.add("non_field_errors", message);
        errors
    }

    /// Whether no error was added.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// `Ok(())` when nothing was added, else the errors as an [`Error`].
    pub fn into_result(self) -> Result<(), Error> {
        if self.is_empty() {
            Ok(())
        } else {
            Err(Error::Validation(self))
        }
    }

    /// The errors as the JSON object the 400 body is.
    pub fn as_json(&self) -> &Map<String, Value> {
        &self.0
    }
}

/// Everything that can end a request early.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// No authenticator recognised the request and a permission needs a user (401 or 403).
    #[error("{NOT_AUTHENTICATED}")]
    NotAuthenticated {
        /// The route's first authenticator's `WWW-Authenticate` value; `None` answers 403.
        challenge: Option<HeaderValue>,
    },
    /// An authenticator recognised its scheme and refused the credentials (401 or 403).
    #[error("authentication failed: {body:?}")]
    AuthenticationFailed {
        /// What the 401 or 403 says.
        body: ErrorBody,
        /// The route's first authenticator's `WWW-Authenticate` value; `None` answers 403.
        challenge: Option<HeaderValue>,
    },
    /// A permission refused the request (403).
    #[error("permission denied: {0:?}")]
    PermissionDenied(ErrorBody),
    /// Django's CSRF check failed (403 `CSRF Failed: <reason>`); a malformed cookie is replaced
    /// by `new_cookie`, as Django does.
    #[error("CSRF Failed: {reason}")]
    CsrfFailed {
        /// Django's reason, e.g. `CSRF token missing.`
        reason: String,
        /// A fresh `csrftoken` cookie when the one sent was malformed.
        new_cookie: Option<HeaderValue>,
    },
    /// DRF's `NotFound` (404 `Not found.`), also what a path that does not convert answers.
    #[error("Not found.")]
    NotFound,
    /// DRF's `NotFound` with its own detail (a paginator's "Invalid page.").
    #[error("{0}")]
    NotFoundDetail(String),
    /// DRF's `MethodNotAllowed` (405), with an `Allow` header of the view's methods.
    #[error("Method \"{0}\" not allowed.")]
    MethodNotAllowed(Method),
    /// DRF's `NotAcceptable` (406): the `Accept` header allows nothing the view renders.
    #[error("{}", NOT_ACCEPTABLE)]
    NotAcceptable,
    /// DRF's `UnsupportedMediaType` (415): the body is neither JSON, form nor multipart.
    #[error("Unsupported media type \"{0}\" in request.")]
    UnsupportedMediaType(String),
    /// A malformed body: DRF's `ParseError` (400).
    #[error("{0}")]
    Parse(String),
    /// Serializer validation errors (400).
    #[error("invalid input")]
    Validation(ValidationErrors),
    /// A body past `data_upload_max_memory_size` or the server's limit (413).
    #[error("Request body is too large.")]
    PayloadTooLarge,
    /// 429 with DRF's text; `wait` in seconds.
    #[error("Request was throttled.")]
    Throttled {
        /// Seconds until a request would be allowed, sent as `Retry-After` and in the detail.
        wait: Option<f64>,
    },
    /// The request's body did not arrive within the server's body read timeout (408); the
    /// connection is closed after the answer.
    #[error("The request body arrived too slowly.")]
    BodyTimeout,
    /// The store (or another dependency) cannot answer now (503).
    #[error("{UNAVAILABLE}")]
    Unavailable,
    /// A bug or an unexpected failure: logged, answered with a generic 500.
    #[error("internal error: {0}")]
    Internal(String),
    /// A setting that cannot work (unreachable database, refused role, …), found while
    /// starting; the text names the setting and what to change.
    #[error("{0}")]
    Config(String),
    /// The app is put together in a way that cannot work (no client address to throttle by,
    /// say): a generic 500, with the explanation logged once per process, not per request.
    #[error("misconfigured: {0}")]
    Misconfigured(&'static str),
}

impl Error {
    /// An `AuthenticationFailed` with DRF's plain body and no challenge yet.
    pub fn authentication_failed(body: impl Into<ErrorBody>) -> Self {
        Error::AuthenticationFailed {
            body: body.into(),
            challenge: None,
        }
    }

    /// A `PermissionDenied` (403) with this detail instead of DRF's default one.
    pub fn permission_denied(body: impl Into<ErrorBody>) -> Self {
        Error::PermissionDenied(body.into())
    }

    /// A `NotAuthenticated` without a challenge yet: the policy adds the route's first class's.
    pub fn not_authenticated() -> Self {
        Error::NotAuthenticated { challenge: None }
    }

    /// Attaches the challenge of the route's first authenticator, which decides 401 vs 403.
    pub fn with_challenge(self, value: Option<&HeaderValue>) -> Self {
        match self {
            Error::NotAuthenticated { .. } => Error::NotAuthenticated {
                challenge: value.cloned(),
            },
            Error::AuthenticationFailed { body, .. } => Error::AuthenticationFailed {
                body,
                challenge: value.cloned(),
            },
            other => other,
        }
    }

    /// The HTTP status this error is answered with.
    pub fn status(&self) -> StatusCode {
        match self {
            Error::NotAuthenticated { challenge }
            | Error::AuthenticationFailed { challenge, .. } => {
                if challenge.is_some() {
                    StatusCode::UNAUTHORIZED
                } else {
                    StatusCode::FORBIDDEN
                }
            }
            Error::PermissionDenied(_) | Error::CsrfFailed { .. } => StatusCode::FORBIDDEN,
            Error::NotFound | Error::NotFoundDetail(_) => StatusCode::NOT_FOUND,
            Error::MethodNotAllowed(_) => StatusCode::METHOD_NOT_ALLOWED,
            Error::NotAcceptable => StatusCode::NOT_ACCEPTABLE,
            Error::UnsupportedMediaType(_) => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            Error::Parse(_) | Error::Validation(_) => StatusCode::BAD_REQUEST,
            Error::PayloadTooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            Error::Throttled { .. } => StatusCode::TOO_MANY_REQUESTS,
            Error::Unavailable => StatusCode::SERVICE_UNAVAILABLE,
            Error::BodyTimeout => StatusCode::REQUEST_TIMEOUT,
            Error::Internal(_) | Error::Config(_) | Error::Misconfigured(_) => {
                StatusCode::INTERNAL_SERVER_ERROR
            }
        }
    }

    fn body(&self) -> Value {
        match self {
            Error::AuthenticationFailed { body, .. } | Error::PermissionDenied(body) => {
                body.to_json()
            }
            Error::Validation(errors) => Value::Object(errors.0.clone()),
            Error::Throttled { wait } => json!({ "detail": throttled_response_parts(*wait).0 }),
            Error::Internal(_) | Error::Config(_) | Error::Misconfigured(_) => {
                json!({ "detail": "A server error occurred." })
            }
            other => json!({ "detail": other.to_string() }),
        }
    }
}

/// A compact JSON response with DRF's `Content-Type`. Built by hand: a `(status, headers,
/// bytes)` tuple inserts `application/octet-stream` first and then replaces it, on every
/// answer.
pub fn json_response(status: StatusCode, body: &Value) -> Response {
    let bytes = serde_json::to_vec(body).unwrap_or_else(|_| b"{}".to_vec());
    let mut response = Response::new(axum::body::Body::from(bytes));
    *response.status_mut() = status;
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    response
}

/// Why a request body could not be read: it did not arrive within the server's body read
/// timeout (see `ServeOptions::body_read_timeout`).
#[derive(Debug)]
pub struct BodyTimedOut;

impl std::fmt::Display for BodyTimedOut {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("the request body did not arrive in time")
    }
}

impl std::error::Error for BodyTimedOut {}

/// What a failure to read a request's body answers: 408 when it came too slowly (anywhere in
/// the error's sources), 413 past a length limit, else DRF's 400.
pub(crate) fn body_read_error(e: &(dyn std::error::Error + 'static), too_large: bool) -> Error {
    let mut source = Some(e);
    while let Some(e) = source {
        if e.is::<BodyTimedOut>() {
            return Error::BodyTimeout;
        }
        source = e.source();
    }
    if too_large {
        Error::PayloadTooLarge
    } else {
        Error::Parse("Malformed request.".into())
    }
}

/// Why a request was answered with a 500, kept on the response for the layer that knows the
/// request's id ([`Envelope`](crate::layers::Envelope)), which logs it once with that id.
#[derive(Clone, Debug)]
pub struct Failure(pub String);

thread_local! {
    /// Whether the code running now answers inside an `Envelope`, which logs failures.
    static ENVELOPED: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

/// Runs `f` (the poll of a request's future) with its failures left to the caller to log,
/// with the request's id: see [`Failure`].
pub fn with_failures_kept<T>(f: impl FnOnce() -> T) -> T {
    let before = ENVELOPED.with(|e| e.replace(true));
    let result = f();
    ENVELOPED.with(|e| e.set(before));
    result
}

/// Logs why a request failed: now, or, inside an `Envelope`, on the response for it to log
/// with the request's id. Each cause is logged once.
fn report(cause: String, response: &mut Response) {
    if ENVELOPED.with(std::cell::Cell::get) {
        response.extensions_mut().insert(Failure(cause));
    } else {
        tracing::error!(%cause, "request failed");
    }
}

/// Logs a misconfiguration's explanation the first time it is met in this process.
fn report_once(explanation: &'static str) {
    static SEEN: std::sync::Mutex<Vec<&'static str>> = std::sync::Mutex::new(Vec::new());
    let mut seen = SEEN
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    if !seen.contains(&explanation) {
        seen.push(explanation);
        tracing::error!("{explanation} (answered with 500; logged once)");
    }
}

impl IntoResponse for Error {
    fn into_response(self) -> Response {
        let mut response = json_response(self.status(), &self.body());
        match &self {
            Error::Internal(reason) => report(reason.clone(), &mut response),
            Error::Config(reason) => report(reason.clone(), &mut response),
            Error::Misconfigured(explanation) => report_once(explanation),
            _ => {}
        }
        let headers = response.headers_mut();
        match &self {
            Error::NotAuthenticated {
                challenge: Some(c), ..
            }
            | Error::AuthenticationFailed {
                challenge: Some(c), ..
            } => {
                headers.insert(header::WWW_AUTHENTICATE, c.clone());
            }
            Error::CsrfFailed {
                new_cookie: Some(cookie),
                ..
            } => {
                headers.insert(header::SET_COOKIE, cookie.clone());
            }
            Error::Throttled { wait } => {
                if let Some(secs) = throttled_response_parts(*wait).1 {
                    headers.insert(header::RETRY_AFTER, HeaderValue::from(secs));
                }
            }
            // The rest of the body may still be on its way: nothing more is read.
            Error::BodyTimeout => {
                headers.insert(header::CONNECTION, HeaderValue::from_static("close"));
            }
            _ => {}
        }
        response
    }
}

/// The library's result: [`Error`] unless said otherwise.
pub type Result<T, E = Error> = std::result::Result<T, E>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn no_challenge_turns_401_into_403() {
        assert_eq!(Error::not_authenticated().status(), StatusCode::FORBIDDEN);
        let c = HeaderValue::from_static("Token");
        assert_eq!(
            Error::not_authenticated().with_challenge(Some(&c)).status(),
            StatusCode::UNAUTHORIZED
        );
    }

    #[test]
    fn validation_errors_keep_field_order() {
        let mut e = ValidationErrors::new();
        e.add("username", "This field is required.");
        e.add("password", "This field is required.");
        let body = serde_json::to_string(&Error::Validation(e).body()).unwrap();
        assert_eq!(
            body,
            r#"{"username":["This field is required."],"password":["This field is required."]}"#
        );
    }
}
