//! restauth's own page for a mailed reset link (when `[accounts] password_reset_confirm_url`
//! is unset): Django's `PasswordResetConfirmView` in short. It asks for the new password twice,
//! is CSRF-protected like the login page, shows Django's validator messages, and sets the
//! password once; the link then stops working.
//!
//! The token is in the page's address, so the page sends no `Referer` to another site
//! (`Referrer-Policy: same-origin`; `no-referrer` would make browsers send `Origin: null` with
//! the form, which the CSRF check refuses), cannot be framed and is never cached.

use axum::Router;
use axum::extract::{Path, Request, State};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use http::{HeaderMap, HeaderValue, StatusCode, header};
use minijinja::context;

use super::AccountsService;
use super::mail::RESET_PAGE;
use crate::core::error::{Error, ValidationErrors};
use crate::pipeline::audit::Source;
use crate::pipeline::parsers::RequestData;
use crate::pipeline::throttling::client_of;
use crate::session::authentication::check_csrf;
use crate::session::{cookies, csrf};

/// Django's `SetPasswordForm` message when the two fields differ.
const MISMATCH: &str = "The two password fields didn’t match.";

pub(super) fn routes(router: Router<AccountsService>, page_path: &str) -> Router<AccountsService> {
    router.route(page_path, get(page).post(submit))
}

/// What the page shows.
enum Shown<'a> {
    Form(&'a [String]),
    Invalid,
    Done,
}

fn render(service: &AccountsService, headers: &HeaderMap, action: &str, shown: Shown) -> Response {
    let secret = cookies::get(headers, &service.settings().csrf.cookie_name)
        .and_then(|c| csrf::secret_from_cookie(c).ok())
        .unwrap_or_else(csrf::new_secret);
    let (state, errors) = match shown {
        Shown::Form(errors) => ("form", errors),
        Shown::Invalid => ("invalid", &[][..]),
        Shown::Done => ("done", &[][..]),
    };
    let body = service.templates().render(
        RESET_PAGE,
        context! {
            state,
            errors,
            action,
            csrf_token => csrf::mask_secret(&secret),
            site_name => service.settings().accounts.site_name,
        },
    );
    let body = match body {
        Ok(b) => b,
        Err(e) => return Error::Internal(format!("template: {e}")).into_response(),
    };
    let mut response = (
        StatusCode::OK,
        [
            (header::CONTENT_TYPE, "text/html; charset=utf-8"),
            (header::X_FRAME_OPTIONS, "DENY"),
            (header::CONTENT_SECURITY_POLICY, "frame-ancestors 'none'"),
            (header::REFERRER_POLICY, "same-origin"),
            (
                header::CACHE_CONTROL,
                "max-age=0, no-cache, no-store, must-revalidate, private",
            ),
        ],
        body,
    )
        .into_response();
    response.headers_mut().append(
        header::SET_COOKIE,
        cookies::csrf_cookie(&service.settings().csrf, &secret),
    );
    response
}

/// The page's own address, as the form posts back to it.
fn action(service: &AccountsService, uid: &str, token: &str) -> String {
    format!(
        "{}password/reset/confirm/{uid}/{token}/",
        super::routes::prefix(&service.settings().accounts)
    )
}

fn html_refused(headers: &HeaderMap) -> Option<Response> {
    (!crate::pipeline::negotiation::accepts(headers, "text/html"))
        .then(|| Error::NotAcceptable.into_response())
}

async fn page(
    State(service): State<AccountsService>,
    Path((uid, token)): Path<(String, String)>,
    headers: HeaderMap,
) -> Response {
    if let Some(refused) = html_refused(&headers) {
        return refused;
    }
    let action = action(&service, &uid, &token);
    match service.user_of_link(&uid, &token).await {
        Ok(_) => render(&service, &headers, &action, Shown::Form(&[])),
        Err(Error::Validation(_)) => render(&service, &headers, &action, Shown::Invalid),
        Err(e) => e.into_response(),
    }
}

async fn submit(
    State(service): State<AccountsService>,
    Path((uid, token)): Path<(String, String)>,
    request: Request,
) -> Response {
    if let Some(refused) = html_refused(request.headers()) {
        return refused;
    }
    let (parts, body) = request.into_parts();
    let headers = parts.headers;
    let client = match client_of(
        &headers,
        &parts.extensions,
        service.settings().rest_framework.num_proxies,
    ) {
        Ok(c) => c,
        Err(e) => return e.into_response(),
    };
    let limit = service.settings().data_upload_max_memory_size.0;
    let bytes = match axum::body::to_bytes(body, limit).await {
        Ok(bytes) => bytes,
        Err(e) => return crate::core::error::body_read_error(&e, true).into_response(),
    };
    let content_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok());
    let data = match RequestData::parse(content_type, &bytes) {
        Ok(d) => d,
        Err(e) => return e.into_response(),
    };
    let text = |name: &str| data.0.get(name).and_then(|v| v.as_str()).unwrap_or("");
    if let Err(Error::CsrfFailed { reason, .. }) = check_csrf(
        service.sessions(),
        &parts.method,
        &headers,
        Some(text("csrfmiddlewaretoken")),
    ) {
        let mut r = Error::CsrfFailed {
            reason,
            new_cookie: None,
        }
        .into_response();
        r.headers_mut().insert(
            header::REFERRER_POLICY,
            HeaderValue::from_static("same-origin"),
        );
        return r;
    }
    let action = action(&service, &uid, &token);
    let (first, second) = (text("new_password1"), text("new_password2"));
    if first.is_empty() || second.is_empty() {
        let errors = ["This field is required.".to_owned()];
        return render(&service, &headers, &action, Shown::Form(&errors));
    }
    if first != second {
        return render(
            &service,
            &headers,
            &action,
            Shown::Form(&[MISMATCH.to_owned()]),
        );
    }
    let source = Source::with_client(client, &headers);
    match super::routes::confirm_reset(&service, &uid, &token, first, &source).await {
        Ok(()) => render(&service, &headers, &action, Shown::Done),
        Err(Error::Validation(errors)) => {
            let messages = password_messages(&errors);
            if messages.is_empty() {
                // The uid or token: the link is not valid (any more).
                render(&service, &headers, &action, Shown::Invalid)
            } else {
                render(&service, &headers, &action, Shown::Form(&messages))
            }
        }
        Err(e) => e.into_response(),
    }
}

/// The validators' messages about the new password.
fn password_messages(errors: &ValidationErrors) -> Vec<String> {
    errors
        .as_json()
        .get("new_password")
        .and_then(|v| v.as_array())
        .into_iter()
        .flatten()
        .filter_map(|m| m.as_str().map(str::to_owned))
        .collect()
}
