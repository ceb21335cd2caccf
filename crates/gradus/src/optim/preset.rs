//! Presets: a named rule that is another rule with other defaults and some keys
//! fixed (AdamW is Adam with `decoupled_weight_decay=true` and `weight_decay=1e-2`).
//! The preset writes no update of its own, so the two cannot drift apart.

use super::engine::Rule;
use crate::error::{Error, Result};
use crate::float::Float;
use crate::hyper::{HyperParam, Hyperparameters};
use crate::spec::{Args, Call, Value};
use std::fmt::Debug;
use std::marker::PhantomData;

/// What a preset changes about its base rule.
pub trait PresetOf: Debug + Clone + PartialEq + Send + Sync + 'static {
    /// The rule this is a preset of.
    type Base: Rule;
    /// The preset's spec name.
    const NAME: &'static str;
    /// One line, with the paper.
    const SUMMARY: &'static str;
    /// How many of the base's keys, counted from the end, the preset fixes: they are
    /// not accepted in its spec and keep the values of [`PresetOf::defaults`].
    const FIXED: usize;
    /// The base config with the preset's defaults (and fixed values).
    fn defaults() -> Self::Base;
    /// The base rule's [`Rule::is_fast`], or the preset's own fast-path test.
    fn is_fast<T: Float>(c: &<Self::Base as Rule>::Coeffs<T>) -> bool {
        <Self::Base as Rule>::is_fast::<T>(c)
    }
    /// The base rule's [`Rule::update_fast`], or the preset's own fast path.
    #[inline(always)]
    fn update_fast<T: Float>(c: &<Self::Base as Rule>::Coeffs<T>, p: &mut T, g: T, s: &mut [T]) {
        <Self::Base as Rule>::update_fast::<T>(c, p, g, s)
    }
}

/// The rule a [`PresetOf`] describes: its base config, with the preset's name,
/// defaults and keys.
#[derive(Debug)]
pub struct Preset<P: PresetOf> {
    /// The base rule's config.
    pub base: P::Base,
    _preset: PhantomData<P>,
}

impl<P: PresetOf> Preset<P> {
    /// The preset with `base` as its config. Its fixed keys must keep the preset's
    /// values ([`Hyperparameters::validate`] says which one does not).
    pub fn new(base: P::Base) -> Self {
        Preset {
            base,
            _preset: PhantomData,
        }
    }
}

impl<P: PresetOf> Clone for Preset<P> {
    fn clone(&self) -> Self {
        Preset {
            base: self.base.clone(),
            _preset: PhantomData,
        }
    }
}

impl<P: PresetOf> PartialEq for Preset<P> {
    fn eq(&self, other: &Self) -> bool {
        self.base == other.base
    }
}

impl<P: PresetOf> Default for Preset<P> {
    fn default() -> Self {
        Preset {
            base: P::defaults(),
            _preset: PhantomData,
        }
    }
}

impl<P: PresetOf> Hyperparameters for Preset<P> {
    const NAME: &'static str = P::NAME;
    const SUMMARY: &'static str = P::SUMMARY;
    const KEYS: &'static [&'static str] = <P::Base as Hyperparameters>::KEYS
        .split_at(<P::Base as Hyperparameters>::KEYS.len() - P::FIXED)
        .0;

    fn table_with(defaults: &Self) -> Vec<HyperParam> {
        let mut t = <P::Base as Hyperparameters>::table_with(&defaults.base);
        t.truncate(Self::KEYS.len());
        t
    }

    fn read(args: &Args<'_>, defaults: Self, owner: &str) -> Result<Self> {
        Ok(Preset {
            base: <P::Base as Hyperparameters>::read(args, defaults.base, owner)?,
            _preset: PhantomData,
        })
    }

    fn keywords(&self) -> Vec<(String, Value)> {
        let mut k = self.base.keywords();
        k.truncate(Self::KEYS.len());
        k
    }

    fn validate_as(&self, owner: &str) -> Result<()> {
        let fixed = P::defaults().keywords();
        let mine = self.base.keywords();
        if let Some(((key, _), (_, want))) = mine
            .iter()
            .zip(&fixed)
            .skip(Self::KEYS.len())
            .find(|(a, b)| a.1 != b.1)
        {
            return Err(Error::invalid(
                owner,
                key,
                "changed",
                format!("{want} ({owner} fixes it)"),
            ));
        }
        self.base.validate_as(owner)
    }

    fn from_call(call: &Call) -> Result<Self> {
        let args = Args::bind(call, Self::KEYS)?;
        let c = Self::read(&args, Self::default(), P::NAME)?;
        c.validate()?;
        Ok(c)
    }
}

impl<P: PresetOf> Rule for Preset<P> {
    const LOW_PRECISION_STATE: bool = <P::Base as Rule>::LOW_PRECISION_STATE;

    fn lr(&self) -> f64 {
        self.base.lr()
    }
    fn set_lr(&mut self, lr: f64) {
        self.base.set_lr(lr)
    }
    fn momentum(&self) -> Option<f64> {
        self.base.momentum()
    }
    fn set_momentum(&mut self, momentum: f64) -> Result<()> {
        self.base.set_momentum(momentum)
    }
    fn slot_names(&self) -> &'static [&'static str] {
        self.base.slot_names()
    }
    fn lazy_slots(&self) -> bool {
        self.base.lazy_slots()
    }
    fn slot_init(&self, slot: usize) -> f64 {
        self.base.slot_init(slot)
    }
    fn scalar_init(&self) -> Vec<f64> {
        self.base.scalar_init()
    }

    type Coeffs<T: Float> = <P::Base as Rule>::Coeffs<T>;

    fn coeffs<T: Float>(&self, step: u64, scalars: &mut [f64]) -> Self::Coeffs<T> {
        self.base.coeffs(step, scalars)
    }

    #[inline(always)]
    fn update<T: Float>(c: &Self::Coeffs<T>, p: &mut T, g: T, s: &mut [T]) {
        <P::Base as Rule>::update::<T>(c, p, g, s)
    }

    fn is_fast<T: Float>(c: &Self::Coeffs<T>) -> bool {
        P::is_fast::<T>(c)
    }

    #[inline(always)]
    fn update_fast<T: Float>(c: &Self::Coeffs<T>, p: &mut T, g: T, s: &mut [T]) {
        P::update_fast::<T>(c, p, g, s)
    }
}
