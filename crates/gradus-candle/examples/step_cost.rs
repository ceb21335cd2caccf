//! What updating candle variables costs: gradus's step on plain slices, the same step
//! through [`GradusOptimizer`] in place and with the copy fallback, and candle's own
//! AdamW, on a 1,000,000-parameter model (a 1000 × 1000 linear layer and its bias).
//!
//! ```text
//! cargo run --release -p gradus-candle --example step_cost [-- f64]
//! ```

use candle_core::{DType, Device, Tensor, Var};
use candle_nn::{AdamW, Optimizer, ParamsAdamW};
use gradus::optim::{NonFinitePolicy, Param};
use gradus_candle::{Clip, GradusOptimizer, UpdateMode};
use std::time::Instant;

const REPS: usize = 40;

/// Rounds of alternating plain, clipped and unchecked steps.
const PAIRS: usize = 201;

fn median(mut t: Vec<f64>) -> f64 {
    t.sort_by(f64::total_cmp);
    t[t.len() / 2]
}

fn median_ms(mut f: impl FnMut()) -> f64 {
    f(); // warm up
    let mut t: Vec<f64> = (0..REPS)
        .map(|_| {
            let s = Instant::now();
            f();
            s.elapsed().as_secs_f64() * 1e3
        })
        .collect();
    t.sort_by(f64::total_cmp);
    t[REPS / 2]
}

fn main() -> candle_core::Result<()> {
    let dtype = match std::env::args().nth(1).as_deref() {
        Some("f64") => DType::F64,
        _ => DType::F32,
    };
    let dev = Device::Cpu;
    let w = Var::randn(0f32, 0.03, (1000, 1000), &dev)?;
    let b = Var::zeros(1000, DType::F32, &dev)?;
    let (w, b) = (
        Var::from_tensor(&w.to_dtype(dtype)?)?,
        Var::from_tensor(&b.to_dtype(dtype)?)?,
    );
    let x = Tensor::randn(0f32, 1.0, (32, 1000), &dev)?.to_dtype(dtype)?;
    let loss = x.matmul(&w.t()?)?.broadcast_add(&b)?.sqr()?.mean_all()?;
    let grads = loss.backward()?;
    let n = w.elem_count() + b.elem_count();
    println!("{n} parameters, {dtype:?}, Adam, median of {REPS} steps");

    let spec = "adam(lr=1e-6)";
    let slice_ms = if dtype == DType::F32 {
        let mut pw = w.flatten_all()?.to_vec1::<f32>()?;
        let mut pb = b.to_vec1::<f32>()?;
        let gw = grads.get(&w).unwrap().flatten_all()?.to_vec1::<f32>()?;
        let gb = grads.get(&b).unwrap().to_vec1::<f32>()?;
        let mut opt = gradus::optim::build::<f32>(spec).map_err(candle_core::Error::wrap)?;
        median_ms(|| {
            opt.step(&mut [Param::new("w", &mut pw, &gw), Param::new("b", &mut pb, &gb)])
                .unwrap();
        })
    } else {
        let mut pw = w.flatten_all()?.to_vec1::<f64>()?;
        let mut pb = b.to_vec1::<f64>()?;
        let gw = grads.get(&w).unwrap().flatten_all()?.to_vec1::<f64>()?;
        let gb = grads.get(&b).unwrap().to_vec1::<f64>()?;
        let mut opt = gradus::optim::build::<f64>(spec).map_err(candle_core::Error::wrap)?;
        median_ms(|| {
            opt.step(&mut [Param::new("w", &mut pw, &gw), Param::new("b", &mut pb, &gb)])
                .unwrap();
        })
    };
    let mut inplace = GradusOptimizer::from_vars(vec![w.clone(), b.clone()], spec)?;
    let mut copy = GradusOptimizer::from_vars(vec![w.clone(), b.clone()], spec)?
        .with_update_mode(UpdateMode::Copy);
    let copy_ms = median_ms(|| copy.step(&grads).unwrap());
    // Plain and clipped steps alternate on the one optimizer (the same memory, the same
    // machine for both); the cost of clipping is the median of the per-pair ratios.
    let clip = Some(Clip::Norm {
        max_norm: 1.0,
        norm_type: 2.0,
    });
    // A third step in each round has neither clipping nor the default non-finite check
    // (the check is one read of the gradients, which the norm's pass replaces).
    let (mut plain_t, mut clip_t, mut bare_t) = (Vec::new(), Vec::new(), Vec::new());
    let (mut ratios, mut bare_ratios) = (Vec::new(), Vec::new());
    inplace.step(&grads)?;
    let timed = |opt: &mut GradusOptimizer| -> candle_core::Result<f64> {
        let s = Instant::now();
        opt.step(&grads)?;
        Ok(s.elapsed().as_secs_f64() * 1e3)
    };
    for _ in 0..PAIRS {
        inplace.set_clip(None)?;
        let a = timed(&mut inplace)?;
        inplace.set_clip(clip)?;
        let c = timed(&mut inplace)?;
        inplace.set_clip(None)?;
        inplace.set_nonfinite_policy(NonFinitePolicy::Propagate);
        let u = timed(&mut inplace)?;
        inplace.set_nonfinite_policy(NonFinitePolicy::Error);
        plain_t.push(a);
        clip_t.push(c);
        bare_t.push(u);
        ratios.push(c / a);
        bare_ratios.push(c / u);
    }
    let (inplace_ms, clip_ms, bare_ms) = (median(plain_t), median(clip_t), median(bare_t));
    let (ratio, bare_ratio) = (median(ratios), median(bare_ratios));
    let mut candle = AdamW::new(
        vec![w.clone(), b.clone()],
        ParamsAdamW {
            lr: 1e-6,
            weight_decay: 0.0,
            ..Default::default()
        },
    )?;
    let candle_ms = median_ms(|| candle.step(&grads).unwrap());
    println!("gradus on slices (no candle)         {slice_ms:8.3} ms");
    println!("GradusOptimizer, in place (default)  {inplace_ms:8.3} ms");
    println!("GradusOptimizer, copy + Var::set     {copy_ms:8.3} ms");
    println!("GradusOptimizer, in place + clip     {clip_ms:8.3} ms");
    println!("GradusOptimizer, in place, no check   {bare_ms:8.3} ms");
    println!(
        "clipping adds (median of {PAIRS} alternating rounds) {:+.1} % to the default step, \
         {:+.1} % to the unchecked one",
        (ratio - 1.0) * 100.0,
        (bare_ratio - 1.0) * 100.0
    );
    println!("candle_nn::AdamW                     {candle_ms:8.3} ms");
    Ok(())
}
