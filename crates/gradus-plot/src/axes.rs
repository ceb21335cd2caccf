//! Axis ranges, tick positions and labels, the chart frame, and legend placement,
//! shared by every chart kind.
//!
//! Ticks are computed here rather than by plotters so that linear and logarithmic
//! axes share one coordinate type (a log axis plots `log10(y)` on a linear scale and
//! labels the ticks with `10^v`) and labels never show float noise like `0.30000000004`.

use plotters::coord::ranged1d::{DefaultFormatting, KeyPointHint};
use plotters::coord::Shift;
use plotters::prelude::*;

use crate::drawing::Rect;
use crate::font::FAMILY;
use crate::{Chart, Size};

/// The coordinate system of every chart.
pub(crate) type Coord = Cartesian2d<TickedRange, TickedRange>;

/// A linear `f64` range whose tick positions are given instead of chosen by plotters.
#[derive(Clone, Debug)]
pub(crate) struct TickedRange {
    lo: f64,
    hi: f64,
    ticks: Vec<f64>,
}

impl Ranged for TickedRange {
    type FormatOption = DefaultFormatting;
    type ValueType = f64;

    fn map(&self, value: &f64, limit: (i32, i32)) -> i32 {
        let fraction = (value - self.lo) / (self.hi - self.lo);
        let span = f64::from(limit.1 - limit.0);
        // `as` saturates, so far-away or non-finite values cannot wrap around.
        (f64::from(limit.0) + (span * fraction + 1e-3).floor()) as i32
    }

    fn key_points<Hint: KeyPointHint>(&self, hint: Hint) -> Vec<f64> {
        // Only bold grid lines: light ones would clutter charts of this size.
        if hint.weight().allow_light_points() {
            Vec::new()
        } else {
            self.ticks.clone()
        }
    }

    fn range(&self) -> std::ops::Range<f64> {
        self.lo..self.hi
    }
}

/// One axis: its range, tick positions, and whether values are `log10` of the data.
#[derive(Clone, Debug)]
pub(crate) struct Axis {
    pub lo: f64,
    pub hi: f64,
    pub ticks: Vec<f64>,
    pub log: bool,
}

impl Axis {
    /// A linear axis over `[lo, hi]` (lo < hi, both finite) with "nice" ticks.
    pub fn linear(lo: f64, hi: f64) -> Axis {
        let step = nice_step((hi - lo) / 7.0);
        let count = (hi - lo) / step;
        // A span too wide for f64 (e.g. ±1e308) gets no ticks rather than a runaway loop.
        let ticks = if count.is_finite() && count < 100.0 {
            let first = (lo / step).ceil() as i64;
            let last = (hi / step).floor() as i64;
            (first..=last).map(|k| k as f64 * step).collect()
        } else {
            Vec::new()
        };
        Axis {
            lo,
            hi,
            ticks,
            log: false,
        }
    }

    /// A log axis over `[lo, hi]` in log10 units, ticks at powers of ten (and at 2 and 5
    /// times them when the axis spans less than three decades, so it has several ticks).
    pub fn log10(lo: f64, hi: f64) -> Axis {
        let first = lo.ceil() as i64;
        let last = hi.floor() as i64;
        let decades = (hi - lo).max(0.0);
        let mut ticks = Vec::new();
        if decades < 1.0 {
            // Under a decade, 1-2-5 ticks are too few: nice linear steps of the values.
            let (a, b) = (10f64.powf(lo), 10f64.powf(hi));
            ticks = Axis::linear(a, b)
                .ticks
                .into_iter()
                .filter(|&t| t > 0.0)
                .map(f64::log10)
                .collect();
        } else if decades < 3.0 {
            for k in (first - 1)..=last {
                for m in [1.0f64, 2.0, 5.0] {
                    let v = k as f64 + m.log10();
                    if v >= lo && v <= hi {
                        ticks.push(v);
                    }
                }
            }
        } else {
            let every = ((decades / 10.0).ceil() as i64).max(1);
            ticks = (first..=last)
                .filter(|k| k.rem_euclid(every) == 0)
                .map(|k| k as f64)
                .collect();
        }
        Axis {
            lo,
            hi,
            ticks,
            log: true,
        }
    }

    /// The tick label for plot value `v`.
    pub fn label(&self, v: f64) -> String {
        if self.log {
            format_log_tick(v)
        } else {
            let step = if self.ticks.len() >= 2 {
                self.ticks[1] - self.ticks[0]
            } else {
                (self.hi - self.lo).abs()
            };
            format_linear_tick(v, step)
        }
    }

    pub fn spec(&self) -> TickedRange {
        TickedRange {
            lo: self.lo,
            hi: self.hi,
            ticks: self.ticks.clone(),
        }
    }
}

/// The smallest of 1, 2, 2.5, 5 × 10^k that is ≥ `raw`.
fn nice_step(raw: f64) -> f64 {
    let raw = if raw.is_finite() && raw > 0.0 {
        raw
    } else {
        1.0
    };
    let mag = 10f64.powf(raw.log10().floor());
    let frac = raw / mag;
    let nice = if frac <= 1.0 {
        1.0
    } else if frac <= 2.0 {
        2.0
    } else if frac <= 2.5 {
        2.5
    } else if frac <= 5.0 {
        5.0
    } else {
        10.0
    };
    nice * mag
}

fn format_linear_tick(v: f64, step: f64) -> String {
    if v.abs() < step.abs() * 1e-9 {
        return "0".to_string();
    }
    let big = v.abs() >= 1e5;
    let tiny = step.abs() < 1e-3;
    if big || tiny {
        return format_scientific(v);
    }
    // step = d × 10^k with d in {1, 2, 2.5, 5}: 2.5 needs one more decimal.
    let k = step.log10().floor() as i32;
    let d = step / 10f64.powi(k);
    let extra = i32::from((d - 2.5).abs() < 1e-6);
    let decimals = (extra - k).max(0) as usize;
    format!("{v:.decimals$}")
}

fn format_log_tick(v: f64) -> String {
    let value = 10f64.powf(v);
    let exp = v.floor() as i32;
    if (-3..=4).contains(&exp) {
        // Three significant digits, trailing zeros dropped: 0.01, 0.5, 1.1, 1000.
        let decimals = (2 - exp).max(0) as usize;
        let s = format!("{value:.decimals$}");
        if s.contains('.') {
            s.trim_end_matches('0').trim_end_matches('.').to_string()
        } else {
            s
        }
    } else {
        format_scientific(value)
    }
}

fn format_scientific(v: f64) -> String {
    let s = format!("{v:.1e}");
    // "2.0e-5" → "2e-5"
    s.replace(".0e", "e")
}

/// The finite range of `values`, padded by `pad` of its width on each side; a range of
/// zero width (one distinct value) is widened to ±1 around it, or ±10 % of its size if
/// that is larger. `None` if no value is finite.
pub(crate) fn padded_range(values: impl Iterator<Item = f64>, pad: f64) -> Option<(f64, f64)> {
    let (mut lo, mut hi) = (f64::INFINITY, f64::NEG_INFINITY);
    for v in values.filter(|v| v.is_finite()) {
        lo = lo.min(v);
        hi = hi.max(v);
    }
    if lo > hi {
        return None;
    }
    Some(widen(lo, hi, pad))
}

/// `[lo, hi]` padded by `pad` of its width, or widened as in [`padded_range`] when empty.
pub(crate) fn widen(lo: f64, hi: f64, pad: f64) -> (f64, f64) {
    let width = hi - lo;
    let tiny = f64::EPSILON * lo.abs().max(hi.abs()).max(1e-300);
    if !width.is_finite() || width <= tiny {
        let half = (lo.abs() * 0.1).max(1.0);
        return (lo - half, hi + half);
    }
    (lo - pad * width, hi + pad * width)
}

/// Font sizes and strokes for a chart of a given size.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Look {
    pub scale: f64,
    pub title: f64,
    pub axis_label: f64,
    pub tick: f64,
    pub legend: f64,
    pub line: u32,
    /// Vector output (SVG): strokes are left to the viewer, which joins them cleanly.
    pub vector: bool,
    /// Backend pixels per image pixel (2 when a bitmap is drawn large and averaged down).
    pub zoom: f64,
}

impl Look {
    /// The look of a chart of `size` drawn `zoom` times larger (for supersampling).
    pub fn new(size: Size, vector: bool, zoom: u32) -> Look {
        Look::scaled(size.scale(), vector, zoom)
    }

    /// The look of text and strokes `scale` times the default size, drawn `zoom` times
    /// larger.
    pub fn scaled(scale: f64, vector: bool, zoom: u32) -> Look {
        let s = scale * f64::from(zoom);
        Look {
            scale: s,
            title: 24.0 * s,
            axis_label: 19.0 * s,
            tick: 15.0 * s,
            legend: 15.0 * s,
            line: (2.0 * s).round().max(1.0) as u32,
            vector,
            zoom: f64::from(zoom),
        }
    }

    /// A stroke width of `v` pixels at the default size, at least 1.
    pub fn stroke(&self, v: f64) -> u32 {
        (v * self.scale).round().max(1.0) as u32
    }

    pub fn px(&self, v: f64) -> i32 {
        (v * self.scale).round() as i32
    }

    /// A backend pixel position as image pixels.
    pub fn image_px(&self, (x, y): (i32, i32)) -> (f64, f64) {
        (f64::from(x) / self.zoom, f64::from(y) / self.zoom)
    }

    /// A rectangle in backend pixels as image pixels.
    pub fn image_rect(&self, r: Rect) -> Rect {
        Rect::new(
            r.left / self.zoom,
            r.top / self.zoom,
            r.right / self.zoom,
            r.bottom / self.zoom,
        )
    }

    /// Height of the area under the plot that holds the x tick labels and axis label.
    pub fn x_label_area(&self) -> i32 {
        self.px(58.0)
    }
}

/// Extra margins (backend pixels) kept free beside and below the plot for a legend or a
/// colour bar.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct Reserve {
    pub right: i32,
    pub bottom: i32,
}

/// The plot area of `ctx` in backend pixels.
pub(crate) fn plot_rect<DB: DrawingBackend>(ctx: &ChartContext<'_, DB, Coord>) -> Rect {
    let (xr, yr) = ctx.plotting_area().get_pixel_range();
    Rect::new(
        f64::from(xr.start),
        f64::from(yr.start),
        f64::from(xr.end),
        f64::from(yr.end),
    )
}

/// Builds the chart frame (caption, label areas, coordinate system) on `root`.
pub(crate) fn build<'a, DB: DrawingBackend>(
    root: &'a DrawingArea<DB, Shift>,
    chart: &Chart,
    look: &Look,
    x: &Axis,
    y: &Axis,
    reserve: Reserve,
) -> Result<ChartContext<'a, DB, Coord>, String> {
    root.fill(&WHITE).map_err(|e| e.to_string())?;
    let mut builder = ChartBuilder::on(root);
    if !chart.title.is_empty() {
        builder.caption(&chart.title, (FAMILY, look.title));
    }
    builder
        .margin_top(look.px(12.0))
        .margin_bottom(look.px(10.0) + reserve.bottom)
        .margin_left(look.px(10.0))
        .margin_right(look.px(28.0) + reserve.right)
        .x_label_area_size(look.px(58.0))
        .y_label_area_size(look.px(86.0))
        .build_cartesian_2d(x.spec(), y.spec())
        .map_err(|e| e.to_string())
}

/// Draws axes, tick labels, axis labels and (if `grid`) light grid lines.
pub(crate) fn draw_mesh<'a, DB: DrawingBackend + 'a>(
    ctx: &mut ChartContext<'a, DB, Coord>,
    chart: &Chart,
    look: &Look,
    x: &Axis,
    y: &Axis,
    grid: bool,
) -> Result<(), String> {
    let x_fmt = |v: &f64| x.label(*v);
    let y_fmt = |v: &f64| y.label(*v);
    let mut mesh = ctx.configure_mesh();
    mesh.x_desc(chart.x_label.as_str())
        .y_desc(chart.y_label.as_str())
        .label_style((FAMILY, look.tick))
        .axis_desc_style((FAMILY, look.axis_label))
        .bold_line_style(ShapeStyle::from(BLACK.mix(0.12)).stroke_width(look.stroke(1.0)))
        .axis_style(ShapeStyle::from(BLACK.mix(0.8)).stroke_width(look.stroke(1.0)))
        .x_label_formatter(&x_fmt)
        .y_label_formatter(&y_fmt)
        .set_all_tick_mark_size(look.px(5.0));
    if !grid {
        mesh.disable_mesh();
    }
    mesh.draw().map_err(|e| e.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nice_steps_are_1_2_2_5_5_times_a_power_of_ten() {
        assert_eq!(nice_step(0.13), 0.2);
        assert_eq!(nice_step(3.0), 5.0);
        assert_eq!(nice_step(7.0), 10.0);
        assert_eq!(nice_step(0.0), 1.0);
    }

    #[test]
    fn tick_labels_have_no_float_noise() {
        let axis = Axis::linear(0.0, 1.0);
        let labels: Vec<String> = axis.ticks.iter().map(|&v| axis.label(v)).collect();
        assert!(labels.contains(&"0.2".to_string()), "{labels:?}");
        assert!(labels.iter().all(|l| l.len() <= 4), "{labels:?}");
        assert_eq!(format_log_tick(-2.0), "0.01");
        assert_eq!(format_log_tick(-5.0), "1e-5");
        assert_eq!(format_log_tick(1.1f64.log10()), "1.1");
        assert_eq!(format_log_tick(3.0), "1000");
        assert_eq!(format_log_tick(6.0), "1e6");
        assert_eq!(format_linear_tick(2.5, 0.5), "2.5");
        assert_eq!(format_linear_tick(0.25, 0.25), "0.25");
    }

    #[test]
    fn log_axis_ticks_lie_inside_the_range() {
        let axis = Axis::log10(-3.2, 1.1);
        assert_eq!(axis.ticks, vec![-3.0, -2.0, -1.0, 0.0, 1.0]);
        let short = Axis::log10(-0.1, 0.9);
        assert!(short.ticks.len() >= 3, "{:?}", short.ticks);
        // Two and a half decades: 1, 2, 5 times the powers, not just two ticks.
        let mid = Axis::log10(-2.3, 0.2);
        assert!(mid.ticks.len() >= 5, "{:?}", mid.ticks);
        // Under a decade (0.45 to 1.1): linear steps of the values.
        let narrow = Axis::log10(0.45f64.log10(), 1.1f64.log10());
        assert!(narrow.ticks.len() >= 4, "{:?}", narrow.ticks);
    }

    #[test]
    fn degenerate_ranges_are_widened() {
        assert_eq!(padded_range([3.0, 3.0].into_iter(), 0.05), Some((2.0, 4.0)));
        assert_eq!(padded_range([f64::NAN].into_iter(), 0.05), None);
        let (lo, hi) = padded_range([0.0, 10.0, f64::INFINITY].into_iter(), 0.1).unwrap();
        assert_eq!((lo, hi), (-1.0, 11.0));
    }
}
