//! The look shared by every chart: one colour per transport, the embedded font, the title.
//!
//! A transport keeps its colour in every chart (WebSocket blue, SSE orange, …), so a reader who
//! learned it once can read any chart without its legend; a secondary series of the same
//! transport (p99 beside a mean) is a lighter shade of that colour.

use plotters::coord::Shift;
use plotters::prelude::*;
use rtlab_wire::Transport;

use super::chart::draw_error;
use super::font::FAMILY;

/// The colour of a transport, the same in every chart.
pub fn color(t: Transport) -> RGBColor {
    match t {
        Transport::Ws => RGBColor(31, 119, 180),
        Transport::Sse => RGBColor(255, 127, 14),
        Transport::LongPoll => RGBColor(44, 160, 44),
        Transport::ShortPoll => RGBColor(214, 39, 40),
        Transport::Tcp => RGBColor(70, 70, 70),
    }
}

/// A lighter shade of a colour (for secondary series such as p99 next to a mean).
pub fn lighter(c: RGBColor) -> RGBColor {
    let l = |v: u8| ((v as u16 + 2 * 255) / 3) as u8;
    RGBColor(l(c.0), l(c.1), l(c.2))
}

/// Font of a given size in the embedded family.
pub fn font(size: u32) -> TextStyle<'static> {
    (FAMILY, size).into_font().into()
}

/// Fills the background and writes the title; returns the area below it.
pub fn titled<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    title: &str,
) -> Result<DrawingArea<DB, Shift>, String> {
    root.fill(&WHITE).map_err(draw_error)?;
    root.titled(title, font(26)).map_err(draw_error)
}
