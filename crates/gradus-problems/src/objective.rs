//! The problem traits.

use gradus::Float;

/// A differentiable objective over a flat parameter vector.
///
/// The vector is the concatenation of named tensors ([`Objective::tensors`]); an
/// optimizer keeps its state per tensor name.
pub trait Objective<T: Float>: Send + Sync {
    /// The problem's name as given to `gradus run --problem`.
    fn name(&self) -> String;

    /// Number of parameters.
    fn dim(&self) -> usize;

    /// The named tensors, in order, with their shapes (row-major; the element counts
    /// sum to [`Objective::dim`]). Analytic functions have one tensor, `x`, a vector or
    /// (`--shape R,C`) an R × C matrix; models have their weight matrices and bias
    /// vectors.
    fn tensor_shapes(&self) -> Vec<(String, Vec<usize>)> {
        vec![("x".to_string(), vec![self.dim()])]
    }

    /// The named tensors, in order, with their lengths (they sum to [`Objective::dim`]).
    fn tensors(&self) -> Vec<(String, usize)> {
        self.tensor_shapes()
            .into_iter()
            .map(|(name, shape)| (name, shape.iter().product()))
            .collect()
    }

    /// The default starting point (for models: the seeded initialisation).
    fn start(&self) -> Vec<T>;

    /// The (training) loss at `x`.
    fn value(&self, x: &[T]) -> T;

    /// The (training, full-batch) loss at `x`; writes the gradient into `grad`.
    fn gradient(&self, x: &[T], grad: &mut [T]) -> T;

    /// The known global minimizers and the minimum value, where known.
    fn minimum(&self) -> Option<(Vec<Vec<f64>>, f64)> {
        None
    }

    /// This problem's second derivatives, if it has them.
    fn as_hessian(&self) -> Option<&dyn Hessian<T>> {
        None
    }

    /// This problem's data interface, if it is fitted to data.
    fn as_data(&self) -> Option<&dyn DataObjective<T>> {
        None
    }
}

/// An objective with an analytic Hessian.
pub trait Hessian<T: Float>: Objective<T> {
    /// Writes the Hessian at `x` into `h`, row-major, `dim × dim`.
    fn hessian(&self, x: &[T], h: &mut [T]);
}

/// An objective fitted to data: training rows for minibatches and a held-out test set.
pub trait DataObjective<T: Float>: Objective<T> {
    /// Number of training rows.
    fn n_train(&self) -> usize;

    /// The mean loss over the training rows `rows` (indices in `0..n_train()`,
    /// repeats allowed); writes its gradient into `grad`.
    fn batch_gradient(&self, x: &[T], rows: &[usize], grad: &mut [T]) -> T;

    /// The mean loss over the test rows.
    fn test_loss(&self, x: &[T]) -> T;

    /// Test-set accuracy, for classifiers.
    fn test_accuracy(&self, _x: &[T]) -> Option<f64> {
        None
    }

    /// The smallest achievable training loss, where a closed form gives it (least squares).
    fn optimum_loss(&self) -> Option<f64> {
        None
    }
}
