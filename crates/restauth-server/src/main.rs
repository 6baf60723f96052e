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
mod logging;
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
    logging::init(
        default_level,
        config::log_settings(cli.config.as_deref()).format,
    );
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
