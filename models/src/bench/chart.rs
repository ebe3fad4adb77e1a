//! The SVG chart of a [`Report`]: per preset (a column) three panels of horizontal bars, one
//! bar per dispatcher — full recompute and KV cache over the whole call, and the KV cache's
//! per-token decode with the read-bandwidth bound as dashed lines. One colour per
//! implementation family (lighter for more threads), plain labels, each panel on its own
//! scale (the modes differ by orders of magnitude).

use super::{Report, Source};
use plotters::coord::Shift;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

/// Pixels per bar.
const BAR_PX: u32 = 20;
/// Width of one preset's column.
const COLUMN_PX: u32 = 660;
/// Title and legend above the panels.
const HEADER_PX: u32 = 84;

/// The colour of an implementation family ("default" and "table" for the non-forced ones).
fn family_colour(family: &str) -> RGBColor {
    match family {
        "default" => RGBColor(60, 60, 60),
        "table" => RGBColor(140, 140, 140),
        "naive" => RGBColor(214, 39, 40),
        "tiled" => RGBColor(255, 127, 14),
        "avx2" => RGBColor(31, 119, 180),
        "avx512" => RGBColor(148, 103, 189),
        "gemm" => RGBColor(44, 160, 44),
        "matrixmultiply" => RGBColor(23, 190, 207),
        "openblas" => RGBColor(140, 86, 75),
        "neon" => RGBColor(227, 119, 194),
        _ => RGBColor(188, 189, 34),
    }
}

/// `c` mixed with white: the shade of a family at more than one thread.
fn lighter(c: RGBColor) -> RGBColor {
    let m = |x: u8| (x as f64 + (255.0 - x as f64) * 0.45) as u8;
    RGBColor(m(c.0), m(c.1), m(c.2))
}

/// 41234.5 → "41.2k"; 812.3 → "812".
fn short(x: f64) -> String {
    if x >= 10_000.0 {
        format!("{:.0}k", x / 1e3)
    } else if x >= 1_000.0 {
        format!("{:.1}k", x / 1e3)
    } else if x >= 10.0 {
        format!("{x:.0}")
    } else {
        format!("{x:.1}")
    }
}

/// A dispatcher's label, at most 24 characters (long table paths keep their end).
fn label(name: &str) -> String {
    let n = name.chars().count();
    if n <= 24 {
        name.to_string()
    } else {
        let tail: String = name.chars().skip(n - 22).collect();
        format!("…{tail}")
    }
}

struct Bar {
    label: String,
    colour: RGBColor,
    value: Option<f64>,
    best: bool,
}

fn err(e: impl std::fmt::Display) -> anyhow::Error {
    anyhow::anyhow!("drawing the chart: {e}")
}

/// The SVG text of the chart of `r`.
pub fn svg(r: &Report) -> anyhow::Result<String> {
    let n = r.dispatchers.len().max(1);
    let cols = r.presets.len().max(1);
    let panel_h = n as u32 * BAR_PX + 110;
    let (w, h) = (COLUMN_PX * cols as u32, HEADER_PX + 3 * panel_h);
    let mut out = String::new();
    {
        let root = SVGBackend::with_string(&mut out, (w, h)).into_drawing_area();
        root.fill(&WHITE).map_err(err)?;
        let (header, body) = root.split_vertically(HEADER_PX);
        header
            .draw(&Text::new(
                format!(
                    "models bench: tokens/s per dispatcher ({}, median of {} reps)",
                    r.machine, r.reps
                ),
                (12, 8),
                ("sans-serif", 17).into_font(),
            ))
            .map_err(err)?;
        // Legend: the families present, in the report's order.
        let mut fams: Vec<(String, RGBColor)> = Vec::new();
        for d in &r.dispatchers {
            let f = match &d.source {
                Source::Embedded => "default".to_string(),
                Source::File { .. } => "table".to_string(),
                Source::Forced { implementation, .. } => implementation.clone(),
            };
            if !fams.iter().any(|(g, _)| *g == f) {
                let c = family_colour(&f);
                fams.push((f, c));
            }
        }
        let mut x = 12;
        for (f, c) in &fams {
            header
                .draw(&Rectangle::new([(x, 38), (x + 14, 52)], c.filled()))
                .map_err(err)?;
            header
                .draw(&Text::new(
                    f.clone(),
                    (x + 19, 39),
                    ("sans-serif", 13).into_font(),
                ))
                .map_err(err)?;
            x += 19 + 7 * f.chars().count() as i32 + 14;
        }
        header
            .draw(&Text::new(
                "lighter shade: the same family with more threads; bold: the best fixed family of the panel",
                (12, 62),
                ("sans-serif", 12).into_font().color(&RGBColor(90, 90, 90)),
            ))
            .map_err(err)?;

        let panels = body.split_evenly((3, cols));
        for (pi, p) in r.presets.iter().enumerate() {
            for (row, (mode, title)) in [
                ("full_recompute", "full recompute, whole call"),
                ("kv_cache", "KV cache, whole call"),
                (
                    "kv_decode",
                    "KV cache, one decoded token (dashed: bandwidth bound)",
                ),
            ]
            .iter()
            .enumerate()
            {
                let best = r.best(&p.name, mode).map(|b| b.dispatch.as_str());
                let bars: Vec<Bar> = r
                    .dispatchers
                    .iter()
                    .map(|d| {
                        let (fam, threads) = match &d.source {
                            Source::Embedded => ("default", 1),
                            Source::File { .. } => ("table", 1),
                            Source::Forced {
                                implementation,
                                threads,
                            } => (implementation.as_str(), *threads),
                        };
                        let base = family_colour(fam);
                        let value = match *mode {
                            "kv_decode" => r
                                .get(&p.name, &d.name, "kv_cache")
                                .and_then(|x| x.kv.as_ref())
                                .map(|k| k.decode_tok_per_s),
                            m => r.get(&p.name, &d.name, m).map(|x| x.tok_per_s),
                        };
                        Bar {
                            label: label(&d.name),
                            colour: if threads > 1 { lighter(base) } else { base },
                            value,
                            best: best == Some(d.name.as_str()),
                        }
                    })
                    .collect();
                let bounds: Vec<(usize, f64)> = if *mode == "kv_decode" {
                    p.read_bandwidth
                        .iter()
                        .map(|b| (b.threads, b.gb_per_s * 1e9 / p.bytes_per_token))
                        .collect()
                } else {
                    Vec::new()
                };
                let area = &panels[row * cols + pi];
                panel(&root, area, &format!("{}: {title}", p.name), &bars, &bounds)?;
            }
        }
        root.present().map_err(err)?;
    }
    Ok(out)
}

/// One panel: `bars` top to bottom, `bounds` (threads, tok/s) as dashed vertical lines.
fn panel(
    root: &DrawingArea<SVGBackend, Shift>,
    area: &DrawingArea<SVGBackend, Shift>,
    title: &str,
    bars: &[Bar],
    bounds: &[(usize, f64)],
) -> anyhow::Result<()> {
    let n = bars.len();
    let top = n as f64 + 0.9 * bounds.len() as f64;
    let vmax = bars
        .iter()
        .filter_map(|b| b.value)
        .chain(bounds.iter().map(|b| b.1))
        .filter(|v| v.is_finite())
        .fold(0.0f64, f64::max);
    let xmax = if vmax > 0.0 { vmax * 1.25 } else { 1.0 };
    let mut chart = ChartBuilder::on(area)
        .caption(title, ("sans-serif", 14))
        .margin_left(8)
        .margin_right(18)
        .margin_top(6)
        .margin_bottom(6)
        .x_label_area_size(40)
        .y_label_area_size(150)
        .build_cartesian_2d(0f64..xmax, 0f64..top.max(1.0))
        .map_err(err)?;
    chart
        .configure_mesh()
        .disable_y_mesh()
        .y_labels(0)
        .x_labels(6)
        .x_label_formatter(&|x| short(*x))
        .x_desc("tokens/s")
        .label_style(("sans-serif", 11))
        .bold_line_style(RGBColor(220, 220, 220))
        .light_line_style(RGBColor(245, 245, 245))
        .draw()
        .map_err(err)?;
    let font = ("sans-serif", 11).into_font();
    for (j, b) in bars.iter().enumerate() {
        // The first bar on top.
        let y = (n - 1 - j) as f64;
        let yc = y + 0.5;
        let (px, py) = chart.backend_coord(&(0.0, yc));
        root.draw(&Text::new(
            b.label.clone(),
            (px - 6, py),
            TextStyle::from(font.clone()).pos(Pos::new(HPos::Right, VPos::Center)),
        ))
        .map_err(err)?;
        let Some(v) = b.value.filter(|v| v.is_finite()) else {
            continue;
        };
        chart
            .draw_series(std::iter::once(Rectangle::new(
                [(0.0, y + 0.14), (v, y + 0.86)],
                b.colour.filled(),
            )))
            .map_err(err)?;
        let text = if b.best {
            format!("{}  best fixed", short(v))
        } else {
            short(v)
        };
        let style = if b.best {
            font.clone().style(FontStyle::Bold)
        } else {
            font.clone()
        };
        chart
            .draw_series(std::iter::once(
                EmptyElement::at((v, yc))
                    + Text::new(
                        text,
                        (4, 0),
                        TextStyle::from(style).pos(Pos::new(HPos::Left, VPos::Center)),
                    ),
            ))
            .map_err(err)?;
    }
    for (k, &(t, b)) in bounds.iter().enumerate() {
        if !b.is_finite() {
            continue;
        }
        chart
            .draw_series(DashedLineSeries::new(
                vec![(b, 0.0), (b, n as f64)],
                6,
                4,
                BLACK.stroke_width(1),
            ))
            .map_err(err)?;
        let yl = n as f64 + 0.9 * (bounds.len() - k) as f64 - 0.45;
        // Text left of the line when it sits in the right half, so it never runs off.
        let (anchor, dx) = if b > xmax / 2.0 {
            (HPos::Right, -4)
        } else {
            (HPos::Left, 4)
        };
        chart
            .draw_series(std::iter::once(
                EmptyElement::at((b, yl))
                    + Text::new(
                        format!(
                            "bound, {t} thread{}: {}",
                            if t == 1 { "" } else { "s" },
                            short(b)
                        ),
                        (dx, 0),
                        TextStyle::from(("sans-serif", 11).into_font())
                            .pos(Pos::new(anchor, VPos::Center)),
                    ),
            ))
            .map_err(err)?;
        chart
            .draw_series(std::iter::once(PathElement::new(
                vec![(b, n as f64), (b, yl)],
                BLACK.stroke_width(1),
            )))
            .map_err(err)?;
    }
    Ok(())
}
