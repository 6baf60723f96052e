//! Serving an app over HTTP/1.1, with the protections `axum::serve` does not offer.
//!
//! [`serve`] accepts connections the way the restauth server does:
//!
//! * a **header-read timeout**: a connection with no request in flight that has not started one
//!   for this long is closed, whether its client is trickling a request head (slowloris), idle
//!   between requests, or not reading its answer. It is one coarse timer per connection, not
//!   hyper's timer per request (which cost a tenth of a cached request's instructions);
//! * a **cap on concurrent connections**, kept below the process's file descriptor limit so the
//!   server never runs out of descriptors; past it new clients wait in the listen backlog and a
//!   warning is logged;
//! * the **peer address** as axum's [`ConnectInfo<SocketAddr>`], which the throttles key on;
//! * a **lingering close**: a request body the app did not read (a 413, a 401 before the body)
//!   is read and discarded up to a bound, so a client still sending it reads the answer instead
//!   of a connection reset;
//! * **DRF's path conventions** (on by default): `/api/profile/` and `/api/profile` are one
//!   route, and the bodiless 404 and 405 that axum answers for unknown paths and methods get
//!   DRF's `{"detail": …}` bodies;
//! * optionally a request timeout (408) and a body limit (413), for apps without their own;
//! * graceful shutdown on a future the caller passes ([`serve_with_shutdown`], or [`shutdown_signal`]
//!   for SIGTERM and Ctrl-C): no new connection is accepted, the requests in flight finish
//!   within [`ServeOptions::shutdown_timeout`], then the connections still open are closed.
//!   Close the store afterwards (`restauth.store().checkpoint()`, then `close()`).
//!
//! ```no_run
//! # async fn run(app: axum::Router) -> std::io::Result<()> {
//! let listener = tokio::net::TcpListener::bind("127.0.0.1:8000").await?;
//! restauth::serve(listener, app, restauth::ServeOptions::default()).await
//! # }
//! ```

use std::convert::Infallible;
use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, PoisonError};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use axum::body::Body;
use axum::extract::{ConnectInfo, Request};
use axum::response::{IntoResponse, Response};
use http::{StatusCode, header};
use http_body_util::BodyExt;
use hyper::body::{Body as _, Bytes, Frame, Incoming, SizeHint};
use hyper_util::rt::TokioIo;
use tokio::net::TcpListener;
use tokio::sync::{Semaphore, oneshot, watch};
use tower::ServiceExt;

use crate::core::error::Error;
use crate::layers::{RequestTimeout, TimeoutFuture};

/// How [`serve`] treats connections. Build it from [`ServeOptions::default`] and the setters.
#[derive(Clone, Debug)]
pub struct ServeOptions {
    /// A connection with no request in flight that has started none for this long is closed:
    /// a client must send its request head within it after the connection opens or the
    /// previous answer. Checked a few times per period, so the close comes within a quarter
    /// of it after the limit; `None` waits forever.
    pub header_read_timeout: Option<Duration>,
    /// Connections served at once; more wait in the listen backlog until one closes. Keep it
    /// well below the process's descriptor limit (`ulimit -n`), which the store and logs share.
    pub max_connections: usize,
    /// A request still unanswered after this long gets 408. The limit counts from the app's
    /// first wait, so an answer ready at once costs no timer. `None` when the app has its own
    /// timeout layer (the restauth server has).
    pub request_timeout: Option<Duration>,
    /// Largest request body: announced larger gets 413 at once, a longer streamed body fails
    /// to read (413 from axum's extractors). `None` when the app has its own limit layer.
    pub max_body_bytes: Option<usize>,
    /// At most this much of a body the app left unread is read and discarded, so the client
    /// can finish sending and read the answer; past it the connection is closed.
    pub discard_body_bytes: u64,
    /// Longest time spent discarding an unread body.
    pub discard_body_timeout: Duration,
    /// DRF's conventions: trailing slashes trimmed before routing, and DRF's bodies for the
    /// empty 404 and 405 of unknown paths and methods.
    pub drf_conventions: bool,
    /// After the shutdown signal, requests in flight have this long to finish; connections
    /// still open then are closed. `None` waits for them however long they take.
    pub shutdown_timeout: Option<Duration>,
    /// A request body must arrive whole within this long after its first wait, or the request
    /// is answered 408 and the connection closed: clients trickling bodies cannot hold
    /// connections for the whole request timeout. `None`: only the request timeout applies.
    pub body_read_timeout: Option<Duration>,
    /// Connections one client (an IPv4 address, an IPv6 /64) may hold at once; more are closed
    /// as soon as they are accepted, so one address cannot take every slot. 0: no cap.
    pub max_connections_per_client: usize,
    /// Addresses the per-client cap does not apply to: the proxies in front, whose one address
    /// carries every client's connections.
    pub trusted_proxies: Vec<std::net::IpAddr>,
}

impl Default for ServeOptions {
    fn default() -> Self {
        ServeOptions {
            header_read_timeout: Some(Duration::from_secs(10)),
            max_connections: 512,
            request_timeout: Some(Duration::from_secs(30)),
            max_body_bytes: Some(64 * 1024),
            discard_body_bytes: 1024 * 1024,
            discard_body_timeout: Duration::from_secs(5),
            drf_conventions: true,
            shutdown_timeout: Some(Duration::from_secs(30)),
            body_read_timeout: Some(Duration::from_secs(10)),
            max_connections_per_client: 128,
            trusted_proxies: Vec::new(),
        }
    }
}

impl ServeOptions {
    pub fn header_read_timeout(mut self, timeout: Option<Duration>) -> Self {
        self.header_read_timeout = timeout;
        self
    }

    pub fn max_connections(mut self, max: usize) -> Self {
        self.max_connections = max.max(1);
        self
    }

    pub fn request_timeout(mut self, timeout: Option<Duration>) -> Self {
        self.request_timeout = timeout;
        self
    }

    pub fn max_body_bytes(mut self, max: Option<usize>) -> Self {
        self.max_body_bytes = max;
        self
    }

    pub fn drf_conventions(mut self, on: bool) -> Self {
        self.drf_conventions = on;
        self
    }

    pub fn shutdown_timeout(mut self, timeout: Option<Duration>) -> Self {
        self.shutdown_timeout = timeout;
        self
    }

    pub fn body_read_timeout(mut self, timeout: Option<Duration>) -> Self {
        self.body_read_timeout = timeout;
        self
    }

    pub fn max_connections_per_client(mut self, max: usize) -> Self {
        self.max_connections_per_client = max;
        self
    }

    pub fn trusted_proxies(mut self, proxies: Vec<std::net::IpAddr>) -> Self {
        self.trusted_proxies = proxies;
        self
    }

    pub fn discard_body(mut self, bytes: u64, timeout: Duration) -> Self {
        self.discard_body_bytes = bytes;
        self.discard_body_timeout = timeout;
        self
    }
}

/// Serves `app` on `listener` until the process ends. See the [module docs](self).
pub async fn serve<S>(listener: TcpListener, app: S, options: ServeOptions) -> std::io::Result<()>
where
    S: tower::Service<Request, Response = Response, Error = Infallible> + Clone + Send + 'static,
    S::Future: Send + 'static,
{
    serve_with_shutdown(listener, app, options, std::future::pending()).await
}

/// Serves `app` until `signal` completes, then stops accepting, lets the requests in flight
/// finish and returns once every connection has closed.
pub async fn serve_with_shutdown<S, F>(
    listener: TcpListener,
    app: S,
    options: ServeOptions,
    signal: F,
) -> std::io::Result<()>
where
    S: tower::Service<Request, Response = Response, Error = Infallible> + Clone + Send + 'static,
    S::Future: Send + 'static,
    F: Future<Output = ()> + Send + 'static,
{
    // What each request needs of the options, copied into every connection.
    let requests = RequestOptions::of(&options);
    let slots = Arc::new(Semaphore::new(options.max_connections.max(1)));
    let clients = Clients::new(&options);
    // Every connection holds a receiver, never polled: `closed()` on the sender waits for all
    // of them.
    let (open_tx, open_rx) = watch::channel(());
    // Dropped with this future too, which then stops the connections as the signal would.
    let stops = StopAll(Arc::new(Stops::default()));
    // Past the shutdown timeout: connections still open are dropped.
    let (abort_tx, abort_rx) = watch::channel(());
    let mut signal = std::pin::pin!(signal);
    let mut last_warned: Option<Instant> = None;
    loop {
        let slot = match slots.clone().try_acquire_owned() {
            Ok(slot) => slot,
            Err(_) => {
                // Logged at most every 10 s: under a flood this line would otherwise repeat
                // for every connection.
                if last_warned.is_none_or(|t| t.elapsed() >= Duration::from_secs(10)) {
                    last_warned = Some(Instant::now());
                    tracing::warn!(
                        max_connections = options.max_connections,
                        "connection limit reached: new connections wait until one closes \
                         (raise max_connections if this is legitimate load)"
                    );
                }
                tokio::select! {
                    slot = slots.clone().acquire_owned() => match slot {
                        Ok(slot) => slot,
                        Err(_) => break,
                    },
                    () = &mut signal => break,
                }
            }
        };
        let (stream, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(e) => {
                    accept_error(e).await;
                    continue;
                }
            },
            () = &mut signal => break,
        };
        let Some(client) = clients.enter(peer.ip()) else {
            // Over its cap: closed at once, the slot freed for another client.
            clients.warn_refused(peer.ip());
            drop(stream);
            drop(slot);
            continue;
        };
        let _ = stream.set_nodelay(true);
        let app = app.clone();
        let header_read_timeout = options.header_read_timeout;
        let open = open_rx.clone();
        let (id, mut stop) = stops.0.add();
        let stops = stops.0.clone();
        let mut abort = abort_rx.clone();
        tokio::spawn(async move {
            // No hyper timer: hyper would start one per request for its header-read timeout.
            let builder = hyper::server::conn::http1::Builder::new();
            let activity = Arc::new(Activity::default());
            let service = Connection {
                app: std::cell::RefCell::new(app),
                options: requests,
                extensions: extensions_of(peer),
                activity: activity.clone(),
            };
            let connection = builder.serve_connection(TokioIo::new(stream), service);
            let mut connection = std::pin::pin!(connection);
            let idle = idle_for(&activity, header_read_timeout);
            tokio::select! {
                _ = connection.as_mut() => {}
                () = idle => {}
                // Sent, or its sender dropped: either way the server is stopping.
                _ = &mut stop => {
                    connection.as_mut().graceful_shutdown();
                    tokio::select! {
                        _ = connection.as_mut() => {}
                        _ = abort.changed() => {}
                    }
                }
            }
            stops.remove(id);
            drop(open);
            drop(client);
            drop(slot);
        });
    }
    drop(open_rx);
    drop(abort_rx);
    drop(listener);
    tracing::info!(
        connections = open_tx.receiver_count(),
        "no longer accepting connections; waiting for open ones to finish"
    );
    // Wakes every connection's stop signal; then wait until all have dropped their receiver.
    stops.0.stop_all();
    let finished = match options.shutdown_timeout {
        Some(limit) => tokio::time::timeout(limit, open_tx.closed()).await.is_ok(),
        None => {
            open_tx.closed().await;
            true
        }
    };
    if !finished {
        tracing::warn!(
            connections = open_tx.receiver_count(),
            "shutdown timeout reached: closing the connections still open"
        );
        let _ = abort_tx.send(());
        open_tx.closed().await;
    }
    Ok(())
}

/// How many connections each client holds, for `max_connections_per_client`.
#[derive(Clone)]
struct Clients {
    max: usize,
    exempt: Arc<[std::net::IpAddr]>,
    open: Arc<std::sync::Mutex<std::collections::HashMap<std::net::IpAddr, usize>>>,
    last_warned: Arc<std::sync::Mutex<Option<Instant>>>,
}

/// A connection counted for its client; dropping it ends the count.
struct ClientConnection {
    clients: Clients,
    key: Option<std::net::IpAddr>,
}

impl Clients {
    fn new(options: &ServeOptions) -> Self {
        Clients {
            max: options.max_connections_per_client,
            exempt: options.trusted_proxies.clone().into(),
            open: Arc::default(),
            last_warned: Arc::default(),
        }
    }

    /// An IPv4 address, or the /64 of an IPv6 one (one subscriber's range).
    fn key(ip: std::net::IpAddr) -> std::net::IpAddr {
        match ip {
            std::net::IpAddr::V6(v6) if v6.to_ipv4_mapped().is_none() => {
                let bits = u128::from(v6) & !((1u128 << 64) - 1);
                std::net::IpAddr::V6(bits.into())
            }
            std::net::IpAddr::V6(v6) => std::net::IpAddr::V4(
                v6.to_ipv4_mapped()
                    .unwrap_or(std::net::Ipv4Addr::UNSPECIFIED),
            ),
            v4 => v4,
        }
    }

    /// Counts a new connection of `ip`; `None` when its client is at the cap.
    fn enter(&self, ip: std::net::IpAddr) -> Option<ClientConnection> {
        if self.max == 0 || self.exempt.contains(&ip) {
            return Some(ClientConnection {
                clients: self.clone(),
                key: None,
            });
        }
        let key = Self::key(ip);
        let mut open = self.open.lock().unwrap_or_else(PoisonError::into_inner);
        let count = open.entry(key).or_insert(0);
        if *count >= self.max {
            return None;
        }
        *count += 1;
        Some(ClientConnection {
            clients: self.clone(),
            key: Some(key),
        })
    }

    /// Logged at most every 10 s: under a flood the line would repeat for every connection.
    fn warn_refused(&self, ip: std::net::IpAddr) {
        let mut last = self
            .last_warned
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        if last.is_none_or(|t| t.elapsed() >= Duration::from_secs(10)) {
            *last = Some(Instant::now());
            tracing::warn!(
                client = %Self::key(ip),
                max_connections_per_client = self.max,
                "a client holds as many connections as it may: its new ones are closed \
                 (list a proxy's address in trusted_proxies)"
            );
        }
    }
}

impl Drop for ClientConnection {
    fn drop(&mut self) {
        let Some(key) = self.key else { return };
        let mut open = self
            .clients
            .open
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        if let Some(count) = open.get_mut(&key) {
            *count -= 1;
            if *count == 0 {
                open.remove(&key);
            }
        }
    }
}

/// The connections' stop signals, one each. A connection's task polls its signal every time it
/// wakes: a `watch` receiver shared by all would take that channel's one mutex on each of those
/// polls, from every core; a oneshot of its own touches nothing another connection touches.
#[derive(Default)]
struct Stops {
    senders: std::sync::Mutex<(u64, std::collections::HashMap<u64, oneshot::Sender<()>>)>,
}

impl Stops {
    fn senders(
        &self,
    ) -> std::sync::MutexGuard<'_, (u64, std::collections::HashMap<u64, oneshot::Sender<()>>)> {
        // Nothing in the map can be left half-changed by a panic.
        self.senders
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// A new connection's signal and its key.
    fn add(&self) -> (u64, oneshot::Receiver<()>) {
        let (tx, rx) = oneshot::channel();
        let mut senders = self.senders();
        let id = senders.0;
        senders.0 += 1;
        senders.1.insert(id, tx);
        (id, rx)
    }

    /// A connection that ended.
    fn remove(&self, id: u64) {
        self.senders().1.remove(&id);
    }

    fn stop_all(&self) {
        let senders = std::mem::take(&mut self.senders().1);
        for (_, tx) in senders {
            let _ = tx.send(());
        }
    }
}

/// Stops every connection when dropped: when the serving future is, too.
struct StopAll(Arc<Stops>);

impl Drop for StopAll {
    fn drop(&mut self) {
        self.0.stop_all();
    }
}

/// Completes on SIGTERM (what service managers and orchestrators send) or Ctrl-C, for
/// [`serve_with_shutdown`].
pub async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = term => {},
    }
    tracing::info!("shutting down");
}

/// Errors of `accept`: a connection that went away before we took it is nothing; running out
/// of descriptors is logged and waited out, instead of spinning.
async fn accept_error(e: std::io::Error) {
    use std::io::ErrorKind;
    if matches!(
        e.kind(),
        ErrorKind::ConnectionAborted | ErrorKind::ConnectionReset | ErrorKind::Interrupted
    ) {
        return;
    }
    tracing::error!(
        error = %e,
        "cannot accept a connection (lower max_connections or raise the descriptor limit)"
    );
    tokio::time::sleep(Duration::from_secs(1)).await;
}

/// What a connection's requests have done, for its idle check: two counters that its own task
/// alone moves, so they cost no contention.
#[derive(Default)]
struct Activity {
    started: AtomicU64,
    finished: AtomicU64,
}

/// A request in flight on its connection, from its head to its answer.
struct Busy(Arc<Activity>);

impl Busy {
    fn start(activity: &Arc<Activity>) -> Busy {
        activity.started.fetch_add(1, Ordering::Relaxed);
        Busy(activity.clone())
    }
}

impl Drop for Busy {
    fn drop(&mut self) {
        self.0.finished.fetch_add(1, Ordering::Relaxed);
    }
}

/// Completes once the connection has had no request in flight, and started none, for `limit`:
/// checked every quarter of it, so it completes between `limit` and 1.25 × `limit` of
/// idleness. Never completes when `limit` is `None`.
async fn idle_for(activity: &Activity, limit: Option<Duration>) {
    let Some(limit) = limit else {
        return std::future::pending().await;
    };
    let step = (limit / 4).max(Duration::from_millis(1));
    let mut ticks = tokio::time::interval_at(tokio::time::Instant::now() + step, step);
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    // At accept nothing has started: a first check that still sees none counts as quiet.
    let (mut last, mut quiet) = (0u64, 0u32);
    loop {
        ticks.tick().await;
        let started = activity.started.load(Ordering::Relaxed);
        let idle = started == activity.finished.load(Ordering::Relaxed);
        if idle && started == last {
            quiet += 1;
            // Five quiet checks in a row: the first may come just after the last answer, so
            // the fifth is at least `limit` later.
            if quiet >= 5 {
                return;
            }
        } else {
            quiet = 0;
        }
        last = started;
    }
}

/// What a request needs of the [`ServeOptions`], copied into each connection.
#[derive(Clone, Copy)]
struct RequestOptions {
    request_timeout: Option<Duration>,
    body_read_timeout: Option<Duration>,
    max_body_bytes: Option<usize>,
    discard_body_bytes: u64,
    discard_body_timeout: Duration,
    drf_conventions: bool,
}

impl RequestOptions {
    fn of(options: &ServeOptions) -> Self {
        RequestOptions {
            request_timeout: options.request_timeout,
            body_read_timeout: options.body_read_timeout,
            max_body_bytes: options.max_body_bytes,
            discard_body_bytes: options.discard_body_bytes,
            discard_body_timeout: options.discard_body_timeout,
            drf_conventions: options.drf_conventions,
        }
    }
}

/// A connection's requests: the peer address, the optional body limit and timeout, then the
/// app. The connection owns its clone of the app and calls it in place (HTTP/1 hands it one
/// request at a time): a clone per request would touch every `Arc` of the stack, shared by all
/// connections, and wrap the call in one more future.
struct Connection<S> {
    app: std::cell::RefCell<S>,
    options: RequestOptions,
    /// What each request's extensions start as: see [`extensions_of`].
    extensions: http::Extensions,
    activity: Arc<Activity>,
}

/// A request's extensions as the connection hands them over: the peer's `ConnectInfo`, in a
/// table already sized for what axum and the policy insert after it (the matched route, the
/// path parameters, the guard's identity). Cloned per request, it costs one allocation; built
/// by inserts, the table would start at three slots and be rehashed at the fourth.
fn extensions_of(peer: SocketAddr) -> http::Extensions {
    #[derive(Clone)]
    struct Slot<const N: usize>;
    let mut extensions = http::Extensions::new();
    extensions.insert(Slot::<1>);
    extensions.insert(Slot::<2>);
    extensions.insert(Slot::<3>);
    extensions.insert(ConnectInfo(peer));
    extensions.remove::<Slot<1>>();
    extensions.remove::<Slot<2>>();
    extensions.remove::<Slot<3>>();
    extensions
}

impl<S> hyper::service::Service<http::Request<Incoming>> for Connection<S>
where
    S: tower::Service<Request, Response = Response, Error = Infallible> + Clone + Send + 'static,
    S::Future: Send + 'static,
{
    type Response = Response;
    type Error = Infallible;
    type Future = Answer<S>;

    fn call(&self, request: http::Request<Incoming>) -> Self::Future {
        // Dropped with the answer's future.
        let busy = Busy::start(&self.activity);
        let options = &self.options;
        let (mut parts, incoming) = request.into_parts();
        if parts.extensions.is_empty() {
            parts.extensions = self.extensions.clone();
        } else {
            // hyper's own (an upgrade, say) stay.
            parts.extensions.extend(self.extensions.clone());
        }
        let drf = options.drf_conventions.then(|| parts.method.clone());
        if drf.is_some() {
            trim_trailing_slash(&mut parts.uri);
        }
        // A request without a body (most) has nothing to discard: no wrapper to allocate, no
        // header to look up.
        let body = if incoming.is_end_stream() {
            Body::empty()
        } else {
            // A client that asked `Expect: 100-continue` sends nothing until told to: reading
            // its body to discard it would only invite it.
            let expects_continue = parts
                .headers
                .get(header::EXPECT)
                .is_some_and(|v| v.as_bytes().eq_ignore_ascii_case(b"100-continue"));
            Body::new(Unread {
                body: Some(incoming),
                discard: !expects_continue,
                discard_bytes: options.discard_body_bytes,
                discard_timeout: options.discard_body_timeout,
                read_timeout: options.body_read_timeout,
                deadline: None,
            })
        };
        let mut request = Request::from_parts(parts, body);
        if let Some(max) = options.max_body_bytes
            && let Some(refused) = crate::layers::limit_body(&mut request, max)
        {
            // Dropping the request's `Unread` discards what the client is still sending.
            return Answer::Ready {
                response: Some(refused),
            };
        }
        let future = match self.app.try_borrow_mut() {
            Ok(mut app) => {
                let mut ready = Context::from_waker(std::task::Waker::noop());
                match app.poll_ready(&mut ready) {
                    Poll::Ready(Ok(())) => futures_util::future::Either::Left(app.call(request)),
                    Poll::Ready(Err(never)) => match never {},
                    // Not ready now: a clone waits for readiness, as tower's `oneshot` does.
                    Poll::Pending => {
                        futures_util::future::Either::Right(Box::pin(app.clone().oneshot(request)))
                    }
                }
            }
            // Never while hyper calls one request at a time; a clone is as good.
            Err(_) => futures_util::future::Either::Right(Box::pin(
                self.app.borrow().clone().oneshot(request),
            )),
        };
        Answer::Running {
            future: TimeoutFuture::new(future, options.request_timeout.map(RequestTimeout::new)),
            drf,
            _busy: busy,
        }
    }
}

pin_project_lite::pin_project! {
    /// The answer to one request of a [`Connection`]. The timeout is
    /// [`RequestTimeout`]'s: it starts when the app first waits, so an answer ready at once
    /// needs no timer.
    #[project = AnswerProj]
    enum Answer<S: tower::Service<Request>> {
        Ready { response: Option<Response> },
        Running {
            #[pin]
            future: TimeoutFuture<
                // Boxed: the rare path holds a clone of the whole app and the request, and
                // would make every answer's future that large, and every move of it that long.
                futures_util::future::Either<S::Future, Pin<Box<tower::util::Oneshot<S, Request>>>>,
            >,
            drf: Option<http::Method>,
            _busy: Busy,
        },
    }
}

impl<S> Future for Answer<S>
where
    S: tower::Service<Request, Response = Response, Error = Infallible>,
{
    type Output = Result<Response, Infallible>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        match self.project() {
            AnswerProj::Ready { response } => Poll::Ready(Ok(response
                .take()
                .unwrap_or_else(|| StatusCode::INTERNAL_SERVER_ERROR.into_response()))),
            AnswerProj::Running { future, drf, .. } => {
                let response = match std::task::ready!(future.poll(cx)) {
                    Ok(response) => response,
                    Err(never) => match never {},
                };
                Poll::Ready(Ok(match drf.take() {
                    Some(method) => with_drf_body(response, method),
                    None => response,
                }))
            }
        }
    }
}

/// `/api/profile/` → `/api/profile` (the root stays `/`), keeping the query.
fn trim_trailing_slash(uri: &mut http::Uri) {
    let path = uri.path();
    if path.len() <= 1 || !path.ends_with('/') {
        return;
    }
    let trimmed = path.trim_end_matches('/');
    let trimmed = if trimmed.is_empty() { "/" } else { trimmed };
    // The new path is a prefix of a valid one, so it parses; keep the old URI if not.
    let parsed = match uri.query() {
        Some(query) => http::uri::PathAndQuery::try_from(format!("{trimmed}?{query}")),
        // One copy, without a `String` first: most requests have no query.
        None => http::uri::PathAndQuery::try_from(trimmed),
    };
    let Ok(pq) = parsed else { return };
    // The usual origin form (`GET /path`) is the path alone, without parts to carry over.
    if uri.scheme().is_none() && uri.authority().is_none() {
        *uri = http::Uri::from(pq);
        return;
    }
    let mut parts = std::mem::take(uri).into_parts();
    parts.path_and_query = Some(pq);
    if let Ok(new) = http::Uri::from_parts(parts) {
        *uri = new;
    }
}

/// DRF's body for a 404 or 405 the app left empty (axum's own answers for unknown paths and
/// methods); the app's headers, `Allow` among them, stay.
fn with_drf_body(response: Response, method: http::Method) -> Response {
    let empty = response.body().size_hint().exact() == Some(0);
    let drf = match response.status() {
        StatusCode::NOT_FOUND if empty => Error::NotFound,
        StatusCode::METHOD_NOT_ALLOWED if empty => Error::MethodNotAllowed(method),
        _ => return response,
    };
    let (mut parts, _) = response.into_parts();
    let (drf_parts, body) = drf.into_response().into_parts();
    parts.headers.remove(header::CONTENT_LENGTH);
    if let Some(content_type) = drf_parts.headers.get(header::CONTENT_TYPE) {
        parts
            .headers
            .insert(header::CONTENT_TYPE, content_type.clone());
    }
    Response::from_parts(parts, body)
}

/// A request body that, dropped before its end, is read and discarded in the background (up to
/// a bound), as nginx's lingering close does. Without it hyper closes the connection while the
/// client is still sending, and the client sees a reset instead of the answer.
///
/// It also bounds how long the body takes to arrive: past `read_timeout` from its first wait,
/// reading fails with [`BodyTimedOut`](crate::core::error::BodyTimedOut) (answered 408, the connection closed).
struct Unread {
    body: Option<Incoming>,
    /// Whether to discard what is left when dropped.
    discard: bool,
    discard_bytes: u64,
    discard_timeout: Duration,
    read_timeout: Option<Duration>,
    /// Started when the body first makes the reader wait: a body that is there at once costs
    /// no timer.
    deadline: Option<Pin<Box<tokio::time::Sleep>>>,
}

impl hyper::body::Body for Unread {
    type Data = Bytes;
    type Error = Box<dyn std::error::Error + Send + Sync>;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Self::Error>>> {
        let this = self.get_mut();
        let Some(body) = this.body.as_mut() else {
            return Poll::Ready(None);
        };
        match Pin::new(body).poll_frame(cx) {
            Poll::Ready(frame) => Poll::Ready(frame.map(|f| f.map_err(Into::into))),
            Poll::Pending => {
                let Some(limit) = this.read_timeout else {
                    return Poll::Pending;
                };
                let deadline = this
                    .deadline
                    .get_or_insert_with(|| Box::pin(tokio::time::sleep(limit)));
                match deadline.as_mut().poll(cx) {
                    Poll::Ready(()) => {
                        // Nothing more is read or discarded: the connection closes.
                        this.discard = false;
                        Poll::Ready(Some(Err(Box::new(crate::core::error::BodyTimedOut))))
                    }
                    Poll::Pending => Poll::Pending,
                }
            }
        }
    }

    fn is_end_stream(&self) -> bool {
        self.body.as_ref().is_none_or(|b| b.is_end_stream())
    }

    fn size_hint(&self) -> SizeHint {
        self.body
            .as_ref()
            .map_or_else(|| SizeHint::with_exact(0), |b| b.size_hint())
    }
}

impl Drop for Unread {
    fn drop(&mut self) {
        let Some(body) = self.body.take() else {
            return;
        };
        if !self.discard || body.is_end_stream() {
            return;
        }
        let Ok(runtime) = tokio::runtime::Handle::try_current() else {
            return;
        };
        let (limit, within) = (self.discard_bytes, self.discard_timeout);
        runtime.spawn(async move {
            let _ = tokio::time::timeout(within, discard(body, limit)).await;
        });
    }
}

/// Reads and drops frames until the body ends, fails or passes `limit` bytes. Dropping the body
/// then lets hyper close the connection.
async fn discard(mut body: Incoming, limit: u64) {
    let mut seen: u64 = 0;
    while let Some(frame) = body.frame().await {
        let Ok(frame) = frame else { return };
        if let Some(data) = frame.data_ref() {
            seen = seen.saturating_add(data.len() as u64);
            if seen > limit {
                return;
            }
        }
    }
}
/// The `route` label of a request no route matched (one label, whatever the path).
pub const UNMATCHED_ROUTE: &str = "unmatched";

/// Counts every answered request in `restauth_http_requests_total` by method, route template
/// and status (see [`crate::core::metrics`]). The label is the template axum matched
/// (`/api/notes/{id}`), never the raw path: add the layer with `Router::layer`, where the
/// route is matched, or around the whole router with [`MatchedRouteLayer`] inside it, so
/// that answers of the layers outside the router (timeouts, …) are counted too.
#[derive(Clone, Copy, Debug, Default)]
pub struct RequestMetricsLayer;

impl<S> tower::Layer<S> for RequestMetricsLayer {
    type Service = RequestMetrics<S>;

    fn layer(&self, inner: S) -> Self::Service {
        RequestMetrics { inner }
    }
}

/// The service of [`RequestMetricsLayer`].
#[derive(Clone, Debug)]
pub struct RequestMetrics<S> {
    inner: S,
}

impl<S> tower::Service<Request> for RequestMetrics<S>
where
    S: tower::Service<Request, Response = Response>,
    S::Future: Send + 'static,
{
    type Response = Response;
    type Error = S::Error;
    type Future = Pin<Box<dyn Future<Output = Result<Response, S::Error>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: Request) -> Self::Future {
        let method = request.method().clone();
        let route = request
            .extensions()
            .get::<axum::extract::MatchedPath>()
            .cloned();
        let answer = self.inner.call(request);
        Box::pin(async move {
            let answer = answer.await;
            if let Ok(response) = &answer {
                let matched = route
                    .as_ref()
                    .or_else(|| response.extensions().get::<axum::extract::MatchedPath>());
                let route = matched.map_or(UNMATCHED_ROUTE, |r| r.as_str());
                crate::core::metrics::http_request(&method, route, response.status());
            }
            answer
        })
    }
}

/// Copies the route axum matched to the response, for a [`RequestMetricsLayer`] outside the
/// router. Add it with `Router::layer`.
#[derive(Clone, Copy, Debug, Default)]
pub struct MatchedRouteLayer;

impl<S> tower::Layer<S> for MatchedRouteLayer {
    type Service = MatchedRoute<S>;

    fn layer(&self, inner: S) -> Self::Service {
        MatchedRoute { inner }
    }
}

/// The service of [`MatchedRouteLayer`].
#[derive(Clone, Debug)]
pub struct MatchedRoute<S> {
    inner: S,
}

impl<S> tower::Service<Request> for MatchedRoute<S>
where
    S: tower::Service<Request, Response = Response>,
    S::Future: Send + 'static,
{
    type Response = Response;
    type Error = S::Error;
    type Future = Pin<Box<dyn Future<Output = Result<Response, S::Error>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: Request) -> Self::Future {
        let route = request
            .extensions()
            .get::<axum::extract::MatchedPath>()
            .cloned();
        let answer = self.inner.call(request);
        Box::pin(async move {
            let mut answer = answer.await;
            if let (Ok(response), Some(route)) = (&mut answer, route) {
                response.extensions_mut().insert(route);
            }
            answer
        })
    }
}
