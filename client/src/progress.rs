//! A live progress line on stderr: elapsed time, connections, events per second.
//!
//! A run of 10 000 subscribers takes a while to ramp up, and a stuck run looks like a slow one;
//! a line that moves tells them apart. It is drawn with indicatif only when stderr is a
//! terminal (never into a log file or a test's captured output), reading the shared
//! [`LiveCounters`] four times a second; the subscribers never wait for it.

use std::io::IsTerminal;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use tokio::task::JoinHandle;

use crate::clock::RunClock;
use crate::recorder::LiveCounters;

/// How often the line is redrawn.
const TICK: Duration = Duration::from_millis(250);

/// The progress line; stops drawing when dropped.
#[derive(Debug)]
pub struct Progress {
    task: JoinHandle<()>,
    bar: ProgressBar,
}

impl Progress {
    /// Starts drawing if `enabled` and stderr is a terminal.
    pub fn start(
        enabled: bool,
        clients: u64,
        clock: RunClock,
        live: Arc<LiveCounters>,
    ) -> Option<Self> {
        if !enabled || !std::io::stderr().is_terminal() {
            return None;
        }
        let total = clock.window_end - clock.start;
        let bar = ProgressBar::with_draw_target(
            Some(total.as_millis() as u64),
            ProgressDrawTarget::stderr(),
        );
        bar.set_style(
            ProgressStyle::with_template("{spinner} [{elapsed_precise}] {bar:30} {msg}")
                .unwrap_or_else(|_| ProgressStyle::default_bar()),
        );
        let b = bar.clone();
        let task = tokio::spawn(async move {
            let mut last = (Instant::now(), 0u64);
            let mut ticker = tokio::time::interval(TICK);
            loop {
                ticker.tick().await;
                let now = Instant::now();
                let events = live.events.load(Ordering::Relaxed);
                let rate = (events - last.1) as f64 / (now - last.0).as_secs_f64().max(1e-3);
                last = (now, events);
                let phase = if now < clock.window_start {
                    "warm-up"
                } else {
                    "measuring"
                };
                b.set_position((now.saturating_duration_since(clock.start)).as_millis() as u64);
                b.set_message(format!(
                    "{phase}: {}/{clients} connected, {rate:.0} events/s",
                    live.connected.load(Ordering::Relaxed)
                ));
            }
        });
        Some(Self { task, bar })
    }
}

impl Drop for Progress {
    fn drop(&mut self) {
        self.task.abort();
        self.bar.finish_and_clear();
    }
}
