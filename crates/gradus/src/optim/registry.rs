//! Turning spec strings into optimizers.

use super::engine::{Elementwise, Rule};
use super::Optimizer;
use crate::error::{Error, Result};
use crate::float::Float;
use crate::spec::{parse, Call};

/// Every optimizer name with a one-line description, in the order `gradus list` shows.
pub const OPTIMIZERS: &[(&str, &str)] = &[
    ("sgd", "gradient descent / SGD, with heavy-ball or Nesterov momentum (Robbins & Monro 1951; Polyak 1964; Nesterov 1983)"),
    ("adagrad", "per-coordinate steps scaled by accumulated squared gradients (Duchi et al. 2011)"),
    ("rmsprop", "steps scaled by a moving average of squared gradients (Hinton 2012), optional momentum, centered"),
    ("adadelta", "RMSprop with the step size set by past updates, no learning rate needed (Zeiler 2012)"),
    ("adam", "adaptive moments with bias correction (Kingma & Ba 2015), optional AMSGrad"),
    ("adamw", "Adam with decoupled weight decay (Loshchilov & Hutter 2019)"),
    ("nadam", "Adam with Nesterov momentum and momentum decay (Dozat 2016)"),
    ("radam", "Adam with the variance of the adaptive step rectified (Liu et al. 2020)"),
    ("adamax", "Adam with the infinity norm in place of the second moment (Kingma & Ba 2015)"),
    ("lion", "sign of an interpolated momentum, evolved by program search (Chen et al. 2023)"),
    ("newton", "damped Newton step solving H·d = g (problems with a Hessian only)"),
];

fn boxed<R: Rule, T: Float>(call: &Call) -> Result<Box<dyn Optimizer<T>>> {
    Ok(Box::new(Elementwise::<R, T>::new(R::from_call(call)?)?))
}

/// Builds an element-wise optimizer from a parsed spec call.
///
/// `newton` is refused here: it needs a Hessian, so it is built with
/// [`super::Newton::new`] and driven by code that has one.
pub fn build_from_call<T: Float>(call: &Call) -> Result<Box<dyn Optimizer<T>>> {
    use super::*;
    match call.name.as_str() {
        "sgd" => boxed::<SgdConfig, T>(call),
        "adagrad" => boxed::<AdagradConfig, T>(call),
        "rmsprop" => boxed::<RMSpropConfig, T>(call),
        "adadelta" => boxed::<AdadeltaConfig, T>(call),
        "adam" => boxed::<AdamConfig, T>(call),
        "adamw" => boxed::<adam::AdamWConfig, T>(call),
        "nadam" => boxed::<NAdamConfig, T>(call),
        "radam" => boxed::<RAdamConfig, T>(call),
        "adamax" => boxed::<AdamaxConfig, T>(call),
        "lion" => boxed::<LionConfig, T>(call),
        "newton" => Err(Error::Unsupported(
            "newton needs a Hessian and cannot drive named tensors; build it with gradus::optim::Newton"
                .into(),
        )),
        other => Err(Error::UnknownName {
            kind: "optimizer",
            name: other.to_string(),
            valid: OPTIMIZERS.iter().map(|(n, _)| n.to_string()).collect(),
        }),
    }
}

/// Builds an element-wise optimizer from a spec string such as `adam(lr=0.01)`.
pub fn build<T: Float>(spec: &str) -> Result<Box<dyn Optimizer<T>>> {
    build_from_call(&parse(spec)?)
}
