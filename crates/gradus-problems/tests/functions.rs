//! Every analytic function's gradient and Hessian against central finite differences
//! at random points, and zero gradients at the known minima.

use gradus_problems::{build, Objective, ProblemOptions};
use proptest::prelude::*;

/// Every analytic problem with the dimensions tested and the box points are drawn from.
const FUNCTIONS: &[(&str, Option<usize>, f64)] = &[
    ("rosenbrock", None, 3.0),
    ("rosenbrock", Some(3), 3.0),
    ("rosenbrock", Some(6), 3.0),
    ("sphere", None, 10.0),
    ("sphere", Some(5), 10.0),
    ("rastrigin", None, 5.12),
    ("rastrigin", Some(4), 5.12),
    ("beale", None, 4.5),
    ("booth", None, 10.0),
    ("himmelblau", None, 5.0),
    ("quadratic", None, 10.0),
    ("bowl", None, 10.0),
    ("parabola", None, 10.0),
    ("saddle", None, 10.0),
    ("cosh", None, 10.0),
    ("xcos", None, 2.0),
    ("tanh", None, 5.0),
];

fn function(name: &str, dim: Option<usize>) -> Box<dyn Objective<f64>> {
    let opts = ProblemOptions {
        dim,
        ..ProblemOptions::default()
    };
    build::<f64>(name, &opts).unwrap()
}

/// Central difference of `f` along coordinate `i` with step h = 1e-5·max(1, |xᵢ|).
fn central(f: &dyn Fn(&[f64]) -> f64, x: &[f64], i: usize) -> f64 {
    let h = 1e-5 * x[i].abs().max(1.0);
    let mut p = x.to_vec();
    p[i] = x[i] + h;
    let fp = f(&p);
    p[i] = x[i] - h;
    let fm = f(&p);
    (fp - fm) / (2.0 * h)
}

/// Checks the gradient and the Hessian of `obj` at `x`; returns a description of the
/// first mismatch.
fn check_derivatives(name: &str, obj: &dyn Objective<f64>, x: &[f64]) -> Result<(), String> {
    let n = obj.dim();
    let mut g = vec![0.0; n];
    let f = obj.gradient(x, &mut g);
    let fv = obj.value(x);
    if (f - fv).abs() > 1e-12 * (1.0 + fv.abs()) {
        return Err(format!("{name}: gradient() returned {f}, value() {fv}"));
    }
    let value = |p: &[f64]| obj.value(p);
    for (i, &gi) in g.iter().enumerate() {
        let fd = central(&value, x, i);
        // Truncation O(h²·f‴) and rounding O(ε·|f|/h) both sit far below this.
        let tol = 1e-6 * (1.0 + gi.abs() + fv.abs());
        if (fd - gi).abs() > tol {
            return Err(format!(
                "{name} at {x:?}: ∂{i} analytic {gi} vs central {fd}"
            ));
        }
    }
    let hess = obj.as_hessian().ok_or(format!("{name} has no Hessian"))?;
    let mut h = vec![0.0; n * n];
    hess.hessian(x, &mut h);
    for j in 0..n {
        let gj = |p: &[f64]| {
            let mut gp = vec![0.0; n];
            obj.gradient(p, &mut gp);
            gp[j]
        };
        for i in 0..n {
            let fd = central(&gj, x, i);
            let tol = 1e-6 * (1.0 + h[j * n + i].abs() + g[j].abs() + fv.abs());
            if (fd - h[j * n + i]).abs() > tol {
                return Err(format!(
                    "{name} at {x:?}: H[{j}][{i}] analytic {} vs central {fd}",
                    h[j * n + i]
                ));
            }
            if h[j * n + i] != h[i * n + j] {
                return Err(format!("{name}: Hessian not symmetric at ({i}, {j})"));
            }
        }
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn gradients_and_hessians_match_finite_differences(
        which in 0..FUNCTIONS.len(),
        unit in prop::collection::vec(-1.0f64..1.0, 6),
    ) {
        let (name, dim, half_width) = FUNCTIONS[which];
        let obj = function(name, dim);
        let x: Vec<f64> = unit[..obj.dim()].iter().map(|u| u * half_width).collect();
        if let Err(msg) = check_derivatives(name, obj.as_ref(), &x) {
            prop_assert!(false, "{}", msg);
        }
    }
}

#[test]
fn every_function_is_checked_at_its_start() {
    for &(name, dim, _) in FUNCTIONS {
        let obj = function(name, dim);
        let x = obj.start();
        assert_eq!(x.len(), obj.dim(), "{name}");
        check_derivatives(name, obj.as_ref(), &x).unwrap();
    }
}

#[test]
fn known_minima_have_zero_gradient_and_the_stated_value() {
    for &(name, dim, _) in FUNCTIONS {
        let obj = function(name, dim);
        let Some((points, min)) = obj.minimum() else {
            assert!(
                ["saddle", "tanh"].contains(&name),
                "{name} should state its minimum"
            );
            continue;
        };
        for p in points {
            let mut g = vec![0.0; obj.dim()];
            let f = obj.gradient(&p, &mut g);
            assert!((f - min).abs() < 1e-12, "{name} at {p:?}: {f} vs {min}");
            let norm = g.iter().map(|v| v * v).sum::<f64>().sqrt();
            assert!(norm < 1e-9, "{name} at {p:?}: gradient {g:?}");
        }
    }
}

#[test]
fn tutorial_facts() {
    // Second tutorial: tanh′(4) = 1 − tanh²(4) ≈ 0.0013.
    let t = function("tanh", None);
    let mut g = [0.0];
    t.gradient(&[4.0], &mut g);
    assert!((g[0] - 0.001340950683025).abs() < 1e-12, "{}", g[0]);
    // xcos: the local minimum on [−1, 2] is also stationary.
    let f = function("xcos", None);
    let (x, v) = gradus_problems::functions::XCos::LOCAL_MINIMUM;
    assert!((f.gradient(&[x], &mut g) - v).abs() < 1e-12 && g[0].abs() < 1e-12);
    // Third tutorial: gradient descent on x² with lr 0.1 from 10 gives 8.00, 6.40, 5.12.
    let p = function("parabola", None);
    let mut x = p.start();
    for expected in [8.0, 6.4, 5.12] {
        p.gradient(&x, &mut g);
        x[0] -= 0.1 * g[0];
        assert!((x[0] - expected).abs() < 1e-12);
    }
}

#[test]
fn f32_agrees_with_f64() {
    for &(name, dim, _) in FUNCTIONS {
        let opts = ProblemOptions {
            dim,
            ..ProblemOptions::default()
        };
        let a = build::<f64>(name, &opts).unwrap();
        let b = build::<f32>(name, &opts).unwrap();
        let x64 = a.start();
        let x32: Vec<f32> = x64.iter().map(|&v| v as f32).collect();
        let (fa, fb) = (a.value(&x64), b.value(&x32) as f64);
        assert!(
            (fa - fb).abs() <= 1e-5 * (1.0 + fa.abs()),
            "{name}: {fa} vs {fb}"
        );
    }
}
