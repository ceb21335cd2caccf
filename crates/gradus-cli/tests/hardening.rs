//! The binary under hostile input (issue 16): each test reproduces one item of the
//! attack report, numbered as there, and checks the fix. Exit codes: 0 ok, 2 bad input,
//! 3 diverged, 4 I/O or output error; every failure is one `error:` line.

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

mod checkpoint_files;
use checkpoint_files::tamper;

fn gradus(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_gradus"))
        .args(args)
        .stdin(Stdio::null())
        .output()
        .expect("the gradus binary runs")
}

/// Runs with stdout (and optionally stderr) sent to `/dev/full`.
fn gradus_to_full(args: &[&str], stderr_too: bool) -> Output {
    let full = || {
        std::fs::OpenOptions::new()
            .write(true)
            .open("/dev/full")
            .unwrap()
    };
    let mut c = Command::new(env!("CARGO_BIN_EXE_gradus"));
    c.args(args).stdin(Stdio::null()).stdout(full());
    if stderr_too {
        c.stderr(full());
    }
    c.output().expect("the gradus binary runs")
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// Exit code `code`, exactly one stderr line `error: ...` containing every `culprit`,
/// no control characters in it; returns the line.
fn expect_error(args: &[&str], code: i32, culprits: &[&str]) -> String {
    let o = gradus(args);
    check_error(&o, args, code, culprits)
}

fn check_error(o: &Output, args: &[&str], code: i32, culprits: &[&str]) -> String {
    let err = stderr(o);
    let shown: Vec<&str> = args.iter().map(|a| &a[..a.len().min(80)]).collect();
    assert_eq!(o.status.code(), Some(code), "{shown:?}: {err}");
    let lines: Vec<&str> = err.lines().collect();
    assert_eq!(lines.len(), 1, "{shown:?}: {err}");
    assert!(lines[0].starts_with("error: "), "{shown:?}: {err}");
    assert!(
        !lines[0].chars().any(char::is_control),
        "{shown:?}: {err:?}"
    );
    for c in culprits {
        assert!(lines[0].contains(c), "{shown:?}: '{c}' not in {err}");
    }
    lines[0].to_string()
}

fn ok(args: &[&str]) -> String {
    let o = gradus(args);
    assert_eq!(o.status.code(), Some(0), "{args:?}: {}", stderr(&o));
    String::from_utf8(o.stdout).unwrap()
}

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

fn mkfifo(path: &Path) -> bool {
    Command::new("mkfifo")
        .arg(path)
        .status()
        .is_ok_and(|s| s.success())
}

/// A small linear-regression CSV.
const DATA: &str = "x,z,y\n1,0.5,2.1\n2,0.1,3.9\n3,0.7,6.2\n4,0.2,7.8\n5,0.9,10.1\n6,0.3,12.2\n7,0.8,13.8\n8,0.4,16.1\n9,0.6,18.0\n10,0.0,19.9\n";

#[test]
fn item_01_newton_dimension_is_bounded_before_allocating() {
    for dim in ["100000", "30000"] {
        expect_error(
            &[
                "run",
                "--problem",
                "rosenbrock",
                "--dim",
                dim,
                "--optimizer",
                "newton",
                "--steps",
                "1",
            ],
            2,
            &["newton", "at most 2048"],
        );
    }
    // At the bound it still runs.
    ok(&[
        "run",
        "--problem",
        "sphere",
        "--dim",
        "64",
        "--optimizer",
        "newton",
        "--steps",
        "1",
    ]);
}

#[test]
fn item_02_sizes_in_a_checkpoint_are_checked_before_allocating() {
    let dir = tempfile::tempdir().unwrap();
    for (sampling, batch) in [("epoch", "16"), ("replacement", "16")] {
        let good = dir.path().join(format!("{sampling}.ck"));
        ok(&[
            "run",
            "--problem",
            "boston",
            "--optimizer",
            "sgd(lr=0.01)",
            "--batch-size",
            batch,
            "--sampling",
            sampling,
            "--steps",
            "3",
            "--save-state",
            s(&good),
        ]);
        let bad = dir.path().join(format!("{sampling}-huge.ck"));
        tamper(&good, &bad, |h| {
            h["meta"]["sampler"]["n"] = serde_json::json!(1_000_000_000_000u64);
            h["meta"]["sampler"]["batch_size"] = serde_json::json!(1_000_000_000_000u64);
        });
        expect_error(
            &["run", "--resume", s(&bad), "--steps", "1"],
            2,
            &["--resume", "sampler"],
        );
        let bad = dir.path().join(format!("{sampling}-n.ck"));
        tamper(&good, &bad, |h| {
            h["meta"]["sampler"]["n"] = serde_json::json!(1_000_000_000_000u64)
        });
        expect_error(
            &["run", "--resume", s(&bad), "--steps", "1"],
            2,
            &["--resume", "sampler"],
        );
    }
}

#[test]
fn item_03_and_04_special_files_are_refused_not_read() {
    let dir = tempfile::tempdir().unwrap();
    let link = dir.path().join("zero.csv");
    std::os::unix::fs::symlink("/dev/zero", &link).unwrap();
    for data in ["/dev/zero", s(&link)] {
        expect_error(
            &[
                "run",
                "--problem",
                "linreg",
                "--data",
                data,
                "--target",
                "y",
                "--optimizer",
                "sgd",
            ],
            2,
            &["not a regular file"],
        );
        expect_error(
            &["run", "--resume", data],
            2,
            &["--resume", "not a regular file"],
        );
    }
    let fifo = dir.path().join("fifo");
    if mkfifo(&fifo) {
        // Without the fix these block forever (the test would hang).
        expect_error(
            &[
                "run",
                "--problem",
                "linreg",
                "--data",
                s(&fifo),
                "--target",
                "y",
                "--optimizer",
                "sgd",
            ],
            2,
            &["not a regular file"],
        );
        expect_error(&["run", "--resume", s(&fifo)], 2, &["not a regular file"]);
    }
    expect_error(
        &["run", "--resume", s(dir.path())],
        2,
        &["not a regular file"],
    );
}

#[test]
fn item_05_reading_a_checkpoint_stops_at_a_bad_first_line() {
    let dir = tempfile::tempdir().unwrap();
    // A sparse 2 GB file: before the fix all of it was read first.
    let big = dir.path().join("big.ck");
    {
        use std::io::Write;
        let mut f = std::fs::File::create(&big).unwrap();
        f.write_all(b"hello, not a checkpoint\n").unwrap();
        f.set_len(2 << 30).unwrap();
    }
    expect_error(
        &["run", "--resume", s(&big)],
        2,
        &["not a gradus checkpoint"],
    );
    // A valid first line announcing more than the caps, or than the file holds.
    let huge = dir.path().join("huge.ck");
    std::fs::write(&huge, "gradus-checkpoint 1 10 99999999999999 00000000\n").unwrap();
    expect_error(
        &["run", "--resume", s(&huge)],
        2,
        &["payload size", "larger than"],
    );
    let short = dir.path().join("short.ck");
    std::fs::write(&short, "gradus-checkpoint 1 100 100 00000000\n{}").unwrap();
    expect_error(&["run", "--resume", s(&short)], 2, &["truncated"]);
}

#[test]
fn item_06_many_tensors_decode_in_linear_time() {
    let dir = tempfile::tempdir().unwrap();
    let good = dir.path().join("good.ck");
    ok(&[
        "run",
        "--problem",
        "parabola",
        "--optimizer",
        "adam",
        "--steps",
        "2",
        "--save-state",
        s(&good),
    ]);
    let many = dir.path().join("many.ck");
    tamper(&good, &many, |h| {
        let t = h["tensors"].as_array_mut().unwrap();
        for i in 0..200_000 {
            t.push(serde_json::json!({"name": format!("extra/{i}"), "dtype": "f64", "shape": [0]}));
        }
    });
    // Quadratic decoding took more than 20 s here (in a release build).
    expect_error(
        &["run", "--resume", s(&many), "--steps", "1"],
        2,
        &["'extra/0'"],
    );
}

#[test]
fn item_07_lost_output_is_an_error_with_the_documented_code() {
    let bench = [
        "bench",
        "--optimizer",
        "adam",
        "--size",
        "1000",
        "--steps",
        "2",
        "--warmup",
        "0",
    ];
    let o = gradus_to_full(&bench, false);
    check_error(&o, &bench, 4, &["writing to stdout"]);
    // With stderr full as well: still the exit code, never an abort.
    let o = gradus_to_full(&bench, true);
    assert_eq!(o.status.code(), Some(4));
    let run = [
        "run",
        "--problem",
        "parabola",
        "--optimizer",
        "sgd",
        "--steps",
        "3",
    ];
    let o = gradus_to_full(&run, false);
    check_error(&o, &run, 4, &["writing to stdout"]);
    assert_eq!(gradus_to_full(&run, true).status.code(), Some(4));
    for cmd in [
        &["list"][..],
        &["--help"][..],
        &[
            "schedules",
            "--schedule",
            "step(step_size=2)",
            "--steps",
            "4",
        ][..],
    ] {
        assert_eq!(gradus_to_full(cmd, false).status.code(), Some(4), "{cmd:?}");
    }
}

#[test]
fn item_08_save_state_replaces_only_regular_files() {
    let dir = tempfile::tempdir().unwrap();
    let run = |target: &str| {
        expect_error(
            &[
                "run",
                "--problem",
                "parabola",
                "--optimizer",
                "sgd",
                "--steps",
                "2",
                "--save-state",
                target,
            ],
            2,
            &["--save-state"],
        )
    };
    let e = run("/dev/null");
    assert!(e.contains("not a regular file"), "{e}");
    assert!(!std::fs::symlink_metadata("/dev/null").unwrap().is_file());
    let fifo = dir.path().join("fifo");
    if mkfifo(&fifo) {
        run(s(&fifo));
        assert!(!std::fs::symlink_metadata(&fifo).unwrap().is_file());
    }
    let target = dir.path().join("precious.txt");
    std::fs::write(&target, "keep me").unwrap();
    let link = dir.path().join("link.ck");
    std::os::unix::fs::symlink(&target, &link).unwrap();
    let e = run(s(&link));
    assert!(e.contains("symbolic link"), "{e}");
    assert_eq!(std::fs::read_to_string(&target).unwrap(), "keep me");
    // A regular file is replaced.
    ok(&[
        "run",
        "--problem",
        "parabola",
        "--optimizer",
        "sgd",
        "--steps",
        "2",
        "--save-state",
        s(&target),
    ]);
    let written = std::fs::read(&target).unwrap();
    assert!(gradus::checkpoint::Checkpoint::decode(&written).is_ok());
}

#[test]
fn item_09_and_20_linreg_checkpoints_pin_their_data() {
    let dir = tempfile::tempdir().unwrap();
    let sub = dir.path().join("sub");
    std::fs::create_dir(&sub).unwrap();
    let data = dir.path().join("data.csv");
    std::fs::write(&data, DATA).unwrap();
    let ck = dir.path().join("run.ck");
    ok(&[
        "run",
        "--problem",
        "linreg",
        "--data",
        s(&data),
        "--target",
        "y",
        "--optimizer",
        "sgd(lr=0.1)",
        "--steps",
        "5",
        "--save-state",
        s(&ck),
    ]);
    // Item 20: the same file by another spelling is the same data.
    let spelled = format!("{}/../data.csv", sub.display());
    ok(&[
        "run",
        "--resume",
        s(&ck),
        "--data",
        &spelled,
        "--steps",
        "2",
    ]);
    // The same bytes, moved, are the same data too.
    let moved = dir.path().join("moved.csv");
    std::fs::copy(&data, &moved).unwrap();
    ok(&[
        "run",
        "--resume",
        s(&ck),
        "--data",
        s(&moved),
        "--steps",
        "2",
    ]);
    // Other data under another name is refused as a flag mismatch.
    let other = dir.path().join("other.csv");
    std::fs::write(&other, DATA.replace("2.1", "2.2")).unwrap();
    expect_error(
        &[
            "run",
            "--resume",
            s(&ck),
            "--data",
            s(&other),
            "--steps",
            "2",
        ],
        2,
        &["--data"],
    );
    // Item 9: one edited cell in the same file is refused, naming both fingerprints.
    std::fs::write(&data, DATA.replace("3.9", "4.0")).unwrap();
    expect_error(
        &["run", "--resume", s(&ck), "--steps", "2"],
        2,
        &["--resume", "fingerprint fnv1a64:", "data changed"],
    );
}

#[test]
fn item_10_stale_temporary_files_are_cleaned_on_the_next_write() {
    let dir = tempfile::tempdir().unwrap();
    let ck = dir.path().join("state.ck");
    // A pid above Linux's maximum (2^22) never runs; our own pid does.
    let stale = dir.path().join(".state.ck.tmp-999999999");
    let alive = dir
        .path()
        .join(format!(".state.ck.tmp-{}", std::process::id()));
    let other = dir.path().join(".other.ck.tmp-999999999");
    for p in [&stale, &alive, &other] {
        std::fs::write(p, vec![0u8; 4096]).unwrap();
    }
    ok(&[
        "run",
        "--problem",
        "parabola",
        "--optimizer",
        "sgd",
        "--steps",
        "2",
        "--save-state",
        s(&ck),
    ]);
    assert!(!stale.exists(), "the stale temporary file is removed");
    assert!(alive.exists(), "a live writer's file is kept");
    assert!(other.exists(), "another target's file is kept");
    assert!(ck.exists());
}

#[test]
fn item_11_a_schedules_unused_last_lr_does_not_fail_the_run() {
    let dir = tempfile::tempdir().unwrap();
    let ck = dir.path().join("oc.ck");
    let out = ok(&[
        "run",
        "--problem",
        "parabola",
        "--optimizer",
        "sgd(lr=0.01, momentum=0.9)",
        "--schedule",
        "one_cycle(max_lr=0.1, total_steps=60, anneal_strategy=linear)",
        "--steps",
        "60",
        "--format",
        "jsonl",
        "--save-state",
        s(&ck),
    ]);
    assert!(out.lines().any(|l| l.starts_with("{\"step\":60,")), "{out}");
    assert!(out.lines().last().unwrap().starts_with("{\"summary\""));
    assert!(ck.exists());
}

#[test]
fn item_12_a_non_finite_scheduled_lr_is_a_divergence_naming_the_schedule() {
    let dir = tempfile::tempdir().unwrap();
    for schedule in ["linear(start_factor=5e-324)", "exponential(gamma=1e300)"] {
        let ck = dir.path().join("div.ck");
        let _ = std::fs::remove_file(&ck);
        let o = gradus(&[
            "run",
            "--problem",
            "parabola",
            "--optimizer",
            "sgd(lr=1e-300)",
            "--schedule",
            schedule,
            "--steps",
            "10",
            "--save-state",
            s(&ck),
        ]);
        let e = check_error(&o, &[schedule], 3, &["diverged", "saved the state of step"]);
        assert!(e.contains("schedule") || e.contains("loss"), "{e}");
        assert!(ck.exists(), "{schedule}: the last good state is saved");
    }
    let o = gradus(&[
        "run",
        "--problem",
        "parabola",
        "--optimizer",
        "sgd",
        "--schedule",
        "linear(start_factor=5e-324)",
        "--steps",
        "10",
    ]);
    check_error(&o, &[], 3, &["the schedule linear(", "the lr NaN"]);
}

#[test]
fn item_13_outputs_are_checked_before_the_first_step() {
    let dir = tempfile::tempdir().unwrap();
    let in_dir = |n: &str| dir.path().join(n).display().to_string();
    let long = [
        "run",
        "--problem",
        "parabola",
        "--optimizer",
        "sgd",
        "--steps",
        "100000000",
    ];
    let check = |extra: &[&str], code: i32, culprit: &str| {
        let mut a = long.to_vec();
        a.extend_from_slice(extra);
        // 10^8 steps would take minutes: failing at once shows the check comes first.
        let o = gradus(&a);
        check_error(&o, &a, code, &[culprit]);
        assert!(o.stdout.is_empty(), "{extra:?} printed records");
    };
    check(&["--plot", &in_dir("out.jpg")], 2, "--plot");
    check(&["--plot-loss", &in_dir("out.gif")], 2, "--plot-loss");
    check(&["--animate", &in_dir("a.png")], 2, "--animate");
    check(&["--animate", &in_dir("a.gif")], 2, "2-D function");
    check(&["--plot-fit", &in_dir("f.png")], 2, "--plot-fit");
    check(&["--plot", &in_dir("missing/out.png")], 2, "does not exist");
    let file = in_dir("plain");
    std::fs::write(&file, "x").unwrap();
    check(
        &["--save-state", &format!("{file}/x.ck")],
        2,
        "does not exist",
    );
    // A directory the system refuses to write in (read-only /proc).
    check(&["--save-state", "/proc/gradus-test.ck"], 4, "cannot write");
    let o = gradus(&[
        "compare",
        "--problem",
        "parabola",
        "--optimizer",
        "sgd",
        "--steps",
        "100000000",
        "--out",
        &format!("{file}/hist"),
    ]);
    check_error(&o, &[], 2, &["--out"]);
    assert!(o.stdout.is_empty());
    let o = gradus(&[
        "compare",
        "--problem",
        "boston",
        "--optimizer",
        "sgd",
        "--steps",
        "100000000",
        "--animate",
        &in_dir("a.gif"),
    ]);
    check_error(&o, &[], 2, &["--animate"]);
}

#[test]
fn item_14_every_command_keeps_to_the_exit_code_table() {
    // compare: every run diverged is exit 3; some diverged is 0, with notes.
    let all = [
        "compare",
        "--problem",
        "parabola",
        "--optimizer",
        "sgd(lr=1e10)",
        "--optimizer",
        "sgd(lr=1e12)",
        "--steps",
        "100",
    ];
    let o = gradus(&all);
    check_error(&o, &all, 3, &["every run diverged"]);
    assert!(String::from_utf8_lossy(&o.stdout).contains("diverged"));
    let some = [
        "compare",
        "--problem",
        "parabola",
        "--optimizer",
        "sgd(lr=1e10)",
        "--optimizer",
        "sgd(lr=0.1)",
        "--steps",
        "100",
    ];
    assert!(ok(&some).contains("note:"));
    let o = gradus_to_full(&some, false);
    check_error(&o, &some, 4, &["writing to stdout"]);
    // I/O errors writing files are 4 too.
    let o = gradus(&[
        "compare",
        "--problem",
        "parabola",
        "--optimizer",
        "sgd",
        "--steps",
        "3",
        "--out",
        "/proc/gradus-test-dir",
    ]);
    assert_eq!(o.status.code(), Some(4), "{}", stderr(&o));
    // The README documents the table.
    let readme =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../../README.md")).unwrap();
    for row in ["| 0 |", "| 2 |", "| 3 |", "| 4 |"] {
        assert!(readme.contains(row), "README lacks the exit code row {row}");
    }
}

#[test]
fn item_15_no_arguments_is_one_error_line() {
    expect_error(&[], 2, &["a command is required", "gradus --help"]);
    assert!(ok(&["--help"]).contains("Usage"));
}

#[test]
fn item_16_echoed_input_is_escaped_and_truncated() {
    let e = expect_error(
        &[
            "run",
            "--problem",
            "parabola",
            "--optimizer",
            "adam(lr=\u{1b}[31m1)",
        ],
        2,
        &["\\u{1b}"],
    );
    assert!(!e.contains('\u{1b}'));
    let e = expect_error(
        &["run", "--problem", "\u{7}bell\rcr", "--optimizer", "sgd"],
        2,
        &["unknown problem"],
    );
    assert!(!e.contains('\r'));
    // 100 kB of spec (an argument cannot hold much more) gives a short line.
    let big = format!("adam(lr={})", "9".repeat(100_000) + "x");
    let e = expect_error(
        &["run", "--problem", "parabola", "--optimizer", &big],
        2,
        &["characters left out"],
    );
    assert!(e.len() < 1200, "{} bytes", e.len());
    // A 10 MB cell of a CSV.
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("big.csv");
    std::fs::write(
        &data,
        format!("x,y\n1,2\n{},3\n2,4\n", "z".repeat(10 << 20)),
    )
    .unwrap();
    let e = expect_error(
        &[
            "run",
            "--problem",
            "linreg",
            "--data",
            s(&data),
            "--target",
            "y",
            "--optimizer",
            "sgd",
            "--features",
            "x",
        ],
        2,
        &["line 3", "'x'"],
    );
    assert!(e.len() < 400, "{} bytes", e.len());
}

#[test]
fn item_17_negative_numbers_are_values() {
    expect_error(
        &[
            "run",
            "--problem",
            "parabola",
            "--optimizer",
            "sgd",
            "--noise",
            "-1",
        ],
        2,
        &["--noise -1 is invalid"],
    );
    expect_error(
        &[
            "run",
            "--problem",
            "parabola",
            "--optimizer",
            "sgd",
            "--clip-norm",
            "-1",
        ],
        2,
        &["--clip-norm -1 is invalid"],
    );
    expect_error(
        &[
            "run",
            "--problem",
            "parabola",
            "--optimizer",
            "sgd",
            "--steps",
            "-1",
        ],
        2,
        &["-1", "--steps"],
    );
    expect_error(
        &[
            "compare",
            "--problem",
            "parabola",
            "--optimizer",
            "sgd",
            "--tol",
            "-1e400",
        ],
        2,
        &["--tol"],
    );
}

#[test]
fn item_18_csv_columns_and_batch_sizes_are_judged_rightly() {
    let dir = tempfile::tempdir().unwrap();
    let huge = dir.path().join("huge.csv");
    let rows: String = (1..=10)
        .map(|i| format!("{i}e160,{}e-320,{}\n", i * i % 7, 2 * i + 1))
        .collect();
    std::fs::write(&huge, format!("big,tiny,y\n{rows}")).unwrap();
    ok(&[
        "run",
        "--problem",
        "linreg",
        "--data",
        s(&huge),
        "--target",
        "y",
        "--optimizer",
        "sgd(lr=0.1)",
        "--steps",
        "3",
    ]);
    let dup = dir.path().join("dup.csv");
    std::fs::write(&dup, "a,a,y\n1,2,3\n2,3,5\n3,5,8\n4,1,2\n5,2,9\n").unwrap();
    expect_error(
        &[
            "run",
            "--problem",
            "linreg",
            "--data",
            s(&dup),
            "--target",
            "y",
            "--optimizer",
            "sgd",
        ],
        2,
        &["'a' appears twice"],
    );
    expect_error(
        &[
            "run",
            "--problem",
            "boston",
            "--optimizer",
            "sgd",
            "--batch-size",
            "100000",
        ],
        2,
        &["--batch-size 100000 is larger than", "training rows"],
    );
}

#[test]
fn item_19_checkpoint_settings_agree_with_the_saved_state_and_errors_name_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let good = dir.path().join("good.ck");
    ok(&[
        "run",
        "--problem",
        "parabola",
        "--optimizer",
        "sgd(lr=0.05)",
        "--steps",
        "3",
        "--save-state",
        s(&good),
    ]);
    let lr = dir.path().join("lr.ck");
    tamper(&good, &lr, |h| {
        h["meta"]["run"]["optimizer"] = "sgd(lr=0.5)".into()
    });
    expect_error(&["run", "--resume", s(&lr)], 2, &[s(&lr), "lr differs"]);
    let noise = dir.path().join("noise.ck");
    tamper(&good, &noise, |h| {
        h["meta"]["run"]["noise"] = serde_json::json!(-1.0)
    });
    expect_error(
        &["run", "--resume", s(&noise)],
        2,
        &["--resume", s(&noise), "saved run settings"],
    );
    let start = dir.path().join("start.ck");
    tamper(&good, &start, |h| {
        h["meta"]["run"]["start"] = serde_json::json!([1.0, 2.0])
    });
    expect_error(&["run", "--resume", s(&start)], 2, &["--resume", s(&start)]);
    // With a schedule, the lr is the schedule's and the check still passes.
    let sched = dir.path().join("sched.ck");
    ok(&[
        "run",
        "--problem",
        "parabola",
        "--optimizer",
        "sgd(lr=0.05, momentum=0.9)",
        "--schedule",
        "one_cycle(max_lr=0.1, total_steps=20)",
        "--steps",
        "5",
        "--save-state",
        s(&sched),
    ]);
    ok(&["run", "--resume", s(&sched), "--steps", "5"]);
    let _: PathBuf = good;
}

#[test]
fn item_07_report_with_stdout_full_exits_4() {
    let dir = tempfile::tempdir().unwrap();
    let args = ["report", "--quick", "--out", s(dir.path())];
    let o = gradus_to_full(&args, false);
    check_error(&o, &args, 4, &["writing to stdout"]);
    assert!(dir.path().join("index.html").is_file());
    assert_eq!(gradus_to_full(&args, true).status.code(), Some(4));
}
