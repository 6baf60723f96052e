//! The names of DRF's throttle classes and of the login scopes, as settings spell them.

use serde::Deserialize;

/// The names of `default_throttle_classes`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ThrottleClass {
    /// Anonymous requests, by client address (scope `anon`).
    #[serde(alias = "AnonRateThrottle")]
    Anon,
    /// Every request, by user id, or by client address when anonymous (scope `user`).
    #[serde(alias = "UserRateThrottle")]
    User,
    /// The route's own scope, by user id or client address; routes without a scope are free.
    #[serde(alias = "ScopedRateThrottle")]
    Scoped,
}

/// The scopes every password check goes through, and their default rates. A rate key that
/// starts with `login_` must be one of these.
pub(crate) const LOGIN_SCOPES: [(&str, &str); 3] = [
    ("login_user_ip", "10/min"),
    ("login_user", "30/hour"),
    ("login_ip", "30/min"),
];
