//! The hash formats Django stores in `auth_user.password`: verified everywhere, and, over a
//! Django project's own tables, made and judged as that project's `PASSWORD_HASHERS` make and
//! judge them ([`DjangoHasher`]), so that a login on either stack never rewrites the other's
//! hash.
//!
//! Each verifier returns `Some(matched)`, or `None` when the string is not a well-formed hash of
//! its kind or its cost is over our limits (a tampered row must not become a CPU or memory bomb).
//! Comparisons are constant-time.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use sha1::Sha1;
use sha2::{Digest as _, Sha256};
use subtle::ConstantTimeEq;

use super::{Argon2Hash, parse_decimal};

/// PBKDF2 iteration bound (Django 6.0 uses 1,200,000).
const MAX_PBKDF2_ITERATIONS: u32 = 10_000_000;
/// bcrypt cost bounds (Django uses 12; each step doubles the time).
const MIN_BCRYPT_COST: u32 = 4;
const MAX_BCRYPT_COST: u32 = 16;
/// bcrypt reads at most 72 bytes of password.
const MAX_BCRYPT_PASSWORD_BYTES: usize = 72;
/// scrypt bounds: N up to 2^20, memory 128·N·r up to 256 MiB, work N·r·p up to 2^24
/// (Django's default N=2^14, r=8, p=5 is 655,360).
const MAX_SCRYPT_LOG_N: u32 = 20;
const MAX_SCRYPT_R: u32 = 32;
const MAX_SCRYPT_P: u32 = 64;
const MAX_SCRYPT_MEMORY: u64 = 256 * 1024 * 1024;
const MAX_SCRYPT_WORK: u64 = 1 << 24;
/// Django's scrypt key length.
const SCRYPT_DKLEN: usize = 64;

/// Verifies `password` against a Django-format hash, dispatching on the algorithm name before
/// the first `$`. `None`: unknown algorithm, malformed, or over the limits.
pub(crate) fn verify(encoded: &str, password: &str) -> Option<bool> {
    let (algorithm, _) = encoded.split_once('$')?;
    let password = password.as_bytes();
    match algorithm {
        "pbkdf2_sha256" => pbkdf2::<Sha256>(encoded, password, 32),
        "pbkdf2_sha1" => pbkdf2::<Sha1>(encoded, password, 20),
        "argon2" => argon2(encoded, password),
        "bcrypt_sha256" => bcrypt_sha256(encoded, password),
        "bcrypt" => bcrypt(encoded, password),
        "scrypt" => scrypt(encoded, password),
        "md5" => md5(encoded, password),
        _ => None,
    }
}

/// Splits into exactly `N` `$`-separated fields.
fn fields<const N: usize>(encoded: &str) -> Option<[&str; N]> {
    let mut parts = encoded.splitn(N + 1, '$');
    let mut out = [""; N];
    for slot in &mut out {
        *slot = parts.next()?;
    }
    if parts.next().is_some() {
        return None;
    }
    Some(out)
}

/// A salt as Django writes it: non-empty (it cannot contain `$` once split).
fn salt(s: &str) -> Option<&[u8]> {
    (!s.is_empty()).then_some(s.as_bytes())
}

/// Standard padded base64 that decodes to exactly `len` bytes.
fn decode_exact(s: &str, len: usize) -> Option<Vec<u8>> {
    STANDARD.decode(s).ok().filter(|d| d.len() == len)
}

/// `pbkdf2_<digest>$<iterations>$<salt>$<base64 dk>`.
fn pbkdf2<D>(encoded: &str, password: &[u8], dklen: usize) -> Option<bool>
where
    D: ::pbkdf2::hmac::EagerHash,
{
    let [_, iterations, salt_field, hash] = fields::<4>(encoded)?;
    let iterations = parse_decimal(iterations)?;
    if !(1..=MAX_PBKDF2_ITERATIONS).contains(&iterations) {
        return None;
    }
    let salt = salt(salt_field)?;
    let expected = decode_exact(hash, dklen)?;
    let mut derived = vec![0u8; dklen];
    // The HMAC key (the password) is set up once and reused for every iteration, so a long
    // password costs no more per iteration than a short one.
    ::pbkdf2::pbkdf2_hmac::<D>(password, salt, iterations, &mut derived);
    Some(derived.ct_eq(&expected).into())
}

/// `argon2$<PHC string without its leading $>` (argon2-cffi's encoding).
fn argon2(encoded: &str, password: &[u8]) -> Option<bool> {
    let phc = encoded.strip_prefix("argon2")?;
    let hash = Argon2Hash::parse(phc)?;
    if !hash.within_foreign_limits() {
        return None;
    }
    // Django's parameters (100 MiB) are not ours: its memory is freed, not kept.
    hash.verify(password, &super::Scratch::default(), 0)
}

/// `bcrypt_sha256$<modular crypt string>`: bcrypt of the lowercase hex SHA-256 of the password,
/// so nothing is truncated.
fn bcrypt_sha256(encoded: &str, password: &[u8]) -> Option<bool> {
    let crypt = encoded.strip_prefix("bcrypt_sha256$")?;
    let prehashed = hex::encode(Sha256::digest(password));
    bcrypt_check(crypt, prehashed.as_bytes())
}

/// `bcrypt$<modular crypt string>`. bcrypt would silently ignore bytes past the 72nd, and a NUL
/// ends its input, so such passwords are refused rather than compared on a prefix.
fn bcrypt(encoded: &str, password: &[u8]) -> Option<bool> {
    let crypt = encoded.strip_prefix("bcrypt$")?;
    if password.len() > MAX_BCRYPT_PASSWORD_BYTES || password.contains(&0) {
        return None;
    }
    bcrypt_check(crypt, password)
}

/// Checks a `$2b$NN$<22 salt><31 hash>` string (also `$2a$`, `$2y$`) after bounding the cost.
fn bcrypt_check(crypt: &str, password: &[u8]) -> Option<bool> {
    let bytes = crypt.as_bytes();
    let prefix_ok = bytes.len() == 60
        && crypt.is_ascii()
        && matches!(crypt.get(..4), Some("$2a$" | "$2b$" | "$2y$"))
        && bytes.get(6) == Some(&b'$');
    if !prefix_ok {
        return None;
    }
    let cost = crypt.get(4..6).and_then(parse_cost)?;
    if !(MIN_BCRYPT_COST..=MAX_BCRYPT_COST).contains(&cost) {
        return None;
    }
    // The crate recomputes with the stored salt and compares the digests in constant time.
    ::bcrypt::verify(password, crypt).ok()
}

/// Two ASCII digits.
fn parse_cost(s: &str) -> Option<u32> {
    s.bytes()
        .all(|b| b.is_ascii_digit())
        .then(|| s.parse().ok())
        .flatten()
}

/// `scrypt$<n>$<salt>$<r>$<p>$<base64 64-byte dk>`.
fn scrypt(encoded: &str, password: &[u8]) -> Option<bool> {
    let [_, n, salt_field, r, p, hash] = fields::<6>(encoded)?;
    let (n, r, p) = (parse_decimal(n)?, parse_decimal(r)?, parse_decimal(p)?);
    let params = scrypt_params(n, r, p)?;
    let salt = salt(salt_field)?;
    let expected = decode_exact(hash, SCRYPT_DKLEN)?;
    let mut derived = [0u8; SCRYPT_DKLEN];
    ::scrypt::scrypt(password, salt, &params, &mut derived).ok()?;
    Some(derived.ct_eq(expected.as_slice()).into())
}

/// Validates N (a power of two ≥ 2), r and p against our bounds.
fn scrypt_params(n: u32, r: u32, p: u32) -> Option<::scrypt::Params> {
    if n < 2 || !n.is_power_of_two() || !(1..=MAX_SCRYPT_R).contains(&r) {
        return None;
    }
    if !(1..=MAX_SCRYPT_P).contains(&p) {
        return None;
    }
    let log_n = n.trailing_zeros();
    let memory = 128 * u64::from(n) * u64::from(r);
    let work = u64::from(n) * u64::from(r) * u64::from(p);
    if log_n > MAX_SCRYPT_LOG_N || memory > MAX_SCRYPT_MEMORY || work > MAX_SCRYPT_WORK {
        return None;
    }
    ::scrypt::Params::new(u8::try_from(log_n).ok()?, r, p).ok()
}

/// `md5$<salt>$<lowercase hex md5(salt + password)>`.
fn md5(encoded: &str, password: &[u8]) -> Option<bool> {
    let [_, salt_field, hash] = fields::<3>(encoded)?;
    let salt = salt(salt_field)?;
    let valid_hex =
        hash.len() == 32 && hash.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'));
    if !valid_hex {
        return None;
    }
    let mut hasher = ::md5::Md5::new();
    hasher.update(salt);
    hasher.update(password);
    let computed = hex::encode(hasher.finalize());
    Some(computed.as_bytes().ct_eq(hash.as_bytes()).into())
}

/// One of Django's password hashers, with the parameters a Django release gives it: what
/// `hasher.encode` writes and what `hasher.must_update` says of a stored hash.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum DjangoHasher {
    /// `PBKDF2PasswordHasher`.
    Pbkdf2Sha256 { iterations: u32 },
    /// `PBKDF2SHA1PasswordHasher`.
    Pbkdf2Sha1 { iterations: u32 },
    /// `Argon2PasswordHasher`: argon2id, `m` KiB, `t` passes, `p` lanes.
    Argon2 { m: u32, t: u32, p: u32 },
    /// `BCryptSHA256PasswordHasher`.
    BcryptSha256 { rounds: u32 },
    /// `BCryptPasswordHasher`.
    Bcrypt { rounds: u32 },
    /// `ScryptPasswordHasher`.
    Scrypt { n: u32, r: u32, p: u32 },
    /// `MD5PasswordHasher` (verify-only here: a first entry of MD5 is refused by the settings).
    Md5,
}

/// Django's `PBKDF2PasswordHasher.iterations` in each release restauth knows.
pub(crate) const PBKDF2_ITERATIONS_BY_VERSION: [(&str, u32); 5] = [
    ("4.2", 600_000),
    ("5.0", 720_000),
    ("5.1", 870_000),
    ("5.2", 1_000_000),
    ("6.0", 1_200_000),
];

impl DjangoHasher {
    /// The hasher of the dotted path `path` as Django `version` configures it; PBKDF2 at
    /// `pbkdf2_iterations` when given (a project's subclass with another count).
    pub(crate) fn from_path(
        path: &str,
        version: &str,
        pbkdf2_iterations: Option<u32>,
    ) -> Result<DjangoHasher, String> {
        let iterations = match pbkdf2_iterations {
            Some(n) => n,
            None => PBKDF2_ITERATIONS_BY_VERSION
                .iter()
                .find(|(v, _)| *v == version)
                .map(|(_, n)| *n)
                .ok_or_else(|| {
                    let known: Vec<&str> = PBKDF2_ITERATIONS_BY_VERSION
                        .iter()
                        .map(|(v, _)| *v)
                        .collect();
                    format!(
                        "django.version: {version:?} is not one of {}",
                        known.join(", ")
                    )
                })?,
        };
        let class = path.rsplit('.').next().unwrap_or(path);
        Ok(match class {
            "PBKDF2PasswordHasher" => DjangoHasher::Pbkdf2Sha256 { iterations },
            "PBKDF2SHA1PasswordHasher" => DjangoHasher::Pbkdf2Sha1 { iterations },
            // argon2-cffi's RFC 9106 low-memory profile, as Django sets it since 4.0.
            "Argon2PasswordHasher" => DjangoHasher::Argon2 {
                m: 102_400,
                t: 2,
                p: 8,
            },
            "BCryptSHA256PasswordHasher" => DjangoHasher::BcryptSha256 { rounds: 12 },
            "BCryptPasswordHasher" => DjangoHasher::Bcrypt { rounds: 12 },
            "ScryptPasswordHasher" => DjangoHasher::Scrypt {
                n: 1 << 14,
                r: 8,
                p: 5,
            },
            "MD5PasswordHasher" => DjangoHasher::Md5,
            _ => {
                return Err(format!(
                    "django.password_hashers: {path:?} is not one of Django's hashers restauth \
                     makes and verifies (PBKDF2, PBKDF2SHA1, Argon2, BCryptSHA256, BCrypt, \
                     Scrypt, MD5 PasswordHasher); a subclass that only changes PBKDF2's \
                     iterations is Django's PBKDF2PasswordHasher with [password] \
                     pbkdf2_iterations"
                ));
            }
        })
    }

    /// The algorithm name a hash of it starts with.
    pub(crate) fn algorithm(&self) -> &'static str {
        match self {
            DjangoHasher::Pbkdf2Sha256 { .. } => "pbkdf2_sha256",
            DjangoHasher::Pbkdf2Sha1 { .. } => "pbkdf2_sha1",
            DjangoHasher::Argon2 { .. } => "argon2",
            DjangoHasher::BcryptSha256 { .. } => "bcrypt_sha256",
            DjangoHasher::Bcrypt { .. } => "bcrypt",
            DjangoHasher::Scrypt { .. } => "scrypt",
            DjangoHasher::Md5 => "md5",
        }
    }

    /// Whether new hashes may be made with it (MD5 only verifies).
    pub(crate) fn can_encode(&self) -> bool {
        !matches!(self, DjangoHasher::Md5)
    }

    /// `password` hashed as the hasher's `encode(password, salt())` writes it (Django's salt:
    /// 22 alphanumeric characters, 128 bits; bcrypt makes its own).
    pub(crate) fn encode(&self, password: &str) -> String {
        let salt = crate::core::random::string(crate::core::random::ALPHANUMERIC, 22);
        let pw = password.as_bytes();
        match *self {
            DjangoHasher::Pbkdf2Sha256 { iterations } => {
                let mut dk = [0u8; 32];
                ::pbkdf2::pbkdf2_hmac::<Sha256>(pw, salt.as_bytes(), iterations, &mut dk);
                format!("pbkdf2_sha256${iterations}${salt}${}", STANDARD.encode(dk))
            }
            DjangoHasher::Pbkdf2Sha1 { iterations } => {
                let mut dk = [0u8; 20];
                ::pbkdf2::pbkdf2_hmac::<Sha1>(pw, salt.as_bytes(), iterations, &mut dk);
                format!("pbkdf2_sha1${iterations}${salt}${}", STANDARD.encode(dk))
            }
            DjangoHasher::Argon2 { m, t, p } => {
                let mut tag = [0u8; 32];
                let hashed = argon2::Params::new(m, t, p, Some(32)).and_then(|params| {
                    argon2::Argon2::new(argon2::Algorithm::Argon2id, argon2::Version::V0x13, params)
                        .hash_password_into(pw, salt.as_bytes(), &mut tag)
                });
                match hashed {
                    Ok(()) => {
                        use base64::engine::general_purpose::STANDARD_NO_PAD;
                        format!(
                            "argon2$argon2id$v=19$m={m},t={t},p={p}${}${}",
                            STANDARD_NO_PAD.encode(salt.as_bytes()),
                            STANDARD_NO_PAD.encode(tag)
                        )
                    }
                    Err(_) => super::make_unusable_password(),
                }
            }
            DjangoHasher::BcryptSha256 { rounds } => {
                let prehashed = hex::encode(Sha256::digest(pw));
                match ::bcrypt::hash(prehashed, rounds) {
                    Ok(crypt) => format!("bcrypt_sha256${crypt}"),
                    Err(_) => super::make_unusable_password(),
                }
            }
            DjangoHasher::Bcrypt { rounds } => match ::bcrypt::hash(pw, rounds) {
                Ok(crypt) => format!("bcrypt${crypt}"),
                Err(_) => super::make_unusable_password(),
            },
            DjangoHasher::Scrypt { n, r, p } => {
                let mut dk = [0u8; SCRYPT_DKLEN];
                let made = scrypt_params(n, r, p).and_then(|params| {
                    ::scrypt::scrypt(pw, salt.as_bytes(), &params, &mut dk).ok()
                });
                match made {
                    Some(()) => format!("scrypt${n}${salt}${r}${p}${}", STANDARD.encode(dk)),
                    None => super::make_unusable_password(),
                }
            }
            DjangoHasher::Md5 => super::make_unusable_password(),
        }
    }

    /// Django's `must_update(encoded)` for a hash of this hasher's algorithm: made with other
    /// parameters (or, for Argon2, another variant or version).
    pub(crate) fn must_update(&self, encoded: &str) -> bool {
        match *self {
            DjangoHasher::Pbkdf2Sha256 { iterations } | DjangoHasher::Pbkdf2Sha1 { iterations } => {
                !matches!(fields::<4>(encoded), Some([_, i, _, _]) if parse_decimal(i) == Some(iterations))
            }
            DjangoHasher::Argon2 { m, t, p } => encoded
                .strip_prefix("argon2")
                .and_then(Argon2Hash::parse)
                .is_none_or(|h| {
                    h.algorithm != argon2::Algorithm::Argon2id
                        || h.version != argon2::Version::V0x13
                        || (
                            h.params.memory_kib,
                            h.params.iterations,
                            h.params.parallelism,
                        ) != (m, t, p)
                }),
            DjangoHasher::BcryptSha256 { rounds } | DjangoHasher::Bcrypt { rounds } => {
                let crypt = encoded.split_once('$').map_or("", |(_, c)| c);
                crypt.get(4..6).and_then(parse_cost) != Some(rounds)
            }
            DjangoHasher::Scrypt { n, r, p } => !matches!(
                fields::<6>(encoded),
                Some([_, en, _, er, ep, _])
                    if (parse_decimal(en), parse_decimal(er), parse_decimal(ep))
                        == (Some(n), Some(r), Some(p))
            ),
            DjangoHasher::Md5 => false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::{PasswordHasher, Verification};
    use super::*;

    const PASSWORD: &str = "lètmein";
    const REHASH: Verification = Verification::Match { needs_rehash: true };

    fn hasher() -> PasswordHasher {
        PasswordHasher::new(super::super::Argon2Params {
            memory_kib: 1024,
            iterations: 1,
            parallelism: 1,
        })
        .unwrap()
    }

    /// Asserts the vector matches `password` (with a rehash) and rejects near misses.
    fn check_vector(encoded: &str, password: &str) {
        check_against(
            encoded,
            password,
            &["letmein", "lètmeiN", "lètmein ", "", "lètmei"],
        );
    }

    /// For the deliberately slow vectors (about a second each in a debug build): one near miss.
    fn check_slow_vector(encoded: &str, password: &str) {
        check_against(encoded, password, &["letmein"]);
    }

    fn check_against(encoded: &str, password: &str, wrong: &[&str]) {
        let h = hasher();
        assert_eq!(h.verify(encoded, password), REHASH, "{encoded}");
        for wrong in wrong {
            assert_eq!(
                h.verify(encoded, wrong),
                Verification::Mismatch,
                "{encoded} / {wrong}"
            );
        }
    }

    // Cross-checks against Django's own test vectors (spec §7.2).

    #[test]
    fn pbkdf2_sha256_cross_check() {
        check_vector(
            "pbkdf2_sha256$30000$seasalt$VrX+V8drCGo68wlvy6rfu8i1d1pfkdeXA4LJkRGJodY=",
            PASSWORD,
        );
        check_vector(
            "pbkdf2_sha256$30000$seasalt2$a75qzbogeVhNFeMqhdgyyoqGKpIzYUo651sq57RERew=",
            PASSWORD,
        );
    }

    #[test]
    fn pbkdf2_sha1_cross_check() {
        check_vector(
            "pbkdf2_sha1$30000$seasalt2$pMzU1zNPcydf6wjnJFbiVKwgULc=",
            PASSWORD,
        );
    }

    #[test]
    fn md5_cross_check() {
        check_vector("md5$seasalt$3f86d0d3d465b7b458c231bf3555c0e3", PASSWORD);
    }

    #[test]
    fn scrypt_cross_check() {
        check_vector(
            "scrypt$16384$seasalt$8$5$ECMIUp+LMxMSK8xB/IVyba+KYGTI7FTnet025q/1f/vBAVnnP3hdYqJuRi+mJn6ji6ze3Fbb7JEFPKGpuEf5vw==",
            PASSWORD,
        );
    }

    #[test]
    fn scrypt_pre_5_1_cross_check() {
        check_vector(
            "scrypt$16384$seasalt$8$1$Qj3+9PPyRjSJIebHnG81TMjsqtaIGxNQG/aEB/NYafTJ7tibgfYz71m0ldQESkXFRkdVCBhhY8mx7rQwite/Pw==",
            PASSWORD,
        );
    }

    // Vectors made with Django 5.2.19 (spec §7.2).

    #[test]
    fn pbkdf2_sha256_django_5_2() {
        check_slow_vector(
            "pbkdf2_sha256$1000000$seasalt$r1uLUxoxpP2Ued/qxvmje7UH9PUJBkRrvf9gGPL7Cps=",
            PASSWORD,
        );
    }

    #[test]
    fn pbkdf2_sha256_django_6_0_count() {
        check_slow_vector(
            "pbkdf2_sha256$1200000$seasalt$6sTlFi4QohxXLuZigqDIUNX8xG9NxrTmV8+flFQdBqE=",
            PASSWORD,
        );
    }

    #[test]
    fn pbkdf2_sha1_django_5_2() {
        check_slow_vector(
            "pbkdf2_sha1$1000000$seasalt$A053mdnAt0THnbEBJ7jpfP3yz1o=",
            PASSWORD,
        );
    }

    #[test]
    fn argon2_django_5_2() {
        check_vector(
            "argon2$argon2id$v=19$m=102400,t=2,p=8$YWJjZGVmZ2hpamtsbW5vcHFyc3R1dg$ffi3k8Fa5DDsIknJPF90lsUcithbK0BVd+dp3622GeY",
            PASSWORD,
        );
        check_slow_vector(
            "argon2$argon2id$v=19$m=102400,t=2,p=8$YWJjZGVmZ2hpamtsbW5vcHFyc3R1dg$IgorAEoC45Hed6TrnrYvCyIvYcj3785+rmJayoEyW88",
            "Parity-Pass-2026 ü",
        );
    }

    #[test]
    fn bcrypt_sha256_django_5_2() {
        check_slow_vector(
            "bcrypt_sha256$$2b$12$abcdefghijklmnopqrstuuVrQ4zCyEDfwKOXCre954in7jn/y/.ua",
            PASSWORD,
        );
    }

    #[test]
    fn bcrypt_django_5_2() {
        check_slow_vector(
            "bcrypt$$2b$12$abcdefghijklmnopqrstuupd4kvGe1RE7cUAJBlAgNLjj8dnLUqIu",
            PASSWORD,
        );
    }

    #[test]
    fn bcrypt_sha256_does_not_truncate() {
        // Our own bcrypt_sha256 hash (cost 4) of a 100-byte password: changing its last byte
        // must not match, although plain bcrypt would only read the first 72.
        let long = format!("{}1", "p".repeat(99));
        let prehashed = hex::encode(Sha256::digest(long.as_bytes()));
        let crypt = ::bcrypt::hash_with_salt(prehashed, 4, *b"0123456789abcdef")
            .unwrap()
            .to_string();
        let encoded = format!("bcrypt_sha256${crypt}");
        let h = hasher();
        assert_eq!(h.verify(&encoded, &long), REHASH);
        let other = format!("{}2", "p".repeat(99));
        assert_eq!(h.verify(&encoded, &other), Verification::Mismatch);
    }

    #[test]
    fn argon2_django_form_does_not_truncate() {
        let h = hasher();
        let long = format!("{}1", "p".repeat(99));
        let ours = h.hash(&long);
        let django_form = format!("argon2{ours}");
        assert_eq!(h.verify(&django_form, &long), REHASH);
        let other = format!("{}2", "p".repeat(99));
        assert_eq!(h.verify(&django_form, &other), Verification::Mismatch);
    }

    #[test]
    fn plain_bcrypt_refuses_what_it_would_truncate() {
        let base = "q".repeat(72);
        let crypt = ::bcrypt::hash_with_salt(&base, 4, *b"0123456789abcdef")
            .unwrap()
            .to_string();
        let encoded = format!("bcrypt${crypt}");
        let h = hasher();
        assert_eq!(h.verify(&encoded, &base), REHASH);
        // bcrypt itself would accept this one (same first 72 bytes).
        assert_eq!(
            h.verify(&encoded, &format!("{base}x")),
            Verification::Mismatch
        );

        let short = ::bcrypt::hash_with_salt("a", 4, *b"0123456789abcdef")
            .unwrap()
            .to_string();
        let encoded = format!("bcrypt${short}");
        assert_eq!(h.verify(&encoded, "a"), REHASH);
        // "a\0a" feeds bcrypt the same key bytes as "a": refused.
        assert_eq!(h.verify(&encoded, "a\0a"), Verification::Mismatch);
    }

    #[test]
    fn nul_bytes_are_significant() {
        let h = hasher();
        let salt = "seasalt";
        let mut dk = [0u8; 32];
        ::pbkdf2::pbkdf2_hmac::<Sha256>(b"a\0b", salt.as_bytes(), 1000, &mut dk);
        let encoded = format!("pbkdf2_sha256$1000${salt}${}", STANDARD.encode(dk));
        assert_eq!(h.verify(&encoded, "a\0b"), REHASH);
        assert_eq!(h.verify(&encoded, "a"), Verification::Mismatch);
        assert_eq!(h.verify(&encoded, "a\0"), Verification::Mismatch);
    }

    #[test]
    fn malformed_django_hashes_are_mismatches() {
        let cases = [
            // field counts
            "pbkdf2_sha256$30000$seasalt",
            "pbkdf2_sha256$30000$seasalt$VrX+V8drCGo68wlvy6rfu8i1d1pfkdeXA4LJkRGJodY=$",
            "pbkdf2_sha256$30000$sea$salt$VrX+V8drCGo68wlvy6rfu8i1d1pfkdeXA4LJkRGJodY=",
            "pbkdf2_sha256$$seasalt$VrX+V8drCGo68wlvy6rfu8i1d1pfkdeXA4LJkRGJodY=",
            "pbkdf2_sha256$30000$$VrX+V8drCGo68wlvy6rfu8i1d1pfkdeXA4LJkRGJodY=",
            // iterations
            "pbkdf2_sha256$0$seasalt$VrX+V8drCGo68wlvy6rfu8i1d1pfkdeXA4LJkRGJodY=",
            "pbkdf2_sha256$-1$seasalt$VrX+V8drCGo68wlvy6rfu8i1d1pfkdeXA4LJkRGJodY=",
            "pbkdf2_sha256$+30000$seasalt$VrX+V8drCGo68wlvy6rfu8i1d1pfkdeXA4LJkRGJodY=",
            "pbkdf2_sha256$030000$seasalt$VrX+V8drCGo68wlvy6rfu8i1d1pfkdeXA4LJkRGJodY=",
            "pbkdf2_sha256$ 30000$seasalt$VrX+V8drCGo68wlvy6rfu8i1d1pfkdeXA4LJkRGJodY=",
            "pbkdf2_sha256$10000001$seasalt$VrX+V8drCGo68wlvy6rfu8i1d1pfkdeXA4LJkRGJodY=",
            "pbkdf2_sha256$4294967295$seasalt$VrX+V8drCGo68wlvy6rfu8i1d1pfkdeXA4LJkRGJodY=",
            "pbkdf2_sha256$99999999999999999999$seasalt$VrX+V8drCGo68wlvy6rfu8i1d1pfkdeXA4LJkRGJodY=",
            // base64: bad characters, missing padding, wrong length
            "pbkdf2_sha256$30000$seasalt$VrX+V8drCGo68wlvy6rfu8i1d1pfkdeXA4LJkRGJod*=",
            "pbkdf2_sha256$30000$seasalt$VrX+V8drCGo68wlvy6rfu8i1d1pfkdeXA4LJkRGJodY",
            "pbkdf2_sha256$30000$seasalt$VrX+V8drCGo68wlvy6rfu8i1d1pfkdeXA4LJkRGJo=",
            "pbkdf2_sha256$30000$seasalt$VrX-V8drCGo68wlvy6rfu8i1d1pfkdeXA4LJkRGJodY=",
            "pbkdf2_sha1$30000$seasalt2$VrX+V8drCGo68wlvy6rfu8i1d1pfkdeXA4LJkRGJodY=",
            // md5
            "md5$$3f86d0d3d465b7b458c231bf3555c0e3",
            "md5$seasalt$3F86D0D3D465B7B458C231BF3555C0E3",
            "md5$seasalt$3f86d0d3d465b7b458c231bf3555c0e",
            "md5$seasalt$3f86d0d3d465b7b458c231bf3555c0e3$",
            "md5$seasalt",
            // scrypt
            "scrypt$16384$seasalt$8$5",
            "scrypt$16385$seasalt$8$5$ECMIUp+LMxMSK8xB/IVyba+KYGTI7FTnet025q/1f/vBAVnnP3hdYqJuRi+mJn6ji6ze3Fbb7JEFPKGpuEf5vw==",
            "scrypt$1$seasalt$8$5$ECMIUp+LMxMSK8xB/IVyba+KYGTI7FTnet025q/1f/vBAVnnP3hdYqJuRi+mJn6ji6ze3Fbb7JEFPKGpuEf5vw==",
            "scrypt$16384$seasalt$0$5$ECMIUp+LMxMSK8xB/IVyba+KYGTI7FTnet025q/1f/vBAVnnP3hdYqJuRi+mJn6ji6ze3Fbb7JEFPKGpuEf5vw==",
            "scrypt$16384$seasalt$8$0$ECMIUp+LMxMSK8xB/IVyba+KYGTI7FTnet025q/1f/vBAVnnP3hdYqJuRi+mJn6ji6ze3Fbb7JEFPKGpuEf5vw==",
            "scrypt$2147483648$seasalt$8$5$ECMIUp+LMxMSK8xB/IVyba+KYGTI7FTnet025q/1f/vBAVnnP3hdYqJuRi+mJn6ji6ze3Fbb7JEFPKGpuEf5vw==",
            "scrypt$1048576$seasalt$4294967295$5$ECMIUp+LMxMSK8xB/IVyba+KYGTI7FTnet025q/1f/vBAVnnP3hdYqJuRi+mJn6ji6ze3Fbb7JEFPKGpuEf5vw==",
            "scrypt$1048576$seasalt$8$1$ECMIUp+LMxMSK8xB/IVyba+KYGTI7FTnet025q/1f/vBAVnnP3hdYqJuRi+mJn6ji6ze3Fbb7JEFPKGpuEf5vw==",
            "scrypt$16384$seasalt$8$4294967295$ECMIUp+LMxMSK8xB/IVyba+KYGTI7FTnet025q/1f/vBAVnnP3hdYqJuRi+mJn6ji6ze3Fbb7JEFPKGpuEf5vw==",
            "scrypt$16384$seasalt$8$5$ECMIUp+LMxMSK8xB/IVyba+KYGTI7FTnet025q/1f/vBAVnnP3hdYqJuRi+mJn6ji6ze3Fbb7JEFPKGpuEf5vw",
            "scrypt$16384$seasalt$8$5$ECMIUp+LMxMSK8xB",
            // argon2
            "argon2$argon2id$v=19$m=102400,t=2,p=8$YWJjZGVmZ2hpamtsbW5vcHFyc3R1dg",
            "argon2$argon2id$v=19$m=102400,t=2,p=8$YWJjZGVmZ2hpamtsbW5vcHFyc3R1dg$ffi3k8Fa5DDsIknJPF90lsUcithbK0BVd+dp3622GeY=",
            "argon2$argon2id$v=19$m=102400,t=2,p=8$YWJj$ffi3k8Fa5DDsIknJPF90lsUcithbK0BVd+dp3622GeY",
            "argon2$argon2id$v=19$m=104857600,t=2,p=8$YWJjZGVmZ2hpamtsbW5vcHFyc3R1dg$ffi3k8Fa5DDsIknJPF90lsUcithbK0BVd+dp3622GeY",
            "argon2$argon2id$v=19$m=102400,t=1000,p=8$YWJjZGVmZ2hpamtsbW5vcHFyc3R1dg$ffi3k8Fa5DDsIknJPF90lsUcithbK0BVd+dp3622GeY",
            "argon2$$argon2id$v=19$m=102400,t=2,p=8$YWJjZGVmZ2hpamtsbW5vcHFyc3R1dg$ffi3k8Fa5DDsIknJPF90lsUcithbK0BVd+dp3622GeY",
            "argon2$v=19$m=102400,t=2,p=8$YWJjZGVmZ2hpamtsbW5vcHFyc3R1dg$ffi3k8Fa5DDsIknJPF90lsUcithbK0BVd+dp3622GeY",
            // bcrypt
            "bcrypt_sha256$$2b$12$abcdefghijklmnopqrstuuVrQ4zCyEDfwKOXCre954in7jn/y/.u",
            "bcrypt_sha256$$2b$12$abcdefghijklmnopqrstuuVrQ4zCyEDfwKOXCre954in7jn/y/.uaa",
            "bcrypt_sha256$$2b$31$abcdefghijklmnopqrstuuVrQ4zCyEDfwKOXCre954in7jn/y/.ua",
            "bcrypt_sha256$$2b$99$abcdefghijklmnopqrstuuVrQ4zCyEDfwKOXCre954in7jn/y/.ua",
            "bcrypt_sha256$$2b$+2$abcdefghijklmnopqrstuuVrQ4zCyEDfwKOXCre954in7jn/y/.ua",
            "bcrypt_sha256$$2b$03$abcdefghijklmnopqrstuuVrQ4zCyEDfwKOXCre954in7jn/y/.ua",
            "bcrypt_sha256$$2x$12$abcdefghijklmnopqrstuuVrQ4zCyEDfwKOXCre954in7jn/y/.ua",
            "bcrypt_sha256$$2b$12$abcdefghijklmnopqrstuuVrQ4zCyEDfwKOXCre954in7jn/y/.ü",
            "bcrypt_sha256$$2b$12$abcdefghijklmnopqrstuu*rQ4zCyEDfwKOXCre954in7jn/y/.ua",
            "bcrypt_sha256$2b$12$abcdefghijklmnopqrstuuVrQ4zCyEDfwKOXCre954in7jn/y/.ua",
            "bcrypt$$2b$12abcdefghijklmnopqrstuupd4kvGe1RE7cUAJBlAgNLjj8dnLUqIu$",
            // unknown or removed hashers
            "sha1$$0123456789abcdef0123456789abcdef01234567",
            "unsalted_md5$$3f86d0d3d465b7b458c231bf3555c0e3",
            "3f86d0d3d465b7b458c231bf3555c0e3",
            "crypt$$abcdefghijkl",
            "PBKDF2_SHA256$30000$seasalt$VrX+V8drCGo68wlvy6rfu8i1d1pfkdeXA4LJkRGJodY=",
            "",
            "$",
            "$$$$$",
            "pbkdf2_sha256",
            "\u{0}$\u{0}",
        ];
        let h = hasher();
        for case in cases {
            assert_eq!(h.verify(case, PASSWORD), Verification::Mismatch, "{case}");
        }
    }

    #[test]
    fn cost_bombs_return_quickly() {
        // Each of these would take seconds to minutes (or gigabytes) if it were computed.
        let h = hasher();
        for case in [
            "pbkdf2_sha256$4000000000$seasalt$VrX+V8drCGo68wlvy6rfu8i1d1pfkdeXA4LJkRGJodY=",
            "bcrypt$$2b$31$abcdefghijklmnopqrstuupd4kvGe1RE7cUAJBlAgNLjj8dnLUqIu",
            "scrypt$1073741824$seasalt$8$5$ECMIUp+LMxMSK8xB/IVyba+KYGTI7FTnet025q/1f/vBAVnnP3hdYqJuRi+mJn6ji6ze3Fbb7JEFPKGpuEf5vw==",
            "scrypt$16384$seasalt$8$1000$ECMIUp+LMxMSK8xB/IVyba+KYGTI7FTnet025q/1f/vBAVnnP3hdYqJuRi+mJn6ji6ze3Fbb7JEFPKGpuEf5vw==",
            "argon2$argon2id$v=19$m=4194304,t=1,p=1$YWJjZGVmZ2hpamtsbW5vcHFyc3R1dg$ffi3k8Fa5DDsIknJPF90lsUcithbK0BVd+dp3622GeY",
        ] {
            let start = std::time::Instant::now();
            assert_eq!(h.verify(case, PASSWORD), Verification::Mismatch, "{case}");
            assert!(
                start.elapsed() < std::time::Duration::from_secs(2),
                "{case}"
            );
        }
    }

    #[test]
    fn direct_verifier_reports_unverifiable_as_none() {
        assert_eq!(
            verify("md5$seasalt$3f86d0d3d465b7b458c231bf3555c0e3", PASSWORD),
            Some(true)
        );
        assert_eq!(
            verify("md5$seasalt$3f86d0d3d465b7b458c231bf3555c0e3", "x"),
            Some(false)
        );
        assert_eq!(
            verify("md5$$3f86d0d3d465b7b458c231bf3555c0e3", PASSWORD),
            None
        );
        assert_eq!(verify("nohasher", PASSWORD), None);
    }
}
