//! The OpenAPI description of [`router`](super::router): DRF's `obtain_auth_token`.

use utoipa::openapi::{ObjectBuilder, OpenApi};

use super::KEY_LENGTH;
use crate::core::settings::Settings;
use crate::pipeline::openapi::{
    Describer, Guard, Op, SharedResponse, json_response, login_body, required_object, slashed,
    string, username_login_schema,
};

/// The token view, mounted at `[token] obtain_url`, and its schemas.
pub fn document(settings: &Settings) -> OpenApi {
    let path = settings.token.obtain_url.as_str();
    let d = Describer::new(settings);
    let field = settings.username_field();
    let op = Op::new(
        "obtain_auth_token",
        "token",
        "Obtain a DRF token",
        Guard::Optional(d.defaults()),
    )
    .describe(format!(
        "DRF's `obtain_auth_token`: `username` (matched against `{field}`, Django's \
         `USERNAME_FIELD`) and `password` give a new 40-hex token (every login issues one; the \
         key is shown only here). Failed logins count towards the login throttles."
    ))
    .body(login_body("LoginCredentials"))
    .respond("200", json_response("The new token", "Token"))
    .respond_with(&[SharedResponse::BadRequest, SharedResponse::Throttled]);
    let token = required_object([("token", key())]);
    d.document(
        &[("token", "DRF's TokenAuthentication")],
        vec![(slashed(path), d.post(op, true))],
        vec![username_login_schema(), ("Token", token.into())],
    )
}

/// A key as it is shown once: DRF's 40 lowercase hex characters.
pub fn key() -> ObjectBuilder {
    string()
        .pattern(Some(format!("^[0-9a-f]{{{KEY_LENGTH}}}$")))
        .description(Some(format!("{KEY_LENGTH} hex characters, shown once")))
}
