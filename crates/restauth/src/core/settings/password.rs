//! `[password]` settings: the Argon2id cost of new hashes and Django's validators.

/// Argon2id cost parameters for new hashes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Argon2Params {
    /// Memory cost in KiB.
    pub memory_kib: u32,
    /// Number of passes.
    pub iterations: u32,
    /// Number of lanes.
    pub parallelism: u32,
}

impl Default for Argon2Params {
    /// OWASP's m=19 MiB, t=2, p=1.
    fn default() -> Self {
        Argon2Params {
            memory_kib: 19456,
            iterations: 2,
            parallelism: 1,
        }
    }
}

/// Which validators run, and their settings. Defaults are Django's `startproject` ones.
#[derive(Clone, Debug, serde::Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct PasswordValidation {
    /// Minimum length in characters (0 disables the check).
    pub min_length: usize,
    /// Refuse passwords made only of digits.
    pub numeric: bool,
    /// Refuse passwords on the common-password list.
    pub common: bool,
    /// Refuse passwords whose similarity to an attribute reaches this ratio; `None` disables.
    /// Django refuses values below 0.1, which would reject almost everything.
    pub max_similarity: Option<f64>,
}

impl Default for PasswordValidation {
    fn default() -> Self {
        PasswordValidation {
            min_length: 8,
            numeric: true,
            common: true,
            max_similarity: Some(0.7),
        }
    }
}
