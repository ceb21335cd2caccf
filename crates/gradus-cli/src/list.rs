//! `gradus list`: the problems, optimizers and schedules, one line each.

use crate::cli_error::CliError;
use std::io::Write;

/// Entry point of `gradus list`.
pub fn main() -> Result<(), CliError> {
    let mut out = std::io::stdout().lock();
    let sections: [(&str, Vec<(&str, &str)>); 3] = [
        ("problems", gradus_problems::PROBLEMS.to_vec()),
        ("optimizers", gradus::optim::names()),
        ("schedules", gradus::schedule::names()),
    ];
    for (i, (title, items)) in sections.iter().enumerate() {
        let width = items.iter().map(|(n, _)| n.len()).max().unwrap_or(0);
        let res = (|| -> std::io::Result<()> {
            if i > 0 {
                writeln!(out)?;
            }
            writeln!(out, "{title}:")?;
            for (name, about) in items.iter() {
                writeln!(out, "  {name:<width$}  {about}")?;
            }
            Ok(())
        })();
        res.map_err(|e| CliError::io("writing to stdout", e))?;
    }
    Ok(())
}
