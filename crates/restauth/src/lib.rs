//! # restauth
//!
//! Django REST Framework's authentication model for axum applications.
//!
//! * **Authentication classes** ([`authentication`]) run in order; the first that recognises
//!   its scheme decides: a user, or a refusal that ends the request.
//! * **Permission classes** ([`permissions`]) must all pass; they compose with `&`, `|`, `!`.
//! * A [`Policy`] states both for a route in one line, or inherits the configured defaults,
//!   and answers 401 or 403 exactly as DRF does.
//! * Handlers receive the user through [`CurrentUser`] / [`MaybeUser`] and never parse headers.
//! * **Throttles** ([`throttling`]) run last, as DRF's; every password check takes a slot of
//!   the login throttles first: per username and client, per username (sparing clients the
//!   user logged in from lately) and per client.
//!
//! The built-in authentication classes: [`authentication::SessionAuthentication`] (Django
//! sessions with Django's [`csrf`] check), [`authentication::BasicAuthentication`],
//! [`authentication::TokenAuthentication`] (DRF's tokens, see [`tokens`]) and
//! [`authentication::JwtAuthentication`] (simplejwt's wire format, see [`jwt`]). Ready routers
//! for their endpoints are in [`routes`]; storage is behind [`store::Store`] (SQLite or
//! PostgreSQL).
//!
//! ```ignore
//! let restauth = Restauth::open(Settings::load(None)?).await?;
//! let app = Router::new()
//!     .route("/api/profile", ApiView::new("Profile").get(profile)
//!         .guard(restauth.policy().authentication([AuthClass::Token]).permission(IsAuthenticated)))
//!     .merge(restauth::routes::token::router(&restauth, "/api-token-auth"));
//! ```
//!
//! The tokens are DRF's 40-hex keys, stored only as SHA-256 digests; passwords are Argon2id,
//! hashed on a bounded blocking pool; the hot path answers from an in-process cache.

pub mod accounts;
pub mod authentication;
pub mod cache;
pub mod clock;
mod context;
pub mod cookies;
pub mod csrf;
pub mod django;
pub mod error;
#[doc(hidden)]
pub mod fuzzing;
pub mod hosts;
pub mod jwt;
pub mod negotiation;
pub mod parsers;
pub mod password;
pub mod permissions;
pub mod policy;
pub mod random;
pub mod request;
pub mod routes;
pub mod safe_url;
pub mod serve;
pub mod sessions;
pub mod settings;
pub mod store;
pub mod templates;
pub mod throttling;
pub mod tokens;
pub mod user;

pub use accounts::NewAccount;
pub use context::{Restauth, now};
pub use error::{Error, Result};
pub use parsers::{Payload, RequestData};
pub use permissions::{
    AllowAny, IsAdminUser, IsAuthenticated, IsAuthenticatedOrReadOnly, Permission, PermissionExt,
};
pub use policy::{Access, CurrentUser, MaybeUser, Policy};
pub use routes::ApiView;
pub use serve::{ServeOptions, serve, serve_with_shutdown};
pub use settings::{AuthClass, PermissionClass, Settings};
pub use throttling::ThrottleClass;
pub use user::{AuthInfo, Identity, User};
