//! Command-line helpers shared by the workspace's three tools (`autotune`, `experiments`,
//! `models`): clap value parsers that refuse absurd numbers, the closed-pipe behaviour of a
//! Unix tool, and durations in words. Kept here, the lowest crate they all use, so that the
//! tools cannot drift apart in what they accept or print.

/// Restores the default action of SIGPIPE (the Rust runtime ignores it), so that output
/// into a closed pipe (`autotune list | head -1`) ends the process quietly as it does any
/// Unix tool, instead of a panic in `println!`.
pub fn reset_sigpipe() {
    #[cfg(unix)]
    // SAFETY: `signal` only changes this process's disposition of SIGPIPE; it is called first
    // thing in `main`, before any other thread runs, and no Rust code relies on SIGPIPE being
    // ignored (writes to a closed pipe now end the process instead of returning EPIPE).
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
    }
}

/// A count of at least 1 (`--samples`, `--threads`, `--iters`, ...).
pub fn at_least_one(text: &str) -> Result<usize, String> {
    let n: usize = text
        .trim()
        .parse()
        .map_err(|e| format!("`{text}` is not a whole number: {e}"))?;
    if n == 0 {
        return Err("must be at least 1".into());
    }
    Ok(n)
}

/// A finite number ≥ 0 (thresholds, tolerances, `--lead`).
pub fn non_negative(text: &str) -> Result<f64, String> {
    let x: f64 = text
        .trim()
        .parse()
        .map_err(|e| format!("`{text}` is not a number: {e}"))?;
    if !(x.is_finite() && x >= 0.0) {
        return Err("expected a finite number ≥ 0".into());
    }
    Ok(x)
}

/// A memory size for `--max-memory` (`512M`, `16G`, bytes), not zero.
pub fn memory_size(text: &str) -> Result<String, String> {
    match crate::limits::parse_size(text) {
        Some(0) => Err("must be more than 0 bytes".into()),
        Some(_) => Ok(text.to_string()),
        None => Err(format!(
            "`{text}` is not a size (use e.g. 512M, 16G or a number of bytes)"
        )),
    }
}

/// Seconds in words: `42 s`, `3.5 min`, `2.1 h`, `4.0 days`.
pub fn fmt_seconds(s: f64) -> String {
    if !s.is_finite() {
        "forever".into()
    } else if s < 1.0 {
        format!("{:.0} ms", s * 1e3)
    } else if s < 120.0 {
        format!("{s:.0} s")
    } else {
        let steps = [
            (7200.0, 60.0, " min"),
            (172_800.0, 3600.0, " h"),
            (f64::INFINITY, 86_400.0, " days"),
        ];
        crate::timing::fmt::one_decimal(s, &steps)
    }
}
