//! The value types settings are made of: durations, secrets, sizes, cookie attributes.

use std::fmt;

use serde::Deserialize;

/// A duration in whole seconds; reads an integer of seconds or `"30s"`, `"5m"`, `"2h"`, `"1d"`, `"1w"`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct Seconds(pub u64);

impl Seconds {
    /// Reads `"90"`, `"30s"`, `"5m"`, `"2h"`, `"1d"` or `"1w"`; `None` for anything else or an
    /// overflow.
    pub fn parse(s: &str) -> Option<Self> {
        let s = s.trim();
        let split = s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len());
        let (num, unit) = s.split_at(split);
        let n: u64 = num.parse().ok()?;
        let mult = match unit.trim() {
            "" | "s" => 1,
            "m" => 60,
            "h" => 3600,
            "d" => 86_400,
            "w" => 604_800,
            _ => return None,
        };
        n.checked_mul(mult).map(Seconds)
    }

    /// The seconds as an `i64`, for arithmetic with Unix times (saturating).
    pub fn as_i64(self) -> i64 {
        i64::try_from(self.0).unwrap_or(i64::MAX)
    }
}

impl<'de> Deserialize<'de> for Seconds {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Raw {
            Int(u64),
            Str(String),
        }
        match Raw::deserialize(d)? {
            Raw::Int(n) => Ok(Seconds(n)),
            Raw::Str(s) => Seconds::parse(&s).ok_or_else(|| {
                serde::de::Error::custom(format!(
                    "invalid duration {s:?}: use seconds or a number with s, m, h, d or w"
                ))
            }),
        }
    }
}

/// A secret that never shows in `Debug` output or logs.
#[derive(Clone, Deserialize, PartialEq, Eq)]
#[serde(transparent)]
pub struct Secret(pub String);

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(***)")
    }
}

/// Bytes of a request body the library reads at most; Django's default is 2.5 MiB.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
#[serde(transparent)]
pub struct UploadLimit(pub usize);

impl Default for UploadLimit {
    fn default() -> Self {
        UploadLimit(2_621_440)
    }
}

/// `SameSite` attribute of a cookie.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
pub enum SameSite {
    /// `Strict`: never sent on a request from another site.
    Strict,
    /// `Lax`: sent on another site's top-level navigation only (Django's default).
    Lax,
    /// `None`: sent on every request; browsers then require `Secure`.
    None,
}

impl SameSite {
    /// The attribute's value as the `Set-Cookie` header spells it.
    pub fn as_str(self) -> &'static str {
        match self {
            SameSite::Strict => "Strict",
            SameSite::Lax => "Lax",
            SameSite::None => "None",
        }
    }
}
