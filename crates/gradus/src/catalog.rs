//! Every optimizer and schedule gradus has, with its hyperparameter table, as data:
//! what `gradus list`, the playground's controls and the Python classes read.
//!
//! ```
//! let adam = gradus::catalog::optimizer("adam").unwrap();
//! let lr = &adam.params[0];
//! assert_eq!((lr.name, lr.kind, lr.log_scale), ("lr", "float", true));
//! assert_eq!(lr.default, serde_json::json!(0.001));
//! assert!(gradus::catalog::schedules().iter().any(|s| s.name == "one_cycle"));
//! ```

pub use crate::hyper::{Algorithm, HyperParam};

/// Every optimizer spec name, in the order `gradus list` shows them.
pub fn optimizers() -> Vec<Algorithm> {
    crate::optim::catalog()
}

/// Every schedule spec name, in the order `gradus list` shows them.
pub fn schedules() -> Vec<Algorithm> {
    crate::schedule::catalog()
}

/// The optimizer called `name`.
pub fn optimizer(name: &str) -> Option<Algorithm> {
    optimizers().into_iter().find(|a| a.name == name)
}

/// The schedule called `name`.
pub fn schedule(name: &str) -> Option<Algorithm> {
    schedules().into_iter().find(|a| a.name == name)
}
