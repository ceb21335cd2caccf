//! Contour maps of 2-D functions with optimizer trajectories.

use std::path::Path;

use plotters::coord::Shift;
use plotters::prelude::*;

use crate::axes::{self, plot_rect, Axis, Coord, Look, Reserve};
use crate::clip::{stroke_pieces, visible_runs};
use crate::drawing::{Drawing, DrawnSeries, EdgeMarker, Rect};
use crate::font::FAMILY;
use crate::legend::{Entry, Legend, Sample};
use crate::line_chart::{bounds, to_image};
use crate::marks::{self, draw_marker, short_number, star_shape};
use crate::output::{self, Figure};
use crate::palette;
use crate::{Chart, LineStyle, Marker, PlotError, Series};

/// How function values are spread over the contour levels.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum ContourScale {
    /// Levels evenly spaced in `ln(1 + f − f_min)`, where `f_min` is the smallest value
    /// on the grid: valleys such as Rosenbrock's or Beale's keep many levels even though
    /// the function spans several orders of magnitude.
    #[default]
    Log,
    /// Levels evenly spaced in `f`.
    Linear,
}

/// A 2-D function to draw as a filled contour map, over `x_range` × `y_range`.
///
/// Points where `f` is not finite are drawn in the highest level's colour.
#[derive(Clone, Copy)]
pub struct Surface<'a> {
    /// The function.
    pub f: &'a dyn Fn(f64, f64) -> f64,
    /// Horizontal extent `(min, max)`, finite with min < max.
    pub x_range: (f64, f64),
    /// Vertical extent `(min, max)`, finite with min < max.
    pub y_range: (f64, f64),
    /// Known minima, each marked with a star.
    pub minima: &'a [(f64, f64)],
    /// Number of filled levels, 2 to 64; 14 by default.
    pub levels: usize,
    /// Spacing of the levels; logarithmic by default.
    pub scale: ContourScale,
}

impl<'a> Surface<'a> {
    /// `f` over `x_range` × `y_range` with 14 logarithmic levels and no minima marked.
    pub fn new(f: &'a dyn Fn(f64, f64) -> f64, x_range: (f64, f64), y_range: (f64, f64)) -> Self {
        Surface {
            f,
            x_range,
            y_range,
            minima: &[],
            levels: 14,
            scale: ContourScale::Log,
        }
    }

    /// The same surface with `minima` marked.
    pub fn with_minima(mut self, minima: &'a [(f64, f64)]) -> Self {
        self.minima = minima;
        self
    }

    /// The same surface with `levels` filled levels.
    pub fn with_levels(mut self, levels: usize) -> Self {
        self.levels = levels;
        self
    }

    /// The same surface with levels spaced by `scale`.
    pub fn with_scale(mut self, scale: ContourScale) -> Self {
        self.scale = scale;
        self
    }

    pub(crate) fn validate(&self, path: &Path) -> Result<(), PlotError> {
        for (name, (lo, hi)) in [("x", self.x_range), ("y", self.y_range)] {
            if !(lo.is_finite() && hi.is_finite() && lo < hi && (hi - lo).is_finite()) {
                return Err(PlotError::invalid(
                    path,
                    format!("{name} range ({lo}, {hi}) must be finite with min < max"),
                ));
            }
        }
        if !(2..=64).contains(&self.levels) {
            return Err(PlotError::invalid(
                path,
                format!("{} contour levels requested; expected 2 to 64", self.levels),
            ));
        }
        Ok(())
    }
}

/// Draws a filled contour map of `surface` with `trajectories` over it and writes it to
/// `path` (`.png` or `.svg`).
///
/// Each trajectory is a line through its iterates in its [`PALETTE`](crate::PALETTE)
/// colour, with a marker of its own shape ([`Series::marker`]) on each iterate (on every
/// k-th one beyond 80 iterates) and a square on its start point; its [`Series::style`]
/// is not used. Parts outside the box are clipped and non-finite points cut the line; a
/// trajectory that leaves the box gets a triangle at the border where it leaves, with
/// its final point beside it. The known minima are drawn as black stars, a colour bar
/// beside the map gives the function's values, and the legend (trajectories, "start",
/// "minimum") goes where no trajectory passes, or outside the map. Returns what was drawn.
///
/// # Errors
/// [`PlotError::InvalidInput`] for an empty or non-finite range, a level count outside
/// 2..=64, or a size out of range; otherwise see [`PlotError`].
pub fn contour_trajectories(
    path: impl AsRef<Path>,
    chart: &Chart,
    surface: &Surface<'_>,
    trajectories: &[Series],
) -> Result<Drawing, PlotError> {
    let path = path.as_ref();
    output::still_format(path)?;
    surface.validate(path)?;
    let figure = ContourFigure {
        chart,
        surface,
        trajectories: Trajectory::from_series(trajectories),
    };
    output::save(path, chart.size, &figure)
}

/// A trajectory ready to draw.
pub(crate) struct Trajectory {
    pub name: String,
    pub points: Vec<(f64, f64)>,
    pub color: RGBColor,
    pub marker: Marker,
}

impl Trajectory {
    pub fn from_series(series: &[Series]) -> Vec<Trajectory> {
        series
            .iter()
            .enumerate()
            .map(|(i, s)| {
                let (color, _, marker) = s.look(i);
                Trajectory {
                    name: s.name.clone(),
                    points: s.points.clone(),
                    color: palette::color(color),
                    marker,
                }
            })
            .collect()
    }
}

struct ContourFigure<'a> {
    chart: &'a Chart,
    surface: &'a Surface<'a>,
    trajectories: Vec<Trajectory>,
}

impl Figure for ContourFigure<'_> {
    fn draw<'r, DB: DrawingBackend + 'r>(
        &self,
        root: &'r DrawingArea<DB, Shift>,
        look: Look,
    ) -> Result<Drawing, String> {
        let map = ContourMap::draw_background(
            root,
            look,
            self.chart,
            self.surface,
            &self.trajectories,
            None,
        )?;
        let area = map.plotting_area(root);
        let drawn = map.draw_paths(root, &area, &self.trajectories, None)?;
        map.draw_minima(&area, self.surface.minima)?;
        let edges = map.draw_edges(root, &area, &self.trajectories, None)?;
        let legend = map.draw_legend(root, None)?;
        Ok(map.drawing(root, drawn, edges, legend))
    }
}

/// The static part of a contour chart, and where it sits on the image: enough to draw
/// trajectories over a background rendered once (see the GIF animation).
pub(crate) struct ContourMap {
    pub look: Look,
    pub x: Axis,
    pub y: Axis,
    /// The chart's coordinate mapping, to draw over the saved background exactly.
    pub coord: Coord,
    /// The plot area, backend pixels.
    pub plot: Rect,
    legend: Legend,
    legend_at: (i32, i32),
    color_bar: Rect,
}

impl ContourMap {
    /// Draws frame, filled levels, contour lines, colour bar and start points on `root`;
    /// chooses where the legend goes (drawn later by [`ContourMap::draw_legend`]).
    /// `running` is the widest text a legend label may grow to in an animation.
    pub fn draw_background<'a, DB: DrawingBackend + 'a>(
        root: &'a DrawingArea<DB, Shift>,
        look: Look,
        chart: &Chart,
        surface: &Surface<'_>,
        trajectories: &[Trajectory],
        running: Option<&str>,
    ) -> Result<ContourMap, String> {
        let x = Axis::linear(surface.x_range.0, surface.x_range.1);
        let y = Axis::linear(surface.y_range.0, surface.y_range.1);
        let bar_room = look.px(92.0);
        let mut entries: Vec<Entry> = trajectories
            .iter()
            .map(|t| {
                Entry::new(
                    t.name.clone(),
                    Sample::Line {
                        color: t.color,
                        style: LineStyle::Solid,
                        marker: Some(t.marker),
                    },
                )
            })
            .collect();
        if trajectories.iter().any(|t| !t.points.is_empty()) {
            entries.push(Entry::new("start", Sample::Start));
        }
        if !surface.minima.is_empty() {
            entries.push(Entry::new("minimum", Sample::Minimum));
        }
        let mut legend = Legend::new(root, &look, entries, running);
        let first = Reserve {
            right: bar_room,
            bottom: 0,
        };
        let ctx = axes::build(root, chart, &look, &x, &y, first)?;
        let b = bounds(&x, &y);
        let px = |p: &(f64, f64)| {
            let (u, v) = ctx.backend_coord(p);
            (f64::from(u), f64::from(v))
        };
        let lines: Vec<Vec<(f64, f64)>> = trajectories
            .iter()
            .flat_map(|t| visible_runs(&t.points, b))
            .map(|run| run.iter().map(px).collect())
            .collect();
        let mut points: Vec<(f64, f64)> = surface
            .minima
            .iter()
            .filter(|&&m| b.contains(m))
            .map(px)
            .collect();
        points.extend(marks::exit_footprints(
            trajectories.iter().map(|t| t.points.as_slice()),
            b,
            |p| ctx.backend_coord(p),
            &look,
        ));

        let image_w = root.dim_in_pixel().0 as i32;
        let (placement, reserve) =
            legend.choose(plot_rect(&ctx), image_w, &lines, &points, &look, bar_room);
        let mut ctx = if reserve == first {
            ctx
        } else {
            axes::build(root, chart, &look, &x, &y, reserve)?
        };
        let plot = plot_rect(&ctx);
        let grid = draw_map(&mut ctx, &look, chart, surface, trajectories, &x, &y)?;
        let color_bar = draw_color_bar(root, &look, plot, &grid, surface)?;
        let legend_at = legend.origin(placement, plot, &look, bar_room);
        Ok(ContourMap {
            look,
            x,
            y,
            coord: ctx.as_coord_spec().clone(),
            plot,
            legend,
            legend_at,
            color_bar,
        })
    }

    /// A drawing area on `root` whose coordinates are this map's data coordinates.
    pub fn plotting_area<DB: DrawingBackend>(
        &self,
        root: &DrawingArea<DB, Shift>,
    ) -> DrawingArea<DB, Coord> {
        root.apply_coord_spec(self.coord.clone())
    }

    /// Draws the trajectories, each cut after its first `upto` points if given, with a
    /// head dot on the last drawn point when `upto` is given. Returns what was drawn
    /// (backend pixels).
    pub fn draw_paths<DB: DrawingBackend>(
        &self,
        root: &DrawingArea<DB, Shift>,
        area: &DrawingArea<DB, Coord>,
        trajectories: &[Trajectory],
        upto: Option<usize>,
    ) -> Result<Vec<DrawnSeries>, String> {
        let b = bounds(&self.x, &self.y);
        let px = |p: &(f64, f64)| {
            let (x, y) = area.map_coordinate(p);
            (f64::from(x), f64::from(y))
        };
        let mut out = Vec::new();
        for t in trajectories {
            let n = upto.unwrap_or(t.points.len()).min(t.points.len());
            let shown = &t.points[..n];
            let mut drawn = DrawnSeries {
                name: t.name.clone(),
                color: (t.color.0, t.color.1, t.color.2),
                style: LineStyle::Solid,
                marker: Some(t.marker),
                lines: Vec::new(),
                marks: Vec::new(),
                leaves_frame: false,
                diverged: false,
            };
            let line = ShapeStyle::from(t.color).stroke_width(self.look.line);
            for run in visible_runs(shown, b) {
                for piece in stroke_pieces(self.look.vector, &run, |p| area.map_coordinate(p)) {
                    drawn.lines.push(piece.iter().map(px).collect());
                    area.draw(&PathElement::new(piece, line))
                        .map_err(|e| e.to_string())?;
                }
            }
            let every = t.points.len().div_ceil(80).max(1);
            for (i, &p) in shown.iter().enumerate() {
                if i > 0 && i % every == 0 && b.contains(p) {
                    let c = area.map_coordinate(&p);
                    draw_marker(root, &self.look, t.marker, c, t.color)?;
                    drawn.marks.push((f64::from(c.0), f64::from(c.1)));
                }
            }
            if upto.is_some() {
                // The head marks where the run is now; once it has left the box, the edge
                // marker says so instead of a head parked at the border.
                if let Some(&p) = shown.last().filter(|p| b.contains(**p)) {
                    let head = self.look.px(6.0).max(3);
                    let dot = ShapeStyle::from(t.color).filled();
                    area.draw(&Circle::new(p, head, dot))
                        .map_err(|e| e.to_string())?;
                    area.draw(&Circle::new(
                        p,
                        head,
                        ShapeStyle::from(BLACK).stroke_width(self.look.stroke(2.0)),
                    ))
                    .map_err(|e| e.to_string())?;
                }
            }
            out.push(drawn);
        }
        Ok(out)
    }

    /// Draws an edge mark for each trajectory (cut after `upto` points) that leaves the
    /// box, labelled with its final point when it ends outside.
    pub fn draw_edges<DB: DrawingBackend>(
        &self,
        root: &DrawingArea<DB, Shift>,
        area: &DrawingArea<DB, Coord>,
        trajectories: &[Trajectory],
        upto: Option<usize>,
    ) -> Result<Vec<EdgeMarker>, String> {
        let b = bounds(&self.x, &self.y);
        let mut taken = Vec::new();
        let mut out = Vec::new();
        for (i, t) in trajectories.iter().enumerate() {
            let n = upto.unwrap_or(t.points.len()).min(t.points.len());
            let Some(e) = marks::exit(&t.points[..n], b) else {
                continue;
            };
            let label = marks::final_point_label(&e);
            let tip = area.map_coordinate(&e.at);
            marks::draw_edge_marker(
                root,
                &self.look,
                self.plot,
                (e.side, tip),
                (t.color, &label),
                &mut taken,
            )?;
            out.push(EdgeMarker {
                series: i,
                at: self.look.image_px(tip),
                label,
            });
        }
        Ok(out)
    }

    /// Draws the legend, with `labels` instead of the trajectories' names if given.
    pub fn draw_legend<DB: DrawingBackend>(
        &self,
        root: &DrawingArea<DB, Shift>,
        labels: Option<&[String]>,
    ) -> Result<Rect, String> {
        self.legend.draw(root, &self.look, self.legend_at, labels)
    }

    /// The drawing record of a finished picture.
    pub fn drawing<DB: DrawingBackend>(
        &self,
        root: &DrawingArea<DB, Shift>,
        drawn: Vec<DrawnSeries>,
        mut edges: Vec<EdgeMarker>,
        legend: Rect,
    ) -> Drawing {
        let mut series: Vec<DrawnSeries> =
            drawn.into_iter().map(|d| to_image(d, &self.look)).collect();
        for e in &mut edges {
            if let Some(s) = series.get_mut(e.series) {
                s.leaves_frame = true;
            }
        }
        let (w, h) = root.dim_in_pixel();
        Drawing {
            width: (f64::from(w) / self.look.zoom) as u32,
            height: (f64::from(h) / self.look.zoom) as u32,
            plot_area: Some(self.look.image_rect(self.plot)),
            series,
            legend: Some(self.look.image_rect(legend)),
            edge_markers: edges,
            color_bar: Some(self.look.image_rect(self.color_bar)),
            panels: Vec::new(),
        }
    }

    /// Draws a star on each minimum inside the box.
    pub fn draw_minima<DB: DrawingBackend>(
        &self,
        area: &DrawingArea<DB, Coord>,
        minima: &[(f64, f64)],
    ) -> Result<(), String> {
        let b = bounds(&self.x, &self.y);
        let r = self.look.px(9.0).max(5);
        for &m in minima.iter().filter(|&&m| b.contains(m)) {
            let (fill, rim) = star_shape(r);
            let star = EmptyElement::at(m)
                + Polygon::new(fill, ShapeStyle::from(BLACK).filled())
                + PathElement::new(
                    rim,
                    ShapeStyle::from(WHITE).stroke_width(self.look.stroke(1.0)),
                );
            area.draw(&star).map_err(|e| e.to_string())?;
        }
        Ok(())
    }
}

/// Draws the filled levels, contour lines, axes and start squares of `surface` on `ctx`;
/// returns the evaluated grid (for the colour bar).
pub(crate) fn draw_map<'a, DB: DrawingBackend + 'a>(
    ctx: &mut ChartContext<'a, DB, Coord>,
    look: &Look,
    chart: &Chart,
    surface: &Surface<'_>,
    trajectories: &[Trajectory],
    x: &Axis,
    y: &Axis,
) -> Result<Grid, String> {
    let plot = plot_rect(ctx);
    let (w, h) = (plot.width(), plot.height());
    // About one grid cell per 3 pixels: smooth bands, cheap to evaluate. SVG gets
    // 5-pixel cells: every run of cells is an element there, and viewers smooth edges.
    let cell = if look.vector { 5.0 } else { 3.0 };
    let nx = ((w / cell).round() as usize).clamp(8, 600);
    let ny = ((h / cell).round() as usize).clamp(8, 600);
    let grid = Grid::evaluate(surface, nx, ny);
    ctx.draw_series(grid.filled_bands(surface.levels))
        .map_err(|e| e.to_string())?;
    let line = ShapeStyle::from(BLACK.mix(0.22)).stroke_width(look.stroke(1.0));
    ctx.draw_series(
        grid.contour_lines(surface.levels)
            .into_iter()
            .map(|seg| PathElement::new(seg, line)),
    )
    .map_err(|e| e.to_string())?;
    axes::draw_mesh(ctx, chart, look, x, y, false)?;
    let b = bounds(x, y);

    // Start squares belong to the background: they never move.
    let square = look.px(5.0).max(3);
    let starts = trajectories.iter().filter_map(|t| {
        let p = *t.points.first()?;
        b.contains(p).then(|| {
            EmptyElement::at(p)
                + Rectangle::new(
                    [(-square, -square), (square, square)],
                    ShapeStyle::from(t.color).filled(),
                )
                + Rectangle::new(
                    [(-square, -square), (square, square)],
                    ShapeStyle::from(BLACK).stroke_width(look.stroke(2.0)),
                )
        })
    });
    ctx.draw_series(starts).map_err(|e| e.to_string())?;
    Ok(grid)
}

/// Draws the colour bar right of `plot`: the filled levels from lowest (bottom) to
/// highest, with the function values at five of them. Returns its box (backend pixels).
pub(crate) fn draw_color_bar<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    look: &Look,
    plot: Rect,
    grid: &Grid,
    surface: &Surface<'_>,
) -> Result<Rect, String> {
    let err = |e: DrawingAreaErrorKind<DB::ErrorType>| e.to_string();
    let left = plot.right as i32 + look.px(12.0);
    let width = look.px(16.0).max(4);
    let (top, bottom) = (plot.top as i32, plot.bottom as i32);
    let levels = surface.levels;
    let span = f64::from(bottom - top);
    for band in 0..levels {
        let y1 = bottom - (span * band as f64 / levels as f64).round() as i32;
        let y0 = bottom - (span * (band + 1) as f64 / levels as f64).round() as i32;
        let color = palette::contour_fill(band as f64 / (levels - 1) as f64);
        root.draw(&Rectangle::new(
            [(left, y0), (left + width, y1)],
            color.filled(),
        ))
        .map_err(err)?;
    }
    root.draw(&Rectangle::new(
        [(left, top), (left + width, bottom)],
        ShapeStyle::from(BLACK.mix(0.6)).stroke_width(look.stroke(1.0)),
    ))
    .map_err(err)?;
    let font = TextStyle::from((FAMILY, look.tick * 0.85).into_font()).pos(
        plotters::style::text_anchor::Pos::new(
            plotters::style::text_anchor::HPos::Left,
            plotters::style::text_anchor::VPos::Center,
        ),
    );
    for k in 0..=4 {
        let t = grid.top * k as f64 / 4.0;
        let value = grid.value_at(t, surface.scale);
        let y = bottom - (span * k as f64 / 4.0).round() as i32;
        root.draw(&PathElement::new(
            vec![(left + width, y), (left + width + look.px(4.0), y)],
            ShapeStyle::from(BLACK).stroke_width(look.stroke(1.0)),
        ))
        .map_err(err)?;
        root.draw(&Text::new(
            short_number(value),
            (left + width + look.px(6.0), y),
            font.clone(),
        ))
        .map_err(err)?;
    }
    let title = TextStyle::from((FAMILY, look.tick * 0.85).into_font()).pos(
        plotters::style::text_anchor::Pos::new(
            plotters::style::text_anchor::HPos::Left,
            plotters::style::text_anchor::VPos::Bottom,
        ),
    );
    root.draw(&Text::new("f", (left, top - look.px(4.0)), title))
        .map_err(err)?;
    Ok(Rect::new(
        f64::from(left),
        f64::from(top),
        f64::from(left + width),
        f64::from(bottom),
    ))
}

/// The function on a regular grid of (nx + 1) × (ny + 1) nodes, transformed to level
/// space: 0 at the smallest finite value, `top` at the largest.
pub(crate) struct Grid {
    nx: usize,
    ny: usize,
    x0: f64,
    dx: f64,
    y0: f64,
    dy: f64,
    /// Level-space values, row by row from the bottom; NaN where `f` was not finite.
    t: Vec<f64>,
    top: f64,
    /// The smallest finite value on the grid (level space 0).
    fmin: f64,
}

impl Grid {
    fn evaluate(surface: &Surface<'_>, nx: usize, ny: usize) -> Grid {
        let (x0, x1) = surface.x_range;
        let (y0, y1) = surface.y_range;
        let (dx, dy) = ((x1 - x0) / nx as f64, (y1 - y0) / ny as f64);
        let mut values = Vec::with_capacity((nx + 1) * (ny + 1));
        for j in 0..=ny {
            for i in 0..=nx {
                values.push((surface.f)(x0 + i as f64 * dx, y0 + j as f64 * dy));
            }
        }
        let fmin = values
            .iter()
            .copied()
            .filter(|v| v.is_finite())
            .fold(f64::INFINITY, f64::min);
        let t: Vec<f64> = values
            .iter()
            .map(|&v| {
                if !v.is_finite() || !fmin.is_finite() {
                    return f64::NAN;
                }
                match surface.scale {
                    ContourScale::Log => (v - fmin).ln_1p(),
                    ContourScale::Linear => v - fmin,
                }
            })
            .collect();
        let top = t
            .iter()
            .copied()
            .filter(|v| v.is_finite())
            .fold(0.0, f64::max);
        Grid {
            nx,
            ny,
            x0,
            dx,
            y0,
            dy,
            t,
            top,
            fmin,
        }
    }

    /// The function value at level-space value `t`.
    fn value_at(&self, t: f64, scale: ContourScale) -> f64 {
        match scale {
            ContourScale::Log => self.fmin + t.exp_m1(),
            ContourScale::Linear => self.fmin + t,
        }
    }

    fn at(&self, i: usize, j: usize) -> f64 {
        let v = self.t[j * (self.nx + 1) + i];
        if v.is_finite() {
            v
        } else {
            self.top
        }
    }

    fn band(&self, t: f64, levels: usize) -> usize {
        if self.top <= 0.0 {
            return 0;
        }
        ((t / self.top * levels as f64) as usize).min(levels - 1)
    }

    /// One rectangle per horizontal run of cells in the same band.
    fn filled_bands(&self, levels: usize) -> Vec<Rectangle<(f64, f64)>> {
        let mut rects = Vec::new();
        for j in 0..self.ny {
            let mut start = 0;
            let mut current = None;
            for i in 0..=self.nx {
                let band = (i < self.nx).then(|| {
                    let mean = (self.at(i, j)
                        + self.at(i + 1, j)
                        + self.at(i, j + 1)
                        + self.at(i + 1, j + 1))
                        / 4.0;
                    self.band(mean, levels)
                });
                if band != current {
                    if let Some(b) = current {
                        let color = palette::contour_fill(b as f64 / (levels - 1) as f64);
                        rects.push(Rectangle::new(
                            [
                                (
                                    self.x0 + start as f64 * self.dx,
                                    self.y0 + (j + 1) as f64 * self.dy,
                                ),
                                (self.x0 + i as f64 * self.dx, self.y0 + j as f64 * self.dy),
                            ],
                            color.filled(),
                        ));
                    }
                    start = i;
                    current = band;
                }
            }
        }
        rects
    }

    /// Marching squares: every level boundary as polylines.
    ///
    /// Crossings are identified by the grid edge they lie on and computed once per edge,
    /// so the segments of neighbouring cells share endpoints exactly and can be chained
    /// into long polylines (one SVG element per line instead of one per cell).
    fn contour_lines(&self, levels: usize) -> Vec<Vec<(f64, f64)>> {
        let mut lines = Vec::new();
        if self.top <= 0.0 {
            return lines;
        }
        let (nx, ny) = (self.nx, self.ny);
        // Edge ids: horizontal edge (i, j)–(i+1, j) is j·nx + i; vertical edge
        // (i, j)–(i, j+1) is H + j·(nx+1) + i, with H the number of horizontal edges.
        let horizontal = nx * (ny + 1);
        let h_edge = |i: usize, j: usize| j * nx + i;
        let v_edge = |i: usize, j: usize| horizontal + j * (nx + 1) + i;
        for k in 1..levels {
            let c = self.top * k as f64 / levels as f64;
            let crossing = |edge: usize| -> (f64, f64) {
                let (ia, ja, ib, jb) = if edge < horizontal {
                    let (i, j) = (edge % nx, edge / nx);
                    (i, j, i + 1, j)
                } else {
                    let e = edge - horizontal;
                    let (i, j) = (e % (nx + 1), e / (nx + 1));
                    (i, j, i, j + 1)
                };
                let (va, vb) = (self.at(ia, ja), self.at(ib, jb));
                let s = (c - va) / (vb - va);
                (
                    self.x0 + (ia as f64 + s * (ib as f64 - ia as f64)) * self.dx,
                    self.y0 + (ja as f64 + s * (jb as f64 - ja as f64)) * self.dy,
                )
            };
            // Segments as pairs of edge ids, and for each edge the segments touching it.
            let mut segments: Vec<(usize, usize)> = Vec::new();
            let mut touching: std::collections::HashMap<usize, Vec<usize>> = Default::default();
            for j in 0..ny {
                for i in 0..nx {
                    // Cell edges in order around the cell: bottom, right, top, left.
                    let edges = [
                        (h_edge(i, j), self.at(i, j), self.at(i + 1, j)),
                        (v_edge(i + 1, j), self.at(i + 1, j), self.at(i + 1, j + 1)),
                        (h_edge(i, j + 1), self.at(i + 1, j + 1), self.at(i, j + 1)),
                        (v_edge(i, j), self.at(i, j + 1), self.at(i, j)),
                    ];
                    let crossed: Vec<usize> = edges
                        .iter()
                        .filter(|(_, va, vb)| (*va < c) != (*vb < c))
                        .map(|(e, _, _)| *e)
                        .collect();
                    // 2 crossings: one segment; 4 (saddle cell): pair them around the cell.
                    for pair in crossed.chunks_exact(2) {
                        let id = segments.len();
                        segments.push((pair[0], pair[1]));
                        touching.entry(pair[0]).or_default().push(id);
                        touching.entry(pair[1]).or_default().push(id);
                    }
                }
            }
            let mut used = vec![false; segments.len()];
            for first in 0..segments.len() {
                if used[first] {
                    continue;
                }
                used[first] = true;
                let (a, b) = segments[first];
                let mut chain = std::collections::VecDeque::from([a, b]);
                // Extend at the back, then at the front.
                for back in [true, false] {
                    loop {
                        let end = if back {
                            chain[chain.len() - 1]
                        } else {
                            chain[0]
                        };
                        let next = touching[&end].iter().copied().find(|&s| !used[s]);
                        let Some(next) = next else { break };
                        used[next] = true;
                        let (p, q) = segments[next];
                        let other = if p == end { q } else { p };
                        if back {
                            chain.push_back(other);
                        } else {
                            chain.push_front(other);
                        }
                    }
                }
                lines.push(chain.into_iter().map(crossing).collect());
            }
        }
        lines
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grid_levels_put_the_minimum_in_band_zero() {
        let f = |x: f64, y: f64| x * x + y * y;
        let surface = Surface::new(&f, (-1.0, 1.0), (-1.0, 1.0));
        let grid = Grid::evaluate(&surface, 10, 10);
        assert_eq!(grid.band(grid.at(5, 5), 14), 0);
        assert_eq!(grid.band(grid.at(0, 0), 14), 13);
        // Circles around the centre: each level is one closed line, chained whole.
        let lines = grid.contour_lines(14);
        assert!(!lines.is_empty());
        let closed = lines
            .iter()
            .filter(|l| l.len() > 4 && l.first() == l.last())
            .count();
        assert!(closed >= 1, "{} lines, none closed", lines.len());
    }

    #[test]
    fn non_finite_values_take_the_top_band() {
        let f = |x: f64, _y: f64| if x > 0.5 { f64::NAN } else { x * x };
        let surface = Surface::new(&f, (0.0, 1.0), (0.0, 1.0));
        let grid = Grid::evaluate(&surface, 4, 4);
        assert_eq!(grid.at(4, 0), grid.top);
        let everywhere_nan = |_x: f64, _y: f64| f64::NAN;
        let surface = Surface::new(&everywhere_nan, (0.0, 1.0), (0.0, 1.0));
        let grid = Grid::evaluate(&surface, 4, 4);
        assert!(grid.filled_bands(5).len() == 4 && grid.contour_lines(5).is_empty());
    }
}
