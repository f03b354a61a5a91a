//! [`SystemSampler`]: a background thread that reads process and machine
//! figures with sysinfo and records them. The request path never calls sysinfo.

use std::{
    path::{Path, PathBuf},
    sync::{Arc, mpsc},
    thread::JoinHandle,
    time::Duration,
};

use sysinfo::{Disks, MemoryRefreshKind, Pid, ProcessRefreshKind, ProcessesToUpdate, RefreshKind, System};

use crate::{Clock, CoreError, Recorder, SystemSample};

/// Reads process and machine figures every interval on its own thread and
/// records them; stops and joins the thread when dropped.
#[derive(Debug)]
pub struct SystemSampler {
    stop: Option<mpsc::Sender<()>>,
    thread: Option<JoinHandle<()>>,
}

struct Reader {
    sys: System,
    disks: Disks,
    pid: Pid,
    cpus: f64,
    data_dir: PathBuf,
}

impl Reader {
    fn new(data_dir: PathBuf) -> Result<Self, CoreError> {
        let pid = sysinfo::get_current_pid().map_err(|e| CoreError::SamplerUnavailable(e.to_string()))?;
        let mut sys =
            System::new_with_specifics(RefreshKind::nothing().with_memory(MemoryRefreshKind::nothing().with_ram()))
                .map_err(|e| CoreError::SamplerUnavailable(e.to_string()))?;
        let cpus = System::physical_core_count().ok().filter(|&n| n > 0);
        sys.refresh_cpu_all();
        let logical = sys.cpus().len().max(cpus.unwrap_or(1));
        let disks = Disks::new_with_refreshed_list().map_err(|e| CoreError::SamplerUnavailable(e.to_string()))?;
        Ok(Reader { sys, disks, pid, cpus: logical as f64, data_dir })
    }

    fn read(&mut self, clock: &dyn Clock) -> SystemSample {
        self.sys.refresh_memory();
        self.sys.refresh_processes_specifics(
            ProcessesToUpdate::Some(&[self.pid]),
            true,
            ProcessRefreshKind::nothing().with_memory().with_cpu(),
        );
        let (rss, cpu) = self.sys.process(self.pid).map_or((0, 0.0), |p| (p.memory(), f64::from(p.cpu_usage())));
        self.disks.refresh(true);
        let disk = self
            .disks
            .iter()
            .filter(|d| self.data_dir.starts_with(d.mount_point()))
            .max_by_key(|d| d.mount_point().as_os_str().len());
        let (disk_total, disk_used) =
            disk.map_or((0, 0), |d| (d.total_space(), d.total_space().saturating_sub(d.available_space())));
        SystemSample {
            at: clock.now(),
            rss_bytes: rss,
            cpu_percent: (cpu / self.cpus).clamp(0.0, 100.0),
            memory_used_bytes: self.sys.used_memory(),
            memory_total_bytes: self.sys.total_memory(),
            disk_used_bytes: disk_used,
            disk_total_bytes: disk_total,
        }
    }
}

/// One reading of this process and machine, taken now on the calling thread.
/// CPU is 0 on a first reading (it needs two readings apart in time).
///
/// # Errors
/// [`CoreError::SamplerUnavailable`] when the platform gives no figures.
pub fn read_system_sample(clock: &dyn Clock, data_dir: &Path) -> Result<SystemSample, CoreError> {
    Ok(Reader::new(data_dir.to_path_buf())?.read(clock))
}

impl SystemSampler {
    /// Starts sampling every `interval` into `recorder`; the first reading is
    /// taken at once. Disk figures are for the volume holding `data_dir`.
    ///
    /// # Errors
    /// [`CoreError::SamplerUnavailable`] when the platform gives no figures,
    /// [`CoreError::InvalidConfig`] for a zero interval.
    pub fn spawn(
        recorder: Arc<dyn Recorder>,
        clock: Arc<dyn Clock>,
        interval: Duration,
        data_dir: impl Into<PathBuf>,
    ) -> Result<Self, CoreError> {
        if interval.is_zero() {
            return Err(CoreError::InvalidConfig("sampling interval must be positive".into()));
        }
        let mut reader = Reader::new(data_dir.into())?;
        let (tx, rx) = mpsc::channel::<()>();
        let thread = std::thread::Builder::new()
            .name("perf-system-sampler".into())
            .spawn(move || {
                loop {
                    let sample = reader.read(clock.as_ref());
                    recorder.record_system(&sample);
                    match rx.recv_timeout(interval) {
                        Err(mpsc::RecvTimeoutError::Timeout) => continue,
                        _ => break,
                    }
                }
            })
            .map_err(|e| CoreError::SamplerUnavailable(e.to_string()))?;
        Ok(SystemSampler { stop: Some(tx), thread: Some(thread) })
    }
}

impl SystemSampler {
    /// [`SystemSampler::spawn`] into the context's recorder, on its clock.
    ///
    /// # Errors
    /// As [`SystemSampler::spawn`].
    pub fn from_context(
        ctx: &crate::PerfContext,
        interval: Duration,
        data_dir: impl Into<PathBuf>,
    ) -> Result<Self, CoreError> {
        Self::spawn(ctx.recorder().clone(), ctx.clock().clone(), interval, data_dir)
    }
}

impl Drop for SystemSampler {
    fn drop(&mut self) {
        drop(self.stop.take());
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}
