//! Multipart bodies over generated inputs: whatever a client sends, the parser answers with
//! fields or DRF's 400 (never a panic or another error), and the text fields a client encodes
//! are read back exactly, the last of a repeated name winning as in a form.

use proptest::prelude::*;
use proptest::test_runner::RngSeed;
use restauth::core::error::Error;
use restauth::pipeline::parsers::RequestData;
use serde_json::Value;

fn config(cases: u32) -> ProptestConfig {
    let defaults = ProptestConfig::default();
    ProptestConfig {
        cases: if std::env::var_os("PROPTEST_CASES").is_some() {
            defaults.cases
        } else {
            cases
        },
        rng_seed: match defaults.rng_seed {
            RngSeed::Random => RngSeed::Fixed(0x5eed),
            fixed => fixed,
        },
        failure_persistence: None,
        ..defaults
    }
}

fn encode(boundary: &str, fields: &[(String, String)]) -> Vec<u8> {
    let mut body = String::new();
    for (name, value) in fields {
        body.push_str(&format!(
            "--{boundary}\r\nContent-Disposition: form-data; name=\"{name}\"\r\n\r\n{value}\r\n"
        ));
    }
    body.push_str(&format!("--{boundary}--\r\n"));
    body.into_bytes()
}

proptest! {
    #![proptest_config(config(2000))]

    #[test]
    fn encoded_fields_read_back(
        boundary in "[A-Za-z0-9'()+_,./:=?-]{1,70}",
        fields in prop::collection::vec(("[a-zA-Z0-9_;= .-]{1,12}", "(\\PC|\r|\n|-){0,40}"), 0..6),
    ) {
        let delimiter = format!("\r\n--{boundary}");
        prop_assume!(fields.iter().all(|(_, v)| !format!("\r\n{v}\r\n").contains(&delimiter)));
        let content_type = format!("multipart/form-data; boundary=\"{boundary}\"");
        let data = RequestData::parse(Some(&content_type), &encode(&boundary, &fields));
        let data = data.map_err(|e| TestCaseError::fail(format!("{e:?}")))?;
        let mut expected = serde_json::Map::new();
        for (name, value) in &fields {
            expected.insert(name.clone(), Value::String(value.clone()));
        }
        prop_assert_eq!(data.0, expected);
    }

    #[test]
    fn any_body_is_fields_or_a_parse_error(
        boundary in "(\\PC|;| ){0,20}",
        body in prop::collection::vec(
            prop_oneof![
                Just(b"\r\n".to_vec()),
                Just(b"--".to_vec()),
                Just(b"--b\r\n".to_vec()),
                Just(b"Content-Disposition: form-data; name=\"a\"\r\n\r\n".to_vec()),
                Just(b"filename=\"x\"".to_vec()),
                prop::collection::vec(any::<u8>(), 0..8),
            ],
            0..12,
        ),
    ) {
        let body = body.concat();
        for content_type in [
            format!("multipart/form-data; boundary={boundary}"),
            "multipart/form-data; boundary=b".to_owned(),
        ] {
            match RequestData::parse(Some(&content_type), &body) {
                Ok(_) | Err(Error::Parse(_)) => {}
                Err(other) => prop_assert!(false, "{:?}: {:?}", content_type, other),
            }
        }
    }
}
