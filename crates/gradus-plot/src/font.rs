//! The embedded font.
//!
//! plotters' `ab_glyph` text path draws with fonts registered at run time instead of
//! asking fontconfig, so charts render the same on any machine with no font installed.

use std::sync::OnceLock;

/// The family name every chart asks plotters for.
pub(crate) const FAMILY: &str = "sans-serif";

/// DejaVu Sans (Bitstream Vera license; see `assets/DejaVuSans-LICENSE.txt`).
static DEJAVU_SANS: &[u8] = include_bytes!("../assets/DejaVuSans.ttf");

/// Registers the font once per process; later calls return the first call's outcome.
pub(crate) fn ensure_registered() -> Result<(), &'static str> {
    static REGISTERED: OnceLock<Result<(), &'static str>> = OnceLock::new();
    *REGISTERED.get_or_init(|| {
        plotters::style::register_font(FAMILY, plotters::style::FontStyle::Normal, DEJAVU_SANS)
            .map_err(|_| "the embedded DejaVu Sans font could not be parsed")
    })
}
