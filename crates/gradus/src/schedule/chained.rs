//! `chained`: step several schedules together on one learning rate (torch's
//! `ChainedScheduler`).
//!
//! ```text
//! chained(schedulers=[step(step_size=10), exponential(gamma=0.99)])
//! ```
//!
//! Every child acts on the one lr, exactly as torch's children share the optimizer's
//! `param_groups[0]['lr']`, so the children's factors multiply wherever they follow
//! torch's recursive forms (`step`, `exponential`, `multi_step`, `linear`, `constant`,
//! `polynomial`, `cosine_annealing`, `swa_lr`), and a child that sets the lr outright
//! (`one_cycle`, `cyclic`, `cosine_annealing_warm_restarts`, the tutorial forms)
//! overrides what the children before it did in that step:
//!
//! * Construction: the children are built in order, as torch's user code builds them
//!   before handing them to `ChainedScheduler`: each starts from the group's
//!   `initial_lr` (the optimizer's lr, unless an earlier child changed it: a first
//!   `cyclic` child sets it to its `base_lr`, a `one_cycle` child to
//!   `max_lr/div_factor`), and each takes torch's initial step from the lr the previous
//!   child left (so `chained([linear(0.5), constant(0.5)])` starts at `0.25·η`),
//!   except that a `cyclic` child, whose construction still reads the group's
//!   `initial_lr` as its lower end, starts at that `initial_lr` (torch's quirk: only
//!   from the next update on does it cycle from its own `base_lr`). Unlike
//!   `sequential`, nothing is undone afterwards.
//! * Each update, every child takes one ordinary step, in order, from the lr the
//!   previous one left.
//! * The momentum, if a `one_cycle` or `cyclic` child cycles it, is the value the last
//!   such child set.
//!
//! `schedulers` is required and must not be empty (torch's rules). Like torch, gradus
//! refuses `reduce_on_plateau` children; it also refuses nested `sequential` and
//! `chained` children, and more than one `one_cycle` child (they would overwrite each
//! other's settings in torch's shared param group).

use super::{build_children, Chainable, Group, Schedule, ScheduleState};
use crate::error::Result;
use crate::spec::{Call, Value};

const OWNER: &str = "chained";

crate::hyperparameters! {
    /// The arguments of [`Chained`], with torch's names.
    pub struct ChainedConfig("chained", "step several schedulers together on the one lr, their factors multiplying (torch ChainedScheduler)") {
        /// The schedules, stepped in this order after every update.
        schedulers: Vec<Call> = Vec::new(), NONE, required;
    }
}

/// The `chained` schedule: see the [module docs](self).
#[derive(Debug, Clone)]
pub struct Chained {
    children: Vec<Box<dyn Chainable>>,
    group: Group,
    last_epoch: u64,
}

impl Chained {
    /// Builds `chained(schedulers=[...])` for an optimizer whose lr is `base_lr` (and
    /// momentum, if it has one, `base_momentum`).
    pub fn from_call(call: &Call, base_lr: f64, base_momentum: Option<f64>) -> Result<Self> {
        let cfg = ChainedConfig::from_call(call)?;
        let built = build_children(OWNER, &cfg.schedulers, base_lr, base_momentum)?;
        let (mut children, initial_lrs) = (built.schedules, built.initial_lrs);
        // Each child's construction took its initial step from the lr the one
        // before it left (the first from the group's initial_lr).
        let mut group = Group {
            lr: initial_lrs[0],
            momentum: None,
        };
        for (child, initial_lr) in children.iter_mut().zip(initial_lrs) {
            child.construct(group.lr, initial_lr);
            group.follow(child.as_ref());
        }
        Ok(Chained {
            children,
            group,
            last_epoch: 0,
        })
    }
}

impl Schedule for Chained {
    fn name(&self) -> &'static str {
        OWNER
    }
    fn spec(&self) -> Call {
        Call {
            name: OWNER.into(),
            positional: vec![],
            keywords: vec![(
                "schedulers".into(),
                Value::List(
                    self.children
                        .iter()
                        .map(|c| Value::Call(c.spec()))
                        .collect(),
                ),
            )],
        }
    }
    fn lr(&self) -> f64 {
        self.group.lr
    }
    fn momentum(&self) -> Option<f64> {
        self.group.momentum
    }
    fn step(&mut self, metric: f64) {
        self.last_epoch = self.last_epoch.saturating_add(1);
        for child in &mut self.children {
            child.set_lr(self.group.lr);
            child.step(metric);
            self.group.follow(child.as_ref());
        }
    }
    fn last_epoch(&self) -> u64 {
        self.last_epoch
    }
    fn state(&self) -> ScheduleState {
        self.group
            .state(OWNER, &self.spec(), self.last_epoch, &self.children)
    }
    fn load_state(&mut self, state: &ScheduleState) -> Result<()> {
        let mut next = self.clone();
        next.group = Group::load(OWNER, state, &self.spec(), &mut next.children)?;
        next.last_epoch = state.last_epoch;
        *self = next;
        Ok(())
    }
    fn boxed_clone(&self) -> Box<dyn Schedule> {
        Box::new(self.clone())
    }
}

#[cfg(test)]
mod tests {
    use crate::schedule::testing::*;
    use crate::schedule::{build, lrs};
    use crate::Error;

    #[test]
    fn factors_multiply() {
        // step(2, 0.5) and exponential(0.5) on η = 1: the exponential halves every
        // update, the step halves again every second one.
        let s = build("chained([step(2, 0.5), exponential(0.5)])", 1.0, None).unwrap();
        assert_eq!(lrs(s.as_ref(), 5), vec![1.0, 0.5, 0.125, 0.0625, 0.015625]);
        // initial steps compound: linear's and constant's start factors multiply
        let s = build("chained([linear(0.5, 1, 2), constant(0.5, 3)])", 1.0, None).unwrap();
        assert_close(&lrs(s.as_ref(), 5), &[0.25, 0.375, 0.5, 1.0, 1.0], 1e-15);
    }

    #[test]
    fn a_child_that_sets_the_lr_overrides_the_earlier_ones() {
        // cyclic sets the lr from its formula every step, so an exponential before it
        // has no effect after the first update, and one after it scales each value
        // once. The first lr is the group's initial_lr (1), torch's quirk.
        let plain = build("cyclic(0.1, 0.5, 2, cycle_momentum=false)", 1.0, None).unwrap();
        let before = build(
            "chained([exponential(0.5), cyclic(0.1, 0.5, 2, cycle_momentum=false)])",
            1.0,
            None,
        )
        .unwrap();
        let (p, b) = (lrs(plain.as_ref(), 9), lrs(before.as_ref(), 9));
        assert_eq!((p[0], b[0]), (0.1, 1.0));
        assert_eq!(p[1..], b[1..]);
        let after = build(
            "chained([cyclic(0.1, 0.5, 2, cycle_momentum=false), exponential(0.5)])",
            1.0,
            None,
        )
        .unwrap();
        // cyclic is first: the group's initial_lr and lr become its base_lr 0.1
        assert_close(&lrs(after.as_ref(), 3), &[0.1, 0.15, 0.25], 1e-15);
        // the momentum is the cycling child's
        let s = build("chained([step(3), cyclic(0.1, 0.5, 2)])", 1.0, Some(0.5)).unwrap();
        assert_eq!(s.momentum(), Some(0.9));
    }

    #[test]
    fn validation() {
        assert_eq!(invalid_param("chained([])", 0.1, None), "schedulers");
        assert_eq!(
            invalid_param("chained([step(3), linear(2)])", 0.1, None),
            "start_factor"
        );
        for spec in [
            "chained([step(3), reduce_on_plateau])",
            "chained([step(3), chained([step(3)])])",
            "chained([sequential([linear], []), step(3)])",
            "chained([one_cycle(1, 10), one_cycle(1, 10)])",
            "sequential([step(3), chained([step(3)])], [5])",
        ] {
            assert!(
                matches!(build(spec, 0.1, Some(0.9)), Err(Error::Unsupported(_))),
                "{spec}"
            );
        }
        assert!(matches!(
            build("chained", 0.1, None),
            Err(Error::MissingArgument { .. })
        ));
        assert!(matches!(
            build("chained([step(3), 3])", 0.1, None),
            Err(Error::WrongType { .. })
        ));
        // a single child is that child
        let a = build("chained([cosine_annealing(10)])", 0.1, None).unwrap();
        let b = build("cosine_annealing(10)", 0.1, None).unwrap();
        assert_eq!(lrs(a.as_ref(), 40), lrs(b.as_ref(), 40));
    }

    #[test]
    fn state_round_trip() {
        round_trip(
            "chained([step(10), exponential(0.99), cosine_annealing(33)])",
            0.1,
            None,
            |_| 0.0,
        );
        round_trip(
            "chained([cyclic(0.01, 0.1, 7), swa_lr(0.05, 30)])",
            0.1,
            Some(0.9),
            |_| 0.0,
        );
        let mut s = build("chained([step(3), exponential(0.9)])", 0.1, None).unwrap();
        let mut st = s.state();
        st.children.pop();
        assert!(matches!(s.load_state(&st), Err(Error::StateMismatch(_))));
    }
}
