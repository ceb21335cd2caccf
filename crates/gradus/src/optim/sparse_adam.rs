//! SparseAdam: Adam on the rows a sparse gradient touches, leaving the others alone.
//!
//! # Update rule (torch.optim.SparseAdam)
//! The gradient is a set of rows of the tensor (its first axis; the elements of a
//! vector). torch receives it as a sparse COO tensor and first coalesces it: duplicate
//! row indices are summed. With `g` (negated when `maximize`) on a given row and `t`
//! the tensor's step, for every element of that row:
//!
//! ```text
//! m ← m + (g − m)·(1 − β1)
//! v ← v + (g² − v)·(1 − β2)
//! θ ← θ − lr·√(1 − β2ᵗ)/(1 − β1ᵗ) · m / (√v + ε)
//! ```
//!
//! Rows not given keep their parameters and moments exactly. `t` counts every step of
//! the tensor, with or without rows (an empty gradient counts as a step and changes
//! nothing), so a row's bias correction uses the tensor's step, not how often that row
//! was given: torch's approximation of Adam for embeddings.
//!
//! Two ways in:
//! * [`SparseAdam::step_sparse`] takes the given rows and their values, as
//!   `nn.Embedding(sparse=True)` produces them;
//! * [`Optimizer::step`] takes a dense gradient and treats
//!   the rows with any non-zero element as given (torch's `grad.to_sparse(1)`).
//!
//! Both are the same step: the rows are summed into a dense gradient, and a row whose
//! gradient is exactly zero everywhere counts as not given. That is where gradus
//! differs from torch: a row given explicitly with an all-zero value (or duplicates
//! that cancel) is a given row for torch, whose moments then decay and whose
//! parameters still move; gradus leaves it alone.
//!
//! Defaults: `lr=1e-3, betas=(0.9, 0.999), eps=1e-8, maximize=false`, as torch. `eps`
//! must be positive, as torch checks; `lr` may be 0, which torch refuses when it is
//! constructed, because a schedule may set it to 0 between steps (as for every other
//! optimizer) and the state must load back.
//!
//! # References
//! Kingma & Ba, *Adam: A Method for Stochastic Optimization*, ICLR 2015
//! (arXiv:1412.6980); the masked ("lazy") variant is torch's.
//!
//! # Where torch differs from the paper
//! * Only the given rows' moments decay; Adam decays every moment every step, so a
//!   row seen rarely keeps stale moments and moves with the tensor's bias correction.
//! * ε is added to `√v`, not `√v̂` (as torch's Adam): the bias corrections are folded
//!   into the step size.
//!
//! ```
//! use gradus::optim::{SparseAdam, SparseAdamConfig};
//! let mut opt = SparseAdam::<f64>::new(SparseAdamConfig { lr: 0.1, ..Default::default() }).unwrap();
//! let mut emb = vec![1.0; 6]; // 3 rows of 2
//! // Row 2 twice: the values are summed, as torch's coalesce does.
//! opt.step_sparse("emb", &mut emb, &[3, 2], &[2, 2], &[1.0, 1.0, 1.0, 1.0]).unwrap();
//! assert_eq!(&emb[..4], &[1.0; 4]); // rows 0 and 1 untouched
//! assert!((emb[4] - 0.9).abs() < 1e-7 && (emb[5] - 0.9).abs() < 1e-7);
//! ```

use super::blocks::bias_correction;
use super::tensorwise::{PerTensor, TensorRule, TensorStep};
use super::{Optimizer, Param, StepOutcome};
use crate::error::{Error, Result};
use crate::float::Float;

crate::hyperparameters! {
    /// Hyperparameters of [`SparseAdam`], with torch's names and defaults.
    pub struct SparseAdamConfig("sparse_adam", "Adam on the rows a sparse gradient touches (embeddings), the others untouched (Kingma & Ba 2015, torch's masked variant)") {
        /// Learning rate (0 allowed, unlike torch: schedules reach it).
        lr: f64 = 1e-3, NONNEG, log;
        /// Decay rates (β1, β2) of the first and second moments.
        betas: (f64, f64) = (0.9, 0.999), UNIT_OPEN;
        /// Term added to √v in the denominator.
        eps: f64 = 1e-8, POS, log;
        /// Maximize the objective instead of minimizing.
        maximize: bool = false, NONE;
    }
}

/// SparseAdam: see the [module docs](self).
pub type SparseAdam<T> = PerTensor<SparseAdamConfig, T>;

/// The length of one row of a tensor of shape `shape` (1 for a vector).
fn row_len(shape: &[usize]) -> usize {
    shape[1..].iter().product()
}

impl<T: Float> PerTensor<SparseAdamConfig, T> {
    /// One step of the tensor `name` (of shape `shape`, row-major `value`) from a sparse
    /// gradient: `row_grads` holds one row (`row_len` values, the product of the
    /// shape's axes after the first) per entry of `rows`, in order. Duplicate rows are
    /// summed. Errors, which change nothing, name a row outside the tensor or values
    /// that do not make whole rows.
    pub fn step_sparse(
        &mut self,
        name: &str,
        value: &mut [T],
        shape: &[usize],
        rows: &[usize],
        row_grads: &[T],
    ) -> Result<StepOutcome> {
        let shape = if shape.is_empty() {
            vec![value.len()]
        } else {
            shape.to_vec()
        };
        let n = row_len(&shape);
        if row_grads.len() != rows.len() * n {
            return Err(Error::StateMismatch(format!(
                "sparse gradient of '{name}': {} rows of {n} values need {} values, got {}",
                rows.len(),
                rows.len() * n,
                row_grads.len()
            )));
        }
        if let Some(&r) = rows.iter().find(|&&r| r >= shape[0]) {
            return Err(Error::StateMismatch(format!(
                "sparse gradient of '{name}': row {r} is outside its {} rows (shape {shape:?})",
                shape[0]
            )));
        }
        let mut dense = vec![T::zero(); value.len()];
        for (&r, g) in rows.iter().zip(row_grads.chunks(n.max(1))) {
            for (d, &x) in dense[r * n..(r + 1) * n].iter_mut().zip(g) {
                *d = *d + x;
            }
        }
        self.step(&mut [Param::with_shape(name, value, &dense, &shape)])
    }
}

impl TensorRule for SparseAdamConfig {
    super::table::config_accessors!(momentum = betas.0);

    fn slot_names(&self) -> &'static [&'static str] {
        &["exp_avg", "exp_avg_sq"]
    }

    fn slot_shapes(&self, _name: &str, shape: &[usize]) -> Result<Vec<Vec<usize>>> {
        Ok(vec![shape.to_vec(), shape.to_vec()])
    }

    fn update<T: Float>(&self, t: &mut TensorStep<'_, T>, _globals: &[f64]) {
        let n = row_len(t.shape);
        if n == 0 {
            return;
        }
        let (b1, b2) = self.betas;
        let step_size = self.lr * bias_correction(b2, t.step).sqrt() / bias_correction(b1, t.step);
        let (c1, c2) = (T::of(1.0 - b1), T::of(1.0 - b2));
        let (neg_step, eps) = (T::of(-step_size), T::of(self.eps));
        let sign = if self.maximize { -T::one() } else { T::one() };
        let (m, v) = t.slots.split_at_mut(1);
        let rows = t
            .value
            .chunks_mut(n)
            .zip(t.grad.chunks(n))
            .zip(m[0].chunks_mut(n).zip(v[0].chunks_mut(n)));
        for ((p, g), (m, v)) in rows {
            if g.iter().all(|x| *x == T::zero()) {
                continue; // not a given row
            }
            for k in 0..n {
                // torch's order (torch/optim/_functional.py, sparse_adam).
                let g = sign * g[k];
                let (old_m, old_v) = (m[k], v[k]);
                let upd_m = (g - old_m) * c1;
                let upd_v = (g * g - old_v) * c2;
                m[k] = old_m + upd_m;
                v[k] = old_v + upd_v;
                let numer = upd_m + old_m;
                let denom = (upd_v + old_v).sqrt() + eps;
                p[k] = p[k] + neg_step * (numer / denom);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::optim::build;

    #[test]
    fn dense_gradients_update_only_non_zero_rows() {
        let mut opt = build::<f64>("sparse_adam(lr=0.1)").unwrap();
        let mut w = vec![1.0; 6];
        let g = [0.0, 0.0, 0.0, 2.0, 0.0, 0.0]; // row 1 of [3, 2] has a non-zero
        opt.step(&mut [Param::with_shape("w", &mut w, &g, &[3, 2])])
            .unwrap();
        assert_eq!(w[..2], [1.0, 1.0]);
        assert_eq!(w[4..], [1.0, 1.0]);
        // First Adam step: −lr·sign(g) on the non-zero element, and the zero element of
        // the given row moves by nothing (its moments stay 0).
        assert!((w[3] - 0.9).abs() < 1e-7, "{w:?}");
        assert_eq!(w[2], 1.0);
        let s = opt.state();
        assert_eq!(s.tensors[0].step, 1);
        assert_eq!(s.slot("w", "exp_avg").unwrap()[3], 2.0 * (1.0 - 0.9));
    }

    #[test]
    fn empty_gradients_count_a_step_and_change_nothing() {
        let mut opt = SparseAdam::<f64>::new(SparseAdamConfig::default()).unwrap();
        let mut w = vec![0.5; 4];
        opt.step_sparse("w", &mut w, &[4], &[], &[]).unwrap();
        assert_eq!(w, [0.5; 4]);
        assert_eq!(opt.tensor_state("w").unwrap().step, 1);
    }

    #[test]
    fn bad_sparse_gradients_are_refused_by_name() {
        let mut opt = SparseAdam::<f64>::new(SparseAdamConfig::default()).unwrap();
        let mut w = vec![0.5; 4];
        let e = opt
            .step_sparse("w", &mut w, &[2, 2], &[2], &[1.0, 1.0])
            .unwrap_err();
        assert!(e.to_string().contains("row 2"), "{e}");
        let e = opt
            .step_sparse("w", &mut w, &[2, 2], &[0], &[1.0])
            .unwrap_err();
        assert!(e.to_string().contains("need 2 values"), "{e}");
        assert!(opt.tensor_state("w").is_none());
        assert!(build::<f64>("sparse_adam(lr=-1)").is_err());
        assert!(build::<f64>("sparse_adam(eps=0)").is_err());
    }
}
