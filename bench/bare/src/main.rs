//! `bare`: the benchmark's baseline. An axum server on the same runtime as restauth (tokio,
//! multi-thread) that answers every GET with the profile body restauth's `/api/profile/` gives,
//! and every POST with a token-shaped body, without authentication, database or middleware.
//!
//! Usage: `bare [--bind HOST:PORT]` (default `127.0.0.1:0`); prints
//! `bare listening on http://ADDR` once it accepts connections.

use std::process::ExitCode;

use axum::Router;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use serde_json::json;
use tokio::net::TcpListener;

// restauth's allocator, so that the ratios measure restauth's work, not a different malloc.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

async fn profile() -> Response {
    json_body(&json!({ "username": "bench", "email": "bench@example.com" }))
}

async fn token() -> Response {
    json_body(&json!({ "token": "0000000000000000000000000000000000000000" }))
}

/// Serialised per request, as a real handler would.
fn json_body(value: &serde_json::Value) -> Response {
    (
        StatusCode::OK,
        [(header::CONTENT_TYPE, "application/json")],
        value.to_string(),
    )
        .into_response()
}

fn bind_address() -> Result<String, String> {
    let mut args = std::env::args().skip(1);
    let mut bind = "127.0.0.1:0".to_owned();
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--bind" => bind = args.next().ok_or("--bind needs HOST:PORT")?,
            other => {
                return Err(format!(
                    "unknown argument {other:?}; usage: bare [--bind HOST:PORT]"
                ));
            }
        }
    }
    Ok(bind)
}

#[tokio::main]
async fn main() -> ExitCode {
    let bind = match bind_address() {
        Ok(b) => b,
        Err(e) => {
            eprintln!("{e}");
            return ExitCode::FAILURE;
        }
    };
    let listener = match TcpListener::bind(&bind).await {
        Ok(l) => l,
        Err(e) => {
            eprintln!("cannot listen on {bind}: {e}");
            return ExitCode::FAILURE;
        }
    };
    match listener.local_addr() {
        Ok(addr) => println!("bare listening on http://{addr}"),
        Err(e) => {
            eprintln!("{e}");
            return ExitCode::FAILURE;
        }
    }
    // Every path answers, with or without a trailing slash: GET the profile, POST a token.
    let app = Router::new().fallback(get(profile).post(token));
    match axum::serve(listener, app).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("{e}");
            ExitCode::FAILURE
        }
    }
}
