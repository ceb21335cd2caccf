//! `gradus sweep` from the command line: the same seed prints the same tables, the plot
//! is a real image, and bad input is one error line.

use std::process::{Command, Output};

fn gradus(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_gradus"))
        .args(args)
        .output()
        .unwrap()
}

const SWEEP: &[&str] = &[
    "sweep",
    "--problem",
    "boston",
    "--batch-size",
    "16",
    "--seed",
    "3",
    "--optimizer",
    "sgd(momentum=0.9)",
    "--optimizer",
    "adam(amsgrad=true)",
    "--lr",
    "1e-3..1",
    "--points",
    "4",
    "--steps",
    "40",
    "--tol",
    "1e-2",
];

#[test]
fn the_same_seed_prints_the_same_tables() {
    let a = gradus(SWEEP);
    let b = gradus(SWEEP);
    assert!(a.status.success(), "{}", String::from_utf8_lossy(&a.stderr));
    assert_eq!(a.stdout, b.stdout);
    let text = String::from_utf8_lossy(&a.stdout);
    // The grid (one column per lr, ends exact) and the best-lr table.
    assert!(text.contains("final loss gap at lr"), "{text}");
    assert!(text.contains("0.0010") && text.contains("1.0000"), "{text}");
    assert!(
        text.contains("best lr") && text.contains("steps to 0.0100"),
        "{text}"
    );
    assert!(text.contains("adam(amsgrad=true)"), "{text}");
}

#[test]
fn the_plot_is_a_png_of_the_default_size() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("lr.png");
    let mut args = SWEEP.to_vec();
    let p = path.to_str().unwrap();
    args.extend(["--plot", p]);
    let o = gradus(&args);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let bytes = std::fs::read(&path).unwrap();
    assert_eq!(&bytes[..8], b"\x89PNG\r\n\x1a\n");
    let w = u32::from_be_bytes(bytes[16..20].try_into().unwrap());
    let h = u32::from_be_bytes(bytes[20..24].try_into().unwrap());
    assert_eq!((w, h), (900, 600));
}

#[test]
fn bad_input_is_one_error_line_naming_it() {
    for (args, culprit) in [
        (vec!["--lr", "1..1e-4"], "--lr"),
        (vec!["--lr", "0..1"], "--lr"),
        (vec!["--points", "1"], "--points"),
        (vec!["--optimizer", "nosuch"], "nosuch"),
        (vec!["--optimizer", "adam(lr=-1)"], "lr"),
        (vec!["--plot", "out.txt"], "--plot"),
        (vec!["--all", "--exclude", "nosuch"], "nosuch"),
    ] {
        let mut all = vec!["sweep", "--problem", "rosenbrock", "--steps", "5"];
        if !args.contains(&"--optimizer") {
            all.extend(["--optimizer", "adam"]);
        }
        all.extend(&args);
        let o = gradus(&all);
        let err = String::from_utf8_lossy(&o.stderr);
        assert_eq!(o.status.code(), Some(2), "{args:?}: {err}");
        assert_eq!(err.lines().count(), 1, "{args:?}: {err}");
        assert!(
            err.starts_with("error:") && err.contains(culprit),
            "{args:?}: {err}"
        );
    }
}

#[test]
fn excluded_optimizers_are_listed_not_run() {
    let o = gradus(&[
        "sweep",
        "--problem",
        "rosenbrock",
        "--steps",
        "5",
        "--points",
        "2",
        "--all",
        "--exclude",
        "lbfgs",
        "--exclude",
        "newton",
    ]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let out = String::from_utf8_lossy(&o.stdout);
    for name in ["lbfgs", "newton"] {
        let line = out
            .lines()
            .find(|l| l.contains(name) && l.contains("--exclude"))
            .unwrap_or_else(|| panic!("{name} not listed as excluded:\n{out}"));
        assert!(!line.contains('%'), "{line}");
    }
    assert!(out.lines().any(|l| l.starts_with("adam ")), "{out}");
}

#[test]
fn a_partition_sweeps_its_matrices_lr() {
    let o = gradus(&[
        "sweep",
        "--problem",
        "rosenbrock",
        "--shape",
        "2,2",
        "--steps",
        "5",
        "--points",
        "2",
        "--lr",
        "0.01..0.1",
        "--optimizer",
        "partition(matrices=muon, rest=adamw(lr=1e-3))",
    ]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
}
