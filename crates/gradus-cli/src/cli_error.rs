//! Errors of the command line: one line on stderr starting with `error:`, and an exit
//! code (2 for bad input, 3 for a run that diverged).

use std::fmt;
use std::io::Write;
use std::process::ExitCode;

/// Exit code for bad input (flags, specs, files, checkpoints).
pub const EXIT_USAGE: u8 = 2;
/// Exit code for a run whose loss or gradient became non-finite.
pub const EXIT_DIVERGED: u8 = 3;

/// An error to print and exit with.
#[derive(Debug)]
pub struct CliError {
    /// The exit code.
    pub code: u8,
    /// The message (one line, without the `error: ` prefix).
    pub message: String,
}

impl CliError {
    /// Bad input: exit code 2.
    pub fn usage(message: impl Into<String>) -> Self {
        CliError {
            code: EXIT_USAGE,
            message: message.into(),
        }
    }

    /// A diverged run: exit code 3.
    pub fn diverged(message: impl Into<String>) -> Self {
        CliError {
            code: EXIT_DIVERGED,
            message: message.into(),
        }
    }

    /// An I/O failure (writing output files): exit code 1.
    pub fn io(context: impl fmt::Display, err: impl fmt::Display) -> Self {
        CliError {
            code: 1,
            message: format!("{context}: {err}"),
        }
    }

    /// Prints the error as one line and returns the exit code.
    pub fn report(&self) -> ExitCode {
        let line = self.message.replace('\n', " ");
        let _ = writeln!(std::io::stderr(), "error: {line}");
        ExitCode::from(self.code)
    }
}

impl fmt::Display for CliError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl From<gradus::Error> for CliError {
    fn from(e: gradus::Error) -> Self {
        CliError::usage(e.to_string())
    }
}

impl From<gradus_problems::ProblemError> for CliError {
    fn from(e: gradus_problems::ProblemError) -> Self {
        CliError::usage(e.to_string())
    }
}

/// Prints a clap error as a single `error:` line (help and version print normally).
pub fn clap_exit(e: clap::Error) -> ExitCode {
    use clap::error::ErrorKind;
    match e.kind() {
        ErrorKind::DisplayHelp
        | ErrorKind::DisplayVersion
        | ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand => {
            let _ = e.print();
            if e.kind() == ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand {
                ExitCode::from(EXIT_USAGE)
            } else {
                ExitCode::SUCCESS
            }
        }
        _ => {
            // clap's first paragraph, joined into one line: it names the culprit (a
            // missing argument is listed on the line after the message).
            let rendered = e.render().to_string();
            let first: Vec<&str> = rendered
                .lines()
                .skip_while(|l| l.trim().is_empty())
                .take_while(|l| !l.trim().is_empty())
                .map(str::trim)
                .collect();
            let mut first = first.join(" ");
            // clap's "tip: a similar argument exists: '--problem'" comes in a later
            // paragraph; keep it on the same line.
            if let Some(tip) = rendered
                .lines()
                .map(str::trim)
                .find(|l| l.starts_with("tip:"))
            {
                first = format!("{first} ({tip})");
            }
            let first = first.strip_prefix("error: ").unwrap_or(&first);
            let first = if first.is_empty() {
                "invalid arguments"
            } else {
                first
            };
            CliError::usage(first.to_string()).report()
        }
    }
}
