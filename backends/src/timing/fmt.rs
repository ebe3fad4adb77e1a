//! Times, sizes, counts and percentages as text, for every report and progress line.
//!
//! Decimal suffixes (`K`, `M`, `G`) are for sizes and counts, binary units (`KiB`, `MiB`)
//! for bytes in memory. A figure that is not finite prints as `-` unless said otherwise.

/// A duration in ns with a unit: `812 ns`, `3.25 µs`, and `digits` decimals in ms and s
/// (`1.50 ms` with 2, `1.500 ms` with 3). The unit follows the magnitude, so negative
/// differences read alike. `-` when not finite.
pub fn fmt_ns_digits(ns: f64, digits: usize) -> String {
    let a = ns.abs();
    if !ns.is_finite() {
        "-".into()
    } else if a >= 1e9 {
        format!("{:.digits$} s", ns / 1e9)
    } else if a >= 1e6 {
        format!("{:.digits$} ms", ns / 1e6)
    } else if a >= 1e3 {
        format!("{:.2} µs", ns / 1e3)
    } else {
        format!("{ns:.0} ns")
    }
}

/// A duration in ns, two decimals above µs: `812 ns`, `3.25 µs`, `1.50 ms`, `2.00 s`.
pub fn fmt_ns(ns: f64) -> String {
    fmt_ns_digits(ns, 2)
}

/// A duration in ns, three decimals in ms and s (`1.500 ms`): for profiles, whose
/// millisecond figures are compared closely.
pub fn fmt_ns_precise(ns: f64) -> String {
    fmt_ns_digits(ns, 3)
}

/// `x` in the unit of the first step `(below, divisor, unit)` whose limit it is below (the
/// last step when none is, as for NaN), with one decimal: `4.2M`, `3.5 min`. The one scale
/// of [`fmt_size`], [`fmt_count`] and `crate::cli_args::fmt_seconds`.
pub(crate) fn one_decimal(x: f64, steps: &[(f64, f64, &str)]) -> String {
    let (_, divisor, unit) = steps
        .iter()
        .find(|(below, _, _)| x < *below)
        .or(steps.last())
        .expect("at least one step");
    format!("{:.1}{unit}", x / divisor)
}

/// A size in a table's unit (elements, or m·k·n), compact: exact below 10 000, then one
/// decimal with `K`, `M` or `G` (`4.2M`); `u64::MAX` (no upper bound) is `∞`.
pub fn fmt_size(s: u64) -> String {
    if s == u64::MAX {
        return "∞".into();
    }
    let f = s as f64;
    if s < 10_000 {
        format!("{s}")
    } else {
        one_decimal(
            f,
            &[(1e6, 1e3, "K"), (1e9, 1e6, "M"), (f64::INFINITY, 1e9, "G")],
        )
    }
}

/// A per-call count (instructions, misses), compact: two decimals below 10, whole below
/// 10 000, then `K` or `M` with one decimal.
pub fn fmt_count(x: f64) -> String {
    if x < 10.0 {
        format!("{x:.2}")
    } else if x < 1e4 {
        format!("{x:.0}")
    } else {
        one_decimal(x, &[(1e7, 1e3, "K"), (f64::INFINITY, 1e6, "M")])
    }
}

/// A byte count in B, KiB, MiB or GiB (`512 B`, `1.5 KiB`, `2.00 MiB`).
pub fn fmt_bytes(b: f64) -> String {
    const KIB: f64 = 1024.0;
    let a = b.abs();
    if a >= KIB * KIB * KIB {
        format!("{:.2} GiB", b / (KIB * KIB * KIB))
    } else if a >= KIB * KIB {
        format!("{:.2} MiB", b / (KIB * KIB))
    } else if a >= KIB {
        format!("{:.1} KiB", b / KIB)
    } else {
        format!("{b:.0} B")
    }
}

/// A signed percentage, `+3.1%`; `n/a` when not finite.
pub fn fmt_pct(p: f64) -> String {
    if p.is_finite() {
        format!("{p:+.1}%")
    } else {
        "n/a".into()
    }
}

/// A plain label for an axis value that is a small multiple of a power of ten: `1`, `20`,
/// `500`, `0.05`, `1K`, `20K`, `1M`, `5G` — never `10.000` (which reads as ten thousand) or
/// a mix such as `1000` beside `10.0K`. Other values get up to three significant digits.
pub fn fmt_tick(v: f64) -> String {
    if !v.is_finite() || v <= 0.0 {
        return if v == 0.0 { "0".into() } else { "-".into() };
    }
    for (scale, suffix) in [(1e12, "T"), (1e9, "G"), (1e6, "M"), (1e3, "K")] {
        if v >= scale * 0.9995 {
            return format!("{}{suffix}", trim_number(v / scale));
        }
    }
    trim_number(v)
}

/// Up to three significant digits, without trailing zeros (`2`, `0.05`, `1.5`, `120`).
fn trim_number(x: f64) -> String {
    let digits = if x >= 100.0 {
        0
    } else {
        (2 - x.log10().floor() as i32).max(0) as usize
    };
    let s = format!("{x:.digits$}");
    if s.contains('.') {
        s.trim_end_matches('0').trim_end_matches('.').to_string()
    } else {
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_figure_reads_in_its_unit() {
        for (got, want) in [
            (fmt_ns(812.4), "812 ns"),
            (fmt_ns(3_250.0), "3.25 µs"),
            (fmt_ns(1_500_000.0), "1.50 ms"),
            (fmt_ns(2e9), "2.00 s"),
            (fmt_ns(f64::NAN), "-"),
            (fmt_ns(f64::INFINITY), "-"),
            (fmt_ns_precise(1_500_000.0), "1.500 ms"),
            (fmt_ns_precise(2.5e9), "2.500 s"),
            (fmt_ns_digits(-2_500_000.0, 3), "-2.500 ms"),
            (fmt_ns_digits(4_200.0, 3), "4.20 µs"),
            (fmt_size(4096), "4096"),
            (fmt_size(65_536), "65.5K"),
            (fmt_size(4_194_304), "4.2M"),
            (fmt_size(3_000_000_000), "3.0G"),
            (fmt_size(u64::MAX), "∞"),
            (fmt_count(1.234), "1.23"),
            (fmt_count(950.0), "950"),
            (fmt_count(12_345.0), "12.3K"),
            (fmt_count(2.5e7), "25.0M"),
            (fmt_bytes(512.0), "512 B"),
            (fmt_bytes(1536.0), "1.5 KiB"),
            (fmt_bytes(2.0 * 1024.0 * 1024.0), "2.00 MiB"),
            (fmt_bytes(3.0 * 1024.0 * 1024.0 * 1024.0), "3.00 GiB"),
            (fmt_pct(2.46), "+2.5%"),
            (fmt_pct(-0.5), "-0.5%"),
            (fmt_pct(f64::NAN), "n/a"),
        ] {
            assert_eq!(got, want);
        }
    }

    #[test]
    fn ticks_are_plain_multiples_of_powers_of_ten() {
        for (v, s) in [
            (1.0, "1"),
            (10.0, "10"),
            (20.0, "20"),
            (100.0, "100"),
            (500.0, "500"),
            (0.1, "0.1"),
            (0.05, "0.05"),
            (1e3, "1K"),
            (1e4, "10K"),
            (2e4, "20K"),
            (1e6, "1M"),
            (5e9, "5G"),
            (1.5, "1.5"),
            (0.0, "0"),
            (-1.0, "-"),
        ] {
            assert_eq!(fmt_tick(v), s, "{v}");
        }
    }
}
