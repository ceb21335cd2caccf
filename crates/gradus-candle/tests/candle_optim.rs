//! gradus-candle against candle's own optimizers, checkpoints, names and errors.

use candle_core::backprop::GradStore;
use candle_core::{DType, Device, Tensor, Var, WithDType};
use candle_nn::{AdamW, Optimizer, ParamsAdamW, VarMap, SGD};
use gradus::schedule::{Schedule, ScheduleState};
use gradus_candle::{Clip, GradusConfig, GradusOptimizer, UpdateMode};

const DEV: Device = Device::Cpu;

/// A linear layer 4 → 3 with fixed, non-trivial weights.
fn linear_vars(dtype: DType) -> (Var, Var) {
    let w: Vec<f64> = (0..12).map(|i| ((i * 5 % 7) as f64 - 3.0) / 4.0).collect();
    let b: Vec<f64> = vec![0.1, -0.2, 0.3];
    let w = Var::from_tensor(
        &Tensor::from_vec(w, (3, 4), &DEV)
            .unwrap()
            .to_dtype(dtype)
            .unwrap(),
    )
    .unwrap();
    let b = Var::from_tensor(
        &Tensor::from_vec(b, 3, &DEV)
            .unwrap()
            .to_dtype(dtype)
            .unwrap(),
    )
    .unwrap();
    (w, b)
}

fn data(dtype: DType) -> (Tensor, Tensor) {
    let x: Vec<f64> = (0..20).map(|i| ((i * 3 % 11) as f64 - 5.0) / 5.0).collect();
    let y: Vec<f64> = (0..15).map(|i| ((i * 7 % 5) as f64 - 2.0) / 2.0).collect();
    (
        Tensor::from_vec(x, (5, 4), &DEV)
            .unwrap()
            .to_dtype(dtype)
            .unwrap(),
        Tensor::from_vec(y, (5, 3), &DEV)
            .unwrap()
            .to_dtype(dtype)
            .unwrap(),
    )
}

fn mse(w: &Var, b: &Var, x: &Tensor, y: &Tensor) -> Tensor {
    x.matmul(&w.t().unwrap())
        .unwrap()
        .broadcast_add(b)
        .unwrap()
        .sub(y)
        .unwrap()
        .sqr()
        .unwrap()
        .mean_all()
        .unwrap()
}

fn values(v: &Var) -> Vec<f64> {
    v.flatten_all()
        .unwrap()
        .to_dtype(DType::F64)
        .unwrap()
        .to_vec1::<f64>()
        .unwrap()
}

fn bits<T: WithDType>(v: &Var) -> Vec<u64> {
    v.flatten_all()
        .unwrap()
        .to_vec1::<T>()
        .unwrap()
        .into_iter()
        .map(|x| x.to_f64().to_bits())
        .collect()
}

fn max_rel(a: &[f64], b: &[f64]) -> f64 {
    a.iter()
        .zip(b)
        .map(|(x, y)| (x - y).abs() / x.abs().max(y.abs()).max(1e-12))
        .fold(0.0, f64::max)
}

/// Largest |a − b| relative to the largest |a| of the tensor.
fn max_rel_tensor(a: &[f64], b: &[f64]) -> f64 {
    let scale = a.iter().fold(0.0f64, |m, x| m.max(x.abs())).max(1e-12);
    a.iter()
        .zip(b)
        .map(|(x, y)| (x - y).abs() / scale)
        .fold(0.0, f64::max)
}

/// Runs `steps` steps of candle's optimizer and of gradus's on identical models and
/// returns the largest difference of the parameters seen over all steps: relative
/// element by element, and relative to the tensor's largest element.
fn compare<O: Optimizer>(
    dtype: DType,
    mut theirs: impl FnMut(Vec<Var>) -> O,
    spec: &str,
    steps: usize,
) -> (f64, f64) {
    let (x, y) = data(dtype);
    let (w1, b1) = linear_vars(dtype);
    let (w2, b2) = linear_vars(dtype);
    let mut a = theirs(vec![w1.clone(), b1.clone()]);
    let mut g = GradusOptimizer::from_vars(vec![w2.clone(), b2.clone()], spec).unwrap();
    let (mut worst, mut worst_tensor) = (0.0f64, 0.0f64);
    for _ in 0..steps {
        a.backward_step(&mse(&w1, &b1, &x, &y)).unwrap();
        g.backward_step(&mse(&w2, &b2, &x, &y)).unwrap();
        for (p, q) in [(&w1, &w2), (&b1, &b2)] {
            worst = worst.max(max_rel(&values(p), &values(q)));
            worst_tensor = worst_tensor.max(max_rel_tensor(&values(p), &values(q)));
        }
    }
    // And the model did move.
    let (w0, _) = linear_vars(dtype);
    assert!(max_rel(&values(&w0), &values(&w2)) > 1e-3);
    (worst, worst_tensor)
}

#[test]
fn adamw_matches_candle_adamw() {
    let params = ParamsAdamW {
        lr: 0.01,
        weight_decay: 0.1,
        ..ParamsAdamW::default()
    };
    let spec = "adamw(lr=0.01, weight_decay=0.1)";
    let (d64, t64) = compare(
        DType::F64,
        |v| AdamW::new(v, params.clone()).unwrap(),
        spec,
        20,
    );
    let (d32, t32) = compare(
        DType::F32,
        |v| AdamW::new(v, params.clone()).unwrap(),
        spec,
        20,
    );
    eprintln!(
        "adamw vs candle AdamW, 20 steps: max relative difference per element f64 {d64:.2e}, \
         f32 {d32:.2e}; per tensor f64 {t64:.2e}, f32 {t32:.2e}"
    );
    // f64: the same to 1e-12, element by element.
    assert!(d64 < 1e-12, "f64: {d64}");
    // f32: the two round differently (candle: β1·m + (1−β1)·g and √(v·(1/(1−β2ᵗ)));
    // torch/gradus: lerp and √v/√(1−β2ᵗ)), a few ulp per step. Relative to each
    // tensor's scale that stays below 1e-6; an element that is itself near 0 can show
    // a larger relative difference (≈1e-5 here, for a difference of ~1e-8).
    assert!(t32 < 1e-6, "f32: {t32}");
    assert!(d32 < 1e-4, "f32: {d32}");
    // Other betas and eps.
    let params = ParamsAdamW {
        lr: 0.003,
        beta1: 0.8,
        beta2: 0.99,
        eps: 1e-6,
        weight_decay: 0.0,
    };
    let spec = "adamw(lr=0.003, betas=(0.8, 0.99), eps=1e-6, weight_decay=0)";
    let (d64, _) = compare(
        DType::F64,
        |v| AdamW::new(v, params.clone()).unwrap(),
        spec,
        20,
    );
    assert!(d64 < 1e-12, "f64: {d64}");
}

#[test]
fn sgd_matches_candle_sgd() {
    // gradus computes θ − lr·g with one rounding (a fused multiply-add), as torch's CPU
    // kernel does; candle rounds the product first. So the two agree to an ulp or two
    // per step, not bit for bit.
    // Element-wise relative difference, and relative to each tensor's largest element.
    for (dtype, tol, tol_tensor) in [(DType::F64, 1e-13, 1e-14), (DType::F32, 1e-5, 1e-6)] {
        let (d, t) = compare(dtype, |v| SGD::new(v, 0.05).unwrap(), "sgd(lr=0.05)", 20);
        assert!(d < tol && t < tol_tensor, "{dtype:?}: {d}, {t}");
    }
}

/// A schedule for the tests (concrete schedules live in gradus): lr = base·γ^k.
#[derive(Debug, Clone)]
struct Exp {
    base: f64,
    gamma: f64,
    k: u64,
}

impl Schedule for Exp {
    fn name(&self) -> &'static str {
        "test_exp"
    }
    fn spec(&self) -> gradus::spec::Call {
        gradus::spec::parse(&format!("test_exp(gamma={})", self.gamma)).unwrap()
    }
    fn lr(&self) -> f64 {
        self.base * self.gamma.powi(self.k as i32)
    }
    fn step(&mut self, _metric: f64) {
        self.k += 1;
    }
    fn last_epoch(&self) -> u64 {
        self.k
    }
    fn state(&self) -> ScheduleState {
        ScheduleState {
            name: "test_exp".into(),
            spec: self.spec().to_string(),
            last_epoch: self.k,
            values: vec![self.base],
            children: vec![],
        }
    }
    fn load_state(&mut self, s: &ScheduleState) -> gradus::Result<()> {
        self.k = s.last_epoch;
        self.base = s.values[0];
        Ok(())
    }
    fn boxed_clone(&self) -> Box<dyn Schedule> {
        Box::new(self.clone())
    }
}

fn build(vars: Vec<(String, Var)>) -> GradusOptimizer {
    GradusOptimizer::from_named_vars(vars, "adam(lr=0.05, amsgrad=true, weight_decay=0.01)")
        .unwrap()
        .with_schedule_boxed(Box::new(Exp {
            base: 0.05,
            gamma: 0.95,
            k: 0,
        }))
        .unwrap()
        .with_clip_grad_norm(0.5)
        .unwrap()
}

fn named(w: &Var, b: &Var) -> Vec<(String, Var)> {
    vec![
        ("fc.weight".into(), w.clone()),
        ("fc.bias".into(), b.clone()),
    ]
}

#[test]
fn save_load_continue_equals_uninterrupted_run() {
    for dtype in [DType::F64, DType::F32] {
        let (x, y) = data(dtype);
        // Uninterrupted: 20 steps.
        let (w1, b1) = linear_vars(dtype);
        let mut a = build(named(&w1, &b1));
        for _ in 0..20 {
            a.backward_step(&mse(&w1, &b1, &x, &y)).unwrap();
        }
        // 10 steps, save (file and bytes), then a fresh optimizer continues.
        let (w2, b2) = linear_vars(dtype);
        let mut b = build(named(&w2, &b2));
        for _ in 0..10 {
            b.backward_step(&mse(&w2, &b2, &x, &y)).unwrap();
        }
        let path = std::env::temp_dir().join(format!(
            "gradus-candle-ck-{}-{dtype:?}.json",
            std::process::id()
        ));
        b.save(&path).unwrap();
        let bytes = b.to_bytes().unwrap();
        let (w3, b3) = linear_vars(dtype);
        w3.set(&w2.as_tensor().copy().unwrap()).unwrap();
        b3.set(&b2.as_tensor().copy().unwrap()).unwrap();
        let mut c = build(named(&w3, &b3));
        c.load(&path).unwrap();
        std::fs::remove_file(&path).unwrap();
        assert_eq!(c.step_count(), 10);
        assert_eq!(c.checkpoint(), b.checkpoint());
        c.load_bytes(&bytes).unwrap();
        assert_eq!(
            c.learning_rate(),
            0.05 * std::hint::black_box(0.95f64).powi(10)
        );
        for _ in 0..10 {
            c.backward_step(&mse(&w3, &b3, &x, &y)).unwrap();
        }
        if dtype == DType::F64 {
            assert_eq!(bits::<f64>(&w1), bits::<f64>(&w3));
            assert_eq!(bits::<f64>(&b1), bits::<f64>(&b3));
        } else {
            assert_eq!(bits::<f32>(&w1), bits::<f32>(&w3));
            assert_eq!(bits::<f32>(&b1), bits::<f32>(&b3));
        }
        assert_eq!(a.checkpoint(), c.checkpoint());
        assert_eq!(a.step_count(), 20);
        assert!(a.last_grad_norm().is_some());
    }
}

#[test]
fn varmap_names_key_the_state_and_order_does_not_matter() {
    let varmap = VarMap::new();
    let vb = candle_nn::VarBuilder::from_varmap(&varmap, DType::F64, &DEV);
    let l1 = candle_nn::linear(4, 5, vb.pp("l1")).unwrap();
    let l2 = candle_nn::linear(5, 3, vb.pp("l2")).unwrap();
    let (x, y) = data(DType::F64);
    let loss = || {
        use candle_nn::Module;
        let h = l1.forward(&x).unwrap().relu().unwrap();
        l2.forward(&h)
            .unwrap()
            .sub(&y)
            .unwrap()
            .sqr()
            .unwrap()
            .mean_all()
            .unwrap()
    };
    let spec = "adam(lr=0.01)";
    let mut a = GradusOptimizer::from_varmap(&varmap, spec).unwrap();
    for _ in 0..5 {
        a.backward_step(&loss()).unwrap();
    }
    let ck = a.checkpoint();
    let gradus_candle::DTypeState::F64(st) = &ck.optimizer else {
        panic!("f64 expected")
    };
    let mut keys: Vec<&str> = st.tensors.iter().map(|t| t.name.as_str()).collect();
    keys.sort_unstable();
    assert_eq!(keys, ["l1.bias", "l1.weight", "l2.bias", "l2.weight"]);
    let names: Vec<&str> = a.vars().iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(names, ["l1.bias", "l1.weight", "l2.bias", "l2.weight"]);

    // A second optimizer over the same variables in reverse order, loaded from the
    // checkpoint, continues exactly as the first.
    let mut rev: Vec<(String, Var)> = a.vars().to_vec();
    rev.reverse();
    let mut b = GradusOptimizer::from_named_vars(rev, spec).unwrap();
    b.restore(ck).unwrap();
    let snapshot: Vec<Tensor> = a
        .vars()
        .iter()
        .map(|(_, v)| v.as_tensor().copy().unwrap())
        .collect();
    for _ in 0..3 {
        a.backward_step(&loss()).unwrap();
    }
    let after_a: Vec<Vec<u64>> = a.vars().iter().map(|(_, v)| bits::<f64>(v)).collect();
    for ((_, v), s) in a.vars().iter().zip(&snapshot) {
        v.set(s).unwrap();
    }
    for _ in 0..3 {
        b.backward_step(&loss()).unwrap();
    }
    let after_b: Vec<Vec<u64>> = a.vars().iter().map(|(_, v)| bits::<f64>(v)).collect();
    assert_eq!(after_a, after_b);
}

#[test]
fn in_place_and_copy_modes_agree_also_with_many_variables() {
    // 300 variables: more than are locked on the caller's stack.
    let make = || -> Vec<Var> {
        (0..300)
            .map(|i| Var::from_vec(vec![i as f32 / 100.0, 1.0, -2.0], 3, &DEV).unwrap())
            .collect()
    };
    let (va, vb) = (make(), make());
    let mut a = GradusOptimizer::from_vars(va.clone(), "adam(lr=0.1)").unwrap();
    let mut b = GradusOptimizer::from_vars(vb.clone(), "adam(lr=0.1)")
        .unwrap()
        .with_update_mode(UpdateMode::Copy);
    let loss = |vars: &[Var]| {
        let mut l = vars[0].sqr().unwrap().sum_all().unwrap();
        for v in &vars[1..] {
            l = (l + v.sqr().unwrap().sum_all().unwrap().sin().unwrap()).unwrap();
        }
        l
    };
    for _ in 0..5 {
        a.backward_step(&loss(&va)).unwrap();
        b.backward_step(&loss(&vb)).unwrap();
    }
    for (x, y) in va.iter().zip(&vb) {
        assert_eq!(bits::<f32>(x), bits::<f32>(y));
    }
    assert_eq!(a.checkpoint(), b.checkpoint());
}

#[test]
fn clipping_uses_gradus_clip() {
    let (x, y) = data(DType::F64);
    let (w, b) = linear_vars(DType::F64);
    let grads = mse(&w, &b, &x, &y).backward().unwrap();
    let mut gw = grads
        .get(&w)
        .unwrap()
        .flatten_all()
        .unwrap()
        .to_vec1::<f64>()
        .unwrap();
    let mut gb = grads.get(&b).unwrap().to_vec1::<f64>().unwrap();
    let total = gradus::clip::clip_grad_norm(&mut [&mut gw[..], &mut gb[..]], 0.1, 2.0).unwrap();
    let mut pw = values(&w);
    let mut pb = values(&b);
    let mut reference = gradus::optim::build::<f64>("sgd(lr=1)").unwrap();
    reference
        .step(&mut [
            gradus::optim::Param::new("param.0", &mut pw, &gw),
            gradus::optim::Param::new("param.1", &mut pb, &gb),
        ])
        .unwrap();
    let mut opt = GradusOptimizer::from_vars(vec![w.clone(), b.clone()], "sgd(lr=1)")
        .unwrap()
        .with_clip_grad_norm(0.1)
        .unwrap();
    opt.step(&grads).unwrap();
    assert_eq!(opt.last_grad_norm(), Some(total));
    assert_eq!(values(&w), pw);
    assert_eq!(values(&b), pb);
    // The GradStore itself is not modified.
    assert_ne!(grads.get(&b).unwrap().to_vec1::<f64>().unwrap(), gb);

    // By value.
    let (w, b) = linear_vars(DType::F64);
    let before = values(&b);
    let grads = mse(&w, &b, &x, &y).backward().unwrap();
    let gbv = grads.get(&b).unwrap().to_vec1::<f64>().unwrap();
    let mut opt = GradusOptimizer::from_vars(vec![w.clone(), b.clone()], "sgd(lr=1)")
        .unwrap()
        .with_clip(Some(Clip::Value(0.01)))
        .unwrap();
    opt.step(&grads).unwrap();
    for ((p, q), g) in values(&b).iter().zip(&before).zip(&gbv) {
        assert_eq!(*p, q - g.clamp(-0.01, 0.01));
    }
    assert!(GradusOptimizer::from_vars(vec![w], "sgd(lr=1)")
        .unwrap()
        .with_clip_grad_norm(-1.0)
        .is_err());
}

#[test]
fn candle_optimizer_trait_constructors() {
    let (x, y) = data(DType::F32);
    let (w, b) = linear_vars(DType::F32);
    let mut opt = <GradusOptimizer as Optimizer>::new(
        vec![w.clone(), b.clone()],
        GradusConfig::from("sgd(lr=0.1, momentum=0.9)"),
    )
    .unwrap();
    let l0 = mse(&w, &b, &x, &y).to_scalar::<f32>().unwrap();
    for _ in 0..30 {
        opt.backward_step(&mse(&w, &b, &x, &y)).unwrap();
    }
    let l1 = mse(&w, &b, &x, &y).to_scalar::<f32>().unwrap();
    assert!(l1 < l0 * 0.8, "{l0} -> {l1}");
    assert_eq!(opt.learning_rate(), 0.1);
    opt.set_learning_rate(0.01);
    assert_eq!(opt.learning_rate(), 0.01);
    assert!(opt.spec().starts_with("sgd(lr=0.01"), "{}", opt.spec());
    let empty = GradusOptimizer::empty("adam".into()).unwrap();
    assert_eq!(empty.vars().len(), 0);
    // Concrete schedules are built by gradus::schedule::build; an unknown one is an error.
    let cfg = GradusConfig {
        schedule: Some("no_such_schedule(x=1)".into()),
        ..GradusConfig::from("adam")
    };
    assert!(<GradusOptimizer as Optimizer>::new(vec![w], cfg).is_err());
}

fn grads_for(var: &Var, g: Tensor) -> GradStore {
    let mut s = GradStore::default();
    s.insert(var.as_tensor(), g);
    s
}

#[test]
fn bad_input_is_an_error_not_a_panic() {
    // Unsupported dtypes.
    for dtype in [DType::BF16, DType::F16, DType::U32, DType::U8, DType::I64] {
        let v = Var::zeros(3, dtype, &DEV).unwrap();
        let e = GradusOptimizer::from_vars(vec![v], "adam")
            .unwrap_err()
            .to_string();
        assert!(e.contains("unsupported dtype"), "{e}");
    }
    // Mixed dtypes, duplicate names, bad specs.
    let a = Var::zeros(3, DType::F32, &DEV).unwrap();
    let b = Var::zeros(3, DType::F64, &DEV).unwrap();
    let e = GradusOptimizer::from_vars(vec![a.clone(), b.clone()], "adam")
        .unwrap_err()
        .to_string();
    assert!(e.contains("different dtypes"), "{e}");
    let e = GradusOptimizer::from_named_vars(
        vec![("x".into(), a.clone()), ("x".into(), a.clone())],
        "adam",
    )
    .unwrap_err()
    .to_string();
    assert!(e.contains("appears twice"), "{e}");
    assert!(GradusOptimizer::from_vars(vec![a.clone()], "adamm(lr=1)").is_err());
    assert!(GradusOptimizer::from_vars(vec![a.clone()], "adam(lr=-1)").is_err());
    assert!(GradusOptimizer::from_vars(vec![a.clone()], "adam(lr=").is_err());
    // Variables sharing storage.
    let c = Var::from_tensor(a.as_tensor()).unwrap();
    let mut opt = GradusOptimizer::from_vars(vec![a.clone(), c.clone()], "sgd(lr=1)").unwrap();
    let mut g = grads_for(&a, Tensor::ones(3, DType::F32, &DEV).unwrap());
    g.insert(c.as_tensor(), Tensor::ones(3, DType::F32, &DEV).unwrap());
    let e = opt.step(&g).unwrap_err().to_string();
    assert!(e.contains("share storage"), "{e}");

    // Gradients of the wrong dtype or shape.
    let mut opt = GradusOptimizer::from_vars(vec![a.clone()], "sgd(lr=1)").unwrap();
    let e = opt
        .step(&grads_for(&a, Tensor::ones(3, DType::F64, &DEV).unwrap()))
        .unwrap_err()
        .to_string();
    assert!(e.contains("F64 gradient"), "{e}");
    let e = opt
        .step(&grads_for(&a, Tensor::ones(4, DType::F32, &DEV).unwrap()))
        .unwrap_err()
        .to_string();
    assert!(e.contains("shape"), "{e}");
    // A gradient that is the variable itself is copied first (no deadlock).
    let self_grad = grads_for(&a, a.as_tensor().clone());
    opt.step(&self_grad).unwrap();
    // A non-contiguous gradient is made contiguous.
    let m = Var::from_vec(vec![1f32, 2., 3., 4., 5., 6.], (2, 3), &DEV).unwrap();
    let gt = Tensor::from_vec(vec![1f32, 2., 3., 4., 5., 6.], (3, 2), &DEV)
        .unwrap()
        .t()
        .unwrap();
    assert!(!gt.is_contiguous());
    let mut opt = GradusOptimizer::from_vars(vec![m.clone()], "sgd(lr=1)").unwrap();
    opt.step(&grads_for(&m, gt)).unwrap();
    assert_eq!(values(&m), [0., -1., -2., 2., 1., 0.]);
    // A non-finite gradient is refused (default policy) and nothing changes.
    let e = opt
        .step(&grads_for(
            &m,
            Tensor::new(&[[f32::NAN, 0., 0.], [0., 0., 0.]], &DEV).unwrap(),
        ))
        .unwrap_err()
        .to_string();
    assert!(e.contains("non-finite"), "{e}");
    assert_eq!(values(&m), [0., -1., -2., 2., 1., 0.]);
    assert_eq!(opt.step_count(), 1);
    // An invalid learning rate is reported by the next step.
    opt.set_learning_rate(f64::NAN);
    assert_eq!(opt.learning_rate(), 1.0);
    assert!(opt.step(&GradStore::default()).is_err());
    assert!(opt.try_set_learning_rate(-1.0).is_err());
    // Checkpoints of the wrong dtype, schedule or shape.
    let opt64 = GradusOptimizer::from_vars(vec![b.clone()], "sgd(lr=1)").unwrap();
    let e = opt.restore(opt64.checkpoint()).unwrap_err().to_string();
    assert!(e.contains("f64"), "{e}");
    assert!(opt.load_bytes(b"not json").is_err());
    assert!(opt.load("/nonexistent/dir/ck.json").is_err());
    let other = GradusOptimizer::from_vars(vec![a.clone()], "adam").unwrap();
    assert!(opt.restore(other.checkpoint()).is_err());
    // Variables without a gradient are left alone.
    let before = values(&m);
    opt.step(&GradStore::default()).unwrap();
    assert_eq!(values(&m), before);
}
