//! The `gradus` command (minimal stand-in: only `bench` lives in this worktree).

use clap::{Parser, Subcommand};

mod bench;

#[derive(Parser)]
#[command(
    name = "gradus",
    about = "Gradient-based optimizers exact to torch.optim"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Time optimizer steps and compare them with the memory bandwidth.
    Bench(bench::BenchArgs),
}

fn main() {
    let cli = Cli::parse();
    let result = match &cli.command {
        Command::Bench(args) => bench::run(args),
    };
    if let Err(e) = result {
        eprintln!("gradus: {e}");
        std::process::exit(2);
    }
}
