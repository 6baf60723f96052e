//! The library's public API is the committed listing `public-api.txt`: a change to what apps can
//! name shows in review as a change to that file, not only as a diff of `pub` keywords.
//!
//! The listing is made by `cargo public-api` (rustdoc's JSON, so it needs the nightly
//! toolchain) with the features the `restauth` server enables. After a deliberate change:
//!
//! ```text
//! RESTAUTH_PUBLIC_API=write cargo test -p restauth --test public_api
//! ```

use std::path::{Path, PathBuf};
use std::process::Command;

/// The features of the shipped server: every optional part, without the test clock.
const FEATURES: &str = "sqlite,postgres,redis,django-hashers,html-login,email,openapi";

#[test]
fn public_api_matches_the_committed_listing() {
    let crate_dir = Path::new(env!("CARGO_MANIFEST_DIR"));
    let listing_path = crate_dir.join("public-api.txt");
    let Some(current) = current_listing(crate_dir) else {
        return;
    };
    if std::env::var("RESTAUTH_PUBLIC_API").is_ok_and(|v| v == "write") {
        std::fs::write(&listing_path, &current).expect("write public-api.txt");
        return;
    }
    let committed = std::fs::read_to_string(&listing_path).unwrap_or_default();
    if committed == current {
        return;
    }
    let committed_lines: std::collections::BTreeSet<&str> = committed.lines().collect();
    let current_lines: std::collections::BTreeSet<&str> = current.lines().collect();
    let mut diff = String::new();
    for gone in committed_lines.difference(&current_lines) {
        diff.push_str(&format!("- {gone}\n"));
    }
    for added in current_lines.difference(&committed_lines) {
        diff.push_str(&format!("+ {added}\n"));
    }
    panic!(
        "the public API differs from crates/restauth/public-api.txt:\n{diff}\n\
         if the change is meant, write the listing again with \
         `RESTAUTH_PUBLIC_API=write cargo test -p restauth --test public_api` and commit it"
    );
}

/// The listing of the code as it is, or `None` (said on stderr) when the tools are missing
/// outside CI.
fn current_listing(crate_dir: &Path) -> Option<String> {
    let has_tool = Command::new("cargo")
        .args(["public-api", "--version"])
        .output()
        .is_ok_and(|o| o.status.success());
    let has_nightly = Command::new("cargo")
        .args(["+nightly", "--version"])
        .output()
        .is_ok_and(|o| o.status.success());
    if !(has_tool && has_nightly) {
        skip(
            "cargo-public-api and the nightly toolchain are needed (`cargo install cargo-public-api --locked`, `rustup toolchain install nightly`)",
        );
        return None;
    }
    // A target directory of its own: the nightly rustdoc build must neither wait for the lock
    // the running `cargo test` holds nor replace its artifacts.
    let target = workspace_target(crate_dir).join("public-api");
    let out = Command::new("cargo")
        .current_dir(crate_dir)
        .env("CARGO_TARGET_DIR", &target)
        .env_remove("RUSTFLAGS")
        .env_remove("RUSTUP_TOOLCHAIN")
        .args([
            "public-api",
            "--simplified",
            "--simplified",
            "--features",
            FEATURES,
            "-p",
            "restauth",
        ])
        .output()
        .expect("run cargo public-api");
    assert!(
        out.status.success(),
        "cargo public-api failed:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    Some(String::from_utf8(out.stdout).expect("the listing is UTF-8"))
}

fn workspace_target(crate_dir: &Path) -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| crate_dir.join("../../target"))
}

/// A missing tool fails under `CI=true`, which installs it, and is reported otherwise.
fn skip(reason: &str) {
    if std::env::var("CI").is_ok_and(|v| v == "true") {
        panic!("{reason}: CI=true installs them, so this test may not be skipped");
    }
    eprintln!("SKIPPED public_api_matches_the_committed_listing: {reason}");
}
