//! The OpenAPI 3.1 description of every endpoint this server mounts: the library's document of
//! what the settings enable (`restauth::openapi`), merged with the server's own routes (the
//! probes, this description, the demo views). Served at `/api/schema/` when `[openapi]
//! enabled = true` and printed by `restauth openapi`.

use axum::Router;
use axum::extract::State;
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use http::{HeaderValue, StatusCode, header};
use restauth::pipeline::openapi::{
    Describer, Guard, Op, SharedResponse, json_response, required_object, string,
};
use restauth::{ApiView, Restauth, Settings};
use utoipa::openapi::{ContentBuilder, ObjectBuilder, OpenApi, ResponseBuilder, Type};

use crate::config::ServerSettings;

/// Where the document is served.
pub const SCHEMA_PATH: &str = "/api/schema/";
/// The media type drf-spectacular serves a JSON schema as.
const SCHEMA_MEDIA_TYPE: &str = "application/vnd.oai.openapi+json";

/// `GET /api/schema/`: the document, rendered once at start.
pub fn router(restauth: &Restauth, server: &ServerSettings) -> Result<Router, String> {
    let body = document(restauth.settings(), server)
        .to_json()
        .map_err(|e| format!("openapi: {e}"))?;
    let view = ApiView::new("Schema").get(schema).guard(
        restauth
            .policy()
            .authenticators(Vec::new())
            .permissions(Vec::new()),
    );
    Ok(Router::new()
        .route(SCHEMA_PATH.trim_end_matches('/'), view)
        .with_state(Bytes::from(body)))
}

async fn schema(State(body): State<Bytes>) -> Response {
    (
        StatusCode::OK,
        [(
            header::CONTENT_TYPE,
            HeaderValue::from_static(SCHEMA_MEDIA_TYPE),
        )],
        body,
    )
        .into_response()
}

/// The document for this configuration: the same whether served or printed.
pub fn document(settings: &Settings, server: &ServerSettings) -> OpenApi {
    let mut doc = restauth::openapi(settings);
    if server.demo_views {
        doc.merge(crate::demo::openapi(settings));
    }
    doc.merge(own(settings));
    doc
}

/// The probes and this description.
fn own(settings: &Settings) -> OpenApi {
    let d = Describer::new(settings);
    let healthz = Op::new("healthz", "server", "Liveness", Guard::Open)
        .describe("The process answers; says nothing of the database.")
        .respond("200", json_response("Alive", "Status"));
    let readyz = Op::new("readyz", "server", "Readiness", Guard::Open)
        .describe("The database can be read and written (probed at most once a second).")
        .respond("200", json_response("Ready", "Status"))
        .respond_with(&[SharedResponse::Unavailable]);
    let schema = Op::new("schema", "server", "This description", Guard::Open)
        .describe("This OpenAPI document; served only with `[openapi] enabled = true`.")
        .respond(
            "200",
            ResponseBuilder::new()
                .description("The OpenAPI 3.1 document")
                .content(
                    SCHEMA_MEDIA_TYPE,
                    ContentBuilder::new()
                        .schema(Some(ObjectBuilder::new().schema_type(Type::Object)))
                        .build(),
                )
                .build(),
        );
    let status = required_object([("status", string().enum_values(Some(["ok"])))]);
    d.document(
        &[("server", "Probes and this description")],
        vec![
            ("/healthz".to_owned(), d.get(healthz, false)),
            ("/readyz".to_owned(), d.get(readyz, false)),
            (SCHEMA_PATH.to_owned(), d.get(schema, true)),
        ],
        vec![("Status", status.into())],
    )
}
