//! Schedule-Free SGD and AdamW against the reference package `schedulefree` 1.4.1
//! (`SGDScheduleFree`, `AdamWScheduleFree`, float64, CPU): after every step the
//! parameters (train mode: the point y where gradients are taken) and the evaluation
//! parameters (what `eval()` puts in the tensors: the average x), from
//! `tests/fixtures/schedule_free.json`, made by `tools/frontier_fixtures_sf.py`.

mod reference_problems;

use gradus::optim::{self, Optimizer, Param};
use reference_problems::{recorded, worst, Case};
use serde_json::Value;

/// The project's bound for f64 fixtures. Measured: 3.5e-16 for y and 5.0e-16 for x.
/// Every case but one is bit-exact; in the AdamW case with weight decay, torch's CPU
/// `sqrt` (MKL's vector math in its high-accuracy mode, within 1 ulp but not always
/// correctly rounded) once differs from IEEE `sqrt` by an ulp.
const TOL: f64 = 1e-9;

fn eval_params(opt: &dyn Optimizer<f64>, case: &Case<'_>) -> Vec<Vec<f64>> {
    case.names()
        .iter()
        .zip(&case.tensors)
        .map(|(n, t)| {
            let mut out = vec![f64::NAN; t.len()];
            assert!(opt.eval_params(n, t, &mut out).unwrap());
            out
        })
        .collect()
}

#[test]
fn schedule_free_matches_the_reference() {
    let data: Value = serde_json::from_str(include_str!("fixtures/schedule_free.json")).unwrap();
    let cases = data["cases"].as_array().unwrap();
    assert!(cases.len() >= 18);
    let (mut worst_y, mut worst_x) = (0.0f64, 0.0f64);
    for json in cases {
        let mut case = Case::read(json);
        let mut opt = optim::build::<f64>(case.spec).unwrap();
        // Before the first step there is no z: the evaluation point is the start.
        assert_eq!(eval_params(&*opt, &case), case.tensors, "{}", case.spec);
        for (i, step) in case.steps().iter().enumerate() {
            case.step(&mut *opt);
            let y = worst(&case.tensors, &recorded(step, "params"));
            let x = worst(&eval_params(&*opt, &case), &recorded(step, "eval_params"));
            assert!(
                y <= TOL && x <= TOL,
                "{} step {}: y {y:e}, x {x:e}",
                case.spec,
                i + 1
            );
            worst_y = worst_y.max(y);
            worst_x = worst_x.max(x);
        }
    }
    eprintln!("schedule-free: worst relative difference y {worst_y:e}, x {worst_x:e}");
}

#[test]
fn a_saved_state_resumes_the_same_trajectory_and_evaluation_point() {
    let data: Value = serde_json::from_str(include_str!("fixtures/schedule_free.json")).unwrap();
    for json in data["cases"].as_array().unwrap().iter().step_by(5) {
        let mut case = Case::read(json);
        let mut opt = optim::build::<f64>(case.spec).unwrap();
        for _ in 0..4 {
            case.step(&mut *opt);
        }
        let mut resumed = optim::build::<f64>(case.spec).unwrap();
        resumed.load_state(opt.state()).unwrap();
        assert_eq!(eval_params(&*resumed, &case), eval_params(&*opt, &case));
        let mut other = Case::read(json);
        other.tensors = case.tensors.clone();
        for _ in 0..3 {
            case.step(&mut *opt);
            other.step(&mut *resumed);
        }
        assert_eq!(case.tensors, other.tensors, "{}", case.spec);
        assert_eq!(eval_params(&*resumed, &other), eval_params(&*opt, &case));
    }
}

#[test]
fn the_read_out_changes_nothing_and_checks_lengths() {
    let mut opt = optim::build::<f64>("schedule_free_sgd(lr=0.1)").unwrap();
    let mut y = vec![1.0, -2.0];
    let g = [0.5, 0.25];
    opt.step(&mut [Param::new("w", &mut y, &g)]).unwrap();
    let before = opt.state();
    let mut x = vec![0.0; 2];
    assert!(opt.eval_params("w", &y, &mut x).unwrap());
    assert_eq!(opt.state(), before);
    // One step from y = z: x is the first z step, y the interpolation (β = 0.9).
    assert_eq!(x, vec![1.0 - 0.1 * 0.5, -2.0 - 0.1 * 0.25]);
    let mut short = vec![0.0; 1];
    assert!(opt.eval_params("w", &y, &mut short).is_err());
    assert!(opt.eval_params("w", &y[..1], &mut short).is_err());
    // Optimizers without an evaluation point say so and leave `out` alone.
    let adam = optim::build::<f64>("adam").unwrap();
    assert!(!adam.eval_params("w", &y, &mut x).unwrap());
    assert_eq!(x, vec![1.0 - 0.1 * 0.5, -2.0 - 0.1 * 0.25]);
}

#[test]
fn f32_follows_the_f64_reference() {
    let data: Value = serde_json::from_str(include_str!("fixtures/schedule_free.json")).unwrap();
    let mut worst_f32 = 0.0f64;
    for json in data["cases"].as_array().unwrap() {
        let case = Case::read(json);
        let w = worst(
            &case.final_f32(),
            &recorded(case.steps().last().unwrap(), "params"),
        );
        assert!(w < 1e-4, "{}: {w:e}", case.spec);
        worst_f32 = worst_f32.max(w);
    }
    eprintln!("schedule-free f32 against the f64 reference: worst {worst_f32:e}");
}
