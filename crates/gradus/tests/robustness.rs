//! Property tests: whatever the input (NaN, ±inf, −0.0, subnormals, huge numbers,
//! unknown keys, garbage text), parsing specs, building optimizers and schedules and
//! stepping them a few times returns a value or an error and never panics. And two
//! laws of every optimizer: lr = 0 leaves the parameters unchanged, and the update
//! does not depend on the order the tensors are given in.
//!
//! Case counts (a few seconds):
//! spec text 3000, optimizer configs 3000, schedule configs 2500, lr = 0 1000,
//! tensor order 1000, damaged checkpoints 500 (11 000 in all).

use gradus::checkpoint::Checkpoint;
use gradus::optim::{self, NonFinitePolicy, Optimizer, Param};
use gradus::{schedule, spec, Error, Float};
use proptest::prelude::*;

/// Numbers as a user might write them, the awkward ones included.
fn number() -> impl Strategy<Value = String> {
    prop_oneof![
        Just("nan".to_string()),
        Just("inf".to_string()),
        Just("-inf".to_string()),
        Just("-0.0".to_string()),
        Just("0".to_string()),
        Just("5e-324".to_string()),
        Just("2.2250738585072014e-308".to_string()),
        Just("1e308".to_string()),
        Just("1e400".to_string()),
        Just("-1".to_string()),
        Just("1".to_string()),
        Just("0.5".to_string()),
        Just("0.9".to_string()),
        Just("0.999".to_string()),
        Just("1/3".to_string()),
        Just("3".to_string()),
        Just("10".to_string()),
        Just("18446744073709551616".to_string()),
        (0u32..200).prop_map(|n| n.to_string()),
        any::<f64>().prop_map(|x| format!("{x:?}")),
        (-1.0f64..2.0).prop_map(|x| format!("{x:?}")),
    ]
}

/// A value: a number, a boolean, a tuple, a list, a name or a nested call.
fn value() -> impl Strategy<Value = String> {
    let leaf = prop_oneof![
        4 => number(),
        1 => prop_oneof![Just("true"), Just("false"), Just("True")].prop_map(String::from),
        1 => prop_oneof![Just("cos"), Just("linear"), Just("min"), Just("max"), Just("rel"), Just("abs"), Just("adam")]
            .prop_map(String::from),
    ];
    leaf.prop_recursive(2, 8, 3, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(|v| format!("({})", v.join(", "))),
            prop::collection::vec(inner.clone(), 0..4).prop_map(|v| format!("[{}]", v.join(", "))),
            (inner.clone(), inner).prop_map(|(a, b)| format!("exponential({a}, gamma={b})")),
        ]
    })
}

const OPTIMIZER_KEYS: &[&str] = &[
    "lr",
    "momentum",
    "dampening",
    "weight_decay",
    "nesterov",
    "maximize",
    "betas",
    "eps",
    "amsgrad",
    "decoupled_weight_decay",
    "alpha",
    "centered",
    "rho",
    "lr_decay",
    "initial_accumulator_value",
    "momentum_decay",
    "zzz",
];

const SCHEDULE_KEYS: &[&str] = &[
    "step_size",
    "gamma",
    "milestones",
    "t_max",
    "eta_min",
    "t_0",
    "t_mult",
    "power",
    "total_iters",
    "start_factor",
    "end_factor",
    "factor",
    "max_lr",
    "total_steps",
    "epochs",
    "steps_per_epoch",
    "pct_start",
    "anneal_strategy",
    "cycle_momentum",
    "base_momentum",
    "max_momentum",
    "div_factor",
    "final_div_factor",
    "three_phase",
    "schedulers",
    "mode",
    "patience",
    "threshold",
    "threshold_mode",
    "cooldown",
    "min_lr",
    "eps",
    "boundaries",
    "values",
    "lam",
    "alpha",
    "beta",
    "zzz",
];

/// `name(positional..., key=value, ...)` with keys drawn from `keys`.
fn call(names: Vec<String>, keys: &'static [&'static str]) -> impl Strategy<Value = String> {
    (
        prop::sample::select(names),
        prop::collection::vec(value(), 0..3),
        prop::collection::vec((prop::sample::select(keys), value()), 0..5),
    )
        .prop_map(|(name, pos, kw)| {
            let mut args = pos;
            args.extend(kw.into_iter().map(|(k, v)| format!("{k}={v}")));
            format!("{name}({})", args.join(", "))
        })
}

/// Calls of the optimizers that build, with their own keys only (so most build).
fn valid_optimizer_call() -> impl Strategy<Value = String> {
    let known: Vec<(String, Vec<String>)> = optim::names()
        .iter()
        .filter_map(|(n, _)| {
            let o = optim::build::<f64>(n).ok()?;
            Some((
                n.to_string(),
                o.spec().keywords.into_iter().map(|(k, _)| k).collect(),
            ))
        })
        .collect();
    prop::sample::select(known).prop_flat_map(|(name, keys)| {
        prop::collection::vec((prop::sample::select(keys), value()), 0..3).prop_map(move |kw| {
            let args: Vec<String> = kw.iter().map(|(k, v)| format!("{k}={v}")).collect();
            format!("{name}({})", args.join(", "))
        })
    })
}

fn optimizer_names() -> Vec<String> {
    optim::names()
        .iter()
        .map(|(n, _)| n.to_string())
        .chain(["adamm".to_string()])
        .collect()
}

fn schedule_names() -> Vec<String> {
    schedule::names()
        .iter()
        .map(|(n, _)| n.to_string())
        .chain(["cosine".to_string()])
        .collect()
}

/// Gradient elements, finite or not.
fn element() -> impl Strategy<Value = f64> {
    prop_oneof![
        8 => -10.0f64..10.0,
        1 => prop::sample::select(vec![
            f64::NAN, f64::INFINITY, f64::NEG_INFINITY, -0.0, 0.0, 5e-324, 1e-310, 1e300, -1e300,
            f64::MAX, f32::MAX as f64 * 2.0,
        ]),
    ]
}

fn policy() -> impl Strategy<Value = NonFinitePolicy> {
    prop::sample::select(vec![
        NonFinitePolicy::Error,
        NonFinitePolicy::Skip,
        NonFinitePolicy::Propagate,
    ])
}

/// Steps `opt` on two tensors with the given gradients; any error is fine.
fn step_a_few<T: Float>(opt: &mut dyn Optimizer<T>, grads: &[Vec<f64>], momenta: &[f64]) {
    let mut a: Vec<T> = vec![T::of(1.0), T::of(-0.5), T::of(0.0)];
    let mut b: Vec<T> = vec![T::of(2.0)];
    for (k, g) in grads.iter().enumerate() {
        let ga: Vec<T> = g[..3].iter().map(|&x| T::of(x)).collect();
        let gb = vec![T::of(g[3])];
        let _ = opt.step(&mut [Param::new("a", &mut a, &ga), Param::new("b", &mut b, &gb)]);
        // Schedules set the lr and momentum between steps; bad values are errors.
        let _ = opt.set_lr(momenta[k % momenta.len()]);
        let _ = opt.set_momentum(momenta[(k + 1) % momenta.len()]);
    }
    // The state always round-trips through a checkpoint.
    let mut c = Checkpoint::new(serde_json::Value::Null);
    opt.state().to_checkpoint("o", &mut c).unwrap();
    let c = Checkpoint::decode(&c.encode().unwrap()).unwrap();
    let s = gradus::optim::OptimizerState::<T>::from_checkpoint("o", &c).unwrap();
    opt.load_state(s).unwrap();
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 3000, .. ProptestConfig::default() })]

    #[test]
    fn spec_parse_never_panics(
        text in prop_oneof![
            ".{0,40}",
            "[a-z_]{0,6}[(]?[a-z0-9_=,.()\\[\\] +/eE-]{0,30}[)]?",
        ],
        spec_text in call(optimizer_names(), OPTIMIZER_KEYS),
    ) {
        for t in [&text, &spec_text] {
            if let Ok(c) = spec::parse(t) {
                // What parses prints as text that parses to the same call.
                let again = spec::parse(&c.to_string());
                prop_assert!(again.is_ok(), "{t} -> {c}");
            }
        }
        let _ = optim::build::<f64>(&text);
        let _ = schedule::build(&text, 0.1, Some(0.9));
        let _ = Checkpoint::decode(text.as_bytes());
    }

    #[test]
    fn optimizer_configs_never_panic(
        spec_text in prop_oneof![call(optimizer_names(), OPTIMIZER_KEYS), valid_optimizer_call()],
        grads in prop::collection::vec(prop::collection::vec(element(), 4), 1..4),
        momenta in prop::collection::vec(element(), 1..3),
        policy in policy(),
        single in any::<bool>(),
    ) {
        match optim::build::<f64>(&spec_text) {
            Ok(mut o) => {
                // What builds prints as a spec that builds the same optimizer.
                let again = optim::build::<f64>(&o.spec().to_string()).unwrap();
                prop_assert_eq!(again.spec().to_string(), o.spec().to_string());
                o.set_nonfinite_policy(policy);
                if single {
                    let mut o32 = optim::build::<f32>(&spec_text).unwrap();
                    o32.set_nonfinite_policy(policy);
                    step_a_few(o32.as_mut(), &grads, &momenta);
                } else {
                    step_a_few(o.as_mut(), &grads, &momenta);
                }
            }
            Err(e) => {
                // Errors are one line.
                prop_assert!(!e.to_string().contains('\n'), "{}", e);
            }
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 2500, .. ProptestConfig::default() })]

    #[test]
    fn schedule_configs_never_panic(
        spec_text in call(schedule_names(), SCHEDULE_KEYS),
        base_lr in element(),
        base_momentum in prop::option::of(element()),
        metrics in prop::collection::vec(element(), 0..20),
    ) {
        if let Ok(mut s) = schedule::build(&spec_text, base_lr, base_momentum) {
            let _ = (s.lr(), s.momentum(), s.spec().to_string());
            let saved = s.state();
            for &m in &metrics {
                s.step(m);
                let _ = (s.lr(), s.momentum());
            }
            let _ = schedule::lrs(s.as_ref(), 5);
            let _ = s.load_state(&saved);
        }
    }
}

/// Spec variants of every optimizer with `lr = 0`, exercising momentum, weight decay
/// and the other options; variants an optimizer does not take are dropped.
fn lr0_variants() -> Vec<String> {
    let mut out = Vec::new();
    for (name, _) in optim::names() {
        for extra in [
            "",
            ", weight_decay=0.1",
            ", maximize=true",
            ", momentum=0.9",
            ", momentum=0.9, nesterov=true",
            ", amsgrad=true",
            ", centered=true, momentum=0.5",
            ", betas=(0.5, 0.6)",
        ] {
            let spec = format!("{name}(lr=0{extra})");
            if optim::build::<f64>(&spec).is_ok() {
                out.push(spec);
            }
        }
    }
    out
}

/// Finite values whose squares stay finite in f32 (|x| ≤ 1e15): a squared gradient
/// that overflows makes centered RMSprop compute inf − inf = NaN, even with lr = 0,
/// in torch as here.
fn finite() -> impl Strategy<Value = f64> {
    prop_oneof![
        -100.0f64..100.0,
        prop::sample::select(vec![1e-300, -2e-310, 0.0, 1e15, -1e-30])
    ]
}

fn nonzero() -> impl Strategy<Value = f64> {
    finite().prop_filter("nonzero", |x| *x != 0.0)
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 1000, .. ProptestConfig::default() })]

    /// `lr = 0` leaves the parameters unchanged (compared with `==`: `-0.0 + 0.0` is
    /// `+0.0` in IEEE arithmetic). Gradients are non-zero so that no `0/0` arises when
    /// a moment and its denominator are both zero.
    #[test]
    fn zero_lr_changes_nothing(
        spec_text in prop::sample::select(lr0_variants()),
        x0 in prop::collection::vec(finite(), 1..6),
        grads in prop::collection::vec(prop::collection::vec(nonzero(), 6), 1..5),
        single in any::<bool>(),
    ) {
        fn check<T: Float>(spec_text: &str, x0: &[f64], grads: &[Vec<f64>]) -> Result<(), TestCaseError> {
            let mut o = optim::build::<T>(spec_text).unwrap();
            let start: Vec<T> = x0.iter().map(|&v| T::of(v)).collect();
            let mut x = start.clone();
            for g in grads {
                let g: Vec<T> = g[..x.len()].iter().map(|&v| T::of(v)).collect();
                o.step(&mut [Param::new("x", &mut x, &g)]).unwrap();
                prop_assert_eq!(&x, &start, "{}", spec_text);
            }
            Ok(())
        }
        if single {
            check::<f32>(&spec_text, &x0, &grads)?;
        } else {
            check::<f64>(&spec_text, &x0, &grads)?;
        }
    }

    /// Giving the tensors in another order, step after step, changes nothing.
    #[test]
    fn tensor_order_does_not_matter(
        spec_text in prop::sample::select(lr0_variants()),
        lr in 0.001f64..0.5,
        sizes in prop::collection::vec(0usize..5, 2..5),
        seed_grads in prop::collection::vec(finite(), 20),
        orders in prop::collection::vec(any::<u64>(), 1..6),
    ) {
        let spec_text = spec_text.replacen("lr=0", &format!("lr={lr:?}"), 1);
        let names: Vec<String> = (0..sizes.len()).map(|i| format!("t{i}")).collect();
        let mut fixed = optim::build::<f64>(&spec_text).unwrap();
        let mut shuffled = optim::build::<f64>(&spec_text).unwrap();
        let mut xa: Vec<Vec<f64>> = sizes.iter().map(|&n| vec![0.5; n]).collect();
        let mut xb = xa.clone();
        for (k, &seed) in orders.iter().enumerate() {
            let grads: Vec<Vec<f64>> = sizes
                .iter()
                .enumerate()
                .map(|(t, &n)| (0..n).map(|i| seed_grads[(t * 5 + i + k) % 20]).collect())
                .collect();
            let mut order: Vec<usize> = (0..sizes.len()).collect();
            // A permutation from the seed (Fisher-Yates with a tiny LCG).
            let mut s = seed;
            for i in (1..order.len()).rev() {
                s = s.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
                order.swap(i, (s >> 33) as usize % (i + 1));
            }
            let mut pa: Vec<Param<'_, f64>> = xa
                .iter_mut()
                .zip(&grads)
                .zip(&names)
                .map(|((x, g), n)| Param::new(n, x, g))
                .collect();
            fixed.step(&mut pa).unwrap();
            let mut slots: Vec<Option<(&mut Vec<f64>, usize)>> =
                xb.iter_mut().enumerate().map(|(i, x)| Some((x, i))).collect();
            let mut pb: Vec<Param<'_, f64>> = order
                .iter()
                .map(|&i| {
                    let (x, j) = slots[i].take().unwrap();
                    Param::new(&names[j], x, &grads[j])
                })
                .collect();
            shuffled.step(&mut pb).unwrap();
            let bits = |x: &Vec<Vec<f64>>| -> Vec<u64> { x.iter().flatten().map(|v| v.to_bits()).collect() };
            prop_assert_eq!(bits(&xa), bits(&xb), "{} order {:?}", spec_text, order);
        }
    }
}

#[test]
fn errors_name_their_input() {
    for (spec, culprit) in [
        ("adam(lr=nan)", "lr"),
        ("adam(betas=(0.9, inf))", "betas[1]"),
        ("sgd(momentum=-0.0, dampening=2)", "dampening"),
        ("adam(eps=-5e-324)", "eps"),
    ] {
        match optim::build::<f64>(spec) {
            Err(Error::InvalidHyperparameter { param, .. }) => assert_eq!(param, culprit),
            other => panic!("{spec}: {other:?}"),
        }
    }
}

/// A small checkpoint with an Adam state, for mutation.
fn checkpoint_bytes() -> Vec<u8> {
    let mut o = optim::build::<f32>("adam(amsgrad=true)").unwrap();
    let mut x = vec![1.0f32, -2.0, 0.5];
    o.step(&mut [Param::new("x", &mut x, &[0.1, 0.2, f32::MIN_POSITIVE])])
        .unwrap();
    let mut c = Checkpoint::new(serde_json::json!({"note": "mutate me"}));
    o.state().to_checkpoint("opt", &mut c).unwrap();
    c.encode().unwrap()
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 500, .. ProptestConfig::default() })]

    /// Any single changed byte, or any truncation, is refused (never a panic, never
    /// silently accepted). Together with the cases above: 11 000 in all.
    #[test]
    fn damaged_checkpoints_are_refused(at in any::<prop::sample::Index>(), xor in 1u8..=255, cut in any::<bool>()) {
        let good = checkpoint_bytes();
        let i = at.index(good.len());
        let bad = if cut {
            good[..i].to_vec()
        } else {
            let mut b = good.clone();
            b[i] ^= xor;
            b
        };
        prop_assert!(Checkpoint::decode(&bad).is_err(), "byte {} cut {}", i, cut);
    }
}
