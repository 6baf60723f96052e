//! The HTML pages: built in, or read once from `[session] templates_dir`.
//!
//! Placeholders are `{{ name }}`; every value is HTML-escaped.

use std::path::Path;

const LOGIN: &str = include_str!("../templates/login.html");
const DASHBOARD: &str = include_str!("../templates/dashboard.html");

#[derive(Clone, Debug)]
pub struct Templates {
    pub login: String,
    pub dashboard: String,
}

impl Templates {
    /// The built-in pages, with any file of `dir` taking precedence.
    pub fn load(dir: Option<&Path>) -> std::io::Result<Templates> {
        let read = |name: &str, default: &str| -> std::io::Result<String> {
            match dir.map(|d| d.join(name)) {
                Some(p) if p.exists() => std::fs::read_to_string(p),
                _ => Ok(default.to_owned()),
            }
        };
        Ok(Templates {
            login: read("login.html", LOGIN)?,
            dashboard: read("dashboard.html", DASHBOARD)?,
        })
    }
}

pub fn escape(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for c in value.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#x27;"),
            c => out.push(c),
        }
    }
    out
}

/// Fills `{{ key }}` placeholders with escaped values; unknown placeholders become empty.
pub fn render(template: &str, values: &[(&str, &str)]) -> String {
    let mut out = String::with_capacity(template.len() + 256);
    let mut rest = template;
    while let Some(start) = rest.find("{{") {
        out.push_str(&rest[..start]);
        let after = &rest[start + 2..];
        let Some(end) = after.find("}}") else {
            out.push_str(&rest[start..]);
            return out;
        };
        let key = after[..end].trim();
        if let Some((_, v)) = values.iter().find(|(k, _)| *k == key) {
            out.push_str(&escape(v));
        }
        rest = &after[end + 2..];
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_and_escapes() {
        assert_eq!(
            render(
                "<p>{{ a }}|{{b}}|{{ missing }}</p>",
                &[("a", "<x>&\""), ("b", "ok")]
            ),
            "<p>&lt;x&gt;&amp;&quot;|ok|</p>"
        );
        assert_eq!(render("{{ open", &[]), "{{ open");
    }

    #[test]
    fn built_in_pages_have_their_fields() {
        let t = Templates::load(None).unwrap();
        assert!(
            t.login
                .contains(r#"name="csrfmiddlewaretoken" value="{{ csrf_token }}""#)
        );
        assert!(t.login.contains(r#"name="next""#));
        assert!(
            t.dashboard
                .contains("Hello {{ username }}, welcome to your dashboard")
        );
    }
}
