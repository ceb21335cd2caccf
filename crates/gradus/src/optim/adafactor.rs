//! Adafactor: Adam-like steps with a factored second moment, sized relative to the
//! parameters.
//!
//! # Update rule (torch.optim.Adafactor)
//! With `G_t = ∇f(θ_{t−1})` (negated when `maximize`), `t` the tensor's step:
//!
//! ```text
//! β̂_t = 1 − t^τ                              τ = beta2_decay; the weight is t^τ
//! ρ_t = min(lr, 1/√t)                         relative step size
//! α_t = max(ε2, RMS(θ_{t−1})) · ρ_t
//! θ ← θ_{t−1} · (1 − lr·λ)                    decoupled weight decay (λ = weight_decay)
//! ≥2-D, over the last two axes (R rows, C columns; leading axes are a batch):
//!   row_var ← lerp(row_var, mean_j G², t^τ)    shape [..., R, 1]
//!   col_var ← lerp(col_var, mean_i G², t^τ)    shape [..., 1, C]
//!   V̂ = row_var·col_var / max(mean_i row_var, ε1)
//! 1-D:
//!   variance ← lerp(variance, G², t^τ)          shape [n]
//!   V̂ = variance
//! U = G / √max(V̂, ε1²)
//! θ_t = θ − α_t · U / max(1, RMS(U)/d)          update clipping at RMS d
//! ```
//!
//! The state buffers are torch's: `row_var` and `col_var` for tensors of two or more
//! axes, `variance` for vectors; each tensor has only the ones torch creates, the
//! others are empty (shape `[0]`). `ε1 = none` (the default) is the machine epsilon of
//! the dtype, as torch's `torch.finfo(dtype).eps`.
//!
//! Defaults: `lr=1e-2, beta2_decay=-0.8, eps=(none, 1e-3), d=1.0, weight_decay=0.0,
//! maximize=false`, as torch. torch's `foreach` changes nothing numerically here (the
//! fixtures check both paths) and is not a hyperparameter.
//!
//! # Reference
//! Shazeer & Stern, *Adafactor: Adaptive Learning Rates with Sublinear Memory Cost*,
//! ICML 2018, arXiv:1804.04235 (Algorithms 4 and 5, relative step size, update
//! clipping, `β̂_2t = 1 − t^−0.8`).
//!
//! # Where torch differs from the paper
//! * `lr` caps the relative step size, `ρ_t = min(lr, 1/√t)`; the paper has no
//!   learning rate and uses the constant `10⁻²`.
//! * Weight decay is decoupled and scaled by `lr` (`θ·(1 − lr·λ)`, as AdamW); the paper
//!   has none.
//! * `ε1` is not added to `G²` before the factors are formed, as in the paper: the
//!   factors are left alone and `ε1` floors the row factors' mean (the denominator of
//!   `V̂`) and, squared, `V̂` itself. Its default is the dtype's epsilon, not `10⁻³⁰`.
//! * The factors are means over rows and columns instead of sums (the same `V̂`, with
//!   smaller numbers).
//! * Tensors with more than two axes are factored over their last two, the others a
//!   batch of matrices; the paper factors matrices only.
//! * There is no first moment (the paper's optional `β1`).
//! * The moving averages are `lerp`s (`v + w·(x − v)`), so the first step stores `G²`
//!   means exactly; torch counts steps in a `float32` tensor, exact up to 2^24 steps.
//!
//! gradus follows torch's order of operations (norms, then squares, means, `lerp`,
//! clamp, `rsqrt`, the fused final `add`); sums are accumulated in `f64` in row-major
//! order where torch uses its own (vectorized) order, so `f64` results agree with
//! torch to about 1e-15 relative, not bit for bit (see `tests/adafactor_torch.rs`).
//!
//! ```
//! use gradus::optim::{build, Param};
//! let mut opt = build::<f64>("adafactor(lr=0.1)").unwrap();
//! let mut w = vec![1.0, -2.0, 0.5, 3.0, -1.0, 2.0];
//! for _ in 0..300 {
//!     let g: Vec<f64> = w.iter().map(|x| 2.0 * x).collect();
//!     opt.step(&mut [Param::with_shape("w", &mut w, &g, &[2, 3])]).unwrap();
//! }
//! assert!(w.iter().all(|x| x.abs() < 0.05), "{w:?}");
//! ```

use super::blocks::{add_scaled, lerp};
use super::tensorwise::{PerTensor, TensorRule, TensorStep};
use crate::error::{Error, Result};
use crate::float::Float;

crate::hyperparameters! {
    /// Hyperparameters of [`Adafactor`], with torch's names and defaults.
    pub struct AdafactorConfig("adafactor", "factored second moments over the last two axes, relative step sizes and update clipping (Shazeer & Stern 2018)") {
        /// Learning rate: the cap of the relative step size min(lr, 1/√t), and the weight-decay scale.
        lr: f64 = 1e-2, NONNEG, log;
        /// τ: the moving averages weigh the new squares by t^τ (β̂2 = 1 − t^τ).
        beta2_decay: f64 = -0.8, at_most(0.0);
        /// (ε1, ε2): ε1 floors the variance estimate (none = the dtype's epsilon); ε2 floors the parameters' RMS.
        eps: (Option<f64>, f64) = (None, 1e-3), NONNEG, log;
        /// Clipping threshold d: updates are scaled down to an RMS of at most d.
        d: f64 = 1.0, at_least(1.0);
        /// Decoupled weight decay λ: θ ← θ·(1 − lr·λ) each step.
        weight_decay: f64 = 0.0, NONNEG, log;
        /// Maximize the objective instead of minimizing.
        maximize: bool = false, NONE;
    }
}

/// Adafactor: see the [module docs](self).
pub type Adafactor<T> = PerTensor<AdafactorConfig, T>;

const ROW_VAR: usize = 0;
const COL_VAR: usize = 1;
const VARIANCE: usize = 2;

/// Python's `max(a, b)`: `a` unless `b > a` (so a NaN `b` gives `a`).
fn py_max(a: f64, b: f64) -> f64 {
    if b > a {
        b
    } else {
        a
    }
}

/// `clamp_min(x, lo)` for one element: NaN stays NaN.
#[inline(always)]
fn clamp_min<T: Float>(x: T, lo: T) -> T {
    if x < lo {
        lo
    } else {
        x
    }
}

/// `‖x‖₂` as torch returns it for a tensor of dtype `T`: the square root of the sum
/// of squares, rounded to `T`.
fn norm<T: Float>(xs: impl Iterator<Item = T>) -> T {
    T::of(xs.map(|x| x.f64() * x.f64()).sum::<f64>().sqrt())
}

impl AdafactorConfig {
    fn eps1<T: Float>(&self) -> f64 {
        self.eps.0.unwrap_or(T::epsilon().f64())
    }

    /// The step size α_t = max(ε2, RMS(θ))·ρ_t, from the parameters before the step.
    fn alpha<T: Float>(&self, value: &[T], step: u64) -> f64 {
        let t = step as f64;
        let r = 1.0 / t.powf(0.5);
        let rho = if r < self.lr { r } else { self.lr };
        let rms = norm(value.iter().copied()).f64() / (value.len() as f64).powf(0.5);
        py_max(self.eps.1, rms) * rho
    }

    /// θ ← θ·decay − (α/denom)·U, with denom the update clipping, given the update of
    /// element `k` by `u(k)` (computed twice: once for its RMS, once to apply it, so no
    /// tensor-sized buffer is needed).
    fn apply<T: Float>(&self, t: &mut TensorStep<'_, T>, alpha: f64, u: impl Fn(usize) -> T) {
        let n = t.value.len();
        let unorm = norm((0..n).map(&u)).f64();
        let denom = py_max(1.0, unorm / ((n as f64).powf(0.5) * self.d));
        let scale = T::of(-alpha / denom);
        let decay = T::of(1.0 - self.lr * self.weight_decay);
        for (k, p) in t.value.iter_mut().enumerate() {
            let v = if self.weight_decay != 0.0 {
                *p * decay
            } else {
                *p
            };
            *p = add_scaled(v, scale, u(k));
        }
    }
}

impl TensorRule for AdafactorConfig {
    super::table::config_accessors!();

    fn slot_names(&self) -> &'static [&'static str] {
        &["row_var", "col_var", "variance"]
    }

    /// `row_var` `[..., R, 1]` and `col_var` `[..., 1, C]` for a tensor `[..., R, C]`,
    /// `variance` `[n]` for a vector; the buffers a tensor does not use are `[0]`.
    fn slot_shapes(&self, name: &str, shape: &[usize]) -> Result<Vec<Vec<usize>>> {
        if shape.contains(&0) {
            return Err(Error::Unsupported(format!(
                "adafactor needs tensors with at least one element (its step size is \
                 relative to their RMS); '{name}' has shape {shape:?}"
            )));
        }
        Ok(if shape.len() >= 2 {
            let mut row = shape.to_vec();
            let mut col = shape.to_vec();
            row[shape.len() - 1] = 1;
            col[shape.len() - 2] = 1;
            vec![row, col, vec![0]]
        } else {
            vec![vec![0], vec![0], shape.to_vec()]
        })
    }

    fn update<T: Float>(&self, t: &mut TensorStep<'_, T>, _globals: &[f64]) {
        let step = t.step as f64;
        let w = T::of(step.powf(self.beta2_decay));
        let eps1 = self.eps1::<T>();
        let floor = T::of(eps1 * eps1);
        let alpha = self.alpha(t.value, t.step);
        let sign = if self.maximize { -T::one() } else { T::one() };
        let grad = t.grad;
        let g = move |k: usize| sign * grad[k];
        if t.shape.len() < 2 {
            let var = &mut t.slots[VARIANCE];
            for (k, v) in var.iter_mut().enumerate() {
                let gk = g(k);
                *v = lerp(*v, gk * gk, w);
            }
            let var = std::mem::take(&mut t.slots[VARIANCE]);
            self.apply(t, alpha, |k| {
                (T::one() / clamp_min(var[k], floor).sqrt()) * g(k)
            });
            t.slots[VARIANCE] = var;
            return;
        }
        let (rows, cols) = (t.shape[t.shape.len() - 2], t.shape[t.shape.len() - 1]);
        let batches = t.value.len() / (rows * cols);
        // One pass over the gradient gathers both factors' sums of squares.
        let mut row_sq = vec![0.0f64; batches * rows];
        let mut col_sq = vec![0.0f64; batches * cols];
        for b in 0..batches {
            for i in 0..rows {
                let base = (b * rows + i) * cols;
                let mut s = 0.0;
                for j in 0..cols {
                    let x = grad[base + j].f64();
                    s += x * x;
                    col_sq[b * cols + j] += x * x;
                }
                row_sq[b * rows + i] = s;
            }
        }
        // torch: vector_norm(g, dim).square_().div_(len), then lerp_.
        let mean_of = |sq: f64, len: usize| {
            let n = T::of(sq.sqrt());
            n * n / T::of(len as f64)
        };
        for (v, &sq) in t.slots[ROW_VAR].iter_mut().zip(&row_sq) {
            *v = lerp(*v, mean_of(sq, cols), w);
        }
        for (v, &sq) in t.slots[COL_VAR].iter_mut().zip(&col_sq) {
            *v = lerp(*v, mean_of(sq, rows), w);
        }
        // V̂ = row_var·col_var / max(mean_i row_var, ε1), one denominator per matrix.
        let row_var = std::mem::take(&mut t.slots[ROW_VAR]);
        let col_var = std::mem::take(&mut t.slots[COL_VAR]);
        let eps1 = T::of(eps1);
        let denoms: Vec<T> = row_var
            .chunks(rows)
            .map(|r| {
                let sum: f64 = r.iter().map(|x| x.f64()).sum();
                clamp_min(T::of(sum) / T::of(rows as f64), eps1)
            })
            .collect();
        let u = |k: usize| {
            let (b, rest) = (k / (rows * cols), k % (rows * cols));
            let (i, j) = (rest / cols, rest % cols);
            let v = row_var[b * rows + i] * col_var[b * cols + j] / denoms[b];
            (T::one() / clamp_min(v, floor).sqrt()) * g(k)
        };
        self.apply(t, alpha, u);
        t.slots[ROW_VAR] = row_var;
        t.slots[COL_VAR] = col_var;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::optim::{build, Optimizer, Param};

    #[test]
    fn state_has_torchs_names_and_shapes() {
        let mut opt = Adafactor::<f64>::new(AdafactorConfig::default()).unwrap();
        let (mut w, mut b) = (vec![1.0; 24], vec![1.0; 3]);
        let (gw, gb) = (vec![0.5; 24], vec![0.5; 3]);
        opt.step(&mut [
            Param::with_shape("w", &mut w, &gw, &[2, 3, 4]),
            Param::new("b", &mut b, &gb),
        ])
        .unwrap();
        let s = opt.tensor_state("w").unwrap();
        assert_eq!(s.shapes, vec![vec![2, 3, 1], vec![2, 1, 4], vec![0]]);
        // First step: the factors are the means of g² (lerp with weight 1), from the
        // norm squared as torch computes them: √0.75² / 3 = 0.24999999999999997.
        assert_eq!(opt.slot("w", "row_var").unwrap(), &[0.25; 6]);
        let col = 0.75f64.sqrt() * 0.75f64.sqrt() / 3.0;
        assert!(col != 0.25);
        assert_eq!(opt.slot("w", "col_var").unwrap(), &[col; 8]);
        assert_eq!(opt.tensor_state("b").unwrap().shapes[2], vec![3]);
        assert_eq!(opt.slot("b", "variance").unwrap(), &[0.25; 3]);
    }

    #[test]
    fn first_step_by_hand() {
        // A constant gradient: V̂ = g², U = sign(g), RMS(U) = 1, so θ moves by
        // α = max(ε2, RMS(θ))·min(lr, 1) = 1·0.01 against the gradient.
        let mut opt = build::<f64>("adafactor").unwrap();
        let mut w = vec![1.0, -1.0, 1.0, -1.0];
        let g = vec![3.0, 3.0, 3.0, 3.0];
        opt.step(&mut [Param::with_shape("w", &mut w, &g, &[2, 2])])
            .unwrap();
        for (got, want) in w.iter().zip([0.99, -1.01, 0.99, -1.01]) {
            assert!((got - want).abs() < 1e-15, "{got} vs {want}");
        }
    }

    #[test]
    fn empty_tensors_are_refused_by_name() {
        let mut opt = build::<f64>("adafactor").unwrap();
        let e = opt
            .step(&mut [Param::with_shape("e", &mut [], &[], &[0, 3])])
            .unwrap_err()
            .to_string();
        assert!(e.contains("'e'") && e.contains("[0, 3]"), "{e}");
    }

    #[test]
    fn eps_reads_none_and_round_trips() {
        let opt = build::<f64>("adafactor(eps=(none, 0.01))").unwrap();
        assert_eq!(opt.spec().to_string(), "adafactor(lr=0.01, beta2_decay=-0.8, eps=(none, 0.01), d=1.0, weight_decay=0.0, maximize=false)");
        let again = build::<f64>(&opt.spec().to_string()).unwrap();
        assert_eq!(again.spec(), opt.spec());
        let e = build::<f64>("adafactor(eps=(-1.0, 0.01))").unwrap_err();
        assert!(e.to_string().contains("eps[0]"), "{e}");
        assert!(build::<f64>("adafactor(d=0.5)").is_err());
        assert!(build::<f64>("adafactor(beta2_decay=0.1)").is_err());
    }
}
