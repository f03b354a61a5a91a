//! Repository shape checks, run by `cargo test` as an ordinary test.

#[cfg(test)]
mod tests {
    use std::path::{Path, PathBuf};

    use crate::root;

    fn files(dir: &Path, ext: &str, out: &mut Vec<PathBuf>) {
        let Ok(rd) = std::fs::read_dir(dir) else { return };
        for e in rd.flatten() {
            let p = e.path();
            if p.is_dir() {
                if p.file_name().is_some_and(|n| n == "target" || n.to_string_lossy().starts_with('.')) {
                    continue;
                }
                files(&p, ext, out);
            } else if p.extension().is_some_and(|x| x == ext) {
                out.push(p);
            }
        }
    }

    #[test]
    fn every_crate_source_file_opens_with_a_module_doc() {
        let mut rs = Vec::new();
        files(&root().join("crates"), "rs", &mut rs);
        let bad: Vec<_> = rs
            .iter()
            .filter(|p| {
                let text = std::fs::read_to_string(p).unwrap_or_default();
                !text.trim_start().starts_with("//!")
            })
            .collect();
        assert!(bad.is_empty(), "files without a leading //! doc: {bad:?}");
    }

    /// `(manifest, section, trimmed line)` for every line of every
    /// `Cargo.toml` under `crates/`.
    fn manifest_lines() -> Vec<(PathBuf, String, String)> {
        let mut tomls = Vec::new();
        files(&root().join("crates"), "toml", &mut tomls);
        let mut out = Vec::new();
        for t in tomls {
            let text = std::fs::read_to_string(&t).unwrap();
            let mut section = String::new();
            for line in text.lines() {
                let line = line.trim();
                if line.starts_with('[') {
                    section = line.to_string();
                    continue;
                }
                out.push((t.clone(), section.clone(), line.to_string()));
            }
        }
        out
    }

    fn names(line: &str, krate: &str) -> bool {
        line.starts_with(&format!("{krate} ")) || line.starts_with(&format!("{krate}."))
    }

    #[test]
    fn only_the_facade_depends_on_several_siblings() {
        let siblings = ["perf-cache", "perf-db", "perf-analytics", "perf-http"];
        let facade = root().join("crates/perfkit/Cargo.toml");
        for (toml, section, line) in manifest_lines() {
            if section == "[dependencies]" && toml != facade {
                for s in siblings {
                    assert!(!names(&line, s), "{} names sibling {s} under [dependencies]", toml.display());
                }
            }
            if section.ends_with("dependencies]") && toml != facade {
                assert!(!names(&line, "perfkit"), "{} depends on the facade", toml.display());
            }
        }
    }

    #[test]
    fn workspace_dependencies_choose_no_backend_and_no_compression() {
        let text = std::fs::read_to_string(root().join("Cargo.toml")).unwrap();
        for line in text.lines().map(str::trim) {
            if line.starts_with("diesel") {
                assert!(!line.contains("sqlite") && !line.contains("postgres"), "backend in the workspace: {line}");
            }
            if line.starts_with("libsqlite3-sys") || line.starts_with("pq-sys") {
                assert!(!line.contains("bundled"), "bundling in the workspace: {line}");
            }
            if line.starts_with("actix-web ") {
                assert!(!line.contains("compress"), "compression in the workspace: {line}");
            }
        }
    }

    #[test]
    fn no_todo_or_dbg_macros() {
        let mut rs = Vec::new();
        for dir in ["crates", "examples", "xtask"] {
            files(&root().join(dir), "rs", &mut rs);
        }
        let (todo, dbg) = (concat!("todo", "!("), concat!("dbg", "!("));
        for p in rs {
            let text = std::fs::read_to_string(&p).unwrap();
            assert!(!text.contains(todo) && !text.contains(dbg), "{} contains todo!/dbg!", p.display());
        }
    }

    #[test]
    fn readme_keeps_its_two_commands() {
        let readme = std::fs::read_to_string(root().join("README.md")).unwrap();
        assert!(readme.contains("cargo run --release -p landscape"));
        assert!(readme.contains("cargo xtask test"));
        let ci = std::fs::read_to_string(root().join(".ci/run")).unwrap();
        assert!(ci.contains("cargo xtask test"), ".ci/run must run the README's test command");
    }
}
