//! Password hashing: Argon2id for new hashes, verification of Django's stored formats, and
//! Django's password validators.
//!
//! Everything here is synchronous and CPU-bound: callers run it on a blocking pool
//! ([`HashPool`]), never on the async workers.

#[cfg(feature = "django-hashers")]
pub(crate) mod django;
mod pool;
pub mod validators;

pub use crate::core::settings::password::Argon2Params;
pub use pool::HashPool;
pub use validators::{UserAttributes, validate_password};

use std::sync::{Arc, Mutex};

use argon2::{Algorithm, Argon2, Block, Version};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD_NO_PAD;
use subtle::ConstantTimeEq;

/// Longest password accepted, in bytes. Callers reject longer input before hashing; `verify`
/// also treats it as a mismatch.
pub const MAX_PASSWORD_BYTES: usize = 4096;

/// Prefix of an unusable password (Django's `UNUSABLE_PASSWORD_PREFIX`).
const UNUSABLE_PREFIX: char = '!';
/// Length of the random part of an unusable password.
const UNUSABLE_SUFFIX_LENGTH: usize = 40;

/// Salt and tag lengths of the hashes we create.
const SALT_BYTES: usize = 16;
const TAG_BYTES: usize = 32;

/// Bounds on an argon2 hash found in the database whose parameters are not the configured ones,
/// so a tampered row cannot make one login allocate gigabytes or run for minutes.
const MAX_FOREIGN_ARGON2_MEMORY_KIB: u32 = 256 * 1024;
const MAX_FOREIGN_ARGON2_ITERATIONS: u32 = 16;
const MAX_FOREIGN_ARGON2_PARALLELISM: u32 = 64;
/// Memory × passes bound (KiB): ten times Django's default of 100 MiB × 2 passes.
const MAX_FOREIGN_ARGON2_WORK: u64 = 2_048_000;
/// Salt and tag lengths accepted when verifying.
const MIN_SALT_BYTES: usize = 8;
const MAX_SALT_BYTES: usize = 64;
const MIN_TAG_BYTES: usize = 4;
const MAX_TAG_BYTES: usize = 64;

/// The configured Argon2 parameters are not usable.
#[derive(Debug, thiserror::Error)]
#[error("invalid argon2 parameters: {0}")]
pub struct PasswordError(String);

/// Result of checking a password against a stored hash.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Verification {
    /// The password is right. `needs_rehash`: the stored hash is not an Argon2id hash with the
    /// current parameters and should be replaced by `hash(password)`.
    Match { needs_rehash: bool },
    /// Wrong password, or a hash that is unusable, unknown, malformed or over the cost limits.
    Mismatch,
}

/// Argon2 working memory, reused across hashes.
///
/// Each hash needs `memory_kib` of blocks (19 MiB by default). Allocated and freed on the
/// blocking pool's threads, those blocks pile up in the C allocator's per-thread arenas
/// (hundreds of MiB under a login flood); a few kept buffers bound memory to roughly
/// hashing concurrency × `memory_kib`.
#[derive(Clone, Default)]
struct Scratch(Arc<Mutex<Vec<Vec<Block>>>>);

/// Buffers kept for reuse; more concurrent hashes allocate and free their own.
const KEPT_BUFFERS: usize = 8;

impl std::fmt::Debug for Scratch {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Scratch")
    }
}

impl Scratch {
    /// Runs `f` with `blocks` blocks of memory; buffers up to `keep_up_to` blocks go back to
    /// the pool (larger ones, for foreign parameters, are freed).
    fn with<R>(&self, blocks: usize, keep_up_to: usize, f: impl FnOnce(&mut [Block]) -> R) -> R {
        let mut buf = self
            .0
            .lock()
            .ok()
            .and_then(|mut kept| kept.pop())
            .unwrap_or_default();
        if buf.len() < blocks {
            buf.resize(blocks, Block::default());
        }
        let result = f(&mut buf[..blocks]);
        if buf.len() <= keep_up_to
            && let Ok(mut kept) = self.0.lock()
            && kept.len() < KEPT_BUFFERS
        {
            kept.push(buf);
        }
        result
    }
}

/// Hashes new passwords with Argon2id and verifies stored hashes (ours and Django's).
#[derive(Clone, Debug)]
pub struct PasswordHasher {
    current: Argon2Params,
    params: argon2::Params,
    scratch: Scratch,
    /// A real hash with the current parameters, verified against when there is nothing to verify
    /// (unknown user, unusable or unreadable hash) so that those cost the same time.
    dummy: Argon2Hash,
    /// Over Django's tables: the project's `PASSWORD_HASHERS`, the first making new hashes,
    /// and a hash of it to verify against when there is nothing to verify (the cost an
    /// unknown user must also cost).
    #[cfg(feature = "django-hashers")]
    django: Option<DjangoMode>,
}

#[cfg(feature = "django-hashers")]
#[derive(Clone, Debug)]
struct DjangoMode {
    hashers: Vec<django::DjangoHasher>,
    dummy: String,
}

impl PasswordHasher {
    /// Checks the parameters and computes the dummy hash (one hash's worth of time).
    pub fn new(current: Argon2Params) -> Result<Self, PasswordError> {
        let params = argon2::Params::new(
            current.memory_kib,
            current.iterations,
            current.parallelism,
            Some(TAG_BYTES),
        )
        .map_err(|e| PasswordError(e.to_string()))?;
        let salt = crate::core::random::bytes::<SALT_BYTES>();
        let mut tag = [0u8; TAG_BYTES];
        Argon2::new(Algorithm::Argon2id, Version::V0x13, params.clone())
            .hash_password_into(b"dummy password", &salt, &mut tag)
            .map_err(|e| PasswordError(e.to_string()))?;
        let dummy = Argon2Hash {
            algorithm: Algorithm::Argon2id,
            version: Version::V0x13,
            params: current,
            salt: salt.to_vec(),
            tag: tag.to_vec(),
        };
        Ok(PasswordHasher {
            current,
            params,
            dummy,
            scratch: Scratch::default(),
            #[cfg(feature = "django-hashers")]
            django: None,
        })
    }

    /// A hasher for a store over Django's own tables, as the project's `PASSWORD_HASHERS`
    /// (`hashers`, dotted paths, Django `version`'s parameters; PBKDF2 at `pbkdf2_iterations`
    /// when given) hash and judge: new hashes in the first one's format, a stored hash
    /// rewritten exactly when Django's `verify_password` would rewrite it, a format not in the
    /// list refused as Django refuses it. Unknown users and unusable hashes cost one
    /// verification of the first hasher's.
    #[cfg(feature = "django-hashers")]
    pub fn django(
        current: Argon2Params,
        hashers: &[String],
        version: &str,
        pbkdf2_iterations: Option<u32>,
    ) -> Result<Self, PasswordError> {
        if pbkdf2_iterations == Some(0) {
            return Err(PasswordError("pbkdf2 iterations must be positive".into()));
        }
        let hashers = hashers
            .iter()
            .map(|path| django::DjangoHasher::from_path(path, version, pbkdf2_iterations))
            .collect::<Result<Vec<_>, String>>()
            .map_err(PasswordError)?;
        let Some(first) = hashers.first() else {
            return Err(PasswordError(
                "django.password_hashers: name at least one hasher".into(),
            ));
        };
        if !first.can_encode() {
            return Err(PasswordError(format!(
                "django.password_hashers: the first hasher makes every new hash, and {} is \
                 too weak for that",
                first.algorithm()
            )));
        }
        let dummy = first.encode("dummy password");
        let mut hasher = PasswordHasher::new(current)?;
        hasher.django = Some(DjangoMode { hashers, dummy });
        Ok(hasher)
    }

    /// The parameters new hashes are made with.
    pub fn params(&self) -> Argon2Params {
        self.current
    }

    /// Hashes `password` into a PHC string
    /// `$argon2id$v=19$m=19456,t=2,p=1$<salt>$<tag>` (16-byte random salt, 32-byte tag).
    ///
    /// Callers reject passwords over [`MAX_PASSWORD_BYTES`] first; a password Argon2 itself
    /// refuses (over 4 GiB) yields an unusable password rather than a panic.
    pub fn hash(&self, password: &str) -> String {
        #[cfg(feature = "django-hashers")]
        if let Some(mode) = &self.django
            && let Some(first) = mode.hashers.first()
        {
            return first.encode(password);
        }
        let salt = crate::core::random::bytes::<SALT_BYTES>();
        let mut tag = [0u8; TAG_BYTES];
        let argon = Argon2::new(Algorithm::Argon2id, Version::V0x13, self.params.clone());
        let blocks = self.params.block_count();
        let hashed = self.scratch.with(blocks, blocks, |memory| {
            argon.hash_password_into_with_memory(password.as_bytes(), &salt, &mut tag, memory)
        });
        match hashed {
            Ok(()) => format!(
                "$argon2id$v=19$m={},t={},p={}${}${}",
                self.current.memory_kib,
                self.current.iterations,
                self.current.parallelism,
                STANDARD_NO_PAD.encode(salt),
                STANDARD_NO_PAD.encode(tag),
            ),
            Err(_) => make_unusable_password(),
        }
    }

    /// Checks `password` against a stored hash: our PHC Argon2 strings, or Django's
    /// `pbkdf2_sha256`, `pbkdf2_sha1`, `argon2`, `bcrypt_sha256`, `bcrypt`, `scrypt` and `md5`
    /// formats (each of which needs a rehash when it matches). Never panics; anything it cannot
    /// verify spends the time of [`dummy_verify`](Self::dummy_verify) and is a mismatch.
    pub fn verify(&self, encoded: &str, password: &str) -> Verification {
        let checked = if password.len() > MAX_PASSWORD_BYTES || !is_password_usable(encoded) {
            None
        } else if self.is_django() {
            self.verify_as_django(encoded, password)
        } else if encoded.starts_with('$') {
            self.verify_phc(encoded, password)
        } else {
            verify_django(encoded, password)
        };
        match checked {
            Some((true, needs_rehash)) => Verification::Match { needs_rehash },
            Some((false, _)) => Verification::Mismatch,
            None => {
                self.dummy_verify(password);
                Verification::Mismatch
            }
        }
    }

    /// Spends the time of verifying `password` against a real hash with the current parameters.
    /// For unknown users and unusable passwords, so that they cannot be told apart by timing.
    pub fn dummy_verify(&self, password: &str) {
        #[cfg(feature = "django-hashers")]
        if let Some(mode) = &self.django {
            std::hint::black_box(django::verify(&mode.dummy, password));
            return;
        }
        std::hint::black_box(self.dummy.verify(
            password.as_bytes(),
            &self.scratch,
            self.params.block_count(),
        ));
    }

    /// Whether it hashes as a Django project does (over Django's tables).
    fn is_django(&self) -> bool {
        #[cfg(feature = "django-hashers")]
        return self.django.is_some();
        #[cfg(not(feature = "django-hashers"))]
        false
    }

    /// Django's `verify_password`: a format the project's hashers do not name is refused
    /// (`identify_hasher` fails); a match needs a rewrite when its algorithm is not the first
    /// hasher's, or the first hasher's `must_update` says so.
    fn verify_as_django(&self, encoded: &str, password: &str) -> Option<(bool, bool)> {
        #[cfg(feature = "django-hashers")]
        if let Some(mode) = &self.django {
            let algorithm = encoded.split_once('$')?.0;
            mode.hashers.iter().find(|h| h.algorithm() == algorithm)?;
            let preferred = mode.hashers.first()?;
            let matched = django::verify(encoded, password)?;
            let rewrite = preferred.algorithm() != algorithm || preferred.must_update(encoded);
            return Some((matched, rewrite));
        }
        let _ = (encoded, password);
        None
    }

    /// Our own format. `Some((matched, needs_rehash))`, or `None` when unverifiable.
    fn verify_phc(&self, encoded: &str, password: &str) -> Option<(bool, bool)> {
        let hash = Argon2Hash::parse(encoded)?;
        let current = hash.params == self.current;
        if !current && !hash.within_foreign_limits() {
            return None;
        }
        let matched = hash.verify(
            password.as_bytes(),
            &self.scratch,
            self.params.block_count(),
        )?;
        let needs_rehash = !current
            || hash.algorithm != Algorithm::Argon2id
            || hash.version != Version::V0x13
            || hash.salt.len() != SALT_BYTES
            || hash.tag.len() != TAG_BYTES;
        Some((matched, needs_rehash))
    }
}

/// Django's unusable password: `!` and 40 random characters from `[a-zA-Z0-9]`.
pub fn make_unusable_password() -> String {
    let mut out = String::with_capacity(1 + UNUSABLE_SUFFIX_LENGTH);
    out.push(UNUSABLE_PREFIX);
    out.push_str(&random_alphanumeric(UNUSABLE_SUFFIX_LENGTH));
    out
}

/// False for an unusable password (one starting with `!`), as Django's `is_password_usable`.
pub fn is_password_usable(encoded: &str) -> bool {
    !encoded.starts_with(UNUSABLE_PREFIX)
}

fn random_alphanumeric(len: usize) -> String {
    crate::core::random::string(crate::core::random::ALPHANUMERIC, len)
}

/// A parsed Argon2 PHC string (`$argon2id$v=19$m=…,t=…,p=…$<salt>$<tag>`).
#[derive(Clone, Debug)]
struct Argon2Hash {
    algorithm: Algorithm,
    version: Version,
    params: Argon2Params,
    salt: Vec<u8>,
    tag: Vec<u8>,
}

impl Argon2Hash {
    /// Strict parse: known variant, optional `v=16`/`v=19` (absent means 16, as in the
    /// reference implementation), parameters exactly `m=,t=,p=` in that order, unpadded
    /// standard base64 salt and tag of sane lengths.
    fn parse(encoded: &str) -> Option<Self> {
        let rest = encoded.strip_prefix('$')?;
        let fields: Vec<&str> = rest.splitn(6, '$').collect();
        let (algorithm, version, params, salt, tag) = match fields.as_slice() {
            [a, v, p, s, t] => (*a, parse_version(v)?, *p, *s, *t),
            [a, p, s, t] => (*a, Version::V0x10, *p, *s, *t),
            _ => return None,
        };
        let algorithm = match algorithm {
            "argon2id" => Algorithm::Argon2id,
            "argon2i" => Algorithm::Argon2i,
            "argon2d" => Algorithm::Argon2d,
            _ => return None,
        };
        let salt = STANDARD_NO_PAD.decode(salt).ok()?;
        let tag = STANDARD_NO_PAD.decode(tag).ok()?;
        if !(MIN_SALT_BYTES..=MAX_SALT_BYTES).contains(&salt.len())
            || !(MIN_TAG_BYTES..=MAX_TAG_BYTES).contains(&tag.len())
        {
            return None;
        }
        Some(Argon2Hash {
            algorithm,
            version,
            params: parse_argon2_params(params)?,
            salt,
            tag,
        })
    }

    /// Whether a hash not made with the current parameters is cheap enough to verify.
    fn within_foreign_limits(&self) -> bool {
        let p = self.params;
        p.memory_kib <= MAX_FOREIGN_ARGON2_MEMORY_KIB
            && p.iterations <= MAX_FOREIGN_ARGON2_ITERATIONS
            && p.parallelism <= MAX_FOREIGN_ARGON2_PARALLELISM
            && u64::from(p.memory_kib) * u64::from(p.iterations) <= MAX_FOREIGN_ARGON2_WORK
    }

    /// Recomputes the tag for `password`; `None` if the parameters are invalid for Argon2.
    /// Working memory comes from `scratch`, kept for reuse when at most `keep_up_to` blocks.
    fn verify(&self, password: &[u8], scratch: &Scratch, keep_up_to: usize) -> Option<bool> {
        let p = self.params;
        let params = argon2::Params::new(
            p.memory_kib,
            p.iterations,
            p.parallelism,
            Some(self.tag.len()),
        )
        .ok()?;
        let mut out = vec![0u8; self.tag.len()];
        let blocks = params.block_count();
        let argon = Argon2::new(self.algorithm, self.version, params);
        scratch
            .with(blocks, keep_up_to, |memory| {
                argon.hash_password_into_with_memory(password, &self.salt, &mut out, memory)
            })
            .ok()?;
        Some(out.ct_eq(&self.tag).into())
    }
}

fn parse_version(field: &str) -> Option<Version> {
    match field {
        "v=19" => Some(Version::V0x13),
        "v=16" => Some(Version::V0x10),
        _ => None,
    }
}

/// `m=<u32>,t=<u32>,p=<u32>`.
fn parse_argon2_params(field: &str) -> Option<Argon2Params> {
    let mut parts = field.split(',');
    let memory_kib = parse_decimal(parts.next()?.strip_prefix("m=")?)?;
    let iterations = parse_decimal(parts.next()?.strip_prefix("t=")?)?;
    let parallelism = parse_decimal(parts.next()?.strip_prefix("p=")?)?;
    if parts.next().is_some() {
        return None;
    }
    Some(Argon2Params {
        memory_kib,
        iterations,
        parallelism,
    })
}

/// A canonical decimal `u32`: ASCII digits only, no sign, no leading zero.
fn parse_decimal(s: &str) -> Option<u32> {
    let canonical =
        !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()) && (s == "0" || !s.starts_with('0'));
    if canonical { s.parse().ok() } else { None }
}

/// Django's formats, each needing a rehash when it matches; `None` when the format is unknown
/// (or this build verifies none of Django's).
fn verify_django(encoded: &str, password: &str) -> Option<(bool, bool)> {
    #[cfg(feature = "django-hashers")]
    return django::verify(encoded, password).map(|ok| (ok, true));
    #[cfg(not(feature = "django-hashers"))]
    {
        let _ = (encoded, password);
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Cheap parameters for tests that do not depend on the cost.
    const FAST: Argon2Params = Argon2Params {
        memory_kib: 1024,
        iterations: 1,
        parallelism: 1,
    };

    fn fast() -> PasswordHasher {
        PasswordHasher::new(FAST).unwrap()
    }

    fn matches(v: Verification) -> bool {
        matches!(v, Verification::Match { .. })
    }

    /// Django's default list (Django 5.2), PBKDF2 at `iterations`.
    #[cfg(feature = "django-hashers")]
    fn django_hashers(first: &str, iterations: Option<u32>) -> PasswordHasher {
        let mut list: Vec<String> = [
            "PBKDF2PasswordHasher",
            "PBKDF2SHA1PasswordHasher",
            "Argon2PasswordHasher",
            "BCryptSHA256PasswordHasher",
            "ScryptPasswordHasher",
        ]
        .iter()
        .map(|c| format!("django.contrib.auth.hashers.{c}"))
        .collect();
        let at = list.iter().position(|p| p.ends_with(first)).unwrap();
        let first = list.remove(at);
        list.insert(0, first);
        PasswordHasher::django(FAST, &list, "5.2", iterations).unwrap()
    }

    /// Over Django's tables: the first hasher's format, never restauth's Argon2id, and
    /// Django's rewrite rule.
    #[cfg(feature = "django-hashers")]
    #[test]
    fn django_schema_hashes_with_the_projects_first_hasher() {
        let hasher = django_hashers("PBKDF2PasswordHasher", Some(1000));
        let hash = hasher.hash("s3cret pass");
        let fields: Vec<&str> = hash.split('$').collect();
        assert_eq!(fields[..2], ["pbkdf2_sha256", "1000"]);
        assert_eq!(fields[2].len(), 22);
        assert!(fields[2].bytes().all(|b| b.is_ascii_alphanumeric()));
        let kept = Verification::Match {
            needs_rehash: false,
        };
        let rewritten = Verification::Match { needs_rehash: true };
        assert_eq!(hasher.verify(&hash, "s3cret pass"), kept);
        assert_eq!(hasher.verify(&hash, "wrong"), Verification::Mismatch);
        // Other iterations become the first hasher's at the next login, as on Django.
        let older = django_hashers("PBKDF2PasswordHasher", Some(999)).hash("s3cret pass");
        assert_eq!(hasher.verify(&older, "s3cret pass"), rewritten);
        // restauth's own Argon2id is no format of Django's: refused, as identify_hasher does.
        let ours = fast().hash("s3cret pass");
        assert_eq!(hasher.verify(&ours, "s3cret pass"), Verification::Mismatch);
        assert!(PasswordHasher::django(FAST, &[], "5.2", None).is_err());
        let err = PasswordHasher::django(FAST, &["myapp.hashers.Mine".into()], "5.2", None)
            .unwrap_err()
            .to_string();
        assert!(err.contains("django.password_hashers"), "{err}");
        let md5 = ["django.contrib.auth.hashers.MD5PasswordHasher".to_owned()];
        assert!(PasswordHasher::django(FAST, &md5, "5.2", None).is_err());
        assert!(PasswordHasher::django(FAST, &md5[..0], "4.1", None).is_err());
    }

    /// Argon2 first (Django's recommendation): hashes in Django's own `argon2$argon2id$…`
    /// with its parameters, kept as they are at login, and other formats rewritten.
    #[cfg(feature = "django-hashers")]
    #[test]
    fn django_argon2_first_keeps_djangos_argon2() {
        let hasher = django_hashers("Argon2PasswordHasher", None);
        let hash = hasher.hash("s3cret pass");
        assert!(
            hash.starts_with("argon2$argon2id$v=19$m=102400,t=2,p=8$"),
            "{hash}"
        );
        let kept = Verification::Match {
            needs_rehash: false,
        };
        let rewritten = Verification::Match { needs_rehash: true };
        assert_eq!(hasher.verify(&hash, "s3cret pass"), kept);
        assert_eq!(hasher.verify(&hash, "wrong"), Verification::Mismatch);
        // Django 5.2's PBKDF2 under Argon2-first: rewritten into Argon2, as Django does.
        let pbkdf2 = django_hashers("PBKDF2PasswordHasher", Some(1000)).hash("s3cret pass");
        assert_eq!(hasher.verify(&pbkdf2, "s3cret pass"), rewritten);
        // argon2-cffi's older defaults (Django < 4.0: m=512, t=2, p=2) are rewritten too.
        let old = "argon2$argon2id$v=19$m=512,t=2,p=2$c29tZXNhbHQ$\
                   e8IMntoTTjZ4pqhWfrc3ZJ4YOqBNSZ3zJB5qC4T8h9Q";
        assert!(matches!(
            hasher.verify(old, "s3cret pass"),
            Verification::Mismatch | Verification::Match { needs_rehash: true }
        ));
        for first in [
            "BCryptSHA256PasswordHasher",
            "ScryptPasswordHasher",
            "PBKDF2SHA1PasswordHasher",
        ] {
            let h = django_hashers(first, Some(1000));
            let made = h.hash("s3cret pass");
            assert_eq!(h.verify(&made, "s3cret pass"), kept, "{first}: {made}");
            assert_eq!(h.verify(&made, "wrong"), Verification::Mismatch, "{first}");
            // The default list still verifies it, and rewrites it into PBKDF2.
            let default = django_hashers("PBKDF2PasswordHasher", Some(1000));
            assert_eq!(default.verify(&made, "s3cret pass"), rewritten, "{first}");
        }
    }

    #[test]
    fn default_params_are_owasp() {
        let p = Argon2Params::default();
        assert_eq!((p.memory_kib, p.iterations, p.parallelism), (19456, 2, 1));
    }

    #[test]
    fn params_deserialize_with_defaults_and_reject_unknown_fields() {
        let p: Argon2Params = serde_json::from_str(r#"{"memory_kib": 65536}"#).unwrap();
        assert_eq!(
            p,
            Argon2Params {
                memory_kib: 65536,
                iterations: 2,
                parallelism: 1
            }
        );
        assert!(serde_json::from_str::<Argon2Params>(r#"{"memory": 1}"#).is_err());
    }

    #[test]
    fn invalid_params_are_refused() {
        for bad in [
            Argon2Params {
                memory_kib: 0,
                ..Argon2Params::default()
            },
            Argon2Params {
                iterations: 0,
                ..Argon2Params::default()
            },
            Argon2Params {
                parallelism: 0,
                ..Argon2Params::default()
            },
        ] {
            let err = PasswordHasher::new(bad).unwrap_err();
            assert!(err.to_string().starts_with("invalid argon2 parameters"));
        }
    }

    #[test]
    fn hash_has_the_phc_shape_and_verifies() {
        let hasher = PasswordHasher::new(Argon2Params::default()).unwrap();
        let encoded = hasher.hash("correct horse battery staple");
        let rest = encoded
            .strip_prefix("$argon2id$v=19$m=19456,t=2,p=1$")
            .unwrap();
        let (salt, tag) = rest.split_once('$').unwrap();
        assert_eq!(STANDARD_NO_PAD.decode(salt).unwrap().len(), 16);
        assert_eq!(STANDARD_NO_PAD.decode(tag).unwrap().len(), 32);
        assert_eq!(
            hasher.verify(&encoded, "correct horse battery staple"),
            Verification::Match {
                needs_rehash: false
            }
        );
        assert_eq!(
            hasher.verify(&encoded, "correct horse battery stapler"),
            Verification::Mismatch
        );
    }

    #[test]
    fn our_hash_is_a_standard_phc_string() {
        // The argon2 crate's own PHC verifier accepts what we write.
        use argon2::password_hash::PasswordVerifier;
        let hasher = fast();
        let encoded = hasher.hash("lètmein");
        let argon = Argon2::default();
        assert!(
            argon
                .verify_password(b"l\xc3\xa8tmein", encoded.as_str())
                .is_ok()
        );
        assert!(argon.verify_password(b"letmein", encoded.as_str()).is_err());
    }

    #[test]
    fn salts_differ_between_two_hashes_of_one_password() {
        let hasher = fast();
        let a = hasher.hash("same");
        let b = hasher.hash("same");
        assert_ne!(a, b);
        assert_ne!(a.split('$').nth(4), b.split('$').nth(4));
        assert!(matches(hasher.verify(&a, "same")));
        assert!(matches(hasher.verify(&b, "same")));
    }

    #[test]
    fn round_trips_unusual_passwords() {
        let hasher = fast();
        let long: String = "é".repeat(512); // 1024 bytes
        let long_other = format!("{}x", &long[..long.len() - 2]);
        let cases = [
            ("🔐 pass 🦀", "🔐 pass 🦁"),
            ("nul\0byte", "nul\0bytf"),
            ("nul\0", "nul"),
            ("", " "),
            (long.as_str(), long_other.as_str()),
        ];
        for (password, other) in cases {
            let encoded = hasher.hash(password);
            assert_eq!(
                hasher.verify(&encoded, password),
                Verification::Match {
                    needs_rehash: false
                },
                "{password:?}"
            );
            assert_eq!(
                hasher.verify(&encoded, other),
                Verification::Mismatch,
                "{other:?}"
            );
        }
    }

    #[test]
    fn no_truncation_past_72_bytes() {
        let hasher = fast();
        let base = "a".repeat(80);
        let encoded = hasher.hash(&format!("{base}1"));
        assert!(matches(hasher.verify(&encoded, &format!("{base}1"))));
        assert_eq!(
            hasher.verify(&encoded, &format!("{base}2")),
            Verification::Mismatch
        );
    }

    #[test]
    fn needs_rehash_when_params_change() {
        let old = fast();
        let encoded = old.hash("pw");
        let new = PasswordHasher::new(Argon2Params {
            memory_kib: 2048,
            ..FAST
        })
        .unwrap();
        assert_eq!(
            new.verify(&encoded, "pw"),
            Verification::Match { needs_rehash: true }
        );
        assert_eq!(new.verify(&encoded, "pW"), Verification::Mismatch);
        assert_eq!(
            old.verify(&encoded, "pw"),
            Verification::Match {
                needs_rehash: false
            }
        );
    }

    #[test]
    fn other_argon2_variants_verify_and_need_rehash() {
        // Same password, salt and params as Django's vector, written as a bare PHC string.
        let hasher = fast();
        let encoded = "$argon2id$v=19$m=102400,t=2,p=8$YWJjZGVmZ2hpamtsbW5vcHFyc3R1dg$ffi3k8Fa5DDsIknJPF90lsUcithbK0BVd+dp3622GeY";
        assert_eq!(
            hasher.verify(encoded, "lètmein"),
            Verification::Match { needs_rehash: true }
        );
        // An argon2i hash of ours, re-labelled, no longer verifies as argon2id.
        let ours = hasher.hash("x");
        let relabelled = ours.replacen("$argon2id$", "$argon2i$", 1);
        assert_eq!(hasher.verify(&relabelled, "x"), Verification::Mismatch);
    }

    #[test]
    fn argon2i_and_version_16_are_understood() {
        let salt = b"somesaltsomesalt";
        for (algorithm, version, name, v) in [
            (Algorithm::Argon2i, Version::V0x13, "argon2i", "v=19$"),
            (Algorithm::Argon2id, Version::V0x10, "argon2id", ""),
            (Algorithm::Argon2d, Version::V0x10, "argon2d", "v=16$"),
        ] {
            let params = argon2::Params::new(1024, 1, 1, Some(32)).unwrap();
            let mut tag = [0u8; 32];
            Argon2::new(algorithm, version, params)
                .hash_password_into(b"pw", salt, &mut tag)
                .unwrap();
            let encoded = format!(
                "${name}${v}m=1024,t=1,p=1${}${}",
                STANDARD_NO_PAD.encode(salt),
                STANDARD_NO_PAD.encode(tag)
            );
            assert_eq!(
                fast().verify(&encoded, "pw"),
                Verification::Match { needs_rehash: true },
                "{encoded}"
            );
            assert_eq!(fast().verify(&encoded, "pv"), Verification::Mismatch);
        }
    }

    #[test]
    fn malformed_phc_strings_are_mismatches() {
        let hasher = fast();
        let good = hasher.hash("pw");
        let (head, tag) = good.rsplit_once('$').unwrap();
        let cases = [
            String::new(),
            "$".into(),
            "$argon2id".into(),
            "$argon2id$v=19$m=1024,t=1,p=1$c2FsdHNhbHQ".into(),
            format!("{good}$extra"),
            good.replacen("$argon2id$", "$argon2x$", 1),
            good.replacen("v=19", "v=20", 1),
            good.replacen("m=1024,t=1,p=1", "t=1,m=1024,p=1", 1),
            good.replacen("m=1024,t=1,p=1", "m=1024,t=1", 1),
            good.replacen("m=1024,t=1,p=1", "m=1024,t=1,p=1,keyid=abc", 1),
            good.replacen("m=1024", "m=01024", 1),
            good.replacen("m=1024", "m=+1024", 1),
            good.replacen("m=1024", "m=99999999999", 1),
            good.replacen("t=1", "t=0", 1),
            good.replacen("p=1", "p=0", 1),
            format!("{head}${tag}="),
            format!("{head}$*{}", &tag[1..]),
            format!("{head}$"),
            format!("{head}$AAAA"),
            good.to_uppercase(),
        ];
        for case in &cases {
            assert_eq!(hasher.verify(case, "pw"), Verification::Mismatch, "{case}");
        }
    }

    #[test]
    fn foreign_argon2_hashes_over_the_limits_are_not_computed() {
        let hasher = fast();
        for params in [
            "m=4194304,t=1,p=1",
            "m=1024,t=100000,p=1",
            "m=262144,t=16,p=1",
            "m=4294967295,t=4294967295,p=16777215",
        ] {
            let encoded = format!(
                "$argon2id$v=19${params}$YWJjZGVmZ2hpamtsbW5vcHFyc3R1dg$ffi3k8Fa5DDsIknJPF90lsUcithbK0BVd+dp3622GeY"
            );
            let start = std::time::Instant::now();
            assert_eq!(hasher.verify(&encoded, "pw"), Verification::Mismatch);
            assert!(start.elapsed() < std::time::Duration::from_secs(2));
        }
    }

    #[test]
    fn unusable_passwords() {
        let a = make_unusable_password();
        let b = make_unusable_password();
        assert_ne!(a, b);
        for u in [&a, &b] {
            assert_eq!(u.len(), 41);
            assert!(u.starts_with('!'));
            assert!(u[1..].bytes().all(|c| c.is_ascii_alphanumeric()));
            assert!(!is_password_usable(u));
            assert_eq!(fast().verify(u, ""), Verification::Mismatch);
            assert_eq!(fast().verify(u, u), Verification::Mismatch);
        }
        assert!(!is_password_usable("!"));
        // A usable-looking hash that merely starts with `!` is still unusable.
        let hasher = fast();
        let real = hasher.hash("pw");
        assert_eq!(
            hasher.verify(&format!("!{real}"), "pw"),
            Verification::Mismatch
        );
        assert!(is_password_usable(&real));
        assert!(is_password_usable(""));
    }

    #[test]
    fn over_long_passwords_never_match() {
        let hasher = fast();
        let long = "x".repeat(MAX_PASSWORD_BYTES + 1);
        let encoded = hasher.hash(&long);
        assert_eq!(hasher.verify(&encoded, &long), Verification::Mismatch);
        let limit = "x".repeat(MAX_PASSWORD_BYTES);
        let encoded = hasher.hash(&limit);
        assert!(matches(hasher.verify(&encoded, &limit)));
    }

    #[test]
    fn hasher_is_send_sync_clone() {
        fn check<T: Send + Sync + Clone + 'static>() {}
        check::<PasswordHasher>();
        assert_eq!(fast().params(), FAST);
    }

    #[test]
    fn random_alphanumeric_uses_the_whole_alphabet() {
        let s = random_alphanumeric(4000);
        assert_eq!(s.len(), 4000);
        for c in crate::core::random::ALPHANUMERIC {
            assert!(s.as_bytes().contains(c), "{}", char::from(*c));
        }
    }
}
