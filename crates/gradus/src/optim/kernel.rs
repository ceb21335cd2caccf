//! The hot loop: one pass over each tensor, vectorized, split across threads.
//!
//! Rules are plain scalar code; the loop here is written so the compiler vectorizes
//! it. Rust never contracts `a * b + c` into a fused multiply-add on its own, and the
//! rules' explicit `mul_add`s are IEEE fused multiply-adds everywhere, so the
//! vectorized code computes exactly what the scalar code does, bit for bit, whatever
//! the instruction set and however the tensors are split between threads.
//!
//! # Scheduling
//! A step is cut into *work items* of about [`ITEM`] elements: a large tensor is cut
//! into chunks whose boundaries fall on cache lines of its parameter buffer, and
//! consecutive small tensors are grouped until a group holds at least [`ITEM`]
//! elements. The items run in parallel on the current rayon pool; each long chunk is
//! swept as its two halves in lockstep (more memory streams per core), and the first
//! cache lines of the next short segment are prefetched while one is updated. A
//! rule's common configuration (`Rule::is_fast`) runs a loop with its options as
//! compile-time constants, and consecutive tensors at the same step share one set of
//! coefficients. Every element is updated by the same scalar code whichever item it
//! lands in, so the results do not depend on the number of threads. The plan lives in
//! a [`Scratch`] owned by the optimizer and reused from step to step: a step allocates
//! nothing once the optimizer has seen its tensors.

use super::engine::{Rule, TensorState};
use super::state_dtype::q8::{self, Codec};
use super::state_dtype::{self, Bf16, Bf16Sr, StateDtype, Store, Q8};
use super::Param;
use crate::float::{DType, Float};
use rayon::prelude::*;

/// A step touching at least this many elements in total runs its work items in
/// parallel (below it, the cost of waking a second thread outweighs the gain).
pub(crate) const PAR_THRESHOLD: usize = 1 << 16;
/// Elements per work item: large tensors are cut into chunks of this many elements,
/// small tensors are grouped until a group holds at least this many.
pub(crate) const ITEM: usize = 1 << 16;
/// Elements per block of each of the four streams of the non-finite scan: the scan
/// stops after the first block holding a non-finite value.
const SCAN_BLOCK: usize = 1 << 10;
/// The most state slots a rule may have.
pub(crate) const MAX_SLOTS: usize = 4;
/// Segments of at most this many bytes per buffer have their first
/// [`PREFETCH_HEAD`] bytes prefetched while the previous segment is updated (short
/// tensors give the hardware prefetcher no time to start). Prefetching them whole
/// measured slower (1000 tensors of 1000 f32: +10 %).
const PREFETCH_MAX: usize = 16 << 10;
/// Bytes prefetched at the start of each buffer of a short segment.
const PREFETCH_HEAD: usize = 4 * CACHE_LINE;
/// Segments shorter than this are swept as one stream, not two halves: with short
/// tensors, more streams only mean more cold starts (measured: 1000 tensors of 1000
/// f32, 0.61 ms per Adam step against 0.72 ms with two halves). Rules with more than
/// two state slots are always swept as one stream: two halves of five buffers each
/// run out of registers (measured, one thread, 1 M f32 in cache: Adam with AMSGrad
/// 1.50 ms in two halves, 0.90 ms in one stream).
const PAIR_MIN: usize = 4096;
/// Cache-line size in bytes, for chunk boundaries.
const CACHE_LINE: usize = 64;

// ---------------------------------------------------------------------------------
// Non-finite gradient check
// ---------------------------------------------------------------------------------

/// Whether `g` holds a NaN or ±inf.
///
/// The slice is scanned as four interleaved streams (its four quarters, in lockstep):
/// one sequential stream per core leaves most of the memory bandwidth unused, four
/// keep enough cache misses in flight (measured here: 17 GB/s against 6 GB/s on one
/// core). Branch-free within each block so that it vectorizes; stops after the first
/// block holding a non-finite value.
#[inline(always)]
fn any_nonfinite_plain<T: Float>(g: &[T]) -> bool {
    let q = g.len() / 4;
    let (a, rest) = g.split_at(q);
    let (b, rest) = rest.split_at(q);
    let (c, d) = rest.split_at(q);
    let mut i = 0;
    while i < q {
        let e = (i + SCAN_BLOCK).min(q);
        let (a, b, c, d) = (&a[i..e], &b[i..e], &c[i..e], &d[i..e]);
        let mut bad = false;
        for j in 0..a.len() {
            // `|` rather than `||`: no early exit, so the block is one vector loop.
            bad |= !a[j].is_finite() | !b[j].is_finite() | !c[j].is_finite() | !d[j].is_finite();
        }
        if bad {
            return true;
        }
        i = e;
    }
    d[q..].iter().any(|x| !x.is_finite())
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
unsafe fn any_nonfinite_avx2<T: Float>(g: &[T]) -> bool {
    any_nonfinite_plain(g)
}

/// Whether `g` holds a NaN or ±inf (one thread).
pub(crate) fn any_nonfinite<T: Float>(g: &[T]) -> bool {
    #[cfg(target_arch = "x86_64")]
    {
        if crate::cpu::level() >= crate::cpu::Level::Avx2 {
            // SAFETY: the CPU supports AVX2, checked just above.
            return unsafe { any_nonfinite_avx2(g) };
        }
    }
    any_nonfinite_plain(g)
}

/// Index of the first NaN or ±inf in `g`.
pub(crate) fn first_nonfinite<T: Float>(g: &[T]) -> Option<usize> {
    if any_nonfinite(g) {
        g.iter().position(|x| !x.is_finite())
    } else {
        None
    }
}

/// The first non-finite gradient of a step, as (param index, element index).
///
/// The common case (everything finite) is one vectorized read of every gradient,
/// split across the threads of the current pool when the step is large; the exact
/// position is only searched for when something was found.
pub(crate) fn first_nonfinite_in<T: Float>(params: &[Param<'_, T>]) -> Option<(usize, usize)> {
    let total: usize = params.iter().map(|p| p.grad.len()).sum();
    let bad = if total >= PAR_THRESHOLD && rayon::current_num_threads() > 1 {
        // Small tensors are scanned in groups of about `ITEM` elements, not one task each.
        let min_len = (ITEM * params.len() / total).max(1);
        params.par_iter().with_min_len(min_len).any(|p| {
            if p.grad.len() >= 2 * ITEM {
                p.grad.par_chunks(ITEM).any(any_nonfinite)
            } else {
                any_nonfinite(p.grad)
            }
        })
    } else {
        params.iter().any(|p| any_nonfinite(p.grad))
    };
    if !bad {
        return None;
    }
    params
        .iter()
        .enumerate()
        .find_map(|(i, p)| first_nonfinite(p.grad).map(|j| (i, j)))
}

// ---------------------------------------------------------------------------------
// The update
// ---------------------------------------------------------------------------------

/// A contiguous piece of one tensor: raw views of its parameter, gradient and state
/// slots, and the index of its tensor's coefficients.
#[derive(Clone, Copy)]
struct Seg<T> {
    p: *mut T,
    g: *const T,
    /// The state slots, of the step's storage type (`T`, bfloat16 bits or 8-bit codes).
    s: [*mut u8; MAX_SLOTS],
    /// With 8-bit state: the block scales of the slots, from the segment's first
    /// block (segments then start on block boundaries); null otherwise.
    a: [*mut f32; MAX_SLOTS],
    len: usize,
    coeff: usize,
    /// Index of the segment's first element in its tensor, and the tensor's seed
    /// (for stochastic rounding of the state; unused otherwise).
    off: usize,
    seed: u32,
}

/// Reusable buffers of the step plan, owned by the optimizer.
///
/// Between steps it holds no pointers (the segment list is cleared at the end of
/// every step), only capacity.
pub(crate) struct Scratch<C, T> {
    coeffs: Vec<C>,
    segs: Vec<Seg<T>>,
    /// Start of each work item in `segs`, followed by `segs.len()`.
    items: Vec<usize>,
}

impl<C, T> Default for Scratch<C, T> {
    fn default() -> Self {
        Scratch {
            coeffs: Vec::new(),
            segs: Vec::new(),
            items: Vec::new(),
        }
    }
}

impl<C, T> Clone for Scratch<C, T> {
    /// A clone starts with empty buffers: they carry nothing from step to step.
    fn clone(&self) -> Self {
        Self::default()
    }
}

impl<C, T> std::fmt::Debug for Scratch<C, T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Scratch")
            .field("segs_capacity", &self.segs.capacity())
            .finish()
    }
}

// SAFETY: `segs` is empty outside `run` (cleared before it returns), so a `Scratch`
// moved or shared between steps carries no pointer; inside `run` the pointers are
// views of borrows `run` holds exclusively for its whole duration.
unsafe impl<C: Send, T: Send> Send for Scratch<C, T> {}
// SAFETY: as above; `&Scratch` gives no access to the pointees.
unsafe impl<C: Sync, T: Sync> Sync for Scratch<C, T> {}

/// The segments and coefficients of one step, shared by the worker threads.
struct Plan<'a, C, T> {
    coeffs: &'a [C],
    segs: &'a [Seg<T>],
    items: &'a [usize],
    /// Every gradient is multiplied by this in the update (clipping's coefficient; 1
    /// otherwise, which changes no bit: multiplying by one is exact in IEEE 754).
    grad_scale: T,
    /// With 8-bit state: the quantization map of each slot.
    codecs: [&'static Codec; MAX_SLOTS],
}

// SAFETY: each segment views a range of a buffer that no other segment overlaps
// (tensors have distinct buffers, chunks of one tensor are disjoint) and that is
// exclusively borrowed by `run` while the plan is alive; each work item (a disjoint
// range of segments) is processed by exactly one thread.
unsafe impl<C: Sync, T: Send + Sync> Sync for Plan<'_, C, T> {}

/// Applies `rule` to every param (with state `tensors[slots_of[i]]`, kept as
/// `storage`: in `TensorState::slots`, `TensorState::bf16_slots` for bfloat16, or
/// `TensorState::q8_slots` and `q8_absmax` for 8-bit state): one step.
pub(crate) fn run<R: Rule, T: Float>(
    rule: &R,
    params: &mut [Param<'_, T>],
    slots_of: &[usize],
    tensors: &mut [TensorState<T>],
    scratch: &mut Scratch<R::Coeffs<T>, T>,
    grad_scale: T,
    storage: StateDtype,
) {
    let nslots = rule.slot_names().len();
    assert!(
        nslots <= MAX_SLOTS,
        "rules have at most {MAX_SLOTS} state slots"
    );
    let Scratch {
        coeffs,
        segs,
        items,
    } = scratch;
    coeffs.clear();
    segs.clear();
    items.clear();
    let mut open = 0; // elements in the work item being filled
    let mut shared_step = None; // step of the last coefficients, if shareable
    for (p, &idx) in params.iter_mut().zip(slots_of) {
        let t = &mut tensors[idx];
        t.step += 1;
        // Tensors without scalar state at the same step as the previous one (the
        // usual case) share its coefficients: no `powf` per tensor.
        if !(t.scalars.is_empty() && shared_step == Some(t.step)) {
            coeffs.push(rule.coeffs::<T>(t.step, &mut t.scalars));
        }
        shared_step = t.scalars.is_empty().then_some(t.step);
        let ci = coeffs.len() - 1;
        let n = p.value.len();
        // The engine guarantees these; the kernel relies on them for memory safety.
        // A tensor may keep more buffers than the rule uses now (SGD whose momentum a
        // schedule set to 0 keeps its buffer, as torch does); only the first `nslots`
        // are read.
        assert!(p.grad.len() == n);
        let mut a = [std::ptr::null_mut(); MAX_SLOTS];
        let (s, elem) = if storage.is_param() {
            assert!(t.slots.len() >= nslots);
            assert!(t.slots[..nslots].iter().all(|s| s.len() == n));
            let s = std::array::from_fn(|k| {
                t.slots
                    .get_mut(k)
                    .map_or(std::ptr::null_mut(), |s| s.as_mut_ptr().cast::<u8>())
            });
            (s, std::mem::size_of::<T>())
        } else if storage.is_q8() {
            assert!(t.q8_slots.len() >= nslots && t.q8_absmax.len() >= nslots);
            assert!(t.q8_slots[..nslots].iter().all(|s| s.len() == n));
            assert!(t.q8_absmax[..nslots]
                .iter()
                .all(|s| s.len() == q8::blocks(n)));
            for (k, ak) in a.iter_mut().enumerate().take(nslots) {
                *ak = t.q8_absmax[k].as_mut_ptr();
            }
            let s = std::array::from_fn(|k| {
                t.q8_slots
                    .get_mut(k)
                    .map_or(std::ptr::null_mut(), |s| s.as_mut_ptr())
            });
            (s, 1)
        } else {
            assert!(t.bf16_slots.len() >= nslots);
            assert!(t.bf16_slots[..nslots].iter().all(|s| s.len() == n));
            let s = std::array::from_fn(|k| {
                t.bf16_slots
                    .get_mut(k)
                    .map_or(std::ptr::null_mut(), |s| s.as_mut_ptr().cast::<u8>())
            });
            (s, std::mem::size_of::<u16>())
        };
        let seed = if storage == StateDtype::Bf16Sr {
            state_dtype::seed(&t.name, t.step)
        } else {
            0
        };
        let base = Seg {
            p: p.value.as_mut_ptr(),
            g: p.grad.as_ptr(),
            s,
            a,
            len: 0,
            coeff: ci,
            off: 0,
            seed,
        };
        // Chunk boundaries on cache lines of the parameter buffer; with 8-bit state,
        // on quantization blocks (`ITEM` is a multiple of the block).
        let head = match base.p.align_offset(CACHE_LINE) {
            _ if storage.is_q8() => 0,
            a if a < CACHE_LINE => a,
            _ => 0,
        };
        let mut start = 0;
        while start < n {
            let end = if n - start < 2 * ITEM {
                n
            } else if start == 0 {
                head + ITEM
            } else {
                start + ITEM
            };
            // SAFETY: start < end <= n, so every offset stays within its buffer.
            let seg = unsafe {
                Seg {
                    p: base.p.add(start),
                    g: base.g.add(start),
                    s: std::array::from_fn(|k| {
                        if k < nslots {
                            base.s[k].add(start * elem)
                        } else {
                            std::ptr::null_mut()
                        }
                    }),
                    a: std::array::from_fn(|k| {
                        if base.a[k].is_null() {
                            std::ptr::null_mut()
                        } else {
                            base.a[k].add(start / q8::BLOCK)
                        }
                    }),
                    len: end - start,
                    coeff: ci,
                    off: start,
                    seed,
                }
            };
            if open == 0 {
                items.push(segs.len());
            }
            segs.push(seg);
            open += end - start;
            if open >= ITEM {
                open = 0;
            }
            start = end;
        }
    }
    items.push(segs.len());
    let total: usize = params.iter().map(|p| p.value.len()).sum();
    let names = rule.slot_names();
    let plan = Plan {
        coeffs,
        segs,
        items,
        grad_scale,
        codecs: std::array::from_fn(|k| names.get(k).map_or(q8::signed(), |n| q8::codec_for(n))),
    };
    match storage {
        StateDtype::Param => execute_in::<R, T, T>(&plan, total, nslots),
        StateDtype::Bf16 => execute_in::<R, T, Bf16>(&plan, total, nslots),
        StateDtype::Bf16Sr => execute_in::<R, T, Bf16Sr>(&plan, total, nslots),
        StateDtype::Q8 => execute_in::<R, T, Q8>(&plan, total, nslots),
    }
    segs.clear();
}

/// [`execute`] with the number of slots as a compile-time constant.
fn execute_in<R: Rule, T: Float, S: Store<T>>(
    plan: &Plan<'_, R::Coeffs<T>, T>,
    total: usize,
    nslots: usize,
) {
    match nslots {
        0 => execute::<R, T, S, 0>(plan, total),
        1 => execute::<R, T, S, 1>(plan, total),
        2 => execute::<R, T, S, 2>(plan, total),
        3 => execute::<R, T, S, 3>(plan, total),
        4 => execute::<R, T, S, 4>(plan, total),
        _ => unreachable!(),
    }
}

fn execute<R: Rule, T: Float, S: Store<T>, const N: usize>(
    plan: &Plan<'_, R::Coeffs<T>, T>,
    total: usize,
) {
    let nitems = plan.items.len() - 1;
    let f = item_fn::<R, T, S, N>();
    if nitems > 1 && total >= PAR_THRESHOLD && rayon::current_num_threads() > 1 {
        (0..nitems).into_par_iter().for_each(|k| {
            // SAFETY: see `Plan`: item `k` is processed by this call only.
            unsafe { f(plan, k) }
        });
    } else {
        for k in 0..nitems {
            // SAFETY: see `Plan`: items are processed one after the other.
            unsafe { f(plan, k) }
        }
    }
}

/// Processes work item `k` of a plan.
type ItemFn<C, T> = unsafe fn(&Plan<'_, C, T>, usize);

/// The item loop for the widest instruction set this CPU has.
fn item_fn<R: Rule, T: Float, S: Store<T>, const N: usize>() -> ItemFn<R::Coeffs<T>, T> {
    #[cfg(target_arch = "x86_64")]
    {
        // The rules' fused multiply-adds (`mul_add`) become single instructions with
        // FMA; without it they are (correctly rounded, equal, slower) library calls.
        match crate::cpu::level() {
            crate::cpu::Level::Avx512 => return item_avx512::<R, T, S, N>,
            crate::cpu::Level::Avx2 => return item_avx2::<R, T, S, N>,
            crate::cpu::Level::Scalar => {}
        }
    }
    item_plain::<R, T, S, N>
}

/// # Safety
/// The CPU supports AVX-512F and FMA, and the plan's contract holds (see [`item_plain`]).
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f,fma")]
unsafe fn item_avx512<R: Rule, T: Float, S: Store<T>, const N: usize>(
    plan: &Plan<'_, R::Coeffs<T>, T>,
    k: usize,
) {
    // SAFETY: forwarded from the caller.
    unsafe { item_plain::<R, T, S, N>(plan, k) }
}

/// # Safety
/// The CPU supports AVX2 and FMA, and the plan's contract holds (see [`item_plain`]).
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
unsafe fn item_avx2<R: Rule, T: Float, S: Store<T>, const N: usize>(
    plan: &Plan<'_, R::Coeffs<T>, T>,
    k: usize,
) {
    // SAFETY: forwarded from the caller.
    unsafe { item_plain::<R, T, S, N>(plan, k) }
}

/// Asks the CPU to start loading the first cache lines of a short segment's buffers
/// into the L2 cache.
#[inline(always)]
fn prefetch_seg<T, S, const N: usize>(seg: &Seg<T>) {
    #[cfg(target_arch = "x86_64")]
    {
        use std::arch::x86_64::{_mm_prefetch, _MM_HINT_T1};
        let bytes = seg.len * std::mem::size_of::<T>();
        let state_bytes = seg.len * std::mem::size_of::<S>();
        if bytes > PREFETCH_MAX {
            return;
        }
        let mut off = 0;
        while off < bytes.min(PREFETCH_HEAD) {
            // SAFETY: prefetching is a hint that never faults, valid for any
            // address (past the end of a very short segment included).
            unsafe {
                _mm_prefetch::<_MM_HINT_T1>((seg.p as *const i8).wrapping_add(off));
                _mm_prefetch::<_MM_HINT_T1>((seg.g as *const i8).wrapping_add(off));
                if off < state_bytes {
                    for k in 0..N {
                        _mm_prefetch::<_MM_HINT_T1>((seg.s[k] as *const i8).wrapping_add(off));
                    }
                }
            }
            off += CACHE_LINE;
        }
    }
}

/// Runs the update over the segments of item `k`.
///
/// # Safety
/// No other thread accesses the buffers of item `k` during the call (see [`Plan`]),
/// and the plan's pointers are valid for their lengths.
#[inline(always)]
unsafe fn item_plain<R: Rule, T: Float, S: Store<T>, const N: usize>(
    plan: &Plan<'_, R::Coeffs<T>, T>,
    k: usize,
) {
    let segs = &plan.segs[plan.items[k]..plan.items[k + 1]];
    for (i, seg) in segs.iter().enumerate() {
        if let Some(next) = segs.get(i + 1) {
            prefetch_seg::<T, S, N>(next);
        }
        // SAFETY: the segment views `len` valid elements of distinct buffers, not
        // accessed by anyone else during this call (the caller's contract).
        let (p, g, s) = unsafe {
            (
                std::slice::from_raw_parts_mut(seg.p, seg.len),
                std::slice::from_raw_parts(seg.g, seg.len),
                std::array::from_fn::<_, N, _>(|j| {
                    std::slice::from_raw_parts_mut(seg.s[j].cast::<S>(), seg.len)
                }),
            )
        };
        let c = &plan.coeffs[seg.coeff];
        if S::BLOCKWISE {
            // SAFETY: as above; the segment's codes are bytes and it starts on a block
            // boundary, so its scales are the next `blocks(len)` of the slot's.
            let (codes, scales) = unsafe {
                (
                    std::array::from_fn::<_, N, _>(|j| {
                        std::slice::from_raw_parts_mut(seg.s[j], seg.len)
                    }),
                    std::array::from_fn::<_, N, _>(|j| {
                        std::slice::from_raw_parts_mut(seg.a[j], q8::blocks(seg.len))
                    }),
                )
            };
            let codecs = std::array::from_fn(|j| plan.codecs[j]);
            if R::is_fast(c) {
                sweep_q8::<R, T, N, true>(c, p, g, codes, scales, codecs, plan.grad_scale);
            } else {
                sweep_q8::<R, T, N, false>(c, p, g, codes, scales, codecs, plan.grad_scale);
            }
            continue;
        }
        let at = (seg.seed, seg.off);
        if R::is_fast(c) {
            sweep_pair::<R, T, S, N, true>(c, p, g, s, plan.grad_scale, at);
        } else {
            sweep_pair::<R, T, S, N, false>(c, p, g, s, plan.grad_scale, at);
        }
    }
}

/// [`sweep_plain`] over the two halves of the slices in lockstep: twice the memory
/// streams per core, which keeps more cache misses in flight.
#[inline(always)]
fn sweep_pair<R: Rule, T: Float, S: Store<T>, const N: usize, const FAST: bool>(
    c: &R::Coeffs<T>,
    p: &mut [T],
    g: &[T],
    s: [&mut [S]; N],
    scale: T,
    (seed, off): (u32, usize),
) {
    // Stochastic rounding's hash needs registers of its own: paired, the loop spills.
    if p.len() < PAIR_MIN || N > 2 || S::SEEDED {
        return sweep_plain::<R, T, S, N, FAST>(c, p, g, s, scale, (seed, off));
    }
    let c = *c;
    let n = p.len();
    let h = n / 2;
    let (p0, p1) = p.split_at_mut(h);
    let (g0, g1) = g[..n].split_at(h);
    let mut halves = s.map(|x| {
        let (a, b) = x[..n].split_at_mut(h);
        (Some(a), Some(b))
    });
    let mut s0: [&mut [S]; N] = std::array::from_fn(|k| halves[k].0.take().expect("split"));
    let s1: [&mut [S]; N] = std::array::from_fn(|k| halves[k].1.take().expect("split"));
    let g0 = &g0[..h];
    for sk in s0.iter_mut() {
        *sk = &mut std::mem::take(sk)[..h];
    }
    for i in 0..h {
        let mut st0 = [T::zero(); N];
        let mut st1 = [T::zero(); N];
        for k in 0..N {
            st0[k] = s0[k][i].load();
            st1[k] = s1[k][i].load();
        }
        update::<R, T, FAST>(&c, &mut p0[i], g0[i] * scale, &mut st0);
        update::<R, T, FAST>(&c, &mut p1[i], g1[i] * scale, &mut st1);
        for k in 0..N {
            s0[k][i] = S::store(st0[k], noise::<T, S>(seed, off + i, k));
            s1[k][i] = S::store(st1[k], noise::<T, S>(seed, off + h + i, k));
        }
    }
    if n % 2 == 1 {
        let mut st = [T::zero(); N];
        for k in 0..N {
            st[k] = s1[k][h].load();
        }
        update::<R, T, FAST>(&c, &mut p1[h], g1[h] * scale, &mut st);
        for k in 0..N {
            s1[k][h] = S::store(st[k], noise::<T, S>(seed, off + 2 * h, k));
        }
    }
}

/// The random bits for storing element `i` of slot `k`: none unless the storage
/// rounds stochastically.
#[inline(always)]
fn noise<T: Float, S: Store<T>>(seed: u32, i: usize, k: usize) -> u32 {
    if S::SEEDED {
        state_dtype::noise(seed, i, k)
    } else {
        0
    }
}

/// One element: [`Rule::update_fast`] when the segment's coefficients are the rule's
/// fast configuration (`FAST`), else [`Rule::update`].
#[inline(always)]
fn update<R: Rule, T: Float, const FAST: bool>(c: &R::Coeffs<T>, p: &mut T, g: T, s: &mut [T]) {
    if FAST {
        R::update_fast(c, p, g, s)
    } else {
        R::update(c, p, g, s)
    }
}

/// The 8-bit loop, block by block: decode each slot's block into a local buffer,
/// update the elements exactly as with full state (for `f32`, taking the new block's
/// absmax on the way), then quantize the new block. Inlined into each instruction-set
/// variant.
#[inline(always)]
fn sweep_q8<R: Rule, T: Float, const N: usize, const FAST: bool>(
    c: &R::Coeffs<T>,
    p: &mut [T],
    g: &[T],
    codes: [&mut [u8]; N],
    scales: [&mut [f32]; N],
    codecs: [&Codec; N],
    scale: T,
) {
    let c = *c;
    let n = p.len();
    let g = &g[..n];
    let mut buf = [[T::zero(); q8::BLOCK]; N];
    for (b, start) in (0..n).step_by(q8::BLOCK).enumerate() {
        let len = q8::BLOCK.min(n - start);
        let (p, g) = (&mut p[start..start + len], &g[start..start + len]);
        for k in 0..N {
            codecs[k].decode_block(
                &codes[k][start..start + len],
                scales[k][b],
                &mut buf[k][..len],
            );
        }
        // For f32 state, each block's absmax is carried along by the update loop (an
        // integer maximum of the sign-cleared bits, see `Codec::scale_of_bits`), which
        // saves the encoder a pass over the block.
        let carried = T::DTYPE == DType::F32;
        let mut amax = [0u32; N];
        for i in 0..len {
            let mut st = [T::zero(); N];
            for k in 0..N {
                st[k] = buf[k][i];
            }
            update::<R, T, FAST>(&c, &mut p[i], g[i] * scale, &mut st);
            for k in 0..N {
                buf[k][i] = st[k];
                if carried {
                    // Exact for f32 (the round trip through f64 compiles to nothing).
                    amax[k] = amax[k].max((st[k].f64() as f32).to_bits() & 0x7FFF_FFFF);
                }
            }
        }
        for k in 0..N {
            let (v, out) = (&mut buf[k][..len], &mut codes[k][start..start + len]);
            scales[k][b] = if carried {
                let stored = Codec::scale_of_bits(amax[k]);
                codecs[k].encode_scaled_fast(v, stored, out);
                stored
            } else {
                codecs[k].encode_block_fast(v, out)
            };
        }
    }
}

/// The per-element loop; inlined into each instruction-set variant.
#[inline(always)]
fn sweep_plain<R: Rule, T: Float, S: Store<T>, const N: usize, const FAST: bool>(
    c: &R::Coeffs<T>,
    p: &mut [T],
    g: &[T],
    mut s: [&mut [S]; N],
    scale: T,
    (seed, off): (u32, usize),
) {
    // A local copy: the coefficients (and the flags among them) are visibly loop
    // invariant, so the compiler can hoist and unswitch on them.
    let c = *c;
    let n = p.len();
    let g = &g[..n];
    for sk in s.iter_mut() {
        *sk = &mut std::mem::take(sk)[..n];
    }
    for i in 0..n {
        let mut st = [T::zero(); N];
        for k in 0..N {
            st[k] = s[k][i].load();
        }
        update::<R, T, FAST>(&c, &mut p[i], g[i] * scale, &mut st);
        for k in 0..N {
            s[k][i] = S::store(st[k], noise::<T, S>(seed, off + i, k));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::optim::adam::{AdamConfig, AdamWConfig, AdamWPreset};
    use crate::optim::preset::PresetOf;
    use crate::optim::sgd::SgdConfig;
    use crate::optim::test_support::values;
    use crate::optim::{
        AdadeltaConfig, AdagradConfig, AdamaxConfig, AsgdConfig, Elementwise, LionConfig,
        NAdamConfig, Optimizer, Param, RAdamConfig, RMSpropConfig, RpropConfig,
    };

    /// Steps run by [`check_rule`]: enough for RAdam to reach its rectified (fast)
    /// steps (ρ_t > 5 from step 6 with the default β2).
    const STEPS: u64 = 8;

    /// The plain reference: one tensor, element by element, no kernel involved.
    fn reference<R: Rule, T: Float>(rule: &R, x0: &[T], grads: &[Vec<T>]) -> (Vec<T>, Vec<Vec<T>>) {
        let n = x0.len();
        let nslots = rule.slot_names().len();
        let mut x = x0.to_vec();
        let mut slots: Vec<Vec<T>> = (0..nslots)
            .map(|k| vec![T::of(rule.slot_init(k)); n])
            .collect();
        let mut scalars = rule.scalar_init();
        for (step, g) in grads.iter().enumerate() {
            let c = rule.coeffs::<T>(step as u64 + 1, &mut scalars);
            for i in 0..n {
                let mut st: Vec<T> = slots.iter().map(|s| s[i]).collect();
                R::update(&c, &mut x[i], g[i], &mut st);
                for (s, v) in slots.iter_mut().zip(st) {
                    s[i] = v;
                }
            }
        }
        (x, slots)
    }

    /// The engine (kernel dispatch, parallel items) with `tensors` equal tensors.
    fn engine<R: Rule, T: Float>(
        rule: &R,
        x0: &[T],
        grads: &[Vec<T>],
        tensors: usize,
        threads: usize,
    ) -> (Vec<T>, Vec<Vec<T>>) {
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .build()
            .unwrap();
        pool.install(|| {
            let n = x0.len();
            let mut opt = Elementwise::<R, T>::new(rule.clone()).unwrap();
            let mut x = x0.to_vec();
            let names: Vec<String> = (0..tensors).map(|t| format!("t{t}")).collect();
            let bounds: Vec<usize> = (0..=tensors).map(|t| t * n / tensors).collect();
            for g in grads {
                let mut rest: &mut [T] = &mut x;
                let mut params = Vec::new();
                for t in 0..tensors {
                    let (a, b) = std::mem::take(&mut rest).split_at_mut(bounds[t + 1] - bounds[t]);
                    rest = b;
                    params.push(Param::new(&names[t], a, &g[bounds[t]..bounds[t + 1]]));
                }
                opt.step(&mut params).unwrap();
            }
            let nslots = rule.slot_names().len();
            let slots = (0..nslots)
                .map(|k| {
                    (0..tensors)
                        .flat_map(|t| {
                            opt.tensor_state(&names[t])
                                .map_or(Vec::new(), |s| s.slots[k].clone())
                        })
                        .collect()
                })
                .collect();
            (x, slots)
        })
    }

    fn check_rule<R: Rule, T: Float>(rule: R) {
        for n in [0, 1, 2, 7, 1000, 200_000] {
            let x0: Vec<T> = values(n, 1).into_iter().map(T::of).collect();
            let grads: Vec<Vec<T>> = (0..STEPS)
                .map(|s| values(n, 10 + s).into_iter().map(T::of).collect())
                .collect();
            let want = reference(&rule, &x0, &grads);
            for threads in [1, 2] {
                for tensors in [1, 3] {
                    let tensors = tensors.min(n.max(1));
                    let got = engine(&rule, &x0, &grads, tensors, threads);
                    let same = |a: &[T], b: &[T]| {
                        a.len() == b.len() && a.iter().zip(b).all(|(x, y)| x.to_bits_eq(y))
                    };
                    assert!(
                        same(&got.0, &want.0),
                        "{rule:?} n={n} threads={threads} tensors={tensors}: params differ"
                    );
                    if n > 0 {
                        for (g, w) in got.1.iter().zip(&want.1) {
                            assert!(
                                same(g, w),
                                "{rule:?} n={n} threads={threads}: state differs"
                            );
                        }
                    }
                }
            }
        }
    }

    /// Whether `rule`'s coefficients take the fast path at each step 1..=[`STEPS`].
    fn fast_steps<R: Rule, T: Float>(rule: &R) -> Vec<bool> {
        let mut scalars = rule.scalar_init();
        (1..=STEPS)
            .map(|t| R::is_fast(&rule.coeffs::<T>(t, &mut scalars)))
            .collect()
    }

    /// Checks that `rule` takes the fast path from step `fast_from` on (never if
    /// `None`), in `f32` and `f64`, and that the kernel matches the reference.
    fn check_paths<R: Rule>(rule: R, fast_from: Option<u64>) {
        let want: Vec<bool> = (1..=STEPS)
            .map(|t| fast_from.is_some_and(|f| t >= f))
            .collect();
        assert_eq!(fast_steps::<R, f32>(&rule), want, "{rule:?} (f32)");
        assert_eq!(fast_steps::<R, f64>(&rule), want, "{rule:?} (f64)");
        check_rule::<R, f32>(rule.clone());
        check_rule::<R, f64>(rule);
    }

    /// Bit-for-bit equality (NaN equal to itself).
    trait BitsEq {
        fn to_bits_eq(&self, other: &Self) -> bool;
    }
    impl<T: Float> BitsEq for T {
        fn to_bits_eq(&self, other: &Self) -> bool {
            let (a, b) = (self.f64(), other.f64());
            (a.is_nan() && b.is_nan()) || (a == b && a.is_sign_negative() == b.is_sign_negative())
        }
    }

    #[test]
    fn sgd_matches_the_reference_bit_for_bit() {
        // Fast: no momentum (every step); momentum with or without dampening, from the second step (the first copies
        // the gradient into the new buffer).
        for (cfg, fast_from) in [
            (SgdConfig::default(), Some(1)),
            (
                SgdConfig {
                    lr: 0.1,
                    momentum: 0.9,
                    ..Default::default()
                },
                Some(2),
            ),
            (
                SgdConfig {
                    lr: 0.1,
                    momentum: 0.9,
                    dampening: 0.3,
                    ..Default::default()
                },
                Some(2),
            ),
            (
                SgdConfig {
                    lr: 0.05,
                    momentum: 0.9,
                    nesterov: true,
                    ..Default::default()
                },
                None,
            ),
            (
                SgdConfig {
                    lr: 0.05,
                    momentum: 0.9,
                    nesterov: true,
                    weight_decay: 0.01,
                    ..Default::default()
                },
                None,
            ),
            (
                SgdConfig {
                    lr: 0.05,
                    momentum: 0.5,
                    dampening: 0.3,
                    maximize: true,
                    ..Default::default()
                },
                None,
            ),
            (
                SgdConfig {
                    lr: 0.05,
                    weight_decay: 0.01,
                    ..Default::default()
                },
                None,
            ),
        ] {
            check_paths(cfg, fast_from);
        }
    }

    #[test]
    fn adam_matches_the_reference_bit_for_bit() {
        for cfg in [
            AdamConfig::default(),
            AdamConfig {
                lr: 0.01,
                amsgrad: true,
                weight_decay: 0.1,
                ..Default::default()
            },
            AdamConfig {
                lr: 0.01,
                betas: (0.3, 0.9),
                maximize: true,
                ..Default::default()
            },
        ] {
            check_rule::<_, f32>(cfg);
            check_rule::<_, f64>(cfg);
        }
        check_rule::<_, f32>(AdamWConfig::default());
        check_rule::<_, f64>(AdamWConfig::new(AdamConfig {
            amsgrad: true,
            ..AdamWPreset::defaults()
        }));
    }

    #[test]
    fn adagrad_matches_the_reference_bit_for_bit() {
        check_paths(AdagradConfig::default(), Some(1));
        let fast = AdagradConfig {
            lr_decay: 0.1,
            initial_accumulator_value: 0.1,
            ..Default::default()
        };
        check_paths(fast, Some(1));
        check_paths(
            AdagradConfig {
                maximize: true,
                ..fast
            },
            None,
        );
        check_paths(
            AdagradConfig {
                weight_decay: 0.1,
                ..fast
            },
            None,
        );
    }

    #[test]
    fn rmsprop_matches_the_reference_bit_for_bit() {
        let d = RMSpropConfig::default();
        check_paths(d, Some(1));
        let momentum = RMSpropConfig { momentum: 0.9, ..d };
        check_paths(momentum, Some(1));
        for slow in [
            RMSpropConfig {
                centered: true,
                ..d
            },
            RMSpropConfig {
                centered: true,
                ..momentum
            },
            RMSpropConfig {
                maximize: true,
                ..momentum
            },
            RMSpropConfig {
                weight_decay: 0.1,
                ..d
            },
        ] {
            check_paths(slow, None);
        }
    }

    #[test]
    fn adadelta_matches_the_reference_bit_for_bit() {
        let d = AdadeltaConfig::default();
        check_paths(d, Some(1));
        check_paths(
            AdadeltaConfig {
                maximize: true,
                ..d
            },
            None,
        );
        check_paths(
            AdadeltaConfig {
                weight_decay: 0.1,
                ..d
            },
            None,
        );
    }

    #[test]
    fn nadam_matches_the_reference_bit_for_bit() {
        let d = NAdamConfig::default();
        check_paths(d, Some(1));
        for slow in [
            NAdamConfig {
                weight_decay: 0.1,
                ..d
            },
            NAdamConfig {
                weight_decay: 0.1,
                decoupled_weight_decay: true,
                ..d
            },
            NAdamConfig {
                maximize: true,
                ..d
            },
            NAdamConfig {
                betas: (0.3, 0.999),
                ..d
            },
        ] {
            check_paths(slow, None);
        }
    }

    #[test]
    fn radam_matches_the_reference_bit_for_bit() {
        // Steps 1 to 5 are not rectified (ρ_t ≤ 5): they take the general path.
        let d = RAdamConfig::default();
        check_paths(d, Some(6));
        for slow in [
            RAdamConfig {
                weight_decay: 0.1,
                ..d
            },
            RAdamConfig {
                weight_decay: 0.1,
                decoupled_weight_decay: true,
                ..d
            },
            RAdamConfig {
                maximize: true,
                ..d
            },
            RAdamConfig {
                betas: (0.3, 0.999),
                ..d
            },
        ] {
            check_paths(slow, None);
        }
    }

    #[test]
    fn adamax_matches_the_reference_bit_for_bit() {
        let d = AdamaxConfig::default();
        check_paths(d, Some(1));
        for slow in [
            AdamaxConfig {
                weight_decay: 0.1,
                ..d
            },
            AdamaxConfig {
                maximize: true,
                ..d
            },
            AdamaxConfig {
                betas: (0.3, 0.999),
                ..d
            },
        ] {
            check_paths(slow, None);
        }
    }

    #[test]
    fn lion_matches_the_reference_bit_for_bit() {
        let d = LionConfig {
            lr: 0.01,
            ..Default::default()
        };
        check_paths(d, Some(1));
        check_paths(
            LionConfig {
                weight_decay: 0.1,
                ..d
            },
            None,
        );
        check_paths(
            LionConfig {
                maximize: true,
                ..d
            },
            None,
        );
    }

    #[test]
    fn rprop_matches_the_reference_bit_for_bit() {
        // Fast: no maximize (every step).
        let d = RpropConfig::default();
        check_paths(d, Some(1));
        check_paths(
            RpropConfig {
                lr: 0.5,
                etas: (0.3, 1.7),
                step_sizes: (0.01, 0.8),
                ..d
            },
            Some(1),
        );
        check_paths(
            RpropConfig {
                maximize: true,
                ..d
            },
            None,
        );
    }

    #[test]
    fn asgd_matches_the_reference_bit_for_bit() {
        // Fast: no maximize, no weight decay, and ax still a copy (μ = 1): with the
        // default t0 every step; with t0 = 2, μ < 1 from step 5 on.
        let d = AsgdConfig {
            lr: 0.1,
            ..Default::default()
        };
        check_paths(d, Some(1));
        check_paths(
            AsgdConfig {
                weight_decay: 0.1,
                ..d
            },
            None,
        );
        check_paths(
            AsgdConfig {
                maximize: true,
                ..d
            },
            None,
        );
        let averaging = AsgdConfig {
            t0: 2.0,
            lambd: 0.5,
            ..d
        };
        let want = [true, true, true, true, false, false, false, false];
        assert_eq!(fast_steps::<_, f32>(&averaging), want);
        assert_eq!(fast_steps::<_, f64>(&averaging), want);
        check_rule::<_, f32>(averaging);
        check_rule::<_, f64>(averaging);
    }

    #[test]
    fn tensors_at_different_steps_get_their_own_coefficients() {
        // Consecutive tensors at the same step share one set of coefficients; a
        // tensor that joined later (step 1 next to step 3) must not.
        for spec in [
            "adam(lr=0.1)",
            "nadam(lr=0.1)",
            "radam(lr=0.1)",
            "adagrad(lr_decay=0.1)",
            "asgd(lr=0.1, lambd=0.5, t0=0)",
        ] {
            let g: Vec<f64> = values(300, 5);
            let mut together = crate::optim::build::<f64>(spec).unwrap();
            let (mut a, mut b, mut c) = (values(300, 1), values(300, 2), values(300, 3));
            for _ in 0..2 {
                together.step(&mut [Param::new("a", &mut a, &g)]).unwrap();
            }
            together
                .step(&mut [
                    Param::new("b", &mut b, &g),
                    Param::new("a", &mut a, &g),
                    Param::new("c", &mut c, &g),
                ])
                .unwrap();
            let alone = |x0: Vec<f64>, steps: usize| {
                let mut opt = crate::optim::build::<f64>(spec).unwrap();
                let mut x = x0;
                for _ in 0..steps {
                    opt.step(&mut [Param::new("x", &mut x, &g)]).unwrap();
                }
                x
            };
            assert_eq!(a, alone(values(300, 1), 3), "{spec}");
            assert_eq!(b, alone(values(300, 2), 1), "{spec}");
            assert_eq!(c, alone(values(300, 3), 1), "{spec}");
        }
    }

    #[test]
    fn the_nonfinite_scan_finds_the_first_bad_value() {
        for n in [1, 7, 1000, 4 * SCAN_BLOCK + 3, 3 * ITEM + 5] {
            let g: Vec<f32> = values(n, 3).into_iter().map(|x| x as f32).collect();
            assert_eq!(first_nonfinite(&g), None);
            for (at, bad) in [
                (0, f32::NAN),
                (n / 4, f32::INFINITY),
                (n / 2, f32::INFINITY),
                ((3 * n / 4 + 1).min(n - 1), f32::NAN),
                (n - 1, f32::NEG_INFINITY),
            ] {
                let mut h = g.clone();
                h[at] = bad;
                assert_eq!(first_nonfinite(&h), Some(at), "n={n} at={at}");
                for threads in [1, 2] {
                    let pool = rayon::ThreadPoolBuilder::new()
                        .num_threads(threads)
                        .build()
                        .unwrap();
                    let mut x = vec![0.0f32; n];
                    let mut y = vec![0.0f32; 5];
                    let found = pool.install(|| {
                        first_nonfinite_in(&[
                            Param::new("y", &mut y, &[1.0; 5]),
                            Param::new("x", &mut x, &h),
                        ])
                    });
                    assert_eq!(found, Some((1, at)));
                }
            }
        }
    }

    #[test]
    fn a_nonfinite_gradient_in_a_large_step_changes_nothing() {
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(2)
            .build()
            .unwrap();
        pool.install(|| {
            let mut opt = crate::optim::build::<f32>("adam(lr=0.1)").unwrap();
            let n = 3 * ITEM + 11;
            let mut x = vec![1.0f32; n];
            let mut g = vec![0.5f32; n];
            opt.step(&mut [Param::new("x", &mut x, &g)]).unwrap();
            let (x1, s1) = (x.clone(), opt.state());
            g[n - 2] = f32::NAN;
            assert!(opt.step(&mut [Param::new("x", &mut x, &g)]).is_err());
            assert_eq!(x, x1);
            assert_eq!(opt.state(), s1);
        });
    }
}
