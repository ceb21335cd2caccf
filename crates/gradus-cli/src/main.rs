//! `gradus`: run, compare, benchmark and report gradient-based optimizers.

mod checkpoint;
mod cli_error;
mod compare;
mod list;
mod output;
mod run;
mod runner;

use clap::parser::ValueSource;
use clap::{CommandFactory, FromArgMatches, Parser, Subcommand};

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
    /// List the problems, optimizers and schedules.
    List,
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
        eprintln!(
            "error: internal error: {}{at} (please report this bug)",
            what.replace('\n', " ")
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
        Command::List => list::main(),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => e.report(),
    }
}
