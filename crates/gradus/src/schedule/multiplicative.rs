//! `multiplicative`: multiply the lr after every update by a factor a Rust closure
//! computes from the update count (torch's `MultiplicativeLR`). Library only: a spec
//! holds no code, so `schedule::build("multiplicative")` is an error that says so.
//!
//! # Formula
//! For update `k` (0 first), the optimizer's lr `η` and the closure `f`:
//!
//! ```text
//! lr_0 = η,   lr_k = lr_{k−1}·f(k)   (= η·f(1)·…·f(k))
//! ```
//!
//! This recursion is torch's (it is not a closed form), so the product is formed in
//! torch's order and matches it to the bit.
//!
//! ```
//! use gradus::schedule::{lrs, Multiplicative};
//! let s = Multiplicative::new(1.0, |_| 0.5).unwrap();
//! assert_eq!(lrs(&s, 4), vec![1.0, 0.5, 0.25, 0.125]);
//! ```
//!
//! The state holds the step count and lr, not the closure: load it into a schedule
//! built with the same closure.

use super::lambda_lr::ClosureCore;
use super::{Core, TorchRule};
use crate::error::Result;
use crate::spec::Call;

/// The `multiplicative` schedule: see the [module docs](self).
#[derive(Clone, Debug)]
pub struct Multiplicative(ClosureCore);

impl Multiplicative {
    /// `lr ← lr·f(k)` after update `k`, for an optimizer whose lr is `base_lr`. Refuses
    /// a non-finite or negative `base_lr` and a closure whose `f(0)` is not finite.
    pub fn new(base_lr: f64, f: impl Fn(u64) -> f64 + Send + Sync + 'static) -> Result<Self> {
        let mut s = Multiplicative(ClosureCore::new(Self::NAME, base_lr, f)?);
        TorchRule::begin(&mut s, base_lr);
        Ok(s)
    }
}

impl TorchRule for Multiplicative {
    const NAME: &'static str = "multiplicative";
    fn spec(&self) -> Call {
        Call::bare(Self::NAME)
    }
    fn core(&self) -> &Core {
        &self.0.core
    }
    fn core_mut(&mut self) -> &mut Core {
        &mut self.0.core
    }
    fn begin(&mut self, lr: f64) {
        // torch's initial step keeps the group's lr.
        self.0.core.epoch = 0;
        self.0.core.lr = lr;
    }
    fn advance(&mut self) {
        let c = &mut self.0.core;
        c.epoch = c.epoch.saturating_add(1);
        c.lr *= (self.0.f)(c.epoch);
    }
    fn restart(&mut self) {
        // torch's `_update_lr(0)`: get_lr at epoch 0, outside the initial step.
        let c = &mut self.0.core;
        c.epoch = 0;
        c.lr *= (self.0.f)(0);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::schedule::{build, lrs, Schedule};
    use crate::Error;

    #[test]
    fn recursion_and_state() {
        let f = |k: u64| if k.is_multiple_of(3) { 0.5 } else { 0.99 };
        let mut a = Multiplicative::new(0.2, f).unwrap();
        let mut want = vec![0.2];
        for k in 1..20 {
            want.push(want[k as usize - 1] * f(k));
        }
        assert_eq!(lrs(&a, 20), want);
        for _ in 0..5 {
            a.step(0.0);
        }
        let mut b = Multiplicative::new(0.2, f).unwrap();
        b.load_state(&a.state()).unwrap();
        assert_eq!(lrs(&a, 30), lrs(&b, 30));
        assert_eq!(b.lr(), want[5]);
    }

    #[test]
    fn bad_input_is_an_error() {
        assert!(matches!(
            Multiplicative::new(-1.0, |_| 1.0),
            Err(Error::InvalidHyperparameter { .. })
        ));
        assert!(matches!(
            Multiplicative::new(1.0, |_| f64::NAN),
            Err(Error::InvalidHyperparameter { .. })
        ));
        match build("multiplicative(0.9)", 0.1, None) {
            Err(Error::Unsupported(msg)) => assert!(msg.contains("library only"), "{msg}"),
            other => panic!("{other:?}"),
        }
    }
}
