//! Adafactor against torch.optim.Adafactor 2.15 (CPU): parameters after every step and
//! the state buffers every tenth step, from `tests/fixtures/adafactor.json`, made by
//! `tools/adafactor_fixtures.py`. The gradients torch used are recorded in the
//! fixture and fed as they are, so differences come from the optimizer alone.
//!
//! Tolerances. `f64`: 1e-9 relative (measured: 3.5e-14 at worst over 18 cases, printed
//! with `--nocapture`); torch sums its norms and means in its own vectorized order, gradus in
//! row-major order, so the last bits differ now and then. `f32`: 5e-5 relative, with an
//! absolute floor of 1e-6 (measured: 2.9e-5 at worst over 9 cases, the 4×5 problem after
//! 40 steps; most cases below 3e-6): torch accumulates the norms in `float32`, gradus in `f64`,
//! and Adafactor's relative step divides by those norms every step.

use gradus::optim::{self, Param};
use gradus::Float;
use serde_json::Value;

fn nums(v: &Value) -> Vec<f64> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|x| x.as_str().unwrap().parse::<f64>().unwrap())
        .collect()
}

/// Relative difference, absolute below `floor`.
fn rel(a: f64, b: f64, floor: f64) -> f64 {
    (a - b).abs() / b.abs().max(floor)
}

fn replay<T: Float>(case: &Value, floor: f64) -> f64 {
    let spec = case["spec"].as_str().unwrap();
    let tensors = case["tensors"].as_array().unwrap();
    let names: Vec<&str> = tensors
        .iter()
        .map(|t| t["name"].as_str().unwrap())
        .collect();
    let shapes: Vec<Vec<usize>> = tensors
        .iter()
        .map(|t| {
            t["shape"]
                .as_array()
                .unwrap()
                .iter()
                .map(|d| d.as_u64().unwrap() as usize)
                .collect()
        })
        .collect();
    let mut values: Vec<Vec<T>> = case["start"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| nums(t).into_iter().map(T::of).collect())
        .collect();
    let mut opt = optim::build::<T>(spec).unwrap();
    let mut worst = 0.0f64;
    for (k, step) in case["steps"].as_array().unwrap().iter().enumerate() {
        let grads: Vec<Vec<T>> = step["grads"]
            .as_array()
            .unwrap()
            .iter()
            .map(|g| nums(g).into_iter().map(T::of).collect())
            .collect();
        let mut params: Vec<Param<'_, T>> = values
            .iter_mut()
            .zip(&grads)
            .zip(&names)
            .zip(&shapes)
            .map(|(((v, g), n), s)| Param::with_shape(n, v, g, s))
            .collect();
        opt.step(&mut params).unwrap();
        for (i, want) in step["params"].as_array().unwrap().iter().enumerate() {
            for (got, want) in values[i].iter().zip(nums(want)) {
                worst = worst.max(rel(got.f64(), want, floor));
            }
        }
        if let Some(states) = step.get("state") {
            let state = opt.state();
            for (i, s) in states.as_array().unwrap().iter().enumerate() {
                for (slot, want) in s.as_object().unwrap() {
                    let got = state.slot(names[i], slot).unwrap();
                    let want = nums(want);
                    assert_eq!(got.len(), want.len(), "{spec} {slot}");
                    for (g, w) in got.iter().zip(&want) {
                        let e = rel(g.f64(), *w, floor * floor);
                        assert!(e < 1e-3, "{spec} step {k} {}.{slot}: {g} vs {w}", names[i]);
                        worst = worst.max(e);
                    }
                }
            }
        }
    }
    worst
}

#[test]
fn adafactor_matches_torch() {
    let data: Value = serde_json::from_str(include_str!("fixtures/adafactor.json")).unwrap();
    let cases = data["cases"].as_array().unwrap();
    let (mut worst64, mut worst32, mut n) = (0.0f64, 0.0f64, 0);
    for case in cases {
        let spec = case["spec"].as_str().unwrap();
        match case["dtype"].as_str().unwrap() {
            "f64" => {
                let e = replay::<f64>(case, 1e-12);
                assert!(e <= 1e-9, "{spec} (f64): {e:e}");
                worst64 = worst64.max(e);
            }
            _ => {
                let e = replay::<f32>(case, 1e-6);
                assert!(e <= 5e-5, "{spec} (f32): {e:e}");
                worst32 = worst32.max(e);
            }
        }
        n += 1;
    }
    assert!(n >= 27, "{n} cases");
    println!("adafactor vs torch: worst relative error f64 {worst64:e}, f32 {worst32:e}");
}
