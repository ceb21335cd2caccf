use super::*;
use crate::optim::test_support::values;
use crate::optim::{
    build, AdagradConfig, AdamConfig, AdamWConfig, AdamaxConfig, Elementwise, LionConfig,
    NAdamConfig, Optimizer, Param, RAdamConfig, RMSpropConfig, Rule, SgdConfig,
};

/// bfloat16 rounding to nearest even, the slow way: the two neighbours of `x` among
/// all finite bfloat16 values, compared in exact (f64) arithmetic.
fn nearest_even(x: f64) -> u16 {
    assert!(x.is_finite());
    let sign = if x.is_sign_negative() { 0x8000 } else { 0 };
    let a = x.abs();
    // Magnitudes are ordered like their bit patterns: binary search the largest
    // bfloat16 magnitude <= a.
    let (mut lo, mut hi) = (0u16, 0x7F80u16); // 0x7F80 is inf
    while hi - lo > 1 {
        let mid = (lo + hi) / 2;
        if bf16_to_f32(mid) as f64 <= a {
            lo = mid;
        } else {
            hi = mid;
        }
    }
    let below = bf16_to_f32(lo) as f64;
    // The upper neighbour of the largest finite value is 2^128 (overflow to inf).
    let above = if hi == 0x7F80 {
        2f64.powi(128)
    } else {
        bf16_to_f32(hi) as f64
    };
    let pick = if a - below < above - a || (a - below == above - a && lo % 2 == 0) {
        lo
    } else {
        hi
    };
    sign | pick
}

fn samples() -> Vec<f64> {
    let mut xs = vec![
        0.0,
        -0.0,
        1.0,
        -1.0,
        1.5,
        f32::MAX as f64,
        3.0e38,
        3.5e38,
        1e-45,
    ];
    // Ties: exactly halfway between neighbours, both parities.
    for m in [0x3F80u32, 0x3F81, 0x0001, 0x0080, 0x7F7E, 0x7F7F] {
        xs.push(f32::from_bits((m << 16) | 0x8000) as f64);
        xs.push(f32::from_bits((m << 16) | 0x7FFF) as f64);
        xs.push(f32::from_bits((m << 16) | 0x8001) as f64);
    }
    for (k, v) in values(4000, 3).into_iter().enumerate() {
        // Spread over many binades, subnormals included.
        xs.push(v * 2f64.powi((k as i32 % 300) - 150));
    }
    xs
}

#[test]
fn bf16_rounds_to_nearest_even_from_f32_and_f64() {
    for x in samples() {
        let want = nearest_even(x);
        assert_eq!(f64_to_bf16(x), want, "f64 {x:e}");
        let f = x as f32;
        if f.is_finite() {
            assert_eq!(f32_to_bf16(f), nearest_even(f as f64), "f32 {f:e}");
        }
    }
    // From f64 directly, not through f32: 1 + 2^-8 + 2^-30 rounds up, while f32
    // would first make it the tie 1 + 2^-8 and then round that to even (1).
    let x = 1.0 + 2f64.powi(-8) + 2f64.powi(-30);
    assert_eq!(f64_to_bf16(x), 0x3F81);
    assert_eq!(f32_to_bf16(x as f32), 0x3F80);
    // Specials.
    for x in [f64::INFINITY, f64::NEG_INFINITY] {
        assert_eq!(bf16_to_f32(f64_to_bf16(x)) as f64, x);
        assert_eq!(bf16_to_f32(f32_to_bf16(x as f32)) as f64, x);
    }
    assert!(bf16_to_f32(f64_to_bf16(f64::NAN)).is_nan());
    assert!(bf16_to_f32(f32_to_bf16(f32::NAN)).is_nan());
    // A NaN whose payload sits in the discarded bits stays a NaN.
    assert!(bf16_to_f32(f32_to_bf16(f32::from_bits(0x7F80_0001))).is_nan());
}

#[test]
fn bf16_error_is_at_most_half_an_ulp_relative_2_to_minus_8() {
    for x in samples() {
        let a = x.abs();
        if !(1.2e-38..=3.38e38).contains(&a) {
            continue; // subnormal or overflowing: no relative bound
        }
        let r = bf16_to_f32(f64_to_bf16(x)) as f64;
        assert!((r - x).abs() <= a * 2f64.powi(-8), "{x:e} -> {r:e}");
    }
}

#[test]
fn stochastic_rounding_is_unbiased_and_picks_a_neighbour() {
    for x in samples() {
        if !(1.2e-38..=3.3e38).contains(&x.abs()) {
            continue;
        }
        for to_bf16 in [
            |x: f64, n| f64_to_bf16_stochastic(x, n),
            |x: f64, n| f32_to_bf16_stochastic(x as f32, n),
        ] {
            let exact = x;
            let down = to_bf16(exact, 0);
            let up = to_bf16(exact, 0xFFFF);
            assert!(up == down || up == down + 1, "{x:e}");
            // Over all 2^16 noise values, the mean is the value (rounded toward zero
            // to 16 bits below bfloat16's last place).
            let mut sum = 0.0;
            for n in 0..=0xFFFFu32 {
                let b = to_bf16(exact, n);
                assert!(b == down || b == up);
                sum += bf16_to_f32(b) as f64;
            }
            let mean = sum / 65536.0;
            let ulp = (bf16_to_f32(down + 1) - bf16_to_f32(down)).abs() as f64;
            assert!(
                (mean - x).abs() <= ulp * 2f64.powi(-15),
                "{x:e}: mean {mean:e}"
            );
        }
    }
    assert_eq!(f32_to_bf16_stochastic(f32::INFINITY, 0xFFFF), 0x7F80);
    assert!(bf16_to_f32(f32_to_bf16_stochastic(f32::NAN, 0xFFFF)).is_nan());
}

#[test]
fn noise_is_deterministic_and_spread() {
    let s = seed("layer.weight", 7);
    assert_eq!(s, seed("layer.weight", 7));
    assert_ne!(s, seed("layer.weight", 8));
    assert_ne!(s, seed("layer.bias", 7));
    let draws: Vec<u32> = (0..1 << 16).map(|i| noise(s, i, 0)).collect();
    assert!(draws.iter().all(|&n| n <= 0xFFFF));
    let mean = draws.iter().map(|&n| n as f64).sum::<f64>() / draws.len() as f64;
    assert!((mean / 65535.0 - 0.5).abs() < 0.01, "{mean}");
    assert_ne!(noise(s, 3, 0), noise(s, 3, 1));
}

/// The scalar reference of a low-precision run: per element, the stored state is
/// widened, updated in `T` by the rule, and rounded back, nearest or stochastically
/// as the kernel documents.
fn reference<R: Rule, T: Float>(
    rule: &R,
    x0: &[T],
    grads: &[Vec<T>],
    sr: bool,
    names: &[(String, usize, usize)],
) -> (Vec<T>, Vec<Vec<u16>>) {
    let n = x0.len();
    let nslots = rule.slot_names().len();
    let mut x = x0.to_vec();
    let mut slots: Vec<Vec<u16>> = (0..nslots)
        .map(|k| vec![encode(T::of(rule.slot_init(k))); n])
        .collect();
    let mut scalars = rule.scalar_init();
    for (step, g) in grads.iter().enumerate() {
        let step = step as u64 + 1;
        let c = rule.coeffs::<T>(step, &mut scalars);
        for (name, lo, hi) in names {
            let s = seed(name, step);
            for i in *lo..*hi {
                let mut st: Vec<T> = slots.iter().map(|s| decode::<T>(s[i])).collect();
                R::update(&c, &mut x[i], g[i], &mut st);
                for (k, (slot, v)) in slots.iter_mut().zip(st).enumerate() {
                    let exact = v.f64();
                    slot[i] = if sr {
                        <Bf16Sr as Store<T>>::store(v, noise(s, i - lo, k)).0
                    } else {
                        <Bf16 as Store<T>>::store(v, 0).0
                    };
                    // The quantization error of this step's state: within 2^-8
                    // relative (nearest) or one ulp, 2^-7 relative (stochastic).
                    let got = decode::<T>(slot[i]).f64();
                    let bound = exact.abs() * if sr { 2f64.powi(-7) } else { 2f64.powi(-8) };
                    if exact.is_finite() && exact.abs() >= 1.2e-38 {
                        assert!((got - exact).abs() <= bound, "{exact:e} stored as {got:e}");
                    }
                }
            }
        }
    }
    (x, slots)
}

/// Runs `rule` with `state_dtype` in the engine over `tensors` equal pieces of the
/// vector, `threads` threads; returns the parameters and the stored state.
fn engine<R: Rule, T: Float>(
    rule: &R,
    dtype: StateDtype,
    x0: &[T],
    grads: &[Vec<T>],
    names: &[(String, usize, usize)],
    threads: usize,
) -> (Vec<T>, Vec<Vec<u16>>) {
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .build()
        .unwrap();
    pool.install(|| {
        let mut opt = Elementwise::<R, T>::with_state_dtype(rule.clone(), dtype).unwrap();
        let mut x = x0.to_vec();
        for g in grads {
            let mut rest: &mut [T] = &mut x;
            let mut params = Vec::new();
            for (name, lo, hi) in names {
                let (a, b) = std::mem::take(&mut rest).split_at_mut(hi - lo);
                rest = b;
                params.push(Param::new(name, a, &g[*lo..*hi]));
            }
            opt.step(&mut params).unwrap();
        }
        let slots = (0..rule.slot_names().len())
            .map(|k| {
                names
                    .iter()
                    .flat_map(|(name, _, _)| opt.tensor_state(name).unwrap().bf16_slots[k].clone())
                    .collect()
            })
            .collect();
        (x, slots)
    })
}

fn check<R: Rule, T: Float>(rule: R) {
    // 140 000 is more than two work items: chunks, two halves and two threads.
    for n in [1, 7, 1000, 140_000] {
        let x0: Vec<T> = values(n, 1).into_iter().map(T::of).collect();
        let grads: Vec<Vec<T>> = (0..6)
            .map(|s| values(n, 10 + s).into_iter().map(T::of).collect())
            .collect();
        for tensors in [1usize, 3] {
            let tensors = tensors.min(n);
            let names: Vec<(String, usize, usize)> = (0..tensors)
                .map(|t| (format!("t{t}"), t * n / tensors, (t + 1) * n / tensors))
                .collect();
            for (dtype, sr) in [(StateDtype::Bf16, false), (StateDtype::Bf16Sr, true)] {
                let want = reference(&rule, &x0, &grads, sr, &names);
                for threads in [1, 2] {
                    let got = engine(&rule, dtype, &x0, &grads, &names, threads);
                    let what =
                        format!("{rule:?} {dtype:?} n={n} tensors={tensors} threads={threads}");
                    assert!(
                        got.0
                            .iter()
                            .zip(&want.0)
                            .all(|(a, b)| a.f64().to_bits() == b.f64().to_bits()),
                        "{what}: params differ"
                    );
                    assert_eq!(got.1, want.1, "{what}: state differs");
                }
            }
        }
    }
}

fn check_both<R: Rule>(rule: R) {
    check::<R, f32>(rule.clone());
    check::<R, f64>(rule);
}

#[test]
fn bf16_state_is_the_rule_on_the_widened_state_rounded_back() {
    check_both(AdamConfig::default());
    check_both(AdamConfig {
        lr: 0.01,
        weight_decay: 0.1,
        amsgrad: true,
        ..Default::default()
    });
    check_both(AdamWConfig::default());
    check_both(NAdamConfig::default());
    check_both(RAdamConfig::default());
    check_both(AdamaxConfig::default());
    check_both(SgdConfig {
        lr: 0.1,
        momentum: 0.9,
        ..Default::default()
    });
    check_both(RMSpropConfig {
        centered: true,
        momentum: 0.5,
        ..Default::default()
    });
    check_both(AdagradConfig {
        initial_accumulator_value: 0.1,
        ..Default::default()
    });
    check_both(LionConfig::default());
}

#[test]
fn the_spec_carries_state_dtype_and_other_optimizers_refuse_it() {
    let opt = build::<f32>("adam(lr=0.01, state_dtype=bf16)").unwrap();
    let spec = opt.spec().to_string();
    assert!(spec.ends_with("state_dtype=bf16)"), "{spec}");
    assert_eq!(build::<f32>(&spec).unwrap().spec().to_string(), spec);
    // The default is not written, so specs read as before.
    for s in ["adam(lr=0.01)", "adam(lr=0.01, state_dtype=param)"] {
        let spec = build::<f32>(s).unwrap().spec().to_string();
        assert!(!spec.contains("state_dtype"), "{spec}");
    }
    for name in [
        "adamw", "nadam", "radam", "adamax", "sgd", "rmsprop", "adagrad", "lion",
    ] {
        let s = format!("{name}(state_dtype=bf16_sr)");
        let spec = build::<f64>(&s).unwrap().spec().to_string();
        assert!(spec.contains("state_dtype=bf16_sr"), "{spec}");
    }
    let msg = |s: &str| build::<f32>(s).err().unwrap().to_string();
    for s in [
        "adadelta(state_dtype=bf16)",
        "muon(state_dtype=bf16)",
        "lbfgs(state_dtype=bf16)",
    ] {
        let m = msg(s);
        assert!(m.contains("state_dtype") && m.contains(ACCEPTED_BY), "{m}");
    }
    let m = msg("adam(state_dtype=fp8)");
    assert!(m.contains("state_dtype") && m.contains("bf16_sr"), "{m}");
}

#[test]
fn resume_is_bit_exact_and_state_is_two_bytes() {
    for spec in [
        "adam(lr=0.01, state_dtype=bf16)",
        "rmsprop(momentum=0.9, state_dtype=bf16_sr)",
    ] {
        let n = 5000;
        let x0: Vec<f32> = values(n, 1).into_iter().map(|v| v as f32).collect();
        let grads: Vec<Vec<f32>> = (0..6)
            .map(|s| values(n, 20 + s).into_iter().map(|v| v as f32).collect())
            .collect();
        let run = |opt: &mut Box<dyn Optimizer<f32>>, x: &mut Vec<f32>, gs: &[Vec<f32>]| {
            for g in gs {
                opt.step(&mut [Param::new("w", x, g)]).unwrap();
            }
        };
        let mut whole = build::<f32>(spec).unwrap();
        let mut xw = x0.clone();
        run(&mut whole, &mut xw, &grads);

        let mut first = build::<f32>(spec).unwrap();
        let mut xr = x0.clone();
        run(&mut first, &mut xr, &grads[..3]);
        let saved = first.state();
        assert!(saved.tensors[0].slots.is_empty());
        assert_eq!(saved.tensors[0].bf16_slots[0].len(), n);
        // A state saved with bf16 buffers names its storage in the spec.
        assert!(saved.spec.contains("state_dtype=bf16"), "{}", saved.spec);
        let mut resumed = build::<f32>(spec).unwrap();
        resumed.load_state(saved.clone()).unwrap();
        run(&mut resumed, &mut xr, &grads[3..]);
        assert!(
            xr.iter().zip(&xw).all(|(a, b)| a.to_bits() == b.to_bits()),
            "{spec}"
        );
        assert_eq!(resumed.state(), whole.state(), "{spec}");

        // Buffers in another type than the spec says are refused.
        let mut wrong = saved.clone();
        wrong.tensors[0].slots = vec![vec![0.0; n]; wrong.tensors[0].bf16_slots.len()];
        let e = build::<f32>(spec).unwrap().load_state(wrong).unwrap_err();
        assert!(e.to_string().contains("another type"), "{e}");
    }
}

#[test]
fn checkpoints_keep_bf16_buffers_as_bf16_tensors() {
    use crate::checkpoint::{Checkpoint, TensorDtype};
    let n = 300;
    let mut opt = build::<f64>("adam(lr=0.01, amsgrad=true, state_dtype=bf16)").unwrap();
    let mut x: Vec<f64> = values(n, 1);
    for s in 0..3 {
        let g = values(n, 30 + s);
        opt.step(&mut [Param::new("w", &mut x, &g)]).unwrap();
    }
    let state = opt.state();
    let mut c = Checkpoint::new(serde_json::Value::Null);
    state.to_checkpoint("optimizer", &mut c).unwrap();
    let bufs: Vec<_> = c
        .tensors
        .iter()
        .filter(|t| !t.name.ends_with("#scalars"))
        .collect();
    assert_eq!(bufs.len(), 3);
    assert!(bufs
        .iter()
        .all(|t| t.dtype() == TensorDtype::BF16 && t.shape == [n]));
    assert_eq!(state.checkpoint_tensor_names("optimizer").len(), 3);
    let back = Checkpoint::decode(&c.encode().unwrap()).unwrap();
    let loaded = crate::optim::OptimizerState::<f64>::from_checkpoint("optimizer", &back).unwrap();
    assert_eq!(loaded, state);
    loaded.check_tensors(&[("w", n)]).unwrap();
    assert!(loaded.check_tensors(&[("w", n + 1)]).is_err());
    // A resumed optimizer continues exactly.
    let mut resumed = build::<f64>(&loaded.spec).unwrap();
    resumed.load_state(loaded).unwrap();
    let mut y = x.clone();
    let g = values(n, 99);
    opt.step(&mut [Param::new("w", &mut x, &g)]).unwrap();
    resumed.step(&mut [Param::new("w", &mut y, &g)]).unwrap();
    assert!(x.iter().zip(&y).all(|(a, b)| a.to_bits() == b.to_bits()));
    // A bf16 tensor is not read as f64, nor an f64 one as bf16.
    let t = back
        .tensors
        .iter()
        .find(|t| t.name == "optimizer/w/exp_avg")
        .unwrap();
    assert!(t
        .to_vec::<f64>(&[n])
        .unwrap_err()
        .to_string()
        .contains("bf16"));
}
