//! An object check given another type than the route's permission checks (`&Arc<Note>` for a
//! permission on `Note`) is a bug in the handler: it answers 500 with both types in the log,
//! not a 403 that refuses the object's own owner without a trace.

mod common;

use std::sync::{Arc, Mutex};

use axum::Router;
use axum::extract::State;
use reqwest::StatusCode;
use restauth::pipeline::permissions::{ObjectPermission, RequestInfo};
use restauth::{
    Access, ApiView, CurrentUser, Error, IsAuthenticated, NewAccount, Restauth, ServeOptions,
};

struct Note {
    owner: restauth::UserId,
}

struct IsOwner;
impl ObjectPermission for IsOwner {
    type Object = Note;
    fn has_object_permission(&self, request: &RequestInfo<'_>, note: &Note) -> bool {
        request.user().is_some_and(|u| u.id == note.owner)
    }
}
restauth::permission_operators!(IsOwner);

/// What the last object check said, as the log line shows it.
type LastError = Arc<Mutex<Option<String>>>;

fn record(last: &LastError, result: Result<(), Error>) -> Result<&'static str, Error> {
    *last.lock().unwrap() = result.as_ref().err().map(ToString::to_string);
    result.map(|()| "checked")
}

/// The user's own note, checked as a handler should.
async fn the_note(
    State(last): State<LastError>,
    access: Access,
    CurrentUser(user): CurrentUser,
) -> Result<&'static str, Error> {
    let note = Arc::new(Note { owner: user.id });
    record(&last, access.check_object(&*note))
}

/// The same note, checked through its `Arc` by mistake.
async fn the_arc(
    State(last): State<LastError>,
    access: Access,
    CurrentUser(user): CurrentUser,
) -> Result<&'static str, Error> {
    let note = Arc::new(Note { owner: user.id });
    record(&last, access.check_object(&note))
}

#[tokio::test]
async fn checking_another_type_of_object_is_a_logged_500_not_a_silent_403() {
    let dir = tempfile::tempdir().unwrap();
    let settings = common::settings(&dir);
    let restauth = Restauth::open(settings).await.expect("open");
    let password = "an owner's test passphrase";
    restauth
        .users()
        .create_user(NewAccount {
            password: Some(password.into()),
            ..NewAccount::new("owner")
        })
        .await
        .unwrap();
    let policy = restauth
        .policy()
        .authentication(["basic"])
        .permission(IsAuthenticated & IsOwner);
    let last = LastError::default();
    let app = Router::new()
        .route(
            "/note",
            ApiView::new("Note").get(the_note).guard(policy.clone()),
        )
        .route("/arc", ApiView::new("Arc").get(the_arc).guard(policy))
        .with_state(last.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(restauth::serve(listener, app, ServeOptions::default()));
    let client = reqwest::Client::new();
    let get = |path: &str| {
        client
            .get(format!("{base}{path}"))
            .basic_auth("owner", Some(password))
            .send()
    };

    let response = get("/note").await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(*last.lock().unwrap(), None);

    let response = get("/arc").await.unwrap();
    assert_eq!(response.status(), StatusCode::INTERNAL_SERVER_ERROR);
    assert_eq!(
        response.text().await.unwrap(),
        r#"{"detail":"A server error occurred."}"#
    );
    let logged = last.lock().unwrap().clone().expect("an error");
    assert!(
        logged.contains("the permission checks object_permissions::Note")
            && logged.contains("the handler passed alloc::sync::Arc<object_permissions::Note>"),
        "{logged}"
    );
}
