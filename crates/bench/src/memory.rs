//! The server's memory, sampled from `/proc/PID/status` while a scenario runs.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::JoinHandle;
use std::time::Duration;

use serde::Serialize;

#[derive(Serialize, Clone, Debug, Default)]
pub struct MemoryReport {
    pub pid: u32,
    /// RSS before the scenario's first request.
    pub idle_rss_kib: u64,
    /// The largest RSS sampled (every 50 ms).
    pub peak_rss_kib: u64,
    /// RSS when the scenario ended.
    pub final_rss_kib: u64,
    /// The kernel's own high-water mark of RSS since the process started (updated lazily by
    /// the kernel, so it can trail `peak_rss_kib`).
    pub vm_hwm_kib: u64,
    pub samples: u64,
}

/// `(VmRSS, VmHWM)` in KiB.
pub fn read(pid: u32) -> Option<(u64, u64)> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let field = |name: &str| {
        status
            .lines()
            .find_map(|l| l.strip_prefix(name))
            .and_then(|v| v.split_whitespace().next()?.parse().ok())
    };
    Some((field("VmRSS:")?, field("VmHWM:")?))
}

pub struct Sampler {
    stop: Arc<AtomicBool>,
    handle: JoinHandle<MemoryReport>,
}

impl Sampler {
    pub fn start(pid: u32) -> anyhow::Result<Self> {
        let (idle, _) = read(pid).ok_or_else(|| anyhow::anyhow!("cannot read /proc/{pid}/status"))?;
        let stop = Arc::new(AtomicBool::new(false));
        let flag = stop.clone();
        let handle = std::thread::spawn(move || {
            let mut r = MemoryReport {
                pid,
                idle_rss_kib: idle,
                peak_rss_kib: idle,
                ..Default::default()
            };
            while !flag.load(Ordering::Relaxed) {
                if let Some((rss, hwm)) = read(pid) {
                    r.peak_rss_kib = r.peak_rss_kib.max(rss);
                    r.final_rss_kib = rss;
                    r.vm_hwm_kib = hwm;
                    r.samples += 1;
                }
                std::thread::sleep(Duration::from_millis(50));
            }
            if let Some((rss, hwm)) = read(pid) {
                r.peak_rss_kib = r.peak_rss_kib.max(rss);
                r.final_rss_kib = rss;
                r.vm_hwm_kib = hwm;
            }
            r
        });
        Ok(Self { stop, handle })
    }

    pub fn finish(self) -> MemoryReport {
        self.stop.store(true, Ordering::Relaxed);
        self.handle.join().unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn reads_its_own_status() {
        let (rss, hwm) = super::read(std::process::id()).unwrap();
        assert!(rss > 0 && hwm > 0);
    }
}
