//! Request bodies the way DRF's parsers and `CharField` read them: JSON or form data into one
//! map (`request.data`), with DRF's error bodies for every kind of bad input.

use axum::body::Bytes;
use axum::extract::{FromRequest, Request};
use http::{StatusCode, header};
use serde_json::{Map, Value};

use crate::error::{Error, ValidationErrors};

/// DRF's `request.data` for a JSON or form-encoded body. An empty body is an empty map.
#[derive(Clone, Debug, Default)]
pub struct RequestData(pub Map<String, Value>);

/// The media type without parameters, lower-cased.
fn media_type(value: &str) -> String {
    value
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase()
}

/// Python's name for a JSON value's type, as DRF's "Expected a dictionary" message shows it.
fn python_type(v: &Value) -> &'static str {
    match v {
        Value::Null => "NoneType",
        Value::Bool(_) => "bool",
        Value::Number(n) if n.is_f64() => "float",
        Value::Number(_) => "int",
        Value::String(_) => "str",
        Value::Array(_) => "list",
        Value::Object(_) => "dict",
    }
}

/// Any parsed body: a JSON value of any type, or a form as an object. An empty body is an
/// empty object.
#[derive(Clone, Debug, Default)]
pub struct Payload(pub Value);

impl Payload {
    pub fn parse(content_type: Option<&str>, body: &[u8]) -> Result<Self, Error> {
        if body.is_empty() {
            return Ok(Payload(Value::Object(Map::new())));
        }
        let raw = content_type.unwrap_or("");
        match media_type(raw).as_str() {
            "application/json" => serde_json::from_slice(body)
                .map(Payload)
                .map_err(|e| Error::Parse(format!("JSON parse error - {e}"))),
            "application/x-www-form-urlencoded" => {
                let pairs: Vec<(String, String)> = serde_urlencoded::from_bytes(body)
                    .map_err(|_| Error::Parse("Malformed request.".into()))?;
                // A repeated field keeps its last value, as Django's QueryDict.get does.
                let map = pairs
                    .into_iter()
                    .map(|(k, v)| (k, Value::String(v)))
                    .collect();
                Ok(Payload(Value::Object(map)))
            }
            _ => Err(Error::UnsupportedMediaType(raw.to_owned())),
        }
    }
}

impl RequestData {
    /// Like DRF's serializers, only an object is accepted.
    pub fn parse(content_type: Option<&str>, body: &[u8]) -> Result<Self, Error> {
        match Payload::parse(content_type, body)?.0 {
            Value::Object(map) => Ok(RequestData(map)),
            Value::Null => Err(Error::Validation(ValidationErrors::non_field(
                "No data provided",
            ))),
            other => Err(Error::Validation(ValidationErrors::non_field(format!(
                "Invalid data. Expected a dictionary, but got {}.",
                python_type(&other)
            )))),
        }
    }

    /// A string field with DRF's `CharField` rules: required, not null, not blank, a string
    /// (numbers are accepted and stringified), no NUL characters. `trim` strips surrounding
    /// white space (DRF's default; passwords keep theirs).
    pub fn char_field(
        &self,
        name: &str,
        trim: bool,
        errors: &mut ValidationErrors,
    ) -> Option<String> {
        let text = match self.0.get(name) {
            None => {
                errors.add(name, "This field is required.");
                return None;
            }
            Some(Value::Null) => {
                errors.add(name, "This field may not be null.");
                return None;
            }
            Some(Value::String(s)) => s.clone(),
            Some(Value::Number(n)) => n.to_string(),
            Some(_) => {
                errors.add(name, "Not a valid string.");
                return None;
            }
        };
        let text = if trim { text.trim().to_owned() } else { text };
        if text.trim().is_empty() {
            errors.add(name, "This field may not be blank.");
            return None;
        }
        if text.contains('\0') {
            errors.add(name, "Null characters are not allowed.");
            return None;
        }
        Some(text)
    }
}

/// The body and its `Content-Type`, within the router's body limit (413 above it).
async fn read_body<S: Send + Sync>(
    req: Request,
    state: &S,
) -> Result<(Option<String>, Bytes), Error> {
    let content_type = req
        .headers()
        .get(header::CONTENT_TYPE)
        .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned());
    let body = Bytes::from_request(req, state).await.map_err(|e| {
        if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
            Error::PayloadTooLarge
        } else {
            Error::Parse("Malformed request.".into())
        }
    })?;
    Ok((content_type, body))
}

impl RequestData {
    /// The `username` (trimmed) and `password` (kept as typed) of a login form, with DRF's
    /// field errors when either is missing, null, blank or not a string.
    pub fn credentials(&self) -> Result<(String, String), Error> {
        let mut errors = ValidationErrors::new();
        let username = self.char_field("username", true, &mut errors);
        let password = self.char_field("password", false, &mut errors);
        errors.into_result()?;
        match (username, password) {
            (Some(u), Some(p)) => Ok((u, p)),
            _ => Err(Error::Internal("validated fields missing".into())),
        }
    }
}

impl<S: Send + Sync> FromRequest<S> for RequestData {
    type Rejection = Error;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        let (content_type, body) = read_body(req, state).await?;
        RequestData::parse(content_type.as_deref(), &body)
    }
}

impl<S: Send + Sync> FromRequest<S> for Payload {
    type Rejection = Error;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        let (content_type, body) = read_body(req, state).await?;
        Payload::parse(content_type.as_deref(), &body)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn errors_json(e: Error) -> String {
        match e {
            Error::Validation(v) => serde_json::to_string(v.as_json()).unwrap(),
            other => other.to_string(),
        }
    }

    #[test]
    fn json_must_be_an_object() {
        let e = RequestData::parse(Some("application/json"), b"[1]").unwrap_err();
        assert_eq!(
            errors_json(e),
            r#"{"non_field_errors":["Invalid data. Expected a dictionary, but got list."]}"#
        );
        let e = RequestData::parse(Some("application/json"), b"3").unwrap_err();
        assert!(errors_json(e).contains("but got int."));
    }

    #[test]
    fn malformed_json_is_a_parse_error() {
        let e = RequestData::parse(Some("application/json; charset=utf-8"), b"{x").unwrap_err();
        assert!(matches!(&e, Error::Parse(m) if m.starts_with("JSON parse error - ")));
        let e = RequestData::parse(Some("application/json"), b"{\"a\":\"\xff\"}").unwrap_err();
        assert!(matches!(e, Error::Parse(_)));
    }

    #[test]
    fn unknown_media_types_are_415() {
        let e = RequestData::parse(Some("text/plain"), b"x").unwrap_err();
        assert_eq!(
            e.to_string(),
            "Unsupported media type \"text/plain\" in request."
        );
        let e = RequestData::parse(None, b"x").unwrap_err();
        assert_eq!(e.to_string(), "Unsupported media type \"\" in request.");
    }

    #[test]
    fn char_field_rules() {
        let d = RequestData::parse(
            Some("application/json"),
            br#"{"a":null,"b":"  ","c":[],"d":12,"e":" x ","f":"a\u0000b","g":true}"#,
        )
        .unwrap();
        let mut e = ValidationErrors::new();
        assert_eq!(d.char_field("a", true, &mut e), None);
        assert_eq!(d.char_field("b", true, &mut e), None);
        assert_eq!(d.char_field("c", true, &mut e), None);
        assert_eq!(d.char_field("d", true, &mut e).as_deref(), Some("12"));
        assert_eq!(d.char_field("e", true, &mut e).as_deref(), Some("x"));
        assert_eq!(d.char_field("e", false, &mut e).as_deref(), Some(" x "));
        assert_eq!(d.char_field("f", true, &mut e), None);
        assert_eq!(d.char_field("g", true, &mut e), None);
        assert_eq!(d.char_field("missing", true, &mut e), None);
        assert_eq!(
            serde_json::to_string(e.as_json()).unwrap(),
            r#"{"a":["This field may not be null."],"b":["This field may not be blank."],"c":["Not a valid string."],"f":["Null characters are not allowed."],"g":["Not a valid string."],"missing":["This field is required."]}"#
        );
    }

    #[test]
    fn forms_keep_the_last_value() {
        let d = RequestData::parse(
            Some("application/x-www-form-urlencoded"),
            b"username=a&username=b&password=p%20w",
        )
        .unwrap();
        assert_eq!(d.0["username"], "b");
        assert_eq!(d.0["password"], "p w");
    }
}
