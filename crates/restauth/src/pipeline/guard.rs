//! The glue between a [`Policy`] and axum: `Guard`, the handler an `ApiView` puts behind
//! its policy, and [`PolicyService`], the policy as a tower layer. Both run the checks that need
//! no waiting at once (a cached credential: no boxed future) and the rest on the async path,
//! then give every answer the view's `Allow`, `Vary: Cookie` and a dead cookie's removal.

use std::convert::Infallible;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context as TaskContext, Poll};

use axum::body::Body;
use axum::response::{IntoResponse, Response};
use http::{HeaderValue, Request};
use tower::{Layer, Service};

use crate::core::error::Error;
use crate::pipeline::authentication::ForgetCookie;
use crate::pipeline::policy::{Guarded, Now, Policy, Resume};

impl<S> Layer<S> for Policy {
    type Service = PolicyService<S>;

    fn layer(&self, inner: S) -> Self::Service {
        PolicyService {
            policy: self.clone(),
            inner,
        }
    }
}

/// An `ApiView` handler behind its view's policy. The check runs inside the handler's own call
/// instead of in a layer around the route: `MethodRouter::layer` would wrap the route in one
/// more boxed service, cloned and boxed again with its future on every request.
///
/// axum clones the handler for each request: the policy's clone is the one the extractors get,
/// and `allow` is a static value (see `ApiView`), so a request touches one shared counter.
pub(crate) struct Guard<H> {
    pub handler: H,
    pub policy: Policy,
    pub allow: HeaderValue,
}

impl<H: Clone> Clone for Guard<H> {
    fn clone(&self) -> Self {
        Guard {
            handler: self.handler.clone(),
            policy: self.policy.clone(),
            allow: self.allow.clone(),
        }
    }
}

impl<H, T, S> axum::handler::Handler<T, S> for Guard<H>
where
    H: axum::handler::Handler<T, S>,
    T: 'static,
    S: Clone + Send + Sync + 'static,
{
    type Future = PolicyFuture<H::Future>;

    fn call(self, request: Request<Body>, state: S) -> Self::Future {
        let Guard {
            handler,
            policy,
            allow,
        } = self;
        match check_request(policy, Some(&allow), request) {
            Checked::Pass(request, finish) => PolicyFuture::Handler {
                future: handler.call(request, state),
                finish: Some(finish),
            },
            Checked::Answer(response) => PolicyFuture::Ready {
                response: Some(response),
            },
            Checked::Wait(request, resume, policy) => PolicyFuture::Waiting {
                future: Box::pin(async move {
                    match check_later(policy, Some(&allow), request, resume).await {
                        Ok((request, finish)) => finish.apply(handler.call(request, state).await),
                        Err(response) => response,
                    }
                }),
            },
        }
    }
}

/// The service [`Policy`] makes of an inner service as a tower [`Layer`]: the policy's
/// checks, then the inner service, then the view's headers on the answer.
#[derive(Clone)]
pub struct PolicyService<S> {
    policy: Policy,
    inner: S,
}

/// The answer of a service that cannot fail.
fn infallible(result: Result<Response, Infallible>) -> Response {
    match result {
        Ok(response) => response,
        Err(never) => match never {},
    }
}

/// The future of [`PolicyService`].
pub type PolicyServiceFuture<F> = futures_util::future::Map<
    PolicyFuture<futures_util::future::Map<F, fn(Result<Response, Infallible>) -> Response>>,
    fn(Response) -> Result<Response, Infallible>,
>;

impl<S> Service<Request<Body>> for PolicyService<S>
where
    S: Service<Request<Body>, Response = Response, Error = Infallible> + Clone + Send + 'static,
    S::Future: Send + 'static,
{
    type Response = Response;
    type Error = Infallible;
    type Future = PolicyServiceFuture<S::Future>;

    fn poll_ready(&mut self, cx: &mut TaskContext<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: Request<Body>) -> Self::Future {
        use futures_util::FutureExt;
        let unwrap = infallible as fn(Result<Response, Infallible>) -> Response;
        let future = match check_request(self.policy.clone(), None, request) {
            // Most requests: the handler is called here, and its future is the answer's,
            // without a boxed future or a clone of the inner service.
            Checked::Pass(request, finish) => PolicyFuture::Handler {
                future: self.inner.call(request).map(unwrap),
                finish: Some(finish),
            },
            Checked::Answer(response) => PolicyFuture::Ready {
                response: Some(response),
            },
            Checked::Wait(request, resume, policy) => {
                // The clone is not ready; keep the one that is (tower's usual swap).
                let clone = self.inner.clone();
                let mut inner = std::mem::replace(&mut self.inner, clone);
                PolicyFuture::Waiting {
                    future: Box::pin(async move {
                        match check_later(policy, None, request, resume).await {
                            Ok((request, finish)) => {
                                finish.apply(infallible(inner.call(request).await))
                            }
                            Err(response) => response,
                        }
                    }),
                }
            }
        };
        future.map(Ok as fn(Response) -> Result<Response, Infallible>)
    }
}

/// What the checks that need no waiting decided.
enum Checked {
    /// Let through: the request, with its identity for the extractors, and what every
    /// answer gets.
    Pass(Request<Body>, Finish),
    /// Refused, or answered before authentication (406).
    Answer(Response),
    /// The rest needs waiting: the request, where to resume, and the policy.
    Wait(Request<Body>, Resume, Policy),
}

/// Negotiation, then the checks that need no waiting (most requests: a cached credential).
/// The policy is the request's own clone: a request let through keeps it for its extractors.
fn check_request(
    policy: Policy,
    allow: Option<&HeaderValue>,
    mut request: Request<Body>,
) -> Checked {
    // DRF negotiates before it authenticates: a 406 wins over a 401.
    if !crate::pipeline::negotiation::accepts(request.headers(), "application/json") {
        let mut response = Error::NotAcceptable.into_response();
        add_allow(&mut response, allow);
        return Checked::Answer(response);
    }
    match policy.check_at_once(&mut request) {
        Now::Done(Ok(identity)) => {
            let finish = Finish::new(&policy, &request, allow.cloned());
            request
                .extensions_mut()
                .insert(Guarded { identity, policy });
            Checked::Pass(request, finish)
        }
        Now::Done(Err(e)) => {
            let finish = Finish::new(&policy, &request, allow.cloned());
            Checked::Answer(finish.apply(e.into_response()))
        }
        Now::Later(resume) => Checked::Wait(request, resume, policy),
    }
}

/// The checks that wait (a database read, a password hash, a throttle's store), from where
/// [`check_request`] stopped.
async fn check_later(
    policy: Policy,
    allow: Option<&HeaderValue>,
    mut request: Request<Body>,
    resume: Resume,
) -> Result<(Request<Body>, Finish), Response> {
    let checked = match resume {
        Resume::Authenticate(from) => policy.check_from(&mut request, from).await,
        Resume::Permit(identity) => policy.permit_loaded(&mut request, identity).await,
        Resume::Throttle(identity) => policy
            .throttle(request.headers(), request.extensions(), &identity)
            .await
            .map(|()| identity),
    };
    let finish = Finish::new(&policy, &request, allow.cloned());
    match checked {
        Ok(identity) => {
            request
                .extensions_mut()
                .insert(Guarded { identity, policy });
            Ok((request, finish))
        }
        Err(e) => Err(finish.apply(e.into_response())),
    }
}

/// What every answer of a guarded view gets: the `Allow` header, the removal of a dead session
/// cookie, and `Vary: Cookie` when the session was read.
struct Finish {
    allow: Option<HeaderValue>,
    forget: Option<ForgetCookie>,
    varies_on_cookie: bool,
}

impl Finish {
    /// Read before the handler runs: the cookie to forget was marked by authentication.
    fn new(policy: &Policy, request: &Request<Body>, allow: Option<HeaderValue>) -> Finish {
        Finish {
            allow,
            forget: cookie_to_forget(request.extensions()),
            varies_on_cookie: policy.reads_session(),
        }
    }

    fn apply(self, mut response: Response) -> Response {
        if let Some(forget) = self.forget {
            forget_cookie(forget, &mut response);
        }
        if self.varies_on_cookie {
            // Django's session middleware says so whenever the session was read.
            response
                .headers_mut()
                .append(http::header::VARY, HeaderValue::from_static("Cookie"));
        }
        add_allow(&mut response, self.allow.as_ref());
        response
    }
}

fn add_allow(response: &mut Response, allow: Option<&HeaderValue>) {
    if let Some(allow) = allow {
        response
            .headers_mut()
            .insert(http::header::ALLOW, allow.clone());
    }
}

pin_project_lite::pin_project! {
    /// The answer of a guarded handler: the handler's own future when the checks needed no
    /// waiting, a boxed one when they did.
    #[project = PolicyFutureProj]
    // pin-project-lite takes no attribute on a field but `#[pin]`: the variants' docs say what
    // their fields hold.
    #[allow(missing_docs)]
    pub enum PolicyFuture<F> {
        /// The checks passed at once: the handler's `future`, then the view's headers
        /// (`finish`) on its answer.
        Handler { #[pin] future: F, finish: Option<Finish> },
        /// The checks had to wait: they and the handler run in one boxed `future`.
        Waiting { future: Pin<Box<dyn Future<Output = Response> + Send>> },
        /// The checks refused: the `response`, taken when polled.
        Ready { response: Option<Response> },
    }
}

impl<F> Future for PolicyFuture<F>
where
    F: Future<Output = Response>,
{
    type Output = Response;

    fn poll(self: Pin<&mut Self>, cx: &mut TaskContext<'_>) -> Poll<Self::Output> {
        match self.project() {
            PolicyFutureProj::Handler { future, finish } => {
                let response = std::task::ready!(future.poll(cx));
                Poll::Ready(match finish.take() {
                    Some(finish) => finish.apply(response),
                    None => response,
                })
            }
            PolicyFutureProj::Waiting { future } => future.as_mut().poll(cx),
            PolicyFutureProj::Ready { response } => {
                Poll::Ready(response.take().unwrap_or_else(|| {
                    Error::Internal("polled after its answer".into()).into_response()
                }))
            }
        }
    }
}

fn cookie_to_forget(extensions: &http::Extensions) -> Option<ForgetCookie> {
    extensions.get::<ForgetCookie>().cloned()
}

/// Removes the cookie an authentication class asked to forget, unless the response sets that
/// cookie itself (a login answering a stale cookie with a fresh one).
fn forget_cookie(forget: ForgetCookie, response: &mut Response) {
    let sets_it = response
        .headers()
        .get_all(http::header::SET_COOKIE)
        .iter()
        .any(|v| {
            v.as_bytes()
                .strip_prefix(forget.name.as_bytes())
                .is_some_and(|rest| rest.first() == Some(&b'='))
        });
    if !sets_it {
        response
            .headers_mut()
            .append(http::header::SET_COOKIE, forget.removal);
    }
}
