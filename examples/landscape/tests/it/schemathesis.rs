//! The served OpenAPI document against the server: schemathesis generates
//! requests from `/api/performance/openapi.json` (schema-valid and
//! schema-violating ones) and runs every check on the answers. Zero failures
//! means every constraint the server enforces is in the document, and every
//! answer matches it.
//!
//! Needs `schemathesis` 4.x from PyPI (`scripts/ensure-test-tools.sh`
//! installs it), or its path in `SCHEMATHESIS`.

use std::{
    path::PathBuf,
    process::{Command, Stdio},
    time::Instant,
};

use crate::server::{Server, fresh_dir};

const TOKEN: &str = "schemathesis-test-token";
/// The keys of an OpenAPI path item that name operations.
const HTTP_METHODS: [&str; 8] = ["get", "put", "post", "delete", "options", "head", "patch", "trace"];

fn schemathesis() -> PathBuf {
    if let Some(p) = std::env::var_os("SCHEMATHESIS") {
        return PathBuf::from(p);
    }
    let path = std::env::var_os("PATH").unwrap_or_default();
    for dir in std::env::split_paths(&path) {
        let candidate = dir.join("schemathesis");
        if candidate.is_file() {
            return candidate;
        }
    }
    panic!("schemathesis not found: run scripts/ensure-test-tools.sh (pip installs it) or set SCHEMATHESIS");
}

#[test]
fn schemathesis_finds_no_disagreement_between_document_and_server() {
    // The admin token lets the mutating operations run (this instance is
    // thrown away); a 1 MiB memory threshold evaluated every second raises
    // alerts, so resolving one is reached through GET /alerts.
    let server = Server::start(
        "schemathesis",
        &[("PERFORMANCE_API_TOKEN", TOKEN), ("HIGH_MEMORY_THRESHOLD", "1"), ("ALERT_EVALUATION_INTERVAL", "1")],
    );
    let report = fresh_dir("schemathesis-report");
    let started = Instant::now();
    let output = Command::new(schemathesis())
        .arg("run")
        .arg(format!("http://{}/api/performance/openapi.json", server.addr))
        .args(["--checks", "all"])
        .args(["--header", &format!("Authorization: Bearer {TOKEN}")])
        .args(["--seed", "20261201"])
        .args(["--max-examples", "40"])
        // One worker: hypothesis describes strategies by parsing source, which
        // CPython 3.11 does not do safely from two threads at once.
        .args(["--workers", "1"])
        .args(["--generation-database", "none"])
        .arg("--report-dir")
        .arg(&report)
        .arg("--no-color")
        .current_dir(&report)
        .stdin(Stdio::null())
        .output()
        .unwrap();
    let text = format!("{}{}", String::from_utf8_lossy(&output.stdout), String::from_utf8_lossy(&output.stderr));
    let _ = std::fs::remove_dir_all(&report);
    assert!(
        output.status.success(),
        "schemathesis exited with {} after {:?}:\n{text}",
        output.status,
        started.elapsed()
    );
    // It tested every operation of the served document, not an empty
    // selection; schemathesis leaves out the one serving the document itself.
    let auth = format!("Bearer {TOKEN}");
    let doc = server.get_with("/api/performance/openapi.json", &[("Authorization", &auth)]).json();
    let operations: usize = doc["paths"]
        .as_object()
        .unwrap()
        .iter()
        .filter(|(path, _)| path.as_str() != "/openapi.json")
        .map(|(_, item)| item.as_object().unwrap().keys().filter(|k| HTTP_METHODS.contains(&k.as_str())).count())
        .sum();
    assert!(operations > 0);
    assert!(text.contains(&format!("Selected: {operations}/{operations}")), "{text}");
    assert!(text.lines().any(|l| l.trim() == format!("Tested: {operations}")), "{text}");
}
