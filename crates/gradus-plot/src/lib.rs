//! # gradus-plot
//!
//! Charts for the gradus experiments: data in, image file out.
//!
//! * [`line_chart`]: named series on one chart, optionally on a log-scaled y axis (loss
//!   histories, learning-rate schedules via [`schedule_chart`]); [`lr_sweep_chart`] for
//!   a result against the learning rate on a log axis, diverged runs marked.
//! * [`contour_trajectories`]: a filled contour map of a 2-D function with optimizer
//!   trajectories, their start points and the known minima.
//! * [`contour_animation`]: the same map as a GIF, trajectories drawn step by step.
//! * [`contour_small_multiples`]: one such map per trajectory, the others faint behind
//!   it, when one map cannot hold them all.
//! * [`function_1d`]: a 1-D function with iterates `(x_k, f(x_k))` marked in order.
//! * [`scatter_with_lines`]: data points with fitted lines `y = w·x + b`.
//!
//! The image format follows the file extension: `.png` or `.svg` for still charts,
//! `.gif` for animations. Every function returns a [`PlotError`] naming the file and
//! the cause instead of panicking, including on empty or non-finite data.
//!
//! Text is drawn with DejaVu Sans, embedded in the crate (see `assets/`), so no system
//! font or font library is needed. Colours come from the Okabe–Ito palette, which
//! stays distinguishable under the common forms of colour blindness, extended to twelve
//! ([`PALETTE`]); series also differ by [`Marker`] and, beyond twelve, by [`LineStyle`].
//!
//! How charts are drawn:
//! * Sizes are in pixels ([`Size`], 900 × 600 by default); text, strokes and margins
//!   scale with the smaller side relative to that default.
//! * PNG and GIF images up to 4 megapixels are drawn at twice the size and averaged
//!   down, which antialiases lines and sets small text evenly (plotters' bitmap backend
//!   does neither on its own).
//! * Legends never cover data: they sit in a corner (or edge middle) of the plot that no
//!   series passes through, or else beside or below the plot.
//! * Frames are robust: a diverged run does not rescale the others, a log axis spans at
//!   most ten decades, and a series that leaves the frame gets a triangle at the border
//!   with its final value.
//! * Every chart function returns a [`Drawing`]: what it drew (series styles, polylines,
//!   legend box, edge markers) in image pixels, so tests can check the picture's layout
//!   without reading pixels ([`Drawing::faults`]).
//! * Images are rendered in memory and written in one go, so a failed chart leaves no
//!   partial file behind.
//!
//! ```no_run
//! use gradus_plot::{line_chart, Chart, Series, YScale};
//! let adam: Vec<f64> = (0..100).map(|t| (-0.05 * t as f64).exp()).collect();
//! let sgd: Vec<f64> = (0..100).map(|t| 1.0 / (1.0 + 0.1 * t as f64)).collect();
//! let chart = Chart::new("Training loss", "step", "loss");
//! line_chart(
//!     "loss.png",
//!     &chart,
//!     &[Series::from_values("adam", &adam), Series::from_values("sgd", &sgd)],
//!     YScale::Log,
//! )?;
//! # Ok::<(), gradus_plot::PlotError>(())
//! ```

#![warn(missing_docs)]

mod animation;
mod axes;
mod clip;
mod contour;
mod drawing;
mod error;
mod font;
mod function_1d;
mod legend;
mod line_chart;
mod marks;
mod output;
mod palette;
mod scatter;
mod small_multiples;
mod spec;

pub use animation::{contour_animation, Animation};
pub use contour::{contour_trajectories, ContourScale, Surface};
pub use drawing::{Drawing, DrawnSeries, EdgeMarker, Rect};
pub use error::PlotError;
pub use function_1d::{function_1d, Iterates};
pub use line_chart::{line_chart, lr_sweep_chart, schedule_chart};
pub use palette::PALETTE;
pub use scatter::{scatter_with_lines, FittedLine};
pub use small_multiples::contour_small_multiples;
pub use spec::{Chart, LineStyle, Marker, Series, Size, YScale};
