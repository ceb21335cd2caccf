//! Colours.

use plotters::style::RGBColor;

/// Series colours, in the order series receive them: the Okabe–Ito palette (Okabe &
/// Ito 2008, "Color Universal Design"), which stays distinguishable under the common
/// forms of colour blindness, with its yellow darkened to an ochre so it reads on white,
/// followed by four darker hues (wine, indigo, brown, grey) from Paul Tol's schemes.
/// Series beyond the twelfth reuse the colours with the next [`LineStyle`](crate::LineStyle)
/// and [`Marker`](crate::Marker), so no two series of a chart look alike.
pub const PALETTE: [(u8, u8, u8); 12] = [
    (0, 114, 178),   // blue
    (213, 94, 0),    // vermillion
    (0, 158, 115),   // bluish green
    (204, 121, 167), // reddish purple
    (230, 159, 0),   // orange
    (86, 180, 233),  // sky blue
    (0, 0, 0),       // black
    (160, 140, 0),   // ochre (darkened yellow)
    (136, 34, 85),   // wine
    (51, 34, 136),   // indigo
    (130, 80, 30),   // brown
    (115, 115, 115), // grey
];

/// The colour of palette entry `index`, modulo the palette's length.
pub(crate) fn color(index: usize) -> RGBColor {
    let (r, g, b) = PALETTE[index % PALETTE.len()];
    RGBColor(r, g, b)
}

/// Colour of filled contour band `t` in [0, 1] (0 = lowest values): a pale version of
/// the viridis map, so trajectories in palette colours stay the strongest marks.
pub(crate) fn contour_fill(t: f64) -> RGBColor {
    // viridis anchors at t = 0, 0.25, 0.5, 0.75, 1.
    const ANCHORS: [(f64, f64, f64); 5] = [
        (68.0, 1.0, 84.0),
        (59.0, 82.0, 139.0),
        (33.0, 145.0, 140.0),
        (94.0, 201.0, 98.0),
        (253.0, 231.0, 37.0),
    ];
    let t = if t.is_finite() {
        t.clamp(0.0, 1.0)
    } else {
        1.0
    };
    let pos = t * (ANCHORS.len() - 1) as f64;
    let i = (pos.floor() as usize).min(ANCHORS.len() - 2);
    let u = pos - i as f64;
    let (a, b) = (ANCHORS[i], ANCHORS[i + 1]);
    let lerp = |p: f64, q: f64| p + (q - p) * u;
    // Mix 45 % of the map with 55 % white.
    let pale = |c: f64| (0.45 * c + 0.55 * 255.0).round() as u8;
    RGBColor(
        pale(lerp(a.0, b.0)),
        pale(lerp(a.1, b.1)),
        pale(lerp(a.2, b.2)),
    )
}
