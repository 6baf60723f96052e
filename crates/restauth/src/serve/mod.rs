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
//! * the **peer address** as axum's [`ConnectInfo<SocketAddr>`](axum::extract::ConnectInfo), which the throttles key on;
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
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use axum::extract::Request;
use axum::response::Response;
use hyper_util::rt::TokioIo;
use tokio::net::TcpListener;
use tokio::sync::{Semaphore, oneshot, watch};

mod clients;
mod connection;
mod metrics;

pub use metrics::{MatchedRoute, MatchedRouteLayer, RequestMetrics, RequestMetricsLayer};

use clients::Clients;
use connection::{Connection, RequestOptions, extensions_of};

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
    /// Sets [`header_read_timeout`](Self::header_read_timeout) (10 s by default).
    pub fn header_read_timeout(mut self, timeout: Option<Duration>) -> Self {
        self.header_read_timeout = timeout;
        self
    }

    /// Sets [`max_connections`](Self::max_connections) (512 by default; at least 1).
    pub fn max_connections(mut self, max: usize) -> Self {
        self.max_connections = max.max(1);
        self
    }

    /// Sets [`request_timeout`](Self::request_timeout) (30 s by default).
    pub fn request_timeout(mut self, timeout: Option<Duration>) -> Self {
        self.request_timeout = timeout;
        self
    }

    /// Sets [`max_body_bytes`](Self::max_body_bytes) (64 KiB by default).
    pub fn max_body_bytes(mut self, max: Option<usize>) -> Self {
        self.max_body_bytes = max;
        self
    }

    /// Sets [`drf_conventions`](Self::drf_conventions) (on by default).
    pub fn drf_conventions(mut self, on: bool) -> Self {
        self.drf_conventions = on;
        self
    }

    /// Sets [`shutdown_timeout`](Self::shutdown_timeout) (30 s by default).
    pub fn shutdown_timeout(mut self, timeout: Option<Duration>) -> Self {
        self.shutdown_timeout = timeout;
        self
    }

    /// Sets [`body_read_timeout`](Self::body_read_timeout) (10 s by default).
    pub fn body_read_timeout(mut self, timeout: Option<Duration>) -> Self {
        self.body_read_timeout = timeout;
        self
    }

    /// Sets [`max_connections_per_client`](Self::max_connections_per_client) (128 by default).
    pub fn max_connections_per_client(mut self, max: usize) -> Self {
        self.max_connections_per_client = max;
        self
    }

    /// Sets [`trusted_proxies`](Self::trusted_proxies) (none by default).
    pub fn trusted_proxies(mut self, proxies: Vec<std::net::IpAddr>) -> Self {
        self.trusted_proxies = proxies;
        self
    }

    /// Sets [`discard_body_bytes`](Self::discard_body_bytes) and
    /// [`discard_body_timeout`](Self::discard_body_timeout) (1 MiB and 5 s by default).
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
pub(super) struct Activity {
    started: AtomicU64,
    finished: AtomicU64,
}

/// A request in flight on its connection, from its head to its answer.
pub(super) struct Busy(Arc<Activity>);

impl Busy {
    pub(super) fn start(activity: &Arc<Activity>) -> Busy {
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
