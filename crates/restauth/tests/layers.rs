//! The library's shape, checked: modules depend downwards only, and no two modules depend on
//! each other. Reads every `crate::<module>` path in the code (comments excluded).

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// Each top-level module and its layer; a module may use its own layer's module only if it is
/// itself, and any lower layer.
const LAYERS: &[(&str, u8)] = &[
    ("core", 0),
    ("store", 1),
    ("password", 1),
    ("email", 1),
    ("layers", 1),
    ("django", 2),
    ("pipeline", 2),
    ("serve", 2),
    ("token", 3),
    ("session", 3),
    ("jwt", 3),
    ("basic", 3),
    ("forward", 3),
    ("admin", 3),
    ("devices", 4),
    ("accounts", 4),
    ("restauth", 5),
    ("fuzzing", 6),
];

fn layer(module: &str) -> u8 {
    LAYERS
        .iter()
        .find(|(m, _)| *m == module)
        .unwrap_or_else(|| panic!("module `{module}` has no layer in tests/layers.rs"))
        .1
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

/// `crate::x::…` → `x`, for every path on a line of code (exported macros, which live at the
/// crate root, excepted).
fn used_modules(line: &str) -> impl Iterator<Item = &str> {
    line.match_indices("crate::").filter_map(move |(i, _)| {
        let rest = &line[i + "crate::".len()..];
        let end = rest
            .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
            .unwrap_or(rest.len());
        (!rest[end..].starts_with('!')).then_some(&rest[..end])
    })
}

/// Module → the other modules it uses.
fn dependencies() -> BTreeMap<String, BTreeSet<String>> {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    rust_files(&src, &mut files);
    let mut graph: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for file in files {
        let relative = file.strip_prefix(&src).unwrap();
        let first = relative
            .components()
            .next()
            .unwrap()
            .as_os_str()
            .to_string_lossy();
        let module = first.trim_end_matches(".rs").to_owned();
        if module == "lib" {
            continue; // the crate root re-exports; it is not a layer
        }
        let text = std::fs::read_to_string(&file).unwrap();
        let entry = graph.entry(module.clone()).or_default();
        for line in text.lines() {
            let code = line.split("//").next().unwrap_or("");
            for used in used_modules(code) {
                // `crate::{a, b}` groups are spelled out instead, so every edge is visible.
                assert!(
                    !used.is_empty(),
                    "{}: use one path per module: {line}",
                    relative.display()
                );
                assert!(
                    LAYERS.iter().any(|(m, _)| *m == used),
                    "{}: `crate::{used}` hides its module behind the crate root; name the module",
                    relative.display()
                );
                if used != module {
                    entry.insert(used.to_owned());
                }
            }
        }
    }
    graph
}

#[test]
fn modules_depend_downwards_only() {
    let mut wrong = Vec::new();
    for (module, uses) in dependencies() {
        for used in uses {
            if layer(&used) >= layer(&module) {
                wrong.push(format!(
                    "{module} (layer {}) uses {used} (layer {})",
                    layer(&module),
                    layer(&used)
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
fn no_import_cycles() {
    let graph = dependencies();
    // Depth-first search for a back edge; reports the cycle it closes.
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
        let mut path = Vec::new();
        if let Some(cycle) = visit(node, &graph, &mut path, &mut done) {
            panic!("import cycle: {cycle}");
        }
    }
}

#[test]
fn the_check_sees_a_cycle() {
    // The walker itself: a made-up line is read as a dependency.
    let uses: Vec<&str> =
        used_modules("use crate::jwt::Claims; let x = crate::core::clock::now();").collect();
    assert_eq!(uses, ["jwt", "core"]);
}
