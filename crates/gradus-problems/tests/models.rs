//! The data models: shapes of the embedded data, gradients and Hessians against
//! finite differences, least squares, and the Boston runs of the first tutorial's
//! optimizers.

use gradus::optim::{self, Optimizer, Param};
use gradus_problems::{
    boston, build, digits, least_squares, BatchSampler, DataObjective, LinearRegression, Mlp,
    Objective, ProblemOptions, Sampling, SoftmaxRegression,
};

/// Central difference of `f` along coordinate `i` with step 1e-6.
fn central(f: &dyn Fn(&[f64]) -> f64, x: &[f64], i: usize) -> f64 {
    let h = 1e-6;
    let mut p = x.to_vec();
    p[i] = x[i] + h;
    let fp = f(&p);
    p[i] = x[i] - h;
    let fm = f(&p);
    (fp - fm) / (2.0 * h)
}

/// A reproducible "random" point near `start` (a fixed LCG, so no extra dependency).
fn perturbed(start: &[f64], scale: f64, seed: u64) -> Vec<f64> {
    let mut s = seed
        .wrapping_mul(6364136223846793005)
        .wrapping_add(1442695040888963407);
    start
        .iter()
        .map(|&v| {
            s = s
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            v + scale * ((s >> 11) as f64 / (1u64 << 53) as f64 - 0.5)
        })
        .collect()
}

/// Checks `batch_gradient` on `rows` against central differences of the batch loss.
fn check_batch_gradient(model: &dyn DataObjective<f64>, x: &[f64], rows: &[usize], tol: f64) {
    let n = x.len();
    let mut g = vec![0.0; n];
    model.batch_gradient(x, rows, &mut g);
    let loss = |p: &[f64]| {
        let mut scratch = vec![0.0; n];
        model.batch_gradient(p, rows, &mut scratch)
    };
    for (i, gi) in g.iter().enumerate() {
        let fd = central(&loss, x, i);
        assert!(
            (fd - gi).abs() <= tol * (1.0 + gi.abs()),
            "{}: ∂{i} analytic {gi} vs central {fd}",
            model.name(),
        );
    }
}

#[test]
fn embedded_data_have_the_documented_shapes() {
    let b = boston().unwrap();
    assert_eq!((b.rows, b.cols, b.target.as_str()), (506, 13, "MEDV"));
    assert_eq!(b.names[12], "LSTAT");
    // First row of the file: CRIM 0.00632 … LSTAT 4.98, MEDV 24.
    assert_eq!((b.x[0], b.x[12], b.y[0]), (0.00632, 4.98, 24.0));
    let d = digits().unwrap();
    assert_eq!((d.rows, d.cols), (1797, 64));
    assert!(d.x.iter().all(|&v| (0.0..=16.0).contains(&v)));
    let mut counts = [0usize; 10];
    d.y.iter().for_each(|&v| counts[v as usize] += 1);
    // digits.rst: about 180 samples per class.
    assert!(
        counts.iter().all(|&c| (170..=190).contains(&c)),
        "{counts:?}"
    );
}

#[test]
fn boston_is_standardized_before_an_80_20_split() {
    let m = LinearRegression::<f64>::boston(0.2, 0).unwrap();
    assert_eq!((m.split().train.len(), m.split().test.len()), (404, 102));
    let d = m.data();
    let mean = d.x.iter().sum::<f64>() / 506.0;
    let var = d.x.iter().map(|v| v * v).sum::<f64>() / 506.0 - mean * mean;
    assert!(mean.abs() < 1e-12 && (var - 1.0).abs() < 1e-12);
    // Loss at w = b = 0 is the mean of y² over the training rows, near 1.
    let l0 = m.value(&m.start());
    assert!((0.8..1.2).contains(&l0), "{l0}");
    // The seed decides the split, identically every time.
    let again = LinearRegression::<f64>::boston(0.2, 0).unwrap();
    assert_eq!(m.split(), again.split());
    let other = LinearRegression::<f64>::boston(0.2, 1).unwrap();
    assert_ne!(m.split(), other.split());
}

#[test]
fn least_squares_matches_the_correlation_closed_form() {
    // One standardized feature: w = r (the correlation), b = 0, MSE = 1 − r².
    let m = LinearRegression::<f64>::boston(0.2, 0).unwrap();
    let d = m.data();
    let r = d.x.iter().zip(&d.y).map(|(a, b)| a * b).sum::<f64>() / 506.0;
    let fit = m.full_ols();
    assert!((fit.weights[0] - r).abs() < 1e-12 && fit.intercept.abs() < 1e-12);
    assert!((fit.mse - (1.0 - r * r)).abs() < 1e-12);
    assert!((m.full_loss(&fit.params()) - fit.mse).abs() < 1e-12);
    // r for LSTAT vs MEDV is about −0.7377.
    assert!((r + 0.7377).abs() < 1e-3, "{r}");
    // The training optimum has zero training gradient.
    let mut g = vec![0.0; 2];
    let f = m.gradient(&m.ols_coefficients(), &mut g);
    assert!(g.iter().all(|v| v.abs() < 1e-12), "{g:?}");
    assert!((f - m.optimum_loss().unwrap()).abs() < 1e-12);
}

#[test]
fn least_squares_refuses_collinear_features() {
    let mut b = boston().unwrap().select(&["LSTAT", "LSTAT"]).unwrap();
    b.names[1] = "LSTAT2".into();
    let err = least_squares(&b, None).unwrap_err();
    assert!(err.to_string().contains("singular"), "{err}");
}

#[test]
fn linear_regression_gradients_and_hessians_match_finite_differences() {
    for name in ["boston", "boston-full"] {
        let m = build::<f64>(name, &ProblemOptions::default()).unwrap();
        let data = m.as_data().unwrap();
        for seed in 0..3 {
            let x = perturbed(&m.start(), 2.0, seed);
            check_batch_gradient(data, &x, &[0, 5, 5, 17, 300], 1e-6);
            // Full-batch gradient and Hessian.
            let n = x.len();
            let mut g = vec![0.0; n];
            m.gradient(&x, &mut g);
            let value = |p: &[f64]| m.value(p);
            for (i, gi) in g.iter().enumerate() {
                assert!((central(&value, &x, i) - gi).abs() < 1e-6 * (1.0 + gi.abs()));
            }
            let mut h = vec![0.0; n * n];
            m.as_hessian().unwrap().hessian(&x, &mut h);
            for j in 0..n {
                let gj = |p: &[f64]| {
                    let mut gp = vec![0.0; n];
                    m.gradient(p, &mut gp);
                    gp[j]
                };
                for i in 0..n {
                    let fd = central(&gj, &x, i);
                    assert!((fd - h[j * n + i]).abs() < 1e-5, "{name} H[{j}][{i}]");
                }
            }
        }
    }
}

#[test]
fn classifier_gradients_match_finite_differences() {
    let mlp = Mlp::<f64>::digits(12, 0.2, 3).unwrap();
    let rows = [0, 1, 2, 3, 4, 100, 100];
    for seed in 0..2 {
        // The start is random already; perturb it so ReLU kinks are not special.
        let x = perturbed(&mlp.start(), 0.1, seed);
        check_batch_gradient(&mlp, &x, &rows, 1e-5);
    }
    let soft = SoftmaxRegression::<f64>::digits(0.2, 3).unwrap();
    let x = perturbed(&soft.start(), 1.0, 9);
    check_batch_gradient(&soft, &x, &rows, 1e-6);
    // Zero weights: every class equally likely, loss ln 10.
    assert!((soft.value(&soft.start()) - 10f64.ln()).abs() < 1e-12);
}

#[test]
fn mlp_tensors_and_initialisation_follow_torch_linear() {
    let m = Mlp::<f64>::digits(32, 0.2, 0).unwrap();
    let t = m.tensors();
    let names: Vec<_> = t.iter().map(|(n, l)| (n.as_str(), *l)).collect();
    assert_eq!(
        names,
        [("w1", 32 * 64), ("b1", 32), ("w2", 10 * 32), ("b2", 10)]
    );
    assert_eq!(m.dim(), t.iter().map(|(_, l)| l).sum::<usize>());
    let x = m.start();
    let (first, second) = x.split_at(32 * 65);
    assert!(first.iter().all(|v| v.abs() < 1.0 / 8.0));
    assert!(second.iter().all(|v| v.abs() < 1.0 / 32f64.sqrt()));
    assert_eq!(x, Mlp::<f64>::digits(32, 0.2, 0).unwrap().start());
    assert_ne!(x, Mlp::<f64>::digits(32, 0.2, 1).unwrap().start());
    assert_eq!((m.n_train(), m.data().test_labels.len()), (1437, 360));
}

#[test]
fn f32_models_agree_with_f64() {
    for name in ["boston", "boston-full", "digits", "digits-softmax"] {
        let a = build::<f64>(name, &ProblemOptions::default()).unwrap();
        let b = build::<f32>(name, &ProblemOptions::default()).unwrap();
        let x64 = perturbed(&a.start(), 0.1, 4);
        let x32: Vec<f32> = x64.iter().map(|&v| v as f32).collect();
        let (mut g64, mut g32) = (vec![0.0; a.dim()], vec![0.0f32; b.dim()]);
        let (fa, fb) = (
            a.gradient(&x64, &mut g64),
            b.gradient(&x32, &mut g32) as f64,
        );
        assert!(
            (fa - fb).abs() < 1e-5 * (1.0 + fa.abs()),
            "{name}: {fa} vs {fb}"
        );
        for (p, q) in g64.iter().zip(&g32) {
            assert!((p - *q as f64).abs() < 1e-4, "{name}: {p} vs {q}");
        }
    }
}

/// Splits the flat vector into the objective's named tensors and takes one step.
fn step(opt: &mut dyn Optimizer<f64>, tensors: &[(String, usize)], x: &mut [f64], g: &[f64]) {
    let mut params = Vec::new();
    let (mut xs, mut gs) = (x, g);
    for (name, len) in tensors {
        let (a, rest) = xs.split_at_mut(*len);
        let (b, grest) = gs.split_at(*len);
        params.push(Param::new(name.as_str(), a, b));
        xs = rest;
        gs = grest;
    }
    opt.step(&mut params).unwrap();
}

/// Trains `model` with `spec` on minibatches drawn with replacement; returns the result.
fn train(
    model: &dyn DataObjective<f64>,
    mut opt: Box<dyn Optimizer<f64>>,
    batch: usize,
    steps: usize,
    seed: u64,
) -> Vec<f64> {
    let mut sampler =
        BatchSampler::new(model.n_train(), Some(batch), Sampling::Replacement, seed).unwrap();
    let tensors = model.tensors();
    let mut x = model.start();
    let mut g = vec![0.0; x.len()];
    for _ in 0..steps {
        let rows = sampler.next_batch();
        model.batch_gradient(&x, rows, &mut g);
        step(opt.as_mut(), &tensors, &mut x, &g);
    }
    x
}

#[test]
fn first_tutorial_optimizers_reach_the_least_squares_optimum_on_boston() {
    let model = LinearRegression::<f64>::boston(0.2, 0).unwrap();
    // Closed form independent of the crate's solver: with one standardized feature the
    // full-data optimum is 1 − r².
    let d = model.data();
    let r = d.x.iter().zip(&d.y).map(|(a, b)| a * b).sum::<f64>() / d.rows as f64;
    let optimum = 1.0 - r * r;
    assert!((optimum - model.full_optimum_loss()).abs() < 1e-12);
    // (spec, batch, steps): the tutorial's settings. Momentum and Nesterov with lr 1e-4
    // end about 1.4 % above the optimum (their effective step lr/(1 − β) = 1e-3 on a
    // curvature of 2 leaves about e^(−2) of the initial error after 1000 steps); the
    // others within 0.1 %.
    let runs = [
        ("sgd(lr=0.0001, momentum=0.9)", 128, 1000),
        ("sgd(lr=0.0001, momentum=0.9, nesterov=true)", 128, 1000),
        ("adagrad(lr=0.1, eps=1e-10)", 128, 1000),
        ("rmsprop(lr=0.01, alpha=0.9, eps=1e-10)", 128, 2000),
        ("adam(lr=0.001, betas=(0.9, 0.95), eps=1e-8)", 32, 2000),
        // The fourth tutorial's additions, with reasonable settings.
        ("adadelta(lr=1.0)", 128, 2000),
        ("adamw(lr=0.01, weight_decay=0.0)", 64, 2000),
        ("nadam(lr=0.002)", 64, 2000),
        ("sgd(lr=0.05)", 128, 1000),
    ];
    let mut ran = 0;
    for (spec, batch, steps) in runs {
        let opt = optim::build::<f64>(spec).unwrap_or_else(|e| panic!("{spec}: {e}"));
        let x = train(&model, opt, batch, steps, 0);
        let loss = model.full_loss(&x);
        eprintln!("{spec}: full-data loss {loss:.6} vs optimum {optimum:.6}");
        assert!(loss <= 1.02 * optimum, "{spec}: {loss} > 1.02 × {optimum}");
        ran += 1;
    }
    assert_eq!(ran, runs.len());
}

#[test]
fn boston_full_reaches_its_optimum_with_adam() {
    let model = LinearRegression::<f64>::boston_full(0.2, 0).unwrap();
    let opt = optim::build::<f64>("adam(lr=0.01)").unwrap();
    let x = train(&model, opt, 64, 3000, 1);
    let (loss, optimum) = (model.value(&x), model.optimum_loss().unwrap());
    assert!(loss <= 1.02 * optimum, "{loss} vs {optimum}");
    // Standardized, all 13 features explain far more than LSTAT alone.
    assert!(optimum < 0.3, "{optimum}");
}

#[test]
fn softmax_regression_learns_the_digits() {
    let model = SoftmaxRegression::<f64>::digits(0.2, 0).unwrap();
    let opt = optim::build::<f64>("adam(lr=0.01)").unwrap();
    let x = train(&model, opt, 64, 500, 0);
    let acc = model.test_accuracy(&x).unwrap();
    assert!(acc > 0.9, "{acc}");
}

/// The MLP reaches ≥ 95 % test accuracy with Adam (lr 1e-3, batch 64).
#[test]
fn mlp_reaches_95_percent_on_the_digits() {
    let model = Mlp::<f64>::digits(64, 0.2, 0).unwrap();
    let opt = optim::build::<f64>("adam(lr=0.001)").unwrap();
    let start = std::time::Instant::now();
    let x = train(&model, opt, 64, 3000, 0);
    let acc = model.test_accuracy(&x).unwrap();
    eprintln!(
        "digits MLP: test accuracy {acc:.4}, test loss {:.4}, {:.2?}",
        model.test_loss(&x),
        start.elapsed()
    );
    assert!(acc >= 0.95, "{acc}");
}
