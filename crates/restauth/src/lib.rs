//! # restauth
//!
//! Django REST Framework's authentication model for axum applications.
//!
//! * **Authentication classes** run in order; the first that recognises its scheme decides: a
//!   user, or a refusal that ends the request.
//! * **Permission classes** ([`pipeline::permissions`]) must all pass; they compose with `&`,
//!   `|`, `!`.
//! * A [`Policy`] states both for a route in one line, or inherits the configured defaults,
//!   and answers 401 or 403 exactly as DRF does.
//! * Handlers receive the user through [`CurrentUser`] / [`MaybeUser`] and never parse headers.
//! * **Throttles** ([`pipeline::throttling`]) run last, as DRF's; every password check takes a
//!   slot of the login throttles first: per username and client, per username (sparing clients
//!   the user logged in from lately) and per client.
//!
//! ## Where things are
//! One folder per DRF concept, over the pipeline they plug into, over a small core:
//!
//! | module | what it holds |
//! |---|---|
//! | [`token`] | DRF's tokens: [`TokenService`](token::TokenService), `TokenAuthentication`, the obtain route |
//! | [`session`] | Django's sessions, CSRF and cookies, `SessionAuthentication`, the login pages |
//! | [`jwt`] | simplejwt: claims, keys, rotation and blacklist, `JWTAuthentication`, its routes |
//! | [`basic`] | `BasicAuthentication` |
//! | [`forward`] | `/auth/forward/`: the same classes for a reverse proxy guarding another app |
//! | [`devices`] | a user's own tokens and sessions listed and revoked, log out everywhere, the account page |
//! | [`admin`] | the staff API: users paginated and searched, created, deactivated, activated, revoked |
//! | `accounts` | djoser's user endpoints: current user, password change, reset by e-mail, registration (cargo feature `email`) |
//! | `email` | mail over SMTP, sent off the request's path (cargo feature `email`) |
//! | [`users`] | [`Users`]: accounts, looked up (cached), created, checked, changed, revoked; [`Login`]: the throttled password check of every login path |
//! | [`pipeline`] | the [`Authenticator`](pipeline::authentication::Authenticator) trait, [`Policy`], permissions, the [throttles](pipeline::throttling::Throttles), [`ApiView`] and [`Views`](pipeline::view::Views), parsers, negotiation, the [audit log](pipeline::audit::AuditLog) |
//! | [`store`] | one small trait per concept ([`Store`](store::Store) is their sum) over SQLite and PostgreSQL (restauth's schema, or a Django project's own tables as a table and column map), the [read cache](store::ReadCache) |
//! | [`core`] | settings, the [`Error`] type, the user, the clock, the [metrics](core::metrics) it emits — imports nothing above it |
//!
//! [`Restauth`] is the composition root: it opens the store, builds each part and each service
//! from the parts it uses (no service reaches the others through a shared context), and names
//! the authentication classes (the built-in `"session"`, `"basic"`, `"token"`, `"jwt"`, and
//! any an app registers with [`Restauth::builder`]). Every feature offers its routes as
//! `router(&restauth)`, and [`Restauth::routes`] gathers those the settings enable. Dependencies
//! point down only; a test walks the `use crate::` lines of every file and fails on any that
//! points up or closes a loop.
//!
//! An app's routes, with an authentication class of its own registered by name beside the
//! built-in ones, and an object permission that a handler checks on the object it acts on:
//!
//! ```no_run
//! use axum::Router;
//! use axum::body::Body;
//! use http::Request;
//! use restauth::pipeline::authentication::{Authenticator, Outcome};
//! use restauth::pipeline::permissions::{ObjectPermission, RequestInfo};
//! use restauth::{Access, ApiView, AuthClass, CurrentUser, Error, IsAuthenticated, Restauth};
//!
//! /// DRF's `BaseAuthentication`: `X-Api-Key` (every key refused, to keep this short).
//! struct ApiKey;
//! impl Authenticator for ApiKey {
//!     fn authenticate<'a>(&'a self, request: &'a mut Request<Body>) -> Outcome<'a> {
//!         match request.headers().get("x-api-key") {
//!             // Not this class's scheme: the next class decides.
//!             None => Outcome::skip(),
//!             Some(_) => Outcome::Ready(Err(Error::authentication_failed("Invalid API key."))),
//!         }
//!     }
//!     fn authenticate_header(&self) -> Option<http::HeaderValue> {
//!         None
//!     }
//!     fn name(&self) -> &'static str {
//!         "api_key"
//!     }
//!     // It only reads the request before answering: a view may ask it again after dropping
//!     // a `Pending` answer, so requests it decides at once skip the async path.
//!     fn retry_safe(&self) -> bool {
//!         true
//!     }
//! }
//!
//! struct Note {
//!     owner: i64,
//! }
//!
//! /// DRF's `has_object_permission`, typed on the object it checks.
//! struct IsOwner;
//! impl ObjectPermission for IsOwner {
//!     type Object = Note;
//!     fn has_object_permission(&self, request: &RequestInfo<'_>, note: &Note) -> bool {
//!         request.user().is_some_and(|u| u.id == note.owner)
//!     }
//! }
//! restauth::permission_operators!(IsOwner);
//!
//! async fn profile(CurrentUser(user): CurrentUser) -> String {
//!     user.username.clone()
//! }
//!
//! async fn edit_note(access: Access) -> Result<&'static str, Error> {
//!     let note = Note { owner: 1 }; // the app's own lookup
//!     // DRF's check_object_permissions: 403 unless the user owns it.
//!     access.check_object(&note)?;
//!     Ok("edited")
//! }
//!
//! # async fn run(settings: restauth::Settings) -> Result<(), Box<dyn std::error::Error>> {
//! let restauth = Restauth::builder(settings)
//!     .authentication_class("api_key", |_restauth| ApiKey)
//!     .open()
//!     .await?;
//! let app: Router = Router::new()
//!     .route("/api/profile", ApiView::new("Profile").get(profile).guard(
//!         restauth.policy().authentication([AuthClass::Token]).permission(IsAuthenticated)))
//!     .route("/api/notes/{id}", ApiView::new("Note").put(edit_note).guard(
//!         restauth.policy().authentication(["token", "api_key"]).permission(IsAuthenticated & IsOwner)))
//!     .merge(restauth::token::router(&restauth)?);
//! let listener = tokio::net::TcpListener::bind("127.0.0.1:8000").await?;
//! restauth::serve(listener, app, restauth::ServeOptions::default()).await?;
//! # Ok(())
//! # }
//! ```
//!
//! `examples/notes.rs` shows both at full length, in the DRF tutorial's shape, tested over HTTP.
//!
//! With the cargo feature `openapi`, each feature folder describes its routes in OpenAPI 3.1
//! beside them (`token::openapi::document`, …, from the settings), `restauth::openapi(&settings)`
//! gives the document of every route the settings enable, and `pipeline::openapi` the builders
//! an app describes its own views with.
//!
//! The tokens are DRF's 40-hex keys, stored only as SHA-256 digests; passwords are Argon2id,
//! hashed on a bounded blocking pool; the hot path answers from an in-process cache.

// Every public item is documented: the docs are the library's guide.
#![deny(missing_docs)]
// On docs.rs (and in `.ci/run`'s nightly build) each feature-gated item carries a badge naming
// the cargo feature it needs; rustdoc derives the badges from the `cfg` attributes.
#![cfg_attr(docsrs, feature(doc_cfg))]

#[cfg(feature = "email")]
pub mod accounts;
pub mod admin;
pub mod basic;
pub mod core;
pub mod devices;
#[cfg(feature = "django-hashers")]
pub mod django;
#[cfg(feature = "email")]
pub mod email;
pub mod forward;
#[doc(hidden)]
pub mod fuzzing;
pub mod jwt;
pub mod layers;
pub(crate) mod password;
pub mod pipeline;
mod restauth;
mod routes;
pub mod serve;
pub mod session;
pub mod store;
pub mod token;
pub mod users;

pub use crate::core::clock::now;
pub use crate::core::error::ValidationErrors;
pub use crate::core::error::{Error, Result};
pub use crate::core::settings::{AuthClass, ClassName, PermissionClass, Settings};
pub use crate::core::user::{
    AuthInfo, ExtraColumns, Identity, LoadedPermissions, Permissions, User,
};
pub use crate::core::user_id::{UserId, UserIdKind, Uuid};
pub use crate::pipeline::parsers::{Body, RequestData};
pub use crate::pipeline::path::Path;
pub use crate::pipeline::permissions::{
    AllowAny, DjangoModelPermissions, DjangoModelPermissionsOrAnonReadOnly, HasPerms, IsAdminUser,
    IsAuthenticated, IsAuthenticatedOrReadOnly, Permission, PermissionExt,
};
pub use crate::pipeline::policy::{Access, CurrentUser, MaybeUser, Policy};
pub use crate::pipeline::throttling::ThrottleClass;
pub use crate::pipeline::view::ApiView;
#[cfg(feature = "openapi")]
pub use crate::restauth::openapi;
pub use crate::restauth::{Builder, Restauth};
pub use crate::users::{Login, NewAccount, Users};
pub use serve::{ServeOptions, serve, serve_with_shutdown, shutdown_signal};

// The README's and the book's Rust blocks are doc tests of this crate, compiled against today's
// API (and run, unless `no_run`): a change that breaks them breaks the tests, not the manual.
// One item a file; `crates/restauth-server/tests/docs_links.rs` fails on a chapter with Rust
// blocks that is missing here.
#[cfg(doctest)]
#[doc = include_str!("../../../README.md")]
pub struct ReadmeFrontPage;

#[cfg(doctest)]
#[doc = include_str!("../../../docs/src/library.md")]
pub struct BookLibrary;

#[cfg(doctest)]
#[doc = include_str!("../../../docs/src/beside-django.md")]
pub struct BookBesideDjango;
