//! Rprop: resilient backpropagation, a per-coordinate step size adapted from the sign
//! of the gradient alone.
//!
//! # Update rule (torch.optim.Rprop)
//! With `g_t = ∇f(θ_{t−1})` (negated when `maximize`), `g_0 = 0` and the step sizes
//! `Δ_0 = lr`, for every coordinate:
//!
//! ```text
//! η = η+  if g_t·g_{t−1} > 0            the same direction again: grow the step
//!     η−  if g_t·g_{t−1} < 0            the minimum was jumped over: shrink it
//!     1   otherwise                     (after a sign change, or on the first step)
//! Δ_t = clamp(Δ_{t−1}·η, Δmin, Δmax)
//! g_t ← 0  if η = η−                    no step, and no adaptation next time
//! θ_t = θ_{t−1} − sign(g_t)·Δ_t
//! ```
//!
//! The state is torch's: `prev` (the gradient kept for the next step, `g_t` after the
//! zeroing) and `step_size` (`Δ_t`), both per element.
//!
//! Defaults: `lr=1e-2, etas=(0.5, 1.2), step_sizes=(1e-6, 50), maximize=false`, as
//! torch. `etas` is `(η−, η+)` and `step_sizes` is `(Δmin, Δmax)`.
//!
//! Rprop ignores the size of the gradient, only its sign counts, which is why it is
//! robust to badly scaled problems; it is meant for full-batch gradients (noisy
//! mini-batch signs flip at random and keep shrinking the steps).
//!
//! # Reference
//! Riedmiller & Braun, *A Direct Adaptive Method for Faster Backpropagation Learning:
//! The RPROP Algorithm*, IEEE International Conference on Neural Networks, 1993.
//! Igel & Hüsken, *Improving the Rprop Learning Algorithm*, NC 2000 (iRprop−, the
//! variant torch implements).
//!
//! # Where torch differs from the paper
//! * The paper takes back the previous weight step after a sign change
//!   ("weight-backtracking"). torch, and so gradus, does not: it only skips the step
//!   and forgets the gradient, which is Igel & Hüsken's iRprop−. No previous update
//!   needs to be stored.
//! * `lr` is only the initial step size `Δ_0`, read when a tensor is first stepped; the
//!   step sizes then live in the state. So a learning-rate schedule changes nothing for
//!   tensors already seen (as in torch), and `lr = 0` still moves by `Δmin`, since the
//!   first step size is clamped into `[Δmin, Δmax]` too. The paper starts from `Δ_0 = 0.1`.
//! * The sign of a NaN is 0 in torch (`torch.sign`), so under
//!   [`NonFinitePolicy::Propagate`](super::NonFinitePolicy::Propagate) a NaN gradient
//!   leaves the parameter and its step size unchanged and is kept as `prev`; the next
//!   step then neither grows nor shrinks that step size. gradus does the same.
//! * torch accepts `step_sizes` with `Δmin > Δmax` (every step size is then `Δmax`) and
//!   negative ones; gradus refuses them.
//!
//! ```
//! use gradus::optim::{Rprop, RpropConfig, Optimizer, Param};
//! // f(x) = x² from 10: steps of 0.01, 0.012, 0.0144, ... while the sign holds.
//! let mut opt = Rprop::<f64>::new(RpropConfig::default()).unwrap();
//! let mut x = [10.0];
//! for _ in 0..3 {
//!     let g = [2.0 * x[0]];
//!     opt.step(&mut [Param::new("x", &mut x, &g)]).unwrap();
//! }
//! assert!((x[0] - (10.0 - 0.01 - 0.012 - 0.0144)).abs() < 1e-12);
//! assert_eq!(opt.slot("x", "step_size").unwrap(), &[0.01 * 1.2 * 1.2]);
//! ```

use super::blocks::{addcmul, clamp, sign};
use super::engine::{Elementwise, Rule};
use crate::error::{Error, Result};
use crate::float::Float;
use crate::spec::fmt_value;

crate::hyperparameters! {
    /// Hyperparameters of [`Rprop`], with torch's names and defaults.
    #[derive(Copy)]
    pub struct RpropConfig("rprop", "resilient backpropagation: per-coordinate step sizes adapted from gradient signs (Riedmiller & Braun 1993; iRprop−, Igel & Hüsken 2000)") {
        /// Initial step size Δ_0 of every coordinate (read when a tensor is first stepped).
        lr: f64 = 1e-2, NONNEG, log;
        /// Factors (η−, η+) that shrink and grow a step size, with 0 < η− < 1 < η+.
        etas: (f64, f64) = (0.5, 1.2), POS;
        /// Smallest and largest step size (Δmin, Δmax), with Δmin <= Δmax.
        step_sizes: (f64, f64) = (1e-6, 50.0), NONNEG, log;
        /// Maximize the objective instead of minimizing.
        maximize: bool = false, NONE;
    }
    check = check_rprop;
}

/// torch's rule `0 < η− < 1 < η+`, and ordered step-size bounds.
fn check_rprop(c: &RpropConfig, owner: &str) -> Result<()> {
    let (minus, plus) = c.etas;
    if minus >= 1.0 {
        return Err(Error::invalid(
            owner,
            "etas[0]",
            fmt_value(minus),
            "a number in (0, 1)",
        ));
    }
    if plus <= 1.0 {
        return Err(Error::invalid(
            owner,
            "etas[1]",
            fmt_value(plus),
            "a finite number > 1",
        ));
    }
    let (lo, hi) = c.step_sizes;
    if lo > hi {
        return Err(Error::invalid(
            owner,
            "step_sizes[1]",
            fmt_value(hi),
            format!(
                "a finite number >= step_sizes[0] = {} (the largest step size)",
                fmt_value(lo)
            ),
        ));
    }
    Ok(())
}

/// Rprop: see the [module docs](self).
pub type Rprop<T> = Elementwise<RpropConfig, T>;

/// Per-step scalars of [`RpropConfig`] (the same every step).
#[derive(Debug, Clone, Copy)]
pub struct RpropCoeffs<T> {
    eta_minus: T,
    eta_plus: T,
    step_min: T,
    step_max: T,
    maximize: bool,
}

impl Rule for RpropConfig {
    super::table::config_accessors!();

    fn slot_names(&self) -> &'static [&'static str] {
        &["prev", "step_size"]
    }

    /// `prev` starts at 0, `step_size` at `lr` (torch's `full_like(grad, lr)`).
    fn slot_init(&self, slot: usize) -> f64 {
        if slot == 1 {
            self.lr
        } else {
            0.0
        }
    }

    type Coeffs<T: Float> = RpropCoeffs<T>;

    fn coeffs<T: Float>(&self, _step: u64, _scalars: &mut [f64]) -> RpropCoeffs<T> {
        RpropCoeffs {
            eta_minus: T::of(self.etas.0),
            eta_plus: T::of(self.etas.1),
            step_min: T::of(self.step_sizes.0),
            step_max: T::of(self.step_sizes.1),
            maximize: self.maximize,
        }
    }

    #[inline(always)]
    fn update<T: Float>(c: &RpropCoeffs<T>, p: &mut T, g: T, s: &mut [T]) {
        rprop_update::<T, false>(c, p, g, s)
    }

    fn is_fast<T: Float>(c: &RpropCoeffs<T>) -> bool {
        !c.maximize
    }

    #[inline(always)]
    fn update_fast<T: Float>(c: &RpropCoeffs<T>, p: &mut T, g: T, s: &mut [T]) {
        rprop_update::<T, true>(c, p, g, s)
    }
}

/// One element of Rprop, in torch's order (`_single_tensor_rprop`). With `FAST`, the
/// coefficients satisfy [`Rule::is_fast`]: no `maximize`.
#[inline(always)]
fn rprop_update<T: Float, const FAST: bool>(c: &RpropCoeffs<T>, p: &mut T, g: T, s: &mut [T]) {
    let g = if !FAST && c.maximize { -g } else { g };
    // torch overwrites the sign tensor in three masked assignments, in this order; the
    // order matters only where a factor rounds to 0 or 1 in the dtype, and is kept.
    let mut factor = sign(g * s[0]);
    if factor > T::zero() {
        factor = c.eta_plus;
    }
    if factor < T::zero() {
        factor = c.eta_minus;
    }
    if factor == T::zero() {
        factor = T::one();
    }
    s[1] = clamp(s[1] * factor, c.step_min, c.step_max);
    let g = if factor == c.eta_minus { T::zero() } else { g };
    *p = addcmul(*p, -T::one(), sign(g), s[1]);
    s[0] = g;
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::optim::test_support::run;
    use crate::optim::{NonFinitePolicy, Optimizer, Param};

    fn cfg(lr: f64) -> RpropConfig {
        RpropConfig {
            lr,
            ..Default::default()
        }
    }

    #[test]
    fn steps_grow_by_eta_plus_while_the_sign_holds() {
        // f = x² from 10: the gradient stays positive, so the steps are
        // 0.01 (the first, Δ_0 = lr), 0.012, 0.0144, 0.01728.
        let xs = run(cfg(0.01), 10.0, |x| 2.0 * x, 4);
        let mut x = 10.0;
        let mut want = vec![];
        let mut step = 0.01;
        for _ in 0..4 {
            x -= step;
            want.push(x);
            step *= 1.2;
        }
        for (g, w) in xs.iter().zip(&want) {
            assert!((g - w).abs() < 1e-15, "{g} vs {w}");
        }
    }

    #[test]
    fn a_sign_change_shrinks_the_step_and_skips_it() {
        // Gradients 1, −1, −1, −1 from 0, lr 0.1:
        // step 1: Δ = 0.1, x = −0.1, prev = 1
        // step 2: g·prev < 0: Δ = 0.05, g ← 0, x stays −0.1, prev = 0
        // step 3: g·prev = 0: Δ stays 0.05, x = −0.1 + 0.05 = −0.05, prev = −1
        // step 4: g·prev > 0: Δ = 0.06, x = 0.01
        let mut opt = Rprop::<f64>::new(cfg(0.1)).unwrap();
        let mut x = [0.0];
        let mut xs = vec![];
        let mut deltas = vec![];
        for g in [1.0, -1.0, -1.0, -1.0] {
            opt.step(&mut [Param::new("x", &mut x, &[g])]).unwrap();
            xs.push(x[0]);
            deltas.push(opt.slot("x", "step_size").unwrap()[0]);
        }
        assert_eq!(deltas, vec![0.1, 0.05, 0.05, 0.05 * 1.2]);
        assert_eq!(xs[..3], [-0.1, -0.1, -0.1 + 0.05]);
        assert!((xs[3] - (-0.05 + 0.06)).abs() < 1e-16, "{}", xs[3]);
        assert_eq!(opt.slot("x", "prev").unwrap(), &[-1.0]);
    }

    #[test]
    fn step_sizes_clamp_every_step_size_including_the_first() {
        // lr 0.1 is clamped to Δmax 0.02 on the first step; growth stops at Δmax.
        let c = RpropConfig {
            lr: 0.1,
            step_sizes: (0.001, 0.02),
            ..Default::default()
        };
        let xs = run(c, 10.0, |x| 2.0 * x, 3);
        assert_eq!(
            xs,
            vec![10.0 - 0.02, 10.0 - 0.02 - 0.02, 10.0 - 0.02 - 0.02 - 0.02]
        );
        // lr 0 still moves by Δmin, as in torch.
        let c = RpropConfig {
            lr: 0.0,
            step_sizes: (0.25, 1.0),
            ..Default::default()
        };
        assert_eq!(run(c, 10.0, |x| 2.0 * x, 1), vec![9.75]);
        // Shrinking stops at Δmin: gradients alternate, Δ = 1, 0.5 (skipped), 0.5, 0.5 (skipped) ...
        let c = RpropConfig {
            lr: 1.0,
            step_sizes: (0.5, 50.0),
            etas: (0.1, 1.2),
            ..Default::default()
        };
        let mut opt = Rprop::<f64>::new(c).unwrap();
        let mut x = [0.0];
        for g in [1.0, -1.0, 1.0, -1.0] {
            opt.step(&mut [Param::new("x", &mut x, &[g])]).unwrap();
        }
        assert_eq!(opt.slot("x", "step_size").unwrap(), &[0.5]);
    }

    #[test]
    fn lr_is_only_the_initial_step_size() {
        // As torch: changing lr after the first step leaves the step sizes alone; a
        // tensor seen for the first time afterwards starts from the new lr.
        let mut opt = Rprop::<f64>::new(cfg(0.1)).unwrap();
        let mut x = [10.0];
        opt.step(&mut [Param::new("x", &mut x, &[1.0])]).unwrap();
        opt.set_lr(5.0).unwrap();
        let mut y = [10.0];
        opt.step(&mut [
            Param::new("x", &mut x, &[1.0]),
            Param::new("y", &mut y, &[1.0]),
        ])
        .unwrap();
        assert!((x[0] - (10.0 - 0.1 - 0.12)).abs() < 1e-15, "{}", x[0]);
        assert_eq!(y[0], 5.0);
    }

    #[test]
    fn maximize_climbs() {
        let a = run(
            RpropConfig {
                maximize: true,
                ..cfg(0.05)
            },
            3.0,
            |x| -2.0 * x,
            40,
        );
        assert_eq!(a, run(cfg(0.05), 3.0, |x| 2.0 * x, 40));
        assert!(a[39].abs() < 0.1, "{}", a[39]);
    }

    #[test]
    fn a_nan_gradient_leaves_the_parameter_as_torch_does() {
        // torch.sign(nan) = 0: the parameter and its step size stay, prev becomes NaN, and
        // the next product with it is NaN, whose sign is 0 again: Δ stays, x moves.
        let mut opt = Rprop::<f64>::new(cfg(0.1)).unwrap();
        opt.set_nonfinite_policy(NonFinitePolicy::Propagate);
        let mut x = [1.0, 1.0];
        opt.step(&mut [Param::new("x", &mut x, &[1.0, 1.0])])
            .unwrap();
        opt.step(&mut [Param::new("x", &mut x, &[f64::NAN, 1.0])])
            .unwrap();
        assert_eq!(x[0], 0.9);
        assert!((x[1] - (0.9 - 0.12)).abs() < 1e-15);
        assert!(opt.slot("x", "prev").unwrap()[0].is_nan());
        opt.step(&mut [Param::new("x", &mut x, &[1.0, 1.0])])
            .unwrap();
        assert_eq!(opt.slot("x", "step_size").unwrap()[0], 0.1);
        assert!((x[0] - 0.8).abs() < 1e-15, "{}", x[0]);
    }

    #[test]
    fn converges_on_badly_scaled_coordinates() {
        // f = 1e4·x² + 1e-4·y² from (1, 1): the signs alone drive both to 0.
        let mut opt = Rprop::<f64>::new(cfg(0.01)).unwrap();
        let mut x = [1.0, 1.0];
        for _ in 0..300 {
            let g = [2e4 * x[0], 2e-4 * x[1]];
            opt.step(&mut [Param::new("x", &mut x, &g)]).unwrap();
        }
        assert!(x[0].abs() < 1e-6 && x[1].abs() < 1e-6, "{x:?}");
    }

    #[test]
    fn etas_and_step_sizes_must_be_ordered_as_torch_requires() {
        // Ranges are checked over the whole catalog (tests/catalog.rs); these are the
        // rules across the pairs: 0 < η− < 1 < η+ and Δmin <= Δmax.
        for (spec, param) in [
            ("rprop(etas=(1.0, 1.2))", "etas[0]"),
            ("rprop(etas=(0.5, 1.0))", "etas[1]"),
            ("rprop(step_sizes=(1, 0.5))", "step_sizes[1]"),
        ] {
            match RpropConfig::from_call(&crate::spec::parse(spec).unwrap()) {
                Err(Error::InvalidHyperparameter { param: p, .. }) => {
                    assert_eq!(p, param, "{spec}")
                }
                other => panic!("{spec}: {other:?}"),
            }
        }
    }
}
