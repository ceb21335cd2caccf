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
