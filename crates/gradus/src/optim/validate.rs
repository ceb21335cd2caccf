//! Range checks shared by every config. Each names the owner, the parameter, the
//! value and the valid range, and rejects NaN.

use crate::error::{Error, Result};
use crate::spec::fmt_value;

/// `x` must be finite and `>= 0` (learning rates, weight decay, eps).
pub(crate) fn check_nonneg(owner: &str, param: &str, x: f64) -> Result<()> {
    if x.is_finite() && x >= 0.0 {
        Ok(())
    } else {
        Err(Error::invalid(
            owner,
            param,
            fmt_value(x),
            "a finite number >= 0",
        ))
    }
}

/// `x` must be finite and `> 0`.
pub(crate) fn check_pos(owner: &str, param: &str, x: f64) -> Result<()> {
    if x.is_finite() && x > 0.0 {
        Ok(())
    } else {
        Err(Error::invalid(
            owner,
            param,
            fmt_value(x),
            "a finite number > 0",
        ))
    }
}

/// `x` must lie in `[0, 1)` (betas, momentum-like decay rates).
pub(crate) fn check_unit_open(owner: &str, param: &str, x: f64) -> Result<()> {
    if (0.0..1.0).contains(&x) {
        Ok(())
    } else {
        Err(Error::invalid(
            owner,
            param,
            fmt_value(x),
            "a number in [0, 1)",
        ))
    }
}

/// `x` must lie in `[0, 1]`.
pub(crate) fn check_unit_closed(owner: &str, param: &str, x: f64) -> Result<()> {
    if (0.0..=1.0).contains(&x) {
        Ok(())
    } else {
        Err(Error::invalid(
            owner,
            param,
            fmt_value(x),
            "a number in [0, 1]",
        ))
    }
}
