//! Throttle rate strings (`"10/min"`, `"off"`), from text and from configuration.
#![no_main]

use libfuzzer_sys::fuzz_target;
use restauth::pipeline::throttling::{Rate, RateSetting};
use serde_json::Value;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let parsed = text.parse::<Rate>();
    if let Ok(rate) = parsed {
        let period = match rate.duration_secs {
            1 => "s",
            60 => "m",
            3600 => "h",
            86400 => "d",
            other => panic!("{text:?} gave a window of {other} s"),
        };
        // The canonical spelling reads back as the same rate.
        let again: Rate = format!("{}/{period}", rate.num_requests)
            .parse()
            .expect("canonical rate");
        assert_eq!(again, rate);
    }
    let setting = text.parse::<RateSetting>();
    match &setting {
        Ok(RateSetting(Some(rate))) => assert_eq!(parsed.as_ref(), Ok(rate)),
        Ok(RateSetting(None)) => assert_eq!(text.trim(), "off"),
        Err(_) => assert!(parsed.is_err()),
    }
    // The configuration path reads strings the same way.
    let from_config = serde_json::from_value::<RateSetting>(Value::from(text));
    assert_eq!(from_config.ok(), setting.ok());
});
