//! Errors are values: every fallible operation returns [`Result`], and every error
//! names the offending input and what would have been valid.

use std::fmt;

/// The result type of the gradus library.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Everything that can go wrong in the gradus core library.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A hyperparameter is NaN, infinite where it must be finite, or out of range.
    #[error("invalid {param} = {value} for {owner}: expected {expected}")]
    InvalidHyperparameter {
        /// The algorithm or schedule the parameter belongs to (`adam`, `step`, ...).
        owner: String,
        /// The parameter name, as in torch (`lr`, `betas[0]`, ...).
        param: String,
        /// The rejected value, as given.
        value: String,
        /// The valid range or choices.
        expected: String,
    },
    /// A name (optimizer, schedule, problem, dtype, ...) that gradus does not know.
    #[error("unknown {kind} '{name}'{}; valid: {}", did_you_mean(.name, .valid), .valid.join(", "))]
    UnknownName {
        /// What kind of name it was.
        kind: &'static str,
        /// The unknown name.
        name: String,
        /// All valid names.
        valid: Vec<String>,
    },
    /// A keyword argument that the named call does not take.
    #[error("{call}() got an unknown argument '{key}'; valid: {}", .valid.join(", "))]
    UnknownKey {
        /// The call (`adam`, `step`, ...).
        call: String,
        /// The unknown key.
        key: String,
        /// The keys the call accepts.
        valid: Vec<String>,
    },
    /// A call lacks an argument that has no default (e.g. `step` without `step_size`).
    #[error("{call}() is missing the required argument '{key}'")]
    MissingArgument {
        /// The call.
        call: String,
        /// The missing key.
        key: String,
    },
    /// An argument has the wrong type (a list where a number was expected, ...).
    #[error("{call}(): argument '{key}' must be {expected}, got {got}")]
    WrongType {
        /// The call.
        call: String,
        /// The argument.
        key: String,
        /// What was expected.
        expected: String,
        /// What was given.
        got: String,
    },
    /// A spec string that does not parse.
    #[error("cannot parse spec '{input}' at column {column}: {message}")]
    Syntax {
        /// The whole input.
        input: String,
        /// 1-based column of the problem.
        column: usize,
        /// What was wrong there.
        message: String,
    },
    /// A parameter tensor and its gradient differ in length.
    #[error("tensor '{name}': parameter has {params} elements but gradient has {grads}")]
    LengthMismatch {
        /// The tensor's name.
        name: String,
        /// Length of the parameter.
        params: usize,
        /// Length of the gradient.
        grads: usize,
    },
    /// Two tensors in one step share a name (state is looked up by name).
    #[error("tensor name '{0}' appears more than once in one step; names must be unique")]
    DuplicateName(String),
    /// A tensor changed length between steps, so its state no longer fits.
    #[error("tensor '{name}' has {got} elements but its optimizer state has {expected}")]
    StateShape {
        /// The tensor's name.
        name: String,
        /// Length of the state.
        expected: usize,
        /// Length of the tensor now.
        got: usize,
    },
    /// A gradient holds NaN or ±inf and the non-finite policy is `error`.
    #[error("non-finite gradient in tensor '{name}' at index {index} on step {step}")]
    NonFiniteGradient {
        /// The tensor's name.
        name: String,
        /// Index of the first non-finite element.
        index: usize,
        /// The 1-based step that was refused.
        step: u64,
    },
    /// Newton's method met a Hessian it cannot use.
    #[error("newton: {0}")]
    Newton(String),
    /// Saved state does not match the optimizer it is loaded into.
    #[error("state mismatch: {0}")]
    StateMismatch(String),
    /// A checkpoint that cannot be read: not a checkpoint, another version, truncated,
    /// corrupt (checksum), or a tensor missing or of the wrong dtype or shape.
    #[error("checkpoint: {0}")]
    Checkpoint(String),
    /// An operation this algorithm does not support (e.g. `newton` in an element-wise loop).
    #[error("{0}")]
    Unsupported(String),
}

impl Error {
    /// Shorthand for [`Error::InvalidHyperparameter`].
    pub fn invalid(
        owner: impl Into<String>,
        param: impl Into<String>,
        value: impl fmt::Display,
        expected: impl Into<String>,
    ) -> Self {
        Error::InvalidHyperparameter {
            owner: owner.into(),
            param: param.into(),
            value: value.to_string(),
            expected: expected.into(),
        }
    }
}

/// `" (did you mean 'adam'?)"` when one of `valid` is within a small edit distance of
/// `name` (a third of its length, at least one edit), or starts with it; else empty.
pub fn did_you_mean(name: &str, valid: &[String]) -> String {
    let name = name.to_lowercase();
    let distance = |a: &str, b: &str| {
        // Levenshtein distance over chars, one row at a time.
        let b: Vec<char> = b.chars().collect();
        let mut row: Vec<usize> = (0..=b.len()).collect();
        for (i, ca) in a.chars().enumerate() {
            let mut prev = row[0];
            row[0] = i + 1;
            for (j, &cb) in b.iter().enumerate() {
                let next = (prev + usize::from(ca != cb))
                    .min(row[j] + 1)
                    .min(row[j + 1] + 1);
                prev = row[j + 1];
                row[j + 1] = next;
            }
        }
        row[b.len()]
    };
    let limit = (name.chars().count() / 3).max(1);
    valid
        .iter()
        .map(|v| (distance(&name, &v.to_lowercase()), v))
        .filter(|(d, v)| *d <= limit || (name.len() >= 3 && v.starts_with(name.as_str())))
        .min_by_key(|(d, _)| *d)
        .map_or_else(String::new, |(_, v)| format!(" (did you mean '{v}'?)"))
}

#[cfg(test)]
mod did_you_mean_tests {
    use super::did_you_mean;

    #[test]
    fn suggests_the_nearest_name_only_when_it_is_near() {
        let valid: Vec<String> = ["adam", "adamw", "sgd", "cosine_annealing"]
            .iter()
            .map(|s| s.to_string())
            .collect();
        assert_eq!(did_you_mean("adamm", &valid), " (did you mean 'adam'?)");
        assert_eq!(did_you_mean("sgdd", &valid), " (did you mean 'sgd'?)");
        assert_eq!(
            did_you_mean("cosine", &valid),
            " (did you mean 'cosine_annealing'?)"
        );
        assert_eq!(did_you_mean("lbfgs", &valid), "");
    }
}
