//! Stochastic gradient descent, with heavy-ball or Nesterov momentum.
//!
//! # Update rule (torch.optim.SGD)
//! With `g_t = ∇f(θ_{t−1})` (negated when `maximize`), plus `λ·θ_{t−1}` when
//! `weight_decay = λ ≠ 0`:
//!
//! ```text
//! b_1 = g_1                                  (first step: no dampening)
//! b_t = μ·b_{t−1} + (1 − τ)·g_t              (momentum μ ≠ 0, dampening τ)
//! d_t = g_t + μ·b_t   if nesterov   else  b_t   (d_t = g_t when μ = 0)
//! θ_t = θ_{t−1} − lr·d_t
//! ```
//!
//! Defaults: `lr=1e-3, momentum=0, dampening=0, nesterov=false, weight_decay=0,
//! maximize=false`, as torch.
//!
//! # The tutorials' forms
//! * "velocity = β·velocity + g" is `momentum=β, dampening=0` (Polyak 1964's heavy ball).
//! * "velocity = β·velocity + (1 − β)·g" (momentum as a leaky, exponentially weighted
//!   average) is `momentum=β, dampening=β`; its effective step is `(1 − β)` times
//!   smaller. Note torch, and so gradus, start the buffer at `g_1` with no dampening.
//! * Nesterov's look-ahead (Nesterov 1983; Sutskever et al. 2013) is written, as in
//!   torch, as a gradient step plus a momentum step: `θ − lr·(g + μ·b)`. The first
//!   tutorial's version looks ahead with the wrong sign; gradus does not copy it.
//!
//! # Differences from torch
//! Like torch, gradus refuses `nesterov=true` with `momentum=0` or with non-zero
//! dampening. It also refuses `momentum >= 1`, which torch accepts: the buffer then
//! grows without bound.
//!
//! ```
//! use gradus::optim::{Sgd, SgdConfig, Optimizer, Param};
//! // f(x) = x², gradient 2x, from 10 with lr 0.1: 10 → 8 → 6.4
//! let mut opt = Sgd::<f64>::new(SgdConfig { lr: 0.1, ..Default::default() }).unwrap();
//! let mut x = [10.0];
//! for want in [8.0, 6.4] {
//!     let g = [2.0 * x[0]];
//!     opt.step(&mut [Param::new("x", &mut x, &g)]).unwrap();
//!     assert!((x[0] - want).abs() < 1e-12);
//! }
//! ```

use super::blocks::{add_scaled, grad_in};
use super::engine::{Elementwise, Rule};
use crate::error::{Error, Result};
use crate::float::Float;
use crate::spec::fmt_value;

crate::hyperparameters! {
    /// Hyperparameters of [`Sgd`], with torch's names and defaults.
    #[derive(Copy)]
    pub struct SgdConfig("sgd", "gradient descent / SGD, with heavy-ball or Nesterov momentum (Robbins & Monro 1951; Polyak 1964; Nesterov 1983)") {
        /// Learning rate.
        lr: f64 = 1e-3, NONNEG, log;
        /// Momentum factor μ.
        momentum: f64 = 0.0, UNIT_OPEN;
        /// Dampening τ of the gradient added to the buffer.
        dampening: f64 = 0.0, UNIT;
        /// L2 penalty λ added to the gradient.
        weight_decay: f64 = 0.0, NONNEG, log;
        /// Use Nesterov momentum.
        nesterov: bool = false, NONE;
        /// Maximize the objective instead of minimizing.
        maximize: bool = false, NONE;
    }
    check = check_nesterov;
}

/// torch's rule: Nesterov momentum needs momentum and no dampening.
fn check_nesterov(c: &SgdConfig, owner: &str) -> Result<()> {
    if c.nesterov && c.momentum <= 0.0 {
        return Err(Error::invalid(
            owner,
            "momentum",
            fmt_value(c.momentum),
            "a number in (0, 1) when nesterov=true (Nesterov momentum requires a momentum)",
        ));
    }
    if c.nesterov && c.dampening != 0.0 {
        return Err(Error::invalid(
            owner,
            "dampening",
            fmt_value(c.dampening),
            "0 when nesterov=true (Nesterov momentum requires zero dampening)",
        ));
    }
    Ok(())
}

/// Stochastic gradient descent (with optional momentum): see the [module docs](self).
pub type Sgd<T> = Elementwise<SgdConfig, T>;

/// Per-step scalars of [`SgdConfig`].
#[derive(Debug, Clone, Copy)]
pub struct SgdCoeffs<T> {
    neg_lr: T,
    momentum: T,
    one_minus_dampening: T,
    wd: T,
    first: bool,
    nesterov: bool,
    maximize: bool,
    has_momentum: bool,
}

impl Rule for SgdConfig {
    const LOW_PRECISION_STATE: bool = true;

    super::table::config_accessors!(momentum = momentum);

    fn slot_names(&self) -> &'static [&'static str] {
        if self.momentum != 0.0 {
            &["momentum_buffer"]
        } else {
            &[]
        }
    }

    fn lazy_slots(&self) -> bool {
        true
    }

    /// One flag per tensor: whether its momentum buffer holds a value yet. torch
    /// creates the buffer from the first gradient seen while momentum ≠ 0, which need
    /// not be the first step (a one-cycle schedule may switch momentum on later).
    fn scalar_init(&self) -> Vec<f64> {
        vec![0.0]
    }

    type Coeffs<T: Float> = SgdCoeffs<T>;

    fn coeffs<T: Float>(&self, _step: u64, scalars: &mut [f64]) -> SgdCoeffs<T> {
        let first = scalars[0] == 0.0;
        if self.momentum != 0.0 {
            scalars[0] = 1.0;
        }
        SgdCoeffs {
            neg_lr: T::of(-self.lr),
            momentum: T::of(self.momentum),
            one_minus_dampening: T::of(1.0 - self.dampening),
            wd: T::of(self.weight_decay),
            first,
            nesterov: self.nesterov,
            maximize: self.maximize,
            has_momentum: self.momentum != 0.0,
        }
    }

    #[inline(always)]
    fn update<T: Float>(c: &SgdCoeffs<T>, p: &mut T, g: T, s: &mut [T]) {
        sgd_update::<T, false>(c, p, g, s)
    }

    fn is_fast<T: Float>(c: &SgdCoeffs<T>) -> bool {
        !c.maximize && c.wd == T::zero() && (!c.has_momentum || !(c.first || c.nesterov))
    }

    #[inline(always)]
    fn update_fast<T: Float>(c: &SgdCoeffs<T>, p: &mut T, g: T, s: &mut [T]) {
        sgd_update::<T, true>(c, p, g, s)
    }
}

/// One element of SGD. With `FAST`, the coefficients satisfy [`Rule::is_fast`]:
/// no `maximize`, no weight decay, and with momentum, neither the first step nor
/// Nesterov. Whether there is momentum is then read from the slot count (the
/// momentum buffer is the only slot), a constant of the kernel's loop.
#[inline(always)]
fn sgd_update<T: Float, const FAST: bool>(c: &SgdCoeffs<T>, p: &mut T, g: T, s: &mut [T]) {
    let g = if FAST {
        g
    } else {
        grad_in(g, *p, c.maximize, c.wd)
    };
    let has_momentum = if FAST { !s.is_empty() } else { c.has_momentum };
    let d = if has_momentum {
        let b = if !FAST && c.first {
            g
        } else {
            add_scaled(s[0] * c.momentum, c.one_minus_dampening, g)
        };
        s[0] = b;
        if !FAST && c.nesterov {
            add_scaled(g, c.momentum, b)
        } else {
            b
        }
    } else {
        g
    };
    *p = add_scaled(*p, c.neg_lr, d);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::optim::test_support::run;
    use crate::optim::{Optimizer, Param};

    #[test]
    fn plain_gd_on_parabola_matches_the_third_tutorial() {
        // x ← x − 0.1·2x = 0.8x from 10: 8, 6.4, 5.12, ...
        let xs = run(
            SgdConfig {
                lr: 0.1,
                ..Default::default()
            },
            10.0,
            |x| 2.0 * x,
            10,
        );
        let want = [
            8.0,
            6.4,
            5.12,
            4.096,
            3.2768,
            2.62144,
            2.097152,
            1.6777216,
            1.34217728,
            1.073741824,
        ];
        for (x, w) in xs.iter().zip(want) {
            assert!((x - w).abs() < 1e-12, "{x} vs {w}");
        }
        // lr 1.05: x ← x − 2.1x = −1.1x: −11, 12.1, −13.31, 14.641
        let xs = run(
            SgdConfig {
                lr: 1.05,
                ..Default::default()
            },
            10.0,
            |x| 2.0 * x,
            4,
        );
        for (x, w) in xs.iter().zip([-11.0, 12.1, -13.31, 14.641]) {
            assert!((x - w).abs() < 1e-12, "{x} vs {w}");
        }
    }

    #[test]
    fn momentum_first_steps_by_hand() {
        // f = x², x0 = 10, lr 0.1, μ 0.5, dampening 0.
        // step 1: g = 20, b = 20 (no dampening on the first step), x = 10 − 2 = 8
        // step 2: g = 16, b = 0.5·20 + 16 = 26, x = 8 − 2.6 = 5.4
        // step 3: g = 10.8, b = 13 + 10.8 = 23.8, x = 5.4 − 2.38 = 3.02
        let cfg = SgdConfig {
            lr: 0.1,
            momentum: 0.5,
            ..Default::default()
        };
        let xs = run(cfg, 10.0, |x| 2.0 * x, 3);
        for (x, w) in xs.iter().zip([8.0, 5.4, 3.02]) {
            assert!((x - w).abs() < 1e-12, "{x} vs {w}");
        }
    }

    #[test]
    fn dampened_momentum_by_hand() {
        // μ = τ = 0.9, lr 0.1, f = x² from 10.
        // step 1: g = 20, b = 20, x = 8
        // step 2: g = 16, b = 0.9·20 + 0.1·16 = 19.6, x = 8 − 1.96 = 6.04
        let cfg = SgdConfig {
            lr: 0.1,
            momentum: 0.9,
            dampening: 0.9,
            ..Default::default()
        };
        let xs = run(cfg, 10.0, |x| 2.0 * x, 2);
        for (x, w) in xs.iter().zip([8.0, 6.04]) {
            assert!((x - w).abs() < 1e-12, "{x} vs {w}");
        }
    }

    #[test]
    fn nesterov_by_hand() {
        // μ 0.5, lr 0.1, f = x² from 10.
        // step 1: g = 20, b = 20, d = 20 + 0.5·20 = 30, x = 10 − 3 = 7
        // step 2: g = 14, b = 10 + 14 = 24, d = 14 + 12 = 26, x = 7 − 2.6 = 4.4
        let cfg = SgdConfig {
            lr: 0.1,
            momentum: 0.5,
            nesterov: true,
            ..Default::default()
        };
        let xs = run(cfg, 10.0, |x| 2.0 * x, 2);
        for (x, w) in xs.iter().zip([7.0, 4.4]) {
            assert!((x - w).abs() < 1e-12, "{x} vs {w}");
        }
    }

    #[test]
    fn weight_decay_and_maximize_by_hand() {
        // g = 2x + 0.5x = 2.5x, lr 0.1: x = 10 − 2.5 = 7.5
        let cfg = SgdConfig {
            lr: 0.1,
            weight_decay: 0.5,
            ..Default::default()
        };
        assert!((run(cfg, 10.0, |x| 2.0 * x, 1)[0] - 7.5).abs() < 1e-12);
        // maximize −x²: gradient −2x negated to 2x, so it descends x² too: 8
        let cfg = SgdConfig {
            lr: 0.1,
            maximize: true,
            ..Default::default()
        };
        assert!((run(cfg, 10.0, |x| -2.0 * x, 1)[0] - 8.0).abs() < 1e-12);
    }

    #[test]
    fn momentum_switched_on_later_starts_its_buffer_from_the_gradient() {
        // As torch with a one-cycle schedule on sgd(momentum=0): the buffer is created
        // from the gradient of the first step with momentum ≠ 0.
        // step 1 (μ = 0): x = 10 − 0.1·20 = 8
        // step 2 (μ = 0.5): b = g = 16, x = 8 − 1.6 = 6.4
        // step 3: g = 12.8, b = 8 + 12.8 = 20.8, x = 6.4 − 2.08 = 4.32
        let mut opt = Sgd::<f64>::new(SgdConfig {
            lr: 0.1,
            ..Default::default()
        })
        .unwrap();
        let mut x = [10.0];
        let mut xs = vec![];
        for k in 0..3 {
            if k == 1 {
                opt.set_momentum(0.5).unwrap();
            }
            let g = [2.0 * x[0]];
            opt.step(&mut [Param::new("x", &mut x, &g)]).unwrap();
            xs.push(x[0]);
        }
        for (x, w) in xs.iter().zip([8.0, 6.4, 4.32]) {
            assert!((x - w).abs() < 1e-12, "{x} vs {w}");
        }
    }

    #[test]
    fn nesterov_needs_momentum_and_no_dampening_as_in_torch() {
        let msg = |spec: &str| {
            SgdConfig::from_call(&crate::spec::parse(spec).unwrap())
                .unwrap_err()
                .to_string()
        };
        assert!(msg("sgd(nesterov=true)").contains("invalid momentum = 0.0 for sgd"));
        assert!(msg("sgd(momentum=0.9, dampening=0.1, nesterov=true)")
            .contains("invalid dampening = 0.1 for sgd"));
        assert!(msg("sgd(momentum=1.0)").contains("a number in [0, 1)"));
        assert!(SgdConfig::from_call(
            &crate::spec::parse("sgd(momentum=0.9, nesterov=true)").unwrap()
        )
        .is_ok());
    }
}
