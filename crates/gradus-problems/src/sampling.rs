//! Minibatch sampling and gradient noise for stochastic-gradient experiments, seeded
//! and checkpointable (both serialise their generator's exact position).

use crate::error::ProblemError;
use crate::portable_random::{
    normal_pair, rng, shuffle, uniform_index, NOISE_STREAM, SAMPLER_STREAM,
};
use gradus::Float;
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};

/// How minibatch rows are drawn.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Sampling {
    /// Every step draws its rows independently and uniformly, with replacement (the
    /// first tutorial's "epoch" is one such step).
    #[default]
    Replacement,
    /// Shuffle, walk the rows in batches, reshuffle at the end of each epoch.
    Epoch,
}

impl Sampling {
    /// All modes with their command-line names.
    pub const ALL: [(&'static str, Sampling); 2] = [
        ("replacement", Sampling::Replacement),
        ("epoch", Sampling::Epoch),
    ];

    /// The command-line name.
    pub fn as_str(self) -> &'static str {
        match self {
            Sampling::Replacement => "replacement",
            Sampling::Epoch => "epoch",
        }
    }
}

impl std::fmt::Display for Sampling {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::str::FromStr for Sampling {
    type Err = ProblemError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::ALL
            .iter()
            .find(|(n, _)| *n == s)
            .map(|(_, m)| *m)
            .ok_or_else(|| ProblemError::InvalidSetting {
                param: "sampling".into(),
                value: s.into(),
                expected: "replacement or epoch".into(),
            })
    }
}

/// Draws the row indices of each minibatch from `0..n`.
///
/// * Full batch (no batch size, or one of at least `n`): every batch is `0..n` in
///   order and no random numbers are drawn.
/// * [`Sampling::Replacement`]: each batch is `batch_size` rows drawn uniformly with
///   replacement.
/// * [`Sampling::Epoch`]: the rows are shuffled and walked in batches of `batch_size`;
///   the last batch of an epoch holds the `n mod batch_size` rows left over if that is
///   not zero (as torch's `DataLoader` with `drop_last=False`), and the next call
///   reshuffles and starts a new epoch.
///
/// The generator is ChaCha8 seeded from `seed` (its own stream), so a seed gives the
/// same batches on every machine. The sampler is `Clone` and serde-serialisable with
/// its generator's position, so a checkpoint resumes the exact sequence.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(try_from = "SamplerRecord")]
pub struct BatchSampler {
    n: usize,
    batch_size: usize,
    sampling: Sampling,
    rng: ChaCha8Rng,
    /// The current permutation (epoch sampling only).
    order: Vec<usize>,
    /// Position in `order` of the next batch.
    pos: usize,
    /// Completed epochs (epoch sampling only).
    epochs: u64,
    /// The last batch drawn with replacement, or `0..n` for full batches.
    #[serde(skip)]
    buf: Vec<usize>,
}

/// The serialised form of a [`BatchSampler`], checked before it is trusted.
#[derive(Deserialize)]
struct SamplerRecord {
    n: usize,
    batch_size: usize,
    sampling: Sampling,
    rng: ChaCha8Rng,
    order: Vec<usize>,
    pos: usize,
    epochs: u64,
}

impl TryFrom<SamplerRecord> for BatchSampler {
    type Error = ProblemError;
    fn try_from(r: SamplerRecord) -> Result<Self, ProblemError> {
        let bad = |what: &str| ProblemError::InvalidSetting {
            param: "batch sampler state".into(),
            value: what.into(),
            expected: "a state saved by BatchSampler".into(),
        };
        if r.n == 0 || r.batch_size == 0 || r.batch_size > r.n || r.pos > r.n {
            return Err(bad("sizes out of range"));
        }
        let full = r.batch_size == r.n;
        // Nothing here allocates by `n` (a number read from a file, which may be huge):
        // the order's length, which the file itself holds, is checked first, and a full
        // batch's `0..n` is made on first use, after the caller compared `n` with its data.
        if r.sampling == Sampling::Epoch && !full {
            if r.order.len() != r.n {
                return Err(bad("order is not a permutation"));
            }
            let mut seen = vec![false; r.n];
            if r.order
                .iter()
                .any(|&i| i >= r.n || std::mem::replace(&mut seen[i], true))
            {
                return Err(bad("order is not a permutation"));
            }
        }
        Ok(BatchSampler {
            buf: Vec::new(),
            n: r.n,
            batch_size: r.batch_size,
            sampling: r.sampling,
            rng: r.rng,
            order: r.order,
            pos: r.pos,
            epochs: r.epochs,
        })
    }
}

impl BatchSampler {
    /// A sampler over `n` rows with batches of `batch_size` (`None`: full batch).
    ///
    /// Refused if `n` or `batch_size` is 0.
    pub fn new(
        n: usize,
        batch_size: Option<usize>,
        sampling: Sampling,
        seed: u64,
    ) -> Result<Self, ProblemError> {
        let invalid = |param: &str, expected: &str| ProblemError::InvalidSetting {
            param: param.into(),
            value: "0".into(),
            expected: expected.into(),
        };
        if n == 0 {
            return Err(invalid("number of rows", "at least 1 row"));
        }
        if batch_size == Some(0) {
            return Err(invalid("batch_size", "at least 1 (or none for full batch)"));
        }
        let batch_size = batch_size.map_or(n, |b| b.min(n));
        let full = batch_size == n;
        let mut rng = rng(seed, SAMPLER_STREAM);
        let mut order = Vec::new();
        if sampling == Sampling::Epoch && !full {
            order = (0..n).collect();
            shuffle(&mut rng, &mut order);
        }
        Ok(BatchSampler {
            n,
            batch_size,
            sampling,
            rng,
            order,
            pos: 0,
            epochs: 0,
            buf: if full { (0..n).collect() } else { Vec::new() },
        })
    }

    /// The row indices of the next minibatch.
    pub fn next_batch(&mut self) -> &[usize] {
        if self.batch_size == self.n {
            self.epochs += 1;
            if self.buf.len() != self.n {
                self.buf = (0..self.n).collect();
            }
            return &self.buf;
        }
        match self.sampling {
            Sampling::Replacement => {
                self.buf.clear();
                for _ in 0..self.batch_size {
                    self.buf.push(uniform_index(&mut self.rng, self.n));
                }
                &self.buf
            }
            Sampling::Epoch => {
                if self.pos >= self.n {
                    shuffle(&mut self.rng, &mut self.order);
                    self.pos = 0;
                }
                let start = self.pos;
                self.pos = (start + self.batch_size).min(self.n);
                if self.pos == self.n {
                    self.epochs += 1;
                }
                &self.order[start..self.pos]
            }
        }
    }

    /// The number of rows sampled from.
    pub fn n(&self) -> usize {
        self.n
    }

    /// The batch size in use (`n` for full batches).
    pub fn batch_size(&self) -> usize {
        self.batch_size
    }

    /// The sampling mode.
    pub fn sampling(&self) -> Sampling {
        self.sampling
    }

    /// Completed passes over the data: epochs finished under [`Sampling::Epoch`], full
    /// batches drawn; always 0 under [`Sampling::Replacement`].
    pub fn epochs(&self) -> u64 {
        self.epochs
    }
}

/// Adds independent N(0, σ²) noise to every gradient element, as the second tutorial's
/// noisy-SGD experiments do (σ = 1 there).
///
/// Normal deviates come from Marsaglia's polar method on a ChaCha8 stream of the seed
/// and the pure-Rust `libm` logarithm, so a seed gives the same bits on every machine.
/// Serialisable with the generator's position (and the spare deviate of the last pair)
/// for checkpoints.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(try_from = "NoiseRecord")]
pub struct GradientNoise {
    sigma: f64,
    rng: ChaCha8Rng,
    spare: Option<f64>,
}

/// The serialised form of a [`GradientNoise`], checked before it is trusted.
#[derive(Deserialize)]
struct NoiseRecord {
    sigma: f64,
    rng: ChaCha8Rng,
    spare: Option<f64>,
}

impl TryFrom<NoiseRecord> for GradientNoise {
    type Error = ProblemError;
    fn try_from(r: NoiseRecord) -> Result<Self, ProblemError> {
        let mut noise = GradientNoise::new(r.sigma, 0)?;
        noise.rng = r.rng;
        noise.spare = r.spare;
        Ok(noise)
    }
}

impl GradientNoise {
    /// Noise of standard deviation `sigma` (finite, ≥ 0) drawn from `seed`.
    pub fn new(sigma: f64, seed: u64) -> Result<Self, ProblemError> {
        if !(sigma.is_finite() && sigma >= 0.0) {
            return Err(ProblemError::InvalidSetting {
                param: "sigma".into(),
                value: sigma.to_string(),
                expected: "a finite number ≥ 0".into(),
            });
        }
        Ok(GradientNoise {
            sigma,
            rng: rng(seed, NOISE_STREAM),
            spare: None,
        })
    }

    /// The standard deviation σ.
    pub fn sigma(&self) -> f64 {
        self.sigma
    }

    /// The next standard normal deviate.
    pub fn standard_normal(&mut self) -> f64 {
        if let Some(z) = self.spare.take() {
            return z;
        }
        let (a, b) = normal_pair(&mut self.rng);
        self.spare = Some(b);
        a
    }

    /// Adds σ·z to every element of `grad`, a fresh standard normal z for each (in f64,
    /// then rounded to `T`). With σ = 0 nothing changes and no numbers are drawn.
    pub fn add<T: Float>(&mut self, grad: &mut [T]) {
        if self.sigma == 0.0 {
            return;
        }
        for g in grad {
            *g = *g + T::of(self.sigma * self.standard_normal());
        }
    }
}
