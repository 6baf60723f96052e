//! Faults: the database going away and coming back, and a server process killed mid-burst.
//!
//! PostgreSQL is "stopped" by closing a small TCP forwarder the server connects through, so no
//! other test notices. The PostgreSQL tests need `RESTAUTH_TEST_DATABASE_URL`; the SQLite ones
//! always run.

mod common;

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::{Server, TestDb, postgres_url};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinSet;

const UNAVAILABLE: &str = r#"{"detail":"Service temporarily unavailable, try again later."}"#;
/// The issue's bound on a request when the database is unreachable.
const ANSWER_WITHIN: Duration = Duration::from_secs(2);

/// A loopback TCP forwarder to PostgreSQL that can be stopped (listener closed, every open
/// connection cut) and started again on the same port.
struct Forwarder {
    port: u16,
    target: String,
    running: Mutex<Option<tokio::task::JoinHandle<()>>>,
}

impl Forwarder {
    async fn start(target: String) -> Arc<Forwarder> {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let port = listener.local_addr().expect("addr").port();
        let f = Arc::new(Forwarder {
            port,
            target,
            running: Mutex::new(None),
        });
        f.serve(listener);
        f
    }

    fn serve(&self, listener: TcpListener) {
        let target = self.target.clone();
        let task = tokio::spawn(async move {
            // Dropped with this task when it is aborted, which aborts every connection.
            let mut connections = JoinSet::new();
            loop {
                let Ok((mut client, _)) = listener.accept().await else {
                    continue;
                };
                let target = target.clone();
                connections.spawn(async move {
                    if let Ok(mut server) = TcpStream::connect(&target).await {
                        let _ = tokio::io::copy_bidirectional(&mut client, &mut server).await;
                    }
                });
                while connections.try_join_next().is_some() {}
            }
        });
        *self.running.lock().expect("lock") = Some(task);
    }

    async fn stop(&self) {
        let task = self.running.lock().expect("lock").take();
        if let Some(task) = task {
            task.abort();
            let _ = task.await;
        }
    }

    async fn resume(&self) {
        let listener = TcpListener::bind(("127.0.0.1", self.port))
            .await
            .expect("rebind the forwarder's port");
        self.serve(listener);
    }
}

/// `host:port` of a `postgres://user@host:port/db` URL.
fn host_port(url: &str) -> String {
    let rest = url.split_once("://").map_or(url, |(_, r)| r);
    let rest = rest.rsplit_once('@').map_or(rest, |(_, r)| r);
    let hp = rest.split(['/', '?']).next().unwrap_or(rest);
    if hp.contains(':') {
        hp.to_owned()
    } else {
        format!("{hp}:5432")
    }
}

/// The same URL with `host:port` replaced.
fn via(url: &str, host_port_new: &str) -> String {
    let old = host_port(url);
    let (scheme, rest) = url.split_once("://").expect("scheme");
    let (creds, hostpart) = match rest.rsplit_once('@') {
        Some((c, h)) => (format!("{c}@"), h),
        None => (String::new(), rest),
    };
    let host_only = old.split(':').next().unwrap_or("");
    let tail = hostpart
        .strip_prefix(old.as_str())
        .or_else(|| hostpart.strip_prefix(host_only))
        .unwrap_or("");
    format!("{scheme}://{creds}{host_port_new}{tail}")
}

#[test]
fn urls_are_redirected_through_the_forwarder() {
    assert_eq!(
        via("postgres://postgres@127.0.0.1:5432/test", "127.0.0.1:9"),
        "postgres://postgres@127.0.0.1:9/test"
    );
    assert_eq!(
        via("postgresql://u:p@db/x?sslmode=disable", "127.0.0.1:9"),
        "postgresql://u:p@127.0.0.1:9/x?sslmode=disable"
    );
    assert_eq!(host_port("postgres://db/x"), "db:5432");
}

/// A server on a fresh PostgreSQL schema reached through a forwarder the test can cut;
/// `None` (a visible skip, a failure under CI) without PostgreSQL.
async fn behind_a_forwarder() -> Option<(TestDb, Arc<Forwarder>, Server)> {
    let Some(url) = postgres_url() else {
        common::skip("RESTAUTH_TEST_DATABASE_URL not set");
        return None;
    };
    let db = TestDb::new(&url);
    let fwd = Forwarder::start(host_port(&url)).await;
    let proxied = via(&url, &format!("127.0.0.1:{}", fwd.port));
    let s = Server::builder()
        .own_database()
        .database(&db.config_via(&proxied))
        .start()
        .await;
    Some((db, fwd, s))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unreachable_postgres_answers_503_quickly_and_recovery_is_automatic() {
    let Some((_db, fwd, s)) = behind_a_forwarder().await else {
        return;
    };
    s.create_user("alice", &[]);
    let key = s.token("alice").await;
    let auth = format!("Token {key}");
    assert_eq!(s.get("/api/profile/", Some(&auth)).await.status, 200);
    assert_eq!(s.get("/api/profile/", Some(&auth)).await.status, 200);

    fwd.stop().await;
    let stopped = Instant::now();
    let login = serde_json::json!({"username": "alice", "password": common::PASSWORD});
    let unknown = format!("Token {}", "0".repeat(40));
    // A few rounds: the pool's dead connections, then new connection attempts, then the
    // steady state of an outage all answer the same way.
    for _ in 0..3 {
        for attempt in ["login", "unknown token", "known token"] {
            let t = Instant::now();
            let r = match attempt {
                "login" => s.post_json("/api-token-auth/", &login, None).await,
                "unknown token" => s.get("/api/profile/", Some(&unknown)).await,
                _ => s.get("/api/profile/", Some(&auth)).await,
            };
            assert!(
                t.elapsed() < ANSWER_WITHIN,
                "{attempt}: answered after {:?}",
                t.elapsed()
            );
            // A token this instance verified moments ago may still be served from its cache,
            // but not once the change signal has been silent for its bound.
            if attempt == "known token" && r.status == 200 {
                assert!(stopped.elapsed() < Duration::from_secs(1), "stale cache");
                continue;
            }
            assert_eq!(r.status, 503, "{attempt}: {}", r.body);
            assert_eq!(r.body, UNAVAILABLE, "{attempt}");
        }
    }

    fwd.resume().await;
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        let r = s.get("/api/profile/", Some(&auth)).await;
        if r.status == 200 {
            break;
        }
        assert_eq!(r.status, 503, "{}", r.body);
        assert!(Instant::now() < deadline, "no recovery:\n{}", s.log());
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let r = s.post_json("/api-token-auth/", &login, None).await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert!(!s.log().contains("panicked"));
}

/// Logs in from many clients at once, kills the server with SIGKILL in the middle, restarts it,
/// and checks that every token a client received still works.
async fn no_acknowledged_login_is_lost(mut s: Server) {
    let users = ["u0", "u1", "u2", "u3"];
    for u in users {
        s.create_user(u, &[]);
    }
    let issued = Arc::new(Mutex::new(Vec::<String>::new()));
    let mut clients = JoinSet::new();
    for i in 0..8 {
        let client = s.client.clone();
        let url = s.url("/api-token-auth/");
        let issued = issued.clone();
        let username = users[i % users.len()];
        clients.spawn(async move {
            let body = serde_json::json!({"username": username, "password": common::PASSWORD});
            // Until the server dies under us.
            while let Ok(resp) = client.post(&url).json(&body).send().await {
                if resp.status() != 200 {
                    continue;
                }
                let Ok(v) = resp.json::<serde_json::Value>().await else {
                    break;
                };
                if let Some(k) = v["token"].as_str() {
                    issued.lock().expect("lock").push(k.to_owned());
                }
            }
        });
    }
    let deadline = Instant::now() + Duration::from_secs(60);
    while issued.lock().expect("lock").len() < 24 {
        assert!(Instant::now() < deadline, "burst too slow:\n{}", s.log());
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    s.sigkill();
    while clients.join_next().await.is_some() {}
    let issued = issued.lock().expect("lock").clone();

    s.restart();
    for key in &issued {
        let r = s.get("/api/profile/", Some(&format!("Token {key}"))).await;
        assert_eq!(r.status, 200, "token lost after SIGKILL: {}", r.body);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigkill_in_a_login_burst_loses_no_acknowledged_token_sqlite() {
    // Always SQLite, whichever backend the suite runs on.
    let s = Server::builder().own_database().start().await;
    no_acknowledged_login_is_lost(s).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigkill_in_a_login_burst_loses_no_acknowledged_token_postgres() {
    let Some(url) = postgres_url() else {
        common::skip("RESTAUTH_TEST_DATABASE_URL not set");
        return;
    };
    let db = TestDb::new(&url);
    let s = Server::builder().on(&db).start().await;
    no_acknowledged_login_is_lost(s).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn readyz_follows_postgres_going_away_and_coming_back() {
    let Some((_db, fwd, s)) = behind_a_forwarder().await else {
        return;
    };
    let ready = s.get("/readyz", None).await;
    assert_eq!(
        (ready.status, ready.body.as_str()),
        (200, r#"{"status":"ok"}"#)
    );

    fwd.stop().await;
    s.advance_clock(Duration::from_secs(2));
    let t = Instant::now();
    let down = s.get("/readyz", None).await;
    assert!(
        t.elapsed() < ANSWER_WITHIN,
        "answered after {:?}",
        t.elapsed()
    );
    assert_eq!((down.status, down.body.as_str()), (503, UNAVAILABLE));
    // Liveness is not readiness.
    assert_eq!(s.get("/healthz", None).await.status, 200);

    fwd.resume().await;
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        s.advance_clock(Duration::from_secs(2));
        let r = s.get("/readyz", None).await;
        if r.status == 200 {
            break;
        }
        assert!(Instant::now() < deadline, "not ready again: {}", r.body);
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}
