//! The core every other module builds on; it imports nothing above it: typed settings, the
//! one error type, the user, the clock, random keys and the metrics the library emits.

pub mod clock;
pub mod error;
pub(crate) mod hmac;
pub mod metrics;
pub(crate) mod random;
pub(crate) mod request;
pub mod settings;
pub(crate) mod throttled;
pub mod user;
pub mod user_id;
