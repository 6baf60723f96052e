//! The README and the book under `docs/` link only to what exists.
//!
//! * A relative link names an existing file or folder of the repository, and its `#anchor` a
//!   heading of that file, slugged as mdBook and GitHub slug them.
//! * An external link is a well-formed `https://` URL (nothing is fetched).
//! * `docs/src/SUMMARY.md` lists every chapter, and no chapter links to a Markdown file outside
//!   `docs/src/`: mdBook would turn that link into one to a `.html` page it never writes.
//! * Every file with a Rust block (rustdoc takes a bare fence for one) is a doc test of the
//!   library: `crates/restauth/src/lib.rs` includes it, so its code is compiled.

use std::collections::{BTreeSet, HashMap};
use std::fs;
use std::path::{Component, Path, PathBuf};

fn repo() -> PathBuf {
    normalize(&Path::new(env!("CARGO_MANIFEST_DIR")).join("../.."))
}

/// `a/b/../c` as `a/c`, without asking the file system (a link may name a missing file).
fn normalize(path: &Path) -> PathBuf {
    let mut out = PathBuf::new();
    for part in path.components() {
        match part {
            Component::ParentDir => {
                out.pop();
            }
            Component::CurDir => {}
            other => out.push(other),
        }
    }
    out
}

/// README.md and every Markdown file under docs/, except mdBook's output.
fn documents(repo: &Path) -> Vec<PathBuf> {
    fn walk(dir: &Path, out: &mut Vec<PathBuf>) {
        let mut entries: Vec<PathBuf> = fs::read_dir(dir)
            .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
            .map(|e| e.expect("a folder entry").path())
            .collect();
        entries.sort();
        for path in entries {
            if path.is_dir() {
                if path.file_name().is_some_and(|n| n != "book") {
                    walk(&path, out);
                }
            } else if path.extension().is_some_and(|e| e == "md") {
                out.push(path);
            }
        }
    }
    let mut out = vec![repo.join("README.md")];
    walk(&repo.join("docs"), &mut out);
    out
}

/// What the checks need of one Markdown file.
#[derive(Default)]
struct Document {
    /// Link destinations, with the line they are on.
    links: Vec<(usize, String)>,
    /// Heading anchors, duplicates numbered as mdBook and GitHub number them.
    anchors: BTreeSet<String>,
    /// Files pulled in with mdBook's `{{#include path}}`.
    includes: Vec<String>,
    /// Whether a fenced block is one rustdoc compiles.
    has_rust: bool,
}

fn parse(text: &str) -> Document {
    let mut doc = Document::default();
    let mut seen: HashMap<String, usize> = HashMap::new();
    // The open fence: its character and length.
    let mut fence: Option<(char, usize)> = None;
    // A paragraph's lines, joined, so that a code span may cross a line break.
    let mut paragraph = String::new();
    let mut paragraph_line = 0;
    for (index, line) in text.lines().enumerate() {
        let number = index + 1;
        let trimmed = line.trim_start();
        let run = |c: char| trimmed.chars().take_while(|&x| x == c).count();
        if let Some((c, len)) = fence {
            if run(c) >= len && trimmed.trim_start_matches(c).trim().is_empty() {
                fence = None;
            }
            continue;
        }
        let opening = ['`', '~'].into_iter().find(|&c| run(c) >= 3);
        if let Some(c) = opening {
            take_links(&mut paragraph, paragraph_line, &mut doc.links);
            let len = run(c);
            fence = Some((c, len));
            doc.has_rust |= is_rust(&trimmed[len..]);
            continue;
        }
        if trimmed.is_empty() {
            take_links(&mut paragraph, paragraph_line, &mut doc.links);
            continue;
        }
        if let Some(path) = trimmed
            .strip_prefix("{{#include ")
            .and_then(|rest| rest.strip_suffix("}}"))
        {
            doc.includes.push(path.trim().to_owned());
            continue;
        }
        let hashes = trimmed.chars().take_while(|&c| c == '#').count();
        if (1..=6).contains(&hashes) && trimmed[hashes..].starts_with(' ') {
            take_links(&mut paragraph, paragraph_line, &mut doc.links);
            let slug = slug(trimmed[hashes..].trim().trim_end_matches('#'));
            let count = seen.entry(slug.clone()).or_insert(0);
            doc.anchors.insert(match *count {
                0 => slug.clone(),
                n => format!("{slug}-{n}"),
            });
            *count += 1;
            paragraph_line = number;
            paragraph.push_str(line);
            take_links(&mut paragraph, paragraph_line, &mut doc.links);
            continue;
        }
        if paragraph.is_empty() {
            paragraph_line = number;
        } else {
            paragraph.push('\n');
        }
        paragraph.push_str(line);
    }
    take_links(&mut paragraph, paragraph_line, &mut doc.links);
    doc
}

/// rustdoc's rule: a bare fence is Rust, and so is one whose words are all rustdoc's own.
fn is_rust(info: &str) -> bool {
    const RUSTDOC: [&str; 7] = [
        "rust",
        "no_run",
        "ignore",
        "should_panic",
        "compile_fail",
        "test_harness",
        "standalone_crate",
    ];
    let words: Vec<&str> = info
        .split(|c: char| c == ',' || c.is_whitespace())
        .filter(|w| !w.is_empty())
        .collect();
    words.contains(&"rust")
        || words
            .iter()
            .all(|w| RUSTDOC.contains(w) || w.starts_with("edition"))
}

/// The link destinations of a paragraph (inline links, images, autolinks and reference
/// definitions), code spans left out; empties the paragraph.
fn take_links(paragraph: &mut String, line: usize, links: &mut Vec<(usize, String)>) {
    let text = without_code_spans(paragraph);
    let line_of = |at: usize| line + text[..at].matches('\n').count();
    for (at, _) in text.match_indices("](") {
        let destination: String = text[at + 2..]
            .chars()
            .take_while(|&c| c != ')' && !c.is_whitespace())
            .collect();
        links.push((line_of(at), destination));
    }
    for (at, _) in text.match_indices("<https://") {
        let end = text[at..].find('>').map_or(text.len(), |e| at + e);
        links.push((line_of(at), text[at + 1..end].to_owned()));
    }
    for (number, definition) in text.lines().enumerate() {
        let definition = definition.trim_start();
        if definition.starts_with('[')
            && let Some(at) = definition.find("]: ")
        {
            links.push((line + number, definition[at + 3..].trim().to_owned()));
        }
    }
    paragraph.clear();
}

/// The text with each code span replaced by `x`, so that nothing in code reads as a link.
fn without_code_spans(text: &str) -> String {
    let mut out = String::new();
    let mut rest = text;
    while let Some(at) = rest.find('`') {
        out.push_str(&rest[..at]);
        let ticks = rest[at..].chars().take_while(|&c| c == '`').count();
        let after = &rest[at + ticks..];
        let closing = "`".repeat(ticks);
        match after.find(&closing) {
            Some(end) => {
                out.push('x');
                rest = &after[end + ticks..];
            }
            // An unclosed run is literal text.
            None => {
                out.push_str(&rest[at..at + ticks]);
                rest = after;
            }
        }
    }
    out.push_str(rest);
    out
}

/// A heading's anchor: inline code marks and link destinations dropped, letters and digits
/// lower-cased, `-` and `_` kept, white space made `-`, everything else dropped.
fn slug(heading: &str) -> String {
    let mut text = String::new();
    let mut rest = heading;
    while let Some(at) = rest.find("](") {
        text.push_str(&rest[..at]);
        rest = rest[at..].find(')').map_or("", |end| &rest[at + end + 1..]);
    }
    text.push_str(rest);
    text.chars()
        .flat_map(|c| {
            if c.is_alphanumeric() {
                c.to_lowercase().collect::<Vec<_>>()
            } else if c == '-' || c == '_' {
                vec![c]
            } else if c.is_whitespace() {
                vec!['-']
            } else {
                Vec::new()
            }
        })
        .collect()
}

/// Whether `url` is an absolute `https://` URL with a plausible host and no stray characters.
fn well_formed_https(url: &str) -> bool {
    let Some(rest) = url.strip_prefix("https://") else {
        return false;
    };
    let host = rest.split(['/', '?', '#']).next().unwrap_or_default();
    !host.is_empty()
        && host.contains('.')
        && !host.starts_with('.')
        && !host.ends_with('.')
        && host
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '.' || c == '-')
        && url.chars().all(|c| c.is_ascii_graphic())
}

fn relative(repo: &Path, path: &Path) -> String {
    path.strip_prefix(repo)
        .unwrap_or(path)
        .display()
        .to_string()
}

/// The anchors of `path`: its own headings and those of the files it includes.
fn anchors_of(path: &Path, docs: &HashMap<PathBuf, Document>) -> BTreeSet<String> {
    let Some(doc) = docs.get(path) else {
        return BTreeSet::new();
    };
    let dir = path.parent().expect("a file's folder");
    let mut anchors = doc.anchors.clone();
    for include in &doc.includes {
        anchors.extend(anchors_of(&normalize(&dir.join(include)), docs));
    }
    anchors
}

#[test]
fn every_link_of_the_readme_and_the_book_resolves() {
    let repo = repo();
    let book = repo.join("docs/src");
    let docs: HashMap<PathBuf, Document> = documents(&repo)
        .into_iter()
        .map(|path| {
            let text =
                fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
            (path, parse(&text))
        })
        .collect();
    let mut paths: Vec<&PathBuf> = docs.keys().collect();
    paths.sort();
    let mut problems = Vec::new();
    for path in paths {
        let doc = &docs[path];
        let name = relative(&repo, path);
        let dir = path.parent().expect("a file's folder");
        for include in &doc.includes {
            if !normalize(&dir.join(include)).is_file() {
                problems.push(format!("{name}: {{{{#include {include}}}}} names no file"));
            }
        }
        for (line, link) in &doc.links {
            let at = format!("{name}:{line}: {link}");
            if link.is_empty() {
                problems.push(format!("{at}: an empty link"));
            } else if link.contains("://") || link.starts_with("mailto:") {
                if !well_formed_https(link) {
                    problems.push(format!("{at}: not a well-formed https:// URL"));
                }
            } else if let Some(anchor) = link.strip_prefix('#') {
                if !anchors_of(path, &docs).contains(anchor) {
                    problems.push(format!("{at}: no such heading in this file"));
                }
            } else {
                let (file, anchor) = link
                    .split_once('#')
                    .map_or((link.as_str(), None), |(f, a)| (f, Some(a)));
                let target = normalize(&dir.join(file));
                if !target.exists() {
                    problems.push(format!("{at}: no such file"));
                    continue;
                }
                if path.starts_with(&book)
                    && target.extension().is_some_and(|e| e == "md")
                    && !target.starts_with(&book)
                {
                    problems.push(format!(
                        "{at}: a Markdown file outside docs/src/, which the built book lacks"
                    ));
                }
                if let Some(anchor) = anchor
                    && !anchors_of(&target, &docs).contains(anchor)
                {
                    problems.push(format!(
                        "{at}: no such heading in {}",
                        relative(&repo, &target)
                    ));
                }
            }
        }
    }
    assert!(
        problems.is_empty(),
        "broken links:\n{}",
        problems.join("\n")
    );
}

#[test]
fn the_summary_lists_every_chapter() {
    let repo = repo();
    let book = repo.join("docs/src");
    let summary_path = book.join("SUMMARY.md");
    let summary = parse(&fs::read_to_string(&summary_path).expect("docs/src/SUMMARY.md"));
    let listed: BTreeSet<PathBuf> = summary
        .links
        .iter()
        .map(|(_, link)| normalize(&book.join(link)))
        .collect();
    let unlisted: Vec<String> = documents(&repo)
        .into_iter()
        .filter(|p| p.starts_with(&book) && *p != summary_path && !listed.contains(p))
        .map(|p| relative(&repo, &p))
        .collect();
    assert!(
        unlisted.is_empty(),
        "chapters missing from docs/src/SUMMARY.md: {unlisted:?}"
    );
}

#[test]
fn every_file_with_rust_code_is_a_doc_test() {
    let repo = repo();
    let lib_dir = repo.join("crates/restauth/src");
    let lib = fs::read_to_string(lib_dir.join("lib.rs")).expect("crates/restauth/src/lib.rs");
    let included: BTreeSet<PathBuf> = lib
        .split("include_str!(\"")
        .skip(1)
        .filter_map(|rest| rest.split('"').next())
        .map(|file| normalize(&lib_dir.join(file)))
        .collect();
    let missing: Vec<String> = documents(&repo)
        .into_iter()
        .filter(|path| {
            let text = fs::read_to_string(path).expect("a document");
            parse(&text).has_rust && !included.contains(path)
        })
        .map(|path| relative(&repo, &path))
        .collect();
    assert!(
        missing.is_empty(),
        "files with Rust blocks that crates/restauth/src/lib.rs does not compile as doc tests \
         (add a #[cfg(doctest)] include, or fence the block with its language): {missing:?}"
    );
}

#[test]
fn slugs_follow_mdbook_and_github() {
    assert_eq!(
        slug("Account endpoints (djoser)"),
        "account-endpoints-djoser"
    );
    assert_eq!(
        slug("Side by side on Django's tables"),
        "side-by-side-on-djangos-tables"
    );
    assert_eq!(slug("Intro — the `first` one"), "intro--the-first-one");
    assert_eq!(slug("[`restauth`](x.md) on_disk"), "restauth-on_disk");
    let doc = parse(
        "# A\n\n## A\n\n```rust\n# not a heading\n```\n\nSee `[x](no.md)` and\n[`y`](y.md)\n",
    );
    assert_eq!(
        doc.anchors,
        BTreeSet::from(["a".to_owned(), "a-1".to_owned()])
    );
    assert!(doc.has_rust);
    assert_eq!(doc.links, vec![(10, "y.md".to_owned())]);
}
