//! The charts drawn from synthetic results: every one draws, and repeated cases add their bars.

use super::chart::Drawn;
use super::*;
use crate::case_result::CaseResult;
use crate::scenario::Kind;
use crate::testdata;

#[test]
fn every_chart_draws_from_synthetic_results() {
    let dir = std::env::temp_dir().join(format!("rtlab-plot-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let cases = testdata::cases();
    let drawn = draw_all(&dir, &cases).unwrap();
    assert_eq!(drawn.len(), 13, "{drawn:?}");
    for d in &drawn {
        assert!(
            std::fs::metadata(&d.png).unwrap().len() > 10_000,
            "{:?}",
            d.png
        );
        let svg = std::fs::read_to_string(&d.svg).unwrap();
        assert!(svg.contains("<svg"));
    }
    // Repeated latency and fan-out cases add min–max bars to their charts.
    let repeated: Vec<CaseResult> = cases
        .iter()
        .map(|c| {
            if !matches!(c.kind, Kind::Latency | Kind::Fanout) {
                return c.clone();
            }
            let mut slow = c.clone();
            if let Some(r) = slow.client.as_mut() {
                r.latency_us.p50 *= 1.5;
                r.latency_us.p99 *= 1.5;
                r.events_per_s *= 0.9;
            }
            crate::repeat::fold(vec![c.clone(), slow]).unwrap()
        })
        .collect();
    let with_bars = dir.join("repeated");
    std::fs::create_dir_all(&with_bars).unwrap();
    let drawn_again = draw_all(&with_bars, &repeated).unwrap();
    for name in ["latency-percentiles", "fanout-throughput"] {
        let svg = |d: &[Drawn]| {
            let d = d.iter().find(|d| d.name == name).unwrap();
            std::fs::read_to_string(&d.svg).unwrap()
        };
        let (once, twice) = (svg(&drawn), svg(&drawn_again));
        assert!(
            twice.matches("<polyline").count() > once.matches("<polyline").count(),
            "{name}: no bars drawn"
        );
        assert!(twice.contains("min–max"), "{name}: title");
    }
    if std::env::var_os("RTLAB_KEEP_CHARTS").is_none() {
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
