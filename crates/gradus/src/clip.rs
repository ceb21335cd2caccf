//! Gradient clipping, as torch.nn.utils.clip_grad_norm_ and clip_grad_value_.

use crate::error::{Error, Result};
use crate::float::Float;
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
    let total = total_norm(grads, norm_type);
    if !total.is_finite() {
        return Ok(total);
    }
    let coef = (max_norm / (total + 1e-6)).min(1.0);
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
pub fn total_norm<T: Float>(grads: &[&mut [T]], norm_type: f64) -> f64 {
    if norm_type.is_infinite() {
        return grads.iter().flat_map(|g| g.iter()).fold(0.0f64, |m, x| {
            let a = x.f64().abs();
            if a.is_nan() || m.is_nan() {
                f64::NAN
            } else {
                m.max(a)
            }
        });
    }
    let per_tensor = grads.iter().map(|g| {
        if norm_type == 2.0 {
            // The common case without a `powf` per element (≈20× faster).
            let s: f64 = g.iter().map(|x| x.f64() * x.f64()).sum();
            s.sqrt()
        } else {
            let s: f64 = g.iter().map(|x| x.f64().abs().powf(norm_type)).sum();
            s.powf(1.0 / norm_type)
        }
    });
    per_tensor
        .map(|n| n.powf(norm_type))
        .sum::<f64>()
        .powf(1.0 / norm_type)
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
}
