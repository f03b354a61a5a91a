//! A process-wide tracing subscriber that keeps the events carrying a
//! `prefix` field, so a test can read the log lines of its own cache (its
//! Redis key prefix is unique) while other tests run in parallel.

use std::{
    collections::HashMap,
    sync::{Mutex, Once},
};

/// One captured event: its message and its fields, as text.
#[derive(Debug, Clone)]
pub(crate) struct Line {
    pub(crate) message: String,
    pub(crate) fields: HashMap<String, String>,
}

static LINES: Mutex<Vec<Line>> = Mutex::new(Vec::new());

struct Capture;

#[derive(Default)]
struct Fields(HashMap<String, String>);

impl tracing::field::Visit for Fields {
    fn record_debug(&mut self, field: &tracing::field::Field, value: &dyn std::fmt::Debug) {
        self.0.insert(field.name().to_owned(), format!("{value:?}"));
    }
    fn record_str(&mut self, field: &tracing::field::Field, value: &str) {
        self.0.insert(field.name().to_owned(), value.to_owned());
    }
}

impl tracing::Subscriber for Capture {
    fn enabled(&self, _: &tracing::Metadata<'_>) -> bool {
        true
    }
    fn new_span(&self, _: &tracing::span::Attributes<'_>) -> tracing::span::Id {
        tracing::span::Id::from_u64(1)
    }
    fn record(&self, _: &tracing::span::Id, _: &tracing::span::Record<'_>) {}
    fn record_follows_from(&self, _: &tracing::span::Id, _: &tracing::span::Id) {}
    fn event(&self, event: &tracing::Event<'_>) {
        let mut fields = Fields::default();
        event.record(&mut fields);
        let mut fields = fields.0;
        if !fields.contains_key("prefix") {
            return;
        }
        let message = fields.remove("message").unwrap_or_default();
        LINES.lock().unwrap().push(Line { message, fields });
    }
    fn enter(&self, _: &tracing::span::Id) {}
    fn exit(&self, _: &tracing::span::Id) {}
}

/// Installs the capturing subscriber (once per process).
pub(crate) fn install() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| tracing::subscriber::set_global_default(Capture).unwrap());
}

/// The captured lines of the cache with key prefix `prefix`.
pub(crate) fn lines_of(prefix: &str) -> Vec<Line> {
    LINES.lock().unwrap().iter().filter(|l| l.fields.get("prefix").is_some_and(|p| p == prefix)).cloned().collect()
}
