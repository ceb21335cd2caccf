//! Multinomial logistic regression on the digits.

use super::classification_data::ClassificationData;
use super::cross_entropy::{argmax, cross_entropy, softmax_cross_entropy};
use crate::data;
use crate::error::ProblemError;
use crate::objective::{DataObjective, Objective};
use gradus::Float;

/// Multinomial logistic (softmax) regression: logits = W·x + b, loss the mean softmax
/// cross-entropy. The loss is convex. Tensors `w` (classes × inputs, row-major) and `b`
/// (classes), starting at zero (every class equally likely: initial loss ln 10).
#[derive(Debug, Clone)]
pub struct SoftmaxRegression<T> {
    name: String,
    data: ClassificationData<T>,
}

impl<T: Float> SoftmaxRegression<T> {
    /// Softmax regression named `name` on `data`.
    pub fn new(name: &str, data: ClassificationData<T>) -> Self {
        SoftmaxRegression {
            name: name.into(),
            data,
        }
    }

    /// `digits-softmax`: the 8×8 digits, pixels scaled by 1/16, 10 classes.
    pub fn digits(test_fraction: f64, seed: u64) -> Result<Self, ProblemError> {
        let data = ClassificationData::new(&data::digits()?, 10, 1.0 / 16.0, test_fraction, seed)?;
        Ok(Self::new("digits-softmax", data))
    }

    /// The training and test data.
    pub fn data(&self) -> &ClassificationData<T> {
        &self.data
    }

    /// Logits W·input + b into `out`.
    #[inline]
    fn forward(&self, x: &[T], input: &[T], out: &mut [T]) {
        let n_in = self.data.inputs;
        let (w, b) = x.split_at(self.data.classes * n_in);
        for (k, o) in out.iter_mut().enumerate() {
            let row = &w[k * n_in..(k + 1) * n_in];
            *o = row.iter().zip(input).fold(b[k], |a, (&w, &v)| a + w * v);
        }
    }

    /// Mean loss over training rows `rows`, with its gradient.
    fn loss_and_gradient(
        &self,
        x: &[T],
        rows: &mut dyn Iterator<Item = usize>,
        grad: &mut [T],
    ) -> T {
        let (n_in, n_out) = (self.data.inputs, self.data.classes);
        grad.iter_mut().for_each(|g| *g = T::zero());
        let (gw, gb) = grad.split_at_mut(n_out * n_in);
        let mut out = vec![T::zero(); n_out];
        let mut dout = vec![T::zero(); n_out];
        let mut loss = T::zero();
        let mut count = 0usize;
        for r in rows {
            let input = self.data.train_row(r);
            self.forward(x, input, &mut out);
            loss = loss + softmax_cross_entropy(&out, self.data.train_labels[r], &mut dout);
            count += 1;
            for k in 0..n_out {
                let d = dout[k];
                gb[k] = gb[k] + d;
                for (g, &v) in gw[k * n_in..(k + 1) * n_in].iter_mut().zip(input) {
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
        let mut out = vec![T::zero(); self.data.classes];
        let mut loss = T::zero();
        for (r, &label) in labels.iter().enumerate() {
            self.forward(x, &xs[r * n_in..(r + 1) * n_in], &mut out);
            loss = loss + cross_entropy(&out, label);
        }
        if labels.is_empty() {
            return T::zero();
        }
        loss / T::of(labels.len() as f64)
    }
}

impl<T: Float> Objective<T> for SoftmaxRegression<T> {
    fn name(&self) -> String {
        self.name.clone()
    }
    fn dim(&self) -> usize {
        self.data.classes * (self.data.inputs + 1)
    }
    fn tensor_shapes(&self) -> Vec<(String, Vec<usize>)> {
        vec![
            ("w".into(), vec![self.data.classes, self.data.inputs]),
            ("b".into(), vec![self.data.classes]),
        ]
    }
    fn start(&self) -> Vec<T> {
        vec![T::zero(); Objective::<T>::dim(self)]
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

impl<T: Float> DataObjective<T> for SoftmaxRegression<T> {
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
        let mut out = vec![T::zero(); self.data.classes];
        let labels = &self.data.test_labels;
        let correct = labels
            .iter()
            .enumerate()
            .filter(|&(r, &label)| {
                self.forward(x, self.data.test_row(r), &mut out);
                argmax(&out) == label
            })
            .count();
        Some(correct as f64 / labels.len().max(1) as f64)
    }
}
