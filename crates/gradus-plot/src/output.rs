//! Turning a drawing into a file: format by extension, size checks, encoding, writing.
//!
//! Charts are rendered into memory first and written with one `std::fs::write`, so an
//! unwritable path gives a plain I/O error naming the file, and a failed render leaves
//! no half-written file behind.

use std::path::Path;

use plotters::coord::Shift;
use plotters::prelude::*;

use crate::axes::Look;
use crate::drawing::Drawing;
use crate::font;
use crate::{PlotError, Size};

/// Something that can draw itself on any plotters backend.
pub(crate) trait Figure {
    /// Draws the whole image on `root`, with text sizes and strokes from `look`, and
    /// says what it drew.
    fn draw<'r, DB: DrawingBackend + 'r>(
        &self,
        root: &'r DrawingArea<DB, Shift>,
        look: Look,
    ) -> Result<Drawing, String>;
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
pub(crate) fn save(path: &Path, size: Size, figure: &impl Figure) -> Result<Drawing, PlotError> {
    let format = still_format(path)?;
    prepare(path, size)?;
    let (bytes, drawing) = match format {
        Format::Png => {
            let (rgb, drawing) = render_rgb(path, size, figure)?;
            (encode_png(path, size, &rgb)?, drawing)
        }
        Format::Svg => {
            let mut svg = String::new();
            let drawing = {
                let root = SVGBackend::with_string(&mut svg, (size.width, size.height))
                    .into_drawing_area();
                let drawing = figure
                    .draw(&root, Look::new(size, true, 1))
                    .map_err(|e| PlotError::render(path, e))?;
                root.present().map_err(|e| PlotError::render(path, e))?;
                drawing
            };
            (svg.into_bytes(), drawing)
        }
    };
    write(path, &bytes)?;
    Ok(drawing)
}

/// Images up to this many pixels are drawn at twice the size and averaged down.
const SUPERSAMPLE_MAX_PIXELS: u64 = 4_000_000;

/// How many times larger than `size` bitmaps are drawn: plotters fills shapes and thick
/// lines without antialiasing and places small glyphs to whole pixels, so drawing at
/// 2× and averaging 2×2 blocks gives smooth lines and evenly set text.
pub(crate) fn zoom(size: Size) -> u32 {
    if u64::from(size.width) * u64::from(size.height) <= SUPERSAMPLE_MAX_PIXELS {
        2
    } else {
        1
    }
}

/// Renders `figure` into an RGB buffer of `size`.
pub(crate) fn render_rgb(
    path: &Path,
    size: Size,
    figure: &impl Figure,
) -> Result<(Vec<u8>, Drawing), PlotError> {
    let zoom = zoom(size);
    let (w, h) = (size.width * zoom, size.height * zoom);
    let mut rgb = vec![255u8; w as usize * h as usize * 3];
    let drawing = {
        let root = BitMapBackend::with_buffer(&mut rgb, (w, h)).into_drawing_area();
        let drawing = figure
            .draw(&root, Look::new(size, false, zoom))
            .map_err(|e| PlotError::render(path, e))?;
        root.present().map_err(|e| PlotError::render(path, e))?;
        drawing
    };
    Ok((downsample(&rgb, size, zoom), drawing))
}

/// Averages `zoom` × `zoom` blocks of an RGB image `zoom` times the size of `size`.
pub(crate) fn downsample(rgb: &[u8], size: Size, zoom: u32) -> Vec<u8> {
    let mut out = vec![0u8; size.width as usize * size.height as usize * 3];
    downsample_rows(rgb, size, zoom, &mut out, 0..size.height as usize);
    out
}

/// [`downsample`] into `out` (an image of `size`), for output rows `rows` only.
pub(crate) fn downsample_rows(
    rgb: &[u8],
    size: Size,
    zoom: u32,
    out: &mut [u8],
    rows: std::ops::Range<usize>,
) {
    let (w, z) = (size.width as usize, zoom as usize);
    let big_row = w * z * 3;
    let area = (z * z) as u32;
    for (y, out_row) in out
        .chunks_exact_mut(w * 3)
        .enumerate()
        .skip(rows.start)
        .take(rows.len())
    {
        let block = &rgb[y * z * big_row..(y + 1) * z * big_row];
        for (x, px) in out_row.chunks_exact_mut(3).enumerate() {
            let mut sum = [0u32; 3];
            for line in block.chunks_exact(big_row) {
                for p in line[x * z * 3..(x + 1) * z * 3].chunks_exact(3) {
                    sum[0] += u32::from(p[0]);
                    sum[1] += u32::from(p[1]);
                    sum[2] += u32::from(p[2]);
                }
            }
            for (o, s) in px.iter_mut().zip(sum) {
                *o = ((s + area / 2) / area) as u8;
            }
        }
    }
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn downsampling_averages_blocks_with_rounding() {
        // A 4×2 image (2× of 2×1): left block black and white, right block all 10.
        let mut big = vec![0u8; 4 * 2 * 3];
        for (i, px) in big.chunks_exact_mut(3).enumerate() {
            let (x, y) = (i % 4, i / 4);
            let v = match (x, y) {
                (0, _) => 0,
                (1, 0) => 255,
                (1, 1) => 0,
                _ => 10,
            };
            px.copy_from_slice(&[v, v, v]);
        }
        let small = downsample(&big, Size::new(2, 1), 2);
        assert_eq!(small, vec![64, 64, 64, 10, 10, 10]); // 255 / 4 = 63.75 → 64
    }
}
