//! Softmax cross-entropy, computed stably.

use gradus::Float;

/// The cross-entropy −log softmax(z)[label] = logsumexp(z) − z[label], computed with the
/// maximum subtracted so no exponential overflows; writes its gradient
/// softmax(z) − onehot(label) into `dz`.
#[inline]
pub(crate) fn softmax_cross_entropy<T: Float>(z: &[T], label: usize, dz: &mut [T]) -> T {
    let max = z.iter().fold(T::neg_infinity(), |m, &v| m.max(v));
    let mut sum = T::zero();
    for (d, &v) in dz.iter_mut().zip(z) {
        *d = (v - max).exp();
        sum = sum + *d;
    }
    for d in dz.iter_mut() {
        *d = *d / sum;
    }
    dz[label] = dz[label] - T::one();
    sum.ln() + max - z[label]
}

/// The cross-entropy alone (see [`softmax_cross_entropy`]).
#[inline]
pub(crate) fn cross_entropy<T: Float>(z: &[T], label: usize) -> T {
    let max = z.iter().fold(T::neg_infinity(), |m, &v| m.max(v));
    let sum = z.iter().fold(T::zero(), |s, &v| s + (v - max).exp());
    sum.ln() + max - z[label]
}

/// Index of the largest logit (the first, on ties).
#[inline]
pub(crate) fn argmax<T: Float>(z: &[T]) -> usize {
    let mut best = 0;
    for (i, &v) in z.iter().enumerate() {
        if v > z[best] {
            best = i;
        }
    }
    best
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn large_logits_do_not_overflow() {
        let z = [1000.0f64, 0.0, -1000.0];
        let mut dz = [0.0; 3];
        let l = softmax_cross_entropy(&z, 0, &mut dz);
        assert!(l.abs() < 1e-12);
        assert_eq!(cross_entropy(&z, 1), 1000.0);
        // Hand-computed: uniform logits give log(3) and gradient 1/3 − onehot.
        let l = softmax_cross_entropy(&[2.0f64, 2.0, 2.0], 1, &mut dz);
        assert!((l - 3f64.ln()).abs() < 1e-15);
        assert!((dz[1] + 2.0 / 3.0).abs() < 1e-15 && (dz[0] - 1.0 / 3.0).abs() < 1e-15);
    }
}
