//! `restauth`: the server and its Django-style management commands.

use std::process::ExitCode;

use clap::Parser;

mod app;
mod cli;
mod commands;
mod config;
mod demo;
mod import_django;
mod openapi;

#[tokio::main]
async fn main() -> ExitCode {
    let cli = cli::Cli::parse();
    let default_level = if matches!(cli.command, cli::Command::Serve(_)) {
        "info"
    } else {
        "warn"
    };
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default_level)),
        )
        .with_writer(std::io::stderr)
        .init();
    match commands::run(cli).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("CommandError: {e}");
            ExitCode::FAILURE
        }
    }
}
