//! The OpenAPI description of [`router`](super::router) and, with the `html-login` feature,
//! of the account page.

use utoipa::openapi::{ArrayBuilder, HttpMethod, OpenApi};

use crate::core::settings::Settings;
use crate::pipeline::openapi::{
    Describer, Guard, Op, SEND_CSRF, boolean, csrf_header, date_time, empty_response, integer,
    json_response, nullable_date_time, path_parameter, required_object, string,
};

/// The caller's tokens and sessions under `/api/auth/`, the account page, and their schemas.
pub fn document(settings: &Settings) -> OpenApi {
    let d = Describer::new(settings);
    let user = || Guard::Required(d.defaults());
    let not_found = || json_response("No such object (or not the caller's)", "Detail");
    let list_tokens = Op::new("device_tokens", "devices", "The caller's tokens", user())
        .describe(
            "Every API token of the caller, newest first: when it was created and last used, \
             when it expires, and the `User-Agent` and client address it was issued to; \
             `current` marks the token of this request. Never the key.",
        )
        .respond("200", json_response("The tokens", "TokenDeviceList"));
    let revoke_token = Op::new("device_token_revoke", "devices", "Revoke a token", user())
        .describe(format!(
            "Deletes one of the caller's tokens; every server refuses it at once. {SEND_CSRF}"
        ))
        .parameter(path_parameter("id", "The token's `id` from the list", true))
        .parameter(csrf_header())
        .respond("204", empty_response("Revoked"))
        .respond("404", not_found());
    let list_sessions = Op::new(
        "device_sessions",
        "devices",
        "The caller's sessions",
        user(),
    )
    .describe(
        "Every live session of the caller, newest first, by an opaque `id` (never the key): \
         when it started and was last seen, when it expires, its `User-Agent` and client \
         address; `current` marks the session of this request.",
    )
    .respond("200", json_response("The sessions", "SessionDeviceList"));
    let revoke_session = Op::new("device_session_revoke", "devices", "End a session", user())
        .describe(format!("Ends one of the caller's sessions. {SEND_CSRF}"))
        .parameter(path_parameter(
            "id",
            "The session's `id` from the list",
            false,
        ))
        .parameter(csrf_header())
        .respond("204", empty_response("Ended"))
        .respond("404", not_found());
    let logout_all = Op::new("device_logout_all", "devices", "Log out everywhere", user())
        .describe(format!(
            "Ends every token, session and JWT of the caller issued until now, this request's \
             own included (knox's `logoutall`). {SEND_CSRF}"
        ))
        .parameter(csrf_header())
        .respond("204", empty_response("Logged out everywhere"));
    let delete = |op| d.item(HttpMethod::Delete, d.api_view(op));
    let paths = vec![
        ("/api/auth/tokens/".to_owned(), d.get(list_tokens, true)),
        ("/api/auth/tokens/{id}/".to_owned(), delete(revoke_token)),
        ("/api/auth/sessions/".to_owned(), d.get(list_sessions, true)),
        (
            "/api/auth/sessions/{id}/".to_owned(),
            delete(revoke_session),
        ),
        ("/api/auth/logout-all/".to_owned(), d.post(logout_all, true)),
    ];
    #[cfg(feature = "html-login")]
    let paths = paths.into_iter().chain(account_page(&d)).collect();
    let token = required_object([
        ("id", integer()),
        ("created", date_time()),
        ("last_used", nullable_date_time()),
        ("expiry", nullable_date_time()),
        ("user_agent", string()),
        ("address", string()),
        ("current", boolean()),
    ]);
    let session = required_object([
        ("id", string()),
        ("created", date_time()),
        ("last_seen", date_time()),
        ("expiry", date_time()),
        ("user_agent", string()),
        ("address", string()),
        ("current", boolean()),
    ]);
    d.document(
        &[(
            "devices",
            "The caller's own tokens and sessions, and the account page",
        )],
        paths,
        vec![
            ("TokenDeviceList", ArrayBuilder::new().items(token).into()),
            (
                "SessionDeviceList",
                ArrayBuilder::new().items(session).into(),
            ),
        ],
    )
}

/// The account page and its forms.
#[cfg(feature = "html-login")]
fn account_page(d: &Describer<'_>) -> Vec<(String, utoipa::openapi::PathItem)> {
    use crate::pipeline::openapi::{
        SharedResponse, csrf_form_body, html_response, redirect_response,
    };

    let page = Op::new("account_page", "devices", "The account page", Guard::Open)
        .describe(format!(
            "HTML list of the user's tokens and sessions with a revoke button each and \"log \
             out everywhere\", for the user of the `{}` cookie; without a live session, a \
             redirect to the login page.",
            d.settings().session.cookie_name
        ))
        .respond("200", html_response("The account page"))
        .respond("302", redirect_response("Not logged in: to the login page"))
        .respond_with(&[SharedResponse::NotAcceptable]);
    let submit = |id, summary, text: &str, with_id: bool| {
        let mut op = Op::new(id, "devices", summary, Guard::Open)
            .describe(format!(
                "{text} A form of the account page (CSRF-protected: the `csrfmiddlewaretoken` \
                 field); redirects back to it, or to the logout page's destination when the \
                 caller's own session ended."
            ))
            .body(csrf_form_body())
            .respond("302", redirect_response("Done, or not logged in"))
            .respond("403", html_response("CSRF verification failed"))
            .respond(
                "404",
                json_response("No such token or session of the user", "Detail"),
            )
            .respond_with(&SharedResponse::FORM_PAGE);
        if with_id {
            op = op.parameter(path_parameter("id", "The id shown on the page", false));
        }
        d.item(HttpMethod::Post, op)
    };
    vec![
        ("/account/".to_owned(), d.item(HttpMethod::Get, page)),
        (
            "/account/tokens/{id}/revoke/".to_owned(),
            submit(
                "account_token_revoke",
                "Revoke a token (form)",
                "Revokes one token.",
                true,
            ),
        ),
        (
            "/account/sessions/{id}/revoke/".to_owned(),
            submit(
                "account_session_revoke",
                "End a session (form)",
                "Ends one session.",
                true,
            ),
        ),
        (
            "/account/logout-all/".to_owned(),
            submit(
                "account_logout_all",
                "Log out everywhere (form)",
                "Ends every token, session and JWT of the user.",
                false,
            ),
        ),
    ]
}
