//! What the server costs, read from the kernel: CPU time and resident memory from `/proc`.
//!
//! The server runs as its own process, so its cost is whatever the kernel charges that process,
//! and nothing the client or the runner does is mixed in:
//!
//! - **CPU time**: fields 14 and 15 of `/proc/PID/stat` (`utime`, `stime`) are the user and kernel
//!   time of all the process's threads so far, in clock ticks. Linux reports them in `USER_HZ`
//!   units, which is 100 per second on every architecture Linux runs on (the kernel converts from
//!   its internal `HZ`), so seconds = ticks / 100. Kernel time matters here: for a network server
//!   most of the cost of a write is the system call and TCP stack, which is charged as `stime`.
//! - **Memory**: `VmRSS` in `/proc/PID/status`, the resident set in KiB.
//!
//! A [`Sampler`] reads both every [`SAMPLE_INTERVAL`] into a time series. CPU **per 1 000 events**
//! is then the CPU seconds spent in the measured window (the difference of two samples) divided by
//! the deliveries in that window (events × subscribers), times 1 000: what it costs the server to
//! hand one thousand events to subscribers, whatever the transport (left empty when the window
//! holds under 50 ms of CPU: too few 10 ms ticks to divide). Memory **per connection** is
//! the peak RSS minus the RSS before any client connected, divided by the clients.
//!
//! A production monitor would use cgroup accounting or `perf`; `/proc` is precise enough for
//! differences over seconds and needs nothing installed.

use std::time::{Duration, Instant};

/// How often the sampler reads `/proc`.
pub const SAMPLE_INTERVAL: Duration = Duration::from_millis(100);

/// Clock ticks per second of `utime`/`stime` (Linux `USER_HZ`, fixed at 100 for user space).
pub const USER_HZ: f64 = 100.0;

/// One reading of a process's cost.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ProcSample {
    /// When it was taken.
    pub at: Instant,
    /// User + system CPU seconds since the process started.
    pub cpu_s: f64,
    /// Resident set size, in bytes.
    pub rss_bytes: u64,
}

/// Why a `/proc` file could not be read as expected.
#[derive(Debug, thiserror::Error)]
pub enum ProcError {
    /// The file could not be read (usually: the process has exited).
    #[error("cannot read {path}: {cause}")]
    Read {
        /// The file.
        path: String,
        /// The I/O error. It is in the message, so it is not also a `source()`: printed once.
        cause: std::io::Error,
    },
    /// The file did not have the expected shape.
    #[error("unexpected format of {0}")]
    Format(&'static str),
}

/// Parses `/proc/PID/stat` into CPU seconds (utime + stime).
///
/// The second field, the command name, is in parentheses and may itself contain spaces and
/// parentheses, so fields are counted from the *last* `)`.
pub fn parse_stat_cpu_seconds(stat: &str) -> Result<f64, ProcError> {
    let rest = stat
        .rfind(')')
        .map(|i| &stat[i + 1..])
        .ok_or(ProcError::Format("/proc/PID/stat"))?;
    // After the name: field 3 (state) is index 0, so utime (14) is index 11 and stime (15) is 12.
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let tick = |i: usize| -> Result<f64, ProcError> {
        fields
            .get(i)
            .and_then(|f| f.parse::<u64>().ok())
            .map(|t| t as f64)
            .ok_or(ProcError::Format("/proc/PID/stat"))
    };
    Ok((tick(11)? + tick(12)?) / USER_HZ)
}

/// Parses the `VmRSS:` line of `/proc/PID/status` into bytes (0 if absent, as for a zombie).
pub fn parse_status_rss_bytes(status: &str) -> Result<u64, ProcError> {
    match status.lines().find_map(|l| l.strip_prefix("VmRSS:")) {
        None => Ok(0),
        Some(v) => {
            let mut it = v.split_whitespace();
            let kib: u64 = it
                .next()
                .and_then(|n| n.parse().ok())
                .ok_or(ProcError::Format("/proc/PID/status"))?;
            Ok(kib * 1024)
        }
    }
}

/// Reads one [`ProcSample`] of process `pid` (blocking file reads; tiny, but call it off the runtime).
pub fn read_sample(pid: u32) -> Result<ProcSample, ProcError> {
    let read = |name: &str| {
        let path = format!("/proc/{pid}/{name}");
        std::fs::read_to_string(&path).map_err(|source| ProcError::Read {
            path,
            cause: source,
        })
    };
    let cpu_s = parse_stat_cpu_seconds(&read("stat")?)?;
    let rss_bytes = parse_status_rss_bytes(&read("status")?)?;
    Ok(ProcSample {
        at: Instant::now(),
        cpu_s,
        rss_bytes,
    })
}

/// A time series of samples of one process, with the questions the lab asks of it.
#[derive(Debug, Clone, Default)]
pub struct ProcSeries {
    /// Samples, oldest first.
    pub samples: Vec<ProcSample>,
}

impl ProcSeries {
    /// CPU seconds spent between `from` and `to`, interpolating linearly between samples.
    pub fn cpu_between(&self, from: Instant, to: Instant) -> Option<f64> {
        Some((self.cpu_at(to)? - self.cpu_at(from)?).max(0.0))
    }

    /// CPU seconds at instant `t`, interpolated; clamps to the first/last sample.
    pub fn cpu_at(&self, t: Instant) -> Option<f64> {
        let first = self.samples.first()?;
        if t <= first.at {
            return Some(first.cpu_s);
        }
        for w in self.samples.windows(2) {
            let (a, b) = (w[0], w[1]);
            if t <= b.at {
                let span = b.at.duration_since(a.at).as_secs_f64();
                let frac = if span > 0.0 {
                    t.duration_since(a.at).as_secs_f64() / span
                } else {
                    1.0
                };
                return Some(a.cpu_s + (b.cpu_s - a.cpu_s) * frac);
            }
        }
        self.samples.last().map(|s| s.cpu_s)
    }

    /// The share of one core the process kept busy from the first sample to the last (1.0: a
    /// whole core), `None` without two samples apart.
    pub fn core_share(&self) -> Option<f64> {
        let (first, last) = (self.samples.first()?, self.samples.last()?);
        let wall = last.at.duration_since(first.at).as_secs_f64();
        (wall > 0.0).then(|| (last.cpu_s - first.cpu_s).max(0.0) / wall)
    }

    /// Largest RSS seen, in bytes.
    pub fn rss_peak(&self) -> u64 {
        self.samples.iter().map(|s| s.rss_bytes).max().unwrap_or(0)
    }
}

/// Samples a process every [`SAMPLE_INTERVAL`] on a blocking-friendly task until stopped.
#[derive(Debug)]
pub struct Sampler {
    stop: tokio::sync::watch::Sender<bool>,
    task: tokio::task::JoinHandle<ProcSeries>,
}

impl Sampler {
    /// Starts sampling process `pid`. The first sample is taken at once.
    pub fn start(pid: u32) -> Self {
        let (stop, mut stopped) = tokio::sync::watch::channel(false);
        let task = tokio::spawn(async move {
            let mut series = ProcSeries::default();
            let mut tick = tokio::time::interval(SAMPLE_INTERVAL);
            loop {
                tokio::select! {
                    _ = tick.tick() => {}
                    _ = stopped.changed() => {}
                }
                let read = tokio::task::spawn_blocking(move || read_sample(pid)).await;
                match read {
                    Ok(Ok(s)) => series.samples.push(s),
                    // The process is gone (or unreadable): the series ends here.
                    _ => break,
                }
                if *stopped.borrow() {
                    break;
                }
            }
            series
        });
        Sampler { stop, task }
    }

    /// Takes a last sample and returns the series.
    pub async fn finish(self) -> ProcSeries {
        let _ = self.stop.send(true);
        self.task.await.unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const STAT: &str = "4242 (rtlab server) S 1 4242 4242 0 -1 4194560 1234 0 0 0 250 130 0 0 20 0 3 0 9999 123456789 2000 18446744073709551615 1 1 0 0 0 0 0 4096 0 0 0 0 17 0 0 0 0 0 0\n";

    #[test]
    fn stat_cpu_is_utime_plus_stime_over_user_hz() {
        assert!((parse_stat_cpu_seconds(STAT).unwrap() - 3.8).abs() < 1e-9);
    }

    #[test]
    fn stat_name_with_parens_and_spaces() {
        let s = STAT.replace("(rtlab server)", "(a) b (c))");
        assert!((parse_stat_cpu_seconds(&s).unwrap() - 3.8).abs() < 1e-9);
        assert!(parse_stat_cpu_seconds("garbage").is_err());
        assert!(parse_stat_cpu_seconds("1 (x) S 1 2").is_err());
    }

    #[test]
    fn status_rss_in_bytes() {
        let status = "Name:\trtlab-server\nVmPeak:\t  10000 kB\nVmRSS:\t    5120 kB\nThreads:\t3\n";
        assert_eq!(parse_status_rss_bytes(status).unwrap(), 5120 * 1024);
        assert_eq!(parse_status_rss_bytes("Name:\tzombie\n").unwrap(), 0);
        assert!(parse_status_rss_bytes("VmRSS:\tlots kB\n").is_err());
    }

    /// This process's user + system CPU seconds as `getrusage` reports them: the same kernel
    /// accounting as `/proc/PID/stat`, through another door, so each can check the other.
    fn rusage_cpu_s() -> f64 {
        use nix::sys::resource::{UsageWho, getrusage};
        let u = getrusage(UsageWho::RUSAGE_SELF).unwrap();
        let s = |t: nix::sys::time::TimeVal| t.tv_sec() as f64 + t.tv_usec() as f64 / 1e6;
        s(u.user_time()) + s(u.system_time())
    }

    #[test]
    fn own_process_can_be_sampled() {
        // Burn 0.2 s of CPU (by the kernel's count, so a busy machine only makes it take
        // longer), then the sample must show it: wrong fields, or ticks not divided by
        // USER_HZ, would read as ~0 or as 100 times too much.
        const BURN_S: f64 = 0.2;
        let start = rusage_cpu_s();
        let mut x = 0u64;
        while rusage_cpu_s() - start < BURN_S {
            for i in 0..10_000u64 {
                x = std::hint::black_box(x.wrapping_mul(31).wrapping_add(i));
            }
        }
        let s = read_sample(std::process::id()).unwrap();
        let after = rusage_cpu_s();
        assert!(s.rss_bytes > 0);
        // /proc counts whole 10 ms ticks: allow two of them either way.
        assert!(
            s.cpu_s >= start + BURN_S - 0.02 && s.cpu_s <= after + 0.02,
            "/proc says {} CPU s; getrusage said {start} before the burn and {after} after",
            s.cpu_s
        );
    }

    #[test]
    fn cpu_is_interpolated_between_samples() {
        let t0 = Instant::now();
        let at = |ms| t0 + Duration::from_millis(ms);
        let series = ProcSeries {
            samples: vec![
                ProcSample {
                    at: at(0),
                    cpu_s: 1.0,
                    rss_bytes: 10,
                },
                ProcSample {
                    at: at(100),
                    cpu_s: 2.0,
                    rss_bytes: 30,
                },
                ProcSample {
                    at: at(200),
                    cpu_s: 4.0,
                    rss_bytes: 20,
                },
            ],
        };
        assert!((series.cpu_at(at(50)).unwrap() - 1.5).abs() < 1e-9);
        assert!((series.cpu_between(at(50), at(150)).unwrap() - 1.5).abs() < 1e-9);
        assert!((series.cpu_at(at(999)).unwrap() - 4.0).abs() < 1e-9);
        assert_eq!(series.rss_peak(), 30);
        assert_eq!(ProcSeries::default().cpu_at(t0), None);
        // 3 CPU seconds over 0.2 s of wall time: fifteen cores' worth, first sample to last.
        assert!((series.core_share().unwrap() - 15.0).abs() < 1e-9);
        let one = ProcSeries {
            samples: series.samples[..1].to_vec(),
        };
        assert_eq!(one.core_share(), None);
    }
}
