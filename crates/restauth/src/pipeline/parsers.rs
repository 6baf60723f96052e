//! Request bodies the way DRF's parsers and `CharField` read them: JSON, form-encoded or
//! multipart form data, read by one extractor, [`Body`], into a map (`request.data`,
//! [`RequestData`]), any JSON value, or a type of the app's, with DRF's error bodies for every
//! kind of bad input.

use axum::body::Bytes;
use axum::extract::{FromRequest, Request};
use http::{StatusCode, header};
use serde::de::DeserializeOwned;
use serde_json::{Map, Value};

use crate::core::error::{Error, ValidationErrors, body_read_error};

/// DRF's `request.data` for a JSON, form-encoded or multipart body (its text fields). An
/// empty body is an empty map. Read it with [`Body`]: `Body(data): Body<RequestData>`.
#[derive(Clone, Debug, Default, serde::Deserialize)]
#[serde(transparent)]
pub struct RequestData(pub Map<String, Value>);

/// The request's body, parsed as DRF's parsers parse it (chosen by `Content-Type`: JSON,
/// form-encoded, or multipart's text fields; an empty body is an empty object) and read into
/// `T`: [`RequestData`] for DRF's `request.data`, `serde_json::Value` for any JSON, or an
/// app's own `Deserialize` type.
///
/// A body that does not parse answers DRF's 400 (`JSON parse error - …`, `Multipart form
/// parse error - …`), an unsupported `Content-Type` 415, a body over the limit 413, and a
/// value `T` cannot take DRF's 400 for serializers: `{"non_field_errors": ["No data
/// provided"]}` for `null`, `["Invalid data. Expected a dictionary, but got list."]` for a
/// non-object where `T` wants one.
#[derive(Clone, Debug, Default)]
pub struct Body<T>(pub T);

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
pub fn parse(content_type: Option<&str>, body: &[u8]) -> Result<Value, Error> {
    {
        if body.is_empty() {
            return Ok(Value::Object(Map::new()));
        }
        let raw = content_type.unwrap_or("");
        match media_type(raw).as_str() {
            "application/json" => serde_json::from_slice(body)
                .map_err(|e| Error::Parse(format!("JSON parse error - {e}"))),
            "application/x-www-form-urlencoded" => {
                let pairs: Vec<(String, String)> = serde_urlencoded::from_bytes(body)
                    .map_err(|_| Error::Parse("Malformed request.".into()))?;
                // A repeated field keeps its last value, as Django's QueryDict.get does.
                let map = pairs
                    .into_iter()
                    .map(|(k, v)| (k, Value::String(v)))
                    .collect();
                Ok(Value::Object(map))
            }
            "multipart/form-data" => multipart(raw, body).map(Value::Object),
            _ => Err(Error::UnsupportedMediaType(raw.to_owned())),
        }
    }
}

/// DRF's `MultiPartParser` error, `"Multipart form parse error - <reason>"` (400).
fn multipart_error(reason: impl std::fmt::Display) -> Error {
    Error::Parse(format!("Multipart form parse error - {reason}"))
}

/// The value of parameter `name` of a header value (`; name=value` or `; name="value"`).
fn header_param<'a>(value: &'a str, name: &str) -> Option<&'a str> {
    value.split(';').skip(1).find_map(|p| {
        let (k, v) = p.split_once('=')?;
        k.trim().eq_ignore_ascii_case(name).then(|| {
            let v = v.trim();
            v.strip_prefix('"')
                .and_then(|v| v.strip_suffix('"'))
                .unwrap_or(v)
        })
    })
}

/// The `name` and `filename` of a part's `Content-Disposition: form-data; …`. Quoted values
/// may hold `;` (browsers escape `"` as `%22`), so this reads them quote-aware.
fn disposition(value: &str) -> (Option<String>, bool) {
    let mut name = None;
    let mut is_file = false;
    let mut rest = value.split_once(';').map_or("", |(_, r)| r);
    while !rest.trim().is_empty() {
        let Some((key, after)) = rest.split_once('=') else {
            break;
        };
        let key = key.trim().to_ascii_lowercase();
        let after = after.trim_start();
        let (val, next) = if let Some(quoted) = after.strip_prefix('"') {
            let mut out = String::new();
            let mut chars = quoted.char_indices();
            let mut end = quoted.len();
            while let Some((i, c)) = chars.next() {
                match c {
                    '\\' => {
                        if let Some((_, n)) = chars.next() {
                            out.push(n);
                        }
                    }
                    '"' => {
                        end = i + 1;
                        break;
                    }
                    c => out.push(c),
                }
            }
            let tail = &quoted[end.min(quoted.len())..];
            (out, tail.split_once(';').map_or("", |(_, r)| r))
        } else {
            let (v, r) = after.split_once(';').unwrap_or((after, ""));
            (v.trim().to_owned(), r)
        };
        match key.as_str() {
            "name" => name = Some(val),
            "filename" | "filename*" => is_file = true,
            _ => {}
        }
        rest = next;
    }
    (name, is_file)
}

/// A `multipart/form-data` body's text fields (DRF's `request.data`; files are not read).
/// The body is already whole and within `max_body_bytes`. As in a form, a repeated field
/// keeps its last value.
fn multipart(content_type: &str, body: &[u8]) -> Result<Map<String, Value>, Error> {
    let boundary = header_param(content_type, "boundary");
    // Django's rule: printable ASCII, at most 201 characters, not ending in a space.
    let valid = boundary.is_some_and(|b| {
        !b.is_empty()
            && b.len() <= 201
            && b.bytes().all(|c| (b' '..=b'~').contains(&c))
            && !b.ends_with(' ')
    });
    let boundary = match boundary {
        Some(b) if valid => b,
        Some(b) => {
            return Err(multipart_error(format!(
                "Invalid boundary in multipart: {b}"
            )));
        }
        None => return Err(multipart_error("Invalid boundary in multipart: None")),
    };
    let delimiter = format!("--{boundary}");
    let next_part = format!("\r\n{delimiter}");
    let truncated = || multipart_error("the body ends before the closing boundary");
    // A preamble before the first delimiter is allowed and ignored.
    let mut rest = if body.starts_with(delimiter.as_bytes()) {
        &body[delimiter.len()..]
    } else {
        let at = memchr::memmem::find(body, next_part.as_bytes()).ok_or_else(truncated)?;
        &body[at + next_part.len()..]
    };
    let mut fields = Map::new();
    loop {
        if rest.starts_with(b"--") {
            // The closing delimiter; an epilogue after it is ignored.
            return Ok(fields);
        }
        let padding = rest
            .iter()
            .take_while(|c| matches!(c, b' ' | b'\t'))
            .count();
        rest = rest[padding..]
            .strip_prefix(b"\r\n")
            .ok_or_else(|| multipart_error("a boundary is not followed by a line break"))?;
        let (head, content) = match rest.strip_prefix(b"\r\n") {
            Some(content) => (&b""[..], content),
            None => {
                let end = memchr::memmem::find(rest, b"\r\n\r\n").ok_or_else(truncated)?;
                (&rest[..end], &rest[end + 4..])
            }
        };
        let end = memchr::memmem::find(content, next_part.as_bytes()).ok_or_else(truncated)?;
        let value = &content[..end];
        rest = &content[end + next_part.len()..];

        let head = std::str::from_utf8(head)
            .map_err(|_| multipart_error("part headers are not valid UTF-8"))?;
        let (name, is_file) = head
            .split("\r\n")
            .filter_map(|line| line.split_once(':'))
            .find(|(k, _)| k.trim().eq_ignore_ascii_case("content-disposition"))
            .map_or((None, false), |(_, v)| disposition(v));
        // A part without a name (or with an empty one, `name=`) is skipped, and a file is not
        // a text field.
        let Some(name) = name.filter(|name| !is_file && !name.is_empty()) else {
            continue;
        };
        let text = std::str::from_utf8(value)
            .map_err(|_| multipart_error(format!("the field {name:?} is not valid UTF-8")))?;
        fields.insert(name, Value::String(text.to_owned()));
    }
}

/// A parsed body as `T`, with DRF's serializer errors for a value it cannot take. A form's
/// values are text: they are read as a form is (`"5"` is a number for a number field, as
/// DRF's fields read them); a JSON body's are read by type.
fn read_into<T: DeserializeOwned>(value: Value, form: bool) -> Result<T, Error> {
    if value.is_null() {
        return Err(Error::Validation(ValidationErrors::non_field(
            "No data provided",
        )));
    }
    if !value.is_object() {
        let kind = python_type(&value);
        return serde_json::from_value(value).map_err(|_| {
            Error::Validation(ValidationErrors::non_field(format!(
                "Invalid data. Expected a dictionary, but got {kind}."
            )))
        });
    }
    let read = if form {
        // Values are all strings here; the last of a repeated field is already the one kept.
        let pairs: Vec<(String, String)> = match value {
            Value::Object(map) => map
                .into_iter()
                .map(|(k, v)| match v {
                    Value::String(s) => (k, s),
                    other => (k, other.to_string()),
                })
                .collect(),
            _ => Vec::new(),
        };
        let encoded = serde_urlencoded::to_string(&pairs)
            .map_err(|e| Error::Internal(format!("re-encoding a form: {e}")))?;
        let parsed = form_pairs(&encoded);
        serde_path_to_error::deserialize(serde_urlencoded::Deserializer::new(parsed))
            .map_err(|e| field_errors(e.path().to_string(), &e.into_inner().to_string()))
    } else {
        serde_path_to_error::deserialize(value)
            .map_err(|e| field_errors(e.path().to_string(), &e.into_inner().to_string()))
    };
    read.map_err(Error::Validation)
}

fn form_pairs(encoded: &str) -> form_urlencoded::Parse<'_> {
    form_urlencoded::parse(encoded.as_bytes())
}

/// DRF's message for what serde said of the value at `path` (`.` for the body itself).
fn field_errors(path: String, message: &str) -> ValidationErrors {
    let at = |field: &str| -> String {
        match path.as_str() {
            "." | "" => field.to_owned(),
            parent => format!("{parent}.{field}"),
        }
    };
    let (field, text) = if let Some(name) = quoted_after(message, "missing field `") {
        (at(name), "This field is required.".to_owned())
    } else if let Some(name) = quoted_after(message, "unknown variant `") {
        (path.clone(), format!("\"{name}\" is not a valid choice."))
    } else {
        let text = if message.starts_with("invalid type: null") {
            "This field may not be null."
        } else if message.contains("expected a string") {
            "Not a valid string."
        } else if message.contains("expected a boolean")
            || message.contains("provided string was not `true` or `false`")
        {
            "Must be a valid boolean."
        } else if message.contains("expected i")
            || message.contains("expected u")
            || message.contains("invalid digit")
            || message.contains("number too large")
        {
            "A valid integer is required."
        } else if message.contains("expected f") || message.contains("invalid float") {
            "A valid number is required."
        } else if message.contains("expected a sequence") {
            "Expected a list of items."
        } else {
            message
        };
        (path.clone(), text.to_owned())
    };
    let mut errors = ValidationErrors::new();
    match field.as_str() {
        "." | "" => errors.add("non_field_errors", text),
        field => errors.add(field, text),
    }
    errors
}

/// The text between `prefix` and the next backquote of `message`.
fn quoted_after<'a>(message: &'a str, prefix: &str) -> Option<&'a str> {
    let rest = &message[message.find(prefix)? + prefix.len()..];
    rest.split('`').next()
}

impl RequestData {
    /// Like DRF's serializers, only an object is accepted.
    pub fn parse(content_type: Option<&str>, body: &[u8]) -> Result<Self, Error> {
        read_into(parse(content_type, body)?, false)
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
    let body = Bytes::from_request(req, state)
        .await
        .map_err(|e| body_read_error(&e, e.status() == StatusCode::PAYLOAD_TOO_LARGE))?;
    Ok((content_type, body))
}

impl RequestData {
    /// The `username` (trimmed) and `password` (kept as typed) of a login form, with DRF's
    /// field errors when either is missing, null, blank or not a string.
    pub fn credentials(&self) -> Result<(String, String), Error> {
        self.credentials_named("username")
    }

    /// The key DRF's `obtain_auth_token` and Django's login forms read the user's name from:
    /// `username`, whatever `USERNAME_FIELD` is. A body without it that holds `legacy`
    /// (`[user] username_field`, which restauth read there before) is read from that instead,
    /// for one release, with a warning the first time.
    pub(crate) fn username_key<'a>(&self, legacy: &'a str) -> &'a str {
        static WARNED: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);
        if legacy == "username" || self.0.contains_key("username") || !self.0.contains_key(legacy) {
            return "username";
        }
        if !WARNED.swap(true, std::sync::atomic::Ordering::Relaxed) {
            tracing::warn!(
                field = legacy,
                "a login body names the user by {legacy:?}: DRF's obtain_auth_token and the \
                 session logins read \"username\"; the old key is accepted for this release only"
            );
        }
        legacy
    }

    /// [`credentials`](Self::credentials) with the username read from the field `field`
    /// (`[user] username_field`, Django's `USERNAME_FIELD`), as DRF's and simplejwt's
    /// serializers name it.
    pub fn credentials_named(&self, field: &str) -> Result<(String, String), Error> {
        let mut errors = ValidationErrors::new();
        let username = self.char_field(field, true, &mut errors);
        let password = self.char_field("password", false, &mut errors);
        errors.into_result()?;
        match (username, password) {
            (Some(u), Some(p)) => Ok((u, p)),
            _ => Err(Error::Internal("validated fields missing".into())),
        }
    }
}

impl<S: Send + Sync, T: DeserializeOwned + 'static> FromRequest<S> for Body<T> {
    type Rejection = Error;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        let (content_type, body) = read_body(req, state).await?;
        let value = parse(content_type.as_deref(), &body)?;
        // Any JSON value is a `Value`, `null` included (DRF's `request.data` of `null`).
        if std::any::TypeId::of::<T>() == std::any::TypeId::of::<Value>() {
            return serde_json::from_value(value)
                .map(Body)
                .map_err(|e| Error::Internal(format!("a Value from a Value: {e}")));
        }
        let form = !matches!(
            content_type.as_deref().map(media_type).as_deref(),
            Some("application/json") | None
        );
        read_into(value, form).map(Body)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(serde::Deserialize, Debug, PartialEq)]
    struct Note {
        title: String,
    }

    #[test]
    fn a_body_reads_into_an_apps_type_with_drfs_errors() {
        for (content_type, body) in [
            ("application/json", &br#"{"title": "a"}"#[..]),
            ("application/x-www-form-urlencoded", b"title=a"),
        ] {
            let form = content_type != "application/json";
            let note: Note = read_into(parse(Some(content_type), body).unwrap(), form).unwrap();
            assert_eq!(note.title, "a");
        }
        let refused = |body: &[u8]| {
            let value = parse(Some("application/json"), body).unwrap();
            match read_into::<Note>(value, false) {
                Err(Error::Validation(e)) => e,
                other => panic!("{other:?}"),
            }
        };
        assert_eq!(
            refused(b"null"),
            ValidationErrors::non_field("No data provided")
        );
        assert_eq!(
            refused(b"[1]"),
            ValidationErrors::non_field("Invalid data. Expected a dictionary, but got list.")
        );
        assert!(!refused(b"{}").is_empty());
    }

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

    const MULTIPART: &str = "multipart/form-data; boundary=----b0undary";

    fn multipart_body(parts: &[(&str, &str)]) -> Vec<u8> {
        let mut body = String::new();
        for (head, value) in parts {
            body.push_str(&format!("------b0undary\r\n{head}\r\n\r\n{value}\r\n"));
        }
        body.push_str("------b0undary--\r\n");
        body.into_bytes()
    }

    #[test]
    fn multipart_text_fields_are_read_and_files_skipped() {
        let body = multipart_body(&[
            (
                "Content-Disposition: form-data; name=\"username\"",
                " alice ",
            ),
            (
                "content-disposition: form-data; name=\"password\"\r\nContent-Type: text/plain",
                "p;w\r\n\"x\"",
            ),
            (
                "Content-Disposition: form-data; name=\"avatar\"; filename=\"a.png\"\r\nContent-Type: image/png",
                "\u{1}\u{2}",
            ),
            ("Content-Disposition: form-data; name=\"a;b\"", "semi"),
            ("Content-Disposition: form-data", "no name"),
            ("Content-Disposition: form-data; name=", "empty name"),
            (
                "Content-Disposition: form-data; name=\"\"",
                "empty quoted name",
            ),
            ("Content-Disposition: form-data; name=username", "bob"),
        ]);
        let d = RequestData::parse(Some(MULTIPART), &body).unwrap();
        assert_eq!(d.0["username"], "bob");
        assert_eq!(d.0["password"], "p;w\r\n\"x\"");
        assert_eq!(d.0["a;b"], "semi");
        assert!(d.0.get("avatar").is_none());
        assert_eq!(d.0.len(), 3);
        let quoted = "multipart/form-data; boundary=\"----b0undary\"";
        assert_eq!(
            RequestData::parse(Some(quoted), &body).unwrap().0["username"],
            "bob"
        );
        // A preamble and an epilogue are ignored.
        let mut framed = b"preamble\r\n".to_vec();
        framed.extend_from_slice(&body);
        framed.extend_from_slice(b"epilogue");
        assert_eq!(
            RequestData::parse(Some(MULTIPART), &framed).unwrap().0["password"],
            "p;w\r\n\"x\""
        );
    }

    #[test]
    fn malformed_multipart_is_drfs_parse_error() {
        let body = multipart_body(&[("Content-Disposition: form-data; name=\"a\"", "1")]);
        let message = |ct: &str, body: &[u8]| match RequestData::parse(Some(ct), body) {
            Err(Error::Parse(m)) => m,
            other => panic!("{ct}: {other:?}"),
        };
        assert_eq!(
            message("multipart/form-data", &body),
            "Multipart form parse error - Invalid boundary in multipart: None"
        );
        assert_eq!(
            message("multipart/form-data; boundary=\"a\u{7f}\"", &body),
            "Multipart form parse error - Invalid boundary in multipart: a\u{7f}"
        );
        for broken in [
            &body[..body.len() - 10],
            b"no delimiter at all",
            b"------b0undary\r\nContent-Disposition: form-data; name=\"a\"",
            b"------b0undaryX\r\n\r\n1\r\n------b0undary--",
            b"------b0undary\r\nContent-Disposition: form-data; name=\"a\"\r\n\r\n\xff\r\n------b0undary--",
        ] {
            let m = message(MULTIPART, broken);
            assert!(m.starts_with("Multipart form parse error - "), "{m}");
        }
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
