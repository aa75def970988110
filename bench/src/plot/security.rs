//! The security chart: bytes per delivered event, what the protocol spent and what TLS added on
//! top, one panel per way of carrying the connections (in the clear, TLS, TLS with HTTP/2).
//!
//! Read across the panels: a transport's lower segment is its protocol's own bytes, the same in
//! the clear and over TLS (HTTP/1.1); the upper segment is TLS records (22 bytes per record in
//! TLS 1.3), so a stream that writes one record per event grows by about 22 bytes, and a poll
//! grows by its answers' and requests' records. The HTTP/2 panel shows what HPACK and binary
//! framing do to the polls' bytes.

use plotters::coord::Shift;
use plotters::prelude::*;
use rtlab_wire::Transport;

use super::chart::Chart;
use super::series::{of_kind, transports};
use super::stacked::{self, StackedPanel, draw_stacked};
use super::style::titled;
use crate::case_result::CaseResult;
use crate::findings::security::{protocol_bytes_per_event, security_of, wire_bytes_per_event};
use crate::scenario::Kind;
use crate::security::Security;

/// Segment colours: the protocol's bytes, TLS's.
const SEGMENTS: [(&str, RGBColor); 2] = [
    ("protocol (above TLS)", RGBColor(120, 170, 220)),
    ("TLS records", RGBColor(220, 90, 70)),
];

/// One panel: how the connections were carried, and each transport's two segments (B/event).
type SecurityPanel = (Security, Vec<(Transport, Vec<f64>)>);

/// Bytes per event stacked into protocol and TLS, one panel per way of carrying.
#[derive(Debug)]
pub struct BytesOverTls {
    title: String,
    panels: Vec<SecurityPanel>,
}

impl BytesOverTls {
    /// From the security scenario's successful cases; `None` without any.
    pub fn from_cases(cases: &[CaseResult]) -> Option<Self> {
        let sec = of_kind(cases, Kind::Security);
        let first = sec.first()?;
        let panels: Vec<SecurityPanel> = Security::ALL
            .into_iter()
            .filter_map(|how| {
                let on: Vec<&CaseResult> = sec
                    .iter()
                    .copied()
                    .filter(|c| security_of(c) == how)
                    .collect();
                let bars: Vec<_> = transports(&on)
                    .into_iter()
                    .filter_map(|t| {
                        let c = on.iter().find(|c| c.transport == t)?;
                        let above = protocol_bytes_per_event(c)?;
                        let below = wire_bytes_per_event(c)?;
                        Some((t, vec![above, (below - above).max(0.0)]))
                    })
                    .collect();
                (!bars.is_empty()).then_some((how, bars))
            })
            .collect();
        if panels.is_empty() {
            return None;
        }
        Some(BytesOverTls {
            title: format!(
                "Bytes per event on the wire: the protocol's and TLS's — {} clients × {} events/s, {} B payload",
                first.params.clients, first.params.rate, first.params.payload_bytes
            ),
            panels,
        })
    }
}

impl Chart for BytesOverTls {
    fn name(&self) -> &'static str {
        "security"
    }

    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> Result<(), String> {
        let area = titled(root, &self.title)?;
        let cells = area.split_evenly((1, self.panels.len().max(1)));
        // One y scale for the row: a bar's height compares across the ways of carrying.
        let tallest = self
            .panels
            .iter()
            .map(|(_, bars)| stacked::tallest(bars))
            .fold(0.0, f64::max);
        for (i, ((how, bars), cell)) in self.panels.iter().zip(cells.iter()).enumerate() {
            draw_stacked(
                cell,
                &StackedPanel {
                    caption: how.describe().to_owned(),
                    y_desc: if i == 0 {
                        "bytes per delivered event"
                    } else {
                        ""
                    },
                    bars,
                    segments: &SEGMENTS,
                    legend: i == 0,
                    marks: Vec::new(),
                    shared_tallest: Some(tallest),
                },
            )?;
        }
        Ok(())
    }
}
