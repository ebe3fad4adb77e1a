//! SVG charts (plotters): horizontal bars for the comparison and lines for the crossover.
//! Each chart is drawn in memory and written atomically ([`crate::guard::write_file`]), so an
//! existing file is replaced whole or not at all.

use anyhow::{anyhow, Result};
use plotters::coord::ranged1d::SegmentValue;
use plotters::prelude::*;
use std::path::Path;

/// One bar: its label, its value and a colour role.
#[derive(Debug, Clone)]
pub struct Bar {
    pub label: String,
    pub value: f64,
    pub kind: BarKind,
}

/// How a bar is coloured.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BarKind {
    Good,
    Bad,
    Neutral,
}

fn err<E: std::fmt::Debug>(path: &Path) -> impl Fn(E) -> anyhow::Error + '_ {
    move |e| anyhow!("{}: cannot draw the chart: {e:?}", path.display())
}

/// A horizontal bar chart of `bars` (top to bottom in the given order).
pub fn bar_chart(path: &Path, title: &str, x_label: &str, bars: &[Bar]) -> Result<()> {
    let mut svg = String::new();
    draw_bars(&mut svg, path, title, x_label, bars)?;
    crate::guard::write_file(path, svg.as_bytes())
}

fn draw_bars(
    svg: &mut String,
    path: &Path,
    title: &str,
    x_label: &str,
    bars: &[Bar],
) -> Result<()> {
    let n = bars.len().max(1);
    let height = 120 + 28 * n as u32;
    let root = SVGBackend::with_string(svg, (900, height)).into_drawing_area();
    root.fill(&WHITE).map_err(err(path))?;
    let lo = bars.iter().map(|b| b.value).fold(0.0f64, f64::min);
    let hi = bars.iter().map(|b| b.value).fold(0.0f64, f64::max);
    let pad = ((hi - lo) * 0.08).max(1.0);
    let (lo, hi) = (lo - if lo < 0.0 { pad } else { 0.0 }, hi + pad);
    let labels: Vec<String> = bars.iter().map(|b| b.label.clone()).collect();
    let mut chart = ChartBuilder::on(&root)
        .caption(title, ("sans-serif", 20))
        .margin(12)
        .x_label_area_size(40)
        .y_label_area_size(330)
        .build_cartesian_2d(lo..hi, (0..n).into_segmented())
        .map_err(err(path))?;
    chart
        .configure_mesh()
        .disable_y_mesh()
        .y_labels(n)
        .y_label_formatter(&|v| match v {
            SegmentValue::CenterOf(i) | SegmentValue::Exact(i) => {
                // Top to bottom: the first bar sits at the top.
                (n - 1)
                    .checked_sub(*i)
                    .and_then(|j| labels.get(j))
                    .cloned()
                    .unwrap_or_default()
            }
            SegmentValue::Last => String::new(),
        })
        .x_desc(x_label)
        .draw()
        .map_err(err(path))?;
    chart
        .draw_series(bars.iter().enumerate().map(|(i, b)| {
            let row = n - 1 - i;
            let colour = match b.kind {
                BarKind::Good => RGBColor(46, 139, 87),
                BarKind::Bad => RGBColor(200, 40, 40),
                BarKind::Neutral => RGBColor(150, 150, 150),
            };
            let mut r = Rectangle::new(
                [
                    (0.0, SegmentValue::Exact(row)),
                    (b.value, SegmentValue::Exact(row + 1)),
                ],
                colour.filled(),
            );
            r.set_margin(4, 4, 0, 0);
            r
        }))
        .map_err(err(path))?;
    root.present().map_err(err(path))?;
    Ok(())
}

/// One line of a line chart.
#[derive(Debug, Clone)]
pub struct Series {
    pub name: String,
    pub points: Vec<(f64, f64)>,
}

/// A line chart with a logarithmic x axis (sizes) and a linear y axis.
pub fn line_chart(
    path: &Path,
    title: &str,
    x_label: &str,
    y_label: &str,
    series: &[Series],
) -> Result<()> {
    let mut svg = String::new();
    draw_lines(&mut svg, path, title, x_label, y_label, series)?;
    crate::guard::write_file(path, svg.as_bytes())
}

fn draw_lines(
    svg: &mut String,
    path: &Path,
    title: &str,
    x_label: &str,
    y_label: &str,
    series: &[Series],
) -> Result<()> {
    let xs = series.iter().flat_map(|s| s.points.iter().map(|p| p.0));
    let (xmin, xmax) = xs.fold((f64::INFINITY, 0.0f64), |(a, b), x| (a.min(x), b.max(x)));
    let (xmin, xmax) = if xmin.is_finite() && xmax > xmin {
        (xmin * 0.9, xmax * 1.1)
    } else {
        (1.0, 10.0)
    };
    let ymax = series
        .iter()
        .flat_map(|s| s.points.iter().map(|p| p.1))
        .fold(0.0f64, f64::max)
        .max(1e-9)
        * 1.1;
    let root = SVGBackend::with_string(svg, (900, 560)).into_drawing_area();
    root.fill(&WHITE).map_err(err(path))?;
    let mut chart = ChartBuilder::on(&root)
        .caption(title, ("sans-serif", 20))
        .margin(12)
        .x_label_area_size(45)
        .y_label_area_size(60)
        .build_cartesian_2d((xmin..xmax).log_scale(), 0.0..ymax)
        .map_err(err(path))?;
    chart
        .configure_mesh()
        .x_desc(x_label)
        .y_desc(y_label)
        .x_label_formatter(&|x| format!("{x:.0}"))
        .draw()
        .map_err(err(path))?;
    for (i, s) in series.iter().enumerate() {
        let colour = Palette99::pick(i).to_rgba();
        chart
            .draw_series(LineSeries::new(
                s.points.iter().copied(),
                colour.stroke_width(2),
            ))
            .map_err(err(path))?
            .label(s.name.clone())
            .legend(move |(x, y)| {
                PathElement::new(vec![(x, y), (x + 18, y)], colour.stroke_width(2))
            });
        chart
            .draw_series(s.points.iter().map(|&p| Circle::new(p, 3, colour.filled())))
            .map_err(err(path))?;
    }
    chart
        .configure_series_labels()
        .position(SeriesLabelPosition::UpperLeft)
        .background_style(WHITE.mix(0.85))
        .border_style(BLACK)
        .draw()
        .map_err(err(path))?;
    root.present().map_err(err(path))?;
    Ok(())
}
