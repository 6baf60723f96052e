//! `restauth::serve` gives the throttles each client's address; without it they refuse rather
//! than put every client in one bucket.

mod common;

use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use axum::body::Body;
use axum::extract::Request;
use restauth::pipeline::throttling::RateSetting;
use restauth::{Restauth, ServeOptions};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tower::ServiceExt;

async fn restauth(dir: &tempfile::TempDir) -> Restauth {
    let mut settings = common::settings(dir);
    let rates = &mut settings.rest_framework.default_throttle_rates;
    rates.insert("login_ip".into(), "2/min".parse::<RateSetting>().unwrap());
    rates.insert("login_user".into(), "off".parse::<RateSetting>().unwrap());
    Restauth::open(settings).await.expect("open")
}

const LOGIN: &str = r#"{"username":"nobody","password":"wrong password"}"#;

#[tokio::test]
async fn a_login_throttle_without_the_peer_address_refuses_instead_of_sharing_a_bucket() {
    let dir = tempfile::tempdir().unwrap();
    let restauth = restauth(&dir).await;
    let app = restauth::token::router(&restauth).expect("the routes");
    // As `axum::serve(listener, app)` hands requests over: no ConnectInfo.
    for _ in 0..4 {
        let request = Request::post("/api-token-auth")
            .header("content-type", "application/json")
            .body(Body::from(LOGIN))
            .unwrap();
        let response = app.clone().oneshot(request).await.unwrap();
        assert_eq!(
            response.status(),
            500,
            "a shared bucket instead of an error"
        );
    }
    // The logged reason names the fix.
    assert!(restauth::pipeline::throttling::NO_PEER_ADDRESS.contains("restauth::serve"));
    assert!(
        restauth::pipeline::throttling::NO_PEER_ADDRESS
            .contains("into_make_service_with_connect_info")
    );
}

/// One failed login over HTTP from `from`, served by `restauth::serve` on `server`.
async fn login_from(from: IpAddr, server: SocketAddr) -> String {
    let socket = tokio::net::TcpSocket::new_v4().unwrap();
    socket.bind(SocketAddr::new(from, 0)).unwrap();
    let conn = socket.connect(server).await.unwrap();
    let request = format!(
        "POST /api-token-auth HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\n\
         Content-Length: {}\r\nConnection: close\r\n\r\n{LOGIN}",
        LOGIN.len()
    );
    exchange(conn, &request).await
}

/// Sends `request` on `conn` and reads the whole reply (the request asks to close).
async fn exchange(mut conn: tokio::net::TcpStream, request: &str) -> String {
    conn.write_all(request.as_bytes()).await.unwrap();
    let mut reply = String::new();
    tokio::time::timeout(Duration::from_secs(10), conn.read_to_string(&mut reply))
        .await
        .expect("answered")
        .unwrap();
    reply
}

#[tokio::test]
async fn serve_gives_each_client_its_own_bucket() {
    let dir = tempfile::tempdir().unwrap();
    let restauth = restauth(&dir).await;
    let app = restauth::token::router(&restauth).expect("the routes");
    let server = serving(app, ServeOptions::default()).await;

    // Linux routes all of 127/8 to loopback: two clients with two addresses.
    let (stranger, user) = ("127.0.0.2".parse().unwrap(), "127.0.0.3".parse().unwrap());
    for _ in 0..2 {
        let reply = login_from(stranger, server).await;
        assert!(reply.starts_with("HTTP/1.1 400"), "{reply}");
    }
    let locked = login_from(stranger, server).await;
    assert!(locked.starts_with("HTTP/1.1 429"), "{locked}");
    let other = login_from(user, server).await;
    assert!(
        other.starts_with("HTTP/1.1 400"),
        "another client is locked out: {other}"
    );
}

/// An app whose router carries its own state merges restauth's routers as they are.
#[tokio::test]
async fn routers_merge_into_an_app_with_its_own_state() {
    #[derive(Clone)]
    struct AppState {
        greeting: &'static str,
    }
    async fn hello(axum::extract::State(state): axum::extract::State<AppState>) -> &'static str {
        state.greeting
    }
    let dir = tempfile::tempdir().unwrap();
    let restauth = restauth(&dir).await;
    let app: axum::Router<AppState> = axum::Router::new()
        .route("/hello", axum::routing::get(hello))
        .merge(restauth::token::router(&restauth).expect("the routes"))
        .merge(restauth::jwt::router(&restauth).expect("the routes"))
        .merge(restauth::session::router(&restauth).expect("the routes"));
    let app = app.with_state(AppState { greeting: "hi" });
    let server = serving(app, ServeOptions::default()).await;
    // The restauth route answers with its own state (a failed login), the app's with its own.
    let reply = login_from("127.0.0.4".parse().unwrap(), server).await;
    assert!(reply.starts_with("HTTP/1.1 400"), "{reply}");
    assert!(reply.contains("Unable to log in"), "{reply}");
    let reply = http(server, "GET", "/hello").await;
    assert!(
        reply.starts_with("HTTP/1.1 200") && reply.ends_with("hi"),
        "{reply}"
    );
}

/// One request over a fresh connection; the whole reply.
/// Serves `app` on a random loopback port; the server runs until the test ends.
async fn serving<S>(app: S, options: ServeOptions) -> SocketAddr
where
    S: tower::Service<
            Request,
            Response = axum::response::Response,
            Error = std::convert::Infallible,
        > + Clone
        + Send
        + 'static,
    S::Future: Send + 'static,
{
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let server = listener.local_addr().unwrap();
    tokio::spawn(restauth::serve(listener, app, options));
    server
}

async fn http(server: SocketAddr, method: &str, path: &str) -> String {
    let conn = tokio::net::TcpStream::connect(server).await.unwrap();
    let request =
        format!("{method} {path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n");
    exchange(conn, &request).await
}

/// A plain axum app served by `restauth::serve` keeps DRF's paths and error bodies.
#[tokio::test]
async fn serve_keeps_drfs_paths_and_error_bodies() {
    let app = axum::Router::new().route("/api/public", axum::routing::get(|| async { "open" }));
    let server = serving(app, ServeOptions::default()).await;

    for path in ["/api/public", "/api/public/", "/api/public/?q=1"] {
        let reply = http(server, "GET", path).await;
        assert!(
            reply.starts_with("HTTP/1.1 200") && reply.ends_with("open"),
            "{path}: {reply}"
        );
    }
    let reply = http(server, "GET", "/nowhere/").await;
    assert!(reply.starts_with("HTTP/1.1 404"), "{reply}");
    assert!(reply.ends_with(r#"{"detail":"Not found."}"#), "{reply}");
    assert!(
        reply
            .to_ascii_lowercase()
            .contains("content-type: application/json"),
        "{reply}"
    );
    let reply = http(server, "DELETE", "/api/public/").await;
    assert!(reply.starts_with("HTTP/1.1 405"), "{reply}");
    assert!(
        reply.ends_with(r#"{"detail":"Method \"DELETE\" not allowed."}"#),
        "{reply}"
    );
    assert!(
        reply.to_ascii_lowercase().contains("allow: get,head"),
        "{reply}"
    );
}

/// DRF's URLs end in a slash, as the settings write them: the route answers both spellings
/// under `restauth::serve`, which trims the slash before routing.
#[tokio::test]
async fn a_router_given_a_trailing_slash_still_answers() {
    let dir = tempfile::tempdir().unwrap();
    let restauth = restauth(&dir).await;
    let app = restauth::token::router(&restauth).expect("the routes");
    let addr = serving(app, ServeOptions::default()).await;
    for path in ["/api-token-auth/", "/api-token-auth"] {
        let conn = tokio::net::TcpStream::connect(addr).await.unwrap();
        let request = format!(
            "POST {path} HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\n\
             Content-Length: 2\r\nConnection: close\r\n\r\n{{}}"
        );
        let reply = exchange(conn, &request).await;
        // DRF's field errors for an empty body: the view ran, not a 404.
        assert!(reply.starts_with("HTTP/1.1 400"), "{path}: {reply}");
        assert!(reply.contains("This field is required."), "{path}: {reply}");
    }
}

/// `header_read_timeout` closes a connection that has nothing in flight and sends nothing, and
/// never one whose request is still being answered, however long that takes. Paused time:
/// tokio moves the clock whenever every task waits.
#[tokio::test(start_paused = true)]
async fn idle_connections_are_closed_and_busy_ones_are_not() {
    let limit = Duration::from_secs(10);
    let app = axum::Router::new().route(
        "/slow",
        axum::routing::get(move || async move {
            tokio::time::sleep(limit * 3).await;
            "done"
        }),
    );
    let options = ServeOptions::default().header_read_timeout(Some(limit));
    let server = serving(app, options).await;

    let mut conn = tokio::net::TcpStream::connect(server).await.unwrap();
    let asked = tokio::time::Instant::now();
    conn.write_all(b"GET /slow HTTP/1.1\r\nHost: localhost\r\n\r\n")
        .await
        .unwrap();
    let mut reply = Vec::new();
    let mut buf = [0u8; 1024];
    while !reply.ends_with(b"done") {
        let n = conn.read(&mut buf).await.unwrap();
        assert!(
            n > 0,
            "closed while answering: {:?}",
            String::from_utf8_lossy(&reply)
        );
        reply.extend_from_slice(&buf[..n]);
    }
    assert!(reply.starts_with(b"HTTP/1.1 200"));
    assert!(asked.elapsed() >= limit * 3);

    // Kept alive, then idle: closed once `limit` has passed, within a quarter of it.
    closed_after_idle(&mut conn, limit).await;
    // A connection that never sends a byte is closed too.
    let mut silent = tokio::net::TcpStream::connect(server).await.unwrap();
    closed_after_idle(&mut silent, limit).await;
}

/// Waits for the server to close `conn`, which sends nothing from now on: between `limit` and
/// 1.25 × `limit` later.
async fn closed_after_idle(conn: &mut tokio::net::TcpStream, limit: Duration) {
    let since = tokio::time::Instant::now();
    let mut buf = [0u8; 64];
    let closed = tokio::time::timeout(limit * 2, conn.read(&mut buf)).await;
    assert_eq!(closed.expect("still open").unwrap(), 0);
    let idle = since.elapsed();
    assert!(
        idle >= limit && idle <= limit * 5 / 4,
        "closed after {idle:?}"
    );
}

/// `request_timeout` answers 408 to a request the app has not answered in time, on the same
/// connection, which then serves the next request. Paused time, as above.
#[tokio::test(start_paused = true)]
async fn serve_answers_408_once_the_request_timeout_has_passed() {
    let limit = Duration::from_secs(30);
    let app = axum::Router::new()
        .route("/stuck", axum::routing::get(std::future::pending::<()>))
        .route("/quick", axum::routing::get(|| async { "quick" }));
    let options = ServeOptions::default()
        .request_timeout(Some(limit))
        .header_read_timeout(None);
    let server = serving(app, options).await;

    let mut conn = tokio::net::TcpStream::connect(server).await.unwrap();
    let asked = tokio::time::Instant::now();
    conn.write_all(b"GET /stuck HTTP/1.1\r\nHost: localhost\r\n\r\n")
        .await
        .unwrap();
    let reply = read_reply(&mut conn).await;
    assert!(reply.starts_with("HTTP/1.1 408"), "{reply}");
    assert!(
        asked.elapsed() >= limit,
        "answered after {:?}",
        asked.elapsed()
    );
    conn.write_all(b"GET /quick HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")
        .await
        .unwrap();
    let reply = read_reply(&mut conn).await;
    assert!(
        reply.starts_with("HTTP/1.1 200") && reply.ends_with("quick"),
        "{reply}"
    );
}

/// An app that is not ready at once is waited for, as tower's contract asks: `call` only after
/// `poll_ready` said ready. Each clone of this one says "not yet" to its first `poll_ready`.
#[derive(Debug)]
struct NotReadyAtFirst<S> {
    inner: S,
    ready: bool,
}

impl<S: Clone> Clone for NotReadyAtFirst<S> {
    fn clone(&self) -> Self {
        NotReadyAtFirst {
            inner: self.inner.clone(),
            ready: false,
        }
    }
}

impl<S: tower::Service<Request>> tower::Service<Request> for NotReadyAtFirst<S> {
    type Response = S::Response;
    type Error = S::Error;
    type Future = S::Future;

    fn poll_ready(
        &mut self,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Result<(), Self::Error>> {
        if !self.ready {
            self.ready = true;
            cx.waker().wake_by_ref();
            return std::task::Poll::Pending;
        }
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: Request) -> Self::Future {
        assert!(self.ready, "called before it was ready");
        self.ready = false;
        self.inner.call(request)
    }
}

#[tokio::test]
async fn an_app_that_is_not_ready_is_waited_for() {
    let app = NotReadyAtFirst {
        inner: axum::Router::new().route("/quick", axum::routing::get(|| async { "quick" })),
        ready: false,
    };
    let server = serving(app, ServeOptions::default()).await;
    // Three requests on one connection: not ready, then ready, then not ready again.
    let mut conn = tokio::net::TcpStream::connect(server).await.unwrap();
    for _ in 0..3 {
        conn.write_all(b"GET /quick HTTP/1.1\r\nHost: localhost\r\n\r\n")
            .await
            .unwrap();
        let reply = tokio::time::timeout(Duration::from_secs(10), read_reply(&mut conn))
            .await
            .expect("answered");
        assert!(
            reply.starts_with("HTTP/1.1 200") && reply.ends_with("quick"),
            "{reply}"
        );
    }
}

/// Dropping the serving future stops its connections as the shutdown signal does: a kept-alive
/// idle connection is closed.
#[tokio::test]
async fn dropping_serve_closes_its_idle_connections() {
    let app = axum::Router::new().route("/quick", axum::routing::get(|| async { "quick" }));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let server = listener.local_addr().unwrap();
    let serving = tokio::spawn(restauth::serve(listener, app, ServeOptions::default()));
    let mut conn = tokio::net::TcpStream::connect(server).await.unwrap();
    conn.write_all(b"GET /quick HTTP/1.1\r\nHost: localhost\r\n\r\n")
        .await
        .unwrap();
    let reply = read_reply(&mut conn).await;
    assert!(reply.ends_with("quick"), "{reply}");
    serving.abort();
    let mut buf = [0u8; 64];
    let closed = tokio::time::timeout(Duration::from_secs(5), conn.read(&mut buf)).await;
    assert_eq!(closed.expect("still open").unwrap(), 0);
}

/// One answer with a `Content-Length` body, read off a kept-alive connection.
async fn read_reply(conn: &mut tokio::net::TcpStream) -> String {
    let mut reply = Vec::new();
    let mut buf = [0u8; 1024];
    loop {
        let text = String::from_utf8_lossy(&reply).into_owned();
        if let Some((head, body)) = text.split_once("\r\n\r\n") {
            let length = head
                .lines()
                .find_map(|l| {
                    l.to_ascii_lowercase()
                        .strip_prefix("content-length:")
                        .map(|v| v.trim().parse::<usize>().unwrap())
                })
                .unwrap_or(0);
            if body.len() >= length {
                return text;
            }
        }
        let n = conn.read(&mut buf).await.unwrap();
        assert!(n > 0, "closed before the answer: {text}");
        reply.extend_from_slice(&buf[..n]);
    }
}

/// `max_body_bytes`: an announced oversize gets 413 before the app runs, a streamed one fails
/// in the app's extractor with 413, and a body within the limit is read.
#[tokio::test]
async fn serve_limits_request_bodies() {
    let app = axum::Router::new().route(
        "/echo",
        axum::routing::post(|body: axum::body::Bytes| async move { body.len().to_string() }),
    );
    let server = serving(app, ServeOptions::default().max_body_bytes(Some(16))).await;
    let post = |headers: &str, body: &str| {
        format!(
            "POST /echo HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n{headers}\r\n{body}"
        )
    };
    let connect = || tokio::net::TcpStream::connect(server);
    let announced = exchange(
        connect().await.unwrap(),
        &post("Content-Length: 17\r\n", &"a".repeat(17)),
    )
    .await;
    assert!(announced.starts_with("HTTP/1.1 413"), "{announced}");
    let streamed = post(
        "Transfer-Encoding: chunked\r\n",
        "11\r\naaaaaaaaaaaaaaaaa\r\n0\r\n\r\n",
    );
    let streamed = exchange(connect().await.unwrap(), &streamed).await;
    assert!(streamed.starts_with("HTTP/1.1 413"), "{streamed}");
    let fits = post(
        "Transfer-Encoding: chunked\r\n",
        "10\r\naaaaaaaaaaaaaaaa\r\n0\r\n\r\n",
    );
    let fits = exchange(connect().await.unwrap(), &fits).await;
    assert!(
        fits.starts_with("HTTP/1.1 200") && fits.ends_with("16"),
        "{fits}"
    );
}
