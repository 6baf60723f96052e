//! Small tower layers a server stacks around its routes, kept cheap because every request
//! passes through them:
//!
//! * [`Envelope`]: request ids, a trace span, panic catching and fixed response headers in one
//!   layer with one future. tower-http's `SetRequestId`, `PropagateRequestId`, `Trace`,
//!   `CatchPanic` and `SetResponseHeader` each wrap the future, and most of them the body too,
//!   which then has to be boxed again: measured with `bench/instructions`, the five cost about
//!   8,300 instructions a request, the envelope 2,900.
//! * [`RequestTimeout`]: 408 for a request still unanswered after a limit, with a timer only for
//!   the requests that wait at all (a cached authentication answers at its first poll).
//! * [`Precheck`]: an early answer.

use std::any::Any;
use std::future::Future;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::task::{Context, Poll, ready};
use std::time::{Duration, Instant};

use axum::extract::Request;
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use http::{HeaderName, HeaderValue, StatusCode};
use pin_project_lite::pin_project;
use tracing::Span;

use crate::core::error::{Failure, with_failures_kept};

/// A check that may answer a request before the inner service sees it: `Some(answer)` ends
/// the request there. It may also adjust the request it lets through (see [`limit_body`]).
/// A plain layer, without a boxed future, unlike `middleware::from_fn`.
#[derive(Clone)]
pub struct Precheck<F>(pub F);

impl<F: Clone, S> tower::Layer<S> for Precheck<F> {
    type Service = PrecheckService<F, S>;

    fn layer(&self, inner: S) -> Self::Service {
        PrecheckService {
            check: self.0.clone(),
            inner,
        }
    }
}

/// The service of [`Precheck`].
#[derive(Clone)]
pub struct PrecheckService<F, S> {
    check: F,
    inner: S,
}

impl<F, S> tower::Service<Request> for PrecheckService<F, S>
where
    F: Fn(&mut Request) -> Option<Response>,
    S: tower::Service<Request, Response = Response>,
{
    type Response = Response;
    type Error = S::Error;
    type Future =
        futures_util::future::Either<std::future::Ready<Result<Response, S::Error>>, S::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut request: Request) -> Self::Future {
        match (self.check)(&mut request) {
            Some(answer) => futures_util::future::Either::Left(std::future::ready(Ok(answer))),
            None => futures_util::future::Either::Right(self.inner.call(request)),
        }
    }
}

/// A body limit of `max` bytes, for a [`Precheck`]: 413 at once for a body announced
/// (`Content-Length`) larger, else a body that fails once it passes `max` bytes, which
/// axum's `Bytes`, `Json` and `Form` answer with 413 too. A request without a body is left as
/// it is: no extension, no wrapper (`DefaultBodyLimit` inserts one into every request).
///
/// Unlike `DefaultBodyLimit::max`, it does not raise axum's own 2 MiB default for the
/// extractors: above that, add `DefaultBodyLimit` as well.
pub fn limit_body(request: &mut Request, max: usize) -> Option<Response> {
    if hyper::body::Body::is_end_stream(request.body()) {
        return None;
    }
    if announced_over(request.headers(), max) {
        return Some(crate::core::error::Error::PayloadTooLarge.into_response());
    }
    let body = std::mem::take(request.body_mut());
    *request.body_mut() = axum::body::Body::new(http_body_util::Limited::new(body, max));
    None
}

/// Whether `Content-Length` announces more than `max` bytes.
fn announced_over(headers: &http::HeaderMap, max: usize) -> bool {
    headers
        .get(http::header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok())
        .is_some_and(|n| n > max as u64)
}

/// Request ids unique per process start: a random prefix and a counter. A UUID per request
/// would read the OS random source on the hot path.
#[derive(Clone)]
pub struct SequentialRequestId {
    /// 12 hex digits and a dash.
    prefix: [u8; 13],
    next: Arc<AtomicU64>,
}

/// The longest id: the prefix and 16 hex digits.
const ID_LEN: usize = 13 + 16;

impl SequentialRequestId {
    /// A new sequence: a random prefix of 12 hex digits, then a counter from 1 in hex.
    pub fn new() -> Self {
        let mut prefix = [b'-'; 13];
        prefix[..12].copy_from_slice(crate::core::random::hex::<6>().as_bytes());
        SequentialRequestId {
            prefix,
            next: Arc::new(AtomicU64::new(1)),
        }
    }

    /// The next id, `<prefix>-<counter in hex>`.
    pub fn next_id(&self) -> HeaderValue {
        let n = self.next.fetch_add(1, Ordering::Relaxed);
        let mut buf = Vec::with_capacity(ID_LEN);
        self.write(n, &mut buf);
        HeaderValue::from_maybe_shared(Bytes::from(buf))
            // Hex digits and a dash are always a valid header value.
            .unwrap_or_else(|_| HeaderValue::from_static("-"))
    }

    /// Appends id `n` to `buf`, formatted without a heap string.
    fn write(&self, n: u64, buf: &mut Vec<u8>) {
        buf.extend_from_slice(&self.prefix);
        let digits = (64 - n.leading_zeros()).div_ceil(4).max(1);
        buf.extend(
            (0..digits)
                .rev()
                .map(|i| b"0123456789abcdef"[((n >> (4 * i)) & 0xf) as usize]),
        );
    }
}

impl Default for SequentialRequestId {
    fn default() -> Self {
        Self::new()
    }
}

/// Ids taken from the shared counter a block at a time and formatted into one buffer: each
/// [`EnvelopeService`] clone (one per connection under [`crate::serve`]) then pays neither an
/// allocation nor a write to the counter, which every core shares, for most requests. The
/// block doubles at each refill, up to [`IdBlock::MAX`], so that a clone made for a single
/// request (as `axum::serve` makes them) takes one id. Ids stay unique, though no longer in
/// arrival order across connections.
struct IdBlock {
    ids: Bytes,
    /// `ids[cuts[i]..cuts[i + 1]]` is the i-th id of the block.
    cuts: [u16; IdBlock::MAX + 1],
    /// How many ids the block holds, and how many were handed out.
    len: usize,
    used: usize,
}

impl IdBlock {
    const MAX: usize = 64;

    fn new() -> Self {
        IdBlock {
            ids: Bytes::new(),
            cuts: [0; IdBlock::MAX + 1],
            len: 0,
            used: 0,
        }
    }

    fn next(&mut self, source: &SequentialRequestId) -> HeaderValue {
        if self.used == self.len {
            self.refill(source);
        }
        let (start, end) = (self.cuts[self.used], self.cuts[self.used + 1]);
        self.used += 1;
        HeaderValue::from_maybe_shared(self.ids.slice(usize::from(start)..usize::from(end)))
            // Hex digits and a dash are always a valid header value.
            .unwrap_or_else(|_| HeaderValue::from_static("-"))
    }

    fn refill(&mut self, source: &SequentialRequestId) {
        let len = (self.len * 2).clamp(1, IdBlock::MAX);
        let first = source.next.fetch_add(len as u64, Ordering::Relaxed);
        let mut buf = Vec::with_capacity(len * ID_LEN);
        for i in 0..len {
            source.write(first.wrapping_add(i as u64), &mut buf);
            // At most 64 ids of at most 29 bytes.
            self.cuts[i + 1] = u16::try_from(buf.len()).unwrap_or(u16::MAX);
        }
        self.ids = Bytes::from(buf);
        (self.len, self.used) = (len, 0);
    }
}

/// What turns a caught panic into an answer.
pub type PanicResponse = fn(Box<dyn Any + Send + 'static>) -> Response;

/// What [`Envelope`] does; shared by every clone of the service.
#[derive(Clone, Default)]
struct EnvelopeConfig {
    request_id: Option<(HeaderName, SequentialRequestId)>,
    trace: bool,
    catch_panic: Option<PanicResponse>,
    headers: Vec<(HeaderName, HeaderValue)>,
}

/// The layer every request and answer of a server passes first, doing in one place what would
/// otherwise be five tower-http layers (see the [module docs](self)). Each part is off until
/// its builder method turns it on:
///
/// * [`request_id`](Self::request_id): a request without the header gets a sequential id
///   ([`SequentialRequestId`]) in it; the answer carries the request's id unless the app set
///   one;
/// * [`trace`](Self::trace): a DEBUG span `request` with the method, the path (never the query
///   string, which could carry a secret) and the id, with DEBUG events when the request starts
///   and ends (target `restauth::layers`); and, whatever the level, an ERROR event for every
///   5xx answer;
/// * [`catch_panic`](Self::catch_panic): a panic in the app becomes the given answer, and the
///   process lives on;
/// * [`response_header`](Self::response_header): a header set on every answer, replacing the
///   app's.
#[derive(Clone, Default)]
pub struct Envelope(EnvelopeConfig);

impl Envelope {
    /// An envelope that does nothing until its parts are chosen.
    pub fn new() -> Self {
        Self::default()
    }

    /// Request ids in `header` (`x-request-id`, say).
    pub fn request_id(mut self, header: HeaderName) -> Self {
        self.0.request_id = Some((header, SequentialRequestId::new()));
        self
    }

    /// The `request` span and the request and failure events.
    pub fn trace(mut self) -> Self {
        self.0.trace = true;
        self
    }

    /// A panicking app answers `answer(panic)` instead of closing the connection.
    pub fn catch_panic(mut self, answer: PanicResponse) -> Self {
        self.0.catch_panic = Some(answer);
        self
    }

    /// `name: value` on every answer, replacing any the app set.
    pub fn response_header(mut self, name: HeaderName, value: HeaderValue) -> Self {
        self.0.headers.push((name, value));
        self
    }
}

impl<S> tower::Layer<S> for Envelope {
    type Service = EnvelopeService<S>;

    fn layer(&self, inner: S) -> Self::Service {
        EnvelopeService {
            config: Arc::new(self.0.clone()),
            ids: IdBlock::new(),
            inner,
        }
    }
}

/// The service of [`Envelope`].
pub struct EnvelopeService<S> {
    config: Arc<EnvelopeConfig>,
    ids: IdBlock,
    inner: S,
}

impl<S: Clone> Clone for EnvelopeService<S> {
    /// A clone takes its own ids: sharing the block would hand the same id out twice.
    fn clone(&self) -> Self {
        EnvelopeService {
            config: self.config.clone(),
            ids: IdBlock::new(),
            inner: self.inner.clone(),
        }
    }
}

impl<S> tower::Service<Request> for EnvelopeService<S>
where
    S: tower::Service<Request, Response = Response>,
{
    type Response = Response;
    type Error = S::Error;
    type Future = EnvelopeFuture<S::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut request: Request) -> Self::Future {
        let (config, block) = (&self.config, &mut self.ids);
        let id = config
            .request_id
            .as_ref()
            .map(|(name, ids)| match request.headers().get(name) {
                Some(given) => given.clone(),
                None => {
                    let id = block.next(ids);
                    request.headers_mut().insert(name.clone(), id.clone());
                    id
                }
            });
        let span = if config.trace {
            let id = id.as_ref().and_then(|v| v.to_str().ok()).unwrap_or("");
            tracing::debug_span!("request", method = %request.method(), path = %request.uri().path(), id)
        } else {
            Span::none()
        };
        // Only a span someone listens to is worth a clock reading and an event.
        let started = (!span.is_disabled()).then(|| {
            let _entered = span.enter();
            tracing::debug!("started processing request");
            Instant::now()
        });
        let inner = match config.catch_panic {
            Some(answer) => match catch_unwind(AssertUnwindSafe(|| self.inner.call(request))) {
                Ok(future) => Inner::Running { future },
                Err(panic) => Inner::Answered {
                    response: Some(answer(panic)),
                },
            },
            None => Inner::Running {
                future: self.inner.call(request),
            },
        };
        EnvelopeFuture {
            inner,
            config: config.clone(),
            id,
            span,
            started,
        }
    }
}

pin_project! {
    /// The future of [`EnvelopeService`].
    pub struct EnvelopeFuture<F> {
        #[pin]
        inner: Inner<F>,
        config: Arc<EnvelopeConfig>,
        id: Option<HeaderValue>,
        span: Span,
        started: Option<Instant>,
    }
}

pin_project! {
    #[project = InnerProj]
    enum Inner<F> {
        Running { #[pin] future: F },
        // A panic in the app's `call`: the answer is ready at once.
        Answered { response: Option<Response> },
    }
}

impl<F, E> Future for EnvelopeFuture<F>
where
    F: Future<Output = Result<Response, E>>,
{
    type Output = Result<Response, E>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.project();
        let _entered = this.span.enter();
        let catch_panic = this.config.catch_panic;
        // The app's failures stay on its responses, to be logged below with the request's id.
        let response = with_failures_kept(|| {
            Poll::Ready(Ok(match this.inner.project() {
                InnerProj::Running { future } => match catch_panic {
                    Some(answer) => match catch_unwind(AssertUnwindSafe(|| future.poll(cx))) {
                        Ok(poll) => ready!(poll)?,
                        Err(panic) => answer(panic),
                    },
                    None => ready!(future.poll(cx))?,
                },
                InnerProj::Answered { response } => match response.take() {
                    Some(response) => response,
                    None => StatusCode::INTERNAL_SERVER_ERROR.into_response(),
                },
            }))
        });
        let mut response = match response {
            Poll::Ready(Ok(response)) => response,
            Poll::Ready(Err(e)) => return Poll::Ready(Err(e)),
            Poll::Pending => return Poll::Pending,
        };
        let id = this.id.take();
        if let Some(Failure(cause)) = response.extensions_mut().remove::<Failure>() {
            let request_id = id.as_ref().and_then(|v| v.to_str().ok()).unwrap_or("");
            let status = response.status().as_u16();
            tracing::error!(request_id, %cause, status, "request failed");
        } else if this.config.trace && response.status().is_server_error() {
            tracing::error!(status = response.status().as_u16(), "response failed");
        }
        let headers = response.headers_mut();
        for (name, value) in &this.config.headers {
            headers.insert(name.clone(), value.clone());
        }
        if let (Some((name, _)), Some(id)) = (&this.config.request_id, id) {
            headers.entry(name).or_insert(id);
        }
        if this.config.trace {
            let status = response.status().as_u16();
            if let Some(started) = this.started {
                let latency_ms = started.elapsed().as_secs_f64() * 1000.0;
                tracing::debug!(status, latency_ms, "finished processing request");
            }
        }
        Poll::Ready(Ok(response))
    }
}

/// Answers `status` (408 by default) to a request the app has not answered within `limit`, and
/// drops the app's future. Unlike tower-http's `TimeoutLayer` it starts a timer only when the
/// app first waits, so an answer ready at the first poll costs no timer: the limit then counts
/// from that first wait, after the synchronous work before it.
#[derive(Clone, Copy, Debug)]
pub struct RequestTimeout {
    limit: Duration,
    status: StatusCode,
}

impl RequestTimeout {
    /// Answers 408 to a request unanswered after `limit`.
    pub fn new(limit: Duration) -> Self {
        RequestTimeout {
            limit,
            status: StatusCode::REQUEST_TIMEOUT,
        }
    }

    /// Answers `status` instead of 408 (e.g. 503 or 504).
    pub fn status(mut self, status: StatusCode) -> Self {
        self.status = status;
        self
    }
}

impl<S> tower::Layer<S> for RequestTimeout {
    type Service = RequestTimeoutService<S>;

    fn layer(&self, inner: S) -> Self::Service {
        RequestTimeoutService {
            timeout: *self,
            inner,
        }
    }
}

/// The service of [`RequestTimeout`].
#[derive(Clone, Debug)]
pub struct RequestTimeoutService<S> {
    timeout: RequestTimeout,
    inner: S,
}

impl<S> tower::Service<Request> for RequestTimeoutService<S>
where
    S: tower::Service<Request, Response = Response>,
{
    type Response = Response;
    type Error = S::Error;
    type Future = TimeoutFuture<S::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: Request) -> Self::Future {
        TimeoutFuture::new(self.inner.call(request), Some(self.timeout))
    }
}

pin_project! {
    /// The future of [`RequestTimeoutService`], and of `restauth::serve`'s own request timeout.
    pub struct TimeoutFuture<F> {
        #[pin]
        inner: F,
        #[pin]
        sleep: Option<tokio::time::Sleep>,
        // `None`: no limit, the app's answer whenever it comes.
        timeout: Option<RequestTimeout>,
    }
}

impl<F> TimeoutFuture<F> {
    pub(crate) fn new(inner: F, timeout: Option<RequestTimeout>) -> Self {
        TimeoutFuture {
            inner,
            sleep: None,
            timeout,
        }
    }
}

impl<F, E> Future for TimeoutFuture<F>
where
    F: Future<Output = Result<Response, E>>,
{
    type Output = Result<Response, E>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let mut this = self.project();
        if let Poll::Ready(answer) = this.inner.poll(cx) {
            return Poll::Ready(answer);
        }
        let Some(timeout) = *this.timeout else {
            return Poll::Pending;
        };
        if this.sleep.is_none() {
            this.sleep.set(Some(tokio::time::sleep(timeout.limit)));
        }
        match this.sleep.as_pin_mut() {
            Some(sleep) => {
                ready!(sleep.poll(cx));
                Poll::Ready(Ok(timeout.status.into_response()))
            }
            None => Poll::Pending,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn request_ids_are_prefix_and_hex_counter() {
        let ids = SequentialRequestId::new();
        let first = ids.next_id();
        let first = first.to_str().unwrap();
        let (prefix, n) = first.split_once('-').unwrap();
        assert_eq!(prefix.len(), 12);
        assert_eq!(n, "1");
        ids.next.store(0xabc0, Ordering::Relaxed);
        let later = ids.next_id();
        assert_eq!(later.to_str().unwrap(), format!("{prefix}-abc0"));
        ids.next.store(u64::MAX, Ordering::Relaxed);
        assert_eq!(
            ids.next_id().to_str().unwrap(),
            format!("{prefix}-ffffffffffffffff")
        );
        ids.next.store(0, Ordering::Relaxed);
        assert_eq!(ids.next_id().to_str().unwrap(), format!("{prefix}-0"));
    }

    #[test]
    fn each_service_clone_takes_its_own_growing_block_of_ids() {
        let ids = SequentialRequestId::new();
        let (mut a, mut b) = (IdBlock::new(), IdBlock::new());
        let mut seen = std::collections::HashSet::new();
        let mut next = |block: &mut IdBlock| {
            let id = block.next(&ids).to_str().unwrap().to_owned();
            let n = u64::from_str_radix(id.rsplit_once('-').unwrap().1, 16).unwrap();
            assert!(seen.insert(id), "an id handed out twice");
            n
        };
        // Blocks of 1, 2, 4: a takes 1, b takes 2, a takes 3 and 4 (its second block), …
        assert_eq!(
            [next(&mut a), next(&mut b), next(&mut a), next(&mut a)],
            [1, 2, 3, 4]
        );
        assert_eq!([next(&mut b), next(&mut b)], [5, 6]);
        for _ in 0..500 {
            next(&mut a);
        }
        assert_eq!(a.len, IdBlock::MAX, "the block stops growing");
        // Near the end of the counter the ids wrap around instead of overflowing.
        ids.next.store(u64::MAX - 1, Ordering::Relaxed);
        let mut c = IdBlock::new();
        (c.len, c.used) = (2, 2);
        let ns: Vec<String> = (0..4)
            .map(|_| {
                c.next(&ids)
                    .to_str()
                    .unwrap()
                    .rsplit_once('-')
                    .unwrap()
                    .1
                    .to_owned()
            })
            .collect();
        assert_eq!(ns, ["fffffffffffffffe", "ffffffffffffffff", "0", "1"]);
    }
}
