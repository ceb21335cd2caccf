use super::*;
use crate::optim::FnClosure;

/// Gradients of a fixed, slightly rough quadratic: g = c·(x − t) + 0.1·x³.
fn grads<T: Float>(x: &[T], k: usize) -> Vec<T> {
    x.iter()
        .enumerate()
        .map(|(i, &v)| {
            let c = T::of(1.0 + 0.5 * ((i + k) % 3) as f64);
            let t = T::of(0.3 * i as f64 - 0.4);
            c * (v - t) + T::of(0.1) * v * v * v
        })
        .collect()
}

fn start<T: Float>() -> (Vec<T>, Vec<T>) {
    (
        (0..6).map(|i| T::of(1.5 - 0.6 * i as f64)).collect(),
        vec![T::of(2.0), T::of(-3.0)],
    )
}

/// Steps `trainer` `n` times from the current `(w, b)`.
fn run<T: Float>(trainer: &mut Trainer<T>, w: &mut [T], b: &mut [T], from: usize, n: usize) {
    for k in from..from + n {
        let (gw, gb) = (grads(w, k), grads(b, k + 1));
        trainer
            .step(&mut [
                Param::with_shape("w", w, &gw, &[2, 3]),
                Param::new("b", b, &gb),
            ])
            .unwrap();
    }
}

fn hand_loop<T: Float>(
    opt: &str,
    sched: &str,
    max_norm: f64,
    value: Option<f64>,
    n: usize,
) -> (Vec<T>, Vec<T>) {
    let mut o = optim::build::<T>(opt).unwrap();
    let mut s = schedule::build(sched, o.lr(), o.momentum()).unwrap();
    let (mut w, mut b) = start::<T>();
    for k in 0..n {
        o.set_lr(s.lr()).unwrap();
        if let Some(m) = s.momentum() {
            o.set_momentum(m).unwrap();
        }
        let (mut gw, mut gb) = (grads(&w, k), grads(&b, k + 1));
        {
            let mut gs: Vec<&mut [T]> = vec![&mut gw, &mut gb];
            if let Some(v) = value {
                crate::clip::clip_grad_value(&mut gs, v).unwrap();
            }
            crate::clip::clip_grad_norm(&mut gs, max_norm, 2.0).unwrap();
        }
        o.step(&mut [
            Param::with_shape("w", &mut w, &gw, &[2, 3]),
            Param::new("b", &mut b, &gb),
        ])
        .unwrap();
        s.step(0.0);
    }
    (w, b)
}

fn bits<T: Float>(x: &[T]) -> Vec<u64> {
    x.iter().map(|v| v.f64().to_bits()).collect()
}

fn trainer_equals_hand_loop<T: Float>() {
    for (opt, sched, value) in [
        ("adam(lr=0.05)", "cosine_annealing(t_max=20)", None),
        (
            "sgd(lr=0.05, momentum=0.9)",
            "one_cycle(max_lr=0.1, total_steps=40)",
            Some(0.8),
        ),
        ("adamw(lr=0.02)", "step(step_size=5, gamma=0.5)", Some(2.0)),
    ] {
        let (hw, hb) = hand_loop::<T>(opt, sched, 1.0, value, 30);
        let mut t = Trainer::<T>::from_specs(opt, Some(sched))
            .unwrap()
            .with_clip_grad_norm(1.0)
            .unwrap();
        if let Some(v) = value {
            t = t.with_clip_grad_value(v).unwrap();
        }
        let (mut w, mut b) = start::<T>();
        run(&mut t, &mut w, &mut b, 0, 30);
        assert_eq!(bits(&w), bits(&hw), "{opt} {sched}");
        assert_eq!(bits(&b), bits(&hb), "{opt} {sched}");
        assert_eq!(t.steps(), 30);
        assert!(t.last_grad_norm().is_some());
    }
}

#[test]
fn trainer_is_the_hand_written_loop_bit_for_bit() {
    trainer_equals_hand_loop::<f64>();
    trainer_equals_hand_loop::<f32>();
}

fn resume_is_bit_exact<T: Float>() {
    for (opt, sched, avg) in [
        (
            "adam(lr=0.05, amsgrad=true)",
            "one_cycle(max_lr=0.1, total_steps=60)",
            "ema(decay=0.9)",
        ),
        (
            "sgd(lr=0.05, momentum=0.9, nesterov=true)",
            "chained(schedulers=[step(step_size=10), exponential(gamma=0.99)])",
            "swa(start=5, every=2)",
        ),
        (
            "partition(matrices=muon(lr=0.02), rest=adamw(lr=3e-3))",
            "cosine_annealing(t_max=30)",
            "swa()",
        ),
    ] {
        let build = || {
            Trainer::<T>::from_specs(opt, Some(sched))
                .unwrap()
                .with_clip_grad_norm_type(2.0, f64::INFINITY)
                .unwrap()
                .with_clip_grad_value(3.0)
                .unwrap()
                .with_averaging(avg)
                .unwrap()
        };
        let (mut w1, mut b1) = start::<T>();
        let mut straight = build();
        run(&mut straight, &mut w1, &mut b1, 0, 40);

        let (mut w2, mut b2) = start::<T>();
        let mut first = build();
        run(&mut first, &mut w2, &mut b2, 0, 17);
        let bytes = first.to_bytes().unwrap();
        drop(first);
        let mut resumed = Trainer::<T>::from_bytes(&bytes).unwrap();
        assert_eq!(resumed.steps(), 17);
        assert_eq!(resumed.clipping().norm_type, f64::INFINITY);
        run(&mut resumed, &mut w2, &mut b2, 17, 23);
        assert_eq!(bits(&w1), bits(&w2), "{opt}");
        assert_eq!(bits(&b1), bits(&b2), "{opt}");
        for n in ["w", "b"] {
            assert_eq!(
                bits(straight.averaged(n).unwrap()),
                bits(resumed.averaged(n).unwrap()),
                "{opt} {n}"
            );
        }
        assert_eq!(straight.lr().to_bits(), resumed.lr().to_bits());
        // Saving again gives the same bytes.
        assert_eq!(straight.to_bytes().unwrap(), resumed.to_bytes().unwrap());
        // load_bytes into a trainer with the same schedule does the same.
        let mut other = build();
        other.load_bytes(&bytes).unwrap();
        assert_eq!(other.steps(), 17);
    }
}

#[test]
fn to_bytes_from_bytes_mid_run_equals_a_straight_run() {
    resume_is_bit_exact::<f64>();
    resume_is_bit_exact::<f32>();
}

#[test]
fn averaged_parameters_follow_the_live_ones() {
    let mut t = Trainer::<f64>::from_specs("sgd(lr=0.1)", None)
        .unwrap()
        .with_averaging("swa()")
        .unwrap();
    let mut x = [0.0];
    let mut seen = vec![];
    for _ in 0..4 {
        t.step(&mut [Param::new("x", &mut x, &[-10.0])]).unwrap();
        seen.push(x[0]);
    }
    assert_eq!(seen, [1.0, 2.0, 3.0, 4.0]);
    assert_eq!(t.averaged("x").unwrap(), &[2.5]);
    assert_eq!(t.averaging().unwrap().n_averaged(), 4);
}

#[test]
fn errors_change_nothing() {
    let mut t = Trainer::<f64>::from_specs("adam(lr=0.1)", Some("exponential(gamma=0.5)"))
        .unwrap()
        .with_averaging("ema(decay=0.5)")
        .unwrap();
    let mut x = [1.0, 2.0];
    t.step(&mut [Param::new("x", &mut x, &[1.0, 1.0])]).unwrap();
    let before = t.to_bytes().unwrap();
    let x_before = x;
    // Duplicate names, a wrong length, a tensor the average does not hold.
    let mut y = [0.0];
    assert!(t
        .step(&mut [
            Param::new("x", &mut x, &[1.0, 1.0]),
            Param::new("x", &mut y, &[1.0])
        ])
        .is_err());
    assert!(t.step(&mut [Param::new("x", &mut x, &[1.0])]).is_err());
    assert!(t
        .step(&mut [
            Param::new("x", &mut x, &[1.0, 1.0]),
            Param::new("y", &mut y, &[1.0])
        ])
        .is_err());
    assert_eq!(x, x_before);
    assert_eq!(t.to_bytes().unwrap(), before);
    assert_eq!(t.optimizer().lr(), 0.1);
}

#[test]
fn plateau_needs_the_loss() {
    let mut t =
        Trainer::<f64>::from_specs("sgd(lr=0.1)", Some("reduce_on_plateau(patience=0)")).unwrap();
    let mut x = [1.0];
    let e = t.step(&mut [Param::new("x", &mut x, &[1.0])]).unwrap_err();
    assert!(e.to_string().contains("step_with_loss"), "{e}");
    assert_eq!((x, t.steps()), ([1.0], 0));
    t.step_with_loss(&mut [Param::new("x", &mut x, &[1.0])], 1.0)
        .unwrap();
    t.step_with_loss(&mut [Param::new("x", &mut x, &[1.0])], 2.0)
        .unwrap();
    assert_eq!(t.lr(), 0.1 * 0.1);
}

#[test]
fn closure_optimizers_step_with_a_closure_and_refuse_clipping() {
    let f = |x: &[f64], g: &mut [f64]| {
        g[0] = 2.0 * (x[0] - 3.0);
        (x[0] - 3.0).powi(2)
    };
    let mut t = Trainer::<f64>::from_specs("lbfgs(lr=1)", Some("reduce_on_plateau()"))
        .unwrap()
        .with_averaging("swa()")
        .unwrap();
    let mut x = [0.0];
    let mut g = [0.0];
    t.step_with(&mut [Param::new("x", &mut x, &g)], &mut FnClosure::new(f))
        .unwrap();
    assert!((x[0] - 3.0).abs() < 1e-9, "{x:?}");
    assert_eq!(t.averaged("x").unwrap(), &x);
    // Newton builds and steps through the trainer too.
    let mut n = Trainer::<f64>::from_specs("newton", None).unwrap();
    let mut z = [0.0];
    let h = |_: &[f64], out: &mut [f64]| {
        out[0] = 2.0;
        true
    };
    // Newton takes the gradient at the point from the params: f'(0) = −6.
    n.step_with(
        &mut [Param::new("x", &mut z, &[-6.0])],
        &mut FnClosure::with_hessian(f, h),
    )
    .unwrap();
    assert_eq!(z, [3.0]);
    let e = n.step(&mut [Param::new("x", &mut z, &g)]).unwrap_err();
    assert!(e.to_string().contains("step_with"), "{e}");
    let mut c = Trainer::<f64>::from_specs("lbfgs", None)
        .unwrap()
        .with_clip_grad_norm(1.0)
        .unwrap();
    g[0] = 1.0;
    let e = c
        .step_with(&mut [Param::new("x", &mut x, &g)], &mut FnClosure::new(f))
        .unwrap_err();
    assert!(e.to_string().contains("clipped"), "{e}");
}

#[test]
fn bad_inputs_are_refused_with_the_key() {
    let e = Trainer::<f64>::from_specs("adam", None)
        .unwrap()
        .with_averaging("ema(decay=2)")
        .unwrap_err();
    assert!(e.to_string().contains("decay"), "{e}");
    let e = Trainer::<f64>::from_specs("adam", None)
        .unwrap()
        .with_clip_grad_norm(-1.0)
        .unwrap_err();
    assert!(e.to_string().contains("max_norm"), "{e}");
    assert!(Trainer::<f64>::from_specs("adam", Some("cosine(t_max=3)")).is_err());
    // Bytes of another dtype, or not a trainer's.
    let t = Trainer::<f32>::from_specs("adam", None).unwrap();
    let e = Trainer::<f64>::from_bytes(&t.to_bytes().unwrap()).unwrap_err();
    assert!(e.to_string().contains("f32"), "{e}");
    let other = Checkpoint::new(serde_json::json!({"kind": "x"}))
        .encode()
        .unwrap();
    assert!(Trainer::<f64>::from_bytes(&other).is_err());
    // A schedule present in the file but not in the trainer it is loaded into.
    let s = Trainer::<f64>::from_specs("adam", Some("step(step_size=2)")).unwrap();
    let mut plain = Trainer::<f64>::from_specs("adam", None).unwrap();
    assert!(plain.load_bytes(&s.to_bytes().unwrap()).is_err());
}
