//! The notes example over HTTP: its routes, permissions and authentication classes as a client
//! meets them.
//!
//! The example's own functions are compiled in here rather than its binary spawned: `cargo
//! test --test notes_example` does not build examples, and a server bound here on port 0 needs
//! no free-port guess and no wait for a child process to start listening.

#[allow(dead_code)] // `main` is the example's; the test serves `app` itself.
#[path = "../examples/notes.rs"]
mod notes;

use reqwest::{Client, Method, StatusCode};
use restauth::{NewAccount, Restauth, ServeOptions};
use serde_json::{Value, json};

const PASSWORD: &str = "a notes test passphrase";
const CAROLS_KEY: &str = "carols-api-key-0123456789";
/// The key of a disabled account.
const DAVES_KEY: &str = "daves-api-key-0123456789";
const NO_PERMISSION: &str = "You do not have permission to perform this action.";

struct Server {
    base: String,
    client: Client,
    _restauth: Restauth,
    _dir: tempfile::TempDir,
}

async fn start() -> Server {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("notes.db").display());
    let settings = notes::settings(&url, "a test secret key of at least 32 characters");
    let keys = notes::ApiKeys::new([(CAROLS_KEY, "carol"), (DAVES_KEY, "dave")]);
    let restauth = notes::open(settings, keys).await.expect("open");
    for (username, is_active) in [
        ("alice", true),
        ("bob", true),
        ("carol", true),
        ("dave", false),
    ] {
        restauth
            .users()
            .create_user(NewAccount {
                password: Some(PASSWORD.into()),
                is_active,
                ..NewAccount::new(username)
            })
            .await
            .unwrap();
    }
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(restauth::serve(
        listener,
        notes::app(&restauth).expect("the routes"),
        ServeOptions::default(),
    ));
    Server {
        base,
        client: Client::new(),
        _restauth: restauth,
        _dir: dir,
    }
}

impl Server {
    /// One request; `auth` is a whole header (`("Authorization", "Token …")`) or none.
    async fn call(
        &self,
        method: Method,
        path: &str,
        auth: Option<(&str, &str)>,
        body: Option<Value>,
    ) -> (StatusCode, reqwest::header::HeaderMap, Value) {
        let mut request = self.client.request(method, format!("{}{path}", self.base));
        if let Some((name, value)) = auth {
            request = request.header(name, value);
        }
        if let Some(body) = body {
            request = request.json(&body);
        }
        let response = request.send().await.unwrap();
        let (status, headers) = (response.status(), response.headers().clone());
        let text = response.text().await.unwrap();
        let json = if text.is_empty() {
            Value::Null
        } else {
            serde_json::from_str(&text).unwrap_or_else(|e| panic!("{e}: {text}"))
        };
        (status, headers, json)
    }

    /// A DRF token from the merged obtain route.
    async fn drf_token(&self, username: &str) -> String {
        let login = json!({ "username": username, "password": PASSWORD });
        let (status, _, body) = self
            .call(Method::POST, "/api-token-auth/", None, Some(login))
            .await;
        assert_eq!(status, StatusCode::OK, "{body}");
        format!("Token {}", body["token"].as_str().unwrap())
    }

    /// A simplejwt access token from the merged JWT routes.
    async fn jwt(&self, username: &str) -> String {
        let login = json!({ "username": username, "password": PASSWORD });
        let (status, _, body) = self
            .call(Method::POST, "/api/token/", None, Some(login))
            .await;
        assert_eq!(status, StatusCode::OK, "{body}");
        format!("Bearer {}", body["access"].as_str().unwrap())
    }
}

#[tokio::test]
async fn anyone_reads_users_write_and_only_the_owner_changes_a_note() {
    let server = start().await;

    // Anonymous: the list is open, creating is not (401: the first class, token, challenges).
    let (status, _, body) = server.call(Method::GET, "/api/notes/", None, None).await;
    assert_eq!((status, body), (StatusCode::OK, json!([])));
    let note = json!({ "title": "First", "text": "Hello" });
    let (status, headers, body) = server
        .call(Method::POST, "/api/notes/", None, Some(note.clone()))
        .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(
        body,
        json!({ "detail": "Authentication credentials were not provided." })
    );
    assert_eq!(headers["www-authenticate"], "Token");

    // Alice, with a DRF token, creates a note.
    let alice = server.drf_token("alice").await;
    let alice = Some(("Authorization", alice.as_str()));
    let (status, _, created) = server
        .call(Method::POST, "/api/notes/", alice, Some(note))
        .await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    assert_eq!(
        created,
        json!({ "id": 1, "owner": "alice", "title": "First", "text": "Hello" })
    );
    let path = "/api/notes/1/";

    // Bob, with a JWT, reads it but may not change or delete it.
    let bob = server.jwt("bob").await;
    let bob = Some(("Authorization", bob.as_str()));
    let (status, _, body) = server.call(Method::GET, path, bob, None).await;
    assert_eq!((status, body), (StatusCode::OK, created.clone()));
    let edit = json!({ "title": "Bob's", "text": "was here" });
    for method in [Method::PUT, Method::PATCH, Method::DELETE] {
        let (status, _, body) = server
            .call(method.clone(), path, bob, Some(edit.clone()))
            .await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{method}");
        assert_eq!(body, json!({ "detail": NO_PERMISSION }), "{method}");
    }
    // Nobody else reads a change that was refused.
    let (_, _, body) = server.call(Method::GET, path, None, None).await;
    assert_eq!(body, created);

    // The owner edits (all fields with PUT, some with PATCH) and deletes.
    let (status, _, body) = server
        .call(
            Method::PUT,
            path,
            alice,
            Some(json!({ "title": "Renamed", "text": "New" })),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["title"], "Renamed");
    let (status, _, body) = server
        .call(Method::PUT, path, alice, Some(json!({ "title": "Only" })))
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(body, json!({ "text": ["This field is required."] }));
    let (status, _, body) = server
        .call(
            Method::PATCH,
            path,
            alice,
            Some(json!({ "text": "Patched" })),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(
        (&body["title"], &body["text"]),
        (&json!("Renamed"), &json!("Patched"))
    );
    let (status, _, _) = server.call(Method::DELETE, path, alice, None).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (status, _, body) = server.call(Method::GET, path, None, None).await;
    assert_eq!(
        (status, body),
        (StatusCode::NOT_FOUND, json!({ "detail": "Not found." }))
    );
}

#[tokio::test]
async fn the_api_key_class_authenticates_and_refuses_a_wrong_key() {
    let server = start().await;
    let carol = Some(("X-Api-Key", CAROLS_KEY));
    let note = json!({ "title": "Carol's", "text": "by key" });
    let (status, _, body) = server
        .call(Method::POST, "/api/notes/", carol, Some(note))
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    assert_eq!(body["owner"], "carol");
    // Carol's key works on her note; Alice's token does not.
    let edit = json!({ "text": "edited by key" });
    let (status, _, _) = server
        .call(Method::PATCH, "/api/notes/1/", carol, Some(edit.clone()))
        .await;
    assert_eq!(status, StatusCode::OK);
    let alice = server.drf_token("alice").await;
    let (status, _, body) = server
        .call(
            Method::PATCH,
            "/api/notes/1/",
            Some(("Authorization", alice.as_str())),
            Some(edit),
        )
        .await;
    assert_eq!(
        (status, body),
        (StatusCode::FORBIDDEN, json!({ "detail": NO_PERMISSION }))
    );

    // A wrong key ends the request, even a read, with the first class's challenge (401).
    for method in [Method::GET, Method::POST] {
        let (status, headers, body) = server
            .call(
                method,
                "/api/notes/",
                Some(("X-Api-Key", "not-a-key")),
                None,
            )
            .await;
        assert_eq!(status, StatusCode::UNAUTHORIZED);
        assert_eq!(body, json!({ "detail": "Invalid API key." }));
        assert_eq!(headers["www-authenticate"], "Token");
    }

    // A key whose user is disabled is refused as TokenAuthentication refuses its token.
    let (status, _, body) = server
        .call(
            Method::GET,
            "/api/notes/",
            Some(("X-Api-Key", DAVES_KEY)),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(body, json!({ "detail": "User inactive or deleted." }));
}
