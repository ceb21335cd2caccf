//! 1-D functions with the iterates of optimizers on them.

use std::path::Path;

use plotters::coord::Shift;
use plotters::prelude::*;

use crate::axes::{self, Axis, Look};
use crate::clip::{stroke_pieces, visible_runs};
use crate::font::FAMILY;
use crate::line_chart::{bounds, plot_pixels};
use crate::output::{self, Figure};
use crate::palette;
use crate::{Chart, PlotError};

/// The iterates `x_0, x_1, …` of one optimizer on a 1-D function.
#[derive(Clone, Debug, PartialEq)]
pub struct Iterates {
    /// Name shown in the legend.
    pub name: String,
    /// The iterates in order, starting with the initial point.
    pub xs: Vec<f64>,
    /// Index into [`PALETTE`](crate::PALETTE); by default the position in the slice.
    pub color: Option<usize>,
}

impl Iterates {
    /// Iterates `xs` named `name`.
    pub fn new(name: impl Into<String>, xs: Vec<f64>) -> Self {
        Iterates {
            name: name.into(),
            xs,
            color: None,
        }
    }
}

/// Draws the curve of `f` over `x_range` with each optimizer's iterates marked at
/// `(x_k, f(x_k))`, and writes it to `path` (`.png` or `.svg`).
///
/// Order is shown two ways: markers fade from pale (early) to solid (late), and
/// iteration numbers are written beside the markers wherever they do not crowd each
/// other (so clustered late iterates of a converged run share the first number). Thin
/// lines join successive iterates. Beyond 60 iterates only every k-th is marked (first
/// and last always). Iterates outside `x_range`, or where `f` is not finite, are left out.
///
/// # Errors
/// [`PlotError::InvalidInput`] if `x_range` is not finite with min < max, `f` has no
/// finite value on it, or the size is out of range; otherwise see [`PlotError`].
pub fn function_1d(
    path: impl AsRef<Path>,
    chart: &Chart,
    f: &dyn Fn(f64) -> f64,
    x_range: (f64, f64),
    iterates: &[Iterates],
) -> Result<(), PlotError> {
    let path = path.as_ref();
    output::still_format(path)?;
    let (lo, hi) = x_range;
    if !(lo.is_finite() && hi.is_finite() && lo < hi && (hi - lo).is_finite()) {
        return Err(PlotError::invalid(
            path,
            format!("x range ({lo}, {hi}) must be finite with min < max"),
        ));
    }
    const SAMPLES: usize = 600;
    let curve: Vec<(f64, f64)> = (0..=SAMPLES)
        .map(|i| {
            let x = lo + (hi - lo) * i as f64 / SAMPLES as f64;
            (x, f(x))
        })
        .collect();
    let marked: Vec<Vec<(usize, (f64, f64))>> = iterates
        .iter()
        .map(|it| {
            it.xs
                .iter()
                .enumerate()
                .map(|(k, &x)| (k, (x, f(x))))
                .filter(|(_, (x, y))| x.is_finite() && y.is_finite() && *x >= lo && *x <= hi)
                .collect()
        })
        .collect();
    let ys = curve
        .iter()
        .map(|p| p.1)
        .chain(marked.iter().flatten().map(|(_, p)| p.1));
    let Some((y0, y1)) = axes::padded_range(ys, 0.08) else {
        return Err(PlotError::invalid(
            path,
            format!("the function has no finite value on [{lo}, {hi}]"),
        ));
    };
    let figure = Function1dFigure {
        chart,
        x: Axis::linear(lo, hi),
        y: Axis::linear(y0, y1),
        curve,
        marked,
        names: iterates
            .iter()
            .enumerate()
            .map(|(i, it)| (it.name.clone(), palette::color(it.color.unwrap_or(i))))
            .collect(),
    };
    output::save(path, chart.size, &figure)
}

struct Function1dFigure<'a> {
    chart: &'a Chart,
    x: Axis,
    y: Axis,
    curve: Vec<(f64, f64)>,
    /// Per optimizer: (iteration number, point) of the drawable iterates.
    marked: Vec<Vec<(usize, (f64, f64))>>,
    names: Vec<(String, RGBColor)>,
}

impl Figure for Function1dFigure<'_> {
    fn draw<'r, DB: DrawingBackend + 'r>(
        &self,
        root: &'r DrawingArea<DB, Shift>,
        look: Look,
    ) -> Result<(), String> {
        let mut ctx = axes::build(root, self.chart, &look, &self.x, &self.y)?;
        axes::draw_mesh(&mut ctx, self.chart, &look, &self.x, &self.y, true)?;
        let b = bounds(&self.x, &self.y);
        let seg = look.px(28.0);
        let curve_style = ShapeStyle::from(RGBColor(60, 60, 60)).stroke_width(look.line);
        let runs = visible_runs(&self.curve, b);
        let area = ctx.plotting_area().clone();
        let pieces = runs
            .iter()
            .flat_map(|r| stroke_pieces(look.vector, r, |p| area.map_coordinate(p)));
        ctx.draw_series(pieces.map(|piece| PathElement::new(piece, curve_style)))
            .map_err(|e| e.to_string())?
            .label("f(x)")
            .legend(move |(px, py)| PathElement::new(vec![(px, py), (px + seg, py)], curve_style));
        let mut fractions = Vec::new();
        axes::sample_fractions(&runs, &self.x, &self.y, &mut fractions);

        let radius = look.px(5.0).max(3);
        // Pixel boxes of the iteration numbers written so far, to keep them apart.
        let mut labels: Vec<(i32, i32, i32, i32)> = Vec::new();
        let label_font = look.tick * 0.85;
        for (points, (name, color)) in self.marked.iter().zip(&self.names) {
            let color = *color;
            let joins = ShapeStyle::from(color.mix(0.45)).stroke_width(look.stroke(1.0));
            let path: Vec<(f64, f64)> = points.iter().map(|(_, p)| *p).collect();
            ctx.draw_series(std::iter::once(PathElement::new(path.clone(), joins)))
                .map_err(|e| e.to_string())?;
            axes::sample_fractions(&[path], &self.x, &self.y, &mut fractions);
            let every = points.len().div_ceil(60).max(1);
            let last = points.len().saturating_sub(1);
            let shown: Vec<&(usize, (f64, f64))> = points
                .iter()
                .enumerate()
                .filter(|(i, _)| i % every == 0 || *i == last)
                .map(|(_, p)| p)
                .collect();
            let n = shown.len().max(2) as f64;
            for (order, &&(k, p)) in shown.iter().enumerate() {
                let alpha = 0.25 + 0.75 * order as f64 / (n - 1.0);
                let mark = EmptyElement::at(p)
                    + Circle::new((0, 0), radius, ShapeStyle::from(color.mix(alpha)).filled())
                    + Circle::new(
                        (0, 0),
                        radius,
                        ShapeStyle::from(color).stroke_width(look.stroke(1.0)),
                    );
                area.draw(&mark).map_err(|e| e.to_string())?;
                let (px, py) = ctx.backend_coord(&p);
                let number = k.to_string();
                let (dx, dy) = (radius + look.px(1.0), -radius - look.px(14.0));
                let width = (number.len() as f64 * label_font * 0.62).ceil() as i32;
                let height = label_font.ceil() as i32;
                let rect = (px + dx, py + dy, px + dx + width, py + dy + height);
                let pad = look.px(3.0);
                let crowded = labels.iter().any(|r| {
                    rect.0 < r.2 + pad
                        && r.0 < rect.2 + pad
                        && rect.1 < r.3 + pad
                        && r.1 < rect.3 + pad
                });
                if !crowded {
                    labels.push(rect);
                    let text = Text::new(
                        number,
                        (dx, dy),
                        (FAMILY, label_font).into_font().color(&color),
                    );
                    area.draw(&(EmptyElement::at(p) + text))
                        .map_err(|e| e.to_string())?;
                }
            }
            let dot = ShapeStyle::from(color).filled();
            ctx.draw_series(std::iter::empty::<Circle<(f64, f64), i32>>())
                .map_err(|e| e.to_string())?
                .label(name.as_str())
                .legend(move |(px, py)| {
                    EmptyElement::at((px, py))
                        + Circle::new(
                            (seg / 4, 0),
                            radius - look.px(1.0),
                            ShapeStyle::from(color.mix(0.3)).filled(),
                        )
                        + Circle::new((3 * seg / 4, 0), radius - look.px(1.0), dot)
                });
        }
        let widest = self
            .names
            .iter()
            .map(|(n, _)| n.chars().count())
            .max()
            .unwrap_or(0)
            .max(4);
        let (corner, _) = axes::legend_corner(
            &fractions,
            self.names.len() + 1,
            widest,
            &look,
            plot_pixels(&ctx),
        );
        axes::draw_legend(&mut ctx, &look, corner)
    }
}
