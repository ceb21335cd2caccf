//! Data points with fitted lines.

use std::path::Path;

use plotters::coord::Shift;
use plotters::prelude::*;

use crate::axes::{self, Axis, Look};
use crate::clip::visible_runs;
use crate::line_chart::{bounds, plot_pixels};
use crate::output::{self, Figure};
use crate::palette;
use crate::{Chart, PlotError};

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
/// with a non-finite slope or intercept, are left out.
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
) -> Result<(), PlotError> {
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
    ) -> Result<(), String> {
        let mut ctx = axes::build(root, self.chart, &look, &self.x, &self.y)?;
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
        .map_err(|e| e.to_string())?
        .label(self.points_name)
        .legend(move |(px, py)| {
            EmptyElement::at((px, py))
                + Circle::new((look.px(14.0), 0), radius, fill)
                + Circle::new((look.px(14.0), 0), radius, edge)
        });
        let mut fractions = Vec::new();
        axes::sample_fractions(
            std::slice::from_ref(&self.points),
            &self.x,
            &self.y,
            &mut fractions,
        );
        let b = bounds(&self.x, &self.y);
        let seg = look.px(28.0);
        for (i, line) in self.lines.iter().enumerate() {
            let style = ShapeStyle::from(palette::color(i)).stroke_width(look.line + 1);
            let at = |x: f64| (x, line.slope * x + line.intercept);
            let runs = visible_runs(&[at(self.x.lo), at(self.x.hi)], b);
            ctx.draw_series(runs.iter().map(|r| PathElement::new(r.clone(), style)))
                .map_err(|e| e.to_string())?
                .label(line.name.as_str())
                .legend(move |(px, py)| PathElement::new(vec![(px, py), (px + seg, py)], style));
            axes::sample_fractions(&runs, &self.x, &self.y, &mut fractions);
        }
        let widest = self
            .lines
            .iter()
            .map(|l| l.name.chars().count())
            .chain(std::iter::once(self.points_name.chars().count()))
            .max()
            .unwrap_or(0);
        let (corner, _) = axes::legend_corner(
            &fractions,
            self.lines.len() + 1,
            widest,
            &look,
            plot_pixels(&ctx),
        );
        axes::draw_legend(&mut ctx, &look, corner)
    }
}
