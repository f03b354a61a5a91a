//! A real OTLP/HTTP protobuf receiver for the tests: PyPI's `oteltap`
//! (installed by scripts/ensure-test-tools.sh), started on a free port, its
//! NDJSON output (one received metric or span per line) read as JSON.

use std::{
    io::{BufRead, BufReader},
    net::{TcpListener, TcpStream},
    process::{Child, Command, Stdio},
    sync::{Arc, Mutex},
    time::{Duration, Instant},
};

use serde_json::Value;

/// A running `oteltap` process and every metric it printed so far.
pub(crate) struct OtelTap {
    child: Child,
    port: u16,
    metrics: Arc<Mutex<Vec<Value>>>,
}

impl OtelTap {
    /// Starts `oteltap --port <free port>` and waits until it accepts connections.
    pub(crate) fn start() -> OtelTap {
        let port = TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let mut child = match Command::new("oteltap")
            .args(["--port", &port.to_string()])
            .env("PYTHONUNBUFFERED", "1")
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
        {
            Ok(child) => child,
            Err(e) => panic!("oteltap is not installed ({e}); run scripts/ensure-test-tools.sh at the repository root"),
        };
        let stdout = child.stdout.take().unwrap();
        let metrics = Arc::new(Mutex::new(Vec::new()));
        let sink = metrics.clone();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                // Other lines are the tool's own ("Listening for ...").
                if let Ok(v @ Value::Object(_)) = serde_json::from_str::<Value>(&line) {
                    sink.lock().unwrap().push(v);
                }
            }
        });
        let deadline = Instant::now() + Duration::from_secs(30);
        while TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(Instant::now() < deadline, "oteltap did not listen on port {port} within 30 s");
            std::thread::sleep(Duration::from_millis(50));
        }
        OtelTap { child, port, metrics }
    }

    /// The base URL to give `OTEL_EXPORTER_OTLP_ENDPOINT`.
    pub(crate) fn endpoint(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// Every metric received so far, oldest first.
    pub(crate) fn metrics(&self) -> Vec<Value> {
        self.metrics.lock().unwrap().clone()
    }

    /// Every span received so far (the lines with a `traceId`), oldest first.
    pub(crate) fn spans(&self) -> Vec<Value> {
        self.metrics().into_iter().filter(|v| v.get("traceId").is_some()).collect()
    }

    /// The first received metric for which `found` is true, waiting up to 30 s.
    pub(crate) fn wait_for(&self, what: &str, found: impl Fn(&Value) -> bool) -> Value {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            if let Some(m) = self.metrics().into_iter().find(&found) {
                return m;
            }
            assert!(Instant::now() < deadline, "oteltap received no {what} in 30 s; got {:#?}", self.metrics());
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Drop for OtelTap {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The histogram data points of `metric` (OTLP JSON as oteltap prints it).
pub(crate) fn points(metric: &Value) -> Vec<Value> {
    metric["histogram"]["dataPoints"].as_array().cloned().unwrap_or_default()
}

/// The value of attribute `key` of a data point, as a string (`intValue`s are strings in OTLP JSON).
pub(crate) fn attr(point: &Value, key: &str) -> Option<String> {
    let kv = point["attributes"].as_array()?.iter().find(|kv| kv["key"] == key)?;
    let value = kv["value"].as_object()?.values().next()?;
    Some(value.as_str().map_or_else(|| value.to_string(), str::to_owned))
}

/// A 64-bit count field (a string in OTLP JSON).
pub(crate) fn count(point: &Value) -> u64 {
    point["count"].as_str().and_then(|s| s.parse().ok()).unwrap_or(0)
}

/// The per-bucket counts of a data point.
pub(crate) fn bucket_counts(point: &Value) -> Vec<u64> {
    point["bucketCounts"].as_array().into_iter().flatten().filter_map(|c| c.as_str()?.parse().ok()).collect()
}
