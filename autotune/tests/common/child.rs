//! Helpers for the tests that run a real binary under bad input, shared by `autotune`,
//! `experiments` and `models` (whose tests include this file by path): temporary folders
//! removed at the end of their test, waiting for a child with a time limit, checking a
//! refusal, files left unchanged or left behind, a closed pipe.

// Each test crate that includes this file uses some of the helpers.
#![allow(dead_code)]

use std::io::{BufRead, BufReader, Read};
use std::os::unix::process::ExitStatusExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

/// The signal a write into a closed pipe raises (13 on Linux and the BSDs).
pub const SIGPIPE: i32 = 13;

/// A refusal must come before the work: well within this.
pub const FAST: Duration = Duration::from_secs(20);

/// A fresh, empty directory `<prefix>-<pid>-<name>` in the temporary folder, removed with
/// everything in it when dropped (at the end of the test that made it), so test runs leave
/// nothing behind.
pub struct TmpDir(pub PathBuf);

impl std::ops::Deref for TmpDir {
    type Target = Path;
    fn deref(&self) -> &Path {
        &self.0
    }
}

impl AsRef<Path> for TmpDir {
    fn as_ref(&self) -> &Path {
        &self.0
    }
}

impl Drop for TmpDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// A fresh, empty [`TmpDir`] `<prefix>-<pid>-<name>`.
pub fn tmp_dir(prefix: &str, name: &str) -> TmpDir {
    let d = std::env::temp_dir().join(format!("{prefix}-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    TmpDir(d)
}

/// Waits for `child` at most `limit`, killing it past that (the test then fails).
pub fn wait_for(mut child: Child, limit: Duration) -> (ExitStatus, String, Duration) {
    let start = Instant::now();
    let mut err = child.stderr.take().unwrap();
    let reader = std::thread::spawn(move || {
        let mut s = String::new();
        let _ = err.read_to_string(&mut s);
        s
    });
    let status = loop {
        if let Some(s) = child.try_wait().unwrap() {
            break s;
        }
        if start.elapsed() > limit {
            let _ = child.kill();
            let _ = child.wait();
            panic!("still running after {limit:?}: the refusal did not come before the work");
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    (status, reader.join().unwrap(), start.elapsed())
}

/// Runs `c` (described as `what` in failures) and checks a refusal: exit `code`, quickly,
/// an `error` first line on stderr naming every one of `names`, no panic. Returns stderr.
pub fn check_refusal(mut c: Command, what: &str, code: i32, names: &[&str]) -> String {
    c.stdout(Stdio::null()).stderr(Stdio::piped());
    let (status, err, took) = wait_for(c.spawn().unwrap(), FAST * 3);
    assert_eq!(
        status.signal(),
        None,
        "{what}: killed by a signal; stderr: {err}"
    );
    assert_eq!(status.code(), Some(code), "{what}: stderr: {err}");
    assert!(!err.contains("panicked"), "{what}: {err}");
    let first = err.lines().next().unwrap_or("");
    assert!(first.starts_with("error"), "{what}: first line `{first}`");
    for n in names {
        assert!(err.contains(n), "{what}: stderr does not name `{n}`: {err}");
    }
    assert!(took < FAST, "{what}: took {took:?}");
    err
}

/// The contents of [`blocking_file`].
pub const BLOCKING_FILE_TEXT: &[u8] = b"a file";

/// A regular file `a-file` in `dir` (holding [`BLOCKING_FILE_TEXT`]), and the path `name`
/// under it: an output no one can create, root included, since its folder is a file.
pub fn blocking_file(dir: &Path, name: &str) -> (PathBuf, String) {
    let file = dir.join("a-file");
    std::fs::write(&file, BLOCKING_FILE_TEXT).unwrap();
    let under = file.join(name).to_str().unwrap().to_string();
    (file, under)
}

/// Asserts that `path` still holds `before`.
pub fn unchanged(path: &Path, before: &[u8]) {
    assert_eq!(
        std::fs::read(path).unwrap(),
        before,
        "{} changed",
        path.display()
    );
}

/// The names of the entries of folder `dir`, sorted: what a run left there.
pub fn dir_names(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

/// Runs `c` with stdout into a pipe whose read end closes after `lines` lines; the program
/// must end (within `limit`) with 0 or by SIGPIPE, never a panic.
pub fn closed_pipe(mut c: Command, what: &str, lines: usize, limit: Duration) {
    let mut child = c
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let out = child.stdout.take().unwrap();
    if lines > 0 {
        let mut r = BufReader::new(out);
        for _ in 0..lines {
            let mut l = String::new();
            r.read_line(&mut l).unwrap();
        }
        drop(r);
    } else {
        drop(out);
    }
    let (status, err, _) = wait_for(child, limit);
    assert!(
        status.code() == Some(0) || status.signal() == Some(SIGPIPE),
        "{what}: {status:?}; stderr: {err}"
    );
    assert!(!err.contains("panicked"), "{what}: {err}");
}
