//! What every authentication class plugs into, in DRF's order: content negotiation, the
//! [`Authenticator`](authentication::Authenticator) trait, the [`Policy`](policy::Policy) layer
//! (authentication → permissions → throttles), the view wrapper, request parsers, and the
//! [`Context`] they share. Nothing here knows a particular authentication class: they are
//! found by name in the context's registry.

pub mod accounts;
pub mod audit;
pub mod authentication;
pub(crate) mod context;
pub mod hosts;
pub(crate) mod negotiation;
#[cfg(feature = "openapi")]
pub mod openapi;
pub mod parsers;
pub mod path;
pub mod permissions;
pub mod policy;
pub mod throttling;
pub mod view;

pub use context::Context;
