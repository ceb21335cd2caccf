//! Checks, before the first step, that every output path can be written, so a long run
//! never ends in "cannot write" after the work is done.
//!
//! A path is refused (exit code 2) if it names a directory, an existing file that is
//! not a regular file (a device, FIFO, socket or symlink: writing there would replace
//! or feed it), or a directory that does not exist; and (exit code 4) if the system
//! refuses to create a file in its directory.

use crate::cli_error::CliError;
use std::path::Path;

/// The directory a file path lives in (`.` for a bare name).
fn directory_of(path: &Path) -> &Path {
    match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    }
}

/// Creates and removes a probe file in `dir`: the one sure test that it is writable.
///
/// The probe's name is unique per process *and* per call, so figures checked by
/// several threads at once (as `gradus report` does) never collide on it.
fn probe_writable(flag: &str, shown: &Path, dir: &Path) -> Result<(), CliError> {
    use std::sync::atomic::{AtomicU64, Ordering};
    static PROBES: AtomicU64 = AtomicU64::new(0);
    let n = PROBES.fetch_add(1, Ordering::Relaxed);
    let probe = dir.join(format!(".gradus-probe-{}-{n}", std::process::id()));
    match std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(&probe)
    {
        Ok(_) => {
            let _ = std::fs::remove_file(&probe);
            Ok(())
        }
        Err(e) => Err(CliError::io(
            format!(
                "{flag} {}: cannot write in directory '{}'",
                shown.display(),
                dir.display()
            ),
            e,
        )),
    }
}

/// Whatever is at `path` now: nothing, or a regular file (never followed if a link).
pub fn check_replaceable(flag: &str, path: &Path) -> Result<(), CliError> {
    let bad = |why: &str| CliError::usage(format!("{flag} {}: {why}", path.display()));
    match std::fs::symlink_metadata(path) {
        Ok(m) if m.is_dir() => Err(bad("is a directory, expected a file name")),
        Ok(m) if m.file_type().is_symlink() => Err(bad(
            "is a symbolic link; give the file's own path (gradus does not replace links)",
        )),
        Ok(m) if !m.is_file() => Err(bad(
            "exists and is not a regular file (a device, FIFO or socket); gradus only \
             replaces regular files",
        )),
        _ => Ok(()),
    }
}

/// Checks that `flag`'s `path` can be written as a file: see the module docs.
pub fn check_file(flag: &str, path: &Path) -> Result<(), CliError> {
    let bad = |why: &str| CliError::usage(format!("{flag} {}: {why}", path.display()));
    if path.file_name().is_none() {
        return Err(bad("is a directory, expected a file name"));
    }
    check_replaceable(flag, path)?;
    let dir = directory_of(path);
    if !dir.is_dir() {
        return Err(bad(&format!(
            "directory '{}' does not exist",
            dir.display()
        )));
    }
    probe_writable(flag, path, dir)
}

/// Creates `flag`'s directory `dir` if needed and checks that files can be written in it.
pub fn check_dir(flag: &str, dir: &Path) -> Result<(), CliError> {
    if std::fs::symlink_metadata(dir).is_ok_and(|m| !m.is_dir() && !m.file_type().is_symlink()) {
        return Err(CliError::usage(format!(
            "{flag} {}: exists and is not a directory",
            dir.display()
        )));
    }
    std::fs::create_dir_all(dir).map_err(|e| {
        let what = format!("{flag} {}: cannot create it", dir.display());
        // A path through a regular file is bad input, not a failing system.
        if e.kind() == std::io::ErrorKind::NotADirectory {
            CliError::usage(format!(
                "{what}: a part of the path is a file, not a directory"
            ))
        } else {
            CliError::io(what, e)
        }
    })?;
    probe_writable(flag, dir, dir)
}
