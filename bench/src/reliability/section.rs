//! The report's "Reliability" section: each promise, what was measured, and the verdict,
//! written from [`ReliabilityReport`] alone (so `reliability.json` can be re-read and the
//! section rewritten without re-running).

use std::fmt::Write as _;

use super::ReliabilityReport;

/// MiB, one decimal.
fn mib(bytes: u64) -> String {
    format!("{:.1} MiB", bytes as f64 / (1024.0 * 1024.0))
}

/// µs as ms, two decimals, or "?".
fn ms(us: Option<f64>) -> String {
    us.map_or_else(|| "?".into(), |us| format!("{:.2} ms", us / 1e3))
}

/// `×1.03`, or "?".
fn times(r: Option<f64>) -> String {
    r.map_or_else(|| "?".into(), |r| format!("×{r:.2}"))
}

/// `a: 1, b: 2`, or "none".
fn counts(m: &std::collections::BTreeMap<String, u64>) -> String {
    if m.is_empty() {
        return "none".into();
    }
    m.iter()
        .map(|(k, v)| format!("{k}: {v}"))
        .collect::<Vec<_>>()
        .join(", ")
}

fn transport(t: Option<rtlab_wire::Transport>) -> &'static str {
    t.map_or("?", |t| t.as_str())
}

/// The section, in Markdown, from `## Reliability` on.
pub fn markdown(r: &ReliabilityReport) -> String {
    let s = &r.scale;
    let mut o = String::new();
    let _ = writeln!(o, "## Reliability\n");
    let _ = writeln!(
        o,
        "The contract's reliability promises, measured: every figure below is computed from this \
         run's data, and a promise that did not hold says so. Overall: **{}**.\n",
        if r.all_held() {
            "every promise held"
        } else {
            "at least one promise FAILED"
        }
    );

    let _ = writeln!(o, "### Slow subscriber\n");
    let _ = writeln!(
        o,
        "One subscriber stops reading after its first event, among {} healthy ones at {} events/s \
         ({} B of filler each), on a server whose queue bound is `--subscriber-queue {}` events; \
         the same run without it is the baseline. Goal: healthy p99 ≤ ×1.1, the stalled one cut.\n",
        s.clients, s.slow_rate, s.slow_payload_bytes, s.subscriber_queue
    );
    let _ = writeln!(
        o,
        "| transport | healthy p99 without | with | ratio | stalled cut | events before the cut | server peak RSS without → with | verdict |"
    );
    let _ = writeln!(o, "|---|---|---|---|---|---|---|---|");
    for x in &r.slow {
        let stalled = x.stalled.as_ref();
        let cut = stalled.map_or_else(
            || "?".into(),
            |st| {
                if st.cut > 0 {
                    format!("yes ({})", counts(&st.close_codes))
                } else {
                    format!("no (read {:?})", st.events_not_cut)
                }
            },
        );
        let before = stalled.map_or_else(|| "?".into(), |st| format!("{:?}", st.events_before_cut));
        let v = x.verdict();
        let _ = writeln!(
            o,
            "| {} | {} | {} | {} | {cut} | {before} (bound {}) | {} → {} | {}: {} |",
            transport(x.transport),
            ms(x.baseline_p99_us),
            ms(x.stalled_run_p99_us),
            times(x.p99_ratio),
            x.subscriber_queue,
            mib(x.baseline_rss_peak_bytes),
            mib(x.stalled_run_rss_peak_bytes),
            v.word(),
            v.why
        );
    }
    let _ = writeln!(
        o,
        "\nThe stalled client dials with a small receive window (4 KiB, an Ethernet MSS), as a \
         slow client would: the kernel's buffers hold little, the server's queue fills and it is \
         cut. The events it received before the cut are what those buffers held (the queue is \
         dropped at the cut); the server's memory for it is bounded by the queue.\n"
    );

    let _ = writeln!(o, "### Churn\n");
    let _ = writeln!(
        o,
        "{} connect → first event → disconnect cycles per transport, {} at a time, at {} \
         events/s; the server's open files and RSS after the churn against before it (read after \
         a warm-up churn of 1 %). Goal: both ≤ ×1.1, every cycle done.\n",
        s.churn_cycles, s.churn_workers, s.churn_rate
    );
    let _ = writeln!(
        o,
        "| transport | cycles done | cycles/s | connect → first event p50 / p99 | open fds before → after | RSS before → after | errors | verdict |"
    );
    let _ = writeln!(o, "|---|---|---|---|---|---|---|---|");
    for x in &r.churn {
        let v = x.verdict();
        let opt = |n: Option<u64>| n.map_or_else(|| "?".into(), |n| n.to_string());
        let _ = writeln!(
            o,
            "| {} | {} of {} | {:.0} | {} / {} | {} → {} ({}) | {} → {} ({}) | {} | {}: {} |",
            transport(x.transport),
            x.cycles_done,
            x.cycles_asked,
            x.cycles_per_s,
            ms(Some(x.first_event_us.p50)),
            ms(Some(x.first_event_us.p99)),
            opt(x.fds_before),
            opt(x.fds_after),
            times(x.fds_ratio),
            x.rss_before_bytes.map_or_else(|| "?".into(), mib),
            x.rss_after_bytes.map_or_else(|| "?".into(), mib),
            times(x.rss_ratio),
            counts(&x.errors),
            v.word(),
            v.why
        );
    }

    let _ = writeln!(o, "\n### Shutdown under load\n");
    let _ = writeln!(
        o,
        "SIGTERM {:.1} s into the window, {} subscribers per transport at {} events/s. Goal: \
         WebSockets closed 1001, SSE and TCP streams ended, parked long polls answered, exit 0 \
         within 5 s, and no subscriber behind the highest seq any subscriber received (published \
         before the signal for certain).\n",
        s.shutdown_after.as_secs_f64(),
        s.clients,
        s.shutdown_rate
    );
    let _ = writeln!(
        o,
        "| transport | exit | time to exit | how subscribers ended | parked polls answered | behind the last seq (events) | with gaps | cut as lagging before | verdict |"
    );
    let _ = writeln!(o, "|---|---|---|---|---|---|---|---|---|");
    for x in &r.shutdown {
        let v = x.verdict();
        let polls = if x.parked_polls > 0 {
            format!("{} of {}", x.parked_polls_answered, x.parked_polls)
        } else {
            "–".into()
        };
        let _ = writeln!(
            o,
            "| {} | {} | {} | {} | {polls} | {} ({}) | {} | {} | {}: {} |",
            transport(x.transport),
            x.exit_code
                .map_or_else(|| "killed".into(), |c| c.to_string()),
            x.time_to_exit_ms
                .map_or_else(|| "?".into(), |t| format!("{t:.0} ms")),
            counts(&x.close_codes),
            x.subscribers_behind,
            x.events_behind,
            x.subscribers_with_gaps,
            x.lagging,
            v.word(),
            v.why
        );
    }
    let _ = writeln!(
        o,
        "\nSubscribers cut as lagging before the signal end behind the others too (the \
         slow-subscriber promise, not this one); a poll receives only what it asked for before \
         the server was gone.\n"
    );

    let _ = writeln!(o, "### Hostile clients\n");
    let _ = writeln!(
        o,
        "A slow-headers client (one byte of a request head a second) and {} TCP connections that \
         never send a byte, opened by the lab before {} healthy subscribers connect at {} \
         events/s; the same run without them is the baseline. The server drops them by its \
         `client_request_timeout`. Goal: all dropped, healthy p99 ≤ ×1.1.\n",
        s.idle_connections, s.clients, s.hostile_rate
    );
    let _ = writeln!(
        o,
        "| transport | idle dropped | after (s) | slow headers dropped after | healthy p99 without | with | ratio | verdict |"
    );
    let _ = writeln!(o, "|---|---|---|---|---|---|---|---|");
    for x in &r.hostile {
        let v = x.verdict();
        let s1 = |v: Option<f64>| v.map_or_else(|| "never".into(), |s| format!("{s:.1}"));
        let _ = writeln!(
            o,
            "| {} | {} of {} | {}–{} | {} s ({} B sent) | {} | {} | {} | {}: {} |",
            transport(x.transport),
            x.idle_dropped,
            x.idle_opened,
            s1(x.idle_dropped_after_s_min),
            s1(x.idle_dropped_after_s_max),
            s1(x.slow_headers_dropped_after_s),
            x.slow_headers_bytes_sent,
            ms(x.baseline_p99_us),
            ms(x.hostile_run_p99_us),
            times(x.p99_ratio),
            v.word(),
            v.why
        );
    }
    o
}
