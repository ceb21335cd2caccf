//! Line charts: loss histories, learning-rate schedules, any named `(x, y)` series.

use std::path::Path;

use plotters::coord::Shift;
use plotters::prelude::*;

use crate::axes::{self, plot_rect, Axis, Coord, Look, Reserve};
use crate::clip::{stroke_pieces, visible_runs, Bounds};
use crate::drawing::{Drawing, DrawnSeries, EdgeMarker};
use crate::legend::{Entry, Legend, Sample};
use crate::marks::{self, draw_marker, short_number};
use crate::output::{self, Figure};
use crate::palette;
use crate::{Chart, LineStyle, Marker, PlotError, Series, Size, YScale};

/// Draws `series` as lines on one chart and writes it to `path` (`.png` or `.svg`).
///
/// Each series gets the next [`PALETTE`](crate::PALETTE) colour unless it names one (and
/// the next line style after twelve), and an entry in the legend, which goes where no
/// series passes: in a free corner or edge middle of the plot, else beside or below it.
/// Non-finite points break a line. With [`YScale::Log`], values ≤ 0 are clamped to one
/// tenth of the smallest positive value in the chart (see [`YScale::Log`]).
///
/// The frame is chosen robustly: diverged series (see [`Series::diverged`]) do not widen
/// it beyond their first point, and a log axis spans at most ten decades below its top.
/// A series that leaves the frame gets a triangle at the border where it leaves, with
/// its final value (or "diverged") beside it. Returns what was drawn.
///
/// # Errors
/// [`PlotError::InvalidInput`] if `series` is empty, no point is finite, a log-scaled
/// chart has no positive value, or the size is out of range; otherwise see [`PlotError`].
pub fn line_chart(
    path: impl AsRef<Path>,
    chart: &Chart,
    series: &[Series],
    y_scale: YScale,
) -> Result<Drawing, PlotError> {
    let path = path.as_ref();
    output::still_format(path)?;
    let figure = LineFigure::new(path, chart, series, y_scale, XAxis::Linear)?;
    output::save(path, chart.size, &figure)
}

/// A learning-rate sensitivity chart: one series per optimizer, each point one run of
/// its learning-rate grid, `x` the learning rate (on a log axis) and `y` what the run
/// ended with (final loss, or test accuracy). Written to `path` (`.png` or `.svg`).
///
/// A point whose `y` is not finite is a run that diverged: it breaks its line and is
/// marked with a cross at the top of the frame above its learning rate, recorded in
/// [`Drawing::edge_markers`] with the label "diverged". Points are marked, so a grid's
/// spacing is visible, and no series is treated as a diverged history. Otherwise as
/// [`line_chart`] (palette, legend placement, robust frame).
///
/// # Errors
/// As [`line_chart`], and [`PlotError::InvalidInput`] if a learning rate is not positive.
pub fn lr_sweep_chart(
    path: impl AsRef<Path>,
    chart: &Chart,
    series: &[Series],
    y_scale: YScale,
) -> Result<Drawing, PlotError> {
    let path = path.as_ref();
    output::still_format(path)?;
    if let Some(x) = series
        .iter()
        .flat_map(|s| s.points.iter())
        .map(|p| p.0)
        .find(|&x| !(x.is_finite() && x > 0.0))
    {
        return Err(PlotError::invalid(
            path,
            format!("learning rate {x} cannot be drawn on a log axis (expected > 0)"),
        ));
    }
    let marked: Vec<Series> = series
        .iter()
        .map(|s| Series {
            style: LineStyle::LineMarkers,
            ..s.clone()
        })
        .collect();
    let figure = LineFigure::new(path, chart, &marked, y_scale, XAxis::LearningRate)?;
    output::save(path, chart.size, &figure)
}

/// How a line chart's x axis reads its values.
#[derive(Clone, Copy, PartialEq, Eq)]
enum XAxis {
    /// Steps or any linear quantity; a series can be a diverging history.
    Linear,
    /// Learning rates of a sweep, on a log axis; non-finite `y` marks a diverged run.
    LearningRate,
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
) -> Result<Drawing, PlotError> {
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
    pub marker: Marker,
    pub color: RGBColor,
    /// The last finite y value in data units, for the edge label.
    pub last_value: Option<f64>,
    pub diverged: bool,
}

struct LineFigure<'a> {
    chart: &'a Chart,
    x_axis: XAxis,
    x: Axis,
    y: Axis,
    series: Vec<PlotSeries>,
}

/// Whether a series diverged: it ends non-finite after finite values, or its last finite
/// value is 100 times its first in size.
fn diverges(points: &[(f64, f64)]) -> bool {
    let finite: Vec<f64> = points
        .iter()
        .filter(|p| p.0.is_finite() && p.1.is_finite())
        .map(|p| p.1)
        .collect();
    let (Some(first), Some(last)) = (finite.first(), finite.last()) else {
        return false;
    };
    let ends_bad = points.last().is_some_and(|p| !p.1.is_finite());
    ends_bad || last.abs() > 100.0 * first.abs().max(f64::MIN_POSITIVE)
}

impl<'a> LineFigure<'a> {
    fn new(
        path: &Path,
        chart: &'a Chart,
        series: &[Series],
        y_scale: YScale,
        x_axis: XAxis,
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
            .map(|(i, s)| {
                let (color, style, marker) = s.line_look(i);
                let x_of = |x: f64| match x_axis {
                    XAxis::Linear => x,
                    XAxis::LearningRate => x.log10(),
                };
                PlotSeries {
                    name: s.name.clone(),
                    points: s
                        .points
                        .iter()
                        .map(|&(x, y)| (x_of(x), transform(y)))
                        .collect(),
                    style,
                    marker,
                    color: palette::color(color),
                    last_value: s.points.iter().rev().find(|p| finite(p)).map(|p| p.1),
                    diverged: s.diverged || (x_axis == XAxis::Linear && diverges(&s.points)),
                }
            })
            .collect();
        // The frame: every point of the series that did not diverge, and the first
        // point of those that did (all points if every series diverged).
        let all_diverged = prepared.iter().all(|s| s.diverged);
        let framed: Vec<(f64, f64)> = prepared
            .iter()
            .flat_map(|s| {
                let pts = s.points.iter().copied().filter(|p| finite(p));
                if s.diverged && !all_diverged {
                    pts.take(1).collect::<Vec<_>>()
                } else {
                    pts.collect()
                }
            })
            .collect();
        // A sweep's diverged runs are marked above their lr, so their lr is in frame.
        let all_x = prepared
            .iter()
            .flat_map(|s| s.points.iter())
            .filter(|p| finite(p) || (x_axis == XAxis::LearningRate && p.0.is_finite()))
            .map(|p| p.0);
        let pad = match x_axis {
            XAxis::Linear => 0.0,
            XAxis::LearningRate => 0.04,
        };
        let (x0, x1) = axes::padded_range(all_x, pad).unwrap_or((0.0, 1.0));
        let ys = framed.iter().map(|p| p.1);
        let (lo, hi) = ys
            .clone()
            .fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), y| {
                (a.min(y), b.max(y))
            });
        // Ten decades show every loss curve's shape; a run that goes on to 1e-28 leaves
        // at the bottom with its final value written there.
        let lo = if y_scale == YScale::Log {
            lo.max(hi - 10.0)
        } else {
            lo
        };
        let (y0, y1) =
            axes::padded_range(ys.filter(|&y| y >= lo).chain([lo, hi]), 0.05).unwrap_or((0.0, 1.0));
        let y = match y_scale {
            YScale::Linear => Axis::linear(y0, y1),
            YScale::Log => Axis::log10(y0, y1),
        };
        Ok(LineFigure {
            chart,
            x_axis,
            x: match x_axis {
                XAxis::Linear => Axis::linear(x0, x1),
                XAxis::LearningRate => Axis::log10(x0, x1),
            },
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
    ) -> Result<Drawing, String> {
        let mut entries: Vec<Entry> = self
            .series
            .iter()
            .map(|s| Entry::new(s.name.clone(), legend_sample(s)))
            .collect();
        if !self.diverged_runs().is_empty() {
            entries.push(Entry::new(
                "diverged (cross above its lr)",
                Sample::Line {
                    color: RGBColor(90, 90, 90),
                    style: LineStyle::Markers,
                    marker: Some(Marker::Cross),
                },
            ));
        }
        let mut legend = Legend::new(root, &look, entries, None);
        let image_w = root.dim_in_pixel().0 as i32;
        let ctx = axes::build(
            root,
            self.chart,
            &look,
            &self.x,
            &self.y,
            Reserve::default(),
        )?;
        let (lines, mut points) = self.pixels(&ctx, &look);
        let b = bounds(&self.x, &self.y);
        points.extend(marks::exit_footprints(
            self.series.iter().map(|s| s.points.as_slice()),
            b,
            |p| ctx.backend_coord(p),
            &look,
        ));
        let top = plot_rect(&ctx).top;
        let stacked = look.px(9.0);
        points.extend(self.diverged_runs().into_iter().map(|(_, x, k)| {
            (
                f64::from(ctx.backend_coord(&(x, self.y.hi)).0),
                top + f64::from(stacked * k),
            )
        }));
        let (placement, reserve) =
            legend.choose(plot_rect(&ctx), image_w, &lines, &points, &look, 0);
        let mut ctx = if reserve == Reserve::default() {
            ctx
        } else {
            axes::build(root, self.chart, &look, &self.x, &self.y, reserve)?
        };
        axes::draw_mesh(&mut ctx, self.chart, &look, &self.x, &self.y, true)?;
        let mut drawn = Vec::new();
        for s in &self.series {
            drawn.push(draw_plot_series(
                root, &mut ctx, &look, s, &self.x, &self.y,
            )?);
        }
        let plot = plot_rect(&ctx);
        let mut taken = Vec::new();
        let mut edge_markers = Vec::new();
        for (i, s) in self.series.iter().enumerate() {
            let value = s.last_value.map_or_else(|| "NaN".to_string(), short_number);
            let label = if s.diverged {
                format!("diverged ({value})")
            } else {
                value
            };
            match marks::exit(&s.points, b) {
                Some(e) => {
                    drawn[i].leaves_frame = true;
                    let tip = ctx.backend_coord(&e.at);
                    let text = if e.ends_outside || s.diverged {
                        label
                    } else {
                        String::new()
                    };
                    marks::draw_edge_marker(
                        root,
                        &look,
                        plot,
                        (e.side, tip),
                        (s.color, &text),
                        &mut taken,
                    )?;
                    edge_markers.push(EdgeMarker {
                        series: i,
                        at: look.image_px(tip),
                        label: text,
                    });
                }
                None if s.diverged => {
                    // It jumped to a non-finite value from inside the frame: mark where.
                    if let Some(p) = s
                        .points
                        .iter()
                        .rev()
                        .find(|p| p.0.is_finite() && p.1.is_finite())
                    {
                        let c = ctx.backend_coord(p);
                        draw_marker(root, &look, Marker::Cross, c, s.color)?;
                        marks::draw_edge_marker(
                            root,
                            &look,
                            plot,
                            (marks::Side::Top, (c.0, plot.top as i32)),
                            (s.color, &label),
                            &mut taken,
                        )?;
                    }
                }
                None => {}
            }
        }
        for (i, x, k) in self.diverged_runs() {
            let c = (
                ctx.backend_coord(&(x, self.y.hi)).0,
                plot.top as i32 + stacked * k,
            );
            draw_marker(root, &look, Marker::Cross, c, self.series[i].color)?;
            edge_markers.push(EdgeMarker {
                series: i,
                at: look.image_px(c),
                label: "diverged".to_string(),
            });
        }
        let at = legend.origin(placement, plot, &look, 0);
        let legend_rect = legend.draw(root, &look, at, None)?;
        Ok(Drawing {
            width: (f64::from(root.dim_in_pixel().0) / look.zoom) as u32,
            height: (f64::from(root.dim_in_pixel().1) / look.zoom) as u32,
            plot_area: Some(look.image_rect(plot)),
            series: drawn.into_iter().map(|d| to_image(d, &look)).collect(),
            legend: Some(look.image_rect(legend_rect)),
            edge_markers,
            color_bar: None,
            panels: Vec::new(),
        })
    }
}

impl LineFigure<'_> {
    /// The runs of a learning-rate sweep that diverged: (series, plot x, k) of every point
    /// with a finite learning rate and a non-finite result, `k` counting the earlier
    /// series that diverged at the same lr (their crosses stack downwards).
    fn diverged_runs(&self) -> Vec<(usize, f64, i32)> {
        let mut out: Vec<(usize, f64, i32)> = Vec::new();
        if self.x_axis != XAxis::LearningRate {
            return out;
        }
        for (i, s) in self.series.iter().enumerate() {
            for p in s
                .points
                .iter()
                .filter(|p| p.0.is_finite() && !p.1.is_finite())
            {
                let k = out.iter().filter(|d| d.1 == p.0).count() as i32;
                out.push((i, p.0, k));
            }
        }
        out
    }

    /// The visible polylines and marker points of every series, in backend pixels.
    #[allow(clippy::type_complexity)]
    fn pixels<DB: DrawingBackend>(
        &self,
        ctx: &ChartContext<'_, DB, Coord>,
        _look: &Look,
    ) -> (Vec<Vec<(f64, f64)>>, Vec<(f64, f64)>) {
        let b = bounds(&self.x, &self.y);
        let px = |p: &(f64, f64)| {
            let (x, y) = ctx.backend_coord(p);
            (f64::from(x), f64::from(y))
        };
        let mut lines = Vec::new();
        let mut points = Vec::new();
        for s in &self.series {
            for run in visible_runs(&s.points, b) {
                lines.push(run.iter().map(px).collect());
            }
            if matches!(s.style, LineStyle::Markers | LineStyle::LineMarkers) {
                points.extend(s.points.iter().filter(|&&p| b.contains(p)).map(px));
            }
        }
        (lines, points)
    }
}

/// The legend sample of a series.
pub(crate) fn legend_sample(s: &PlotSeries) -> Sample {
    Sample::Line {
        color: s.color,
        style: s.style,
        marker: matches!(s.style, LineStyle::Markers | LineStyle::LineMarkers).then_some(s.marker),
    }
}

/// A drawn series in backend pixels converted to image pixels.
pub(crate) fn to_image(mut d: DrawnSeries, look: &Look) -> DrawnSeries {
    let f = |p: &(f64, f64)| (p.0 / look.zoom, p.1 / look.zoom);
    d.lines = d.lines.iter().map(|l| l.iter().map(f).collect()).collect();
    d.marks = d.marks.iter().map(f).collect();
    d
}

pub(crate) fn bounds(x: &Axis, y: &Axis) -> Bounds {
    Bounds {
        x0: x.lo,
        x1: x.hi,
        y0: y.lo,
        y1: y.hi,
    }
}

/// Draws one series in its style; returns what it drew (backend pixels).
pub(crate) fn draw_plot_series<'a, DB: DrawingBackend + 'a>(
    root: &DrawingArea<DB, Shift>,
    ctx: &mut ChartContext<'a, DB, Coord>,
    look: &Look,
    s: &PlotSeries,
    x: &Axis,
    y: &Axis,
) -> Result<DrawnSeries, String> {
    let b = bounds(x, y);
    let runs = visible_runs(&s.points, b);
    let line = ShapeStyle::from(s.color).stroke_width(look.line);
    let (dash, gap) = match s.style {
        LineStyle::Dotted => (look.px(2.5).max(1), look.px(4.0).max(2)),
        _ => (look.px(9.0).max(2), look.px(5.0).max(2)),
    };
    let area = ctx.plotting_area().clone();
    let err = |e: DrawingAreaErrorKind<DB::ErrorType>| e.to_string();
    let px = |p: &(f64, f64)| {
        let (x, y) = area.map_coordinate(p);
        (f64::from(x), f64::from(y))
    };
    let mut drawn = DrawnSeries {
        name: s.name.clone(),
        color: (s.color.0, s.color.1, s.color.2),
        style: s.style,
        marker: None,
        lines: Vec::new(),
        marks: Vec::new(),
        leaves_frame: false,
        diverged: s.diverged,
    };
    for run in &runs {
        match s.style {
            LineStyle::Solid | LineStyle::LineMarkers => {
                for piece in stroke_pieces(look.vector, run, |p| area.map_coordinate(p)) {
                    drawn.lines.push(piece.iter().map(px).collect());
                    area.draw(&PathElement::new(piece, line)).map_err(err)?;
                }
            }
            LineStyle::Dashed | LineStyle::Dotted => {
                for (a, b) in dashes(ctx, run, dash, gap) {
                    drawn.lines.push(vec![px(&a), px(&b)]);
                    area.draw(&PathElement::new(vec![a, b], line))
                        .map_err(err)?;
                }
            }
            LineStyle::Markers => {}
        }
    }
    if matches!(s.style, LineStyle::Markers | LineStyle::LineMarkers) {
        drawn.marker = Some(s.marker);
        for &p in s.points.iter().filter(|&&p| b.contains(p)) {
            let c = area.map_coordinate(&p);
            draw_marker(root, look, s.marker, c, s.color)?;
            drawn.marks.push((f64::from(c.0), f64::from(c.1)));
        }
    }
    Ok(drawn)
}

/// [`dashes`] as two-point polylines.
pub(crate) fn dash_pieces<DB: DrawingBackend>(
    ctx: &ChartContext<'_, DB, Coord>,
    run: &[(f64, f64)],
    dash: i32,
    gap: i32,
) -> Vec<Vec<(f64, f64)>> {
    dashes(ctx, run, dash, gap)
        .into_iter()
        .map(|(a, b)| vec![a, b])
        .collect()
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
