//! Throttle rates: DRF's `"<int>/<period>"` strings and the `"off"` switch.

use std::fmt;
use std::str::FromStr;

/// A number of requests allowed per sliding window of `duration_secs` seconds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Rate {
    /// Requests allowed in one window.
    pub num_requests: u32,
    /// Window length in seconds.
    pub duration_secs: u64,
}

/// A rate string that is not `"<int>/<period>"`; the message names the string.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error(
    "invalid throttle rate {0:?}: expected \"<requests>/<period>\" with a period of s, sec, \
     second(s), m, min, minute(s), h, hr, hour(s), d or day(s) (e.g. \"10/min\"), or \"off\""
)]
pub struct RateParseError(pub String);

impl FromStr for Rate {
    type Err = RateParseError;

    /// Reads DRF's format, but the whole period word counts: DRF reads only its first letter,
    /// so `"2/month"` would be two a minute. Only the spellings the throttling chapter lists are
    /// accepted; there is no multiplier (`"5/10m"` is rejected, not read as a looser limit).
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let bad = || RateParseError(s.to_owned());
        let (num, period) = s.trim().split_once('/').ok_or_else(bad)?;
        if period.contains('/') {
            return Err(bad());
        }
        let num_requests = num.trim().parse::<u32>().map_err(|_| bad())?;
        let duration_secs = period_seconds(period).ok_or_else(bad)?;
        Ok(Rate {
            num_requests,
            duration_secs,
        })
    }
}

/// Seconds in the named period: DRF's four units under their usual spellings
/// (case-sensitive, like DRF).
fn period_seconds(period: &str) -> Option<u64> {
    match period {
        "s" | "sec" | "second" | "seconds" => Some(1),
        "m" | "min" | "minute" | "minutes" => Some(60),
        "h" | "hr" | "hour" | "hours" => Some(3600),
        "d" | "day" | "days" => Some(86400),
        _ => None,
    }
}

/// A configured rate: `Some(rate)`, or `None` when throttling is disabled by `"off"` or null.
///
/// `Default` is disabled, so a missing optional setting turns the throttle off; callers with a
/// built-in default rate should supply it themselves.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct RateSetting(pub Option<Rate>);

impl FromStr for RateSetting {
    type Err = RateParseError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        if s.trim() == "off" {
            return Ok(RateSetting(None));
        }
        s.parse().map(|rate| RateSetting(Some(rate)))
    }
}

impl<'de> serde::Deserialize<'de> for RateSetting {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_option(RateSettingVisitor)
    }
}

/// Accepts a string or null (an absent option or a unit value).
struct RateSettingVisitor;

impl<'de> serde::de::Visitor<'de> for RateSettingVisitor {
    type Value = RateSetting;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a throttle rate such as \"10/min\", \"off\" or null")
    }

    fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<Self::Value, E> {
        v.parse().map_err(E::custom)
    }

    fn visit_none<E: serde::de::Error>(self) -> Result<Self::Value, E> {
        Ok(RateSetting(None))
    }

    fn visit_unit<E: serde::de::Error>(self) -> Result<Self::Value, E> {
        Ok(RateSetting(None))
    }

    fn visit_some<D: serde::Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        d.deserialize_str(RateSettingVisitor)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rate(n: u32, d: u64) -> Rate {
        Rate {
            num_requests: n,
            duration_secs: d,
        }
    }

    #[test]
    fn parses_every_period_spelling() {
        for (s, expected) in [
            ("3/s", rate(3, 1)),
            ("3/sec", rate(3, 1)),
            ("3/second", rate(3, 1)),
            ("3/seconds", rate(3, 1)),
            ("5/m", rate(5, 60)),
            ("5/min", rate(5, 60)),
            ("5/minute", rate(5, 60)),
            ("5/minutes", rate(5, 60)),
            ("1/h", rate(1, 3600)),
            ("1/hr", rate(1, 3600)),
            ("1/hour", rate(1, 3600)),
            ("1/hours", rate(1, 3600)),
            ("100/d", rate(100, 86400)),
            ("100/day", rate(100, 86400)),
            ("100/days", rate(100, 86400)),
            ("0/min", rate(0, 60)),
            ("4294967295/d", rate(u32::MAX, 86400)),
            (" 2/min ", rate(2, 60)),
        ] {
            assert_eq!(s.parse::<Rate>(), Ok(expected), "{s}");
        }
    }

    #[test]
    fn rejects_bad_strings_and_names_them() {
        for s in [
            "",
            "5",
            "5/",
            "/m",
            "x/m",
            "-1/m",
            "5/x",
            "5/M",
            "5/10m",
            "5/m/s",
            "5 per minute",
            "1.5/s",
            "4294967296/d",
            "5/ m",
            "off/m",
            // DRF would read these by their first letter: months and weeks as minutes.
            "2/month",
            "2/mo",
            "2/week",
            "2/w",
            "2/y",
            "10/mfoo",
            "2/secs",
            "2/mins",
            "2/hrs",
            "2/dy",
            "2/Minute",
            "2/ms",
        ] {
            let err = s.parse::<Rate>().unwrap_err();
            assert_eq!(err, RateParseError(s.to_owned()));
            assert!(err.to_string().contains(&format!("{s:?}")), "{err}");
        }
    }

    #[test]
    fn setting_reads_off_as_disabled() {
        assert_eq!("off".parse::<RateSetting>(), Ok(RateSetting(None)));
        assert_eq!(
            "10/min".parse::<RateSetting>(),
            Ok(RateSetting(Some(rate(10, 60))))
        );
        assert!("Off".parse::<RateSetting>().is_err());
    }

    #[test]
    fn setting_deserializes_from_string_or_null() {
        let parse = |json: &str| serde_json::from_str::<RateSetting>(json);
        assert_eq!(
            parse("\"30/min\"").unwrap(),
            RateSetting(Some(rate(30, 60)))
        );
        assert_eq!(parse("\"off\"").unwrap(), RateSetting(None));
        assert_eq!(parse("null").unwrap(), RateSetting(None));
        let err = parse("\"5/10m\"").unwrap_err().to_string();
        assert!(err.contains("\"5/10m\""), "{err}");
        assert!(parse("5").is_err());
    }

    #[test]
    fn setting_deserializes_inside_a_struct() {
        #[derive(serde::Deserialize)]
        struct Rates {
            login_user: RateSetting,
            #[serde(default)]
            login_ip: RateSetting,
        }
        let rates: Rates = serde_json::from_str(r#"{"login_user":"10/min"}"#).unwrap();
        assert_eq!(rates.login_user, RateSetting(Some(rate(10, 60))));
        assert_eq!(rates.login_ip, RateSetting(None));
    }
}
