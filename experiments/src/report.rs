//! Text formatting shared by the studies: Markdown tables and the run's timestamp (times and
//! sizes are formatted by `backends::timing`).

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

/// The current time as RFC 3339 (UTC).
pub fn now_rfc3339() -> String {
    time::OffsetDateTime::now_utc()
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_else(|_| "unknown".into())
}
