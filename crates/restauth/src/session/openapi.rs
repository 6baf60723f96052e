//! The OpenAPI description of [`router`](super::router): the JSON login, logout and CSRF views
//! and, with the `html-login` feature, the login and logout pages.

use utoipa::openapi::OpenApi;

use crate::core::settings::{AuthClass, Settings};
use crate::pipeline::openapi::{
    Describer, Guard, Op, SharedResponse, boolean, csrf_header, integer, json_response, login_body,
    required_object, string, username_login_schema,
};

/// The session views at `/api/auth/…` and the pages at `[session] login_url` and `logout_url`,
/// and their schemas.
pub fn document(settings: &Settings) -> OpenApi {
    let d = Describer::new(settings);
    let field = settings.username_field();
    let login = Op::new("session_login", "session", "Log in (JSON)", Guard::Open)
        .describe(format!(
            "Starts a session for a single-page app: `username` (matched against `{field}`, \
             Django's `USERNAME_FIELD`) and `password`, with the CSRF \
             token of `GET /api/auth/csrf/` in `X-CSRFToken` (the login is CSRF-protected for \
             everyone). Sets the session cookie and a new CSRF cookie."
        ))
        .parameter(csrf_header())
        .body(login_body("LoginCredentials"))
        .respond("200", json_response("The user, now logged in", "User"))
        .respond("403", json_response("CSRF verification failed", "Detail"))
        .respond_with(&[SharedResponse::BadRequest, SharedResponse::Throttled]);
    let logout = Op::new(
        "session_logout",
        "session",
        "Log out (JSON)",
        Guard::Required(vec![AuthClass::Session]),
    )
    .describe(
        "Ends the session of the request (CSRF-checked: send `X-CSRFToken`) and deletes its \
         cookie.",
    )
    .parameter(csrf_header())
    .respond("200", json_response("Logged out", "Detail"));
    let csrf = Op::new("session_csrf", "session", "Get a CSRF token", Guard::Open)
        .describe(format!(
            "Sets the `{}` cookie and returns a masked token to send as `X-CSRFToken`.",
            settings.csrf.cookie_name
        ))
        .respond("200", json_response("A CSRF token", "CsrfToken"));
    let paths = vec![
        ("/api/auth/login/".to_owned(), d.post(login, true)),
        ("/api/auth/logout/".to_owned(), d.post(logout, false)),
        ("/api/auth/csrf/".to_owned(), d.get(csrf, true)),
    ];
    #[cfg(feature = "html-login")]
    let paths = paths.into_iter().chain(pages(&d)).collect();
    let user = required_object([
        ("id", integer()),
        ("username", string()),
        ("email", string()),
        ("first_name", string()),
        ("last_name", string()),
        ("is_staff", boolean()),
    ]);
    d.document(
        &[("session", "Django sessions and CSRF")],
        paths,
        vec![
            username_login_schema(),
            ("User", user.into()),
            (
                "CsrfToken",
                required_object([("csrfToken", string())]).into(),
            ),
        ],
    )
}

/// Django's login page (GET, and the form's POST) and the logout form's POST.
#[cfg(feature = "html-login")]
fn pages(d: &Describer<'_>) -> Vec<(String, utoipa::openapi::PathItem)> {
    use crate::pipeline::openapi::{
        csrf_form_body, html_response, object, parsed_body, query_parameter, redirect_response,
    };
    use utoipa::openapi::HttpMethod;

    let session = &d.settings().session;
    let page = Op::new("login_page", "session", "The login page", Guard::Open)
        .describe("Django's login form (HTML), with a CSRF token in a hidden field.")
        .parameter(query_parameter(
            "next",
            "Where to go after login: same-site paths only, else the configured page.",
        ))
        .respond("200", html_response("The login form"))
        .respond_with(&[SharedResponse::NotAcceptable]);
    let form = object(
        [
            ("username", string()),
            ("password", string()),
            ("csrfmiddlewaretoken", string()),
            ("next", string()),
        ],
        &[],
    );
    let submit = Op::new(
        "login_submit",
        "session",
        "Submit the login form",
        Guard::Open,
    )
    .describe(
        "The form of the login page. A success redirects (302) with the session and CSRF \
         cookies; a failure shows the form again with one generic message.",
    )
    .body(parsed_body(form.into(), true))
    .respond("200", html_response("The form again, with an error"))
    .respond(
        "302",
        redirect_response("Logged in: to `next` or the configured page"),
    )
    .respond("403", html_response("CSRF verification failed"))
    .respond_with(&SharedResponse::FORM_PAGE)
    .respond_with(&[SharedResponse::Throttled]);
    let logout = Op::new("logout_submit", "session", "Log out (form)", Guard::Open)
        .describe(
            "Ends the session of the cookie and redirects to the configured page \
             (CSRF-protected: the `csrfmiddlewaretoken` field or `X-CSRFToken`).",
        )
        .parameter(csrf_header())
        .body(csrf_form_body())
        .respond("302", redirect_response("Logged out"))
        .respond("403", html_response("CSRF verification failed"))
        .respond_with(&SharedResponse::FORM_PAGE);
    let mut login = d.item(HttpMethod::Get, page);
    login.merge_operations(d.item(HttpMethod::Post, submit));
    vec![
        (session.login_url.clone(), login),
        (session.logout_url.clone(), d.item(HttpMethod::Post, logout)),
    ]
}
