//! An SMTP server on loopback for the tests: Python's aiosmtpd (pinned in `requirements.txt`,
//! installed into a virtualenv under the target folder) running `sink.py`, which keeps every
//! mail it receives as a file the test reads.

#![allow(dead_code)]

use std::io::{BufRead, BufReader};
use std::net::TcpListener as StdListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::common::skip;

/// aiosmtpd on a free loopback port, keeping every mail as a file.
pub struct Smtp {
    child: Child,
    port: u16,
    folder: tempfile::TempDir,
}

impl Smtp {
    /// `None` (the test skipped) when Python or PyPI is missing.
    pub fn start() -> Option<Smtp> {
        let here = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/smtp");
        let venv = match crate::common::python_venv("smtp", &here.join("requirements.txt")) {
            Ok(v) => v,
            Err(reason) => {
                skip(&format!("SMTP tests: {reason}"));
                return None;
            }
        };
        let port = StdListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("free port")
            .port();
        let folder = tempfile::tempdir().expect("mail folder");
        let mut child = Command::new(venv.join("bin/python"))
            .arg(here.join("sink.py"))
            .arg(port.to_string())
            .arg(folder.path())
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("spawn aiosmtpd");
        let stdout = child.stdout.take().expect("stdout");
        let mut line = String::new();
        BufReader::new(stdout)
            .read_line(&mut line)
            .expect("ready line");
        assert_eq!(line.trim(), "ready", "aiosmtpd did not start");
        Some(Smtp {
            child,
            port,
            folder,
        })
    }

    /// The `[email]` section that sends here.
    pub fn config(&self) -> String {
        format!(
            "[email]\nhost = \"127.0.0.1\"\nport = {}\ntls = \"none\"\nfrom_email = \"accounts@example.com\"\n",
            self.port
        )
    }

    pub fn files(&self) -> Vec<PathBuf> {
        let mut files: Vec<PathBuf> = std::fs::read_dir(self.folder.path())
            .expect("mail folder")
            .flatten()
            .map(|e| e.path())
            .filter(|p| p.extension().is_some_and(|e| e == "eml"))
            .collect();
        files.sort();
        files
    }

    /// Waits for the `n`th mail (1-based), decoded.
    pub async fn mail(&self, n: usize) -> Mail {
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            let files = self.files();
            if files.len() >= n {
                return Mail::parse(&std::fs::read(&files[n - 1]).expect("mail"));
            }
            assert!(Instant::now() < deadline, "mail {n} did not arrive");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

impl Drop for Smtp {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A received mail: its envelope recipient, headers and decoded text body.
pub struct Mail {
    pub to: String,
    pub headers: String,
    pub body: String,
}

impl Mail {
    fn parse(raw: &[u8]) -> Mail {
        let text = String::from_utf8_lossy(raw).replace("\r\n", "\n");
        let (head, body) = text.split_once("\n\n").expect("headers and body");
        let to = head
            .lines()
            .find_map(|l| l.strip_prefix("X-Envelope-To: "))
            .expect("envelope")
            .to_owned();
        let encoding = head
            .lines()
            .find_map(|l| l.strip_prefix("Content-Transfer-Encoding: "))
            .unwrap_or("7bit")
            .trim()
            .to_ascii_lowercase();
        let body = match encoding.as_str() {
            "quoted-printable" => quoted_printable(body),
            "base64" => {
                use base64::Engine;
                let joined: String = body.split_whitespace().collect();
                let bytes = base64::engine::general_purpose::STANDARD
                    .decode(joined)
                    .expect("base64 body");
                String::from_utf8(bytes).expect("UTF-8 body")
            }
            _ => body.to_owned(),
        };
        Mail {
            to,
            headers: head.to_owned(),
            body,
        }
    }

    /// The first URL of the body.
    pub fn link(&self) -> String {
        let start = self.body.find("http://").expect("a link");
        self.body[start..]
            .split_whitespace()
            .next()
            .expect("link")
            .to_owned()
    }

    pub fn subject(&self) -> String {
        self.headers
            .lines()
            .find_map(|l| l.strip_prefix("Subject: "))
            .expect("subject")
            .to_owned()
    }
}

fn quoted_printable(body: &str) -> String {
    let joined = body.replace("=\n", "");
    let bytes = joined.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'='
            && i + 2 < bytes.len()
            && let Ok(v) = u8::from_str_radix(&joined[i + 1..i + 3], 16)
        {
            out.push(v);
            i += 3;
            continue;
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8(out).expect("UTF-8 body")
}

/// The `uid` and `token` of a link ending in `…/{uid}/{token}/`.
pub fn uid_and_token(link: &str) -> (String, String) {
    let mut parts = link.trim_end_matches('/').rsplit('/');
    let token = parts.next().expect("token").to_owned();
    let uid = parts.next().expect("uid").to_owned();
    (uid, token)
}
