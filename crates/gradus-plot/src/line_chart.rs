//! Line charts: loss histories, learning-rate schedules, any named `(x, y)` series.

use std::path::Path;

use plotters::coord::Shift;
use plotters::prelude::*;

use crate::axes::{self, Axis, Coord, Look};
use crate::clip::{stroke_pieces, visible_runs, Bounds};
use crate::output::{self, Figure};
use crate::palette;
use crate::{Chart, LineStyle, PlotError, Series, Size, YScale};

/// Draws `series` as lines on one chart and writes it to `path` (`.png` or `.svg`).
///
/// Each series gets the next [`PALETTE`](crate::PALETTE) colour unless it names one, and
/// an entry in the legend, which is put in the corner where it hides the least data.
/// Non-finite points break a line. With [`YScale::Log`], values ≤ 0 are clamped to one
/// tenth of the smallest positive value in the chart (see [`YScale::Log`]).
///
/// # Errors
/// [`PlotError::InvalidInput`] if `series` is empty, no point is finite, a log-scaled
/// chart has no positive value, or the size is out of range; otherwise see [`PlotError`].
pub fn line_chart(
    path: impl AsRef<Path>,
    chart: &Chart,
    series: &[Series],
    y_scale: YScale,
) -> Result<(), PlotError> {
    let path = path.as_ref();
    output::still_format(path)?;
    let figure = LineFigure::new(path, chart, series, y_scale)?;
    output::save(path, chart.size, &figure)
}

/// Learning-rate schedules, one series per schedule with `values[t]` the rate at step
/// `t`, on a linear axis with "step" and "learning rate" as axis labels: a shorthand for
/// [`line_chart`].
///
/// # Errors
/// As [`line_chart`].
pub fn schedule_chart(
    path: impl AsRef<Path>,
    title: &str,
    schedules: &[(&str, &[f64])],
    size: Size,
) -> Result<(), PlotError> {
    let chart = Chart {
        size,
        ..Chart::new(title, "step", "learning rate")
    };
    let series: Vec<Series> = schedules
        .iter()
        .map(|(name, values)| Series::from_values(*name, values))
        .collect();
    line_chart(path, &chart, &series, YScale::Linear)
}

/// A series ready to draw: plot-space points (y already log10 on a log axis).
pub(crate) struct PlotSeries {
    pub name: String,
    pub points: Vec<(f64, f64)>,
    pub style: LineStyle,
    pub color: RGBColor,
}

struct LineFigure<'a> {
    chart: &'a Chart,
    x: Axis,
    y: Axis,
    series: Vec<PlotSeries>,
}

impl<'a> LineFigure<'a> {
    fn new(
        path: &Path,
        chart: &'a Chart,
        series: &[Series],
        y_scale: YScale,
    ) -> Result<Self, PlotError> {
        if series.is_empty() {
            return Err(PlotError::invalid(path, "no series to draw"));
        }
        let finite = |&(x, y): &(f64, f64)| x.is_finite() && y.is_finite();
        if !series.iter().flat_map(|s| s.points.iter()).any(finite) {
            return Err(PlotError::invalid(path, "no series has a finite point"));
        }
        let transform: Box<dyn Fn(f64) -> f64> = match y_scale {
            YScale::Linear => Box::new(|y| y),
            YScale::Log => {
                let min_pos = series
                    .iter()
                    .flat_map(|s| s.points.iter())
                    .filter(|p| finite(p) && p.1 > 0.0)
                    .map(|p| p.1)
                    .fold(f64::INFINITY, f64::min);
                if !min_pos.is_finite() {
                    return Err(PlotError::invalid(
                        path,
                        "a logarithmic y axis needs at least one positive finite value",
                    ));
                }
                let floor = min_pos / 10.0;
                Box::new(move |y: f64| {
                    if y.is_finite() {
                        y.max(floor).log10()
                    } else {
                        f64::NAN
                    }
                })
            }
        };
        let prepared: Vec<PlotSeries> = series
            .iter()
            .enumerate()
            .map(|(i, s)| PlotSeries {
                name: s.name.clone(),
                points: s.points.iter().map(|&(x, y)| (x, transform(y))).collect(),
                style: s.style,
                color: palette::color(s.color.unwrap_or(i)),
            })
            .collect();
        let all = || {
            prepared
                .iter()
                .flat_map(|s| s.points.iter())
                .filter(|p| finite(p))
        };
        let (x0, x1) = axes::padded_range(all().map(|p| p.0), 0.0).unwrap_or((0.0, 1.0));
        let (y0, y1) = axes::padded_range(all().map(|p| p.1), 0.05).unwrap_or((0.0, 1.0));
        let y = match y_scale {
            YScale::Linear => Axis::linear(y0, y1),
            YScale::Log => Axis::log10(y0, y1),
        };
        Ok(LineFigure {
            chart,
            x: Axis::linear(x0, x1),
            y,
            series: prepared,
        })
    }
}

impl Figure for LineFigure<'_> {
    fn draw<'r, DB: DrawingBackend + 'r>(
        &self,
        root: &'r DrawingArea<DB, Shift>,
        look: Look,
    ) -> Result<(), String> {
        let widest = self
            .series
            .iter()
            .map(|s| s.name.chars().count())
            .max()
            .unwrap_or(0);
        let rows = self.series.len();
        let fractions = |y: &Axis| {
            let b = bounds(&self.x, y);
            let mut out = Vec::new();
            for s in &self.series {
                axes::sample_fractions(&visible_runs(&s.points, b), &self.x, y, &mut out);
            }
            out
        };
        // Lay the chart out once to learn the plot area's size; if every legend position
        // would hide data, raise the top of the y axis to leave the legend a free band.
        let plot_px = plot_pixels(&axes::build(root, self.chart, &look, &self.x, &self.y)?);
        let (mut corner, covered) =
            axes::legend_corner(&fractions(&self.y), rows, widest, &look, plot_px);
        let mut y = self.y.clone();
        if covered > 0 {
            let (_, box_h) = axes::legend_box(rows, widest, &look, plot_px);
            let free = (box_h + 0.04).min(0.6);
            let hi = y.lo + (y.hi - y.lo) / (1.0 - free);
            y = if y.log {
                Axis::log10(y.lo, hi)
            } else {
                Axis::linear(y.lo, hi)
            };
            corner = axes::legend_corner(&fractions(&y), rows, widest, &look, plot_px).0;
        }
        let mut ctx = axes::build(root, self.chart, &look, &self.x, &y)?;
        axes::draw_mesh(&mut ctx, self.chart, &look, &self.x, &y, true)?;
        for s in &self.series {
            draw_plot_series(&mut ctx, &look, s, &self.x, &y)?;
        }
        axes::draw_legend(&mut ctx, &look, corner)
    }
}

/// Size of the plotting area in pixels.
pub(crate) fn plot_pixels<DB: DrawingBackend>(ctx: &ChartContext<'_, DB, Coord>) -> (f64, f64) {
    let (xr, yr) = ctx.plotting_area().get_pixel_range();
    (f64::from(xr.end - xr.start), f64::from(yr.end - yr.start))
}

pub(crate) fn bounds(x: &Axis, y: &Axis) -> Bounds {
    Bounds {
        x0: x.lo,
        x1: x.hi,
        y0: y.lo,
        y1: y.hi,
    }
}

/// Draws one series in its style with a legend entry; returns the visible runs.
pub(crate) fn draw_plot_series<'a, DB: DrawingBackend + 'a>(
    ctx: &mut ChartContext<'a, DB, Coord>,
    look: &Look,
    s: &PlotSeries,
    x: &Axis,
    y: &Axis,
) -> Result<Vec<Vec<(f64, f64)>>, String> {
    let b = bounds(x, y);
    let runs = visible_runs(&s.points, b);
    let line = ShapeStyle::from(s.color).stroke_width(look.line);
    let dot = ShapeStyle::from(s.color).filled();
    let radius = look.px(3.0).max(2);
    let (dash, gap) = (look.px(9.0).max(2), look.px(5.0).max(2));
    let area = ctx.plotting_area().clone();
    let err = |e: DrawingAreaErrorKind<DB::ErrorType>| e.to_string();
    for run in &runs {
        match s.style {
            LineStyle::Solid | LineStyle::LineMarkers => {
                for piece in stroke_pieces(look.vector, run, |p| area.map_coordinate(p)) {
                    area.draw(&PathElement::new(piece, line)).map_err(err)?;
                }
            }
            LineStyle::Dashed => {
                for (a, b) in dashes(ctx, run, dash, gap) {
                    area.draw(&PathElement::new(vec![a, b], line))
                        .map_err(err)?;
                }
            }
            LineStyle::Markers => {}
        }
    }
    if matches!(s.style, LineStyle::Markers | LineStyle::LineMarkers) {
        for &p in s.points.iter().filter(|&&p| b.contains(p)) {
            area.draw(&Circle::new(p, radius, dot)).map_err(err)?;
        }
    }
    let [p0, p1, p2, show_dot] = legend_parts(s.style, look.px(28.0));
    let hidden = ShapeStyle::from(TRANSPARENT);
    let pick = move |on: bool, st: ShapeStyle| if on { st } else { hidden };
    let seg = look.px(28.0);
    let ring = radius + look.px(1.0);
    ctx.draw_series(std::iter::empty::<Circle<(f64, f64), i32>>())
        .map_err(err)?
        .label(s.name.as_str())
        .legend(move |(px, py)| {
            EmptyElement::at((px, py))
                + PathElement::new(p0.1.clone(), pick(p0.0, line))
                + PathElement::new(p1.1.clone(), pick(p1.0, line))
                + PathElement::new(p2.1.clone(), pick(p2.0, line))
                + Circle::new((seg / 2, 0), ring, pick(show_dot.0, dot))
        });
    Ok(runs)
}

type LegendPart = (bool, Vec<(i32, i32)>);

/// The legend sample of a series style, `seg` pixels wide: up to three line pieces
/// (on/off, points) and whether a dot sits in the middle. A fixed shape for every style
/// keeps the legend closure one concrete type.
fn legend_parts(style: LineStyle, seg: i32) -> [LegendPart; 4] {
    let piece = |a: i32, b: i32| (true, vec![(a, 0), (b, 0)]);
    let off = (false, vec![(0, 0), (1, 0)]);
    let dot = (true, Vec::new());
    let no_dot = (false, Vec::new());
    match style {
        LineStyle::Solid => [piece(0, seg), off.clone(), off, no_dot],
        LineStyle::Dashed => {
            let q = seg / 4;
            [
                piece(0, q),
                piece(3 * seg / 8, 5 * seg / 8),
                piece(seg - q, seg),
                no_dot,
            ]
        }
        LineStyle::Markers => [off.clone(), off.clone(), off, dot],
        LineStyle::LineMarkers => [piece(0, seg), off.clone(), off, dot],
    }
}

/// Splits a polyline into dash segments of `dash` pixels separated by `gap` pixels,
/// measured on screen so dashes look the same whatever the data scale.
fn dashes<DB: DrawingBackend>(
    ctx: &ChartContext<'_, DB, Coord>,
    run: &[(f64, f64)],
    dash: i32,
    gap: i32,
) -> Vec<((f64, f64), (f64, f64))> {
    let to_px = |p: &(f64, f64)| {
        let (x, y) = ctx.backend_coord(p);
        (f64::from(x), f64::from(y))
    };
    let (dash, gap) = (f64::from(dash), f64::from(gap));
    let period = dash + gap;
    let mut out = Vec::new();
    let mut phase = 0.0; // distance travelled along the pattern
    for w in run.windows(2) {
        let (a, b) = (w[0], w[1]);
        let (pa, pb) = (to_px(&a), to_px(&b));
        let len = ((pb.0 - pa.0).powi(2) + (pb.1 - pa.1).powi(2)).sqrt();
        if len <= 0.0 {
            continue;
        }
        let lerp = |t: f64| (a.0 + t * (b.0 - a.0), a.1 + t * (b.1 - a.1));
        let mut s = 0.0;
        while s < len {
            let in_period = phase % period;
            if in_period < dash {
                let end = (s + dash - in_period).min(len);
                out.push((lerp(s / len), lerp(end / len)));
                phase += end - s;
                s = end;
            } else {
                let end = (s + period - in_period).min(len);
                phase += end - s;
                s = end;
            }
        }
    }
    out
}
