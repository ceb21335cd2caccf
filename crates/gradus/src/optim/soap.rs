//! SOAP: Adam in the eigenbasis of Shampoo's preconditioner.
//!
//! # Update rule (pytorch-optimizer 4.1.0, `SOAP`)
//! Each axis `k` of a tensor (after the optional merging of small axes, see below)
//! with length `d_k ≤ max_precondition_dim` keeps statistics `L_k` (`GG` in the
//! reference's state) and an orthogonal basis `Q_k` (`Q`); longer axes (and vectors,
//! unless `precondition_1d`) use the identity. `P(X) = X ×₀ Q₀ᵀ ×₁ Q₁ᵀ …` rotates into
//! the basis, `P⁻¹(X) = X ×₀ Q₀ ×₁ Q₁ …` back. With `g` the gradient (negated when
//! `maximize`), `β_s = shampoo_beta` (`betas[1]` when `none`) and `t` counting steps
//! from the tensor's first:
//!
//! ```text
//! step 1:  L_k ← lerp(0, g₍ₖ₎ g₍ₖ₎ᵀ, 1 − β_s);  Q_k ← eigenvectors of L_k, by descending eigenvalue
//!          (the parameters do not move)
//! step t ≥ 2, s = t − 1:
//!   m ← lerp(m, g, 1 − β1)                     (exp_avg, in the original basis)
//!   v ← lerp(v, P(g)², 1 − β2)                 (exp_avg_sq, in the rotated basis)
//!   u ← P⁻¹(P(m) / (√v + ε))
//!   u ← u / (√mean(u²) + ε)                    if normalize_gradient
//!   θ ← θ − lr·√(1 − β2ˢ)/(1 − β1ˢ) · u        (lr alone unless correct_bias)
//!   θ ← θ·(1 − lr·weight_decay)                (decoupled, after the update)
//!   L_k ← lerp(L_k, g₍ₖ₎ g₍ₖ₎ᵀ, 1 − β_s)
//!   every precondition_frequency-th s: one power iteration per axis,
//!     sort the columns of L_k Q_k by the estimated eigenvalues diag(Q_kᵀ L_k Q_k), descending,
//!     reorder v's axis k the same way, Q_k ← the Q of QR(L_k Q_k) computed in f32
//! ```
//!
//! `merge_dims` reshapes a tensor by merging consecutive axes while their product stays
//! within `max_precondition_dim` (the reference's `merge_small_dims`, e.g. `[2, 3, 4]`
//! with limit 6 becomes `[6, 4]`); with `data_format=channels_last` a 4-D tensor is
//! first permuted from NHWC to NCHW.
//!
//! Defaults (the reference's): `lr=3e-3, betas=(0.95, 0.95), shampoo_beta=none,
//! weight_decay=1e-2, precondition_frequency=10, max_precondition_dim=10000,
//! merge_dims=false, precondition_1d=false, correct_bias=true, normalize_gradient=false,
//! data_format=channels_first, eps=1e-8, maximize=false`.
//!
//! # References
//! Vyas, Morwani, Zhao, Shapira, Brandfonbrener, Janson & Kakade, *SOAP: Improving and
//! Stabilizing Shampoo using Adam*, ICLR 2025 (arXiv:2409.11321). The reference
//! implementation is `pytorch_optimizer.SOAP` (pytorch-optimizer 4.1.0), itself after
//! the authors' code.
//!
//! # Where gradus and the reference differ
//! * The eigendecomposition (nalgebra's, not LAPACK's) picks other signs for the
//!   eigenvectors. SOAP's update does not depend on them: a column of `Q_k` and its
//!   sign appear twice in `P⁻¹(P(m)/(√v + ε))` and `v` holds squares.
//! * Within a repeated eigenvalue the basis is arbitrary, and there the reference's own
//!   result depends on its LAPACK: the first statistics are one gradient's outer
//!   products, so a `d × n` matrix with `d ≥ n + 2` (or a vector of length ≥ 3 under
//!   `precondition_1d`) starts with a repeated zero eigenvalue. Swapping torch's
//!   `eigh` for NumPy's changes the reference's parameters by up to 3 % after 40 steps
//!   (`tools/matrix_fixtures.py` cases avoid such shapes; see `tests/matrix_ref.rs`).
//! * The QR refresh runs in `f32` in both, by different Householder codes: after the
//!   first refresh, parameters agree to about 1e-6 relative instead of 1e-15
//!   (the reference differs from itself by as much when its eigenvectors' signs flip).
//! * For an `f32` tensor the eigendecomposition runs in `f64` (the reference: `f32`).
//! * `merge_dims` on a tensor whose axes all fit within `max_precondition_dim` (a bias,
//!   a small matrix) makes the reference reshape it to `[1]` and fail; gradus refuses
//!   such a tensor with an error naming it.
//!
//! ```
//! use gradus::optim::{build, Param};
//! let mut opt = build::<f64>("soap(lr=0.05, precondition_frequency=2)").unwrap();
//! // f(W) = ½‖W − 1‖² for a 3 × 2 matrix.
//! let mut w = vec![0.0; 6];
//! for _ in 0..100 {
//!     let g: Vec<f64> = w.iter().map(|x| x - 1.0).collect();
//!     opt.step(&mut [Param::with_shape("w", &mut w, &g, &[3, 2])]).unwrap();
//! }
//! assert!(w.iter().all(|x| (x - 1.0).abs() < 0.05));
//! ```

use std::borrow::Cow;

use super::blocks::{add_scaled, bias_correction, lerp};
use super::kronecker::{
    eigenbasis_descending, matmul, mode_gram, mode_product, qr_q_f32, select_along,
};
use super::tensorwise::{PerTensor, TensorRule, TensorStep};
use crate::error::{Error, Result};
use crate::float::Float;

crate::choice! {
    /// The memory layout of 4-D tensors, for `merge_dims`: NCHW or NHWC.
    pub enum DataFormat { ChannelsFirst = "channels_first", ChannelsLast = "channels_last" }
}

crate::hyperparameters! {
    /// Hyperparameters of [`Soap`], with the reference's (pytorch-optimizer 4.1.0) names and defaults.
    pub struct SoapConfig("soap", "Adam in the eigenbasis of Shampoo's preconditioner (Vyas et al. 2024), exact to pytorch-optimizer 4.1.0") {
        /// Learning rate.
        lr: f64 = 3e-3, NONNEG, log;
        /// Decay rates (β1, β2) of the first and second moments.
        betas: (f64, f64) = (0.95, 0.95), UNIT_OPEN;
        /// Decay rate of the preconditioner statistics (none: the second beta).
        shampoo_beta: Option<f64> = None, NONNEG;
        /// Decoupled weight decay, applied after the update.
        weight_decay: f64 = 1e-2, NONNEG, log;
        /// Steps between refreshes of the eigenbases (one power iteration and a QR).
        precondition_frequency: u64 = 10, at_least(1.0);
        /// Longest axis that gets a preconditioner; longer ones use the identity.
        max_precondition_dim: u64 = 10000, at_least(1.0);
        /// Merge consecutive small axes while their product is at most max_precondition_dim.
        merge_dims: bool = false, NONE;
        /// Precondition vectors (biases) too.
        precondition_1d: bool = false, NONE;
        /// Bias-correct the moments.
        correct_bias: bool = true, NONE;
        /// Divide the update by its root mean square.
        normalize_gradient: bool = false, NONE;
        /// Layout of 4-D tensors when merging axes: channels_first or channels_last.
        data_format: DataFormat = DataFormat::ChannelsFirst, NONE;
        /// Added to the denominator for numerical stability.
        eps: f64 = 1e-8, NONNEG, log;
        /// Maximize the objective instead of minimizing it.
        maximize: bool = false, NONE;
    }
}

/// SOAP: see the [module docs](self).
pub type Soap<T> = PerTensor<SoapConfig, T>;

/// How SOAP sees one tensor: the axes it works on and which of them are preconditioned.
#[derive(Debug)]
struct Layout {
    /// NHWC → NCHW before merging (channels_last, 4-D, merge_dims).
    nhwc: Option<[usize; 4]>,
    /// The working shape (merged when merge_dims).
    dims: Vec<usize>,
    /// Whether each working axis has a preconditioner.
    pre: Vec<bool>,
}

/// The reference's `merge_small_dims`: merges consecutive axes while the product stays
/// within `max_dim`; a single resulting axis is reported as `[1]`.
fn merge_small_dims(shape: &[usize], max_dim: u64) -> Vec<usize> {
    let mut merged = Vec::new();
    let mut product: u64 = 1;
    for &d in shape {
        product = product.saturating_mul(d as u64);
        if product > max_dim {
            merged.push((product / d as u64) as usize);
            product = d as u64;
        }
    }
    merged.push(product as usize);
    if merged.len() > 1 {
        merged
    } else {
        vec![1]
    }
}

impl SoapConfig {
    fn layout(&self, name: &str, shape: &[usize]) -> Result<Layout> {
        let numel: usize = shape.iter().product();
        let max = self.max_precondition_dim;
        let nhwc = match shape {
            [n, h, w, c] if self.merge_dims && self.data_format == DataFormat::ChannelsLast => {
                Some([*n, *h, *w, *c])
            }
            _ => None,
        };
        if self.merge_dims {
            let permuted: Vec<usize> = match nhwc {
                Some([n, h, w, c]) => vec![n, c, h, w],
                None => shape.to_vec(),
            };
            let merged = merge_small_dims(&permuted, max);
            if merged.iter().product::<usize>() != numel {
                return Err(Error::Unsupported(format!(
                    "soap(merge_dims=true) cannot reshape tensor '{name}' of shape {shape:?}: its axes \
                     merge into one of at most max_precondition_dim={max}, which the reference \
                     reshapes to [1] and fails; use merge_dims=false or a smaller max_precondition_dim"
                )));
            }
            if shape.len() > 1 {
                let pre = merged.iter().map(|&d| d as u64 <= max).collect();
                return Ok(Layout {
                    nhwc,
                    dims: merged,
                    pre,
                });
            }
        }
        if let [n] = shape {
            Ok(Layout {
                nhwc: None,
                dims: vec![*n],
                pre: vec![self.precondition_1d && *n as u64 <= max],
            })
        } else {
            Ok(Layout {
                nhwc: None,
                dims: shape.to_vec(),
                pre: shape.iter().map(|&d| d as u64 <= max).collect(),
            })
        }
    }

    fn shampoo_beta(&self) -> f64 {
        self.shampoo_beta.unwrap_or(self.betas.1)
    }
}

impl Layout {
    /// The preconditioned axes with their lengths and offsets in the packed `GG`/`Q`
    /// buffers (the reference's lists, without the empty entries).
    fn blocks(&self) -> Vec<(usize, usize, usize)> {
        let mut offset = 0;
        let mut out = Vec::new();
        for (k, (&d, &p)) in self.dims.iter().zip(&self.pre).enumerate() {
            if p {
                out.push((k, d, offset));
                offset += d * d;
            }
        }
        out
    }

    fn packed_len(&self) -> usize {
        self.blocks().iter().map(|&(_, d, _)| d * d).sum()
    }

    /// `x` in the working layout (NHWC → NCHW when needed; merging is free).
    fn working<'a, T: Float>(&self, x: &'a [T]) -> Cow<'a, [T]> {
        match self.nhwc {
            None => Cow::Borrowed(x),
            Some([n, h, w, c]) => {
                let mut y = Vec::with_capacity(x.len());
                for a in 0..n {
                    for k in 0..c {
                        for i in 0..h {
                            for j in 0..w {
                                y.push(x[((a * h + i) * w + j) * c + k]);
                            }
                        }
                    }
                }
                Cow::Owned(y)
            }
        }
    }

    /// `x` from the working layout back to the tensor's.
    fn original<T: Float>(&self, x: Vec<T>) -> Vec<T> {
        match self.nhwc {
            None => x,
            Some([n, h, w, c]) => {
                let mut y = vec![T::zero(); x.len()];
                let mut it = x.into_iter();
                for a in 0..n {
                    for k in 0..c {
                        for i in 0..h {
                            for j in 0..w {
                                y[((a * h + i) * w + j) * c + k] = it.next().unwrap_or_default();
                            }
                        }
                    }
                }
                y
            }
        }
    }

    /// Rotates `x` into the eigenbases (`forward`) or back.
    fn project<T: Float>(&self, x: &[T], q: &[T], forward: bool) -> Vec<T> {
        let mut y = self.working(x).into_owned();
        for (k, d, off) in self.blocks() {
            y = mode_product(&y, &self.dims, k, &q[off..off + d * d], forward);
        }
        self.original(y)
    }

    /// `L_k ← lerp(L_k, g₍ₖ₎ g₍ₖ₎ᵀ, w)` for every preconditioned axis.
    fn accumulate<T: Float>(&self, gg: &mut [T], g: &[T], w: T) {
        let g = self.working(g);
        for (k, d, off) in self.blocks() {
            let stats = mode_gram(&g, &self.dims, k);
            for (l, s) in gg[off..off + d * d].iter_mut().zip(stats) {
                *l = lerp(*l, s, w);
            }
        }
    }

    /// The first eigenbases, from the statistics alone (`+ 1e-30·I`, as the reference).
    fn eigenbases<T: Float>(&self, gg: &[T], q: &mut [T]) {
        for (_, d, off) in self.blocks() {
            let mut m = gg[off..off + d * d].to_vec();
            for i in 0..d {
                m[i * d + i] = m[i * d + i] + T::of(1e-30);
            }
            q[off..off + d * d].copy_from_slice(&eigenbasis_descending(&m, d));
        }
    }

    /// One power iteration per axis: new bases from `L_k Q_k`, columns sorted by the
    /// estimated eigenvalues, and `exp_avg_sq` reordered to match.
    fn refresh<T: Float>(&self, gg: &[T], q: &mut [T], exp_avg_sq: &mut [T]) {
        let mut v = self.working(exp_avg_sq).into_owned();
        for (k, d, off) in self.blocks() {
            let (l, o) = (&gg[off..off + d * d], &q[off..off + d * d]);
            let lo = matmul(l, o, d);
            let estimate: Vec<T> = (0..d)
                .map(|j| (0..d).map(|a| o[a * d + j] * lo[a * d + j]).sum())
                .collect();
            let mut order: Vec<usize> = (0..d).collect();
            order.sort_by(|&i, &j| estimate[j].f64().total_cmp(&estimate[i].f64()));
            v = select_along(&v, &self.dims, k, &order);
            let power: Vec<T> = (0..d * d).map(|x| lo[(x / d) * d + order[x % d]]).collect();
            q[off..off + d * d].copy_from_slice(&qr_q_f32(&power, d));
        }
        exp_avg_sq.copy_from_slice(&self.original(v));
    }
}

impl TensorRule for SoapConfig {
    super::table::config_accessors!(momentum = betas.0);

    fn slot_names(&self) -> &'static [&'static str] {
        &["exp_avg", "exp_avg_sq", "GG", "Q"]
    }

    fn slot_shapes(&self, name: &str, shape: &[usize]) -> Result<Vec<Vec<usize>>> {
        let packed = self.layout(name, shape)?.packed_len();
        Ok(vec![
            shape.to_vec(),
            shape.to_vec(),
            vec![packed],
            vec![packed],
        ])
    }

    fn update<T: Float>(&self, t: &mut TensorStep<'_, T>, _globals: &[f64]) {
        let Ok(layout) = self.layout(t.name, t.shape) else {
            return; // unreachable: slot_shapes refused the tensor
        };
        let [exp_avg, exp_avg_sq, gg, q] = t.slots else {
            return;
        };
        let w_stats = T::of(1.0 - self.shampoo_beta());
        if t.step == 1 {
            layout.accumulate(gg, t.grad, w_stats);
            layout.eigenbases(gg, q);
            return;
        }
        let (beta1, beta2) = self.betas;
        let s = t.step - 1;
        let mut step_size = self.lr;
        if self.correct_bias {
            step_size *= bias_correction(beta2, s).sqrt() / bias_correction(beta1, s);
        }
        let g: Vec<T> = if self.maximize {
            t.grad.iter().map(|&x| -x).collect()
        } else {
            t.grad.to_vec()
        };
        let g_rot = layout.project(&g, q, true);
        let (w1, w2) = (T::of(1.0 - beta1), T::of(1.0 - beta2));
        for (m, &x) in exp_avg.iter_mut().zip(&g) {
            *m = lerp(*m, x, w1);
        }
        for (v, &x) in exp_avg_sq.iter_mut().zip(&g_rot) {
            *v = lerp(*v, x * x, w2);
        }
        let eps = T::of(self.eps);
        let m_rot = layout.project(exp_avg, q, true);
        let ratio: Vec<T> = m_rot
            .iter()
            .zip(exp_avg_sq.iter())
            .map(|(&m, &v)| m / (v.sqrt() + eps))
            .collect();
        let mut u = layout.project(&ratio, q, false);
        if self.normalize_gradient && !u.is_empty() {
            let mean = u.iter().map(|&x| x * x).sum::<T>() / T::of(u.len() as f64);
            let scale = mean.sqrt() + eps;
            u.iter_mut().for_each(|x| *x = *x / scale);
        }
        let neg = T::of(-step_size);
        let decay = T::of(1.0 - self.weight_decay * self.lr);
        for (p, &x) in t.value.iter_mut().zip(&u) {
            *p = add_scaled(*p, neg, x);
            if self.weight_decay != 0.0 {
                *p = *p * decay;
            }
        }
        layout.accumulate(gg, &g, w_stats);
        if s.is_multiple_of(self.precondition_frequency) {
            layout.refresh(gg, q, exp_avg_sq);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn merges_small_axes_like_the_reference() {
        assert_eq!(
            merge_small_dims(&[1, 2, 512, 1, 2048, 1, 3, 4], 1024),
            vec![1024, 2048, 12]
        );
        assert_eq!(
            merge_small_dims(&[1, 2, 768, 1, 2048], 1024),
            vec![2, 768, 2048]
        );
        assert_eq!(merge_small_dims(&[4, 3], 10000), vec![1]);
        assert_eq!(merge_small_dims(&[8], 6), vec![1, 8]);
    }

    #[test]
    fn layouts_follow_the_flags() {
        let c = SoapConfig::default();
        let l = c.layout("w", &[4, 3]).unwrap();
        assert_eq!((l.dims, l.pre), (vec![4, 3], vec![true, true]));
        assert_eq!(c.layout("b", &[5]).unwrap().pre, vec![false]);
        let c1 = SoapConfig {
            precondition_1d: true,
            max_precondition_dim: 4,
            ..Default::default()
        };
        assert_eq!(c1.layout("b", &[4]).unwrap().pre, vec![true]);
        assert_eq!(c1.layout("b", &[5]).unwrap().pre, vec![false]);
        assert_eq!(c1.layout("w", &[5, 3]).unwrap().pre, vec![false, true]);
        let merge = SoapConfig {
            merge_dims: true,
            max_precondition_dim: 6,
            ..Default::default()
        };
        let l = merge.layout("t", &[2, 3, 4]).unwrap();
        assert_eq!((l.dims, l.pre), (vec![6, 4], vec![true, true]));
        let e = merge.layout("b", &[4]).unwrap_err().to_string();
        assert!(e.contains("'b'") && e.contains("[4]"), "{e}");
        let last = SoapConfig {
            data_format: DataFormat::ChannelsLast,
            ..merge
        };
        let l = last.layout("conv", &[2, 3, 2, 2]).unwrap();
        assert_eq!(l.dims, vec![4, 6]); // NCHW [2, 2, 3, 2]
        let x: Vec<f64> = (0..24).map(f64::from).collect();
        assert_eq!(l.original(l.working(&x).into_owned()), x);
        // NHWC [n=0, h=0, w=1, c=0] (index 2) is NCHW [0, 0, 0, 1] (index 1).
        assert_eq!(l.working(&x)[1], 2.0);
    }
}
