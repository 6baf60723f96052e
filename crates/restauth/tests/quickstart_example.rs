//! The library chapter's first snippet is `examples/quickstart.rs`, word for word, and it serves.
//!
//! The example is compiled in here rather than its binary spawned: `cargo test --test
//! quickstart_example` does not build examples, and a server bound here on port 0 needs no
//! free-port guess and no wait for a child process to start listening.

#[allow(dead_code)] // `main` is the example's; the test serves `app` itself.
#[path = "../examples/quickstart.rs"]
mod quickstart;

use reqwest::StatusCode;
use restauth::{NewAccount, Restauth, ServeOptions};
use serde_json::{Value, json};

const CHAPTER: &str = include_str!("../../../docs/src/library.md");
const EXAMPLE: &str = include_str!("../examples/quickstart.rs");
const SECTION: &str = "## A first app";
/// The fence of a block that compiles but does not run (it serves until stopped).
const FENCE: &str = "```rust,no_run\n";

/// The first Rust block of the library chapter's first section.
fn chapter_block() -> &'static str {
    let section = CHAPTER
        .find(SECTION)
        .map(|i| &CHAPTER[i..])
        .expect("the library chapter's first section");
    let start = section.find(FENCE).expect("a rust block") + FENCE.len();
    let len = section[start..].find("\n```\n").expect("the block's end") + 1;
    &section[start..start + len]
}

#[test]
fn the_library_chapter_block_is_the_example_word_for_word() {
    let block = chapter_block();
    if block != EXAMPLE {
        let line = block
            .lines()
            .zip(EXAMPLE.lines())
            .position(|(a, b)| a != b)
            .map_or_else(|| "their ends".to_owned(), |n| format!("line {}", n + 1));
        panic!(
            "docs/src/library.md's block under \"{SECTION}\" and \
             crates/restauth/examples/quickstart.rs differ at {line}: copy one onto the other"
        );
    }
}

#[tokio::test]
async fn the_quickstart_serves_its_profile_to_a_token() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("quickstart.db").display());
    let restauth = Restauth::open(quickstart::settings(&url))
        .await
        .expect("open");
    let password = "a quickstart test passphrase";
    restauth
        .users()
        .create_user(NewAccount {
            password: Some(password.into()),
            email: "demo@example.com".into(),
            ..NewAccount::new("demo")
        })
        .await
        .unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(restauth::serve(
        listener,
        quickstart::app(&restauth).expect("the routes"),
        ServeOptions::default(),
    ));
    let client = reqwest::Client::new();

    let response = client
        .get(format!("{base}/api/profile/"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(response.headers()["www-authenticate"], "Token");

    let response = client
        .post(format!("{base}/api-token-auth/"))
        .json(&json!({ "username": "demo", "password": password }))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let token: Value = response.json().await.unwrap();
    let token = token["token"].as_str().expect("a token").to_owned();

    for path in ["/api/profile/", "/api/dashboard/"] {
        let response = client
            .get(format!("{base}{path}"))
            .header("Authorization", format!("Token {token}"))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::OK, "{path}");
        let body: Value = response.json().await.unwrap();
        assert_eq!(
            body,
            json!({ "username": "demo", "email": "demo@example.com" }),
            "{path}"
        );
    }
}
