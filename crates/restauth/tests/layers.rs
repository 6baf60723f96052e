//! The library's shape, checked from its `use` lines (comments and inline test modules
//! excluded):
//!
//! * every file depends downwards only, by the layer of its module (and, for the HTTP face of
//!   a feature, of its kind of file);
//! * no two files depend on each other, directly or in a loop. A module file's `pub use` and
//!   `mod` of its own children are its structure, not a dependency.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// Each top-level module and its layer: a file may use files of lower layers, and files of its
/// own module (without a loop).
const LAYERS: &[(&str, u8)] = &[
    ("core", 0),
    ("store", 1),
    ("password", 1),
    ("email", 1),
    ("layers", 1),
    ("django", 2),
    ("pipeline", 2),
    ("serve", 2),
    ("users", 3),
    ("token", 4),
    ("session", 4),
    ("jwt", 4),
    ("basic", 4),
    ("forward", 4),
    ("admin", 4),
    ("devices", 5),
    ("accounts", 5),
    ("restauth", 6),
    ("fuzzing", 9),
];

/// The files that put a feature on HTTP (its routes and pages) take the composition root,
/// [`Restauth`](restauth::Restauth): they sit above it, whatever their folder.
const ROUTE_FILES: &[&str] = &["routes", "pages", "page"];
const ROUTES_LAYER: u8 = 7;
/// `src/routes.rs`: `Restauth::routes()`, which gathers every feature's routes.
const ROOT_ROUTES_LAYER: u8 = 8;

/// A source file: its path under `src`, and its module path (`token::routes`).
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
struct File {
    path: PathBuf,
    module: Vec<String>,
}

impl File {
    fn name(&self) -> String {
        self.path.display().to_string()
    }

    fn layer(&self) -> u8 {
        let top = self.module.first().map_or("", String::as_str);
        if self.module == ["routes"] {
            return ROOT_ROUTES_LAYER;
        }
        if self.module.len() >= 2
            && ROUTE_FILES.contains(&self.module.last().map_or("", String::as_str))
        {
            return ROUTES_LAYER;
        }
        LAYERS
            .iter()
            .find(|(m, _)| *m == top)
            .unwrap_or_else(|| panic!("module `{top}` has no layer in tests/layers.rs"))
            .1
    }
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

fn src() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("src")
}

fn files() -> Vec<File> {
    let src = src();
    let mut paths = Vec::new();
    rust_files(&src, &mut paths);
    let mut files: Vec<File> = paths
        .into_iter()
        .map(|p| {
            let relative = p.strip_prefix(&src).unwrap().to_path_buf();
            let mut module: Vec<String> = relative
                .with_extension("")
                .components()
                .map(|c| c.as_os_str().to_string_lossy().into_owned())
                .collect();
            if module.last().is_some_and(|m| m == "mod" || m == "lib") {
                module.pop();
            }
            File {
                path: relative,
                module,
            }
        })
        .collect();
    files.sort();
    files
}

/// The code of a file: without comments, and without its inline test module (whose `super::`
/// is the file itself).
fn code(text: &str) -> Vec<String> {
    let mut lines = Vec::new();
    let mut previous = "";
    for line in text.lines() {
        let trimmed = line.trim_start();
        if previous.trim() == "#[cfg(test)]" && trimmed.starts_with("mod ") {
            break;
        }
        previous = line;
        lines.push(line.split("//").next().unwrap_or("").to_owned());
    }
    lines
}

/// The paths a line names (`crate::a::b`, `super::x`, `self::y`, and the groups of a `use`
/// spelled out), as module paths relative to `module`.
fn named_paths(line: &str, module: &[String]) -> Vec<Vec<String>> {
    let mut found = Vec::new();
    // The identifiers of a path, up to the first that something other than `::` follows.
    let words = |rest: &str| -> Vec<String> {
        let mut words = Vec::new();
        for segment in rest.split("::") {
            let word: String = segment
                .chars()
                .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                .collect();
            let ends = word.len() < segment.len();
            if !word.is_empty() {
                words.push(word);
            }
            if ends || words.is_empty() {
                break;
            }
        }
        words
    };
    for (prefix, base) in [
        ("crate::", Vec::new()),
        ("super::", module[..module.len().saturating_sub(1)].to_vec()),
        ("self::", module.to_vec()),
    ] {
        for (i, _) in line.match_indices(prefix) {
            // `super::` inside `crate::a::super` does not occur; a `use super::{a, b}` group
            // names its parent, which is enough for a dependency.
            if prefix != "crate::" && line[..i].ends_with("::") {
                continue;
            }
            let rest = &line[i + prefix.len()..];
            let mut path = base.clone();
            path.extend(words(rest));
            // `crate::x!` is an exported macro at the root, not a module.
            let after = &rest[rest
                .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_' || c == ':'))
                .unwrap_or(rest.len())..];
            if prefix == "crate::" && after.starts_with('!') {
                continue;
            }
            found.push(path);
        }
    }
    found
}

/// The file that defines `path` or its longest prefix.
fn resolve<'a>(path: &[String], files: &'a [File]) -> Option<&'a File> {
    (0..=path.len())
        .rev()
        .find_map(|n| files.iter().find(|f| f.module == path[..n]))
}

/// File → the files it depends on.
fn graph(files: &[File]) -> BTreeMap<String, BTreeSet<String>> {
    let src = src();
    let mut graph = BTreeMap::new();
    for file in files {
        let text = std::fs::read_to_string(src.join(&file.path)).unwrap();
        let entry: &mut BTreeSet<String> = graph.entry(file.name()).or_default();
        for line in code(&text) {
            for path in named_paths(&line, &file.module) {
                let Some(target) = resolve(&path, files) else {
                    continue;
                };
                // Itself, or a child it declares and re-exports: structure, not a dependency.
                if target.module.starts_with(&file.module) {
                    continue;
                }
                entry.insert(target.name());
            }
        }
    }
    graph
}

#[test]
fn files_depend_downwards_only() {
    let files = files();
    let by_name: BTreeMap<String, &File> = files.iter().map(|f| (f.name(), f)).collect();
    let mut wrong = Vec::new();
    for (name, uses) in graph(&files) {
        let file = by_name[&name];
        for used in uses {
            let target = by_name[&used];
            let same_module = target.module.first() == file.module.first();
            if target.layer() > file.layer() || (target.layer() == file.layer() && !same_module) {
                wrong.push(format!(
                    "{name} (layer {}) uses {used} (layer {})",
                    file.layer(),
                    target.layer()
                ));
            }
        }
    }
    assert!(
        wrong.is_empty(),
        "dependencies that point up or sideways:\n{}",
        wrong.join("\n")
    );
}

#[test]
fn no_two_files_depend_on_each_other() {
    let graph = graph(&files());
    fn visit<'a>(
        node: &'a str,
        graph: &'a BTreeMap<String, BTreeSet<String>>,
        path: &mut Vec<&'a str>,
        done: &mut BTreeSet<&'a str>,
    ) -> Option<String> {
        if let Some(at) = path.iter().position(|n| *n == node) {
            let mut cycle = path[at..].to_vec();
            cycle.push(node);
            return Some(cycle.join(" → "));
        }
        if !done.insert(node) {
            return None;
        }
        path.push(node);
        for next in graph.get(node).into_iter().flatten() {
            if let Some(cycle) = visit(next, graph, path, done) {
                return Some(cycle);
            }
        }
        path.pop();
        None
    }
    let mut done = BTreeSet::new();
    for node in graph.keys() {
        if let Some(cycle) = visit(node, &graph, &mut Vec::new(), &mut done) {
            panic!("files that depend on each other: {cycle}");
        }
    }
}

#[test]
fn the_check_reads_paths_as_the_compiler_does() {
    let module = vec!["token".to_owned(), "routes".to_owned()];
    assert_eq!(
        named_paths(
            "use crate::store::cache::Digest; use super::TokenService;",
            &module
        ),
        [
            vec!["store".to_owned(), "cache".to_owned(), "Digest".to_owned()],
            vec!["token".to_owned(), "TokenService".to_owned()],
        ]
    );
    assert!(named_paths("crate::permission_operators!(X);", &module).is_empty());
}

#[test]
fn no_file_is_over_800_lines() {
    let src = src();
    let long: Vec<String> = files()
        .iter()
        // A module's tests in a file of their own are tests.
        .filter(|f| f.module.last().is_none_or(|m| m != "tests"))
        .filter_map(|f| {
            let text = std::fs::read_to_string(src.join(&f.path)).unwrap();
            let lines = code(&text).len();
            (lines > 800).then(|| format!("{} ({lines} lines)", f.name()))
        })
        .collect();
    assert!(
        long.is_empty(),
        "files over 800 lines (tests excluded): {long:?}"
    );
}
