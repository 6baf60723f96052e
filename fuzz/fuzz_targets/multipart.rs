//! The multipart parser: any body answers its text fields or DRF's 400, and fields written out
//! again read back the same.
#![no_main]

use libfuzzer_sys::fuzz_target;
use restauth::fuzzing::multipart_fields;

const BOUNDARY: &str = "fuzzBoundary";

/// A body holding `fields` as text parts.
fn encode(fields: &[(String, String)]) -> Vec<u8> {
    let mut body = Vec::new();
    for (name, value) in fields {
        body.extend_from_slice(
            format!(
                "--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"{name}\"\r\n\r\n{value}\r\n"
            )
            .as_bytes(),
        );
    }
    body.extend_from_slice(format!("--{BOUNDARY}--\r\n").as_bytes());
    body
}

fuzz_target!(|data: &[u8]| {
    let content_type = format!("multipart/form-data; boundary={BOUNDARY}");
    // Whatever the body: fields or a parse error, never a panic.
    if let Ok(fields) = multipart_fields(&content_type, data) {
        for (name, value) in &fields {
            assert!(!name.is_empty(), "an empty field name");
            assert!(value.is_string(), "{name}: {value}");
        }
    }
    // From the other side: names and values taken from the input survive the round trip.
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let fields: Vec<(String, String)> = text
        .lines()
        .filter_map(|line| line.split_once('='))
        .filter(|(name, value)| {
            !name.is_empty()
                && !name.contains(['"', '\r', '\n', ';', '\\'])
                && !value.contains(BOUNDARY)
        })
        .map(|(n, v)| (n.to_owned(), v.to_owned()))
        .collect();
    if fields.is_empty() {
        return;
    }
    let read = multipart_fields(&content_type, &encode(&fields))
        .unwrap_or_else(|e| panic!("{fields:?}: {e}"));
    // A repeated name keeps its last value, as Django's QueryDict.get does.
    for (name, _) in &fields {
        let last = fields.iter().rev().find(|(n, _)| n == name).map(|(_, v)| v);
        assert_eq!(read.get(name).and_then(|v| v.as_str()), last.map(String::as_str));
    }
});
