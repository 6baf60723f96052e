//! Management commands and configuration loading, through the real binary.

mod common;

use common::{Server, command_in, refuses_to_serve, stderr, stdout};

#[tokio::test]
async fn createsuperuser_noinput_reads_the_password_from_the_environment() {
    let dir = tempfile::tempdir().unwrap();
    let out = std::process::Command::new(common::BIN)
        .args([
            "createsuperuser",
            "--noinput",
            "--username",
            "admin",
            "--email",
            "a@b.c",
        ])
        .env("RESTAUTH_SUPERUSER_PASSWORD", "a perfectly long passphrase")
        .current_dir(dir.path())
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(stdout(&out).trim(), "Superuser created successfully.");
    // Username taken: a clear error, non-zero exit.
    let again = command_in(
        dir.path(),
        &["createsuperuser", "--noinput", "--username", "admin"],
        "",
    );
    assert!(!again.status.success());
    assert!(stderr(&again).contains("A user with that username already exists."));
    let missing = command_in(dir.path(), &["createsuperuser", "--noinput"], "");
    assert!(!missing.status.success());
    assert!(stderr(&missing).contains("--username"));
}

#[tokio::test]
async fn createsuperuser_prompts_on_standard_input() {
    let dir = tempfile::tempdir().unwrap();
    let out = command_in(
        dir.path(),
        &["createsuperuser"],
        "root\nroot@example.com\nsuch a good passphrase\nsuch a good passphrase\n",
    );
    assert!(out.status.success(), "{}", stderr(&out));
    let mismatch = command_in(
        dir.path(),
        &["createsuperuser"],
        "other\n\nsuch a good passphrase\nanother passphrase\n",
    );
    assert!(!mismatch.status.success());
    assert!(stderr(&mismatch).contains("Your passwords didn't match."));
}

/// Without a terminal, a command that needs a password says how to give it, instead of
/// taking the missing second line for a mismatch or the missing first for a blank password.
#[tokio::test]
async fn without_a_terminal_the_password_comes_with_password_stdin() {
    const NO_TERMINAL: &str = "No terminal to ask for the password: pass --password-stdin";
    let dir = tempfile::tempdir().unwrap();
    let one_line = command_in(
        dir.path(),
        &[
            "createsuperuser",
            "--username",
            "root2",
            "--email",
            "r@example.com",
        ],
        "such a good passphrase\n",
    );
    assert!(!one_line.status.success());
    assert!(
        stderr(&one_line).contains(NO_TERMINAL),
        "{}",
        stderr(&one_line)
    );
    let out = command_in(
        dir.path(),
        &["createsuperuser", "--username", "root2", "--password-stdin"],
        "such a good passphrase\n",
    );
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(stdout(&out).contains("Superuser created successfully."));
    let nothing = command_in(dir.path(), &["changepassword", "root2"], "");
    assert!(!nothing.status.success());
    assert!(
        stderr(&nothing).contains(NO_TERMINAL),
        "{}",
        stderr(&nothing)
    );
    let nothing = command_in(
        dir.path(),
        &["changepassword", "root2", "--password-stdin"],
        "",
    );
    assert!(
        stderr(&nothing).contains(NO_TERMINAL),
        "{}",
        stderr(&nothing)
    );
    // The password given on standard input logs in.
    let out = command_in(dir.path(), &["drf_create_token", "root2"], "");
    assert!(out.status.success(), "{}", stderr(&out));
}

#[tokio::test]
async fn password_rules_are_djangos() {
    let dir = tempfile::tempdir().unwrap();
    let cases = [
        (
            "short",
            "This password is too short. It must contain at least 8 characters.",
        ),
        ("12345678901", "This password is entirely numeric."),
        ("password123", "This password is too common."),
        (
            "alice-the-great",
            "The password is too similar to the username.",
        ),
    ];
    for (pw, msg) in cases {
        let out = command_in(
            dir.path(),
            &["createuser", "alice-the-great", "--password-stdin"],
            &format!("{pw}\n"),
        );
        assert!(!out.status.success(), "{pw} accepted");
        assert!(stderr(&out).contains(msg), "{pw}: {}", stderr(&out));
    }
    let bad_name = command_in(
        dir.path(),
        &["createuser", "bad name", "--password-stdin"],
        "long enough passphrase\n",
    );
    assert!(!bad_name.status.success());
    assert!(stderr(&bad_name).contains("Enter a valid username."));
    let long_name = "a".repeat(151);
    let out = command_in(
        dir.path(),
        &["createuser", &long_name, "--password-stdin"],
        "long enough passphrase\n",
    );
    assert!(!out.status.success());
    // Any characters, no truncation: emoji, spaces and a 1,000-character password work.
    let long_pw = "ü ".repeat(500);
    let out = command_in(
        dir.path(),
        &["createuser", "emoji", "--password-stdin"],
        &format!("{long_pw}\n"),
    );
    assert!(out.status.success(), "{}", stderr(&out));
}

#[tokio::test]
async fn unknown_users_are_command_errors() {
    let dir = tempfile::tempdir().unwrap();
    for cmd in ["deactivateuser", "activateuser", "deleteuser"] {
        let out = command_in(dir.path(), &[cmd, "ghost"], "");
        assert!(!out.status.success());
        assert_eq!(
            stderr(&out).trim(),
            "CommandError: user 'ghost' does not exist"
        );
    }
}

#[tokio::test]
async fn a_fresh_database_has_no_users() {
    let s = Server::start().await;
    for (u, p) in [("admin", "admin"), ("root", "root"), ("admin", "password")] {
        let r = s
            .post_json(
                "/api-token-auth/",
                &serde_json::json!({"username": u, "password": p}),
                None,
            )
            .await;
        assert_eq!(r.status, 400);
    }
}

#[tokio::test]
async fn bad_configuration_stops_the_server_before_it_listens() {
    for (toml, key) in [
        (
            "[rest_framework]\ndefault_authentication_classes = [\"kerberos\"]\n",
            "default_authentication_classes",
        ),
        ("[server]\nbindd = \"x\"\n", "bindd"),
        ("[token]\nttl = \"5 parsecs\"\n", "ttl"),
        ("not toml at all [", "restauth.toml"),
        // Top-level keys nobody reads, the library or the server.
        ("secret_kye = \"x\"\n", "unknown field `secret_kye`"),
        ("[sesion]\ncookie_name = \"s\"\n", "unknown field `sesion`"),
    ] {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("restauth.toml"), toml).unwrap();
        refuses_to_serve(dir.path(), &[], key);
    }
    // A bad value from the environment names its variable.
    let dir = tempfile::tempdir().unwrap();
    refuses_to_serve(
        dir.path(),
        &[("RESTAUTH_TOKEN__TTL", "banana")],
        "(from the environment variable RESTAUTH_TOKEN__TTL)",
    );
    // An unknown variable with the prefix names itself.
    let dir = tempfile::tempdir().unwrap();
    refuses_to_serve(
        dir.path(),
        &[("RESTAUTH_SERVR__BIND", "127.0.0.1:0")],
        "unknown field `servr` (from the environment variable RESTAUTH_SERVR",
    );
    // Environment variables override the file, with nested keys joined by "__".
    let dir = tempfile::tempdir().unwrap();
    let out = std::process::Command::new(common::BIN)
        .args(["serve"])
        .env("RESTAUTH_SERVER__MAX_BODY_BYTES", "not-a-number")
        .current_dir(dir.path())
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(stderr(&out).contains("max_body_bytes"), "{}", stderr(&out));
    let missing = command_in(
        dir.path(),
        &["--config", "/nonexistent.toml", "migrate"],
        "",
    );
    assert!(!missing.status.success());
}

#[tokio::test]
async fn secret_key_file_is_private_and_not_logged() {
    use std::os::unix::fs::PermissionsExt;
    if common::postgres_backend() {
        // The key file is SQLite's; on PostgreSQL the key is configured (see startup errors).
        return;
    }
    let s = Server::start().await;
    let meta = std::fs::metadata(s.path().join("restauth.secret_key")).unwrap();
    assert_eq!(meta.permissions().mode() & 0o777, 0o600);
    let key = std::fs::read_to_string(s.path().join("restauth.secret_key")).unwrap();
    assert!(key.len() >= 64);
    assert!(!s.log().contains(key.trim()));
}

#[tokio::test]
async fn weak_settings_stop_the_server_naming_the_key() {
    for (toml, key) in [
        (
            "[password.argon2]\nmemory_kib = 8\niterations = 1\n",
            "password.argon2",
        ),
        (
            "[password.argon2]\nmemory_kib = 19456\niterations = 1\n",
            "password.argon2",
        ),
        ("[server]\nrequest_timeout = 0\n", "server.request_timeout"),
        ("[server]\nrequest_timeout = -1\n", "request_timeout"),
        (
            "[database]\nacquire_timeout = 0\n",
            "database.acquire_timeout",
        ),
        (
            "[password]\nhashing_queue_timeout = 0\n",
            "password.hashing_queue_timeout",
        ),
        (
            "secret_key = \"a-string-secret-at-least-256-bits-long\"\n",
            "secret_key",
        ),
        (
            "secret_key = \"django-insecure-q8#n!2v@x7$k4%m9^w3&e6*r1(t5)y0_u-i+o=p\"\n",
            "secret_key",
        ),
        (
            "[simple_jwt]\nsigning_key = \"CHANGE_ME_TO_A_COMPLEX_RANDOM_SECRET\"\n",
            "simple_jwt.signing_key",
        ),
    ] {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("restauth.toml"), toml).unwrap();
        refuses_to_serve(dir.path(), &[], key);
    }
    // The same through the environment, and for a weak key written into the key file.
    let dir = tempfile::tempdir().unwrap();
    refuses_to_serve(
        dir.path(),
        &[("RESTAUTH_SERVER__REQUEST_TIMEOUT", "0")],
        "server.request_timeout",
    );
    refuses_to_serve(
        dir.path(),
        &[(
            "RESTAUTH_SECRET_KEY",
            "your-256-bit-secretyour-256-bit-secret",
        )],
        "secret_key",
    );
    std::fs::write(
        dir.path().join("restauth.secret_key"),
        "CHANGE_ME_TO_A_COMPLEX_RANDOM_SECRET",
    )
    .unwrap();
    refuses_to_serve(dir.path(), &[], "secret_key");
    // statement_timeout = 0 still means "no limit", and OWASP's other pairs start.
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("restauth.toml"),
        "[password.argon2]\nmemory_kib = 12288\niterations = 3\n[database]\nstatement_timeout = 0\n",
    )
    .unwrap();
    let out = command_in(dir.path(), &["migrate"], "");
    assert!(out.status.success(), "{}", stderr(&out));
}

fn mode(path: &std::path::Path) -> u32 {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path)
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
        .permissions()
        .mode()
        & 0o777
}

/// A new folder holding only `db` (as `restauth.db`) and the secret key of `from`.
fn restore(db: &std::path::Path, from: &std::path::Path) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    std::fs::copy(db, dir.path().join("restauth.db")).unwrap();
    std::fs::copy(
        from.join("restauth.secret_key"),
        dir.path().join("restauth.secret_key"),
    )
    .unwrap();
    dir
}

/// A server on the SQLite file `restauth.db` of `dir`, whatever backend the suite runs on.
async fn serve_sqlite_in(dir: &std::path::Path) -> Server {
    let url = format!("sqlite://{}", dir.join("restauth.db").display());
    Server::builder()
        .own_database()
        .database(&format!("url = {url:?}"))
        .start()
        .await
}

#[tokio::test]
async fn a_command_leaves_the_database_file_complete_and_private() {
    let dir = tempfile::tempdir().unwrap();
    let out = command_in(
        dir.path(),
        &["createuser", "alice", "--password-stdin"],
        &format!("{}\n", common::PASSWORD),
    );
    assert!(out.status.success(), "{}", stderr(&out));
    let db = dir.path().join("restauth.db");
    assert_eq!(mode(&db), 0o600);
    for side in ["restauth.db-wal", "restauth.db-shm"] {
        let path = dir.path().join(side);
        if path.exists() {
            assert_eq!(mode(&path), 0o600, "{side}");
        }
    }
    // A copy of the file alone, without the write-ahead log, has the user.
    let copy = restore(&db, dir.path());
    let out = command_in(copy.path(), &["drf_create_token", "alice"], "");
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(stdout(&out).starts_with("Generated token "));
}

#[tokio::test]
async fn backup_while_serving_restores_into_a_working_server() {
    let s = Server::builder().own_database().start().await;
    s.create_user("alice", &[]);
    // Written by the server, so still in its write-ahead log.
    let token = s.token("alice").await;
    for file in ["restauth.db", "restauth.db-wal", "restauth.db-shm"] {
        assert_eq!(mode(&s.path().join(file)), 0o600, "{file}");
    }
    let out = s.command(&["backup", "backup.db"], "");
    assert!(out.status.success(), "{}", stderr(&out));
    let backup = s.path().join("backup.db");
    assert_eq!(mode(&backup), 0o600);
    // Never overwrites.
    let before = std::fs::read(&backup).unwrap();
    let again = s.command(&["backup", "backup.db"], "");
    assert!(!again.status.success());
    assert!(stderr(&again).contains("backup.db"), "{}", stderr(&again));
    assert!(
        stderr(&again).contains("already exists") && !stderr(&again).contains("os error"),
        "{}",
        stderr(&again)
    );
    assert_eq!(std::fs::read(&backup).unwrap(), before);
    // The original server keeps serving.
    let auth = format!("Token {token}");
    assert_eq!(s.get("/api/profile/", Some(&auth)).await.status, 200);

    let restored_dir = restore(&backup, s.path());
    let restored = serve_sqlite_in(restored_dir.path()).await;
    let r = restored.get("/api/profile/", Some(&auth)).await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.json()["username"], "alice");
    assert_eq!(restored.token("alice").await.len(), 40);
}

#[tokio::test]
async fn a_clean_shutdown_leaves_the_database_file_complete() {
    let mut s = Server::builder().own_database().start().await;
    s.create_user("alice", &[]);
    let token = s.token("alice").await;
    assert!(s.terminate(), "the server did not stop on SIGTERM");
    let copy = restore(&s.path().join("restauth.db"), s.path());
    let restored = serve_sqlite_in(copy.path()).await;
    let r = restored
        .get("/api/profile/", Some(&format!("Token {token}")))
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
}

#[tokio::test]
async fn backup_on_postgresql_points_to_pg_dump() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("restauth.toml"),
        "secret_key = \"Jq8vX2mLr5Tn0cWz7HbK4sYe1PdFg9Ua\"\n[database]\nurl = \"postgres://postgres@127.0.0.1:5432/test\"\n",
    )
    .unwrap();
    let out = command_in(dir.path(), &["backup", "out.db"], "");
    assert!(!out.status.success());
    assert!(stderr(&out).contains("pg_dump"), "{}", stderr(&out));
    assert!(!dir.path().join("out.db").exists());
}

#[tokio::test]
async fn createuser_without_a_terminal_needs_a_password_or_no_password() {
    let dir = tempfile::tempdir().unwrap();
    // Standard input is a pipe, not a terminal, and no password source is named.
    let out = command_in(dir.path(), &["createuser", "bob"], "");
    assert!(!out.status.success());
    let err = stderr(&out);
    assert!(err.starts_with("CommandError: "), "{err}");
    assert!(err.contains("--password-stdin"), "{err}");
    assert!(err.contains("--no-password"), "{err}");
    // Nothing was created: the name is still free.
    let out = command_in(dir.path(), &["createuser", "bob", "--no-password"], "");
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(stdout(&out).trim(), "User 'bob' created.");
    // Asked for by name, the user exists and has no usable password.
    let token = command_in(dir.path(), &["drf_create_token", "bob"], "");
    assert!(token.status.success(), "{}", stderr(&token));
    let both = command_in(
        dir.path(),
        &["createuser", "carol", "--no-password", "--password-stdin"],
        "x\n",
    );
    assert!(!both.status.success());
}

/// `migrate` in a folder holding `toml` as restauth.toml (when given), with `env`: it must fail
/// and its message is returned.
fn fails_with(toml: Option<&str>, env: &[(&str, &str)]) -> String {
    let dir = tempfile::tempdir().unwrap();
    if let Some(toml) = toml {
        std::fs::write(dir.path().join("restauth.toml"), toml).unwrap();
    }
    let out = std::process::Command::new(common::BIN)
        .arg("migrate")
        .envs(env.iter().copied())
        .current_dir(dir.path())
        .output()
        .unwrap();
    assert!(!out.status.success(), "{toml:?} {env:?}: succeeded");
    let err = stderr(&out);
    assert!(!err.contains("internal error"), "{err}");
    err
}

#[tokio::test]
async fn startup_errors_name_the_setting_to_fix() {
    // PostgreSQL without a configured key: instances must share one, so no key file is made.
    let err = fails_with(
        Some("[database]\nurl = \"postgres://postgres@127.0.0.1:5432/test\"\n"),
        &[],
    );
    assert!(err.contains("secret_key: must be set"), "{err}");
    assert!(err.contains("RESTAUTH_SECRET_KEY"), "{err}");
    // Nothing listens on port 9 of the loopback: the host is named.
    let err = fails_with(
        Some(
            "secret_key = \"Jq8vX2mLr5Tn0cWz7HbK4sYe1PdFg9Ua\"\n[database]\nurl = \"postgres://app:hunter2@127.0.0.1:9/app\"\nacquire_timeout = 1\n",
        ),
        &[],
    );
    assert!(err.contains("database.url"), "{err}");
    assert!(err.contains("127.0.0.1:9"), "{err}");
    assert!(!err.contains("hunter2"), "{err}");
    // A role the server refuses: the URL, without its password.
    let err = fails_with(
        Some(
            "secret_key = \"Jq8vX2mLr5Tn0cWz7HbK4sYe1PdFg9Ua\"\n[database]\nurl = \"postgres://no_such_role:hunter2@127.0.0.1:5432/test\"\n",
        ),
        &[],
    );
    assert!(
        err.contains("database.url (postgres://no_such_role:***@127.0.0.1:5432/test)"),
        "{err}"
    );
    assert!(err.contains("no_such_role"), "{err}");
    assert!(!err.contains("hunter2"), "{err}");
    // An SQLite file in a folder that does not exist: the folder, not the secret key, with or
    // without a configured key.
    for key in ["", "secret_key = \"Jq8vX2mLr5Tn0cWz7HbK4sYe1PdFg9Ua\"\n"] {
        let err = fails_with(
            Some(&format!(
                "{key}[database]\nurl = \"sqlite:///nonexistent-folder/sub/restauth.db\"\n"
            )),
            &[],
        );
        assert!(err.contains("database.url"), "{err}");
        assert!(err.contains("/nonexistent-folder/sub"), "{err}");
        assert!(!err.contains("secret_key"), "{err}");
    }
    // A short key says where it came from.
    let err = fails_with(Some("secret_key = \"too-short\"\n"), &[]);
    assert!(err.contains("secret_key"), "{err}");
    assert!(err.contains("restauth.toml"), "{err}");
    let err = fails_with(
        Some("secret_key = \"too-short\"\n"),
        &[("RESTAUTH_SECRET_KEY", "also-short")],
    );
    assert!(err.contains("RESTAUTH_SECRET_KEY"), "{err}");
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("restauth.secret_key"), "short").unwrap();
    let out = command_in(dir.path(), &["migrate"], "");
    assert!(!out.status.success());
    assert!(
        stderr(&out).contains("restauth.secret_key holds fewer than 32"),
        "{}",
        stderr(&out)
    );
    // A published key in the key file: refused, naming the file, not as an internal error.
    std::fs::write(
        dir.path().join("restauth.secret_key"),
        "CHANGE_ME_TO_A_COMPLEX_RANDOM_SECRET",
    )
    .unwrap();
    let out = command_in(dir.path(), &["migrate"], "");
    assert!(!out.status.success());
    let err = stderr(&out);
    assert!(err.contains("(from restauth.secret_key)"), "{err}");
    assert!(!err.contains("internal error"), "{err}");
}
