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

    /// One declared dependency of a workspace package, as `cargo metadata`
    /// reports it: every table form (`[dependencies.x]`, target-specific
    /// tables, `workspace = true` entries with their inherited features).
    #[derive(Debug)]
    struct Dep {
        package: String,
        library: bool,
        name: String,
        /// `None` for normal dependencies, `Some("dev")`, `Some("build")`.
        kind: Option<String>,
        default_features: bool,
        features: Vec<String>,
    }

    /// Every dependency of every workspace package, from `cargo metadata` JSON.
    /// A package is a library crate when its manifest lies under `crates/`.
    fn deps_of(metadata: &serde_json::Value) -> Vec<Dep> {
        let crates_dir = root().join("crates");
        let mut out = Vec::new();
        for p in metadata["packages"].as_array().into_iter().flatten() {
            let package = p["name"].as_str().unwrap_or_default().to_string();
            let library = p["manifest_path"].as_str().is_some_and(|m| Path::new(m).starts_with(&crates_dir));
            for d in p["dependencies"].as_array().into_iter().flatten() {
                out.push(Dep {
                    package: package.clone(),
                    library,
                    name: d["name"].as_str().unwrap_or_default().to_string(),
                    kind: d["kind"].as_str().map(str::to_string),
                    default_features: d["uses_default_features"].as_bool().unwrap_or(true),
                    features: d["features"]
                        .as_array()
                        .into_iter()
                        .flatten()
                        .filter_map(|f| f.as_str().map(str::to_string))
                        .collect(),
                });
            }
        }
        out
    }

    fn workspace_deps() -> Vec<Dep> {
        let out = std::process::Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()))
            .current_dir(root())
            .args(["metadata", "--format-version", "1", "--no-deps", "--offline"])
            .output()
            .expect("cargo metadata runs");
        assert!(out.status.success(), "cargo metadata failed: {}", String::from_utf8_lossy(&out.stderr));
        let deps = deps_of(&serde_json::from_slice(&out.stdout).expect("cargo metadata prints JSON"));
        // The checks pass vacuously if no package is taken for a library crate.
        for krate in ["perf-core", "perf-http", "perfkit"] {
            assert!(deps.iter().any(|d| d.library && d.package == krate), "{krate} not found as a library crate");
        }
        deps
    }

    const SIBLINGS: [&str; 5] = ["perf-cache", "perf-db", "perf-analytics", "perf-http", "perf-otel"];

    /// Library crates meet only through perf-core: a normal or build
    /// dependency on a sibling is allowed to the facade alone, and no
    /// library crate depends on the facade in any table.
    fn sibling_violations(deps: &[Dep]) -> Vec<String> {
        deps.iter()
            .filter(|d| d.library && d.package != "perfkit")
            .filter(|d| {
                (d.kind.as_deref() != Some("dev") && SIBLINGS.contains(&d.name.as_str())) || d.name == "perfkit"
            })
            .map(|d| format!("{} depends on {} ({})", d.package, d.name, d.kind.as_deref().unwrap_or("normal")))
            .collect()
    }

    /// What a library crate's own dependency entries turn on for everyone
    /// who depends on it: no diesel backend, no bundled C library, no
    /// actix-web compression (nor its default features, which include it),
    /// no tonic/gRPC stack through opentelemetry-proto's defaults and no
    /// TLS stack (ring's C code) through ureq's.
    /// Features a crate offers switch these on; its entries never do.
    fn slimness_violations(deps: &[Dep]) -> Vec<String> {
        let mut bad = Vec::new();
        for d in deps.iter().filter(|d| d.library && d.kind.as_deref() != Some("dev")) {
            let has = |f: &str| d.features.iter().any(|x| x.starts_with(f));
            let wrong = match d.name.as_str() {
                "diesel" => has("sqlite") || has("postgres") || has("mysql"),
                "libsqlite3-sys" | "pq-sys" | "mysqlclient-sys" => has("bundled"),
                "actix-web" => has("compress") || d.default_features,
                "opentelemetry-proto" => {
                    d.features.iter().any(|f| f == "gen-tonic" || f == "full" || f == "tonic") || d.default_features
                }
                "ureq" => has("rustls") || has("native-tls") || d.default_features,
                _ => false,
            };
            if wrong {
                bad.push(format!(
                    "{} turns on {} {:?} (default features: {})",
                    d.package, d.name, d.features, d.default_features
                ));
            }
        }
        bad
    }

    #[test]
    fn only_the_facade_depends_on_several_siblings() {
        let bad = sibling_violations(&workspace_deps());
        assert!(bad.is_empty(), "{bad:#?}");
    }

    #[test]
    fn library_crates_choose_no_backend_and_no_compression() {
        let bad = slimness_violations(&workspace_deps());
        assert!(bad.is_empty(), "{bad:#?}");
    }

    /// The checks see dependencies in every table form, which a line-based
    /// reading of Cargo.toml missed.
    #[test]
    fn the_checks_catch_table_and_target_specific_dependencies() {
        let manifest = root().join("crates/perf-http/Cargo.toml");
        let metadata = serde_json::json!({
            "packages": [{
                "name": "perf-http",
                "manifest_path": manifest,
                "dependencies": [
                    // `[target.'cfg(unix)'.dependencies.perf-db]`
                    { "name": "perf-db", "kind": null, "target": "cfg(unix)", "uses_default_features": true, "features": [] },
                    // `[dependencies.diesel]` with `features = ["sqlite"]`
                    { "name": "diesel", "kind": null, "target": null, "uses_default_features": false, "features": ["sqlite"] },
                    // `actix-web.workspace = true` without `default-features = false`
                    { "name": "actix-web", "kind": null, "target": null, "uses_default_features": true, "features": [] },
                    // dev-dependencies may use siblings and backends
                    { "name": "perf-analytics", "kind": "dev", "target": null, "uses_default_features": true, "features": [] },
                    { "name": "libsqlite3-sys", "kind": "dev", "target": null, "uses_default_features": true, "features": ["bundled"] }
                ]
            }]
        });
        let deps = deps_of(&metadata);
        assert_eq!(sibling_violations(&deps), ["perf-http depends on perf-db (normal)"]);
        let slim = slimness_violations(&deps);
        assert_eq!(slim.len(), 2, "{slim:#?}");
        assert!(slim[0].contains("diesel") && slim[1].contains("actix-web"), "{slim:#?}");
    }

    /// The exporter's protobuf messages come without tonic and its HTTP
    /// client without a TLS stack, and a sibling depending on it is caught.
    #[test]
    fn the_exporter_pulls_in_no_grpc_and_no_tls() {
        let manifest = root().join("crates/perf-otel/Cargo.toml");
        let metadata = serde_json::json!({
            "packages": [{
                "name": "perf-otel",
                "manifest_path": manifest,
                "dependencies": [
                    { "name": "opentelemetry-proto", "kind": null, "target": null, "uses_default_features": false, "features": ["gen-tonic-messages", "metrics"] },
                    { "name": "opentelemetry-proto", "kind": null, "target": null, "uses_default_features": false, "features": ["gen-tonic", "metrics"] },
                    { "name": "ureq", "kind": null, "target": null, "uses_default_features": false, "features": [] },
                    { "name": "ureq", "kind": null, "target": null, "uses_default_features": true, "features": [] },
                    { "name": "perf-http", "kind": null, "target": null, "uses_default_features": false, "features": [] }
                ]
            }]
        });
        let deps = deps_of(&metadata);
        assert_eq!(sibling_violations(&deps), ["perf-otel depends on perf-http (normal)"]);
        let slim = slimness_violations(&deps);
        assert_eq!(slim.len(), 2, "{slim:#?}");
        assert!(slim[0].contains("gen-tonic\"") && slim[1].contains("ureq"), "{slim:#?}");
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

    #[test]
    fn ci_run_runs_the_phases_of_xtask_ci() {
        let ci = std::fs::read_to_string(root().join(".ci/run")).unwrap();
        let commands: Vec<&str> = ci.lines().map(str::trim).filter(|l| l.starts_with("cargo ")).collect();
        assert_eq!(commands, crate::CI_PHASES, ".ci/run and `cargo xtask ci` run different commands");
    }
}
