//! The server's HTTP application: library routes, demo views, and the cross-cutting layers.

use std::any::Any;
use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::{DefaultBodyLimit, Request, State};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use http::{HeaderName, HeaderValue, StatusCode, header};
use restauth::core::error::{Error, json_response};
use restauth::layers::{Envelope, Precheck, RequestTimeout, limit_body};
use restauth::pipeline::hosts::{AllowedHosts, INVALID_HOST};
use restauth::pipeline::view::not_found;
use restauth::{Restauth, ServeOptions};

use crate::config::{MetricsSettings, OpenApiSettings, ServerSettings};
use serde_json::json;
use tokio::net::TcpListener;
use tower::ServiceBuilder;

const REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

/// All routes and layers, ready to serve; requests for hosts outside `hosts` get 400.
pub fn router(
    restauth: &Restauth,
    server: &ServerSettings,
    openapi: &OpenApiSettings,
    hosts: AllowedHosts,
    metrics: bool,
) -> Result<
    impl tower::Service<Request, Response = Response, Error = Infallible, Future: Send>
    + Clone
    + Send
    + 'static,
    String,
> {
    let settings = restauth.settings();
    // Every library route the settings enable, then the server's own.
    let mut app = restauth
        .routes()
        .map_err(|e| e.to_string())?
        .route("/healthz", get(healthz))
        .route(
            "/readyz",
            get(readyz).with_state(Readiness::new(restauth.clone())),
        );
    if server.demo_views {
        app = app.merge(
            crate::demo::router(restauth).map_err(|e| format!("session.templates_dir: {e}"))?,
        );
    }
    if openapi.enabled {
        app = app.merge(crate::openapi::router(restauth, server)?);
    }
    let app = app.fallback(not_found);
    let max_body = server.max_body_bytes;
    // axum's extractors stop at 2 MiB of their own: a larger limit must be told to them, at
    // the price of a boxed service per route (`Router::layer`), paid only then.
    let app = if max_body > AXUM_BODY_LIMIT {
        app.layer(DefaultBodyLimit::max(max_body))
    } else {
        app
    };
    // Only when metrics are on: `Router::layer` wraps every route in one more boxed service,
    // and an empty `option_layer` too, which cost every request a boxed future.
    let app = if metrics {
        app.layer(restauth::serve::MatchedRouteLayer)
    } else {
        app
    };
    // Outside the routes and their authentication: a browser's preflight carries no
    // credentials and is answered here, as django-cors-headers' middleware does before DRF.
    let cors = settings.cors.layer().map_err(|e| e.0)?;
    // Shared: the stack is cloned per connection.
    let hosts = Arc::new(hosts);
    // The layers wrap the whole router once, as one tower stack (outermost first). Added with
    // `Router::layer` instead, each would wrap every route on its own and box a service and a
    // future per request: bench/ladder measured about 3,000 instructions a layer that way.
    // Only the metrics layer needs the route axum matched: inside the router it copies it to
    // the response, and outside, where 400s, 408s and 413s are counted too, reads it there.
    Ok(ServiceBuilder::new()
        // Outermost, so that every answer is counted, a caught panic's too.
        .option_layer(metrics.then_some(restauth::serve::RequestMetricsLayer))
        // Request id, the DEBUG `request` span (RUST_LOG=restauth::layers=debug: formatting a
        // span per request costs a fifth of the throughput), panic → 500 and `nosniff`, in one
        // layer with one future.
        .layer(
            Envelope::new()
                .response_header(
                    header::X_CONTENT_TYPE_OPTIONS,
                    HeaderValue::from_static("nosniff"),
                )
                .request_id(REQUEST_ID)
                .trace()
                .catch_panic(panic_response),
        )
        .option_layer(cors)
        .layer(RequestTimeout::new(Duration::from_secs(
            server.request_timeout.0,
        )))
        // The host and the body limit in one check: inside CORS, as in Django, whose
        // CorsMiddleware wraps the 400s and 413s of everything after it.
        .layer(Precheck(move |r: &mut Request| {
            invalid_host(r, &hosts).or_else(|| limit_body(r, max_body))
        }))
        .service(app))
}

/// The body limit axum's `Bytes`, `Json` and `Form` apply when no `DefaultBodyLimit` is set.
const AXUM_BODY_LIMIT: usize = 2 * 1024 * 1024;

/// Liveness: the process answers. Says nothing of the store (see `/readyz`).
async fn healthz() -> Response {
    json_response(StatusCode::OK, &json!({ "status": "ok" }))
}

/// Readiness: 200 when the store can be read and written, else 503, so a load balancer stops
/// sending logins to an instance that could only fail them.
async fn readyz(State(readiness): State<Readiness>) -> Response {
    if readiness.ready().await {
        json_response(StatusCode::OK, &json!({ "status": "ok" }))
    } else {
        Error::Unavailable.into_response()
    }
}

/// The last store probe, reused for a second so that frequent checks cost one write a second.
#[derive(Clone)]
struct Readiness {
    restauth: Restauth,
    last: Arc<tokio::sync::Mutex<ProbeState>>,
}

#[derive(Default)]
struct ProbeState {
    /// When (restauth's clock, ms) and what the last finished probe found.
    result: Option<(i64, bool)>,
    /// A probe still running; not started again until it ends.
    running: Option<tokio::task::JoinHandle<bool>>,
}

/// Reuse a probe's result this long.
const PROBE_EVERY_MS: i64 = 1000;
/// A store slower than this to answer a probe is not ready.
const PROBE_TIMEOUT: Duration = Duration::from_secs(1);

impl Readiness {
    fn new(restauth: Restauth) -> Self {
        Readiness {
            restauth,
            last: Arc::default(),
        }
    }

    async fn ready(&self) -> bool {
        // Concurrent checks queue here and share the one probe.
        let mut state = self.last.lock().await;
        let now = restauth::core::clock::now_ms();
        if let Some((at, ok)) = state.result
            && now.saturating_sub(at) < PROBE_EVERY_MS
            && now >= at
        {
            return ok;
        }
        let mut probe = match state.running.take() {
            Some(running) => running,
            None => {
                let store = self.restauth.store().clone();
                // Spawned, so that a probe outliving the timeout finishes instead of being
                // cancelled in the middle of a transaction.
                tokio::spawn(async move {
                    match store.probe().await {
                        Ok(()) => true,
                        Err(e) => {
                            tracing::warn!(error = %e, "readiness probe failed");
                            false
                        }
                    }
                })
            }
        };
        let ok = match tokio::time::timeout(PROBE_TIMEOUT, &mut probe).await {
            Ok(finished) => finished.unwrap_or(false),
            Err(_) => {
                tracing::warn!("readiness probe: the store did not answer within 1 s");
                state.running = Some(probe);
                false
            }
        };
        state.result = Some((restauth::core::clock::now_ms(), ok));
        ok
    }
}

/// Django's `ALLOWED_HOSTS` check, before anything reads the `Host` header. Probes (`/healthz`,
/// `/readyz`) are answered whatever the host, since load balancers and orchestrators address
/// an instance by its IP.
fn invalid_host(request: &Request, hosts: &AllowedHosts) -> Option<Response> {
    let probe = matches!(request.uri().path(), "/healthz" | "/readyz");
    if probe || hosts.allows_request(request.uri(), request.headers()) {
        return None;
    }
    // The value is the client's: escaped by the formatter and cut short.
    let host = request.headers().get(header::HOST).map(|v| {
        String::from_utf8_lossy(v.as_bytes())
            .chars()
            .take(100)
            .collect::<String>()
    });
    tracing::warn!(
        ?host,
        "Invalid HTTP_HOST header: add the host to [server] allowed_hosts if it is yours"
    );
    Some(json_response(
        StatusCode::BAD_REQUEST,
        &json!({ "detail": INVALID_HOST }),
    ))
}

/// The envelope logs the cause with the request's id; the panic's own message may hold data
/// of the request, so it is not repeated.
fn panic_response(_: Box<dyn Any + Send + 'static>) -> Response {
    Error::Internal("a handler panicked".into()).into_response()
}

/// Binds, prints the address (tests and scripts read it), and serves until Ctrl-C or SIGTERM.
pub async fn serve(
    restauth: Restauth,
    server: &ServerSettings,
    openapi: &OpenApiSettings,
    bind: &str,
    metrics: &MetricsSettings,
) -> Result<(), String> {
    let listener = TcpListener::bind(bind)
        .await
        .map_err(|e| format!("cannot listen on {bind}: {e}"))?;
    let addr = listener.local_addr().map_err(|e| e.to_string())?;
    let hosts = match &server.allowed_hosts {
        Some(list) => AllowedHosts::new(list),
        None => AllowedHosts::local(addr).ok_or_else(|| {
            format!(
                "server.allowed_hosts: listening on {addr}, which is not a loopback address; \
                 list the host names clients use (allowed_hosts = [\"api.example.com\"]), or \
                 [\"*\"] to accept any Host header"
            )
        })?,
    };
    warn_if_descriptors_run_out(server.max_connections);
    let options = ServeOptions::default()
        .header_read_timeout(Some(Duration::from_secs(server.header_read_timeout.0)))
        .max_connections(server.max_connections)
        // The router has its own timeout and body limit layers, inside the request id,
        // panic and header layers.
        .request_timeout(None)
        .max_body_bytes(None)
        .drf_conventions(true)
        .shutdown_timeout(Some(Duration::from_secs(server.shutdown_timeout.0)))
        .body_read_timeout(Some(Duration::from_secs(server.body_read_timeout.0)))
        .max_connections_per_client(server.max_connections_per_client)
        .trusted_proxies(server.trusted_proxies.clone());
    // DRF's conventions (one route with and without the trailing slash, DRF's 404 and 405
    // bodies) come from `restauth::serve`, as for any app built on the library.
    let metrics_on = match &metrics.bind {
        Some(metrics_bind) => {
            serve_metrics(metrics_bind, addr).await?;
            true
        }
        None => false,
    };
    let app = router(&restauth, server, openapi, hosts, metrics_on)?;
    println!("restauth listening on http://{addr}");
    tracing::info!(%addr, "listening");
    restauth::serve_with_shutdown(listener, app, options, restauth::shutdown_signal())
        .await
        .map_err(|e| e.to_string())?;
    // Let spawned background writes finish.
    tokio::time::sleep(Duration::from_millis(50)).await;
    Ok(())
}

/// Histogram buckets of every `*_seconds` series: from a cached lookup (sub-millisecond) to a
/// queued Argon2 hash (seconds).
const SECONDS_BUCKETS: &[f64] = &[
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
];

/// Installs the Prometheus recorder, turns the library's series on, and serves `GET /metrics`
/// on `bind`, a listener of its own: never on the API's address `api`.
async fn serve_metrics(bind: &str, api: std::net::SocketAddr) -> Result<(), String> {
    use metrics_exporter_prometheus::{Matcher, PrometheusBuilder};
    let listener = TcpListener::bind(bind)
        .await
        .map_err(|e| format!("metrics.bind: cannot listen on {bind}: {e}"))?;
    let addr = listener.local_addr().map_err(|e| e.to_string())?;
    if addr == api {
        return Err(format!(
            "metrics.bind: {addr} is the API's own address; use another port"
        ));
    }
    let handle = PrometheusBuilder::new()
        .set_buckets_for_metric(Matcher::Suffix("_seconds".into()), SECONDS_BUCKETS)
        .map_err(|e| format!("metrics: {e}"))?
        .install_recorder()
        .map_err(|e| format!("metrics: {e}"))?;
    restauth::core::metrics::enable();
    // Histograms keep their samples until upkeep folds them in; rendering also does, but an
    // instance nobody scrapes must not grow.
    let upkeep = handle.clone();
    tokio::spawn(async move {
        let mut every = tokio::time::interval(Duration::from_secs(5));
        loop {
            every.tick().await;
            upkeep.run_upkeep();
        }
    });
    let app = Router::new()
        .route(
            "/metrics",
            get(move || {
                let handle = handle.clone();
                async move {
                    (
                        [(
                            header::CONTENT_TYPE,
                            HeaderValue::from_static("text/plain; version=0.0.4; charset=utf-8"),
                        )],
                        handle.render(),
                    )
                }
            }),
        )
        .fallback(not_found);
    println!("restauth metrics on http://{addr}/metrics");
    tracing::info!(%addr, "serving metrics");
    tokio::spawn(async move {
        if let Err(e) = axum::serve(listener, app).await {
            tracing::error!(error = %e, "the metrics listener stopped");
        }
    });
    Ok(())
}

/// Descriptors the process needs besides client connections: database pool, listener, logs.
const OTHER_DESCRIPTORS: u64 = 64;

/// Warns when `max_connections` could exhaust the descriptor limit: accepting would then fail
/// and every client, probes included, would wait, which the connection cap exists to prevent.
fn warn_if_descriptors_run_out(max_connections: usize) {
    let Some(limit) = std::fs::read_to_string("/proc/self/limits")
        .ok()
        .and_then(|text| open_files_limit(&text))
    else {
        return;
    };
    let needed = (max_connections as u64).saturating_add(OTHER_DESCRIPTORS);
    if needed > limit {
        tracing::warn!(
            max_connections,
            descriptor_limit = limit,
            "server.max_connections is too close to the open files limit (ulimit -n): lower it \
             or raise the limit"
        );
    }
}

/// The soft "Max open files" of `/proc/self/limits`; `None` when unlimited or unreadable.
fn open_files_limit(limits: &str) -> Option<u64> {
    let line = limits.lines().find(|l| l.starts_with("Max open files"))?;
    line["Max open files".len()..]
        .split_whitespace()
        .next()?
        .parse()
        .ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_soft_open_files_limit() {
        let limits = "Limit                     Soft Limit           Hard Limit           Units     \n\
                      Max processes             63471                63471                processes \n\
                      Max open files            200                  1048576              files     \n";
        assert_eq!(open_files_limit(limits), Some(200));
        assert_eq!(
            open_files_limit(
                "Max open files            unlimited            unlimited            files\n"
            ),
            None
        );
        assert_eq!(open_files_limit(""), None);
    }
}
