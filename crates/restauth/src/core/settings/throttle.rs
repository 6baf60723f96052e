//! The names of DRF's throttle classes and of the built-in scopes (logins, mail and sign-up),
//! as settings spell them.

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

/// The scopes of the endpoints that send mail or create accounts, and their default rates.
/// Each counts every request, whether or not an account exists, so that a refusal tells
/// nothing about accounts.
pub(crate) const ACCOUNT_SCOPES: [(&str, &str); 4] = [
    // Password reset requests per client network.
    ("reset_password_ip", "10/hour"),
    // Password reset requests per target address (normalised).
    ("reset_password_email", "3/hour"),
    // Activation mails asked for again, per target address (normalised).
    ("activation_resend", "3/hour"),
    // Registrations per client network.
    ("registration_ip", "10/hour"),
];
