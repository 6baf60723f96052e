//! restauth's own page for a mailed reset link (when `[accounts] password_reset_confirm_url`
//! is unset): Django's `PasswordResetConfirmView` in short. It asks for the new password twice,
//! is CSRF-protected like the login page, shows Django's validator messages, and sets the
//! password once; the link then stops working.
//!
//! The token is in the page's address, so the page sends no `Referer` to another site
//! (`Referrer-Policy: same-origin`; `no-referrer` would make browsers send `Origin: null` with
//! the form, which the CSRF check refuses), cannot be framed and is never cached.

use axum::extract::{Path, Request, State};
use axum::response::{IntoResponse, Response};
use axum::routing::{MethodRouter, get};
use http::{HeaderMap, HeaderValue, StatusCode, header};
use minijinja::context;

use super::mail::RESET_PAGE;
use super::{AccountsService, prefix};
use crate::core::error::{Error, ValidationErrors};
use crate::pipeline::audit::Source;
use crate::session::csrf::CSRF_FORM_FIELD;
use crate::session::login::{Submitted, read_form};

/// Django's `SetPasswordForm` message when the two fields differ.
const MISMATCH: &str = "The two password fields didn’t match.";

/// The page and its form's target (other methods get DRF's 405).
pub(super) fn route() -> MethodRouter<AccountsService> {
    get(page)
        .post(submit)
        .fallback(|method: http::Method| async move { Error::MethodNotAllowed(method) })
}

/// What the page shows.
enum Shown<'a> {
    Form(&'a [String]),
    Invalid,
    Done,
}

fn render(service: &AccountsService, headers: &HeaderMap, action: &str, shown: Shown) -> Response {
    let csrf = service.csrf();
    let secret = csrf.secret_of(headers);
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
            csrf_token => csrf.token(&secret),
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
    response
        .headers_mut()
        .append(header::SET_COOKIE, csrf.cookie(&secret));
    response
}

/// The page's own address, as the form posts back to it.
fn action(service: &AccountsService, uid: &str, token: &str) -> String {
    format!(
        "{}password/reset/confirm/{uid}/{token}/",
        prefix(&service.settings().accounts)
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
    match service
        .user_of_link(&uid, &token, super::LinkUse::Reset)
        .await
    {
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
    let Submitted {
        headers,
        method,
        data,
        client,
    } = match read_form(service.sessions(), service.login().throttles(), request).await {
        Ok(submitted) => submitted,
        Err(e) => return e.into_response(),
    };
    let text = |name: &str| data.0.get(name).and_then(|v| v.as_str()).unwrap_or("");
    if let Err(Error::CsrfFailed { reason, .. }) =
        service
            .csrf()
            .check(&method, &headers, Some(text(CSRF_FORM_FIELD)))
    {
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
    match service.confirm_reset(&uid, &token, first, &source).await {
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
