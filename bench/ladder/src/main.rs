//! `ladder`: the benchmark's cost ladder. One handler — the body of restauth's
//! `/api/profile/` — served with the restauth server's layers and authentication added one step
//! at a time, so `bench/ladder.sh` can measure what each step costs.
//!
//! Usage: `ladder --step NAME [--bind HOST:PORT]`, run in an empty folder (it creates its
//! SQLite store there). It prints `token=…`, `access=…` and `sessionid=…` (credentials of the
//! user `bench`, for the authenticated steps), then `ladder listening on http://ADDR`.
//!
//! The steps are cumulative, in the order of [`STEPS`]. Each layer sits where the server's
//! `app.rs` puts it (one tower stack around the router, outermost first: response header,
//! request id, trace span, panic catching, timeout, then the Host check and body limit in one
//! precheck), so a step
//! measures what that layer costs in its real place. `crates/restauth-server/src/app.rs` is the reference: when its
//! stack changes, change this one.

use std::convert::Infallible;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::Request;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use http::{HeaderName, HeaderValue, StatusCode, header};
use restauth::layers::{Envelope, Precheck, RequestTimeout, limit_body};
use restauth::pipeline::hosts::AllowedHosts;
use restauth::{
    AllowAny, ApiView, AuthClass, IsAuthenticated, MaybeUser, NewAccount, Restauth, ServeOptions,
    Settings,
};
use serde_json::json;
use tokio::net::TcpListener;
use tower::ServiceBuilder;

/// The steps, cheapest first; each adds to the one before.
pub const STEPS: [&str; 13] = [
    // axum::serve and a plain handler: the bare handler of bench/run.
    "bare",
    // restauth::serve: trailing-slash normalisation, DRF's 404/405 bodies, header-read timeout,
    // the peer address, the lingering close of unread bodies.
    "serve",
    // restauth::layers::Envelope with the server's request ids (a sequential id, kept in the
    // answer),
    "request-id",
    // then its (debug-level) span and 5xx events,
    "trace",
    // then its panic catching.
    "panic",
    // The allowed-hosts check.
    "hosts",
    // RequestTimeout (408) and the body limit (413, in the hosts step's precheck).
    "timeout",
    // The envelope's X-Content-Type-Options: nosniff on every answer.
    "headers",
    // The handler as an ApiView with AllowAny and no authentication class.
    "view",
    // AllowAny with the four classes of /api/public/, no credentials.
    "anonymous",
    // Token authentication + IsAuthenticated, with a valid token.
    "token",
    // JWT authentication + IsAuthenticated, with a valid access token.
    "jwt",
    // Session authentication + IsAuthenticated, with a valid session cookie.
    "session",
];

// restauth's allocator, so that every step, the bare one included, allocates alike.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

const REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

async fn profile() -> Response {
    json_body(&json!({ "username": "bench", "email": "bench@example.com" }))
}

async fn profile_of(MaybeUser(user): MaybeUser) -> Response {
    match user {
        Some(user) => json_body(&json!({ "username": user.username, "email": user.email })),
        None => json_body(&json!({ "username": null, "email": null })),
    }
}

fn json_body(value: &serde_json::Value) -> Response {
    (
        StatusCode::OK,
        [(header::CONTENT_TYPE, "application/json")],
        value.to_string(),
    )
        .into_response()
}

/// The route of a step: the plain handler up to `headers`, then the handler in an `ApiView`.
fn route(restauth: &Restauth, step: usize) -> Router {
    let at = |name: &str| STEPS.iter().position(|s| *s == name).unwrap_or(usize::MAX);
    let policy = restauth.policy();
    let view = if step < at("view") {
        // axum::serve keeps the trailing slash that restauth::serve trims: both paths.
        return Router::new()
            .route("/api/profile", get(profile))
            .route("/api/profile/", get(profile));
    } else if step == at("view") {
        ApiView::new("Profile").get(profile_of).guard(
            policy
                .authentication(std::iter::empty::<AuthClass>())
                .permission(AllowAny),
        )
    } else if step == at("anonymous") {
        ApiView::new("Profile").get(profile_of).guard(
            policy
                .authentication([
                    AuthClass::Session,
                    AuthClass::Basic,
                    AuthClass::Token,
                    AuthClass::Jwt,
                ])
                .permission(AllowAny),
        )
    } else {
        let class = match STEPS[step] {
            "token" => AuthClass::Token,
            "jwt" => AuthClass::Jwt,
            _ => AuthClass::Session,
        };
        ApiView::new("Profile")
            .get(profile_of)
            .guard(policy.authentication([class]).permission(IsAuthenticated))
    };
    Router::new().route("/api/profile", view)
}

/// The server's layers that `step` includes, each in its place in the server's stack (one tower
/// stack around the router, outermost first, as `app.rs` builds it); a layer not yet included
/// is an `option_layer` left empty.
fn app(
    restauth: &Restauth,
    step: usize,
    hosts: AllowedHosts,
) -> impl tower::Service<Request, Response = Response, Error = Infallible, Future: Send>
+ Clone
+ Send
+ 'static {
    let on = |name: &str| {
        STEPS
            .iter()
            .position(|s| *s == name)
            .is_some_and(|i| i <= step)
    };
    let hosts = Arc::new(hosts);
    let max_body = 64 * 1024;
    let on_timeout = on("timeout");
    // The server's `Envelope` takes each of its parts as the steps reach them.
    let mut envelope = Envelope::new();
    if on("request-id") {
        envelope = envelope.request_id(REQUEST_ID);
    }
    if on("trace") {
        envelope = envelope.trace();
    }
    if on("panic") {
        envelope = envelope.catch_panic(|_| StatusCode::INTERNAL_SERVER_ERROR.into_response());
    }
    if on("headers") {
        envelope = envelope.response_header(
            header::X_CONTENT_TYPE_OPTIONS,
            HeaderValue::from_static("nosniff"),
        );
    }
    ServiceBuilder::new()
        .option_layer(on("request-id").then_some(envelope))
        .option_layer(on("timeout").then(|| RequestTimeout::new(Duration::from_secs(30))))
        // The server checks the host and the body limit in one precheck, inside the timeout.
        .option_layer(on("hosts").then_some(Precheck(move |r: &mut Request| {
            if !hosts.allows_request(r.uri(), r.headers()) {
                return Some(StatusCode::BAD_REQUEST.into_response());
            }
            if on_timeout {
                limit_body(r, max_body)
            } else {
                None
            }
        })))
        .service(route(restauth, step))
}

struct Args {
    step: usize,
    bind: String,
}

fn args() -> Result<Args, String> {
    let usage = format!(
        "usage: ladder --step {{{}}} [--bind HOST:PORT] | --steps",
        STEPS.join("|")
    );
    let mut args = std::env::args().skip(1);
    let (mut step, mut bind) = (None, "127.0.0.1:0".to_owned());
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--steps" => {
                println!("{}", STEPS.join(" "));
                std::process::exit(0);
            }
            "--step" => {
                let name = args.next().ok_or(usage.clone())?;
                step = Some(
                    STEPS
                        .iter()
                        .position(|s| *s == name)
                        .ok_or(format!("unknown step {name:?}; {usage}"))?,
                );
            }
            "--bind" => bind = args.next().ok_or(usage.clone())?,
            _ => return Err(usage),
        }
    }
    Ok(Args {
        step: step.ok_or(usage)?,
        bind,
    })
}

/// The user `bench` and one credential of each kind, printed for the load generator.
async fn credentials(restauth: &Restauth) -> Result<(), restauth::Error> {
    let mut account = NewAccount::new("bench");
    account.email = "bench@example.com".into();
    let user = restauth.users().create_user(account).await?;
    let token = restauth.tokens().issue_token(user.id).await?;
    let pair = restauth.jwt().obtain_pair(&user).await?;
    let session = restauth.sessions().login_session(&user, None).await?;
    println!("token={}", token.key);
    println!("access={}", pair.access);
    println!("sessionid={session}");
    Ok(())
}

async fn run(args: Args) -> Result<(), String> {
    let mut settings = Settings::default();
    settings.database.url = "sqlite://ladder.db".into();
    // Under valgrind (bench/instructions) opening the store takes a while.
    settings.database.acquire_timeout = restauth::core::settings::Seconds(120);
    settings.secret_key = Some(restauth::core::settings::Secret(
        "ladder-secret-key-0123456789abcdef0123456789abcdef".into(),
    ));
    let restauth = Restauth::open(settings).await.map_err(|e| e.to_string())?;
    credentials(&restauth).await.map_err(|e| e.to_string())?;
    let listener = TcpListener::bind(&args.bind)
        .await
        .map_err(|e| format!("cannot listen on {}: {e}", args.bind))?;
    let addr = listener.local_addr().map_err(|e| e.to_string())?;
    let hosts = AllowedHosts::local(addr).ok_or("bind a loopback address")?;
    println!("ladder listening on http://{addr}");
    if args.step == 0 {
        axum::serve(listener, route(&restauth, 0))
            .await
            .map_err(|e| e.to_string())
    } else {
        let app = app(&restauth, args.step, hosts);
        let options = ServeOptions::default()
            .request_timeout(None)
            .max_body_bytes(None);
        restauth::serve(listener, app, options)
            .await
            .map_err(|e| e.to_string())
    }
}

#[tokio::main]
async fn main() -> ExitCode {
    let result = match args() {
        Ok(args) => run(args).await,
        Err(e) => Err(e),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("ladder: {e}");
            ExitCode::FAILURE
        }
    }
}
