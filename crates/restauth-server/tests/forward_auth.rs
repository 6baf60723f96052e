//! `/auth/forward/`: restauth deciding for a reverse proxy whether a request may reach an
//! application it does not host. First the route itself, asked directly as a proxy asks it;
//! then a real nginx, run from `docs/nginx-forward-auth.conf`, in front of a small upstream
//! that records what reaches it.
//!
//! The nginx test needs `nginx` (Debian: `apt-get install nginx`); without it the test is
//! skipped, and fails under `CI=true`.

mod common;

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::{Reply, Server, login, plain, skip};
use serde_json::json;

const FORWARD: &str = "[rest_framework]\nnum_proxies = 1\n\
    [forward_auth]\nenabled = true\nauthentication_classes = [\"token\", \"session\"]\n";

/// `GET /auth/forward/` with `headers`, as a proxy asks it.
async fn ask(s: &Server, headers: &[(&str, &str)]) -> Reply {
    let mut req = plain().get(s.url("/auth/forward/"));
    for (k, v) in headers {
        req = req.header(*k, *v);
    }
    s.send(req).await
}

#[tokio::test]
async fn off_by_default_and_refused_without_a_declared_proxy() {
    let s = Server::start().await;
    assert_eq!(ask(&s, &[]).await.status, 404);
    let dir = tempfile::tempdir().unwrap();
    common::refuses_to_serve(
        dir.path(),
        &[("RESTAUTH_FORWARD_AUTH__ENABLED", "true")],
        "forward_auth.enabled",
    );
    common::refuses_to_serve(
        dir.path(),
        &[(
            "RESTAUTH_FORWARD_AUTH__AUTHENTICATION_CLASSES",
            "[\"tokn\"]",
        )],
        "forward_auth.authentication_classes",
    );
}

#[tokio::test]
async fn answers_for_the_original_request_as_an_api_view_would() {
    let s = Server::builder().config(FORWARD).start().await;
    s.create_user("alice", &[]);
    let token = s.token("alice").await;
    let auth = format!("Token {token}");

    let r = ask(&s, &[("Authorization", &auth), ("Accept", "text/html")]).await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.header("x-auth-user"), Some("alice"));
    assert!(r.header("x-auth-user-id").unwrap().parse::<i64>().is_ok());
    assert_eq!(r.header("x-auth-is-staff"), Some("false"));
    assert_eq!(r.header("cache-control"), Some("no-store"));

    // DRF's 401 with the first class's challenge, whatever the client accepts.
    let r = ask(&s, &[("Accept", "text/html")]).await;
    assert_eq!(r.status, 401, "{}", r.body);
    assert_eq!(r.header("www-authenticate"), Some("Token"));
    assert_eq!(
        r.json(),
        json!({"detail": "Authentication credentials were not provided."})
    );
    assert!(r.header("x-auth-user").is_none());
    let r = ask(&s, &[("Authorization", "Token 0123456789abcdef")]).await;
    assert_eq!(r.status, 401);
    assert_eq!(r.json(), json!({"detail": "Invalid token."}));

    // The session cookie: CSRF applies when the original method is unsafe.
    let browser = login(&s, "alice").await;
    let cookie = browser.cookie();
    let r = ask(&s, &[("Cookie", &cookie), ("X-Forwarded-Method", "GET")]).await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.header("x-auth-user"), Some("alice"));
    let r = ask(&s, &[("Cookie", &cookie), ("X-Forwarded-Method", "DELETE")]).await;
    assert_eq!(r.status, 403, "{}", r.body);
    assert_eq!(
        r.json(),
        json!({"detail": "CSRF Failed: CSRF token missing."})
    );
    // The spelling `[forward_auth] method_header` does not name is refused, not weighed.
    let r = ask(&s, &[("Cookie", &cookie), ("X-Original-Method", "DELETE")]).await;
    assert_eq!(r.status, 400, "{}", r.body);
    let r = ask(
        &s,
        &[
            ("Cookie", &cookie),
            ("X-Forwarded-Method", "POST"),
            ("X-CSRFToken", &browser.csrf),
        ],
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.body);
    // The Origin is compared with the original host, not restauth's.
    let r = ask(
        &s,
        &[
            ("Cookie", &cookie),
            ("X-Forwarded-Method", "POST"),
            ("X-CSRFToken", &browser.csrf),
            ("X-Forwarded-Host", "app.example.com"),
            ("Origin", "http://evil.example"),
        ],
    )
    .await;
    assert_eq!(r.status, 403, "{}", r.body);
    let r = ask(
        &s,
        &[
            ("Cookie", &cookie),
            ("X-Forwarded-Method", "POST"),
            ("X-CSRFToken", &browser.csrf),
            ("X-Forwarded-Host", "app.example.com"),
            ("Origin", "http://app.example.com"),
        ],
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.body);

    // Envoy: the original method and path, below the route's.
    let r = s
        .send(
            plain()
                .patch(s.url("/auth/forward/api/notes/1?x=1"))
                .header("Cookie", &cookie),
        )
        .await;
    assert_eq!(r.status, 403, "{}", r.body);
    let r = s
        .send(
            plain()
                .patch(s.url("/auth/forward/api/notes/1"))
                .header("Authorization", &auth),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);

    // Headers that describe no request are refused, not guessed.
    for (name, value) in [
        ("X-Forwarded-Uri", "https://evil.example/"),
        ("X-Forwarded-Method", "G(T"),
    ] {
        let r = ask(&s, &[("Authorization", &auth), (name, value)]).await;
        assert_eq!(r.status, 400, "{name}: {}", r.body);
        assert!(r.json()["detail"].is_string());
    }
}

#[tokio::test]
async fn permissions_and_throttles_apply() {
    let s = Server::builder()
        .config(
            "[rest_framework]\nnum_proxies = 1\ndefault_throttle_classes = [\"user\"]\n\
             [rest_framework.default_throttle_rates]\nuser = \"2/min\"\n\
             [forward_auth]\nenabled = true\nauthentication_classes = [\"token\"]\n\
             permission_classes = [\"IsAdminUser\"]\nuser_header = \"Remote-User\"\n",
        )
        .start()
        .await;
    s.create_user("alice", &[]);
    s.create_user("root", &["--staff"]);
    let alice = format!("Token {}", s.token("alice").await);
    let root = format!("Token {}", s.token("root").await);
    let r = ask(&s, &[("Authorization", &alice)]).await;
    assert_eq!(r.status, 403, "{}", r.body);
    assert_eq!(
        r.json(),
        json!({"detail": "You do not have permission to perform this action."})
    );
    let r = ask(&s, &[("Authorization", &root)]).await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.header("remote-user"), Some("root"));
    assert_eq!(r.header("x-auth-is-staff"), Some("true"));
    // Throttles run after the permissions, as in DRF: 2 allowed requests a minute per user.
    assert_eq!(ask(&s, &[("Authorization", &root)]).await.status, 200);
    let r = ask(&s, &[("Authorization", &root)]).await;
    assert_eq!(r.status, 429, "{}", r.body);
    assert!(r.header("retry-after").is_some());
    assert!(r.header("remote-user").is_none());
    // Refused requests were not counted: the next minute allows two again.
    s.advance_clock(Duration::from_secs(61));
    assert_eq!(ask(&s, &[("Authorization", &root)]).await.status, 200);
}

// --- a real nginx in front ---

fn repo_file(path: &str) -> String {
    std::fs::read_to_string(
        PathBuf::from(env!("CARGO_MANIFEST_DIR"))
            .join("../..")
            .join(path),
    )
    .unwrap_or_else(|e| panic!("{path}: {e}"))
}

#[test]
fn the_manual_shows_the_tested_nginx_config() {
    let chapter = repo_file("docs/src/production.md");
    let config = repo_file("docs/nginx-forward-auth.conf");
    assert!(
        chapter.contains(&format!("```nginx\n{config}```")),
        "docs/src/production.md must show docs/nginx-forward-auth.conf as it is"
    );
}

fn find_nginx() -> Option<PathBuf> {
    std::env::var_os("PATH")
        .map(|paths| std::env::split_paths(&paths).collect::<Vec<_>>())
        .unwrap_or_default()
        .into_iter()
        .chain([PathBuf::from("/usr/sbin")])
        .map(|d| d.join("nginx"))
        .find(|p| p.is_file())
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("free port")
        .port()
}

/// nginx in the foreground with everything (pid, logs, temp files) in its own folder.
struct Nginx {
    child: Child,
    base: String,
    dir: tempfile::TempDir,
}

impl Nginx {
    /// Runs `docs/nginx-forward-auth.conf` with restauth at `restauth` and the application at
    /// `upstream` (both `host:port`) in place of the documented addresses.
    fn start(binary: &std::path::Path, restauth: &str, upstream: &str) -> Nginx {
        Nginx::start_with(
            binary,
            restauth,
            upstream,
            &repo_file("docs/nginx-forward-auth.conf"),
        )
    }

    /// As [`Nginx::start`], with `doc` for the documented config.
    fn start_with(binary: &std::path::Path, restauth: &str, upstream: &str, doc: &str) -> Nginx {
        let port = free_port();
        for documented in ["listen 80;", "127.0.0.1:8000", "127.0.0.1:8080"] {
            assert!(
                doc.contains(documented),
                "the documented config lost {documented}"
            );
        }
        let server = doc
            .replace("listen 80;", &format!("listen 127.0.0.1:{port};"))
            .replace("127.0.0.1:8000", restauth)
            .replace("127.0.0.1:8080", upstream);
        let dir = tempfile::tempdir().expect("tempdir");
        // Workers may run as another user (nginx started by root): they must reach the folder.
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
        let d = dir.path().display();
        std::fs::write(dir.path().join("forward-auth.conf"), server).unwrap();
        std::fs::write(
            dir.path().join("nginx.conf"),
            format!(
                "worker_processes 1;\npid {d}/nginx.pid;\nerror_log {d}/error.log info;\n\
                 events {{ worker_connections 64; }}\n\
                 http {{\n  access_log {d}/access.log;\n  client_body_temp_path {d}/client_body;\n\
                 proxy_temp_path {d}/proxy;\n  fastcgi_temp_path {d}/fastcgi;\n\
                 uwsgi_temp_path {d}/uwsgi;\n  scgi_temp_path {d}/scgi;\n\
                 include {d}/forward-auth.conf;\n}}\n"
            ),
        )
        .unwrap();
        let child = Command::new(binary)
            .arg("-p")
            .arg(dir.path())
            .arg("-c")
            .arg(dir.path().join("nginx.conf"))
            .arg("-e")
            .arg(dir.path().join("error.log"))
            .args(["-g", "daemon off;"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("spawn nginx");
        let mut nginx = Nginx {
            child,
            base: format!("http://127.0.0.1:{port}"),
            dir,
        };
        let deadline = Instant::now() + Duration::from_secs(10);
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            if Instant::now() > deadline || matches!(nginx.child.try_wait(), Ok(Some(_))) {
                panic!("nginx did not start:\n{}", nginx.error_log());
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        nginx
    }

    fn error_log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("error.log")).unwrap_or_default()
    }
}

impl Drop for Nginx {
    fn drop(&mut self) {
        // SIGTERM to the master, which stops its workers; SIGKILL would orphan them.
        let _ = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status();
        for _ in 0..100 {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// What reached the application: method, path and the user headers (every value).
#[derive(Clone, Debug)]
struct Seen {
    method: String,
    path: String,
    user: Vec<String>,
    user_id: Vec<String>,
    is_staff: Vec<String>,
    body: String,
}

async fn record(
    axum::extract::State(seen): axum::extract::State<Arc<Mutex<Vec<Seen>>>>,
    request: axum::extract::Request,
) -> &'static str {
    let (parts, body) = request.into_parts();
    let values = |name: &str| -> Vec<String> {
        parts
            .headers
            .get_all(name)
            .iter()
            .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned())
            .collect()
    };
    let mut entry = Seen {
        method: parts.method.to_string(),
        path: parts.uri.path().to_owned(),
        user: values("x-auth-user"),
        user_id: values("x-auth-user-id"),
        is_staff: values("x-auth-is-staff"),
        body: String::new(),
    };
    let bytes = axum::body::to_bytes(body, 1 << 16)
        .await
        .unwrap_or_default();
    entry.body = String::from_utf8_lossy(&bytes).into_owned();
    seen.lock().unwrap().push(entry);
    "from the application"
}

/// The application behind nginx: answers 200 to everything and records each request.
async fn upstream() -> (String, Arc<Mutex<Vec<Seen>>>) {
    let seen: Arc<Mutex<Vec<Seen>>> = Arc::default();
    let app = axum::Router::new()
        .fallback(record)
        .with_state(seen.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    (addr.to_string(), seen)
}

#[tokio::test]
async fn nginx_lets_only_what_restauth_allows_reach_the_application() {
    let Some(binary) = find_nginx() else {
        skip("nginx is not installed (apt-get install nginx)");
        return;
    };
    let s = Server::builder()
        .config(
            "[rest_framework]\nnum_proxies = 1\ndefault_throttle_classes = [\"user\"]\n\
             [rest_framework.default_throttle_rates]\nuser = \"4/min\"\n\
             [forward_auth]\nenabled = true\nauthentication_classes = [\"token\", \"session\"]\n",
        )
        .start()
        .await;
    s.create_user("alice", &[]);
    let token = s.token("alice").await;
    let browser = login(&s, "alice").await;
    let restauth = s.base.trim_start_matches("http://").to_owned();
    let (app, seen) = upstream().await;
    let nginx = Nginx::start(&binary, &restauth, &app);
    let url = |path: &str| format!("{}{path}", nginx.base);
    let reached = || seen.lock().unwrap().clone();

    // Anonymous: restauth's own 401 reaches the client, the application sees nothing, and
    // user headers a client sends change nothing.
    for forged in [None, Some("alice")] {
        let mut req = plain().get(url("/private?x=1"));
        if let Some(name) = forged {
            req = req
                .header("X-Auth-User", name)
                .header("X-Auth-Is-Staff", "true");
        }
        let r = s.send(req).await;
        assert_eq!(r.status, 401, "{}\n{}", r.body, nginx.error_log());
        assert_eq!(r.header("www-authenticate"), Some("Token"));
        assert_eq!(
            r.json(),
            json!({"detail": "Authentication credentials were not provided."})
        );
    }
    assert!(reached().is_empty(), "{:?}", reached());

    // A token: the request arrives with the user restauth named, and only that one.
    let r = s
        .send(
            plain()
                .get(url("/private"))
                .header("Authorization", format!("Token {token}"))
                .header("X-Auth-User", "root")
                .header("X-Auth-User-Id", "999")
                .header("X-Auth-Is-Staff", "true"),
        )
        .await;
    assert_eq!(r.status, 200, "{}\n{}", r.body, nginx.error_log());
    assert_eq!(r.body, "from the application");
    let got = reached();
    assert_eq!(got.len(), 1, "{got:?}");
    assert_eq!(got[0].user, ["alice"]);
    assert_eq!(got[0].is_staff, ["false"]);
    assert_eq!(got[0].user_id.len(), 1);
    assert_ne!(got[0].user_id, ["999"]);

    // The session cookie on an unsafe method needs the CSRF token, even when the client
    // claims another method to restauth.
    let post = || {
        plain()
            .post(url("/notes"))
            .header("Cookie", browser.cookie())
            .header("X-Forwarded-Method", "GET")
            .header("X-Original-Method", "GET")
            .json(&json!({"text": "hello"}))
    };
    let r = s.send(post()).await;
    assert_eq!(r.status, 403, "{}\n{}", r.body, nginx.error_log());
    assert_eq!(
        r.json(),
        json!({"detail": "CSRF Failed: CSRF token missing."})
    );
    assert_eq!(reached().len(), 1);
    let r = s.send(post().header("X-CSRFToken", &browser.csrf)).await;
    assert_eq!(r.status, 200, "{}\n{}", r.body, nginx.error_log());
    let got = reached();
    assert_eq!(got.len(), 2, "{got:?}");
    assert_eq!(
        (got[1].method.as_str(), got[1].path.as_str()),
        ("POST", "/notes")
    );
    assert_eq!(got[1].user, ["alice"]);
    // The body went to the application, untouched.
    assert_eq!(got[1].body, r#"{"text":"hello"}"#);

    // Throttled: restauth's 429 reaches the client (not nginx's 500), with Retry-After.
    let mut throttled = None;
    for _ in 0..6 {
        let r = s
            .send(
                plain()
                    .get(url("/private"))
                    .header("Authorization", format!("Token {token}")),
            )
            .await;
        if r.status != 200 {
            throttled = Some(r);
            break;
        }
    }
    let r = throttled.expect("requests were never throttled");
    let before = reached().len();
    assert_eq!(r.status, 429, "{}\n{}", r.body, nginx.error_log());
    assert!(r.header("retry-after").is_some());
    assert!(
        r.json()["detail"]
            .as_str()
            .is_some_and(|d| d.starts_with("Request was throttled.")),
        "{}",
        r.body
    );
    assert_eq!(reached().len(), before);
}

/// A proxy that states the original request under nginx's own names (`X-Original-Method`,
/// `X-Original-URI`, as nginx's documentation writes it) and passes the client's other
/// headers through: a client's `X-Forwarded-Method: GET` must not turn its anonymous POST into
/// a read. With the setting naming nginx's header the request is refused (the client's
/// spelling is there); with the default setting it is refused too (nginx's spelling is).
#[tokio::test]
async fn only_the_configured_method_header_is_believed_behind_nginx() {
    let Some(binary) = find_nginx() else {
        skip("nginx is not installed (apt-get install nginx)");
        return;
    };
    let doc = repo_file("docs/nginx-forward-auth.conf");
    let nginx_style = doc
        .replace(
            "X-Forwarded-Method $request_method",
            "X-Original-Method $request_method",
        )
        .replace(
            "X-Forwarded-Uri $request_uri",
            "X-Original-URI $request_uri",
        )
        .replace("proxy_set_header X-Original-Method \"\";", "")
        .replace("proxy_set_header X-Original-URI \"\";", "");
    assert!(nginx_style.contains("X-Original-Method $request_method"));
    for names in [
        "method_header = \"X-Original-Method\"\nuri_header = \"X-Original-URI\"\n",
        "",
    ] {
        let s = Server::builder()
            .config(&format!(
                "[rest_framework]\nnum_proxies = 1\n\
                 [forward_auth]\nenabled = true\n\
                 permission_classes = [\"IsAuthenticatedOrReadOnly\"]\n{names}"
            ))
            .start()
            .await;
        let restauth = s.base.trim_start_matches("http://").to_owned();
        let (app, seen) = upstream().await;
        let nginx = Nginx::start_with(&binary, &restauth, &app, &nginx_style);
        let url = |path: &str| format!("{}{path}", nginx.base);
        // A plain anonymous read is let through.
        let r = s.send(plain().get(url("/notes"))).await;
        if names.is_empty() {
            assert_ne!(r.status, 200, "{names}: nginx's own spelling was believed");
        } else {
            assert_eq!(r.status, 200, "{}\n{}", r.body, nginx.error_log());
        }
        let reads = seen.lock().unwrap().len();
        let r = s
            .send(
                plain()
                    .post(url("/notes"))
                    .header("X-Forwarded-Method", "GET")
                    .header("X-Forwarded-Uri", "/public")
                    .json(&json!({"text": "anonymous"})),
            )
            .await;
        assert_ne!(r.status, 200, "{names}: {}", r.body);
        assert_eq!(
            seen.lock().unwrap().len(),
            reads,
            "{names}: the anonymous POST reached the application"
        );
    }
}
