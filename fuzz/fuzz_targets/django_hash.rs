//! Django hash strings from `auth_user.password`. Input: the hash, a newline, the password.
#![no_main]

use libfuzzer_sys::fuzz_target;
use restauth::fuzzing::django_hash_verify;

/// Whether verifying would spend real hashing time. The verifier bounds costs (a tampered row
/// must not be a CPU bomb), but even its bounds are far too slow for thousands of runs a second,
/// so the fuzzer keeps to cheap parameters and spends its time on parsing.
fn too_costly(encoded: &str) -> bool {
    let fields: Vec<&str> = encoded.split('$').collect();
    let product = |indexes: &[usize]| -> u64 {
        indexes
            .iter()
            .filter_map(|&i| fields.get(i))
            .flat_map(|f| f.split(|c: char| !c.is_ascii_digit()))
            .filter(|digits| !digits.is_empty())
            .map(|digits| digits.parse::<u64>().unwrap_or(u64::MAX))
            .fold(1u64, u64::saturating_mul)
    };
    match fields.first().copied().unwrap_or("") {
        "pbkdf2_sha256" | "pbkdf2_sha1" => product(&[1]) > 2_000,
        "scrypt" => product(&[1, 3, 4]) > 4_096,
        // argon2$argon2id$v=19$m=…,t=…,p=…$salt$hash (the product counts the 19 too)
        "argon2" => product(&[2, 3]) > 8_192,
        // bcrypt$$2b$NN$… and bcrypt_sha256$$2b$NN$…: the cost doubles the time per step.
        "bcrypt" | "bcrypt_sha256" => product(&[3]) > 5,
        _ => false,
    }
}

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let (encoded, password) = text.split_once('\n').unwrap_or((text, "password"));
    if too_costly(encoded) {
        return;
    }
    let verdict = django_hash_verify(encoded, password);
    if verdict == Some(true) {
        // A match is a match of this password only.
        let other = format!("{password}x");
        assert_ne!(django_hash_verify(encoded, &other), Some(true));
        if !password.is_empty() {
            assert_ne!(django_hash_verify(encoded, ""), Some(true), "{encoded:?}");
        }
    }
});
