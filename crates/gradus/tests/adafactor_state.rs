//! Adafactor's state, whose buffers have their own shapes, end to end: saved in a
//! checkpoint and restored with its shapes, a resumed run equal bit for bit to an
//! uninterrupted one, and a state that does not fit the tensor refused by name.

use gradus::checkpoint::Checkpoint;
use gradus::optim::{build, Optimizer, OptimizerState, Param};

fn grad(w: &[f64]) -> Vec<f64> {
    w.iter()
        .enumerate()
        .map(|(i, x)| (1.0 + i as f64) * x - 0.5)
        .collect()
}

fn run(opt: &mut dyn Optimizer<f64>, w: &mut [f64], b: &mut [f64], steps: usize) {
    for _ in 0..steps {
        let (gw, gb) = (grad(w), grad(b));
        opt.step(&mut [
            Param::with_shape("w", w, &gw, &[3, 4]),
            Param::new("b", b, &gb),
        ])
        .unwrap();
    }
}

fn through_checkpoint(s: OptimizerState<f64>) -> OptimizerState<f64> {
    let mut c = Checkpoint::new(serde_json::Value::Null);
    s.to_checkpoint("opt", &mut c).unwrap();
    let c = Checkpoint::decode(&c.encode().unwrap()).unwrap();
    OptimizerState::from_checkpoint("opt", &c).unwrap()
}

#[test]
fn resume_is_bit_exact_and_keeps_the_shapes() {
    let spec = "adafactor(lr=0.05, weight_decay=0.1)";
    let (mut w, mut b) = (vec![0.3; 12], vec![-0.2; 4]);
    let mut whole = build::<f64>(spec).unwrap();
    run(whole.as_mut(), &mut w, &mut b, 20);

    let (mut w2, mut b2) = (vec![0.3; 12], vec![-0.2; 4]);
    let mut first = build::<f64>(spec).unwrap();
    run(first.as_mut(), &mut w2, &mut b2, 8);
    let saved = through_checkpoint(first.state());
    assert_eq!(saved, first.state());
    let t = saved.tensors.iter().find(|t| t.name == "w").unwrap();
    assert_eq!(t.shapes, vec![vec![3, 1], vec![1, 4], vec![0]]);
    let mut resumed = build::<f64>(spec).unwrap();
    resumed.load_state(saved).unwrap();
    run(resumed.as_mut(), &mut w2, &mut b2, 12);
    assert_eq!(w2, w);
    assert_eq!(b2, b);
    assert_eq!(resumed.state(), whole.state());
}

#[test]
fn a_state_that_does_not_fit_is_refused_naming_tensor_slot_and_shapes() {
    let mut opt = build::<f64>("adafactor").unwrap();
    let (mut w, mut b) = (vec![0.3; 12], vec![-0.2; 4]);
    run(opt.as_mut(), &mut w, &mut b, 2);
    let state = opt.state();
    let mut other = build::<f64>("adafactor").unwrap();
    other.load_state(state).unwrap();
    // The same 12 values as a 4×3 matrix: row_var must be [4, 1], not [3, 1].
    let gw = grad(&w);
    let e = other
        .step(&mut [Param::with_shape("w", &mut w, &gw, &[4, 3])])
        .unwrap_err()
        .to_string();
    for part in ["'w'", "row_var", "[4, 1]", "[3, 1]"] {
        assert!(e.contains(part), "{e}");
    }
}
