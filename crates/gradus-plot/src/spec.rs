//! What a chart shows: its size, titles and data series.

/// Image size in pixels. The default, 900 × 600, is what the text sizes are tuned for;
/// text and margins scale with the smaller side for other sizes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Size {
    /// Width in pixels, 16 to 8192.
    pub width: u32,
    /// Height in pixels, 16 to 8192.
    pub height: u32,
}

impl Size {
    /// Smallest accepted width or height.
    pub const MIN: u32 = 16;
    /// Largest accepted width or height.
    pub const MAX: u32 = 8192;

    /// A size of `width` × `height` pixels.
    pub fn new(width: u32, height: u32) -> Self {
        Size { width, height }
    }

    /// Scale factor for text and margins relative to the 900 × 600 default.
    pub(crate) fn scale(self) -> f64 {
        (f64::from(self.width) / 900.0)
            .min(f64::from(self.height) / 600.0)
            .clamp(0.4, 4.0)
    }
}

impl Default for Size {
    fn default() -> Self {
        Size::new(900, 600)
    }
}

/// Title, axis labels and size shared by every chart kind.
#[derive(Clone, Debug, PartialEq)]
pub struct Chart {
    /// Caption above the plot; empty for none.
    pub title: String,
    /// Label under the x axis.
    pub x_label: String,
    /// Label beside the y axis.
    pub y_label: String,
    /// Image size; defaults to 900 × 600.
    pub size: Size,
}

impl Chart {
    /// A chart of the default size with the given title and axis labels.
    pub fn new(
        title: impl Into<String>,
        x_label: impl Into<String>,
        y_label: impl Into<String>,
    ) -> Self {
        Chart {
            title: title.into(),
            x_label: x_label.into(),
            y_label: y_label.into(),
            size: Size::default(),
        }
    }

    /// The same chart at `width` × `height` pixels.
    pub fn with_size(mut self, width: u32, height: u32) -> Self {
        self.size = Size::new(width, height);
        self
    }
}

/// Scale of a line chart's y axis.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum YScale {
    /// Linear axis.
    #[default]
    Linear,
    /// Base-10 logarithmic axis. Values ≤ 0 cannot be shown on it and are clamped to a
    /// floor: one tenth of the smallest positive value in the chart, so a loss that hits
    /// exactly zero shows as a drop to the bottom of the chart rather than vanishing.
    Log,
}

/// How a series is drawn.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum LineStyle {
    /// Solid line.
    #[default]
    Solid,
    /// Dashed line, e.g. test loss beside a solid training loss.
    Dashed,
    /// Points only, no line.
    Markers,
    /// Solid line with a point at every value.
    LineMarkers,
    /// Dotted line.
    Dotted,
}

impl LineStyle {
    /// The line styles series take in turn once the twelve palette colours are used up.
    pub const CYCLE: [LineStyle; 3] = [LineStyle::Solid, LineStyle::Dashed, LineStyle::Dotted];
}

/// The shape of the points marked on a series (trajectory iterates, line markers).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum Marker {
    /// A filled disc.
    #[default]
    Circle,
    /// A filled square.
    Square,
    /// A filled triangle pointing up.
    Triangle,
    /// A filled diamond.
    Diamond,
    /// A diagonal cross.
    Cross,
    /// A plus sign.
    Plus,
}

impl Marker {
    /// Every shape, in the order series receive them.
    pub const ALL: [Marker; 6] = [
        Marker::Circle,
        Marker::Square,
        Marker::Triangle,
        Marker::Diamond,
        Marker::Cross,
        Marker::Plus,
    ];
}

/// A named sequence of `(x, y)` points.
///
/// Non-finite points (NaN or ±∞ in either coordinate) break the line: the parts before
/// and after are drawn, the point itself is not.
#[derive(Clone, Debug, PartialEq)]
pub struct Series {
    /// Name shown in the legend.
    pub name: String,
    /// The points, in drawing order.
    pub points: Vec<(f64, f64)>,
    /// Line style; solid by default.
    pub style: LineStyle,
    /// Index into [`PALETTE`](crate::PALETTE) (taken modulo its length); by default the
    /// series' position in the slice handed to the chart. Give two series the same colour
    /// to pair them, e.g. an optimizer's training and test loss.
    pub color: Option<usize>,
    /// Shape of the marked points; by default the series' position in [`Marker::ALL`].
    pub marker: Option<Marker>,
    /// The run diverged: its points beyond the start do not widen the frame (so the other
    /// series keep their scale), and where it leaves the frame it is labelled "diverged".
    /// Line charts also treat a series as diverged when it ends non-finite or 100 times
    /// above its first value.
    pub diverged: bool,
}

impl Series {
    /// A solid series of explicit points.
    pub fn new(name: impl Into<String>, points: Vec<(f64, f64)>) -> Self {
        Series {
            name: name.into(),
            points,
            style: LineStyle::Solid,
            color: None,
            marker: None,
            diverged: false,
        }
    }

    /// A solid series of values at x = 0, 1, 2, … (e.g. a loss per step).
    pub fn from_values(name: impl Into<String>, values: &[f64]) -> Self {
        let points = values
            .iter()
            .enumerate()
            .map(|(i, &y)| (i as f64, y))
            .collect();
        Series::new(name, points)
    }

    /// The same series drawn in `style`.
    pub fn with_style(mut self, style: LineStyle) -> Self {
        self.style = style;
        self
    }

    /// The same series in palette colour `index` (taken modulo the palette's length).
    pub fn with_color(mut self, index: usize) -> Self {
        self.color = Some(index);
        self
    }

    /// The same series with its points marked as `marker`.
    pub fn with_marker(mut self, marker: Marker) -> Self {
        self.marker = Some(marker);
        self
    }

    /// The same series marked as diverged (see [`Series::diverged`]).
    pub fn with_diverged(mut self, diverged: bool) -> Self {
        self.diverged = diverged;
        self
    }

    /// Colour, line style and marker of this series when it is number `index` of its
    /// chart: explicit choices win; otherwise the palette colour `index` (mod 12), the
    /// line style advancing every twelve series, and marker `index` (mod 6).
    pub(crate) fn look(&self, index: usize) -> (usize, LineStyle, Marker) {
        let n = crate::PALETTE.len();
        let color = self.color.unwrap_or(index);
        let style = if self.color.is_none() && self.style == LineStyle::Solid {
            LineStyle::CYCLE[(index / n) % LineStyle::CYCLE.len()]
        } else {
            self.style
        };
        self.look_with(color % n, style)
    }

    /// [`Series::look`] for a line chart, where curves often lie on top of each other:
    /// series left solid and uncoloured take the line styles in turn (solid, dashed,
    /// dotted), so a curve under another still shows through its gaps.
    pub(crate) fn line_look(&self, index: usize) -> (usize, LineStyle, Marker) {
        let n = crate::PALETTE.len();
        let color = self.color.unwrap_or(index);
        let style = if self.color.is_none() && self.style == LineStyle::Solid {
            LineStyle::CYCLE[index % LineStyle::CYCLE.len()]
        } else {
            self.style
        };
        // Twelve colours × three styles: past 12, shift the style so (colour, style)
        // pairs stay distinct for 36 series.
        let style = if self.color.is_none() && index >= n {
            let k = LineStyle::CYCLE
                .iter()
                .position(|s| *s == style)
                .unwrap_or(0);
            LineStyle::CYCLE[(k + index / n) % LineStyle::CYCLE.len()]
        } else {
            style
        };
        self.look_with(color % n, style)
    }

    fn look_with(&self, color: usize, style: LineStyle) -> (usize, LineStyle, Marker) {
        let marker = self
            .marker
            .unwrap_or(Marker::ALL[color % Marker::ALL.len()]);
        (color, style, marker)
    }
}
