//! The serving path: slow and oversized clients, the connection cap, allowed hosts, framing,
//! readiness. These talk raw TCP where the behaviour is below HTTP clients' reach.
//!
//! Socket timeouts (header read, request timeout) run on real time, not the movable clock:
//! they are configured to one second here and waited out.

mod common;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use common::{PASSWORD, Server};

const UNAVAILABLE: &str = r#"{"detail":"Service temporarily unavailable, try again later."}"#;

fn addr(s: &Server) -> String {
    s.base.trim_start_matches("http://").to_owned()
}

/// Sends `request` on a new connection and reads until the server closes it or `wait` passes.
fn exchange(s: &Server, request: &str, wait: Duration) -> String {
    let mut conn = TcpStream::connect(addr(s)).expect("connect");
    conn.write_all(request.as_bytes()).expect("send");
    read_until_closed(&mut conn, wait)
}

fn read_until_closed(conn: &mut TcpStream, wait: Duration) -> String {
    let deadline = Instant::now() + wait;
    let mut got = Vec::new();
    let mut buf = [0u8; 8192];
    while Instant::now() < deadline {
        conn.set_read_timeout(Some(Duration::from_millis(200)))
            .expect("timeout");
        match conn.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => got.extend_from_slice(&buf[..n]),
            Err(e)
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                ) => {}
            Err(_) => break,
        }
    }
    String::from_utf8_lossy(&got).into_owned()
}

/// Whether the server closed `conn` within `wait` (end of stream or reset).
fn closed_within(conn: &mut TcpStream, wait: Duration) -> bool {
    let deadline = Instant::now() + wait;
    let mut buf = [0u8; 1024];
    conn.set_read_timeout(Some(Duration::from_millis(100)))
        .expect("timeout");
    while Instant::now() < deadline {
        match conn.read(&mut buf) {
            Ok(0) => return true,
            // Whatever hyper says on the way out, then the end.
            Ok(_) => {}
            Err(e)
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                ) => {}
            Err(_) => return true,
        }
    }
    false
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slowloris_connections_are_closed_and_healthz_keeps_answering() {
    let s = Server::builder()
        .config("[server]\nheader_read_timeout = 1\nmax_connections = 8\n")
        .start()
        .await;
    let target = addr(&s);
    // Three times the cap, each stuck in its request line.
    let mut slow: Vec<TcpStream> = (0..24)
        .map(|_| {
            let mut c = TcpStream::connect(&target).expect("connect");
            c.write_all(b"GET /healthz HTTP/1.1\r\nHost: 127.0")
                .expect("send");
            c
        })
        .collect();

    // Queued behind all of them, yet answered: each is dropped after a second.
    let t = Instant::now();
    let healthz = reqwest::Client::builder()
        .timeout(Duration::from_secs(15))
        .build()
        .expect("client")
        .get(s.url("/healthz"))
        .send()
        .await
        .expect("/healthz answered while the connection cap was held");
    assert_eq!(healthz.status(), 200);
    assert!(t.elapsed() < Duration::from_secs(10), "{:?}", t.elapsed());

    let slow_closed = tokio::task::spawn_blocking(move || {
        slow.iter_mut()
            .all(|c| closed_within(c, Duration::from_secs(10)))
    })
    .await
    .expect("join");
    assert!(
        slow_closed,
        "a connection that never finished its head stayed open"
    );
    assert!(
        s.log().contains("connection limit reached"),
        "no log line when the cap was hit:\n{}",
        s.log()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_trickling_its_body_gets_408() {
    let s = Server::builder()
        .config("[server]\nrequest_timeout = 1\n")
        .start()
        .await;
    let s = std::sync::Arc::new(s);
    let server = s.clone();
    let reply = tokio::task::spawn_blocking(move || {
        exchange(
            &server,
            "POST /api-token-auth/ HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\n\
             Content-Length: 100\r\n\r\n{\"username\":",
            Duration::from_secs(8),
        )
    })
    .await
    .expect("join");
    assert!(reply.starts_with("HTTP/1.1 408"), "{reply}");
}

/// A plain client (as Python's `http.client` and `requests` do) sends the whole body before it
/// reads: it must read the 413, not a broken pipe.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_oversized_body_is_answered_413_to_a_client_still_sending_it() {
    let s = Server::builder()
        .config("[server]\nmax_body_bytes = 1024\n")
        .start()
        .await;
    let target = addr(&s);
    let (writes, reply) = tokio::task::spawn_blocking(move || {
        const SIZE: usize = 300 * 1024;
        let mut conn = TcpStream::connect(target).expect("connect");
        let head = format!(
            "POST /api-token-auth/ HTTP/1.1\r\nHost: localhost\r\n\
             Content-Type: application/json\r\nContent-Length: {SIZE}\r\n\r\n"
        );
        conn.write_all(head.as_bytes()).expect("head");
        // A client on a slow link: the body follows only once the server has answered (and,
        // before, hung up): wait until its answer can be read.
        conn.set_read_timeout(Some(Duration::from_secs(10)))
            .expect("timeout");
        let mut first = [0u8; 1];
        assert_eq!(conn.peek(&mut first).expect("an early answer"), 1);
        let chunk = vec![b' '; 16 * 1024];
        let mut sent = 0;
        let mut writes = Ok(());
        while sent < SIZE {
            let n = chunk.len().min(SIZE - sent);
            if let Err(e) = conn.write_all(&chunk[..n]) {
                writes = Err(format!("after {sent} bytes: {e}"));
                break;
            }
            sent += n;
        }
        (writes, read_until_closed(&mut conn, Duration::from_secs(3)))
    })
    .await
    .expect("join");
    assert_eq!(writes, Ok(()), "the body could not be sent");
    assert!(reply.starts_with("HTTP/1.1 413"), "{reply}");
    assert!(
        reply.contains(r#"{"detail":"Request body is too large."}"#),
        "{reply}"
    );
}

#[tokio::test]
async fn other_hosts_get_400_without_their_name_echoed() {
    let s = Server::start().await;
    let s = std::sync::Arc::new(s);
    let server = s.clone();
    let replies = tokio::task::spawn_blocking(move || {
        let get = |host: &str, path: &str| {
            exchange(
                &server,
                &format!("GET {path} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n"),
                Duration::from_secs(5),
            )
        };
        (
            get("evil.example", "/api-auth/login/"),
            get("evil.example:80", "/api/public/"),
            get("localhost:8000", "/api/public/"),
            get("127.0.0.1", "/api/public/"),
            get("[::1]:1", "/api/public/"),
            get("evil.example", "/healthz"),
        )
    })
    .await
    .expect("join");
    let (evil, evil_port, localhost, loopback, v6, probe) = replies;
    for refused in [&evil, &evil_port] {
        assert!(refused.starts_with("HTTP/1.1 400"), "{refused}");
        assert!(
            refused.ends_with(r#"{"detail":"Invalid HTTP_HOST header."}"#),
            "{refused}"
        );
        assert!(!refused.contains("evil"), "the Host is echoed: {refused}");
    }
    for allowed in [&localhost, &loopback, &v6] {
        assert!(allowed.starts_with("HTTP/1.1 200"), "{allowed}");
    }
    // Probes address an instance by its IP, whatever the configured names.
    assert!(probe.starts_with("HTTP/1.1 200"), "{probe}");
    assert!(
        s.log().contains("allowed_hosts"),
        "the log does not name the setting:\n{}",
        s.log()
    );
}

#[tokio::test]
async fn configured_hosts_replace_the_local_names() {
    let s = Server::builder()
        .config("[server]\nallowed_hosts = [\"api.example.com\", \".example.org\"]\n")
        .start()
        .await;
    let s = std::sync::Arc::new(s);
    let server = s.clone();
    let status = move |host: &'static str| {
        let server = server.clone();
        async move {
            tokio::task::spawn_blocking(move || {
                let reply = exchange(
                    &server,
                    &format!(
                        "GET /api/public/ HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n"
                    ),
                    Duration::from_secs(5),
                );
                reply.get(9..12).unwrap_or_default().to_owned()
            })
            .await
            .expect("join")
        }
    };
    assert_eq!(status("api.example.com").await, "200");
    assert_eq!(status("API.EXAMPLE.COM:443").await, "200");
    assert_eq!(status("example.org").await, "200");
    assert_eq!(status("a.example.org").await, "200");
    assert_eq!(status("example.com").await, "400");
    assert_eq!(status("127.0.0.1").await, "400");
    assert_eq!(status("localhost").await, "400");
}

#[test]
fn bound_to_a_public_address_without_allowed_hosts_the_server_refuses_to_start() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut child = std::process::Command::new(common::BIN)
        .args(["serve", "--bind", "0.0.0.0:0"])
        .current_dir(dir.path())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("spawn");
    let deadline = Instant::now() + Duration::from_secs(30);
    let status = loop {
        if let Some(status) = child.try_wait().expect("wait") {
            break status;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("the server started on 0.0.0.0 without allowed_hosts");
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    let mut stderr = String::new();
    child
        .stderr
        .take()
        .expect("stderr")
        .read_to_string(&mut stderr)
        .expect("read");
    assert!(!status.success());
    assert!(stderr.contains("server.allowed_hosts"), "{stderr}");
}

#[tokio::test]
async fn html_pages_refuse_to_be_framed() {
    let s = Server::start().await;
    s.create_user("alice", &[]);
    let page = s.get("/api-auth/login/", None).await;
    assert_eq!(page.status, 200);
    let framing = |r: &common::Reply| {
        (
            r.header("x-frame-options").map(str::to_owned),
            r.header("content-security-policy").map(str::to_owned),
        )
    };
    let denied = (
        Some("DENY".to_owned()),
        Some("frame-ancestors 'none'".to_owned()),
    );
    assert_eq!(framing(&page), denied, "login page");

    let marker = r#"name="csrfmiddlewaretoken" value=""#;
    let start = page.body.find(marker).expect("csrf input") + marker.len();
    let token = &page.body[start..start + 64];
    let login = s
        .send(s.client.post(s.url("/api-auth/login/")).form(&[
            ("username", "alice"),
            ("password", PASSWORD),
            ("csrfmiddlewaretoken", token),
        ]))
        .await;
    assert_eq!(login.status, 302, "{}", login.body);
    let dashboard = s.get("/dashboard/", None).await;
    assert_eq!(dashboard.status, 200, "{}", dashboard.body);
    assert!(dashboard.body.contains("alice"));
    assert_eq!(framing(&dashboard), denied, "dashboard page");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn readyz_answers_503_while_the_database_cannot_be_written() {
    use sqlx::Connection;
    // SQLite whatever the suite's backend: another connection takes the write lock.
    let s = Server::builder().own_database().start().await;
    let ready = s.get("/readyz", None).await;
    assert_eq!(ready.status, 200, "{}", ready.body);
    assert_eq!(ready.body, r#"{"status":"ok"}"#);

    let url = format!("sqlite://{}", s.path().join("restauth.db").display());
    let mut blocker = sqlx::SqliteConnection::connect(&url).await.expect("open");
    sqlx::raw_sql("BEGIN IMMEDIATE")
        .execute(&mut blocker)
        .await
        .expect("lock");
    s.advance_clock(Duration::from_secs(2));
    let t = Instant::now();
    let blocked = s.get("/readyz", None).await;
    assert!(t.elapsed() < Duration::from_secs(3), "{:?}", t.elapsed());
    assert_eq!(blocked.status, 503, "{}", blocked.body);
    assert_eq!(blocked.body, UNAVAILABLE);
    // Liveness is not readiness.
    assert_eq!(s.get("/healthz", None).await.status, 200);

    sqlx::raw_sql("ROLLBACK")
        .execute(&mut blocker)
        .await
        .expect("unlock");
    drop(blocker);
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        s.advance_clock(Duration::from_secs(2));
        let r = s.get("/readyz", None).await;
        if r.status == 200 {
            break;
        }
        assert!(Instant::now() < deadline, "still not ready: {}", r.body);
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// 512 connections trickling their bodies from one address hold at most the per-client cap
/// of connections, each for at most the body read timeout, and the health probe keeps
/// answering from another address meanwhile.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slow_bodies_from_one_address_do_not_starve_the_others() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let s = Server::builder()
        .config("[server]\nbody_read_timeout = 2\n")
        .start()
        .await;
    let target: std::net::SocketAddr = addr(&s).parse().expect("address");
    let started = Instant::now();
    let mut attackers = Vec::new();
    for _ in 0..512 {
        attackers.push(tokio::spawn(async move {
            let socket = tokio::net::TcpSocket::new_v4().expect("socket");
            socket
                .bind("127.0.0.1:0".parse().expect("address"))
                .expect("bind");
            let Ok(mut conn) = socket.connect(target).await else {
                return String::new();
            };
            let head = "POST /api-token-auth/ HTTP/1.1\r\nHost: localhost\r\n\
                        Content-Type: application/json\r\nContent-Length: 1000\r\n\r\n{";
            if conn.write_all(head.as_bytes()).await.is_err() {
                return String::new();
            }
            // A byte every half second, until the server answers or closes.
            let mut reply = Vec::new();
            let mut buf = [0u8; 1024];
            loop {
                tokio::select! {
                    read = conn.read(&mut buf) => match read {
                        Ok(0) | Err(_) => break,
                        Ok(n) => reply.extend_from_slice(&buf[..n]),
                    },
                    () = tokio::time::sleep(Duration::from_millis(500)) => {
                        if conn.write_all(b" ").await.is_err() {
                            break;
                        }
                    }
                }
                if started.elapsed() > Duration::from_secs(20) {
                    break;
                }
            }
            String::from_utf8_lossy(&reply).into_owned()
        }));
    }
    // The probe, from another loopback address, while the attack goes on.
    let mut slowest = Duration::ZERO;
    while started.elapsed() < Duration::from_secs(4) {
        let probe_started = Instant::now();
        let socket = tokio::net::TcpSocket::new_v4().expect("socket");
        socket
            .bind("127.0.0.2:0".parse().expect("address"))
            .expect("bind 127.0.0.2");
        let mut conn = tokio::time::timeout(Duration::from_secs(5), socket.connect(target))
            .await
            .expect("the probe could not connect within 5 s")
            .expect("connect");
        conn.write_all(b"GET /healthz HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")
            .await
            .expect("probe");
        let mut reply = String::new();
        tokio::time::timeout(Duration::from_secs(5), conn.read_to_string(&mut reply))
            .await
            .expect("the probe got no answer within 5 s")
            .expect("read");
        assert!(reply.starts_with("HTTP/1.1 200"), "{reply}");
        slowest = slowest.max(probe_started.elapsed());
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert!(slowest < Duration::from_secs(2), "a probe took {slowest:?}");
    let mut timed_out = 0;
    for attacker in attackers {
        let reply = attacker.await.expect("join");
        if reply.starts_with("HTTP/1.1 408") {
            timed_out += 1;
        }
    }
    // The ones served got 408 once their body was late; the others were closed at once.
    assert!((1..=128).contains(&timed_out), "{timed_out} answered 408");
    assert!(
        started.elapsed() < Duration::from_secs(15),
        "the slow bodies were held for {:?}",
        started.elapsed()
    );
    assert!(
        s.log().contains("a client holds as many connections"),
        "{}",
        s.log()
    );
}
