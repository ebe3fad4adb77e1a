//! Text formatting shared by the studies: Markdown tables and human units.

/// A Markdown table from rows of cells; the first row is the header. The first column (row
/// labels) and text columns are left-aligned, columns of figures right-aligned.
pub fn markdown_table(rows: &[Vec<String>]) -> String {
    if rows.is_empty() {
        return String::new();
    }
    let cols = rows.iter().map(|r| r.len()).max().unwrap_or(0);
    let mut width = vec![3usize; cols];
    for r in rows {
        for (i, c) in r.iter().enumerate() {
            width[i] = width[i].max(c.chars().count());
        }
    }
    // A column holding figures (most body cells start with a digit, a sign or `*`) is
    // right-aligned; text columns are left-aligned.
    let numeric: Vec<bool> = (0..cols)
        .map(|i| {
            let body: Vec<&str> = rows[1..]
                .iter()
                .filter_map(|r| r.get(i).map(|s| s.as_str()))
                .filter(|s| !s.is_empty() && *s != "-")
                .collect();
            let figures = body
                .iter()
                .filter(|s| s.starts_with(|c: char| c.is_ascii_digit() || "+-*".contains(c)))
                .count();
            i > 0 && !body.is_empty() && 2 * figures > body.len()
        })
        .collect();
    let cell = |i: usize, c: &str| {
        let pad = width[i].saturating_sub(c.chars().count());
        if !numeric[i] {
            format!("{c}{}", " ".repeat(pad))
        } else {
            format!("{}{c}", " ".repeat(pad))
        }
    };
    let line = |r: &Vec<String>| {
        let cells: Vec<String> = (0..cols)
            .map(|i| cell(i, r.get(i).map_or("", |s| s.as_str())))
            .collect();
        format!("| {} |\n", cells.join(" | "))
    };
    let mut s = line(&rows[0]);
    let sep: Vec<String> = (0..cols)
        .map(|i| {
            if !numeric[i] {
                "-".repeat(width[i])
            } else {
                format!("{}:", "-".repeat(width[i] - 1))
            }
        })
        .collect();
    s.push_str(&format!("| {} |\n", sep.join(" | ")));
    for r in &rows[1..] {
        s.push_str(&line(r));
    }
    s
}

/// A duration in nanoseconds with a unit that keeps three significant figures.
pub fn fmt_ns(ns: f64) -> String {
    let a = ns.abs();
    if a >= 1e9 {
        format!("{:.3} s", ns / 1e9)
    } else if a >= 1e6 {
        format!("{:.3} ms", ns / 1e6)
    } else if a >= 1e3 {
        format!("{:.2} µs", ns / 1e3)
    } else {
        format!("{ns:.0} ns")
    }
}

/// A byte count in B, KiB, MiB or GiB.
pub fn fmt_bytes(b: f64) -> String {
    let a = b.abs();
    if a >= 1024.0 * 1024.0 * 1024.0 {
        format!("{:.2} GiB", b / (1024.0 * 1024.0 * 1024.0))
    } else if a >= 1024.0 * 1024.0 {
        format!("{:.2} MiB", b / (1024.0 * 1024.0))
    } else if a >= 1024.0 {
        format!("{:.1} KiB", b / 1024.0)
    } else {
        format!("{b:.0} B")
    }
}

/// A signed percentage, `+3.1%`.
pub fn fmt_pct(p: f64) -> String {
    if p.is_finite() {
        format!("{p:+.1}%")
    } else {
        "n/a".into()
    }
}

/// The current time as RFC 3339 (UTC).
pub fn now_rfc3339() -> String {
    time::OffsetDateTime::now_utc()
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_else(|_| "unknown".into())
}
