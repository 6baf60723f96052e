//! The OpenAPI description of [`router`](super::router): DRF's `obtain_auth_token`.

use utoipa::openapi::OpenApi;

use crate::core::settings::Settings;
use crate::pipeline::openapi::{
    Describer, Guard, Op, SharedResponse, credentials_body, credentials_schema, json_response,
    object, slashed, string,
};

/// Where DRF's documentation, and the `restauth` server, mount the view.
pub const PATH: &str = "/api-token-auth/";

/// The token view mounted at `path` (with or without its trailing slash, as given to
/// [`router`](super::router)), and its schemas.
pub fn document(settings: &Settings, path: &str) -> OpenApi {
    let d = Describer::new(settings);
    let field = &settings.user.username_field;
    let op = Op::new(
        "obtain_auth_token",
        "token",
        "Obtain a DRF token",
        Guard::Optional(d.defaults()),
    )
    .describe(format!(
        "DRF's `obtain_auth_token`: `{field}` and `password` give a new 40-hex token (every \
         login issues one; the key is shown only here). Failed logins count towards the login \
         throttles."
    ))
    .body(credentials_body())
    .respond("200", json_response("The new token", "Token"))
    .respond_with(&[SharedResponse::BadRequest, SharedResponse::Throttled]);
    let token = object(
        [(
            "token",
            string()
                .pattern(Some("^[0-9a-f]{40}$"))
                .description(Some("40 hex characters, shown once")),
        )],
        &["token"],
    );
    d.document(
        &[("token", "DRF's TokenAuthentication")],
        vec![(slashed(path), d.post(op, true))],
        vec![credentials_schema(settings), ("Token", token.into())],
    )
}
