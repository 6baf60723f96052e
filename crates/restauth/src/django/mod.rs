//! Reading what a Django project stored, so its users, tokens and sessions can move to
//! restauth unchanged: Django's signing (`django.core.signing`), its session data and the
//! session auth hash, and which of Django's password hash formats restauth verifies.
//!
//! Everything here only reads and checks; nothing is written in Django's formats except by
//! [`signing::dumps`], which exists so tests can make data as Django makes it.

pub mod session;
pub mod signing;

/// The algorithm names of the `auth_user.password` formats restauth verifies: a password stored
/// in one of them is checked with Django's own algorithm.
pub const KNOWN_HASH_ALGORITHMS: &[&str] = &[
    "pbkdf2_sha256",
    "pbkdf2_sha1",
    "argon2",
    "bcrypt_sha256",
    "bcrypt",
    "scrypt",
    "md5",
];

/// What a stored Django password is, as far as an import is concerned.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum StoredPassword {
    /// A hash restauth verifies (and upgrades to Argon2id at the next login).
    Known,
    /// Django's unusable password (`!…`), or an empty one: no password login, as on Django.
    Unusable,
    /// A format restauth cannot verify; carries the algorithm name as stored (at most 32
    /// characters of it, for a report).
    Unknown(String),
}

/// Classifies an `auth_user.password` value by its algorithm name.
pub fn classify_password(encoded: &str) -> StoredPassword {
    if encoded.is_empty() || !crate::password::is_password_usable(encoded) {
        return StoredPassword::Unusable;
    }
    if let Some(phc) = encoded.strip_prefix('$') {
        // restauth's own Argon2 PHC strings.
        let variant = phc.split('$').next().unwrap_or("");
        if matches!(variant, "argon2id" | "argon2i" | "argon2d") {
            return StoredPassword::Known;
        }
    }
    match encoded.split_once('$') {
        Some((algorithm, _)) if KNOWN_HASH_ALGORITHMS.contains(&algorithm) => StoredPassword::Known,
        Some((algorithm, _)) => StoredPassword::Unknown(algorithm.chars().take(32).collect()),
        None => StoredPassword::Unknown("(no algorithm name)".into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn password_formats() {
        assert_eq!(
            classify_password("pbkdf2_sha256$1000000$salt$hash"),
            StoredPassword::Known
        );
        assert_eq!(
            classify_password("$argon2id$v=19$m=19456,t=2,p=1$c2FsdA$aGFzaA"),
            StoredPassword::Known
        );
        assert_eq!(classify_password("!Zq3…unusable"), StoredPassword::Unusable);
        assert_eq!(classify_password(""), StoredPassword::Unusable);
        assert_eq!(
            classify_password("sha512_custom$1$x"),
            StoredPassword::Unknown("sha512_custom".into())
        );
        assert_eq!(
            classify_password("plaintext"),
            StoredPassword::Unknown("(no algorithm name)".into())
        );
    }
}
