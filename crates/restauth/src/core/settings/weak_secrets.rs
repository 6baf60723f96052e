//! HMAC keys that must never sign anything: secrets published as defaults or examples by
//! frameworks and tools, which attackers try first (a forged session hash or JWT is then one
//! guess away), and Django's `django-insecure-` development keys.
//!
//! Where the list comes from is written in NOTICE.

/// Published default and example secrets, compared without regard to case or surrounding
/// white space. Short ones are already refused for their length; they are listed too, so that
/// a key made by repeating one of them up to the minimum length is refused as well.
const PUBLISHED_DEFAULTS: &[&str] = &[
    // jwt.io debugger, the HS256/384/512 examples.
    "your-256-bit-secret",
    "your-384-bit-secret",
    "your-512-bit-secret",
    "a-string-secret-at-least-256-bits-long",
    // Apache Superset's shipped and documented defaults (CVE-2023-27524).
    "\u{2}\u{1}thisismyscretkey\u{1}\u{2}\\e\\y\\y\\h",
    "CHANGE_ME_TO_A_COMPLEX_RANDOM_SECRET",
    "YOUR_OWN_RANDOM_GENERATED_SECRET_KEY",
    "thisISaSECRET_1234",
    "TEST_NON_DEV_SECRET",
    // Examples from the README files of widely used libraries (jsonwebtoken, express-session).
    "shhhhh",
    "keyboard cat",
    // Placeholders found in tutorials and sample configurations.
    "secret",
    "secretkey",
    "secret_key",
    "secret-key",
    "mysecret",
    "mysecretkey",
    "my_secret_key",
    "my-secret-key",
    "supersecret",
    "supersecretkey",
    "super_secret_key",
    "super-secret-key",
    "your_secret_key",
    "your-secret-key",
    "yoursecretkey",
    "jwt_secret",
    "jwt-secret",
    "jwtsecret",
    "jwt_secret_key",
    "your_jwt_secret",
    "your-jwt-secret",
    "changeme",
    "change_me",
    "change-me",
    "changeit",
    "change_this_secret",
    "password",
    "default",
    "development",
    "insecure",
    "notasecret",
    "s3cr3t",
    "0123456789abcdef0123456789abcdef",
    "0123456789abcdefghijklmnopqrstuvwxyz",
    "abcdefghijklmnopqrstuvwxyz0123456789",
];

/// Django's `startproject` marks the key it writes into development settings this way.
const DJANGO_INSECURE_PREFIX: &str = "django-insecure-";

/// Why `key` is a known-weak HMAC key, or `None` when it is not on the list.
pub(crate) fn weakness(key: &str) -> Option<&'static str> {
    let key = key.trim();
    if key
        .get(..DJANGO_INSECURE_PREFIX.len())
        .is_some_and(|p| p.eq_ignore_ascii_case(DJANGO_INSECURE_PREFIX))
    {
        return Some("it is a Django development key (\"django-insecure-…\")");
    }
    let published = PUBLISHED_DEFAULTS
        .iter()
        .any(|weak| is_repetition_of(key, weak));
    published.then_some("it is a published default or example secret")
}

/// `key` is `weak` once or several times in a row, ignoring ASCII case.
fn is_repetition_of(key: &str, weak: &str) -> bool {
    !weak.is_empty()
        && key.len().is_multiple_of(weak.len())
        && key
            .as_bytes()
            .chunks(weak.len())
            .all(|chunk| chunk.eq_ignore_ascii_case(weak.as_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn published_defaults_are_weak_in_any_case() {
        for key in [
            "a-string-secret-at-least-256-bits-long",
            "  A-STRING-SECRET-AT-LEAST-256-BITS-LONG\n",
            "CHANGE_ME_TO_A_COMPLEX_RANDOM_SECRET",
            "\u{2}\u{1}thisismyscretkey\u{1}\u{2}\\e\\y\\y\\h",
            "secretsecretsecretsecretsecretsecret",
            "changemechangemechangemechangeme",
            "your-256-bit-secretyour-256-bit-secret",
        ] {
            assert!(weakness(key).is_some(), "{key:?}");
        }
    }

    #[test]
    fn django_insecure_keys_are_weak() {
        let key = "django-insecure-5k^x$1a#l0n9z@q!w8r2t7y3u4i6o0p-=+)(*&^%$#@!q";
        assert!(weakness(key).unwrap().contains("django-insecure-"));
        assert!(weakness("Django-Insecure-abc").is_some());
    }

    #[test]
    fn random_keys_are_not_weak() {
        for key in [
            "3f9a7c1e5b2d8046af13c97e0b5d2a6841f7e3c9d0b2a5f8e1c4d7b0a3f6e9c2",
            "test-only-secret-0123456789abcdef-0123456789",
            "multi-instance-test-secret-key-0123456789abcdef",
            // A weak word inside a longer key is not the weak key.
            "secret-3f9a7c1e5b2d8046af13c97e0b5d2a68",
            "insecure-django-3f9a7c1e5b2d8046af13c97e0b5d2a68",
        ] {
            assert_eq!(weakness(key), None, "{key:?}");
        }
    }
}
