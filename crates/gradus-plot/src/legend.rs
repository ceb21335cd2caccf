//! Legends laid out and placed here rather than by plotters, so their box is known
//! exactly: inside the plot where no series passes, or else in a margin beside or below
//! the plot, never over data.

use plotters::coord::Shift;
use plotters::prelude::*;

use crate::axes::Look;
use crate::drawing::Rect;
use crate::font::FAMILY;
use crate::marks::{draw_marker, star_shape};
use crate::{LineStyle, Marker};

/// What an entry's sample shows.
#[derive(Clone, Debug)]
pub(crate) enum Sample {
    /// A line in a style, with a marker in the middle if given.
    Line {
        color: RGBColor,
        style: LineStyle,
        marker: Option<Marker>,
    },
    /// A pale and a solid dot (iterates that fade from early to late).
    FadingDots(RGBColor),
    /// A grey data point.
    DataPoint,
    /// A start square.
    Start,
    /// A minimum star.
    Minimum,
}

/// One legend row.
#[derive(Clone, Debug)]
pub(crate) struct Entry {
    pub label: String,
    pub sample: Sample,
}

impl Entry {
    pub fn new(label: impl Into<String>, sample: Sample) -> Entry {
        Entry {
            label: label.into(),
            sample,
        }
    }
}

/// A legend measured for one drawing: entries in `columns` columns.
pub(crate) struct Legend {
    entries: Vec<Entry>,
    columns: usize,
    text_w: i32,
    row_h: i32,
    pad: i32,
    sample_w: i32,
    gap: i32,
}

/// Where a legend goes when no place inside the plot is free.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Outside {
    /// A column to the right of the plot (and its colour bar).
    Right,
    /// Rows below the x axis label.
    Below,
}

impl Legend {
    /// Measures `entries` with the chart's font, `widest_extra` being text (e.g. a running
    /// value template) the labels may grow to.
    pub fn new<DB: DrawingBackend>(
        root: &DrawingArea<DB, Shift>,
        look: &Look,
        entries: Vec<Entry>,
        widest_extra: Option<&str>,
    ) -> Legend {
        let font = TextStyle::from((FAMILY, look.legend).into_font());
        let measure = |s: &str| {
            root.estimate_text_size(s, &font)
                .map(|(w, _)| w as i32)
                .unwrap_or_else(|_| (s.chars().count() as f64 * look.legend * 0.6) as i32)
        };
        let mut text_w = entries.iter().map(|e| measure(&e.label)).max().unwrap_or(0);
        if let Some(extra) = widest_extra {
            text_w = text_w.max(measure(extra));
        }
        Legend {
            entries,
            columns: 1,
            text_w,
            row_h: look.px(23.0).max(8),
            pad: look.px(8.0).max(3),
            sample_w: look.px(34.0).max(10),
            gap: look.px(8.0).max(3),
        }
    }

    fn column_w(&self) -> i32 {
        self.sample_w + self.gap + self.text_w + self.pad
    }

    /// Lays the entries out in as many columns (up to four) as fit in `width` pixels.
    pub fn fit_columns(&mut self, width: i32) {
        let fit = ((width - self.pad) / self.column_w().max(1)).clamp(1, 4) as usize;
        self.columns = fit.min(self.entries.len().max(1));
    }

    /// Width and height of the box in backend pixels.
    pub fn size(&self) -> (i32, i32) {
        let rows = self.entries.len().div_ceil(self.columns) as i32;
        (
            self.pad + self.columns as i32 * self.column_w(),
            2 * self.pad + rows * self.row_h,
        )
    }

    /// Where the legend goes outside the plot of an image `image_w` wide: beside it if
    /// it takes at most a third of the width, otherwise below.
    pub fn outside(&self, image_w: i32) -> Outside {
        if self.size().0 * 3 <= image_w {
            Outside::Right
        } else {
            Outside::Below
        }
    }

    /// The first of the four corners and four edge middles of `plot` (inset by `margin`)
    /// where the box meets none of `lines` and no point of `points` (grown by `pad`).
    pub fn place_inside(
        &self,
        plot: Rect,
        margin: f64,
        lines: &[Vec<(f64, f64)>],
        points: &[(f64, f64)],
        pad: f64,
    ) -> Option<Rect> {
        let (w, h) = self.size();
        let (w, h) = (f64::from(w), f64::from(h));
        if w + 2.0 * margin > plot.width() || h + 2.0 * margin > plot.height() {
            return None;
        }
        let xs = [
            plot.right - margin - w,
            plot.left + margin,
            (plot.left + plot.right - w) / 2.0,
        ];
        let ys = [
            plot.top + margin,
            plot.bottom - margin - h,
            (plot.top + plot.bottom - h) / 2.0,
        ];
        // Corners first (upper right, upper left, lower right, lower left), then the
        // middles of the right, top, bottom and left edges.
        let order = [
            (0, 0),
            (1, 0),
            (0, 1),
            (1, 1),
            (0, 2),
            (2, 0),
            (2, 1),
            (1, 2),
        ];
        order.iter().find_map(|&(i, j)| {
            let r = Rect::new(xs[i], ys[j], xs[i] + w, ys[j] + h);
            let near = r.grown(pad);
            let free = !lines.iter().any(|l| near.meets_polyline(l))
                && !points.iter().any(|&p| near.contains(p));
            free.then_some(r)
        })
    }

    /// Draws the box with its top-left corner at `at` (backend pixels); returns its rect.
    /// `labels`, if given, replaces the entries' texts (running values in animations).
    pub fn draw<DB: DrawingBackend>(
        &self,
        root: &DrawingArea<DB, Shift>,
        look: &Look,
        at: (i32, i32),
        labels: Option<&[String]>,
    ) -> Result<Rect, String> {
        let err = |e: DrawingAreaErrorKind<DB::ErrorType>| e.to_string();
        let (w, h) = self.size();
        let (x0, y0) = at;
        root.draw(&Rectangle::new(
            [(x0, y0), (x0 + w, y0 + h)],
            ShapeStyle::from(WHITE.mix(0.92)).filled(),
        ))
        .map_err(err)?;
        root.draw(&Rectangle::new(
            [(x0, y0), (x0 + w, y0 + h)],
            ShapeStyle::from(BLACK.mix(0.45)).stroke_width(look.stroke(1.0)),
        ))
        .map_err(err)?;
        let font = TextStyle::from((FAMILY, look.legend).into_font());
        let rows = self.entries.len().div_ceil(self.columns);
        for (k, entry) in self.entries.iter().enumerate() {
            let (col, row) = (k / rows, k % rows);
            let left = x0 + self.pad + col as i32 * self.column_w();
            let mid = y0 + self.pad + row as i32 * self.row_h + self.row_h / 2;
            draw_sample(root, look, &entry.sample, (left, mid), self.sample_w)?;
            let text = labels
                .and_then(|l| l.get(k))
                .map_or(entry.label.as_str(), String::as_str);
            let style = font.clone().pos(plotters::style::text_anchor::Pos::new(
                plotters::style::text_anchor::HPos::Left,
                plotters::style::text_anchor::VPos::Center,
            ));
            root.draw(&Text::new(
                text.to_string(),
                (left + self.sample_w + self.gap, mid),
                style,
            ))
            .map_err(err)?;
        }
        Ok(Rect::new(
            f64::from(x0),
            f64::from(y0),
            f64::from(x0 + w),
            f64::from(y0 + h),
        ))
    }
}

/// Draws a legend sample `width` pixels wide starting at `(left, mid)`.
fn draw_sample<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    look: &Look,
    sample: &Sample,
    (left, mid): (i32, i32),
    width: i32,
) -> Result<(), String> {
    let err = |e: DrawingAreaErrorKind<DB::ErrorType>| e.to_string();
    let centre = (left + width / 2, mid);
    match sample {
        Sample::Line {
            color,
            style,
            marker,
        } => {
            let line = ShapeStyle::from(*color).stroke_width(look.line);
            let pieces: Vec<(i32, i32)> = match style {
                LineStyle::Solid | LineStyle::LineMarkers => vec![(0, width)],
                LineStyle::Dashed => {
                    let q = width / 4;
                    vec![(0, q), (3 * width / 8, 5 * width / 8), (width - q, width)]
                }
                LineStyle::Dotted => {
                    let step = (width / 5).max(2);
                    (0..5)
                        .map(|i| (i * step, i * step + step / 3 + 1))
                        .collect()
                }
                LineStyle::Markers => Vec::new(),
            };
            for (a, b) in pieces {
                root.draw(&PathElement::new(
                    vec![(left + a, mid), (left + b, mid)],
                    line,
                ))
                .map_err(err)?;
            }
            if let Some(m) = marker {
                draw_marker(root, look, *m, centre, *color)?;
            }
        }
        Sample::FadingDots(color) => {
            let r = look.px(4.0).max(2);
            root.draw(&Circle::new(
                (left + width / 4, mid),
                r,
                ShapeStyle::from(color.mix(0.3)).filled(),
            ))
            .map_err(err)?;
            root.draw(&Circle::new(
                (left + 3 * width / 4, mid),
                r,
                ShapeStyle::from(*color).filled(),
            ))
            .map_err(err)?;
        }
        Sample::DataPoint => {
            let grey = RGBColor(90, 90, 90);
            let r = look.px(4.0).max(2);
            root.draw(&Circle::new(
                centre,
                r,
                ShapeStyle::from(grey.mix(0.35)).filled(),
            ))
            .map_err(err)?;
            root.draw(&Circle::new(
                centre,
                r,
                ShapeStyle::from(grey.mix(0.8)).stroke_width(look.stroke(1.0)),
            ))
            .map_err(err)?;
        }
        Sample::Start => {
            let s = look.px(5.0).max(3);
            root.draw(&Rectangle::new(
                [(centre.0 - s, mid - s), (centre.0 + s, mid + s)],
                ShapeStyle::from(BLACK).stroke_width(look.stroke(2.0)),
            ))
            .map_err(err)?;
        }
        Sample::Minimum => {
            let (fill, rim) = star_shape(look.px(9.0).max(5));
            let shift = |p: &(i32, i32)| (p.0 + centre.0, p.1 + centre.1);
            root.draw(&Polygon::new(
                fill.iter().map(shift).collect::<Vec<_>>(),
                ShapeStyle::from(BLACK).filled(),
            ))
            .map_err(err)?;
            root.draw(&PathElement::new(
                rim.iter().map(shift).collect::<Vec<_>>(),
                ShapeStyle::from(WHITE).stroke_width(look.stroke(1.0)),
            ))
            .map_err(err)?;
        }
    }
    Ok(())
}

/// Where a chart's legend goes.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) enum Placement {
    /// Inside the plot, in this box (backend pixels), which no series meets.
    Inside(Rect),
    /// In a margin outside the plot.
    Outside(Outside),
}

impl Legend {
    /// Inside the plot `plot` if some place there meets none of `lines` and `points`
    /// (backend pixels), else outside; with the margins the chart must keep free for it.
    /// `beside` is room already kept right of the plot (a colour bar).
    pub fn choose(
        &mut self,
        plot: Rect,
        image_w: i32,
        lines: &[Vec<(f64, f64)>],
        points: &[(f64, f64)],
        look: &Look,
        beside: i32,
    ) -> (Placement, crate::axes::Reserve) {
        let margin = f64::from(look.px(10.0));
        let pad = f64::from(look.px(5.0));
        if let Some(r) = self.place_inside(plot, margin, lines, points, pad) {
            let reserve = crate::axes::Reserve {
                right: beside,
                bottom: 0,
            };
            return (Placement::Inside(r), reserve);
        }
        match self.outside(image_w) {
            Outside::Right => (
                Placement::Outside(Outside::Right),
                crate::axes::Reserve {
                    right: beside + self.size().0 + look.px(4.0),
                    bottom: 0,
                },
            ),
            Outside::Below => {
                self.fit_columns(image_w - look.px(110.0));
                (
                    Placement::Outside(Outside::Below),
                    crate::axes::Reserve {
                        right: beside,
                        bottom: self.size().1 + look.px(8.0),
                    },
                )
            }
        }
    }

    /// The top-left corner (backend pixels) of a legend placed `placement` next to the
    /// plot `plot`, `beside` pixels of colour bar further right.
    pub fn origin(&self, placement: Placement, plot: Rect, look: &Look, beside: i32) -> (i32, i32) {
        match placement {
            Placement::Inside(r) => (r.left.round() as i32, r.top.round() as i32),
            Placement::Outside(Outside::Right) => (
                plot.right.round() as i32 + beside + look.px(16.0),
                plot.top.round() as i32,
            ),
            Placement::Outside(Outside::Below) => (
                plot.left.round() as i32,
                plot.bottom.round() as i32 + look.x_label_area() + look.px(4.0),
            ),
        }
    }
}
