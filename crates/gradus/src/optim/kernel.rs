//! The hot loop: one pass over each tensor, vectorized, split across threads.
//!
//! Rules are plain scalar code; the loop here is written so the compiler vectorizes
//! it. Rust never contracts `a * b + c` into a fused multiply-add on its own, so the
//! vectorized code computes exactly what the scalar code does, bit for bit, whatever
//! the instruction set and however the tensor is split between threads.

use super::engine::{Rule, TensorState};
use super::Param;
use crate::float::Float;

/// Tensors at least this long are split across threads.
pub(crate) const PAR_THRESHOLD: usize = 1 << 16;
/// Elements per parallel work item.
const PAR_CHUNK: usize = 1 << 14;

/// Index of the first NaN or ±inf in `g`.
pub(crate) fn first_nonfinite<T: Float>(g: &[T]) -> Option<usize> {
    // A branch-free sum tells quickly whether anything is non-finite: 0·x is ±0 for
    // finite x and NaN otherwise.
    let mut acc = T::zero();
    for &x in g {
        acc = acc + x * T::zero();
    }
    if acc == T::zero() {
        None
    } else {
        g.iter().position(|x| !x.is_finite())
    }
}

/// Applies `rule` to every param (with state `tensors[slots_of[i]]`).
pub(crate) fn run<R: Rule, T: Float>(
    rule: &R,
    params: &mut [Param<'_, T>],
    slots_of: &[usize],
    tensors: &mut [TensorState<T>],
) {
    for (p, &idx) in params.iter_mut().zip(slots_of) {
        let t = &mut tensors[idx];
        t.step += 1;
        let c = rule.coeffs::<T>(t.step, &mut t.scalars);
        // A tensor may keep more slots than the rule uses now (SGD whose momentum a
        // schedule switched off keeps its buffer, as torch does).
        let n = rule.slot_names().len();
        sweep_tensor::<R, T>(&c, p.value, p.grad, &mut t.slots[..n]);
    }
}

fn sweep_tensor<R: Rule, T: Float>(c: &R::Coeffs<T>, p: &mut [T], g: &[T], slots: &mut [Vec<T>]) {
    match slots {
        [] => par_sweep::<R, T, 0>(c, p, g, []),
        [a] => par_sweep::<R, T, 1>(c, p, g, [a]),
        [a, b] => par_sweep::<R, T, 2>(c, p, g, [a, b]),
        [a, b, d] => par_sweep::<R, T, 3>(c, p, g, [a, b, d]),
        [a, b, d, e] => par_sweep::<R, T, 4>(c, p, g, [a, b, d, e]),
        _ => unreachable!("rules have at most 4 state slots"),
    }
}

fn par_sweep<R: Rule, T: Float, const N: usize>(
    c: &R::Coeffs<T>,
    p: &mut [T],
    g: &[T],
    s: [&mut [T]; N],
) {
    if p.len() < PAR_THRESHOLD.max(2 * PAR_CHUNK) {
        sweep::<R, T, N>(c, p, g, s);
        return;
    }
    let mid = (p.len() / 2).next_multiple_of(64).min(p.len());
    let (p1, p2) = p.split_at_mut(mid);
    let (g1, g2) = g.split_at(mid);
    let mut halves = s.map(|x| {
        let (a, b) = x.split_at_mut(mid);
        (Some(a), Some(b))
    });
    let s1: [&mut [T]; N] = std::array::from_fn(|k| halves[k].0.take().expect("split"));
    let s2: [&mut [T]; N] = std::array::from_fn(|k| halves[k].1.take().expect("split"));
    rayon::join(
        || par_sweep::<R, T, N>(c, p1, g1, s1),
        || par_sweep::<R, T, N>(c, p2, g2, s2),
    );
}

/// Dispatches to the widest instruction set this CPU has.
fn sweep<R: Rule, T: Float, const N: usize>(
    c: &R::Coeffs<T>,
    p: &mut [T],
    g: &[T],
    s: [&mut [T]; N],
) {
    #[cfg(target_arch = "x86_64")]
    {
        if std::is_x86_feature_detected!("avx512f") {
            // SAFETY: the CPU supports AVX-512F, checked just above.
            return unsafe { sweep_avx512::<R, T, N>(c, p, g, s) };
        }
        if std::is_x86_feature_detected!("avx2") && std::is_x86_feature_detected!("fma") {
            // SAFETY: the CPU supports AVX2, checked just above.
            return unsafe { sweep_avx2::<R, T, N>(c, p, g, s) };
        }
    }
    sweep_plain::<R, T, N>(c, p, g, s)
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f")]
unsafe fn sweep_avx512<R: Rule, T: Float, const N: usize>(
    c: &R::Coeffs<T>,
    p: &mut [T],
    g: &[T],
    s: [&mut [T]; N],
) {
    sweep_plain::<R, T, N>(c, p, g, s)
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
unsafe fn sweep_avx2<R: Rule, T: Float, const N: usize>(
    c: &R::Coeffs<T>,
    p: &mut [T],
    g: &[T],
    s: [&mut [T]; N],
) {
    sweep_plain::<R, T, N>(c, p, g, s)
}

/// The scalar reference loop; inlined into each instruction-set variant.
#[inline(always)]
pub(crate) fn sweep_plain<R: Rule, T: Float, const N: usize>(
    c: &R::Coeffs<T>,
    p: &mut [T],
    g: &[T],
    mut s: [&mut [T]; N],
) {
    let n = p.len();
    let g = &g[..n];
    for k in 0..N {
        s[k] = &mut std::mem::take(&mut s[k])[..n];
    }
    for i in 0..n {
        let mut st = [T::zero(); N];
        for k in 0..N {
            st[k] = s[k][i];
        }
        R::update(c, &mut p[i], g[i], &mut st);
        for k in 0..N {
            s[k][i] = st[k];
        }
    }
}
