//! 8-bit block-wise quantized state (`state_dtype=q8`), after Dettmers et al.,
//! *8-bit Optimizers via Block-wise Quantization* (ICLR 2022) and bitsandbytes.
//!
//! Each state buffer is cut into blocks of [`BLOCK`] elements (counted from the
//! tensor's first element). A block is stored as one `f32` scale, its largest
//! magnitude (*absmax*), and one byte per element: the index of the nearest value of
//! a fixed 256-entry *dynamic quantization map* to `x / absmax`. Reading an element
//! is `map[code] × absmax`.
//!
//! # The maps
//! The dynamic map is bitsandbytes' `create_dynamic_map` (its default: 7 decimal
//! exponents, 8 bits). For decade `i = 0..7` it holds `10^(i−6) × m` for the
//! midpoints `m` of `n_i` equal intervals of `[0.1, 1]`, plus `0` and `1`:
//! * **signed** (buffers that take both signs, e.g. `exp_avg`): `n_i = 2^i`, each
//!   value with both signs: 254 values, `0` and `1`; `−1` is not representable, a
//!   normalized `−1` is stored as the map's most negative value, `−0.99297`.
//! * **unsigned** (buffers that are never negative: `exp_avg_sq`, `max_exp_avg_sq`,
//!   `sum`, `square_avg`, `exp_inf`): `n_i = 2^(i+1)`, 254 positive values, `0`
//!   and `1`: one more bit of resolution, as bitsandbytes uses for the second moment.
//!
//! Codes are indices into the sorted map, as in bitsandbytes. The map's values are
//! computed in `f64` and rounded once to `f32` (bitsandbytes builds them with
//! `torch.linspace` in `f32`; the two may differ in the last bit).
//!
//! # Rounding
//! To nearest: a normalized value is given the code of the largest map value whose
//! midpoint with its lower neighbour (rounded to `f32`) it reaches. The largest
//! relative gap of the maps is in their top decade, so a stored element is within
//! `0.0071 × absmax` (signed) or `0.0036 × absmax` (unsigned) of the value written
//! ([`max_error`]). The search is a table lookup on the value's exponent and top 7
//! fraction bits, then one comparison: exact (equal to a binary search over the
//! midpoints, as the tests check) and without branches.
//!
//! The division by absmax is a multiplication by its reciprocal, as bitsandbytes
//! does. A block that is all zeros has absmax 0 and stores the code of 0. A
//! non-finite state element cannot be stored (its block's scale becomes non-finite);
//! the default non-finite check keeps such gradients from reaching the state.

use crate::float::Float;
use std::sync::OnceLock;

/// Elements per quantization block (bitsandbytes' block size for 8-bit state).
pub const BLOCK: usize = 256;

/// Blocks of a buffer of `n` elements.
pub fn blocks(n: usize) -> usize {
    n.div_ceil(BLOCK)
}

/// Fraction bits of the lookup key (2^7 buckets per binade).
const KEY_FRACTION_BITS: u32 = 7;
const SHIFT: u32 = 23 - KEY_FRACTION_BITS;
/// Magnitudes below 2^-24 share the first bucket (every map's smallest midpoint is
/// above it, checked when the table is built).
const LO_BITS: u32 = (127 - 24) << 23;
/// 1.0: everything from it up (and NaN) shares the last bucket.
const ONE_BITS: u32 = 127 << 23;
const BUCKETS: usize = (((ONE_BITS - LO_BITS) >> SHIFT) + 1) as usize;

/// One quantization map and its encoder tables.
#[derive(Debug)]
pub struct Codec {
    /// Whether the map holds negative values.
    pub signed: bool,
    /// The map, sorted: code → value.
    pub values: [f32; 256],
    /// The magnitudes, sorted from 0 to 1 (129 entries for the signed map, 256 for
    /// the unsigned one).
    mags: Vec<f32>,
    /// `thr[p]`: midpoint of `mags[p]` and `mags[p + 1]`, rounded to f32; NaN for the
    /// last (no comparison reaches it).
    thr: Vec<f32>,
    /// For each bucket of magnitudes: the number of midpoints at or below its start.
    lut: Vec<u8>,
}

/// The magnitudes of bitsandbytes' dynamic map: 0, the decade midpoints, 1.
fn dynamic_magnitudes(signed: bool) -> Vec<f32> {
    let mut m = vec![0.0f32];
    for i in 0..7 {
        let n = if signed { 1u32 << i } else { 1u32 << (i + 1) };
        let scale = 10f64.powi(i - 6);
        for j in 0..n {
            let mid = 0.1 + 0.9 * (2 * j + 1) as f64 / (2 * n) as f64;
            m.push((scale * mid) as f32);
        }
    }
    m.push(1.0);
    m.sort_by(f32::total_cmp);
    m
}

impl Codec {
    fn new(signed: bool) -> Codec {
        let mags = dynamic_magnitudes(signed);
        assert_eq!(mags.len(), if signed { 129 } else { 256 });
        let top = mags.len() - 1;
        let mut thr: Vec<f32> = mags
            .windows(2)
            .map(|w| ((w[0] as f64 + w[1] as f64) / 2.0) as f32)
            .collect();
        thr.push(f32::NAN);
        assert!(
            thr[0] > f32::from_bits(LO_BITS),
            "the first bucket holds a midpoint"
        );
        let lut: Vec<u8> = (0..BUCKETS)
            .map(|k| {
                let start = f32::from_bits(LO_BITS + ((k as u32) << SHIFT));
                thr[..top].iter().filter(|&&t| t <= start).count() as u8
            })
            .collect();
        // Each bucket holds at most one midpoint: the lookup plus one comparison is
        // then the exact count.
        for k in 0..BUCKETS - 1 {
            let end = f32::from_bits(LO_BITS + ((k as u32 + 1) << SHIFT));
            let b = lut[k] as usize;
            assert!(
                b + 1 >= top || thr[b + 1] >= end,
                "bucket {k} holds two midpoints"
            );
        }
        let mut values = [0.0f32; 256];
        if signed {
            // [-mags[127], ..., -mags[1], 0, mags[1], ..., mags[128] = 1]
            for (q, v) in values.iter_mut().enumerate() {
                *v = if q < 127 {
                    -mags[127 - q]
                } else {
                    mags[q - 127]
                };
            }
        } else {
            values.copy_from_slice(&mags);
        }
        Codec {
            signed,
            values,
            mags,
            thr,
            lut,
        }
    }

    /// The code of `x` (a value already divided by its block's absmax).
    #[inline(always)]
    pub fn encode(&self, x: f32) -> u8 {
        let a = x.abs();
        let bits = a.to_bits().clamp(LO_BITS, ONE_BITS);
        let k = ((bits - LO_BITS) >> SHIFT) as usize;
        let b = self.lut[k.min(BUCKETS - 1)];
        let t = self.thr[(b as usize).min(self.thr.len() - 1)];
        let p = b + (a >= t) as u8;
        match (self.signed, x.is_sign_negative()) {
            (true, false) => 127 + p,
            (true, true) => 127 - p.min(127),
            (false, false) => p,
            (false, true) => 0,
        }
    }

    /// [`Codec::encode`] the slow way: a binary search over the midpoints.
    pub fn encode_by_search(&self, x: f32) -> u8 {
        let a = x.abs();
        let top = self.mags.len() - 1;
        let (mut lo, mut hi) = (0usize, top); // count of midpoints <= a lies in lo..=hi
        while lo < hi {
            let mid = (lo + hi).div_ceil(2);
            if a >= self.thr[mid - 1] {
                lo = mid;
            } else {
                hi = mid - 1;
            }
        }
        let p = lo as u8;
        match (self.signed, x.is_sign_negative()) {
            (true, false) => 127 + p,
            (true, true) => 127 - p.min(127),
            (false, false) => p,
            (false, true) => 0,
        }
    }

    /// The value of `code`, times the block's `absmax`, in `T`.
    #[inline(always)]
    pub fn decode<T: Float>(&self, code: u8, absmax: T) -> T {
        T::of(self.values[code as usize] as f64) * absmax
    }

    /// Quantizes one block: returns its absmax (rounded to `f32`) and writes the
    /// codes of `v` into `codes` (as long as `v`).
    #[inline(always)]
    pub fn encode_block<T: Float>(&self, v: &[T], codes: &mut [u8]) -> f32 {
        let codes = &mut codes[..v.len()];
        let mut amax = T::zero();
        for &x in v {
            // Not `max`: a NaN propagates (and then stores zeros), it is not skipped.
            let a = x.abs();
            amax = if a > amax || a.is_nan() { a } else { amax };
        }
        let stored = amax.f64() as f32;
        let inv = if stored > 0.0 && stored.is_finite() {
            T::one() / T::of(stored as f64)
        } else {
            T::zero()
        };
        for (c, &x) in codes.iter_mut().zip(v) {
            *c = self.encode((x * inv).f64() as f32);
        }
        stored
    }

    /// The largest distance, relative to absmax, between a value in `[-1, 1]` (or
    /// `[0, 1]`) and its stored value: half the largest gap of the map, plus 2⁻²²
    /// for the rounding of the midpoints and of the normalized value to `f32`.
    pub fn max_error(&self) -> f64 {
        self.mags
            .windows(2)
            .map(|w| (w[1] as f64 - w[0] as f64) / 2.0)
            .fold(0.0, f64::max)
            .max(if self.signed {
                1.0 - self.mags[127] as f64
            } else {
                0.0
            })
            + 2f64.powi(-22)
    }
}

/// The signed dynamic map's codec.
pub fn signed() -> &'static Codec {
    static C: OnceLock<Codec> = OnceLock::new();
    C.get_or_init(|| Codec::new(true))
}

/// The unsigned dynamic map's codec.
pub fn unsigned() -> &'static Codec {
    static C: OnceLock<Codec> = OnceLock::new();
    C.get_or_init(|| Codec::new(false))
}

/// Whether a state buffer, by its torch name, never holds negative values (second
/// moments, accumulators, Adamax's infinity norm): it is then stored with the
/// unsigned map.
pub fn nonnegative_slot(name: &str) -> bool {
    matches!(
        name,
        "exp_avg_sq" | "max_exp_avg_sq" | "sum" | "square_avg" | "exp_inf"
    )
}

/// The codec of the state buffer called `name`.
pub fn codec_for(name: &str) -> &'static Codec {
    if nonnegative_slot(name) {
        unsigned()
    } else {
        signed()
    }
}

/// A quantized buffer of `n` elements all equal to `init`.
pub fn fresh<T: Float>(codec: &Codec, init: T, n: usize) -> (Vec<u8>, Vec<f32>) {
    let block = [init; BLOCK];
    let mut one = [0u8; BLOCK];
    let amax = codec.encode_block(&block, &mut one);
    let mut codes = Vec::with_capacity(n);
    for b in 0..blocks(n) {
        let len = BLOCK.min(n - b * BLOCK);
        codes.extend_from_slice(&one[..len]);
    }
    (codes, vec![amax; blocks(n)])
}

/// The quantized buffer widened to `T`.
pub fn widen<T: Float>(codec: &Codec, codes: &[u8], absmax: &[f32]) -> Vec<T> {
    codes
        .chunks(BLOCK)
        .zip(absmax)
        .flat_map(|(c, &a)| c.iter().map(move |&q| codec.decode(q, T::of(a as f64))))
        .collect()
}

#[cfg(test)]
mod tests;
