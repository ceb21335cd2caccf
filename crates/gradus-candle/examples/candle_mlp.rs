//! A candle MLP (64 → 64 → 10, ReLU) on the 8×8 digits, trained by any gradus
//! optimizer given as a spec on the command line:
//!
//! ```text
//! cargo run --release -p gradus-candle --example candle_mlp -- "nadam(lr=0.002)"
//! cargo run --release -p gradus-candle --example candle_mlp -- "adam(lr=0.001)" 40
//! ```
//!
//! Arguments: the optimizer spec (default `adam(lr=0.001)`) and the number of epochs
//! (default 50). The split (80/20), the initialization and the minibatch order are
//! seeded, so a run is reproducible. The last line printed is `test_accuracy=...`.

use candle_core::{DType, Device, Module, Tensor, D};
use candle_nn::{Linear, Optimizer, VarBuilder, VarMap};
use gradus_candle::GradusOptimizer;

const SEED: u64 = 20240611;
const BATCH: usize = 64;

// ---------------------------------------------------------------------------------
// Data loading: self-contained until the shared loader (gradus_problems::data::digits)
// is available here; swap this function for it then.

/// The digits data: 1797 rows of 64 pixel values (0–16) and a label (0–9).
struct Digits {
    pixels: Vec<[f32; 64]>,
    labels: Vec<u8>,
}

fn load_digits() -> Result<Digits, String> {
    use std::io::Read;
    let gz: &[u8] = include_bytes!("../../../data/digits.csv.gz");
    let mut text = String::new();
    flate2::read::GzDecoder::new(gz)
        .read_to_string(&mut text)
        .map_err(|e| format!("cannot decompress digits.csv.gz: {e}"))?;
    let mut pixels = Vec::new();
    let mut labels = Vec::new();
    for (i, line) in text
        .lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty())
    {
        let fields: Vec<&str> = line.split(',').map(str::trim).collect();
        if fields.len() != 65 {
            return Err(format!(
                "digits line {}: {} fields, expected 65",
                i + 1,
                fields.len()
            ));
        }
        let mut row = [0f32; 64];
        for (x, f) in row.iter_mut().zip(&fields[..64]) {
            *x = f
                .parse()
                .map_err(|e| format!("digits line {}: {e}", i + 1))?;
        }
        let label: u8 = fields[64]
            .parse()
            .map_err(|e| format!("digits line {}: {e}", i + 1))?;
        pixels.push(row);
        labels.push(label);
    }
    Ok(Digits { pixels, labels })
}

// ---------------------------------------------------------------------------------

/// SplitMix64: a small seeded generator for the split, the init and the batches.
struct Rng(u64);

impl Rng {
    fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    /// Uniform in [0, 1).
    fn uniform(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }
    fn shuffle<T>(&mut self, v: &mut [T]) {
        for i in (1..v.len()).rev() {
            let j = (self.next_u64() % (i as u64 + 1)) as usize;
            v.swap(i, j);
        }
    }
}

struct Mlp {
    l1: Linear,
    l2: Linear,
}

impl Module for Mlp {
    fn forward(&self, x: &Tensor) -> candle_core::Result<Tensor> {
        self.l2.forward(&self.l1.forward(x)?.relu()?)
    }
}

/// Builds the MLP in `varmap` and overwrites candle's (unseeded) init with torch's
/// default for `nn.Linear`, U(-1/√fan_in, 1/√fan_in), drawn from `rng`.
fn mlp(varmap: &VarMap, rng: &mut Rng) -> candle_core::Result<Mlp> {
    let vb = VarBuilder::from_varmap(varmap, DType::F32, &Device::Cpu);
    let l1 = candle_nn::linear(64, 64, vb.pp("l1"))?;
    let l2 = candle_nn::linear(64, 10, vb.pp("l2"))?;
    let mut vars: Vec<(String, candle_core::Var)> = varmap
        .data()
        .lock()
        .map_err(|_| candle_core::Error::Msg("poisoned VarMap".into()))?
        .iter()
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    vars.sort_by(|a, b| a.0.cmp(&b.0));
    // Both layers take 64 inputs.
    let bound = 1.0 / f64::sqrt(64.0);
    for (_, var) in vars {
        let init: Vec<f32> = (0..var.elem_count())
            .map(|_| ((rng.uniform() * 2.0 - 1.0) * bound) as f32)
            .collect();
        var.set(&Tensor::from_vec(init, var.dims(), &Device::Cpu)?)?;
    }
    Ok(Mlp { l1, l2 })
}

fn tensors(d: &Digits, idx: &[usize]) -> candle_core::Result<(Tensor, Tensor)> {
    let x: Vec<f32> = idx
        .iter()
        .flat_map(|&i| d.pixels[i].iter().map(|p| p / 16.0))
        .collect();
    let y: Vec<u32> = idx.iter().map(|&i| u32::from(d.labels[i])).collect();
    Ok((
        Tensor::from_vec(x, (idx.len(), 64), &Device::Cpu)?,
        Tensor::from_vec(y, idx.len(), &Device::Cpu)?,
    ))
}

fn accuracy(model: &Mlp, x: &Tensor, y: &Tensor) -> candle_core::Result<f64> {
    let pred = model.forward(x)?.argmax(D::Minus1)?;
    let correct = pred
        .eq(y)?
        .to_dtype(DType::F32)?
        .sum_all()?
        .to_scalar::<f32>()?;
    Ok(f64::from(correct) / y.dims1()? as f64)
}

/// Trains the MLP with the optimizer `spec` for `epochs` epochs and returns the test
/// accuracy, printing the training loss as it goes when `verbose`.
pub fn train(spec: &str, epochs: usize, verbose: bool) -> Result<f64, String> {
    let data = load_digits()?;
    let mut rng = Rng(SEED);
    let mut order: Vec<usize> = (0..data.labels.len()).collect();
    rng.shuffle(&mut order);
    let n_train = order.len() * 4 / 5;
    let (train, test) = order.split_at(n_train);
    let (x_test, y_test) = tensors(&data, test).map_err(|e| e.to_string())?;

    let varmap = VarMap::new();
    let model = mlp(&varmap, &mut rng).map_err(|e| e.to_string())?;
    let mut opt = GradusOptimizer::from_varmap(&varmap, spec).map_err(|e| e.to_string())?;
    if verbose {
        println!(
            "optimizer: {}  ({} train / {} test, batch {BATCH}, {epochs} epochs)",
            opt.spec(),
            train.len(),
            test.len()
        );
    }
    let every = (epochs / 10).max(1);
    let mut train = train.to_vec();
    for epoch in 1..=epochs {
        rng.shuffle(&mut train);
        let (mut sum, mut count) = (0.0, 0usize);
        for batch in train.chunks(BATCH) {
            let (x, y) = tensors(&data, batch).map_err(|e| e.to_string())?;
            let loss =
                candle_nn::loss::cross_entropy(&model.forward(&x).map_err(|e| e.to_string())?, &y)
                    .map_err(|e| e.to_string())?;
            opt.backward_step(&loss).map_err(|e| e.to_string())?;
            sum +=
                f64::from(loss.to_scalar::<f32>().map_err(|e| e.to_string())?) * batch.len() as f64;
            count += batch.len();
        }
        if verbose && (epoch % every == 0 || epoch == 1) {
            println!("epoch {epoch:3}  train_loss={:.4}", sum / count as f64);
        }
    }
    accuracy(&model, &x_test, &y_test).map_err(|e| e.to_string())
}

#[allow(dead_code)] // the tests include this file for `train` only
fn main() {
    let mut args = std::env::args().skip(1);
    let spec = args.next().unwrap_or_else(|| "adam(lr=0.001)".to_string());
    let epochs = match args.next().map(|e| e.parse::<usize>()) {
        None => 50,
        Some(Ok(e)) => e,
        Some(Err(_)) => {
            eprintln!("error: the number of epochs must be a whole number");
            std::process::exit(2);
        }
    };
    match train(&spec, epochs, true) {
        Ok(acc) => println!("test_accuracy={acc:.4}"),
        Err(e) => {
            eprintln!("error: {e}");
            std::process::exit(1);
        }
    }
}
