//! Django's `PasswordResetTokenGenerator` and djoser's `uid`, so links made by restauth work
//! in a Django project with the same `SECRET_KEY` and the other way round.
//!
//! A token is `<timestamp in base 36>-<every other hex digit of an HMAC-SHA256>` over the user's
//! id, password hash, last login, the timestamp and e-mail, keyed by the secret key. Anything
//! in that list changing (a new password, a login, a new e-mail) ends the token: so a link
//! works once. The timestamp counts seconds since 2001-01-01 UTC (Django's `datetime.now()`
//! under `TIME_ZONE = "UTC"`).

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use subtle::ConstantTimeEq;

use crate::core::hmac::salted_hmac;
use crate::core::user::User;

const KEY_SALT: &str = "django.contrib.auth.tokens.PasswordResetTokenGenerator";
/// 2001-01-01T00:00:00Z in Unix seconds, Django's epoch for these tokens.
const EPOCH_2001: i64 = 978_307_200;

/// djoser's `encode_uid`: the id's decimal digits in URL-safe base64 without padding.
pub fn encode_uid(id: crate::core::user_id::UserId) -> String {
    URL_SAFE_NO_PAD.encode(id.to_string())
}

/// djoser's `decode_uid`, strictly: `None` for anything that is not the encoding of an id.
/// The key is an integer's digits or a UUID (`str(pk)`, dashed), as djoser encodes `user.pk`.
pub fn decode_uid(uid: &str) -> Option<crate::core::user_id::UserId> {
    if uid.len() > 64 {
        return None;
    }
    let bytes = URL_SAFE_NO_PAD.decode(uid.trim_end_matches('=')).ok()?;
    let text = std::str::from_utf8(&bytes).ok()?;
    if !text.is_empty() && text.bytes().all(|b| b.is_ascii_digit()) {
        return text.parse().ok().map(crate::core::user_id::UserId::Int);
    }
    if text.len() != 36 {
        return None;
    }
    crate::core::user_id::Uuid::parse(text).map(crate::core::user_id::UserId::Uuid)
}

/// A token for `user` made at `now` (Unix seconds).
pub fn make_token(user: &User, now: i64, secret: &str) -> String {
    token_at(user, now.saturating_sub(EPOCH_2001).max(0), secret)
}

/// Whether `token` was made after `cut_off` (Unix milliseconds, the user's `valid_after`):
/// its second must begin after the cut-off, so a token of the cut-off's own second, which may
/// be older than it, is refused. `false` for a token without a readable timestamp.
pub fn made_after(token: &str, cut_off: i64) -> bool {
    let Some(ts) = timestamp(token) else {
        return false;
    };
    ts.saturating_add(EPOCH_2001).saturating_mul(1000) > cut_off
}

/// The timestamp of a token (seconds since 2001), read as Django reads it.
fn timestamp(token: &str) -> Option<i64> {
    let (ts36, _) = token.split_once('-')?;
    // Django's base36_to_int refuses more than 13 digits (beyond 64 bits).
    if ts36.is_empty() || ts36.len() > 13 || token.len() > 64 {
        return None;
    }
    if !ts36
        .bytes()
        .all(|b| b.is_ascii_digit() || b.is_ascii_lowercase())
    {
        return None;
    }
    i64::from_str_radix(ts36, 36).ok()
}

/// Whether `token` was made for `user` as it is now, by `secret`, at most `timeout` seconds
/// before `now`.
pub fn check_token(user: &User, token: &str, now: i64, timeout: i64, secret: &str) -> bool {
    let Some(ts) = timestamp(token) else {
        return false;
    };
    let expected = token_at(user, ts, secret);
    if !bool::from(expected.as_bytes().ct_eq(token.as_bytes())) {
        return false;
    }
    now.saturating_sub(EPOCH_2001).saturating_sub(ts) <= timeout
}

fn token_at(user: &User, ts: i64, secret: &str) -> String {
    let login = user.last_login.map(datetime).unwrap_or_default();
    let value = format!("{}{}{}{}{}", user.id, user.password, login, ts, user.email);
    let mac = hex::encode(salted_hmac(KEY_SALT, value.as_bytes(), secret.as_bytes()));
    // Every other digit: Django shortens the URL this way.
    let short: String = mac.chars().step_by(2).collect();
    format!("{}-{short}", base36(ts))
}

fn base36(mut n: i64) -> String {
    const DIGITS: &[u8] = b"0123456789abcdefghijklmnopqrstuvwxyz";
    if n <= 0 {
        return "0".into();
    }
    let mut out = Vec::new();
    while n > 0 {
        out.push(DIGITS[(n % 36) as usize]);
        n /= 36;
    }
    out.reverse();
    String::from_utf8(out).unwrap_or_default()
}

/// Unix seconds as Python prints a naive `datetime` (UTC): `2026-11-30 05:06:07`.
fn datetime(secs: i64) -> String {
    let days = secs.div_euclid(86_400);
    let rem = secs.rem_euclid(86_400);
    // Howard Hinnant's civil_from_days.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!(
        "{y:04}-{m:02}-{d:02} {:02}:{:02}:{:02}",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECRET: &str = "restauth-test-secret-key-0123456789abcdef";

    fn user() -> User {
        User {
            id: crate::core::user_id::UserId::Int(42),
            username: "alice".into(),
            email: "alice@example.com".into(),
            first_name: String::new(),
            last_name: String::new(),
            password: "argon2$argon2id$v=19$m=19456,t=2,p=1$c2FsdA$aGFzaA".into(),
            is_active: true,
            is_staff: false,
            is_superuser: false,
            date_joined: 0,
            // 2026-11-30 05:06:07 UTC (Django drops the microseconds).
            last_login: Some(1_796_015_167),
            valid_after: 0,
            cut_off_cause: Default::default(),
            deactivated_by_admin: false,
            permissions: Default::default(),
            extra: Default::default(),
        }
    }

    /// 2026-11-30 06:00:00 UTC.
    const MADE: i64 = 1_796_018_400;

    #[test]
    fn tokens_equal_djangos() {
        // Computed by Django 5.2's PasswordResetTokenGenerator with the same SECRET_KEY, user
        // and instant (TIME_ZONE = "UTC").
        assert_eq!(
            make_token(&user(), MADE, SECRET),
            "diue00-dc9c2b59901ab67494e808e265d3b45a"
        );
        let never_logged_in = User {
            last_login: None,
            email: String::new(),
            ..user()
        };
        assert_eq!(
            make_token(&never_logged_in, MADE, SECRET),
            "diue00-f6bdd38bc93b8e06a5348eb7d42fb7be"
        );
        assert_eq!(datetime(1_796_015_167), "2026-11-30 05:06:07");
        assert_eq!(datetime(0), "1970-01-01 00:00:00");
        assert_eq!(datetime(951_782_400), "2000-02-29 00:00:00");
    }

    #[test]
    fn a_token_is_made_after_the_cut_off_or_refused() {
        let t = make_token(&user(), MADE, SECRET);
        assert!(made_after(&t, 0));
        assert!(made_after(&t, MADE * 1000 - 1));
        // The cut-off's own second: the token may be older than it.
        assert!(!made_after(&t, MADE * 1000));
        assert!(!made_after(&t, MADE * 1000 + 999));
        assert!(!made_after("", 0));
        assert!(!made_after("zzzzzzzzzzzzzzz-1", 0));
    }

    #[test]
    fn uids_are_djosers() {
        assert_eq!(encode_uid(crate::core::user_id::UserId::Int(42)), "NDI");
        assert_eq!(encode_uid(crate::core::user_id::UserId::Int(1)), "MQ");
        assert_eq!(
            encode_uid(crate::core::user_id::UserId::Int(123_456)),
            "MTIzNDU2"
        );
        assert_eq!(
            decode_uid("NDI"),
            Some(crate::core::user_id::UserId::Int(42))
        );
        assert_eq!(
            decode_uid("NDI="),
            Some(crate::core::user_id::UserId::Int(42))
        );
        for bad in [
            "",
            "!!",
            "YQ",
            "LTE",
            "MTIzNDU2MTIzNDU2MTIzNDU2MTIzNDU2MTIzNDU2",
        ] {
            assert_eq!(decode_uid(bad), None, "{bad}");
        }
    }

    #[test]
    fn a_token_stops_working_when_anything_it_covers_changes() {
        let u = user();
        let t = make_token(&u, MADE, SECRET);
        let day = 86_400;
        assert!(check_token(&u, &t, MADE, 3 * day, SECRET));
        assert!(check_token(&u, &t, MADE + 3 * day, 3 * day, SECRET));
        assert!(!check_token(&u, &t, MADE + 3 * day + 1, 3 * day, SECRET));
        assert!(!check_token(
            &u,
            &t,
            MADE,
            3 * day,
            "another-secret-key-0123456789abcdef"
        ));
        for changed in [
            User {
                password: "other".into(),
                ..u.clone()
            },
            User {
                last_login: Some(MADE),
                ..u.clone()
            },
            User {
                email: "new@example.com".into(),
                ..u.clone()
            },
            User {
                id: crate::core::user_id::UserId::Int(43),
                ..u.clone()
            },
        ] {
            assert!(!check_token(&changed, &t, MADE, 3 * day, SECRET));
        }
        for bad in [
            "",
            "-",
            "diue00",
            "diue00-",
            "DIUE00-dc9c2b59901ab67494e808e265d3b45a",
            "zzzzzzzzzzzzzzz-1",
        ] {
            assert!(!check_token(&u, bad, MADE, 3 * day, SECRET), "{bad}");
        }
    }
}
