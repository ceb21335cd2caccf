//! The numbers the NumPy binding must reproduce bit for bit: every optimizer (and a
//! few non-default configurations) run by the Rust library on two named tensors, in
//! `f32` and `f64`, from committed starting values with the gradient
//! `g = p·p·p·2 − 0.5` (the same IEEE operations in NumPy). Written to
//! `tests/fixtures/rust_steps.json`, which `tests/test_numpy.py` replays through
//! `gradus.Optimizer.step`. Set `GRADUS_UPDATE_FIXTURES=1` to rewrite the file after a
//! deliberate change to an optimizer; otherwise this test checks that it is current.

use gradus::optim::{self, Param};
use gradus::Float;
use serde_json::{json, Value};

const STEPS: usize = 12;

/// Configurations beyond each optimizer's defaults.
const VARIANTS: &[&str] = &[
    "sgd(lr=0.02, momentum=0.9, nesterov=true)",
    "sgd(lr=0.05, momentum=0.8, dampening=0.1, weight_decay=0.01)",
    "adam(lr=0.01, amsgrad=true, weight_decay=0.1)",
    "adamw(lr=0.02, betas=(0.8, 0.95))",
    "rmsprop(lr=0.01, centered=true, momentum=0.5)",
    "nadam(lr=0.01, decoupled_weight_decay=true, weight_decay=0.1)",
    "radam(lr=0.01, weight_decay=0.1)",
    "adagrad(lr=0.1, lr_decay=0.01, initial_accumulator_value=0.1)",
    "adadelta(lr=0.5, rho=0.8, weight_decay=0.1)",
    "adamax(lr=0.02)",
    "lion(lr=0.01, weight_decay=0.1)",
];

/// Optimizers whose defaults do not suit this test's gradient, with the spec used
/// instead: `schedule_free_sgd`'s default lr=1.0 overshoots g = 2p³ − 0.5 until the
/// gradient overflows.
const INSTEAD_OF_DEFAULTS: &[(&str, &str)] = &[("schedule_free_sgd", "schedule_free_sgd(lr=0.1)")];

/// Starting values: dyadic rationals, exact in both dtypes and in JSON.
fn start(n: usize, offset: usize) -> Vec<f64> {
    (0..n)
        .map(|i| ((i * 37 + offset * 11) % 64) as f64 / 32.0 - 1.0)
        .collect()
}

fn run<T: Float>(spec: &str) -> Vec<Vec<Vec<f64>>> {
    let mut opt = optim::build::<T>(spec).unwrap();
    let mut a: Vec<T> = start(5, 0).into_iter().map(T::of).collect();
    let mut b: Vec<T> = start(6, 1).into_iter().map(T::of).collect();
    let grad = |p: &[T]| -> Vec<T> {
        p.iter()
            .map(|&x| x * x * x * T::of(2.0) - T::of(0.5))
            .collect()
    };
    let mut out = Vec::new();
    for _ in 0..STEPS {
        let (ga, gb) = (grad(&a), grad(&b));
        // The shapes the Python test gives its arrays ("shapes" in the fixture).
        opt.step(&mut [
            Param::new("a", &mut a, &ga),
            Param::with_shape("b", &mut b, &gb, &[2, 3]),
        ])
        .unwrap_or_else(|e| panic!("{spec}: {e}"));
        out.push(vec![
            a.iter().map(|x| x.f64()).collect(),
            b.iter().map(|x| x.f64()).collect(),
        ]);
    }
    out
}

fn fixture() -> Value {
    let mut specs: Vec<String> = gradus::catalog::optimizers()
        .iter()
        // The kinds the bindings step from gradients alone (closure optimizers re-evaluate the loss).
        .filter(|a| matches!(a.kind, "elementwise" | "tensor"))
        .map(|a| {
            INSTEAD_OF_DEFAULTS
                .iter()
                .find(|(name, _)| *name == a.name)
                .map_or(a.name.to_string(), |(_, spec)| spec.to_string())
        })
        .collect();
    specs.extend(VARIANTS.iter().map(|s| s.to_string()));
    let cases: Vec<Value> = specs
        .iter()
        .map(|s| json!({"spec": s, "float64": run::<f64>(s), "float32": run::<f32>(s)}))
        .collect();
    json!({
        "steps": STEPS,
        "start": {"a": start(5, 0), "b": start(6, 1)},
        "shapes": {"a": [5], "b": [2, 3]},
        "cases": cases,
    })
}

#[test]
fn fixture_is_current() {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/rust_steps.json"
    );
    let want = fixture();
    if std::env::var_os("GRADUS_UPDATE_FIXTURES").is_some() {
        std::fs::write(path, serde_json::to_string(&want).unwrap() + "\n").unwrap();
    }
    let got: Value = serde_json::from_str(
        &std::fs::read_to_string(path).expect("fixture missing: run with GRADUS_UPDATE_FIXTURES=1"),
    )
    .unwrap();
    assert_eq!(
        got, want,
        "tests/fixtures/rust_steps.json is stale: rerun with GRADUS_UPDATE_FIXTURES=1"
    );
}
