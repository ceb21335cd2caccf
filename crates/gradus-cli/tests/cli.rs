//! The `gradus` binary end to end: bad input (exit code 2, one `error:` line naming
//! the culprit), diverging runs (exit code 3), and checkpoints (a run saved and resumed
//! prints, bit for bit, what the straight run prints).

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

mod checkpoint_files;
use checkpoint_files::tamper;

fn gradus(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_gradus"))
        .args(args)
        .output()
        .expect("the gradus binary runs")
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// Exit code `code` and exactly one stderr line, `error: ...`, containing `culprit`.
fn expect_error(args: &[&str], code: i32, culprit: &str) -> String {
    let o = gradus(args);
    let err = stderr(&o);
    assert_eq!(o.status.code(), Some(code), "{args:?}: {err}");
    let lines: Vec<&str> = err.lines().collect();
    assert_eq!(lines.len(), 1, "{args:?}: {err}");
    assert!(lines[0].starts_with("error: "), "{args:?}: {err}");
    assert!(
        lines[0].contains(culprit),
        "{args:?}: '{culprit}' not in {err}"
    );
    err
}

fn run(extra: &[&str]) -> Vec<String> {
    let mut args = vec!["run", "--format", "jsonl"];
    args.extend_from_slice(extra);
    let o = gradus(&args);
    assert_eq!(o.status.code(), Some(0), "{args:?}: {}", stderr(&o));
    String::from_utf8(o.stdout)
        .unwrap()
        .lines()
        .filter(|l| !l.starts_with("{\"summary\""))
        .map(String::from)
        .collect()
}

fn tmp() -> tempfile::TempDir {
    tempfile::tempdir().unwrap()
}

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

/// Runs `first + second` steps straight and `first`, save, resume `second`, and
/// compares the records of the overlap as text.
fn straight_equals_resumed(flags: &[&str], first: u64, second: u64) {
    let dir = tmp();
    let ck = dir.path().join("state.ck");
    let total = (first + second).to_string();
    let mut a = flags.to_vec();
    a.extend(["--steps", &total]);
    let straight = run(&a);
    assert_eq!(straight.len() as u64, first + second + 1, "{flags:?}");
    let first_s = first.to_string();
    let mut b = flags.to_vec();
    b.extend(["--steps", &first_s, "--save-state", s(&ck)]);
    let head = run(&b);
    assert_eq!(head[..], straight[..=first as usize], "{flags:?}");
    let second_s = second.to_string();
    let tail = run(&["--resume", s(&ck), "--steps", &second_s]);
    assert_eq!(tail.len() as u64, second + 1, "{flags:?}");
    assert_eq!(tail[0], head[first as usize], "{flags:?}");
    assert!(tail[0].starts_with(&format!("{{\"step\":{first},")));
    for (k, (got, want)) in tail.iter().zip(&straight[first as usize..]).enumerate() {
        assert_eq!(
            got,
            want,
            "{flags:?}: record {} differs",
            first as usize + k
        );
    }
}

#[test]
fn resumed_runs_equal_straight_runs_bit_for_bit() {
    let cases: &[&[&str]] = &[
        &[
            "--problem",
            "rosenbrock",
            "--optimizer",
            "adam(lr=0.01)",
            "--schedule",
            "cosine_annealing(t_max=300)",
        ],
        &[
            "--problem",
            "rosenbrock",
            "--optimizer",
            "adam(lr=0.01, amsgrad=true)",
            "--dtype",
            "f32",
            "--dim",
            "5",
        ],
        &[
            "--problem",
            "beale",
            "--optimizer",
            "sgd(lr=0.001, momentum=0.9, nesterov=true)",
            "--schedule",
            "step(step_size=50, gamma=0.5)",
            "--dtype",
            "f32",
        ],
        &[
            "--problem",
            "quadratic",
            "--optimizer",
            "adamw(lr=0.05)",
            "--schedule",
            "one_cycle(max_lr=0.1, total_steps=300)",
        ],
        &[
            "--problem",
            "boston",
            "--batch-size",
            "16",
            "--sampling",
            "replacement",
            "--optimizer",
            "adamw(lr=0.05)",
            "--schedule",
            "one_cycle(max_lr=0.1, total_steps=300)",
        ],
        &[
            "--problem",
            "boston",
            "--batch-size",
            "32",
            "--sampling",
            "epoch",
            "--optimizer",
            "sgd(lr=0.05, momentum=0.9)",
            "--schedule",
            "reduce_on_plateau(patience=3)",
            "--dtype",
            "f32",
        ],
        &[
            "--problem",
            "boston-full",
            "--batch-size",
            "50",
            "--sampling",
            "epoch",
            "--optimizer",
            "adam(lr=0.05)",
            "--seed",
            "7",
        ],
        &[
            "--problem",
            "bowl",
            "--noise",
            "1",
            "--optimizer",
            "sgd(lr=0.01)",
            "--schedule",
            "exponential(0.99)",
        ],
        &[
            "--problem",
            "bowl",
            "--noise",
            "0.5",
            "--optimizer",
            "adam(lr=0.1)",
            "--dtype",
            "f32",
            "--seed",
            "3",
            "--clip-norm",
            "1",
        ],
        &[
            "--problem",
            "digits-softmax",
            "--batch-size",
            "64",
            "--optimizer",
            "adam(lr=0.01)",
            "--schedule",
            "sequential([linear(start_factor=0.5, total_iters=30), exponential(0.99)], [30])",
            "--dtype",
            "f32",
        ],
        &["--problem", "digits-softmax", "--optimizer", "sgd(lr=0.5)"],
        &[
            "--problem",
            "cosh",
            "--optimizer",
            "newton(lr=0.5)",
            "--schedule",
            "exponential(0.9)",
        ],
        &[
            "--problem",
            "parabola",
            "--optimizer",
            "sgd(lr=0.1)",
            "--on-nonfinite",
            "skip",
        ],
    ];
    for flags in cases {
        straight_equals_resumed(flags, 120, 180);
    }
    // The average (and its loss in every record) resumes bit for bit too.
    let averaged: &[&[&str]] = &[
        &[
            "--problem",
            "rosenbrock",
            "--optimizer",
            "adam(lr=0.01)",
            "--schedule",
            "one_cycle(max_lr=0.05, total_steps=300)",
            "--average",
            "ema(decay=0.95)",
        ],
        &[
            "--problem",
            "boston",
            "--optimizer",
            "sgd(lr=0.01, momentum=0.9)",
            "--batch-size",
            "16",
            "--clip-norm",
            "5",
            "--average",
            "swa(start=50, every=7)",
            "--dtype",
            "f32",
        ],
        &[
            "--problem",
            "rosenbrock",
            "--optimizer",
            "lbfgs(lr=0.5, max_iter=3)",
            "--average",
            "swa()",
        ],
    ];
    for flags in averaged {
        straight_equals_resumed(flags, 120, 180);
    }
    // A resumed run can be resumed again.
    let flags = [
        "--problem",
        "rosenbrock",
        "--optimizer",
        "sgd(lr=0.001, momentum=0.5)",
    ];
    straight_equals_resumed(&flags, 0, 10);
    straight_equals_resumed(&flags, 10, 0);
}

#[test]
fn every_optimizer_and_schedule_resumes_exactly() {
    let mut skipped = Vec::new();
    for a in gradus::optim::catalog() {
        let name = &a.name;
        // Wrappers take their lr through the inner optimizer; Muon steps Boston's
        // weight matrix, and the bias goes to AdamW, as partition routes them.
        let spec = if *name == "muon" || *name == "partition" {
            "partition(matrices=muon(lr=0.01), rest=adamw(lr=0.01))".to_string()
        } else if a.kind == "combinator" {
            format!("{name}(inner=sgd(lr=0.01, momentum=0.9))")
        } else {
            format!("{name}(lr=0.01)")
        };
        if *name == "newton" {
            continue; // covered above, it needs a Hessian
        }
        if let Err(gradus::Error::UnknownName { .. }) = gradus::optim::build::<f64>(&spec) {
            skipped.push(*name);
            continue;
        }
        // Closure optimizers (lbfgs) re-evaluate the full-batch loss: no minibatches.
        let closure = gradus::optim::build::<f64>(&spec).unwrap().kind()
            == gradus::optim::OptimizerKind::Closure;
        for dtype in ["f64", "f32"] {
            let mut args = vec!["--problem", "boston"];
            if !closure {
                args.extend(["--batch-size", "8"]);
            }
            args.extend(["--optimizer", &spec, "--dtype", dtype]);
            straight_equals_resumed(&args, 25, 35);
        }
    }
    eprintln!(
        "optimizers not built yet, skipped: {} {skipped:?}",
        skipped.len()
    );
    for (name, _) in gradus::schedule::names() {
        if gradus::schedule::LIBRARY_ONLY.contains(&name) {
            continue; // a Rust closure: no spec
        }
        let name = &name;
        let schedule = match *name {
            "cyclic" => "cyclic(base_lr=0.001, max_lr=0.01, step_size_up=8, mode=triangular2)",
            "chained" => "chained(schedulers=[step(step_size=10), exponential(gamma=0.99)])",
            "swa_lr" => "swa_lr(swa_lr=0.002, anneal_epochs=20)",
            "step" => "step(7)",
            "multi_step" => "multi_step([10, 30, 50])",
            "exponential" => "exponential(0.95)",
            "cosine_annealing" => "cosine_annealing(20)",
            "cosine_annealing_warm_restarts" => "cosine_annealing_warm_restarts(5, t_mult=2)",
            "one_cycle" => "one_cycle(max_lr=0.005, total_steps=60)",
            "sequential" => {
                "sequential([linear(start_factor=0.1, total_iters=20), cosine_annealing(40)], [20])"
            }
            "piecewise_constant" => "piecewise_constant([20, 40], [0.005, 0.002, 0.001])",
            "exp_decay" => "exp_decay(0.05)",
            "inverse_poly" => "inverse_poly(0.1, 0.5)",
            "reduce_on_plateau" => "reduce_on_plateau(patience=2, factor=0.5)",
            other => other,
        };
        straight_equals_resumed(
            &[
                "--problem",
                "himmelblau",
                "--optimizer",
                "sgd(lr=0.01, momentum=0.9)",
                "--schedule",
                schedule,
            ],
            25,
            35,
        );
    }
}

#[test]
fn bad_input_is_one_error_line_and_exit_code_2() {
    let dir = tmp();
    let p = dir.path();
    let rb = [
        "run",
        "--problem",
        "rosenbrock",
        "--steps",
        "3",
        "--optimizer",
    ];
    let with = |extra: &[&str]| -> Vec<String> {
        let mut v: Vec<String> = ["run", "--problem", "rosenbrock", "--steps", "3"]
            .iter()
            .map(|s| s.to_string())
            .collect();
        v.extend(extra.iter().map(|s| s.to_string()));
        v
    };
    let cases: Vec<(Vec<String>, &str)> = vec![
        (
            [&rb[..], &["adam(lr=-1)"]]
                .concat()
                .iter()
                .map(|s| s.to_string())
                .collect(),
            "lr",
        ),
        (with(&["--optimizer", "adam(betas=(1.0, 0.9))"]), "betas[0]"),
        (with(&["--optimizer", "sgd(momentum=nan)"]), "momentum"),
        (with(&["--optimizer", "sgd(lr=inf)"]), "lr"),
        (with(&["--optimizer", "adamm"]), "adamm"),
        (with(&["--optimizer", "adam(lr="]), "adam(lr="),
        (with(&["--optimizer", "adam(foo=1)"]), "foo"),
        (with(&["--optimizer", "adam(lr=0.1"]), "adam(lr=0.1"),
        (with(&["--optimizer", ""]), "spec"),
        (
            with(&["--optimizer", "adam", "--schedule", "step(step_size=0)"]),
            "step_size",
        ),
        (with(&["--optimizer", "adam", "--schedule", "warp"]), "warp"),
        (
            with(&["--optimizer", "adam", "--schedule", "exponential(gamma=-1)"]),
            "gamma",
        ),
        (
            with(&["--optimizer", "adam", "--start", "1,2,3"]),
            "--start",
        ),
        (with(&["--optimizer", "adam", "--start", "1,abc"]), "abc"),
        (
            with(&["--optimizer", "adam", "--start", "nan,1"]),
            "--start",
        ),
        (with(&["--optimizer", "adam", "--dtype", "f16"]), "f16"),
        (
            with(&["--optimizer", "adam", "--batch-size", "4"]),
            "--batch-size",
        ),
        (with(&["--optimizer", "adam", "--noise=-1"]), "--noise"),
        (
            with(&["--optimizer", "adam", "--clip-norm=-1"]),
            "--clip-norm",
        ),
        (with(&["--optimizer", "adam", "--steps=-1"]), "--steps"),
        (
            with(&["--optimizer", "adam", "--frobnicate"]),
            "--frobnicate",
        ),
        (with(&["--optimizer", "adam", "--dim", "20000000"]), "--dim"),
        (
            with(&["--optimizer", "adam", "--on-nonfinite", "explode"]),
            "explode",
        ),
        (
            with(&[
                "--optimizer",
                "adam",
                "--save-state",
                "/nonexistent-dir/x.ck",
            ]),
            "--save-state",
        ),
        (
            vec!["run".into(), "--optimizer".into(), "adam".into()],
            "--problem",
        ),
        (
            vec!["run".into(), "--problem".into(), "rosenbrock".into()],
            "--optimizer",
        ),
        (
            vec![
                "run".into(),
                "--problem".into(),
                "rosenbrok".into(),
                "--optimizer".into(),
                "adam".into(),
            ],
            "rosenbrok",
        ),
        (
            vec![
                "run".into(),
                "--problem".into(),
                "beale".into(),
                "--dim".into(),
                "3".into(),
                "--optimizer".into(),
                "adam".into(),
            ],
            "--dim",
        ),
        (
            vec![
                "run".into(),
                "--problem".into(),
                "boston".into(),
                "--batch-size".into(),
                "0".into(),
                "--optimizer".into(),
                "adam".into(),
            ],
            "--batch-size",
        ),
        (
            vec![
                "run".into(),
                "--problem".into(),
                "digits".into(),
                "--hidden".into(),
                "0".into(),
                "--optimizer".into(),
                "adam".into(),
            ],
            "--hidden",
        ),
        (
            vec![
                "run".into(),
                "--problem".into(),
                "linreg".into(),
                "--optimizer".into(),
                "adam".into(),
            ],
            "--data",
        ),
        (
            vec![
                "run".into(),
                "--problem".into(),
                "linreg".into(),
                "--data".into(),
                "/nonexistent.csv".into(),
                "--target".into(),
                "y".into(),
                "--optimizer".into(),
                "adam".into(),
            ],
            "nonexistent.csv",
        ),
        (
            vec![
                "run".into(),
                "--problem".into(),
                "digits-softmax".into(),
                "--optimizer".into(),
                "newton".into(),
            ],
            "newton",
        ),
        (
            vec!["compare".into(), "--problem".into(), "rosenbrock".into()],
            "--optimizer",
        ),
        (
            vec!["compare".into(), "--optimizer".into(), "adam".into()],
            "--problem",
        ),
        (vec!["frobnicate".into()], "frobnicate"),
    ];
    for (args, culprit) in &cases {
        let a: Vec<&str> = args.iter().map(String::as_str).collect();
        expect_error(&a, 2, culprit);
    }
    assert!(!p.join("x.ck").exists());
}

#[test]
fn bad_checkpoints_are_refused_with_the_reason() {
    let dir = tmp();
    let p = |n: &str| -> PathBuf { dir.path().join(n) };
    let good = p("good.ck");
    run(&[
        "--problem",
        "rosenbrock",
        "--optimizer",
        "adam(lr=0.01)",
        "--steps",
        "5",
        "--save-state",
        s(&good),
    ]);
    let bytes = std::fs::read(&good).unwrap();
    std::fs::write(p("garbage.ck"), b"hello, I am not a checkpoint\n").unwrap();
    std::fs::write(p("empty.ck"), b"").unwrap();
    std::fs::write(p("truncated.ck"), &bytes[..bytes.len() - 3]).unwrap();
    let mut corrupt = bytes.clone();
    let n = corrupt.len();
    corrupt[n - 5] ^= 0x40;
    std::fs::write(p("corrupt.ck"), &corrupt).unwrap();
    // The format version inside gradus' safetensors metadata, 2 → 9 (same length).
    let mut v9 = bytes.clone();
    let key = br#"{\"version\":2"#;
    let at = v9.windows(key.len()).position(|w| w == key).unwrap();
    v9[at + key.len() - 1] = b'9';
    std::fs::write(p("v9.ck"), &v9).unwrap();
    tamper(&good, &p("dim.ck"), |h| {
        h["meta"]["run"]["problem_options"]["dim"] = 3.into()
    });
    tamper(&good, &p("dtype.ck"), |h| {
        h["meta"]["run"]["dtype"] = "f32".into()
    });
    tamper(&good, &p("algo.ck"), |h| {
        h["meta"]["run"]["optimizer"] = "sgd(lr=0.1, momentum=0.9)".into()
    });
    tamper(&good, &p("hyper.ck"), |h| {
        h["meta"]["optimizer"]["spec"] = "adam(lr=-5)".into()
    });
    tamper(&good, &p("nometa.ck"), |h| {
        h["meta"] = serde_json::json!({"kind": "gradus-run"})
    });
    tamper(&good, &p("sched.ck"), |h| {
        h["meta"]["run"]["schedule"] = "exponential(0.5)".into()
    });
    tamper(&good, &p("rename.ck"), |h| {
        h["tensors"][0]["name"] = "params/y".into()
    });
    tamper(&good, &p("extra.ck"), |h| {
        h["tensors"]
            .as_array_mut()
            .unwrap()
            .push(serde_json::json!({"name": "optimizer/z/exp_avg", "dtype": "f64", "shape": [0]}))
    });
    let resume = |f: &str| {
        vec![
            "run".to_string(),
            "--resume".into(),
            s(&p(f)).to_string(),
            "--steps".into(),
            "2".into(),
        ]
    };
    for (file, culprit) in [
        ("missing.ck", "missing.ck"),
        ("garbage.ck", "not a gradus checkpoint"),
        ("empty.ck", "not a gradus checkpoint"),
        ("truncated.ck", "truncated"),
        ("corrupt.ck", "checksum"),
        ("v9.ck", "version 9"),
        ("dim.ck", "params/x"),
        ("dtype.ck", "f64"),
        ("algo.ck", "'adam'"),
        ("hyper.ck", "lr"),
        ("nometa.ck", "'run'"),
        ("sched.ck", "schedule"),
        ("rename.ck", "params/y"),
        ("extra.ck", "optimizer/z/exp_avg"),
    ] {
        let a = resume(file);
        let a: Vec<&str> = a.iter().map(String::as_str).collect();
        let e = expect_error(&a, 2, culprit);
        assert!(e.contains("--resume"), "{e}");
    }
    // Flags given with --resume must match the checkpoint.
    let g = s(&good);
    for (extra, culprit) in [
        (
            &["--optimizer", "sgd(lr=0.1)"][..],
            "checkpoint is for adam(lr=0.01",
        ),
        (
            &["--optimizer", "sgd(lr=0.1)"][..],
            "--optimizer is sgd(lr=0.1",
        ),
        (&["--problem", "sphere"][..], "--problem is sphere"),
        (&["--dtype", "f32"][..], "--dtype"),
        (&["--seed", "4"][..], "--seed"),
        (&["--schedule", "exponential(0.9)"][..], "--schedule"),
        (&["--noise", "1"][..], "--noise"),
        (&["--optimizer", "adam(lr=-1)"][..], "lr"),
    ] {
        let mut a = vec!["run", "--resume", g, "--steps", "1"];
        a.extend_from_slice(extra);
        expect_error(&a, 2, culprit);
    }
    // Matching flags, in another spelling, are accepted.
    let out = run(&[
        "--resume",
        g,
        "--steps",
        "1",
        "--optimizer",
        "adam(0.01)",
        "--problem",
        "rosenbrock",
        "--dtype",
        "f64",
    ]);
    assert_eq!(out.len(), 2);
}

#[test]
fn diverging_runs_exit_3_after_finite_records_and_save_the_last_good_state() {
    let dir = tmp();
    let ck = dir.path().join("last.ck");
    let args = [
        "run",
        "--problem",
        "parabola",
        "--optimizer",
        "sgd(lr=10)",
        "--steps",
        "1000",
        "--format",
        "jsonl",
    ];
    let o = gradus(&args);
    assert_eq!(o.status.code(), Some(3), "{}", stderr(&o));
    let err = expect_error(&args, 3, "step");
    assert!(err.contains("non-finite"), "{err}");
    let out = String::from_utf8(o.stdout).unwrap();
    let records: Vec<&str> = out.lines().collect();
    assert!(records.len() > 10);
    assert!(records
        .iter()
        .all(|l| !l.contains("null") && !l.contains("summary")));
    let mut a = args.to_vec();
    a.extend(["--save-state", s(&ck)]);
    let o = gradus(&a);
    assert_eq!(o.status.code(), Some(3));
    assert!(
        stderr(&o).contains("saved the state of step"),
        "{}",
        stderr(&o)
    );
    let out = String::from_utf8(o.stdout).unwrap();
    let last = out.lines().last().unwrap().to_string();
    // The saved state is the last finite record's.
    let again = run(&["--resume", s(&ck), "--steps", "0"]);
    assert_eq!(again, vec![last]);
    // Non-finite loss at the start: exit 3, nothing printed, nothing saved.
    let ck2 = dir.path().join("never.ck");
    let o = gradus(&[
        "run",
        "--problem",
        "parabola",
        "--optimizer",
        "sgd",
        "--start",
        "1e300",
        "--save-state",
        s(&ck2),
    ]);
    assert_eq!(o.status.code(), Some(3), "{}", stderr(&o));
    assert!(o.stdout.is_empty());
    assert!(!ck2.exists());
    // Skipping keeps going (the gradient stays finite here; skip only counts).
    let o = gradus(&[
        "run",
        "--problem",
        "parabola",
        "--optimizer",
        "sgd(lr=0.1)",
        "--on-nonfinite",
        "skip",
        "--format",
        "jsonl",
    ]);
    assert_eq!(o.status.code(), Some(0));
}

/// The `avg_loss` field of jsonl records (`None` when absent, `Some(None)` for null).
fn avg_losses(lines: &[String]) -> Vec<Option<Option<f64>>> {
    lines
        .iter()
        .map(|l| {
            let v: serde_json::Value = serde_json::from_str(l).unwrap();
            v.get("avg_loss").map(|a| a.as_f64())
        })
        .collect()
}

#[test]
fn average_reports_the_averaged_loss_beside_the_live_one() {
    let base = [
        "--problem",
        "rosenbrock",
        "--optimizer",
        "adam(lr=0.01)",
        "--steps",
        "8",
    ];
    // Without --average there is no field.
    assert!(avg_losses(&run(&base)).iter().all(Option::is_none));
    // ema(decay=0) is the live parameters: the same loss after every step.
    let mut a = base.to_vec();
    a.extend(["--average", "ema(decay=0)"]);
    let lines = run(&a);
    for (k, (l, avg)) in lines.iter().zip(avg_losses(&lines)).enumerate() {
        let v: serde_json::Value = serde_json::from_str(l).unwrap();
        match k {
            0 => assert_eq!(avg, Some(None), "{l}"),
            _ => assert_eq!(avg, Some(v["loss"].as_f64()), "{l}"),
        }
    }
    // swa(start=2, every=2): first update after step 4, so null before.
    let mut a = base.to_vec();
    a.extend(["--average", "swa(start=2, every=2)"]);
    let avg = avg_losses(&run(&a));
    assert!(avg[..4].iter().all(|x| *x == Some(None)), "{avg:?}");
    assert!(
        avg[4..].iter().all(|x| matches!(x, Some(Some(_)))),
        "{avg:?}"
    );
    // After the first update the average is a copy, so its loss is the live one.
    let lines = run(&a);
    let v: serde_json::Value = serde_json::from_str(&lines[4]).unwrap();
    assert_eq!(avg[4], Some(v["loss"].as_f64()));
    assert_ne!(
        avg[6],
        Some(serde_json::from_str::<serde_json::Value>(&lines[6]).unwrap()["loss"].as_f64())
    );
    // Text output shows it too.
    let mut t = vec!["run"];
    t.extend(base);
    t.extend(["--average", "swa()"]);
    let o = gradus(&t);
    let text = String::from_utf8(o.stdout).unwrap();
    assert!(
        text.starts_with("Step: 0, Loss: 12.5000, Avg loss: -\n"),
        "{text}"
    );
    assert!(
        text.contains("Step: 8, Loss: ") && text.lines().nth(1).unwrap().contains("Avg loss: "),
        "{text}"
    );
}

#[test]
fn bad_averages_are_one_error_line_naming_the_key() {
    let base = ["run", "--problem", "rosenbrock", "--optimizer", "adam"];
    for (spec, culprit) in [
        (
            "ema(decay=1.5)",
            "decay = 1.5 for ema: expected a number in [0, 1]",
        ),
        ("swa(every=0)", "every"),
        ("ema(gamma=0.9)", "gamma"),
        ("emma()", "did you mean 'ema'"),
        ("ema(decay=", "--average"),
    ] {
        let mut a = base.to_vec();
        a.extend(["--average", spec]);
        expect_error(&a, 2, culprit);
    }
    // A resumed run keeps its average: another one is refused.
    let dir = tmp();
    let ck = dir.path().join("a.ck");
    let mut a = base.to_vec();
    a.extend([
        "--average",
        "ema(decay=0.9)",
        "--steps",
        "3",
        "--save-state",
        s(&ck),
    ]);
    assert_eq!(gradus(&a).status.code(), Some(0));
    expect_error(
        &["run", "--resume", s(&ck), "--average", "swa()"],
        2,
        "checkpoint is for --average ema(decay=0.9",
    );
    let o = gradus(&[
        "run",
        "--resume",
        s(&ck),
        "--average",
        "ema(decay=0.9)",
        "--steps",
        "1",
        "--format",
        "jsonl",
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
}

#[test]
fn help_documents_average() {
    let o = gradus(&["run", "--help"]);
    let help = String::from_utf8(o.stdout).unwrap();
    assert!(
        help.contains("--average")
            && help.contains("ema(decay=0.999)")
            && help.contains("avg_loss"),
        "{help}"
    );
    let o = gradus(&["list", "ema"]);
    let text = String::from_utf8(o.stdout).unwrap();
    assert!(
        text.contains("decay") && text.contains("0.999") && text.contains("[0, 1]"),
        "{text}"
    );
    let o = gradus(&["list"]);
    let text = String::from_utf8(o.stdout).unwrap();
    assert!(
        text.contains("weight averages") && text.contains("swa"),
        "{text}"
    );
}

#[test]
fn help_documents_resume() {
    let o = gradus(&["run", "--help"]);
    let help = String::from_utf8(o.stdout).unwrap();
    assert!(
        help.contains("--resume") && help.contains("--save-state"),
        "{help}"
    );
    assert!(help.contains("120 to 300"), "{help}");
}

/// `--shape 4,5` makes rosenbrock's parameter one 4 × 5 matrix, so Muon can step it;
/// the records match torch.optim.Muon on the same matrix (tests/fixtures/muon.json of
/// the core crate, made by tools/muon_fixtures.py): default Muon (bfloat16
/// Newton–Schulz, bit-identical at this size) and `ns_dtype=float64` (1e-12 relative).
#[test]
fn muon_on_a_shaped_rosenbrock_matches_torch() {
    let fixture: serde_json::Value =
        serde_json::from_str(include_str!("../../gradus/tests/fixtures/muon.json")).unwrap();
    let problems = fixture["problems"].as_array().unwrap();
    assert_eq!(problems.len(), 2);
    for case in problems {
        let spec = case["spec"].as_str().unwrap();
        let want = case["params"].as_array().unwrap();
        let steps = want.len().to_string();
        let records = run(&[
            "--problem",
            "rosenbrock",
            "--shape",
            "4,5",
            "--optimizer",
            spec,
            "--dtype",
            "f64",
            "--steps",
            &steps,
        ]);
        assert_eq!(records.len(), want.len() + 1, "{spec}");
        for (k, (line, w)) in records[1..].iter().zip(want).enumerate() {
            let rec: serde_json::Value = serde_json::from_str(line).unwrap();
            let got = rec["params"].as_array().unwrap();
            assert_eq!(got.len(), 20);
            for (g, w) in got.iter().zip(w.as_array().unwrap()) {
                let (g, w) = (g.as_f64().unwrap(), w.as_f64().unwrap());
                let tol = if case["ns_dtype"] == "bfloat16" {
                    0.0
                } else {
                    1e-12
                };
                assert!(
                    (g - w).abs() <= tol * w.abs().max(1e-3),
                    "{spec} step {}: {g} vs {w}",
                    k + 1
                );
            }
        }
    }
}

#[test]
fn muon_needs_a_matrix_and_shape_must_fit_dim() {
    expect_error(
        &["run", "--problem", "rosenbrock", "--optimizer", "muon"],
        2,
        "'x' has shape [2]",
    );
    expect_error(
        &[
            "run",
            "--problem",
            "rosenbrock",
            "--shape",
            "4,5",
            "--dim",
            "21",
            "--optimizer",
            "adam",
        ],
        2,
        "--dim",
    );
    for bad in [["beale", "1,2"], ["sphere", "0,3"]] {
        let args = [
            "run",
            "--problem",
            bad[0],
            "--shape",
            bad[1],
            "--optimizer",
            "adam",
        ];
        expect_error(&args, 2, "--shape");
    }
    // A partition steps the digits MLP: w1 and w2 with muon, the biases with adamw.
    let records = run(&[
        "--problem",
        "digits",
        "--hidden",
        "8",
        "--steps",
        "3",
        "--optimizer",
        "partition(matrices=muon(lr=0.02), rest=adamw(lr=0.01))",
    ]);
    assert_eq!(records.len(), 4);
}

/// A per-tensor optimizer that refuses one of a model's tensors fails before the first
/// record, with exit code 2, naming the tensor; through partition the same run works.
#[test]
fn a_refused_tensor_shape_fails_before_the_first_record() {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_gradus"))
        .args([
            "run",
            "--problem",
            "digits",
            "--optimizer",
            "muon",
            "--steps",
            "2",
        ])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(
        out.stdout.is_empty(),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("'b1' has shape [64]") && err.contains("partition"),
        "{err}"
    );
    let ok = std::process::Command::new(env!("CARGO_BIN_EXE_gradus"))
        .args([
            "run",
            "--problem",
            "digits",
            "--optimizer",
            "partition(matrices=muon, rest=adamw)",
            "--steps",
            "2",
        ])
        .output()
        .unwrap();
    assert_eq!(
        ok.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&ok.stderr)
    );
}

#[test]
fn run_plots_the_test_accuracy_of_a_classification_problem() {
    let dir = tmp();
    let png = dir.path().join("acc.png");
    let o = gradus(&[
        "run",
        "--problem",
        "digits-softmax",
        "--optimizer",
        "sgd(lr=0.5)",
        "--steps",
        "30",
        "--plot-accuracy",
        s(&png),
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let bytes = std::fs::read(&png).unwrap();
    assert_eq!(&bytes[..8], b"\x89PNG\r\n\x1a\n");
    // A problem without a test set is refused before the first step, naming the flag.
    let err = expect_error(
        &[
            "run",
            "--problem",
            "rosenbrock",
            "--optimizer",
            "adam",
            "--steps",
            "3",
            "--plot-accuracy",
            s(&dir.path().join("r.png")),
        ],
        2,
        "--plot-accuracy",
    );
    assert!(err.contains("no test set"), "{err}");
}
