//! The OpenAPI description of [`router`](super::router): djoser's endpoints under
//! `[accounts] prefix`, and restauth's password reset page.

use utoipa::openapi::path::{Parameter, ParameterBuilder, ParameterIn};
use utoipa::openapi::request_body::RequestBody;
use utoipa::openapi::schema::{KnownFormat, SchemaFormat};
use utoipa::openapi::{HttpMethod, ObjectBuilder, OpenApi, PathItem, Required, Type};

use super::prefix;
use crate::core::settings::Settings;
use crate::pipeline::openapi::{
    Describer, Guard, Op, SharedResponse, empty_response, html_response, integer, json_response,
    login_body, login_schema, object, one_field_body, parsed_body, required_object, string,
};

/// The endpoints `[accounts]` enables (none when `enabled = false`, or on a Django project's
/// tables, where the server does not mount them), and their schemas.
pub fn document(settings: &Settings) -> OpenApi {
    let d = Describer::new(settings);
    if !settings.serves_accounts() {
        return d.document(&[], Vec::new(), Vec::new());
    }
    let base = prefix(&settings.accounts);
    let at = |path: &str| format!("{base}{path}");
    let signed_in = || Guard::Required(d.defaults());
    let anyone = || Guard::Optional(d.defaults());
    let set_password = Op::new(
        "users_set_password",
        "accounts",
        "Change the password",
        signed_in(),
    )
    .describe(
        "`new_password` (Django's validators) and `current_password` (checked behind the login \
         throttles). Every other token, session and JWT of the user ends; the token or session \
         that made the call keeps working (a JWT caller's tokens end too).",
    )
    .body(fields_body(&["new_password", "current_password"], true))
    .respond("204", empty_response("Changed"))
    .respond_with(&[SharedResponse::Throttled]);
    let reset = Op::new(
        "users_reset_password",
        "accounts",
        "Ask for a password reset mail",
        anyone(),
    )
    .describe(
        "Mails a reset link to the active accounts of `email`. The answer is the same whether \
         or not such an account exists. Every request counts in the `reset_password_ip` (per \
         client network, 10/hour) and `reset_password_email` (per address, 3/hour) throttles, \
         whether or not an account exists.",
    )
    .body(fields_body(&["email"], true))
    .respond("204", empty_response("Accepted"))
    .respond_with(&limited(
        settings,
        &["reset_password_ip", "reset_password_email"],
        &[SharedResponse::Unavailable],
    ));
    let confirm = Op::new(
        "users_reset_password_confirm",
        "accounts",
        "Set a new password from a reset link",
        anyone(),
    )
    .describe(
        "The `uid` and `token` of the mailed link, and `new_password`. A link works once, and \
         for `[accounts] password_reset_timeout`.",
    )
    .body(fields_body(&["uid", "token", "new_password"], true))
    .respond("204", empty_response("The password is set"));
    let field = settings
        .accounts
        .login_field
        .as_deref()
        .unwrap_or(settings.username_field());
    let login = Op::new(
        "token_login",
        "accounts",
        "Obtain a token (djoser)",
        anyone(),
    )
    .describe(format!(
        "djoser's `token/login/`: `{field}` (djoser's `LOGIN_FIELD`, `[accounts] login_field`) \
         and `password` give a new token as `auth_token`. Failed logins count towards the login \
         throttles."
    ))
    .body(login_body("TokenCreate"))
    .respond("200", json_response("The new token", "AuthToken"))
    .respond_with(&[SharedResponse::BadRequest, SharedResponse::Throttled]);
    let logout = Op::new(
        "token_logout",
        "accounts",
        "Revoke the caller's tokens (djoser)",
        signed_in(),
    )
    .describe(
        "Deletes every DRF token of the calling user, as djoser's `logout_user` does; a \
         session that made the call stays logged in.",
    )
    .respond("204", empty_response("Revoked"));
    let list = Op::new("users_list", "accounts", "List users (djoser)", signed_in())
        .describe(
            "djoser's `GET users/` with `HIDE_USERS`, as a plain list: a user sees only \
             themself; staff with `auth.view_user` or `auth.change_user` see every user, in id \
             order.",
        )
        .respond("200", json_response("The users", "AccountUserList"));
    let mut users = d.get(list, true);
    let mut paths = vec![
        (at("users/me/"), me(&d)),
        (at("users/{id}/"), user_by_id(&d)),
        (at("users/set_password/"), d.post(set_password, true)),
        (at("users/reset_password/"), d.post(reset, true)),
        (at("users/reset_password_confirm/"), d.post(confirm, true)),
        (at("token/login/"), d.post(login, true)),
        (at("token/logout/"), d.post(logout, false)),
        (at("password/reset/confirm/{uid}/{token}/"), reset_page(&d)),
    ];
    if settings.accounts.registration {
        let register = Op::new("users_create", "accounts", "Register", anyone())
            .describe(
                "`username`, `email` (optional) and `password` (Django's validators). With \
                 `[accounts] send_activation_email`, the account is inactive until the mailed \
                 link is used. Every request counts in the `registration_ip` throttle (per \
                 client network, 10/hour).",
            )
            .body(parsed_body(
                object(
                    [
                        ("username", string()),
                        ("email", string()),
                        ("password", string()),
                    ],
                    &["username", "password"],
                )
                .into(),
                true,
            ))
            .respond("201", json_response("The new user", "AccountUser"))
            .respond_with(&limited(
                settings,
                &["registration_ip"],
                &[SharedResponse::Unavailable],
            ));
        let activation = Op::new(
            "users_activation",
            "accounts",
            "Activate an account",
            anyone(),
        )
        .describe(
            "The `uid` and `token` of the activation mail. An active account answers 403. A \
             link made before the account was deactivated, or for an account staff or a \
             command deactivated, is not valid.",
        )
        .body(fields_body(&["uid", "token"], true))
        .respond("204", empty_response("Activated"));
        users.merge_operations(d.post(register, true));
        paths.push((at("users/activation/"), d.post(activation, true)));
        {
            let resend = Op::new(
                "users_resend_activation",
                "accounts",
                "Ask for the activation mail again",
                anyone(),
            )
            .describe(
                "Mails a new activation link to the inactive accounts of `email` (not to those \
                 staff or a command deactivated). The answer is the same whether or not such an \
                 account exists; every request counts in the `activation_resend` throttle (per \
                 address, 3/hour). Without `send_activation_email`, a valid body gets djoser's \
                 empty 400.",
            )
            .body(fields_body(&["email"], true))
            .respond("204", empty_response("Accepted"))
            .respond_with(&limited(
                settings,
                &["activation_resend"],
                &[SharedResponse::Unavailable],
            ));
            paths.push((at("users/resend_activation/"), d.post(resend, true)));
        }
    }
    let user = required_object([
        ("email", string()),
        ("id", integer()),
        ("username", string()),
    ])
    .description(Some("djoser's `UserSerializer`"));
    paths.push((at("users/"), users));
    let token = required_object([("auth_token", crate::token::openapi::key())]);
    let list = utoipa::openapi::ArrayBuilder::new()
        .items(utoipa::openapi::Ref::from_schema_name("AccountUser"))
        .description(Some("djoser's users, unpaginated"));
    d.document(
        &[(
            "accounts",
            "djoser's user endpoints: the current user, password change and reset, \
             registration ([accounts])",
        )],
        paths,
        vec![
            login_schema("TokenCreate", field),
            ("AccountUser", user.into()),
            ("AccountUserList", list.into()),
            ("AuthToken", token.into()),
        ],
    )
}

/// `others`, and the 429 of throttling when one of `scopes` is not `"off"`.
fn limited(settings: &Settings, scopes: &[&str], others: &[SharedResponse]) -> Vec<SharedResponse> {
    let rates = &settings.rest_framework.default_throttle_rates;
    let mut shared = others.to_vec();
    if scopes
        .iter()
        .any(|s| rates.get(*s).is_none_or(|r| r.0.is_some()))
    {
        shared.push(SharedResponse::Throttled);
    }
    shared
}

/// A body of string fields, each of them required when `all_required`, else none.
fn fields_body(names: &[&str], all_required: bool) -> RequestBody {
    let mut o = ObjectBuilder::new().schema_type(Type::Object);
    for name in names {
        o = o.property(*name, string());
        if all_required {
            o = o.required(*name);
        }
    }
    parsed_body(o.into(), true)
}

/// `users/me/`: read, update (`email` only), delete.
fn me(d: &Describer<'_>) -> PathItem {
    let signed_in = || Guard::Required(d.defaults());
    let body_errors = [
        SharedResponse::BadRequest,
        SharedResponse::PayloadTooLarge,
        SharedResponse::UnsupportedMediaType,
    ];
    let email = || string().format(Some(SchemaFormat::KnownFormat(KnownFormat::Email)));
    let me_body = || parsed_body(object([("email", email())], &[]).into(), false);
    let get = Op::new("users_me_read", "accounts", "The current user", signed_in())
        .describe("djoser's `users/me/`: `email`, `id` and `username`.")
        .respond("200", json_response("The user", "AccountUser"));
    let mut item = d.get(get, true);
    for (method, id, summary) in [
        (
            HttpMethod::Put,
            "users_me_update",
            "Update the current user",
        ),
        (
            HttpMethod::Patch,
            "users_me_partial_update",
            "Update the current user (partial)",
        ),
    ] {
        let op = Op::new(id, "accounts", summary, signed_in())
            .describe(
                "Only `email` is writable (`id` and `username` are read-only). With `[accounts] \
                 send_activation_email`, a new address makes the account inactive until the \
                 activation mail sent to it is used.",
            )
            .body(me_body())
            .respond("200", json_response("The user", "AccountUser"));
        let op = d.api_view(op).respond_with(&body_errors);
        item.merge_operations(d.item(method, op));
    }
    let delete = Op::new(
        "users_me_delete",
        "accounts",
        "Delete the current user",
        signed_in(),
    )
    .describe(
        "Needs `current_password` (checked behind the login throttles); every token and \
         session of the user ends with it.",
    )
    .body(one_field_body("current_password", "The user's password"))
    .respond("204", empty_response("Deleted"))
    .respond_with(&[SharedResponse::Throttled]);
    let delete = d.api_view(delete).respond_with(&body_errors);
    item.merge_operations(d.item(HttpMethod::Delete, delete));
    item
}

/// `users/{id}/`: as `users/me/` for the caller; another user for staff with the permission
/// each method needs.
fn user_by_id(d: &Describer<'_>) -> PathItem {
    let id_param = || {
        ParameterBuilder::new()
            .name("id")
            .parameter_in(ParameterIn::Path)
            .required(Required::True)
            .schema(Some(integer()))
            .build()
    };
    let others = " Another user: staff with `auth.view_user` or `auth.change_user` to read, \
                  `auth.change_user` to update, `auth.delete_user` to delete (the caller's own \
                  `current_password`), and only an active superuser acts on a superuser; \
                  403 otherwise, 404 for an id nobody has.";
    let signed_in = || Guard::Required(d.defaults());
    let body_errors = [
        SharedResponse::BadRequest,
        SharedResponse::PayloadTooLarge,
        SharedResponse::UnsupportedMediaType,
    ];
    let email = || string().format(Some(SchemaFormat::KnownFormat(KnownFormat::Email)));
    let me_body = || parsed_body(object([("email", email())], &[]).into(), false);
    let get = Op::new("users_read", "accounts", "A user", signed_in())
        .describe(format!(
            "djoser's `users/{{id}}/`: `email`, `id` and `username`.{others}"
        ))
        .parameter(id_param())
        .respond("200", json_response("The user", "AccountUser"))
        .respond("403", json_response("Not allowed", "Detail"))
        .respond("404", json_response("No such user", "Detail"));
    let mut item = d.get(get, true);
    for (method, id, summary) in [
        (HttpMethod::Put, "users_update", "Update a user"),
        (
            HttpMethod::Patch,
            "users_partial_update",
            "Update a user (partial)",
        ),
    ] {
        let op = Op::new(id, "accounts", summary, signed_in())
            .describe(format!(
                "Only `email` is writable (`id` and `username` are read-only). With `[accounts] \
                 send_activation_email`, a new address makes the account inactive until the \
                 activation mail sent to it is used.{others}"
            ))
            .parameter(id_param())
            .body(me_body())
            .respond("200", json_response("The user", "AccountUser"))
            .respond("403", json_response("Not allowed", "Detail"))
            .respond("404", json_response("No such user", "Detail"));
        let op = d.api_view(op).respond_with(&body_errors);
        item.merge_operations(d.item(method, op));
    }
    let delete = Op::new("users_delete", "accounts", "Delete a user", signed_in())
        .describe(format!(
            "Needs `current_password` (checked behind the login throttles); every token and \
         session of the user ends with it.{others}"
        ))
        .parameter(id_param())
        .body(one_field_body("current_password", "The user's password"))
        .respond("204", empty_response("Deleted"))
        .respond("403", json_response("Not allowed", "Detail"))
        .respond("404", json_response("No such user", "Detail"))
        .respond_with(&[SharedResponse::Throttled]);
    let delete = d.api_view(delete).respond_with(&body_errors);
    item.merge_operations(d.item(HttpMethod::Delete, delete));
    item
}

/// restauth's page for a mailed reset link.
fn reset_page(d: &Describer<'_>) -> PathItem {
    let param = |name: &str| -> Parameter {
        ParameterBuilder::new()
            .name(name)
            .parameter_in(ParameterIn::Path)
            .required(Required::True)
            .schema(Some(string()))
            .build()
    };
    let get = Op::new(
        "password_reset_page",
        "accounts",
        "The password reset page",
        Guard::Open,
    )
    .describe(
        "The HTML form a mailed link opens (when `[accounts] password_reset_confirm_url` is \
         unset), or a page saying the link is not valid.",
    )
    .parameter(param("uid"))
    .parameter(param("token"))
    .respond(
        "200",
        html_response("The form, or why the link is not valid"),
    )
    .respond_with(&[SharedResponse::NotAcceptable]);
    let post = Op::new(
        "password_reset_page_submit",
        "accounts",
        "Submit the password reset page",
        Guard::Open,
    )
    .describe(
        "`new_password1` and `new_password2` with the CSRF token in `csrfmiddlewaretoken`. The \
         page again, with Django's validator messages, or saying the password is set.",
    )
    .parameter(param("uid"))
    .parameter(param("token"))
    .body(fields_body(
        &["new_password1", "new_password2", "csrfmiddlewaretoken"],
        false,
    ))
    .respond(
        "200",
        html_response("The page again, or the password is set"),
    )
    .respond("403", json_response("CSRF verification failed", "Detail"))
    .respond_with(&SharedResponse::FORM_PAGE);
    let mut item = d.item(HttpMethod::Get, get);
    item.merge_operations(d.item(HttpMethod::Post, post));
    item
}
