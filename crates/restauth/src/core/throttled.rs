//! DRF's 429 wording and `Retry-After` value.

/// DRF's 429 `detail` and `Retry-After` seconds for a wait.
///
/// The wait is rounded up: `Some(60.0)` gives
/// `("Request was throttled. Expected available in 60 seconds.", Some(60))`, with the singular
/// `second.` for 1. `None` gives `("Request was throttled.", None)`. A wait that rounds to 0
/// keeps the sentence but sends no `Retry-After`, as DRF omits a falsy wait.
pub(crate) fn throttled_response_parts(wait: Option<f64>) -> (String, Option<u64>) {
    const BASE: &str = "Request was throttled.";
    // A non-finite wait cannot be shown; treat it like DRF's "no estimate".
    let Some(wait) = wait.filter(|w| w.is_finite()) else {
        return (BASE.to_owned(), None);
    };
    // Clamped at 0 so a skewed clock never prints "-0"; `as` saturates huge values.
    let secs = wait.max(0.0).ceil() as u64;
    let unit = if secs == 1 { "second" } else { "seconds" };
    let detail = format!("{BASE} Expected available in {secs} {unit}.");
    (detail, (secs > 0).then_some(secs))
}

/// The wait reported when several throttles deny one request: the largest non-`None` wait,
/// or `None` when no throttle gave one.
pub(crate) fn combine_waits(waits: impl IntoIterator<Item = Option<f64>>) -> Option<f64> {
    waits.into_iter().flatten().reduce(f64::max)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn observed_drf_responses() {
        // 2/min anonymous, third request.
        assert_eq!(
            throttled_response_parts(Some(60.0)),
            (
                "Request was throttled. Expected available in 60 seconds.".to_owned(),
                Some(60)
            )
        );
        // Scoped 1/hour.
        assert_eq!(
            throttled_response_parts(Some(3600.0)),
            (
                "Request was throttled. Expected available in 3600 seconds.".to_owned(),
                Some(3600)
            )
        );
        // 3/sec.
        assert_eq!(
            throttled_response_parts(Some(1.0)),
            (
                "Request was throttled. Expected available in 1 second.".to_owned(),
                Some(1)
            )
        );
    }

    #[test]
    fn rounds_up() {
        assert_eq!(
            throttled_response_parts(Some(0.2)),
            (
                "Request was throttled. Expected available in 1 second.".to_owned(),
                Some(1)
            )
        );
        assert_eq!(
            throttled_response_parts(Some(59.01)),
            (
                "Request was throttled. Expected available in 60 seconds.".to_owned(),
                Some(60)
            )
        );
        assert_eq!(
            throttled_response_parts(Some(1.5)),
            (
                "Request was throttled. Expected available in 2 seconds.".to_owned(),
                Some(2)
            )
        );
    }

    #[test]
    fn no_wait_and_zero_wait() {
        assert_eq!(
            throttled_response_parts(None),
            ("Request was throttled.".to_owned(), None)
        );
        assert_eq!(
            throttled_response_parts(Some(0.0)),
            (
                "Request was throttled. Expected available in 0 seconds.".to_owned(),
                None
            )
        );
        assert_eq!(
            throttled_response_parts(Some(-0.5)),
            (
                "Request was throttled. Expected available in 0 seconds.".to_owned(),
                None
            )
        );
        assert_eq!(
            throttled_response_parts(Some(f64::NAN)),
            ("Request was throttled.".to_owned(), None)
        );
    }

    #[test]
    fn combines_to_the_largest_known_wait() {
        assert_eq!(
            combine_waits([Some(3.0), None, Some(60.0), Some(1.0)]),
            Some(60.0)
        );
        assert_eq!(combine_waits([None, Some(0.5)]), Some(0.5));
        assert_eq!(combine_waits([None, None]), None);
        assert_eq!(combine_waits([]), None);
    }
}
