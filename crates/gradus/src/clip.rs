//! Gradient clipping, as torch.nn.utils.clip_grad_norm_ and clip_grad_value_.

use crate::error::{Error, Result};
use crate::float::Float;
use crate::optim::{GradScale, Optimizer, Param, StepOutcome};
use crate::spec::fmt_value;

/// Scales all gradients together so that their global norm is at most `max_norm`.
///
/// `norm_type` is `p` of the p-norm (2 by default in torch; `f64::INFINITY` for the
/// max-norm). As torch: `total = ‖(‖g_1‖_p, …, ‖g_k‖_p)‖_p`, then every gradient is
/// multiplied by `min(1, max_norm / (total + 1e-6))`. Returns the total norm before
/// clipping. A non-finite total norm leaves the gradients unchanged (and is returned,
/// so the caller's non-finite policy can act on it).
pub fn clip_grad_norm<T: Float>(
    grads: &mut [&mut [T]],
    max_norm: f64,
    norm_type: f64,
) -> Result<f64> {
    check_clip_norm(max_norm, norm_type)?;
    let total = total_norm(grads, norm_type);
    if !total.is_finite() {
        return Ok(total);
    }
    let coef = clip_coefficient(max_norm, total);
    if coef < 1.0 {
        let c = T::of(coef);
        for g in grads.iter_mut() {
            for x in g.iter_mut() {
                *x = *x * c;
            }
        }
    }
    Ok(total)
}

/// The global p-norm of all gradients, computed as torch does: the p-norm of the
/// per-tensor p-norms.
///
/// Each tensor is summed in chunks of 65 536 elements (in parallel on the
/// current rayon pool when the gradients are large), each chunk over
/// 8 interleaved f64 accumulators so that the sum vectorizes; the chunk
/// sums are added in order. The order of the additions is fixed by the lengths alone,
/// so the result does not depend on the number of threads. A NaN or ±inf gradient
/// makes the norm non-finite, which is how [`step_clipped`] detects them in the same
/// pass.
pub fn total_norm<T: Float>(grads: &[&mut [T]], norm_type: f64) -> f64 {
    let views: Vec<&[T]> = grads.iter().map(|g| &g[..]).collect();
    total_norm_of(&views, norm_type)
}

/// Elements per chunk of the norm's sum (the unit of parallel work).
const NORM_CHUNK: usize = 1 << 16;
/// Interleaved accumulators of a chunk's sum.
const NORM_LANES: usize = 8;

/// [`total_norm`] of read-only gradients.
pub fn total_norm_of<T: Float>(grads: &[&[T]], norm_type: f64) -> f64 {
    let total: usize = grads.iter().map(|g| g.len()).sum();
    // (tensor, chunk) pairs, in order.
    let chunks: Vec<(usize, &[T])> = grads
        .iter()
        .enumerate()
        .flat_map(|(t, g)| g.chunks(NORM_CHUNK).map(move |c| (t, c)))
        .collect();
    let reduce = |c: &[T]| -> f64 {
        if norm_type.is_infinite() {
            max_abs(c)
        } else if norm_type == 2.0 {
            sum_squares(c)
        } else {
            // `powf` per element dominates: no need for lanes.
            c.iter().map(|x| x.f64().abs().powf(norm_type)).sum()
        }
    };
    let parts: Vec<f64> = if total >= NORM_CHUNK && rayon::current_num_threads() > 1 {
        use rayon::prelude::*;
        chunks.par_iter().map(|(_, c)| reduce(c)).collect()
    } else {
        chunks.iter().map(|(_, c)| reduce(c)).collect()
    };
    let mut per_tensor = vec![0.0f64; grads.len()];
    for ((t, _), part) in chunks.iter().zip(parts) {
        per_tensor[*t] = if norm_type.is_infinite() {
            nan_max(per_tensor[*t], part)
        } else {
            per_tensor[*t] + part
        };
    }
    if norm_type.is_infinite() {
        return per_tensor.into_iter().fold(0.0f64, nan_max);
    }
    per_tensor
        .into_iter()
        .map(|s| {
            // The tensor's norm, then its p-th power, as torch stacks the norms.
            let n = if norm_type == 2.0 {
                s.sqrt()
            } else {
                s.powf(1.0 / norm_type)
            };
            n.powf(norm_type)
        })
        .sum::<f64>()
        .powf(1.0 / norm_type)
}

/// The larger of two magnitudes, NaN if either is.
fn nan_max(m: f64, a: f64) -> f64 {
    if a.is_nan() || m.is_nan() {
        f64::NAN
    } else {
        m.max(a)
    }
}

/// Σ x², in f64, over [`NORM_LANES`] interleaved accumulators.
#[inline(always)]
fn sum_squares_plain<T: Float>(c: &[T]) -> f64 {
    let mut acc = [0.0f64; NORM_LANES];
    let mut it = c.chunks_exact(NORM_LANES);
    for block in &mut it {
        for k in 0..NORM_LANES {
            let x = block[k].f64();
            acc[k] += x * x;
        }
    }
    for (k, x) in it.remainder().iter().enumerate() {
        let x = x.f64();
        acc[k] += x * x;
    }
    acc.iter().sum()
}

/// max |x| over a chunk, NaN if any element is.
#[inline(always)]
fn max_abs_plain<T: Float>(c: &[T]) -> f64 {
    let mut m = [0.0f64; NORM_LANES];
    let mut nan = false;
    let mut it = c.chunks_exact(NORM_LANES);
    for block in &mut it {
        for k in 0..NORM_LANES {
            let a = block[k].f64().abs();
            nan |= a.is_nan();
            m[k] = if a > m[k] { a } else { m[k] };
        }
    }
    for x in it.remainder() {
        let a = x.f64().abs();
        nan |= a.is_nan();
        m[0] = if a > m[0] { a } else { m[0] };
    }
    if nan {
        f64::NAN
    } else {
        m.iter().fold(0.0f64, |a, &b| a.max(b))
    }
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
unsafe fn sum_squares_avx2<T: Float>(c: &[T]) -> f64 {
    sum_squares_plain(c)
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
unsafe fn max_abs_avx2<T: Float>(c: &[T]) -> f64 {
    max_abs_plain(c)
}

fn sum_squares<T: Float>(c: &[T]) -> f64 {
    #[cfg(target_arch = "x86_64")]
    {
        if crate::cpu::level() >= crate::cpu::Level::Avx2 {
            // SAFETY: the CPU supports AVX2, checked just above.
            return unsafe { sum_squares_avx2(c) };
        }
    }
    sum_squares_plain(c)
}

fn max_abs<T: Float>(c: &[T]) -> f64 {
    #[cfg(target_arch = "x86_64")]
    {
        if crate::cpu::level() >= crate::cpu::Level::Avx2 {
            // SAFETY: the CPU supports AVX2, checked just above.
            return unsafe { max_abs_avx2(c) };
        }
    }
    max_abs_plain(c)
}

/// `clip_grad_norm_` followed by `optimizer.step()`, in at most one extra read of the
/// gradients: the norm pass, which also finds non-finite gradients (their norm is not
/// finite), then the step with the clip coefficient applied inside the update (the
/// element-wise engine multiplies in its kernel and skips its own non-finite scan; the
/// gradients are never rewritten). The result is bit for bit that of
/// [`clip_grad_norm`] then [`Optimizer::step`].
///
/// A non-finite norm leaves the gradients unscaled and the step to the optimizer's
/// non-finite policy, as [`clip_grad_norm`] does. Closure optimizers re-evaluate their
/// gradients, so clip them with [`clip_grad_norm`] and `step_with`. Returns the
/// outcome and the total norm before clipping.
pub fn step_clipped<T: Float>(
    opt: &mut dyn Optimizer<T>,
    params: &mut [Param<'_, T>],
    max_norm: f64,
    norm_type: f64,
) -> Result<(StepOutcome, f64)> {
    check_clip_norm(max_norm, norm_type)?;
    let grads: Vec<&[T]> = params.iter().map(|p| p.grad).collect();
    let total = total_norm_of(&grads, norm_type);
    let scale = if total.is_finite() {
        GradScale::verified(clip_coefficient(max_norm, total))
    } else {
        GradScale::ONE
    };
    Ok((opt.step_scaled(params, scale)?, total))
}

/// torch's `clip_coef_clamped`: `min(1, max_norm / (total + 1e-6))`.
fn clip_coefficient(max_norm: f64, total: f64) -> f64 {
    (max_norm / (total + 1e-6)).min(1.0)
}

fn check_clip_norm(max_norm: f64, norm_type: f64) -> Result<()> {
    if !(max_norm.is_finite() && max_norm >= 0.0) {
        return Err(Error::invalid(
            "clip_grad_norm",
            "max_norm",
            fmt_value(max_norm),
            "a finite number >= 0",
        ));
    }
    if norm_type.is_nan() || norm_type <= 0.0 {
        return Err(Error::invalid(
            "clip_grad_norm",
            "norm_type",
            fmt_value(norm_type),
            "a number > 0 or inf",
        ));
    }
    Ok(())
}

/// Clamps every gradient element to `[-clip_value, clip_value]`.
pub fn clip_grad_value<T: Float>(grads: &mut [&mut [T]], clip_value: f64) -> Result<()> {
    if !(clip_value.is_finite() && clip_value >= 0.0) {
        return Err(Error::invalid(
            "clip_grad_value",
            "clip_value",
            fmt_value(clip_value),
            "a finite number >= 0",
        ));
    }
    let hi = T::of(clip_value);
    let lo = -hi;
    for g in grads.iter_mut() {
        for x in g.iter_mut() {
            // NaN stays NaN, as torch.clamp.
            if *x > hi {
                *x = hi;
            } else if *x < lo {
                *x = lo;
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn norm_clipping_by_hand() {
        // ‖(3, 4)‖ = 5, ‖(12)‖ = 12: total = 13; max 6.5 → scale 6.5/(13 + 1e-6)
        let mut a = vec![3.0f64, 4.0];
        let mut b = vec![12.0f64];
        let total = clip_grad_norm(&mut [&mut a[..], &mut b[..]], 6.5, 2.0).unwrap();
        assert!((total - 13.0).abs() < 1e-12);
        let s = 6.5 / (13.0 + 1e-6);
        assert_eq!(a, vec![3.0 * s, 4.0 * s]);
        assert_eq!(b, vec![12.0 * s]);
        // Below the limit nothing changes.
        let mut c = vec![0.3f64, 0.4];
        clip_grad_norm(&mut [&mut c[..]], 1.0, 2.0).unwrap();
        assert_eq!(c, vec![0.3, 0.4]);
    }

    #[test]
    fn inf_norm_and_value_clipping() {
        let mut a = vec![-3.0f32, 1.0];
        assert_eq!(total_norm(&[&mut a[..]], f64::INFINITY), 3.0);
        clip_grad_value(&mut [&mut a[..]], 2.0).unwrap();
        assert_eq!(a, vec![-2.0, 1.0]);
        assert!(clip_grad_value(&mut [&mut a[..]], f64::NAN).is_err());
        assert!(clip_grad_norm(&mut [&mut a[..]], -1.0, 2.0).is_err());
        assert!(clip_grad_norm(&mut [&mut a[..]], 1.0, 0.0).is_err());
    }

    /// Deterministic values in (-1, 1).
    fn values(n: usize, seed: u64) -> Vec<f64> {
        let mut x = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
        (0..n)
            .map(|_| {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                (x >> 11) as f64 / (1u64 << 52) as f64 - 1.0
            })
            .collect()
    }

    fn pool(threads: usize) -> rayon::ThreadPool {
        rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .build()
            .unwrap()
    }

    #[test]
    fn the_norm_does_not_depend_on_threads_and_matches_a_plain_sum() {
        let a = values(3 * NORM_CHUNK + 11, 1);
        let b = values(7, 2);
        for p in [2.0, 1.0, 3.0, f64::INFINITY] {
            let norms: Vec<f64> = [1, 2]
                .iter()
                .map(|&t| pool(t).install(|| total_norm_of(&[&a[..], &b[..]], p)))
                .collect();
            assert_eq!(norms[0].to_bits(), norms[1].to_bits(), "p={p}");
            let plain = if p.is_infinite() {
                a.iter().chain(&b).fold(0.0f64, |m, x| m.max(x.abs()))
            } else {
                let t = |g: &[f64]| g.iter().map(|x| x.abs().powf(p)).sum::<f64>();
                (t(&a) + t(&b)).powf(1.0 / p)
            };
            assert!((norms[0] - plain).abs() <= 1e-12 * plain, "p={p}");
        }
    }

    #[test]
    fn a_nonfinite_gradient_makes_the_norm_nonfinite() {
        for p in [2.0, 1.5, f64::INFINITY] {
            for bad in [f32::NAN, f32::INFINITY, f32::NEG_INFINITY] {
                let mut g: Vec<f32> = values(NORM_CHUNK + 9, 4)
                    .iter()
                    .map(|&x| x as f32)
                    .collect();
                g[NORM_CHUNK + 3] = bad;
                let n = pool(2).install(|| total_norm_of(&[&[1.0f32][..], &g[..]], p));
                assert!(!n.is_finite(), "p={p} bad={bad}");
            }
        }
    }

    /// `clip_grad_norm` then `step` against `step_clipped`, element for element.
    fn check_fused<T: Float>(spec: &str, max_norm: f64, threads: usize) {
        let sizes = [5usize, 1000, 2 * NORM_CHUNK + 7];
        let names = ["a", "b", "c"];
        let x0: Vec<Vec<T>> = sizes
            .iter()
            .enumerate()
            .map(|(i, &n)| values(n, i as u64).into_iter().map(T::of).collect())
            .collect();
        let grads: Vec<Vec<Vec<T>>> = (0..3u64)
            .map(|s| {
                sizes
                    .iter()
                    .enumerate()
                    .map(|(i, &n)| {
                        values(n, 10 * s + i as u64)
                            .into_iter()
                            .map(T::of)
                            .collect()
                    })
                    .collect()
            })
            .collect();
        pool(threads).install(|| {
            let mut separate = crate::optim::build::<T>(spec).unwrap();
            let mut fused = crate::optim::build::<T>(spec).unwrap();
            let (mut xs, mut xf) = (x0.clone(), x0.clone());
            for g in &grads {
                let mut gc = g.clone();
                let mut views: Vec<&mut [T]> = gc.iter_mut().map(|v| &mut v[..]).collect();
                let n1 = clip_grad_norm(&mut views, max_norm, 2.0).unwrap();
                let mut ps: Vec<Param<'_, T>> = xs
                    .iter_mut()
                    .zip(&gc)
                    .zip(names)
                    .map(|((x, g), n)| Param::new(n, x, g))
                    .collect();
                separate.step(&mut ps).unwrap();
                let mut pf: Vec<Param<'_, T>> = xf
                    .iter_mut()
                    .zip(g)
                    .zip(names)
                    .map(|((x, g), n)| Param::new(n, x, g))
                    .collect();
                let (outcome, n2) = step_clipped(fused.as_mut(), &mut pf, max_norm, 2.0).unwrap();
                assert_eq!(outcome, StepOutcome::Applied);
                assert_eq!(n1.to_bits(), n2.to_bits());
            }
            let bits = |v: &[Vec<T>]| -> Vec<u64> {
                v.iter().flatten().map(|x| x.f64().to_bits()).collect()
            };
            assert!(
                bits(&xs) == bits(&xf),
                "{spec} max_norm={max_norm} threads={threads}: params differ"
            );
            assert!(
                separate.state() == fused.state(),
                "{spec} max_norm={max_norm} threads={threads}: state differs"
            );
        });
    }

    #[test]
    fn a_clipped_step_equals_clip_grad_norm_then_step_bit_for_bit() {
        // The gradients' norm is about 290: 0.5 clips, 1e4 does not.
        for spec in [
            "adam(lr=0.01)",
            "adamw(lr=0.01, amsgrad=true)",
            "sgd(lr=0.1, momentum=0.9)",
            "sgd(lr=0.1)",
            "rmsprop(lr=0.01, centered=true)",
            "adagrad",
            "lion(lr=0.001)",
            "nadam",
            "adamax",
            "rprop",
        ] {
            for max_norm in [0.5, 1e4] {
                for threads in [1, 2] {
                    check_fused::<f32>(spec, max_norm, threads);
                    check_fused::<f64>(spec, max_norm, threads);
                }
            }
        }
    }

    #[test]
    fn a_clipped_step_applies_the_nonfinite_policy() {
        use crate::optim::NonFinitePolicy;
        let mut x = vec![1.0f32; 2 * NORM_CHUNK];
        let mut g = vec![0.5f32; 2 * NORM_CHUNK];
        g[NORM_CHUNK + 1] = f32::NAN;
        pool(2).install(|| {
            let mut opt = crate::optim::build::<f32>("adam(lr=0.1)").unwrap();
            let e = step_clipped(opt.as_mut(), &mut [Param::new("x", &mut x, &g)], 1.0, 2.0)
                .unwrap_err();
            assert!(e.to_string().contains("'x'"), "{e}");
            assert!(x.iter().all(|&v| v == 1.0));
            opt.set_nonfinite_policy(NonFinitePolicy::Skip);
            let (outcome, norm) =
                step_clipped(opt.as_mut(), &mut [Param::new("x", &mut x, &g)], 1.0, 2.0).unwrap();
            assert_eq!(outcome, StepOutcome::Skipped);
            assert!(norm.is_nan());
            assert_eq!(opt.skipped_steps(), 1);
            assert!(x.iter().all(|&v| v == 1.0));
            assert!(step_clipped(opt.as_mut(), &mut [], -1.0, 2.0).is_err());
        });
    }
}
