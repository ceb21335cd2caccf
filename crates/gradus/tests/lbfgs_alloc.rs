//! L-BFGS allocates nothing per step once its history is full: the two-loop
//! recursion, the flat parameters and gradient, the line search's trial gradients and
//! the undo record of a step all live in buffers reused from step to step. Counted by
//! a global allocator that counts this thread's allocations (deterministic: no timing).

use gradus::optim::{FnClosure, Lbfgs, LbfgsConfig, Optimizer, Param};
use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;

struct Counting;

thread_local! {
    static ALLOCATIONS: Cell<u64> = const { Cell::new(0) };
}

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let _ = ALLOCATIONS.try_with(|c| c.set(c.get() + 1));
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        let _ = ALLOCATIONS.try_with(|c| c.set(c.get() + 1));
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

fn allocations() -> u64 {
    ALLOCATIONS.with(|c| c.get())
}

/// The extended Rosenbrock function in `x.len()` dimensions (pairs).
fn rosenbrock(x: &[f64], g: &mut [f64]) -> f64 {
    let mut f = 0.0;
    for i in (0..x.len()).step_by(2) {
        let (a, b) = (x[i], x[i + 1]);
        g[i] = -2.0 * (1.0 - a) - 400.0 * a * (b - a * a);
        g[i + 1] = 200.0 * (b - a * a);
        f += (1.0 - a) * (1.0 - a) + 100.0 * (b - a * a) * (b - a * a);
    }
    f
}

/// Allocations during `measured` steps after `warm_up` steps, the iterations those
/// steps ran, and the loss before and after them.
fn count(spec: &str, warm_up: usize, measured: usize) -> (u64, u64, f64, f64) {
    let config = LbfgsConfig::from_call(&gradus::spec::parse(spec).unwrap()).unwrap();
    let mut opt = Lbfgs::<f64>::new(config).unwrap();
    // Two tensors, so the closure sees the split.
    let mut a: Vec<f64> = (0..10)
        .map(|i| if i % 2 == 0 { -1.2 } else { 1.0 })
        .collect();
    let mut b: Vec<f64> = (0..10)
        .map(|i| if i % 2 == 0 { -0.5 } else { 2.0 })
        .collect();
    let (ga, gb) = (vec![0.0; 10], vec![0.0; 10]);
    let mut f = FnClosure::new(rosenbrock);
    let loss = |a: &[f64], b: &[f64]| {
        let x: Vec<f64> = a.iter().chain(b).copied().collect();
        rosenbrock(&x, &mut [0.0; 20])
    };
    for _ in 0..warm_up {
        let mut params = [Param::new("a", &mut a, &ga), Param::new("b", &mut b, &gb)];
        opt.step_with(&mut params, &mut f).unwrap();
    }
    let before = loss(&a, &b);
    let iterations = opt.iterations();
    let spent = {
        let mut params = [Param::new("a", &mut a, &ga), Param::new("b", &mut b, &gb)];
        let start = allocations();
        for _ in 0..measured {
            opt.step_with(&mut params, &mut f).unwrap();
        }
        allocations() - start
    };
    let ran = opt.iterations() - iterations;
    (spent, ran, before, loss(&a, &b))
}

#[test]
fn a_full_history_step_allocates_nothing() {
    // history_size 5 fills within the first step of 20 iterations.
    let (spent, ran, before, after) = count(
        "lbfgs(lr=0.5, history_size=5, tolerance_grad=0, tolerance_change=0)",
        2,
        3,
    );
    assert!(ran >= 30, "the measured steps ran {ran} iterations");
    assert!(after < before, "loss {before} -> {after}");
    assert_eq!(
        spent, 0,
        "{spent} allocations in 3 steps of {ran} iterations"
    );
}

#[test]
fn a_line_search_step_allocates_nothing_once_its_buffers_exist() {
    let (spent, ran, before, after) = count(
        "lbfgs(history_size=5, line_search_fn=strong_wolfe, tolerance_grad=0, tolerance_change=0)",
        2,
        3,
    );
    assert!(ran >= 3, "the measured steps ran {ran} iterations");
    assert!(after <= before, "loss {before} -> {after}");
    assert_eq!(
        spent, 0,
        "{spent} allocations in 3 steps of {ran} iterations"
    );
}
