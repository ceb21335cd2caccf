//! Every optimizer against torch.optim, step by step.
//!
//! The fixtures in `tests/fixtures/optimizers_<name>.json` are trajectories recorded
//! with torch.optim (CPU, default single-tensor path) by `tools/torch_fixtures.py`:
//! for each optimizer × flag set × test problem × dtype, the parameters after each of
//! 150 steps. Each case is replayed here through `gradus::optim::build`, feeding the
//! gradient of the problem at gradus's own current parameters, and every step is
//! compared with torch's.
//!
//! The gradients are computed by [`grad`], which evaluates the same expressions, in the
//! same order and in the same dtype, as the script's `grad_*` functions (they are also
//! written out under `gradient_formulas` in each JSON file). So while the parameters
//! agree bit for bit the gradients do too, and any difference comes from the optimizer.
//!
//! For ASGD and Rprop the fixtures also hold torch's state buffers after every step
//! (ASGD's averaged parameters `ax`, Rprop's `step_size`); they are read back by name
//! with [`gradus::optim::OptimizerState::slot`] and compared the same way.
//!
//! Run `cargo test -p gradus --test torch_fixtures -- --nocapture --test-threads=1` to
//! see the largest error of each optimizer and dtype.

use gradus::optim::{self, Param};
use gradus::{Error, Float};
use serde_json::Value;

/// Optimizers being written in parallel: while `build` refuses their name with
/// `Error::UnknownName`, their fixtures are counted and reported as not yet
/// implemented instead of failing. Any other build error fails, as does any name not
/// listed here. Remove once merged.
const PENDING: &[&str] = &[];

/// The fixture files, one per optimizer.
const FIXTURES: &[(&str, &str)] = &[
    ("sgd", include_str!("fixtures/optimizers_sgd.json")),
    ("adam", include_str!("fixtures/optimizers_adam.json")),
    ("adamw", include_str!("fixtures/optimizers_adamw.json")),
    ("nadam", include_str!("fixtures/optimizers_nadam.json")),
    ("radam", include_str!("fixtures/optimizers_radam.json")),
    ("adamax", include_str!("fixtures/optimizers_adamax.json")),
    ("adagrad", include_str!("fixtures/optimizers_adagrad.json")),
    ("rmsprop", include_str!("fixtures/optimizers_rmsprop.json")),
    (
        "adadelta",
        include_str!("fixtures/optimizers_adadelta.json"),
    ),
    ("rprop", include_str!("fixtures/optimizers_rprop.json")),
    ("asgd", include_str!("fixtures/optimizers_asgd.json")),
];

/// Optimizers with no torch counterpart, so no fixture: `lion` is not in torch.optim,
/// `newton` needs a Hessian, and `partition` only routes tensors to its members (its
/// test checks it steps exactly as they do alone).
const NOT_IN_TORCH: &[&str] = &["lion", "newton", "partition"];

/// Optimizers whose torch fixtures are replayed by their own test (closure optimizers
/// re-evaluate the loss; per-tensor ones need matrices): `lbfgs` in
/// `tests/lbfgs_torch.rs`, `muon` in `tests/muon_torch.rs`, `soap` and `shampoo` (their
/// reference is pytorch-optimizer) in `tests/matrix_ref.rs`.
const REPLAYED_ELSEWHERE: &[&str] = &["lbfgs", "muon", "soap", "shampoo"];

/// How close a value must be to torch's.
///
/// A value `a` matches torch's `b` when `|a − b| ≤ rtol · max(|b|, floor)`: relative
/// error `rtol` for values of magnitude at least `floor`, and absolute error
/// `rtol · floor` below it. The floor keeps a coordinate that happens to pass close to
/// zero (the problems' minima have zero coordinates, and trajectories cross zero) from
/// turning a last-bit difference in its O(1) history into a large relative error; all
/// starts are between 0.5 and 10 in magnitude.
///
/// Why not bit for bit: torch's CPU kernels on AVX2/AVX-512 machines fuse the multiply
/// and add of `add(x, alpha=)`, `lerp` and `addcmul` into one rounding (an FMA), and
/// `torch.sqrt` on the CPU is not correctly rounded (one ulp off for about 1.5 % of
/// doubles and 18 % of floats). The first can be matched, the second cannot; either
/// leaves last-bit differences that a trajectory then carries along.
///
/// The script keeps only cases that are robust to such differences: torch run with and
/// without fused kernels (`ATEN_CPU_CAPABILITY=default`) must agree to a tenth of these
/// tolerances (each case's `fma_sensitivity`), so a case cannot fail on rounding alone.
#[derive(Debug, Clone, Copy)]
struct Tolerance {
    rtol: f64,
    floor: f64,
}

/// `f64`: 1e-9 relative, and 1e-15 absolute (a few ulps of 1.0) below 1e-6.
///
/// Measured with unfused gradus (torch 2.15, AVX2): sgd 2.3e-13, adam 9.8e-13, adamw
/// 1.2e-13; with FMAs where torch has them, sgd is bit-exact and adam/adamw ≤ 2.6e-16
/// (sqrt alone).
const F64_TOL: Tolerance = Tolerance {
    rtol: 1e-9,
    floor: 1e-6,
};

/// `f32`: 1e-4 relative, and 1e-7 absolute (about an ulp of 1.0) below 1e-3.
///
/// In float32 the same one-ulp differences are 2^29 times larger (6e-8 relative), and
/// torch's float32 sqrt is off by an ulp far more often, so after 150 steps of an
/// oscillating or curved trajectory the last 7 bits or so are noise. Measured (torch
/// 2.15, AVX2): sgd 8.2e-6, adamw 6.5e-6, adam 3.5e-7; torch against itself (fused
/// against unfused kernels) reaches 1e-5 on the kept cases. 1e-4 is a few times above
/// that, and far below what a wrong formula gives within a few steps.
const F32_TOL: Tolerance = Tolerance {
    rtol: 1e-4,
    floor: 1e-3,
};

impl Tolerance {
    /// The error of `got` against `want`, in units where 1 is the bound.
    fn error(self, got: f64, want: f64) -> f64 {
        (got - want).abs() / want.abs().max(self.floor)
    }
}

/// The gradient of test problem `family` for tensor `tensor` at `x`, evaluated in `T`.
///
/// Each arm mirrors, operation for operation and in the same order, the Python function
/// named in its comment in `tools/torch_fixtures.py`. Keep them in step.
fn grad<T: Float>(family: &str, tensor: &str, x: &[T]) -> Vec<T> {
    let k = T::of;
    match (family, tensor) {
        // grad_rosenbrock
        ("rosenbrock", "x") => {
            let n = x.len();
            (0..n)
                .map(|i| {
                    let first = (i + 1 < n).then(|| {
                        k(-400.0) * x[i] * (x[i + 1] - x[i] * x[i]) - k(2.0) * (k(1.0) - x[i])
                    });
                    let second = (i > 0).then(|| k(200.0) * (x[i] - x[i - 1] * x[i - 1]));
                    match (first, second) {
                        (Some(a), Some(b)) => a + b,
                        (Some(a), None) | (None, Some(a)) => a,
                        (None, None) => unreachable!("rosenbrock needs at least 2 dimensions"),
                    }
                })
                .collect()
        }
        // grad_beale
        ("beale", "x") => {
            let (a, b) = (x[0], x[1]);
            let y2 = b * b;
            let y3 = y2 * b;
            let t1 = k(1.5) - a + a * b;
            let t2 = k(2.25) - a + a * y2;
            let t3 = k(2.625) - a + a * y3;
            vec![
                k(2.0) * t1 * (b - k(1.0))
                    + k(2.0) * t2 * (y2 - k(1.0))
                    + k(2.0) * t3 * (y3 - k(1.0)),
                k(2.0) * t1 * a + k(4.0) * t2 * a * b + k(6.0) * t3 * a * y2,
            ]
        }
        // grad_booth
        ("booth", "x") => {
            let u = x[0] + k(2.0) * x[1] - k(7.0);
            let v = k(2.0) * x[0] + x[1] - k(5.0);
            vec![k(2.0) * u + k(4.0) * v, k(4.0) * u + k(2.0) * v]
        }
        // grad_himmelblau
        ("himmelblau", "x") => {
            let (a, b) = (x[0], x[1]);
            let u = a * a + b - k(11.0);
            let v = a + b * b - k(7.0);
            vec![k(4.0) * a * u + k(2.0) * v, k(2.0) * u + k(4.0) * b * v]
        }
        // grad_quadratic
        ("quadratic", "x") => vec![k(100.0) * x[0], k(2.0) * x[1]],
        // grad_parabola
        ("parabola", "x") => vec![k(2.0) * x[0]],
        // grad_separable_a (SEPARABLE_A_WEIGHTS)
        ("separable", "a") => {
            let c = [2.0, 20.0, 200.0];
            x.iter().zip(c).map(|(&v, c)| k(c) * (v - k(1.0))).collect()
        }
        // grad_separable_b
        ("separable", "b") => x.iter().map(|&v| k(4.0) * v * (v * v - k(1.0))).collect(),
        other => panic!("no gradient for problem/tensor {other:?}"),
    }
}

/// Reads a number stored as a string (exact: see the script's `exact`).
fn number(v: &Value) -> f64 {
    let s = v
        .as_str()
        .unwrap_or_else(|| panic!("expected a number string, got {v}"));
    s.parse()
        .unwrap_or_else(|e| panic!("bad number {s:?}: {e}"))
}

fn numbers(v: &Value) -> Vec<f64> {
    v.as_array()
        .expect("array of numbers")
        .iter()
        .map(number)
        .collect()
}

fn str_of<'a>(v: &'a Value, key: &str) -> &'a str {
    v[key]
        .as_str()
        .unwrap_or_else(|| panic!("missing string '{key}' in {}", v["id"]))
}

/// The worst error of a set of cases and where it was.
#[derive(Debug, Default)]
struct Worst {
    cases: usize,
    steps: usize,
    /// Steps whose every value equals torch's exactly.
    exact_steps: usize,
    max_err: f64,
    at: String,
}

/// One mismatch beyond tolerance, for the failure message.
fn mismatch(
    case: &Value,
    step: usize,
    name: &str,
    i: usize,
    got: f64,
    want: f64,
    err: f64,
) -> String {
    format!(
        "{} [{}]: step {step}, {name}[{i}] = {got:?}, torch {want:?} (relative error \
         {err:.3e}; torch with and without fused kernels differs by {} on this case)",
        str_of(case, "id"),
        str_of(case, "spec"),
        case["fma_sensitivity"],
    )
}

/// Replays one case in `T`. Returns the first step out of tolerance, if any.
fn replay<T: Float>(case: &Value, tol: Tolerance, worst: &mut Worst) -> Option<String> {
    let spec = str_of(case, "spec");
    let family = str_of(case, "gradient");
    // Under maximize=true the optimizer climbs the negated objective (so the trajectory
    // still descends the problem): its gradient is the formula's, negated.
    let negate = case["negate_gradient"].as_bool().expect("negate_gradient");
    let mut opt = optim::build::<T>(spec).unwrap_or_else(|e| panic!("{}: {e}", str_of(case, "id")));
    let tensors = case["tensors"].as_array().expect("tensors");
    let names: Vec<&str> = tensors.iter().map(|t| str_of(t, "name")).collect();
    let mut values: Vec<Vec<T>> = tensors
        .iter()
        .map(|t| numbers(&t["start"]).into_iter().map(T::of).collect())
        .collect();
    let expected: Vec<&Vec<Value>> = tensors
        .iter()
        .map(|t| t["steps"].as_array().expect("steps"))
        .collect();
    let steps = expected[0].len();
    assert!(steps >= 100, "{}: only {steps} steps", str_of(case, "id"));
    // torch's tensors after each step, one row per step.
    let rows: Vec<Vec<&Value>> = (0..steps)
        .map(|s| expected.iter().map(|e| &e[s]).collect())
        .collect();
    worst.cases += 1;
    for (step, row) in (1usize..).zip(&rows) {
        let grads: Vec<Vec<T>> = names
            .iter()
            .zip(&values)
            .map(|(n, x)| {
                let g = grad(family, n, x);
                if negate {
                    g.into_iter().map(|v| -v).collect()
                } else {
                    g
                }
            })
            .collect();
        let mut params: Vec<Param<'_, T>> = names
            .iter()
            .zip(values.iter_mut())
            .zip(&grads)
            .map(|((n, x), g)| Param::new(n, x.as_mut_slice(), g.as_slice()))
            .collect();
        // State is kept by name, not position: hand several tensors over in reverse order
        // on every other step.
        if step % 2 == 0 {
            params.reverse();
        }
        opt.step(&mut params)
            .unwrap_or_else(|e| panic!("{}: step {step}: {e}", str_of(case, "id")));
        drop(params);
        worst.steps += 1;
        let mut exact = true;
        // The recorded state buffers (if any) of this step, read back by name.
        let state = opt.state();
        let mut compared: Vec<(String, Vec<f64>, Vec<f64>)> = Vec::new();
        for ((name, got), want) in names.iter().zip(&values).zip(row) {
            compared.push((
                name.to_string(),
                got.iter().map(|v| v.f64()).collect(),
                numbers(want),
            ));
        }
        for (t, name) in tensors.iter().zip(&names) {
            let Some(recorded) = t.get("state").and_then(Value::as_object) else {
                continue;
            };
            for (key, steps) in recorded {
                let got = state.slot(name, key).unwrap_or_else(|| {
                    panic!("{}: no state buffer '{key}' for {name}", str_of(case, "id"))
                });
                compared.push((
                    format!("{name}.{key}"),
                    got.iter().map(|v| v.f64()).collect(),
                    numbers(&steps[step - 1]),
                ));
            }
        }
        for (name, got, want) in &compared {
            assert_eq!(
                want.len(),
                got.len(),
                "{}: tensor {name}",
                str_of(case, "id")
            );
            for (i, (&got, &want)) in got.iter().zip(want).enumerate() {
                exact &= got == want;
                let err = tol.error(got, want);
                // NaN counts as the worst error and fails.
                if err.is_nan() || err > worst.max_err {
                    worst.max_err = err;
                    worst.at = format!("{} step {step} {name}[{i}]", str_of(case, "id"));
                }
                if err.is_nan() || err > tol.rtol {
                    return Some(mismatch(case, step, name, i, got, want, err));
                }
            }
        }
        worst.exact_steps += usize::from(exact);
    }
    None
}

fn fixture(name: &str) -> Value {
    let (_, text) = FIXTURES
        .iter()
        .find(|(n, _)| *n == name)
        .unwrap_or_else(|| panic!("no fixture file for {name}"));
    let doc: Value =
        serde_json::from_str(text).unwrap_or_else(|e| panic!("optimizers_{name}.json: {e}"));
    assert_eq!(doc["optimizer"], name);
    doc
}

/// Runs every case of optimizer `name`; panics listing the cases out of tolerance.
fn check(name: &str) {
    let doc = fixture(name);
    let cases = doc["cases"].as_array().expect("cases");
    assert!(!cases.is_empty(), "no cases for {name}");
    let pending = PENDING.contains(&name);
    match optim::build::<f64>(&format!("{name}()")) {
        Err(Error::UnknownName { .. }) if pending => {
            println!(
                "{name:9} not yet implemented: {} cases skipped (PENDING)",
                cases.len()
            );
            return;
        }
        Err(e) => panic!("{name}: cannot build: {e}"),
        Ok(opt) => {
            assert_eq!(opt.name(), name);
            if pending {
                println!("{name:9} is built by gradus: remove it from PENDING");
            }
        }
    }
    let mut failures = vec![];
    for dtype in ["f64", "f32"] {
        let mut worst = Worst::default();
        for case in cases.iter().filter(|c| c["dtype"] == dtype) {
            let failure = match dtype {
                "f64" => replay::<f64>(case, F64_TOL, &mut worst),
                _ => replay::<f32>(case, F32_TOL, &mut worst),
            };
            failures.extend(failure);
        }
        println!(
            "{name:9} {dtype}: {:3} cases, {:5} steps, {:5} bit-exact, max relative error {:.3e}{}",
            worst.cases,
            worst.steps,
            worst.exact_steps,
            worst.max_err,
            if worst.max_err > 0.0 {
                format!(" at {}", worst.at)
            } else {
                String::new()
            },
        );
    }
    assert!(
        failures.is_empty(),
        "{name}: {} of {} cases differ from torch beyond tolerance (f64: {:?}, f32: {:?}):\n{}",
        failures.len(),
        cases.len(),
        F64_TOL,
        F32_TOL,
        failures.join("\n")
    );
}

#[test]
fn sgd() {
    check("sgd");
}

#[test]
fn adam() {
    check("adam");
}

#[test]
fn adamw() {
    check("adamw");
}

#[test]
fn nadam() {
    check("nadam");
}

#[test]
fn radam() {
    check("radam");
}

#[test]
fn adamax() {
    check("adamax");
}

#[test]
fn adagrad() {
    check("adagrad");
}

#[test]
fn rmsprop() {
    check("rmsprop");
}

#[test]
fn adadelta() {
    check("adadelta");
}

#[test]
fn rprop() {
    check("rprop");
}

#[test]
fn asgd() {
    check("asgd");
}

/// Every optimizer gradus lists has fixtures (unless torch lacks it), and every fixture
/// file is well formed: ids, specs and dtypes agree and every tensor has every step.
#[test]
fn fixtures_cover_every_optimizer() {
    for (name, _) in optim::names() {
        let name = &name;
        let has = FIXTURES.iter().any(|(n, _)| n == name);
        assert!(
            has || NOT_IN_TORCH.contains(name) || REPLAYED_ELSEWHERE.contains(name),
            "no torch fixtures for {name}"
        );
    }
    for name in PENDING {
        assert!(
            FIXTURES.iter().any(|(n, _)| n == name),
            "PENDING names unknown {name}"
        );
    }
    for (name, _) in FIXTURES {
        let doc = fixture(name);
        for case in doc["cases"].as_array().expect("cases") {
            let id = str_of(case, "id");
            assert!(matches!(str_of(case, "dtype"), "f32" | "f64"), "{id}");
            assert!(id.starts_with(&format!("{name}/")), "{id}");
            assert!(
                str_of(case, "spec").starts_with(&format!("{name}(")),
                "{id}"
            );
            for t in case["tensors"].as_array().expect("tensors") {
                let want = doc["steps"].as_u64().expect("steps") as usize;
                let steps = t["steps"].as_array().expect("steps");
                assert_eq!(steps.len(), want, "{id}");
                for (key, s) in t
                    .get("state")
                    .and_then(Value::as_object)
                    .into_iter()
                    .flatten()
                {
                    assert_eq!(s.as_array().map(Vec::len), Some(want), "{id}: {key}");
                }
            }
        }
    }
}
