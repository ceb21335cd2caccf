//! Claims a figure's text makes about its runs ("reaches the minimum", "diverges",
//! "fastest", ...), checked against the runs every time the report is made, so the text
//! and the data cannot drift apart.

use crate::history::RunResult;
use crate::output::human;

/// What a claim says about one run (or all of them).
#[derive(Clone, Copy, Debug)]
pub enum Outcome {
    /// Ends with a loss within this tolerance of the known minimum (or optimum).
    Reaches(f64),
    /// Ends farther than this tolerance from the minimum.
    Misses(f64),
    /// Gets within this tolerance in fewer steps than every other run.
    Fastest(f64),
    /// Gets within this tolerance with fewer evaluations of the loss, gradient and
    /// Hessian than every other run.
    FewestEvaluations(f64),
    /// Ends with the highest loss of the figure.
    EndsWorst,
    /// Ends with the lowest loss of the figure.
    EndsBest,
    /// Ends with a loss below this value.
    EndsBelow(f64),
    /// Ends with a loss above this value.
    EndsAbove(f64),
    /// Its loss grows: the last is more than five times the first (or it stopped early).
    Diverges,
    /// Its first parameter ends within `tol` of `x`.
    EndsAt { x: f64, tol: f64 },
    /// Its parameters move less than this distance in all.
    Stalls(f64),
    /// Ends with a lower loss than run number `other`.
    Beats(usize),
    /// Ends with a test accuracy of at least this fraction.
    AccuracyAbove(f64),
    /// Keeps the least optimizer state per parameter of the figure.
    LeastState,
}

/// A claim: run number `run` (in the figure's order; `None` = every run) has `outcome`.
#[derive(Clone, Copy, Debug)]
pub struct Claim {
    pub run: Option<usize>,
    pub outcome: Outcome,
}

/// A claim about run `run`.
pub const fn run(run: usize, outcome: Outcome) -> Claim {
    Claim {
        run: Some(run),
        outcome,
    }
}

/// A claim about every run of the figure.
pub const fn every(outcome: Outcome) -> Claim {
    Claim { run: None, outcome }
}

fn final_loss(r: &RunResult) -> f64 {
    r.history.last().map_or(f64::NAN, |h| h.1)
}

fn gap(r: &RunResult) -> f64 {
    final_loss(r) - r.reference.unwrap_or(0.0)
}

/// Evaluations spent when `r` first got within `tol` of the minimum.
fn evaluations_to(r: &RunResult, tol: f64) -> Option<u64> {
    let reference = r.reference.unwrap_or(0.0);
    r.history
        .iter()
        .zip(&r.evaluations)
        .find(|(h, _)| h.1 - reference <= tol)
        .map(|(_, &e)| e)
}

/// The final test accuracy (a fraction), NaN if the run has none.
fn accuracy(r: &RunResult) -> f64 {
    r.summary
        .get("test_accuracy")
        .and_then(|v| v.as_f64())
        .unwrap_or(f64::NAN)
}

/// Bytes of optimizer state per parameter at the end of the run, NaN if not measured.
fn state_bytes(r: &RunResult) -> f64 {
    r.summary
        .get(crate::history::STATE_BYTES_PER_PARAM)
        .and_then(|v| v.as_f64())
        .unwrap_or(f64::NAN)
}

fn percent(a: f64) -> String {
    format!("{:.1}%", 100.0 * a)
}

fn params(r: &RunResult, last: bool) -> Option<&Vec<f64>> {
    let h = if last {
        r.history.last()
    } else {
        r.history.first()
    };
    h?.3.as_ref()
}

/// Checks `claim` against `results`: a sentence saying what the runs show, or why the
/// claim is false.
pub fn check(claim: &Claim, results: &[RunResult]) -> Result<String, String> {
    let runs: Vec<usize> = match claim.run {
        Some(i) if i < results.len() => vec![i],
        Some(i) => return Err(format!("the figure has no run number {i}")),
        None => (0..results.len()).collect(),
    };
    let mut said = Vec::new();
    for i in runs {
        said.push(check_one(claim.outcome, i, results)?);
    }
    Ok(said.join("; "))
}

fn check_one(outcome: Outcome, i: usize, results: &[RunResult]) -> Result<String, String> {
    let r = &results[i];
    let name = &r.label;
    let loss = final_loss(r);
    let verdict = |ok: bool, text: String| if ok { Ok(text) } else { Err(text) };
    match outcome {
        Outcome::Reaches(tol) => verdict(
            gap(r) <= tol,
            format!(
                "{name} reaches the minimum (final loss {} is within {} of it)",
                human(loss),
                human(tol)
            ),
        ),
        Outcome::Misses(tol) => verdict(
            gap(r) > tol,
            format!(
                "{name} does not reach the minimum (final loss {}, more than {} above it)",
                human(loss),
                human(tol)
            ),
        ),
        Outcome::Fastest(tol) => {
            let mine = r.steps_to(tol);
            let others_slower = results.iter().enumerate().all(|(j, o)| {
                j == i
                    || match (mine, o.steps_to(tol)) {
                        (Some(a), Some(b)) => a < b,
                        (Some(_), None) => true,
                        (None, _) => false,
                    }
            });
            verdict(
                others_slower,
                format!(
                    "{name} is the first within {} of the minimum ({} steps)",
                    human(tol),
                    mine.map_or("never".to_string(), |s| s.to_string())
                ),
            )
        }
        Outcome::FewestEvaluations(tol) => {
            let mine = evaluations_to(r, tol);
            let others_more = results.iter().enumerate().all(|(j, o)| {
                j == i
                    || match (mine, evaluations_to(o, tol)) {
                        (Some(a), Some(b)) => a < b,
                        (Some(_), None) => true,
                        (None, _) => false,
                    }
            });
            verdict(
                others_more,
                format!(
                    "{name} gets within {} of the minimum in the fewest evaluations ({})",
                    human(tol),
                    mine.map_or("never".to_string(), |s| s.to_string())
                ),
            )
        }
        Outcome::EndsWorst | Outcome::EndsBest => {
            let worst = matches!(outcome, Outcome::EndsWorst);
            let ok = results.iter().enumerate().all(|(j, o)| {
                j == i
                    || if worst {
                        final_loss(o) < loss
                    } else {
                        final_loss(o) > loss
                    }
            });
            let word = if worst { "highest" } else { "lowest" };
            verdict(
                ok,
                format!("{name} ends with the {word} loss ({})", human(loss)),
            )
        }
        Outcome::EndsBelow(v) => verdict(
            loss < v,
            format!("{name} ends at loss {} (below {})", human(loss), human(v)),
        ),
        Outcome::EndsAbove(v) => verdict(
            loss > v,
            format!("{name} ends at loss {} (above {})", human(loss), human(v)),
        ),
        Outcome::Diverges => {
            let first = r.history.first().map_or(f64::NAN, |h| h.1);
            let ok = r.stopped.is_some() || !loss.is_finite() || loss > 5.0 * first.abs();
            verdict(
                ok,
                format!("{name} diverges (loss {} → {})", human(first), human(loss)),
            )
        }
        Outcome::EndsAt { x, tol } => {
            let end = params(r, true).and_then(|p| p.first().copied());
            let ok = end.is_some_and(|e| (e - x).abs() <= tol);
            verdict(
                ok,
                format!(
                    "{name} ends at x ≈ {} (within {} of {})",
                    end.map_or("?".to_string(), human),
                    human(tol),
                    human(x)
                ),
            )
        }
        Outcome::Stalls(d) => {
            let moved = match (params(r, false), params(r, true)) {
                (Some(a), Some(b)) => a
                    .iter()
                    .zip(b)
                    .map(|(p, q)| (p - q).powi(2))
                    .sum::<f64>()
                    .sqrt(),
                _ => f64::NAN,
            };
            verdict(
                moved < d,
                format!("{name} hardly moves (by {} in all)", human(moved)),
            )
        }
        Outcome::Beats(j) => {
            let other = results
                .get(j)
                .ok_or_else(|| format!("the figure has no run number {j}"))?;
            let theirs = final_loss(other);
            verdict(
                loss < theirs,
                format!(
                    "{name} ends lower than {} ({} against {})",
                    other.label,
                    human(loss),
                    human(theirs)
                ),
            )
        }
        Outcome::AccuracyAbove(a) => {
            let mine = accuracy(r);
            verdict(
                mine >= a,
                format!(
                    "{name} ends at test accuracy {} (at least {})",
                    percent(mine),
                    percent(a)
                ),
            )
        }
        Outcome::LeastState => {
            let mine = state_bytes(r);
            let others: Vec<String> = results
                .iter()
                .enumerate()
                .filter(|&(j, _)| j != i)
                .map(|(_, o)| format!("{} {}", o.label, human(state_bytes(o))))
                .collect();
            verdict(
                results
                    .iter()
                    .enumerate()
                    .all(|(j, o)| j == i || state_bytes(o) > mine),
                format!(
                    "{name} keeps the least optimizer state: {} bytes per parameter ({})",
                    human(mine),
                    others.join(", ")
                ),
            )
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn result(label: &str, losses: &[f64]) -> RunResult {
        RunResult {
            optimizer: label.into(),
            history: losses
                .iter()
                .enumerate()
                .map(|(k, &l)| (k as u64, l, 0.1, Some(vec![l.sqrt()])))
                .collect(),
            evaluations: (1..=losses.len() as u64).collect(),
            summary: Default::default(),
            stopped: None,
            reference: Some(0.0),
            label: label.into(),
        }
    }

    #[test]
    fn claims_hold_or_say_why_not() {
        let rs = [
            result("fast", &[4.0, 1e-6, 0.0]),
            result("slow", &[4.0, 1.0, 1e-3]),
            result("up", &[4.0, 9.0, 100.0]),
        ];
        assert!(check(&run(0, Outcome::Fastest(1e-4)), &rs).is_ok());
        assert!(check(&run(1, Outcome::Fastest(1e-2)), &rs).is_err());
        assert!(check(&run(2, Outcome::Diverges), &rs).is_ok());
        assert!(check(&run(1, Outcome::Diverges), &rs).is_err());
        assert!(check(&run(2, Outcome::EndsWorst), &rs).is_ok());
        assert!(check(&run(0, Outcome::EndsBest), &rs).is_ok());
        assert!(check(&run(1, Outcome::Reaches(1e-2)), &rs).is_ok());
        let e = check(&run(1, Outcome::Reaches(1e-4)), &rs).unwrap_err();
        assert!(e.contains("slow"), "{e}");
        assert!(check(&every(Outcome::EndsBelow(1e3)), &rs).is_ok());
        assert!(check(&every(Outcome::Misses(1e-9)), &rs).is_err());
        assert!(check(&run(0, Outcome::Beats(1)), &rs).is_ok());
        assert!(check(&run(0, Outcome::EndsAt { x: 0.0, tol: 1e-9 }), &rs).is_ok());
        assert!(check(&run(2, Outcome::Stalls(1.0)), &rs).is_err());
        assert!(check(&run(7, Outcome::EndsBest), &rs).is_err());
    }

    #[test]
    fn accuracy_and_state_claims_read_the_summary() {
        let mut rs = [result("lean", &[2.0, 1.0]), result("fat", &[2.0, 0.5])];
        for (r, (acc, bytes)) in rs.iter_mut().zip([(0.97, 0.5), (0.99, 16.0)]) {
            r.summary.insert("test_accuracy".into(), acc.into());
            r.summary
                .insert(crate::history::STATE_BYTES_PER_PARAM.into(), bytes.into());
        }
        assert!(check(&every(Outcome::AccuracyAbove(0.95)), &rs).is_ok());
        let e = check(&run(0, Outcome::AccuracyAbove(0.98)), &rs).unwrap_err();
        assert!(e.contains("97.0%"), "{e}");
        let ok = check(&run(0, Outcome::LeastState), &rs).unwrap();
        assert!(
            ok.contains("0.5000 bytes per parameter (fat 16.0000)"),
            "{ok}"
        );
        assert!(check(&run(1, Outcome::LeastState), &rs).is_err());
        // A run that measured nothing makes neither claim hold.
        let bare = [result("bare", &[1.0]), result("other", &[1.0])];
        assert!(check(&run(0, Outcome::AccuracyAbove(0.0)), &bare).is_err());
        assert!(check(&run(0, Outcome::LeastState), &bare).is_err());
    }

    #[test]
    fn fewest_evaluations_counts_evaluations_not_steps() {
        // A step of L-BFGS may cost thirty evaluations: first in steps, last in cost.
        let mut costly = result("costly", &[4.0, 1e-6, 0.0]);
        costly.evaluations = vec![1, 30, 60];
        let cheap = result("cheap", &[4.0, 1.0, 1e-6]);
        let rs = [costly, cheap];
        assert!(check(&run(0, Outcome::Fastest(1e-4)), &rs).is_ok());
        assert!(check(&run(1, Outcome::FewestEvaluations(1e-4)), &rs).is_ok());
        let e = check(&run(0, Outcome::FewestEvaluations(1e-4)), &rs).unwrap_err();
        assert!(e.contains("(30)"), "{e}");
    }
}
