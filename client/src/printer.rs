//! Printers: the same [`RunReport`] as a compact table for people, JSON for programs, and the
//! HdrHistogram percentile distribution (`.hgrm`) for plotting tools.
//!
//! The `.hgrm` text is HdrHistogram's classic percentile output, as its Java
//! `outputPercentileDistribution` and wrk2's `--u_latency` print it: one line per percentile
//! step (value, percentile, cumulative count, `1/(1-percentile)`), steps halving the distance to
//! 100 % five ticks at a time, then mean, standard deviation, max and count. HdrHistogram's
//! plotter and many notebooks read it as is; values are written in milliseconds (the report's
//! microseconds divided by 1000), like wrk2.

use std::fmt::Write as _;
use std::io;

use hdrhistogram::Histogram;

use crate::histograms::{HistogramDecodeError, from_base64};
use crate::report::{LatencySummary, NetworkReport, RunReport, WindowMode};

/// Microseconds per millisecond: the `.hgrm` files are in milliseconds.
pub const HGRM_SCALE_US_TO_MS: f64 = 1000.0;

/// Percentile steps per halving of the distance to 100 % (HdrHistogram's and wrk2's default).
const TICKS_PER_HALF_DISTANCE: u32 = 5;

/// Writes `h`'s percentile distribution in HdrHistogram's classic text format, dividing values
/// by `scale` (e.g. [`HGRM_SCALE_US_TO_MS`] for a µs histogram written in ms).
pub fn write_hgrm(h: &Histogram<u64>, scale: f64, out: &mut impl io::Write) -> io::Result<()> {
    writeln!(
        out,
        "{:>12} {:>14} {:>10} {:>14}\n",
        "Value", "Percentile", "TotalCount", "1/(1-Percentile)"
    )?;
    let mut total: u64 = 0;
    if !h.is_empty() {
        for v in h.iter_quantiles(TICKS_PER_HALF_DISTANCE) {
            total += v.count_since_last_iteration();
            let value = v.value_iterated_to() as f64 / scale;
            let q = v.quantile_iterated_to();
            if q < 1.0 {
                writeln!(
                    out,
                    "{value:12.3} {q:2.12} {total:10} {:14.2}",
                    1.0 / (1.0 - q)
                )?;
            } else {
                writeln!(out, "{value:12.3} {q:2.12} {total:10}")?;
            }
        }
    }
    let sub_buckets = (2 * 10u64.pow(u32::from(h.sigfig()))).next_power_of_two();
    writeln!(
        out,
        "#[Mean    = {:12.3}, StdDeviation   = {:12.3}]",
        h.mean() / scale,
        h.stdev() / scale
    )?;
    writeln!(
        out,
        "#[Max     = {:12.3}, Total count    = {:12}]",
        h.max() as f64 / scale,
        h.len()
    )?;
    writeln!(
        out,
        "#[Buckets = {:12}, SubBuckets     = {:12}]",
        h.buckets(),
        sub_buckets
    )
}

/// The `.hgrm` text of a report's event-latency histogram, in milliseconds.
pub fn hgrm_from_report(report: &RunReport) -> Result<String, HistogramDecodeError> {
    let h = from_base64(&report.latency_histogram_b64)?;
    let mut out = Vec::new();
    // Writing into a Vec cannot fail.
    let _ = write_hgrm(&h, HGRM_SCALE_US_TO_MS, &mut out);
    Ok(String::from_utf8_lossy(&out).into_owned())
}

/// The report as pretty JSON (what `--json` writes).
pub fn to_json(report: &RunReport) -> String {
    // A struct of numbers, strings and maps with string keys always serializes.
    serde_json::to_string_pretty(report).unwrap_or_default()
}

/// Whether the run lost, duplicated or reordered events, or dropped subscribers.
pub fn has_loss(r: &RunReport) -> bool {
    r.lost > 0
        || r.duplicates > 0
        || r.out_of_order > 0
        || r.lagging_disconnects > 0
        || r.server_lagging_disconnects.unwrap_or(0) > 0
}

fn us(s: &LatencySummary) -> String {
    if s.count == 0 {
        return "none".into();
    }
    format!(
        "p50 {}  p90 {}  p99 {}  p99.9 {}  max {}  mean {}",
        dur(s.p50),
        dur(s.p90),
        dur(s.p99),
        dur(s.p999),
        dur(s.max),
        dur(s.mean)
    )
}

fn dur(micros: f64) -> String {
    if micros >= 1_000_000.0 {
        format!("{:.2}s", micros / 1e6)
    } else if micros >= 1000.0 {
        format!("{:.2}ms", micros / 1e3)
    } else {
        format!("{micros:.0}µs")
    }
}

fn bytes(n: f64) -> String {
    if n >= 1e9 {
        format!("{:.2} GB", n / 1e9)
    } else if n >= 1e6 {
        format!("{:.2} MB", n / 1e6)
    } else if n >= 1e4 {
        format!("{:.1} kB", n / 1e3)
    } else {
        format!("{n:.0} B")
    }
}

/// The report's window mode; for a report that predates the field, what its seq bounds imply.
fn window_mode(r: &RunReport) -> WindowMode {
    r.window_mode.unwrap_or(match r.window_seq_start {
        Some(_) => WindowMode::ExactBySeq,
        None => WindowMode::SeqRange,
    })
}

/// The shaped network and its calibration, on one line: `mobile: RTT 80 ms ± 15 ms,
/// 10 Mbit/s; calibrated 80.41 ms through the shaper (loopback 0.09 ms, +0.32 ms)`.
fn network_line(n: &NetworkReport) -> String {
    if n.rtt_us == 0.0 && n.bandwidth_bps.is_none() {
        return format!("{}: not shaped", n.profile);
    }
    let ms = |us: f64| us / 1e3;
    let mut line = format!("{}: RTT {} ms", n.profile, ms(n.rtt_us));
    if n.jitter_us > 0.0 {
        line += &format!(" ± {} ms", ms(n.jitter_us));
    }
    line += &match n.bandwidth_bps {
        Some(bps) => format!(", {}", crate::network::format_bandwidth(bps)),
        None => ", unlimited bandwidth".into(),
    };
    match (n.calibrated_rtt_us, n.loopback_rtt_us, &n.calibration_error) {
        (Some(c), Some(l), _) => {
            line += &format!(
                "; calibrated {:.2} ms through the shaper (loopback {:.2} ms, {:+.2} ms more than asked)",
                ms(c),
                ms(l),
                ms(n.calibration_excess_us.unwrap_or(c - l - n.rtt_us))
            );
        }
        (_, _, Some(why)) => line += &format!("; not calibrated: {why}"),
        _ => {}
    }
    line
}

/// The reconnects line: shown when a connection dropped (or with feed restarts).
fn resume_line(r: &RunReport) -> Option<String> {
    let m = r
        .resume
        .as_ref()
        .filter(|m| m.drops > 0 || m.feed_restarts > 0)?;
    let t = &m.time_to_reconnect_us;
    let time = if t.count > 0 {
        format!(
            "; time to reconnect p50 {}  p99 {}  max {}",
            dur(t.p50),
            dur(t.p99),
            dur(t.max)
        )
    } else {
        String::new()
    };
    Some(format!(
        "{} drops, {} reconnected, {} gave up{time}; across them lost {}, duplicated {}; feed restarts {}",
        m.drops,
        m.count,
        m.gave_up,
        m.lost_across_reconnects,
        m.duplicates_across_reconnects,
        m.feed_restarts
    ))
}

/// The compact human-readable table.
pub fn human(r: &RunReport) -> String {
    let mut o = String::new();
    let transport = r.transport.map_or("?", |t| t.as_str());
    let loss_banner = format!(
        "!!! LOSS: {} lost, {} duplicated, {} out of order, {} lagging disconnects !!!",
        r.lost,
        r.duplicates,
        r.out_of_order,
        r.lagging_disconnects
            .max(r.server_lagging_disconnects.unwrap_or(0))
    );
    if has_loss(r) {
        let _ = writeln!(o, "{loss_banner}");
    }
    let _ = writeln!(
        o,
        "{transport} → {}: {} clients ({} connected, {} to the end), {:.1}s measured after {:.1}s warm-up",
        r.url, r.clients, r.connected, r.completed, r.duration_s, r.warmup_s
    );
    if let Some(n) = &r.network {
        let _ = writeln!(o, "  network      {}", network_line(n));
    }
    o += &crate::ends_printer::ends_lines(r);
    let mode = window_mode(r);
    match (mode, &r.window_fallback_reason) {
        (WindowMode::SeqRange, Some(why)) => {
            let _ = writeln!(o, "  window       {} ({why})", mode.describe());
        }
        _ => {
            let _ = writeln!(o, "  window       {}", mode.describe());
        }
    }
    // Without /stats, "published" is only the seq range the subscribers saw: say so.
    let published = match mode {
        WindowMode::ExactBySeq => "server published",
        WindowMode::SeqRange => "seq range seen",
    };
    let _ = writeln!(
        o,
        "  events       {} received, {:.1}/s; {published} {} ({:.1}/s); delivery {:.1} %",
        r.events_received,
        r.events_per_s,
        r.server_events_published,
        r.server_events_per_s,
        r.delivery_ratio * 100.0
    );
    if let (Some(s0), Some(s1), Some(undelivered)) =
        (r.window_seq_start, r.window_seq_end, r.undelivered)
    {
        let _ = writeln!(
            o,
            "  by seq       window published seq {}..={s1}; {} of them received (drain included), {undelivered} undelivered",
            s0 + 1,
            r.events_in_range
        );
    }
    let _ = writeln!(o, "  latency      {}", us(&r.latency_us));
    // The dial alone, then the whole set-up: their difference is the HTTP set-up's round trip.
    let _ = writeln!(
        o,
        "  tcp connect  {}\n  connect      {}\n  first event  {}",
        us(&r.tcp_connect_us),
        us(&r.connect_us),
        us(&r.first_event_us)
    );
    if r.tls {
        // Part of `connect`, between the dial and the HTTP set-up.
        let _ = writeln!(o, "  tls          handshake {}", us(&r.tls_handshake_us));
    }
    if r.http_version.as_deref() == Some("2") {
        let _ = writeln!(
            o,
            "  http/2       {} connections for the subscribers, at most {} streams on each",
            r.connections, r.streams_per_connection
        );
    }
    let server_lagging = r
        .server_lagging_disconnects
        .map_or(String::new(), |n| format!(" (server counted {n})"));
    let _ = writeln!(
        o,
        "  correctness  lost {}  duplicates {}  out of order {}  lagging {}{server_lagging}  disconnects {}",
        r.lost, r.duplicates, r.out_of_order, r.lagging_disconnects, r.disconnects
    );
    if let Some(line) = resume_line(r) {
        let _ = writeln!(o, "  reconnects   {line}");
    }
    let w = &r.wire;
    let _ = writeln!(
        o,
        "  wire         down {}  up {}  (set-up: down {}, up {})",
        bytes(w.bytes_down as f64),
        bytes(w.bytes_up as f64),
        bytes(w.setup_bytes_down as f64),
        bytes(w.setup_bytes_up as f64)
    );
    if r.tls {
        let per_connection = w
            .setup_wire_bytes_per_connection
            .map_or(String::new(), |b| format!(", {b:.0} B per connection"));
        let _ = writeln!(
            o,
            "  below TLS    down {}  up {}  (set-up: down {}, up {}{per_connection})  {:.1} B down per event, {:.1} B of it TLS",
            bytes(w.wire_bytes_down as f64),
            bytes(w.wire_bytes_up as f64),
            bytes(w.setup_wire_bytes_down as f64),
            bytes(w.setup_wire_bytes_up as f64),
            w.wire_bytes_down_per_event,
            w.tls_overhead_bytes_per_event
        );
    }
    let analytic = w
        .analytic_overhead_bytes_per_event
        .map_or(String::new(), |a| format!(" (analytic {a:.2} B)"));
    let _ = writeln!(
        o,
        "  per event    payload {:.1} B  framing+headers {:.2} B{analytic}  keep-alive total {}",
        w.payload_bytes_per_event,
        w.overhead_bytes_per_event,
        bytes(w.keepalive_bytes as f64)
    );
    if let (Some(rpe), Some(share)) = (r.requests_per_event, r.empty_poll_share) {
        let _ = writeln!(
            o,
            "  polls        {} requests ({rpe:.3} per event), {:.1} % empty, request {:.0} B, response head {:.0} B",
            r.requests,
            share * 100.0,
            w.request_bytes_per_request.unwrap_or(0.0),
            w.response_head_bytes_per_request.unwrap_or(0.0)
        );
    }
    // Short polls start at random phases: the seed repeats them (`--seed`).
    if let (Some(interval), Some(seed)) = (r.poll_interval_ms, r.seed) {
        let _ = writeln!(
            o,
            "  poll phases  random in [0, {interval} ms) per subscriber, --seed {seed}"
        );
    }
    if let Some(p) = &r.publish {
        let _ = writeln!(
            o,
            "  publish      {}/s per client via {}: {} sent, {} echoed, {:.1} B up each; round trip {}",
            p.rate_per_client,
            p.via,
            p.sent,
            p.echoed,
            p.bytes_up_per_publish,
            us(&p.round_trip_us)
        );
    }
    if r.events_received == 0 {
        let _ = writeln!(
            o,
            "  !!! no events received in the window: is the server publishing, and is this its \
             address for this transport?"
        );
    }
    if !r.errors.is_empty() {
        let list: Vec<String> = r.errors.iter().map(|(k, v)| format!("{k}: {v}")).collect();
        let _ = writeln!(o, "  errors       {}", list.join(", "));
    }
    if has_loss(r) {
        let _ = writeln!(o, "{loss_banner}");
    }
    o
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::histograms::{LatencyHistograms, to_base64};
    use crate::sample::Sample;

    #[test]
    fn hgrm_has_the_classic_layout() {
        let mut s = LatencyHistograms::new();
        for v in 1..=1000u64 {
            s.push(Sample::Latency(v * 10));
        }
        let mut out = Vec::new();
        write_hgrm(&s.latency, HGRM_SCALE_US_TO_MS, &mut out).unwrap();
        let text = String::from_utf8(out).unwrap();
        let mut lines = text.lines();
        assert_eq!(
            lines.next().unwrap(),
            "       Value     Percentile TotalCount 1/(1-Percentile)"
        );
        assert_eq!(lines.next().unwrap(), "");
        // First step: the smallest value (10 µs = 0.010 ms) at percentile 0.
        assert!(
            lines
                .next()
                .unwrap()
                .starts_with("       0.010 0.000000000000          1")
        );
        assert!(
            text.lines().any(
                |l| l.starts_with("#[Mean    =        5.0") && l.contains(", StdDeviation   =")
            ),
            "{text}"
        );
        assert!(text.contains("#[Max     =       10.007, Total count    =         1000]"));
        assert!(text.contains("SubBuckets     =         2048]"));
        // The last percentile line has 100 % and no 1/(1-p) column.
        let last = text.lines().rfind(|l| !l.starts_with('#')).unwrap();
        assert!(last.contains("1.000000000000       1000"), "{last}");
    }

    #[test]
    fn human_output_shouts_about_loss() {
        let mut r = RunReport {
            lost: 3,
            ..RunReport::default()
        };
        assert!(human(&r).starts_with("!!! LOSS: 3 lost"));
        r.lost = 0;
        assert!(!human(&r).contains("LOSS"));
    }

    #[test]
    fn human_output_has_a_reconnects_line_once_something_dropped() {
        let mut r = RunReport {
            resume: Some(crate::report::ResumeReport::default()),
            ..RunReport::default()
        };
        assert!(!human(&r).contains("reconnects "), "nothing dropped");
        r.resume = Some(crate::report::ResumeReport {
            drops: 4,
            count: 3,
            gave_up: 1,
            time_to_reconnect_us: LatencySummary {
                count: 3,
                p50: 120_000.0,
                p99: 400_000.0,
                max: 410_000.0,
                ..LatencySummary::default()
            },
            lost_across_reconnects: 2,
            feed_restarts: 1,
            ..crate::report::ResumeReport::default()
        });
        let text = human(&r);
        let line = text.lines().find(|l| l.contains("reconnects ")).unwrap();
        assert_eq!(
            line,
            "  reconnects   4 drops, 3 reconnected, 1 gave up; time to reconnect p50 120.00ms  \
             p99 400.00ms  max 410.00ms; across them lost 2, duplicated 0; feed restarts 1"
        );
    }

    #[test]
    fn human_output_names_the_window_mode() {
        let exact = RunReport {
            window_mode: Some(WindowMode::ExactBySeq),
            window_seq_start: Some(10),
            window_seq_end: Some(20),
            undelivered: Some(0),
            ..RunReport::default()
        };
        let text = human(&exact);
        assert!(
            text.contains("\n  window       exact by seq from /stats\n"),
            "{text}"
        );
        assert!(text.contains("server published"), "{text}");
        let why = "no /stats: GET http://h:1/stats answered HTTP 404";
        let fallback = RunReport {
            window_mode: Some(WindowMode::SeqRange),
            window_fallback_reason: Some(why.into()),
            ..RunReport::default()
        };
        let text = human(&fallback);
        assert!(
            text.contains(&format!("\n  window       seq range seen ({why})\n")),
            "{text}"
        );
        assert!(text.contains("seq range seen 0 (0.0/s)"), "{text}");
        // A report written before the field: the seq bounds tell.
        let old = RunReport {
            window_mode: None,
            ..exact
        };
        assert!(human(&old).contains("exact by seq from /stats"));
    }

    #[test]
    fn hgrm_from_report_decodes_the_histogram() {
        let mut s = LatencyHistograms::new();
        s.push(Sample::Latency(1500));
        let r = RunReport {
            latency_histogram_b64: to_base64(&s.latency),
            ..RunReport::default()
        };
        assert!(
            hgrm_from_report(&r)
                .unwrap()
                .contains("Total count    =            1]")
        );
    }
}
