//! The analytic problems of `tools/frontier_fixtures_sf.py` and the fixture format,
//! shared by the tests that replay reference optimizers (`schedule_free_ref.rs`,
//! `prodigy_ref.rs`). Each gradient is the script's formula in its order of IEEE
//! operations, so differences come from the optimizer alone.

use gradus::optim::{Optimizer, Param};
use serde_json::Value;

fn bowl(x: &[f64]) -> Vec<f64> {
    let (a0, a1, a2, b0, b1) = (x[0], x[1], x[2], x[3], x[4]);
    vec![
        2.0 * a0 + 0.5 * b0,
        20.0 * a1,
        6.0 * (a2 - 1.0),
        0.5 * a0 + 8.0 * b0,
        b1 + 2.0,
    ]
}

fn rosenbrock(x: &[f64]) -> Vec<f64> {
    let (x0, x1) = (x[0], x[1]);
    let a = x1 - x0 * x0;
    let b = 1.0 - x0;
    vec![0.0 - 400.0 * x0 * a - 2.0 * b, 0.0 + 200.0 * a]
}

fn quartic(x: &[f64]) -> Vec<f64> {
    const C: [f64; 8] = [0.5, -1.0, 2.0, 0.0, 1.5, -0.5, 1.0, -2.0];
    const W: [f64; 8] = [1.0, 0.5, 2.0, 0.25, 1.0, 3.0, 0.5, 1.0];
    x.iter()
        .zip(C.iter().zip(&W))
        .map(|(&xi, (&ci, &wi))| {
            let d = xi - ci;
            4.0 * wi * d * d * d + 2.0 * d
        })
        .collect()
}

/// One fixture case: its spec, its tensors' start and shapes, and the problem.
pub struct Case<'a> {
    pub json: &'a Value,
    pub spec: &'a str,
    pub tensors: Vec<Vec<f64>>,
    pub shapes: Vec<Vec<usize>>,
    gradient: fn(&[f64]) -> Vec<f64>,
}

fn tensor_list(v: &Value) -> Vec<Vec<f64>> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|t| {
            t.as_array()
                .unwrap()
                .iter()
                .map(|x| x.as_f64().unwrap())
                .collect()
        })
        .collect()
}

impl<'a> Case<'a> {
    /// Reads a case of a fixture file.
    pub fn read(json: &'a Value) -> Self {
        let gradient = match json["problem"].as_str().unwrap() {
            "bowl" | "bowl_zero" => bowl,
            "rosenbrock" => rosenbrock,
            "quartic" => quartic,
            other => panic!("unknown problem {other}"),
        };
        let tensors = tensor_list(&json["start"]);
        let shapes = match json["shapes"].as_array() {
            Some(s) => s
                .iter()
                .map(|d| {
                    d.as_array()
                        .unwrap()
                        .iter()
                        .map(|n| n.as_u64().unwrap() as usize)
                        .collect()
                })
                .collect(),
            None => tensors.iter().map(|t| vec![t.len()]).collect(),
        };
        Case {
            json,
            spec: json["spec"].as_str().unwrap(),
            tensors,
            shapes,
            gradient,
        }
    }

    /// Runs the case's spec in `f32` for as many steps as recorded (gradients at the
    /// `f32` values, computed in `f64` and rounded) and returns the final tensors.
    pub fn final_f32(&self) -> Vec<Vec<f64>> {
        let mut opt = gradus::optim::build::<f32>(self.spec).unwrap();
        let mut x: Vec<Vec<f32>> = self
            .tensors
            .iter()
            .map(|t| t.iter().map(|&v| v as f32).collect())
            .collect();
        let names = self.names();
        for _ in self.steps() {
            let flat: Vec<f64> = x.iter().flatten().map(|&v| v as f64).collect();
            let g: Vec<f32> = (self.gradient)(&flat).iter().map(|&v| v as f32).collect();
            let mut k = 0;
            let mut params = Vec::new();
            for ((t, n), s) in x.iter_mut().zip(&names).zip(&self.shapes) {
                let len = t.len();
                params.push(Param::with_shape(n, t, &g[k..k + len], s));
                k += len;
            }
            opt.step(&mut params).unwrap();
        }
        x.iter()
            .map(|t| t.iter().map(|&v| v as f64).collect())
            .collect()
    }

    /// The recorded steps.
    pub fn steps(&self) -> &'a [Value] {
        self.json["steps"].as_array().unwrap()
    }

    /// The tensors' names (`t0`, `t1`, ...).
    pub fn names(&self) -> Vec<String> {
        (0..self.tensors.len()).map(|i| format!("t{i}")).collect()
    }

    /// One step of `opt` with the problem's gradient at the current tensors.
    pub fn step(&mut self, opt: &mut dyn Optimizer<f64>) {
        let flat: Vec<f64> = self.tensors.iter().flatten().copied().collect();
        let g = (self.gradient)(&flat);
        let names = self.names();
        let mut k = 0;
        let mut grads = Vec::new();
        for t in &self.tensors {
            grads.push(g[k..k + t.len()].to_vec());
            k += t.len();
        }
        let mut params: Vec<Param<'_, f64>> = self
            .tensors
            .iter_mut()
            .zip(&grads)
            .zip(&names)
            .zip(&self.shapes)
            .map(|(((v, g), n), s)| Param::with_shape(n, v, g, s))
            .collect();
        opt.step(&mut params).unwrap();
    }
}

/// The recorded tensors of one step under `key`.
pub fn recorded(step: &Value, key: &str) -> Vec<Vec<f64>> {
    tensor_list(&step[key])
}

/// Relative difference, absolute for values near 0.
pub fn rel(a: f64, b: f64) -> f64 {
    (a - b).abs() / b.abs().max(1e-3)
}

/// The largest [`rel`] between two lists of tensors (which must have the same shape).
pub fn worst(got: &[Vec<f64>], want: &[Vec<f64>]) -> f64 {
    assert_eq!(got.len(), want.len());
    got.iter()
        .zip(want)
        .flat_map(|(g, w)| {
            assert_eq!(g.len(), w.len());
            g.iter().zip(w).map(|(a, b)| rel(*a, *b))
        })
        .fold(0.0, f64::max)
}
