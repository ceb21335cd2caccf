//! Printing histories: JSON lines for machines, tutorial-style lines for people.

use crate::cli_error::CliError;
use crate::runner::Record;
use gradus::Float;
use std::io::Write;

/// Output format of `gradus run`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    /// A line every `--log-every` steps, like the tutorials' `Epoch: 100, Loss: 0.8915`
    /// but counting steps (the tutorials' "epoch" is one minibatch step).
    Text,
    /// One JSON object per step on stdout, then a `{"summary": {...}}` line.
    Jsonl,
}

/// A number as people read it: four decimals in the usual range (`0.8915`, like the
/// tutorials' losses), `0` for zero, and in scientific form with at most five significant
/// digits and no trailing zeros otherwise (`1e-4`, `1.2708e-4`).
pub fn human(x: f64) -> String {
    let a = x.abs();
    if x == 0.0 {
        "0".to_string()
    } else if (1e-3..1e6).contains(&a) {
        format!("{x:.4}")
    } else if x.is_finite() {
        let s = format!("{x:.4e}");
        match s.split_once('e') {
            Some((mantissa, exp)) if mantissa.contains('.') => {
                let m = mantissa.trim_end_matches('0').trim_end_matches('.');
                format!("{m}e{exp}")
            }
            _ => s,
        }
    } else {
        format!("{x}")
    }
}

/// Writes records to stdout in the chosen format.
pub struct Printer {
    format: Format,
    log_every: u64,
    out: std::io::BufWriter<std::io::Stdout>,
}

impl Printer {
    /// A printer for a run of `steps` updates starting after `first_step`.
    pub fn new(format: Format, log_every: Option<u64>, steps: u64) -> Self {
        let log_every = log_every.unwrap_or_else(|| (steps / 10).max(1));
        Printer {
            format,
            log_every: log_every.max(1),
            out: std::io::BufWriter::new(std::io::stdout()),
        }
    }

    /// Whether the record of `step` is printed (text: every `log_every` steps and the last).
    pub fn prints(&self, step: u64, last: bool) -> bool {
        self.format == Format::Jsonl || step.is_multiple_of(self.log_every) || last
    }

    /// Prints one record (text format: only every `log_every` steps and the last).
    pub fn record<T: Float>(&mut self, r: &Record<T>, last: bool) -> Result<(), CliError> {
        let res = match self.format {
            Format::Jsonl => serde_json::to_writer(&mut self.out, r)
                .map_err(std::io::Error::other)
                .and_then(|_| self.out.write_all(b"\n")),
            Format::Text => {
                if r.step.is_multiple_of(self.log_every) || last {
                    // Say where the loss is taken when it is not at the parameters.
                    let at = if r.loss_at_eval {
                        " at eval_params"
                    } else {
                        ""
                    };
                    // With --average, the averaged parameters' loss beside it.
                    let avg = match r.avg_loss {
                        None => String::new(),
                        Some(None) => ", Avg loss: -".to_string(),
                        Some(Some(l)) => format!(", Avg loss: {}", human(l.f64())),
                    };
                    writeln!(
                        self.out,
                        "Step: {}, Loss{at}: {}{avg}",
                        r.step,
                        human(r.loss.f64())
                    )
                } else {
                    Ok(())
                }
            }
        };
        res.map_err(|e| CliError::io("writing to stdout", e))
    }

    /// Prints a summary object: a `{"summary": ...}` line, or `key: value` lines.
    pub fn summary(
        &mut self,
        summary: &serde_json::Map<String, serde_json::Value>,
    ) -> Result<(), CliError> {
        let res = match self.format {
            Format::Jsonl => {
                let mut m = serde_json::Map::new();
                m.insert("summary".into(), serde_json::Value::Object(summary.clone()));
                serde_json::to_writer(&mut self.out, &m)
                    .map_err(std::io::Error::other)
                    .and_then(|_| self.out.write_all(b"\n"))
            }
            Format::Text => {
                let mut r = writeln!(self.out, "--");
                for (k, v) in summary {
                    let text = match v {
                        serde_json::Value::Number(n) => match n.as_f64() {
                            Some(x) if !n.is_u64() && !n.is_i64() => human(x),
                            _ => n.to_string(),
                        },
                        serde_json::Value::String(s) => s.clone(),
                        other => other.to_string(),
                    };
                    r = r.and_then(|_| writeln!(self.out, "{k}: {text}"));
                }
                r
            }
        };
        res.and_then(|_| self.out.flush())
            .map_err(|e| CliError::io("writing to stdout", e))
    }

    /// Flushes stdout (before an error is printed on stderr).
    pub fn flush(&mut self) {
        let _ = self.out.flush();
    }
}

#[cfg(test)]
mod tests {
    use super::human;

    #[test]
    fn numbers_print_readably() {
        assert_eq!(human(0.0), "0");
        assert_eq!(human(0.89151), "0.8915");
        assert_eq!(human(1e-4), "1e-4");
        assert_eq!(human(1.2708e-4), "1.2708e-4");
        assert_eq!(human(2.5e90), "2.5e90");
        assert_eq!(human(f64::NAN), "NaN");
    }
}
