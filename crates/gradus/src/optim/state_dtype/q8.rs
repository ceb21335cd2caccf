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
//! To nearest: the encoder finds a normalized magnitude's decade by comparing it with
//! the midpoints between decades (computed in `f64` from the map's values, rounded
//! to `f32`), then its index within the decade by rounding `(a − first) / step` to
//! the nearest integer, all in `f32`, without tables, so that it vectorizes. A value
//! within a few ulps of a midpoint may take either neighbour. The largest gaps of
//! the maps are in their top decade, so a stored element is within `0.0071 × absmax`
//! (signed) or `0.0036 × absmax` (unsigned) of the value written ([`Codec::max_error`]).
//!
//! The division by absmax is a multiplication by its reciprocal, as bitsandbytes
//! does. A block that is all zeros has absmax 0 and stores the code of 0. A
//! non-finite state element cannot be stored (its block's scale becomes non-finite);
//! the default non-finite check keeps such gradients from reaching the state.

#[cfg(target_arch = "x86_64")]
use crate::cpu::Level;
use crate::float::Float;
use std::sync::OnceLock;

/// Elements per quantization block (bitsandbytes' block size for 8-bit state).
pub const BLOCK: usize = 256;

/// Blocks of a buffer of `n` elements.
pub fn blocks(n: usize) -> usize {
    n.div_ceil(BLOCK)
}

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
    /// The encoder's decade boundaries: the midpoint between 0 and the smallest
    /// value, the midpoints between the decades (between the largest value of decade
    /// `i − 1` and the smallest of decade `i`, `i = 1..7`), and the midpoint between
    /// the largest value below 1 and 1.
    bounds: [f32; 8],
    /// `1 / step[d]`, rounded to f32: the encoder's within-decade index is
    /// `round((a − first[d]) × inv_step[d])`.
    inv_step: [f32; 8],
    /// Decade tables of the decoder: magnitude index `p` (plus [`Codec::offset`]) is
    /// `e = 2^d + j`, and its magnitude is `j × step[d] + first[d]` (one fused
    /// multiply-add in `f32`).
    first: [f32; 8],
    step: [f32; 8],
    /// The decade search of the 512-bit encoder, by binade: a normalized magnitude `a`
    /// with biased exponent `E` (`2^(E−127) ≤ a < 2^(E−126)`) has binade index
    /// `E − 96` (taken modulo 32; magnitudes below 2⁻³¹ lie under `bounds[0]` and are
    /// encoded as 0 whatever the tables say). `bin_dec[k]`: [`Codec::offset`] plus the
    /// number of inner decade boundaries (`bounds[1..7]`) at or below the binade's
    /// least value; `bin_thr[k]`: the one inner boundary strictly inside the binade,
    /// or +inf. The decade of `a` is then `bin_dec[k] + (a ≥ bin_thr[k])`, the same
    /// count of boundaries as the compare chain, in one table look-up.
    bin_dec: [i32; 32],
    bin_thr: [f32; 32],
    /// 0 for the signed map, 1 for the unsigned one.
    offset: u32,
    /// The magnitude index of 1.
    top: u32,
}

/// The magnitude of index `p` of a map with decade tables `first`, `step`: exactly
/// what the vectorized decoder computes.
#[inline(always)]
fn magnitude(p: u32, offset: u32, top: u32, first: &[f32; 8], step: &[f32; 8]) -> f32 {
    let e = p + offset;
    let d = ((e as f32).to_bits() >> 23).wrapping_sub(127) & 7;
    let j = e.wrapping_sub(1 << d) as i32 as f32;
    let m = j.mul_add(step[d as usize], first[d as usize]);
    if p == 0 {
        0.0
    } else if p == top {
        1.0
    } else {
        m
    }
}

impl Codec {
    fn new(signed: bool) -> Codec {
        // bitsandbytes' create_dynamic_map: decade i = 0..7 holds the midpoints of n_i
        // equal intervals of [0.1, 1], times 10^(i-6).
        let offset = if signed { 0 } else { 1 };
        let (mut first, mut step) = ([0.0f32; 8], [0.0f32; 8]);
        for i in 0..7 {
            let d = i + offset as usize;
            let n = (1u32 << d) as f64;
            let scale = 10f64.powi(i as i32 - 6);
            first[d] = (scale * (0.1 + 0.9 / (2.0 * n))) as f32;
            step[d] = (scale * 0.9 / n) as f32;
        }
        let top: u32 = if signed { 128 } else { 255 };
        let mags: Vec<f32> = (0..=top)
            .map(|p| magnitude(p, offset, top, &first, &step))
            .collect();
        assert!(mags.windows(2).all(|w| w[0] < w[1]), "the map is sorted");
        let top = top as usize;
        let mut thr: Vec<f32> = mags
            .windows(2)
            .map(|w| ((w[0] as f64 + w[1] as f64) / 2.0) as f32)
            .collect();
        thr.push(f32::NAN);
        let first_of = |i: usize| {
            if signed {
                1usize << i
            } else {
                (2usize << i) - 1
            }
        };
        let mut bounds = [0.0f32; 8];
        bounds[0] = thr[0];
        for (i, b) in bounds.iter_mut().enumerate().take(7).skip(1) {
            *b = thr[first_of(i) - 1];
        }
        bounds[7] = thr[top - 1];
        let inv_step = step.map(|s| if s > 0.0 { 1.0 / s } else { 0.0 });
        let (mut bin_dec, mut bin_thr) = ([0i32; 32], [f32::INFINITY; 32]);
        for k in 0..32 {
            let lo = 2f32.powi(k as i32 - 31);
            let inner = &bounds[1..7];
            bin_dec[k] = offset as i32 + inner.iter().filter(|&&b| b <= lo).count() as i32;
            let inside: Vec<f32> = inner
                .iter()
                .copied()
                .filter(|&b| lo < b && b < 2.0 * lo)
                .collect();
            assert!(inside.len() <= 1, "decades are wider than binades");
            if let Some(&b) = inside.first() {
                bin_thr[k] = b;
            }
        }
        assert!(
            bounds[0] >= 2f32.powi(-31),
            "the binade tables cover the map"
        );
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
            bounds,
            inv_step,
            first,
            step,
            bin_dec,
            bin_thr,
            offset,
            top: top as u32,
        }
    }

    /// The code of magnitude index `p` with sign `neg`.
    #[inline(always)]
    fn code(&self, p: u32, neg: bool) -> u8 {
        let q = match (self.signed, neg) {
            (true, false) => 127 + p,
            (true, true) => 127 - p.min(127),
            (false, false) => p,
            (false, true) => 0,
        };
        q as u8
    }

    /// The code of `x` (a value already divided by its block's absmax): the decade
    /// by comparison with the decade boundaries, then the nearest index within the
    /// decade by rounding (the nearest value up to the rounding of `x` at a midpoint).
    #[inline(always)]
    pub fn encode(&self, x: f32) -> u8 {
        let a = x.abs();
        let mut i = 0;
        for &b in &self.bounds[1..7] {
            i += (a >= b) as u32;
        }
        let d = (i + self.offset) as usize & 7;
        let t = (a - self.first[d]) * self.inv_step[d];
        let n = 1u32 << d;
        let j = (t.round_ties_even() as i32).clamp(0, n as i32 - 1) as u32;
        let p = if a.is_nan() || a < self.bounds[0] {
            0
        } else if a >= self.bounds[7] {
            self.top
        } else {
            n - self.offset + j
        };
        self.code(p, x.is_sign_negative())
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
        self.code(lo as u32, x.is_sign_negative())
    }

    /// The value of `code`, times the block's `absmax`, in `T`.
    #[inline(always)]
    pub fn decode<T: Float>(&self, code: u8, absmax: T) -> T {
        T::of(self.values[code as usize] as f64) * absmax
    }

    /// Decodes a block of `f32` state: `out[i] = values[codes[i]] × absmax`.
    #[inline(always)]
    pub fn decode_f32(&self, codes: &[u8], absmax: f32, out: &mut [f32]) {
        let out = &mut out[..codes.len()];
        #[cfg(target_arch = "x86_64")]
        {
            match crate::cpu::level() {
                // SAFETY: `level` found the features each variant is compiled for.
                Level::Avx512 => return unsafe { simd::decode_avx512(self, codes, absmax, out) },
                Level::Avx2 => return unsafe { simd::decode_avx2(self, codes, absmax, out) },
                Level::Scalar => {}
            }
        }
        for (o, &q) in out.iter_mut().zip(codes) {
            *o = self.values[q as usize] * absmax;
        }
    }

    /// Decodes a block into `out` (as long as `codes`): vectorized for `f32`.
    #[inline(always)]
    pub fn decode_block<T: Float>(&self, codes: &[u8], absmax: f32, out: &mut [T]) {
        if let Some(out) = as_f32(out) {
            return self.decode_f32(codes, absmax, out);
        }
        let a = T::of(absmax as f64);
        for (o, &q) in out.iter_mut().zip(codes) {
            *o = self.decode(q, a);
        }
    }

    /// [`Codec::encode_block`], vectorized for `f32`.
    #[inline(always)]
    pub fn encode_block_fast<T: Float>(&self, v: &mut [T], codes: &mut [u8]) -> f32 {
        match as_f32(v) {
            Some(v) => self.encode_block_f32(v, codes),
            None => self.encode_block(v, codes),
        }
    }

    /// The largest magnitude of a block, as stored: NaN if the block holds one.
    #[inline(always)]
    fn absmax<T: Float>(v: &[T]) -> f32 {
        let mut amax = T::zero();
        let mut nan = false;
        for &x in v {
            let a = x.abs();
            amax = if a > amax { a } else { amax };
            nan |= x.is_nan();
        }
        if nan {
            f32::NAN
        } else {
            amax.f64() as f32
        }
    }

    /// The multiplier that normalizes a block of scale `stored` (0 for a block of
    /// zeros or a non-finite scale: all its codes are then the code of 0).
    #[inline(always)]
    fn inverse<T: Float>(stored: f32) -> T {
        if stored > 0.0 && stored.is_finite() {
            T::one() / T::of(stored as f64)
        } else {
            T::zero()
        }
    }

    /// Quantizes one block: returns its absmax (rounded to `f32`) and writes the
    /// codes of `v` into `codes` (as long as `v`).
    #[inline(always)]
    pub fn encode_block<T: Float>(&self, v: &[T], codes: &mut [u8]) -> f32 {
        let stored = Self::absmax(v);
        self.encode_scaled(v, stored, codes);
        stored
    }

    /// The codes of `v` (into `codes`, as long as `v`) in a block of scale `stored`.
    #[inline(always)]
    fn encode_scaled<T: Float>(&self, v: &[T], stored: f32, codes: &mut [u8]) {
        let codes = &mut codes[..v.len()];
        let inv: T = Self::inverse(stored);
        for (c, &x) in codes.iter_mut().zip(v) {
            *c = self.encode((x * inv).f64() as f32);
        }
    }

    /// The scale a block is stored with, from the largest of its elements' `f32` bit
    /// patterns with the sign cleared (`bits & 0x7FFF_FFFF`): the patterns of
    /// magnitudes order as the magnitudes do and every NaN's lies above +inf's, so
    /// this is [`Codec::encode_block`]'s absmax, found by an integer maximum that the
    /// kernel's update loop carries along.
    #[inline(always)]
    pub fn scale_of_bits(bits: u32) -> f32 {
        if bits > f32::INFINITY.to_bits() {
            f32::NAN
        } else {
            f32::from_bits(bits)
        }
    }

    /// [`Codec::encode_block`] of a block whose scale `stored` the caller found with
    /// [`Codec::scale_of_bits`]; vectorized for `f32`.
    #[inline(always)]
    pub fn encode_scaled_fast<T: Float>(&self, v: &mut [T], stored: f32, codes: &mut [u8]) {
        let Some(v) = as_f32(v) else {
            return self.encode_scaled(v, stored, codes);
        };
        let codes = &mut codes[..v.len()];
        #[cfg(target_arch = "x86_64")]
        {
            let known = Some(stored);
            match crate::cpu::level() {
                // SAFETY: `level` found the features each variant is compiled for.
                Level::Avx512 => {
                    unsafe { simd::encode_block_avx512(self, v, codes, known) };
                    return;
                }
                Level::Avx2 => {
                    unsafe { simd::encode_block_avx2(self, v, codes, known) };
                    return;
                }
                Level::Scalar => {}
            }
        }
        self.encode_scaled(v, stored, codes)
    }

    /// [`Codec::encode_block`] for `f32` state, vectorized where the CPU allows.
    #[inline(always)]
    pub fn encode_block_f32(&self, v: &[f32], codes: &mut [u8]) -> f32 {
        let codes = &mut codes[..v.len()];
        #[cfg(target_arch = "x86_64")]
        {
            match crate::cpu::level() {
                // SAFETY: `level` found the features each variant is compiled for.
                Level::Avx512 => return unsafe { simd::encode_block_avx512(self, v, codes, None) },
                Level::Avx2 => return unsafe { simd::encode_block_avx2(self, v, codes, None) },
                Level::Scalar => {}
            }
        }
        self.encode_block(v, codes)
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

/// `v` as `f32`s, if `T` is `f32`.
#[inline(always)]
fn as_f32<T: Float>(v: &mut [T]) -> Option<&mut [f32]> {
    if std::any::TypeId::of::<T>() == std::any::TypeId::of::<f32>() {
        // SAFETY: `T` is `f32`, checked just above.
        Some(unsafe { &mut *(v as *mut [T] as *mut [f32]) })
    } else {
        None
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

/// The vectorized block codecs: the same functions as the scalar ones, eight lanes
/// at a time with AVX2 and sixteen with AVX-512F.
///
/// Both variants execute the operations of the scalar code in `f32`, so they store
/// the same codes and decode the same values. The 512-bit encoder finds the decade
/// with one table look-up by binade ([`Codec::bin_dec`]) where the AVX2 one compares
/// with the six decade boundaries.
#[cfg(target_arch = "x86_64")]
mod simd {
    use super::*;
    use std::arch::x86_64::*;

    /// # Safety
    /// The CPU supports AVX2 and FMA; `out` is as long as `codes`.
    #[target_feature(enable = "avx2,fma")]
    pub(super) unsafe fn decode_avx2(c: &Codec, codes: &[u8], absmax: f32, out: &mut [f32]) {
        // SAFETY: the caller's guarantees are the body's.
        unsafe { decode(c, codes, absmax, out) }
    }

    /// [`Codec::encode_block`]; with `known`, the block's scale is that (as
    /// [`Codec::scale_of_bits`] found it) and is not computed again.
    ///
    /// # Safety
    /// The CPU supports AVX2 and FMA; `codes` is as long as `v`.
    #[target_feature(enable = "avx2,fma")]
    pub(super) unsafe fn encode_block_avx2(
        c: &Codec,
        v: &[f32],
        codes: &mut [u8],
        known: Option<f32>,
    ) -> f32 {
        // SAFETY: the caller's guarantees are the body's.
        unsafe { encode_block(c, v, codes, known) }
    }

    /// `out[i] = values[codes[i]] × absmax`, sixteen at a time: the decade and the
    /// index within it from the code's bits, the magnitude by one fused multiply-add
    /// (as [`magnitude`]), then the sign and the scale.
    ///
    /// # Safety
    /// The CPU supports AVX-512F, AVX2 and FMA; `out` is as long as `codes`.
    #[target_feature(enable = "avx512f,avx2,fma")]
    pub(super) unsafe fn decode_avx512(c: &Codec, codes: &[u8], absmax: f32, out: &mut [f32]) {
        if c.signed {
            // SAFETY: forwarded from the caller.
            unsafe { decode_zmm::<true>(c, codes, absmax, out) }
        } else {
            // SAFETY: forwarded from the caller.
            unsafe { decode_zmm::<false>(c, codes, absmax, out) }
        }
    }

    /// # Safety
    /// Only inlined into a function compiled with AVX-512F, AVX2 and FMA; `out` is as
    /// long as `codes`; `SIGNED` is `c.signed`.
    #[inline(always)]
    unsafe fn decode_zmm<const SIGNED: bool>(
        c: &Codec,
        codes: &[u8],
        absmax: f32,
        out: &mut [f32],
    ) {
        let n = codes.len();
        let full = n / 16 * 16;
        // The decade tables hold 8 entries; the decade never exceeds 7.
        // SAFETY: each table holds 8 `f32`s.
        let (first, step) = unsafe {
            (
                _mm512_zextps256_ps512(_mm256_loadu_ps(c.first.as_ptr())),
                _mm512_zextps256_ps512(_mm256_loadu_ps(c.step.as_ptr())),
            )
        };
        let scale = _mm512_set1_ps(absmax);
        let (offset, top) = (
            _mm512_set1_epi32(c.offset as i32),
            _mm512_set1_epi32(c.top as i32),
        );
        let (one, zero, seven) = (
            _mm512_set1_epi32(1),
            _mm512_setzero_si512(),
            _mm512_set1_epi32(7),
        );
        let (mid, sign, unit) = (
            _mm512_set1_epi32(127),
            _mm512_set1_epi32(i32::MIN),
            _mm512_set1_ps(1.0),
        );
        let mut i = 0;
        while i < full {
            // SAFETY: i + 16 <= n for both slices.
            let q = _mm512_cvtepu8_epi32(unsafe { _mm_loadu_si128(codes.as_ptr().add(i).cast()) });
            let (p, neg) = if SIGNED {
                (
                    _mm512_abs_epi32(_mm512_sub_epi32(q, mid)),
                    _mm512_cmplt_epi32_mask(q, mid),
                )
            } else {
                (q, 0)
            };
            let e = _mm512_add_epi32(p, offset);
            let d = _mm512_and_si512(
                _mm512_sub_epi32(
                    _mm512_srli_epi32::<23>(_mm512_castps_si512(_mm512_cvtepi32_ps(e))),
                    mid,
                ),
                seven,
            );
            let j = _mm512_cvtepi32_ps(_mm512_sub_epi32(e, _mm512_sllv_epi32(one, d)));
            let m = _mm512_fmadd_ps(
                j,
                _mm512_permutexvar_ps(d, step),
                _mm512_permutexvar_ps(d, first),
            );
            let m = _mm512_maskz_mov_ps(_mm512_cmpneq_epi32_mask(p, zero), m);
            let m = _mm512_mask_mov_ps(m, _mm512_cmpeq_epi32_mask(p, top), unit);
            let m = if SIGNED {
                _mm512_castsi512_ps(_mm512_mask_xor_epi32(
                    _mm512_castps_si512(m),
                    neg,
                    _mm512_castps_si512(m),
                    sign,
                ))
            } else {
                m
            };
            // SAFETY: as above.
            unsafe { _mm512_storeu_ps(out.as_mut_ptr().add(i), _mm512_mul_ps(m, scale)) };
            i += 16;
        }
        for k in full..n {
            out[k] = c.values[codes[k] as usize] * absmax;
        }
    }

    /// [`Codec::encode_block`], sixteen lanes at a time; `known` as in
    /// [`encode_block_avx2`].
    ///
    /// # Safety
    /// The CPU supports AVX-512F, AVX2 and FMA; `codes` is as long as `v`.
    #[target_feature(enable = "avx512f,avx2,fma")]
    pub(super) unsafe fn encode_block_avx512(
        c: &Codec,
        v: &[f32],
        codes: &mut [u8],
        known: Option<f32>,
    ) -> f32 {
        if c.signed {
            // SAFETY: forwarded from the caller.
            unsafe { encode_zmm::<true>(c, v, codes, known) }
        } else {
            // SAFETY: forwarded from the caller.
            unsafe { encode_zmm::<false>(c, v, codes, known) }
        }
    }

    /// The largest magnitude of a block, as stored (NaN if it holds one), sixteen
    /// lanes at a time.
    ///
    /// # Safety
    /// Only inlined into a function compiled with AVX-512F.
    #[inline(always)]
    unsafe fn absmax_zmm(v: &[f32]) -> f32 {
        let n = v.len();
        let full = n / 16 * 16;
        let mut amax = _mm512_setzero_ps();
        let mut nan: __mmask16 = 0;
        let mut i = 0;
        while i < full {
            // SAFETY: i + 16 <= n.
            let x = unsafe { _mm512_loadu_ps(v.as_ptr().add(i)) };
            // max(a, amax) takes amax when a is NaN; NaNs are collected apart.
            amax = _mm512_max_ps(_mm512_abs_ps(x), amax);
            nan |= _mm512_cmp_ps_mask::<_CMP_UNORD_Q>(x, x);
            i += 16;
        }
        absmax_tail(&v[full..], _mm512_reduce_max_ps(amax), nan != 0)
    }

    /// The absmax of a block from its vector part's maximum `m` and NaN flag `nan`,
    /// and the elements left over after the vector loop.
    #[inline(always)]
    fn absmax_tail(tail: &[f32], mut m: f32, mut nan: bool) -> f32 {
        for &x in tail {
            let a = x.abs();
            m = if a > m { a } else { m };
            nan |= x.is_nan();
        }
        if nan {
            f32::NAN
        } else {
            m
        }
    }

    /// # Safety
    /// Only inlined into a function compiled with AVX-512F, AVX2 and FMA; `codes` is
    /// as long as `v`; `SIGNED` is `c.signed`.
    #[inline(always)]
    unsafe fn encode_zmm<const SIGNED: bool>(
        c: &Codec,
        v: &[f32],
        codes: &mut [u8],
        known: Option<f32>,
    ) -> f32 {
        let n = v.len();
        let full = n / 16 * 16;
        // SAFETY: forwarded from the caller.
        let stored = known.unwrap_or_else(|| unsafe { absmax_zmm(v) });
        let inv = Codec::inverse::<f32>(stored);
        let vinv = _mm512_set1_ps(inv);
        // The decade tables hold 8 entries; the decade never exceeds 7.
        let (first, inv_step) = (
            _mm512_zextps256_ps512(unsafe { _mm256_loadu_ps(c.first.as_ptr()) }),
            _mm512_zextps256_ps512(unsafe { _mm256_loadu_ps(c.inv_step.as_ptr()) }),
        );
        // SAFETY: the binade tables hold 32 entries, two registers each.
        let (dec_lo, dec_hi, thr_lo, thr_hi) = unsafe {
            (
                _mm512_loadu_si512(c.bin_dec.as_ptr().cast()),
                _mm512_loadu_si512(c.bin_dec.as_ptr().add(16).cast()),
                _mm512_loadu_ps(c.bin_thr.as_ptr()),
                _mm512_loadu_ps(c.bin_thr.as_ptr().add(16)),
            )
        };
        let (offset, top) = (
            _mm512_set1_epi32(c.offset as i32),
            _mm512_set1_epi32(c.top as i32),
        );
        let (one, zero) = (_mm512_set1_epi32(1), _mm512_setzero_si512());
        let (lowest, highest) = (_mm512_set1_ps(c.bounds[0]), _mm512_set1_ps(c.bounds[7]));
        let (mid, base) = (_mm512_set1_epi32(127), _mm512_set1_epi32(96));
        let mut i = 0;
        while i < full {
            // SAFETY: i + 16 <= n.
            let x = _mm512_mul_ps(unsafe { _mm512_loadu_ps(v.as_ptr().add(i)) }, vinv);
            let neg = _mm512_cmplt_epi32_mask(_mm512_castps_si512(x), zero);
            let a = _mm512_abs_ps(x);
            let bin = _mm512_sub_epi32(_mm512_srli_epi32::<23>(_mm512_castps_si512(a)), base);
            let below = _mm512_permutex2var_epi32(dec_lo, bin, dec_hi);
            let up =
                _mm512_cmp_ps_mask::<_CMP_GE_OQ>(a, _mm512_permutex2var_ps(thr_lo, bin, thr_hi));
            let dec = _mm512_mask_add_epi32(below, up, below, one);
            let t = _mm512_mul_ps(
                _mm512_sub_ps(a, _mm512_permutexvar_ps(dec, first)),
                _mm512_permutexvar_ps(dec, inv_step),
            );
            let size = _mm512_sllv_epi32(one, dec);
            let j = _mm512_min_epi32(
                _mm512_max_epi32(_mm512_cvtps_epi32(t), zero),
                _mm512_sub_epi32(size, one),
            );
            let p = _mm512_add_epi32(_mm512_sub_epi32(size, offset), j);
            let p = _mm512_maskz_mov_epi32(_mm512_cmp_ps_mask::<_CMP_GE_OQ>(a, lowest), p);
            let p = _mm512_mask_mov_epi32(p, _mm512_cmp_ps_mask::<_CMP_GE_OQ>(a, highest), top);
            let q = if SIGNED {
                _mm512_mask_blend_epi32(
                    neg,
                    _mm512_add_epi32(mid, p),
                    _mm512_sub_epi32(mid, _mm512_min_epi32(p, mid)),
                )
            } else {
                _mm512_maskz_mov_epi32(!neg, p)
            };
            // SAFETY: i + 16 <= n.
            unsafe { _mm_storeu_si128(codes.as_mut_ptr().add(i).cast(), _mm512_cvtepi32_epi8(q)) };
            i += 16;
        }
        for k in full..n {
            codes[k] = c.encode(v[k] * inv);
        }
        stored
    }

    /// # Safety
    /// Only inlined into a function compiled with AVX2 and FMA; `out` is as long as
    /// `codes`.
    #[inline(always)]
    unsafe fn decode(c: &Codec, codes: &[u8], absmax: f32, out: &mut [f32]) {
        let n = codes.len();
        let full = n / 8 * 8;
        let first = _mm256_loadu_ps(c.first.as_ptr());
        let step = _mm256_loadu_ps(c.step.as_ptr());
        let scale = _mm256_set1_ps(absmax);
        let (offset, top) = (
            _mm256_set1_epi32(c.offset as i32),
            _mm256_set1_epi32(c.top as i32),
        );
        let (one, zero) = (_mm256_set1_epi32(1), _mm256_setzero_si256());
        let mid = _mm256_set1_epi32(127);
        let mut i = 0;
        while i < full {
            // SAFETY: i + 8 <= n for both slices.
            let q = _mm256_cvtepu8_epi32(unsafe { _mm_loadl_epi64(codes.as_ptr().add(i).cast()) });
            let (p, neg) = if c.signed {
                let neg = _mm256_cmpgt_epi32(mid, q);
                (_mm256_abs_epi32(_mm256_sub_epi32(q, mid)), neg)
            } else {
                (q, zero)
            };
            let e = _mm256_add_epi32(p, offset);
            let d = _mm256_and_si256(
                _mm256_sub_epi32(
                    _mm256_srli_epi32::<23>(_mm256_castps_si256(_mm256_cvtepi32_ps(e))),
                    mid,
                ),
                _mm256_set1_epi32(7),
            );
            let j = _mm256_cvtepi32_ps(_mm256_sub_epi32(e, _mm256_sllv_epi32(one, d)));
            let m = _mm256_fmadd_ps(
                j,
                _mm256_permutevar8x32_ps(step, d),
                _mm256_permutevar8x32_ps(first, d),
            );
            let m = _mm256_andnot_ps(_mm256_castsi256_ps(_mm256_cmpeq_epi32(p, zero)), m);
            let m = _mm256_blendv_ps(
                m,
                _mm256_set1_ps(1.0),
                _mm256_castsi256_ps(_mm256_cmpeq_epi32(p, top)),
            );
            let m = _mm256_xor_ps(
                m,
                _mm256_and_ps(_mm256_castsi256_ps(neg), _mm256_set1_ps(-0.0)),
            );
            // SAFETY: as above.
            unsafe { _mm256_storeu_ps(out.as_mut_ptr().add(i), _mm256_mul_ps(m, scale)) };
            i += 8;
        }
        for k in full..n {
            out[k] = c.values[codes[k] as usize] * absmax;
        }
    }

    /// The largest magnitude of a block, as stored (NaN if it holds one), eight lanes
    /// at a time.
    ///
    /// # Safety
    /// Only inlined into a function compiled with AVX2.
    #[inline(always)]
    unsafe fn absmax8(v: &[f32]) -> f32 {
        let n = v.len();
        let full = n / 8 * 8;
        let abs = _mm256_castsi256_ps(_mm256_set1_epi32(0x7FFF_FFFF));
        let mut amax = _mm256_setzero_ps();
        let mut nan = _mm256_setzero_ps();
        let mut i = 0;
        while i < full {
            // SAFETY: i + 8 <= n.
            let x = unsafe { _mm256_loadu_ps(v.as_ptr().add(i)) };
            // max(a, amax) takes amax when a is NaN; NaNs are collected apart.
            amax = _mm256_max_ps(_mm256_and_ps(x, abs), amax);
            nan = _mm256_or_ps(nan, _mm256_cmp_ps::<_CMP_UNORD_Q>(x, x));
            i += 8;
        }
        let mut lanes = [0.0f32; 8];
        _mm256_storeu_ps(lanes.as_mut_ptr(), amax);
        let m = lanes.iter().fold(0.0f32, |m, &a| if a > m { a } else { m });
        absmax_tail(&v[full..], m, _mm256_movemask_ps(nan) != 0)
    }

    /// # Safety
    /// Only inlined into a function compiled with AVX2 and FMA; `codes` is as long
    /// as `v`.
    #[inline(always)]
    unsafe fn encode_block(c: &Codec, v: &[f32], codes: &mut [u8], known: Option<f32>) -> f32 {
        let n = v.len();
        let full = n / 8 * 8;
        let abs = _mm256_castsi256_ps(_mm256_set1_epi32(0x7FFF_FFFF));
        // SAFETY: forwarded from the caller.
        let stored = known.unwrap_or_else(|| unsafe { absmax8(v) });
        let inv = _mm256_set1_ps(Codec::inverse::<f32>(stored));
        let (first, inv_step) = (
            _mm256_loadu_ps(c.first.as_ptr()),
            _mm256_loadu_ps(c.inv_step.as_ptr()),
        );
        let (offset, top) = (
            _mm256_set1_epi32(c.offset as i32),
            _mm256_set1_epi32(c.top as i32),
        );
        let (one, zero) = (_mm256_set1_epi32(1), _mm256_setzero_si256());
        let (lowest, highest) = (_mm256_set1_ps(c.bounds[0]), _mm256_set1_ps(c.bounds[7]));
        let inner: [__m256; 6] = std::array::from_fn(|k| _mm256_set1_ps(c.bounds[k + 1]));
        let mid = _mm256_set1_epi32(127);
        let pick = _mm256_setr_epi8(
            0, 4, 8, 12, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, 0, 4, 8, 12, -1, -1, -1,
            -1, -1, -1, -1, -1, -1, -1, -1, -1,
        );
        let mut i = 0;
        while i < full {
            // SAFETY: i + 8 <= n.
            let x = _mm256_mul_ps(unsafe { _mm256_loadu_ps(v.as_ptr().add(i)) }, inv);
            let neg = _mm256_srai_epi32::<31>(_mm256_castps_si256(x));
            let a = _mm256_and_ps(x, abs);
            let mut dec = offset;
            for b in inner {
                dec = _mm256_sub_epi32(dec, _mm256_castps_si256(_mm256_cmp_ps::<_CMP_GE_OQ>(a, b)));
            }
            let t = _mm256_mul_ps(
                _mm256_sub_ps(a, _mm256_permutevar8x32_ps(first, dec)),
                _mm256_permutevar8x32_ps(inv_step, dec),
            );
            let size = _mm256_sllv_epi32(one, dec);
            let j = _mm256_min_epi32(
                _mm256_max_epi32(_mm256_cvtps_epi32(t), zero),
                _mm256_sub_epi32(size, one),
            );
            let p = _mm256_add_epi32(_mm256_sub_epi32(size, offset), j);
            let p = _mm256_and_si256(
                p,
                _mm256_castps_si256(_mm256_cmp_ps::<_CMP_GE_OQ>(a, lowest)),
            );
            let p = _mm256_blendv_epi8(
                p,
                top,
                _mm256_castps_si256(_mm256_cmp_ps::<_CMP_GE_OQ>(a, highest)),
            );
            let q = if c.signed {
                _mm256_blendv_epi8(
                    _mm256_add_epi32(mid, p),
                    _mm256_sub_epi32(mid, _mm256_min_epi32(p, mid)),
                    neg,
                )
            } else {
                _mm256_andnot_si256(neg, p)
            };
            let b = _mm256_shuffle_epi8(q, pick);
            let w = _mm_unpacklo_epi32(_mm256_castsi256_si128(b), _mm256_extracti128_si256::<1>(b));
            // SAFETY: i + 8 <= n.
            unsafe { _mm_storel_epi64(codes.as_mut_ptr().add(i).cast(), w) };
            i += 8;
        }
        let inv = Codec::inverse::<f32>(stored);
        for k in full..n {
            codes[k] = c.encode(v[k] * inv);
        }
        stored
    }
}

#[cfg(test)]
mod tests;
