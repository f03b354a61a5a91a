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

    #[test]
    fn crates_depend_only_on_core_and_macros_among_siblings() {
        let siblings = ["perf-cache", "perf-db", "perf-analytics", "perf-http"];
        let mut tomls = Vec::new();
        files(&root().join("crates"), "toml", &mut tomls);
        for t in tomls {
            let text = std::fs::read_to_string(&t).unwrap();
            let mut section = String::new();
            for line in text.lines() {
                let line = line.trim();
                if line.starts_with('[') {
                    section = line.to_string();
                    continue;
                }
                if section == "[dependencies]" {
                    for s in siblings {
                        assert!(
                            !line.starts_with(&format!("{s} ")) && !line.starts_with(&format!("{s}.")),
                            "{} names sibling {s} under [dependencies]",
                            t.display()
                        );
                    }
                }
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
