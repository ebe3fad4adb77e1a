//! SVG charts (plotters): horizontal bars for the comparison and log-log lines for the
//! crossover. Each chart is drawn in memory and written atomically
//! ([`crate::guard::write_file`]), so an existing file is replaced whole or not at all.
//!
//! The charts are meant to be read at a glance, so the axes carry their own tick sets
//! ([`Axis`]): plain labels at round values (`+20 %`, `16 … 1024`, `1 2 5 10 …`), never the
//! defaults of plotters' log scale (which labelled only some decades). Colours carry meaning:
//! a bar is red when it regressed and green when it improved ([`BarKind`]); a line's colour
//! is its implementation ([`implementation_colour`]), the same in every chart.

use anyhow::{anyhow, Result};
use plotters::coord::ranged1d::{DefaultFormatting, KeyPointHint, Ranged};
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};
use std::ops::Range;
use std::path::Path;

/// One bar: its label, its value, the text written at its end and a colour role.
#[derive(Debug, Clone)]
pub struct Bar {
    pub label: String,
    pub value: f64,
    /// Written at the bar's end (e.g. `+64.4 %`); a clipped bar adds "(clipped)".
    pub text: String,
    pub kind: BarKind,
}

/// How a bar (or a line of text) is coloured.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BarKind {
    /// Green: improved.
    Good,
    /// Red: regressed (or, for text, a warning).
    Bad,
    /// Grey: neither.
    Neutral,
}

/// Red of regressions and warnings.
pub const RED: RGBColor = RGBColor(200, 40, 40);
/// Green of improvements.
pub const GREEN: RGBColor = RGBColor(40, 140, 70);
/// Grey of what is neither.
pub const GREY: RGBColor = RGBColor(140, 140, 140);

impl BarKind {
    fn colour(self) -> RGBColor {
        match self {
            BarKind::Good => GREEN,
            BarKind::Bad => RED,
            BarKind::Neutral => GREY,
        }
    }
}

/// What a bar chart shows besides its bars.
#[derive(Debug, Clone)]
pub struct BarChart {
    pub title: String,
    /// Lines under the title; `Bad` ones are drawn red and bold (warnings).
    pub notes: Vec<(String, BarKind)>,
    /// The colour key, e.g. `[(Bad, "regressed"), (Good, "improved")]`.
    pub key: Vec<(BarKind, String)>,
    /// Under the axis, e.g. `change of median time per call`; ticks are in percent.
    pub x_label: String,
    /// A line at the bottom (what the chart leaves out).
    pub footer: String,
    /// Top to bottom.
    pub bars: Vec<Bar>,
    /// Said in the plot area when there are no bars.
    pub empty: String,
}

fn err<E: std::fmt::Debug>(path: &Path) -> impl Fn(E) -> anyhow::Error + '_ {
    move |e| anyhow!("{}: cannot draw the chart: {e:?}", path.display())
}

/// A white SVG canvas of `size` drawing into `svg`, with `title` in bold at the top left:
/// how every chart here starts.
fn titled_canvas<'a>(
    svg: &'a mut String,
    size: (u32, u32),
    title: &str,
    path: &Path,
) -> Result<DrawingArea<SVGBackend<'a>, plotters::coord::Shift>> {
    let root = SVGBackend::with_string(svg, size).into_drawing_area();
    root.fill(&WHITE).map_err(err(path))?;
    root.draw(&Text::new(
        title.to_string(),
        (16, 12),
        (FONT, 22).into_font().style(FontStyle::Bold).color(&BLACK),
    ))
    .map_err(err(path))?;
    Ok(root)
}

/// A coordinate with its own ticks: linear or logarithmic, labelled where the caller says
/// (`major`) with light grid lines at `minor`. Plotters' own log scale picks its key points
/// itself, which left whole decades unlabelled; this does not.
#[derive(Debug, Clone)]
pub struct Axis {
    pub lo: f64,
    pub hi: f64,
    pub log: bool,
    pub major: Vec<f64>,
    pub minor: Vec<f64>,
}

impl Axis {
    fn t(&self, v: f64) -> f64 {
        if self.log {
            v.max(f64::MIN_POSITIVE).log10()
        } else {
            v
        }
    }
}

impl Ranged for Axis {
    type FormatOption = DefaultFormatting;
    type ValueType = f64;

    fn map(&self, v: &f64, limit: (i32, i32)) -> i32 {
        let (a, b) = (self.t(self.lo), self.t(self.hi));
        let f = if b > a {
            (self.t(*v) - a) / (b - a)
        } else {
            0.5
        };
        limit.0 + (f * (limit.1 - limit.0) as f64).round() as i32
    }

    fn key_points<H: KeyPointHint>(&self, hint: H) -> Vec<f64> {
        let mut pts = self.major.clone();
        if hint.weight().allow_light_points() {
            pts.extend(self.minor.iter().copied());
        }
        let max = hint.max_num_points().max(1);
        if pts.len() > max {
            let step = pts.len().div_ceil(max);
            pts = pts.into_iter().step_by(step).collect();
        }
        pts
    }

    fn range(&self) -> Range<f64> {
        self.lo..self.hi
    }
}

/// A round step for about `n` ticks over `span` (1, 2 or 5 × a power of ten).
pub fn nice_step(span: f64, n: usize) -> f64 {
    let raw = (span / n.max(1) as f64).max(f64::MIN_POSITIVE);
    let p = 10f64.powf(raw.log10().floor());
    let m = raw / p;
    // The round step nearest the raw one (so about `n` ticks, never far fewer).
    p * if m < 1.5 {
        1.0
    } else if m < 3.5 {
        2.0
    } else if m < 7.5 {
        5.0
    } else {
        10.0
    }
}

/// Linear ticks: multiples of a round step within [lo, hi].
pub fn linear_ticks(lo: f64, hi: f64, n: usize) -> Vec<f64> {
    let step = nice_step(hi - lo, n);
    let first = (lo / step).ceil() as i64;
    let last = (hi / step).floor() as i64;
    (first..=last).map(|k| k as f64 * step).collect()
}

/// Ticks of a decimal log axis over [lo, hi]: 1, 2 and 5 × each power of ten labelled,
/// light lines at the other integer multiples. With fewer than two labelled ticks in range,
/// every integer multiple is labelled.
pub fn log_ticks(lo: f64, hi: f64) -> (Vec<f64>, Vec<f64>) {
    let (mut major, mut minor) = (Vec::new(), Vec::new());
    if !(lo > 0.0 && hi > lo && hi.is_finite()) {
        return (major, minor);
    }
    let (d0, d1) = (lo.log10().floor() as i32, hi.log10().ceil() as i32);
    for d in d0..=d1 {
        let p = 10f64.powi(d);
        for m in 1..10 {
            let v = m as f64 * p;
            if v < lo * (1.0 - 1e-9) || v > hi * (1.0 + 1e-9) {
                continue;
            }
            if matches!(m, 1 | 2 | 5) {
                major.push(v);
            } else {
                minor.push(v);
            }
        }
    }
    if major.len() < 2 {
        major.append(&mut minor);
        major.sort_by(f64::total_cmp);
    }
    (major, minor)
}

/// Powers of two within [lo, hi] (sizes).
pub fn pow2_ticks(lo: f64, hi: f64) -> Vec<f64> {
    let mut v = Vec::new();
    let mut x = 1.0f64;
    while x <= hi * (1.0 + 1e-9) {
        if x >= lo * (1.0 - 1e-9) {
            v.push(x);
        }
        x *= 2.0;
    }
    v
}

/// A tick value in plain words: `0.5`, `2`, `10`, `250`, `1K`, `10K`, `1M`, `2.5G`.
pub fn plain_tick(v: f64) -> String {
    let a = v.abs();
    let (x, unit) = if a >= 1e9 {
        (v / 1e9, "G")
    } else if a >= 1e6 {
        (v / 1e6, "M")
    } else if a >= 1e3 {
        (v / 1e3, "K")
    } else {
        (v, "")
    };
    let digits = if x == x.round() {
        0
    } else if (x * 10.0 - (x * 10.0).round()).abs() < 1e-9 {
        1
    } else if (x * 100.0 - (x * 100.0).round()).abs() < 1e-9 {
        2
    } else {
        3
    };
    format!("{x:.digits$}{unit}")
}

/// A signed percentage with one decimal: `+57.0 %`, `−47.1 %` (a true minus sign).
pub fn signed_percent(v: f64) -> String {
    if v < 0.0 {
        format!("\u{2212}{:.1} %", -v)
    } else {
        format!("+{v:.1} %")
    }
}

/// A percent tick: `+20 %`, `0`, `−40 %` (a true minus sign).
pub fn percent_tick(v: f64) -> String {
    if v.abs() < 1e-9 {
        "0".into()
    } else if v > 0.0 {
        format!("+{} %", plain_tick(v))
    } else {
        format!("\u{2212}{} %", plain_tick(-v))
    }
}

/// How many times the next largest magnitude a bar may be before it is clipped.
pub const OUTLIER: f64 = 3.0;

/// The x range of a bar chart and where bars are clipped.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct BarAxis {
    /// The axis ends (room for the value texts included).
    pub lo: f64,
    pub hi: f64,
    /// Bars beyond these are drawn to them and marked clipped.
    pub clip_lo: f64,
    pub clip_hi: f64,
}

/// The range of a bar chart's value axis: 0 and every bar, except that a bar more than
/// [`OUTLIER`]× the next largest magnitude is clipped at [`OUTLIER`]× that magnitude (at least
/// `floor`), so one outlier cannot flatten the others. `lo`..`hi` is the range of the bars as
/// drawn (clipped, with 0), at least `floor` wide; [`BarAxis::with_room`] adds room for texts.
pub fn bar_axis(values: &[f64], floor: f64) -> BarAxis {
    let floor = if floor.is_finite() && floor > 0.0 {
        floor
    } else {
        1.0
    };
    let mut mags: Vec<f64> = values
        .iter()
        .filter(|v| v.is_finite())
        .map(|v| v.abs())
        .collect();
    mags.sort_by(|a, b| b.total_cmp(a));
    let limit = match mags.as_slice() {
        [] => floor,
        [only] => only.max(floor),
        [first, second, ..] if *first > OUTLIER * second => (OUTLIER * second).max(floor),
        [first, ..] => first.max(floor),
    };
    let vmin = values
        .iter()
        .filter(|v| v.is_finite())
        .fold(0.0f64, |a, &v| a.min(v));
    let vmax = values
        .iter()
        .filter(|v| v.is_finite())
        .fold(0.0f64, |a, &v| a.max(v));
    let (clip_lo, clip_hi) = (-limit, limit);
    let (mut lo, mut hi) = (vmin.max(clip_lo), vmax.min(clip_hi));
    if hi - lo < floor {
        if lo < 0.0 && hi <= 0.0 {
            lo = hi - floor;
        } else {
            hi = lo + floor;
        }
    }
    BarAxis {
        lo,
        hi,
        clip_lo,
        clip_hi,
    }
}

impl BarAxis {
    /// The axis widened, on an axis `width_px` wide, so that `left_px` pixels stay free left
    /// of the bars and each text `(x, px)` (starting at value `x`, `px` pixels long) ends
    /// inside it. A text longer than 70 % of the axis is allowed to overflow.
    pub fn with_room(self, width_px: f64, left_px: f64, texts: &[(f64, f64)]) -> BarAxis {
        let w = width_px.max(1.0);
        // First the margin on the left, at the scale of the bars alone.
        let lo = self.lo - left_px * (self.hi - self.lo) / (w - left_px).max(0.3 * w);
        let mut hi = self.hi;
        for &(x, px) in texts {
            // x must map to at most w - px: (x - lo) / (hi - lo) · w ≤ w - px.
            let free = (w - px).max(0.3 * w);
            hi = hi.max(lo + (x.min(self.clip_hi) - lo) * w / free);
        }
        BarAxis { lo, hi, ..self }
    }
}

/// `text` broken into lines of at most `width` characters, at spaces where it can.
pub fn wrap(text: &str, width: usize) -> Vec<String> {
    let mut lines = Vec::new();
    let mut line = String::new();
    for word in text.split(' ') {
        if !line.is_empty() && line.chars().count() + 1 + word.chars().count() > width {
            lines.push(std::mem::take(&mut line));
        }
        if !line.is_empty() {
            line.push(' ');
        }
        line.push_str(word);
    }
    if !line.is_empty() || lines.is_empty() {
        lines.push(line);
    }
    lines
}

/// Pixels a text of `chars` characters takes at font size `size` (an estimate for sans-serif).
fn text_px(chars: usize, size: f64) -> f64 {
    chars as f64 * size * 0.6
}

/// A horizontal bar chart (top to bottom in the given order), value axis in percent.
pub fn bar_chart(path: &Path, chart: &BarChart) -> Result<()> {
    let mut svg = String::new();
    draw_bars(&mut svg, path, chart)?;
    crate::guard::write_file(path, svg.as_bytes())
}

const FONT: &str = "sans-serif";

fn draw_bars(svg: &mut String, path: &Path, spec: &BarChart) -> Result<()> {
    let n = spec.bars.len();
    let rows = n.max(1);
    let width = 1100u32;
    let wrap_at = (width as f64 - 32.0) / (15.0 * 0.56);
    let notes: Vec<(String, BarKind)> = spec
        .notes
        .iter()
        .flat_map(|(line, kind)| {
            wrap(line, wrap_at as usize)
                .into_iter()
                .map(move |l| (l, *kind))
        })
        .collect();
    let footer = wrap(
        &spec.footer,
        ((width as f64 - 32.0) / (13.0 * 0.54)) as usize,
    );
    let head = 46 + 24 * notes.len() as u32 + 28;
    let foot = 8 + 18 * footer.len() as u32;
    let height = head + 34 * rows as u32 + 70 + foot;
    // Title, notes (warnings in red), the colour key.
    let root = titled_canvas(svg, (width, height), &spec.title, path)?;
    let mut y = 46;
    for (line, kind) in &notes {
        let font = (FONT, 15).into_font();
        let style = match kind {
            BarKind::Bad => font.style(FontStyle::Bold).color(&RED),
            BarKind::Good => font.color(&GREEN),
            BarKind::Neutral => font.color(&RGBColor(60, 60, 60)),
        };
        root.draw(&Text::new(line.clone(), (16, y), style))
            .map_err(err(path))?;
        y += 24;
    }
    let mut x = 16;
    for (kind, name) in &spec.key {
        root.draw(&Rectangle::new(
            [(x, y + 3), (x + 14, y + 17)],
            kind.colour().filled(),
        ))
        .map_err(err(path))?;
        root.draw(&Text::new(
            name.clone(),
            (x + 20, y + 2),
            (FONT, 14).into_font().color(&BLACK),
        ))
        .map_err(err(path))?;
        x += 34 + 8 * name.chars().count() as i32;
    }
    for (i, line) in footer.iter().enumerate() {
        root.draw(&Text::new(
            line.clone(),
            (16, (height - foot) as i32 + 4 + 18 * i as i32),
            (FONT, 13).into_font().color(&RGBColor(90, 90, 90)),
        ))
        .map_err(err(path))?;
    }

    let area = root.margin(head, foot, 12, 24);
    let longest = spec
        .bars
        .iter()
        .map(|b| b.label.chars().count())
        .max()
        .unwrap_or(10);
    let label_w = (longest as u32 * 8 + 16).clamp(120, 460);
    let values: Vec<f64> = spec.bars.iter().map(|b| b.value).collect();
    // Room for the value texts, which all sit right of their bar: a positive bar's beyond
    // its end, a negative bar's right of the zero line (so the left side needs none).
    let plot_w = width as f64 - 36.0 - label_w as f64;
    let texts: Vec<(f64, f64)> = spec
        .bars
        .iter()
        .filter(|b| b.value <= bar_axis(&values, 10.0).clip_hi)
        .map(|b| {
            (
                b.value.max(0.0),
                text_px(b.text.chars().count(), 14.0) + 16.0,
            )
        })
        .collect();
    let ax = bar_axis(&values, 10.0).with_room(plot_w, 8.0, &texts);
    let ticks = linear_ticks(ax.lo, ax.hi, 8);
    let x_axis = Axis {
        lo: ax.lo,
        hi: ax.hi,
        log: false,
        major: ticks,
        minor: Vec::new(),
    };
    let y_axis = Axis {
        lo: -0.5,
        hi: rows as f64 - 0.5,
        log: false,
        major: (0..n).map(|i| (rows - 1 - i) as f64).collect(),
        minor: Vec::new(),
    };
    let labels: Vec<String> = spec.bars.iter().map(|b| b.label.clone()).collect();
    // Row r (from the bottom) holds bar rows-1-r: the first bar at the top.
    let label_of = |v: &f64| {
        let r = v.round() as usize;
        (rows - 1)
            .checked_sub(r)
            .and_then(|i| labels.get(i))
            .cloned()
            .unwrap_or_default()
    };
    let mut chart = ChartBuilder::on(&area)
        .x_label_area_size(48)
        .y_label_area_size(label_w)
        .build_cartesian_2d(x_axis, y_axis)
        .map_err(err(path))?;
    chart
        .configure_mesh()
        .disable_y_mesh()
        .x_labels(12)
        .y_labels(rows)
        .x_label_formatter(&|v| percent_tick(*v))
        .y_label_formatter(&label_of)
        .label_style((FONT, 14))
        .axis_desc_style((FONT, 15))
        .x_desc(spec.x_label.clone())
        .light_line_style(WHITE)
        .bold_line_style(RGBColor(225, 225, 225))
        .draw()
        .map_err(err(path))?;
    // The zero line.
    chart
        .draw_series(std::iter::once(PathElement::new(
            vec![(0.0, -0.5), (0.0, rows as f64 - 0.5)],
            BLACK.stroke_width(1),
        )))
        .map_err(err(path))?;
    if n == 0 {
        chart
            .draw_series(std::iter::once(Text::new(
                spec.empty.clone(),
                ((ax.lo + ax.hi) / 2.0, (rows as f64 - 1.0) / 2.0),
                (FONT, 17)
                    .into_font()
                    .color(&RGBColor(60, 60, 60))
                    .pos(Pos::new(HPos::Center, VPos::Center)),
            )))
            .map_err(err(path))?;
    }
    for (i, b) in spec.bars.iter().enumerate() {
        let row = (rows - 1 - i) as f64;
        let clipped = b.value > ax.clip_hi || b.value < ax.clip_lo;
        let end = b.value.clamp(ax.clip_lo, ax.clip_hi);
        let colour = b.kind.colour();
        chart
            .draw_series(std::iter::once(Rectangle::new(
                [(0.0, row - 0.36), (end, row + 0.36)],
                colour.filled(),
            )))
            .map_err(err(path))?;
        let right = end >= 0.0;
        if clipped {
            // A white break across the bar near its end: the bar goes on beyond the axis.
            let at = end - (ax.hi - ax.lo) * 0.03 * end.signum();
            for dx in [-0.006, 0.006] {
                let x0 = at + (ax.hi - ax.lo) * dx;
                chart
                    .draw_series(std::iter::once(PathElement::new(
                        vec![
                            (x0 - (ax.hi - ax.lo) * 0.006, row - 0.45),
                            (x0 + (ax.hi - ax.lo) * 0.006, row + 0.45),
                        ],
                        WHITE.stroke_width(3),
                    )))
                    .map_err(err(path))?;
            }
        }
        let text = if clipped {
            format!("{} (clipped)", b.text)
        } else {
            b.text.clone()
        };
        // Right of a positive bar's end, right of the zero line for a negative bar; a
        // clipped positive bar's text sits inside it, in white.
        let (at, dx, hpos, colour_text) = match (clipped, right) {
            (false, true) => (end, 6, HPos::Left, colour),
            (true, true) => (end, -44, HPos::Right, WHITE),
            (_, false) => (0.0, 6, HPos::Left, colour),
        };
        let style = (FONT, 14)
            .into_font()
            .style(FontStyle::Bold)
            .color(&colour_text)
            .pos(Pos::new(hpos, VPos::Center));
        chart
            .draw_series(std::iter::once(
                EmptyElement::at((at, row)) + Text::new(text, (dx, 0), style),
            ))
            .map_err(err(path))?;
    }
    root.present().map_err(err(path))?;
    Ok(())
}

/// How the points of a line are marked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Marker {
    Circle,
    Triangle,
    /// A large hollow ring (drawn over other markers: "this one was picked").
    Ring,
    /// A diagonal cross (a flag: "this one is wrong").
    Cross,
    None,
}

/// One line of a line chart.
#[derive(Debug, Clone)]
pub struct Series {
    pub name: String,
    pub points: Vec<(f64, f64)>,
    pub colour: RGBColor,
    /// Dashed instead of solid.
    pub dashed: bool,
    /// Stroke width in pixels; 0 draws no line (markers only).
    pub width: u32,
    /// Line opacity (a wide, faint line is a highlight under the others).
    pub alpha: f64,
    pub marker: Marker,
}

impl Series {
    /// A solid line of width 2 with round markers.
    pub fn line(name: impl Into<String>, points: Vec<(f64, f64)>, colour: RGBColor) -> Series {
        Series {
            name: name.into(),
            points,
            colour,
            dashed: false,
            width: 2,
            alpha: 1.0,
            marker: Marker::Circle,
        }
    }
}

/// The colour of an implementation, the same in every chart: hand-picked for the project's
/// implementations, a stable pick from a palette for any other name.
pub fn implementation_colour(name: &str) -> RGBColor {
    match name {
        "naive" => RGBColor(110, 110, 110),
        "tiled" => RGBColor(140, 86, 75),
        "avx2" => RGBColor(230, 120, 20),
        "avx512" => RGBColor(148, 90, 190),
        "neon" => RGBColor(188, 160, 20),
        "gemm" => RGBColor(31, 110, 180),
        "matrixmultiply" => RGBColor(40, 150, 60),
        "openblas" => RGBColor(200, 40, 120),
        other => {
            const MORE: [RGBColor; 6] = [
                RGBColor(23, 160, 170),
                RGBColor(120, 120, 20),
                RGBColor(90, 60, 160),
                RGBColor(170, 90, 40),
                RGBColor(60, 120, 120),
                RGBColor(180, 60, 60),
            ];
            let h = other
                .bytes()
                .fold(0usize, |h, b| h.wrapping_mul(31).wrapping_add(b as usize));
            MORE[h % MORE.len()]
        }
    }
}

/// `colour` darkened by `f` (0: unchanged, 1: black), for a second shade of one hue.
pub fn darker(colour: RGBColor, f: f64) -> RGBColor {
    let k = |c: u8| (c as f64 * (1.0 - f)).round() as u8;
    RGBColor(k(colour.0), k(colour.1), k(colour.2))
}

/// What a log-log line chart shows besides its series.
#[derive(Debug, Clone)]
pub struct LineChart {
    pub title: String,
    pub x_label: String,
    pub y_label: String,
    /// Label the x axis at powers of two (sizes) instead of 1-2-5 × powers of ten.
    pub x_pow2: bool,
    /// Drawn in order (later over earlier); the legend lists those with a name.
    pub series: Vec<Series>,
}

/// A line chart with logarithmic axes and plain tick labels, the legend beside the plot.
pub fn line_chart(path: &Path, chart: &LineChart) -> Result<()> {
    let mut svg = String::new();
    draw_lines(&mut svg, path, chart)?;
    crate::guard::write_file(path, svg.as_bytes())
}

fn positive_range(vals: impl Iterator<Item = f64>) -> Option<(f64, f64)> {
    let (lo, hi) = vals
        .filter(|v| v.is_finite() && *v > 0.0)
        .fold((f64::INFINITY, 0.0f64), |(a, b), v| (a.min(v), b.max(v)));
    (lo.is_finite() && hi >= lo).then_some((lo, hi))
}

fn draw_lines(svg: &mut String, path: &Path, spec: &LineChart) -> Result<()> {
    let pts = || spec.series.iter().flat_map(|s| s.points.iter());
    let (x0, x1) = positive_range(pts().map(|p| p.0)).unwrap_or((1.0, 10.0));
    let (y0, y1) = positive_range(pts().map(|p| p.1)).unwrap_or((1.0, 10.0));
    // A little room around the data (in log space).
    let (x0, x1) = (x0 / 1.15, x1 * 1.15);
    let (y0, y1) = (y0 / 1.3, y1 * 1.3);
    let x_major = if spec.x_pow2 {
        pow2_ticks(x0, x1)
    } else {
        log_ticks(x0, x1).0
    };
    let x_minor = if spec.x_pow2 {
        Vec::new()
    } else {
        log_ticks(x0, x1).1
    };
    let (y_major, y_minor) = log_ticks(y0, y1);
    // Sizes are powers of two: written out (1024, 4096), where 1K would be ambiguous.
    let pow2 = spec.x_pow2;
    let x_tick = move |v: &f64| {
        if pow2 && *v < 1e5 {
            format!("{v:.0}")
        } else {
            plain_tick(*v)
        }
    };
    let (width, height) = (1100u32, 620u32);
    let root = titled_canvas(svg, (width, height), &spec.title, path)?;
    let (plot, legend) = root.margin(48, 12, 8, 8).split_horizontally(800);
    let mut chart = ChartBuilder::on(&plot)
        .x_label_area_size(50)
        .y_label_area_size(64)
        .build_cartesian_2d(
            Axis {
                lo: x0,
                hi: x1,
                log: true,
                major: x_major,
                minor: x_minor,
            },
            Axis {
                lo: y0,
                hi: y1,
                log: true,
                major: y_major,
                minor: y_minor,
            },
        )
        .map_err(err(path))?;
    chart
        .configure_mesh()
        .x_labels(30)
        .y_labels(30)
        .max_light_lines(10)
        .x_label_formatter(&x_tick)
        .y_label_formatter(&|v| plain_tick(*v))
        .label_style((FONT, 14))
        .axis_desc_style((FONT, 15))
        .x_desc(spec.x_label.clone())
        .y_desc(spec.y_label.clone())
        .bold_line_style(RGBColor(215, 215, 215))
        .light_line_style(RGBColor(240, 240, 240))
        .draw()
        .map_err(err(path))?;
    for s in &spec.series {
        let style = ShapeStyle {
            color: s.colour.mix(s.alpha),
            filled: false,
            stroke_width: s.width,
        };
        if s.width > 0 && s.points.len() > 1 {
            if s.dashed {
                chart
                    .draw_series(DashedLineSeries::new(s.points.iter().copied(), 9, 6, style))
                    .map_err(err(path))?;
            } else {
                chart
                    .draw_series(LineSeries::new(s.points.iter().copied(), style))
                    .map_err(err(path))?;
            }
        }
        let c = s.colour;
        // One marker element per point; each marker kind is its own element type, hence a
        // macro rather than a function.
        macro_rules! marker_series {
            ($element:expr) => {
                chart.draw_series(s.points.iter().map($element)).map(|_| ())
            };
        }
        match s.marker {
            Marker::Circle => marker_series!(|&p| Circle::new(p, 4, c.filled())),
            Marker::Triangle => marker_series!(|&p| TriangleMarker::new(p, 6, c.filled())),
            Marker::Ring => marker_series!(|&p| Circle::new(p, 9, c.stroke_width(3))),
            Marker::Cross => marker_series!(|&p| Cross::new(p, 7, c.stroke_width(3))),
            Marker::None => Ok(()),
        }
        .map_err(err(path))?;
    }
    // The legend, beside the plot so that it hides no line.
    let mut y = 24;
    for s in spec.series.iter().filter(|s| !s.name.is_empty()) {
        let (x, mid) = (14, y + 9);
        let style = ShapeStyle {
            color: s.colour.mix(s.alpha.max(0.4)),
            filled: false,
            stroke_width: s.width.min(6),
        };
        if s.width > 0 {
            if s.dashed {
                legend
                    .draw(&PathElement::new(vec![(x, mid), (x + 10, mid)], style))
                    .map_err(err(path))?;
                legend
                    .draw(&PathElement::new(vec![(x + 18, mid), (x + 28, mid)], style))
                    .map_err(err(path))?;
            } else {
                legend
                    .draw(&PathElement::new(vec![(x, mid), (x + 28, mid)], style))
                    .map_err(err(path))?;
            }
        }
        let c = s.colour;
        match s.marker {
            Marker::Circle => legend.draw(&Circle::new((x + 14, mid), 4, c.filled())),
            Marker::Triangle => legend.draw(&TriangleMarker::new((x + 14, mid), 6, c.filled())),
            Marker::Ring => legend.draw(&Circle::new((x + 14, mid), 8, c.stroke_width(3))),
            Marker::Cross => legend.draw(&Cross::new((x + 14, mid), 6, c.stroke_width(3))),
            Marker::None => Ok(()),
        }
        .map_err(err(path))?;
        legend
            .draw(&Text::new(
                s.name.clone(),
                (x + 38, y + 1),
                (FONT, 14).into_font().color(&BLACK),
            ))
            .map_err(err(path))?;
        y += 26;
    }
    root.present().map_err(err(path))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_outlier_is_clipped_and_the_rest_keep_their_scale() {
        let a = bar_axis(&[943.0, 64.0, -40.0, 12.0], 10.0);
        assert_eq!((a.clip_lo, a.clip_hi), (-192.0, 192.0));
        assert_eq!((a.lo, a.hi), (-40.0, 192.0));
        // No outlier: every bar fits.
        let a = bar_axis(&[100.0, 60.0, -50.0], 10.0);
        assert_eq!((a.lo, a.hi), (-50.0, 100.0));
        assert!(a.clip_hi >= 100.0);
        // Only regressions: the axis starts at zero; room for texts widens it.
        let a = bar_axis(&[20.0, 8.0], 10.0);
        assert_eq!((a.lo, a.hi), (0.0, 20.0));
        let r = a.with_room(800.0, 10.0, &[(20.0, 200.0), (0.0, 100.0)]);
        assert!(r.lo < 0.0 && r.clip_hi == a.clip_hi, "{r:?}");
        // The longest text, after the longest bar, ends at the axis end.
        let px = |v: f64| (v - r.lo) / (r.hi - r.lo) * 800.0;
        assert!((px(20.0) + 200.0 - 800.0).abs() < 1e-6, "{r:?}");
        // Nothing at all still gives a usable axis.
        let a = bar_axis(&[], 10.0);
        assert!(a.hi - a.lo >= 10.0, "{a:?}");
    }

    #[test]
    fn long_notes_wrap_at_spaces() {
        assert_eq!(wrap("aa bb cc", 5), ["aa bb", "cc"]);
        assert_eq!(wrap("", 5), [""]);
        assert_eq!(wrap("longword x", 3), ["longword", "x"]);
    }

    #[test]
    fn ticks_are_round_and_plain() {
        assert_eq!(
            linear_ticks(-45.0, 130.0, 6),
            vec![-40.0, -20.0, 0.0, 20.0, 40.0, 60.0, 80.0, 100.0, 120.0]
        );
        assert_eq!(
            linear_ticks(0.0, 600.0, 8),
            vec![0.0, 100.0, 200.0, 300.0, 400.0, 500.0, 600.0]
        );
        let (major, minor) = log_ticks(0.8, 120.0);
        assert_eq!(major, vec![1.0, 2.0, 5.0, 10.0, 20.0, 50.0, 100.0]);
        assert!(minor.contains(&3.0) && minor.contains(&90.0));
        assert_eq!(pow2_ticks(14.0, 1180.0).first(), Some(&16.0));
        assert_eq!(pow2_ticks(14.0, 1180.0).last(), Some(&1024.0));
        let labels: Vec<String> = [0.5, 2.0, 250.0, 1000.0, 10_000.0, 1e6, 2.5e9]
            .iter()
            .map(|&v| plain_tick(v))
            .collect();
        assert_eq!(labels, ["0.5", "2", "250", "1K", "10K", "1M", "2.5G"]);
        assert_eq!(percent_tick(20.0), "+20 %");
        assert_eq!(percent_tick(-40.0), "\u{2212}40 %");
        assert_eq!(percent_tick(0.0), "0");
    }

    #[test]
    fn implementations_keep_their_colours() {
        assert_eq!(implementation_colour("gemm"), implementation_colour("gemm"));
        assert_ne!(implementation_colour("gemm"), implementation_colour("avx2"));
        assert_eq!(
            implementation_colour("new-one"),
            implementation_colour("new-one")
        );
    }
}
