//! DRF's answers from the extractors: a path that does not match its converter is a 404, and a
//! body that a handler's type cannot take gets field errors, for JSON, form and multipart alike.

use axum::Router;
use axum::body::Body as HttpBody;
use axum::extract::Request;
use axum::routing::{get, post};
use restauth::{Body, Path};
use serde::Deserialize;
use serde_json::{Value, json};
use tower::ServiceExt;

#[derive(Deserialize)]
struct Note {
    title: String,
    priority: u8,
    #[serde(default)]
    done: bool,
}

fn app() -> Router {
    Router::new()
        .route(
            "/notes/{id}",
            get(|Path(id): Path<u64>| async move { id.to_string() }),
        )
        .route(
            "/notes",
            post(|Body(note): Body<Note>| async move {
                format!("{} {} {}", note.title, note.priority, note.done)
            }),
        )
}

async fn call(request: Request) -> (u16, String) {
    let response = app().oneshot(request).await.unwrap();
    let status = response.status().as_u16();
    let body = axum::body::to_bytes(response.into_body(), 1 << 16)
        .await
        .unwrap();
    (status, String::from_utf8_lossy(&body).into_owned())
}

fn post_as(content_type: &str, body: impl Into<HttpBody>) -> Request {
    Request::post("/notes")
        .header("content-type", content_type)
        .body(body.into())
        .unwrap()
}

/// A multipart body of text fields.
fn multipart(fields: &[(&str, &str)]) -> (String, String) {
    let boundary = "XyZzy";
    let mut body = String::new();
    for (name, value) in fields {
        body.push_str(&format!(
            "--{boundary}\r\nContent-Disposition: form-data; name=\"{name}\"\r\n\r\n{value}\r\n"
        ));
    }
    body.push_str(&format!("--{boundary}--\r\n"));
    (format!("multipart/form-data; boundary={boundary}"), body)
}

#[tokio::test]
async fn a_path_that_does_not_match_its_converter_is_drfs_404() {
    let ok = call(Request::get("/notes/7").body(HttpBody::empty()).unwrap()).await;
    assert_eq!(ok, (200, "7".to_owned()));
    for bad in ["/notes/abc", "/notes/-1", "/notes/99999999999999999999999"] {
        let (status, body) = call(Request::get(bad).body(HttpBody::empty()).unwrap()).await;
        assert_eq!(
            (status, body.as_str()),
            (404, r#"{"detail":"Not found."}"#),
            "{bad}"
        );
    }
}

#[tokio::test]
async fn a_typed_body_reads_json_form_and_multipart_alike() {
    let (multipart_type, multipart_body) = multipart(&[("title", "a"), ("priority", "3")]);
    for request in [
        post_as("application/json", r#"{"title": "a", "priority": 3}"#),
        post_as("application/x-www-form-urlencoded", "title=a&priority=3"),
        post_as(&multipart_type, multipart_body),
    ] {
        assert_eq!(call(request).await, (200, "a 3 false".to_owned()));
    }
}

#[tokio::test]
async fn what_a_typed_body_cannot_take_gets_drfs_field_errors() {
    let errors = |expected: Value| {
        move |(status, body): (u16, String)| {
            assert_eq!(status, 400, "{body}");
            assert_eq!(
                serde_json::from_str::<Value>(&body).unwrap(),
                expected,
                "{body}"
            );
        }
    };
    let required = errors(json!({"title": ["This field is required."]}));
    required(call(post_as("application/json", r#"{"priority": 3}"#)).await);
    required(call(post_as("application/x-www-form-urlencoded", "priority=3")).await);
    let (t, b) = multipart(&[("priority", "3")]);
    required(call(post_as(&t, b)).await);

    let integer = errors(json!({"priority": ["A valid integer is required."]}));
    integer(
        call(post_as(
            "application/json",
            r#"{"title": "a", "priority": "x"}"#,
        ))
        .await,
    );
    integer(
        call(post_as(
            "application/x-www-form-urlencoded",
            "title=a&priority=x",
        ))
        .await,
    );
    let (t, b) = multipart(&[("title", "a"), ("priority", "x")]);
    integer(call(post_as(&t, b)).await);

    errors(json!({"title": ["This field may not be null."]}))(
        call(post_as(
            "application/json",
            r#"{"title": null, "priority": 3}"#,
        ))
        .await,
    );
    errors(json!({"title": ["Not a valid string."]}))(
        call(post_as(
            "application/json",
            r#"{"title": [], "priority": 3}"#,
        ))
        .await,
    );
    errors(json!({"done": ["Must be a valid boolean."]}))(
        call(post_as(
            "application/json",
            r#"{"title": "a", "priority": 3, "done": 5}"#,
        ))
        .await,
    );
    errors(json!({"non_field_errors": ["Invalid data. Expected a dictionary, but got list."]}))(
        call(post_as("application/json", "[1]")).await,
    );
    errors(json!({"non_field_errors": ["No data provided"]}))(
        call(post_as("application/json", "null")).await,
    );
}
