//! Django's four default password validators (similarity to the user's attributes, minimum
//! length, common password, entirely numeric), with Django's messages.

use std::collections::HashSet;

use crate::core::settings::password::PasswordValidation;
use std::sync::OnceLock;

/// The common-password list: one lower-cased password per line, `#` lines are comments.
const COMMON_PASSWORDS: &str = include_str!("common-passwords.txt");

/// The user attributes a password is compared with (empty strings are skipped).
pub struct UserAttributes<'a> {
    pub username: &'a str,
    pub email: &'a str,
    pub first_name: &'a str,
    pub last_name: &'a str,
}

/// Runs the enabled validators in Django's order (similarity, length, common, numeric) and
/// returns every failure message.
pub fn validate_password(
    password: &str,
    user: &UserAttributes<'_>,
    cfg: &PasswordValidation,
) -> Result<(), Vec<String>> {
    let mut errors = Vec::new();
    if let Some(max) = cfg.max_similarity
        && let Some(name) = too_similar(password, user, max)
    {
        errors.push(format!("The password is too similar to the {name}."));
    }
    if password.chars().count() < cfg.min_length {
        errors.push(too_short_message(cfg.min_length));
    }
    if cfg.common && is_common(password) {
        errors.push("This password is too common.".to_owned());
    }
    if cfg.numeric && is_entirely_numeric(password) {
        errors.push("This password is entirely numeric.".to_owned());
    }
    if errors.is_empty() {
        Ok(())
    } else {
        Err(errors)
    }
}

fn too_short_message(min_length: usize) -> String {
    let unit = if min_length == 1 {
        "character"
    } else {
        "characters"
    };
    format!("This password is too short. It must contain at least {min_length} {unit}.")
}

/// Like Python's `str.isdigit()`: non-empty and every character a digit.
fn is_entirely_numeric(password: &str) -> bool {
    !password.is_empty() && password.chars().all(char::is_numeric)
}

fn is_common(password: &str) -> bool {
    common_passwords().contains(password.trim().to_lowercase().as_str())
}

fn common_passwords() -> &'static HashSet<&'static str> {
    static SET: OnceLock<HashSet<&'static str>> = OnceLock::new();
    SET.get_or_init(|| {
        COMMON_PASSWORDS
            .lines()
            .map(str::trim)
            .filter(|line| !line.is_empty() && !line.starts_with('#'))
            .collect()
    })
}

/// The verbose name of the first attribute (in Django's order: username, first name, last name,
/// email) that the password is too similar to.
fn too_similar(password: &str, user: &UserAttributes<'_>, max: f64) -> Option<&'static str> {
    let password: Vec<char> = password.to_lowercase().chars().collect();
    let attributes = [
        (user.username, "username"),
        (user.first_name, "first name"),
        (user.last_name, "last name"),
        (user.email, "email address"),
    ];
    attributes
        .into_iter()
        .filter(|(value, _)| !value.is_empty())
        .find(|(value, _)| attribute_too_similar(&password, value, max))
        .map(|(_, name)| name)
}

/// Compares the password with the whole attribute and with each of its word runs.
fn attribute_too_similar(password: &[char], value: &str, max: f64) -> bool {
    let value = value.to_lowercase();
    split_non_word(&value)
        .into_iter()
        .chain(std::iter::once(value.as_str()))
        .map(|part| part.chars().collect::<Vec<char>>())
        .filter(|part| !exceeds_length_ratio(password, part, max))
        .any(|part| quick_ratio(password, &part) >= max)
}

/// Python's `re.split(r"\W+", s)`: pieces between runs of non-word characters, keeping the
/// empty pieces at either end.
fn split_non_word(s: &str) -> Vec<&str> {
    let mut parts = Vec::new();
    let mut start = 0;
    let mut in_separator = false;
    for (i, c) in s.char_indices() {
        let word = c.is_alphanumeric() || c == '_';
        if !word && !in_separator {
            parts.push(&s[start..i]);
            in_separator = true;
        } else if word && in_separator {
            start = i;
            in_separator = false;
        }
    }
    parts.push(if in_separator { "" } else { &s[start..] });
    parts
}

/// Skips parts much shorter than the password, which cannot meaningfully resemble it.
fn exceeds_length_ratio(password: &[char], part: &[char], max: f64) -> bool {
    let (pwd_len, part_len) = (password.len(), part.len());
    let bound = max / 2.0 * pwd_len as f64;
    pwd_len >= 10 * part_len && (part_len as f64) < bound
}

/// difflib's `SequenceMatcher.quick_ratio`: 2 × (multiset intersection size) / total length.
fn quick_ratio(a: &[char], b: &[char]) -> f64 {
    let total = a.len() + b.len();
    if total == 0 {
        return 1.0;
    }
    let mut available = std::collections::HashMap::<char, usize>::new();
    for &c in b {
        *available.entry(c).or_default() += 1;
    }
    let mut matches = 0usize;
    for c in a {
        if let Some(n) = available.get_mut(c)
            && *n > 0
        {
            *n -= 1;
            matches += 1;
        }
    }
    2.0 * matches as f64 / total as f64
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOBODY: UserAttributes<'static> = UserAttributes {
        username: "",
        email: "",
        first_name: "",
        last_name: "",
    };

    fn alice() -> UserAttributes<'static> {
        UserAttributes {
            username: "alice_w",
            email: "alice.wonder@example.com",
            first_name: "Alice",
            last_name: "Wonderland",
        }
    }

    fn errors(password: &str, user: &UserAttributes<'_>) -> Vec<String> {
        validate_password(password, user, &PasswordValidation::default())
            .err()
            .unwrap_or_default()
    }

    #[test]
    fn long_random_passphrases_pass() {
        for pw in [
            "correct horse battery staple",
            "Tr0ub4dor&3-quixotic-lampshade",
            "vK7#pL9!qZ2@wX5$",
            "🦀 crabs rule the 🌊 deep",
        ] {
            assert_eq!(
                validate_password(pw, &alice(), &PasswordValidation::default()),
                Ok(()),
                "{pw}"
            );
        }
    }

    #[test]
    fn too_short() {
        assert_eq!(
            errors("xK9#q", &NOBODY),
            ["This password is too short. It must contain at least 8 characters."]
        );
        let one = PasswordValidation {
            min_length: 1,
            ..PasswordValidation::default()
        };
        assert_eq!(
            validate_password("", &NOBODY, &one),
            Err(vec![
                "This password is too short. It must contain at least 1 character.".to_owned()
            ])
        );
        // Length counts characters, not bytes.
        assert!(errors("éééééééé", &NOBODY).is_empty());
        assert_eq!(errors("éééééé", &NOBODY).len(), 1);
    }

    #[test]
    fn too_common() {
        for pw in [
            "password123",
            "password",
            "qwerty123",
            "iloveyou",
            "  PassWord123 ",
            "ILOVEYOU",
        ] {
            assert_eq!(
                errors(pw, &NOBODY),
                ["This password is too common."],
                "{pw}"
            );
        }
    }

    #[test]
    fn entirely_numeric() {
        assert_eq!(
            errors("49172635", &NOBODY),
            ["This password is entirely numeric."]
        );
        assert_eq!(
            errors("٤٩١٧٢٦٣٥", &NOBODY),
            ["This password is entirely numeric."]
        );
        assert!(errors("4917263x", &NOBODY).is_empty());
    }

    #[test]
    fn too_similar_to_each_attribute() {
        let cases = [
            ("alice_w1", "username"),
            ("ALICEWXY!", "username"),
            ("Wonderland9", "last name"),
            ("alice.wonder@example.org", "email address"),
        ];
        for (pw, name) in cases {
            assert_eq!(
                errors(pw, &alice()),
                [format!("The password is too similar to the {name}.")],
                "{pw}"
            );
        }
        let only_first = UserAttributes {
            first_name: "Maximilian",
            ..NOBODY
        };
        assert_eq!(
            errors("maximilian!", &only_first),
            ["The password is too similar to the first name."]
        );
        // The email's parts count on their own.
        let mail = UserAttributes {
            email: "zanzibar.quokka@somewhere.example",
            ..NOBODY
        };
        assert_eq!(
            errors("quokka77", &mail),
            ["The password is too similar to the email address."]
        );
    }

    #[test]
    fn similarity_reports_only_the_first_attribute() {
        let same = UserAttributes {
            username: "marguerite",
            email: "marguerite@x.io",
            first_name: "Marguerite",
            last_name: "Marguerite",
        };
        assert_eq!(
            errors("marguerite", &same),
            ["The password is too similar to the username."]
        );
    }

    #[test]
    fn all_messages_in_django_order() {
        let user = UserAttributes {
            username: "1234",
            ..NOBODY
        };
        assert_eq!(
            errors("1234", &user),
            [
                "The password is too similar to the username.",
                "This password is too short. It must contain at least 8 characters.",
                "This password is too common.",
                "This password is entirely numeric.",
            ]
        );
    }

    #[test]
    fn validators_can_be_disabled() {
        let off = PasswordValidation {
            min_length: 0,
            numeric: false,
            common: false,
            max_similarity: None,
        };
        let user = UserAttributes {
            username: "1234",
            ..NOBODY
        };
        assert_eq!(validate_password("1234", &user, &off), Ok(()));
        assert_eq!(validate_password("", &user, &off), Ok(()));
    }

    #[test]
    fn config_deserializes_with_defaults() {
        let cfg: PasswordValidation =
            serde_json::from_str(r#"{"min_length": 12, "max_similarity": null}"#).unwrap();
        assert_eq!(cfg.min_length, 12);
        assert!(cfg.numeric && cfg.common);
        assert_eq!(cfg.max_similarity, None);
        let cfg: PasswordValidation = serde_json::from_str("{}").unwrap();
        assert_eq!(cfg.max_similarity, Some(0.7));
        assert!(serde_json::from_str::<PasswordValidation>(r#"{"minimum": 3}"#).is_err());
    }

    #[test]
    fn quick_ratio_matches_difflib() {
        let r = |a: &str, b: &str| {
            quick_ratio(
                &a.chars().collect::<Vec<_>>(),
                &b.chars().collect::<Vec<_>>(),
            )
        };
        // difflib.SequenceMatcher(a="abcd", b="bcde").quick_ratio() == 0.75
        assert_eq!(r("abcd", "bcde"), 0.75);
        assert_eq!(r("aab", "abb"), 2.0 * 2.0 / 6.0);
        assert_eq!(r("", ""), 1.0);
        assert_eq!(r("abc", ""), 0.0);
    }

    #[test]
    fn split_matches_python_re_split() {
        // re.split(r"\W+", ...) results.
        assert_eq!(
            split_non_word("john.doe@example.com"),
            ["john", "doe", "example", "com"]
        );
        assert_eq!(split_non_word(".a..b."), ["", "a", "b", ""]);
        assert_eq!(split_non_word("snake_case"), ["snake_case"]);
        assert_eq!(split_non_word("zoë-ünal"), ["zoë", "ünal"]);
        assert_eq!(split_non_word(""), [""]);
    }

    #[test]
    fn short_parts_of_long_passwords_are_skipped() {
        // "al" is under a tenth of the password and under max/2 × its length: not compared.
        let user = UserAttributes {
            username: "al",
            ..NOBODY
        };
        assert!(errors("alalalalalalalalalalalal", &user).is_empty());
        let user = UserAttributes {
            username: "a",
            ..NOBODY
        };
        assert_eq!(
            errors("a", &user),
            [
                "The password is too similar to the username.",
                "This password is too short. It must contain at least 8 characters.",
            ]
        );
    }

    #[test]
    fn common_list_is_loaded() {
        let set = common_passwords();
        assert!(set.len() > 19_000, "{}", set.len());
        assert!(set.iter().all(|p| *p == p.trim() && *p == p.to_lowercase()));
        assert!(!set.iter().any(|p| p.starts_with('#')));
    }
}
