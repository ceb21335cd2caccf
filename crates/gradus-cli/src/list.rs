//! `gradus list`: the problems, optimizers, schedules and weight averages, one line
//! each; `gradus list NAME` (or `--optimizer NAME`, `--schedule NAME`): one optimizer's,
//! schedule's or average's hyperparameters with their defaults, valid ranges and docs,
//! from `gradus::catalog` and `gradus::optim::averaging::catalog`.

use crate::cli_error::CliError;
use gradus::catalog::{self, Algorithm, HyperParam};
use serde_json::Value;
use std::io::Write;

/// Arguments of `gradus list`.
#[derive(Debug, Clone, Default, clap::Args)]
pub struct ListArgs {
    /// An optimizer, schedule or weight average to describe (e.g. `adam`, `one_cycle`, `ema`).
    #[arg(value_name = "NAME", conflicts_with_all = ["optimizer", "schedule"])]
    pub name: Option<String>,
    /// The optimizer to describe.
    #[arg(long, value_name = "NAME", conflicts_with = "schedule")]
    pub optimizer: Option<String>,
    /// The schedule to describe.
    #[arg(long, value_name = "NAME")]
    pub schedule: Option<String>,
}

/// Entry point of `gradus list`.
pub fn main(args: ListArgs) -> Result<(), CliError> {
    let text = match (&args.name, &args.optimizer, &args.schedule) {
        (Some(n), _, _) => describe(find(n, true, true)?),
        (_, Some(n), _) => describe(find(n, true, false)?),
        (_, _, Some(n)) => describe(find(n, false, true)?),
        _ => overview(),
    };
    let mut out = std::io::stdout().lock();
    out.write_all(text.as_bytes())
        .and_then(|_| out.flush())
        .map_err(|e| CliError::io("writing to stdout", e))
}

/// The optimizer or schedule called `name` (a spec's name part, so `adam(lr=0.1)` works).
fn find(name: &str, optimizers: bool, schedules: bool) -> Result<Algorithm, CliError> {
    let name = name.split('(').next().unwrap_or(name).trim();
    let found = optimizers
        .then(|| catalog::optimizer(name))
        .flatten()
        .or_else(|| schedules.then(|| catalog::schedule(name)).flatten())
        .or_else(|| {
            (optimizers && schedules)
                .then(|| averages().into_iter().find(|a| a.name == name))
                .flatten()
        });
    found.ok_or_else(|| {
        let mut valid: Vec<String> = Vec::new();
        let kind = match (optimizers, schedules) {
            (true, false) => "optimizer",
            (false, true) => "schedule",
            _ => "optimizer, schedule or average",
        };
        if optimizers {
            valid.extend(catalog::optimizers().iter().map(|a| a.name.to_string()));
        }
        if schedules {
            valid.extend(catalog::schedules().iter().map(|a| a.name.to_string()));
        }
        if optimizers && schedules {
            valid.extend(averages().iter().map(|a| a.name.to_string()));
        }
        CliError::usage(
            gradus::Error::UnknownName {
                kind,
                name: name.to_string(),
                valid,
            }
            .to_string(),
        )
    })
}

/// The weight averages `gradus run --average` takes.
fn averages() -> Vec<Algorithm> {
    gradus::optim::averaging::catalog()
}

fn overview() -> String {
    let optimizers: Vec<(String, String)> = catalog::optimizers()
        .into_iter()
        .map(|a| (a.name.to_string(), a.summary.to_string()))
        .collect();
    let schedules: Vec<(String, String)> = catalog::schedules()
        .into_iter()
        .map(|a| (a.name.to_string(), a.summary.to_string()))
        .collect();
    let averages: Vec<(String, String)> = averages()
        .into_iter()
        .map(|a| (a.name.to_string(), a.summary.to_string()))
        .collect();
    let problems: Vec<(String, String)> = gradus_problems::PROBLEMS
        .iter()
        .map(|(n, a)| (n.to_string(), a.to_string()))
        .collect();
    let mut s = String::new();
    for (i, (title, items)) in [
        ("problems", problems),
        ("optimizers", optimizers),
        ("schedules", schedules),
        ("weight averages (gradus run --average)", averages),
    ]
    .iter()
    .enumerate()
    {
        let width = items.iter().map(|(n, _)| n.len()).max().unwrap_or(0);
        if i > 0 {
            s.push('\n');
        }
        s.push_str(&format!("{title}:\n"));
        for (name, about) in items {
            s.push_str(&format!("  {name:<width$}  {about}\n"));
        }
    }
    s.push_str(
        "\n`gradus list NAME` shows an optimizer's, schedule's or average's hyperparameters.\n",
    );
    s
}

/// A default as a spec would write it: integers as integers, pairs in parentheses,
/// `none` for no value, `required` for an argument without a default.
fn default_text(p: &HyperParam) -> String {
    if p.required {
        return "required".to_string();
    }
    fn value(v: &Value, int: bool) -> String {
        match v {
            Value::Null => "none".to_string(),
            Value::Number(n) => match (n.as_f64(), int) {
                (Some(x), true) if x.fract() == 0.0 && x.abs() < 1e15 => format!("{x:.0}"),
                (Some(x), _) => gradus::spec::fmt_value(x),
                (None, _) => n.to_string(),
            },
            Value::Array(items) => {
                let inner: Vec<String> = items.iter().map(|i| value(i, int)).collect();
                inner.join(", ")
            }
            Value::String(s) => s.clone(),
            Value::Bool(b) => b.to_string(),
            other => other.to_string(),
        }
    }
    let int = p.kind.starts_with("int");
    match (&p.default, p.kind) {
        (Value::Array(_), "pair") => format!("({})", value(&p.default, int)),
        (Value::Array(_), _) => format!("[{}]", value(&p.default, int)),
        (v, _) => value(v, int),
    }
}

/// The table of one optimizer or schedule.
fn describe(a: Algorithm) -> String {
    let mut s = format!("{}: {}\n", a.name, a.summary);
    s.push_str(&format!("kind: {}\n", a.kind));
    if a.params.is_empty() {
        s.push_str("no hyperparameters\n");
        return s;
    }
    let rows: Vec<[String; 5]> = a
        .params
        .iter()
        .map(|p| {
            [
                p.name.to_string(),
                p.kind.to_string(),
                default_text(p),
                p.range.clone(),
                p.doc.to_string(),
            ]
        })
        .collect();
    let header = ["name", "type", "default", "valid", "what it is"];
    let widths: Vec<usize> = (0..4)
        .map(|k| {
            rows.iter()
                .map(|r| r[k].chars().count())
                .chain([header[k].len()])
                .max()
                .unwrap_or(0)
        })
        .collect();
    s.push_str("\nhyperparameters, in torch's positional order:\n");
    let line = |cells: [&str; 5]| {
        let mut l = String::from(" ");
        for (k, c) in cells.iter().enumerate() {
            if k < 4 {
                let pad = widths[k] - c.chars().count();
                l.push_str(&format!(" {c}{}", " ".repeat(pad + 1)));
            } else {
                l.push_str(&format!(" {c}"));
            }
        }
        l.trim_end().to_string() + "\n"
    };
    s.push_str(&line(header));
    for r in &rows {
        s.push_str(&line([&r[0], &r[1], &r[2], &r[3], &r[4]]));
    }
    let required: Vec<&str> = a
        .params
        .iter()
        .filter(|p| p.required)
        .map(|p| p.name)
        .collect();
    if !required.is_empty() {
        s.push_str(&format!("\nrequired: {}\n", required.join(", ")));
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn adam_lists_its_hyperparameters_with_defaults_and_ranges() {
        let text = describe(catalog::optimizer("adam").unwrap());
        assert!(text.starts_with("adam: "), "{text}");
        let lr = text
            .lines()
            .find(|l| l.trim_start().starts_with("lr "))
            .unwrap();
        assert!(lr.contains("0.001"), "{lr}");
        assert!(
            text.contains("betas") && text.contains("(0.9, 0.999)"),
            "{text}"
        );
    }

    #[test]
    fn integer_hyperparameters_print_as_integers() {
        let text = describe(catalog::schedule("step").unwrap());
        let row = text
            .lines()
            .find(|l| l.trim_start().starts_with("step_size"))
            .unwrap();
        assert!(row.contains(" int "), "{row}");
        assert!(!row.contains(".0 "), "{row}");
    }

    #[test]
    fn unknown_names_get_a_suggestion() {
        let e = find("adamm", true, true).unwrap_err();
        assert!(e.message.contains("did you mean 'adam'"), "{}", e.message);
    }
}
