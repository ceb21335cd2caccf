//! Prodigy against the reference package `prodigyopt` 1.1.2 (`Prodigy`, float64, CPU):
//! the parameters and the step-size estimate `d` after every step, from
//! `tests/fixtures/prodigy.json`, made by `tools/frontier_fixtures_sf.py`.

mod reference_problems;

use gradus::optim::{self, Param};
use reference_problems::{recorded, rel, worst, Case};
use serde_json::Value;

/// The project's bound for f64 fixtures. Measured: 1.0e-14 for the parameters and
/// 3.9e-16 for `d` (the sums over tensors are accumulated in another order than
/// torch's BLAS dot product, and torch's CPU `sqrt` is within an ulp of IEEE's).
const TOL: f64 = 1e-9;

#[test]
fn prodigy_matches_the_reference() {
    let data: Value = serde_json::from_str(include_str!("fixtures/prodigy.json")).unwrap();
    let cases = data["cases"].as_array().unwrap();
    assert!(cases.len() >= 17);
    let (mut worst_p, mut worst_d) = (0.0f64, 0.0f64);
    for json in cases {
        let mut case = Case::read(json);
        let mut opt = optim::build::<f64>(case.spec).unwrap();
        assert_eq!(opt.kind(), optim::OptimizerKind::Tensor);
        for (i, step) in case.steps().iter().enumerate() {
            case.step(&mut *opt);
            let p = worst(&case.tensors, &recorded(step, "params"));
            let d = rel(opt.state().globals[0], step["d"].as_f64().unwrap());
            assert!(
                p <= TOL && d <= TOL,
                "{} step {}: params {p:e}, d {d:e}",
                case.spec,
                i + 1
            );
            worst_p = worst_p.max(p);
            worst_d = worst_d.max(d);
        }
    }
    eprintln!("prodigy: worst relative difference params {worst_p:e}, d {worst_d:e}");
}

#[test]
fn growth_rate_inf_is_none_and_round_trips() {
    let a = optim::build::<f64>("prodigy(growth_rate=inf)").unwrap();
    let b = optim::build::<f64>("prodigy").unwrap();
    assert_eq!(a.spec(), b.spec());
    let positional = optim::build::<f64>(
        "prodigy(1.0, (0.9, 0.999), none, 1e-8, 0.0, true, false, false, 1e-6, 1.0, inf, 1)",
    )
    .unwrap();
    assert_eq!(positional.spec(), b.spec());
    let c = optim::build::<f64>("prodigy(growth_rate=1.02, beta3=0.9)").unwrap();
    assert_eq!(
        optim::build::<f64>(&c.spec().to_string()).unwrap().spec(),
        c.spec()
    );
    assert!(optim::build::<f64>("prodigy(growth_rate=-1)").is_err());
    assert!(optim::build::<f64>("prodigy(slice_p=0)").is_err());
    assert!(optim::build::<f64>("prodigy(d0=0)").is_err());
}

#[test]
fn zero_gradients_leave_the_parameters_and_the_estimate_alone() {
    let mut opt = optim::build::<f64>("prodigy").unwrap();
    let mut x = vec![1.0, 2.0];
    opt.step(&mut [Param::new("x", &mut x, &[0.0, 0.0])])
        .unwrap();
    assert_eq!(x, vec![1.0, 2.0]);
    let g = opt.state().globals;
    assert_eq!((g[0], g[3]), (1e-6, 0.0)); // d = d0, k = 0: no step counted
                                           // lr = 0 changes nothing either, whatever the gradient.
    let mut opt = optim::build::<f64>("prodigy(lr=0)").unwrap();
    opt.step(&mut [Param::new("x", &mut x, &[0.5, -1.0])])
        .unwrap();
    assert_eq!(x, vec![1.0, 2.0]);
}

#[test]
fn a_saved_state_resumes_the_same_trajectory() {
    let data: Value = serde_json::from_str(include_str!("fixtures/prodigy.json")).unwrap();
    for json in data["cases"].as_array().unwrap().iter().step_by(4) {
        let mut case = Case::read(json);
        let mut opt = optim::build::<f64>(case.spec).unwrap();
        for _ in 0..5 {
            case.step(&mut *opt);
        }
        let mut resumed = optim::build::<f64>(case.spec).unwrap();
        resumed.load_state(opt.state()).unwrap();
        let mut other = Case::read(json);
        other.tensors = case.tensors.clone();
        for _ in 0..4 {
            case.step(&mut *opt);
            other.step(&mut *resumed);
        }
        assert_eq!(case.tensors, other.tensors, "{}", case.spec);
        assert_eq!(opt.state(), resumed.state(), "{}", case.spec);
    }
}

#[test]
fn slice_p_keeps_every_pth_element_for_the_estimate() {
    let mut opt = optim::build::<f64>("prodigy(slice_p=3)").unwrap();
    let mut w = vec![1.0; 7];
    let g = vec![0.5; 7];
    opt.step(&mut [Param::with_shape("w", &mut w, &g, &[7])])
        .unwrap();
    let st = opt.state();
    assert_eq!(st.slot_names, ["s", "p0", "exp_avg", "exp_avg_sq"]);
    assert_eq!(
        st.tensors[0].shapes,
        vec![vec![3], vec![3], vec![7], vec![7]]
    );
    let plain = optim::build::<f64>("prodigy(betas=(0.0, 0.999))").unwrap();
    assert_eq!(plain.state().slot_names, ["s", "p0", "exp_avg_sq"]);
}

/// The same cases in `f32` against the reference in `float32`. Measured: 4.0e-6
/// after 12 steps (gradus sums the estimate's dot products in `f64`, torch in
/// `float32`).
#[test]
fn f32_matches_the_float32_reference() {
    let data: Value = serde_json::from_str(include_str!("fixtures/prodigy.json")).unwrap();
    let mut worst_f32 = 0.0f64;
    for json in data["cases"].as_array().unwrap() {
        let case = Case::read(json);
        let want = json["steps_f32"].as_array().unwrap().last().unwrap();
        let w = worst(&case.final_f32(), &recorded(want, "params"));
        assert!(w < 1e-4, "{}: {w:e}", case.spec);
        worst_f32 = worst_f32.max(w);
    }
    eprintln!("prodigy f32 against the float32 reference: worst {worst_f32:e}");
}
