//! `ApiView` with a policy per method, and `Views`: one authentication per request, DRF's
//! trailing slash under a plain `axum::serve`, and a second view on a path refused in words.

mod common;

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use axum::body::Body;
use http::{HeaderValue, Request};
use reqwest::StatusCode;
use restauth::pipeline::authentication::{Authenticator, Outcome};
use restauth::pipeline::view::Views;
use restauth::{AllowAny, ApiView, IsAuthenticated, Restauth};

/// Never its scheme; counts how often it is asked.
struct Counting(Arc<AtomicUsize>);

impl Authenticator for Counting {
    fn authenticate<'a>(&'a self, _request: &'a mut Request<Body>) -> Outcome<'a> {
        self.0.fetch_add(1, Ordering::Relaxed);
        Outcome::skip()
    }
    fn authenticate_header(&self) -> Option<HeaderValue> {
        Some(HeaderValue::from_static("Counting"))
    }
    fn name(&self) -> &'static str {
        "counting"
    }
}

#[tokio::test]
async fn a_method_runs_behind_its_own_policy_and_authenticates_once() {
    let dir = tempfile::tempdir().unwrap();
    let restauth = Restauth::open(common::settings(&dir)).await.expect("open");
    let asked = Arc::new(AtomicUsize::new(0));
    let classes = || -> Vec<Arc<dyn Authenticator>> { vec![Arc::new(Counting(asked.clone()))] };
    let notes = ApiView::new("Notes")
        .get(|| async { "[]" })
        .post_with(
            || async { "created" },
            restauth
                .policy()
                .authenticators(classes())
                .permission(IsAuthenticated),
        )
        .guard(
            restauth
                .policy()
                .authenticators(classes())
                .permission(AllowAny),
        );
    let app = Views::new()
        .view("/api/notes/", notes)
        .expect("one view")
        .into_router();
    // A plain axum::serve: nothing trims the trailing slash before routing.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await });
    let client = reqwest::Client::new();

    for path in ["/api/notes/", "/api/notes"] {
        let before = asked.load(Ordering::Relaxed);
        let r = client.get(format!("{base}{path}")).send().await.unwrap();
        assert_eq!(r.status(), StatusCode::OK, "{path}");
        assert_eq!(r.text().await.unwrap(), "[]");
        assert_eq!(asked.load(Ordering::Relaxed) - before, 1, "GET {path}");

        let before = asked.load(Ordering::Relaxed);
        let r = client.post(format!("{base}{path}")).send().await.unwrap();
        // The method's own policy: an account is needed, and the first class's challenge.
        assert_eq!(r.status(), StatusCode::UNAUTHORIZED, "{path}");
        assert_eq!(r.headers()["www-authenticate"], "Counting");
        assert_eq!(
            r.headers()["allow"],
            "GET, POST, HEAD, OPTIONS",
            "every answer of the view lists its methods"
        );
        assert_eq!(asked.load(Ordering::Relaxed) - before, 1, "POST {path}");
    }
    // Other methods: the view's policy, then DRF's 405.
    let r = client
        .delete(format!("{base}/api/notes/"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::METHOD_NOT_ALLOWED);
}

#[tokio::test]
async fn a_second_view_on_a_path_is_an_error_in_words() {
    let dir = tempfile::tempdir().unwrap();
    let restauth = Restauth::open(common::settings(&dir)).await.expect("open");
    let view = || {
        ApiView::new("Notes")
            .get(|| async { "[]" })
            .guard(restauth.policy())
    };
    let Err(e) = Views::<()>::new()
        .view("/api/notes", view())
        .expect("the first view")
        .view("/api/notes/", view())
    else {
        panic!("two views on one path were accepted");
    };
    let message = e.to_string();
    assert!(message.contains("/api/notes"), "{message}");
    assert!(message.contains("post_with"), "{message}");

    let one = Views::<()>::new().view("/a", view()).expect("a");
    let other = Views::<()>::new().view("/a/", view()).expect("a");
    assert!(one.merge(other).is_err());
}
