//! DRF's content negotiation: a view renders one media type, and a request whose `Accept`
//! header does not allow it is answered 406 before anything else runs (authentication
//! included), as DRF's `perform_content_negotiation` does in `initial()`.

use http::{HeaderMap, header};

/// Whether the request's `Accept` allows `offered` (`"type/subtype"`, lower case).
///
/// No `Accept` (or an empty one) allows anything. Otherwise the most specific range that
/// matches decides (`type/subtype` over `type/*` over `*/*`), and `q=0` means "not
/// acceptable", so `application/json;q=0, */*` refuses JSON. Other parameters do not matter,
/// as for DRF's renderers, which declare none.
pub fn accepts(headers: &HeaderMap, offered: &str) -> bool {
    // What nearly every client sends, answered without parsing: no `Accept`, or one that is
    // exactly `*/*` or the offered type.
    let mut values = headers.get_all(header::ACCEPT).iter();
    match (values.next(), values.next()) {
        (None, _) => return true,
        (Some(only), None)
            if only == "*/*" || only.as_bytes().eq_ignore_ascii_case(offered.as_bytes()) =>
        {
            return true;
        }
        _ => {}
    }
    let (o_type, o_sub) = offered.split_once('/').unwrap_or((offered, ""));
    let mut seen_any = false;
    // (specificity, q) of the best match so far.
    let mut best: Option<(u8, f32)> = None;
    for value in headers.get_all(header::ACCEPT) {
        // An unreadable header allows nothing this server renders.
        let Ok(text) = value.to_str() else {
            seen_any = true;
            continue;
        };
        for range in text.split(',') {
            let mut params = range.split(';');
            let media = params.next().unwrap_or("").trim();
            if media.is_empty() {
                continue;
            }
            seen_any = true;
            let Some((r_type, r_sub)) = media.split_once('/') else {
                continue;
            };
            let (r_type, r_sub) = (r_type.trim(), r_sub.trim());
            let specificity = if r_type == "*" && r_sub == "*" {
                0
            } else if r_type.eq_ignore_ascii_case(o_type) && r_sub == "*" {
                1
            } else if r_type.eq_ignore_ascii_case(o_type) && r_sub.eq_ignore_ascii_case(o_sub) {
                2
            } else {
                continue;
            };
            let q = params
                .filter_map(|p| p.split_once('='))
                .find(|(k, _)| k.trim().eq_ignore_ascii_case("q"))
                // An unreadable weight is read as the default, 1.
                .map_or(1.0, |(_, v)| v.trim().parse::<f32>().unwrap_or(1.0));
            best = match best {
                Some((s, _)) if s > specificity => best,
                Some((s, bq)) if s == specificity => Some((s, bq.max(q))),
                _ => Some((specificity, q)),
            };
        }
    }
    if !seen_any {
        return true;
    }
    best.is_some_and(|(_, q)| q > 0.0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use http::HeaderValue;

    fn accept(values: &[&str]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for v in values {
            h.append(header::ACCEPT, HeaderValue::from_str(v).unwrap());
        }
        h
    }

    #[test]
    fn json_is_allowed_by_the_usual_headers() {
        for v in [
            "*/*",
            "application/*",
            "application/json",
            "APPLICATION/JSON",
            "application/json; charset=utf-8",
            "application/json; indent=4; q=0.5",
            "application/json;q=0.001",
            "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8",
            "application/xml, application/json;q=0.1",
            "",
            " , ",
        ] {
            assert!(accepts(&accept(&[v]), "application/json"), "{v:?}");
        }
        assert!(accepts(&HeaderMap::new(), "application/json"));
        assert!(accepts(
            &accept(&["text/plain", "application/json"]),
            "application/json"
        ));
    }

    #[test]
    fn json_is_refused_by_others_and_by_q_zero() {
        for v in [
            "application/xml",
            "text/html",
            "text/*",
            "application/json;q=0",
            "application/json; q=0.0, text/html",
            "application/json;q=0, */*",
            "application/*;q=0, */*;q=1",
            "*/*;q=0",
            "json",
            "*/json",
        ] {
            assert!(!accepts(&accept(&[v]), "application/json"), "{v:?}");
        }
    }

    #[test]
    fn html_pages_negotiate_text_html() {
        let browser = "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8";
        assert!(accepts(&accept(&[browser]), "text/html"));
        assert!(accepts(&accept(&["text/*"]), "text/html"));
        assert!(!accepts(&accept(&["application/json"]), "text/html"));
    }
}
