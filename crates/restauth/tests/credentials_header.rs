//! A class that names its credentials header is skipped for a request without that header,
//! and asked, in its place in the list, for a request with it.

mod common;

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use axum::Router;
use axum::body::Body;
use http::{HeaderName, Request};
use reqwest::StatusCode;
use restauth::pipeline::authentication::{Authenticator, Outcome};
use restauth::{AllowAny, ApiView, Error, Restauth, ServeOptions};

/// Refuses every request it is asked about, and counts them.
struct Keyed(Arc<AtomicUsize>);

impl Authenticator for Keyed {
    fn authenticate<'a>(&'a self, _request: &'a mut Request<Body>) -> Outcome<'a> {
        self.0.fetch_add(1, Ordering::Relaxed);
        Outcome::Ready(Err(Error::authentication_failed("Invalid key.")))
    }
    fn credentials_header(&self) -> Option<HeaderName> {
        Some(HeaderName::from_static("x-api-key"))
    }
    fn retry_safe(&self) -> bool {
        true
    }
    fn authenticate_header(&self) -> Option<http::HeaderValue> {
        None
    }
    fn name(&self) -> &'static str {
        "keyed"
    }
}

/// Names no header: always asked. Never its scheme.
struct Anything(Arc<AtomicUsize>);

impl Authenticator for Anything {
    fn authenticate<'a>(&'a self, _request: &'a mut Request<Body>) -> Outcome<'a> {
        self.0.fetch_add(1, Ordering::Relaxed);
        Outcome::skip()
    }
    fn authenticate_header(&self) -> Option<http::HeaderValue> {
        None
    }
    fn name(&self) -> &'static str {
        "anything"
    }
}

#[tokio::test]
async fn a_class_is_skipped_only_when_its_header_is_absent() {
    let dir = tempfile::tempdir().unwrap();
    let settings = common::settings(&dir);
    let restauth = Restauth::open(settings).await.expect("open");
    let (keyed, anything) = (Arc::default(), Arc::default());
    let policy = restauth
        .policy()
        .authenticators(vec![
            Arc::new(Anything(Arc::clone(&anything))),
            Arc::new(Keyed(Arc::clone(&keyed))),
            Arc::new(Anything(Arc::clone(&anything))),
        ])
        .permission(AllowAny);
    let app = Router::new().route(
        "/open",
        ApiView::new("Open").get(|| async { "open" }).guard(policy),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/open", listener.local_addr().unwrap());
    tokio::spawn(restauth::serve(listener, app, ServeOptions::default()));
    let client = reqwest::Client::new();
    let calls = |c: &Arc<AtomicUsize>| c.load(Ordering::Relaxed);

    // Without the header: both unnamed classes are asked, the keyed one is not.
    let response = client
        .get(&url)
        .header("Authorization", "Token abc")
        .header("Cookie", "sessionid=abc")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!((calls(&anything), calls(&keyed)), (2, 0));

    // With it, in any case and among others: asked in its place, and its refusal ends the
    // request before the last class.
    for name in ["x-api-key", "X-Api-Key"] {
        let response = client
            .get(&url)
            .header("Accept", "application/json")
            .header(name, "k")
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::FORBIDDEN);
        assert_eq!(
            response.text().await.unwrap(),
            r#"{"detail":"Invalid key."}"#
        );
    }
    assert_eq!((calls(&anything), calls(&keyed)), (4, 2));
}
