//! What every authentication class plugs into, in DRF's order: content negotiation, the
//! [`Authenticator`](authentication::Authenticator) trait, the [`Policy`](policy::Policy)
//! (authentication → permissions → throttles), the view wrapper, request parsers, the audit
//! log and the throttles. Nothing here knows a particular authentication class: a policy finds
//! them by name through [`Classes`](authentication::Classes).

pub mod audit;
pub mod authentication;
pub mod guard;
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
