//! Errors of the command line: one line on stderr starting with `error:`, and an exit
//! code. Every command keeps to one table:
//!
//! | code | meaning |
//! |------|---------|
//! | 0 | success |
//! | 2 | bad input: flags, specs, data files, checkpoints, output paths checked up front |
//! | 3 | a run diverged (non-finite loss, gradient, parameters or scheduled lr); `compare` when every run diverged |
//! | 4 | an I/O or output error: a file, stdout or stderr could not be written |

use std::fmt;
use std::io::Write;
use std::process::ExitCode;

/// Exit code for bad input (flags, specs, files, checkpoints).
pub const EXIT_USAGE: u8 = 2;
/// Exit code for a run whose loss or gradient became non-finite.
pub const EXIT_DIVERGED: u8 = 3;
/// Exit code for an I/O or output error (writing files, stdout or stderr).
pub const EXIT_IO: u8 = 4;

/// The longest error line printed; longer ones keep their start and end.
const MAX_LINE_CHARS: usize = 1000;

/// The text of an error as one safe line: control characters (terminal escapes,
/// newlines) escaped, and at most [`MAX_LINE_CHARS`] characters, eliding the middle
/// (so a megabyte of echoed input neither floods the terminal nor hides the reason,
/// which error messages put at their start and end).
pub fn one_line(message: &str) -> String {
    let mut out = String::with_capacity(message.len().min(4 * MAX_LINE_CHARS));
    for c in message.chars() {
        match c {
            '\n' | '\r' | '\t' => out.push(' '),
            c if c.is_control() => out.extend(c.escape_default()),
            c => out.push(c),
        }
    }
    let n = out.chars().count();
    if n <= MAX_LINE_CHARS {
        return out;
    }
    let head: String = out.chars().take(MAX_LINE_CHARS / 2).collect();
    let tail: String = out.chars().skip(n - MAX_LINE_CHARS / 3).collect();
    format!(
        "{head} ... ({} characters left out) ... {tail}",
        n - MAX_LINE_CHARS / 2 - MAX_LINE_CHARS / 3
    )
}

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

    /// An I/O failure (writing output files or stdout): exit code 4.
    pub fn io(context: impl fmt::Display, err: impl fmt::Display) -> Self {
        CliError {
            code: EXIT_IO,
            message: format!("{context}: {err}"),
        }
    }

    /// Prints the error as one line and returns the exit code (the same whether or not
    /// stderr could be written).
    pub fn report(&self) -> ExitCode {
        let _ = writeln!(std::io::stderr(), "error: {}", one_line(&self.message));
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
        ErrorKind::DisplayHelp | ErrorKind::DisplayVersion => {
            let text = e.render().to_string();
            let mut out = std::io::stdout().lock();
            match out.write_all(text.as_bytes()).and_then(|_| out.flush()) {
                Ok(()) => ExitCode::SUCCESS,
                Err(err) => CliError::io("writing to stdout", err).report(),
            }
        }
        ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand | ErrorKind::MissingSubcommand => {
            CliError::usage(
                "a command is required: run, compare, list, bench, schedules or report \
             (see `gradus --help`, or `gradus <command> --help`)",
            )
            .report()
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

#[cfg(test)]
mod tests {
    use super::one_line;

    #[test]
    fn error_lines_escape_control_characters_and_elide_floods() {
        let line = one_line("bad 'adam(lr=\u{1b}[31m1)'\nnext\u{7}");
        assert!(!line.chars().any(char::is_control), "{line:?}");
        assert!(
            line.contains("\\u{1b}[31m") && line.contains("next"),
            "{line}"
        );
        let flood = format!("start {} end: expected a number", "x".repeat(10 << 20));
        let line = one_line(&flood);
        assert!(line.chars().count() < 1100, "{}", line.len());
        assert!(line.starts_with("start ") && line.ends_with("end: expected a number"));
        assert!(line.contains("characters left out"), "{line}");
        assert_eq!(one_line("short and plain"), "short and plain");
    }
}
