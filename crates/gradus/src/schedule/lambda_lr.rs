//! `lambda_lr`: the optimizer's lr times a factor computed by a Rust closure from the
//! update count (torch's `LambdaLR`). Library only: a spec holds no code, so
//! `schedule::build("lambda_lr")` is an error that says so.
//!
//! # Formula
//! For update `k` (0 first), the optimizer's lr `η` and the closure `f`:
//!
//! ```text
//! lr_k = η·f(k)
//! ```
//!
//! torch evaluates exactly this (no recursion), and so does gradus.
//!
//! ```
//! use gradus::schedule::{lrs, LambdaLr};
//! let s = LambdaLr::new(0.1, |k| 1.0 / (k + 1) as f64).unwrap();
//! assert_eq!(lrs(&s, 3), vec![0.1, 0.05, 0.1 / 3.0]);
//! ```
//!
//! The state ([`Schedule::state`](super::Schedule::state)) holds the step count and
//! lr, not the closure: load it into a schedule built with the same closure (torch
//! does not save plain functions either).

use super::{Core, TorchRule};
use crate::error::{Error, Result};
use crate::spec::{fmt_value, Call};
use std::sync::Arc;

/// A factor of the lr as a function of the update count (torch's `lr_lambda`).
pub type LrLambda = Arc<dyn Fn(u64) -> f64 + Send + Sync>;

/// What building a closure schedule from a spec says.
pub(crate) fn library_only(name: &str) -> Error {
    let class = if name == "lambda_lr" {
        "LambdaLr"
    } else {
        "Multiplicative"
    };
    Error::Unsupported(format!(
        "{name}() takes a Rust closure (torch's lr_lambda), which a spec cannot hold: \
         it is library only (gradus::schedule::{class}::new)"
    ))
}

/// The catalog entry of a closure schedule: no spec-able hyperparameters.
pub(crate) fn algorithm(name: &'static str, summary: &'static str) -> crate::hyper::Algorithm {
    crate::hyper::Algorithm {
        name,
        summary,
        kind: "schedule",
        params: vec![],
    }
}

/// A closure and the torch bookkeeping: what `lambda_lr` and `multiplicative` hold.
#[derive(Clone)]
pub(crate) struct ClosureCore {
    pub f: LrLambda,
    pub core: Core,
}

impl std::fmt::Debug for ClosureCore {
    fn fmt(&self, out: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        out.debug_struct("ClosureCore")
            .field("core", &self.core)
            .finish_non_exhaustive()
    }
}

impl ClosureCore {
    /// Checks the optimizer's lr and the closure's first factor (`owner` names the
    /// schedule in errors).
    pub(crate) fn new(
        owner: &str,
        base_lr: f64,
        f: impl Fn(u64) -> f64 + Send + Sync + 'static,
    ) -> Result<Self> {
        crate::optim::check_nonneg(owner, "base_lr (the optimizer's lr)", base_lr)?;
        let f: LrLambda = Arc::new(f);
        let first = f(0);
        if !first.is_finite() {
            return Err(Error::invalid(
                owner,
                "lr_lambda",
                format!("a closure with lr_lambda(0) = {}", fmt_value(first)),
                "a closure returning finite factors",
            ));
        }
        Ok(ClosureCore {
            f,
            core: Core::new(base_lr),
        })
    }
}

/// The `lambda_lr` schedule: see the [module docs](self).
#[derive(Clone, Debug)]
pub struct LambdaLr(ClosureCore);

impl LambdaLr {
    /// `η·f(k)` for an optimizer whose lr is `base_lr`. Refuses a non-finite or
    /// negative `base_lr` and a closure whose `f(0)` is not finite. A later non-finite
    /// factor gives a non-finite lr, which the optimizer's `set_lr` refuses.
    pub fn new(base_lr: f64, f: impl Fn(u64) -> f64 + Send + Sync + 'static) -> Result<Self> {
        let mut s = LambdaLr(ClosureCore::new(Self::NAME, base_lr, f)?);
        TorchRule::begin(&mut s, base_lr);
        Ok(s)
    }
}

impl TorchRule for LambdaLr {
    const NAME: &'static str = "lambda_lr";
    fn spec(&self) -> Call {
        Call::bare(Self::NAME)
    }
    fn core(&self) -> &Core {
        &self.0.core
    }
    fn core_mut(&mut self) -> &mut Core {
        &mut self.0.core
    }
    fn begin(&mut self, _lr: f64) {
        self.restart();
    }
    fn advance(&mut self) {
        let c = &mut self.0.core;
        c.epoch = c.epoch.saturating_add(1);
        c.lr = c.base_lr * (self.0.f)(c.epoch);
    }
    fn restart(&mut self) {
        let c = &mut self.0.core;
        c.epoch = 0;
        c.lr = c.base_lr * (self.0.f)(0);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::schedule::{build, lrs, Schedule};

    #[test]
    fn closed_form_and_state() {
        let f = |k: u64| 0.9f64.powf(k as f64);
        let mut a = LambdaLr::new(0.5, f).unwrap();
        let want: Vec<f64> = (0..20).map(|k| 0.5 * f(k)).collect();
        assert_eq!(lrs(&a, 20), want);
        for _ in 0..7 {
            a.step(0.0);
        }
        let mut b = LambdaLr::new(0.5, f).unwrap();
        b.load_state(&a.state()).unwrap();
        assert_eq!(lrs(&a, 30), lrs(&b, 30));
        assert_eq!(b.last_epoch(), 7);
        assert_eq!(Schedule::spec(&a).to_string(), "lambda_lr");
        assert!(format!("{a:?}").starts_with("LambdaLr"));
    }

    #[test]
    fn bad_input_is_an_error() {
        assert!(matches!(
            LambdaLr::new(f64::NAN, |_| 1.0),
            Err(Error::InvalidHyperparameter { .. })
        ));
        match LambdaLr::new(0.1, |_| f64::INFINITY) {
            Err(Error::InvalidHyperparameter { param, .. }) => assert_eq!(param, "lr_lambda"),
            other => panic!("{other:?}"),
        }
        match build("lambda_lr", 0.1, None) {
            Err(Error::Unsupported(msg)) => {
                assert!(
                    msg.contains("Rust closure") && msg.contains("LambdaLr::new"),
                    "{msg}"
                )
            }
            other => panic!("{other:?}"),
        }
    }
}
