//! Small multiples: one contour panel per trajectory, on the same axes, with the other
//! trajectories drawn faintly behind it, for comparisons too crowded for one map.

use std::path::Path;

use plotters::coord::Shift;
use plotters::prelude::*;

use crate::axes::{self, plot_rect, Axis, Look, Reserve};
use crate::clip::{stroke_pieces, visible_runs};
use crate::contour::{draw_color_bar, draw_map, Grid, Surface, Trajectory};
use crate::drawing::{Drawing, DrawnSeries, EdgeMarker, Rect};
use crate::font::FAMILY;
use crate::line_chart::{bounds, to_image};
use crate::marks::{self, draw_marker, star_shape};
use crate::output::{self, Figure};
use crate::{Chart, LineStyle, PlotError, Series};

/// Draws one contour panel of `surface` per trajectory, `columns` panels a row, and writes
/// the image to `path` (`.png` or `.svg`). Every panel has the same axes and shows all
/// trajectories in faint grey with its own in colour, its start square, the minima and,
/// if it leaves the panel, an edge marker with its final point. Each panel is titled
/// with its trajectory's name, so no legend is needed. Returns what was drawn, one
/// [`Drawing::panels`] entry per trajectory. One colour bar right of the panels, as tall
/// as they are, reads the levels of all of them (they share the surface and the axes).
///
/// # Errors
/// As [`contour_trajectories`](crate::contour_trajectories), and
/// [`PlotError::InvalidInput`] for no trajectories or zero columns.
pub fn contour_small_multiples(
    path: impl AsRef<Path>,
    chart: &Chart,
    surface: &Surface<'_>,
    trajectories: &[Series],
    columns: usize,
) -> Result<Drawing, PlotError> {
    let path = path.as_ref();
    output::still_format(path)?;
    surface.validate(path)?;
    if trajectories.is_empty() || columns == 0 {
        return Err(PlotError::invalid(
            path,
            "small multiples need at least one trajectory and one column",
        ));
    }
    let figure = Panels {
        chart,
        surface,
        trajectories: Trajectory::from_series(trajectories),
        columns,
    };
    output::save(path, chart.size, &figure)
}

struct Panels<'a> {
    chart: &'a Chart,
    surface: &'a Surface<'a>,
    trajectories: Vec<Trajectory>,
    columns: usize,
}

impl Figure for Panels<'_> {
    fn draw<'r, DB: DrawingBackend + 'r>(
        &self,
        root: &'r DrawingArea<DB, Shift>,
        look: Look,
    ) -> Result<Drawing, String> {
        root.fill(&WHITE).map_err(|e| e.to_string())?;
        let (w, h) = root.dim_in_pixel();
        let title_h = if self.chart.title.is_empty() {
            0
        } else {
            (look.title * 1.6) as u32
        };
        if title_h > 0 {
            let style = TextStyle::from((FAMILY, look.title).into_font()).pos(
                plotters::style::text_anchor::Pos::new(
                    plotters::style::text_anchor::HPos::Center,
                    plotters::style::text_anchor::VPos::Center,
                ),
            );
            root.draw(&Text::new(
                self.chart.title.clone(),
                (w as i32 / 2, title_h as i32 / 2),
                style,
            ))
            .map_err(|e| e.to_string())?;
        }
        // Room for the shared colour bar and its labels on the right.
        let bar_room = look.px(92.0).max(0) as u32;
        let body = root.margin(title_h, 0, 0, bar_room);
        let rows = self.trajectories.len().div_ceil(self.columns);
        let cells = body.split_evenly((rows, self.columns));
        let zoom = look.zoom.round().max(1.0) as u32;
        // Text sized for the panel, not the image, but never below legibility.
        let (cw, ch) = cells.first().map_or((1, 1), |c| c.dim_in_pixel());
        let panel_scale =
            (f64::from(cw) / look.zoom / 900.0).min(f64::from(ch) / look.zoom / 600.0);
        let base = Look::scaled((panel_scale * 1.7).clamp(0.55, 1.0), look.vector, zoom);
        let x = Axis::linear(self.surface.x_range.0, self.surface.x_range.1);
        let y = Axis::linear(self.surface.y_range.0, self.surface.y_range.1);
        let b = bounds(&x, &y);
        let mut panels = Vec::new();
        let mut levels: Option<Grid> = None;
        let mut span: Option<Rect> = None;
        for (k, (cell, own)) in cells.iter().zip(&self.trajectories).enumerate() {
            // A long name gets a smaller title rather than running into its neighbours.
            let mut plook = base;
            let fit = 0.92 * f64::from(cw) / (own.name.chars().count().max(1) as f64 * 0.58);
            plook.title = plook.title.min(fit);
            let chart = Chart {
                title: own.name.clone(),
                x_label: String::new(),
                y_label: String::new(),
                size: self.chart.size,
            };
            let mut ctx = axes::build(cell, &chart, &plook, &x, &y, Reserve::default())?;
            let grid = draw_map(
                &mut ctx,
                &plook,
                &chart,
                self.surface,
                std::slice::from_ref(own),
                &x,
                &y,
            )?;
            let area = ctx.plotting_area().clone();
            let px = |p: &(f64, f64)| {
                let (u, v) = area.map_coordinate(p);
                (f64::from(u), f64::from(v))
            };
            let faint =
                ShapeStyle::from(RGBColor(60, 60, 60).mix(0.3)).stroke_width(plook.stroke(1.0));
            for (j, other) in self.trajectories.iter().enumerate() {
                if j == k {
                    continue;
                }
                for run in visible_runs(&other.points, b) {
                    for piece in stroke_pieces(plook.vector, &run, |p| area.map_coordinate(p)) {
                        area.draw(&PathElement::new(piece, faint))
                            .map_err(|e| e.to_string())?;
                    }
                }
            }
            let mut drawn = DrawnSeries {
                name: own.name.clone(),
                color: (own.color.0, own.color.1, own.color.2),
                style: LineStyle::Solid,
                marker: Some(own.marker),
                lines: Vec::new(),
                marks: Vec::new(),
                leaves_frame: false,
                diverged: false,
            };
            let line = ShapeStyle::from(own.color).stroke_width(plook.line);
            for run in visible_runs(&own.points, b) {
                for piece in stroke_pieces(plook.vector, &run, |p| area.map_coordinate(p)) {
                    drawn.lines.push(piece.iter().map(px).collect());
                    area.draw(&PathElement::new(piece, line))
                        .map_err(|e| e.to_string())?;
                }
            }
            let every = own.points.len().div_ceil(40).max(1);
            for (i, &p) in own.points.iter().enumerate() {
                if i > 0 && i % every == 0 && b.contains(p) {
                    let c = area.map_coordinate(&p);
                    draw_marker(root, &plook, own.marker, c, own.color)?;
                    drawn.marks.push((f64::from(c.0), f64::from(c.1)));
                }
            }
            let r = plook.px(9.0).max(4);
            for &m in self.surface.minima.iter().filter(|&&m| b.contains(m)) {
                let (fill, rim) = star_shape(r);
                let star = EmptyElement::at(m)
                    + Polygon::new(fill, ShapeStyle::from(BLACK).filled())
                    + PathElement::new(
                        rim,
                        ShapeStyle::from(WHITE).stroke_width(plook.stroke(1.0)),
                    );
                area.draw(&star).map_err(|e| e.to_string())?;
            }
            let plot = plot_rect(&ctx);
            levels.get_or_insert(grid);
            span = Some(match span {
                None => plot,
                Some(s) => Rect::new(
                    s.left.min(plot.left),
                    s.top.min(plot.top),
                    s.right.max(plot.right),
                    s.bottom.max(plot.bottom),
                ),
            });
            let mut edges = Vec::new();
            if let Some(e) = marks::exit(&own.points, b) {
                drawn.leaves_frame = true;
                let label = marks::final_point_label(&e);
                let tip = area.map_coordinate(&e.at);
                marks::draw_edge_marker(
                    root,
                    &plook,
                    plot,
                    (e.side, tip),
                    (own.color, &label),
                    &mut Vec::new(),
                )?;
                edges.push(EdgeMarker {
                    series: 0,
                    at: plook.image_px(tip),
                    label,
                });
            }
            panels.push(Drawing {
                width: (f64::from(w) / look.zoom) as u32,
                height: (f64::from(h) / look.zoom) as u32,
                plot_area: Some(plook.image_rect(plot)),
                series: vec![to_image(drawn, &plook)],
                legend: None,
                edge_markers: edges,
                color_bar: None,
                panels: Vec::new(),
            });
        }
        let color_bar = match (levels, span) {
            (Some(grid), Some(span)) => {
                // The bar's left edge sits a gap right of `plot.right`: the panels' edge.
                let panels_right = f64::from(w) - f64::from(bar_room);
                let edge = Rect::new(span.left, span.top, panels_right, span.bottom);
                Some(look.image_rect(draw_color_bar(root, &look, edge, &grid, self.surface)?))
            }
            _ => None,
        };
        Ok(Drawing {
            width: (f64::from(w) / look.zoom) as u32,
            height: (f64::from(h) / look.zoom) as u32,
            panels,
            color_bar,
            ..Drawing::default()
        })
    }
}
