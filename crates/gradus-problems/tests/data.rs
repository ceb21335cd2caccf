//! CSV loading and its error messages, and the registry's errors.

use gradus_problems::{build, check_start, load_csv, ProblemError, ProblemOptions, PROBLEMS};
use std::io::Write;
use std::path::PathBuf;

/// Writes `text` to a fresh temporary file; the file lives as long as the handle.
fn csv_file(text: &str) -> tempfile::NamedTempFile {
    let mut f = tempfile::Builder::new().suffix(".csv").tempfile().unwrap();
    f.write_all(text.as_bytes()).unwrap();
    f
}

fn load(
    text: &str,
    target: &str,
    features: Option<&[&str]>,
) -> Result<gradus_problems::Dataset, ProblemError> {
    let f = csv_file(text);
    let features: Option<Vec<String>> = features.map(|v| v.iter().map(|s| s.to_string()).collect());
    load_csv(f.path(), target, features.as_deref())
}

#[test]
fn reads_a_csv_with_header_and_default_features() {
    let d = load("a, b ,name,y\n1,2,x,3\n4,5,z,6.5\n", "y", None).unwrap();
    assert_eq!(d.names, ["a", "b"]); // the text column is left out
    assert_eq!((d.rows, d.cols), (2, 2));
    assert_eq!(d.x, [1.0, 2.0, 4.0, 5.0]);
    assert_eq!(d.y, [3.0, 6.5]);
    let d = load("a,b,y\n1,2,3\n4,5,6\n", "y", Some(&["b"])).unwrap();
    assert_eq!(
        (d.names.clone(), d.x),
        (vec!["b".to_string()], vec![2.0, 5.0])
    );
}

#[test]
fn ignores_a_byte_order_mark() {
    let d = load("\u{feff}a,y\n1,2\n3,5\n", "y", Some(&["a"])).unwrap();
    assert_eq!(d.names, ["a"]);
}

#[test]
fn skips_a_leading_count_line() {
    let d = load("2,2,,\nx1,x2,y\n1,2,3\n4,5,6\n", "y", None).unwrap();
    assert_eq!((d.rows, d.cols), (2, 2));
}

#[test]
fn errors_name_file_line_and_column() {
    let f = csv_file("a,b,y\n1,2,3\n4,oops,6\n");
    let err = load_csv(f.path(), "y", None).unwrap_err();
    let msg = err.to_string();
    assert!(
        matches!(
            err,
            ProblemError::NonNumeric {
                line: 3,
                column: 2,
                ..
            }
        ),
        "{err:?}"
    );
    assert!(
        msg.contains(&f.path().display().to_string())
            && msg.contains("line 3")
            && msg.contains("'b'")
            && msg.contains("'oops'"),
        "{msg}"
    );

    let err = load("a,b,y\n1,2,3\n4,5\n", "y", None).unwrap_err();
    assert!(
        matches!(
            err,
            ProblemError::RaggedRow {
                line: 3,
                expected: 3,
                got: 2,
                ..
            }
        ),
        "{err:?}"
    );

    let err = load("a,b,y\n1,2,3\n", "price", None).unwrap_err();
    let msg = err.to_string();
    assert!(
        msg.contains("no column 'price'") && msg.contains("a, b, y"),
        "{msg}"
    );

    let err = load("a,b,y\n1,2,3\n", "y", Some(&["c"])).unwrap_err();
    assert!(matches!(err, ProblemError::MissingColumn { ref column, .. } if column == "c"));

    let err = load("", "y", None).unwrap_err();
    assert!(err.to_string().contains("empty"), "{err}");

    let err = load("a,b,y\n", "y", None).unwrap_err();
    assert!(err.to_string().contains("no data rows"), "{err}");

    let err = load("1,2,3\n4,5,6\n", "y", None).unwrap_err();
    assert!(err.to_string().contains("no header row"), "{err}");

    let err = load("a,y\n1,\n2,3\n", "y", None).unwrap_err();
    assert!(
        matches!(
            err,
            ProblemError::NonNumeric {
                line: 2,
                column: 2,
                ..
            }
        ),
        "{err:?}"
    );

    let err = load("a,y\n1,inf\n", "y", None).unwrap_err();
    assert!(err.to_string().contains("not a finite number"), "{err}");

    let err = load("a,y\n1,2\n", "y", Some(&["y"])).unwrap_err();
    assert!(err.to_string().contains("other than the target"), "{err}");

    let err = load("name,y\nx,2\n", "y", None).unwrap_err();
    assert!(matches!(err, ProblemError::NoFeatures { .. }), "{err:?}");

    let missing = std::env::temp_dir().join("gradus-problems-no-such-file.csv");
    let err = load_csv(&missing, "y", None).unwrap_err();
    assert!(
        matches!(err, ProblemError::Io { .. }) && err.to_string().contains("no-such-file"),
        "{err}"
    );
}

#[test]
fn linreg_fits_a_users_csv() {
    // y = 2a − b + noise-free: the least-squares optimum is exact (loss 0).
    let mut text = String::from("a,b,y\n");
    for i in 0..20 {
        let (a, b) = (i as f64, ((i * 7) % 5) as f64);
        text += &format!("{a},{b},{}\n", 2.0 * a - b + 1.0);
    }
    let f = csv_file(&text);
    let opts = ProblemOptions {
        data: Some(f.path().to_path_buf()),
        target: Some("y".into()),
        ..ProblemOptions::default()
    };
    let m = build::<f64>("linreg", &opts).unwrap();
    assert_eq!(m.dim(), 3);
    let optimum = m.as_data().unwrap().optimum_loss().unwrap();
    assert!(optimum < 1e-20, "{optimum}");

    let constant = csv_file("a,b,y\n1,5,1\n2,5,2\n3,5,4\n4,5,3\n5,5,5\n");
    let err = build::<f64>(
        "linreg",
        &ProblemOptions {
            data: Some(constant.path().to_path_buf()),
            target: Some("y".into()),
            ..ProblemOptions::default()
        },
    )
    .err()
    .unwrap();
    assert!(err.to_string().contains("column 'b' is constant"), "{err}");
}

#[test]
fn registry_builds_every_problem() {
    for (name, description) in PROBLEMS {
        assert!(!description.is_empty());
        if *name == "linreg" {
            continue; // needs a file; tested above
        }
        let p = build::<f64>(name, &ProblemOptions::default()).unwrap();
        assert_eq!(p.name(), *name);
        assert_eq!(p.start().len(), p.dim());
        assert_eq!(p.tensors().iter().map(|(_, l)| l).sum::<usize>(), p.dim());
        assert!(p.value(&p.start()).is_finite(), "{name}");
        let p32 = build::<f32>(name, &ProblemOptions::default()).unwrap();
        assert_eq!(p32.dim(), p.dim());
    }
}

#[test]
fn registry_errors_name_the_bad_input() {
    let err_of =
        |name: &str, opts: ProblemOptions| build::<f64>(name, &opts).err().unwrap().to_string();
    let msg = err_of("rosenbrok", ProblemOptions::default());
    assert!(
        msg.contains("unknown problem 'rosenbrok'") && msg.contains("rosenbrock, sphere"),
        "{msg}"
    );
    let dim = |d| ProblemOptions {
        dim: Some(d),
        ..ProblemOptions::default()
    };
    assert_eq!(
        err_of("beale", dim(3)),
        "beale is 2-D; --dim 3 is not valid (leave --dim out)"
    );
    assert!(build::<f64>("beale", &dim(2)).is_ok());
    assert!(
        err_of("sphere", dim(0)).contains("--dim 0 is not valid for sphere: expected at least 1")
    );
    assert!(err_of("rosenbrock", dim(1)).contains("at least 2"));
    assert_eq!(build::<f64>("rastrigin", &dim(7)).unwrap().dim(), 7);
    assert!(err_of("boston", dim(2)).contains("boston does not take --dim"));
    let msg = err_of("linreg", ProblemOptions::default());
    assert!(msg.contains("linreg needs --data"), "{msg}");
    let with_data = ProblemOptions {
        data: Some(PathBuf::from("x.csv")),
        ..ProblemOptions::default()
    };
    assert!(err_of("linreg", with_data.clone()).contains("needs --target"));
    assert!(err_of("sphere", with_data).contains("sphere does not take --data"));
    let hidden = |h| ProblemOptions {
        hidden: Some(h),
        ..ProblemOptions::default()
    };
    assert!(err_of("digits", hidden(0)).contains("--hidden = 0"));
    assert!(err_of("digits", hidden(1 << 40)).contains("1 to 100000 hidden units"));
    assert!(err_of("sphere", dim(usize::MAX)).contains("at most 10000000"));
    assert!(err_of("digits-softmax", hidden(8)).contains("does not take --hidden"));
    let frac = ProblemOptions {
        test_fraction: 1.0,
        ..ProblemOptions::default()
    };
    assert!(err_of("boston", frac).contains("test_fraction = 1"));
}

#[test]
fn check_start_compares_lengths() {
    assert!(check_start(&[1.0, 2.0], 2).is_ok());
    let err = check_start(&[1.0], 2).unwrap_err();
    assert_eq!(
        err.to_string(),
        "the start point has 1 values but the problem has 2 parameters"
    );
}
