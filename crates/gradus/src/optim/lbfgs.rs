//! L-BFGS: a limited-memory quasi-Newton method (torch.optim.LBFGS).
//!
//! # Update rule
//! One step (one torch `step(closure)`) runs up to `max_iter` iterations on the
//! flattened parameters `x` with gradient `g`:
//!
//! ```text
//! d = −g                                             (first iteration ever)
//! d = −H·g  by the two-loop recursion over the last history_size pairs
//!           (s_i = t_i·d_i, y_i = g_{i+1} − g_i, kept when y·s > 1e-10),
//!           with H₀ = (y·s)/(y·y) of the newest pair
//! t = min(1, 1/‖g‖₁)·lr on the first iteration ever, lr afterwards
//! x ← x + t·d   (t from a strong-Wolfe line search when line_search_fn=strong_wolfe)
//! ```
//! Iterations stop early when `max|g| <= tolerance_grad`, when the directional
//! derivative `g·d > −tolerance_change`, when `max|t·d| <= tolerance_change`, when
//! the loss changes by less than `tolerance_change`, or after `max_eval` evaluations.
//! Defaults as torch: `lr=1, max_iter=20, max_eval=max_iter·5/4, tolerance_grad=1e-7,
//! tolerance_change=1e-9, history_size=100, line_search_fn=none, maximize=false`.
//!
//! # References
//! Nocedal, *Updating Quasi-Newton Matrices with Limited Storage*, Math. Comp. 1980;
//! Liu & Nocedal, *On the limited memory BFGS method for large scale optimization*,
//! Math. Prog. 1989; Nocedal & Wright, *Numerical Optimization*, 2nd ed., Alg. 7.4
//! (two-loop recursion) and Alg. 3.5–3.6 (strong-Wolfe line search with zoom).
//!
//! # Where torch differs from the papers (gradus follows torch)
//! * The memory is updated only when `y·s > 1e-10` (a curvature condition), and the
//!   first step length is scaled by `1/‖g‖₁`.
//! * Without a line search the step is the fixed `lr`, and the last iteration of a
//!   step does not re-evaluate the loss.
//! * The line search's own tolerance is torch's default `1e-9`, not the optimizer's
//!   `tolerance_change`, with `c1 = 1e-4`, `c2 = 0.9`, interpolating cubically, and
//!   it may use at most `max_eval` minus the evaluations already spent.
//! * State is global across tensors (torch registers it under the first parameter);
//!   gradus names it after the first tensor too.
//!
//! ```
//! use gradus::optim::{self, FnClosure, Param};
//! // f(x, y) = (x − 1)² + 10·(y + 2)²
//! let mut opt = optim::build::<f64>("lbfgs(line_search_fn=strong_wolfe)").unwrap();
//! let mut f = FnClosure::new(|x: &[f64], g: &mut [f64]| {
//!     g[0] = 2.0 * (x[0] - 1.0);
//!     g[1] = 20.0 * (x[1] + 2.0);
//!     (x[0] - 1.0).powi(2) + 10.0 * (x[1] + 2.0).powi(2)
//! });
//! let mut w = vec![5.0, 5.0];
//! let g = vec![0.0; 2]; // unused: L-BFGS evaluates the closure itself
//! opt.step_with(&mut [Param::new("w", &mut w, &g)], &mut f).unwrap();
//! assert!((w[0] - 1.0).abs() < 1e-6 && (w[1] + 2.0).abs() < 1e-6);
//! ```

use super::blocks::add_scaled;
use super::{
    Closure, NonFinitePolicy, Optimizer, OptimizerKind, OptimizerState, Param, StepOutcome,
    TensorState,
};
use crate::error::{Error, Result};
use crate::float::Float;
use crate::spec::Call;
use smallvec::SmallVec;

crate::choice! {
    /// The line search of [`Lbfgs`]: none (a fixed step `lr`) or torch's strong-Wolfe search.
    pub enum LineSearch { None = "none", StrongWolfe = "strong_wolfe" }
}

crate::hyperparameters! {
    /// Hyperparameters of [`Lbfgs`], with torch's names and defaults.
    #[derive(Copy)]
    pub struct LbfgsConfig("lbfgs", "limited-memory BFGS, a quasi-Newton method with an optional strong-Wolfe line search (Liu & Nocedal 1989); one step runs up to max_iter iterations") {
        /// Learning rate: the step length (scaled on the first iteration).
        lr: f64 = 1.0, NONNEG, log;
        /// Iterations per step.
        max_iter: u64 = 20, at_least(1.0);
        /// Loss evaluations per step (none: max_iter·5/4).
        max_eval: Option<u64> = None, at_least(1.0);
        /// Stop when the largest gradient element is at most this.
        tolerance_grad: f64 = 1e-7, NONNEG, log;
        /// Stop when the step or the loss changes by less than this.
        tolerance_change: f64 = 1e-9, NONNEG, log;
        /// Number of (s, y) pairs kept.
        history_size: u64 = 100, at_least(1.0);
        /// Line search: none or strong_wolfe.
        line_search_fn: LineSearch = LineSearch::None, NONE;
        /// Maximize the objective instead of minimizing it.
        maximize: bool = false, NONE;
    }
}

impl LbfgsConfig {
    /// `max_eval`, or torch's default `max_iter·5/4`.
    pub fn max_evals(&self) -> u64 {
        self.max_eval.unwrap_or(self.max_iter.saturating_mul(5) / 4)
    }
}

/// The state L-BFGS keeps between steps (torch's `state` of the first parameter).
#[derive(Debug, Clone, Default)]
struct History<T> {
    func_evals: u64,
    n_iter: u64,
    d: Vec<T>,
    t: T,
    old_dirs: Vec<Vec<T>>,
    old_stps: Vec<Vec<T>>,
    ro: Vec<T>,
    h_diag: T,
    prev_flat_grad: Vec<T>,
    prev_loss: f64,
    /// Whether an iteration has run (so `d`, `t`, `prev_*` hold values).
    started: bool,
}

/// L-BFGS: see the [module docs](self).
#[derive(Debug, Clone)]
pub struct Lbfgs<T: Float> {
    config: LbfgsConfig,
    policy: NonFinitePolicy,
    skipped: u64,
    /// The name the state is kept under (the first tensor's) and the tensors' lengths.
    layout: Vec<(String, usize)>,
    h: History<T>,
    /// Buffers reused from step to step, so that once the history is full a step
    /// allocates nothing (without a line search; with one, only the search's trial
    /// gradients beyond those recycled).
    scratch: Scratch<T>,
}

/// Reused buffers of [`Lbfgs`]: none of them is state (a checkpoint skips them).
#[derive(Debug, Clone, Default)]
struct Scratch<T> {
    /// The flat parameters of a step.
    x: Vec<T>,
    /// Parameters at the start of a line search.
    x0: Vec<T>,
    /// The current flat gradient.
    flat_grad: Vec<T>,
    /// The two-loop recursion's `al`, `q` and `r` (torch's names).
    al: Vec<T>,
    q: Vec<T>,
    r: Vec<T>,
    /// Pairs dropped from the history (or rejected by the curvature test), reused as
    /// the next `y` and `s`.
    spare: Vec<(Vec<T>, Vec<T>)>,
    /// Trial gradients of the line search, reused.
    trial_grads: Vec<Vec<T>>,
    /// The line search's bracket.
    bracket: Vec<Trial<T>>,
    /// What a failed step restores (see [`Undo`]).
    undo: Undo<T>,
}

/// How to undo a step without cloning the history: the scalars and the two
/// direction-sized buffers as they were, the pairs the step dropped from the front of
/// the history (in order) and how long the history was.
#[derive(Debug, Clone, Default)]
struct Undo<T> {
    func_evals: u64,
    n_iter: u64,
    t: T,
    h_diag: T,
    prev_loss: f64,
    started: bool,
    d: Vec<T>,
    prev_flat_grad: Vec<T>,
    len: usize,
    dropped: Vec<(Vec<T>, Vec<T>, T)>,
}

impl<T: Float> History<T> {
    /// Drops the oldest pair, keeping it in `undo` in case the step fails.
    fn drop_oldest(&mut self, undo: &mut Undo<T>) {
        let y = self.old_dirs.remove(0);
        let s = self.old_stps.remove(0);
        let ro = self.ro.remove(0);
        undo.dropped.push((y, s, ro));
    }

    /// Records what [`History::restore`] needs (no allocation once the buffers have
    /// their size).
    fn checkpoint(&self, undo: &mut Undo<T>) {
        undo.func_evals = self.func_evals;
        undo.n_iter = self.n_iter;
        undo.t = self.t;
        undo.h_diag = self.h_diag;
        undo.prev_loss = self.prev_loss;
        undo.started = self.started;
        undo.d.clone_from(&self.d);
        undo.prev_flat_grad.clone_from(&self.prev_flat_grad);
        undo.len = self.old_dirs.len();
        undo.dropped.clear();
    }

    /// Puts the history back as [`History::checkpoint`] found it.
    fn restore(&mut self, undo: &mut Undo<T>) {
        self.func_evals = undo.func_evals;
        self.n_iter = undo.n_iter;
        self.t = undo.t;
        self.h_diag = undo.h_diag;
        self.prev_loss = undo.prev_loss;
        self.started = undo.started;
        std::mem::swap(&mut self.d, &mut undo.d);
        std::mem::swap(&mut self.prev_flat_grad, &mut undo.prev_flat_grad);
        // The history is the old pairs not dropped, then the pairs pushed (some of
        // which may have been dropped again): the first `len` dropped are old ones.
        let old_dropped = undo.dropped.len().min(undo.len);
        self.old_dirs.truncate(undo.len - old_dropped);
        self.old_stps.truncate(undo.len - old_dropped);
        self.ro.truncate(undo.len - old_dropped);
        let back: Vec<_> = undo.dropped.drain(..old_dropped).collect();
        undo.dropped.clear();
        let (ys, rest): (Vec<_>, Vec<_>) = back.into_iter().map(|(y, s, r)| (y, (s, r))).unzip();
        let (ss, ros): (Vec<_>, Vec<_>) = rest.into_iter().unzip();
        self.old_dirs.splice(0..0, ys);
        self.old_stps.splice(0..0, ss);
        self.ro.splice(0..0, ros);
    }
}

/// `max |v_i|` (torch's `v.abs().max()`).
fn abs_max<T: Float>(v: &[T]) -> T {
    v.iter().fold(T::zero(), |m, x| {
        let a = x.abs();
        if a > m || a.is_nan() {
            a
        } else {
            m
        }
    })
}

fn dot<T: Float>(a: &[T], b: &[T]) -> T {
    a.iter().zip(b).fold(T::zero(), |s, (x, y)| s + *x * *y)
}

/// Python's `max(a, b)` (the first unless the second is larger).
fn pymax(a: f64, b: f64) -> f64 {
    if b > a {
        b
    } else {
        a
    }
}

/// Python's `min(a, b)` (the first unless the second is smaller).
fn pymin(a: f64, b: f64) -> f64 {
    if b < a {
        b
    } else {
        a
    }
}

/// The minimizer of the cubic through two points with values and slopes, clamped to
/// `bounds` (torch's `_cubic_interpolate`).
fn cubic_interpolate(
    (x1, f1, g1): (f64, f64, f64),
    (x2, f2, g2): (f64, f64, f64),
    bounds: Option<(f64, f64)>,
) -> f64 {
    let (lo, hi) = bounds.unwrap_or(if x1 <= x2 { (x1, x2) } else { (x2, x1) });
    let d1 = g1 + g2 - 3.0 * (f1 - f2) / (x1 - x2);
    let d2_square = d1 * d1 - g1 * g2;
    if d2_square >= 0.0 {
        let d2 = d2_square.sqrt();
        let min_pos = if x1 <= x2 {
            x2 - (x2 - x1) * ((g2 + d2 - d1) / (g2 - g1 + 2.0 * d2))
        } else {
            x1 - (x1 - x2) * ((g1 + d2 - d1) / (g1 - g2 + 2.0 * d2))
        };
        pymin(pymax(min_pos, lo), hi)
    } else {
        (lo + hi) / 2.0
    }
}

/// One trial point of a line search: step, loss, gradient, directional derivative.
#[derive(Debug, Clone)]
struct Trial<T> {
    t: f64,
    f: f64,
    g: Vec<T>,
    gtd: f64,
}

impl<T: Float> Lbfgs<T> {
    /// An L-BFGS optimizer with a validated config.
    pub fn new(config: LbfgsConfig) -> Result<Self> {
        config.validate()?;
        Ok(Lbfgs {
            config,
            policy: NonFinitePolicy::default(),
            skipped: 0,
            layout: Vec::new(),
            h: History::default(),
            scratch: Scratch::default(),
        })
    }

    /// The config.
    pub fn config(&self) -> &LbfgsConfig {
        &self.config
    }

    /// Loss evaluations so far (torch's `state["func_evals"]`).
    pub fn func_evals(&self) -> u64 {
        self.h.func_evals
    }

    /// Iterations so far (torch's `state["n_iter"]`).
    pub fn iterations(&self) -> u64 {
        self.h.n_iter
    }

    /// Evaluates the closure at `x` (flat), returning the loss and the flat gradient,
    /// both negated under `maximize` (torch's `_gather_flat_grad`).
    fn evaluate(&self, closure: &mut dyn Closure<T>, x: &[T], grad: &mut [T]) -> Result<f64> {
        // The tensors' views; on the stack for up to 8 tensors.
        let mut values: SmallVec<[&[T]; 8]> = SmallVec::with_capacity(self.layout.len());
        let mut grads: SmallVec<[&mut [T]; 8]> = SmallVec::with_capacity(self.layout.len());
        let (mut xs, mut gs) = (x, &mut *grad);
        for (_, n) in &self.layout {
            let (a, b) = xs.split_at(*n);
            values.push(a);
            xs = b;
            let (c, d) = std::mem::take(&mut gs).split_at_mut(*n);
            grads.push(c);
            gs = d;
        }
        let loss = closure.evaluate(&values, &mut grads)?;
        drop(grads);
        if self.config.maximize {
            for g in grad.iter_mut() {
                *g = -*g;
            }
            Ok(-loss)
        } else {
            Ok(loss)
        }
    }

    /// `f(x0 + t·d)` and its gradient (torch's `_directional_evaluate`), the gradient
    /// in a buffer from `pool`.
    #[allow(clippy::too_many_arguments)]
    fn directional(
        &self,
        closure: &mut dyn Closure<T>,
        x: &mut [T],
        x0: &[T],
        t: f64,
        d: &[T],
        pool: &mut Vec<Vec<T>>,
    ) -> Result<Trial<T>> {
        let tt = T::of(t);
        for ((xi, x0), di) in x.iter_mut().zip(x0).zip(d) {
            *xi = add_scaled(*x0, tt, *di);
        }
        let mut g = pool.pop().unwrap_or_default();
        g.clear();
        g.resize(x.len(), T::zero());
        let f = match self.evaluate(closure, x, &mut g) {
            Ok(f) => f,
            Err(e) => {
                pool.push(g);
                return Err(e);
            }
        };
        let gtd = dot(&g, d).f64();
        Ok(Trial { t, f, g, gtd })
    }

    /// torch's `_strong_wolfe` from `sc.x0` along `d`, with loss `f`, gradient `g` and
    /// directional derivative `gtd` at `x0`. Returns the accepted trial and the number
    /// of evaluations; leaves `x` at `x0 + t·d` of the last evaluation. Gradient buffers
    /// come from and go back to `sc.trial_grads`.
    #[allow(clippy::too_many_arguments)]
    fn strong_wolfe(
        &self,
        closure: &mut dyn Closure<T>,
        x: &mut [T],
        d: &[T],
        start: Trial<T>,
        t: f64,
        max_ls: u64,
        sc: &mut Scratch<T>,
    ) -> Result<(Trial<T>, u64)> {
        const C1: f64 = 1e-4;
        const C2: f64 = 0.9;
        const TOLERANCE_CHANGE: f64 = 1e-9;
        /// How the bracketing phase ends.
        enum Phase<T> {
            /// A bracket of two trials was found.
            Pair(Trial<T>, Trial<T>),
            /// A trial satisfies the strong-Wolfe conditions (the second; the first is
            /// the previous trial, whose buffer is recycled).
            Done(Trial<T>, Trial<T>),
            /// The evaluations ran out: the previous and the last trial.
            Exhausted(Trial<T>, Trial<T>),
        }
        let pool = &mut sc.trial_grads;
        let x0 = &sc.x0;
        let (f, gtd) = (start.f, start.gtd);
        let d_norm = abs_max(d).f64();
        let mut new = self.directional(closure, x, x0, t, d, pool)?;
        let mut evals = 1u64;
        let mut prev_g = pool.pop().unwrap_or_default();
        prev_g.clone_from(&start.g);
        let mut prev = Trial {
            t: 0.0,
            f: start.f,
            g: prev_g,
            gtd: start.gtd,
        };
        let mut ls_iter = 0u64;
        let phase = loop {
            if ls_iter >= max_ls {
                break Phase::Exhausted(prev, new);
            }
            if new.f > f + C1 * new.t * gtd || (ls_iter > 1 && new.f >= prev.f) {
                break Phase::Pair(prev, new);
            }
            if new.gtd.abs() <= -C2 * gtd {
                break Phase::Done(prev, new);
            }
            if new.gtd >= 0.0 {
                break Phase::Pair(prev, new);
            }
            let min_step = new.t + 0.01 * (new.t - prev.t);
            let max_step = new.t * 10.0;
            let t = cubic_interpolate(
                (prev.t, prev.f, prev.gtd),
                (new.t, new.f, new.gtd),
                Some((min_step, max_step)),
            );
            let next = self.directional(closure, x, x0, t, d, pool)?;
            pool.push(std::mem::replace(&mut prev, std::mem::replace(&mut new, next)).g);
            evals += 1;
            ls_iter += 1;
        };
        let mut bracket = std::mem::take(&mut sc.bracket);
        bracket.clear();
        let mut done = false;
        match phase {
            Phase::Pair(a, b) => {
                bracket.extend([a, b]);
                pool.push(start.g);
            }
            Phase::Done(prev, a) => {
                bracket.push(a);
                done = true;
                pool.push(start.g);
                pool.push(prev.g);
            }
            Phase::Exhausted(prev, new) => {
                bracket.extend([Trial { t: 0.0, ..start }, new]);
                pool.push(prev.g);
            }
        }
        let (mut low, mut high) = if bracket[0].f <= bracket[bracket.len() - 1].f {
            (0, 1)
        } else {
            (1, 0)
        };
        let mut insuf_progress = false;
        let mut failure = None;
        while !done && ls_iter < max_ls {
            let (b0, b1) = (bracket[0].t, bracket[1].t);
            if (b1 - b0).abs() * d_norm < TOLERANCE_CHANGE {
                break;
            }
            let mut t = cubic_interpolate(
                (b0, bracket[0].f, bracket[0].gtd),
                (b1, bracket[1].f, bracket[1].gtd),
                None,
            );
            let (bmax, bmin) = (pymax(b0, b1), pymin(b0, b1));
            let eps = 0.1 * (bmax - bmin);
            if pymin(bmax - t, t - bmin) < eps {
                if insuf_progress || t >= bmax || t <= bmin {
                    t = if (t - bmax).abs() < (t - bmin).abs() {
                        bmax - eps
                    } else {
                        bmin + eps
                    };
                    insuf_progress = false;
                } else {
                    insuf_progress = true;
                }
            } else {
                insuf_progress = false;
            }
            let new = match self.directional(closure, x, x0, t, d, pool) {
                Ok(new) => new,
                Err(e) => {
                    failure = Some(e);
                    break;
                }
            };
            evals += 1;
            ls_iter += 1;
            if new.f > f + C1 * new.t * gtd || new.f >= bracket[low].f {
                pool.push(std::mem::replace(&mut bracket[high], new).g);
                (low, high) = if bracket[0].f <= bracket[1].f {
                    (0, 1)
                } else {
                    (1, 0)
                };
            } else {
                if new.gtd.abs() <= -C2 * gtd {
                    done = true;
                } else if new.gtd * (bracket[high].t - bracket[low].t) >= 0.0 {
                    // bracket[high] = bracket[low], in high's buffer.
                    let (l, h) = if low < high {
                        let (a, b) = bracket.split_at_mut(high);
                        (&a[low], &mut b[0])
                    } else {
                        let (a, b) = bracket.split_at_mut(low);
                        (&b[0], &mut a[high])
                    };
                    h.t = l.t;
                    h.f = l.f;
                    h.gtd = l.gtd;
                    h.g.clone_from(&l.g);
                }
                pool.push(std::mem::replace(&mut bracket[low], new).g);
            }
        }
        let best = bracket.swap_remove(low);
        pool.extend(bracket.drain(..).map(|t| t.g));
        sc.bracket = bracket;
        match failure {
            Some(e) => {
                sc.trial_grads.push(best.g);
                Err(e)
            }
            None => Ok((best, evals)),
        }
    }

    /// One torch `step(closure)` on the flat parameters `x`; the history is restored
    /// from `sc.undo` by the caller if it fails.
    fn run(
        &mut self,
        closure: &mut dyn Closure<T>,
        x: &mut [T],
        sc: &mut Scratch<T>,
    ) -> Result<()> {
        let c = self.config;
        let (lr, max_iter, max_eval) = (c.lr, c.max_iter, c.max_evals());
        let n = x.len();
        let mut flat_grad = std::mem::take(&mut sc.flat_grad);
        flat_grad.clear();
        flat_grad.resize(n, T::zero());
        let result = self.iterate(closure, x, sc, &mut flat_grad, (lr, max_iter, max_eval));
        sc.flat_grad = flat_grad;
        result
    }

    /// The body of [`Lbfgs::run`] (torch's loop), with the flat gradient buffer.
    fn iterate(
        &mut self,
        closure: &mut dyn Closure<T>,
        x: &mut [T],
        sc: &mut Scratch<T>,
        flat_grad: &mut Vec<T>,
        (lr, max_iter, max_eval): (f64, u64, u64),
    ) -> Result<()> {
        let c = self.config;
        let mut loss = self.evaluate(closure, x, flat_grad)?;
        let mut current_evals = 1u64;
        self.h.func_evals += 1;
        if abs_max(flat_grad).f64() <= c.tolerance_grad {
            return Ok(());
        }
        let hs = c.history_size as usize;
        let mut n_iter = 0u64;
        while n_iter < max_iter {
            n_iter += 1;
            self.h.n_iter += 1;
            let h = &mut self.h;
            if h.n_iter == 1 {
                h.d.clear();
                h.d.extend(flat_grad.iter().map(|g| -*g));
                while !h.old_dirs.is_empty() {
                    h.drop_oldest(&mut sc.undo);
                }
                h.h_diag = T::one();
            } else {
                let (mut y, mut s) = sc.spare.pop().unwrap_or_default();
                y.clear();
                y.extend(
                    flat_grad
                        .iter()
                        .zip(&h.prev_flat_grad)
                        .map(|(a, b)| *a - *b),
                );
                s.clear();
                s.extend(h.d.iter().map(|di| *di * h.t));
                let ys = dot(&y, &s);
                if ys.f64() > 1e-10 {
                    if h.old_dirs.len() == hs {
                        h.drop_oldest(&mut sc.undo);
                    }
                    let yy = dot(&y, &y);
                    h.old_dirs.push(y);
                    h.old_stps.push(s);
                    h.ro.push(T::one() / ys);
                    h.h_diag = ys / yy;
                } else {
                    sc.spare.push((y, s));
                }
                let num_old = h.old_dirs.len();
                sc.al.resize(hs, T::zero());
                let q = &mut sc.q;
                q.clear();
                q.extend(flat_grad.iter().map(|g| -*g));
                for i in (0..num_old).rev() {
                    let a = dot(&h.old_stps[i], q) * h.ro[i];
                    sc.al[i] = a;
                    for (qj, yj) in q.iter_mut().zip(&h.old_dirs[i]) {
                        *qj = add_scaled(*qj, -a, *yj);
                    }
                }
                let r = &mut sc.r;
                r.clear();
                r.extend(q.iter().map(|qj| *qj * h.h_diag));
                for i in 0..num_old {
                    let be_i = dot(&h.old_dirs[i], r) * h.ro[i];
                    let alpha = sc.al[i] - be_i;
                    for (rj, sj) in r.iter_mut().zip(&h.old_stps[i]) {
                        *rj = add_scaled(*rj, alpha, *sj);
                    }
                }
                // d = r; the old d's buffer becomes the next r.
                std::mem::swap(&mut h.d, r);
            }
            h.prev_flat_grad.clone_from(flat_grad);
            h.prev_loss = loss;
            h.started = true;
            // torch: t = min(1., 1. / |g|_1) * lr on the first iteration ever.
            let t = if h.n_iter == 1 {
                let inv = T::one() / flat_grad.iter().fold(T::zero(), |s, g| s + g.abs());
                let m = if inv < T::one() { inv } else { T::one() };
                (m * T::of(lr)).f64()
            } else {
                lr
            };
            let gtd = dot(flat_grad, &h.d).f64();
            if gtd > -c.tolerance_change {
                h.t = T::of(t);
                break;
            }
            let d = std::mem::take(&mut h.d);
            let ls_func_evals;
            let opt_cond;
            let t = if c.line_search_fn == LineSearch::StrongWolfe {
                sc.x0.clear();
                sc.x0.extend_from_slice(x);
                let mut g0 = sc.trial_grads.pop().unwrap_or_default();
                g0.clone_from(flat_grad);
                let start = Trial {
                    t: 0.0,
                    f: loss,
                    g: g0,
                    gtd,
                };
                let max_ls = max_eval.saturating_sub(current_evals);
                let searched = self.strong_wolfe(closure, x, &d, start, t, max_ls, sc);
                let (best, evals) = match searched {
                    Ok(found) => found,
                    Err(e) => {
                        self.h.d = d;
                        return Err(e);
                    }
                };
                ls_func_evals = evals;
                let tt = T::of(best.t);
                for ((xi, x0), di) in x.iter_mut().zip(&sc.x0).zip(&d) {
                    *xi = add_scaled(*x0, tt, *di);
                }
                loss = best.f;
                sc.trial_grads.push(std::mem::replace(flat_grad, best.g));
                opt_cond = abs_max(flat_grad).f64() <= c.tolerance_grad;
                best.t
            } else {
                let tt = T::of(t);
                for (xi, di) in x.iter_mut().zip(&d) {
                    *xi = add_scaled(*xi, tt, *di);
                }
                if n_iter != max_iter {
                    loss = match self.evaluate(closure, x, flat_grad) {
                        Ok(loss) => loss,
                        Err(e) => {
                            self.h.d = d;
                            return Err(e);
                        }
                    };
                    opt_cond = abs_max(flat_grad).f64() <= c.tolerance_grad;
                    ls_func_evals = 1;
                } else {
                    opt_cond = false;
                    ls_func_evals = 0;
                }
                t
            };
            let h = &mut self.h;
            h.d = d;
            h.t = T::of(t);
            current_evals += ls_func_evals;
            h.func_evals += ls_func_evals;
            if n_iter == max_iter || current_evals >= max_eval || opt_cond {
                break;
            }
            // max |t·d|, without a buffer for t·d.
            let step_max = h.d.iter().fold(T::zero(), |m, di| {
                let a = (*di * h.t).abs();
                if a > m || a.is_nan() {
                    a
                } else {
                    m
                }
            });
            if step_max.f64() <= c.tolerance_change {
                break;
            }
            if (loss - h.prev_loss).abs() < c.tolerance_change {
                break;
            }
        }
        Ok(())
    }

    /// The state's name: the first tensor's, as torch keeps it under the first parameter.
    fn state_name(&self) -> String {
        self.layout
            .first()
            .map_or_else(|| "lbfgs".to_string(), |(n, _)| n.clone())
    }
}

/// The slots of the saved state: the global entry holds `d` and `prev_flat_grad`;
/// entry `history/i` holds the pair `y_i` (`old_dirs`) and `s_i` (`old_stps`).
const SLOTS: [&str; 2] = ["a", "b"];

impl<T: Float> Optimizer<T> for Lbfgs<T> {
    fn name(&self) -> &'static str {
        "lbfgs"
    }

    fn kind(&self) -> OptimizerKind {
        OptimizerKind::Closure
    }

    fn spec(&self) -> Call {
        self.config.to_call()
    }

    fn step(&mut self, _params: &mut [Param<'_, T>]) -> Result<StepOutcome> {
        Err(Error::Unsupported(
            "lbfgs re-evaluates the loss: step it with step_with and a Closure".into(),
        ))
    }

    fn step_with(
        &mut self,
        params: &mut [Param<'_, T>],
        closure: &mut dyn Closure<T>,
    ) -> Result<StepOutcome> {
        for p in params.iter() {
            p.check_shape()?;
        }
        let same_layout = self.layout.len() == params.len()
            && self
                .layout
                .iter()
                .zip(params.iter())
                .all(|((n, l), p)| n == p.name && *l == p.value.len());
        if !same_layout {
            let layout: Vec<(String, usize)> = params
                .iter()
                .map(|p| (p.name.to_string(), p.value.len()))
                .collect();
            let total = |l: &[(String, usize)]| l.iter().map(|(_, n)| n).sum::<usize>();
            // A loaded state knows only the total length and the first tensor's name.
            if self.h.started
                && (total(&layout) != total(&self.layout)
                    || layout.first().map(|(n, _)| n) != self.layout.first().map(|(n, _)| n))
            {
                return Err(Error::StateMismatch(format!(
                    "lbfgs keeps one state for all tensors; they were [{}] and are now [{}]",
                    self.layout
                        .iter()
                        .map(|(n, l)| format!("{n}: {l}"))
                        .collect::<Vec<_>>()
                        .join(", "),
                    layout
                        .iter()
                        .map(|(n, l)| format!("{n}: {l}"))
                        .collect::<Vec<_>>()
                        .join(", ")
                )));
            }
            self.layout = layout;
        }
        let mut sc = std::mem::take(&mut self.scratch);
        let mut x = std::mem::take(&mut sc.x);
        x.clear();
        x.extend(params.iter().flat_map(|p| p.value.iter().copied()));
        self.h.checkpoint(&mut sc.undo);
        let evals = self.h.func_evals;
        let result = self.run(closure, &mut x, &mut sc);
        let finite = x.iter().all(|v| v.is_finite());
        let outcome = match result {
            Err(e) => Err(e),
            Ok(()) if self.policy != NonFinitePolicy::Propagate && !finite => {
                let step = self.h.n_iter;
                if self.policy == NonFinitePolicy::Skip {
                    self.skipped += 1;
                    Ok(StepOutcome::Skipped)
                } else {
                    Err(Error::NonFiniteGradient {
                        name: self.state_name(),
                        index: 0,
                        step,
                    })
                }
            }
            Ok(()) => Ok(StepOutcome::Applied),
        };
        if outcome.as_ref().is_ok_and(|o| *o == StepOutcome::Applied) {
            // The pairs this step dropped are buffers for the next ones.
            sc.spare
                .extend(sc.undo.dropped.drain(..).map(|(y, s, _)| (y, s)));
            let mut k = 0;
            for p in params.iter_mut() {
                let n = p.value.len();
                p.value.copy_from_slice(&x[k..k + n]);
                k += n;
            }
        } else {
            self.h.restore(&mut sc.undo);
        }
        sc.x = x;
        self.scratch = sc;
        debug_assert!(outcome.is_err() || self.h.func_evals >= evals);
        outcome
    }

    fn lr(&self) -> f64 {
        self.config.lr
    }

    fn set_lr(&mut self, lr: f64) -> Result<()> {
        super::check_nonneg("lbfgs", "lr", lr)?;
        self.config.lr = lr;
        Ok(())
    }

    fn nonfinite_policy(&self) -> NonFinitePolicy {
        self.policy
    }

    fn set_nonfinite_policy(&mut self, policy: NonFinitePolicy) {
        self.policy = policy;
    }

    fn skipped_steps(&self) -> u64 {
        self.skipped
    }

    fn state(&self) -> OptimizerState<T> {
        let h = &self.h;
        let mut tensors = Vec::new();
        if h.started {
            tensors.push(TensorState {
                name: self.state_name(),
                step: h.n_iter,
                slots: vec![h.d.clone(), h.prev_flat_grad.clone()],
                scalars: vec![
                    h.func_evals as f64,
                    h.t.f64(),
                    h.h_diag.f64(),
                    h.prev_loss,
                    self.layout.len() as f64,
                ],
                ..Default::default()
            });
            for (i, ((y, s), ro)) in h.old_dirs.iter().zip(&h.old_stps).zip(&h.ro).enumerate() {
                tensors.push(TensorState {
                    name: format!("history/{i}"),
                    step: 0,
                    slots: vec![y.clone(), s.clone()],
                    scalars: vec![ro.f64()],
                    ..Default::default()
                });
            }
        }
        OptimizerState {
            algorithm: "lbfgs".into(),
            spec: self.config.to_call().to_string(),
            slot_names: SLOTS.iter().map(|s| s.to_string()).collect(),
            nonfinite: self.policy,
            skipped: self.skipped,
            tensors,
            ..Default::default()
        }
    }

    fn load_state(&mut self, state: OptimizerState<T>) -> Result<()> {
        let bad = |m: String| Err(Error::StateMismatch(m));
        if state.algorithm != "lbfgs" {
            return bad(format!(
                "state is for '{}' but the optimizer is 'lbfgs'",
                state.algorithm
            ));
        }
        let config = LbfgsConfig::from_call(&crate::spec::parse(&state.spec)?)?;
        let mut h = History::default();
        let mut layout_name = None;
        if let Some((first, rest)) = state.tensors.split_first() {
            if first.slots.len() != 2 || first.scalars.len() != 5 {
                return bad("lbfgs state: the global entry needs 2 buffers and 5 scalars".into());
            }
            let n = first.slots[0].len();
            h.n_iter = first.step;
            h.d = first.slots[0].clone();
            h.prev_flat_grad = first.slots[1].clone();
            h.func_evals = first.scalars[0] as u64;
            h.t = T::of(first.scalars[1]);
            h.h_diag = T::of(first.scalars[2]);
            h.prev_loss = first.scalars[3];
            h.started = true;
            for (i, t) in rest.iter().enumerate() {
                if t.name != format!("history/{i}")
                    || t.slots.len() != 2
                    || t.slots.iter().any(|s| s.len() != n)
                    || t.scalars.len() != 1
                {
                    return bad(format!(
                        "lbfgs state: entry '{}' is not history pair {i} of length {n}",
                        t.name
                    ));
                }
                h.old_dirs.push(t.slots[0].clone());
                h.old_stps.push(t.slots[1].clone());
                h.ro.push(T::of(t.scalars[0]));
            }
            if h.prev_flat_grad.len() != n || h.old_dirs.len() > config.history_size as usize {
                return bad("lbfgs state: buffers of different lengths or too much history".into());
            }
            layout_name = Some((first.name.clone(), n));
        }
        self.config = config;
        self.policy = state.nonfinite;
        self.skipped = state.skipped;
        self.h = h;
        // The tensors' split is known again at the next step; only the total is checked.
        self.layout = layout_name
            .map(|(n, len)| vec![(n, len)])
            .unwrap_or_default();
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::optim::FnClosure;

    fn rosenbrock(x: &[f64], g: &mut [f64]) -> f64 {
        let (a, b) = (x[0], x[1]);
        g[0] = -2.0 * (1.0 - a) - 400.0 * a * (b - a * a);
        g[1] = 200.0 * (b - a * a);
        (1.0 - a).powi(2) + 100.0 * (b - a * a).powi(2)
    }

    fn steps(spec: &str, n: usize) -> (Vec<f64>, Lbfgs<f64>) {
        let mut opt =
            Lbfgs::<f64>::new(LbfgsConfig::from_call(&crate::spec::parse(spec).unwrap()).unwrap())
                .unwrap();
        let mut x = vec![-1.5, 2.0];
        let g = vec![0.0; 2];
        let mut f = FnClosure::new(rosenbrock);
        for _ in 0..n {
            opt.step_with(&mut [Param::new("x", &mut x, &g)], &mut f)
                .unwrap();
        }
        (x, opt)
    }

    #[test]
    fn strong_wolfe_solves_rosenbrock() {
        let (x, opt) = steps("lbfgs(line_search_fn=strong_wolfe)", 5);
        assert!(
            (x[0] - 1.0).abs() < 1e-5 && (x[1] - 1.0).abs() < 1e-5,
            "{x:?}"
        );
        assert!(opt.iterations() > 20);
    }

    #[test]
    fn evaluations_respect_max_eval() {
        let (_, opt) = steps("lbfgs(lr=0.001, max_iter=7)", 1);
        // Without a line search: one evaluation to start, one per iteration but the last.
        assert_eq!(opt.func_evals(), 7);
        assert_eq!(opt.iterations(), 7);
        let (_, opt) = steps(
            "lbfgs(max_iter=50, max_eval=9, line_search_fn=strong_wolfe)",
            1,
        );
        assert!(opt.func_evals() <= 9 + 1, "{}", opt.func_evals());
    }

    #[test]
    fn state_round_trips_bit_for_bit() {
        let spec = "lbfgs(max_iter=4, history_size=3, line_search_fn=strong_wolfe)";
        let (straight, _) = steps(spec, 4);
        let (mut x, opt) = steps(spec, 2);
        let mut again = Lbfgs::<f64>::new(LbfgsConfig::default()).unwrap();
        again.load_state(opt.state()).unwrap();
        let g = vec![0.0; 2];
        let mut f = FnClosure::new(rosenbrock);
        for _ in 0..2 {
            again
                .step_with(&mut [Param::new("x", &mut x, &g)], &mut f)
                .unwrap();
        }
        assert_eq!(x, straight);
        assert_eq!(again.state().tensors.len(), 4); // global + 3 pairs
    }

    /// A step that fails part-way (here: the closure errs on its n-th call, after the
    /// history was full and pairs were dropped) leaves the history as it was, so the
    /// next steps equal a run in which the failed step never happened.
    #[test]
    fn a_failed_step_is_undone_exactly() {
        for spec in [
            "lbfgs(max_iter=6, history_size=2)",
            "lbfgs(max_iter=6, history_size=2, line_search_fn=strong_wolfe)",
        ] {
            let (straight, reference) = steps(spec, 4);
            let (mut x, mut opt) = steps(spec, 2);
            let before = format!("{:?}", opt.state());
            let g = vec![0.0; 2];
            // Errs on its 5th call, as a closure whose data loader fails would.
            struct Failing(u32);
            impl Closure<f64> for Failing {
                fn evaluate(&mut self, values: &[&[f64]], grads: &mut [&mut [f64]]) -> Result<f64> {
                    self.0 += 1;
                    if self.0 == 5 {
                        return Err(Error::Unsupported("the closure failed".into()));
                    }
                    Ok(rosenbrock(values[0], grads[0]))
                }
            }
            let mut failing = Failing(0);
            let kept = x.clone();
            let err = opt.step_with(&mut [Param::new("x", &mut x, &g)], &mut failing);
            assert!(err.is_err(), "{spec}: {err:?}");
            assert_eq!(x, kept, "{spec}: parameters changed");
            assert_eq!(
                format!("{:?}", opt.state()),
                before,
                "{spec}: state changed"
            );
            let mut f = FnClosure::new(rosenbrock);
            for _ in 0..2 {
                opt.step_with(&mut [Param::new("x", &mut x, &g)], &mut f)
                    .unwrap();
            }
            assert_eq!(x, straight, "{spec}");
            assert_eq!(
                format!("{:?}", opt.state()),
                format!("{:?}", reference.state()),
                "{spec}"
            );
        }
    }

    #[test]
    fn plain_step_is_refused_and_config_is_validated() {
        let mut opt = Lbfgs::<f64>::new(LbfgsConfig::default()).unwrap();
        let mut x = vec![1.0];
        assert!(matches!(
            opt.step(&mut [Param::new("x", &mut x, &[0.0])]),
            Err(Error::Unsupported(_))
        ));
        for bad in [
            "lbfgs(max_iter=0)",
            "lbfgs(history_size=0)",
            "lbfgs(line_search_fn=wolfe)",
            "lbfgs(lr=-1)",
        ] {
            assert!(
                LbfgsConfig::from_call(&crate::spec::parse(bad).unwrap()).is_err(),
                "{bad}"
            );
        }
        assert_eq!(LbfgsConfig::default().max_evals(), 25);
    }
}
