//! Optimizer state in fewer bits than the parameters: `state_dtype=bf16`.
//!
//! An element-wise rule that accepts it ([`super::Rule::LOW_PRECISION_STATE`]: the
//! Adam family, SGD, RMSprop, Adagrad, Lion) keeps its state buffers as bfloat16
//! (1 sign, 8 exponent, 7 fraction bits: the range of `f32`, 3 significant decimal
//! digits) instead of the parameters' type. The kernel widens each stored value to
//! the parameters' type when it reads it, computes the update exactly as with full
//! state, and rounds the new state to bfloat16 when it writes it back, all in the one
//! pass over memory (2 bytes per state element read and written instead of 4 or 8).
//! Parameters and gradients keep their type.
//!
//! # Rounding
//! * `bf16`: round to nearest, ties to even, directly from `f32` or `f64` (no double
//!   rounding through `f32`); NaN stays NaN, values beyond bfloat16's range become
//!   ±inf, as IEEE 754 rounds. The stored value is within a relative 2⁻⁸ of the
//!   exact one.
//! * `bf16_sr`: stochastic rounding: rounds up with probability equal to the
//!   fraction of an ulp the exact value lies above the lower neighbour, so the
//!   rounding error is zero on average (an EMA with `1 − β2 = 0.001` moves its state
//!   by less than half a bfloat16 ulp per step, which nearest rounding would discard).
//!   The random bits are a hash of the tensor's name, its step count, the state slot
//!   and the element's index: deterministic, the same for any number of threads,
//!   and a resumed run draws what an uninterrupted one would. Error below 2⁻⁷
//!   relative (one ulp).
//!
//! * `q8`: 8-bit block-wise quantization with bitsandbytes' dynamic map and one
//!   scale per 256 elements (see [`q8`]): 1.016 bytes per state element.
//!
//! The default, `state_dtype=param`, keeps the state in the parameters' type
//! (bit-exact to torch) and is not written in specs.
//!
//! # References
//! Dettmers et al., *8-bit Optimizers via Block-wise Quantization*, ICLR 2022 (low-
//! precision optimizer state); Zamirai et al., *Revisiting BFloat16 Training*, 2020
//! (stochastic rounding of bfloat16 updates).

use crate::error::{Error, Result};
use crate::float::{DType, Float};
use crate::spec::{Call, Value};

crate::choice! {
    /// How an element-wise optimizer stores its state buffers.
    pub enum StateDtype { Param = "param", Bf16 = "bf16", Bf16Sr = "bf16_sr", Q8 = "q8" }
}

// `choice!` takes no variant attributes, so no `#[derive(Default)]` with `#[default]`.
#[allow(clippy::derivable_impls)]
impl Default for StateDtype {
    fn default() -> Self {
        StateDtype::Param
    }
}

impl StateDtype {
    /// The spec key.
    pub const KEY: &'static str = "state_dtype";

    /// Bytes per state element, for `T` parameters (`q8`: one code byte, plus an
    /// `f32` scale per block of [`q8::BLOCK`] elements, not counted here).
    pub fn bytes_per_element<T: Float>(self) -> usize {
        match self {
            StateDtype::Param => std::mem::size_of::<T>(),
            StateDtype::Bf16 | StateDtype::Bf16Sr => 2,
            StateDtype::Q8 => 1,
        }
    }

    /// Whether the state is 8-bit block-wise quantized (see [`q8`]).
    pub fn is_q8(self) -> bool {
        self == StateDtype::Q8
    }

    /// Whether the state is kept in the parameters' type.
    pub fn is_param(self) -> bool {
        self == StateDtype::Param
    }
}

/// The optimizers that accept `state_dtype`, for error messages.
pub(crate) const ACCEPTED_BY: &str =
    "sgd, adagrad, rmsprop, adam, adamw, nadam, radam, adamax, lion";

/// Removes `state_dtype=...` from `call`, returning the rest and the storage.
/// `accepts` says whether the optimizer takes the key; if not, a given key other
/// than `param` is an error naming the key and the optimizers that accept it.
pub(crate) fn split(call: &Call, accepts: bool) -> Result<(Call, StateDtype)> {
    let Some(pos) = call.keywords.iter().position(|(k, _)| k == StateDtype::KEY) else {
        return Ok((call.clone(), StateDtype::Param));
    };
    let mut rest = call.clone();
    let (_, value) = rest.keywords.remove(pos);
    let word = match &value {
        Value::Call(c) if c.positional.is_empty() && c.keywords.is_empty() => c.name.clone(),
        other => other.to_string(),
    };
    let dtype = match word.as_str() {
        "param" => StateDtype::Param,
        "bf16" => StateDtype::Bf16,
        "bf16_sr" => StateDtype::Bf16Sr,
        "q8" => StateDtype::Q8,
        _ => {
            return Err(Error::invalid(
                &call.name,
                StateDtype::KEY,
                word,
                format!("one of {}", StateDtype::WORDS.join(", ")),
            ))
        }
    };
    if !accepts && !dtype.is_param() {
        return Err(Error::invalid(
            &call.name,
            StateDtype::KEY,
            dtype.word(),
            format!(
                "param: {} keeps its state in the parameters' type; low-precision \
                 state is accepted by {ACCEPTED_BY}",
                call.name
            ),
        ));
    }
    Ok((rest, dtype))
}

/// The table entry of the `state_dtype` key (for `gradus list` and the playground).
pub(crate) fn table_entry() -> crate::hyper::HyperParam {
    crate::hyper::entry(
        StateDtype::KEY,
        &StateDtype::Param,
        false,
        crate::hyper::Range::NONE,
        false,
        "Storage of the state buffers: param (the parameters' type, bit-exact), \
         bf16 (bfloat16, nearest even), bf16_sr (bfloat16, stochastic rounding) or q8 \
         (8 bits per element, block-wise dynamic quantization).",
    )
}

/// `call` with `state_dtype=...` appended, unless it is the default.
pub(crate) fn with_key(mut call: Call, dtype: StateDtype) -> Call {
    if !dtype.is_param() {
        call.keywords.push((
            StateDtype::KEY.to_string(),
            Value::Call(Call::bare(dtype.word())),
        ));
    }
    call
}

// ---------------------------------------------------------------------------------
// bfloat16
// ---------------------------------------------------------------------------------

/// Widens bfloat16 bits to `f32` (exact).
#[inline(always)]
pub fn bf16_to_f32(b: u16) -> f32 {
    f32::from_bits((b as u32) << 16)
}

/// Rounds `x` to bfloat16, to nearest with ties to even; NaN stays a (quiet) NaN.
#[inline(always)]
pub fn f32_to_bf16(x: f32) -> u16 {
    let b = x.to_bits();
    // The select is on the 32-bit words and the shift comes after it, so a vector
    // loop blends once and narrows once (not a narrowing per branch).
    let rounded = b.wrapping_add(0x7FFF + ((b >> 16) & 1));
    let word = if x.is_nan() { b | 0x0040_0000 } else { rounded };
    (word >> 16) as u16
}

/// Rounds `x` to bfloat16 directly (no double rounding through `f32`), to nearest
/// with ties to even; NaN stays a (quiet) NaN.
#[inline(always)]
pub fn f64_to_bf16(x: f64) -> u16 {
    if x.is_nan() {
        return ((((x as f32).to_bits()) >> 16) | 0x0040) as u16;
    }
    const F32_MIN_NORMAL: f64 = 1.1754943508222875e-38; // 2^-126
    let r = if x.abs() >= F32_MIN_NORMAL {
        // Round the 52-bit fraction to 7 bits; the result converts to f32 exactly (or
        // overflows to ±inf, which is where bfloat16's rounding sends it too).
        let b = x.to_bits();
        let half = (1u64 << 44) - 1 + ((b >> 45) & 1);
        f64::from_bits(b.wrapping_add(half) & !((1u64 << 45) - 1))
    } else {
        // bfloat16's subnormals are the multiples of 2^-133: scaling is exact.
        (x * 2f64.powi(133)).round_ties_even() * 2f64.powi(-133)
    };
    ((r as f32).to_bits() >> 16) as u16
}

/// Rounds `x` to bfloat16 stochastically: `noise` (uniform 16 bits) decides whether
/// the value is rounded up. NaN stays a (quiet) NaN; ±inf stays ±inf.
#[inline(always)]
pub fn f32_to_bf16_stochastic(x: f32, noise: u32) -> u16 {
    let b = x.to_bits();
    // Adding up to one ulp minus one to the magnitude's bits, then truncating, rounds
    // up with probability (discarded bits) / 2^16. Infinity has no discarded bits, so
    // it stays infinity. As in `f32_to_bf16`, the select is on the 32-bit words.
    let rounded = b.wrapping_add(noise & 0xFFFF);
    let word = if x.is_nan() { b | 0x0040_0000 } else { rounded };
    (word >> 16) as u16
}

/// [`f32_to_bf16_stochastic`] from `f64`: the 16 bits below bfloat16's last place are
/// taken from the `f64` (rounded toward zero, so the `f64` bits further down count as
/// a bias of at most 2⁻¹⁶ ulp).
#[inline(always)]
pub fn f64_to_bf16_stochastic(x: f64, noise: u32) -> u16 {
    const F32_MIN_NORMAL: f64 = 1.1754943508222875e-38; // 2^-126
    if !(x.abs() >= F32_MIN_NORMAL && x.abs() <= f32::MAX as f64) {
        // Zero, subnormal, beyond f32's range or NaN: nearest rounding.
        return f64_to_bf16(x);
    }
    let f = x as f32;
    // Toward zero (one step down in magnitude if the conversion rounded it up), so
    // that the stochastic step is the only rounding up.
    let t = if (f as f64).abs() > x.abs() {
        f32::from_bits(f.to_bits() - 1)
    } else {
        f
    };
    f32_to_bf16_stochastic(t, noise)
}

/// A seed for the stochastic rounding of one tensor's state at one step.
pub(crate) fn seed(name: &str, step: u64) -> u32 {
    // FNV-1a over the name, then mixed with the step.
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in name.bytes() {
        h ^= b as u64;
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    h ^= step.wrapping_mul(0x9E37_79B9_7F4A_7C15);
    h = (h ^ (h >> 31)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    (h ^ (h >> 29)) as u32
}

/// Uniform 16 random bits for element `i` of slot `k` under `seed` (a 32-bit integer
/// hash; multiplies and shifts, so the kernel's loop still vectorizes).
#[inline(always)]
pub(crate) fn noise(seed: u32, i: usize, k: usize) -> u32 {
    let mut x = (i as u32) ^ seed.wrapping_add((k as u32).wrapping_mul(0x68E3_1DA4));
    x = (x ^ (x >> 16)).wrapping_mul(0x7FEB_352D);
    x = (x ^ (x >> 15)).wrapping_mul(0x846C_A68B);
    (x ^ (x >> 16)) & 0xFFFF
}

/// How the kernel stores one state element: as `T` itself (the default, a plain
/// copy) or as bfloat16 bits.
pub(crate) trait Store<T: Float>: Copy + Send + Sync + 'static {
    /// Whether [`Store::store`] uses its random bits (stochastic rounding).
    const SEEDED: bool = false;
    /// Whether the storage is quantized block by block (`q8`), which the kernel
    /// sweeps with its own loop.
    const BLOCKWISE: bool = false;
    /// The stored value, widened to `T`.
    fn load(self) -> T;
    /// `x`, rounded to the storage; `noise` holds 16 random bits when `SEEDED`.
    fn store(x: T, noise: u32) -> Self;
}

impl<T: Float> Store<T> for T {
    #[inline(always)]
    fn load(self) -> T {
        self
    }
    #[inline(always)]
    fn store(x: T, _noise: u32) -> Self {
        x
    }
}

/// bfloat16 bits, rounded to nearest even.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(transparent)]
pub(crate) struct Bf16(pub u16);

/// bfloat16 bits, rounded stochastically.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(transparent)]
pub(crate) struct Bf16Sr(pub u16);

#[inline(always)]
fn widen<T: Float>(b: u16) -> T {
    // Exact; for `f32` the round trip through `f64` compiles to nothing.
    T::of(bf16_to_f32(b) as f64)
}

impl<T: Float> Store<T> for Bf16 {
    #[inline(always)]
    fn load(self) -> T {
        widen(self.0)
    }
    #[inline(always)]
    fn store(x: T, _noise: u32) -> Self {
        Bf16(match T::DTYPE {
            DType::F32 => f32_to_bf16(x.f64() as f32),
            DType::F64 => f64_to_bf16(x.f64()),
        })
    }
}

impl<T: Float> Store<T> for Bf16Sr {
    const SEEDED: bool = true;
    #[inline(always)]
    fn load(self) -> T {
        widen(self.0)
    }
    #[inline(always)]
    fn store(x: T, noise: u32) -> Self {
        Bf16Sr(match T::DTYPE {
            DType::F32 => f32_to_bf16_stochastic(x.f64() as f32, noise),
            DType::F64 => f64_to_bf16_stochastic(x.f64(), noise),
        })
    }
}

/// The kernel's marker for 8-bit state: its buffers are updated block by block
/// ([`Store::BLOCKWISE`]), never element by element through `load`/`store`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(transparent)]
pub(crate) struct Q8(pub u8);

impl<T: Float> Store<T> for Q8 {
    const BLOCKWISE: bool = true;
    fn load(self) -> T {
        unreachable!("8-bit state is decoded block by block")
    }
    fn store(_x: T, _noise: u32) -> Self {
        unreachable!("8-bit state is encoded block by block")
    }
}

/// `x` rounded to bfloat16 as the kernel stores a fresh buffer's initial value.
pub(crate) fn encode<T: Float>(x: T) -> u16 {
    <Bf16 as Store<T>>::store(x, 0).0
}

/// A stored bfloat16 value, widened to `T`.
pub fn decode<T: Float>(b: u16) -> T {
    widen(b)
}

pub mod q8;

#[cfg(test)]
mod tests;
