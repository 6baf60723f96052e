//! [`Csrf`]: Django's CSRF check on a request, with the settings it needs — the cookie, the
//! form field or header, the Origin and Referer rules of [`check`](super::check) — and the
//! CSRF cookie the login pages set.

use std::sync::Arc;

use axum::body::Body;
use http::{HeaderMap, HeaderValue, Method, Request, header};

use super::{CsrfRequest, check, mask_secret, new_secret, secret_from_cookie};
use crate::core::error::{Error, body_read_error};
use crate::core::request::{is_csrf_exempt_method, is_secure};
use crate::core::settings::CsrfSettings;
use crate::pipeline::parsers::RequestData;
use crate::session::cookies;

/// The form field Django reads the token from.
pub(crate) const CSRF_FORM_FIELD: &str = "csrfmiddlewaretoken";
const CSRF_HEADER: &str = "x-csrftoken";

/// Django's CSRF check with `[csrf]`. Cheap to clone.
#[derive(Clone)]
pub struct Csrf {
    inner: Arc<Inner>,
}

struct Inner {
    settings: CsrfSettings,
    /// Django's `DATA_UPLOAD_MAX_MEMORY_SIZE`: the largest form read for its token.
    upload_limit: usize,
}

impl Csrf {
    /// Django's CSRF check with these settings, reading bodies up to `upload_limit` bytes.
    pub fn new(settings: CsrfSettings, upload_limit: usize) -> Self {
        Csrf {
            inner: Arc::new(Inner {
                settings,
                upload_limit,
            }),
        }
    }

    /// `[csrf]`.
    pub fn settings(&self) -> &CsrfSettings {
        &self.inner.settings
    }

    /// The largest form body read for its token.
    pub fn upload_limit(&self) -> usize {
        self.inner.upload_limit
    }

    /// Runs Django's CSRF check on `request`. Reads (and puts back) a form body to find
    /// `csrfmiddlewaretoken`. Failures are 403 `CSRF Failed: <reason>`.
    pub async fn enforce(&self, request: &mut Request<Body>) -> Result<(), Error> {
        if is_csrf_exempt_method(request.method()) {
            return Ok(());
        }
        let form_token = if is_form(request.headers()) {
            self.read_form_token(request).await?
        } else {
            None
        };
        self.check(request.method(), request.headers(), form_token.as_deref())
    }

    /// The check on already-read parts (`form_token` from a parsed form body, if any).
    pub fn check(
        &self,
        method: &Method,
        headers: &HeaderMap,
        form_token: Option<&str>,
    ) -> Result<(), Error> {
        let settings = &self.inner.settings;
        let text = |name: header::HeaderName| headers.get(name).and_then(|v| v.to_str().ok());
        let is_secure = is_secure(headers, settings.trust_forwarded_proto);
        let host = text(header::HOST).unwrap_or("");
        let request = CsrfRequest {
            method,
            is_secure,
            host,
            origin: text(header::ORIGIN),
            referer: text(header::REFERER),
            cookie: cookies::get(headers, &settings.cookie_name),
            form_token: form_token.filter(|t| !t.is_empty()),
            header_token: headers.get(CSRF_HEADER).and_then(|v| v.to_str().ok()),
            trusted_origins: &settings.trusted_origins,
            cookie_domain: settings.cookie_domain.as_deref(),
        };
        check(&request).map_err(|failure| {
            tracing::info!(reason = failure.reason(), "CSRF check failed");
            Error::CsrfFailed {
                reason: failure.reason().to_owned(),
                new_cookie: failure
                    .cookie_needs_reset()
                    .then(|| self.cookie(&new_secret())),
            }
        })
    }

    /// The CSRF secret of the request's cookie, or a new one.
    pub fn secret_of(&self, headers: &HeaderMap) -> String {
        cookies::get(headers, &self.inner.settings.cookie_name)
            .and_then(|c| secret_from_cookie(c).ok())
            .unwrap_or_else(new_secret)
    }

    /// A masked token for `secret`, as a form or `X-CSRFToken` carries it.
    pub fn token(&self, secret: &str) -> String {
        mask_secret(secret)
    }

    /// The `Set-Cookie` value of the CSRF cookie holding `secret`.
    pub fn cookie(&self, secret: &str) -> HeaderValue {
        cookies::csrf_cookie(&self.inner.settings, secret)
    }

    async fn read_form_token(&self, request: &mut Request<Body>) -> Result<Option<String>, Error> {
        let body = std::mem::take(request.body_mut());
        let bytes = axum::body::to_bytes(body, self.inner.upload_limit)
            .await
            .map_err(|e| body_read_error(&e, true))?;
        let content_type = request
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok());
        // A body that does not parse carries no token; the view's parser reports it.
        let token = RequestData::parse(content_type, &bytes)
            .ok()
            .and_then(|mut data| match data.0.remove(CSRF_FORM_FIELD) {
                Some(serde_json::Value::String(t)) => Some(t),
                _ => None,
            });
        *request.body_mut() = Body::from(bytes);
        Ok(token)
    }
}

fn is_form(headers: &HeaderMap) -> bool {
    headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .is_some_and(|m| {
            let m = m.trim();
            m.eq_ignore_ascii_case("application/x-www-form-urlencoded")
                || m.eq_ignore_ascii_case("multipart/form-data")
        })
}
