//! The report's "Reliability" section: each promise, what was measured, and the verdict,
//! written from [`ReliabilityReport`] alone (so `reliability.json` can be re-read and the
//! section rewritten without re-running).

use std::fmt::Write as _;

use rtlab_wire::HeapStats;

use super::ReliabilityReport;
use super::churn::{ChurnResult, free_bytes};
use super::p99_effect::P99Effect;
use crate::table::md_table;

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

/// `1.20 / 1.31 / 1.25 ms`: each run's p99 in run order.
fn ms_list(us: &[f64]) -> String {
    let each: Vec<String> = us.iter().map(|us| format!("{:.2}", us / 1e3)).collect();
    format!("{} ms", each.join(" / "))
}

/// `41–44 %`: the lowest and highest share of a core in `shares` (`?` if none).
fn busy_range(shares: &[f64]) -> String {
    let lo = shares.iter().copied().reduce(f64::min);
    let hi = shares.iter().copied().reduce(f64::max);
    match (lo, hi) {
        (Some(lo), Some(hi)) if (lo * 100.0).round() == (hi * 100.0).round() => {
            format!("{:.0} %", lo * 100.0)
        }
        (Some(lo), Some(hi)) => format!("{:.0}–{:.0} %", lo * 100.0, hi * 100.0),
        _ => "?".into(),
    }
}

/// A faulted case's healthy p99s: every baseline, every faulted run, the effect, the noise, and
/// how busy the server's core was without and with the fault.
fn p99_cells(p: Option<&P99Effect>) -> [String; 5] {
    match p {
        Some(p) => [
            ms_list(&p.baselines_us),
            ms_list(&p.with_fault_us),
            times(p.ratio()),
            times(p.noise()),
            format!(
                "{} / {}",
                busy_range(&p.baselines_server_busy),
                busy_range(&p.with_fault_server_busy)
            ),
        ],
        None => ["?".into(), "?".into(), "?".into(), "?".into(), "?".into()],
    }
}

/// The section, in Markdown, from `## Reliability` on.
pub fn markdown(r: &ReliabilityReport) -> String {
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
    let _ = writeln!(
        o,
        "Where a promise compares the healthy subscribers' p99 with and without a fault, runs \
         without it and with it alternate on fresh servers, a baseline first and last ({} with \
         the fault, {} without): the ratio is the faulted runs' median p99 over the baselines' \
         median, and the baselines' own spread (largest over smallest) is how much the same \
         run moved by itself on this machine. Each run's p99 is listed in run order, and beside \
         them the share of its one core the server kept busy (CPU time over wall time, lowest to \
         highest): near 100 % any extra work is queueing, and the baselines spread wide.\n",
        r.scale.p99_faulted_runs,
        r.scale.p99_faulted_runs + 1
    );
    type Section = fn(&mut String, &ReliabilityReport);
    let cases: [(&str, bool, Section); 4] = [
        ("slow subscriber", r.slow.is_empty(), slow_section),
        ("churn", r.churn.is_empty(), churn_section),
        (
            "shutdown under load",
            r.shutdown.is_empty(),
            shutdown_section,
        ),
        ("hostile clients", r.hostile.is_empty(), hostile_section),
    ];
    let not_run: Vec<&str> = cases
        .iter()
        .filter_map(|&(case, empty, _)| empty.then_some(case))
        .collect();
    if !not_run.is_empty() {
        let _ = writeln!(
            o,
            "Not run here (narrowed by `--scenarios` or `--transports`): {}.\n",
            not_run.join(", ")
        );
    }
    for (_, empty, section) in cases {
        if !empty {
            section(&mut o, r);
        }
    }
    o
}

fn slow_section(o: &mut String, r: &ReliabilityReport) {
    let s = &r.scale;
    let _ = writeln!(o, "### Slow subscriber\n");
    let _ = writeln!(
        o,
        "One subscriber stops reading after its first event, among {} healthy ones at {} events/s \
         ({} B of filler each), on a server whose queue bound is `--subscriber-queue {}` events. \
         When the cut came is placed from the last seq the stalled one received: the server cut \
         it when the event after a full queue arrived. Goal: healthy p99 ≤ ×1.1, the stalled one \
         cut inside the measured window (a cut before it would leave nothing measured).\n",
        s.clients, s.slow_rate, s.slow_payload_bytes, s.subscriber_queue
    );
    let rows: Vec<Vec<String>> = r
        .slow
        .iter()
        .map(|x| {
            let cut: Vec<String> = x
                .stalled
                .iter()
                .map(|st| {
                    if st.cut > 0 {
                        format!("yes ({})", counts(&st.close_codes))
                    } else {
                        format!("no (read {:?})", st.events_not_cut)
                    }
                })
                .collect();
            let before: Vec<String> = x
                .stalled
                .iter()
                .map(|st| format!("{:?}", st.events_before_cut))
                .collect();
            let (cut, before) = if cut.is_empty() {
                ("?".to_string(), "?".to_string())
            } else {
                (cut.join("; "), before.join(" "))
            };
            let v = x.verdict();
            let [base, with, ratio, spread, busy] = p99_cells(x.p99.as_ref());
            vec![
                transport(x.transport).into(),
                base,
                with,
                ratio,
                spread,
                busy,
                cut,
                if x.cut_into_window_s.is_empty() {
                    "?".into()
                } else {
                    let each: Vec<String> = x
                        .cut_into_window_s
                        .iter()
                        .map(|s| format!("{s:.1}"))
                        .collect();
                    format!("{} of {:.0} s", each.join(" / "), x.window_s)
                },
                format!("{before} (bound {})", x.subscriber_queue),
                format!(
                    "{} → {}",
                    mib(x.baseline_rss_peak_bytes),
                    mib(x.stalled_run_rss_peak_bytes)
                ),
                format!("{}: {}", v.word(), v.why),
            ]
        })
        .collect();
    o.push_str(&md_table(
        &[
            "transport",
            "healthy p99 without (each run)",
            "with (each run)",
            "ratio",
            "baselines' spread",
            "server core busy without / with",
            "stalled cut",
            "cut, s into the window",
            "events before the cut",
            "server peak RSS without → with",
            "verdict",
        ],
        &rows,
    ));
    // What the stalled one received before its cut, against the queue bound: the data say
    // whether the kernel's buffers or the queue decided the cut.
    for x in &r.slow {
        let got: Vec<u64> = x
            .stalled
            .iter()
            .flat_map(|st| st.events_before_cut.first().copied())
            .collect();
        if let (Some(&lo), Some(&hi)) = (got.iter().min(), got.iter().max()) {
            let (events, share) = if lo == hi {
                (lo.to_string(), "".to_string())
            } else {
                (format!("{lo}–{hi}"), "at most ".to_string())
            };
            let _ = writeln!(
                o,
                "\n{}: the stalled subscriber received {events} events before its cut, \
                 {share}{:.0} % of the {}-event queue bound: what its small receive window (4 KiB, \
                 an Ethernet MSS) and the server's send buffer held; the queue itself is dropped \
                 at the cut.",
                transport(x.transport),
                hi as f64 * 100.0 / x.subscriber_queue.max(1) as f64,
                x.subscriber_queue
            );
        }
    }
    o.push('\n');
}

fn churn_section(o: &mut String, r: &ReliabilityReport) {
    let s = &r.scale;
    let _ = writeln!(o, "### Churn\n");
    // Reports from before the server released free pages read RSS without waiting for it.
    let (readings, free_pages) = if s.heap_release_interval.is_zero() {
        (String::new(), " (counted in RSS, used by nothing)")
    } else {
        (
            format!(
                "Each reading comes as long after its churn as the others (one turn of the \
                 server's history ring, then 2 s), and waits for the server's next release of its \
                 allocator's free pages to the OS (`--heap-release-interval {}s`), so that RSS \
                 counts what the server uses. ",
                s.heap_release_interval.as_secs_f64()
            ),
            " (their pages handed back by the release, no longer in RSS)",
        )
    };
    let _ = writeln!(
        o,
        "{} connect → first event → disconnect cycles per transport, {} at a time, at {} \
         events/s; the server's open files and RSS after the churn against before it (read after \
         a warm-up churn of {} %), then after a second churn of a tenth of the cycles, which \
         tells a leak (growth per cycle that goes on) from a high-water mark (growth that stops). \
         {}Beside RSS, the heap as the server's allocator reports it in `/stats` at the same \
         moments: bytes in live allocations (a leak grows them) and the free chunks the \
         allocator keeps after connections have gone{}. Goal: open files and RSS ≤ ×1.1, every \
         cycle done.\n",
        s.churn_cycles,
        s.churn_workers,
        s.churn_rate,
        s.churn_warm_up_percent,
        readings,
        free_pages
    );
    let opt = |n: Option<u64>| n.map_or_else(|| "?".into(), |n| n.to_string());
    let per_cycle = |b: Option<f64>| b.map_or_else(|| "?".into(), |b| format!("{b:.0} B"));
    let rows: Vec<Vec<String>> = r
        .churn
        .iter()
        .map(|x| {
            let v = x.verdict();
            let (first, second) = x.rss_growth_per_cycle();
            vec![
                transport(x.transport).into(),
                format!("{} of {}", x.cycles_done, x.cycles_asked),
                format!("{:.0}", x.cycles_per_s),
                format!(
                    "{} / {}",
                    ms(Some(x.first_event_us.p50)),
                    ms(Some(x.first_event_us.p99))
                ),
                format!(
                    "{} → {} ({}) → {}",
                    opt(x.fds_before),
                    opt(x.fds_after),
                    times(x.fds_ratio),
                    opt(x.fds_after_second)
                ),
                format!(
                    "{} → {} ({}) → {}",
                    x.rss_before_bytes.map_or_else(|| "?".into(), mib),
                    x.rss_after_bytes.map_or_else(|| "?".into(), mib),
                    times(x.rss_ratio),
                    x.rss_after_second_bytes.map_or_else(|| "?".into(), mib)
                ),
                format!("{} / {}", per_cycle(first), per_cycle(second)),
                heap_cell(
                    x,
                    |h| h.allocated_bytes,
                    &format!(" ({})", times(x.live_heap_ratio())),
                ),
                heap_cell(x, free_bytes, ""),
                counts(&x.errors),
                format!("{}: {}", v.word(), v.why),
            ]
        })
        .collect();
    o.push_str(&md_table(
        &[
            "transport",
            "cycles done",
            "cycles/s",
            "connect → first event p50 / p99",
            "open fds before → after → after the second",
            "RSS before → after → after the second",
            "RSS growth per cycle, churn / second",
            "live heap before → after → after the second",
            "allocator's free memory before → after → after the second",
            "errors",
            "verdict",
        ],
        &rows,
    ));
    o.push('\n');
}

/// A churn row's heap figure `of` before → after`after_note` → after the second churn, or "not
/// reported" when the server gave no heap.
fn heap_cell(x: &ChurnResult, of: impl Fn(HeapStats) -> u64, after_note: &str) -> String {
    let at = |h: Option<HeapStats>| h.map_or_else(|| "?".into(), |h| mib(of(h)));
    match (x.heap_before, x.heap_after) {
        (Some(_), Some(_)) => format!(
            "{} → {}{after_note} → {}",
            at(x.heap_before),
            at(x.heap_after),
            at(x.heap_after_second)
        ),
        _ => "not reported".into(),
    }
}

fn shutdown_section(o: &mut String, r: &ReliabilityReport) {
    let s = &r.scale;
    let _ = writeln!(o, "### Shutdown under load\n");
    let _ = writeln!(
        o,
        "SIGTERM {:.1} s into the window, {} subscribers per transport, at each rate. Goal: \
         WebSockets closed 1001, SSE and TCP streams ended, parked long polls answered, exit 0 \
         within 5 s, and no streaming subscriber behind the highest seq any subscriber received \
         (published before the signal for certain). A poller behind it is reported but not \
         failed: it receives only what it asked for, and the rest was never requested; a gap in \
         anyone's stream fails.\n",
        s.shutdown_after.as_secs_f64(),
        s.clients,
    );
    let rows: Vec<Vec<String>> = r
        .shutdown
        .iter()
        .map(|x| {
            let v = x.verdict();
            let polls = if x.parked_polls > 0 {
                format!("{} of {}", x.parked_polls_answered, x.parked_polls)
            } else {
                "–".into()
            };
            vec![
                transport(x.transport).into(),
                x.rate.to_string(),
                x.exit_code
                    .map_or_else(|| "killed".into(), |c| c.to_string()),
                x.time_to_exit_ms
                    .map_or_else(|| "?".into(), |t| format!("{t:.0} ms")),
                counts(&x.close_codes),
                polls,
                format!("{} ({})", x.subscribers_behind, x.events_behind),
                x.subscribers_with_gaps.to_string(),
                x.lagging.to_string(),
                format!("{}: {}", v.word(), v.why),
            ]
        })
        .collect();
    o.push_str(&md_table(
        &[
            "transport",
            "events/s",
            "exit",
            "time to exit",
            "how subscribers ended",
            "parked polls answered",
            "behind the last seq (events, summed)",
            "with gaps",
            "cut as lagging before",
            "verdict",
        ],
        &rows,
    ));
    let _ = writeln!(
        o,
        "\nSubscribers cut as lagging before the signal end behind the others too (the \
         slow-subscriber promise, not this one); a poll receives only what it asked for before \
         the server was gone.\n"
    );
}

fn hostile_section(o: &mut String, r: &ReliabilityReport) {
    let s = &r.scale;
    let _ = writeln!(o, "### Hostile clients\n");
    let _ = writeln!(
        o,
        "A slow-headers client (one byte of a request head a second) and {} TCP connections that \
         never send a byte, opened before {} healthy subscribers connect at {} events/s, by a \
         process of their own (`rtlab hostile-clients`), so that their wake-ups are not on the \
         measuring client's runtime, and at idle priority (`SCHED_IDLE`), so that its work on \
         the core they share waits for the client's; its CPU time is shown. The server resets a \
         connection that has sent nothing at its first-byte deadline (timed per connection from \
         its accept, and spread at random over a second) and answers an unfinished head with a \
         408 at actix-http's `client_request_timeout`; the table shows when each came. Counts \
         are summed over the {} runs with them. Goal: all dropped, healthy p99 ≤ ×1.1.\n",
        s.idle_connections, s.clients, s.hostile_rate, s.p99_faulted_runs
    );
    let s1 = |v: Option<f64>| v.map_or_else(|| "never".into(), |s| format!("{s:.1}"));
    let rows: Vec<Vec<String>> = r
        .hostile
        .iter()
        .map(|x| {
            let v = x.verdict();
            let [base, with, ratio, spread, busy] = p99_cells(x.p99.as_ref());
            vec![
                transport(x.transport).into(),
                format!("{} of {}", x.idle_dropped, x.idle_opened),
                format!(
                    "{}–{}",
                    s1(x.idle_dropped_after_s_min),
                    s1(x.idle_dropped_after_s_max)
                ),
                format!(
                    "{} s ({} B sent)",
                    s1(x.slow_headers_dropped_after_s),
                    x.slow_headers_bytes_sent
                ),
                x.hostile_process_cpu_s
                    .map_or_else(|| "?".into(), |s| format!("{:.0} ms", s * 1e3)),
                base,
                with,
                ratio,
                spread,
                busy,
                format!("{}: {}", v.word(), v.why),
            ]
        })
        .collect();
    o.push_str(&md_table(
        &[
            "transport",
            "idle dropped",
            "after (s)",
            "slow headers dropped after",
            "hostile process CPU (most in a run)",
            "healthy p99 without (each run)",
            "with (each run)",
            "ratio",
            "baselines' spread",
            "server core busy without / with",
            "verdict",
        ],
        &rows,
    ));
}
