//! Every chart kind rendered to real files, checked to be valid images of the requested
//! size, plus the error paths.

use std::path::{Path, PathBuf};

use gradus_plot::{
    contour_animation, contour_trajectories, function_1d, line_chart, scatter_with_lines,
    schedule_chart, Animation, Chart, FittedLine, Iterates, LineStyle, PlotError, Series, Size,
    Surface, YScale,
};

/// Width and height from a PNG's signature and IHDR chunk (the first 24 bytes).
fn png_size(path: &Path) -> (u32, u32) {
    let bytes = std::fs::read(path).unwrap();
    assert!(
        bytes.len() > 24,
        "{} is too short for a PNG",
        path.display()
    );
    assert_eq!(&bytes[..8], b"\x89PNG\r\n\x1a\n", "not a PNG signature");
    assert_eq!(&bytes[12..16], b"IHDR", "first chunk is not IHDR");
    let be = |i: usize| u32::from_be_bytes([bytes[i], bytes[i + 1], bytes[i + 2], bytes[i + 3]]);
    // Decoding the whole image also checks the data stream, not just the header.
    let decoder = png::Decoder::new(std::io::Cursor::new(bytes.clone()));
    let mut reader = decoder.read_info().unwrap();
    let mut buf = vec![0; reader.output_buffer_size().unwrap()];
    reader.next_frame(&mut buf).unwrap();
    (be(16), be(20))
}

/// Width and height attributes of the root `<svg>` element.
fn svg_size(path: &Path) -> (u32, u32) {
    let text = std::fs::read_to_string(path).unwrap();
    let start = text.find("<svg").expect("no <svg> element");
    let tag = &text[start..start + text[start..].find('>').unwrap()];
    let attr = |name: &str| -> u32 {
        let key = format!(" {name}=\"");
        let from = tag
            .find(&key)
            .unwrap_or_else(|| panic!("no {name} in {tag}"))
            + key.len();
        tag[from..from + tag[from..].find('"').unwrap()]
            .parse()
            .unwrap()
    };
    assert!(text.trim_end().ends_with("</svg>"), "SVG is not closed");
    (attr("width"), attr("height"))
}

/// Logical screen size and number of frames of a GIF.
fn gif_info(path: &Path) -> (u32, u32, usize) {
    let bytes = std::fs::read(path).unwrap();
    assert!(
        bytes.starts_with(b"GIF89a") || bytes.starts_with(b"GIF87a"),
        "not a GIF"
    );
    let w = u32::from(u16::from_le_bytes([bytes[6], bytes[7]]));
    let h = u32::from(u16::from_le_bytes([bytes[8], bytes[9]]));
    let mut decoder = gif::DecodeOptions::new()
        .read_info(std::io::Cursor::new(bytes))
        .unwrap();
    let mut frames = 0;
    while decoder.read_next_frame().unwrap().is_some() {
        frames += 1;
    }
    (w, h, frames)
}

fn check_still(path: &Path, size: Size) {
    let got = match path.extension().and_then(|e| e.to_str()) {
        Some("png") => png_size(path),
        Some("svg") => svg_size(path),
        other => panic!("unexpected extension {other:?}"),
    };
    assert_eq!(got, (size.width, size.height), "{}", path.display());
}

fn paths(dir: &tempfile::TempDir, stem: &str) -> [PathBuf; 2] {
    [
        dir.path().join(format!("{stem}.png")),
        dir.path().join(format!("{stem}.svg")),
    ]
}

fn rosenbrock(x: f64, y: f64) -> f64 {
    (1.0 - x).powi(2) + 100.0 * (y - x * x).powi(2)
}

fn losses() -> Vec<Series> {
    let a: Vec<f64> = (0..200).map(|t| (-0.03 * t as f64).exp() + 0.1).collect();
    let mut b: Vec<f64> = (0..150).map(|t| 1.0 / (1.0 + 0.1 * t as f64)).collect();
    b[40] = 0.0; // clamped to the floor on a log axis
    b[41] = -1.0;
    b[80] = f64::NAN; // breaks the line
    b[81] = f64::INFINITY;
    vec![
        Series::from_values("adam", &a),
        Series::from_values("sgd (test)", &b).with_style(LineStyle::Dashed),
        Series::from_values("sgd (markers)", &b[..30]).with_style(LineStyle::Markers),
        Series::from_values("rmsprop", &a[..50])
            .with_style(LineStyle::LineMarkers)
            .with_color(9),
    ]
}

#[test]
fn line_chart_writes_png_and_svg_on_linear_and_log_axes() {
    let dir = tempfile::tempdir().unwrap();
    for scale in [YScale::Linear, YScale::Log] {
        for path in paths(&dir, &format!("loss-{scale:?}")) {
            let chart = Chart::new("Loss", "step", "loss");
            line_chart(&path, &chart, &losses(), scale).unwrap();
            check_still(&path, chart.size);
        }
    }
}

#[test]
fn charts_take_the_requested_size() {
    let dir = tempfile::tempdir().unwrap();
    for (w, h) in [(400, 300), (1600, 500), (Size::MIN, Size::MIN)] {
        for path in paths(&dir, &format!("sized-{w}x{h}")) {
            let chart = Chart::new("Loss", "step", "loss").with_size(w, h);
            line_chart(&path, &chart, &losses(), YScale::Log).unwrap();
            check_still(&path, Size::new(w, h));
        }
    }
}

#[test]
fn single_points_and_constant_series_get_a_widened_range() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("flat.png");
    let series = [
        Series::new("one point", vec![(3.0, 2.0)]),
        Series::from_values("flat", &[2.0; 5]),
    ];
    line_chart(&path, &Chart::new("", "", ""), &series, YScale::Linear).unwrap();
    check_still(&path, Size::default());
}

#[test]
fn extreme_values_render_without_hanging() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("extreme.png");
    let series = [
        Series::new("huge", vec![(0.0, f64::MAX), (1.0, -f64::MAX), (2.0, 1.0)]),
        Series::new("tiny span", vec![(0.0, 1.0), (1.0, 1.0 + 1e-15)]),
    ];
    for scale in [YScale::Linear, YScale::Log] {
        line_chart(&path, &Chart::new("extreme", "x", "y"), &series, scale).unwrap();
        check_still(&path, Size::default());
    }
    let points = [(-f64::MAX, 0.0), (f64::MAX, 1.0)];
    scatter_with_lines(&path, &Chart::new("", "", ""), &points, "p", &[]).unwrap();
}

#[test]
fn contour_trajectories_clip_and_cut_bad_trajectories() {
    let dir = tempfile::tempdir().unwrap();
    let minima = [(1.0, 1.0), (5.0, 5.0)]; // the second is outside the box: not drawn
    let surface = Surface::new(&rosenbrock, (-2.0, 2.0), (-1.0, 3.0)).with_minima(&minima);
    let spiral: Vec<(f64, f64)> = (0..200)
        .map(|k| {
            let t = k as f64 * 0.1;
            (
                1.0 + 2.0 * (-0.1 * t).exp() * t.cos(),
                1.0 + 2.0 * (-0.1 * t).exp() * t.sin(),
            )
        })
        .collect();
    let leaving = vec![
        (0.0, 0.0),
        (1.0, 1.0),
        (10.0, -50.0),
        (1e300, -1e300),
        (0.5, 0.5),
    ];
    let with_nan = vec![
        (-1.0, 2.0),
        (-0.5, 1.0),
        (f64::NAN, 0.0),
        (0.0, 0.5),
        (0.5, 0.2),
    ];
    let trajectories = [
        Series::new("spiral", spiral),
        Series::new("leaves the box", leaving),
        Series::new("nan", with_nan),
        Series::new("empty", vec![]),
    ];
    for path in paths(&dir, "rosenbrock") {
        let chart = Chart::new("Rosenbrock", "x", "y");
        contour_trajectories(&path, &chart, &surface, &trajectories).unwrap();
        check_still(&path, chart.size);
    }
}

#[test]
fn contour_of_a_function_that_is_nan_everywhere_still_renders() {
    let dir = tempfile::tempdir().unwrap();
    let nan = |_: f64, _: f64| f64::NAN;
    let surface =
        Surface::new(&nan, (0.0, 1.0), (0.0, 1.0)).with_scale(gradus_plot::ContourScale::Linear);
    let path = dir.path().join("nan.png");
    contour_trajectories(&path, &Chart::new("nan", "x", "y"), &surface, &[]).unwrap();
    check_still(&path, Size::default());
}

#[test]
fn contour_animation_writes_a_gif_with_one_frame_per_step() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("anim.gif");
    let surface = Surface::new(&rosenbrock, (-2.0, 2.0), (-1.0, 3.0)).with_minima(&[(1.0, 1.0)]);
    let a: Vec<(f64, f64)> = (0..30)
        .map(|k| (-1.5 + 0.08 * k as f64, 2.0 - 0.05 * k as f64))
        .collect();
    let b: Vec<(f64, f64)> = (0..12)
        .map(|k| (1.5 - 0.04 * k as f64, -0.5 + 0.1 * k as f64))
        .collect();
    let chart = Chart::new("Rosenbrock", "x", "y").with_size(320, 240);
    let animation = Animation {
        frames: 15,
        delay_ms: 40,
        final_pause_ms: 500,
        steps_per_point: 1,
    };
    contour_animation(
        &path,
        &chart,
        &surface,
        &[Series::new("a", a), Series::new("b", b)],
        &animation,
    )
    .unwrap();
    assert_eq!(gif_info(&path), (320, 240, 15));
}

#[test]
fn function_1d_marks_iterates() {
    let dir = tempfile::tempdir().unwrap();
    let f = |x: f64| x * (std::f64::consts::PI * x).cos();
    let iterates = [
        Iterates::new("gd", vec![-0.4, -0.35, -0.3, -0.28, -0.27]),
        Iterates::new("far away and nan", vec![1.5, 100.0, f64::NAN, 1.2]),
        Iterates::new("many", (0..500).map(|k| 1.5 - 0.0008 * k as f64).collect()),
    ];
    for path in paths(&dir, "xcos") {
        let chart = Chart::new("x cos(πx)", "x", "f(x)");
        function_1d(&path, &chart, &f, (-1.0, 2.0), &iterates).unwrap();
        check_still(&path, chart.size);
    }
}

#[test]
fn scatter_with_lines_draws_points_and_lines() {
    let dir = tempfile::tempdir().unwrap();
    let points: Vec<(f64, f64)> = (0..100)
        .map(|i| {
            let x = -1.5 + 0.035 * i as f64;
            (x, -0.7 * x + 0.3 * ((i * 7919) % 13) as f64 / 13.0)
        })
        .chain([(f64::NAN, 1.0)])
        .collect();
    let lines = [
        FittedLine::new("adam", -0.7, 0.1),
        FittedLine::new("steep", -50.0, 0.0),
        FittedLine::new("nan", f64::NAN, 0.0),
    ];
    for path in paths(&dir, "boston") {
        let chart = Chart::new("Boston", "LSTAT", "MEDV");
        scatter_with_lines(&path, &chart, &points, "test points", &lines).unwrap();
        check_still(&path, chart.size);
    }
}

#[test]
fn schedule_chart_is_a_line_chart() {
    let dir = tempfile::tempdir().unwrap();
    let exp: Vec<f64> = (0..100).map(|t| 0.1 * (-0.1 * t as f64).exp()).collect();
    let constant = vec![0.1; 100];
    let path = dir.path().join("lr.svg");
    schedule_chart(
        &path,
        "Schedules",
        &[("exponential", &exp), ("constant", &constant)],
        Size::new(640, 480),
    )
    .unwrap();
    check_still(&path, Size::new(640, 480));
}

#[test]
fn an_unwritable_path_gives_an_io_error_naming_it() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("no-such-dir").join("loss.png");
    let err = line_chart(&path, &Chart::new("t", "x", "y"), &losses(), YScale::Linear).unwrap_err();
    assert!(matches!(err, PlotError::Io { .. }), "{err:?}");
    let message = err.to_string();
    assert!(message.contains(&path.display().to_string()), "{message}");
    let gif = dir.path().join("no-such-dir").join("a.gif");
    let f = |x: f64, y: f64| x * x + y * y;
    let err = contour_animation(
        &gif,
        &Chart::new("t", "x", "y").with_size(100, 80),
        &Surface::new(&f, (-1.0, 1.0), (-1.0, 1.0)),
        &[Series::new("a", vec![(0.5, 0.5), (0.1, 0.1)])],
        &Animation::default(),
    )
    .unwrap_err();
    assert!(
        err.to_string().contains(&gif.display().to_string()),
        "{err}"
    );
    assert!(!gif.exists());
}

#[test]
fn bad_input_is_an_error_not_a_panic() {
    let dir = tempfile::tempdir().unwrap();
    let png = dir.path().join("x.png");
    let chart = Chart::new("t", "x", "y");
    let invalid = |r: Result<gradus_plot::Drawing, PlotError>| match r {
        Err(e @ PlotError::InvalidInput { .. }) => {
            assert!(
                e.to_string().contains("x.png") || e.to_string().contains(".gif"),
                "{e}"
            );
        }
        other => panic!("expected InvalidInput, got {other:?}"),
    };
    invalid(line_chart(&png, &chart, &[], YScale::Linear));
    invalid(line_chart(
        &png,
        &chart,
        &[Series::from_values("nan", &[f64::NAN; 3])],
        YScale::Linear,
    ));
    invalid(line_chart(
        &png,
        &chart,
        &[Series::from_values("neg", &[-1.0, 0.0])],
        YScale::Log,
    ));
    invalid(line_chart(
        &png,
        &chart.clone().with_size(0, 600),
        &losses(),
        YScale::Linear,
    ));
    invalid(line_chart(
        &png,
        &chart.clone().with_size(900, 100_000),
        &losses(),
        YScale::Linear,
    ));

    let f = |x: f64, y: f64| x + y;
    for (xr, yr) in [
        ((-f64::MAX, f64::MAX), (0.0, 1.0)),
        ((1.0, 1.0), (0.0, 1.0)),
        ((0.0, 1.0), (2.0, -2.0)),
        ((f64::NAN, 1.0), (0.0, 1.0)),
    ] {
        invalid(contour_trajectories(
            &png,
            &chart,
            &Surface::new(&f, xr, yr),
            &[],
        ));
    }
    invalid(contour_trajectories(
        &png,
        &chart,
        &Surface::new(&f, (0.0, 1.0), (0.0, 1.0)).with_levels(1),
        &[],
    ));

    let gif = dir.path().join("x.gif");
    let surface = Surface::new(&f, (0.0, 1.0), (0.0, 1.0));
    let one = [Series::new("a", vec![(0.5, 0.5)])];
    invalid(contour_animation(
        &gif,
        &chart,
        &surface,
        &[],
        &Animation::default(),
    ));
    invalid(contour_animation(
        &gif,
        &chart,
        &surface,
        &[Series::new("e", vec![])],
        &Animation::default(),
    ));
    let none = Animation {
        frames: 0,
        ..Animation::default()
    };
    invalid(contour_animation(&gif, &chart, &surface, &one, &none));

    invalid(function_1d(&png, &chart, &|_| f64::NAN, (0.0, 1.0), &[]));
    invalid(function_1d(&png, &chart, &|x| x, (1.0, 0.0), &[]));
    invalid(scatter_with_lines(&png, &chart, &[], "points", &[]));
    invalid(scatter_with_lines(
        &png,
        &chart,
        &[(f64::NAN, 0.0)],
        "points",
        &[],
    ));
    assert!(!png.exists() && !gif.exists());
}

#[test]
fn unknown_extensions_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let chart = Chart::new("t", "x", "y");
    for name in ["loss.jpg", "loss", "loss.gif"] {
        let err = line_chart(dir.path().join(name), &chart, &losses(), YScale::Linear).unwrap_err();
        assert!(
            matches!(err, PlotError::UnsupportedFormat { .. }),
            "{err:?}"
        );
        assert!(err.to_string().contains(name), "{err}");
    }
    let f = |x: f64, y: f64| x + y;
    let err = contour_animation(
        dir.path().join("anim.png"),
        &chart,
        &Surface::new(&f, (0.0, 1.0), (0.0, 1.0)),
        &[Series::new("a", vec![(0.5, 0.5)])],
        &Animation::default(),
    )
    .unwrap_err();
    assert!(
        matches!(
            err,
            PlotError::UnsupportedFormat {
                expected: ".gif",
                ..
            }
        ),
        "{err:?}"
    );
    // Upper-case extensions are fine.
    let path = dir.path().join("LOSS.PNG");
    line_chart(&path, &chart, &losses(), YScale::Linear).unwrap();
    assert_eq!(png_size(&path), (chart.size.width, chart.size.height));
}

#[test]
fn a_diverged_series_keeps_the_frame_and_gets_a_labelled_edge_marker() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("diverged.png");
    let calm: Vec<f64> = (0..50).map(|t| 10.0 * (-0.1 * t as f64).exp()).collect();
    let wild: Vec<f64> = (0..10).map(|t| 10.0 * 100f64.powi(t)).collect();
    let series = [
        Series::from_values("calm", &calm),
        Series::from_values("wild", &wild),
    ];
    let d = line_chart(
        &path,
        &Chart::new("d", "step", "loss"),
        &series,
        YScale::Log,
    )
    .unwrap();
    assert!(d.faults().is_empty(), "{:?}", d.faults());
    assert!(d.series[1].diverged && d.series[1].leaves_frame);
    let marker = d.edge_markers.iter().find(|m| m.series == 1).unwrap();
    assert!(marker.label.starts_with("diverged"), "{}", marker.label);
    // The calm run still fills most of the plot's height.
    let plot = d.plot_area.unwrap();
    let ys: Vec<f64> = d.series[0].lines.iter().flatten().map(|p| p.1).collect();
    let span = ys.iter().cloned().fold(f64::NEG_INFINITY, f64::max)
        - ys.iter().cloned().fold(f64::INFINITY, f64::min);
    assert!(span > 0.5 * plot.height(), "{span} of {}", plot.height());
}

#[test]
fn twelve_series_look_different_and_the_legend_covers_none() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("twelve.png");
    // Twelve curves crossing the whole plot: no free corner, so the legend goes outside.
    let series: Vec<Series> = (0..12)
        .map(|k| {
            let v: Vec<f64> = (0..100)
                .map(|t| (t as f64 * 0.1 + k as f64).sin() + k as f64 * 0.1)
                .collect();
            Series::from_values(format!("run {k}"), &v)
        })
        .collect();
    let d = line_chart(&path, &Chart::new("t", "x", "y"), &series, YScale::Linear).unwrap();
    assert!(d.faults().is_empty(), "{:?}", d.faults());
    let legend = d.legend.unwrap();
    assert!(
        !legend.overlaps(&d.plot_area.unwrap().grown(-1.0))
            || d.series.iter().all(|s| !s.meets(&legend, 2.0))
    );
}
