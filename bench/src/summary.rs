//! `summary.csv`: one row per case, every headline number in its own column, for spreadsheets
//! and for anyone who would rather not parse JSON. Units are in the column names (`_us`, `_s`,
//! `_bytes`); empty cells mean "not measured" (a failed case, or a number that does not apply,
//! like requests per event for a streaming transport).

use crate::case_result::CaseResult;

/// `summary.csv`: one row per case.
pub fn summary_csv(cases: &[CaseResult]) -> String {
    let mut out = String::from(
        "id,scenario,kind,transport,sweep_key,sweep_value,status,clients,rate,payload_bytes,\
         poll_interval_ms,events_per_s,delivery_ratio,delivered_share,lost,p50_us,p90_us,p99_us,p999_us,max_us,\
         payload_bytes_per_event,overhead_bytes_per_event,request_bytes_per_event,\
         keepalive_bytes_per_event,requests_per_event,empty_poll_share,server_cpu_s,\
         cpu_ms_per_1000_events,rss_peak_bytes,memory_per_connection_bytes,round_trip_p50_us,\
         round_trip_p99_us,client_cpu_share\n",
    );
    let f = |v: Option<f64>| v.map_or(String::new(), |v| format!("{v:.3}"));
    for c in cases {
        let (key, value) = match &c.point {
            Some(p) => (
                serde_json::to_value(p)
                    .ok()
                    .and_then(|v| v["key"].as_str().map(str::to_owned))
                    .unwrap_or_default(),
                format!("{}", p.value()),
            ),
            None => (String::new(), String::new()),
        };
        let r = c.ok();
        let s = c.server.as_ref();
        let rt = r.and_then(|r| r.publish.as_ref());
        let cols = [
            c.id.clone(),
            c.scenario.clone(),
            c.kind.as_str().into(),
            c.transport.to_string(),
            key,
            value,
            format!("{:?}", c.status).to_lowercase(),
            c.params.clients.to_string(),
            c.params.rate.to_string(),
            c.params.payload_bytes.to_string(),
            format!("{}", c.params.poll_interval_ms),
            f(r.map(|r| r.events_per_s)),
            f(r.map(|r| r.delivery_ratio)),
            f(c.delivered_share()),
            r.map_or(String::new(), |r| r.lost.to_string()),
            f(r.map(|r| r.latency_us.p50)),
            f(r.map(|r| r.latency_us.p90)),
            f(r.map(|r| r.latency_us.p99)),
            f(r.map(|r| r.latency_us.p999)),
            f(r.map(|r| r.latency_us.max)),
            f(r.map(|r| r.wire.payload_bytes_per_event)),
            f(r.map(|r| r.wire.overhead_bytes_per_event)),
            f(c.request_bytes_per_event()),
            f(c.keepalive_per_event()),
            f(r.and_then(|r| r.requests_per_event)),
            f(r.and_then(|r| r.empty_poll_share)),
            f(s.map(|s| s.cpu_seconds)),
            f(s.and_then(|s| s.cpu_ms_per_1000_events)),
            s.map_or(String::new(), |s| s.rss_peak_bytes.to_string()),
            f(s.and_then(|s| s.memory_per_connection_bytes)),
            f(rt.map(|p| p.round_trip_us.p50)),
            f(rt.map(|p| p.round_trip_us.p99)),
            f(c.client_cpu_utilisation),
        ];
        out.push_str(&cols.join(","));
        out.push('\n');
    }
    out
}
