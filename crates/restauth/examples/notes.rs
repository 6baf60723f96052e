//! The DRF tutorial's snippets API as notes: anyone may read, users write their own notes,
//! and only a note's owner may change or delete it. Users authenticate with DRF tokens,
//! simplejwt's Bearer tokens, or the app's own `X-Api-Key` class.
//!
//! ```sh
//! cargo run -p restauth --example notes          # PORT=8001 to move it off 8000
//! # another terminal, with the key the example prints:
//! curl -s localhost:8000/api/notes/
//! curl -s -X POST localhost:8000/api/notes/ -H 'X-Api-Key: <key>' \
//!      -H 'Content-Type: application/json' -d '{"title":"First","text":"Hello"}'
//! curl -s -X POST localhost:8000/api-token-auth/ -H 'Content-Type: application/json' \
//!      -d '{"username":"bob","password":"a notes demo passphrase"}'
//! ```

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use axum::Router;
use axum::extract::State;
use axum::http::{HeaderValue, Request, StatusCode};
use axum::response::Json;
use restauth::core::settings::Secret;
use restauth::pipeline::authentication::{Authenticator, Outcome};
use restauth::pipeline::permissions::{ObjectPermission, RequestInfo};
use restauth::pipeline::view::Views;
use restauth::{
    Access, ApiView, AuthInfo, Body, CurrentUser, Error, Identity, IsAuthenticatedOrReadOnly,
    NewAccount, Path, RequestData, Restauth, ServeOptions, Settings, Users, ValidationErrors,
};
use serde::Serialize;
use sha2::{Digest, Sha256};

/// A note, as the API shows it (DRF's `owner = ReadOnlyField(source="owner.username")`).
#[derive(Clone, Debug, Serialize)]
pub struct Note {
    pub id: u64,
    pub owner: String,
    #[serde(skip)]
    pub owner_id: restauth::UserId,
    pub title: String,
    pub text: String,
}

/// The notes, in memory: enough for an example; an app keeps them in its database.
#[derive(Clone, Default)]
pub struct Notes(Arc<Mutex<NoteTable>>);

#[derive(Default)]
pub struct NoteTable {
    last_id: u64,
    rows: BTreeMap<u64, Note>,
}

impl Notes {
    fn lock(&self) -> MutexGuard<'_, NoteTable> {
        // A panic while the lock is held could at worst leave one note's fields half
        // updated, never a broken map: keep serving rather than fail every later request.
        self.0.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// DRF tutorial's `IsOwnerOrReadOnly`: reads for anyone the view lets in, writes for the
/// owner. Typed on `Note`, so a handler passing anything else is a loud 500, not a 403.
pub struct IsOwnerOrReadOnly;

impl ObjectPermission for IsOwnerOrReadOnly {
    type Object = Note;

    fn has_object_permission(&self, request: &RequestInfo<'_>, note: &Note) -> bool {
        request.is_safe_method() || request.user().is_some_and(|u| u.id == note.owner_id)
    }
}

// `&`, `|` and `!` with the built-in classes, on either side, as in DRF.
restauth::permission_operators!(IsOwnerOrReadOnly);

/// API keys by the SHA-256 digest of the key, with the username each acts for. Held as
/// digests, like restauth's tokens, so neither memory nor a lookup's timing gives a key away.
#[derive(Clone, Default)]
pub struct ApiKeys(Arc<HashMap<Vec<u8>, String>>);

impl ApiKeys {
    /// `(key, username)` pairs.
    pub fn new<'a>(keys: impl IntoIterator<Item = (&'a str, &'a str)>) -> Self {
        let digests = keys
            .into_iter()
            .map(|(key, user)| (Sha256::digest(key.as_bytes()).to_vec(), user.to_owned()))
            .collect();
        ApiKeys(Arc::new(digests))
    }

    fn username(&self, key: &[u8]) -> Option<&str> {
        self.0
            .get(Sha256::digest(key).as_slice())
            .map(String::as_str)
    }
}

/// The app's own authentication class: `X-Api-Key: <key>`.
pub struct ApiKeyAuthentication {
    users: Users,
    keys: ApiKeys,
}

impl Authenticator for ApiKeyAuthentication {
    fn authenticate<'a>(&'a self, request: &'a mut Request<axum::body::Body>) -> Outcome<'a> {
        // No header: not this class's scheme, the next class decides.
        let Some(key) = request.headers().get("x-api-key") else {
            return Outcome::skip();
        };
        // A key that is there but wrong ends the request, even on a read-only route (DRF).
        let Some(username) = self.keys.username(key.as_bytes()) else {
            return Outcome::Ready(Err(Error::authentication_failed("Invalid API key.")));
        };
        Outcome::Pending(Box::pin(async move {
            match self.users.user_by_username(username).await? {
                Some(user) if user.is_active => Ok(Some(Identity::authenticated(
                    Arc::new(user),
                    AuthInfo::Other("api_key"),
                ))),
                // TokenAuthentication's words for a key whose user is gone or disabled.
                _ => Err(Error::authentication_failed("User inactive or deleted.")),
            }
        }))
    }

    /// Makes a refusal a 401 on routes that list this class first.
    fn authenticate_header(&self) -> Option<HeaderValue> {
        Some(HeaderValue::from_static("Api-Key"))
    }

    fn name(&self) -> &'static str {
        "api_key"
    }
}

/// restauth's defaults with this database and key, and the app's class listed beside the
/// built-in ones (DRF's `DEFAULT_AUTHENTICATION_CLASSES`).
pub fn settings(database_url: &str, secret_key: &str) -> Settings {
    let mut settings = Settings::default();
    settings.database.url = database_url.into();
    settings.secret_key = Some(Secret(secret_key.into()));
    // "token" first: its `WWW-Authenticate: Token` makes a failed authentication a 401.
    settings.rest_framework.default_authentication_classes =
        vec!["token".into(), "jwt".into(), "api_key".into()];
    settings
}

/// Opens the store with the `api_key` class registered under the name the settings list.
pub async fn open(settings: Settings, keys: ApiKeys) -> Result<Restauth, Error> {
    Restauth::builder(settings)
        .authentication_class("api_key", move |restauth| ApiKeyAuthentication {
            users: restauth.users().clone(),
            keys: keys.clone(),
        })
        .open()
        .await
}

/// The API, with the routes that hand out DRF tokens and JWTs. `Views` mounts each path with
/// and without its trailing slash, so clients may call `/api/notes/` (DRF's URL) or
/// `/api/notes`, under any server.
pub fn app(restauth: &Restauth) -> Result<Router, Error> {
    let notes = Notes::default();
    let views = Views::new()
        .view(
            "/api/notes",
            ApiView::new("Note List")
                .get(list)
                .post(create)
                .guard(restauth.policy().permission(IsAuthenticatedOrReadOnly))
                .with_state(notes.clone()),
        )?
        .view(
            "/api/notes/{id}",
            ApiView::new("Note Detail")
                .get(retrieve)
                .put(update)
                .patch(partial_update)
                .delete(destroy)
                .guard(
                    restauth
                        .policy()
                        .permission(IsAuthenticatedOrReadOnly & IsOwnerOrReadOnly),
                )
                .with_state(notes),
        )?;
    Ok(views
        .into_router()
        .merge(restauth::token::router(restauth)?)
        .merge(restauth::jwt::router(restauth)?))
}

async fn list(State(notes): State<Notes>) -> Json<Vec<Note>> {
    Json(notes.lock().rows.values().cloned().collect())
}

async fn create(
    State(notes): State<Notes>,
    CurrentUser(user): CurrentUser,
    Body(data): Body<RequestData>,
) -> Result<(StatusCode, Json<Note>), Error> {
    let (title, text) = fields(&data, false)?;
    let mut table = notes.lock();
    table.last_id += 1;
    let note = Note {
        id: table.last_id,
        owner: user.username.clone(),
        owner_id: user.id,
        title: title.unwrap_or_default(),
        text: text.unwrap_or_default(),
    };
    table.rows.insert(note.id, note.clone());
    Ok((StatusCode::CREATED, Json(note)))
}

async fn retrieve(
    State(notes): State<Notes>,
    Path(id): Path<u64>,
    access: Access,
) -> Result<Json<Note>, Error> {
    let table = notes.lock();
    let note = table.rows.get(&id).ok_or(Error::NotFound)?;
    access.check_object(note)?;
    Ok(Json(note.clone()))
}

async fn update(
    notes: State<Notes>,
    id: Path<u64>,
    access: Access,
    Body(data): Body<RequestData>,
) -> Result<Json<Note>, Error> {
    save(notes, id, access, data, false)
}

async fn partial_update(
    notes: State<Notes>,
    id: Path<u64>,
    access: Access,
    Body(data): Body<RequestData>,
) -> Result<Json<Note>, Error> {
    save(notes, id, access, data, true)
}

/// PUT and PATCH: the object check first, as DRF's `get_object`, then validation.
fn save(
    State(notes): State<Notes>,
    Path(id): Path<u64>,
    access: Access,
    data: RequestData,
    partial: bool,
) -> Result<Json<Note>, Error> {
    let mut table = notes.lock();
    let note = table.rows.get_mut(&id).ok_or(Error::NotFound)?;
    access.check_object(&*note)?;
    let (title, text) = fields(&data, partial)?;
    if let Some(title) = title {
        note.title = title;
    }
    if let Some(text) = text {
        note.text = text;
    }
    Ok(Json(note.clone()))
}

async fn destroy(
    State(notes): State<Notes>,
    // DRF's `<int:pk>`: anything else is a 404, as Django's resolver answers it.
    Path(id): Path<u64>,
    access: Access,
) -> Result<StatusCode, Error> {
    let mut table = notes.lock();
    let note = table.rows.get(&id).ok_or(Error::NotFound)?;
    access.check_object(note)?;
    table.rows.remove(&id);
    Ok(StatusCode::NO_CONTENT)
}

/// The serializer: `title` and `text` are `CharField`s; a partial update (PATCH) validates
/// only the fields it sends.
fn fields(data: &RequestData, partial: bool) -> Result<(Option<String>, Option<String>), Error> {
    let mut errors = ValidationErrors::new();
    let mut field = |name: &str| {
        if partial && !data.0.contains_key(name) {
            None
        } else {
            data.char_field(name, true, &mut errors)
        }
    };
    let (title, text) = (field("title"), field("text"));
    errors.into_result()?;
    Ok((title, text))
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    // Shows what restauth logs: a 500's cause with its request id, a misconfiguration.
    // RUST_LOG=debug shows each request.
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .init();
    // Signs sessions and JWTs. A development key: a deployment sets its own, kept secret.
    let secret_key = std::env::var("NOTES_SECRET_KEY")
        .unwrap_or_else(|_| "notes-example-only-secret-key-change-me-0123456789".into());
    // Issued at start and printed, so there is one to try; an app stores its keys.
    let api_key = restauth::token::generate_key();
    let keys = ApiKeys::new([(api_key.as_str(), "alice")]);
    let restauth = open(settings("sqlite://notes.db", &secret_key), keys).await?;
    for username in ["alice", "bob"] {
        if restauth.users().user_by_username(username).await?.is_none() {
            restauth
                .users()
                .create_user(NewAccount {
                    password: Some("a notes demo passphrase".into()),
                    ..NewAccount::new(username)
                })
                .await?;
        }
    }
    let port: u16 = match std::env::var("PORT") {
        Ok(port) => port.parse()?,
        Err(_) => 8000,
    };
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", port)).await?;
    println!("X-Api-Key for alice: {api_key}");
    println!("listening on http://{}", listener.local_addr()?);
    // restauth's serve, not axum::serve: the throttles need each client's address. On SIGTERM
    // or Ctrl-C the requests in flight finish (within ServeOptions::shutdown_timeout), then the
    // database is checkpointed and closed, so the SQLite file alone holds everything.
    restauth::serve_with_shutdown(
        listener,
        app(&restauth)?,
        ServeOptions::default(),
        restauth::shutdown_signal(),
    )
    .await?;
    restauth.store().checkpoint().await?;
    restauth.store().close().await;
    Ok(())
}
