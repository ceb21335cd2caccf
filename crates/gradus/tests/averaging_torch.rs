//! Weight averaging against torch's `AveragedModel` (fixture made by
//! `tools/averaging_fixtures.py`): the live parameters torch's optimizer produced are
//! fed to gradus' [`Averaging`] step by step, and the averages compared with torch's.
//!
//! `swa()` and `ema(decay)` (torch's default `AveragedModel` and `get_ema_avg_fn`) match
//! bit for bit in both f64 and f32. torch's other EMA, the foreach lerp of
//! `get_ema_multi_avg_fn`, is recorded too and shown to be within a few ulps, not equal.

use gradus::optim::Averaging;
use gradus::Float;
use serde_json::Value;

fn fixture() -> Value {
    let text = include_str!("fixtures/averaging.json");
    serde_json::from_str(text).unwrap()
}

fn nums<T: Float>(v: &Value) -> Vec<T> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|s| T::of(s.as_str().unwrap().parse::<f64>().unwrap()))
        .collect()
}

/// For each run and case: (gradus average after each step, torch's) as f64, with n_averaged.
fn check_run<T: Float>(run: &Value, case: &str) -> f64 {
    let spec = case.strip_prefix("lerp_").unwrap_or(case);
    let mut avg = Averaging::<T>::build(spec).unwrap();
    let shapes = &run["shapes"];
    let order: Vec<&str> = run["order"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s.as_str().unwrap())
        .collect();
    let shape_of = |n: &str| -> Vec<usize> {
        shapes[n]
            .as_array()
            .unwrap()
            .iter()
            .map(|d| d.as_u64().unwrap() as usize)
            .collect()
    };
    let mut worst = 0.0f64;
    for (t, step) in run["steps"].as_array().unwrap().iter().enumerate() {
        let values: Vec<Vec<T>> = order.iter().map(|n| nums(&step["params"][n])).collect();
        let shapes: Vec<Vec<usize>> = order.iter().map(|n| shape_of(n)).collect();
        let tensors: Vec<(&str, &[T], &[usize])> = order
            .iter()
            .zip(&values)
            .zip(&shapes)
            .map(|((n, v), s)| (*n, v.as_slice(), s.as_slice()))
            .collect();
        avg.after_step(&tensors).unwrap();
        let want = &step["averages"][case];
        assert_eq!(
            avg.n_averaged(),
            want["n_averaged"].as_u64().unwrap(),
            "{case} step {}",
            t + 1
        );
        if avg.n_averaged() == 0 {
            assert!(avg.get("w").is_none());
            continue;
        }
        for n in &order {
            let ours = avg.get(n).unwrap();
            let theirs: Vec<T> = nums(&want[*n]);
            for (a, b) in ours.iter().zip(&theirs) {
                let (a, b) = (a.f64(), b.f64());
                worst = worst.max((a - b).abs() / b.abs().max(f64::MIN_POSITIVE));
            }
        }
    }
    worst
}

#[test]
fn swa_and_ema_match_torch_bit_for_bit() {
    let f = fixture();
    let mut checked = 0;
    for run in f["runs"].as_array().unwrap() {
        for case in f["cases"].as_array().unwrap() {
            let case = case.as_str().unwrap();
            if case.starts_with("lerp_") {
                continue;
            }
            let worst = match run["dtype"].as_str().unwrap() {
                "f64" => check_run::<f64>(run, case),
                _ => check_run::<f32>(run, case),
            };
            assert_eq!(
                worst, 0.0,
                "{case} with {} in {}: relative difference {worst:e}",
                run["optimizer"], run["dtype"]
            );
            checked += 1;
        }
    }
    assert_eq!(checked, 2 * 2 * 6);
}

#[test]
fn torch_foreach_lerp_ema_is_close_to_but_not_get_ema_avg_fn() {
    // Documented, not matched: get_ema_multi_avg_fn's lerp (a fused multiply-add,
    // another grouping) rounds differently. Measured on this fixture, element-wise
    // relative: at most 2.3e-13 in f64 and 1.7e-4 in f32 (large only for averages
    // passing near zero, where a last-bit difference is a large relative one).
    let f = fixture();
    for run in f["runs"].as_array().unwrap() {
        let (worst, bound) = match run["dtype"].as_str().unwrap() {
            "f64" => (check_run::<f64>(run, "lerp_ema(decay=0.9)"), 1e-11),
            _ => (check_run::<f32>(run, "lerp_ema(decay=0.9)"), 1e-3),
        };
        eprintln!(
            "{} {}: lerp vs get_ema_avg_fn {worst:e}",
            run["optimizer"], run["dtype"]
        );
        assert!(worst > 0.0 && worst < bound, "{} {worst:e}", run["dtype"]);
    }
}
