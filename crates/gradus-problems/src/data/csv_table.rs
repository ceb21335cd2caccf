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
    for (j, name) in header.fields.iter().enumerate() {
        if name.is_empty() {
            continue;
        }
        if let Some(k) = header.fields[j + 1..].iter().position(|n| n == name) {
            return Err(ProblemError::DuplicateColumn {
                file: file.to_string(),
                column: shown(name),
                first: j + 1,
                second: j + k + 2,
            });
        }
    }
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
                value: shown(text),
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

/// The largest data file read, in bytes (256 MiB).
pub const MAX_DATA_FILE_BYTES: u64 = 256 << 20;

/// The bytes of the data file at `path`: refused unless it is a regular file (a FIFO
/// would block forever, `/dev/zero` never ends) of at most [`MAX_DATA_FILE_BYTES`].
pub fn read_data_file(path: &Path) -> Result<Vec<u8>, ProblemError> {
    use std::io::Read;
    let io = |message: String| ProblemError::Io {
        path: path.to_path_buf(),
        message,
    };
    let regular = |meta: &std::fs::Metadata| -> Result<(), ProblemError> {
        if !meta.is_file() {
            return Err(io(
                "not a regular file (a directory, FIFO, socket or device); expected a CSV file"
                    .into(),
            ));
        }
        if meta.len() > MAX_DATA_FILE_BYTES {
            return Err(io(format!(
                "the file has {} bytes; at most {MAX_DATA_FILE_BYTES} (256 MiB) are read",
                meta.len()
            )));
        }
        Ok(())
    };
    // Checked before opening, since opening a FIFO blocks until it has a writer, and
    // again on the open file, in case the path was replaced in between.
    regular(&std::fs::metadata(path).map_err(|e| io(e.to_string()))?)?;
    let file = std::fs::File::open(path).map_err(|e| io(e.to_string()))?;
    regular(&file.metadata().map_err(|e| io(e.to_string()))?)?;
    let mut bytes = Vec::new();
    file.take(MAX_DATA_FILE_BYTES + 1)
        .read_to_end(&mut bytes)
        .map_err(|e| io(e.to_string()))?;
    if bytes.len() as u64 > MAX_DATA_FILE_BYTES {
        return Err(io(format!(
            "the file grew past {MAX_DATA_FILE_BYTES} bytes (256 MiB) while it was read"
        )));
    }
    Ok(bytes)
}

/// A fingerprint of a data file's bytes (64-bit FNV-1a and the length), which a
/// checkpoint stores so a run is never resumed on other data. It detects changed
/// files, not deliberate forgeries.
pub fn data_fingerprint(bytes: &[u8]) -> String {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for &b in bytes {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    format!("fnv1a64:{h:016x}:{}", bytes.len())
}

/// Reads the CSV file at `path` (see [`read_data_file`]) into a [`Dataset`]; see
/// [`parse_csv`] for the format.
pub fn load_csv(
    path: &Path,
    target: &str,
    features: Option<&[String]>,
) -> Result<Dataset, ProblemError> {
    let bytes = read_data_file(path)?;
    parse_csv(&bytes, &path.display().to_string(), target, features)
}

/// A cell's text as an error message shows it: at most 40 characters.
fn shown(text: &str) -> String {
    const MAX: usize = 40;
    match text.char_indices().nth(MAX) {
        Some((at, _)) => format!("{}... ({} characters)", &text[..at], text.chars().count()),
        None => text.to_string(),
    }
}
