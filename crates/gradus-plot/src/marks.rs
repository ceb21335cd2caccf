//! Point markers, minimum stars, and the marks at the frame's border that show where a
//! series leaves the picture.

use plotters::coord::Shift;
use plotters::prelude::*;

use crate::axes::Look;
use crate::clip::{clip_segment, Bounds};
use crate::drawing::Rect;
use crate::font::FAMILY;
use crate::Marker;

/// Points in pixels relative to a marker's centre.
pub(crate) type PixelPath = Vec<(i32, i32)>;

/// A five-pointed star of outer radius `r` pixels around (0, 0): the polygon to fill
/// and its closed outline.
pub(crate) fn star_shape(r: i32) -> (PixelPath, PixelPath) {
    let pts: Vec<(i32, i32)> = (0..10)
        .map(|k| {
            let radius = if k % 2 == 0 {
                f64::from(r)
            } else {
                f64::from(r) * 0.45
            };
            let angle = std::f64::consts::PI * (k as f64 / 5.0 - 0.5);
            (
                (radius * angle.cos()).round() as i32,
                (radius * angle.sin()).round() as i32,
            )
        })
        .collect();
    let mut rim = pts.clone();
    rim.push(pts[0]);
    (pts, rim)
}

/// Draws `marker` centred on backend pixel `c` in `color`.
pub(crate) fn draw_marker<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    look: &Look,
    marker: Marker,
    c: (i32, i32),
    color: RGBColor,
) -> Result<(), String> {
    let err = |e: DrawingAreaErrorKind<DB::ErrorType>| e.to_string();
    let r = look.px(3.6).max(2);
    let fill = ShapeStyle::from(color).filled();
    let stroke = ShapeStyle::from(color).stroke_width(look.stroke(1.6));
    let at = |dx: i32, dy: i32| (c.0 + dx, c.1 + dy);
    match marker {
        Marker::Circle => root.draw(&Circle::new(c, r, fill)).map_err(err),
        Marker::Square => root
            .draw(&Rectangle::new([at(-r, -r), at(r, r)], fill))
            .map_err(err),
        Marker::Triangle => {
            let s = r + look.px(1.0);
            root.draw(&Polygon::new(vec![at(0, -s), at(s, s), at(-s, s)], fill))
                .map_err(err)
        }
        Marker::Diamond => {
            let s = r + look.px(1.0);
            root.draw(&Polygon::new(
                vec![at(0, -s), at(s, 0), at(0, s), at(-s, 0)],
                fill,
            ))
            .map_err(err)
        }
        Marker::Cross => {
            root.draw(&PathElement::new(vec![at(-r, -r), at(r, r)], stroke))
                .map_err(err)?;
            root.draw(&PathElement::new(vec![at(-r, r), at(r, -r)], stroke))
                .map_err(err)
        }
        Marker::Plus => {
            let s = r + look.px(1.0);
            root.draw(&PathElement::new(vec![at(-s, 0), at(s, 0)], stroke))
                .map_err(err)?;
            root.draw(&PathElement::new(vec![at(0, -s), at(0, s)], stroke))
                .map_err(err)
        }
    }
}

/// A side of the frame.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Side {
    Left,
    Right,
    Bottom,
    Top,
}

/// Where a series leaves the frame for the last time.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) struct Exit {
    /// The point on the border (data coordinates).
    pub at: (f64, f64),
    pub side: Side,
    /// The series' last finite point.
    pub last: (f64, f64),
    /// The last finite point is outside the frame.
    pub ends_outside: bool,
}

/// The last exit of `points` from `b`, if some finite point lies outside it. A series that
/// never enters the box exits where its last point, clamped to the box, lies.
pub(crate) fn exit(points: &[(f64, f64)], b: Bounds) -> Option<Exit> {
    let finite = |p: &(f64, f64)| p.0.is_finite() && p.1.is_finite();
    let last = *points.iter().rev().find(|p| finite(p))?;
    if points.iter().filter(|p| finite(p)).all(|&p| b.contains(p)) {
        return None;
    }
    let mut at = None;
    for w in points.windows(2) {
        let (p, q) = (w[0], w[1]);
        if finite(&p) && finite(&q) && b.contains(p) && !b.contains(q) {
            if let Some((_, e)) = clip_segment(p, q, b) {
                at = Some(e);
            }
        }
    }
    let at = at.unwrap_or((last.0.clamp(b.x0, b.x1), last.1.clamp(b.y0, b.y1)));
    let (w, h) = (b.x1 - b.x0, b.y1 - b.y0);
    let dist = [
        (Side::Left, (at.0 - b.x0) / w),
        (Side::Right, (b.x1 - at.0) / w),
        (Side::Bottom, (at.1 - b.y0) / h),
        (Side::Top, (b.y1 - at.1) / h),
    ];
    let side = dist
        .iter()
        .min_by(|a, b| a.1.total_cmp(&b.1))
        .map_or(Side::Top, |d| d.0);
    Some(Exit {
        at,
        side,
        last,
        ends_outside: !b.contains(last),
    })
}

/// Draws an edge mark: a triangle in `color` whose tip touches the border at backend pixel
/// `tip`, pointing out of the frame, and `label` inside the plot beside it, moved along
/// the border until it overlaps none of `taken` (labels already placed). Returns the
/// label's box (backend pixels), which is also added to `taken`.
pub(crate) fn draw_edge_marker<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    look: &Look,
    plot: Rect,
    (side, tip): (Side, (i32, i32)),
    (color, label): (RGBColor, &str),
    taken: &mut Vec<Rect>,
) -> Result<Rect, String> {
    let err = |e: DrawingAreaErrorKind<DB::ErrorType>| e.to_string();
    let (len, half) = (look.px(13.0).max(5), look.px(7.0).max(3));
    let (x, y) = tip;
    let (base, a, b) = match side {
        Side::Top => ((x, y + len), (x - half, y + len), (x + half, y + len)),
        Side::Bottom => ((x, y - len), (x - half, y - len), (x + half, y - len)),
        Side::Left => ((x + len, y), (x + len, y - half), (x + len, y + half)),
        Side::Right => ((x - len, y), (x - len, y - half), (x - len, y + half)),
    };
    let triangle = vec![tip, a, b];
    root.draw(&Polygon::new(
        triangle.clone(),
        ShapeStyle::from(color).filled(),
    ))
    .map_err(err)?;
    // The triangle itself is taken too, so later labels do not cover it.
    let (xs, ys): (Vec<i32>, Vec<i32>) = triangle.iter().copied().unzip();
    let corner =
        |v: &[i32], f: fn(i32, i32) -> i32| f64::from(v.iter().copied().reduce(f).unwrap_or(0));
    let own = Rect::new(
        corner(&xs, i32::min),
        corner(&ys, i32::min),
        corner(&xs, i32::max),
        corner(&ys, i32::max),
    );
    let mut rim = triangle;
    rim.push(tip);
    root.draw(&PathElement::new(
        rim,
        ShapeStyle::from(BLACK).stroke_width(look.stroke(1.0)),
    ))
    .map_err(err)?;
    let size = look.tick * 0.9;
    let font = TextStyle::from((FAMILY, size).into_font());
    let (tw, th) = root
        .estimate_text_size(label, &font)
        .map(|(w, h)| (f64::from(w), f64::from(h)))
        .unwrap_or((label.len() as f64 * size * 0.6, size));
    let gap = f64::from(look.px(3.0));
    // The label's first position, beside the triangle's base, kept inside the plot.
    let (bx, by) = (f64::from(base.0), f64::from(base.1));
    let mut left = match side {
        Side::Left => bx + gap,
        Side::Right => bx - gap - tw,
        _ => bx + f64::from(half) + gap,
    };
    let mut top = match side {
        Side::Top => by - th,
        Side::Bottom => by - th + gap,
        _ => by - th / 2.0,
    };
    if matches!(side, Side::Top | Side::Bottom) && left + tw > plot.right - gap {
        left = bx - f64::from(half) - gap - tw;
    }
    left = left.clamp(
        plot.left + gap,
        (plot.right - gap - tw).max(plot.left + gap),
    );
    top = top.clamp(plot.top + gap, (plot.bottom - gap - th).max(plot.top + gap));
    let mut rect = Rect::new(left, top, left + tw, top + th);
    // Slide along the border (inward for top/bottom labels) until the label is free.
    for _ in 0..40 {
        if !taken.iter().any(|t| t.overlaps(&rect.grown(1.0))) {
            break;
        }
        let step = th + 2.0;
        let (dx, dy) = match side {
            Side::Top => (0.0, step),
            Side::Bottom => (0.0, -step),
            Side::Left | Side::Right => (0.0, step),
        };
        rect = Rect::new(
            rect.left + dx,
            rect.top + dy,
            rect.right + dx,
            rect.bottom + dy,
        );
    }
    taken.push(own);
    if label.is_empty() {
        return Ok(rect);
    }
    root.draw(&Rectangle::new(
        [
            (rect.left as i32 - 2, rect.top as i32 - 1),
            (rect.right as i32 + 2, rect.bottom as i32 + 1),
        ],
        ShapeStyle::from(WHITE.mix(0.8)).filled(),
    ))
    .map_err(err)?;
    root.draw(&Text::new(
        label.to_string(),
        (rect.left as i32, rect.top as i32),
        font.color(&color),
    ))
    .map_err(err)?;
    taken.push(rect);
    Ok(rect)
}

/// Points (backend pixels) an edge mark at `tip` on `side` and its label will cover, for
/// keeping a legend off them.
pub(crate) fn edge_footprint(side: Side, tip: (i32, i32), look: &Look) -> Vec<(f64, f64)> {
    let (x, y) = (f64::from(tip.0), f64::from(tip.1));
    let len = f64::from(look.px(16.0));
    let (bx, by) = match side {
        Side::Top => (x, y + len),
        Side::Bottom => (x, y - len),
        Side::Left => (x + len, y),
        Side::Right => (x - len, y),
    };
    let dir = if side == Side::Right { -1.0 } else { 1.0 };
    (0..=6)
        .map(|k| (bx + dir * f64::from(look.px(20.0)) * f64::from(k), by))
        .chain([(x, y)])
        .collect()
}

/// [`edge_footprint`] of every path that leaves `b`, `to_px` mapping data to pixels.
pub(crate) fn exit_footprints<'p>(
    paths: impl IntoIterator<Item = &'p [(f64, f64)]>,
    b: Bounds,
    to_px: impl Fn(&(f64, f64)) -> (i32, i32),
    look: &Look,
) -> Vec<(f64, f64)> {
    paths
        .into_iter()
        .filter_map(|p| exit(p, b))
        .flat_map(|e| edge_footprint(e.side, to_px(&e.at), look))
        .collect()
}

/// The label of a trajectory's edge marker: its final point when it ends outside.
pub(crate) fn final_point_label(e: &Exit) -> String {
    if e.ends_outside {
        format!("({}, {})", short_number(e.last.0), short_number(e.last.1))
    } else {
        String::new()
    }
}

/// A number in at most about six characters: `0.0123`, `12.3`, `1.2e-7`, `3.4e90`.
pub(crate) fn short_number(v: f64) -> String {
    if !v.is_finite() {
        return format!("{v}");
    }
    let a = v.abs();
    if v == 0.0 {
        "0".into()
    } else if (1e-3..1e4).contains(&a) {
        let digits = (3 - a.log10().floor() as i32).clamp(0, 4) as usize;
        let s = format!("{v:.digits$}");
        if s.contains('.') {
            s.trim_end_matches('0').trim_end_matches('.').to_string()
        } else {
            s
        }
    } else {
        format!("{v:.1e}").replace(".0e", "e")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const UNIT: Bounds = Bounds {
        x0: 0.0,
        x1: 1.0,
        y0: 0.0,
        y1: 1.0,
    };

    #[test]
    fn exits_are_found_on_the_side_crossed_last() {
        assert!(exit(&[(0.5, 0.5), (0.6, 0.6)], UNIT).is_none());
        let e = exit(&[(0.5, 0.5), (0.5, 2.0)], UNIT).unwrap();
        assert_eq!(
            (e.at, e.side, e.ends_outside),
            ((0.5, 1.0), Side::Top, true)
        );
        let e = exit(&[(0.5, 0.5), (-1.0, 0.5), (0.2, 0.5)], UNIT).unwrap();
        assert_eq!((e.side, e.ends_outside), (Side::Left, false));
        // Never inside: clamped last point.
        let e = exit(&[(3.0, 0.5), (4.0, 0.5), (f64::NAN, 1.0)], UNIT).unwrap();
        assert_eq!(
            (e.at, e.side, e.last),
            ((1.0, 0.5), Side::Right, (4.0, 0.5))
        );
    }

    #[test]
    fn short_numbers_stay_short() {
        assert_eq!(short_number(0.012345), "0.0123");
        assert_eq!(short_number(12.345), "12.35");
        assert_eq!(short_number(-3.0), "-3");
        assert_eq!(short_number(1.234e-7), "1.2e-7");
        assert_eq!(short_number(3.4e90), "3.4e90");
    }
}
