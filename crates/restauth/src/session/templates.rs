//! The HTML pages, rendered with minijinja: built in, or read once from
//! `[session] templates_dir` (`login.html`, or an app's own page names; a missing file keeps
//! the built-in page).
//!
//! Every value is HTML-escaped as Django escapes it (`& < > " '`), so pages carry the same
//! bytes whichever engine renders them. Templates may use Jinja's conditionals and loops; the
//! login page shows its alert only when there is an error.

use std::path::Path;

use minijinja::{AutoEscape, Environment, Output, State, Value};
use serde::Serialize;

/// The login page: `csrf_token`, `next`, `username`, `error` (empty when none) and `action`
/// (where the form posts).
pub const LOGIN: &str = "login.html";

/// The library's own pages.
pub(crate) const BUILT_IN: &[(&str, &str)] = &[(LOGIN, include_str!("../../templates/login.html"))];

/// A set of named pages, each built in or replaced by a file of the same name in
/// `[session] templates_dir`. An app's own pages behind the login (see
/// [`LoginRequired`](crate::session::LoginRequired)) load theirs the same way, so one folder
/// overrides them all.
#[derive(Debug)]
pub struct Templates {
    env: Environment<'static>,
}

impl Templates {
    /// The `built_in` pages (name, source), with any file of `dir` taking precedence. A file
    /// that cannot be read or parsed is an error naming it, so a broken page stops the server
    /// at start.
    pub fn load(
        dir: Option<&Path>,
        built_in: &[(&'static str, &'static str)],
    ) -> std::io::Result<Templates> {
        let mut env = Environment::new();
        env.set_formatter(django_escape);
        for &(name, built_in) in built_in {
            let path = dir.map(|d| d.join(name)).filter(|p| p.exists());
            let source = match &path {
                Some(p) => std::fs::read_to_string(p)?,
                None => built_in.to_owned(),
            };
            env.add_template_owned(name, source).map_err(|e| {
                let shown = path
                    .as_deref()
                    .map_or(name.to_owned(), |p| p.display().to_string());
                std::io::Error::other(format!("template {shown}: {e}"))
            })?;
        }
        Ok(Templates { env })
    }

    /// Renders the page `name` (one of those loaded) with `context`.
    pub fn render(&self, name: &str, context: impl Serialize) -> Result<String, minijinja::Error> {
        self.env.get_template(name)?.render(context)
    }
}

/// minijinja's own HTML escaping also turns `/` into `&#x2f;`; Django's does not, and the
/// pages keep Django's bytes (a form's `action="/api-auth/login/"` reads as written).
fn django_escape(out: &mut Output, state: &State, value: &Value) -> Result<(), minijinja::Error> {
    match value.as_str() {
        Some(text) if state.auto_escape() == AutoEscape::Html && !value.is_safe() => {
            out.write_str(&escape(text))?;
            Ok(())
        }
        _ => minijinja::escape_formatter(out, state, value),
    }
}

pub(crate) fn escape(value: &str) -> String {
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

#[cfg(test)]
mod tests {
    use super::*;
    use minijinja::context;

    fn login(t: &Templates, error: &str) -> String {
        t.render(
            LOGIN,
            context! { csrf_token => "tok", next => "/a/?b=1&c", username => "<x>", error, action => "/api-auth/login/" },
        )
        .unwrap()
    }

    #[test]
    fn values_are_escaped_as_django_escapes_them() {
        let page = login(&Templates::load(None, BUILT_IN).unwrap(), "");
        assert!(page.contains(r#"action="/api-auth/login/""#), "{page}");
        assert!(
            page.contains(r#"name="next" value="/a/?b=1&amp;c""#),
            "{page}"
        );
        assert!(page.contains(r#"value="&lt;x&gt;""#), "{page}");
        assert!(
            page.contains(r#"name="csrfmiddlewaretoken" value="tok""#),
            "{page}"
        );
        assert_eq!(escape(r#"<'&">"#), "&lt;&#x27;&amp;&quot;&gt;");
    }

    #[test]
    fn the_login_alert_shows_only_with_an_error() {
        let t = Templates::load(None, BUILT_IN).unwrap();
        assert!(!login(&t, "").contains("role=\"alert\""));
        let page = login(&t, "Wrong <password>");
        assert!(
            page.contains(r#"<p class="error" role="alert">Wrong &lt;password&gt;</p>"#),
            "{page}"
        );
    }

    #[test]
    fn files_of_templates_dir_replace_built_in_pages() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join(LOGIN),
            "{% if error %}E:{{ error }}{% else %}fine{% endif %}",
        )
        .unwrap();
        let pages = [BUILT_IN[0], ("mine.html", "Hello {{ username }}")];
        let t = Templates::load(Some(dir.path()), &pages).unwrap();
        assert_eq!(
            t.render(LOGIN, context! { error => "a/b" }).unwrap(),
            "E:a/b"
        );
        assert_eq!(t.render(LOGIN, context! {}).unwrap(), "fine");
        // No mine.html in the folder: the built-in page.
        let page = t
            .render("mine.html", context! { username => "<b>" })
            .unwrap();
        assert_eq!(page, "Hello &lt;b&gt;");
    }

    #[test]
    fn a_broken_template_is_an_error_naming_the_file() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join(LOGIN), "{% if %}").unwrap();
        let e = Templates::load(Some(dir.path()), BUILT_IN)
            .unwrap_err()
            .to_string();
        assert!(e.contains("login.html"), "{e}");
    }
}
