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

#[test]
fn only_regular_files_of_bounded_size_are_read() {
    // /dev/zero never ends: refused before a byte is read.
    let e = load_csv(std::path::Path::new("/dev/zero"), "y", None).unwrap_err();
    assert!(e.to_string().contains("not a regular file"), "{e}");
    // A FIFO without a writer would block forever: refused without opening it.
    let dir = tempfile::tempdir().unwrap();
    let fifo = dir.path().join("fifo.csv");
    let made = std::process::Command::new("mkfifo").arg(&fifo).status();
    if made.is_ok_and(|s| s.success()) {
        let e = load_csv(&fifo, "y", None).unwrap_err();
        assert!(e.to_string().contains("not a regular file"), "{e}");
    }
    // A directory, and a link to /dev/zero.
    let e = load_csv(dir.path(), "y", None).unwrap_err();
    assert!(e.to_string().contains("not a regular file"), "{e}");
    #[cfg(unix)]
    {
        let link = dir.path().join("zero.csv");
        std::os::unix::fs::symlink("/dev/zero", &link).unwrap();
        let e = load_csv(&link, "y", None).unwrap_err();
        assert!(e.to_string().contains("not a regular file"), "{e}");
    }
    // A (sparse) file beyond the cap is refused by its size.
    let big = dir.path().join("big.csv");
    let f = std::fs::File::create(&big).unwrap();
    f.set_len(gradus_problems::data::MAX_DATA_FILE_BYTES + 1)
        .unwrap();
    let e = load_csv(&big, "y", None).unwrap_err();
    assert!(e.to_string().contains("at most"), "{e}");
}

#[test]
fn duplicate_column_names_are_refused() {
    let e = load("a,b,a,y\n1,2,3,4\n2,3,4,5\n", "y", None).unwrap_err();
    let m = e.to_string();
    assert!(
        m.contains("'a' appears twice") && m.contains("columns 1 and 3"),
        "{m}"
    );
}

#[test]
fn huge_and_tiny_columns_are_standardized_not_called_constant() {
    use gradus_problems::data::Standardization;
    let rows = "1e160,1,1\n2e160,2,3\n3e160,1,2\n4e160,3,5\n";
    let d = load(&format!("big,other,y\n{rows}"), "y", None).unwrap();
    let s = Standardization::fit(&d).unwrap();
    assert!((s.feature_std[0] / 1.118033988749895e160 - 1.0).abs() < 1e-12);
    let tiny = "1e-320,1,1\n2e-320,2,3\n3e-320,1,2\n4e-320,3,5\n";
    let d = load(&format!("tiny,other,y\n{tiny}"), "y", None).unwrap();
    let s = Standardization::fit(&d).unwrap();
    assert!(s.feature_std[0] > 0.0, "{:?}", s.feature_std);
    // Standardized values are ordinary numbers.
    let z = s.apply(&d);
    assert!(
        z.x.iter().all(|v| v.is_finite() && v.abs() < 10.0),
        "{:?}",
        z.x
    );
    // A truly constant column is still called constant; a spread beyond f64 is named.
    let d = load("c,other,y\n5,1,1\n5,2,3\n5,1,2\n", "y", None).unwrap();
    let e = Standardization::fit(&d).unwrap_err().to_string();
    assert!(e.contains("'c' is constant"), "{e}");
    let d = load(
        "w,other,y\n-1.7e308,1,1\n1.7e308,2,3\n1.7e308,1,2\n",
        "y",
        None,
    )
    .unwrap();
    let e = Standardization::fit(&d).unwrap_err().to_string();
    assert!(e.contains("'w' spans more than f64"), "{e}");
}

#[test]
fn a_huge_bad_cell_is_shown_truncated() {
    let cell = "x".repeat(10 << 20);
    let e = load(&format!("a,y\n1,2\n{cell},3\n"), "y", None)
        .unwrap_err()
        .to_string();
    assert!(e.len() < 300, "{} bytes", e.len());
    assert!(e.contains("(10485760 characters)"), "{e}");
}

#[test]
fn data_fingerprints_change_with_one_cell() {
    use gradus_problems::data_fingerprint;
    let a = data_fingerprint(b"x,y\n1,2\n");
    assert_eq!(a, data_fingerprint(b"x,y\n1,2\n"));
    assert_ne!(a, data_fingerprint(b"x,y\n1,3\n"));
    assert!(a.starts_with("fnv1a64:"), "{a}");
}
