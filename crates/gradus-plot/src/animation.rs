//! GIF animations of trajectories moving over a contour map.
//!
//! The background (frame, filled levels, contour lines, legend) is rendered once. Each
//! frame copies it and draws the trajectories so far (at twice the size, averaged down,
//! as the still charts are); the frames share one 256-colour
//! palette, learnt once from the final frame, and only the rectangle that changed since
//! the previous frame is encoded. This is much faster than quantizing every frame on
//! its own, which is what plotters' own GIF backend does.

use std::collections::HashMap;
use std::path::Path;

use plotters::prelude::*;

use crate::axes::Look;
use crate::contour::{ContourMap, Surface, Trajectory};
use crate::drawing::Drawing;
use crate::font::FAMILY;
use crate::marks::short_number;
use crate::output;
use crate::palette::PALETTE;
use crate::{Chart, PlotError, Series, Size};

/// Timing of a [`contour_animation`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Animation {
    /// Number of frames, 1 to 2000; 60 by default. Frame `k` (1-based) shows the first
    /// `⌈k·L/frames⌉` points of each trajectory, `L` being the longest trajectory's length.
    pub frames: usize,
    /// Delay between frames in milliseconds; 80 by default. GIF counts in hundredths of
    /// a second, so this is rounded to 10 ms, and raised to 20 ms, since browsers slow
    /// down anything faster.
    pub delay_ms: u32,
    /// Extra time the last frame stays up before the animation loops; 1500 ms by default.
    pub final_pause_ms: u32,
    /// Optimizer steps between successive points of a trajectory (1 by default), for the
    /// step counter each frame shows.
    pub steps_per_point: u64,
}

impl Default for Animation {
    fn default() -> Self {
        Animation {
            frames: 60,
            delay_ms: 80,
            final_pause_ms: 1500,
            steps_per_point: 1,
        }
    }
}

/// Writes a looping GIF to `path` (`.gif`) of `trajectories` being drawn point by point
/// over the contour map of `surface`: the same picture as
/// [`contour_trajectories`](crate::contour_trajectories), with a ringed dot on each
/// trajectory's latest point, a step counter in the top right corner, and each
/// trajectory's current function value in the legend. Returns what the last frame drew.
///
/// # Errors
/// [`PlotError::UnsupportedFormat`] unless the file name ends in `.gif`;
/// [`PlotError::InvalidInput`] if no trajectory has a point, the frame count is outside
/// 1..=2000, or the surface or size is invalid (see
/// [`contour_trajectories`](crate::contour_trajectories)); otherwise see [`PlotError`].
pub fn contour_animation(
    path: impl AsRef<Path>,
    chart: &Chart,
    surface: &Surface<'_>,
    trajectories: &[Series],
    animation: &Animation,
) -> Result<Drawing, PlotError> {
    let path = path.as_ref();
    if output::extension(path).as_deref() != Some("gif") {
        return Err(PlotError::UnsupportedFormat {
            path: path.to_path_buf(),
            expected: ".gif",
        });
    }
    surface.validate(path)?;
    if !(1..=2000).contains(&animation.frames) {
        return Err(PlotError::invalid(
            path,
            format!("{} frames requested; expected 1 to 2000", animation.frames),
        ));
    }
    let longest = trajectories
        .iter()
        .map(|t| t.points.len())
        .max()
        .unwrap_or(0);
    if longest == 0 {
        return Err(PlotError::invalid(
            path,
            "no trajectory has a point to animate",
        ));
    }
    output::prepare(path, chart.size)?;
    let size = chart.size;
    let trajectories = Trajectory::from_series(trajectories);
    let render_err = |e: String| PlotError::render(path, e);

    // Drawn at `zoom` times the size and averaged down, like the still charts.
    let zoom = output::zoom(size);
    let big = (size.width * zoom, size.height * zoom);
    let mut big_background = vec![255u8; big.0 as usize * big.1 as usize * 3];
    let map = {
        let root = BitMapBackend::with_buffer(&mut big_background, big).into_drawing_area();
        let look = Look::new(size, false, zoom);
        let widest = trajectories
            .iter()
            .map(|t| format!("{}   f = -0.000e-00", t.name))
            .max_by_key(|t| t.chars().count())
            .unwrap_or_default();
        let map =
            ContourMap::draw_background(&root, look, chart, surface, &trajectories, Some(&widest))
                .map_err(render_err)?;
        root.present().map_err(|e| PlotError::render(path, e))?;
        map
    };
    let background = output::downsample(&big_background, size, zoom);
    // Each frame is drawn on `work`, a copy of the big background; only the rows the
    // trajectories touched are averaged down and then restored from the background.
    let mut work = big_background.clone();
    let row_bytes = big.0 as usize * 3;
    let mut draw_frame = |upto: usize| -> Result<(Vec<u8>, Drawing), PlotError> {
        let drawing = {
            let root = BitMapBackend::with_buffer(&mut work, big).into_drawing_area();
            let area = map.plotting_area(&root);
            let drawn = map
                .draw_paths(&root, &area, &trajectories, Some(upto))
                .map_err(render_err)?;
            map.draw_minima(&area, surface.minima).map_err(render_err)?;
            let edges = map
                .draw_edges(&root, &area, &trajectories, Some(upto))
                .map_err(render_err)?;
            // The legend shows each run's current value; the corner, the step reached.
            let labels: Vec<String> = trajectories
                .iter()
                .map(|t| {
                    let n = upto.min(t.points.len());
                    match t.points[..n].last() {
                        Some(&(x, y)) => {
                            format!("{}   f = {}", t.name, short_number((surface.f)(x, y)))
                        }
                        None => t.name.clone(),
                    }
                })
                .collect();
            let mut all = labels;
            all.extend(["start".to_string(), "minimum".to_string()]);
            let legend = map.draw_legend(&root, Some(&all)).map_err(render_err)?;
            let step = (upto as u64 - 1) * animation.steps_per_point;
            let font = TextStyle::from((FAMILY, map.look.legend * 1.1).into_font()).pos(
                plotters::style::text_anchor::Pos::new(
                    plotters::style::text_anchor::HPos::Right,
                    plotters::style::text_anchor::VPos::Top,
                ),
            );
            root.draw(&Text::new(
                format!("step {step}"),
                (big.0 as i32 - map.look.px(12.0), map.look.px(10.0)),
                font,
            ))
            .map_err(|e| PlotError::render(path, e))?;
            let drawing = map.drawing(&root, drawn, edges, legend);
            root.present().map_err(|e| PlotError::render(path, e))?;
            drawing
        };
        let changed = |r: &usize| {
            work[r * row_bytes..(r + 1) * row_bytes]
                != big_background[r * row_bytes..(r + 1) * row_bytes]
        };
        let mut out = background.clone();
        let first = (0..big.1 as usize).find(changed);
        let last = (0..big.1 as usize).rev().find(changed);
        if let (Some(first), Some(last)) = (first, last) {
            let (z, from, to) = (zoom as usize, first * row_bytes, (last + 1) * row_bytes);
            output::downsample_rows(&work, size, zoom, &mut out, first / z..last / z + 1);
            work[from..to].copy_from_slice(&big_background[from..to]);
        }
        Ok((out, drawing))
    };

    let counts: Vec<usize> = (1..=animation.frames)
        .map(|k| (k * longest).div_ceil(animation.frames).clamp(1, longest))
        .collect();
    let (last, final_drawing) = draw_frame(longest)?;
    let quantizer = Quantizer::learn(&last, &background);
    let mut gif_bytes = Vec::new();
    {
        let mut encoder = gif::Encoder::new(
            &mut gif_bytes,
            size.width as u16,
            size.height as u16,
            &quantizer.palette(),
        )
        .map_err(|e| PlotError::render(path, e))?;
        encoder
            .set_repeat(gif::Repeat::Infinite)
            .map_err(|e| PlotError::render(path, e))?;
        let delay = (animation.delay_ms.div_ceil(10)).max(2);
        let final_delay = delay + animation.final_pause_ms.div_ceil(10);
        let mut previous: Option<Vec<u8>> = None;
        let mut cache = HashMap::new();
        for (k, &upto) in counts.iter().enumerate() {
            let rgb = if upto == longest {
                last.clone()
            } else {
                draw_frame(upto)?.0
            };
            let indexed = quantizer.index(&rgb, &background, &mut cache);
            let d = if k + 1 == counts.len() {
                final_delay
            } else {
                delay
            };
            let frame = changed_frame(
                &indexed,
                previous.as_deref(),
                size,
                d.min(u32::from(u16::MAX)) as u16,
            );
            encoder
                .write_frame(&frame)
                .map_err(|e| PlotError::render(path, e))?;
            previous = Some(indexed);
        }
    }
    output::write(path, &gif_bytes)?;
    Ok(final_drawing)
}

/// Maps RGB pixels to a shared 256-colour palette: the exact series colours, black,
/// white and a few greys, then 240 colours learnt by NeuQuant for the contour bands and
/// antialiased edges. Keeping the series colours exact stops them drifting (a learnt
/// palette alone turned the bluish green into teal).
struct Quantizer {
    /// 256 RGB triples.
    colors: Vec<[u8; 3]>,
    /// Palette index of every background pixel, so unchanged pixels need no lookup.
    background: Vec<u8>,
}

impl Quantizer {
    /// Learns the palette from `sample` (the final frame shows every colour used).
    fn learn(sample: &[u8], background: &[u8]) -> Quantizer {
        let mut colors: Vec<[u8; 3]> = PALETTE.iter().map(|&(r, g, b)| [r, g, b]).collect();
        colors.push([255, 255, 255]);
        for grey in [32u8, 64, 96, 128, 160, 192, 224] {
            colors.push([grey; 3]);
        }
        let rgba: Vec<u8> = sample
            .chunks_exact(3)
            .flat_map(|p| [p[0], p[1], p[2], 255])
            .collect();
        let learnt = color_quant::NeuQuant::new(10, 256 - colors.len(), &rgba).color_map_rgb();
        colors.extend(learnt.chunks_exact(3).map(|c| [c[0], c[1], c[2]]));
        colors.resize(256, [0, 0, 0]);
        let mut quantizer = Quantizer {
            colors,
            background: Vec::new(),
        };
        let mut cache = HashMap::new();
        quantizer.background = background
            .chunks_exact(3)
            .map(|p| quantizer.nearest(&mut cache, [p[0], p[1], p[2]]))
            .collect();
        quantizer
    }

    /// The GIF global colour table.
    fn palette(&self) -> Vec<u8> {
        self.colors.iter().flatten().copied().collect()
    }

    fn nearest(&self, cache: &mut HashMap<[u8; 3], u8>, p: [u8; 3]) -> u8 {
        *cache.entry(p).or_insert_with(|| {
            let distance = |c: &[u8; 3]| -> i32 {
                (0..3)
                    .map(|k| (i32::from(c[k]) - i32::from(p[k])).pow(2))
                    .sum()
            };
            let (index, _) = self
                .colors
                .iter()
                .enumerate()
                .min_by_key(|(_, c)| distance(c))
                .expect("the palette has 256 colours");
            index as u8
        })
    }

    fn index(&self, rgb: &[u8], background: &[u8], cache: &mut HashMap<[u8; 3], u8>) -> Vec<u8> {
        rgb.chunks_exact(3)
            .zip(background.chunks_exact(3))
            .zip(&self.background)
            .map(|((p, b), &bi)| {
                if p == b {
                    bi
                } else {
                    self.nearest(cache, [p[0], p[1], p[2]])
                }
            })
            .collect()
    }
}

/// A frame holding only the bounding box of the pixels that differ from `previous`
/// (the whole image for the first frame; one pixel if nothing changed, to keep timing).
fn changed_frame<'a>(
    indexed: &'a [u8],
    previous: Option<&[u8]>,
    size: Size,
    delay: u16,
) -> gif::Frame<'a> {
    let (w, h) = (size.width as usize, size.height as usize);
    let (mut x0, mut y0, mut x1, mut y1) = (0, 0, w - 1, h - 1);
    if let Some(prev) = previous {
        let (mut a, mut b, mut c, mut d) = (w, h, 0usize, 0usize);
        for y in 0..h {
            let row = y * w;
            for x in 0..w {
                if indexed[row + x] != prev[row + x] {
                    a = a.min(x);
                    c = c.max(x);
                    b = b.min(y);
                    d = d.max(y);
                }
            }
        }
        if a > c {
            (x0, y0, x1, y1) = (0, 0, 0, 0);
        } else {
            (x0, y0, x1, y1) = (a, b, c, d);
        }
    }
    let buffer: Vec<u8> = (y0..=y1)
        .flat_map(|y| indexed[y * w + x0..=y * w + x1].iter().copied())
        .collect();
    gif::Frame {
        delay,
        dispose: gif::DisposalMethod::Keep,
        left: x0 as u16,
        top: y0 as u16,
        width: (x1 - x0 + 1) as u16,
        height: (y1 - y0 + 1) as u16,
        buffer: buffer.into(),
        ..gif::Frame::default()
    }
}
