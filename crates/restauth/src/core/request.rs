//! Facts about a request that more than one part of restauth reads, each decided here once.

use http::{HeaderMap, Method};

/// DRF's `SAFE_METHODS`: GET, HEAD and OPTIONS (what `IsAuthenticatedOrReadOnly` lets through).
pub fn is_safe_method(method: &Method) -> bool {
    matches!(*method, Method::GET | Method::HEAD | Method::OPTIONS)
}

/// The methods Django's CSRF check lets through unchecked: DRF's safe methods and TRACE.
pub fn is_csrf_exempt_method(method: &Method) -> bool {
    is_safe_method(method) || *method == Method::TRACE
}

/// Whether the request arrived over HTTPS, as far as restauth can know: only a proxy's
/// `X-Forwarded-Proto: https`, believed when `[csrf] trust_forwarded_proto` says so (Django's
/// `SECURE_PROXY_SSL_HEADER`); restauth itself serves plain HTTP.
pub fn is_secure(headers: &HeaderMap, trust_forwarded_proto: bool) -> bool {
    trust_forwarded_proto
        && headers
            .get("x-forwarded-proto")
            .is_some_and(|v| v.as_bytes().eq_ignore_ascii_case(b"https"))
}

/// A row id as a URL path names it (`/…/{id}/`): digits only, no sign or spaces. Anything else
/// names no object, so it is DRF's 404, never a 400 that would tell ids from other paths.
pub fn path_id(raw: &str) -> Result<i64, crate::core::error::Error> {
    if raw.is_empty() || !raw.bytes().all(|b| b.is_ascii_digit()) {
        return Err(crate::core::error::Error::NotFound);
    }
    raw.parse().map_err(|_| crate::core::error::Error::NotFound)
}

/// A user's key as a URL path names it: an integer as [`path_id`] reads one, or a UUID
/// (dashed or as 32 hex digits). Anything else names no user: DRF's 404.
pub fn path_user_id(raw: &str) -> Result<crate::core::user_id::UserId, crate::core::error::Error> {
    if let Ok(n) = path_id(raw) {
        return Ok(crate::core::user_id::UserId::Int(n));
    }
    if raw.len() != raw.trim().len() {
        return Err(crate::core::error::Error::NotFound);
    }
    match crate::core::user_id::Uuid::parse(raw) {
        Some(u) if raw.len() == 32 || raw.len() == 36 => Ok(crate::core::user_id::UserId::Uuid(u)),
        _ => Err(crate::core::error::Error::NotFound),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn safe_methods() {
        for m in [Method::GET, Method::HEAD, Method::OPTIONS] {
            assert!(is_safe_method(&m) && is_csrf_exempt_method(&m), "{m}");
        }
        assert!(!is_safe_method(&Method::TRACE) && is_csrf_exempt_method(&Method::TRACE));
        for m in [Method::POST, Method::PUT, Method::PATCH, Method::DELETE] {
            assert!(!is_safe_method(&m) && !is_csrf_exempt_method(&m), "{m}");
        }
    }

    #[test]
    fn forwarded_proto_counts_only_when_trusted() {
        let mut h = HeaderMap::new();
        h.insert("x-forwarded-proto", "HTTPS".parse().unwrap());
        assert!(is_secure(&h, true));
        assert!(!is_secure(&h, false));
        h.insert("x-forwarded-proto", "http".parse().unwrap());
        assert!(!is_secure(&h, true));
        assert!(!is_secure(&HeaderMap::new(), true));
    }

    #[test]
    fn path_ids_are_plain_positive_numbers() {
        assert_eq!(path_id("42").ok(), Some(42));
        assert_eq!(path_id("007").ok(), Some(7));
        for bad in ["", "-1", "+1", " 1", "1.0", "abc", "99999999999999999999"] {
            assert!(path_id(bad).is_err(), "{bad}");
        }
        assert_eq!(
            path_user_id("42").ok(),
            Some(crate::core::user_id::UserId::Int(42))
        );
        let u = "1ecddc2d-0f3b-4e0b-9a3c-000000000001";
        assert_eq!(
            path_user_id(u).ok().map(|id| id.to_string()).as_deref(),
            Some(u)
        );
        for bad in [
            "",
            "-1",
            "1ecddc2d",
            "{1ecddc2d-0f3b-4e0b-9a3c-000000000001}",
            " 42",
        ] {
            assert!(path_user_id(bad).is_err(), "{bad}");
        }
    }
}
