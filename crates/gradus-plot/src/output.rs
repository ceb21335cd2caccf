//! Turning a drawing into a file: format by extension, size checks, encoding, writing.
//!
//! Charts are rendered into memory first and written with one `std::fs::write`, so an
//! unwritable path gives a plain I/O error naming the file, and a failed render leaves
//! no half-written file behind.

use std::path::Path;

use plotters::coord::Shift;
use plotters::prelude::*;

use crate::font;
use crate::{PlotError, Size};

/// Something that can draw itself on any plotters backend.
pub(crate) trait Figure {
    /// Draws the whole image on `root`, which covers `size`.
    fn draw<'r, DB: DrawingBackend + 'r>(
        &self,
        root: &'r DrawingArea<DB, Shift>,
        size: Size,
    ) -> Result<(), String>;
}

/// Still-image formats, chosen by file extension.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Format {
    Png,
    Svg,
}

pub(crate) fn extension(path: &Path) -> Option<String> {
    path.extension()
        .and_then(|e| e.to_str())
        .map(|e| e.to_ascii_lowercase())
}

pub(crate) fn still_format(path: &Path) -> Result<Format, PlotError> {
    match extension(path).as_deref() {
        Some("png") => Ok(Format::Png),
        Some("svg") => Ok(Format::Svg),
        _ => Err(PlotError::UnsupportedFormat {
            path: path.to_path_buf(),
            expected: ".png or .svg",
        }),
    }
}

/// Checks the size and registers the embedded font: the common first step of every chart.
pub(crate) fn prepare(path: &Path, size: Size) -> Result<(), PlotError> {
    let ok = |v: u32| (Size::MIN..=Size::MAX).contains(&v);
    if !ok(size.width) || !ok(size.height) {
        return Err(PlotError::invalid(
            path,
            format!(
                "image size {}×{} is out of range; width and height must be {} to {} pixels",
                size.width,
                size.height,
                Size::MIN,
                Size::MAX
            ),
        ));
    }
    font::ensure_registered().map_err(|e| PlotError::render(path, e))
}

/// Renders `figure` and writes it to `path` as PNG or SVG according to the extension.
pub(crate) fn save(path: &Path, size: Size, figure: &impl Figure) -> Result<(), PlotError> {
    let format = still_format(path)?;
    prepare(path, size)?;
    let bytes = match format {
        Format::Png => {
            let rgb = render_rgb(path, size, figure)?;
            encode_png(path, size, &rgb)?
        }
        Format::Svg => {
            let mut svg = String::new();
            {
                let root = SVGBackend::with_string(&mut svg, (size.width, size.height))
                    .into_drawing_area();
                figure
                    .draw(&root, size)
                    .map_err(|e| PlotError::render(path, e))?;
                root.present().map_err(|e| PlotError::render(path, e))?;
            }
            svg.into_bytes()
        }
    };
    write(path, &bytes)
}

/// Renders `figure` into an RGB buffer of `size`.
pub(crate) fn render_rgb(
    path: &Path,
    size: Size,
    figure: &impl Figure,
) -> Result<Vec<u8>, PlotError> {
    let mut rgb = vec![255u8; size.width as usize * size.height as usize * 3];
    {
        let root =
            BitMapBackend::with_buffer(&mut rgb, (size.width, size.height)).into_drawing_area();
        figure
            .draw(&root, size)
            .map_err(|e| PlotError::render(path, e))?;
        root.present().map_err(|e| PlotError::render(path, e))?;
    }
    Ok(rgb)
}

pub(crate) fn encode_png(path: &Path, size: Size, rgb: &[u8]) -> Result<Vec<u8>, PlotError> {
    let mut out = Vec::new();
    {
        let mut encoder = png::Encoder::new(&mut out, size.width, size.height);
        encoder.set_color(png::ColorType::Rgb);
        encoder.set_depth(png::BitDepth::Eight);
        let mut writer = encoder
            .write_header()
            .map_err(|e| PlotError::render(path, e))?;
        writer
            .write_image_data(rgb)
            .map_err(|e| PlotError::render(path, e))?;
        writer.finish().map_err(|e| PlotError::render(path, e))?;
    }
    Ok(out)
}

pub(crate) fn write(path: &Path, bytes: &[u8]) -> Result<(), PlotError> {
    std::fs::write(path, bytes).map_err(|source| PlotError::Io {
        path: path.to_path_buf(),
        source,
    })
}
