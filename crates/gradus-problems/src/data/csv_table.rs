//! Reading a numeric table with a header row from CSV.

use super::Dataset;
use crate::error::ProblemError;
use std::path::Path;

/// One CSV record with its 1-based line number.
struct Line {
    number: u64,
    fields: Vec<String>,
}

/// Whether every non-empty field of a line is a number (a count line or a data row,
/// never a header).
fn all_numeric(line: &Line) -> bool {
    line.fields.iter().any(|f| !f.is_empty())
        && line
            .fields
            .iter()
            .all(|f| f.is_empty() || f.parse::<f64>().is_ok())
}

/// Reads every record of a CSV text, trimming fields, with line numbers.
pub(crate) fn read_lines(
    bytes: &[u8],
    file: &str,
) -> Result<Vec<(u64, Vec<String>)>, ProblemError> {
    // Spreadsheet programs often start UTF-8 files with a byte-order mark.
    let bytes = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .trim(csv::Trim::All)
        .from_reader(bytes);
    let mut lines = Vec::new();
    for record in reader.records() {
        let record = record.map_err(|e| ProblemError::Malformed {
            file: file.to_string(),
            line: e.position().map_or(0, |p| p.line()),
            message: e.to_string(),
        })?;
        let number = record.position().map_or(0, |p| p.line());
        lines.push((number, record.iter().map(str::to_string).collect()));
    }
    Ok(lines)
}

/// Parses CSV text (`file` names it in errors) into a [`Dataset`].
///
/// The first line must name the columns, unless it holds only numbers (a count line
/// such as Boston's `506,13,,…`), in which case it is skipped and the second line
/// names them. `target` names the target column. `features` names the feature columns
/// in order; `None` takes every other column that holds numbers (columns with no
/// numeric cell at all, such as text labels, are left out). Every used cell must be a
/// finite number; errors name the line and column.
pub fn parse_csv(
    bytes: &[u8],
    file: &str,
    target: &str,
    features: Option<&[String]>,
) -> Result<Dataset, ProblemError> {
    let lines: Vec<Line> = read_lines(bytes, file)?
        .into_iter()
        .map(|(number, fields)| Line { number, fields })
        .collect();
    let empty = |message: &str| ProblemError::EmptyFile {
        file: file.to_string(),
        message: message.to_string(),
    };
    let first = lines.first().ok_or_else(|| empty("the file is empty"))?;
    let header_at = if !all_numeric(first) {
        0
    } else {
        match lines.get(1) {
            Some(second) if !all_numeric(second) => 1,
            Some(second) => {
                return Err(ProblemError::MissingHeader {
                    file: file.to_string(),
                    line: second.number,
                })
            }
            None => {
                return Err(ProblemError::MissingHeader {
                    file: file.to_string(),
                    line: first.number,
                })
            }
        }
    };
    let header = &lines[header_at];
    let rows = &lines[header_at + 1..];
    if rows.is_empty() {
        return Err(empty("a header but no data rows"));
    }
    for row in rows {
        if row.fields.len() != header.fields.len() {
            return Err(ProblemError::RaggedRow {
                file: file.to_string(),
                line: row.number,
                expected: header.fields.len(),
                got: row.fields.len(),
            });
        }
    }
    let column =
        |name: &str| {
            header.fields.iter().position(|h| h == name).ok_or_else(|| {
                ProblemError::MissingColumn {
                    file: file.to_string(),
                    column: name.to_string(),
                    available: header.fields.clone(),
                }
            })
        };
    let target_col = column(target)?;
    let feature_cols: Vec<usize> = match features {
        Some(list) => {
            let cols = list
                .iter()
                .map(|f| column(f))
                .collect::<Result<Vec<_>, _>>()?;
            if let Some(&j) = cols.iter().find(|&&j| j == target_col) {
                return Err(ProblemError::InvalidSetting {
                    param: "features".into(),
                    value: header.fields[j].clone(),
                    expected: format!("columns other than the target '{target}'"),
                });
            }
            cols
        }
        None => (0..header.fields.len())
            .filter(|&j| j != target_col)
            .filter(|&j| rows.iter().any(|r| r.fields[j].parse::<f64>().is_ok()))
            .collect(),
    };
    if feature_cols.is_empty() {
        return Err(ProblemError::NoFeatures {
            file: file.to_string(),
            target: target.to_string(),
        });
    }
    let cell = |row: &Line, j: usize| -> Result<f64, ProblemError> {
        let text = &row.fields[j];
        match text.parse::<f64>() {
            Ok(v) if v.is_finite() => Ok(v),
            _ => Err(ProblemError::NonNumeric {
                file: file.to_string(),
                line: row.number,
                column: j + 1,
                name: header.fields[j].clone(),
                value: text.clone(),
            }),
        }
    };
    let mut x = Vec::with_capacity(rows.len() * feature_cols.len());
    let mut y = Vec::with_capacity(rows.len());
    for row in rows {
        for &j in &feature_cols {
            x.push(cell(row, j)?);
        }
        y.push(cell(row, target_col)?);
    }
    Ok(Dataset {
        source: file.to_string(),
        names: feature_cols
            .iter()
            .map(|&j| header.fields[j].clone())
            .collect(),
        target: header.fields[target_col].clone(),
        x,
        y,
        rows: rows.len(),
        cols: feature_cols.len(),
    })
}

/// Reads the CSV file at `path` into a [`Dataset`]; see [`parse_csv`] for the format.
pub fn load_csv(
    path: &Path,
    target: &str,
    features: Option<&[String]>,
) -> Result<Dataset, ProblemError> {
    let bytes = std::fs::read(path).map_err(|e| ProblemError::Io {
        path: path.to_path_buf(),
        message: e.to_string(),
    })?;
    parse_csv(&bytes, &path.display().to_string(), target, features)
}
