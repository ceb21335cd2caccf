//! Draws one chart of every kind with made-up but realistic data, for looking at.
//!
//! ```text
//! cargo run --release -p gradus-plot --example gallery -- [OUT_DIR]
//! ```
//!
//! Writes PNGs (and one SVG and one GIF) to OUT_DIR, `target/gallery` by default, plus
//! a few frames of the GIF as PNGs, and prints how long each took.

use std::path::{Path, PathBuf};
use std::time::Instant;

use gradus_plot::{
    contour_animation, contour_trajectories, function_1d, line_chart, scatter_with_lines,
    schedule_chart, Animation, Chart, FittedLine, Iterates, LineStyle, PlotError, Series, Size,
    Surface, YScale,
};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let out = PathBuf::from(
        std::env::args()
            .nth(1)
            .unwrap_or_else(|| "target/gallery".into()),
    );
    std::fs::create_dir_all(&out)?;
    // `gallery DIR gif` draws only the animation, for timing it alone.
    let only_gif = std::env::args().nth(2).as_deref() == Some("gif");
    if !only_gif {
        stills(&out)?;
    }
    let gif = out.join("rosenbrock.gif");
    timed("rosenbrock gif (120 frames, 600×450)", || {
        rosenbrock_gif(&gif)
    })?;
    gif_frames_to_png(&gif, &out, &[0, 40, 119])?;
    println!("wrote {}", out.display());
    Ok(())
}

fn stills(out: &Path) -> Result<(), PlotError> {
    timed("loss (log y)", || loss_chart(&out.join("loss.png")))?;
    timed("loss (svg)", || loss_chart(&out.join("loss.svg")))?;
    timed("rosenbrock contour", || {
        rosenbrock(&out.join("rosenbrock.png"))
    })?;
    timed("rosenbrock contour (svg)", || {
        rosenbrock(&out.join("rosenbrock.svg"))
    })?;
    timed("beale contour", || beale(&out.join("beale.png")))?;
    timed("bowl contour, sgd schedules", || {
        bowl(&out.join("bowl.png"))
    })?;
    timed("x·cos(πx)", || local_minima(&out.join("xcos.png")))?;
    timed("newton vs gd on cosh", || newton(&out.join("cosh.png")))?;
    timed("tanh from 4", || tanh(&out.join("tanh.png")))?;
    timed("boston scatter", || boston(&out.join("boston.png")))?;
    timed("schedules", || schedules(&out.join("schedules.png")))?;
    Ok(())
}

fn timed(what: &str, f: impl FnOnce() -> Result<(), PlotError>) -> Result<(), PlotError> {
    let start = Instant::now();
    f()?;
    println!("{what:<40} {:>8.1} ms", start.elapsed().as_secs_f64() * 1e3);
    Ok(())
}

/// A deterministic stand-in for random noise.
fn noise(i: usize, seed: u64) -> f64 {
    let mut z = (i as u64).wrapping_add(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15));
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^= z >> 31;
    (z >> 11) as f64 / (1u64 << 53) as f64 * 2.0 - 1.0
}

fn loss_chart(path: &Path) -> Result<(), PlotError> {
    let curve = |rate: f64, floor: f64, seed: u64, steps: usize| -> Vec<f64> {
        (0..steps)
            .map(|t| {
                (floor + (1.0 - floor) * (-rate * t as f64).exp()) * (1.0 + 0.06 * noise(t, seed))
            })
            .collect()
    };
    let mut series = vec![
        Series::from_values("momentum", &curve(0.004, 0.39, 1, 1000)),
        Series::from_values("nesterov", &curve(0.005, 0.39, 2, 1000)),
        Series::from_values("adagrad", &curve(0.02, 0.385, 3, 1000)),
        Series::from_values("rmsprop", &curve(0.01, 0.38, 4, 2000)),
        Series::from_values("adam (train)", &curve(0.003, 0.38, 5, 2000)).with_color(4),
        Series::from_values("adam (test)", &curve(0.003, 0.42, 6, 2000))
            .with_style(LineStyle::Dashed)
            .with_color(4),
    ];
    // A loss that hits zero and one that produces NaN midway: neither may break the chart.
    series[2].points[500].1 = 0.0;
    series[3].points[1500].1 = f64::NAN;
    let chart = Chart::new(
        "Linear regression on Boston housing: training loss",
        "step",
        "MSE loss",
    );
    line_chart(path, &chart, &series, YScale::Log)?;
    Ok(())
}

fn rosenbrock_fn(x: f64, y: f64) -> f64 {
    (1.0 - x).powi(2) + 100.0 * (y - x * x).powi(2)
}

fn rosenbrock_grad(x: f64, y: f64) -> (f64, f64) {
    (
        -2.0 * (1.0 - x) - 400.0 * x * (y - x * x),
        200.0 * (y - x * x),
    )
}

/// Momentum and Adam on a 2-D function, as lists of iterates.
fn momentum(
    grad: impl Fn(f64, f64) -> (f64, f64),
    start: (f64, f64),
    lr: f64,
    beta: f64,
    steps: usize,
) -> Vec<(f64, f64)> {
    let (mut p, mut v) = (start, (0.0, 0.0));
    let mut out = vec![p];
    for _ in 0..steps {
        let g = grad(p.0, p.1);
        v = (beta * v.0 + g.0, beta * v.1 + g.1);
        p = (p.0 - lr * v.0, p.1 - lr * v.1);
        out.push(p);
    }
    out
}

fn adam(
    grad: impl Fn(f64, f64) -> (f64, f64),
    start: (f64, f64),
    lr: f64,
    steps: usize,
) -> Vec<(f64, f64)> {
    let (b1, b2, eps) = (0.9, 0.999, 1e-8);
    let (mut p, mut m, mut v) = (start, (0.0, 0.0), (0.0, 0.0));
    let mut out = vec![p];
    for t in 1..=steps {
        let g = grad(p.0, p.1);
        m = (b1 * m.0 + (1.0 - b1) * g.0, b1 * m.1 + (1.0 - b1) * g.1);
        v = (
            b2 * v.0 + (1.0 - b2) * g.0 * g.0,
            b2 * v.1 + (1.0 - b2) * g.1 * g.1,
        );
        let (c1, c2) = (1.0 - b1.powi(t as i32), 1.0 - b2.powi(t as i32));
        p.0 -= lr * (m.0 / c1) / ((v.0 / c2).sqrt() + eps);
        p.1 -= lr * (m.1 / c1) / ((v.1 / c2).sqrt() + eps);
        out.push(p);
    }
    out
}

fn rosenbrock_series() -> Vec<Series> {
    vec![
        Series::new(
            "momentum (lr 1e-3, β 0.9)",
            momentum(rosenbrock_grad, (-1.5, 2.5), 1e-3, 0.9, 300),
        ),
        Series::new(
            "adam (lr 0.05)",
            adam(rosenbrock_grad, (-1.8, -0.5), 0.05, 300),
        ),
        Series::new(
            "gd (lr 4e-4)",
            momentum(rosenbrock_grad, (1.8, 0.2), 4e-4, 0.0, 300),
        ),
    ]
}

fn rosenbrock(path: &Path) -> Result<(), PlotError> {
    let surface = Surface::new(&rosenbrock_fn, (-2.0, 2.0), (-1.0, 3.0)).with_minima(&[(1.0, 1.0)]);
    let chart = Chart::new("Rosenbrock function", "x", "y");
    contour_trajectories(path, &chart, &surface, &rosenbrock_series())?;
    Ok(())
}

fn rosenbrock_gif(path: &Path) -> Result<(), PlotError> {
    let surface = Surface::new(&rosenbrock_fn, (-2.0, 2.0), (-1.0, 3.0)).with_minima(&[(1.0, 1.0)]);
    let chart = Chart::new("Rosenbrock function", "x", "y").with_size(600, 450);
    let animation = Animation {
        frames: 120,
        delay_ms: 50,
        final_pause_ms: 1500,
        steps_per_point: 1,
    };
    contour_animation(path, &chart, &surface, &rosenbrock_series(), &animation)?;
    Ok(())
}

fn beale(path: &Path) -> Result<(), PlotError> {
    let f = |x: f64, y: f64| {
        (1.5 - x + x * y).powi(2)
            + (2.25 - x + x * y * y).powi(2)
            + (2.625 - x + x * y.powi(3)).powi(2)
    };
    let grad = |x: f64, y: f64| {
        let (a, b, c) = (
            1.5 - x + x * y,
            2.25 - x + x * y * y,
            2.625 - x + x * y.powi(3),
        );
        (
            2.0 * a * (y - 1.0) + 2.0 * b * (y * y - 1.0) + 2.0 * c * (y.powi(3) - 1.0),
            2.0 * a * x + 2.0 * b * 2.0 * x * y + 2.0 * c * 3.0 * x * y * y,
        )
    };
    let mut diverging = momentum(grad, (1.0, 1.4), 0.01, 0.9, 40);
    diverging.push((f64::NAN, f64::NAN));
    let surface = Surface::new(&f, (-4.5, 4.5), (-4.5, 4.5)).with_minima(&[(3.0, 0.5)]);
    let chart = Chart::new("Beale function", "x", "y");
    contour_trajectories(
        path,
        &chart,
        &surface,
        &[
            Series::new("adam (lr 0.1)", adam(grad, (-1.0, 3.5), 0.1, 400)),
            Series::new(
                "momentum (lr 1e-3): diverges",
                momentum(grad, (2.0, -3.0), 1e-3, 0.9, 400),
            ),
            Series::new("momentum (lr 0.01), NaN at the end", diverging),
        ],
    )?;
    Ok(())
}

fn bowl(path: &Path) -> Result<(), PlotError> {
    let f = |x: f64, y: f64| x * x + 2.0 * y * y;
    let run = |lr: &dyn Fn(usize) -> f64, seed: u64| {
        let mut p = (-5.0, -5.0);
        let mut out = vec![p];
        for t in 0..100 {
            let g = (
                2.0 * p.0 + noise(2 * t, seed),
                4.0 * p.1 + noise(2 * t + 1, seed),
            );
            p = (p.0 - lr(t) * g.0, p.1 - lr(t) * g.1);
            out.push(p);
        }
        out
    };
    let surface = Surface::new(&f, (-6.0, 6.0), (-6.0, 6.0))
        .with_minima(&[(0.0, 0.0)])
        .with_scale(gradus_plot::ContourScale::Linear);
    let chart = Chart::new(
        "Noisy SGD on x₁² + 2·x₂² under learning-rate schedules",
        "x₁",
        "x₂",
    );
    contour_trajectories(
        path,
        &chart,
        &surface,
        &[
            Series::new("constant 0.1", run(&|_| 0.1, 1)),
            Series::new("exponential", run(&|t| 0.1 * (-0.1 * t as f64).exp(), 2)),
            Series::new(
                "polynomial",
                run(&|t| 0.1 * (1.0 + 0.1 * t as f64).powf(-0.5), 3),
            ),
        ],
    )?;
    Ok(())
}

fn gd_1d(grad: impl Fn(f64) -> f64, x0: f64, lr: f64, steps: usize) -> Vec<f64> {
    let mut x = x0;
    let mut out = vec![x];
    for _ in 0..steps {
        x -= lr * grad(x);
        out.push(x);
    }
    out
}

fn local_minima(path: &Path) -> Result<(), PlotError> {
    use std::f64::consts::PI;
    let f = |x: f64| x * (PI * x).cos();
    let df = |x: f64| (PI * x).cos() - PI * x * (PI * x).sin();
    let chart = Chart::new("Local and global minima of x·cos(πx)", "x", "f(x)");
    function_1d(
        path,
        &chart,
        &f,
        (-1.0, 2.0),
        &[
            Iterates::new("gd from x = -0.4", gd_1d(df, -0.4, 0.05, 15)),
            Iterates::new("gd from x = 1.4", gd_1d(df, 1.4, 0.05, 15)),
        ],
    )?;
    Ok(())
}

fn newton(path: &Path) -> Result<(), PlotError> {
    let c = 0.5;
    let f = |x: f64| (c * x).cosh();
    let df = |x: f64| c * (c * x).sinh();
    let d2f = |x: f64| c * c * (c * x).cosh();
    let mut x = 10.0;
    let mut newton = vec![x];
    for _ in 0..10 {
        x -= df(x) / d2f(x);
        newton.push(x);
    }
    let chart = Chart::new(
        "Newton's method vs gradient descent on cosh(0.5·x)",
        "x",
        "f(x)",
    );
    function_1d(
        path,
        &chart,
        &f,
        (-2.0, 11.0),
        &[
            Iterates::new("newton", newton),
            Iterates::new("gd (lr 0.2)", gd_1d(df, 10.0, 0.2, 30)),
        ],
    )?;
    Ok(())
}

fn tanh(path: &Path) -> Result<(), PlotError> {
    let df = |x: f64| 1.0 - x.tanh().powi(2);
    let chart = Chart::new("Vanishing gradient: tanh(x) from x = 4", "x", "tanh(x)");
    function_1d(
        path,
        &chart,
        &f64::tanh,
        (-5.0, 5.0),
        &[Iterates::new(
            "gd (lr 1), 1000 steps",
            gd_1d(df, 4.0, 1.0, 1000),
        )],
    )?;
    Ok(())
}

fn boston(path: &Path) -> Result<(), PlotError> {
    // Standardized LSTAT vs MEDV: a falling, slightly convex cloud.
    let points: Vec<(f64, f64)> = (0..102)
        .map(|i| {
            let x = -1.3 + 3.5 * ((i as f64 * 0.618).fract()).powf(1.6) + 0.1 * noise(i, 9);
            let y = -0.75 * x + 0.22 * x * x - 0.2 + 0.45 * noise(i, 10);
            (x, y)
        })
        .collect();
    let chart = Chart::new(
        "Boston housing: fitted lines on the test set",
        "LSTAT (standardized)",
        "MEDV (standardized)",
    );
    scatter_with_lines(
        path,
        &chart,
        &points,
        "test points",
        &[
            FittedLine::new("momentum", -0.52, -0.02),
            FittedLine::new("nesterov", -0.55, -0.01),
            FittedLine::new("adagrad", -0.73, 0.0),
            FittedLine::new("rmsprop", -0.74, 0.01),
            FittedLine::new("adam", -0.72, -0.005),
        ],
    )?;
    Ok(())
}

fn schedules(path: &Path) -> Result<(), PlotError> {
    let steps = 100;
    let constant: Vec<f64> = vec![0.1; steps];
    let piecewise: Vec<f64> = (0..steps)
        .map(|t| {
            if t < 30 {
                0.1
            } else if t < 70 {
                0.05
            } else {
                0.01
            }
        })
        .collect();
    let exponential: Vec<f64> = (0..steps).map(|t| 0.1 * (-0.1 * t as f64).exp()).collect();
    let polynomial: Vec<f64> = (0..steps)
        .map(|t| 0.1 * (1.0 + 0.1 * t as f64).powf(-0.5))
        .collect();
    schedule_chart(
        path,
        "Learning-rate schedules",
        &[
            ("constant", &constant),
            ("piecewise constant", &piecewise),
            ("exponential η·e^(−0.1t)", &exponential),
            ("polynomial η·(1 + 0.1t)^(−0.5)", &polynomial),
        ],
        Size::default(),
    )?;
    Ok(())
}

/// Decodes the GIF and writes the composited frames `which` as PNGs beside it.
fn gif_frames_to_png(
    gif_path: &Path,
    out: &Path,
    which: &[usize],
) -> Result<(), Box<dyn std::error::Error>> {
    let mut options = gif::DecodeOptions::new();
    options.set_color_output(gif::ColorOutput::RGBA);
    let mut decoder = options.read_info(std::fs::File::open(gif_path)?)?;
    let (w, h) = (usize::from(decoder.width()), usize::from(decoder.height()));
    let mut canvas = vec![0u8; w * h * 4];
    let mut index = 0;
    while let Some(frame) = decoder.read_next_frame()? {
        let (fw, fl, ft) = (
            usize::from(frame.width),
            usize::from(frame.left),
            usize::from(frame.top),
        );
        for (row, chunk) in frame.buffer.chunks_exact(fw * 4).enumerate() {
            let start = ((ft + row) * w + fl) * 4;
            canvas[start..start + fw * 4].copy_from_slice(chunk);
        }
        if which.contains(&index) {
            let file = std::fs::File::create(out.join(format!("rosenbrock-frame{index}.png")))?;
            let mut encoder = png::Encoder::new(file, w as u32, h as u32);
            encoder.set_color(png::ColorType::Rgba);
            encoder.write_header()?.write_image_data(&canvas)?;
        }
        index += 1;
    }
    println!(
        "gif: {index} frames, {} bytes",
        std::fs::metadata(gif_path)?.len()
    );
    Ok(())
}
