//! Checks on the output paths a command was given, made before any long work starts, so
//! that a run never ends with results it cannot write. Each error names the flag and the
//! path; the commands wrap it in their own error type (a usage error).

use std::path::{Path, PathBuf};

/// Checks that `path` (named `what` in messages, e.g. `--out`) can be written: not empty,
/// not a directory nor a device, its folder exists (it is created) and a file can be
/// created and removed there. Nothing that exists is changed.
pub fn output_file(what: &str, path: &Path) -> Result<(), String> {
    if path.as_os_str().is_empty() {
        return Err(format!("{what}: the path is empty"));
    }
    if let Ok(m) = std::fs::metadata(path) {
        if m.is_dir() {
            return Err(format!(
                "{what} {}: is a directory; give a file path",
                path.display()
            ));
        }
        if !m.is_file() {
            return Err(format!(
                "{what} {}: exists and is not a regular file (it would be replaced)",
                path.display()
            ));
        }
    }
    let dir = parent_of(path);
    if dir.exists() && !dir.is_dir() {
        return Err(format!(
            "{what} {}: {} is a file, not a folder",
            path.display(),
            dir.display()
        ));
    }
    std::fs::create_dir_all(&dir).map_err(|e| {
        format!(
            "{what} {}: cannot create the folder {}: {e}",
            path.display(),
            dir.display()
        )
    })?;
    probe(&dir, what, path)
}

/// Checks that the folder `dir` exists or can be created, and that files can be written in
/// it.
pub fn output_dir(what: &str, dir: &Path) -> Result<(), String> {
    if dir.exists() && !dir.is_dir() {
        return Err(format!(
            "{what} {}: exists and is not a folder",
            dir.display()
        ));
    }
    std::fs::create_dir_all(dir)
        .map_err(|e| format!("{what} {}: cannot create the folder: {e}", dir.display()))?;
    probe(dir, what, &dir.join("report"))
}

/// Creates and removes a hidden file beside `target` in `dir`.
fn probe(dir: &Path, what: &str, target: &Path) -> Result<(), String> {
    let name = target
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "out".into());
    let probe = dir.join(format!(".{name}.probe-{}", std::process::id()));
    std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(&probe)
        .map_err(|e| {
            format!(
                "{what} {}: cannot write in {}: {e}",
                target.display(),
                dir.display()
            )
        })?;
    let _ = std::fs::remove_file(&probe);
    Ok(())
}

/// The folder `path` is in (`.` for a bare file name).
fn parent_of(path: &Path) -> PathBuf {
    match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refuses_what_cannot_be_written_and_changes_nothing() {
        let dir = std::env::temp_dir().join(format!("out-path-test-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let file = dir.join("existing.json");
        std::fs::write(&file, b"keep").unwrap();
        assert!(output_file("--out", &file).is_ok());
        assert_eq!(
            std::fs::read(&file).unwrap(),
            b"keep",
            "an existing file is untouched"
        );
        let e = output_file("--out", &dir).unwrap_err();
        assert!(e.contains("--out") && e.contains("is a directory"), "{e}");
        let e = output_file("--out", &file.join("below.json")).unwrap_err();
        assert!(e.contains("is a file, not a folder"), "{e}");
        let e = output_file("--out", Path::new("")).unwrap_err();
        assert!(e.contains("the path is empty"), "{e}");
        let e = output_dir("--report-dir", &file).unwrap_err();
        assert!(e.contains("exists and is not a folder"), "{e}");
        assert!(output_dir("--report-dir", &dir.join("new")).is_ok());
        assert!(dir.join("new").is_dir(), "the folder is created");
        assert_eq!(
            std::fs::read_dir(&dir).unwrap().count(),
            2,
            "no probe file is left"
        );
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
