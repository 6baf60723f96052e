//! The request metrics layers: `restauth_http_requests_total` by method, route and status.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use axum::extract::Request;
use axum::response::Response;

/// The `route` label of a request no route matched (one label, whatever the path).
pub(crate) const UNMATCHED_ROUTE: &str = "unmatched";

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
