//! `gradus`: run, compare, benchmark and report gradient-based optimizers.

mod cli_error;
mod compare;
mod list;
mod output;
mod plots;
mod run;
mod runner;

use clap::{Parser, Subcommand};

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
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => return cli_error::clap_exit(e),
    };
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
