//! A multilayer perceptron on the digits: 64 → hidden → 10, ReLU, softmax cross-entropy.

use super::classification_data::ClassificationData;
use super::cross_entropy::{argmax, cross_entropy, softmax_cross_entropy};
use crate::data;
use crate::error::ProblemError;
use crate::objective::{DataObjective, Objective};
use crate::portable_random::{rng, uniform_unit, INIT_STREAM};
use gradus::Float;

/// A one-hidden-layer perceptron: logits = W₂·relu(W₁·x + b₁) + b₂, loss the mean
/// softmax cross-entropy over the rows (computed by log-sum-exp, stable for any
/// logits).
///
/// Tensors as torch's `nn.Linear` stores them: `w1` (hidden × inputs, row-major),
/// `b1` (hidden), `w2` (classes × hidden), `b2` (classes). Initialised as torch's
/// default `Linear` initialisation: every weight and bias of a layer with fan-in k
/// uniform in [−1/√k, 1/√k), drawn in the order w1, b1, w2, b2 from a ChaCha8 stream of
/// the seed. The gradient is back-propagation written out: per row, one forward and one
/// backward pass over contiguous rows of the weight matrices.
#[derive(Debug, Clone)]
pub struct Mlp<T> {
    name: String,
    data: ClassificationData<T>,
    hidden: usize,
    start: Vec<T>,
}

impl<T: Float> Mlp<T> {
    /// An MLP named `name` with `hidden` hidden units on `data`, initialised from `seed`.
    pub fn new(
        name: &str,
        data: ClassificationData<T>,
        hidden: usize,
        seed: u64,
    ) -> Result<Self, ProblemError> {
        if hidden == 0 {
            return Err(ProblemError::InvalidOption {
                problem: name.into(),
                option: "--hidden".into(),
                value: "0".into(),
                expected: "at least 1 hidden unit".into(),
            });
        }
        let (n_in, n_out) = (data.inputs, data.classes);
        let mut r = rng(seed, INIT_STREAM);
        let mut start = Vec::with_capacity(hidden * (n_in + 1) + n_out * (hidden + 1));
        let mut draw = |count: usize, fan_in: usize| {
            let bound = 1.0 / (fan_in as f64).sqrt();
            for _ in 0..count {
                start.push(T::of(-bound + 2.0 * bound * uniform_unit(&mut r)));
            }
        };
        draw(hidden * n_in, n_in);
        draw(hidden, n_in);
        draw(n_out * hidden, hidden);
        draw(n_out, hidden);
        Ok(Mlp {
            name: name.into(),
            data,
            hidden,
            start,
        })
    }

    /// `digits`: the 8×8 digits, pixels scaled by 1/16, 10 classes.
    pub fn digits(hidden: usize, test_fraction: f64, seed: u64) -> Result<Self, ProblemError> {
        let data = ClassificationData::new(&data::digits()?, 10, 1.0 / 16.0, test_fraction, seed)?;
        Self::new("digits", data, hidden, seed)
    }

    /// The training and test data.
    pub fn data(&self) -> &ClassificationData<T> {
        &self.data
    }

    /// The number of hidden units.
    pub fn hidden(&self) -> usize {
        self.hidden
    }

    /// Splits a parameter (or gradient) vector into `(w1, b1, w2, b2)`.
    fn unpack<'a>(&self, x: &'a [T]) -> (&'a [T], &'a [T], &'a [T], &'a [T]) {
        let (h, n_in) = (self.hidden, self.data.inputs);
        let (w1, rest) = x.split_at(h * n_in);
        let (b1, rest) = rest.split_at(h);
        let (w2, b2) = rest.split_at(self.data.classes * h);
        (w1, b1, w2, b2)
    }

    /// Hidden activations relu(W₁·input + b₁) into `hid`, then logits into `out`.
    #[inline]
    fn forward(&self, x: &[T], input: &[T], hid: &mut [T], out: &mut [T]) {
        let (w1, b1, w2, b2) = self.unpack(x);
        let (h, n_in) = (self.hidden, self.data.inputs);
        for j in 0..h {
            let row = &w1[j * n_in..(j + 1) * n_in];
            let z = row.iter().zip(input).fold(b1[j], |a, (&w, &v)| a + w * v);
            hid[j] = z.max(T::zero());
        }
        for (k, o) in out.iter_mut().enumerate() {
            let row = &w2[k * h..(k + 1) * h];
            *o = row
                .iter()
                .zip(hid.iter())
                .fold(b2[k], |a, (&w, &v)| a + w * v);
        }
    }

    /// Mean loss over training rows `rows`, with its gradient.
    fn loss_and_gradient(
        &self,
        x: &[T],
        rows: &mut dyn Iterator<Item = usize>,
        grad: &mut [T],
    ) -> T {
        let (h, n_in, n_out) = (self.hidden, self.data.inputs, self.data.classes);
        let (_, _, w2, _) = self.unpack(x);
        grad.iter_mut().for_each(|g| *g = T::zero());
        let (gw1, rest) = grad.split_at_mut(h * n_in);
        let (gb1, rest) = rest.split_at_mut(h);
        let (gw2, gb2) = rest.split_at_mut(n_out * h);
        let mut hid = vec![T::zero(); h];
        let mut dhid = vec![T::zero(); h];
        let mut out = vec![T::zero(); n_out];
        let mut dout = vec![T::zero(); n_out];
        let mut loss = T::zero();
        let mut count = 0usize;
        for r in rows {
            let input = self.data.train_row(r);
            self.forward(x, input, &mut hid, &mut out);
            loss = loss + softmax_cross_entropy(&out, self.data.train_labels[r], &mut dout);
            count += 1;
            dhid.iter_mut().for_each(|d| *d = T::zero());
            for k in 0..n_out {
                let d = dout[k];
                gb2[k] = gb2[k] + d;
                let grow = &mut gw2[k * h..(k + 1) * h];
                for (g, &a) in grow.iter_mut().zip(hid.iter()) {
                    *g = *g + d * a;
                }
                let wrow = &w2[k * h..(k + 1) * h];
                for (dh, &w) in dhid.iter_mut().zip(wrow) {
                    *dh = *dh + d * w;
                }
            }
            for j in 0..h {
                // ReLU passes the gradient only where the unit was active.
                if hid[j] <= T::zero() {
                    continue;
                }
                let d = dhid[j];
                gb1[j] = gb1[j] + d;
                let grow = &mut gw1[j * n_in..(j + 1) * n_in];
                for (g, &v) in grow.iter_mut().zip(input) {
                    *g = *g + d * v;
                }
            }
        }
        if count == 0 {
            return T::zero();
        }
        let scale = T::one() / T::of(count as f64);
        grad.iter_mut().for_each(|g| *g = *g * scale);
        loss * scale
    }

    /// Mean loss over rows of a table (no gradient).
    fn mean_loss(&self, x: &[T], xs: &[T], labels: &[usize]) -> T {
        let n_in = self.data.inputs;
        let mut hid = vec![T::zero(); self.hidden];
        let mut out = vec![T::zero(); self.data.classes];
        let mut loss = T::zero();
        for (r, &label) in labels.iter().enumerate() {
            self.forward(x, &xs[r * n_in..(r + 1) * n_in], &mut hid, &mut out);
            loss = loss + cross_entropy(&out, label);
        }
        if labels.is_empty() {
            return T::zero();
        }
        loss / T::of(labels.len() as f64)
    }
}

impl<T: Float> Objective<T> for Mlp<T> {
    fn name(&self) -> String {
        self.name.clone()
    }
    fn dim(&self) -> usize {
        self.start.len()
    }
    fn tensor_shapes(&self) -> Vec<(String, Vec<usize>)> {
        let (h, n_in, n_out) = (self.hidden, self.data.inputs, self.data.classes);
        vec![
            ("w1".into(), vec![h, n_in]),
            ("b1".into(), vec![h]),
            ("w2".into(), vec![n_out, h]),
            ("b2".into(), vec![n_out]),
        ]
    }
    fn start(&self) -> Vec<T> {
        self.start.clone()
    }
    fn value(&self, x: &[T]) -> T {
        self.mean_loss(x, &self.data.train_x, &self.data.train_labels)
    }
    fn gradient(&self, x: &[T], grad: &mut [T]) -> T {
        self.loss_and_gradient(x, &mut (0..self.data.train_labels.len()), grad)
    }
    fn as_data(&self) -> Option<&dyn DataObjective<T>> {
        Some(self)
    }
}

impl<T: Float> DataObjective<T> for Mlp<T> {
    fn n_train(&self) -> usize {
        self.data.train_labels.len()
    }
    /// The mean cross-entropy over `rows` (0 with a zero gradient if `rows` is empty).
    ///
    /// # Panics
    /// If a row index is not below [`DataObjective::n_train`].
    fn batch_gradient(&self, x: &[T], rows: &[usize], grad: &mut [T]) -> T {
        self.loss_and_gradient(x, &mut rows.iter().copied(), grad)
    }
    fn test_loss(&self, x: &[T]) -> T {
        self.mean_loss(x, &self.data.test_x, &self.data.test_labels)
    }
    fn test_accuracy(&self, x: &[T]) -> Option<f64> {
        let mut hid = vec![T::zero(); self.hidden];
        let mut out = vec![T::zero(); self.data.classes];
        let labels = &self.data.test_labels;
        let correct = labels
            .iter()
            .enumerate()
            .filter(|&(r, &label)| {
                self.forward(x, self.data.test_row(r), &mut hid, &mut out);
                argmax(&out) == label
            })
            .count();
        Some(correct as f64 / labels.len().max(1) as f64)
    }
}
