//! Small tower layers a server stacks around its routes, kept cheap because every request
//! passes through them: an early answer ([`Precheck`]) and request ids that need no random
//! source per request ([`SequentialRequestId`]).

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use axum::extract::Request;
use axum::response::Response;
use http::HeaderValue;
use tower_http::request_id::{MakeRequestId, RequestId};

/// A check that may answer a request before the inner service sees it: `Some(answer)` ends
/// the request there. A plain layer, without a boxed future, unlike `middleware::from_fn`.
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
    F: Fn(&Request) -> Option<Response>,
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
        match (self.check)(&request) {
            Some(answer) => futures_util::future::Either::Left(std::future::ready(Ok(answer))),
            None => futures_util::future::Either::Right(self.inner.call(request)),
        }
    }
}

/// Request ids unique per process start: a random prefix and a counter, for tower-http's
/// `SetRequestIdLayer`. A UUID per request would read the OS random source on the hot path.
#[derive(Clone)]
pub struct SequentialRequestId {
    prefix: Arc<str>,
    next: Arc<AtomicU64>,
}

impl SequentialRequestId {
    pub fn new() -> Self {
        SequentialRequestId {
            prefix: crate::core::random::hex::<6>().into(),
            next: Arc::new(AtomicU64::new(1)),
        }
    }
}

impl Default for SequentialRequestId {
    fn default() -> Self {
        Self::new()
    }
}

impl MakeRequestId for SequentialRequestId {
    fn make_request_id<B>(&mut self, _: &http::Request<B>) -> Option<RequestId> {
        let n = self.next.fetch_add(1, Ordering::Relaxed);
        HeaderValue::from_str(&format!("{}-{n:x}", self.prefix))
            .ok()
            .map(RequestId::new)
    }
}
