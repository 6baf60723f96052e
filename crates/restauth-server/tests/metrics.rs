//! Prometheus metrics on their own listener: the series move with real requests, the text
//! parses with a Prometheus parser, labels are route templates, and the API port has no
//! `/metrics`.

mod common;
mod jwt_support;

use std::collections::HashMap;

use common::Server;
use serde_json::json;

const CONFIG: &str = "[metrics]\nbind = \"127.0.0.1:0\"\n\
    [simple_jwt]\nrotate_refresh_tokens = true\nblacklist_after_rotation = true\n\
    [rest_framework.default_throttle_rates]\nlogin_user_ip = \"2/min\"\n";

/// Every sample of a scrape, as `name{label="value",…}` (labels sorted) → value.
async fn scrape(server: &Server) -> (HashMap<String, f64>, String) {
    let url = server.metrics.as_deref().expect("the metrics address");
    let text = reqwest::get(url)
        .await
        .expect("scrape")
        .text()
        .await
        .expect("body");
    let lines = text.lines().map(|l| Ok(l.to_owned()));
    let scrape = prometheus_parse::Scrape::parse(lines).expect("Prometheus text format");
    let mut samples = HashMap::new();
    for s in scrape.samples {
        let mut labels: Vec<(String, String)> = s
            .labels
            .iter()
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        labels.sort();
        let labels: Vec<String> = labels.iter().map(|(k, v)| format!("{k}=\"{v}\"")).collect();
        let value = match s.value {
            prometheus_parse::Value::Counter(v)
            | prometheus_parse::Value::Gauge(v)
            | prometheus_parse::Value::Untyped(v) => v,
            prometheus_parse::Value::Histogram(buckets) => buckets.last().map_or(0.0, |b| b.count),
            prometheus_parse::Value::Summary(_) => continue,
        };
        samples.insert(format!("{}{{{}}}", s.metric, labels.join(",")), value);
    }
    (samples, text)
}

fn get(samples: &HashMap<String, f64>, key: &str) -> f64 {
    samples.get(key).copied().unwrap_or(0.0)
}

#[tokio::test]
async fn series_move_with_requests_and_stay_off_the_public_port() {
    let server = Server::builder().config(CONFIG).start().await;
    server.create_user("alice", &[]);
    let (before, _) = scrape(&server).await;

    // A good token, a bad one, an unknown path with an id in it.
    let token = server.token("alice").await;
    let auth = format!("Token {token}");
    assert_eq!(server.get("/api/profile/", Some(&auth)).await.status, 200);
    let bad = format!("Token {}", "0".repeat(40));
    assert_eq!(server.get("/api/profile/", Some(&bad)).await.status, 401);
    assert_eq!(
        server.get("/api/users/98765/", Some(&auth)).await.status,
        404
    );

    // Wrong passwords until the login throttle refuses.
    let wrong = json!({"username": "mallory", "password": "not it"});
    let mut statuses = Vec::new();
    for _ in 0..3 {
        statuses.push(
            server
                .post_json("/api-token-auth/", &wrong, None)
                .await
                .status,
        );
    }
    assert_eq!(statuses, [400, 400, 429]);

    // A refresh rotation, then a replay of the spent refresh token after the grace.
    let (refresh, _) = jwt_support::obtain(&server, "alice").await;
    assert_eq!(jwt_support::refresh(&server, &refresh).await.status, 200);
    server.advance_clock(std::time::Duration::from_secs(10));
    assert_eq!(jwt_support::refresh(&server, &refresh).await.status, 401);

    // The public port has no /metrics.
    assert_eq!(server.get("/metrics", None).await.status, 404);

    let (after, text) = scrape(&server).await;
    let moved = |key: &str| get(&after, key) - get(&before, key);
    let requests = |method: &str, route: &str, status: &str| {
        format!(
            "restauth_http_requests_total{{method=\"{method}\",route=\"{route}\",status=\"{status}\"}}"
        )
    };
    assert_eq!(
        moved(&requests("GET", "/api/profile", "200")),
        1.0,
        "{text}"
    );
    assert_eq!(
        moved(&requests("GET", "/api/profile", "401")),
        1.0,
        "{text}"
    );
    assert_eq!(
        moved(&requests("POST", "/api-token-auth", "400")),
        2.0,
        "{text}"
    );
    assert_eq!(
        moved(&requests("POST", "/api-token-auth", "429")),
        1.0,
        "{text}"
    );
    assert!(moved(&requests("GET", "unmatched", "404")) >= 2.0, "{text}");
    assert_eq!(
        moved("restauth_authentications_total{class=\"token\",result=\"success\"}"),
        1.0,
        "{text}"
    );
    assert_eq!(
        moved("restauth_authentications_total{class=\"token\",result=\"failure\"}"),
        1.0,
        "{text}"
    );
    assert_eq!(
        moved("restauth_login_failures_total{provider=\"token\",reason=\"bad_credentials\"}"),
        2.0,
        "{text}"
    );
    assert_eq!(
        moved("restauth_login_failures_total{provider=\"token\",reason=\"throttled\"}"),
        1.0,
        "{text}"
    );
    assert_eq!(
        moved("restauth_throttled_requests_total{scope=\"login_user_ip\"}"),
        1.0,
        "{text}"
    );
    assert_eq!(
        moved("restauth_jwt_refreshes_total{result=\"rotated\"}"),
        1.0,
        "{text}"
    );
    assert_eq!(
        moved("restauth_jwt_refreshes_total{result=\"replay\"}"),
        1.0,
        "{text}"
    );
    assert_eq!(
        moved("restauth_jwt_family_revocations_total{}"),
        1.0,
        "{text}"
    );
    // Two good logins were verified, and the two guesses for an unknown user checked against
    // the dummy hash, each after its wait for a hashing slot.
    for series in [
        "restauth_password_hash_duration_seconds",
        "restauth_password_hash_queue_wait_seconds",
    ] {
        for operation in ["verify", "dummy_verify"] {
            let key = format!("{series}{{operation=\"{operation}\"}}");
            assert_eq!(moved(&key), 2.0, "{key}: {text}");
        }
    }
    assert!(
        moved("restauth_cache_lookups_total{cache=\"token\",result=\"miss\"}") >= 1.0,
        "{text}"
    );
    assert!(
        moved("restauth_store_query_duration_seconds{operation=\"insert_token\"}") >= 1.0,
        "{text}"
    );
    assert!(
        moved("restauth_store_query_duration_seconds{operation=\"rotate_refresh\"}") >= 1.0,
        "{text}"
    );
    // Route labels are templates: the id of the unknown path appears nowhere.
    assert!(!text.contains("98765"), "{text}");
    assert!(!text.contains("/api/users"), "{text}");
}

#[tokio::test]
async fn metrics_are_off_by_default() {
    let server = Server::start().await;
    assert!(server.metrics.is_none());
    assert_eq!(server.get("/metrics", None).await.status, 404);
}

/// The store's query count of one operation, from a scrape.
fn queries(samples: &HashMap<String, f64>, operation: &str) -> f64 {
    get(
        samples,
        &format!("restauth_store_query_duration_seconds{{operation=\"{operation}\"}}"),
    )
}

/// Sends unknown credentials (`miss(n)`, n = 0, 1, …) until the index's load, which the first
/// cache miss starts, has read the store: one `operation` query.
async fn until_loaded(server: &Server, operation: &str, miss: impl AsyncFn(usize)) {
    for n in 0..200 {
        miss(n).await;
        let (samples, _) = scrape(server).await;
        if queries(&samples, operation) >= 1.0 {
            return;
        }
    }
    panic!("the index never loaded ({operation})");
}

/// Unknown Token keys are refused from the in-memory digest index, without a query, while a
/// key made by the management command beside the server works at its very next request.
#[tokio::test]
async fn unknown_token_keys_cost_no_query_and_new_keys_are_never_refused() {
    let server = Server::builder().config(CONFIG).start().await;
    server.create_user("alice", &[]);
    let token = server.token("alice").await;
    let auth = format!("Token {token}");
    assert_eq!(server.get("/api/profile/", Some(&auth)).await.status, 200);
    let unknown = |n: usize| format!("Token {n:040x}");

    // PostgreSQL gives ids out of commit order, so the index stays off there.
    let postgres = common::postgres_backend();
    if !postgres {
        until_loaded(&server, "token_digests_after", async |n| {
            let reply = server.get("/api/profile/", Some(&unknown(n))).await;
            assert_eq!(reply.status, 401);
        })
        .await;
    }

    let (before, _) = scrape(&server).await;
    for n in 1000..1050 {
        let reply = server.get("/api/profile/", Some(&unknown(n))).await;
        assert_eq!(reply.status, 401);
        assert_eq!(reply.json(), json!({"detail": "Invalid token."}));
    }
    let (after, text) = scrape(&server).await;
    let lookups = queries(&after, "token_by_digest") - queries(&before, "token_by_digest");
    if postgres {
        // Every unknown key is one query there.
        assert_eq!(lookups, 50.0, "{text}");
    } else {
        assert_eq!(lookups, 0.0, "{text}");
    }

    // A key made by the command line is known at the very next request.
    let out = server.command(&["drf_create_token", "alice"], "");
    let key = common::stdout(&out)
        .split_whitespace()
        .nth(2)
        .expect("Generated token <key> for user alice")
        .to_owned();
    let reply = server
        .get("/api/profile/", Some(&format!("Token {key}")))
        .await;
    assert_eq!(reply.status, 200, "{}", reply.body);
}

/// Unknown `sessionid` cookies are refused from the session index, without a query, and the
/// answer deletes the cookie; a session started since is known at its very next request.
#[tokio::test]
async fn unknown_session_cookies_cost_no_query_and_new_sessions_are_never_refused() {
    let server = Server::builder().config(CONFIG).start().await;
    server.create_user("alice", &[]);
    let dashboard = |cookie: String| {
        server.send(
            common::plain()
                .get(server.url("/api/dashboard/"))
                .header("Cookie", cookie),
        )
    };
    let first = common::login(&server, "alice").await;
    assert_eq!(dashboard(first.cookie()).await.status, 200);
    // Well-formed keys (32 of `[a-z0-9]`) that no session has.
    let unknown = |n: usize| format!("sessionid={n:032x}");
    let anonymous = server.get("/api/dashboard/", None).await;

    let postgres = common::postgres_backend();
    if !postgres {
        until_loaded(&server, "session_digests_after", async |n| {
            assert_eq!(dashboard(unknown(n)).await.status, anonymous.status);
        })
        .await;
    }

    let (before, _) = scrape(&server).await;
    for n in 1000..1050 {
        let reply = dashboard(unknown(n)).await;
        assert_eq!(reply.status, anonymous.status);
        assert_eq!(reply.body, anonymous.body);
        let removal = common::set_cookie_line(&reply, "sessionid").expect("the cookie is deleted");
        assert!(removal.contains("Max-Age=0"), "{removal}");
    }
    let (after, text) = scrape(&server).await;
    let lookups = queries(&after, "session_by_digest") - queries(&before, "session_by_digest");
    assert_eq!(lookups, if postgres { 50.0 } else { 0.0 }, "{text}");

    // A new login is known at its very next request, and the first session still works.
    let second = common::login(&server, "alice").await;
    assert_eq!(dashboard(second.cookie()).await.status, 200);
    assert_eq!(dashboard(first.cookie()).await.status, 200);
}
