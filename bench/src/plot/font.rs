//! The one font every chart uses, embedded in the binary.
//!
//! plotters draws text through a font back end. Its default (`ttf`) asks fontconfig for system
//! fonts, which a fresh container or CI machine may not have, and it wins over `ab_glyph` when
//! both are enabled. So the workspace builds plotters with `default-features = false` and the
//! pure-Rust `ab_glyph` back end, and the lab embeds DejaVu Sans (`bench/assets/DejaVuSans.ttf`,
//! free licence in `bench/assets/DejaVuSans-LICENSE.txt`) with `include_bytes!` and registers it
//! under the family name the charts ask for, before anything is drawn. The charts then render the
//! same everywhere, with no system fonts at all.

use std::sync::OnceLock;

use plotters::style::FontStyle;

/// The family name charts use.
pub const FAMILY: &str = "sans-serif";

/// DejaVu Sans, embedded.
static DEJAVU_SANS: &[u8] = include_bytes!("../../assets/DejaVuSans.ttf");

/// Registers the embedded font under [`FAMILY`] (once; later calls are free). Returns whether the
/// font is usable.
pub fn ensure_registered() -> bool {
    static DONE: OnceLock<bool> = OnceLock::new();
    *DONE.get_or_init(|| {
        plotters::style::register_font(FAMILY, FontStyle::Normal, DEJAVU_SANS).is_ok()
            && plotters::style::register_font(FAMILY, FontStyle::Bold, DEJAVU_SANS).is_ok()
    })
}

#[cfg(test)]
mod tests {
    #[test]
    fn embedded_font_registers() {
        assert!(super::ensure_registered());
    }
}
