//! The system sampler on the real machine.

use std::{sync::Arc, time::Duration};

use perf_core::{SystemClock, SystemSampler, read_system_sample, testing::RecordingRecorder};

#[test]
fn a_reading_has_plausible_figures() {
    let s = read_system_sample(&SystemClock, std::path::Path::new("/")).unwrap();
    assert!(s.rss_bytes > 1024 * 1024, "rss {}", s.rss_bytes);
    assert!(s.memory_total_bytes >= s.memory_used_bytes && s.memory_total_bytes > 0);
    assert!(s.disk_total_bytes >= s.disk_used_bytes && s.disk_total_bytes > 0);
    assert!((0.0..=100.0).contains(&s.cpu_percent));
}

#[test]
fn the_sampler_records_at_once_and_stops_when_dropped() {
    let rec = Arc::new(RecordingRecorder::default());
    let sampler = SystemSampler::spawn(rec.clone(), Arc::new(SystemClock), Duration::from_millis(20), "/").unwrap();
    // The first reading is taken at once; wait for a few with a bounded poll.
    let mut waited = 0;
    while rec.system.lock().len() < 3 && waited < 500 {
        std::thread::sleep(Duration::from_millis(10));
        waited += 1;
    }
    drop(sampler);
    let after_drop = rec.system.lock().len();
    assert!(after_drop >= 3, "only {after_drop} readings");
    std::thread::sleep(Duration::from_millis(100));
    assert_eq!(rec.system.lock().len(), after_drop, "no readings after drop");
}

#[test]
fn a_zero_interval_is_refused() {
    let rec = Arc::new(RecordingRecorder::default());
    assert!(SystemSampler::spawn(rec, Arc::new(SystemClock), Duration::ZERO, "/").is_err());
}
