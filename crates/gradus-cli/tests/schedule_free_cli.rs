//! `gradus run` with Schedule-Free optimizers: each JSON record carries `params` (the
//! tensors in the reference's train mode, where gradients are taken) and
//! `eval_params` (what its `eval()` puts there), equal to the reference's numbers in
//! `crates/gradus/tests/fixtures/schedule_free.json` (schedulefree 1.4.1, made by
//! `tools/frontier_fixtures_sf.py` on gradus's Rosenbrock), and the loss reported is
//! the loss at `eval_params`, as the output says.

use serde_json::Value;
use std::process::Command;

fn gradus(args: &[&str]) -> (String, String, Option<i32>) {
    let o = Command::new(env!("CARGO_BIN_EXE_gradus"))
        .args(args)
        .output()
        .expect("the gradus binary runs");
    (
        String::from_utf8_lossy(&o.stdout).into_owned(),
        String::from_utf8_lossy(&o.stderr).into_owned(),
        o.status.code(),
    )
}

fn numbers(v: &Value) -> Vec<f64> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|x| x.as_f64().unwrap())
        .collect()
}

fn rosenbrock(x: &[f64]) -> f64 {
    let a = x[1] - x[0] * x[0];
    let b = 1.0 - x[0];
    100.0 * a * a + b * b
}

fn rel(a: f64, b: f64) -> f64 {
    (a - b).abs() / b.abs().max(1e-3)
}

#[test]
fn jsonl_records_params_and_eval_params_as_the_reference() {
    let fixture: Value = serde_json::from_str(include_str!(
        "../../gradus/tests/fixtures/schedule_free.json"
    ))
    .unwrap();
    let cases: Vec<&Value> = fixture["cases"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["problem"] == "rosenbrock")
        .collect();
    assert_eq!(cases.len(), 4);
    let mut worst = 0.0f64;
    for case in cases {
        let spec = case["spec"].as_str().unwrap();
        let steps = case["steps"].as_array().unwrap();
        let n = steps.len().to_string();
        let (out, err, code) = gradus(&[
            "run",
            "--problem",
            "rosenbrock",
            "--optimizer",
            spec,
            "--steps",
            &n,
            "--format",
            "jsonl",
            "--dtype",
            "f64",
        ]);
        assert_eq!(code, Some(0), "{spec}: {err}");
        let lines: Vec<Value> = out
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        assert_eq!(lines.len(), steps.len() + 2, "{spec}");
        // Before the first step there is no average yet: x = y = the start.
        assert_eq!(lines[0]["eval_params"], lines[0]["params"]);
        assert_eq!(numbers(&lines[0]["params"]), vec![-1.5, 2.0]);
        for (record, want) in lines[1..=steps.len()].iter().zip(steps) {
            let y = numbers(&record["params"]);
            let x = numbers(&record["eval_params"]);
            let want_y = numbers(&want["params"][0]);
            let want_x = numbers(&want["eval_params"][0]);
            for (got, want) in y.iter().zip(&want_y).chain(x.iter().zip(&want_x)) {
                let d = rel(*got, *want);
                assert!(d <= 1e-9, "{spec} step {}: {got} vs {want}", record["step"]);
                worst = worst.max(d);
            }
            assert_eq!(record["loss"].as_f64().unwrap(), rosenbrock(&x), "{spec}");
        }
        let summary = &lines.last().unwrap()["summary"];
        assert_eq!(summary["loss_at"], "eval_params", "{spec}");
        assert_eq!(summary["eval_params"], lines[steps.len()]["eval_params"]);
        assert_eq!(
            summary["params_loss"].as_f64().unwrap(),
            rosenbrock(&numbers(&summary["params"]))
        );
    }
    eprintln!("schedule-free CLI against the reference: worst relative difference {worst:e}");
}

#[test]
fn text_output_says_where_the_loss_is_taken() {
    let (out, err, code) = gradus(&[
        "run",
        "--problem",
        "rosenbrock",
        "--optimizer",
        "schedule_free_sgd(lr=0.001)",
        "--steps",
        "20",
    ]);
    assert_eq!(code, Some(0), "{err}");
    assert!(out.starts_with("Step: 0, Loss at eval_params: "), "{out}");
    assert!(out.contains("loss_at: eval_params"), "{out}");
    // Other optimizers' output is unchanged.
    let (out, _, _) = gradus(&[
        "run",
        "--problem",
        "rosenbrock",
        "--optimizer",
        "sgd(lr=0.001)",
        "--steps",
        "20",
    ]);
    assert!(
        out.starts_with("Step: 0, Loss: ") && !out.contains("loss_at"),
        "{out}"
    );
}
