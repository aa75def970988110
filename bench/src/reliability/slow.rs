//! Slow subscriber: one client that stops reading, among many healthy ones.
//!
//! Interleaved runs per transport, each on a fresh server at the same steady rate: the healthy
//! subscribers alone (the baseline), then the same subscribers plus one stalled
//! (`rtlab_client`'s `--stalled 1`: it takes its first event, then holds its socket open and
//! reads nothing until the window is over, then reads what the kernel kept for it), and so on,
//! a baseline first and last, so the p99's own run-to-run spread is known ([`P99Effect`]). The
//! promise: the healthy subscribers' p99 stays within 1.1× of the baselines', the stalled one
//! is cut (WebSocket close `1008 lagging`, an SSE stream's end) once it is the queue bound
//! behind, and the server's memory stays bounded (its peak RSS, sampled every 100 ms, beside the
//! baseline's). The events the stalled one received before its cut are reported beside the
//! bound: they are what the kernel's socket buffers held (the server drops its queue at the
//! cut), small because the stalled client dials with a small receive window. The last seq it
//! received places the cut in the feed: the server cut it when the event after a full queue
//! arrived, and a cut outside the measured window fails the case, since the runs "with" the
//! fault would then have measured none.
//!
//! **Why events of 4 KiB at 20 a second.** The stalled client's window is small, but the
//! server's send buffer still grows against it: `ss -tmi` showed 283 KB of send buffer on the
//! stalled socket (2026-11-28). At 64-byte events (113 B on the wire) that is 2 500 events, 12 s
//! of a 200/s feed before the queue bound even starts to count, so in a 15 s window the
//! WebSocket was never cut. At 512 B and 200 events/s the cut came a few seconds in, but the
//! server's core was 98 % busy, where the healthy p99 moves ×1.2 from run to run by itself. At
//! 4 KiB the kernel's share is 30–36 events, so a feed of 20 events/s (the core 40–47 % busy)
//! fills it and a 128-event queue some 8 s after the stall.

use std::time::Duration;

use rtlab_client::RunReport;
use rtlab_client::report::StalledReport;
use rtlab_wire::Transport;
use serde::{Deserialize, Serialize};

use super::lab::{Lab, client_config};
use super::p99_effect::{HealthyRun, P99Effect, interleaved};
use super::{Scale, Verdict};
use crate::client_run::report_of;
use crate::proc_sampler::{ProcSeries, Sampler};

/// Most the healthy p99 may grow with a stalled subscriber beside them.
pub const P99_GOAL: f64 = 1.1;

/// One transport's slow-subscriber figures.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct SlowResult {
    /// The transport.
    pub transport: Option<Transport>,
    /// Healthy subscribers.
    pub clients: u64,
    /// The ticker's rate, events/s.
    pub rate: u64,
    /// The server's queue bound, events.
    pub subscriber_queue: u64,
    /// The measured window, seconds.
    #[serde(default)]
    pub window_s: f64,
    /// When the server cut the stalled subscriber, in seconds into the window, one per run with
    /// a cut: from the last seq it received, the queue bound after it, and the window's first
    /// seq, at the ticker's rate (within a couple of events: one may be in the server's write).
    #[serde(default)]
    pub cut_into_window_s: Vec<f64>,
    /// Healthy p99s: the baselines without the stalled subscriber, and the run with it.
    pub p99: Option<P99Effect>,
    /// Healthy subscribers cut as lagging in the runs with the stalled one (summed).
    pub healthy_lagging: u64,
    /// Healthy subscribers' loss (events missing from their streams) in those runs (summed).
    pub healthy_lost: u64,
    /// How the stalled subscriber ended, one report per run with it, in run order.
    pub stalled: Vec<StalledReport>,
    /// The server's peak RSS in the baseline runs (the largest), bytes.
    pub baseline_rss_peak_bytes: u64,
    /// The server's peak RSS in the runs with the stalled subscriber (the largest), bytes.
    pub stalled_run_rss_peak_bytes: u64,
    /// What went wrong, if a run could not be measured.
    pub error: Option<String>,
}

impl SlowResult {
    /// Held: the stalled one was cut in every run with it, the healthy p99 within
    /// [`P99_GOAL`], no healthy one cut.
    pub fn verdict(&self) -> Verdict {
        if let Some(e) = &self.error {
            return Verdict {
                held: false,
                why: format!("not measured: {e}"),
            };
        }
        let runs = self.stalled.len();
        let cut_runs = self.stalled.iter().filter(|s| s.cut == 1).count();
        let how: std::collections::BTreeSet<&str> = self
            .stalled
            .iter()
            .flat_map(|s| s.close_codes.keys().map(String::as_str))
            .collect();
        let every_cut = runs > 0 && cut_runs == runs;
        // A cut outside the window would leave the runs "with" it measuring no stall at all.
        let in_window = |s: &f64| (0.0..=self.window_s).contains(s);
        let cuts_in_window = self.cut_into_window_s.len() == cut_runs
            && self.cut_into_window_s.iter().all(in_window);
        let held = every_cut
            && cuts_in_window
            && self.p99.as_ref().is_some_and(|p| p.held(P99_GOAL))
            && self.healthy_lagging == 0;
        let p99 = self
            .p99
            .as_ref()
            .map_or_else(|| "no healthy p99".into(), |p| p.clause(P99_GOAL));
        let when = self
            .cut_into_window_s
            .iter()
            .map(|s| format!("{s:.1}"))
            .collect::<Vec<_>>()
            .join(", ");
        let when = if cuts_in_window {
            format!("{when} s into the {:.0} s window", self.window_s)
        } else {
            format!(
                "at {when} s, NOT all inside the {:.0} s window",
                self.window_s
            )
        };
        let cut = if every_cut {
            format!(
                "cut in {cut_runs} of {runs} runs ({}), {when}",
                how.into_iter().collect::<Vec<_>>().join(", ")
            )
        } else {
            format!("NOT cut in {} of {runs} runs", runs - cut_runs)
        };
        Verdict {
            held,
            why: format!(
                "{p99}; stalled subscriber {cut}, {} healthy cut",
                self.healthy_lagging
            ),
        }
    }
}

/// Runs the case for `transport` (ws or sse).
pub async fn run(lab: &Lab, scale: &Scale, transport: Transport) -> SlowResult {
    let mut result = SlowResult {
        transport: Some(transport),
        clients: scale.clients,
        rate: scale.slow_rate,
        subscriber_queue: scale.subscriber_queue,
        window_s: scale.slow_window.as_secs_f64(),
        ..SlowResult::default()
    };
    // Baselines around the faulted runs (see `p99_effect`).
    let runs = interleaved(scale.p99_faulted_runs, |fault| async move {
        let (report, server) = one_run(lab, scale, transport, u64::from(fault)).await?;
        let healthy = HealthyRun {
            p99_us: report.latency_us.p99,
            server_busy: server.core_share(),
        };
        Ok((healthy, (report, server.rss_peak())))
    })
    .await;
    let (p99, baselines, stalled) = match runs {
        Ok(r) => r,
        Err(e) => {
            result.error = Some(e);
            return result;
        }
    };
    result.p99 = Some(p99);
    for (report, rss_peak) in &stalled {
        result.healthy_lagging += report.lagging_disconnects;
        result.healthy_lost += report.lost;
        result.stalled.extend(report.stalled.clone());
        result
            .cut_into_window_s
            .extend(cut_into_window_s(report, scale));
        result.stalled_run_rss_peak_bytes = result.stalled_run_rss_peak_bytes.max(*rss_peak);
    }
    result.baseline_rss_peak_bytes = baselines.iter().map(|(_, rss)| *rss).max().unwrap_or(0);
    result
}

/// Where each cut of `report`'s stalled subscribers fell, in seconds into the window: the server
/// cut when the event after its queue bound's worth arrived (the last one the subscriber got,
/// plus the queue, plus one), which the ticker published that many events after the window's
/// first.
fn cut_into_window_s(report: &RunReport, scale: &Scale) -> Vec<f64> {
    let (Some(stalled), Some(start)) = (&report.stalled, report.window_seq_start) else {
        return Vec::new();
    };
    stalled
        .last_seq_before_cut
        .iter()
        .map(|&last| {
            let cut_seq = last + scale.subscriber_queue + 1;
            (cut_seq as f64 - start as f64) / scale.slow_rate.max(1) as f64
        })
        .collect()
}

/// One run with `stalled` stalled subscribers beside the healthy ones: the client's report and
/// the server's memory and CPU over the run.
async fn one_run(
    lab: &Lab,
    scale: &Scale,
    transport: Transport,
    stalled: u64,
) -> Result<(RunReport, ProcSeries), String> {
    let mut server = lab
        .server(
            scale.slow_rate,
            scale.slow_payload_bytes,
            Some(scale.subscriber_queue),
        )
        .await
        .map_err(|e| e.to_string())?;
    let sampler = Sampler::start(server.pid());
    let config = rtlab_client::RunConfig {
        stalled,
        ..client_config(
            &server,
            transport,
            scale.clients + stalled,
            scale.warmup,
            scale.slow_window,
            scale.connect_rate,
        )
    };
    let run = rtlab_client::run(config).await;
    let server_samples = sampler.finish().await;
    server.stop().await;
    // Every healthy subscriber lost is still a measurement (its p99 is the partial one).
    let report = report_of(run)?;
    // Give the kernel a moment to release the server's sockets before the next server.
    tokio::time::sleep(Duration::from_millis(200)).await;
    Ok((report, server_samples))
}
