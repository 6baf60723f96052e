//! `restauth`: the server and its Django-style management commands.

use std::process::ExitCode;

use clap::Parser;

mod app;
mod check;
mod cli;
mod commands;
mod config;
mod demo;
mod import_django;
mod openapi;

// See Cargo.toml. The library leaves the allocator to the application.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[tokio::main]
async fn main() -> ExitCode {
    let cli = cli::Cli::parse();
    let default_level = if matches!(cli.command, cli::Command::Serve(_)) {
        "info"
    } else {
        "warn"
    };
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default_level));
    let log = config::log_settings(cli.config.as_deref());
    let logger = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    match log.format {
        config::LogFormat::Text => logger.init(),
        // One JSON object a line: the event's fields at the top level, for log collectors.
        config::LogFormat::Json => logger
            .json()
            .flatten_event(true)
            .with_current_span(true)
            .with_span_list(false)
            .init(),
    }
    match commands::run(cli).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            // `check` prints its own report, as Django's SystemCheckError.
            if e.starts_with("SystemCheckError: ") {
                eprintln!("{e}");
            } else {
                eprintln!("CommandError: {e}");
            }
            ExitCode::FAILURE
        }
    }
}
