//! The browser login in a real headless Chromium, driven over WebDriver: the login page, the
//! dashboard, the account page (devices listed and revoked), the cookies a browser really
//! stores, logout, a cross-origin form post that CSRF must refuse, a single-page app on
//! another origin calling through `[cors]`, and the password reset page a mailed link opens
//! (the mail printed by the console backend).
//!
//! Needs `chromedriver` and Chromium (Debian: `apt-get install chromium chromium-driver`);
//! without them the test is skipped (`CHROMEDRIVER=/path` names another driver).
//! `RESTAUTH_UPDATE_SCREENSHOTS=1` rewrites
//! `docs/screenshots/login.png`, `docs/screenshots/dashboard.png` and
//! `docs/screenshots/account.png`.

mod common;

use std::net::TcpListener as StdListener;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use base64::Engine;
use common::{PASSWORD, Server, printed_link};
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// The W3C WebDriver key of an element reference.
const ELEMENT: &str = "element-6066-11e4-a52e-4f735466cecf";
const CHROMIUM: &str = "/usr/bin/chromium";

fn find_chromedriver() -> Option<PathBuf> {
    // An explicit path wins; one that does not exist skips the test.
    if let Some(p) = std::env::var_os("CHROMEDRIVER") {
        return Some(PathBuf::from(p)).filter(|p| p.is_file());
    }
    std::env::var_os("PATH")
        .map(|paths| std::env::split_paths(&paths).collect::<Vec<_>>())
        .unwrap_or_default()
        .into_iter()
        .chain([PathBuf::from("/usr/bin")])
        .map(|d| d.join("chromedriver"))
        .find(|p| p.is_file())
}

fn free_port() -> u16 {
    StdListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("free port")
        .port()
}

/// A running chromedriver, in its own process group so that the browsers it starts go with it.
struct Chromedriver {
    child: Child,
    base: String,
}

impl Chromedriver {
    async fn start(binary: &Path, log: &Path) -> Chromedriver {
        let port = free_port();
        let log = std::fs::File::create(log).expect("chromedriver log");
        let child = Command::new(binary)
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(log)
            .process_group(0)
            .spawn()
            .expect("spawn chromedriver");
        let driver = Chromedriver {
            child,
            base: format!("http://127.0.0.1:{port}"),
        };
        let http = reqwest::Client::new();
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            if let Ok(r) = http.get(format!("{}/status", driver.base)).send().await
                && let Ok(v) = r.json::<Value>().await
                && v["value"]["ready"] == json!(true)
            {
                return driver;
            }
            assert!(Instant::now() < deadline, "chromedriver did not start");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
}

impl Drop for Chromedriver {
    fn drop(&mut self) {
        // The whole group: chromedriver and any browser it left behind.
        let _ = Command::new("kill")
            .args(["-TERM", "--", &format!("-{}", self.child.id())])
            .status();
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A WebDriver session: the few commands this test needs.
struct Browser {
    http: reqwest::Client,
    session: String,
}

impl Browser {
    async fn open(driver: &Chromedriver, profile: &Path) -> Browser {
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(60))
            .build()
            .expect("client");
        let mut options = json!({
            "args": [
                "--headless=new",
                "--no-sandbox",
                "--disable-gpu",
                "--disable-dev-shm-usage",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                "--no-first-run",
                "--window-size=960,720",
                format!("--user-data-dir={}", profile.display()),
            ]
        });
        if Path::new(CHROMIUM).is_file() {
            options["binary"] = json!(CHROMIUM);
        }
        let caps = json!({
            "capabilities": {
                "alwaysMatch": { "browserName": "chrome", "goog:chromeOptions": options }
            }
        });
        let r: Value = http
            .post(format!("{}/session", driver.base))
            .json(&caps)
            .send()
            .await
            .expect("new session")
            .json()
            .await
            .expect("session JSON");
        let session = r["value"]["sessionId"]
            .as_str()
            .unwrap_or_else(|| panic!("no WebDriver session: {r}"))
            .to_owned();
        Browser {
            http,
            session: format!("{}/session/{session}", driver.base),
        }
    }

    /// Runs a command and returns its `value`; WebDriver errors panic with their message.
    async fn call(&self, method: reqwest::Method, path: &str, body: Option<Value>) -> Value {
        match self.try_call(method.clone(), path, body).await {
            Ok(v) => v,
            Err(e) => panic!("{method} {path}: {e}"),
        }
    }

    /// Runs a command; a WebDriver error (no such element, a stale one) is returned.
    async fn try_call(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<Value>,
    ) -> Result<Value, String> {
        let mut req = self.http.request(method, format!("{}{path}", self.session));
        if let Some(b) = body {
            req = req.json(&b);
        }
        let r = req.send().await.expect("WebDriver request");
        let status = r.status();
        let v: Value = r.json().await.expect("WebDriver JSON");
        if status.is_success() {
            Ok(v["value"].clone())
        } else {
            Err(format!("{status} {v}"))
        }
    }

    /// Waits until the element `css` shows `expected`. After a form post that lands on the
    /// same URL, the URL cannot tell the old page from the new one; the text can.
    async fn wait_for_text(&self, css: &str, expected: &str) {
        let deadline = Instant::now() + Duration::from_secs(15);
        loop {
            let found = self
                .try_call(
                    reqwest::Method::POST,
                    "/element",
                    Some(json!({ "using": "css selector", "value": css })),
                )
                .await;
            let seen = match found.as_ref().ok().and_then(|v| v[ELEMENT].as_str()) {
                Some(el) => self
                    .try_call(reqwest::Method::GET, &format!("/element/{el}/text"), None)
                    .await
                    .ok(),
                None => None,
            };
            if seen.as_ref().and_then(Value::as_str) == Some(expected) {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "{css} shows {seen:?}, expected {expected:?}"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    async fn goto(&self, url: &str) {
        self.call(reqwest::Method::POST, "/url", Some(json!({ "url": url })))
            .await;
    }

    async fn url(&self) -> String {
        self.call(reqwest::Method::GET, "/url", None)
            .await
            .as_str()
            .unwrap_or_default()
            .to_owned()
    }

    /// Waits until the current URL is `url` (navigation after a click or a script).
    async fn wait_for_url(&self, url: &str) {
        let deadline = Instant::now() + Duration::from_secs(15);
        loop {
            let now = self.url().await;
            if now == url {
                return;
            }
            assert!(Instant::now() < deadline, "at {now}, expected {url}");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    async fn find(&self, css: &str) -> String {
        let v = self
            .call(
                reqwest::Method::POST,
                "/element",
                Some(json!({ "using": "css selector", "value": css })),
            )
            .await;
        v[ELEMENT]
            .as_str()
            .unwrap_or_else(|| panic!("no element {css}: {v}"))
            .to_owned()
    }

    async fn type_into(&self, css: &str, text: &str) {
        let el = self.find(css).await;
        self.call(
            reqwest::Method::POST,
            &format!("/element/{el}/value"),
            Some(json!({ "text": text })),
        )
        .await;
    }

    async fn click(&self, css: &str) {
        let el = self.find(css).await;
        self.call(
            reqwest::Method::POST,
            &format!("/element/{el}/click"),
            Some(json!({})),
        )
        .await;
    }

    async fn text(&self, css: &str) -> String {
        let el = self.find(css).await;
        self.call(reqwest::Method::GET, &format!("/element/{el}/text"), None)
            .await
            .as_str()
            .unwrap_or_default()
            .to_owned()
    }

    async fn cookie(&self, name: &str) -> Option<Value> {
        let all = self.call(reqwest::Method::GET, "/cookie", None).await;
        all.as_array()?
            .iter()
            .find(|c| c["name"] == json!(name))
            .cloned()
    }

    async fn screenshot(&self) -> Vec<u8> {
        let v = self.call(reqwest::Method::GET, "/screenshot", None).await;
        base64::engine::general_purpose::STANDARD
            .decode(v.as_str().expect("screenshot"))
            .expect("screenshot base64")
    }

    async fn quit(&self) {
        let _ = self.http.delete(&self.session).send().await;
    }
}

/// Serves one fixed HTML page on a loopback port of its own (another origin than the server).
async fn serve_page(html: String) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    tokio::spawn(async move {
        loop {
            let Ok((mut stream, _)) = listener.accept().await else {
                return;
            };
            let html = html.clone();
            tokio::spawn(async move {
                let mut buf = vec![0u8; 8192];
                let mut read = 0;
                while read < buf.len() {
                    match stream.read(&mut buf[read..]).await {
                        Ok(0) | Err(_) => break,
                        Ok(n) => read += n,
                    }
                    if buf[..read].windows(4).any(|w| w == b"\r\n\r\n") {
                        break;
                    }
                }
                let response = format!(
                    "HTTP/1.1 200 OK\r\nContent-Type: text/html; charset=utf-8\r\n\
                     Content-Length: {}\r\nConnection: close\r\n\r\n{html}",
                    html.len()
                );
                let _ = stream.write_all(response.as_bytes()).await;
                let _ = stream.shutdown().await;
            });
        }
    });
    format!("http://{addr}")
}

fn save_screenshot(name: &str, png: &[u8]) {
    assert!(png.starts_with(b"\x89PNG\r\n\x1a\n"), "not a PNG");
    if std::env::var("RESTAUTH_UPDATE_SCREENSHOTS").as_deref() != Ok("1") {
        return;
    }
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../docs/screenshots");
    std::fs::create_dir_all(&dir).expect("screenshots folder");
    std::fs::write(dir.join(name), png).expect("write screenshot");
}

#[tokio::test]
async fn browser_login_dashboard_logout_and_csrf() {
    let Some(chromedriver) = find_chromedriver() else {
        common::skip("chromedriver not found");
        return;
    };
    let s = Server::start().await;
    s.create_user("alice", &[]);
    let profile = tempfile::tempdir().expect("profile dir");
    let driver = Chromedriver::start(&chromedriver, &s.path().join("chromedriver.log")).await;
    let b = Browser::open(&driver, profile.path()).await;

    // The login page.
    let login_url = s.url("/api-auth/login/");
    b.goto(&login_url).await;
    assert_eq!(b.text("h1").await, "Log in");
    save_screenshot("login.png", &b.screenshot().await);

    // A wrong password: the generic message, still on the login page.
    b.type_into("#id_username", "alice").await;
    b.type_into("#id_password", "not the password").await;
    b.click("button[type=submit]").await;
    b.wait_for_text(
        ".error",
        "Please enter a correct username and password. Note that both fields may be case-sensitive.",
    )
    .await;
    assert_eq!(b.url().await, login_url);
    assert!(b.cookie("sessionid").await.is_none());

    // Log in: the dashboard greets the user.
    let username = b.find("#id_username").await;
    b.call(
        reqwest::Method::POST,
        &format!("/element/{username}/clear"),
        Some(json!({})),
    )
    .await;
    b.type_into("#id_username", "alice").await;
    b.type_into("#id_password", PASSWORD).await;
    b.click("button[type=submit]").await;
    let dashboard_url = s.url("/dashboard/");
    b.wait_for_url(&dashboard_url).await;
    assert_eq!(
        b.text("#greeting").await,
        "Hello alice, welcome to your dashboard"
    );
    save_screenshot("dashboard.png", &b.screenshot().await);

    // What the browser stored: an HttpOnly session cookie, a readable CSRF cookie.
    let session = b.cookie("sessionid").await.expect("sessionid cookie");
    assert_eq!(session["httpOnly"], json!(true), "{session}");
    assert_eq!(session["sameSite"], json!("Lax"), "{session}");
    assert_eq!(session["path"], json!("/"), "{session}");
    assert_eq!(session["value"].as_str().map(str::len), Some(32));
    let csrf = b.cookie("csrftoken").await.expect("csrftoken cookie");
    assert_eq!(csrf["httpOnly"], json!(false), "{csrf}");
    // JavaScript can read the CSRF cookie but not the session.
    let seen = b
        .call(
            reqwest::Method::POST,
            "/execute/sync",
            Some(json!({ "script": "return document.cookie;", "args": [] })),
        )
        .await;
    let seen = seen.as_str().unwrap_or_default();
    assert!(seen.contains("csrftoken="), "{seen}");
    assert!(!seen.contains("sessionid"), "{seen}");

    // A page of another origin (another port of the same host: same site, so the Lax cookies
    // do go along) auto-submits a form to the server. CSRF refuses it.
    let attacker = serve_page(format!(
        "<!doctype html><html><body>\
         <form id=\"f\" method=\"post\" action=\"{}\">\
         <input type=\"hidden\" name=\"transfer\" value=\"everything\"></form>\
         <script>document.getElementById('f').submit();</script></body></html>",
        s.url("/api/echo/")
    ))
    .await;
    assert_ne!(attacker, s.base);
    b.goto(&format!("{attacker}/")).await;
    b.wait_for_url(&s.url("/api/echo/")).await;
    let refused = b.text("body").await;
    assert_eq!(
        refused,
        format!(
            r#"{{"detail":"CSRF Failed: Origin checking failed - {attacker} does not match any trusted origins."}}"#
        )
    );
    assert!(refused.contains("CSRF"));
    assert!(
        s.log().contains("CSRF check failed"),
        "the refusal is logged"
    );
    // The same form from the server's own origin, without the token, is refused too.
    b.goto(&dashboard_url).await;
    let own = b
        .call(
            reqwest::Method::POST,
            "/execute/sync",
            Some(json!({
                "script": "return fetch('/api/echo/', {method: 'POST', \
                           headers: {'Content-Type': 'application/json'}, body: '{}'}) \
                           .then(r => r.text().then(t => [r.status, t]));",
                "args": []
            })),
        )
        .await;
    assert_eq!(
        own,
        json!([403, r#"{"detail":"CSRF Failed: CSRF token missing."}"#])
    );
    // With the token read from the cookie, as a single-page app does, it goes through.
    let ok = b
        .call(
            reqwest::Method::POST,
            "/execute/sync",
            Some(json!({
                "script": "const t = document.cookie.split('; ').find(c => c.startsWith('csrftoken=')).split('=')[1]; \
                           return fetch('/api/echo/', {method: 'POST', \
                           headers: {'Content-Type': 'application/json', 'X-CSRFToken': t}, body: '{\"n\":1}'}) \
                           .then(r => r.text().then(t => [r.status, t]));",
                "args": []
            })),
        )
        .await;
    assert_eq!(
        ok,
        json!([200, r#"{"received":{"n":1},"username":"alice"}"#])
    );
    // Still logged in after the refused attempts.
    assert_eq!(
        b.text("#greeting").await,
        "Hello alice, welcome to your dashboard"
    );

    // Log out: back at the login page, and the dashboard sends the browser there again.
    b.click("form button[type=submit]").await;
    b.wait_for_url(&login_url).await;
    assert!(b.cookie("sessionid").await.is_none());
    b.goto(&dashboard_url).await;
    b.wait_for_url(&s.url("/api-auth/login/?next=/dashboard/"))
        .await;
    assert_eq!(b.text("h1").await, "Log in");

    b.quit().await;
}

/// Runs `fetch(url, init)` in the current page; `[status, body]`, or `["failed", message]` when
/// the browser refuses the answer (CORS).
async fn page_fetch(b: &Browser, url: &str, init: Value) -> Value {
    b.call(
        reqwest::Method::POST,
        "/execute/sync",
        Some(json!({
            "script": "return fetch(arguments[0], arguments[1]) \
                       .then(r => r.text().then(t => [r.status, t])) \
                       .catch(e => ['failed', String(e)]);",
            "args": [url, init]
        })),
    )
    .await
}

#[tokio::test]
async fn a_single_page_app_on_another_origin_calls_with_a_token_and_a_session() {
    let Some(chromedriver) = find_chromedriver() else {
        common::skip("chromedriver not found");
        return;
    };
    // The app's page, and a page of an origin not listed.
    let app = serve_page("<!doctype html><title>app</title>".into()).await;
    let other = serve_page("<!doctype html><title>other</title>".into()).await;
    let s = Server::builder()
        .config(&format!(
            "[cors]\nallowed_origins = [\"{app}\"]\nallow_credentials = true\n"
        ))
        .start()
        .await;
    s.create_user("alice", &[]);
    let token = s.token("alice").await;
    let profile = tempfile::tempdir().expect("profile dir");
    let driver = Chromedriver::start(&chromedriver, &s.path().join("chromedriver.log")).await;
    let b = Browser::open(&driver, profile.path()).await;
    // Token only; the dashboard API takes the default classes, the session among them.
    let profile_url = s.url("/api/profile/");
    let dashboard_url = s.url("/api/dashboard/");

    // A token in the Authorization header: the browser sends a preflight first, which is
    // answered without credentials, then the call itself.
    b.goto(&format!("{app}/")).await;
    let with_token = json!({ "headers": { "Authorization": format!("Token {token}") } });
    let r = page_fetch(&b, &profile_url, with_token.clone()).await;
    assert_eq!(r[0], json!(200), "{r}");
    assert!(r[1].as_str().is_some_and(|t| t.contains("alice")), "{r}");

    // The session cookie of a login on the server, sent along with `credentials: "include"`.
    b.goto(&s.url("/api-auth/login/")).await;
    b.type_into("#id_username", "alice").await;
    b.type_into("#id_password", PASSWORD).await;
    b.click("button[type=submit]").await;
    b.wait_for_url(&s.url("/dashboard/")).await;
    b.goto(&format!("{app}/")).await;
    let r = page_fetch(&b, &dashboard_url, json!({ "credentials": "include" })).await;
    assert_eq!(r[0], json!(200), "{r}");
    assert!(r[1].as_str().is_some_and(|t| t.contains("alice")), "{r}");
    // Without credentials the cookie stays home: a readable 403 (session routes answer 403
    // without a challenge, as DRF does).
    let r = page_fetch(&b, &dashboard_url, json!({ "credentials": "omit" })).await;
    assert!(matches!(r[0].as_u64(), Some(401 | 403)), "{r}");

    // An origin not listed reads nothing, with a token or with the session.
    b.goto(&format!("{other}/")).await;
    let r = page_fetch(&b, &profile_url, with_token).await;
    assert_eq!(r[0], json!("failed"), "{r}");
    let r = page_fetch(&b, &dashboard_url, json!({ "credentials": "include" })).await;
    assert_eq!(r[0], json!("failed"), "{r}");

    b.quit().await;
}

/// A reset link mailed by the server opens restauth's page: Django's validator messages on a
/// weak password, the password set once, the link dead afterwards.
#[tokio::test]
async fn the_reset_page_of_a_mailed_link_sets_the_password_once() {
    let Some(chromedriver) = find_chromedriver() else {
        common::skip("chromedriver not found");
        return;
    };
    // The console backend prints the mail: its link names the host the request named.
    let s = Server::builder()
        .config("[email]\nbackend = \"console\"\n")
        .start()
        .await;
    s.create_user("alice", &["--email", "alice@example.com"]);
    let r = s
        .post_json(
            "/auth/users/reset_password/",
            &json!({"email": "alice@example.com"}),
            None,
        )
        .await;
    assert_eq!(r.status, 204, "{}", r.body);
    let link = printed_link(&s).await;
    assert!(
        link.starts_with(&s.url("/auth/password/reset/confirm/MQ/")),
        "{link}"
    );

    let profile = tempfile::tempdir().expect("profile dir");
    let driver = Chromedriver::start(&chromedriver, &s.path().join("chromedriver.log")).await;
    let b = Browser::open(&driver, profile.path()).await;
    b.goto(&link).await;
    assert_eq!(b.text("h1").await, "Choose a new password");

    // Two different passwords, then a weak one: the form again, with Django's messages.
    b.type_into("#id_new_password1", "one passphrase here")
        .await;
    b.type_into("#id_new_password2", "another passphrase").await;
    b.click("button[type=submit]").await;
    b.wait_for_text(".error", "The two password fields didn’t match.")
        .await;
    b.type_into("#id_new_password1", "12345").await;
    b.type_into("#id_new_password2", "12345").await;
    b.click("button[type=submit]").await;
    b.wait_for_text(
        ".error",
        "This password is too short. It must contain at least 8 characters.",
    )
    .await;
    let page = b
        .call(
            reqwest::Method::POST,
            "/execute/sync",
            Some(json!({ "script": "return document.body.innerText;", "args": [] })),
        )
        .await;
    let page = page.as_str().unwrap_or_default();
    assert!(page.contains("This password is too common."), "{page}");
    assert!(
        page.contains("This password is entirely numeric."),
        "{page}"
    );
    save_screenshot("password_reset.png", &b.screenshot().await);

    let new_password = "a brand new passphrase 42";
    b.type_into("#id_new_password1", new_password).await;
    b.type_into("#id_new_password2", new_password).await;
    b.click("button[type=submit]").await;
    b.wait_for_text("h1", "Password changed").await;

    // The link worked once.
    b.goto(&link).await;
    assert_eq!(b.text("h1").await, "Link not valid");
    b.quit().await;

    let login = |password: &str| json!({"username": "alice", "password": password});
    let r = s
        .post_json("/auth/token/login/", &login(PASSWORD), None)
        .await;
    assert_eq!(
        r.status, 400,
        "the old password stopped working: {}",
        r.body
    );
    let r = s
        .post_json("/auth/token/login/", &login(new_password), None)
        .await;
    assert_eq!(r.status, 200, "{}", r.body);

    // A post without the CSRF token (another site's form) is refused and changes nothing.
    let r = s
        .send(
            common::plain()
                .post(&link)
                .header("Origin", "https://evil.example")
                .form(&[("new_password1", "x"), ("new_password2", "x")]),
        )
        .await;
    assert_eq!(r.status, 403, "{}", r.body);
}

/// The rows of the table `css` (its `tbody`), or 0 when the page shows none.
async fn rows(b: &Browser, css: &str) -> usize {
    b.call(
        reqwest::Method::POST,
        "/execute/sync",
        Some(json!({
            "script": "return document.querySelectorAll(arguments[0]).length;",
            "args": [format!("{css} tbody tr")]
        })),
    )
    .await
    .as_u64()
    .unwrap_or(0) as usize
}

#[tokio::test]
async fn the_account_page_lists_devices_and_revokes_them() {
    let Some(chromedriver) = find_chromedriver() else {
        common::skip("chromedriver not found");
        return;
    };
    let s = Server::start().await;
    s.create_user("alice", &[]);
    // A token from a command-line tool and a session from another browser.
    let tool = s
        .send(
            common::plain()
                .post(s.url("/api-token-auth/"))
                .header("User-Agent", "deploy-tool/2.1")
                .json(&json!({"username": "alice", "password": PASSWORD})),
        )
        .await
        .json()["token"]
        .as_str()
        .expect("token")
        .to_owned();
    let other = common::login(&s, "alice").await;
    let other_dashboard = || async {
        s.send(
            common::plain()
                .get(s.url("/api/dashboard/"))
                .header("Cookie", other.cookie()),
        )
        .await
        .status
    };
    assert_eq!(other_dashboard().await, 200);

    let profile = tempfile::tempdir().expect("profile dir");
    let driver = Chromedriver::start(&chromedriver, &s.path().join("chromedriver.log")).await;
    let b = Browser::open(&driver, profile.path()).await;

    // Behind the login: the page sends the browser to log in first, and back.
    let account = s.url("/account/");
    b.goto(&account).await;
    b.wait_for_url(&s.url("/api-auth/login/?next=/account/"))
        .await;
    b.type_into("#id_username", "alice").await;
    b.type_into("#id_password", PASSWORD).await;
    b.click("button[type=submit]").await;
    b.wait_for_url(&account).await;
    assert_eq!(b.text("h1").await, "Your account");
    assert_eq!(b.text("#username").await, "alice");
    assert_eq!(rows(&b, "#tokens").await, 1);
    assert!(b.text("#tokens").await.contains("deploy-tool/2.1"));
    assert_eq!(rows(&b, "#sessions").await, 2);
    assert!(
        b.text("#sessions tr.is-current")
            .await
            .contains("this browser"),
        "the browser's own session is marked"
    );
    save_screenshot("account.png", &b.screenshot().await);

    // A page of another origin posting "log out everywhere" is refused by CSRF.
    let attacker = serve_page(format!(
        "<!doctype html><html><body>\
         <form id=\"f\" method=\"post\" action=\"{}\"></form>\
         <script>document.getElementById('f').submit();</script></body></html>",
        s.url("/account/logout-all/")
    ))
    .await;
    b.goto(&format!("{attacker}/")).await;
    b.wait_for_url(&s.url("/account/logout-all/")).await;
    assert_eq!(b.text("h1").await, "Forbidden (403)");
    assert_eq!(other_dashboard().await, 200, "nothing was ended");

    // Revoke the tool's token: the row goes, and the key is refused.
    b.goto(&account).await;
    b.click("#tokens tbody tr button").await;
    b.wait_for_text("#no-tokens", "No API tokens.").await;
    assert_eq!(b.url().await, account);
    let r = s.get("/api/profile/", Some(&format!("Token {tool}"))).await;
    assert_eq!(r.status, 401, "{}", r.body);

    // End the other browser's session.
    b.click("#sessions tbody tr:not(.is-current) button").await;
    let deadline = Instant::now() + Duration::from_secs(15);
    while rows(&b, "#sessions").await != 1 {
        assert!(Instant::now() < deadline, "the session row stays");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(other_dashboard().await, 403);
    assert_eq!(b.text("h1").await, "Your account");

    // Log out everywhere: this browser too, back at the login page.
    let fresh = s.token("alice").await;
    b.click("#logout-all").await;
    b.wait_for_url(&s.url("/api-auth/login/")).await;
    assert!(b.cookie("sessionid").await.is_none());
    let r = s
        .get("/api/profile/", Some(&format!("Token {fresh}")))
        .await;
    assert_eq!(r.status, 401, "{}", r.body);
    b.goto(&account).await;
    b.wait_for_url(&s.url("/api-auth/login/?next=/account/"))
        .await;

    b.quit().await;
}
