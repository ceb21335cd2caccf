//! `GET /api/catalog`: the problems the playground can draw and run, and every optimizer
//! and schedule with its hyperparameters.

use crate::history::num;
use gradus_problems::{Objective, ProblemOptions};
use serde_json::{json, Value};

/// The box the page draws each analytic problem in, `[xmin, xmax, ymin, ymax]` (1-D:
/// `[xmin, xmax]`): the customary window of each test function, and for the tutorials'
/// problems one that holds their start and minimum. Problems not listed get a box
/// around their start and minimum.
const DOMAINS: &[(&str, &[f64])] = &[
    ("rosenbrock", &[-2.0, 2.0, -1.0, 3.0]),
    ("sphere", &[-3.0, 3.0, -3.0, 3.0]),
    ("beale", &[-4.5, 4.5, -4.5, 4.5]),
    ("booth", &[-10.0, 10.0, -10.0, 10.0]),
    ("himmelblau", &[-5.0, 5.0, -5.0, 5.0]),
    ("rastrigin", &[-5.12, 5.12, -5.12, 5.12]),
    ("quadratic", &[-3.0, 3.0, -11.0, 11.0]),
    ("bowl", &[-6.0, 6.0, -6.0, 6.0]),
    ("saddle", &[-2.0, 2.0, -2.0, 2.0]),
    ("parabola", &[-15.0, 15.0]),
    ("cosh", &[-12.0, 12.0]),
    ("xcos", &[-1.0, 2.0]),
    ("tanh", &[-5.0, 5.0]),
];

/// A box around the start and the minima, padded.
fn domain_around(start: &[f64], minima: &[Vec<f64>]) -> Vec<f64> {
    let mut out = Vec::new();
    for (d, &s) in start.iter().take(2).enumerate() {
        let vals = std::iter::once(s).chain(minima.iter().filter_map(|m| m.get(d).copied()));
        let (lo, hi) = vals.fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), v| {
            (lo.min(v), hi.max(v))
        });
        let pad = 0.5 * (hi - lo).max(1.0);
        out.push(lo - pad);
        out.push(hi + pad);
    }
    out
}

fn problem_entry(name: &str, summary: &str) -> Option<Value> {
    let p: Box<dyn Objective<f64>> =
        gradus_problems::build(name, &ProblemOptions::default()).ok()?;
    let dim = p.dim();
    let start = p.start();
    let data = p.as_data().is_some();
    let minimum = p.minimum();
    let minima: Vec<Vec<f64>> = minimum.as_ref().map(|m| m.0.clone()).unwrap_or_default();
    let domain = if dim <= 2 {
        DOMAINS
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(_, d)| d.to_vec())
            .unwrap_or_else(|| domain_around(&start, &minima))
    } else {
        Vec::new()
    };
    let printable = dim <= crate::runner::MAX_PRINTED_PARAMS;
    Some(json!({
        "name": name,
        "summary": summary,
        "dim": dim,
        "kind": if data { "data" } else { "function" },
        // n-dimensional functions take `dim`; the page draws their 2-D case.
        "takes_dim": matches!(name, "rosenbrock" | "sphere" | "rastrigin"),
        "takes_hidden": name == "digits",
        "hessian": p.as_hessian().is_some(),
        "classifier": name.starts_with("digits"),
        "domain": domain,
        "start": if printable { Value::Array(start.iter().map(|&v| num(v)).collect()) } else { Value::Null },
        "minimum": minimum.map(|(xs, v)| json!({
            "points": if printable {
                Value::Array(xs.iter().map(|x| Value::Array(x.iter().map(|&v| num(v)).collect())).collect())
            } else {
                Value::Array(Vec::new())
            },
            "value": num(v),
        })),
    }))
}

/// The whole catalog.
pub fn catalog() -> Value {
    let problems: Vec<Value> = gradus_problems::PROBLEMS
        .iter()
        // linreg needs a file, which the server does not read.
        .filter(|(n, _)| *n != "linreg")
        .filter_map(|(n, s)| problem_entry(n, s))
        .collect();
    json!({
        "problems": problems,
        "optimizers": gradus::catalog::optimizers(),
        "schedules": gradus::catalog::schedules(),
    })
}
