//! L-BFGS against torch.optim.LBFGS 2.15 (float64, CPU): parameters, `func_evals` and
//! `n_iter` after each `step(closure)`, from `tests/fixtures/lbfgs.json`, made by
//! `tools/lbfgs_fixtures.py`. The closures evaluate the same formulas as the script,
//! one IEEE operation at a time in the same order, so differences come from the
//! optimizer alone.

use gradus::optim::{self, Closure, Lbfgs, Optimizer, Param};
use serde_json::Value;

fn rosenbrock(x: &[f64], g: &mut [f64]) -> f64 {
    let (a, b) = (x[0], x[1]);
    g[0] = -2.0 * (1.0 - a) - 400.0 * a * (b - a * a);
    g[1] = 200.0 * (b - a * a);
    (1.0 - a) * (1.0 - a) + 100.0 * ((b - a * a) * (b - a * a))
}

fn bowl(x: &[f64], g: &mut [f64]) -> f64 {
    let (a, b, c) = (x[0], x[1], x[2]);
    g[0] = 2.0 * a + 0.5 * b;
    g[1] = 0.5 * a + 20.0 * b;
    g[2] = 200.0 * c - 3.0;
    a * a + 0.5 * a * b + 10.0 * b * b + 100.0 * c * c - 3.0 * c
}

fn beale(x: &[f64], g: &mut [f64]) -> f64 {
    let (a, b) = (x[0], x[1]);
    let t1 = 1.5 - a + a * b;
    let t2 = 2.25 - a + a * b * b;
    let t3 = 2.625 - a + a * b * b * b;
    g[0] = 2.0 * t1 * (b - 1.0) + 2.0 * t2 * (b * b - 1.0) + 2.0 * t3 * (b * b * b - 1.0);
    g[1] = 2.0 * t1 * a + 2.0 * t2 * (2.0 * a * b) + 2.0 * t3 * (3.0 * a * b * b);
    t1 * t1 + t2 * t2 + t3 * t3
}

fn hill(x: &[f64], g: &mut [f64]) -> f64 {
    let (a, b) = (x[0], x[1]);
    g[0] = -2.0 * (a - 1.0);
    g[1] = -8.0 * (b + 0.5);
    -(a - 1.0) * (a - 1.0) - 4.0 * ((b + 0.5) * (b + 0.5))
}

/// Relative difference, with absolute for values near 0.
fn rel(a: f64, b: f64) -> f64 {
    (a - b).abs() / b.abs().max(1e-3)
}

#[test]
fn lbfgs_matches_torch() {
    let text = include_str!("fixtures/lbfgs.json");
    let data: Value = serde_json::from_str(text).unwrap();
    let cases = data["cases"].as_array().unwrap();
    assert!(cases.len() >= 12);
    let mut worst = 0.0f64;
    for case in cases {
        let spec = case["spec"].as_str().unwrap();
        let f: fn(&[f64], &mut [f64]) -> f64 = match case["problem"].as_str().unwrap() {
            "rosenbrock" => rosenbrock,
            "bowl" => bowl,
            "beale" => beale,
            "hill" => hill,
            other => panic!("unknown problem {other}"),
        };
        let mut tensors: Vec<Vec<f64>> = case["start"]
            .as_array()
            .unwrap()
            .iter()
            .map(|t| {
                t.as_array()
                    .unwrap()
                    .iter()
                    .map(|v| v.as_f64().unwrap())
                    .collect()
            })
            .collect();
        let names: Vec<String> = (0..tensors.len()).map(|i| format!("t{i}")).collect();
        let mut opt = Lbfgs::<f64>::new(
            optim::LbfgsConfig::from_call(&gradus::spec::parse(spec).unwrap()).unwrap(),
        )
        .unwrap();
        let mut closure = optim::FnClosure::new(f);
        for (k, want) in case["steps"].as_array().unwrap().iter().enumerate() {
            let zeros: Vec<Vec<f64>> = tensors.iter().map(|t| vec![0.0; t.len()]).collect();
            let mut params: Vec<Param<'_, f64>> = tensors
                .iter_mut()
                .zip(&zeros)
                .zip(&names)
                .map(|((t, z), n)| Param::new(n, t, z))
                .collect();
            opt.step_with(&mut params, &mut closure as &mut dyn Closure<f64>)
                .unwrap();
            let got: Vec<f64> = tensors.iter().flatten().copied().collect();
            let exp: Vec<f64> = want["params"]
                .as_array()
                .unwrap()
                .iter()
                .flat_map(|t| t.as_array().unwrap().iter().map(|v| v.as_f64().unwrap()))
                .collect();
            for (g, e) in got.iter().zip(&exp) {
                let r = rel(*g, *e);
                worst = worst.max(r);
                assert!(r <= 1e-9, "{spec} step {k}: {got:?} vs torch {exp:?}");
            }
            assert_eq!(
                opt.func_evals(),
                want["func_evals"].as_u64().unwrap(),
                "{spec} step {k}"
            );
            assert_eq!(
                opt.iterations(),
                want["n_iter"].as_u64().unwrap(),
                "{spec} step {k}"
            );
        }
    }
    eprintln!("largest relative difference from torch: {worst:e}");
}

#[test]
fn a_plain_step_is_refused_with_a_pointer_to_step_with() {
    let mut opt = optim::build::<f64>("lbfgs").unwrap();
    let mut x = vec![1.0];
    let err = opt
        .step(&mut [Param::new("x", &mut x, &[1.0])])
        .unwrap_err();
    assert!(err.to_string().contains("step_with"), "{err}");
}
