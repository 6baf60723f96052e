//! Spawns the real `restauth` binary on a random loopback port, in a fresh folder with its own
//! SQLite file, and talks HTTP to it.
//!
//! With `RESTAUTH_TEST_BACKEND=postgres` and `RESTAUTH_TEST_DATABASE_URL` set, every server gets
//! a fresh PostgreSQL schema instead (dropped after the server), so the same suites run on both.

#![allow(dead_code)]

pub mod django;

use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::Duration;

use reqwest::header::{HeaderMap, HeaderValue};
use serde_json::{Value, json};

pub const BIN: &str = env!("CARGO_BIN_EXE_restauth");
pub const PASSWORD: &str = "correct horse battery staple";
/// How soon a change made by one process is honoured by every server on PostgreSQL.
pub const CROSS_PROCESS_BOUND: Duration = Duration::from_secs(1);
/// The variable naming the file where a test build's server writes how many changes it heard.
const CHANGES_VAR: &str = "RESTAUTH_TEST_CHANGES_FILE";
const CHANGES_FILE: &str = "changes-heard";

pub struct Server {
    pub base: String,
    /// `http://host:port/metrics` when `[metrics] bind` is set.
    pub metrics: Option<String>,
    pub dir: tempfile::TempDir,
    child: Child,
    env: Vec<(String, String)>,
    pub client: reqwest::Client,
    /// On PostgreSQL, where another process's changes arrive by NOTIFY.
    postgres: bool,
    /// The schema this server owns, dropped after it (PostgreSQL runs only).
    _db: Option<TestDb>,
}

/// A response, read whole.
pub struct Reply {
    pub status: u16,
    pub headers: HeaderMap,
    pub body: String,
}

impl Reply {
    pub fn json(&self) -> Value {
        serde_json::from_str(&self.body)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {:?}", self.body))
    }
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }
}

/// A test whose service (PostgreSQL, Redis, chromedriver) is missing. Under `CI=true`, where
/// every service is provided, that is a failure; elsewhere the test says it was skipped, on
/// stderr directly so the test harness does not swallow the line.
pub fn skip(reason: &str) {
    if std::env::var("CI").is_ok_and(|v| v == "true") {
        panic!("{reason}: CI=true provides every service, so this test may not be skipped");
    }
    let _ = writeln!(std::io::stderr(), "skipped: {reason}");
}

/// A Python virtualenv with `requirements` (a pip requirements file) installed, made once under
/// the cargo target folder and reused; its folder is named after the file's contents, so a
/// changed pin makes a new one. `Err` says what is missing (python3, venv, the registry).
pub fn python_venv(name: &str, requirements: &Path) -> Result<PathBuf, String> {
    use sha2::{Digest, Sha256};
    // One test at a time builds a virtualenv.
    static BUILDING: std::sync::Mutex<()> = std::sync::Mutex::new(());
    let _one = BUILDING.lock().unwrap_or_else(|e| e.into_inner());
    let pins =
        std::fs::read(requirements).map_err(|e| format!("{}: {e}", requirements.display()))?;
    let digest: String = Sha256::digest(&pins)
        .iter()
        .take(6)
        .map(|b| format!("{b:02x}"))
        .collect();
    let venv = Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("{name}-venv-{digest}"));
    let ready = venv.join(".installed");
    if ready.exists() {
        return Ok(venv);
    }
    match Command::new("python3").arg("--version").output() {
        Ok(o) if o.status.success() => {}
        _ => return Err("python3 is not installed".into()),
    }
    let _ = std::fs::remove_dir_all(&venv);
    let made = Command::new("python3")
        .args(["-m", "venv"])
        .arg(&venv)
        .output()
        .map_err(|e| format!("python3 -m venv: {e}"))?;
    if !made.status.success() {
        return Err(format!(
            "python3 cannot make a virtualenv (install python3-venv): {}",
            stderr(&made)
        ));
    }
    let installed = Command::new(venv.join("bin/pip"))
        .args(["install", "--quiet", "--disable-pip-version-check", "-r"])
        .arg(requirements)
        .output()
        .map_err(|e| format!("pip: {e}"))?;
    if !installed.status.success() {
        return Err(format!(
            "pip could not install {}: {}",
            requirements.display(),
            stderr(&installed)
        ));
    }
    std::fs::write(&ready, b"").map_err(|e| format!("{}: {e}", ready.display()))?;
    Ok(venv)
}

/// The PostgreSQL test database from `RESTAUTH_TEST_DATABASE_URL`, if set.
pub fn postgres_url() -> Option<String> {
    std::env::var("RESTAUTH_TEST_DATABASE_URL")
        .ok()
        .filter(|u| !u.is_empty())
}

/// Whether the HTTP suites run on PostgreSQL (`RESTAUTH_TEST_BACKEND=postgres` and a URL).
pub fn postgres_backend() -> bool {
    std::env::var("RESTAUTH_TEST_BACKEND").is_ok_and(|b| b == "postgres")
        && postgres_url().is_some()
}

/// A fresh schema in the PostgreSQL test database, dropped when this goes.
pub struct TestDb {
    pub url: String,
    pub schema: String,
}

impl TestDb {
    pub fn new(url: &str) -> TestDb {
        use std::sync::atomic::{AtomicU32, Ordering};
        static N: AtomicU32 = AtomicU32::new(0);
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.subsec_nanos());
        TestDb {
            url: url.to_owned(),
            schema: format!(
                "rt_http_{}_{}_{}",
                std::process::id(),
                N.fetch_add(1, Ordering::Relaxed),
                nanos
            ),
        }
    }

    /// `[database]` lines for this schema, reached through `url` (the real one or a proxy's).
    pub fn config_via(&self, url: &str) -> String {
        format!("url = {url:?}\nschema = {:?}\n", self.schema)
    }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        let url = self.url.clone();
        // The name is ours, made of [a-z0-9_] only.
        let ddl = format!("DROP SCHEMA IF EXISTS {} CASCADE", self.schema);
        // Drop runs inside the test's runtime, which cannot block on itself: use a thread.
        let _ = std::thread::spawn(move || {
            let Ok(rt) = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
            else {
                return;
            };
            rt.block_on(async {
                use sqlx::Connection;
                if let Ok(mut c) = sqlx::PgConnection::connect(&url).await {
                    let _ = sqlx::query(sqlx::AssertSqlSafe(ddl)).execute(&mut c).await;
                }
            });
        })
        .join();
    }
}

pub struct Builder {
    config: String,
    env: Vec<(String, String)>,
    /// Lines of the `[database]` section, written last.
    database: String,
    db: Option<TestDb>,
}

impl Builder {
    /// Lines of `restauth.toml`.
    pub fn config(mut self, toml: &str) -> Self {
        self.config.push_str(toml);
        self.config.push('\n');
        self
    }

    /// Lines of the `[database]` section (`acquire_timeout = 1`, …).
    pub fn database(mut self, toml: &str) -> Self {
        self.database.push_str(toml);
        self.database.push('\n');
        self
    }

    /// Uses this schema (shared with other servers, owned by the caller) instead of a fresh one.
    pub fn on(mut self, db: &TestDb) -> Self {
        self.db = None;
        self.database(&db.config_via(&db.url))
    }

    /// No fresh schema: the caller writes `[database] url` (and `schema`) itself.
    pub fn own_database(mut self) -> Self {
        self.db = None;
        self
    }

    pub fn env(mut self, key: &str, value: &str) -> Self {
        self.env.push((key.into(), value.into()));
        self
    }

    pub async fn start(self) -> Server {
        let dir = tempfile::tempdir().expect("tempdir");
        let mut database = String::new();
        if let Some(db) = &self.db {
            database.push_str(&db.config_via(&db.url));
        }
        database.push_str(&self.database);
        let mut config = self.config;
        let postgres = database.contains("postgres");
        if postgres
            && !config.contains("secret_key")
            && !self.env.iter().any(|(k, _)| k == "RESTAUTH_SECRET_KEY")
        {
            // On PostgreSQL the key must be configured (no key file is shared between
            // instances); one key for every test server, as instances of one site share it.
            config.insert_str(
                0,
                "secret_key = \"t3st-only-9f2c4e7a1b8d6f0e3a5c7b9d1e4f6a8c\"\n",
            );
        }
        if !database.is_empty() {
            // Last, so it cannot swallow keys meant for the top level or another table.
            config.push_str("\n[database]\n");
            config.push_str(&database);
        }
        std::fs::write(dir.path().join("restauth.toml"), &config).expect("config");
        let (child, base, metrics) = spawn_server(dir.path(), &self.env);
        let client = reqwest::Client::builder()
            .cookie_store(true)
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .expect("client");
        Server {
            base,
            metrics,
            dir,
            child,
            env: self.env,
            client,
            postgres,
            _db: self.db,
        }
    }
}

/// Starts `restauth serve` in `dir` and waits for the address it prints (and the metrics
/// address, printed before it when metrics are on).
fn spawn_server(dir: &Path, env: &[(String, String)]) -> (Child, String, Option<String>) {
    let log = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(dir.join("server.log"))
        .expect("log");
    let mut child = Command::new(BIN)
        .args(["serve", "--bind", "127.0.0.1:0"])
        .current_dir(dir)
        // A test's own variables (a `RUST_LOG` included) come after the defaults.
        .env("RUST_LOG", "info")
        .envs(env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
        .env(CLOCK_VAR, clock_file(dir))
        .env(CHANGES_VAR, dir.join(CHANGES_FILE))
        .stdout(Stdio::piped())
        .stderr(log)
        .spawn()
        .expect("spawn restauth");
    let stdout = child.stdout.take().expect("stdout");
    let (tx, rx) = std::sync::mpsc::channel();
    // What the server prints besides its addresses (the console mail backend) is kept too.
    let mut printed = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(dir.join("server.stdout"))
        .expect("stdout file");
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if let Some(addr) = line.strip_prefix("restauth listening on ") {
                let _ = tx.send((false, addr.to_owned()));
            } else if let Some(addr) = line.strip_prefix("restauth metrics on ") {
                let _ = tx.send((true, addr.to_owned()));
            } else {
                use std::io::Write;
                let _ = writeln!(printed, "{line}");
            }
        }
    });
    let mut metrics = None;
    loop {
        match rx.recv_timeout(Duration::from_secs(30)) {
            Ok((true, url)) => metrics = Some(url),
            Ok((false, base)) => return (child, base, metrics),
            Err(_) => break,
        }
    }
    let _ = child.kill();
    let _ = child.wait();
    let log = std::fs::read_to_string(dir.join("server.log")).unwrap_or_default();
    panic!("server did not start:\n{log}");
}

impl Server {
    /// A server on a fresh SQLite file, or on a fresh PostgreSQL schema when the suite runs on
    /// PostgreSQL.
    pub fn builder() -> Builder {
        Builder {
            config: String::new(),
            env: Vec::new(),
            database: String::new(),
            db: postgres_url()
                .filter(|_| postgres_backend())
                .map(|u| TestDb::new(&u)),
        }
    }

    pub async fn start() -> Server {
        Server::builder().start().await
    }

    /// Ends the process with SIGKILL: no graceful shutdown, nothing flushed on the way out.
    pub fn sigkill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// Asks the server to stop (SIGTERM) and waits for it; true when it exited by itself
    /// within 10 s (else it is killed).
    pub fn terminate(&mut self) -> bool {
        let _ = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status();
        for _ in 0..100 {
            if let Ok(Some(_)) = self.child.try_wait() {
                return true;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        self.sigkill();
        false
    }

    /// The server's process id (to send it a signal).
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Waits up to `within` for the process to exit by itself; its exit status, or `None` if
    /// it is still running.
    pub fn wait_exit(&mut self, within: Duration) -> Option<std::process::ExitStatus> {
        let deadline = std::time::Instant::now() + within;
        loop {
            if let Ok(Some(status)) = self.child.try_wait() {
                return Some(status);
            }
            if std::time::Instant::now() > deadline {
                return None;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Starts the server again in the same folder, on the same database (on a new port).
    pub fn restart(&mut self) {
        self.sigkill();
        let (child, base, metrics) = spawn_server(self.dir.path(), &self.env);
        self.child = child;
        self.base = base;
        self.metrics = metrics;
    }

    /// Moves this server's clock forward (expiry, idle timeouts, rate windows), instead of
    /// sleeping.
    pub fn advance_clock(&self, by: Duration) {
        advance_clock_in(self.dir.path(), by);
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.base, path)
    }

    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("server.log")).unwrap_or_default()
    }

    /// What the server printed on standard output besides its addresses.
    pub fn printed(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("server.stdout")).unwrap_or_default()
    }

    /// The links of the mails the console backend printed so far, in order.
    pub fn printed_links(&self) -> Vec<String> {
        self.printed()
            .split_whitespace()
            .filter(|w| w.starts_with("http://") || w.starts_with("https://"))
            .map(str::to_owned)
            .collect()
    }

    /// Runs a management command in the server's folder, with `stdin` as its input.
    ///
    /// A command is another process. On SQLite the server sees its changes at the next request;
    /// on PostgreSQL they reach the server by NOTIFY, so after a command that changes
    /// credentials this waits until the server has heard a change (test builds write the count
    /// to a file), or for the documented bound (1 s), after which the server trusts no cached
    /// entry older than the change anyway.
    pub fn command(&self, args: &[&str], stdin: &str) -> Output {
        let announces = matches!(
            args.first().copied(),
            Some(
                "changepassword"
                    | "deactivateuser"
                    | "activateuser"
                    | "deleteuser"
                    | "drf_create_token"
            )
        );
        let heard_before = self.changes_heard();
        let out = command_in(self.dir.path(), args, stdin);
        if self.postgres && announces && out.status.success() {
            let deadline = std::time::Instant::now() + CROSS_PROCESS_BOUND;
            while self.changes_heard() <= heard_before && std::time::Instant::now() < deadline {
                std::thread::sleep(Duration::from_millis(5));
            }
        }
        out
    }

    /// How many changes announced by any process the server has heard (PostgreSQL only).
    fn changes_heard(&self) -> u64 {
        std::fs::read_to_string(self.dir.path().join(CHANGES_FILE))
            .ok()
            .and_then(|s| s.trim().parse().ok())
            .unwrap_or(0)
    }

    /// Creates a user through the CLI; `flags` like `--staff`, `--inactive`.
    pub fn create_user(&self, username: &str, flags: &[&str]) {
        let mut args = vec!["createuser", username, "--password-stdin"];
        args.extend_from_slice(flags);
        let out = self.command(&args, &format!("{PASSWORD}\n"));
        assert!(
            out.status.success(),
            "createuser: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }

    pub async fn send(&self, req: reqwest::RequestBuilder) -> Reply {
        let resp = req.send().await.expect("request");
        let status = resp.status().as_u16();
        let headers = resp.headers().clone();
        let body = resp.text().await.expect("body");
        Reply {
            status,
            headers,
            body,
        }
    }

    pub async fn get(&self, path: &str, authorization: Option<&str>) -> Reply {
        let mut req = self.client.get(self.url(path));
        if let Some(a) = authorization {
            req = req.header(
                "Authorization",
                HeaderValue::from_bytes(a.as_bytes()).expect("header"),
            );
        }
        self.send(req).await
    }

    pub async fn post_json(&self, path: &str, body: &Value, authorization: Option<&str>) -> Reply {
        let mut req = self.client.post(self.url(path)).json(body);
        if let Some(a) = authorization {
            req = req.header("Authorization", a);
        }
        self.send(req).await
    }

    /// Logs in at `/api-token-auth/` and returns the key.
    pub async fn token(&self, username: &str) -> String {
        let r = self
            .post_json(
                "/api-token-auth/",
                &json!({"username": username, "password": PASSWORD}),
                None,
            )
            .await;
        assert_eq!(r.status, 200, "{}", r.body);
        r.json()["token"].as_str().expect("token").to_owned()
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The variable naming the file whose offset (milliseconds) moves the test build's clock.
const CLOCK_VAR: &str = "RESTAUTH_TEST_CLOCK_FILE";

/// Each server folder has its own clock: the server and the commands run in it read it.
fn clock_file(dir: &Path) -> PathBuf {
    dir.join("test-clock-offset-ms")
}

/// Moves the clock of the server (and commands) in `dir` forward, instead of sleeping.
pub fn advance_clock_in(dir: &Path, by: Duration) {
    let file = clock_file(dir);
    let now: i64 = std::fs::read_to_string(&file)
        .ok()
        .and_then(|s| s.trim().parse().ok())
        .unwrap_or(0);
    let by = i64::try_from(by.as_millis()).expect("offset");
    // Write then rename, so a reader never sees a half-written number.
    let tmp = dir.join("test-clock-offset-ms.tmp");
    std::fs::write(&tmp, (now + by).to_string()).expect("clock offset");
    std::fs::rename(&tmp, &file).expect("clock offset");
}

pub fn command_in(dir: &Path, args: &[&str], stdin: &str) -> Output {
    let mut child = Command::new(BIN)
        .args(args)
        .current_dir(dir)
        .env(CLOCK_VAR, clock_file(dir))
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn command");
    if let Some(mut input) = child.stdin.take() {
        let _ = input.write_all(stdin.as_bytes());
    }
    child.wait_with_output().expect("command output")
}

pub fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

pub fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// Every file of the server's folder, as bytes (database, WAL, logs).
pub fn folder_bytes(dir: &Path) -> Vec<(PathBuf, Vec<u8>)> {
    std::fs::read_dir(dir)
        .expect("read_dir")
        .filter_map(Result::ok)
        .filter(|e| e.path().is_file())
        .map(|e| (e.path(), std::fs::read(e.path()).unwrap_or_default()))
        .collect()
}

/// A client without a cookie jar that never follows redirects.
pub fn plain() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("client")
}

/// Every `Set-Cookie` line of a response.
pub fn set_cookies(r: &Reply) -> Vec<String> {
    r.headers
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .map(str::to_owned)
        .collect()
}

/// The `Set-Cookie` line for cookie `name`.
pub fn set_cookie_line(r: &Reply, name: &str) -> Option<String> {
    set_cookies(r)
        .into_iter()
        .find(|l| l.starts_with(&format!("{name}=")))
}

/// The value `Set-Cookie` gives cookie `name`.
pub fn set_cookie_value(r: &Reply, name: &str) -> Option<String> {
    set_cookie_line(r, name).map(|l| {
        l.split(';').next().unwrap_or("")[name.len() + 1..]
            .trim_matches('"')
            .to_owned()
    })
}

/// Runs `restauth serve` in `dir` with `env`; it must exit non-zero before listening, naming
/// `key` on standard error. A server that starts anyway is stopped after 30 s, failing.
pub fn refuses_to_serve(dir: &std::path::Path, env: &[(&str, &str)], key: &str) {
    let mut child = std::process::Command::new(BIN)
        .args(["serve", "--bind", "127.0.0.1:0"])
        .envs(env.iter().copied())
        .current_dir(dir)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    while child.try_wait().unwrap().is_none() {
        if std::time::Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("{key}: started, and was still serving after 30 s");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let out = child.wait_with_output().unwrap();
    assert!(!out.status.success(), "{key}: started");
    assert!(!stdout(&out).contains("listening"), "{key}");
    assert!(stderr(&out).contains(key), "{key}: {}", stderr(&out));
}

/// What a browser holds after logging in: its session cookie and CSRF secret.
#[derive(Clone, Debug)]
pub struct Browser {
    pub session: String,
    pub csrf: String,
}

impl Browser {
    pub fn cookie(&self) -> String {
        format!("sessionid={}; csrftoken={}", self.session, self.csrf)
    }
}

/// `GET /api/auth/csrf/`: (masked token from the body, cookie secret).
pub async fn csrf(s: &Server) -> (String, String) {
    let r = s.send(plain().get(s.url("/api/auth/csrf/"))).await;
    assert_eq!(r.status, 200, "{}", r.body);
    let token = r.json()["csrfToken"]
        .as_str()
        .expect("csrfToken")
        .to_owned();
    let cookie = set_cookie_value(&r, "csrftoken").expect("csrftoken cookie");
    (token, cookie)
}

/// Whom restauth's session-authenticated view (`/api/dashboard/`) sees with this session, or
/// `None`; never a 500.
pub async fn restauth_session_user(s: &Server, sessionid: &str) -> Option<String> {
    let r = s
        .send(
            plain()
                .get(s.url("/api/dashboard/"))
                .header("Cookie", format!("sessionid={sessionid}")),
        )
        .await;
    assert_ne!(r.status, 500, "{}", s.log());
    (r.status == 200).then(|| {
        let message = r.json()["message"].as_str().unwrap_or("").to_owned();
        message
            .strip_prefix("Hello ")
            .and_then(|m| m.split(',').next())
            .unwrap_or("")
            .to_owned()
    })
}

/// The SPA login: `GET /api/auth/csrf/` then `POST /api/auth/login/` with `X-CSRFToken`.
pub async fn spa_login(s: &Server, username: &str, password: &str) -> Reply {
    let (token, cookie) = csrf(s).await;
    s.send(
        plain()
            .post(s.url("/api/auth/login/"))
            .header("Cookie", format!("csrftoken={cookie}"))
            .header("X-CSRFToken", token)
            .json(&json!({"username": username, "password": password})),
    )
    .await
}

/// Logs `username` in through the SPA login.
pub async fn login(s: &Server, username: &str) -> Browser {
    let r = spa_login(s, username, PASSWORD).await;
    assert_eq!(r.status, 200, "{}", r.body);
    Browser {
        session: set_cookie_value(&r, "sessionid").expect("sessionid"),
        csrf: set_cookie_value(&r, "csrftoken").expect("csrftoken"),
    }
}

/// Polls until `check` holds; fails once [`CROSS_PROCESS_BOUND`] has passed since `since`
/// (a change another process made must be honoured by then).
pub async fn within_bound<F, Fut>(since: std::time::Instant, what: &str, mut check: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    loop {
        if check().await {
            return;
        }
        assert!(
            since.elapsed() < CROSS_PROCESS_BOUND,
            "{what}: still accepted {:?} after the revocation",
            since.elapsed()
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Waits until `request` answers `expected`: a command's change reaches the server within the
/// cross-process bound (at once on SQLite, through NOTIFY on PostgreSQL).
pub async fn settles<F, Fut>(what: &str, expected: u16, mut request: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = u16>,
{
    let since = std::time::Instant::now();
    within_bound(since, what, || {
        let answer = request();
        async move { answer.await == expected }
    })
    .await;
}

/// The link of the `n`th mail (1-based) the console backend prints, once it is printed.
pub async fn printed_link_n(s: &Server, n: usize) -> String {
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    loop {
        if let Some(link) = s.printed_links().get(n - 1) {
            return link.clone();
        }
        assert!(
            std::time::Instant::now() < deadline,
            "no link {n} printed:\n{}",
            s.printed()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// The link of the first mail the console backend prints.
pub async fn printed_link(s: &Server) -> String {
    printed_link_n(s, 1).await
}
