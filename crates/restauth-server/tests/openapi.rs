//! The OpenAPI description at `/api/schema/`: off by default, a 3.1 document naming every route
//! the server mounts (with the methods each answers), following the configured paths, the same
//! as `restauth openapi` prints; and schemathesis (from PyPI, in a virtualenv under the target
//! folder) finds no 5xx and no response that contradicts it.

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::{Server, command_in, skip, stderr, stdout};
use serde_json::Value;

const ENABLED: &str = "[openapi]\nenabled = true\n";
/// The description with every optional route mounted.
const EVERYTHING: &str = "[openapi]\nenabled = true\n[forward_auth]\nenabled = true\n\
                          [rest_framework]\nnum_proxies = 1\n[accounts]\nregistration = true\n\
                          send_activation_email = true\n\
                          activation_url = \"#/activate/{uid}/{token}\"\n";

async fn served_document(s: &Server) -> Value {
    let r = s.get("/api/schema/", None).await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(
        r.header("content-type"),
        Some("application/vnd.oai.openapi+json")
    );
    r.json()
}

/// `/api-token-auth/` and `/api-token-auth` name one route.
fn normalized(path: &str) -> String {
    match path.trim_end_matches('/') {
        "" => "/".to_owned(),
        p => p.to_owned(),
    }
}

/// Documented methods by normalized path.
fn documented(doc: &Value) -> BTreeMap<String, BTreeSet<String>> {
    let paths = doc["paths"].as_object().expect("paths");
    paths
        .iter()
        .map(|(path, item)| {
            let methods = item
                .as_object()
                .expect("path item")
                .keys()
                .filter(|k| {
                    matches!(
                        k.as_str(),
                        "get" | "put" | "post" | "delete" | "patch" | "head" | "options"
                    )
                })
                .map(|m| m.to_ascii_uppercase())
                .collect();
            (normalized(path), methods)
        })
        .collect()
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).expect("read_dir").flatten() {
        let path = entry.path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// Every path a `.route(` call of either crate's sources mounts, with the default settings:
/// a literal as written, a configured one through the table below. A route whose path this
/// cannot read fails here, so a new route cannot go undescribed.
fn mounted_routes() -> BTreeSet<String> {
    let crates = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let mut files = Vec::new();
    rust_files(&crates.join("restauth/src"), &mut files);
    rust_files(&crates.join("restauth-server/src"), &mut files);
    // Paths that settings or callers decide, at their defaults (as the server mounts them).
    let configured = [
        (
            "&restauth.tokens().settings().obtain_url",
            "/api-token-auth",
        ),
        ("&session.login_url", "/api-auth/login"),
        ("&session.logout_url", "/api-auth/logout"),
        ("SCHEMA_PATH.trim_end_matches('/')", "/api/schema"),
        ("PATH", "/auth/forward"),
        // Accounts over HTTP: under `[accounts] prefix`.
        ("&at(\"users/me\")", "/auth/users/me"),
        ("&at(\"users/set_password\")", "/auth/users/set_password"),
        (
            "&at(\"users/reset_password\")",
            "/auth/users/reset_password",
        ),
        (
            "&at(\"users/reset_password_confirm\")",
            "/auth/users/reset_password_confirm",
        ),
        ("&at(\"token/login\")", "/auth/token/login"),
        ("&at(\"token/logout\")", "/auth/token/logout"),
        ("&at(\"users\")", "/auth/users"),
        ("&at(\"users/{id}\")", "/auth/users/{id}"),
        ("&at(\"users/activation\")", "/auth/users/activation"),
        (
            "&at(\"users/resend_activation\")",
            "/auth/users/resend_activation",
        ),
        (
            "&at(\"password/reset/confirm/{uid}/{token}\")",
            "/auth/password/reset/confirm/{uid}/{token}",
        ),
    ];
    // Routes that are not resources of the API: the tail Envoy appends to the forward route,
    // and the metrics, served on their own listener.
    let elsewhere = [
        "&format!(\"{PATH}/\")",
        "&format!(\"{PATH}/{{*original}}\")",
        "/metrics",
    ];
    let mut routes = BTreeSet::new();
    for file in files {
        // `Views`, which mounts the routes others give it, mounts none of its own.
        if file.ends_with("pipeline/view.rs") {
            continue;
        }
        let source = std::fs::read_to_string(&file).expect("source");
        // Routes mounted directly, and views mounted through `Views`.
        let calls = source
            .match_indices(".route(")
            .chain(source.match_indices(".view("));
        for (at, call) in calls {
            let line_start = source[..at].rfind('\n').map_or(0, |i| i + 1);
            if source[line_start..at].trim_start().starts_with("//") {
                // Documentation: an example, not a route of the server.
                continue;
            }
            let argument = source[at + call.len()..].trim_start();
            let path = if let Some(literal) = argument.strip_prefix('"') {
                literal[..literal.find('"').expect("closing quote")].to_owned()
            } else {
                argument
                    .split([',', '\n'])
                    .next()
                    .unwrap_or("")
                    .trim()
                    .to_owned()
            };
            if elsewhere.contains(&path.as_str()) {
                continue;
            }
            let path = if path.starts_with('/') {
                path
            } else {
                let expression = path.as_str();
                match configured.iter().find(|(e, _)| *e == expression) {
                    Some((_, path)) => (*path).to_owned(),
                    None => panic!(
                        "{}: a route at `{expression}`: describe it in its folder's openapi.rs \
                         and name its default path in this test",
                        file.display()
                    ),
                }
            };
            routes.insert(normalized(&path));
        }
    }
    routes
}

/// The methods a route answers, from the `Allow` header of its answer to a method none uses
/// (a 405, or a 401/403 where DRF checks permissions before the method).
async fn allowed_methods(s: &Server, path: &str) -> BTreeSet<String> {
    let r = s
        .send(s.client.request(reqwest::Method::DELETE, s.url(path)))
        .await;
    assert_ne!(r.status, 404, "DELETE {path}: {}", r.body);
    r.header("allow")
        .unwrap_or_else(|| panic!("DELETE {path}: {} without Allow", r.status))
        .split(',')
        .map(|m| m.trim().to_owned())
        // Answered for every GET and every DRF view: not operations of their own.
        .filter(|m| m != "HEAD" && m != "OPTIONS")
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn off_by_default() {
    let s = Server::start().await;
    for path in ["/api/schema/", "/api/schema"] {
        let r = s.get(path, None).await;
        assert_eq!(r.status, 404, "{path}: {}", r.body);
        assert_eq!(r.body, r#"{"detail":"Not found."}"#);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn describes_every_mounted_route_and_method() {
    let s = Server::builder().config(EVERYTHING).start().await;
    let doc = served_document(&s).await;
    let version = doc["openapi"].as_str().expect("openapi version");
    assert!(version.starts_with("3.1."), "{version}");
    let documented = documented(&doc);
    let mounted = mounted_routes();
    assert!(
        mounted.len() >= 20,
        "the scan found too few routes: {mounted:?}"
    );
    let missing: Vec<_> = mounted
        .iter()
        .filter(|p| !documented.contains_key(*p))
        .collect();
    assert!(missing.is_empty(), "mounted but not described: {missing:?}");
    let invented: Vec<_> = documented
        .keys()
        .filter(|p| !mounted.contains(*p))
        .collect();
    assert!(
        invented.is_empty(),
        "described but not mounted: {invented:?}"
    );
    // Each path's operations are exactly the methods it answers.
    for (path, methods) in &documented {
        if path.trim_end_matches('/') == "/auth/forward" {
            // Any method is a question about a request of that method: no 405, no Allow.
            let any: BTreeSet<String> = ["DELETE", "GET", "PATCH", "POST", "PUT"]
                .map(String::from)
                .into();
            assert_eq!(methods, &any, "{path}");
            continue;
        }
        assert_eq!(
            &allowed_methods(&s, path).await,
            methods,
            "{path}: methods answered vs described"
        );
    }
    // Every reference resolves.
    let text = doc.to_string();
    for (at, _) in text.match_indices("\"$ref\":\"#/components/") {
        let rest = &text[at + "\"$ref\":\"#/components/".len()..];
        let reference = &rest[..rest.find('"').expect("end of $ref")];
        let (kind, name) = reference.split_once('/').expect("kind/name");
        assert!(
            doc["components"][kind].get(name).is_some(),
            "dangling $ref {reference}"
        );
    }
    // The security schemes drf-spectacular's clients expect, with the configured names.
    let schemes = &doc["components"]["securitySchemes"];
    assert_eq!(schemes["Token"]["type"], "apiKey");
    assert_eq!(schemes["Token"]["in"], "header");
    assert_eq!(schemes["Token"]["name"], "Authorization");
    assert!(
        schemes["Token"]["description"]
            .as_str()
            .is_some_and(|d| d.contains("prefix \"Token\""))
    );
    assert_eq!(schemes["Bearer"]["type"], "http");
    assert_eq!(schemes["Bearer"]["scheme"], "bearer");
    assert_eq!(schemes["Bearer"]["bearerFormat"], "JWT");
    assert_eq!(schemes["Session"]["type"], "apiKey");
    assert_eq!(schemes["Session"]["in"], "cookie");
    assert_eq!(schemes["Session"]["name"], "sessionid");
    // A route's security lists its classes; an AllowAny route adds `{}` (anonymous).
    assert_eq!(
        doc["paths"]["/api/profile/"]["get"]["security"],
        serde_json::json!([{ "Token": [] }])
    );
    assert_eq!(
        doc["paths"]["/api/public/"]["get"]["security"],
        serde_json::json!([{ "Session": [] }, { "Basic": [] }, { "Token": [] }, { "Bearer": [] }, {}])
    );
    // DRF's error bodies.
    let bad_request = &doc["components"]["responses"]["BadRequest"]["content"]["application/json"];
    assert!(bad_request.to_string().contains("FieldErrors"));
    let credentials = &doc["components"]["schemas"]["Credentials"];
    assert_eq!(
        credentials["required"],
        serde_json::json!(["username", "password"])
    );
    for media in [
        "application/json",
        "application/x-www-form-urlencoded",
        "multipart/form-data",
    ] {
        assert!(
            doc["paths"]["/api-token-auth/"]["post"]["requestBody"]["content"]
                .get(media)
                .is_some(),
            "{media}"
        );
    }
}

/// Settings that move or change endpoints move and change their description.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn follows_the_configuration() {
    let s = Server::builder()
        .config(
            "[openapi]\nenabled = true\n\
             [server]\ndemo_views = false\n\
             [session]\nlogin_url = \"/accounts/login/\"\nlogout_url = \"/accounts/logout/\"\n\
             cookie_name = \"sid\"\n\
             [user]\nusername_field = \"email\"\n\
             [token]\nkeyword = \"Bearer-Token\"\n\
             [simple_jwt]\nauth_header_types = [\"JWT\"]\n",
        )
        .start()
        .await;
    let doc = served_document(&s).await;
    let documented = documented(&doc);
    for path in ["/accounts/login", "/accounts/logout"] {
        assert!(documented.contains_key(path), "{path}");
        assert_ne!(s.get(path, None).await.status, 404, "{path}");
    }
    for gone in [
        "/api-auth/login",
        "/api-auth/logout",
        "/api/profile",
        "/api/echo",
        "/dashboard",
    ] {
        assert!(!documented.contains_key(gone), "{gone}");
    }
    let schemes = &doc["components"]["securitySchemes"];
    assert_eq!(schemes["Session"]["name"], "sid");
    assert!(
        schemes["Token"]["description"]
            .as_str()
            .is_some_and(|d| d.contains("prefix \"Bearer-Token\""))
    );
    // No HTTP scheme spells "JWT <token>": an API key with the prefix described.
    assert_eq!(schemes["Bearer"]["type"], "apiKey");
    assert!(
        schemes["Bearer"]["description"]
            .as_str()
            .is_some_and(|d| d.contains("prefix \"JWT\""))
    );
    // simplejwt reads USERNAME_FIELD's key, DRF's token view `username`.
    assert_eq!(
        doc["components"]["schemas"]["Credentials"]["required"],
        serde_json::json!(["email", "password"])
    );
    assert_eq!(
        doc["paths"]["/api-token-auth/"]["post"]["requestBody"]["content"]["application/json"]["schema"]
            ["$ref"],
        "#/components/schemas/LoginCredentials"
    );
    assert_eq!(
        doc["components"]["schemas"]["LoginCredentials"]["required"],
        serde_json::json!(["username", "password"])
    );
    assert_eq!(
        doc["components"]["schemas"]["TokenCreate"]["required"],
        serde_json::json!(["email", "password"])
    );
}

/// `restauth openapi` prints the served document, and needs no key file or database for it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_command_prints_the_served_document() {
    let s = Server::builder().config(ENABLED).start().await;
    let served = served_document(&s).await;
    let out = s.command(&["openapi"], "");
    assert!(out.status.success(), "{}", stderr(&out));
    let printed: Value = serde_json::from_str(&stdout(&out)).expect("JSON");
    assert_eq!(printed, served);

    let empty = tempfile::tempdir().expect("tempdir");
    let out = command_in(empty.path(), &["openapi"], "");
    assert!(out.status.success(), "{}", stderr(&out));
    let printed: Value = serde_json::from_str(&stdout(&out)).expect("JSON");
    assert!(
        printed["openapi"]
            .as_str()
            .is_some_and(|v| v.starts_with("3.1."))
    );
    let left: Vec<_> = std::fs::read_dir(empty.path())
        .expect("read_dir")
        .flatten()
        .map(|e| e.file_name())
        .filter(|n| n != "test-clock-offset-ms")
        .collect();
    assert!(left.is_empty(), "the command wrote {left:?}");

    // A configuration error is reported, as for every command.
    std::fs::write(
        empty.path().join("restauth.toml"),
        "[openapi]\nenabld = true\n",
    )
    .expect("config");
    let out = command_in(empty.path(), &["openapi"], "");
    assert!(!out.status.success());
    assert!(stderr(&out).contains("openapi"), "{}", stderr(&out));
}

// ---------------------------------------------------------------------------------------------
// schemathesis
// ---------------------------------------------------------------------------------------------

/// The checks run: no 5xx; status code, media type, headers and body as described; undescribed
/// methods refused with an `Allow` that matches the description. Left out, as they misjudge
/// this API: `negative_data_rejection` (a form carries every value as text, so a "boolean"
/// `false` is the string a form field may hold), `positive_data_acceptance` (wrong credentials
/// are schema-valid and rightly refused) and `ignored_auth` (every request carries a valid
/// token, so the invalid credentials it adds are passed over, as DRF passes over an unknown
/// session cookie before trying the token).
const CHECKS: &str = "not_a_server_error,status_code_conformance,content_type_conformance,\
                      response_schema_conformance,response_headers_conformance,\
                      unsupported_method,allow_header_conformance,missing_required_header";
/// Generated cases per operation: enough to reach every described status of these small
/// bodies, few enough for both runs to take well under a minute on two cores.
const MAX_EXAMPLES: &str = "25";
/// A run taking longer than this is killed and fails the test.
const RUN_LIMIT: Duration = Duration::from_secs(90);

/// Runs schemathesis against the server's description with `authorization` on every request;
/// `Err` holds its report.
async fn schemathesis(venv: &Path, s: &Server, authorization: &str, only: &[&str]) -> String {
    let report_path = s.path().join("schemathesis.txt");
    let report_file = std::fs::File::create(&report_path).expect("report");
    let mut run = Command::new(venv.join("bin/schemathesis"));
    run.arg("run")
        .arg(s.url("/api/schema/"))
        .args(["--checks", CHECKS])
        .args(["--max-examples", MAX_EXAMPLES])
        // Reproducible: the same cases every run.
        .args(["--seed", "1"])
        // One worker: with two, CPython 3.11's `ast.parse` (which hypothesis calls to describe
        // the filters of path parameters) can fail with "AST constructor recursion depth
        // mismatch" when both threads parse at once.
        .args(["--workers", "1"])
        .args(["--request-timeout", "10"])
        .args(["--header", &format!("Authorization: {authorization}")])
        .args(only)
        .arg("--no-color")
        // Its example database goes to the server's folder, not the source tree.
        .current_dir(s.path())
        .env("PYTHONDONTWRITEBYTECODE", "1")
        // To a file: a long report would fill a pipe nobody reads until the end.
        .stdout(Stdio::from(report_file.try_clone().expect("report")))
        .stderr(Stdio::from(report_file));
    let mut run = run.spawn().expect("schemathesis");
    let started = Instant::now();
    let status = loop {
        if let Some(status) = run.try_wait().expect("wait") {
            break status;
        }
        if started.elapsed() > RUN_LIMIT {
            let _ = run.kill();
            let _ = run.wait();
            panic!(
                "schemathesis ran longer than {RUN_LIMIT:?}:\n{}",
                std::fs::read_to_string(&report_path).unwrap_or_default()
            );
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    let report = std::fs::read_to_string(&report_path).unwrap_or_default();
    assert!(
        status.success(),
        "schemathesis found contradictions ({:?}):\n{report}\nserver log:\n{}",
        started.elapsed(),
        s.log()
    );
    report
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn schemathesis_finds_no_contradiction() {
    let requirements =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/schemathesis/requirements.txt");
    let venv = match common::python_venv("schemathesis", &requirements) {
        Ok(v) => v,
        Err(reason) => return skip(&reason),
    };
    let s = Server::builder().config(ENABLED).start().await;
    // A staff user with a token, so the authenticated paths answer 200 too.
    s.create_user("alice", &["--staff"]);
    let out = s.command(&["drf_create_token", "alice"], "");
    assert!(out.status.success(), "{}", stderr(&out));
    let key = stdout(&out)
        .split_whitespace()
        .nth(2)
        .expect("Generated token <key> for user alice")
        .to_owned();
    // Obtained now: the first run's failed logins use up the login throttles of this client.
    let pair = s
        .post_json(
            "/api/token/",
            &serde_json::json!({"username": "alice", "password": common::PASSWORD}),
            None,
        )
        .await
        .json();
    let access = pair["access"].as_str().expect("access").to_owned();
    // The operations that end the caller's credentials or the user's account run last.
    let ending: Vec<&str> = ENDING
        .iter()
        .flat_map(|id| ["--exclude-operation-id", id])
        .collect();
    let report = schemathesis(&venv, &s, &format!("Token {key}"), &ending).await;
    // It exercised every operation, not an empty or unreadable description (all but
    // `GET /api/schema/`, which it leaves out as the description's own address, and the
    // operations that end credentials, run apart below).
    let operations = documented(&served_document(&s).await)
        .values()
        .map(BTreeSet::len)
        .sum::<usize>();
    assert!(
        report.contains(&format!("Tested: {}\n", operations - 1 - ENDING.len())),
        "{operations} operations described:\n{report}"
    );

    // The JWT routes again with an access token, so that they answer 200 too; logout-all
    // last, as it ends the token.
    let bearer = format!("Bearer {access}");
    let report = schemathesis(
        &venv,
        &s,
        &bearer,
        &[
            "--include-path-regex",
            "^/api/(token|jwt)/",
            "--exclude-path",
            "/api/token/logout-all/",
        ],
    )
    .await;
    // The bearer reached the protected route (not in the warning listing operations that
    // answered only 401/403; the token views, which refuse random tokens, may be).
    assert!(!report.contains("- GET /api/jwt/profile/"), "{report}");
    schemathesis(
        &venv,
        &s,
        &bearer,
        &["--include-path", "/api/token/logout-all/"],
    )
    .await;
    // Last, the operations that end credentials or accounts, by a staff member of their own.
    // (Its token from the command line: the runs used up this client's login throttles.)
    s.create_user("zed", &["--staff"]);
    let out = s.command(&["drf_create_token", "zed"], "");
    assert!(out.status.success(), "{}", stderr(&out));
    let zed = stdout(&out)
        .split_whitespace()
        .nth(2)
        .expect("Generated token <key> for user zed")
        .to_owned();
    let only: Vec<&str> = ENDING
        .iter()
        .flat_map(|id| ["--include-operation-id", id])
        .collect();
    let report = schemathesis(&venv, &s, &format!("Token {zed}"), &only).await;
    assert!(
        report.contains(&format!("Tested: {}\n", ENDING.len())),
        "{report}"
    );
}

/// Operations that end the caller's credentials (or, with generated ids, the caller's own
/// account), so they run after the others.
const ENDING: [&str; 5] = [
    "token_logout",
    "device_logout_all",
    "device_token_revoke",
    "admin_user_deactivate",
    "admin_user_revoke",
];
