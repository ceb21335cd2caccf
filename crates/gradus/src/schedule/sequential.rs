//! `sequential`: run schedules one after another, switching at milestones (torch's
//! `SequentialLR`).
//!
//! ```text
//! sequential(schedulers=[linear(start_factor=0.1, total_iters=10), cosine_annealing(t_max=90)], milestones=[10])
//! ```
//!
//! Child `i` runs for updates `milestones[i−1] <= k < milestones[i]`. All children act
//! on the one learning rate, exactly as torch's children share the optimizer's
//! `param_groups[0]['lr']`:
//!
//! * Construction: every child is built in order from the optimizer's lr (each built
//!   child sets the lr as torch's construction would, which matters only for
//!   `one_cycle`, which rewrites the group's `initial_lr` to `max_lr/div_factor`, so the
//!   children after it, and the lr the sequence starts from, use that instead). Then
//!   the lr is reset to `initial_lr` and only the first child takes its initial step
//!   (so `linear` as the first child starts at `start_factor·η`, while the later
//!   children's construction effects are undone).
//! * Within a child's stretch, the child takes ordinary recursive steps from the
//!   shared lr.
//! * At a milestone, the next child is restarted with torch's `step(0)`: its epoch is
//!   set to 0 and its lr comes from its closed form at 0 (from its own base lr, not
//!   the lr the previous child left), so for instance a `cosine_annealing` child
//!   starts at `η_min + (η − η_min)·(1 + cos 0)/2` and then recurses from there, and
//!   `linear` starts at `start_factor·η`. Children without a closed form
//!   (`cosine_annealing_warm_restarts`, `one_cycle`, the tutorial forms) evaluate
//!   their formula at 0.
//! * A child's own step count restarts at its milestone: `cosine_annealing(t_max=90)`
//!   after `milestones=[10]` reaches its minimum at update 100.
//! * The momentum, if a `one_cycle` child cycles it, is the last value a `one_cycle`
//!   child set (torch's group keeps it after that child's stretch ends).
//!
//! Both arguments are required, with one milestone fewer than children (torch's
//! rules). gradus also requires the milestones to be strictly increasing (torch does
//! not check; a repeated milestone would skip a child), refuses `reduce_on_plateau`
//! and nested `sequential` children (torch refuses the first and crashes on the
//! second), and refuses more than one `one_cycle` child (in torch they would
//! overwrite each other's `max_lr`, `min_lr` and momenta in the shared param group).

use super::{build_children, Chainable, Group, Schedule, ScheduleState};
use crate::error::{Error, Result};
use crate::hyper::HyperValue;
use crate::spec::{Args, Call, Value};

const OWNER: &str = "sequential";

/// The `sequential` schedule: see the [module docs](self).
#[derive(Debug, Clone)]
pub struct Sequential {
    children: Vec<Box<dyn Chainable>>,
    milestones: Vec<u64>,
    group: Group,
    last_epoch: u64,
}

crate::hyperparameters! {
    /// The arguments of [`Sequential`], with torch's names.
    pub struct SequentialConfig("sequential", "run schedulers one after another, switching at milestones (torch SequentialLR)") {
        /// The schedules, in order.
        schedulers: Vec<Call> = Vec::new(), NONE, required;
        /// Update counts at which the next schedule takes over, one fewer than the schedulers.
        milestones: Vec<u64> = Vec::new(), NONNEG, required;
    }
}

impl Sequential {
    /// Argument names, in positional order.
    pub const KEYS: &'static [&'static str] =
        <SequentialConfig as crate::hyper::Hyperparameters>::KEYS;

    /// Builds `sequential(schedulers=[...], milestones=[...])` for an optimizer whose lr
    /// is `base_lr` (and momentum, if it has one, `base_momentum`).
    pub fn from_call(call: &Call, base_lr: f64, base_momentum: Option<f64>) -> Result<Self> {
        let a = Args::bind(call, Self::KEYS)?;
        let calls: Vec<Call> = a
            .call_list("schedulers")?
            .ok_or_else(|| a.missing("schedulers"))?
            .into_iter()
            .cloned()
            .collect();
        let milestones = a
            .u64_list("milestones")?
            .ok_or_else(|| a.missing("milestones"))?;
        if !calls.is_empty() && milestones.len() + 1 != calls.len() {
            return Err(Error::invalid(
                OWNER,
                "milestones",
                format!("{milestones:?}"),
                format!(
                    "{} milestones: one fewer than the {} schedulers",
                    calls.len() - 1,
                    calls.len()
                ),
            ));
        }
        if let Some(w) = milestones.windows(2).find(|w| w[1] <= w[0]) {
            return Err(Error::invalid(
                OWNER,
                "milestones",
                format!("{milestones:?}"),
                format!(
                    "a strictly increasing list of update counts ({} comes after {})",
                    w[1], w[0]
                ),
            ));
        }
        let built = build_children(OWNER, &calls, base_lr, base_momentum)?;
        let children = built.schedules;
        let initial_lr = built.initial_lrs[built.initial_lrs.len() - 1];
        // The momentum the group holds after the children's construction.
        let mut group = Group {
            lr: initial_lr,
            momentum: None,
        };
        for child in &children {
            if let Some(m) = child.momentum() {
                group.momentum = Some(m);
            }
        }
        // SequentialLR.__init__: reset the lr to initial_lr, then only the child meant
        // for update 0 takes its initial step.
        let mut s = Sequential {
            children,
            milestones,
            group,
            last_epoch: 0,
        };
        let idx = s.milestones.partition_point(|&m| m == 0);
        let child = &mut s.children[idx];
        child.begin(initial_lr);
        s.group.follow(child.as_ref());
        Ok(s)
    }

    /// The index of the child that produces the lr of the next update.
    pub fn active(&self) -> usize {
        self.milestones.partition_point(|&m| m <= self.last_epoch)
    }
}

impl Schedule for Sequential {
    fn name(&self) -> &'static str {
        OWNER
    }
    fn spec(&self) -> Call {
        Call {
            name: OWNER.into(),
            positional: vec![],
            keywords: vec![
                (
                    "schedulers".into(),
                    Value::List(
                        self.children
                            .iter()
                            .map(|c| Value::Call(c.spec()))
                            .collect(),
                    ),
                ),
                ("milestones".into(), self.milestones.to_value()),
            ],
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
        let idx = self.active();
        let child = &mut self.children[idx];
        child.set_lr(self.group.lr);
        if idx > 0 && self.milestones[idx - 1] == self.last_epoch {
            child.restart();
        } else {
            child.step(metric);
        }
        self.group.follow(child.as_ref());
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
    use super::*;
    use crate::schedule::testing::*;
    use crate::schedule::{build, lrs, CosineAnnealingConfig, LinearConfig};

    #[test]
    fn linear_warm_up_then_cosine() {
        // η = 1: linear from 0.25 over 4 updates (0.25, 0.4375, 0.625, 0.8125), then at
        // update 4 the cosine restarts at its closed form (1) and anneals over t_max 8.
        let spec = "sequential([linear(0.25, 1, 4), cosine_annealing(8)], [4])";
        let got = lrs(build(spec, 1.0, None).unwrap().as_ref(), 30);
        let lin = LinearConfig {
            start_factor: 0.25,
            end_factor: 1.0,
            total_iters: 4,
        };
        let cos = CosineAnnealingConfig {
            t_max: 8,
            eta_min: 0.0,
        };
        let want: Vec<f64> = (0..30u64)
            .map(|k| {
                if k < 4 {
                    lin.closed_form(1.0, k)
                } else {
                    cos.closed_form(1.0, k - 4)
                }
            })
            .collect();
        for (k, (g, w)) in got.iter().zip(&want).enumerate() {
            assert!((g - w).abs() < 1e-12, "update {k}: {g} vs {w}");
        }
        assert_eq!(got[4], 1.0);
        assert!(got[12].abs() < 1e-15);
    }

    #[test]
    fn three_children_and_the_quirks() {
        // constant(0.5, total_iters=10) is cut at 3 (before it restores the lr), then
        // exponential restarts from η (its closed form at 0), then step.
        let s = build(
            "sequential([constant(0.5, 10), exponential(0.5), step(2, 0.1)], [3, 5])",
            1.0,
            None,
        )
        .unwrap();
        let got = lrs(s.as_ref(), 9);
        assert_close(&got, &[0.5, 0.5, 0.5, 1.0, 0.5, 1.0, 1.0, 0.1, 0.1], 1e-15);
        assert_eq!(s.momentum(), None);
    }

    #[test]
    fn a_milestone_at_zero_skips_the_first_child() {
        let s = build(
            "sequential([constant(0.5), exponential(0.5)], [0])",
            1.0,
            None,
        )
        .unwrap();
        assert_eq!(lrs(s.as_ref(), 3), vec![1.0, 0.5, 0.25]);
    }

    #[test]
    fn one_cycle_child_rewrites_initial_lr() {
        // one_cycle sets the group's initial_lr to max_lr/div_factor = 0.4: the
        // sequence starts from there, and linear (built before it, with base 1) scales
        // the shared lr 0.4 recursively, as in torch.
        let s = build(
            "sequential([linear(0.5, 1, 2), one_cycle(10, 10, div_factor=25, cycle_momentum=false)], [4])",
            1.0,
            None,
        )
        .unwrap();
        let got = lrs(s.as_ref(), 5);
        assert_close(&got, &[0.2, 0.3, 0.4, 0.4, 0.4], 1e-14);
        // with momentum cycling, the momentum is one_cycle's from the start
        let s = build(
            "sequential([linear(0.5, 1, 2), one_cycle(10, 10)], [4])",
            1.0,
            Some(0.9),
        )
        .unwrap();
        assert_eq!(s.momentum(), Some(0.95));
    }

    #[test]
    fn validation() {
        for (spec, param) in [
            ("sequential([linear, exponential(0.9)], [])", "milestones"),
            (
                "sequential([linear, exponential(0.9)], [3, 5])",
                "milestones",
            ),
            (
                "sequential([linear, exponential(0.9), step(3)], [5, 5])",
                "milestones",
            ),
            (
                "sequential([linear, exponential(0.9), step(3)], [5, 2])",
                "milestones",
            ),
            ("sequential([], [])", "schedulers"),
            (
                "sequential([linear(2), exponential(0.9)], [3])",
                "start_factor",
            ),
            (
                "sequential([linear, one_cycle(1, 10)], [3])",
                "cycle_momentum",
            ),
        ] {
            assert_eq!(invalid_param(spec, 0.1, None), param, "{spec}");
        }
        for spec in [
            "sequential([linear, reduce_on_plateau], [3])",
            "sequential([linear, sequential([linear], [])], [3])",
            "sequential([one_cycle(1, 10), one_cycle(1, 10)], [3])",
        ] {
            assert!(
                matches!(build(spec, 0.1, Some(0.9)), Err(Error::Unsupported(_))),
                "{spec}"
            );
        }
        assert!(matches!(
            build("sequential([linear, cosine], [3])", 0.1, None),
            Err(Error::UnknownName { .. })
        ));
        assert!(matches!(
            build("sequential([linear, 3], [3])", 0.1, None),
            Err(Error::WrongType { .. })
        ));
        assert!(matches!(
            build("sequential([linear])", 0.1, None),
            Err(Error::MissingArgument { .. })
        ));
        assert!(matches!(
            build("sequential(milestones=[])", 0.1, None),
            Err(Error::MissingArgument { .. })
        ));
        // a single child with no milestones is that child
        let a = build("sequential([cosine_annealing(10)], [])", 0.1, None).unwrap();
        let b = build("cosine_annealing(10)", 0.1, None).unwrap();
        assert_eq!(lrs(a.as_ref(), 40), lrs(b.as_ref(), 40));
    }

    #[test]
    fn state_round_trip() {
        round_trip(
            "sequential([linear(0.1, 1, 20), cosine_annealing_warm_restarts(5, 2), exponential(0.99)], [20, 60])",
            0.1,
            None,
            |_| 0.0,
        );
        round_trip(
            "sequential([one_cycle(1, 40), cosine_annealing(30)], [40])",
            0.1,
            Some(0.9),
            |_| 0.0,
        );
        // a state with the wrong number of children is refused
        let mut s = build("sequential([linear, exponential(0.9)], [5])", 0.1, None).unwrap();
        let mut st = s.state();
        st.children.pop();
        assert!(matches!(s.load_state(&st), Err(Error::StateMismatch(_))));
    }
}
