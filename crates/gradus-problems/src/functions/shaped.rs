//! An n-dimensional function whose parameter is one matrix (`--shape R,C`).

use crate::objective::{Hessian, Objective};
use gradus::Float;

/// An n-dimensional analytic function whose single tensor `x` has a shape such as
/// R × C (row-major) instead of being a vector: the loss is the same function of the
/// flattened values, so only optimizers that read shapes (Muon, Adafactor) behave
/// differently.
pub struct Shaped<T> {
    inner: Box<dyn Objective<T>>,
    shape: Vec<usize>,
}

impl<T: Float> Shaped<T> {
    /// `inner` with its parameter seen as a tensor of `shape` (whose product must be
    /// `inner.dim()`; [`crate::build`] checks it).
    pub fn new(inner: Box<dyn Objective<T>>, shape: Vec<usize>) -> Self {
        debug_assert_eq!(shape.iter().product::<usize>(), inner.dim());
        Shaped { inner, shape }
    }
}

impl<T: Float> Objective<T> for Shaped<T> {
    fn name(&self) -> String {
        self.inner.name()
    }
    fn dim(&self) -> usize {
        self.inner.dim()
    }
    fn tensor_shapes(&self) -> Vec<(String, Vec<usize>)> {
        vec![("x".to_string(), self.shape.clone())]
    }
    fn start(&self) -> Vec<T> {
        self.inner.start()
    }
    fn value(&self, x: &[T]) -> T {
        self.inner.value(x)
    }
    fn gradient(&self, x: &[T], grad: &mut [T]) -> T {
        self.inner.gradient(x, grad)
    }
    fn minimum(&self) -> Option<(Vec<Vec<f64>>, f64)> {
        self.inner.minimum()
    }
    fn as_hessian(&self) -> Option<&dyn Hessian<T>> {
        self.inner.as_hessian()
    }
}
