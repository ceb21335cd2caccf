//! 1-D functions with the iterates of optimizers on them.

use std::path::Path;

use plotters::coord::Shift;
use plotters::prelude::*;

use crate::axes::{self, plot_rect, Axis, Look, Reserve};
use crate::clip::{stroke_pieces, visible_runs};
use crate::drawing::{Drawing, DrawnSeries, EdgeMarker};
use crate::font::FAMILY;
use crate::legend::{Entry, Legend, Sample};
use crate::line_chart::bounds;
use crate::marks::{self, short_number};
use crate::output::{self, Figure};
use crate::palette;
use crate::{Chart, LineStyle, Marker, PlotError};

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
/// and last always). Iterates outside `x_range`, or where `f` is not finite, are not
/// marked; an optimizer whose iterates leave the range gets a triangle at the border,
/// with its final `x` beside it. Returns what was drawn.
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
) -> Result<Drawing, PlotError> {
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
    let paths: Vec<Vec<(f64, f64)>> = iterates
        .iter()
        .map(|it| it.xs.iter().map(|&x| (x, f(x))).collect())
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
        paths,
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
    /// Per optimizer: every iterate `(x, f(x))`, for finding where it leaves the frame.
    paths: Vec<Vec<(f64, f64)>>,
    /// Per optimizer: (iteration number, point) of the drawable iterates.
    marked: Vec<Vec<(usize, (f64, f64))>>,
    names: Vec<(String, RGBColor)>,
}

impl Figure for Function1dFigure<'_> {
    fn draw<'r, DB: DrawingBackend + 'r>(
        &self,
        root: &'r DrawingArea<DB, Shift>,
        look: Look,
    ) -> Result<Drawing, String> {
        let curve_color = RGBColor(60, 60, 60);
        let mut entries = vec![Entry::new(
            "f(x)",
            Sample::Line {
                color: curve_color,
                style: LineStyle::Solid,
                marker: None,
            },
        )];
        entries.extend(
            self.names
                .iter()
                .map(|(n, c)| Entry::new(n.clone(), Sample::FadingDots(*c))),
        );
        let mut legend = Legend::new(root, &look, entries, None);
        let ctx = axes::build(
            root,
            self.chart,
            &look,
            &self.x,
            &self.y,
            Reserve::default(),
        )?;
        let b = bounds(&self.x, &self.y);
        let px = |p: &(f64, f64)| {
            let (u, v) = ctx.backend_coord(p);
            (f64::from(u), f64::from(v))
        };
        let mut lines: Vec<Vec<(f64, f64)>> = visible_runs(&self.curve, b)
            .iter()
            .map(|r| r.iter().map(px).collect())
            .collect();
        let mut points = Vec::new();
        for m in &self.marked {
            let path: Vec<(f64, f64)> = m.iter().map(|(_, p)| px(p)).collect();
            points.extend(path.iter().copied());
            lines.push(path);
        }
        points.extend(marks::exit_footprints(
            self.paths.iter().map(Vec::as_slice),
            b,
            |p| ctx.backend_coord(p),
            &look,
        ));
        let image_w = root.dim_in_pixel().0 as i32;
        let (placement, reserve) =
            legend.choose(plot_rect(&ctx), image_w, &lines, &points, &look, 0);
        let mut ctx = if reserve == Reserve::default() {
            ctx
        } else {
            axes::build(root, self.chart, &look, &self.x, &self.y, reserve)?
        };
        axes::draw_mesh(&mut ctx, self.chart, &look, &self.x, &self.y, true)?;
        let curve_style = ShapeStyle::from(curve_color).stroke_width(look.line);
        let runs = visible_runs(&self.curve, b);
        let area = ctx.plotting_area().clone();
        let to_px = |p: &(f64, f64)| {
            let (u, v) = area.map_coordinate(p);
            (f64::from(u), f64::from(v))
        };
        let pieces: Vec<Vec<(f64, f64)>> = runs
            .iter()
            .flat_map(|r| stroke_pieces(look.vector, r, |p| area.map_coordinate(p)))
            .collect();
        let mut drawn = vec![DrawnSeries {
            name: "f(x)".into(),
            color: (curve_color.0, curve_color.1, curve_color.2),
            style: LineStyle::Solid,
            marker: None,
            lines: pieces
                .iter()
                .map(|p| p.iter().map(to_px).collect())
                .collect(),
            marks: Vec::new(),
            leaves_frame: false,
            diverged: false,
        }];
        ctx.draw_series(
            pieces
                .into_iter()
                .map(|piece| PathElement::new(piece, curve_style)),
        )
        .map_err(|e| e.to_string())?;

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
            let mut series = DrawnSeries {
                name: name.clone(),
                color: (color.0, color.1, color.2),
                style: LineStyle::Markers,
                marker: Some(Marker::Circle),
                lines: vec![path.iter().map(to_px).collect()],
                marks: Vec::new(),
                leaves_frame: false,
                diverged: false,
            };
            let every = points.len().div_ceil(60).max(1);
            let last = points.len().saturating_sub(1);
            let shown: Vec<&(usize, (f64, f64))> = points
                .iter()
                .enumerate()
                .filter(|(i, _)| i % every == 0 || *i == last)
                .map(|(_, p)| p)
                .collect();
            let n = shown.len().max(2) as f64;
            let mut previous: Option<(i32, i32)> = None;
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
                series.marks.push((f64::from(px), f64::from(py)));
                // An iterate that has hardly moved (converged) gets no number of its own.
                let moved = previous.is_none_or(|(qx, qy)| {
                    (px - qx).pow(2) + (py - qy).pow(2) >= (2 * radius).pow(2)
                });
                previous = Some((px, py));
                if !moved {
                    continue;
                }
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
            drawn.push(series);
        }
        let plot = plot_rect(&ctx);
        let mut taken = Vec::new();
        let mut edge_markers = Vec::new();
        for (i, (path, (_, color))) in self.paths.iter().zip(&self.names).enumerate() {
            let Some(e) = marks::exit(path, b) else {
                continue;
            };
            drawn[i + 1].leaves_frame = true;
            let label = if e.ends_outside {
                format!("x = {}", short_number(e.last.0))
            } else {
                String::new()
            };
            let tip = ctx.backend_coord(&e.at);
            marks::draw_edge_marker(
                root,
                &look,
                plot,
                (e.side, tip),
                (*color, &label),
                &mut taken,
            )?;
            edge_markers.push(EdgeMarker {
                series: i + 1,
                at: look.image_px(tip),
                label,
            });
        }
        let at = legend.origin(placement, plot, &look, 0);
        let legend_rect = legend.draw(root, &look, at, None)?;
        let (w, h) = root.dim_in_pixel();
        Ok(Drawing {
            width: (f64::from(w) / look.zoom) as u32,
            height: (f64::from(h) / look.zoom) as u32,
            plot_area: Some(look.image_rect(plot)),
            series: drawn
                .into_iter()
                .map(|d| crate::line_chart::to_image(d, &look))
                .collect(),
            legend: Some(look.image_rect(legend_rect)),
            edge_markers,
            color_bar: None,
            panels: Vec::new(),
        })
    }
}
