//! Turning spec strings into optimizers, and the list of them as data.

use super::engine::{Elementwise, Rule};
use super::Optimizer;
use crate::error::{Error, Result};
use crate::float::Float;
use crate::hyper::{Algorithm, Hyperparameters};
use crate::spec::{parse, Call};

fn boxed<R: Rule, T: Float>(call: &Call) -> Result<Box<dyn Optimizer<T>>> {
    Ok(Box::new(Elementwise::<R, T>::from_call(call)?))
}

/// `a` with the engine's `state_dtype` key in its table, if the rule accepts it.
fn with_state_dtype<R: Rule>(mut a: Algorithm) -> Algorithm {
    if R::LOW_PRECISION_STATE {
        a.params.push(super::state_dtype::table_entry());
    }
    a
}

/// Each per-tensor rule once: its config type (see [`elementwise_rules!`]).
macro_rules! tensor_rules {
    ($($cfg:ty),* $(,)?) => {
        fn build_tensor<T: Float>(call: &Call) -> Option<Result<Box<dyn Optimizer<T>>>> {
            $(if call.name == <$cfg as Hyperparameters>::NAME {
                return Some(
                    <$cfg>::from_call(call)
                        .and_then(super::PerTensor::<$cfg, T>::new)
                        .map(|o| Box::new(o) as Box<dyn Optimizer<T>>),
                );
            })*
            let _ = call; // unused while the list is empty
            None
        }

        fn tensor_catalog() -> Vec<Algorithm> {
            vec![$(<$cfg as Hyperparameters>::algorithm("tensor")),*]
        }
    };
}

// Per-tensor rules register here, one line each: `tensor_rules!(super::MuonConfig, ...)`.
tensor_rules!(
    super::ProdigyConfig,
    super::MuonConfig,
    super::AdafactorConfig,
    super::SparseAdamConfig,
    super::LambConfig,
    super::LarsConfig,
    super::SoapConfig,
    super::ShampooConfig,
);

/// Each element-wise rule once: its config type. The spec name, summary and table
/// come from the config's [`Hyperparameters`].
macro_rules! elementwise_rules {
    ($($cfg:ty),* $(,)?) => {
        fn build_elementwise<T: Float>(call: &Call) -> Option<Result<Box<dyn Optimizer<T>>>> {
            $(if call.name == <$cfg as Hyperparameters>::NAME {
                return Some(boxed::<$cfg, T>(call));
            })*
            None
        }

        fn elementwise_catalog() -> Vec<Algorithm> {
            vec![$(with_state_dtype::<$cfg>(<$cfg as Hyperparameters>::algorithm("elementwise"))),*]
        }
    };
}

elementwise_rules!(
    super::SgdConfig,
    super::AdagradConfig,
    super::RMSpropConfig,
    super::AdadeltaConfig,
    super::AdamConfig,
    super::AdamWConfig,
    super::NAdamConfig,
    super::RAdamConfig,
    super::AdamaxConfig,
    super::LionConfig,
    super::RpropConfig,
    super::AsgdConfig,
    super::ScheduleFreeSgdConfig,
    super::ScheduleFreeAdamWConfig,
);

/// Every optimizer with its hyperparameter table, in the order `gradus list` shows.
pub fn catalog() -> Vec<Algorithm> {
    let mut all = elementwise_catalog();
    all.extend(tensor_catalog());
    all.push(super::LbfgsConfig::algorithm("closure"));
    all.push(super::NewtonConfig::algorithm("closure"));
    all.push(super::PartitionConfig::algorithm("combinator"));
    all.push(super::LookaheadConfig::algorithm("combinator"));
    all.push(super::SamConfig::algorithm("combinator"));
    all
}

/// Every optimizer name with a one-line description, in the order `gradus list` shows.
pub fn names() -> Vec<(&'static str, &'static str)> {
    catalog().iter().map(|a| (a.name, a.summary)).collect()
}

/// Builds any optimizer from a parsed spec call. Closure optimizers (`lbfgs`,
/// `newton`) are stepped with [`Optimizer::step_with`].
pub fn build_from_call<T: Float>(call: &Call) -> Result<Box<dyn Optimizer<T>>> {
    if let Some(opt) = build_elementwise(call) {
        return opt;
    }
    // Every other optimizer keeps its state in the parameters' type: a clear error
    // rather than an unknown key.
    let (call, _) = super::state_dtype::split(call, false)?;
    let call = &call;
    if let Some(opt) = build_tensor(call) {
        return opt;
    }
    match call.name.as_str() {
        "lbfgs" => Ok(Box::new(super::Lbfgs::<T>::new(
            super::LbfgsConfig::from_call(call)?,
        )?)),
        "newton" => Ok(Box::new(super::Newton::new(
            super::NewtonConfig::from_call(call)?,
        )?)),
        "partition" => Ok(Box::new(super::Partition::<T>::new(
            super::PartitionConfig::from_call(call)?,
        )?)),
        "lookahead" => Ok(Box::new(super::Lookahead::<T>::new(
            super::LookaheadConfig::from_call(call)?,
        )?)),
        "sam" => Ok(Box::new(super::Sam::<T>::new(
            super::SamConfig::from_call(call)?,
        )?)),
        other => Err(Error::UnknownName {
            kind: "optimizer",
            name: other.to_string(),
            valid: catalog().iter().map(|a| a.name.to_string()).collect(),
        }),
    }
}

/// Builds an optimizer from a spec string such as `adam(lr=0.01)`.
pub fn build<T: Float>(spec: &str) -> Result<Box<dyn Optimizer<T>>> {
    build_from_call(&parse(spec)?)
}

/// The builders for both element types, compiled once here.
///
/// In builds at opt-level 0 or 1 (`cargo test`, the dev profile) rustc shares generic
/// instances between crates: a dependent that calls `build::<f32>` links this crate's
/// copy, and through its vtables every optimizer's step, instead of compiling the whole
/// optimizer library again (every test binary did, about two minutes each). Optimized
/// builds inline across crates as usual. Nothing calls this; naming the instances is
/// what makes rustc compile them here.
#[doc(hidden)]
pub static INSTANCES: (Builders<f32>, Builders<f64>) = (
    (build::<f32>, build_from_call::<f32>),
    (build::<f64>, build_from_call::<f64>),
);

/// [`build`] and [`build_from_call`] for one element type.
#[doc(hidden)]
pub type Builders<T> = (
    fn(&str) -> Result<Box<dyn Optimizer<T>>>,
    fn(&Call) -> Result<Box<dyn Optimizer<T>>>,
);

#[cfg(test)]
mod tests {
    use super::*;
    use crate::optim::Param;

    #[test]
    fn every_listed_optimizer_builds_and_round_trips() {
        for (name, _) in names() {
            let opt = build::<f64>(name).unwrap();
            assert_eq!(opt.name(), name);
            let again = build::<f64>(&opt.spec().to_string()).unwrap();
            assert_eq!(again.spec(), opt.spec(), "{name}");
        }
        assert_eq!(
            build::<f64>("newton").unwrap().kind(),
            crate::optim::OptimizerKind::Closure
        );
        assert!(matches!(
            build::<f64>("adamm"),
            Err(Error::UnknownName { .. })
        ));
    }

    /// torch 2.15.0 in float32 (parameters, gradients and state), single-tensor path:
    /// ```text
    /// p = torch.tensor([1.5, -0.75], dtype=torch.float32, requires_grad=True)
    /// opt = torch.optim.<Name>([p], foreach=False, **settings)
    /// for _ in range(steps):
    ///     x0, x1 = p.tolist()   # Python floats, so the gradient is computed in f64
    ///     p.grad = torch.tensor([2*x0 - 1, 3*x1*x1*x1 + 0.5], dtype=torch.float32)
    ///     opt.step(); print(p.tolist())
    /// ```
    const TORCH_F32: &[(&str, &[[f64; 2]])] = &[
("adagrad(lr=0.1, lr_decay=0.1, weight_decay=0.2, initial_accumulator_value=0.5, eps=1e-3)", &[[1.4044549465179443, -0.6709222197532654], [1.3448630571365356, -0.632489025592804], [1.3012412786483765, -0.6084164977073669], [1.2669615745544434, -0.591690719127655], [1.2388792037963867, -0.5793540477752686]]),
("rmsprop(lr=0.05, centered=true, momentum=0.5, maximize=true, eps=1e-4)", &[[2.0022664070129395, -1.2518601417541504], [2.6741859912872314, -2.0009584426879883], [3.401177406311035, -2.866475820541382], [4.130525588989258, -3.7765705585479736], [4.837759494781494, -4.691154479980469]]),
("adadelta(lr=0.5, rho=0.8, eps=1e-3, weight_decay=0.1, maximize=true)", &[[1.5353295803070068, -0.7851714491844177], [1.5731520652770996, -0.8258026242256165], [1.613162875175476, -0.8729314208030701], [1.65525484085083, -0.927629828453064], [1.6993921995162964, -0.9911226034164429]]),
("nadam(lr=0.01, betas=(0.8, 0.9), weight_decay=0.1, momentum_decay=0.01)", &[[1.489046573638916, -0.7390466332435608], [1.4804023504257202, -0.7306058406829834], [1.4720463752746582, -0.7225638031959534], [1.4635813236236572, -0.7145284414291382], [1.4549200534820557, -0.706426203250885]]),
("nadam(lr=0.01, weight_decay=0.1, decoupled_weight_decay=true, maximize=true)", &[[1.5090645551681519, -0.7598145008087158], [1.5154235363006592, -0.7671083807945251], [1.5212743282318115, -0.7739754319190979], [1.5271204710006714, -0.7809180617332458], [1.5331248044967651, -0.7881076335906982]]),
("radam(lr=0.01, betas=(0.8, 0.9), weight_decay=0.1)", &[[1.4785000085830688, -0.7415937781333923], [1.4572508335113525, -0.7334259748458862], [1.4362667798995972, -0.7255035638809204], [1.415561318397522, -0.717832088470459], [1.3951469659805298, -0.7104155421257019], [1.3926149606704712, -0.7079176902770996], [1.3893442153930664, -0.7047019600868225], [1.3854612112045288, -0.7008972764015198], [1.3810518980026245, -0.6965932250022888], [1.37618088722229, -0.6918597221374512]]),
("radam(lr=0.01, weight_decay=0.1, decoupled_weight_decay=true, maximize=true)", &[[1.5184999704360962, -0.756906270980835], [1.537176251411438, -0.7639912962913513], [1.5560362339019775, -0.7712670564651489], [1.5750877857208252, -0.7787460088729858], [1.5943386554718018, -0.7864416241645813], [1.5930038690567017, -0.7859161496162415], [1.5917402505874634, -0.7854619026184082], [1.590538501739502, -0.785069465637207], [1.5893921852111816, -0.7847323417663574], [1.5882962942123413, -0.784445583820343]]),
("adamax(lr=0.05, betas=(0.8, 0.9), eps=1e-3, weight_decay=0.1, maximize=true)", &[[1.5499730110168457, -0.7999277114868164], [1.5988630056381226, -0.8437201380729675], [1.6468833684921265, -0.8844851851463318], [1.6942062377929688, -0.9234788417816162], [1.7409722805023193, -0.9613626599311829]]),
    ];

    #[test]
    fn f32_matches_torch_float32() {
        // Hyperparameters reach float32 the way torch casts Python scalars; torch's
        // FMAs (see the per-algorithm tests) leave at most a couple of ulps.
        for (spec, want) in TORCH_F32 {
            let mut opt = build::<f32>(spec).unwrap();
            let mut x = [1.5f32, -0.75];
            for w in want.iter() {
                let (a, b) = (x[0] as f64, x[1] as f64);
                let g = [(2.0 * a - 1.0) as f32, (3.0 * b * b * b + 0.5) as f32];
                opt.step(&mut [Param::new("x", &mut x, &g)]).unwrap();
                for (got, w) in x.iter().zip(w) {
                    let ulps = (got.to_bits() as i64 - (*w as f32).to_bits() as i64).abs();
                    assert!(ulps <= 2, "{spec}: {got} vs {w}");
                }
            }
        }
    }
}
