//! Step time of the element-wise optimizers on f32 tensors (`cargo bench -p gradus`).
//!
//! Two shapes: 10 M parameters in one tensor (memory-bandwidth bound, split across
//! threads) and 1000 tensors of 1000 parameters (many small tensors, grouped into
//! work items). Optimizers this build does not know are skipped with a note. The
//! thread count is rayon's default (every core, or `RAYON_NUM_THREADS`).

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use gradus::optim::{build, NonFinitePolicy, Param};
use std::hint::black_box;
use std::time::Duration;

const OPTIMIZERS: &[(&str, &str)] = &[
    ("adam", "adam"),
    ("sgd-momentum", "sgd(lr=0.001, momentum=0.9)"),
    ("adagrad", "adagrad"),
    ("rmsprop", "rmsprop"),
];

const SHAPES: &[(usize, usize)] = &[(10_000_000, 1), (1000, 1000)];

/// Deterministic values in [-1, 1).
fn values(n: usize, seed: u64) -> Vec<f32> {
    let mut x = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    (0..n)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            ((x >> 11) as f64 / (1u64 << 52) as f64 - 1.0) as f32
        })
        .collect()
}

fn bench_one(c: &mut Criterion, label: &str, spec: &str, policy: NonFinitePolicy) {
    let mut group = c.benchmark_group(label);
    group
        .sample_size(10)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(4));
    for &(len, tensors) in SHAPES {
        let Ok(mut opt) = build::<f32>(spec) else {
            eprintln!("{label}: `{spec}` is not in this build, skipped");
            return;
        };
        opt.set_nonfinite_policy(policy);
        let names: Vec<String> = (0..tensors).map(|t| format!("t{t}")).collect();
        let mut xs: Vec<Vec<f32>> = (0..tensors)
            .map(|t| values(len, 2 * t as u64 + 1))
            .collect();
        let gs: Vec<Vec<f32>> = (0..tensors)
            .map(|t| values(len, 2 * t as u64 + 2))
            .collect();
        let mut params: Vec<Param<'_, f32>> = xs
            .iter_mut()
            .zip(&gs)
            .zip(&names)
            .map(|((x, g), n)| Param::new(n, x, g))
            .collect();
        group.throughput(Throughput::Elements((len * tensors) as u64));
        group.bench_function(
            BenchmarkId::from_parameter(format!("{tensors}x{len}")),
            |b| b.iter(|| black_box(opt.step(&mut params).unwrap())),
        );
    }
    group.finish();
}

fn steps(c: &mut Criterion) {
    for &(label, spec) in OPTIMIZERS {
        bench_one(c, label, spec, NonFinitePolicy::Error);
    }
    // The cost of the non-finite gradient check: the same step without it.
    bench_one(c, "adam-propagate", "adam", NonFinitePolicy::Propagate);
}

criterion_group!(benches, steps);
criterion_main!(benches);
