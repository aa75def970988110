//! A chart as a [`Chart`]: drawn by one piece of code onto any plotters back end, saved twice.
//!
//! Each chart is drawn through plotters' bitmap back end (PNG, for the report and README) and its
//! SVG back end (crisp at any size) from the same `draw`, so the two files never disagree. A
//! production dashboard would draw in the browser from the JSON instead; the lab wants files it
//! can embed in a Markdown report and check into a results folder.

use std::path::{Path, PathBuf};

use plotters::coord::Shift;
use plotters::prelude::*;

/// Pixel size of every chart.
pub const SIZE: (u32, u32) = (1280, 720);

/// What can go wrong while drawing.
#[derive(Debug, thiserror::Error)]
pub enum PlotError {
    /// The embedded font could not be registered.
    #[error("the embedded font could not be registered")]
    Font,
    /// A chart could not be drawn or written.
    #[error("chart {chart}: {message}")]
    Draw {
        /// The chart.
        chart: String,
        /// What went wrong.
        message: String,
    },
}

/// A chart that can draw itself on any plotters back end.
pub trait Chart {
    /// File stem (`latency-percentiles`).
    fn name(&self) -> &'static str;
    /// Draws on `root`.
    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> Result<(), String>;
}

/// A chart written to disk.
#[derive(Debug, Clone, PartialEq)]
pub struct Drawn {
    /// File stem.
    pub name: &'static str,
    /// The PNG.
    pub png: PathBuf,
    /// The SVG.
    pub svg: PathBuf,
}

/// Draws one figure as `<dir>/<name>.png` and `<dir>/<name>.svg`.
pub fn save<C: Chart>(dir: &Path, fig: &C) -> Result<Drawn, PlotError> {
    let err = |message: String| PlotError::Draw {
        chart: fig.name().into(),
        message,
    };
    let png = dir.join(format!("{}.png", fig.name()));
    let svg = dir.join(format!("{}.svg", fig.name()));
    {
        let root = BitMapBackend::new(&png, SIZE).into_drawing_area();
        fig.draw(&root).map_err(err)?;
        root.present().map_err(|e| err(e.to_string()))?;
    }
    {
        let root = SVGBackend::new(&svg, SIZE).into_drawing_area();
        fig.draw(&root).map_err(err)?;
        root.present().map_err(|e| err(e.to_string()))?;
    }
    Ok(Drawn {
        name: fig.name(),
        png,
        svg,
    })
}

/// A plotters error as text: each back end has its own error type, and a [`Chart`] is generic
/// over the back end, so its drawing steps report errors as strings.
pub fn draw_error(e: impl std::fmt::Display) -> String {
    e.to_string()
}
