//! SparseAdam against torch.optim.SparseAdam 2.15 (CPU): the parameters after every
//! step, from `tests/fixtures/sparse_adam.json`, made by `tools/adafactor_fixtures.py`.
//! Each step's gradient is the recorded list of rows (some repeated, which torch's
//! coalesce sums; some steps empty) and their values, fed to
//! [`SparseAdam::step_sparse`].
//!
//! Tolerances: `f64` 1e-9 relative (measured: 0, bit for bit, printed with
//! `--nocapture`); `f32` 1e-5 relative with an absolute floor of 1e-6 (measured
//! 1.9e-6: a few ulps that grow over 20 steps; where torch rounds the scalar step size
//! and its sparse additions differently in `float32` is not pinned down).

use gradus::optim::{SparseAdam, SparseAdamConfig};
use gradus::Float;
use serde_json::Value;

fn nums(v: &Value) -> Vec<f64> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|x| x.as_str().unwrap().parse::<f64>().unwrap())
        .collect()
}

fn replay<T: Float>(case: &Value, floor: f64) -> f64 {
    let spec = gradus::spec::parse(case["spec"].as_str().unwrap()).unwrap();
    let shape: Vec<usize> = case["shape"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d.as_u64().unwrap() as usize)
        .collect();
    let mut opt = SparseAdam::<T>::new(SparseAdamConfig::from_call(&spec).unwrap()).unwrap();
    let mut value: Vec<T> = nums(&case["start"]).into_iter().map(T::of).collect();
    let mut worst = 0.0f64;
    for step in case["steps"].as_array().unwrap() {
        let rows: Vec<usize> = step["rows"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| r.as_u64().unwrap() as usize)
            .collect();
        let grads: Vec<T> = nums(&step["row_grads"]).into_iter().map(T::of).collect();
        opt.step_sparse("emb", &mut value, &shape, &rows, &grads)
            .unwrap();
        for (got, want) in value.iter().zip(nums(&step["params"])) {
            worst = worst.max((got.f64() - want).abs() / want.abs().max(floor));
        }
    }
    worst
}

#[test]
fn sparse_adam_matches_torch() {
    let data: Value = serde_json::from_str(include_str!("fixtures/sparse_adam.json")).unwrap();
    let cases = data["cases"].as_array().unwrap();
    assert_eq!(cases.len(), 10);
    let (mut w64, mut w32) = (0.0f64, 0.0f64);
    for case in cases {
        let spec = case["spec"].as_str().unwrap();
        if case["dtype"] == "f64" {
            let e = replay::<f64>(case, 1e-12);
            assert!(e <= 1e-9, "{spec} (f64): {e:e}");
            w64 = w64.max(e);
        } else {
            let e = replay::<f32>(case, 1e-6);
            assert!(e <= 1e-5, "{spec} (f32): {e:e}");
            w32 = w32.max(e);
        }
    }
    println!("sparse_adam vs torch: worst relative error f64 {w64:e}, f32 {w32:e}");
}
