//! Spawns the real `restauth` binary on a random loopback port, in a fresh folder with its own
//! SQLite file, and talks HTTP to it.

#![allow(dead_code)]

use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::Duration;

use reqwest::header::{HeaderMap, HeaderValue};
use serde_json::Value;

pub const BIN: &str = env!("CARGO_BIN_EXE_restauth");
pub const PASSWORD: &str = "correct horse battery staple";

pub struct Server {
    pub base: String,
    pub dir: tempfile::TempDir,
    child: Child,
    pub client: reqwest::Client,
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

pub struct Builder {
    config: String,
    env: Vec<(String, String)>,
}

impl Builder {
    /// Lines of `restauth.toml`.
    pub fn config(mut self, toml: &str) -> Self {
        self.config.push_str(toml);
        self.config.push('\n');
        self
    }

    pub fn env(mut self, key: &str, value: &str) -> Self {
        self.env.push((key.into(), value.into()));
        self
    }

    pub async fn start(self) -> Server {
        let dir = tempfile::tempdir().expect("tempdir");
        std::fs::write(dir.path().join("restauth.toml"), &self.config).expect("config");
        let log = std::fs::File::create(dir.path().join("server.log")).expect("log");
        let mut child = Command::new(BIN)
            .args(["serve", "--bind", "127.0.0.1:0"])
            .current_dir(dir.path())
            .envs(self.env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
            .env("RUST_LOG", "info")
            .stdout(Stdio::piped())
            .stderr(log)
            .spawn()
            .expect("spawn restauth");
        let stdout = child.stdout.take().expect("stdout");
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if let Some(addr) = line.strip_prefix("restauth listening on ") {
                    let _ = tx.send(addr.to_owned());
                }
            }
        });
        let base = match rx.recv_timeout(Duration::from_secs(30)) {
            Ok(b) => b,
            Err(_) => {
                let _ = child.kill();
                let log =
                    std::fs::read_to_string(dir.path().join("server.log")).unwrap_or_default();
                panic!("server did not start:\n{log}");
            }
        };
        let client = reqwest::Client::builder()
            .cookie_store(true)
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .expect("client");
        Server {
            base,
            dir,
            child,
            client,
        }
    }
}

impl Server {
    pub fn builder() -> Builder {
        Builder {
            config: String::new(),
            env: Vec::new(),
        }
    }

    pub async fn start() -> Server {
        Server::builder().start().await
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

    /// Runs a management command in the server's folder, with `stdin` as its input.
    pub fn command(&self, args: &[&str], stdin: &str) -> Output {
        command_in(self.dir.path(), args, stdin)
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
                &serde_json::json!({"username": username, "password": PASSWORD}),
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

pub fn command_in(dir: &Path, args: &[&str], stdin: &str) -> Output {
    let mut child = Command::new(BIN)
        .args(args)
        .current_dir(dir)
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
