//! Cutting polylines at non-finite points and clipping them to the plot box, so that a
//! diverging or NaN-producing run draws what it can instead of failing or drawing
//! across the margins.

/// An axis-aligned box `[x0, x1] × [y0, y1]`.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Bounds {
    pub x0: f64,
    pub x1: f64,
    pub y0: f64,
    pub y1: f64,
}

impl Bounds {
    pub fn contains(&self, (x, y): (f64, f64)) -> bool {
        x >= self.x0 && x <= self.x1 && y >= self.y0 && y <= self.y1
    }
}

fn finite((x, y): (f64, f64)) -> bool {
    x.is_finite() && y.is_finite()
}

/// The visible pieces of the polyline `points`: split where a point is non-finite and
/// clipped to `bounds` (a piece leaving the box ends at the border; re-entering starts a
/// new piece). A lone finite point inside the box gives a one-point piece.
pub(crate) fn visible_runs(points: &[(f64, f64)], bounds: Bounds) -> Vec<Vec<(f64, f64)>> {
    let mut runs = Vec::new();
    let mut run: Vec<(f64, f64)> = Vec::new();
    let flush = |run: &mut Vec<(f64, f64)>, runs: &mut Vec<Vec<(f64, f64)>>| {
        if !run.is_empty() {
            runs.push(std::mem::take(run));
        }
    };
    for (i, &p) in points.iter().enumerate() {
        if !finite(p) {
            flush(&mut run, &mut runs);
            continue;
        }
        let prev = if i > 0 { Some(points[i - 1]) } else { None };
        match prev {
            Some(q) if finite(q) => match clip_segment(q, p, bounds) {
                Some((a, b)) => {
                    if run.last() != Some(&a) {
                        flush(&mut run, &mut runs);
                        run.push(a);
                    }
                    run.push(b);
                    if b != p {
                        flush(&mut run, &mut runs);
                    }
                }
                None => flush(&mut run, &mut runs),
            },
            _ => {
                // First finite point of a stretch: starts a run if it is inside.
                if bounds.contains(p) {
                    run.push(p);
                }
            }
        }
    }
    flush(&mut run, &mut runs);
    runs
}

/// Splits a visible run into pieces that plotters can stroke cleanly at widths above one
/// pixel: points landing on the same pixel as the previous one are dropped (a zero-length
/// segment has no direction, and the stroker turns it into a spike to the image corner;
/// points under 2 pixels from the last kept one are dropped too, except a run's last,
/// since each vertex adds rounding jitter to a thick stroke),
/// and the line is broken at turns sharper than about 35°, where the stroke's corner
/// would otherwise shoot far past the vertex. `to_px` maps a point to pixels. For
/// `vector` output only the repeated pixels go: SVG viewers stroke joins properly, and
/// every extra piece is one more element in the file.
pub(crate) fn stroke_pieces(
    vector: bool,
    run: &[(f64, f64)],
    to_px: impl Fn(&(f64, f64)) -> (i32, i32),
) -> Vec<Vec<(f64, f64)>> {
    let mut pieces = Vec::new();
    let mut piece: Vec<(f64, f64)> = Vec::new();
    let mut pixels: Vec<(i32, i32)> = Vec::new();
    for (i, p) in run.iter().enumerate() {
        let px = to_px(p);
        if let Some(last) = pixels.last() {
            let d2 = (px.0 - last.0).pow(2) + (px.1 - last.1).pow(2);
            if d2 == 0 || (!vector && d2 < 4 && i + 1 < run.len()) {
                continue;
            }
        }
        if !vector && pixels.len() >= 2 && piece.len() >= 2 {
            let (a, b) = (pixels[pixels.len() - 2], pixels[pixels.len() - 1]);
            let u = (f64::from(a.0 - b.0), f64::from(a.1 - b.1));
            let v = (f64::from(px.0 - b.0), f64::from(px.1 - b.1));
            let cos = (u.0 * v.0 + u.1 * v.1)
                / ((u.0 * u.0 + u.1 * u.1).sqrt() * (v.0 * v.0 + v.1 * v.1).sqrt());
            if cos > 0.82 {
                let vertex = *piece.last().expect("piece has two points");
                pieces.push(std::mem::replace(&mut piece, vec![vertex]));
            }
        }
        piece.push(*p);
        pixels.push(px);
    }
    if !piece.is_empty() {
        pieces.push(piece);
    }
    // Each vertex of a thick stroke is rounded to whole pixels, which makes dense smooth
    // curves look ragged; drop vertices that lie within half a pixel of the simplified line.
    pieces
        .into_iter()
        .map(|p| simplify(&p, &to_px, 0.5))
        .collect()
}

/// Ramer–Douglas–Peucker simplification in pixel space with tolerance `tol` pixels.
fn simplify(
    points: &[(f64, f64)],
    to_px: &impl Fn(&(f64, f64)) -> (i32, i32),
    tol: f64,
) -> Vec<(f64, f64)> {
    if points.len() < 3 {
        return points.to_vec();
    }
    let px: Vec<(f64, f64)> = points
        .iter()
        .map(|p| {
            let (x, y) = to_px(p);
            (f64::from(x), f64::from(y))
        })
        .collect();
    let mut keep = vec![false; points.len()];
    keep[0] = true;
    keep[points.len() - 1] = true;
    let mut stack = vec![(0, points.len() - 1)];
    while let Some((a, b)) = stack.pop() {
        if b <= a + 1 {
            continue;
        }
        let (ax, ay) = px[a];
        let (dx, dy) = (px[b].0 - ax, px[b].1 - ay);
        let len = (dx * dx + dy * dy).sqrt();
        let (mut far, mut far_d) = (a, 0.0);
        for (i, &(x, y)) in px.iter().enumerate().take(b).skip(a + 1) {
            let d = if len == 0.0 {
                ((x - ax).powi(2) + (y - ay).powi(2)).sqrt()
            } else {
                ((x - ax) * dy - (y - ay) * dx).abs() / len
            };
            if d > far_d {
                far = i;
                far_d = d;
            }
        }
        if far_d > tol {
            keep[far] = true;
            stack.push((a, far));
            stack.push((far, b));
        }
    }
    points
        .iter()
        .zip(keep)
        .filter(|(_, k)| *k)
        .map(|(p, _)| *p)
        .collect()
}

/// Liang–Barsky clipping of segment `p`–`q` to `b`; `None` if no part is inside.
pub(crate) fn clip_segment(
    p: (f64, f64),
    q: (f64, f64),
    b: Bounds,
) -> Option<((f64, f64), (f64, f64))> {
    let (dx, dy) = (q.0 - p.0, q.1 - p.1);
    if !dx.is_finite() || !dy.is_finite() {
        return None;
    }
    let (mut t0, mut t1) = (0.0f64, 1.0f64);
    for (den, num) in [
        (-dx, p.0 - b.x0),
        (dx, b.x1 - p.0),
        (-dy, p.1 - b.y0),
        (dy, b.y1 - p.1),
    ] {
        if den == 0.0 {
            if num < 0.0 {
                return None;
            }
        } else {
            let t = num / den;
            if den < 0.0 {
                t0 = t0.max(t);
            } else {
                t1 = t1.min(t);
            }
        }
    }
    if t0 > t1 {
        return None;
    }
    let at = |t: f64| {
        if t == 0.0 {
            p
        } else if t == 1.0 {
            q
        } else {
            (p.0 + t * dx, p.1 + t * dy)
        }
    };
    Some((at(t0), at(t1)))
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
    fn inside_polyline_is_one_run() {
        let pts = [(0.1, 0.1), (0.5, 0.5), (0.9, 0.2)];
        assert_eq!(visible_runs(&pts, UNIT), vec![pts.to_vec()]);
    }

    #[test]
    fn nan_cuts_the_line() {
        let pts = [
            (0.1, 0.1),
            (0.2, 0.2),
            (f64::NAN, 0.3),
            (0.4, 0.4),
            (0.5, 0.5),
        ];
        let runs = visible_runs(&pts, UNIT);
        assert_eq!(
            runs,
            vec![vec![(0.1, 0.1), (0.2, 0.2)], vec![(0.4, 0.4), (0.5, 0.5)]]
        );
    }

    #[test]
    fn leaving_and_reentering_gives_two_clipped_runs() {
        // Goes out through x = 1 at y = 0.5 and comes back the same way.
        let pts = [(0.5, 0.5), (1.5, 0.5), (0.5, 0.5)];
        let runs = visible_runs(&pts, UNIT);
        assert_eq!(
            runs,
            vec![vec![(0.5, 0.5), (1.0, 0.5)], vec![(1.0, 0.5), (0.5, 0.5)]]
        );
    }

    #[test]
    fn stroke_pieces_drop_repeated_pixels_and_break_at_reversals() {
        let to_px = |p: &(f64, f64)| ((p.0 * 10.0).round() as i32, (p.1 * 10.0).round() as i32);
        // (0.01, 0) lands on the first point's pixel; (1, 0) lies on the straight line
        // to (2, 0) and is simplified away; at (2, 0) the line turns back.
        let run = [
            (0.0, 0.0),
            (0.01, 0.0),
            (1.0, 0.0),
            (2.0, 0.0),
            (1.0, 0.05),
            (1.0, 1.0),
        ];
        let pieces = stroke_pieces(false, &run, to_px);
        assert_eq!(
            pieces,
            vec![
                vec![(0.0, 0.0), (2.0, 0.0)],
                vec![(2.0, 0.0), (1.0, 0.05), (1.0, 1.0)]
            ]
        );
    }

    #[test]
    fn segment_passing_outside_is_dropped_and_huge_values_are_safe() {
        assert!(clip_segment((2.0, 2.0), (3.0, 5.0), UNIT).is_none());
        let runs = visible_runs(
            &[(0.5, 0.5), (f64::MAX, -f64::MAX), (-f64::MAX, f64::MAX)],
            UNIT,
        );
        assert_eq!(runs.len(), 1);
        assert_eq!(runs[0][0], (0.5, 0.5));
    }
}
