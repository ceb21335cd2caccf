//! `gradus`: run, compare, benchmark and report gradient-based optimizers.

mod args;
mod bench;
mod checkpoint;
mod cli_error;
mod compare;
mod history;
mod list;
mod output;
mod output_paths;
mod plots;
mod report;
mod run;
mod runner;
mod schedules;
mod serve;
mod sweep;

use clap::parser::ValueSource;
use clap::{CommandFactory, FromArgMatches, Parser, Subcommand};
use cli_error::CliError;

use std::io::Write;
use std::process::ExitCode;

/// Gradient-based optimizers exact to torch.optim, and the experiments that teach them.
#[derive(Debug, Parser)]
#[command(name = "gradus", version, about, long_about = None)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run one optimizer on one problem and print its history.
    Run(run::RunArgs),
    /// Run several optimizers on the same problem, start and seed, and compare them.
    Compare(compare::CompareArgs),
    /// List the problems, optimizers and schedules, or one optimizer's hyperparameters.
    List(list::ListArgs),
    /// Time optimizer steps and compare them with the memory bandwidth.
    Bench(bench::BenchArgs),
    /// Print (and plot) the learning rates of schedules over the steps.
    Schedules(schedules::SchedulesArgs),
    /// Run every experiment of the tutorials and write an HTML report with plots and animations.
    Report(report::ReportArgs),
    /// Sweep each optimizer over a log-spaced grid of learning rates and plot the result.
    Sweep(sweep::SweepArgs),
    /// Serve the optimizer playground (and its JSON API) on this machine.
    Serve(serve::ServeArgs),
}

/// Parses the argument lists that `gradus report` shows, with the same parser as the
/// command line, so each figure's command is exactly what it ran.
pub struct ReportCli;

impl ReportCli {
    fn parse(argv: &[String]) -> Result<Command, CliError> {
        Cli::try_parse_from(argv)
            .map(|c| c.command)
            .map_err(|e| CliError::usage(format!("internal report command is invalid: {e}")))
    }

    /// Parses `gradus compare ...`.
    pub fn parse_compare(argv: &[String]) -> Result<compare::CompareArgs, CliError> {
        match Self::parse(argv)? {
            Command::Compare(a) => Ok(a),
            _ => Err(CliError::usage("internal report command is not `compare`")),
        }
    }

    /// Parses `gradus sweep ...`.
    pub fn parse_sweep(argv: &[String]) -> Result<sweep::SweepArgs, CliError> {
        match Self::parse(argv)? {
            Command::Sweep(a) => Ok(a),
            _ => Err(CliError::usage("internal report command is not `sweep`")),
        }
    }

    /// Parses `gradus schedules ...`.
    pub fn parse_schedules(argv: &[String]) -> Result<schedules::SchedulesArgs, CliError> {
        match Self::parse(argv)? {
            Command::Schedules(a) => Ok(a),
            _ => Err(CliError::usage(
                "internal report command is not `schedules`",
            )),
        }
    }
}

fn main() -> ExitCode {
    // Last resort: a bug must still end in one `error:` line, never a backtrace.
    std::panic::set_hook(Box::new(|info| {
        let what = info
            .payload()
            .downcast_ref::<&str>()
            .map(|s| s.to_string())
            .or_else(|| info.payload().downcast_ref::<String>().cloned())
            .unwrap_or_else(|| "panic".into());
        let at = info
            .location()
            .map(|l| format!(" at {}:{}", l.file(), l.line()))
            .unwrap_or_default();
        // `eprintln!` would panic again (and abort) if stderr is full or closed.
        let _ = writeln!(
            std::io::stderr(),
            "error: internal error: {}{at} (please report this bug)",
            cli_error::one_line(&what)
        );
    }));
    let matches = match Cli::command().try_get_matches() {
        Ok(m) => m,
        Err(e) => return cli_error::clap_exit(e),
    };
    let mut cli = match Cli::from_arg_matches(&matches) {
        Ok(cli) => cli,
        Err(e) => return cli_error::clap_exit(e),
    };
    // `run --resume` checks the run-defining flags the user typed against the checkpoint.
    if let (Command::Run(args), Some(("run", sub))) = (&mut cli.command, matches.subcommand()) {
        args.explicit = sub
            .ids()
            .filter(|id| sub.value_source(id.as_str()) == Some(ValueSource::CommandLine))
            .map(|id| id.to_string())
            .collect();
    }
    let result = match cli.command {
        Command::Run(args) => run::main(args),
        Command::Compare(args) => compare::main(args),
        Command::List(args) => list::main(args),
        Command::Bench(args) => bench::run(&args),
        Command::Schedules(args) => schedules::main(args),
        Command::Report(args) => report::main(args),
        Command::Serve(args) => serve::main(args),
        Command::Sweep(args) => sweep::main(args),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => e.report(),
    }
}
