//! What a chart drew, in image pixels: returned by every chart function so that tests
//! (and callers) can check a picture from its geometry instead of its pixels.

use crate::clip::{clip_segment, Bounds};
use crate::{LineStyle, Marker};

/// An axis-aligned rectangle in image pixels (x to the right, y down).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Rect {
    /// Left edge.
    pub left: f64,
    /// Top edge.
    pub top: f64,
    /// Right edge.
    pub right: f64,
    /// Bottom edge.
    pub bottom: f64,
}

impl Rect {
    /// The rectangle with corners `(left, top)` and `(right, bottom)`.
    pub fn new(left: f64, top: f64, right: f64, bottom: f64) -> Rect {
        Rect {
            left,
            top,
            right,
            bottom,
        }
    }

    /// Whether `(x, y)` lies inside or on the border.
    pub fn contains(&self, (x, y): (f64, f64)) -> bool {
        x >= self.left && x <= self.right && y >= self.top && y <= self.bottom
    }

    /// Whether some part of the segment `a`–`b` lies inside.
    pub fn meets_segment(&self, a: (f64, f64), b: (f64, f64)) -> bool {
        clip_segment(a, b, self.bounds()).is_some()
    }

    /// Whether some part of the polyline lies inside (a lone point counts too).
    pub fn meets_polyline(&self, points: &[(f64, f64)]) -> bool {
        match points {
            [] => false,
            [p] => self.contains(*p),
            _ => points.windows(2).any(|w| self.meets_segment(w[0], w[1])),
        }
    }

    /// Whether the two rectangles overlap.
    pub fn overlaps(&self, other: &Rect) -> bool {
        self.left < other.right
            && other.left < self.right
            && self.top < other.bottom
            && other.top < self.bottom
    }

    /// The same rectangle grown by `by` pixels on every side.
    pub fn grown(&self, by: f64) -> Rect {
        Rect::new(
            self.left - by,
            self.top - by,
            self.right + by,
            self.bottom + by,
        )
    }

    /// Width in pixels.
    pub fn width(&self) -> f64 {
        self.right - self.left
    }

    /// Height in pixels.
    pub fn height(&self) -> f64 {
        self.bottom - self.top
    }

    fn bounds(&self) -> Bounds {
        Bounds {
            x0: self.left,
            x1: self.right,
            y0: self.top,
            y1: self.bottom,
        }
    }
}

/// One series as drawn.
#[derive(Clone, Debug, PartialEq)]
pub struct DrawnSeries {
    /// Its legend text.
    pub name: String,
    /// Its colour.
    pub color: (u8, u8, u8),
    /// Its line style.
    pub style: LineStyle,
    /// The shape of its marked points, if it marks points.
    pub marker: Option<Marker>,
    /// The polylines drawn, in image pixels.
    pub lines: Vec<Vec<(f64, f64)>>,
    /// Centres of the markers drawn, in image pixels.
    pub marks: Vec<(f64, f64)>,
    /// Some finite point of the data lies outside the frame.
    pub leaves_frame: bool,
    /// The series was drawn as a diverged run.
    pub diverged: bool,
}

impl DrawnSeries {
    /// Whether the series draws anything inside `rect` (lines or markers; `pad` pixels
    /// around each marker centre count as the marker).
    pub fn meets(&self, rect: &Rect, pad: f64) -> bool {
        self.lines.iter().any(|l| rect.meets_polyline(l))
            || self.marks.iter().any(|&m| rect.grown(pad).contains(m))
    }
}

/// A mark at the border of the frame where a series leaves it.
#[derive(Clone, Debug, PartialEq)]
pub struct EdgeMarker {
    /// Index into [`Drawing::series`].
    pub series: usize,
    /// Where the mark points out of the frame, in image pixels.
    pub at: (f64, f64),
    /// The text beside it: the run's final value, or "diverged".
    pub label: String,
}

/// The geometry of a drawn chart, in image pixels.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Drawing {
    /// Image width.
    pub width: u32,
    /// Image height.
    pub height: u32,
    /// The plot area (inside the axes).
    pub plot_area: Option<Rect>,
    /// The series, in the order they were given.
    pub series: Vec<DrawnSeries>,
    /// The legend box.
    pub legend: Option<Rect>,
    /// Marks for series that leave the frame.
    pub edge_markers: Vec<EdgeMarker>,
    /// The colour bar of a contour map.
    pub color_bar: Option<Rect>,
    /// Panels of a small-multiples chart, each a drawing of its own.
    pub panels: Vec<Drawing>,
}

impl Drawing {
    /// What a reader would find wrong with the picture, one sentence each: two series
    /// with the same colour and line style (and marker), a legend box over a drawn
    /// series, a series leaving the frame without an edge marker. Empty when none.
    /// Panels are checked too.
    pub fn faults(&self) -> Vec<String> {
        let mut out = Vec::new();
        for (i, a) in self.series.iter().enumerate() {
            for b in &self.series[i + 1..] {
                if a.color == b.color && a.style == b.style && a.marker == b.marker {
                    out.push(format!(
                        "'{}' and '{}' have the same colour and style",
                        a.name, b.name
                    ));
                }
            }
        }
        if let Some(legend) = &self.legend {
            for s in &self.series {
                if s.meets(legend, 2.0) {
                    out.push(format!("the legend covers '{}'", s.name));
                }
            }
        }
        for (i, s) in self.series.iter().enumerate() {
            if s.leaves_frame && !self.edge_markers.iter().any(|m| m.series == i) {
                out.push(format!(
                    "'{}' leaves the frame without an edge marker",
                    s.name
                ));
            }
        }
        for (k, p) in self.panels.iter().enumerate() {
            out.extend(
                p.faults()
                    .into_iter()
                    .map(|f| format!("panel {}: {f}", k + 1)),
            );
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn series(name: &str, color: (u8, u8, u8), line: Vec<(f64, f64)>) -> DrawnSeries {
        DrawnSeries {
            name: name.into(),
            color,
            style: LineStyle::Solid,
            marker: None,
            lines: vec![line],
            marks: Vec::new(),
            leaves_frame: false,
            diverged: false,
        }
    }

    #[test]
    fn rectangles_meet_segments_crossing_them_only() {
        let r = Rect::new(10.0, 10.0, 20.0, 20.0);
        assert!(r.meets_segment((0.0, 15.0), (30.0, 15.0)));
        assert!(!r.meets_segment((0.0, 0.0), (30.0, 5.0)));
        assert!(r.meets_polyline(&[(15.0, 15.0)]));
        assert!(!r.meets_polyline(&[]));
    }

    #[test]
    fn faults_name_lookalikes_covered_series_and_missing_edge_markers() {
        let mut d = Drawing {
            width: 100,
            height: 100,
            series: vec![
                series("a", (1, 2, 3), vec![(0.0, 50.0), (100.0, 50.0)]),
                series("b", (1, 2, 3), vec![(0.0, 90.0), (100.0, 90.0)]),
            ],
            legend: Some(Rect::new(40.0, 40.0, 60.0, 60.0)),
            ..Drawing::default()
        };
        d.series[1].leaves_frame = true;
        let faults = d.faults();
        assert_eq!(faults.len(), 3, "{faults:?}");
        d.series[1].color = (9, 9, 9);
        d.legend = Some(Rect::new(0.0, 0.0, 20.0, 20.0));
        d.edge_markers.push(EdgeMarker {
            series: 1,
            at: (100.0, 90.0),
            label: "1e9".into(),
        });
        assert!(d.faults().is_empty(), "{:?}", d.faults());
    }
}
