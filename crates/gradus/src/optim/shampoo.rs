//! Shampoo: one preconditioner per tensor axis, applied as inverse matrix roots.
//!
//! # Update rule (pytorch-optimizer 4.1.0, `Shampoo`)
//! For a tensor of order `n` (a matrix has `n = 2`, a vector `n = 1`), with `g` the
//! gradient (negated when `maximize`) and `t` counting steps from the tensor's first:
//!
//! ```text
//! step 1:  L_k ← matrix_eps·I for every axis k;  b ← g (before negation) if momentum > 0
//! g ← lerp(g, b, momentum)                      if momentum > 0
//! θ ← θ·(1 − weight_decay·lr)                   if weight_decouple (·1 instead of ·lr if fixed_decay)
//! g ← g + weight_decay·θ                        otherwise
//! for each axis k = 0 … n−1:
//!   L_k ← L_k + g₍ₖ₎ g₍ₖ₎ᵀ                       (pre_cond_k; g₍ₖ₎ the axis-k unfolding)
//!   R_k ← L_k^(−1/(2n)) by SVD                  every preconditioning_compute_steps-th t (inv_pre_cond_k, else kept; zero at first)
//! u ← g ×₀ R₀ ×₁ R₁ … ×ₙ₋₁ R_{n−1}ᵀ              (the last axis multiplied from the right)
//! b ← u;  θ ← θ − lr·u
//! ```
//! For a matrix `G` this is `L^(−1/4) G R^(−1/4)`. Until the first step divisible by
//! `preconditioning_compute_steps` the roots are zero, so the parameters stay put.
//!
//! Defaults (the reference's): `lr=1e-3, momentum=0, weight_decay=0,
//! weight_decouple=false, fixed_decay=false, preconditioning_compute_steps=1,
//! matrix_eps=1e-6, maximize=false`.
//!
//! # References
//! Gupta, Koren & Singer, *Shampoo: Preconditioned Stochastic Tensor Optimization*,
//! ICML 2018 (arXiv:1802.09568). The reference implementation is
//! `pytorch_optimizer.Shampoo` (pytorch-optimizer 4.1.0). Not its `ScalableShampoo`
//! (blocking, grafting; the AlgoPerf winner is Meta's Distributed Shampoo, further
//! still).
//!
//! # Where gradus and the reference differ
//! * The statistics are the preconditioned gradient's predecessor `g` after momentum
//!   and decay, and the momentum buffer holds the preconditioned `u`: both as the
//!   reference (the paper's Shampoo has no momentum).
//! * The inverse roots come from nalgebra's SVD instead of LAPACK's; the result does
//!   not depend on singular-vector signs or on a basis within a repeated singular
//!   value, so the two agree to rounding (a few 1e-15 relative, more where `L_k` is
//!   ill-conditioned: small `matrix_eps` with rank-deficient gradients).
//! * For an `f32` tensor the SVD runs in `f64` (the reference: `f32`).
//! * The reference keeps `pre_cond_0`, `pre_cond_1`, … as separate state entries;
//!   gradus keeps them concatenated in axis order in one slot `pre_cond` (and
//!   `inv_pre_cond`).
//!
//! ```
//! use gradus::optim::{build, Param};
//! let mut opt = build::<f64>("shampoo(lr=0.1)").unwrap();
//! // f(W) = ½‖W − 1‖² for a 2 × 3 matrix.
//! let mut w = vec![0.0; 6];
//! for _ in 0..200 {
//!     let g: Vec<f64> = w.iter().map(|x| x - 1.0).collect();
//!     opt.step(&mut [Param::with_shape("w", &mut w, &g, &[2, 3])]).unwrap();
//! }
//! // From 0 toward 1: 80 % of the way after 200 steps (the preconditioner's inverse
//! // fourth roots shrink the steps as the statistics grow).
//! assert!(w.iter().all(|x| (x - 1.0).abs() < 0.25));
//! ```

use super::blocks::{add_scaled, grad_in, lerp};
use super::kronecker::{inverse_root_svd, mode_gram, mode_product};
use super::tensorwise::{PerTensor, TensorRule, TensorStep};
use crate::error::Result;
use crate::float::Float;

crate::hyperparameters! {
    /// Hyperparameters of [`Shampoo`], with the reference's (pytorch-optimizer 4.1.0) names and defaults.
    #[derive(Copy)]
    pub struct ShampooConfig("shampoo", "one preconditioner per tensor axis, applied as inverse matrix roots (Gupta et al. 2018), exact to pytorch-optimizer 4.1.0") {
        /// Learning rate.
        lr: f64 = 1e-3, NONNEG, log;
        /// Momentum factor (lerp of the gradient toward the last update).
        momentum: f64 = 0.0, UNIT_OPEN;
        /// Weight decay: L2, or decoupled when weight_decouple.
        weight_decay: f64 = 0.0, NONNEG, log;
        /// Decay the weights directly instead of adding to the gradient.
        weight_decouple: bool = false, NONE;
        /// Decoupled decay not scaled by the learning rate.
        fixed_decay: bool = false, NONE;
        /// Steps between recomputations of the inverse roots.
        preconditioning_compute_steps: u64 = 1, at_least(1.0);
        /// Initial diagonal of each preconditioner (keeps the roots finite).
        matrix_eps: f64 = 1e-6, NONNEG, log;
        /// Maximize the objective instead of minimizing it.
        maximize: bool = false, NONE;
    }
}

/// Shampoo: see the [module docs](self).
pub type Shampoo<T> = PerTensor<ShampooConfig, T>;

/// Offsets of each axis's `d × d` matrix in the packed `pre_cond`/`inv_pre_cond` slots.
fn blocks(shape: &[usize]) -> impl Iterator<Item = (usize, usize, usize)> + '_ {
    shape.iter().enumerate().scan(0, |offset, (k, &d)| {
        let at = *offset;
        *offset += d * d;
        Some((k, d, at))
    })
}

impl TensorRule for ShampooConfig {
    super::table::config_accessors!(momentum = momentum);

    fn slot_names(&self) -> &'static [&'static str] {
        &["momentum_buffer", "pre_cond", "inv_pre_cond"]
    }

    fn slot_shapes(&self, _name: &str, shape: &[usize]) -> Result<Vec<Vec<usize>>> {
        let packed = shape.iter().map(|d| d * d).sum();
        Ok(vec![shape.to_vec(), vec![packed], vec![packed]])
    }

    fn update<T: Float>(&self, t: &mut TensorStep<'_, T>, _globals: &[f64]) {
        let [buf, pre, inv] = &mut *t.slots else {
            return;
        };
        let shape = t.shape;
        if t.step == 1 {
            let eps = T::of(self.matrix_eps);
            for (_, d, off) in blocks(shape) {
                for i in 0..d {
                    pre[off + i * d + i] = eps;
                }
            }
            if self.momentum > 0.0 {
                buf.copy_from_slice(t.grad);
            }
        }
        let decoupled = self.weight_decouple && self.weight_decay != 0.0;
        let l2 = if self.weight_decouple || self.weight_decay <= 0.0 {
            T::zero()
        } else {
            T::of(self.weight_decay)
        };
        if decoupled {
            let scale = if self.fixed_decay { 1.0 } else { self.lr };
            let decay = T::of(1.0 - self.weight_decay * scale);
            t.value.iter_mut().for_each(|p| *p = *p * decay);
        }
        let momentum = T::of(self.momentum);
        let g: Vec<T> = t
            .grad
            .iter()
            .zip(buf.iter())
            .zip(t.value.iter())
            .map(|((&g, &b), &p)| {
                let g = if self.maximize { -g } else { g };
                let g = if self.momentum > 0.0 {
                    lerp(g, b, momentum)
                } else {
                    g
                };
                grad_in(g, p, false, l2)
            })
            .collect();
        let order = shape.len();
        let recompute = t.step.is_multiple_of(self.preconditioning_compute_steps);
        let mut u = g.clone();
        for (k, d, off) in blocks(shape) {
            let stats = mode_gram(&g, shape, k);
            let l = &mut pre[off..off + d * d];
            l.iter_mut().zip(stats).for_each(|(l, s)| *l = *l + s);
            if recompute {
                inv[off..off + d * d].copy_from_slice(&inverse_root_svd(l, d, 2.0 * order as f64));
            }
            u = mode_product(&u, shape, k, &inv[off..off + d * d], k + 1 == order);
        }
        let neg = T::of(-self.lr);
        for (p, &x) in t.value.iter_mut().zip(&u) {
            *p = add_scaled(*p, neg, x);
        }
        buf.copy_from_slice(&u);
    }
}
