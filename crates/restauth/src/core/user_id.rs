//! A user's primary key: Django's default integer `AutoField`/`BigAutoField`, or a
//! `UUIDField(primary_key=True)`.

use std::fmt;
use std::str::FromStr;

/// A user's primary key, as Django's user model has it: an integer (the default) or a UUID.
///
/// It travels as Django and DRF write `user.pk`: an integer as a JSON number (`"user_id": 7`)
/// and as its decimal text where only text fits (`_auth_user_id`, headers, paths); a UUID
/// always as text in its dashed form (`str(uuid)`, `"1ecddc2d-…"`), as simplejwt writes
/// `str(user.pk)` for any key that is not an integer.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum UserId {
    /// An integer key (`AutoField`, `BigAutoField`).
    Int(i64),
    /// A UUID key (`UUIDField`), its 16 bytes.
    Uuid(Uuid),
}

/// A UUID, held as its 16 bytes; shown in the dashed lowercase form Django's `str(uuid)` gives.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Uuid(pub [u8; 16]);

impl Uuid {
    /// A random (version 4) UUID, as Django's `uuid.uuid4` default makes.
    pub fn new_v4() -> Uuid {
        let mut b = crate::core::random::bytes::<16>();
        b[6] = (b[6] & 0x0f) | 0x40;
        b[8] = (b[8] & 0x3f) | 0x80;
        Uuid(b)
    }

    /// The 32 lowercase hex digits without dashes: how Django stores a `UUIDField` in a
    /// database without a UUID type (SQLite's `char(32)`).
    pub fn simple(&self) -> String {
        hex::encode(self.0)
    }

    /// Reads the forms Django's `UUIDField.to_python` accepts from text: 32 hex digits, with
    /// or without the four dashes, optionally in braces or with a `urn:uuid:` prefix, in any
    /// case.
    pub fn parse(text: &str) -> Option<Uuid> {
        let t = text.trim();
        let t = t.strip_prefix("urn:uuid:").unwrap_or(t);
        let t = t
            .strip_prefix('{')
            .and_then(|t| t.strip_suffix('}'))
            .unwrap_or(t);
        let digits: String = if t.len() == 36 {
            let b = t.as_bytes();
            if [8, 13, 18, 23].iter().any(|&i| b[i] != b'-') {
                return None;
            }
            t.chars().filter(|&c| c != '-').collect()
        } else if t.len() == 32 {
            t.to_owned()
        } else {
            return None;
        };
        let mut out = [0u8; 16];
        hex::decode_to_slice(digits, &mut out).ok()?;
        Some(Uuid(out))
    }
}

impl fmt::Display for Uuid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let h = self.simple();
        write!(
            f,
            "{}-{}-{}-{}-{}",
            &h[0..8],
            &h[8..12],
            &h[12..16],
            &h[16..20],
            &h[20..32]
        )
    }
}

impl fmt::Debug for Uuid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

/// What kind of primary key a user model has.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum UserIdKind {
    /// Integers (Django's default).
    #[default]
    Int,
    /// UUIDs.
    Uuid,
}

impl UserId {
    /// The integer, if the key is one.
    pub fn as_int(&self) -> Option<i64> {
        match self {
            UserId::Int(n) => Some(*n),
            UserId::Uuid(_) => None,
        }
    }

    /// The kind of key.
    pub fn kind(&self) -> UserIdKind {
        match self {
            UserId::Int(_) => UserIdKind::Int,
            UserId::Uuid(_) => UserIdKind::Uuid,
        }
    }

    /// Reads a key from its text (`str(pk)`): decimal digits are an integer, any form of a
    /// UUID a UUID. `None` for anything else.
    pub fn parse(text: &str) -> Option<UserId> {
        let t = text.trim();
        let digits = t.bytes().all(|b| b.is_ascii_digit() || b == b'-');
        if !t.is_empty()
            && t.len() <= 20
            && digits
            && let Ok(n) = t.parse::<i64>()
        {
            return Some(UserId::Int(n));
        }
        Uuid::parse(t).map(UserId::Uuid)
    }

    /// Reads a key from a JSON value as Django and simplejwt write it: an integer as a number
    /// or as text, a UUID as text.
    pub fn from_json(value: &serde_json::Value) -> Option<UserId> {
        match value {
            serde_json::Value::Number(n) => n.as_i64().map(UserId::Int),
            serde_json::Value::String(s) => UserId::parse(s),
            _ => None,
        }
    }
}

/// `0`, which no user has: for records filled in later.
impl Default for UserId {
    fn default() -> Self {
        UserId::Int(0)
    }
}

impl From<i64> for UserId {
    fn from(n: i64) -> Self {
        UserId::Int(n)
    }
}

impl From<Uuid> for UserId {
    fn from(u: Uuid) -> Self {
        UserId::Uuid(u)
    }
}

impl PartialEq<i64> for UserId {
    fn eq(&self, other: &i64) -> bool {
        *self == UserId::Int(*other)
    }
}

/// Django's `str(pk)`: an integer's decimal digits, a UUID's dashed form.
impl fmt::Display for UserId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            UserId::Int(n) => n.fmt(f),
            UserId::Uuid(u) => u.fmt(f),
        }
    }
}

impl fmt::Debug for UserId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

impl FromStr for UserId {
    type Err = &'static str;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        UserId::parse(s).ok_or("not a user id")
    }
}

impl serde::Serialize for UserId {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            UserId::Int(n) => s.serialize_i64(*n),
            UserId::Uuid(u) => s.collect_str(u),
        }
    }
}

impl<'de> serde::Deserialize<'de> for UserId {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let value = serde_json::Value::deserialize(d)?;
        UserId::from_json(&value).ok_or_else(|| serde::de::Error::custom("not a user id"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn integers_stay_numbers_and_uuids_text() {
        assert_eq!(serde_json::to_string(&UserId::Int(7)).unwrap(), "7");
        let u = UserId::parse("1ECDDC2D-0F3B-4E0B-9A3C-000000000001").unwrap();
        assert_eq!(
            serde_json::to_string(&u).unwrap(),
            "\"1ecddc2d-0f3b-4e0b-9a3c-000000000001\""
        );
        assert_eq!(UserId::parse("1ecddc2d0f3b4e0b9a3c000000000001"), Some(u));
        assert_eq!(
            UserId::parse("{1ecddc2d-0f3b-4e0b-9a3c-000000000001}"),
            Some(u)
        );
        assert_eq!(UserId::parse("7"), Some(UserId::Int(7)));
        // 32 decimal digits are a UUID, not an integer.
        let digits = "12345678901234567890123456789012";
        assert!(matches!(UserId::parse(digits), Some(UserId::Uuid(_))));
        assert_eq!(UserId::parse("1ecddc2d"), None);
        assert_eq!(UserId::parse(""), None);
        assert_eq!(UserId::parse("1e3"), None);
        assert_eq!(
            UserId::from_json(&serde_json::json!("7")),
            Some(UserId::Int(7))
        );
        assert_eq!(UserId::from_json(&serde_json::json!(7.5)), None);
    }

    #[test]
    fn v4() {
        let u = Uuid::new_v4();
        let s = u.to_string();
        assert_eq!(&s[14..15], "4");
        assert!(matches!(&s[19..20], "8" | "9" | "a" | "b"));
        assert_eq!(Uuid::parse(&s), Some(u));
        assert_ne!(u, Uuid::new_v4());
    }
}
