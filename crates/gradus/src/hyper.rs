//! Hyperparameters declared once.
//!
//! Every optimizer and schedule declares its hyperparameters in one table, with the
//! [`hyperparameters!`](crate::hyperparameters) macro: name, type, torch's default,
//! valid range and a one-line doc. The macro generates the config struct, its
//! `Default`, spec parsing ([`Hyperparameters::from_call`]), the spec it prints
//! ([`Hyperparameters::to_call`]), validation with a message naming the key and its
//! range ([`Hyperparameters::validate`]), and the table as data
//! ([`Hyperparameters::table`]) that `gradus list`, the playground's sliders and the
//! Python classes read.
//!
//! ```
//! use gradus::hyper::Hyperparameters;
//! use gradus::optim::AdamConfig;
//! let table = AdamConfig::table();
//! assert_eq!(table[0].name, "lr");
//! assert_eq!(table[0].default, serde_json::json!(0.001));
//! assert_eq!(table[0].range, "a finite number >= 0");
//! let c = AdamConfig::from_call(&gradus::spec::parse("adam(lr=0.01)").unwrap()).unwrap();
//! assert_eq!(c.lr, 0.01);
//! assert_eq!(c.to_call().to_string(), "adam(lr=0.01, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0, amsgrad=false, maximize=false, decoupled_weight_decay=false)");
//! ```

use crate::error::{Error, Result};
use crate::spec::{fmt_value, Args, Call, Value};

/// The valid values of a numeric hyperparameter: an interval, finite unless unbounded.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Range {
    /// Lower bound (`None`: unbounded below).
    pub min: Option<f64>,
    /// Upper bound (`None`: unbounded above).
    pub max: Option<f64>,
    /// Whether `min` itself is valid.
    pub min_inclusive: bool,
    /// Whether `max` itself is valid.
    pub max_inclusive: bool,
}

impl Range {
    /// Any finite number.
    pub const FINITE: Range = Range {
        min: None,
        max: None,
        min_inclusive: false,
        max_inclusive: false,
    };
    /// `[0, ∞)`, finite: learning rates, weight decay, ε.
    pub const NONNEG: Range = Range::at_least(0.0);
    /// `(0, ∞)`, finite.
    pub const POS: Range = Range::above(0.0);
    /// `[0, 1)`: betas and other decay rates.
    pub const UNIT_OPEN: Range = Range::half_open(0.0, 1.0);
    /// `[0, 1]`.
    pub const UNIT: Range = Range::closed(0.0, 1.0);
    /// `(0, 1)`.
    pub const OPEN_UNIT: Range = Range::open(0.0, 1.0);
    /// For flags and choices: no numeric range.
    pub const NONE: Range = Range::FINITE;

    /// `[lo, ∞)`.
    pub const fn at_least(lo: f64) -> Range {
        Range {
            min: Some(lo),
            max: None,
            min_inclusive: true,
            max_inclusive: false,
        }
    }
    /// `(lo, ∞)`.
    pub const fn above(lo: f64) -> Range {
        Range {
            min: Some(lo),
            max: None,
            min_inclusive: false,
            max_inclusive: false,
        }
    }
    /// `[lo, hi]`.
    pub const fn closed(lo: f64, hi: f64) -> Range {
        Range {
            min: Some(lo),
            max: Some(hi),
            min_inclusive: true,
            max_inclusive: true,
        }
    }
    /// `[lo, hi)`.
    pub const fn half_open(lo: f64, hi: f64) -> Range {
        Range {
            min: Some(lo),
            max: Some(hi),
            min_inclusive: true,
            max_inclusive: false,
        }
    }
    /// `(lo, hi)`.
    pub const fn open(lo: f64, hi: f64) -> Range {
        Range {
            min: Some(lo),
            max: Some(hi),
            min_inclusive: false,
            max_inclusive: false,
        }
    }
    /// `(lo, hi]`.
    pub const fn open_closed(lo: f64, hi: f64) -> Range {
        Range {
            min: Some(lo),
            max: Some(hi),
            min_inclusive: false,
            max_inclusive: true,
        }
    }

    /// Whether `x` is valid (NaN and infinities never are).
    pub fn contains(&self, x: f64) -> bool {
        x.is_finite()
            && self
                .min
                .is_none_or(|lo| x > lo || (self.min_inclusive && x == lo))
            && self
                .max
                .is_none_or(|hi| x < hi || (self.max_inclusive && x == hi))
    }

    /// The range in words, as validation errors print it: `a finite number >= 0`,
    /// `a number in [0, 1)`, `an integer >= 1`.
    pub fn describe(&self, integer: bool) -> String {
        let n = |x: f64| {
            if integer || x.fract() == 0.0 && x.abs() < 1e15 {
                format!("{}", x as i64)
            } else {
                fmt_value(x)
            }
        };
        let what = if integer {
            "an integer"
        } else {
            "a finite number"
        };
        match (self.min, self.max) {
            (None, None) => what.to_string(),
            (Some(lo), None) => {
                format!(
                    "{what} {} {}",
                    if self.min_inclusive { ">=" } else { ">" },
                    n(lo)
                )
            }
            (None, Some(hi)) => {
                format!(
                    "{what} {} {}",
                    if self.max_inclusive { "<=" } else { "<" },
                    n(hi)
                )
            }
            (Some(lo), Some(hi)) => format!(
                "{} in {}{}, {}{}",
                if integer { "an integer" } else { "a number" },
                if self.min_inclusive { "[" } else { "(" },
                n(lo),
                n(hi),
                if self.max_inclusive { "]" } else { ")" }
            ),
        }
    }
}

/// One hyperparameter of an optimizer or schedule, as data (for `gradus list`, the
/// playground and the Python bindings).
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct HyperParam {
    /// The spec key (torch's argument name): `lr`, `betas`, `nesterov`, ...
    pub name: &'static str,
    /// `float`, `int`, `bool`, `pair`, `float_list`, `int_list`, `choice`, `spec`,
    /// `spec_list`, `optional_float` or `optional_int`.
    pub kind: &'static str,
    /// The default (torch's), as JSON: a number, a boolean, `[a, b]`, a word, or
    /// `null` for a required argument or `None`.
    pub default: serde_json::Value,
    /// Whether the argument must be given.
    pub required: bool,
    /// Lower bound of the valid range (`None`: unbounded or not numeric).
    pub min: Option<f64>,
    /// Upper bound of the valid range.
    pub max: Option<f64>,
    /// Whether `min` is valid.
    pub min_inclusive: bool,
    /// Whether `max` is valid.
    pub max_inclusive: bool,
    /// The valid words, for `choice`.
    pub choices: Vec<&'static str>,
    /// Whether a slider for it should be logarithmic (learning rates, ε, decays).
    pub log_scale: bool,
    /// The valid range in words, as validation errors print it.
    pub range: String,
    /// One line of documentation.
    pub doc: &'static str,
}

/// An optimizer or schedule and its hyperparameter table, as data.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Algorithm {
    /// The spec name, e.g. `adam`.
    pub name: &'static str,
    /// One line, with the paper.
    pub summary: &'static str,
    /// `elementwise`, `tensor`, `closure`, `combinator` or `schedule`.
    pub kind: &'static str,
    /// The hyperparameters in torch's constructor order (the positional order).
    pub params: Vec<HyperParam>,
}

/// A type a hyperparameter can have: how it is read from a spec, written back,
/// checked against its [`Range`] and described.
pub trait HyperValue: Sized + Clone {
    /// The kind reported in [`HyperParam::kind`].
    const KIND: &'static str;
    /// Whether the range is checked on integers (changes only the wording).
    const INTEGER: bool = false;
    /// Reads the argument `key`, if given.
    fn read(args: &Args<'_>, key: &str) -> Result<Option<Self>>;
    /// The value as the spec language writes it.
    fn to_value(&self) -> Value;
    /// The value as JSON.
    fn to_json(&self) -> serde_json::Value;
    /// Checks the value against `range`, naming `owner` and `key` on failure.
    fn check(&self, _owner: &str, _key: &str, _range: &Range) -> Result<()> {
        Ok(())
    }
    /// The valid words, for choices.
    fn choices() -> Vec<&'static str> {
        Vec::new()
    }
}

fn check_number(owner: &str, key: &str, x: f64, range: &Range, integer: bool) -> Result<()> {
    if range.contains(x) {
        Ok(())
    } else {
        let value = if integer {
            format!("{}", x as u64)
        } else {
            fmt_value(x)
        };
        Err(Error::invalid(owner, key, value, range.describe(integer)))
    }
}

/// A count as the spec language writes it: digits, so `t_max=500` reads as an integer.
fn int_value(x: u64) -> Value {
    i64::try_from(x).map_or(Value::Number(x as f64), Value::Integer)
}

fn json_number(x: f64) -> serde_json::Value {
    serde_json::Number::from_f64(x).map_or(serde_json::Value::Null, serde_json::Value::Number)
}

impl HyperValue for f64 {
    const KIND: &'static str = "float";
    fn read(args: &Args<'_>, key: &str) -> Result<Option<Self>> {
        args.f64(key)
    }
    fn to_value(&self) -> Value {
        Value::Number(*self)
    }
    fn to_json(&self) -> serde_json::Value {
        json_number(*self)
    }
    fn check(&self, owner: &str, key: &str, range: &Range) -> Result<()> {
        check_number(owner, key, *self, range, false)
    }
}

impl HyperValue for u64 {
    const KIND: &'static str = "int";
    const INTEGER: bool = true;
    fn read(args: &Args<'_>, key: &str) -> Result<Option<Self>> {
        args.u64(key)
    }
    fn to_value(&self) -> Value {
        int_value(*self)
    }
    fn to_json(&self) -> serde_json::Value {
        serde_json::Value::from(*self)
    }
    fn check(&self, owner: &str, key: &str, range: &Range) -> Result<()> {
        check_number(owner, key, *self as f64, range, true)
    }
}

impl HyperValue for bool {
    const KIND: &'static str = "bool";
    fn read(args: &Args<'_>, key: &str) -> Result<Option<Self>> {
        args.bool(key)
    }
    fn to_value(&self) -> Value {
        Value::Bool(*self)
    }
    fn to_json(&self) -> serde_json::Value {
        serde_json::Value::Bool(*self)
    }
}

impl HyperValue for (f64, f64) {
    const KIND: &'static str = "pair";
    fn read(args: &Args<'_>, key: &str) -> Result<Option<Self>> {
        args.pair(key)
    }
    fn to_value(&self) -> Value {
        Value::Tuple(vec![Value::Number(self.0), Value::Number(self.1)])
    }
    fn to_json(&self) -> serde_json::Value {
        serde_json::Value::Array(vec![json_number(self.0), json_number(self.1)])
    }
    fn check(&self, owner: &str, key: &str, range: &Range) -> Result<()> {
        check_number(owner, &format!("{key}[0]"), self.0, range, false)?;
        check_number(owner, &format!("{key}[1]"), self.1, range, false)
    }
}

impl HyperValue for Vec<f64> {
    const KIND: &'static str = "float_list";
    fn read(args: &Args<'_>, key: &str) -> Result<Option<Self>> {
        args.f64_list(key)
    }
    fn to_value(&self) -> Value {
        Value::List(self.iter().map(|x| Value::Number(*x)).collect())
    }
    fn to_json(&self) -> serde_json::Value {
        serde_json::Value::Array(self.iter().map(|x| json_number(*x)).collect())
    }
    fn check(&self, owner: &str, key: &str, range: &Range) -> Result<()> {
        for (i, x) in self.iter().enumerate() {
            check_number(owner, &format!("{key}[{i}]"), *x, range, false)?;
        }
        Ok(())
    }
}

impl HyperValue for Vec<u64> {
    const KIND: &'static str = "int_list";
    const INTEGER: bool = true;
    fn read(args: &Args<'_>, key: &str) -> Result<Option<Self>> {
        args.u64_list(key)
    }
    fn to_value(&self) -> Value {
        Value::List(self.iter().map(|x| int_value(*x)).collect())
    }
    fn to_json(&self) -> serde_json::Value {
        serde_json::Value::Array(self.iter().map(|x| serde_json::Value::from(*x)).collect())
    }
    fn check(&self, owner: &str, key: &str, range: &Range) -> Result<()> {
        for (i, x) in self.iter().enumerate() {
            check_number(owner, &format!("{key}[{i}]"), *x as f64, range, true)?;
        }
        Ok(())
    }
}

/// An optional number, written `none` in a spec (torch's `None`).
impl HyperValue for Option<f64> {
    const KIND: &'static str = "optional_float";
    fn read(args: &Args<'_>, key: &str) -> Result<Option<Self>> {
        match args.get(key) {
            Some(Value::Call(c)) if c.name == "none" && c.positional.is_empty() => Ok(Some(None)),
            _ => Ok(args.f64(key)?.map(Some)),
        }
    }
    fn to_value(&self) -> Value {
        match self {
            Some(x) => Value::Number(*x),
            None => Value::Call(Call::bare("none")),
        }
    }
    fn to_json(&self) -> serde_json::Value {
        self.map_or(serde_json::Value::Null, json_number)
    }
    fn check(&self, owner: &str, key: &str, range: &Range) -> Result<()> {
        self.map_or(Ok(()), |x| check_number(owner, key, x, range, false))
    }
}

/// An optional count, written `none` in a spec (torch's `None`).
impl HyperValue for Option<u64> {
    const KIND: &'static str = "optional_int";
    const INTEGER: bool = true;
    fn read(args: &Args<'_>, key: &str) -> Result<Option<Self>> {
        match args.get(key) {
            Some(Value::Call(c)) if c.name == "none" && c.positional.is_empty() => Ok(Some(None)),
            _ => Ok(args.u64(key)?.map(Some)),
        }
    }
    fn to_value(&self) -> Value {
        match self {
            Some(x) => int_value(*x),
            None => Value::Call(Call::bare("none")),
        }
    }
    fn to_json(&self) -> serde_json::Value {
        self.map_or(serde_json::Value::Null, serde_json::Value::from)
    }
    fn check(&self, owner: &str, key: &str, range: &Range) -> Result<()> {
        self.map_or(Ok(()), |x| check_number(owner, key, x as f64, range, true))
    }
}

/// A nested spec, e.g. the inner optimizer of a wrapper: `inner=adam(lr=1e-3)`.
impl HyperValue for Call {
    const KIND: &'static str = "spec";
    fn read(args: &Args<'_>, key: &str) -> Result<Option<Self>> {
        match args.get(key) {
            None => Ok(None),
            Some(Value::Call(c)) => Ok(Some(c.clone())),
            Some(v) => Err(Error::WrongType {
                call: args.call().name.clone(),
                key: key.to_string(),
                expected: "a spec such as adam(lr=1e-3)".into(),
                got: v.to_string(),
            }),
        }
    }
    fn to_value(&self) -> Value {
        Value::Call(self.clone())
    }
    fn to_json(&self) -> serde_json::Value {
        serde_json::Value::String(self.to_string())
    }
}

/// A list of nested specs: `schedulers=[step(step_size=10), exponential(gamma=0.99)]`.
impl HyperValue for Vec<Call> {
    const KIND: &'static str = "spec_list";
    fn read(args: &Args<'_>, key: &str) -> Result<Option<Self>> {
        Ok(args
            .call_list(key)?
            .map(|v| v.into_iter().cloned().collect()))
    }
    fn to_value(&self) -> Value {
        Value::List(self.iter().cloned().map(Value::Call).collect())
    }
    fn to_json(&self) -> serde_json::Value {
        serde_json::Value::Array(
            self.iter()
                .map(|c| serde_json::Value::String(c.to_string()))
                .collect(),
        )
    }
}

/// A config declared with [`hyperparameters!`](crate::hyperparameters): its table,
/// parsing, printing and validation.
pub trait Hyperparameters: Sized + Clone + Default {
    /// The spec name (`adam`, `step`, ...).
    const NAME: &'static str;
    /// One line, with the paper.
    const SUMMARY: &'static str;
    /// The spec keys, in torch's constructor order (positional arguments follow it).
    const KEYS: &'static [&'static str];

    /// The hyperparameter table as data, with torch's defaults.
    fn table() -> Vec<HyperParam> {
        Self::table_with(&Self::default())
    }

    /// The hyperparameter table with `defaults` as the defaults (for presets).
    fn table_with(defaults: &Self) -> Vec<HyperParam>;

    /// Reads the arguments of `call` (bound to `keys`), filling missing ones from
    /// `defaults`; `owner` names the config in errors. Does not validate.
    fn read(args: &Args<'_>, defaults: Self, owner: &str) -> Result<Self>;

    /// The hyperparameters as `key=value` pairs, in table order.
    fn keywords(&self) -> Vec<(String, Value)>;

    /// Checks every hyperparameter against its range, and the config's own rules
    /// across keys, naming `owner` and the first bad key.
    fn validate_as(&self, owner: &str) -> Result<()>;

    /// Builds the config from a spec call, filling torch's defaults and validating.
    fn from_call(call: &Call) -> Result<Self>;

    /// The config as a spec call that [`Hyperparameters::from_call`] reads back exactly.
    fn to_call(&self) -> Call {
        Call {
            name: Self::NAME.into(),
            positional: vec![],
            keywords: self.keywords(),
        }
    }

    /// Checks every hyperparameter, naming the first bad one and its valid range.
    fn validate(&self) -> Result<()> {
        self.validate_as(Self::NAME)
    }

    /// The config and its table as an [`Algorithm`] of the given kind.
    fn algorithm(kind: &'static str) -> Algorithm {
        Algorithm {
            name: Self::NAME,
            summary: Self::SUMMARY,
            kind,
            params: Self::table(),
        }
    }
}

/// The table entry of one hyperparameter (used by the macro).
#[doc(hidden)]
pub fn entry<V: HyperValue>(
    name: &'static str,
    default: &V,
    required: bool,
    range: Range,
    log_scale: bool,
    doc: &'static str,
) -> HyperParam {
    let numeric = matches!(
        V::KIND,
        "float" | "int" | "pair" | "float_list" | "int_list" | "optional_float"
    );
    let (min, max) = if numeric {
        (range.min, range.max)
    } else {
        (None, None)
    };
    HyperParam {
        name,
        kind: V::KIND,
        default: if required {
            serde_json::Value::Null
        } else {
            default.to_json()
        },
        required,
        min,
        max,
        min_inclusive: numeric && range.min_inclusive,
        max_inclusive: numeric && range.max_inclusive,
        choices: V::choices(),
        log_scale,
        range: if numeric {
            range.describe(V::INTEGER)
        } else if V::KIND == "choice" {
            format!("one of {}", V::choices().join(", "))
        } else if V::KIND == "bool" {
            "true or false".to_string()
        } else {
            "a spec".to_string()
        },
        doc,
    }
}

/// Reads one argument (used by the macro): the given value, else the default, else
/// (when `required`) an error naming the key.
#[doc(hidden)]
pub fn read_arg<V: HyperValue>(
    args: &Args<'_>,
    key: &str,
    default: V,
    required: bool,
) -> Result<V> {
    match V::read(args, key)? {
        Some(v) => Ok(v),
        None if required => Err(args.missing(key)),
        None => Ok(default),
    }
}

/// Declares a config: its struct, `Default`, and [`Hyperparameters`] impl, from one
/// table. Each field is `/// doc` then `name: Type = default, RANGE [, log] [, required];`
/// where `RANGE` is a [`Range`] constant or constructor (`UNIT_OPEN`, `at_least(1.0)`).
/// An optional `check = path;` after the fields names a function
/// `fn(&Config, owner: &str) -> Result<()>` for rules across keys, and an optional
/// `prepare = path;` a function `fn(&Call) -> Result<Call>` that rewrites a call
/// before it is read (torch's aliases such as `T_max` for `t_max`).
///
/// ```
/// gradus::hyperparameters! {
///     /// Hyperparameters of a toy optimizer.
///     pub struct ToyConfig("toy", "a toy for the docs") {
///         /// Learning rate.
///         lr: f64 = 0.1, NONNEG, log;
///         /// Number of inner steps.
///         inner: u64 = 1, at_least(1.0);
///     }
/// }
/// use gradus::hyper::Hyperparameters;
/// let e = ToyConfig::from_call(&gradus::spec::parse("toy(inner=0)").unwrap()).unwrap_err();
/// assert_eq!(e.to_string(), "invalid inner = 0 for toy: expected an integer >= 1");
/// ```
#[macro_export]
macro_rules! hyperparameters {
    (
        $(#[$meta:meta])*
        $vis:vis struct $name:ident ($spec:literal, $summary:literal) {
            $(
                #[doc = $doc:literal]
                $field:ident : $ty:ty = $default:expr , $($range:ident)::+ $(($($rarg:expr),*))? $(, $flag:ident)* ;
            )*
        }
        $(check = $check:path;)?
        $(prepare = $prepare:path;)?
    ) => {
        $(#[$meta])*
        #[derive(Debug, Clone, PartialEq)]
        $vis struct $name {
            $(
                #[doc = $doc]
                pub $field: $ty,
            )*
        }

        impl Default for $name {
            fn default() -> Self {
                $name { $($field: $default,)* }
            }
        }

        // The trait's entry points as inherent methods, so callers need no import.
        #[allow(dead_code)]
        impl $name {
            /// The spec keys, in torch's constructor order.
            pub const KEYS: &'static [&'static str] =
                <$name as $crate::hyper::Hyperparameters>::KEYS;

            /// Builds the config from a spec call, filling the defaults and validating.
            pub fn from_call(call: &$crate::spec::Call) -> $crate::error::Result<Self> {
                <$name as $crate::hyper::Hyperparameters>::from_call(call)
            }

            /// The config as a spec call that [`Self::from_call`] reads back exactly.
            pub fn to_call(&self) -> $crate::spec::Call {
                <$name as $crate::hyper::Hyperparameters>::to_call(self)
            }

            /// Checks every hyperparameter, naming the first bad one and its range.
            pub fn validate(&self) -> $crate::error::Result<()> {
                <$name as $crate::hyper::Hyperparameters>::validate(self)
            }
        }

        impl $crate::hyper::Hyperparameters for $name {
            const NAME: &'static str = $spec;
            const SUMMARY: &'static str = $summary;
            const KEYS: &'static [&'static str] = &[$(stringify!($field)),*];

            fn table_with(d: &Self) -> Vec<$crate::hyper::HyperParam> {
                vec![$(
                    $crate::hyper::entry::<$ty>(
                        stringify!($field),
                        &d.$field,
                        $crate::hyperparameters!(@has required $($flag)*),
                        $crate::hyper::Range::$($range)::+ $(($($rarg),*))?,
                        $crate::hyperparameters!(@has log $($flag)*),
                        $doc.trim(),
                    ),
                )*]
            }

            fn read(
                args: &$crate::spec::Args<'_>,
                defaults: Self,
                _owner: &str,
            ) -> $crate::error::Result<Self> {
                Ok($name {
                    $($field: $crate::hyper::read_arg::<$ty>(
                        args,
                        stringify!($field),
                        defaults.$field,
                        $crate::hyperparameters!(@has required $($flag)*),
                    )?,)*
                })
            }

            fn keywords(&self) -> Vec<(String, $crate::spec::Value)> {
                vec![$((
                    stringify!($field).to_string(),
                    $crate::hyper::HyperValue::to_value(&self.$field),
                ),)*]
            }

            fn validate_as(&self, owner: &str) -> $crate::error::Result<()> {
                $(
                    $crate::hyper::HyperValue::check(
                        &self.$field,
                        owner,
                        stringify!($field),
                        &$crate::hyper::Range::$($range)::+ $(($($rarg),*))?,
                    )?;
                )*
                $($check(self, owner)?;)?
                let _ = owner;
                Ok(())
            }

            fn from_call(call: &$crate::spec::Call) -> $crate::error::Result<Self> {
                $(let prepared = $prepare(call)?; let call = &prepared;)?
                let args = $crate::spec::Args::bind(call, Self::KEYS)?;
                let c = Self::read(&args, <$name as Default>::default(), $spec)?;
                $crate::hyper::Hyperparameters::validate(&c)?;
                Ok(c)
            }
        }
    };
    (@has $want:ident) => { false };
    (@has $want:ident $first:ident $($rest:ident)*) => {
        $crate::hyperparameters!(@eq $want $first) || $crate::hyperparameters!(@has $want $($rest)*)
    };
    (@eq log log) => { true };
    (@eq required required) => { true };
    (@eq $a:ident $b:ident) => { false };
}

/// Declares an enum of words a hyperparameter may take (`anneal_strategy=cos`), with
/// its spec reading and writing.
///
/// ```
/// gradus::choice! {
///     /// How to anneal.
///     pub enum Anneal { Cos = "cos", Linear = "linear" }
/// }
/// assert_eq!(Anneal::Cos.word(), "cos");
/// ```
#[macro_export]
macro_rules! choice {
    (
        $(#[$meta:meta])*
        $vis:vis enum $name:ident { $($variant:ident = $word:literal),+ $(,)? }
    ) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq)]
        $vis enum $name { $(#[doc = $word] $variant),+ }

        impl $name {
            /// Every valid word, in order.
            pub const WORDS: &'static [&'static str] = &[$($word),+];
            /// The word the spec language writes.
            pub fn word(self) -> &'static str {
                match self { $($name::$variant => $word),+ }
            }
        }

        impl $crate::hyper::HyperValue for $name {
            const KIND: &'static str = "choice";
            fn read(
                args: &$crate::spec::Args<'_>,
                key: &str,
            ) -> $crate::error::Result<Option<Self>> {
                match args.word(key)? {
                    None => Ok(None),
                    $(Some($word) => Ok(Some($name::$variant)),)+
                    Some(other) => Err($crate::error::Error::invalid(
                        &args.call().name,
                        key,
                        other.to_string(),
                        format!("one of {}", Self::WORDS.join(", ")),
                    )),
                }
            }
            fn to_value(&self) -> $crate::spec::Value {
                $crate::spec::Value::Call($crate::spec::Call::bare(self.word()))
            }
            fn to_json(&self) -> serde_json::Value {
                serde_json::Value::String(self.word().to_string())
            }
            fn choices() -> Vec<&'static str> {
                Self::WORDS.to_vec()
            }
        }
    };
}

#[cfg(test)]
mod tests {
    use super::*;

    crate::hyperparameters! {
        /// A config exercising every kind.
        struct Every("every", "test") {
            /// A rate.
            lr: f64 = 1e-3, NONNEG, log;
            /// A pair.
            betas: (f64, f64) = (0.9, 0.999), UNIT_OPEN;
            /// A count.
            n: u64 = 3, at_least(1.0), required;
            /// A flag.
            flag: bool = false, NONE;
            /// A list.
            ms: Vec<u64> = vec![], NONNEG;
            /// An optional.
            opt: Option<f64> = None, POS;
        }
    }

    fn parse(s: &str) -> Result<Every> {
        Every::from_call(&crate::spec::parse(s).unwrap())
    }

    #[test]
    fn reads_writes_and_round_trips() {
        let c = parse("every(0.5, n=4, ms=[1, 2], opt=0.25)").unwrap();
        assert_eq!(c.lr, 0.5);
        assert_eq!(c.n, 4);
        assert_eq!(c.ms, vec![1, 2]);
        assert_eq!(c.opt, Some(0.25));
        let text = c.to_call().to_string();
        assert_eq!(
            text,
            "every(lr=0.5, betas=(0.9, 0.999), n=4, flag=false, ms=[1, 2], opt=0.25)"
        );
        assert_eq!(parse(&text).unwrap(), c);
        assert_eq!(parse("every(n=1, opt=none)").unwrap().opt, None);
    }

    #[test]
    fn errors_name_the_key_and_range() {
        let msg = |s: &str| parse(s).unwrap_err().to_string();
        assert_eq!(
            msg("every(n=1, lr=-1)"),
            "invalid lr = -1.0 for every: expected a finite number >= 0"
        );
        assert_eq!(
            msg("every(n=1, betas=(0.9, 1.0))"),
            "invalid betas[1] = 1.0 for every: expected a number in [0, 1)"
        );
        assert_eq!(
            msg("every(n=0)"),
            "invalid n = 0 for every: expected an integer >= 1"
        );
        assert!(
            msg("every(lr=0.1)").contains("n"),
            "{}",
            msg("every(lr=0.1)")
        );
        assert!(msg("every(n=1, opt=0)").contains("> 0"));
    }

    #[test]
    fn table_is_data() {
        let t = Every::table();
        assert_eq!(t.iter().map(|p| p.name).collect::<Vec<_>>(), Every::KEYS);
        assert_eq!(t[0].kind, "float");
        assert!(t[0].log_scale && !t[1].log_scale);
        assert_eq!(t[0].min, Some(0.0));
        assert_eq!(t[2].default, serde_json::Value::Null);
        assert!(t[2].required);
        assert_eq!(t[3].range, "true or false");
        assert_eq!(t[3].min, None);
        assert_eq!(t[5].default, serde_json::Value::Null);
    }

    #[test]
    fn ranges_describe_themselves() {
        assert_eq!(Range::UNIT.describe(false), "a number in [0, 1]");
        assert_eq!(Range::POS.describe(false), "a finite number > 0");
        assert_eq!(Range::open(0.0, 1.0).describe(false), "a number in (0, 1)");
        assert!(!Range::NONNEG.contains(f64::INFINITY));
        assert!(!Range::NONNEG.contains(f64::NAN));
        assert!(Range::UNIT_OPEN.contains(0.0) && !Range::UNIT_OPEN.contains(1.0));
    }
}
