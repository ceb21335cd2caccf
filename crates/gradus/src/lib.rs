//! # gradus
//!
//! Gradient-based optimizers written from scratch, exact to torch.optim: the same
//! update rules, defaults and hyperparameter names, and the same results to the last
//! few bits in `f64`.
//!
//! * [`optim`]: SGD (momentum, Nesterov), Adagrad, RMSprop, Adadelta, Adam, AdamW,
//!   NAdam, RAdam, Adamax, Lion and Newton's method, over named tensors of `f32` or
//!   `f64`.
//! * [`schedule`]: learning-rate schedules named after torch's `lr_scheduler`.
//! * [`checkpoint`]: named, shape-checked tensors and metadata encoded with a version
//!   and a checksum, for saving and resuming optimizer and schedule state.
//! * [`clip`]: gradient clipping by global norm and by value.
//! * [`optim::averaging`]: SWA and EMA of the parameters (torch's `AveragedModel`).
//! * [`Trainer`]: one object to drive, an optimizer with its schedule, clipping and
//!   averaging, stepped in one call and saved to bytes and back in one call.
//! * [`spec`]: the spec language, `adam(lr=0.01, betas=(0.9, 0.99))`, that turns text
//!   into optimizers and schedules.
//!
//! This crate has no I/O, command-line or plotting dependencies; problems, plots and
//! the `gradus` command live in their own crates.
//!
//! ```
//! use gradus::optim::{self, Param};
//! let mut opt = optim::build::<f64>("sgd(lr=0.1, momentum=0.9, nesterov=true)").unwrap();
//! let mut w = vec![1.0, -2.0];
//! for _ in 0..100 {
//!     let g: Vec<f64> = w.iter().map(|x| 2.0 * x).collect();
//!     opt.step(&mut [Param::new("w", &mut w, &g)]).unwrap();
//! }
//! assert!(w.iter().all(|x| x.abs() < 1e-3));
//! ```

#![warn(missing_docs)]

pub mod catalog;
pub mod checkpoint;
pub mod clip;
mod cpu;
pub mod error;
pub mod float;
pub mod hyper;
#[cfg(feature = "ndarray")]
pub mod ndarray_support;
pub mod optim;
pub mod schedule;
pub mod spec;
pub mod trainer;

pub use error::{Error, Result};
pub use float::{DType, Float};
pub use trainer::Trainer;
