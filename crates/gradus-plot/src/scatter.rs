//! Data points with fitted lines.

use std::path::Path;

use plotters::coord::Shift;
use plotters::prelude::*;

use crate::axes::{self, plot_rect, Axis, Look, Reserve};
use crate::clip::visible_runs;
use crate::drawing::{Drawing, DrawnSeries};
use crate::legend::{Entry, Legend, Sample};
use crate::line_chart::bounds;
use crate::output::{self, Figure};
use crate::palette;
use crate::{Chart, LineStyle, Marker, PlotError};

/// A fitted line `y = slope·x + intercept`.
#[derive(Clone, Debug, PartialEq)]
pub struct FittedLine {
    /// Name shown in the legend.
    pub name: String,
    /// `w` in `y = w·x + b`.
    pub slope: f64,
    /// `b` in `y = w·x + b`.
    pub intercept: f64,
}

impl FittedLine {
    /// The line `y = slope·x + intercept` named `name`.
    pub fn new(name: impl Into<String>, slope: f64, intercept: f64) -> Self {
        FittedLine {
            name: name.into(),
            slope,
            intercept,
        }
    }
}

/// Draws `points` as a scatter (grey dots, legend entry `points_name`) with each of
/// `lines` across the chart in its own [`PALETTE`](crate::PALETTE) colour, and writes it
/// to `path` (`.png` or `.svg`).
///
/// The axes fit the points; lines are clipped to them. Non-finite points, and lines
/// with a non-finite slope or intercept, are left out. The legend goes where it covers
/// no line (points may show through its edges), else below the chart. Returns what was
/// drawn; the data points are its first series.
///
/// # Errors
/// [`PlotError::InvalidInput`] if no point is finite or the size is out of range;
/// otherwise see [`PlotError`].
pub fn scatter_with_lines(
    path: impl AsRef<Path>,
    chart: &Chart,
    points: &[(f64, f64)],
    points_name: &str,
    lines: &[FittedLine],
) -> Result<Drawing, PlotError> {
    let path = path.as_ref();
    output::still_format(path)?;
    let finite: Vec<(f64, f64)> = points
        .iter()
        .copied()
        .filter(|p| p.0.is_finite() && p.1.is_finite())
        .collect();
    let (Some((x0, x1)), Some((y0, y1))) = (
        axes::padded_range(finite.iter().map(|p| p.0), 0.04),
        axes::padded_range(finite.iter().map(|p| p.1), 0.06),
    ) else {
        return Err(PlotError::invalid(path, "no data point is finite"));
    };
    let figure = ScatterFigure {
        chart,
        x: Axis::linear(x0, x1),
        y: Axis::linear(y0, y1),
        points: finite,
        points_name,
        lines,
    };
    output::save(path, chart.size, &figure)
}

struct ScatterFigure<'a> {
    chart: &'a Chart,
    x: Axis,
    y: Axis,
    points: Vec<(f64, f64)>,
    points_name: &'a str,
    lines: &'a [FittedLine],
}

impl Figure for ScatterFigure<'_> {
    fn draw<'r, DB: DrawingBackend + 'r>(
        &self,
        root: &'r DrawingArea<DB, Shift>,
        look: Look,
    ) -> Result<Drawing, String> {
        let mut entries = vec![Entry::new(self.points_name, Sample::DataPoint)];
        let styles: Vec<(RGBColor, LineStyle)> = (0..self.lines.len())
            .map(|i| {
                let n = crate::PALETTE.len();
                (
                    palette::color(i),
                    LineStyle::CYCLE[(i / n) % LineStyle::CYCLE.len()],
                )
            })
            .collect();
        for (line, &(color, style)) in self.lines.iter().zip(&styles) {
            entries.push(Entry::new(
                line.name.clone(),
                Sample::Line {
                    color,
                    style,
                    marker: None,
                },
            ));
        }
        let mut legend = Legend::new(root, &look, entries, None);
        let b = bounds(&self.x, &self.y);
        let ends = |line: &FittedLine| {
            let at = |x: f64| (x, line.slope * x + line.intercept);
            visible_runs(&[at(self.x.lo), at(self.x.hi)], b)
        };
        let ctx = axes::build(
            root,
            self.chart,
            &look,
            &self.x,
            &self.y,
            Reserve::default(),
        )?;
        let px = |p: &(f64, f64)| {
            let (u, v) = ctx.backend_coord(p);
            (f64::from(u), f64::from(v))
        };
        let fitted: Vec<Vec<(f64, f64)>> = self
            .lines
            .iter()
            .flat_map(&ends)
            .map(|r| r.iter().map(px).collect())
            .collect();
        let image_w = root.dim_in_pixel().0 as i32;
        // Only the lines must stay clear: the box is translucent, so points show through.
        let (placement, reserve) = legend.choose(plot_rect(&ctx), image_w, &fitted, &[], &look, 0);
        let mut ctx = if reserve == Reserve::default() {
            ctx
        } else {
            axes::build(root, self.chart, &look, &self.x, &self.y, reserve)?
        };
        axes::draw_mesh(&mut ctx, self.chart, &look, &self.x, &self.y, true)?;
        let radius = look.px(4.0).max(2);
        let grey = RGBColor(90, 90, 90);
        let fill = ShapeStyle::from(grey.mix(0.35)).filled();
        let edge = ShapeStyle::from(grey.mix(0.8)).stroke_width(look.stroke(1.0));
        ctx.draw_series(self.points.iter().map(|&p| {
            EmptyElement::at(p)
                + Circle::new((0, 0), radius, fill)
                + Circle::new((0, 0), radius, edge)
        }))
        .map_err(|e| e.to_string())?;
        let area = ctx.plotting_area().clone();
        let to_px = |p: &(f64, f64)| {
            let (u, v) = area.map_coordinate(p);
            (f64::from(u) / look.zoom, f64::from(v) / look.zoom)
        };
        let mut drawn = vec![DrawnSeries {
            name: self.points_name.to_string(),
            color: (grey.0, grey.1, grey.2),
            style: LineStyle::Markers,
            marker: Some(Marker::Circle),
            lines: Vec::new(),
            marks: Vec::new(),
            leaves_frame: false,
            diverged: false,
        }];
        for (line, &(color, style)) in self.lines.iter().zip(&styles) {
            let stroke = ShapeStyle::from(color).stroke_width(look.line + 1);
            let runs = ends(line);
            let pieces: Vec<Vec<(f64, f64)>> = match style {
                LineStyle::Solid => runs.clone(),
                _ => runs
                    .iter()
                    .flat_map(|r| {
                        crate::line_chart::dash_pieces(&ctx, r, look.px(9.0), look.px(5.0))
                    })
                    .collect(),
            };
            for piece in &pieces {
                area.draw(&PathElement::new(piece.clone(), stroke))
                    .map_err(|e| e.to_string())?;
            }
            drawn.push(DrawnSeries {
                name: line.name.clone(),
                color: (color.0, color.1, color.2),
                style,
                marker: None,
                lines: runs.iter().map(|r| r.iter().map(to_px).collect()).collect(),
                marks: Vec::new(),
                leaves_frame: false,
                diverged: false,
            });
        }
        let plot = plot_rect(&ctx);
        let at = legend.origin(placement, plot, &look, 0);
        let legend_rect = legend.draw(root, &look, at, None)?;
        let (w, h) = root.dim_in_pixel();
        Ok(Drawing {
            width: (f64::from(w) / look.zoom) as u32,
            height: (f64::from(h) / look.zoom) as u32,
            plot_area: Some(look.image_rect(plot)),
            series: drawn,
            legend: Some(look.image_rect(legend_rect)),
            edge_markers: Vec::new(),
            color_bar: None,
            panels: Vec::new(),
        })
    }
}
