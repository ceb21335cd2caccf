//! What one request may ask of the server, and the clock that stops a run past its budget.

use crate::cli_error::CliError;
use std::time::{Duration, Instant};

/// Caps on what one request may ask for.
#[derive(Debug, Clone)]
pub struct Limits {
    /// Updates per run.
    pub steps: u64,
    /// Runs in one `/api/run` request.
    pub runs: usize,
    /// Points per side of a `/api/surface` grid.
    pub grid: usize,
    /// Request body size in bytes.
    pub body_bytes: usize,
    /// `dim` of the n-dimensional functions.
    pub dim: usize,
    /// `hidden` units of the digits MLP.
    pub hidden: usize,
    /// Wall-clock time one request may compute for.
    pub time_budget: Duration,
    /// Runs computing at once, across all requests.
    pub concurrent_runs: usize,
}

impl Limits {
    /// The budget of a streamed run: it reports its progress as it goes and stops when
    /// the client goes away, so it may take longer than a plain request.
    pub fn stream_budget(&self) -> Duration {
        self.time_budget * STREAM_BUDGET_FACTOR
    }
}

/// How many plain request budgets a streamed run may take.
pub const STREAM_BUDGET_FACTOR: u32 = 6;

impl Default for Limits {
    fn default() -> Self {
        Limits {
            steps: 100_000,
            runs: 16,
            grid: 400,
            body_bytes: 1 << 20,
            dim: 1_000,
            hidden: 512,
            time_budget: Duration::from_secs(10),
            concurrent_runs: std::thread::available_parallelism().map_or(4, |n| 2 * n.get()),
        }
    }
}

/// The end of a request's time budget.
#[derive(Debug, Clone, Copy)]
pub struct Deadline {
    end: Instant,
    budget: Duration,
}

impl Deadline {
    /// A budget starting now.
    pub fn after(budget: Duration) -> Self {
        Deadline {
            end: Instant::now() + budget,
            budget,
        }
    }

    /// An error once the budget is spent; `what` says where the work stopped.
    pub fn check(&self, what: impl FnOnce() -> String) -> Result<(), CliError> {
        if Instant::now() >= self.end {
            Err(CliError::usage(format!(
                "stopped after the time budget of {} s per request ({}); ask for fewer \
                 steps or runs, or start gradus serve with a larger --time-limit",
                self.budget.as_secs_f64(),
                what()
            )))
        } else {
            Ok(())
        }
    }
}
