//! A 500 is never silent: its cause is logged once, at ERROR, with the response's request id;
//! a misconfiguration met on every request (no client address) is explained once.

use std::io::Write;
use std::sync::{Arc, Mutex};

use axum::Router;
use axum::body::Body;
use axum::extract::Request;
use axum::routing::get;
use http::HeaderName;
use restauth::Error;
use restauth::layers::Envelope;
use tower::{Layer, Service, ServiceExt};

mod common;

/// Everything logged, as text.
#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl Captured {
    fn text(&self) -> String {
        String::from_utf8_lossy(&self.0.lock().unwrap()).into_owned()
    }
}

impl Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

fn capture() -> (Captured, tracing::subscriber::DefaultGuard) {
    let captured = Captured::default();
    let writer = captured.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_ansi(false)
        .with_max_level(tracing::Level::INFO)
        .with_writer(move || writer.clone())
        .finish();
    (captured, tracing::subscriber::set_default(subscriber))
}

#[tokio::test(flavor = "current_thread")]
async fn a_500_logs_its_cause_once_with_the_request_id() {
    let (logged, _guard) = capture();
    let app = Router::new().route(
        "/boom",
        get(|| async { Error::Internal("the disk caught fire".into()) }),
    );
    let mut app = Envelope::new()
        .request_id(HeaderName::from_static("x-request-id"))
        .layer(app);
    let response = app
        .ready()
        .await
        .unwrap()
        .call(Request::get("/boom").body(Body::empty()).unwrap())
        .await
        .unwrap();
    assert_eq!(response.status(), 500);
    let id = response.headers()["x-request-id"]
        .to_str()
        .unwrap()
        .to_owned();
    let body = axum::body::to_bytes(response.into_body(), 1024)
        .await
        .unwrap();
    assert_eq!(&body[..], br#"{"detail":"A server error occurred."}"#);
    let text = logged.text();
    let lines: Vec<&str> = text.lines().filter(|l| l.contains("ERROR")).collect();
    assert_eq!(lines.len(), 1, "{text}");
    assert!(lines[0].contains("the disk caught fire"), "{text}");
    assert!(lines[0].contains(&id), "{text}");
}

#[tokio::test(flavor = "current_thread")]
async fn without_an_envelope_the_cause_is_logged_all_the_same() {
    let (logged, _guard) = capture();
    let app: Router = Router::new().route(
        "/boom",
        get(|| async { Error::Internal("the disk caught fire".into()) }),
    );
    let response = app
        .oneshot(Request::get("/boom").body(Body::empty()).unwrap())
        .await
        .unwrap();
    assert_eq!(response.status(), 500);
    assert!(
        logged.text().contains("the disk caught fire"),
        "{}",
        logged.text()
    );
}

#[tokio::test(flavor = "current_thread")]
async fn a_missing_client_address_is_explained_once() {
    let (logged, _guard) = capture();
    let dir = tempfile::tempdir().unwrap();
    let restauth = restauth::Restauth::open(common::settings(&dir))
        .await
        .expect("open");
    let app = restauth::token::router(&restauth).expect("the routes");
    for _ in 0..3 {
        let request = Request::post("/api-token-auth")
            .header("content-type", "application/json")
            .body(Body::from(r#"{"username":"a","password":"b"}"#))
            .unwrap();
        let response = app.clone().oneshot(request).await.unwrap();
        assert_eq!(response.status(), 500);
    }
    let text = logged.text();
    assert_eq!(
        text.matches("into_make_service_with_connect_info").count(),
        1,
        "{text}"
    );
}
