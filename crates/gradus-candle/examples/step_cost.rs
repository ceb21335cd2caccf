//! What updating candle variables costs: gradus's step on plain slices, the same step
//! through [`GradusOptimizer`] in place and with the copy fallback, and candle's own
//! AdamW, on a 1,000,000-parameter model (a 1000 × 1000 linear layer and its bias).
//!
//! ```text
//! cargo run --release -p gradus-candle --example step_cost [-- f64]
//! ```

use candle_core::{DType, Device, Tensor, Var};
use candle_nn::{AdamW, Optimizer, ParamsAdamW};
use gradus::optim::Param;
use gradus_candle::{GradusOptimizer, UpdateMode};
use std::time::Instant;

const REPS: usize = 40;

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
    let inplace_ms = median_ms(|| inplace.step(&grads).unwrap());
    let mut copy = GradusOptimizer::from_vars(vec![w.clone(), b.clone()], spec)?
        .with_update_mode(UpdateMode::Copy);
    let copy_ms = median_ms(|| copy.step(&grads).unwrap());
    let mut clipped =
        GradusOptimizer::from_vars(vec![w.clone(), b.clone()], spec)?.with_clip_grad_norm(1.0)?;
    let clip_ms = median_ms(|| clipped.step(&grads).unwrap());
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
    println!("candle_nn::AdamW                     {candle_ms:8.3} ms");
    Ok(())
}
