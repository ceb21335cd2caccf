//! The element types gradus computes in: `f32` and `f64`.

use std::fmt::{Debug, Display};

/// Which floating-point type a tensor holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum DType {
    /// IEEE 754 single precision.
    F32,
    /// IEEE 754 double precision.
    F64,
}

impl DType {
    /// The name used on the command line and in checkpoints (`f32`, `f64`).
    pub fn as_str(self) -> &'static str {
        match self {
            DType::F32 => "f32",
            DType::F64 => "f64",
        }
    }
}

impl Display for DType {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::str::FromStr for DType {
    type Err = crate::Error;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "f32" => Ok(DType::F32),
            "f64" => Ok(DType::F64),
            other => Err(crate::Error::UnknownName {
                kind: "dtype",
                name: other.to_string(),
                valid: vec!["f32".into(), "f64".into()],
            }),
        }
    }
}

/// A floating-point element type of parameters, gradients and optimizer state.
///
/// Hyperparameters are held as `f64` (as Python floats are in torch) and converted
/// to `T` once per step, so an `f32` run rounds them exactly as torch does when it
/// multiplies a float32 tensor by a Python scalar.
pub trait Float:
    num_traits::Float
    + num_traits::FloatConst
    + Default
    + Debug
    + Display
    + Send
    + Sync
    + 'static
    + std::iter::Sum
    + serde::Serialize
    + for<'de> serde::Deserialize<'de>
{
    /// The dtype tag of this type.
    const DTYPE: DType;
    /// Converts from `f64`, rounding to nearest.
    fn of(x: f64) -> Self;
    /// Widens (or copies) to `f64`.
    fn f64(self) -> f64;
}

impl Float for f32 {
    const DTYPE: DType = DType::F32;
    #[inline(always)]
    fn of(x: f64) -> Self {
        x as f32
    }
    #[inline(always)]
    fn f64(self) -> f64 {
        self as f64
    }
}

impl Float for f64 {
    const DTYPE: DType = DType::F64;
    #[inline(always)]
    fn of(x: f64) -> Self {
        x
    }
    #[inline(always)]
    fn f64(self) -> f64 {
        self
    }
}
