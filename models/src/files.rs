//! File access for the CLI and the loaders: reads that check a file's size against the memory
//! limit before reading it, a writability probe for output locations, and errors that always
//! name the path.

use anyhow::{bail, Context, Result};
use std::path::{Path, PathBuf};

/// Reads the whole file at `path` (`what` says what it is, for messages) after checking that
/// its size fits in the memory limit, so that a huge file is an error instead of an abort.
pub fn read(path: &Path, what: &str) -> Result<Vec<u8>> {
    let meta = metadata(path, what)?;
    if meta.is_dir() {
        bail!("{}: is a directory, not a {what} file", path.display());
    }
    backends::limits::check(
        &format!("reading {what} {}", path.display()),
        u128::from(meta.len()),
        1,
    )?;
    std::fs::read(path).with_context(|| format!("reading {what} {}", path.display()))
}

/// [`read`] as UTF-8 text.
pub fn read_to_string(path: &Path, what: &str) -> Result<String> {
    let bytes = read(path, what)?;
    String::from_utf8(bytes).map_err(|e| {
        anyhow::anyhow!(
            "{}: the {what} is not UTF-8 text (invalid byte at offset {})",
            path.display(),
            e.utf8_error().valid_up_to()
        )
    })
}

/// [`read_to_string`], parsed as JSON into a `T`; a parse error says the file is not a valid
/// `what`.
pub fn read_json<T: serde::de::DeserializeOwned>(path: &Path, what: &str) -> Result<T> {
    let text = read_to_string(path, what)?;
    serde_json::from_str(&text).with_context(|| format!("{}: not a valid {what}", path.display()))
}

/// The metadata of `path`, with "does not exist" for a missing path.
pub fn metadata(path: &Path, what: &str) -> Result<std::fs::Metadata> {
    match std::fs::metadata(path) {
        Ok(m) => Ok(m),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            bail!("{}: {what} does not exist", path.display())
        }
        Err(e) => Err(e).with_context(|| format!("reading {what} {}", path.display())),
    }
}

/// The directory that holds `path` and the last component of `path`, for writing a sibling
/// beside it (`.` and `..` are resolved first, so `--out .` names the real directory).
pub fn split_parent(path: &Path) -> Result<(PathBuf, std::ffi::OsString)> {
    let resolved;
    let p = if path.file_name().is_none() {
        resolved =
            std::fs::canonicalize(path).with_context(|| format!("resolving {}", path.display()))?;
        resolved.as_path()
    } else {
        path
    };
    let Some(name) = p.file_name() else {
        bail!("{}: cannot write here (no directory name)", path.display());
    };
    let parent = match p.parent() {
        Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
        _ => PathBuf::from("."),
    };
    Ok((parent, name.to_os_string()))
}

/// Checks, before long work starts, that `path` can be written later: creates its parent
/// directory and creates and removes a probe file there (where temporary files and the
/// atomic rename of a save go). The error names the directory and the cause.
pub fn check_writable(path: &Path) -> Result<()> {
    let (parent, name) = split_parent(path)?;
    std::fs::create_dir_all(&parent)
        .with_context(|| format!("cannot create the directory {}", parent.display()))?;
    let probe = parent.join(format!(
        ".{}.probe-{}",
        name.to_string_lossy(),
        std::process::id()
    ));
    std::fs::File::create(&probe).with_context(|| {
        format!(
            "cannot write in {} (for {})",
            parent.display(),
            path.display()
        )
    })?;
    std::fs::remove_file(&probe).with_context(|| format!("removing {}", probe.display()))?;
    Ok(())
}
