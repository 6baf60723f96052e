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
//! | [`pipeline`] | the [`Authenticator`](pipeline::authentication::Authenticator) trait, [`Policy`], permissions, throttling, [`ApiView`], parsers, negotiation, the shared [`Context`](pipeline::Context) |
//! | [`store`] | the [`Store`](store::Store) trait over SQLite and PostgreSQL, the read cache |
//! | [`password`] | Argon2id and Django's hash formats, validators, the hashing pool |
//! | [`core`] | settings, the [`Error`] type, the user, the clock, random keys — imports nothing above it |
//!
//! [`Restauth`] is the composition root: it opens the store, builds the services and names
//! the authentication classes (the built-in `"session"`, `"basic"`, `"token"`, `"jwt"`, and
//! any an app registers with [`Restauth::builder`]). Dependencies point down only; a test
//! walks the `use crate::` lines and fails on any cycle between these modules.
//!
//! ```ignore
//! let restauth = Restauth::open(settings).await?;
//! let app = Router::new()
//!     .route("/api/profile/", ApiView::new("Profile").get(profile)
//!         .guard(restauth.policy().authentication([AuthClass::Token]).permission(IsAuthenticated)))
//!     .merge(restauth::token::router(restauth.tokens(), "/api-token-auth/"));
//! ```
//!
//! The tokens are DRF's 40-hex keys, stored only as SHA-256 digests; passwords are Argon2id,
//! hashed on a bounded blocking pool; the hot path answers from an in-process cache.

pub mod basic;
pub mod core;
#[doc(hidden)]
pub mod fuzzing;
pub mod jwt;
pub mod password;
pub mod pipeline;
mod restauth;
pub mod serve;
pub mod session;
pub mod store;
pub mod token;

pub use crate::core::clock::now;
pub use crate::core::error::{Error, Result};
pub use crate::core::settings::{AuthClass, ClassName, PermissionClass, Settings};
pub use crate::core::user::{AuthInfo, Identity, User};
pub use crate::pipeline::accounts::NewAccount;
pub use crate::pipeline::parsers::{Payload, RequestData};
pub use crate::pipeline::permissions::{
    AllowAny, IsAdminUser, IsAuthenticated, IsAuthenticatedOrReadOnly, Permission, PermissionExt,
};
pub use crate::pipeline::policy::{Access, CurrentUser, MaybeUser, Policy};
pub use crate::pipeline::throttling::ThrottleClass;
pub use crate::pipeline::view::ApiView;
pub use crate::restauth::{Builder, Restauth};
pub use serve::{ServeOptions, serve, serve_with_shutdown};
