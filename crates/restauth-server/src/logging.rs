//! The server's log: text for a terminal or JSON lines for a collector, with every value
//! neutralised first, so a client cannot forge a line or hide text with what it sends (a
//! username holding a newline, an escape sequence or a bidi override; CWE-117).

use std::borrow::Cow;
use std::io::{IsTerminal, Write};

use tracing_subscriber::field::MakeExt;
use tracing_subscriber::fmt::MakeWriter;
use tracing_subscriber::fmt::format::Writer;

use crate::config::LogFormat;

/// Characters that reorder how the text around them is displayed (Trojan Source).
fn is_bidi(c: char) -> bool {
    matches!(
        c,
        '\u{061C}' | '\u{200E}' | '\u{200F}' | '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}'
    )
}

/// `text` with control characters (C0, DEL, C1) and bidi controls escaped as Rust escapes
/// them (`\n`, `\u{1b}`, `\u{202e}`); borrowed when there is none.
pub fn escape(text: &str) -> Cow<'_, str> {
    if !text.chars().any(|c| c.is_control() || is_bidi(c)) {
        return Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len() + 8);
    for c in text.chars() {
        if c.is_control() || is_bidi(c) {
            out.extend(c.escape_default());
        } else {
            out.push(c);
        }
    }
    Cow::Owned(out)
}

/// Installs the subscriber: `default_level` unless `RUST_LOG` says otherwise, in `format`.
/// Colours only on a terminal.
pub fn init(default_level: &str, format: LogFormat) {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default_level));
    let logger = tracing_subscriber::fmt().with_env_filter(filter);
    match format {
        LogFormat::Text => logger
            .with_ansi(std::io::stderr().is_terminal())
            .fmt_fields(tracing_subscriber::fmt::format::debug_fn(text_field).delimited(" "))
            .with_writer(std::io::stderr)
            .init(),
        // One JSON object a line: the event's fields at the top level, for log collectors.
        // serde_json escapes C0 controls; the writer escapes what it leaves raw.
        LogFormat::Json => logger
            .json()
            .flatten_event(true)
            .with_current_span(true)
            .with_span_list(false)
            .with_writer(JsonStderr)
            .init(),
    }
}

/// A field of the text format: `name=value` (the message bare), the value escaped.
fn text_field(
    writer: &mut Writer<'_>,
    field: &tracing::field::Field,
    value: &dyn std::fmt::Debug,
) -> std::fmt::Result {
    let value = format!("{value:?}");
    match field.name() {
        "message" => write!(writer, "{}", escape(&value)),
        name => write!(writer, "{name}={}", escape(&value)),
    }
}

/// Standard error for JSON lines, with DEL, C1 controls and bidi controls written as JSON's
/// `\uXXXX` escapes (they only occur inside strings there).
struct JsonStderr;

impl<'a> MakeWriter<'a> for JsonStderr {
    type Writer = JsonEscaping;

    fn make_writer(&'a self) -> Self::Writer {
        JsonEscaping
    }
}

struct JsonEscaping;

impl Write for JsonEscaping {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let text = String::from_utf8_lossy(buf);
        let mut out = String::with_capacity(text.len());
        for c in text.chars() {
            if (c.is_control() && c != '\n') || is_bidi(c) {
                out.push_str(&format!("\\u{:04x}", u32::from(c)));
            } else {
                out.push(c);
            }
        }
        std::io::stderr().write_all(out.as_bytes())?;
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        std::io::stderr().flush()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn controls_and_bidi_are_escaped_and_the_rest_kept() {
        assert!(matches!(escape("alice é 日本"), Cow::Borrowed(_)));
        assert_eq!(
            escape("x\n2026-12-07T00:00:00Z  INFO forged"),
            "x\\n2026-12-07T00:00:00Z  INFO forged"
        );
        assert_eq!(
            escape("a\rb\u{1b}[31mc\u{9b}d\u{7f}"),
            "a\\rb\\u{1b}[31mc\\u{9b}d\\u{7f}"
        );
        assert_eq!(escape("admin\u{202E}nimda"), "admin\\u{202e}nimda");
    }
}
