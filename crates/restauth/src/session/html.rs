//! The pieces of an HTML page the browser-facing views share (with `html-login`): no framing,
//! no caching, a redirect, a failed template, Django's CSRF failure page, HTML negotiation.

use axum::response::{IntoResponse, Response};
use http::{HeaderMap, HeaderValue, StatusCode, header};

use super::login::private;
use crate::core::error::Error;
use crate::session::safe_url::iri_to_uri;

/// An HTML page that no other site may frame (clickjacking): Django's `X-Frame-Options: DENY`,
/// and CSP's `frame-ancestors 'none'` for browsers that prefer it.
pub(crate) fn html(status: StatusCode, body: String) -> Response {
    private(
        (
            status,
            [
                (header::CONTENT_TYPE, "text/html; charset=utf-8"),
                (header::X_FRAME_OPTIONS, "DENY"),
                (header::CONTENT_SECURITY_POLICY, "frame-ancestors 'none'"),
            ],
            body,
        )
            .into_response(),
    )
}

/// A page whose template fails while rendering (e.g. a filter given the wrong value): the
/// template is the operator's, so the reason goes to the log and the client gets a 500.
pub(crate) fn template_failure(error: &minijinja::Error) -> Response {
    Error::Internal(format!("template: {error}")).into_response()
}

pub(crate) fn redirect(location: &str) -> Response {
    let mut r = StatusCode::FOUND.into_response();
    // Percent-encoded, a location holds no tab or line break for a browser to drop
    // (`iri_to_uri` leaves its own output unchanged).
    if let Ok(v) = HeaderValue::from_str(&iri_to_uri(location)) {
        r.headers_mut().insert(header::LOCATION, v);
    }
    private(r)
}

/// The 406 of a page asked for in a media type other than HTML (the pages render only
/// `text/html`, and negotiate it as DRF's views negotiate JSON).
pub(crate) fn html_refused(headers: &HeaderMap) -> Option<Response> {
    (!crate::pipeline::negotiation::accepts(headers, "text/html"))
        .then(|| Error::NotAcceptable.into_response())
}

pub(crate) fn csrf_failure_page(reason: &str) -> Response {
    html(
        StatusCode::FORBIDDEN,
        format!(
            "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>403 Forbidden</title></head>\
             <body><h1>Forbidden (403)</h1><p>CSRF verification failed. Request aborted.</p><p>{}</p></body></html>",
            crate::session::templates::escape(reason)
        ),
    )
}
