//! One connection's requests: the peer address, the body's bounds (limit, lingering close,
//! read timeout), the request timeout, DRF's path and body conventions, then the app.

use std::convert::Infallible;
use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use axum::body::Body;
use axum::extract::{ConnectInfo, Request};
use axum::response::{IntoResponse, Response};
use http::{StatusCode, header};
use http_body_util::BodyExt;
use hyper::body::{Body as _, Bytes, Frame, Incoming, SizeHint};
use tower::ServiceExt;

use crate::core::error::Error;
use crate::layers::{RequestTimeout, TimeoutFuture};

use super::{Activity, Busy, ServeOptions};

/// What a request needs of the [`ServeOptions`], copied into each connection.
#[derive(Clone, Copy)]
pub(super) struct RequestOptions {
    request_timeout: Option<Duration>,
    body_read_timeout: Option<Duration>,
    max_body_bytes: Option<usize>,
    discard_body_bytes: u64,
    discard_body_timeout: Duration,
    drf_conventions: bool,
}

impl RequestOptions {
    pub(super) fn of(options: &ServeOptions) -> Self {
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
pub(super) struct Connection<S> {
    pub(super) app: std::cell::RefCell<S>,
    pub(super) options: RequestOptions,
    /// What each request's extensions start as: see [`extensions_of`].
    pub(super) extensions: http::Extensions,
    pub(super) activity: Arc<Activity>,
}

/// A request's extensions as the connection hands them over: the peer's `ConnectInfo`, in a
/// table already sized for what axum and the policy insert after it (the matched route, the
/// path parameters, the guard's identity). Cloned per request, it costs one allocation; built
/// by inserts, the table would start at three slots and be rehashed at the fourth.
pub(super) fn extensions_of(peer: SocketAddr) -> http::Extensions {
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
    pub(super) enum Answer<S: tower::Service<Request>> {
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
