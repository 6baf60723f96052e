//! The server's HTTP application: library routes, demo views, and the cross-cutting layers.

use std::any::Any;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::extract::{DefaultBodyLimit, Request};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use http::{HeaderName, HeaderValue, StatusCode, header};
use restauth::error::{Error, json_response};
use restauth::routes::not_found;
use restauth::{Restauth, routes};
use serde_json::json;
use tokio::net::TcpListener;
use tower::Layer;
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::normalize_path::NormalizePathLayer;
use tower_http::request_id::{
    MakeRequestId, PropagateRequestIdLayer, RequestId, SetRequestIdLayer,
};
use tower_http::set_header::SetResponseHeaderLayer;
use tower_http::timeout::TimeoutLayer;
use tower_http::trace::TraceLayer;

const REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

/// All routes and layers, ready to serve.
pub fn router(restauth: &Restauth) -> Result<Router, String> {
    let settings = restauth.settings();
    let sessions = routes::session::router(restauth, settings.server.demo_views)
        .map_err(|e| format!("session.templates_dir: {e}"))?;
    let mut app = Router::new()
        .route("/healthz", get(healthz))
        .merge(routes::token::router(restauth, "/api-token-auth"))
        .merge(routes::jwt::router(restauth))
        .merge(sessions);
    if settings.server.demo_views {
        app = app.merge(crate::demo::router(restauth));
    }
    let max_body = settings.server.max_body_bytes;
    Ok(app
        .fallback(not_found)
        .layer(DefaultBodyLimit::max(max_body))
        .layer(ContentLengthLimit(max_body as u64))
        .layer(TimeoutLayer::with_status_code(
            StatusCode::REQUEST_TIMEOUT,
            Duration::from_secs(settings.server.request_timeout.0),
        ))
        .layer(CatchPanicLayer::custom(panic_response))
        .layer(
            TraceLayer::new_for_http().make_span_with(|req: &Request<Body>| {
                // The path only: a query string could carry something secret.
                let id = req
                    .headers()
                    .get(&REQUEST_ID)
                    .and_then(|v| v.to_str().ok())
                    .unwrap_or("");
                // DEBUG: formatting a span per request costs a fifth of the throughput; enable
                // it with RUST_LOG=debug when tracing requests.
                tracing::debug_span!("request", method = %req.method(), path = %req.uri().path(), id)
            }),
        )
        .layer(PropagateRequestIdLayer::new(REQUEST_ID))
        .layer(SetRequestIdLayer::new(REQUEST_ID, SequentialId::new()))
        .layer(SetResponseHeaderLayer::overriding(
            header::X_CONTENT_TYPE_OPTIONS,
            HeaderValue::from_static("nosniff"),
        )))
}

/// Refuses a body announced larger than the limit at once, instead of waiting for bytes that
/// would be refused anyway. A plain layer (no boxed future) because it sits on the hot path.
#[derive(Clone, Copy)]
struct ContentLengthLimit(u64);

impl<S> tower::Layer<S> for ContentLengthLimit {
    type Service = ContentLengthService<S>;

    fn layer(&self, inner: S) -> Self::Service {
        ContentLengthService { max: self.0, inner }
    }
}

#[derive(Clone)]
struct ContentLengthService<S> {
    max: u64,
    inner: S,
}

impl<S> tower::Service<Request> for ContentLengthService<S>
where
    S: tower::Service<Request, Response = Response>,
{
    type Response = Response;
    type Error = S::Error;
    type Future =
        futures_util::future::Either<std::future::Ready<Result<Response, S::Error>>, S::Future>;

    fn poll_ready(
        &mut self,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: Request) -> Self::Future {
        let announced = request
            .headers()
            .get(header::CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse::<u64>().ok());
        if announced.is_some_and(|n| n > self.max) {
            let refused = Error::PayloadTooLarge.into_response();
            return futures_util::future::Either::Left(std::future::ready(Ok(refused)));
        }
        futures_util::future::Either::Right(self.inner.call(request))
    }
}

/// Request ids unique per process start: a random prefix and a counter. A UUID per request
/// would read the OS random source on the hot path.
#[derive(Clone)]
struct SequentialId {
    prefix: Arc<str>,
    next: Arc<AtomicU64>,
}

impl SequentialId {
    fn new() -> Self {
        let mut nonce = [0u8; 6];
        let _ = getrandom::fill(&mut nonce);
        SequentialId {
            prefix: hex::encode(nonce).into(),
            next: Arc::new(AtomicU64::new(1)),
        }
    }
}

impl MakeRequestId for SequentialId {
    fn make_request_id<B>(&mut self, _: &http::Request<B>) -> Option<RequestId> {
        let n = self.next.fetch_add(1, Ordering::Relaxed);
        HeaderValue::from_str(&format!("{}-{n:x}", self.prefix))
            .ok()
            .map(RequestId::new)
    }
}

async fn healthz() -> Response {
    json_response(StatusCode::OK, &json!({ "status": "ok" }))
}

fn panic_response(_: Box<dyn Any + Send + 'static>) -> Response {
    tracing::error!("a handler panicked");
    Error::Internal("handler panicked".into()).into_response()
}

/// Binds, prints the address (tests and scripts read it), and serves until Ctrl-C or SIGTERM.
pub async fn serve(restauth: Restauth, bind: &str) -> Result<(), String> {
    let listener = TcpListener::bind(bind)
        .await
        .map_err(|e| format!("cannot listen on {bind}: {e}"))?;
    let addr = listener.local_addr().map_err(|e| e.to_string())?;
    println!("restauth listening on http://{addr}");
    tracing::info!(%addr, "listening");
    // Trailing slashes are trimmed before routing, so `/api/profile/` and `/api/profile` are
    // the same route.
    let app = NormalizePathLayer::trim_trailing_slash().layer(router(&restauth)?);
    let service =
        axum::ServiceExt::<Request>::into_make_service_with_connect_info::<SocketAddr>(app);
    axum::serve(listener, service)
        .with_graceful_shutdown(shutdown_signal())
        .await
        .map_err(|e| e.to_string())?;
    // Let spawned background writes finish.
    tokio::time::sleep(Duration::from_millis(50)).await;
    Ok(())
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    tokio::select! {
        () = ctrl_c => {},
        () = term => {},
    }
    tracing::info!("shutting down");
}
