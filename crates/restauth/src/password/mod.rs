//! TEMPORARY stand-in until the full hasher module lands.
#![allow(deprecated)]
mod pool;
pub mod validators;
pub use pool::HashPool;
pub use validators::{PasswordValidation, UserAttributes, validate_password};

use argon2::password_hash::{PasswordHash, PasswordHasher as _, PasswordVerifier};

pub const MAX_PASSWORD_BYTES: usize = 4096;

#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Argon2Params {
    pub memory_kib: u32,
    pub iterations: u32,
    pub parallelism: u32,
}
impl Default for Argon2Params {
    fn default() -> Self {
        Argon2Params {
            memory_kib: 19456,
            iterations: 2,
            parallelism: 1,
        }
    }
}
#[derive(Debug, thiserror::Error)]
#[error("invalid argon2 parameters: {0}")]
pub struct PasswordError(String);

#[derive(Clone)]
pub struct PasswordHasher {
    argon: argon2::Argon2<'static>,
    dummy: String,
}
pub enum Verification {
    Match { needs_rehash: bool },
    Mismatch,
}
impl PasswordHasher {
    pub fn new(p: Argon2Params) -> Result<Self, PasswordError> {
        let params = argon2::Params::new(p.memory_kib, p.iterations, p.parallelism, None)
            .map_err(|e| PasswordError(e.to_string()))?;
        let argon =
            argon2::Argon2::new(argon2::Algorithm::Argon2id, argon2::Version::V0x13, params);
        let mut h = PasswordHasher {
            argon,
            dummy: String::new(),
        };
        h.dummy = h.hash("dummy");
        Ok(h)
    }
    pub fn hash(&self, password: &str) -> String {
        self.argon
            .hash_password(password.as_bytes())
            .map(|h| h.to_string())
            .unwrap_or_default()
    }
    pub fn verify(&self, encoded: &str, password: &str) -> Verification {
        match PasswordHash::new(encoded) {
            Ok(h) if self.argon.verify_password(password.as_bytes(), &h).is_ok() => {
                Verification::Match {
                    needs_rehash: false,
                }
            }
            _ => Verification::Mismatch,
        }
    }
    pub fn dummy_verify(&self, password: &str) {
        let _ = self.verify(&self.dummy.clone(), password);
    }
}
pub fn make_unusable_password() -> String {
    "!unusable".into()
}
