//! Muon: momentum, then the update matrix orthogonalized by a Newton–Schulz iteration.
//!
//! # Update rule (torch.optim.Muon, 2.15)
//! For a matrix parameter `θ` of shape `A × B` with gradient `g_t`:
//!
//! ```text
//! b_t = lerp(b_{t−1}, g_t, 1 − μ)                 (= μ·b_{t−1} + (1 − μ)·g_t, b_0 = 0)
//! u_t = lerp(g_t, b_t, μ)   if nesterov   else  b_t
//! O_t = NS_k^{(a,b,c)}(u_t; ε)                    (in ns_dtype, default bfloat16)
//! θ_t = θ_{t−1}·(1 − lr·λ) − lr·s(A, B)·O_t       (decoupled weight decay λ)
//! ```
//!
//! `NS` works on `X = u/max(‖u‖_F, ε)` (transposed first when `A > B`, so `X X^T` is
//! the smaller Gram matrix) and repeats `k` times the quintic
//! `X ← a·X + (b·G + c·G²)·X` with `G = X X^T`, which drives every singular value of `X`
//! towards 1 (Jordan et al. 2024, *Muon: an optimizer for hidden layers in neural
//! networks*, whose coefficients `(3.4445, −4.7750, 2.0315)` push the slope at zero up
//! at the price of converging only to `[0.7, 1.2]` or so). The step scale
//! `s(A, B)` is `adjust_lr_fn`:
//! * `original` (Jordan): `√max(1, A/B)`;
//! * `match_rms_adamw` (Liu et al. 2025, *Muon is scalable for LLM training*):
//!   `0.2·√max(A, B)`, which gives the update AdamW's RMS, so AdamW's learning rate and
//!   weight decay carry over;
//! * `spectral_unclamped` (Bernstein, *Deriving Muon*): `√(A/B)`.
//!
//! Defaults: `lr=1e-3, weight_decay=0.1, momentum=0.95, nesterov=true,
//! ns_coefficients=(3.4445, -4.775, 2.0315), eps=1e-7, ns_steps=5,
//! adjust_lr_fn=original, ns_dtype=bfloat16`, as torch (whose `adjust_lr_fn=None`
//! means `original`).
//!
//! Muon is for the 2-D weight matrices of hidden layers; biases, gains and embeddings
//! go to another optimizer. [`partition`](super::partition) does that routing:
//! `partition(matrices=muon(lr=0.02), rest=adamw(lr=3e-4))`. A tensor of any other
//! rank is refused with an error naming it and its shape.
//!
//! # Numerics: what is matched
//! Momentum, Nesterov, weight decay and the final step are computed as ATen computes
//! them (`lerp` and `add(alpha)` fused, `mul_` rounded), in the parameter's type; the
//! final `add_` of a `float64` orthogonalization to a `float32` parameter is computed
//! in `f64` and rounded, as torch promotes it.
//!
//! `ns_dtype` chooses the type of the Newton–Schulz iteration:
//! * `bfloat16` (torch's): every value is rounded to bfloat16 (to nearest, ties to
//!   even) exactly where torch stores a bfloat16 tensor: the converted input (through
//!   `f32`, as `c10::BFloat16` converts a double), the norm, the scaled input and the
//!   result of each matrix product, whose `b·G + c·G²` / `a·X + P·X` is formed in `f32`
//!   before its one rounding. torch's CPU bfloat16 GEMM runs products of at most 16³
//!   multiply-adds in its own loop (each dot product summed in `f32` over four
//!   interleaved partial sums, then `beta·c + alpha·dot` fused); gradus reproduces
//!   that loop, so for such matrices (Gram matrices up to 16 × 16) the result is
//!   bit-identical to torch's. Larger products go to oneDNN in torch and to
//!   `matrixmultiply`'s `sgemm` here, both summing in `f32` in their own orders, so a
//!   sum within an `f32` rounding of a bfloat16 rounding boundary can round the other
//!   way: measured against torch 2.15, parameters after four steps agree to 1.2e-3
//!   relative on 32 × 48 (bit-identical on 18 × 30); on random 128 × 128 to 512 × 256
//!   matrices, 30–60% of the orthogonalized entries differ by one or two bfloat16 ulps,
//!   the spread between any two bfloat16 GEMM libraries.
//! * `float32`: the same iteration in `f32`.
//! * `float64`: in `f64`; matches torch's iteration run in float64 (the fixture script
//!   patches that one function) to 1e-12 relative (3.3e-14 measured).
//!
//! Matrix products go through `matrixmultiply` (`sgemm`/`dgemm` with strides, so the
//! transposes are free). On a 1024 × 1024 product it ran at the speed of `gemm` 0.19
//! (faer's kernel) on this two-core machine (25–50 ms in f32, 63–67 ms in f64, against
//! 29–36 ms and 54–94 ms), and it is already in the dependency tree through nalgebra.
//!
//! # Differences from torch
//! gradus refuses `momentum >= 1` (the buffer would never forget), `eps <= 0` (a zero
//! gradient would divide 0 by 0) and `ns_steps > 99` (torch refuses at the first step).
//!
//! ```
//! use gradus::optim::{self, Optimizer, Param};
//! let mut opt = optim::build::<f64>("muon(lr=0.02, weight_decay=0.0)").unwrap();
//! let mut w = vec![1.0, 0.0, 0.0, 1.0, 0.5, 0.5];
//! let g = vec![0.3, -0.1, 0.2, 0.4, 0.0, 0.1];
//! opt.step(&mut [Param::with_shape("w", &mut w, &g, &[3, 2])]).unwrap();
//! let mut b = vec![0.0; 3];
//! let err = opt.step(&mut [Param::new("b", &mut b, &[0.1; 3])]).unwrap_err();
//! assert!(err.to_string().contains("'b' has shape [3]"));
//! ```

use super::blocks::lerp;
use super::tensorwise::{TensorRule, TensorStep};
use crate::error::{Error, Result};
use crate::float::{DType, Float};
use crate::hyper::{HyperValue, Range};
use crate::spec::{Args, Value};
use std::marker::PhantomData;

crate::choice! {
    /// How Muon scales its step for the matrix's shape `A × B` (torch's `adjust_lr_fn`).
    pub enum AdjustLr {
        Original = "original",
        MatchRmsAdamw = "match_rms_adamw",
        SpectralUnclamped = "spectral_unclamped"
    }
}

crate::choice! {
    /// The floating-point type of Muon's Newton–Schulz iteration.
    pub enum NsDtype { BFloat16 = "bfloat16", Float32 = "float32", Float64 = "float64" }
}

/// The Newton–Schulz polynomial's coefficients `(a, b, c)`: `X ← a·X + (b·G + c·G²)·X`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct NsCoefficients(pub [f64; 3]);

impl Default for NsCoefficients {
    /// Jordan et al.'s `(3.4445, −4.7750, 2.0315)`, torch's default.
    fn default() -> Self {
        NsCoefficients([3.4445, -4.7750, 2.0315])
    }
}

impl HyperValue for NsCoefficients {
    const KIND: &'static str = "float_list";
    fn read(args: &Args<'_>, key: &str) -> Result<Option<Self>> {
        match args.f64_list(key)? {
            None => Ok(None),
            Some(v) => match <[f64; 3]>::try_from(v.as_slice()) {
                Ok(abc) => Ok(Some(NsCoefficients(abc))),
                Err(_) => Err(Error::invalid(
                    &args.call().name,
                    key,
                    format!("{v:?}"),
                    "three numbers (a, b, c)",
                )),
            },
        }
    }
    fn to_value(&self) -> Value {
        Value::List(self.0.iter().map(|x| Value::Number(*x)).collect())
    }
    fn to_json(&self) -> serde_json::Value {
        self.0.to_vec().to_json()
    }
    fn check(&self, owner: &str, key: &str, range: &Range) -> Result<()> {
        self.0.to_vec().check(owner, key, range)
    }
}

crate::hyperparameters! {
    /// Hyperparameters of [`Muon`], with torch's names and defaults.
    pub struct MuonConfig("muon", "Muon, momentum orthogonalized by Newton–Schulz, for 2-D weight matrices (Jordan et al. 2024; Liu et al. 2025)") {
        /// Learning rate.
        lr: f64 = 1e-3, NONNEG, log;
        /// Decoupled weight decay λ: `θ ← θ·(1 − lr·λ)`.
        weight_decay: f64 = 0.1, NONNEG, log;
        /// Momentum factor μ.
        momentum: f64 = 0.95, UNIT_OPEN;
        /// Use Nesterov momentum.
        nesterov: bool = true, NONE;
        /// Newton–Schulz coefficients (a, b, c).
        ns_coefficients: NsCoefficients = NsCoefficients::default(), FINITE;
        /// Floor of the Frobenius norm the update is divided by.
        eps: f64 = 1e-7, POS, log;
        /// Newton–Schulz iterations.
        ns_steps: u64 = 5, closed(0.0, 99.0);
        /// Step scale for the matrix shape: original, match_rms_adamw or spectral_unclamped.
        adjust_lr_fn: AdjustLr = AdjustLr::Original, NONE;
        /// Type of the Newton–Schulz iteration (torch: bfloat16).
        ns_dtype: NsDtype = NsDtype::BFloat16, NONE;
    }
}

/// Muon over matrices: see the [module docs](self).
pub type Muon<T> = super::PerTensor<MuonConfig, T>;

impl MuonConfig {
    /// The learning rate scaled for a matrix of `rows × cols` (torch's `_adjust_lr`).
    pub fn adjusted_lr(&self, rows: usize, cols: usize) -> f64 {
        let (a, b) = (rows as f64, cols as f64);
        let ratio = match self.adjust_lr_fn {
            AdjustLr::Original => (a / b).max(1.0).sqrt(),
            AdjustLr::MatchRmsAdamw => 0.2 * a.max(b).sqrt(),
            AdjustLr::SpectralUnclamped => (a / b).sqrt(),
        };
        self.lr * ratio
    }

    /// The configured iteration, its tensors stored as `P` says.
    fn newton_schulz<P>(&self) -> NewtonSchulz<P> {
        NewtonSchulz {
            coefficients: self.ns_coefficients.0,
            steps: self.ns_steps as usize,
            eps: self.eps,
            precision: PhantomData,
        }
    }
}

impl TensorRule for MuonConfig {
    super::table::config_accessors!(momentum = momentum);

    fn slot_names(&self) -> &'static [&'static str] {
        &["momentum_buffer"]
    }

    fn slot_shapes(&self, name: &str, shape: &[usize]) -> Result<Vec<Vec<usize>>> {
        if shape.len() == 2 {
            Ok(vec![shape.to_vec()])
        } else {
            Err(Error::Unsupported(format!(
                "muon needs 2-D tensors (matrices); '{name}' has shape {shape:?}: route it to \
                 another optimizer with partition(matrices=muon(...), rest=adamw(...))"
            )))
        }
    }

    fn update<T: Float>(&self, t: &mut TensorStep<'_, T>, _globals: &[f64]) {
        let (rows, cols) = (t.shape[0], t.shape[1]);
        let (mu, one_minus_mu) = (T::of(self.momentum), T::of(1.0 - self.momentum));
        let buf = &mut t.slots[0];
        let u: Vec<T> = buf
            .iter_mut()
            .zip(t.grad)
            .map(|(b, &g)| {
                *b = lerp(*b, g, one_minus_mu);
                if self.nesterov {
                    lerp(g, *b, mu)
                } else {
                    *b
                }
            })
            .collect();
        let decay = T::of(1.0 - self.lr * self.weight_decay);
        let alpha = -self.adjusted_lr(rows, cols);
        match self.ns_dtype {
            NsDtype::BFloat16 => {
                let o = self.newton_schulz::<Bf16>().orthogonalize(&u, rows, cols);
                apply(t.value, &o, decay, alpha);
            }
            NsDtype::Float32 => {
                let o = self
                    .newton_schulz::<Exact>()
                    .orthogonalize::<T, f32>(&u, rows, cols);
                apply(t.value, &o, decay, alpha);
            }
            NsDtype::Float64 => {
                let o = self
                    .newton_schulz::<Exact>()
                    .orthogonalize::<T, f64>(&u, rows, cols);
                apply(t.value, &o, decay, alpha);
            }
        }
    }
}

/// `θ ← θ·decay + alpha·o`: torch's `param.mul_(decay)` (rounded) then
/// `param.add_(o, alpha=alpha)` (fused), the latter in the wider of the two types, as
/// torch promotes a float32 parameter plus a float64 update.
fn apply<T: Float, E: Float>(value: &mut [T], o: &[E], decay: T, alpha: f64) {
    let wide = T::DTYPE == DType::F64 || E::DTYPE == DType::F64;
    let alpha_t = T::of(alpha);
    for (p, &u) in value.iter_mut().zip(o) {
        let d = *p * decay;
        *p = if wide {
            T::of(alpha.mul_add(u.f64(), d.f64()))
        } else {
            alpha_t.mul_add(T::of(u.f64()), d)
        };
    }
}

/// Rounds an `f32` to the nearest bfloat16 (ties to even), as `c10::BFloat16` does;
/// NaN stays NaN.
#[inline]
pub fn round_bf16(x: f32) -> f32 {
    if x.is_nan() {
        return x;
    }
    let bits = x.to_bits();
    let bias = 0x7fff + ((bits >> 16) & 1);
    f32::from_bits(bits.wrapping_add(bias) & 0xffff_0000)
}

/// A type the Newton–Schulz iteration runs in, with its matrix product.
trait NsFloat: Float {
    /// `c ← alpha·a·b + beta·c` for row-major `a` (m × k), `b` (k × n, or stored n × k
    /// when `b_transposed`) and `c` (m × n); `c` is not read when `beta` is 0.
    #[allow(clippy::too_many_arguments)]
    fn gemm(
        m: usize,
        k: usize,
        n: usize,
        alpha: Self,
        a: &[Self],
        b: &[Self],
        b_transposed: bool,
        beta: Self,
        c: &mut [Self],
    );
}

macro_rules! ns_float {
    ($t:ty, $gemm:path) => {
        impl NsFloat for $t {
            fn gemm(
                m: usize,
                k: usize,
                n: usize,
                alpha: $t,
                a: &[$t],
                b: &[$t],
                b_transposed: bool,
                beta: $t,
                c: &mut [$t],
            ) {
                assert!(a.len() >= m * k && b.len() >= k * n && c.len() >= m * n);
                let (rsb, csb) = if b_transposed {
                    (1, k as isize)
                } else {
                    (n as isize, 1)
                };
                // SAFETY: the slices hold the m×k, k×n and m×n matrices at these strides
                // (checked above), and `c` is borrowed mutably, so it aliases neither input.
                unsafe {
                    $gemm(
                        m,
                        k,
                        n,
                        alpha,
                        a.as_ptr(),
                        k as isize,
                        1,
                        b.as_ptr(),
                        rsb,
                        csb,
                        beta,
                        c.as_mut_ptr(),
                        n as isize,
                        1,
                    )
                }
            }
        }
    };
}

ns_float!(f32, matrixmultiply::sgemm);
ns_float!(f64, matrixmultiply::dgemm);

/// How the iteration stores its tensors in type `E`: exactly (`float32`, `float64`)
/// or rounded to bfloat16.
trait Precision<E: NsFloat> {
    /// A value as stored.
    fn round(x: E) -> E;

    /// `c ← round(alpha·a·b + beta·c)`, as the reference's matrix product computes it.
    #[allow(clippy::too_many_arguments)]
    fn product(
        m: usize,
        k: usize,
        n: usize,
        alpha: E,
        a: &[E],
        b: &[E],
        b_transposed: bool,
        beta: E,
        c: &mut [E],
    ) {
        E::gemm(m, k, n, alpha, a, b, b_transposed, beta, c);
        c.iter_mut().for_each(|v| *v = Self::round(*v));
    }
}

/// Values stored exactly in `E` (`ns_dtype=float32` or `float64`).
struct Exact;

impl<E: NsFloat> Precision<E> for Exact {
    fn round(x: E) -> E {
        x
    }
}

/// Values stored as bfloat16 (`ns_dtype=bfloat16`), held in `f32`.
struct Bf16;

/// The largest `m·n·k` torch's CPU bfloat16 GEMM leaves to its own loop instead of
/// oneDNN (`mkldnn_bf16_gemm` refuses `m·n·k <= 16³`).
const TORCH_SMALL_GEMM: usize = 16 * 16 * 16;

impl Precision<f32> for Bf16 {
    fn round(x: f32) -> f32 {
        round_bf16(x)
    }

    fn product(
        m: usize,
        k: usize,
        n: usize,
        alpha: f32,
        a: &[f32],
        b: &[f32],
        b_transposed: bool,
        beta: f32,
        c: &mut [f32],
    ) {
        if m * n * k > TORCH_SMALL_GEMM {
            f32::gemm(m, k, n, alpha, a, b, b_transposed, beta, c);
            c.iter_mut().for_each(|v| *v = round_bf16(*v));
            return;
        }
        // torch's own loop for small products (ATen's cpublas `gemm_*_` for reduced
        // types): each dot product summed in f32 over four interleaved partial sums,
        // then `beta·c + alpha·dot`, rounded once. A dot product is the
        // torch-defined order of one reduction, which a GEMM library does not offer.
        for i in 0..m {
            for j in 0..n {
                let term = |l: usize| {
                    let bv = if b_transposed {
                        b[j * k + l]
                    } else {
                        b[l * n + j]
                    };
                    a[i * k + l] * bv
                };
                let mut partial = [0f32; 4];
                let mut l = 0;
                while l + 4 <= k {
                    for (q, s) in partial.iter_mut().enumerate() {
                        *s += term(l + q);
                    }
                    l += 4;
                }
                while l < k {
                    partial[0] += term(l);
                    l += 1;
                }
                let dot = partial[0] + partial[1] + partial[2] + partial[3];
                let out = &mut c[i * n + j];
                *out = round_bf16(if beta == 0.0 {
                    alpha * dot
                } else {
                    beta.mul_add(*out, alpha * dot)
                });
            }
        }
    }
}

/// torch's `_zeropower_via_newtonschulz`, its tensors stored in `E` as `P` says.
struct NewtonSchulz<P> {
    coefficients: [f64; 3],
    steps: usize,
    eps: f64,
    precision: PhantomData<P>,
}

impl<P> NewtonSchulz<P> {
    /// The orthogonalized `rows × cols` matrix `u` (row-major, same shape).
    fn orthogonalize<T: Float, E: NsFloat>(&self, u: &[T], rows: usize, cols: usize) -> Vec<E>
    where
        P: Precision<E>,
    {
        let r = P::round;
        // Work on the wide orientation: X is m × n with m ≤ n.
        let transposed = rows > cols;
        let (m, n) = if transposed {
            (cols, rows)
        } else {
            (rows, cols)
        };
        // T → f32 → bfloat16 when rounding, as c10 converts a double.
        let to_e = |x: T| r(E::of(x.f64()));
        let mut x: Vec<E> = if transposed {
            (0..m * n)
                .map(|i| to_e(u[(i % n) * cols + i / n]))
                .collect()
        } else {
            u.iter().map(|&v| to_e(v)).collect()
        };
        let norm = r(E::of(
            x.iter().map(|v| v.f64() * v.f64()).sum::<f64>().sqrt(),
        ));
        let floor = r(E::of(self.eps));
        let norm = if norm < floor { floor } else { norm };
        x.iter_mut().for_each(|v| *v = r(*v / norm));
        let [a, b, c] = self.coefficients.map(E::of);
        let mut gram = vec![E::zero(); m * m];
        let mut poly = vec![E::zero(); m * m];
        let mut next = vec![E::zero(); m * n];
        for _ in 0..self.steps {
            // G = X Xᵀ
            P::product(m, n, m, E::one(), &x, &x, true, E::zero(), &mut gram);
            // P = b·G + c·G·G
            poly.copy_from_slice(&gram);
            P::product(m, m, m, c, &gram, &gram, false, b, &mut poly);
            // X ← a·X + P·X
            next.copy_from_slice(&x);
            P::product(m, m, n, E::one(), &poly, &x, false, a, &mut next);
            std::mem::swap(&mut x, &mut next);
        }
        if transposed {
            (0..rows * cols)
                .map(|i| x[(i % cols) * n + i / cols])
                .collect()
        } else {
            x
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::optim::{Optimizer, Param};

    fn ns64(steps: usize) -> NewtonSchulz<Exact> {
        NewtonSchulz {
            coefficients: NsCoefficients::default().0,
            steps,
            eps: 1e-7,
            precision: PhantomData,
        }
    }

    #[test]
    fn bf16_rounds_to_nearest_even() {
        assert_eq!(round_bf16(1.0), 1.0);
        // 1 + 2⁻⁸ is halfway between 1 and 1 + 2⁻⁷: ties go to the even 1.
        assert_eq!(round_bf16(1.0 + 2f32.powi(-8)), 1.0);
        // 1 + 3·2⁻⁸ is halfway between 1 + 2⁻⁷ and 1 + 2⁻⁶: even is 1 + 2⁻⁶.
        assert_eq!(round_bf16(1.0 + 3.0 * 2f32.powi(-8)), 1.0 + 2f32.powi(-6));
        assert_eq!(
            round_bf16(1.0 + 2f32.powi(-8) + 2f32.powi(-20)),
            1.0 + 2f32.powi(-7)
        );
        assert_eq!(round_bf16(-0.3), -0.30078125);
        assert!(round_bf16(f32::NAN).is_nan());
        assert_eq!(round_bf16(f32::MAX), f32::INFINITY);
    }

    #[test]
    fn zero_steps_only_normalize_and_transposes_are_undone() {
        // 3 × 2 (tall): worked on as its 2 × 3 transpose, returned as 3 × 2.
        let u = [3.0, 0.0, 0.0, 4.0, 0.0, 0.0];
        let o: Vec<f64> = ns64(0).orthogonalize(&u, 3, 2);
        assert_eq!(o, vec![0.6, 0.0, 0.0, 0.8, 0.0, 0.0]);
    }

    #[test]
    fn the_iteration_pushes_singular_values_towards_one() {
        // diag(2, 1)/√5 has singular values 0.89 and 0.45; five quintic steps bring both
        // into Jordan et al.'s band around 1, and the result stays diagonal.
        let u = [2.0, 0.0, 0.0, 1.0];
        let o: Vec<f64> = ns64(5).orthogonalize(&u, 2, 2);
        assert_eq!((o[1], o[2]), (0.0, 0.0));
        for s in [o[0], o[3]] {
            assert!((0.6..1.3).contains(&s), "{o:?}");
        }
        // One step by hand on s = 1/√5: a·s + b·s³ + c·s⁵.
        let s = 1.0 / 5f64.sqrt();
        let o: Vec<f64> = ns64(1).orthogonalize(&u, 2, 2);
        let want = 3.4445 * s + -4.775 * s.powi(3) + 2.0315 * s.powi(5);
        assert!((o[3] - want).abs() < 1e-15, "{} vs {want}", o[3]);
    }

    #[test]
    fn adjusted_lr_follows_torch() {
        let c = |f| MuonConfig {
            lr: 0.1,
            adjust_lr_fn: f,
            ..Default::default()
        };
        assert_eq!(c(AdjustLr::Original).adjusted_lr(8, 2), 0.1 * 2.0);
        assert_eq!(c(AdjustLr::Original).adjusted_lr(2, 8), 0.1);
        assert_eq!(
            c(AdjustLr::MatchRmsAdamw).adjusted_lr(2, 16),
            0.1 * 0.2 * 4.0
        );
        assert_eq!(c(AdjustLr::SpectralUnclamped).adjusted_lr(2, 8), 0.1 * 0.5);
    }

    #[test]
    fn spec_reads_and_refuses() {
        let parse = |s: &str| MuonConfig::from_call(&crate::spec::parse(s).unwrap());
        let c = parse(
            "muon(ns_coefficients=(2, -1.5, 0.5), adjust_lr_fn=match_rms_adamw, ns_dtype=float64)",
        )
        .unwrap();
        assert_eq!(c.ns_coefficients.0, [2.0, -1.5, 0.5]);
        assert_eq!(c.ns_dtype, NsDtype::Float64);
        assert_eq!(parse(&c.to_call().to_string()).unwrap(), c);
        let e = parse("muon(ns_coefficients=(1, 2))")
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("ns_coefficients") && e.contains("three numbers"),
            "{e}"
        );
        assert!(parse("muon(ns_steps=100)").is_err());
        assert!(parse("muon(eps=0)").is_err());
        assert!(parse("muon(ns_dtype=float16)")
            .unwrap_err()
            .to_string()
            .contains("bfloat16"));
    }

    #[test]
    fn first_step_by_hand_and_vectors_refused() {
        // A 1 × 2 matrix: the buffer after one step is (1 − 0.95)·g; Nesterov's update is
        // lerp(g, b, 0.95); orthogonalized (f64, 0 iterations) it is the unit vector
        // along g, and the parameter moves by lr along it after decay.
        let mut opt = Muon::<f64>::new(MuonConfig {
            lr: 0.1,
            weight_decay: 0.5,
            ns_steps: 0,
            ns_dtype: NsDtype::Float64,
            ..Default::default()
        })
        .unwrap();
        let mut w = vec![1.0, 2.0];
        let g = [3.0, 4.0];
        opt.step(&mut [Param::with_shape("w", &mut w, &g, &[1, 2])])
            .unwrap();
        assert_eq!(w, vec![1.0 * 0.95 - 0.1 * 0.6, 2.0 * 0.95 - 0.1 * 0.8]);
        let b = opt.slot("w", "momentum_buffer").unwrap();
        let w = 1.0 - 0.95; // 0.050000000000000044, as Python computes torch's weight
        assert_eq!(b, &[lerp(0.0, 3.0, w), lerp(0.0, 4.0, w)]);

        let mut v = vec![1.0; 2];
        let err = opt
            .step(&mut [Param::new("bias", &mut v, &[1.0; 2])])
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("'bias' has shape [2]") && err.contains("partition"),
            "{err}"
        );
        assert_eq!(v, vec![1.0; 2]);
    }

    #[test]
    fn a_zero_gradient_is_a_zero_update() {
        let mut opt = Muon::<f32>::new(MuonConfig {
            weight_decay: 0.0,
            ..Default::default()
        })
        .unwrap();
        let mut w = vec![1.0f32; 6];
        opt.step(&mut [Param::with_shape("w", &mut w, &[0.0; 6], &[2, 3])])
            .unwrap();
        assert_eq!(w, vec![1.0; 6]);
    }
}
