//! The server's HTTP application: library routes, demo views, and the cross-cutting layers.

use std::any::Any;
use std::net::SocketAddr;
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::extract::{DefaultBodyLimit, Request, State};
use axum::middleware::{self, Next};
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
use tower_http::request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer};
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
        .layer(middleware::from_fn_with_state(max_body, reject_oversized))
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
                tracing::info_span!("request", method = %req.method(), path = %req.uri().path(), id)
            }),
        )
        .layer(PropagateRequestIdLayer::new(REQUEST_ID))
        .layer(SetRequestIdLayer::new(REQUEST_ID, MakeRequestUuid))
        .layer(SetResponseHeaderLayer::overriding(
            header::X_CONTENT_TYPE_OPTIONS,
            HeaderValue::from_static("nosniff"),
        )))
}

/// Refuses a body announced larger than the limit at once, instead of waiting for bytes that
/// would be refused anyway.
async fn reject_oversized(State(max): State<usize>, request: Request, next: Next) -> Response {
    let announced = request
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if announced.is_some_and(|n| n > max as u64) {
        return Error::PayloadTooLarge.into_response();
    }
    next.run(request).await
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
