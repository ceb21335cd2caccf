use super::*;
use crate::optim::test_support::values;
use crate::optim::{
    build, AdagradConfig, AdamConfig, AdamWConfig, AdamaxConfig, Elementwise, LionConfig,
    NAdamConfig, Optimizer, Param, RAdamConfig, RMSpropConfig, Rule, SgdConfig, StateDtype,
};

/// Normalized values to encode: every map value and midpoint with their neighbours,
/// both signs, and values spread over all the binades the maps span and beyond.
fn samples() -> Vec<f32> {
    let mut xs = vec![0.0, -0.0, 1.0, -1.0, 1.5, -1.5, 2.0, 1e-30, -1e-30, 1e-45];
    for c in [signed(), unsigned()] {
        for &v in c.values.iter().chain(&c.thr[..c.thr.len() - 1]) {
            for x in [
                v,
                f32::from_bits(v.to_bits().wrapping_sub(1)),
                f32::from_bits(v.to_bits() + 1),
            ] {
                xs.push(x);
                xs.push(-x);
            }
        }
    }
    // Both sides of every binade edge (the 512-bit encoder's decade tables change there).
    for e in -40..=1 {
        let x = 2f32.powi(e);
        for y in [
            x,
            f32::from_bits(x.to_bits() - 1),
            f32::from_bits(x.to_bits() + 1),
        ] {
            xs.push(y);
            xs.push(-y);
        }
    }
    for (k, v) in values(20_000, 4).into_iter().enumerate() {
        xs.push((v * 2f64.powi(-((k % 30) as i32))) as f32);
    }
    xs.into_iter().filter(|x| x.is_finite()).collect()
}

#[test]
fn the_maps_are_bitsandbytes_dynamic_maps() {
    for (c, smallest) in [(signed(), 0.55e-6), (unsigned(), 0.325e-6)] {
        assert!(c.values.windows(2).all(|w| w[0] < w[1]), "sorted, distinct");
        assert_eq!(c.values[255], 1.0);
        let zero = if c.signed { 127 } else { 0 };
        assert_eq!(c.values[zero], 0.0);
        assert_eq!(c.values[zero + 1], smallest as f32);
    }
    // The signed map is symmetric but for 1, which has no negative.
    let s = signed();
    assert_eq!(s.values[0], -s.values[254]);
    assert!((s.values[254] - (1.0 - 0.9 / 128.0)).abs() < 1e-7);
    // Top decade of the unsigned map: 128 midpoints of [0.1, 1].
    let u = unsigned();
    assert!((u.values[254] - (1.0 - 0.9 / 256.0)).abs() < 1e-7);
    assert!((u.values[127] - (0.1 + 0.9 / 256.0)).abs() < 1e-7);
}

#[test]
fn encoding_is_the_nearest_value_and_the_binary_search_away_from_midpoints() {
    for c in [signed(), unsigned()] {
        for &x in &samples() {
            let q = c.encode(x);
            // The binary search over the midpoints, but for values within a few ulps
            // of a midpoint, which either neighbour may take.
            let searched = c.encode_by_search(x);
            if q != searched {
                let m = c.thr[..c.thr.len() - 1]
                    .iter()
                    .map(|&t| (t as f64 - (x.abs() as f64)).abs())
                    .fold(f64::INFINITY, f64::min);
                assert!(
                    q.abs_diff(searched) == 1 && m <= x.abs() as f64 * 2f64.powi(-20),
                    "signed={} x={x:e}: {q} against {searched}",
                    c.signed
                );
            }
            // Nearest among the map's values (to the rounding of the midpoints).
            let target = if c.signed {
                x.clamp(-1.0, 1.0)
            } else {
                x.clamp(0.0, 1.0)
            } as f64;
            let err = (c.values[q as usize] as f64 - target).abs();
            let best = c
                .values
                .iter()
                .map(|&v| (v as f64 - target).abs())
                .fold(f64::INFINITY, f64::min);
            // A value within an ulp of a midpoint may go either way.
            let slack = (x.abs() as f64).min(1.0) * 2f64.powi(-20);
            assert!(err <= best + slack, "x={x:e}: {err:e} > {best:e}");
            if x.abs() <= 1.0 && (c.signed || x >= 0.0) {
                assert!(err <= c.max_error(), "x={x:e}: {err:e}");
            }
        }
    }
    assert!(signed().max_error() < 0.0071 && unsigned().max_error() < 0.0036);
}

#[test]
fn a_block_of_zeros_stores_zero_and_a_fresh_buffer_its_initial_value() {
    let mut codes = [9u8; 10];
    assert_eq!(signed().encode_block(&[0.0f32; 10], &mut codes), 0.0);
    assert!(codes.iter().all(|&q| signed().values[q as usize] == 0.0));
    let (codes, absmax) = fresh(unsigned(), 0.1f64, 600);
    assert_eq!((codes.len(), absmax.len()), (600, 3));
    let w: Vec<f64> = widen(unsigned(), &codes, &absmax);
    assert!(w.iter().all(|&v| v == (0.1f32 as f64)), "{:?}", &w[..3]);
}

/// The scalar reference of an 8-bit run: per block, the stored state is decoded,
/// updated element by element by the rule in `T`, and quantized again (absmax, then
/// the codes). Checks the error bound of each step's quantization.
#[allow(clippy::type_complexity)]
fn reference<R: Rule, T: Float>(
    rule: &R,
    x0: &[T],
    grads: &[Vec<T>],
    names: &[(String, usize, usize)],
) -> (Vec<T>, Vec<Vec<u8>>, Vec<Vec<f32>>) {
    let nslots = rule.slot_names().len();
    let codecs: Vec<&Codec> = rule.slot_names().iter().map(|n| codec_for(n)).collect();
    let mut x = x0.to_vec();
    let mut codes: Vec<Vec<u8>> = vec![Vec::new(); nslots];
    let mut scales: Vec<Vec<f32>> = vec![Vec::new(); nslots];
    for (_, lo, hi) in names {
        for k in 0..nslots {
            let (c, a) = fresh(codecs[k], T::of(rule.slot_init(k)), hi - lo);
            codes[k].extend(c);
            scales[k].extend(a);
        }
    }
    let mut scalars = rule.scalar_init();
    for (step, g) in grads.iter().enumerate() {
        let c = rule.coeffs::<T>(step as u64 + 1, &mut scalars);
        let mut block0 = 0; // first block of the tensor in `scales`
        for (_, lo, hi) in names {
            for (b, start) in (*lo..*hi).step_by(BLOCK).enumerate() {
                let end = (start + BLOCK).min(*hi);
                let mut st: Vec<Vec<T>> = (0..nslots)
                    .map(|k| {
                        let a = T::of(scales[k][block0 + b] as f64);
                        codes[k][start..end]
                            .iter()
                            .map(|&q| codecs[k].decode(q, a))
                            .collect()
                    })
                    .collect();
                for i in start..end {
                    let mut s: Vec<T> = st.iter().map(|v| v[i - start]).collect();
                    R::update(&c, &mut x[i], g[i], &mut s);
                    for (v, sk) in st.iter_mut().zip(s) {
                        v[i - start] = sk;
                    }
                }
                for k in 0..nslots {
                    let a = codecs[k].encode_block(&st[k], &mut codes[k][start..end]);
                    scales[k][block0 + b] = a;
                    // Each stored element is within the map's error of its exact value.
                    for (i, v) in st[k].iter().enumerate() {
                        let got = codecs[k].decode(codes[k][start + i], a as f64);
                        let bound = codecs[k].max_error() * a as f64;
                        assert!(
                            (got - v.f64()).abs() <= bound,
                            "{:e} stored as {got:e} (absmax {a:e})",
                            v.f64()
                        );
                    }
                }
            }
            block0 += blocks(hi - lo);
        }
    }
    (x, codes, scales)
}

/// Runs `rule` with 8-bit state in the engine; returns the parameters and the
/// stored codes and scales, tensor after tensor.
#[allow(clippy::type_complexity)]
fn engine<R: Rule, T: Float>(
    rule: &R,
    x0: &[T],
    grads: &[Vec<T>],
    names: &[(String, usize, usize)],
    threads: usize,
) -> (Vec<T>, Vec<Vec<u8>>, Vec<Vec<f32>>) {
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .build()
        .unwrap();
    pool.install(|| {
        let mut opt = Elementwise::<R, T>::with_state_dtype(rule.clone(), StateDtype::Q8).unwrap();
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
        let per_slot = |f: &dyn Fn(&crate::optim::TensorState<T>, usize) -> Vec<u8>| {
            (0..rule.slot_names().len())
                .map(|k| {
                    names
                        .iter()
                        .flat_map(|(name, _, _)| f(opt.tensor_state(name).unwrap(), k))
                        .collect()
                })
                .collect::<Vec<Vec<u8>>>()
        };
        let codes = per_slot(&|t, k| t.q8_slots[k].clone());
        let scales = (0..rule.slot_names().len())
            .map(|k| {
                names
                    .iter()
                    .flat_map(|(name, _, _)| opt.tensor_state(name).unwrap().q8_absmax[k].clone())
                    .collect()
            })
            .collect();
        (x, codes, scales)
    })
}

fn check<R: Rule, T: Float>(rule: R) {
    // 140 000 is more than two work items: chunks, two threads; 257 a partial block.
    for n in [1, 257, 1000, 140_000] {
        let x0: Vec<T> = values(n, 1).into_iter().map(T::of).collect();
        let grads: Vec<Vec<T>> = (0..5)
            .map(|s| values(n, 10 + s).into_iter().map(T::of).collect())
            .collect();
        for tensors in [1usize, 3] {
            let tensors = tensors.min(n);
            let names: Vec<(String, usize, usize)> = (0..tensors)
                .map(|t| (format!("t{t}"), t * n / tensors, (t + 1) * n / tensors))
                .collect();
            let want = reference(&rule, &x0, &grads, &names);
            for threads in [1, 2] {
                let got = engine(&rule, &x0, &grads, &names, threads);
                let what = format!("{rule:?} n={n} tensors={tensors} threads={threads}");
                assert!(
                    got.0
                        .iter()
                        .zip(&want.0)
                        .all(|(a, b)| a.f64().to_bits() == b.f64().to_bits()),
                    "{what}: params differ"
                );
                assert_eq!(got.1, want.1, "{what}: codes differ");
                assert!(
                    got.2
                        .iter()
                        .flatten()
                        .zip(want.2.iter().flatten())
                        .all(|(a, b)| a.to_bits() == b.to_bits()),
                    "{what}: scales differ"
                );
            }
        }
    }
}

fn check_both<R: Rule>(rule: R) {
    check::<R, f32>(rule.clone());
    check::<R, f64>(rule);
}

#[test]
fn q8_state_is_the_rule_on_the_decoded_block_quantized_again() {
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
fn q8_resumes_bit_exactly_through_a_checkpoint() {
    use crate::checkpoint::{Checkpoint, TensorDtype};
    for spec in [
        "adam(lr=0.01, amsgrad=true, state_dtype=q8)",
        "sgd(lr=0.1, momentum=0.9, state_dtype=q8)",
    ] {
        let n = 1000;
        let mut opt = build::<f64>(spec).unwrap();
        assert!(opt.spec().to_string().contains("state_dtype=q8"));
        let mut x: Vec<f64> = values(n, 1);
        for s in 0..3 {
            let g = values(n, 30 + s);
            opt.step(&mut [Param::new("w", &mut x, &g)]).unwrap();
        }
        let state = opt.state();
        let slots = state.slot_names.len();
        // One byte per element and one f32 per 256: 1000 + 4 × 4 bytes per slot.
        assert_eq!(state.buffer_bytes(), slots * (n + 4 * blocks(n)));
        let mut c = Checkpoint::new(serde_json::Value::Null);
        state.to_checkpoint("optimizer", &mut c).unwrap();
        let bufs: Vec<_> = c.tensors.iter().filter(|t| !t.name.contains("#")).collect();
        assert_eq!(bufs.len(), slots);
        assert!(bufs
            .iter()
            .all(|t| t.dtype() == TensorDtype::U8 && t.shape == [n]));
        let scales: Vec<_> = c
            .tensors
            .iter()
            .filter(|t| t.name.ends_with("#absmax"))
            .collect();
        assert_eq!(scales.len(), slots);
        assert!(scales
            .iter()
            .all(|t| t.dtype() == TensorDtype::F32 && t.shape == [4]));
        assert_eq!(
            state.checkpoint_tensor_names("optimizer").len(),
            c.tensors.len()
        );
        let back = Checkpoint::decode(&c.encode().unwrap()).unwrap();
        let loaded =
            crate::optim::OptimizerState::<f64>::from_checkpoint("optimizer", &back).unwrap();
        assert_eq!(loaded, state);
        loaded.check_tensors(&[("w", n)]).unwrap();
        assert!(loaded.check_tensors(&[("w", n + 1)]).is_err());
        let mut resumed = build::<f64>(&loaded.spec).unwrap();
        resumed.load_state(loaded.clone()).unwrap();
        let mut y = x.clone();
        for s in 0..3 {
            let g = values(n, 60 + s);
            opt.step(&mut [Param::new("w", &mut x, &g)]).unwrap();
            resumed.step(&mut [Param::new("w", &mut y, &g)]).unwrap();
        }
        assert!(
            x.iter().zip(&y).all(|(a, b)| a.to_bits() == b.to_bits()),
            "{spec}"
        );
        assert_eq!(opt.state(), resumed.state());
        // Scales that do not match the codes are refused, naming the tensor.
        let mut wrong = loaded.clone();
        wrong.tensors[0].q8_absmax[0].pop();
        let e = build::<f64>(spec).unwrap().load_state(wrong).unwrap_err();
        assert!(
            e.to_string().contains("'w'") && e.to_string().contains("block scales"),
            "{e}"
        );
        let mut wrong = loaded;
        wrong.tensors[0].bf16_slots = vec![vec![0; n]; slots];
        let e = build::<f64>(spec).unwrap().load_state(wrong).unwrap_err();
        assert!(e.to_string().contains("another type"), "{e}");
    }
}

#[test]
fn q8_is_accepted_where_bf16_is() {
    for name in [
        "adamw", "nadam", "radam", "adamax", "sgd", "rmsprop", "adagrad", "lion",
    ] {
        let spec = build::<f32>(&format!("{name}(state_dtype=q8)"))
            .unwrap()
            .spec()
            .to_string();
        assert!(spec.contains("state_dtype=q8"), "{spec}");
    }
    let e = build::<f32>("adadelta(state_dtype=q8)")
        .err()
        .unwrap()
        .to_string();
    assert!(e.contains("state_dtype") && e.contains("lion"), "{e}");
}

#[test]
fn the_widened_slot_is_the_decoded_state() {
    let mut opt =
        Elementwise::<AdamConfig, f32>::with_state_dtype(AdamConfig::default(), StateDtype::Q8)
            .unwrap();
    let mut x = vec![1.0f32; 300];
    let g: Vec<f32> = (0..300).map(|i| i as f32 / 300.0).collect();
    opt.step(&mut [Param::new("w", &mut x, &g)]).unwrap();
    let m = opt.slot_widened("w", "exp_avg").unwrap();
    // exp_avg = 0.1 g after one step: within the map's error of absmax.
    for (i, v) in m.iter().enumerate() {
        let exact = 0.1 * g[i] as f64;
        let absmax = if i < 256 {
            0.1 * 255.0 / 300.0
        } else {
            0.1 * 299.0 / 300.0
        };
        assert!(
            (*v as f64 - exact).abs() <= signed().max_error() * absmax * 1.001,
            "{i}"
        );
    }
}

#[test]
fn the_vectorized_block_codecs_equal_the_scalar_ones() {
    // Blocks of every length up to one block, over the samples and non-finite values:
    // whichever code path this CPU takes, it computes the scalar functions.
    let mut xs: Vec<f32> = samples().into_iter().map(|x| x * 3.5).collect();
    xs.extend([
        f32::NAN,
        f32::INFINITY,
        f32::NEG_INFINITY,
        f32::MAX,
        -f32::MAX,
        1e-40,
    ]);
    for c in [signed(), unsigned()] {
        let all: Vec<u8> = (0..=255).collect();
        let mut out = vec![0.0f32; 256];
        for absmax in [1.0f32, 0.37, 3e-20, 0.0] {
            c.decode_f32(&all, absmax, &mut out);
            for (q, o) in all.iter().zip(&out) {
                assert_eq!(
                    o.to_bits(),
                    (c.values[*q as usize] * absmax).to_bits(),
                    "{q}"
                );
            }
        }
        for (n, chunk) in xs.chunks(BLOCK).enumerate() {
            // Partial blocks too, and one block holding a NaN (its scale is NaN).
            let len = chunk.len() - n % 9;
            let v = &chunk[..len];
            let (mut fast, mut slow) = (vec![0u8; len], vec![0u8; len]);
            let a = c.encode_block_f32(v, &mut fast);
            let b = c.encode_block(v, &mut slow);
            // The scale from the largest sign-cleared bit pattern is the absmax.
            let known = scale_from_bits(v, b);
            let mut given = v.to_vec();
            let mut scaled = vec![0u8; len];
            c.encode_scaled_fast(&mut given, known, &mut scaled);
            assert_eq!(scaled, slow, "signed={} block {n}, scale given", c.signed);
            assert!(
                a.to_bits() == b.to_bits() || (a.is_nan() && b.is_nan()),
                "{a} {b}"
            );
            assert_eq!(fast, slow, "signed={} block {n}", c.signed);
        }
    }
}

#[cfg(target_arch = "x86_64")]
#[test]
fn both_compiled_simd_variants_equal_the_scalar_codecs() {
    // The AVX2 and the AVX-512F codecs, each where this CPU runs it, on every code and
    // on blocks of the samples (full and partial).
    use crate::cpu::{level, Level};
    let (avx2, avx512) = (level() >= Level::Avx2, level() >= Level::Avx512);
    type Decode = unsafe fn(&Codec, &[u8], f32, &mut [f32]);
    type Encode = unsafe fn(&Codec, &[f32], &mut [u8], Option<f32>) -> f32;
    let mut variants: Vec<(&str, Decode, Encode)> = Vec::new();
    if avx2 {
        variants.push(("avx2", simd::decode_avx2, simd::encode_block_avx2));
    }
    if avx512 {
        variants.push(("avx512", simd::decode_avx512, simd::encode_block_avx512));
    }
    let mut xs: Vec<f32> = samples().into_iter().map(|x| x * 0.73).collect();
    xs.extend([f32::INFINITY, -f32::MAX, 1e-40, -7.5]);
    for (name, decode, encode) in variants {
        for c in [signed(), unsigned()] {
            let all: Vec<u8> = (0..=255).collect();
            let mut out = vec![0.0f32; 256];
            for absmax in [1.0f32, 0.37, 3e-20] {
                // SAFETY: the CPU has the variant's features, checked above.
                unsafe { decode(c, &all, absmax, &mut out) };
                for (q, o) in all.iter().zip(&out) {
                    let want = c.values[*q as usize] * absmax;
                    assert_eq!(o.to_bits(), want.to_bits(), "{name} code {q}");
                }
            }
            for (n, chunk) in xs.chunks(BLOCK).enumerate() {
                let v = &chunk[..chunk.len() - n % 7];
                let (mut fast, mut slow) = (vec![0u8; v.len()], vec![0u8; v.len()]);
                // SAFETY: as above; `fast` is as long as `v`.
                let a = unsafe { encode(c, v, &mut fast, None) };
                let b = c.encode_block(v, &mut slow);
                assert!(a.to_bits() == b.to_bits() || (a.is_nan() && b.is_nan()));
                assert_eq!(fast, slow, "{name} signed={} block {n}", c.signed);
                // With the scale given, as the kernel's update loop finds it.
                let known = scale_from_bits(v, b);
                let mut given = vec![0u8; v.len()];
                // SAFETY: as above; `given` is as long as `v`.
                let k = unsafe { encode(c, v, &mut given, Some(known)) };
                assert!(k.to_bits() == known.to_bits() || k.is_nan());
                assert_eq!(given, slow, "{name} with its scale, block {n}");
            }
        }
    }
}

/// The scale the kernel's update loop gives the encoder for block `v` (from the
/// largest sign-cleared bit pattern), checked against `absmax`, the scalar codec's.
fn scale_from_bits(v: &[f32], absmax: f32) -> f32 {
    let bits = v
        .iter()
        .map(|x| x.to_bits() & 0x7FFF_FFFF)
        .max()
        .unwrap_or(0);
    let known = Codec::scale_of_bits(bits);
    assert!(
        known.to_bits() == absmax.to_bits() || (known.is_nan() && absmax.is_nan()),
        "scale {known} from the bits, absmax {absmax}"
    );
    known
}
