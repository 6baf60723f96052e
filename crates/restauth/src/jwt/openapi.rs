//! The OpenAPI description of [`router`](super::router): simplejwt's views under `/api/token/`,
//! log out everywhere and the JWKS.

use utoipa::openapi::{
    ArrayBuilder, ObjectBuilder, OpenApi, PathItem, RefOr, Response, Schema, Type,
};

use crate::core::settings::{AuthClass, Settings};
use crate::pipeline::openapi::{
    Describer, Guard, Op, SharedResponse, challenge_response, credentials_body, credentials_schema,
    json_response, object, one_field_body, required_object, string,
};

/// simplejwt's views, `/api/token/logout-all/` and `/.well-known/jwks.json`, and their schemas.
pub fn document(settings: &Settings) -> OpenApi {
    let d = Describer::new(settings);
    let field = settings.username_field();
    let obtain = Op::new("token_obtain_pair", "jwt", "Obtain a JWT pair", Guard::Open)
        .describe(format!(
            "simplejwt's `TokenObtainPairView`: `{field}` and `password` give an access and a \
             refresh token."
        ))
        .body(credentials_body())
        .respond("200", json_response("The token pair", "TokenPair"))
        .respond(
            "401",
            challenge_response("No active account found with the given credentials"),
        )
        .respond_with(&[SharedResponse::BadRequest, SharedResponse::Throttled]);
    let refresh = token_view(
        &d,
        Op::new("token_refresh", "jwt", "Refresh a JWT", Guard::Open).describe(
            "simplejwt's `TokenRefreshView`: a refresh token gives a new access token (and a \
             new refresh token when `rotate_refresh_tokens` is on).",
        ),
        ("refresh", "A refresh token"),
        json_response("The new token(s)", "Refreshed"),
    );
    let verify = token_view(
        &d,
        Op::new("token_verify", "jwt", "Verify a JWT", Guard::Open).describe(
            "simplejwt's `TokenVerifyView`: `{}` when the token (access or refresh) is valid. \
             A blacklisted refresh token answers 400.",
        ),
        ("token", "An access or refresh token"),
        json_response("The token is valid", "Empty"),
    );
    let blacklist = token_view(
        &d,
        Op::new(
            "token_blacklist",
            "jwt",
            "Blacklist a refresh token",
            Guard::Open,
        )
        .describe("simplejwt's `TokenBlacklistView`: the refresh token stops working."),
        ("refresh", "A refresh token"),
        json_response("Blacklisted", "Empty"),
    );
    let logout_all = Op::new(
        "token_logout_all",
        "jwt",
        "Log out everywhere",
        Guard::Required(vec![AuthClass::Jwt]),
    )
    .describe(
        "Refuses every access and refresh token and every session of the user issued before \
         this call, the caller's own included.",
    )
    .respond("200", json_response("Done", "Empty"));
    let jwks = Op::new("jwks", "jwt", "JWT verifying keys", Guard::Open)
        .describe("The public keys that verify JWTs (RFC 7517); empty for HMAC algorithms.")
        .respond("200", json_response("The key set", "Jwks"));
    d.document(
        &[("jwt", "djangorestframework-simplejwt")],
        vec![
            ("/api/token/".to_owned(), d.post(obtain, true)),
            ("/api/token/refresh/".to_owned(), refresh),
            ("/api/token/verify/".to_owned(), verify),
            ("/api/token/blacklist/".to_owned(), blacklist),
            (
                "/api/token/logout-all/".to_owned(),
                d.post(logout_all, false),
            ),
            ("/.well-known/jwks.json".to_owned(), d.get(jwks, false)),
        ],
        schemas(settings),
    )
}

/// simplejwt's views that read one token `field` and refuse a bad token with 401.
fn token_view(d: &Describer<'_>, op: Op, field: (&str, &str), ok: Response) -> PathItem {
    let op = op
        .body(one_field_body(field.0, field.1))
        .respond("200", ok)
        .respond("401", challenge_response("The token is invalid or expired"));
    d.post(op, true)
}

fn schemas(settings: &Settings) -> Vec<(&'static str, RefOr<Schema>)> {
    let any_object = || ObjectBuilder::new().schema_type(Type::Object);
    vec![
        credentials_schema(settings),
        (
            "TokenPair",
            required_object([("refresh", string()), ("access", string())]).into(),
        ),
        (
            "Refreshed",
            object(
                [
                    ("access", string()),
                    (
                        "refresh",
                        string().description(Some("With `rotate_refresh_tokens` on")),
                    ),
                ],
                &["access"],
            )
            .into(),
        ),
        ("Empty", any_object().into()),
        (
            "Jwks",
            any_object()
                .property("keys", ArrayBuilder::new().items(any_object()))
                .required("keys")
                .into(),
        ),
    ]
}
