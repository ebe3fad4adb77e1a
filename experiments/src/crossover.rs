//! The study's lesson as an experiment: MatMul over sizes with pooled vs direct memory and
//! one vs all threads, where each wins, and whether the dispatcher picks the winner.
//!
//! For every size n (square n×n by n×n) the four memory × threads variants of one
//! implementation and the dispatcher's own pick are timed in interleaved rounds (so drift
//! hits all of them alike) until a per-size budget is spent. The winner is the lowest median;
//! the dispatcher's pick is **OK** when it is the winner or within the noise band of it
//! (the larger of the two medians' 2·MAD and `tolerance_pct` of the winner's median).

use crate::plot::{self, Marker, Series};
use crate::report::markdown_table;
use anyhow::{anyhow, Result};
use backends::problem::Problem;
use backends::timing::{self, Calibration, Order, Sampling};
use backends::{catalog, Dispatcher, Key, Memory, Op, Shape, Variant};
use std::hint::black_box;
use std::path::Path;
use std::time::{Duration, Instant};

/// The default sweep: a dozen sizes from 16 to 1024.
pub const SIZES: [usize; 13] = [16, 24, 32, 48, 64, 96, 128, 192, 256, 384, 512, 768, 1024];

/// How to run the sweep.
#[derive(Debug, Clone)]
pub struct Options {
    pub sizes: Vec<usize>,
    /// The implementation whose memory × threads forms are compared (`None`: the fastest
    /// single-threaded one at n = 128, found by a short race).
    pub implementation: Option<String>,
    /// Time spent per size, all variants together.
    pub budget: Duration,
    /// The smallest noise band, in percent of the winner's median.
    pub tolerance_pct: f64,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            sizes: SIZES.to_vec(),
            implementation: None,
            budget: Duration::from_millis(600),
            tolerance_pct: 3.0,
        }
    }
}

/// One variant's timing at one size.
#[derive(Debug, Clone)]
pub struct Timing {
    pub variant: &'static Variant,
    pub median_ns: f64,
    pub mad_ns: f64,
    pub samples: usize,
}

/// The verdict at one size.
#[derive(Debug, Clone)]
pub struct Point {
    pub n: usize,
    /// The four memory × threads forms (those the catalog has), then the dispatcher's pick if
    /// it is not one of them.
    pub timings: Vec<Timing>,
    /// Index of the winner in `timings`.
    pub winner: usize,
    /// Index of the dispatcher's pick in `timings`.
    pub picked: usize,
    /// Whether the pick is the winner or within noise of it.
    pub ok: bool,
    /// The pick's slowdown over the winner, in percent.
    pub slowdown_pct: f64,
    pub band_pct: f64,
}

/// The whole sweep.
#[derive(Debug, Clone)]
pub struct Sweep {
    pub implementation: String,
    pub dispatcher: String,
    pub threads: usize,
    pub points: Vec<Point>,
}

fn flops(n: usize) -> f64 {
    2.0 * (n as f64).powi(3)
}

/// Calls per timed sample so that one sample lasts at least ~20 µs (the roofline's too).
pub(crate) fn batch_for(ns_per_call: f64) -> u64 {
    timing::calls_for(ns_per_call.max(1.0), 20_000.0, 1, 10_000)
}

/// The fastest runnable single-threaded pooled MatMul implementation at n = 128 (a short
/// race: a few calls each, reference check first).
pub fn fastest_implementation() -> Result<String> {
    let shape = Shape::parse(Op::Matmul, "128").map_err(anyhow::Error::msg)?;
    let problem = Problem::random(Op::Matmul, shape, 5).map_err(anyhow::Error::msg)?;
    let mut best: Option<(f64, &'static str)> = None;
    for v in catalog()
        .of(Op::Matmul)
        .filter(|v| v.memory == Memory::Pooled && v.threads == 1 && v.runnable().is_ok())
    {
        if problem.verify(v).is_err() {
            continue;
        }
        let mut p = problem.clone();
        let five = Sampling {
            warmup_calls: 0,
            calibration: Calibration::single(),
            samples: 5,
        };
        let times = timing::sample(&five, || p.execute(v).map(|o| drop(black_box(o))))?;
        let m = timing::median(&times.per_call_ns);
        if best.is_none_or(|(b, _)| m < b) {
            best = Some((m, v.implementation));
        }
    }
    best.map(|(_, name)| name.to_string())
        .ok_or_else(|| anyhow!("no runnable MatMul implementation"))
}

fn find(implementation: &str, memory: Memory, threads: usize) -> Option<&'static Variant> {
    catalog().of(Op::Matmul).find(|v| {
        v.implementation == implementation
            && v.memory == memory
            && v.threads == threads
            && v.runnable().is_ok()
    })
}

/// Runs the sweep through dispatcher `d`.
pub fn run(d: &Dispatcher, opts: &Options, dispatcher_name: &str) -> Result<Sweep> {
    let implementation = match &opts.implementation {
        Some(i) => i.clone(),
        None => fastest_implementation()?,
    };
    let max_t = backends::threads::available();
    let mut forms: Vec<&'static Variant> = Vec::new();
    for t in [1, max_t] {
        for m in [Memory::Pooled, Memory::Direct] {
            if let Some(v) = find(&implementation, m, t) {
                if !forms.iter().any(|f| f.id == v.id) {
                    forms.push(v);
                }
            }
        }
    }
    if forms.is_empty() {
        return Err(anyhow!(
            "implementation `{implementation}` has no runnable MatMul variant here"
        ));
    }
    let mut points = Vec::new();
    for &n in &opts.sizes {
        let shape = Shape::parse(Op::Matmul, &n.to_string()).map_err(anyhow::Error::msg)?;
        let pick = d.lookup(Op::Matmul, Key::matmul(n, n, n)).variant();
        let mut vars = forms.clone();
        if !vars.iter().any(|v| v.id == pick.id) {
            vars.push(pick);
        }
        let problem = Problem::random(Op::Matmul, shape, n as u64).map_err(anyhow::Error::msg)?;
        let mut probs: Vec<Problem> = vars.iter().map(|_| problem.clone()).collect();
        // Warm-up call each (pool, thread pool, caches) and a first estimate for batching.
        let mut batch = Vec::new();
        for (v, p) in vars.iter().zip(probs.iter_mut()) {
            batch.push(batch_for(timing::time_once(0, || {
                p.execute(v).map(|o| drop(black_box(o)))
            })?));
        }
        let start = Instant::now();
        // Interleaved rounds until the budget is spent (at least 3 rounds, at most 200).
        let samples = timing::interleave(
            vars.len(),
            Order::Fixed,
            |rounds, _| rounds < 3 || (start.elapsed() < opts.budget && rounds < 200),
            |i| {
                let (v, p) = (vars[i], &mut probs[i]);
                timing::per_call_ns(batch[i], || p.execute(v).map(|o| drop(black_box(o))))
            },
        )?;
        let timings: Vec<Timing> = vars
            .iter()
            .zip(&samples)
            .map(|(v, s)| Timing {
                variant: v,
                median_ns: timing::median(s),
                mad_ns: timing::mad(s),
                samples: s.len(),
            })
            .collect();
        let forms_n = forms.len();
        let winner = (0..timings.len())
            .min_by(|&a, &b| timings[a].median_ns.total_cmp(&timings[b].median_ns))
            .unwrap_or(0);
        let picked = vars.iter().position(|v| v.id == pick.id).unwrap_or(forms_n);
        let (w, p) = (&timings[winner], &timings[picked]);
        let band_ns = (2.0 * w.mad_ns)
            .max(2.0 * p.mad_ns)
            .max(opts.tolerance_pct / 100.0 * w.median_ns);
        let slowdown_pct = 100.0 * (p.median_ns - w.median_ns) / w.median_ns;
        points.push(Point {
            n,
            ok: picked == winner || p.median_ns - w.median_ns <= band_ns,
            band_pct: 100.0 * band_ns / w.median_ns,
            timings,
            winner,
            picked,
            slowdown_pct,
        });
    }
    Ok(Sweep {
        implementation,
        dispatcher: dispatcher_name.to_string(),
        threads: max_t,
        points,
    })
}

impl Sweep {
    /// The form columns: the memory × threads variants of the implementation.
    fn form_names(&self) -> Vec<String> {
        let mut names: Vec<String> = Vec::new();
        for p in &self.points {
            for t in &p.timings {
                let v = t.variant;
                if v.implementation == self.implementation && !names.contains(&v.id) {
                    names.push(v.id.clone());
                }
            }
        }
        names
    }

    /// The per-size verdict lines.
    pub fn verdicts(&self) -> Vec<String> {
        self.points
            .iter()
            .map(|p| {
                let w = &p.timings[p.winner];
                let k = &p.timings[p.picked];
                if p.picked == p.winner {
                    format!("n = {:>4}: OK   dispatcher picks {} = the winner", p.n, k.variant.id)
                } else if p.ok {
                    format!(
                        "n = {:>4}: OK   dispatcher picks {}, {:+.1}% vs winner {} (inside the noise band of {:.1}%)",
                        p.n, k.variant.id, p.slowdown_pct, w.variant.id, p.band_pct
                    )
                } else {
                    format!(
                        "n = {:>4}: MISS dispatcher picks {}, {:+.1}% slower than winner {} (noise band {:.1}%)",
                        p.n, k.variant.id, p.slowdown_pct, w.variant.id, p.band_pct
                    )
                }
            })
            .collect()
    }

    /// The sweep as Markdown: GFLOP/s per form and size, the winner, the dispatcher's pick
    /// and the verdict.
    pub fn markdown(&self) -> String {
        let forms = self.form_names();
        let mut head = vec!["n".to_string()];
        head.extend(forms.iter().map(|f| short(f)));
        head.extend([
            "winner".to_string(),
            "dispatcher pick".into(),
            "pick GFLOP/s".into(),
            "verdict".into(),
        ]);
        let mut rows = vec![head];
        for p in &self.points {
            let mut r = vec![p.n.to_string()];
            for f in &forms {
                r.push(
                    p.timings
                        .iter()
                        .find(|t| &t.variant.id == f)
                        .map_or("-".into(), |t| {
                            let g = flops(p.n) / t.median_ns;
                            if t.variant.id == p.timings[p.winner].variant.id {
                                format!("**{g:.2}**")
                            } else {
                                format!("{g:.2}")
                            }
                        }),
                );
            }
            let k = &p.timings[p.picked];
            r.push(short(&p.timings[p.winner].variant.id));
            r.push(k.variant.id.clone());
            r.push(format!("{:.2}", flops(p.n) / k.median_ns));
            r.push(if p.picked == p.winner {
                "OK (winner)".into()
            } else if p.ok {
                format!("OK ({:+.1}%, noise {:.1}%)", p.slowdown_pct, p.band_pct)
            } else {
                format!("MISS ({:+.1}%)", p.slowdown_pct)
            });
            rows.push(r);
        }
        let misses = self.points.iter().filter(|p| !p.ok).count();
        let mut s = String::from("# MatMul crossover: memory × threads\n\n");
        s.push_str(&format!(
            "Implementation `{}`; dispatcher: {}; {} threads available. Cells: median GFLOP/s (2n³ per call), the winner in bold.\n\n",
            self.implementation, self.dispatcher, self.threads
        ));
        s.push_str(&markdown_table(&rows));
        s.push_str(&format!(
            "\nDispatcher verdict: {} of {} sizes OK{}.\n",
            self.points.len() - misses,
            self.points.len(),
            if misses > 0 {
                format!(", {misses} MISS")
            } else {
                String::new()
            }
        ));
        s
    }

    /// GFLOP/s against n on log-log axes: one line per form, in the implementation's colour
    /// (one thread: its colour, all threads: a darker shade with triangles; direct memory
    /// dashed), the dispatcher's pick as a wide faint line with a ring per size in the colour
    /// of the implementation it picked there, and a red cross where the verdict is MISS.
    pub fn svg(&self, path: &Path) -> Result<()> {
        let base = plot::implementation_colour(&self.implementation);
        let mut series: Vec<Series> = Vec::new();
        // The pick first, so that the forms are drawn over its highlight.
        series.push(Series {
            name: format!("dispatcher pick ({})", self.dispatcher),
            points: self
                .points
                .iter()
                .map(|p| (p.n as f64, flops(p.n) / p.timings[p.picked].median_ns))
                .collect(),
            colour: plotters::style::RGBColor(0, 0, 0),
            dashed: false,
            width: 8,
            alpha: 0.15,
            marker: Marker::None,
        });
        for f in self.form_names() {
            let Some(v) = self
                .points
                .iter()
                .flat_map(|p| p.timings.iter())
                .find(|t| t.variant.id == f)
                .map(|t| t.variant)
            else {
                continue;
            };
            let many = v.threads > 1;
            series.push(Series {
                points: self
                    .points
                    .iter()
                    .filter_map(|p| {
                        p.timings
                            .iter()
                            .find(|t| t.variant.id == f)
                            .map(|t| (p.n as f64, flops(p.n) / t.median_ns))
                    })
                    .collect(),
                name: f,
                colour: if many { plot::darker(base, 0.45) } else { base },
                dashed: v.memory == Memory::Direct,
                width: 2,
                alpha: 1.0,
                marker: if many {
                    Marker::Triangle
                } else {
                    Marker::Circle
                },
            });
        }
        let mut picked: Vec<&str> = Vec::new();
        for p in &self.points {
            let i = p.timings[p.picked].variant.implementation;
            if !picked.contains(&i) {
                picked.push(i);
            }
        }
        for i in picked {
            series.push(Series {
                name: format!("  picks {i} here"),
                points: self
                    .points
                    .iter()
                    .filter(|p| p.timings[p.picked].variant.implementation == i)
                    .map(|p| (p.n as f64, flops(p.n) / p.timings[p.picked].median_ns))
                    .collect(),
                colour: plot::implementation_colour(i),
                dashed: false,
                width: 0,
                alpha: 1.0,
                marker: Marker::Ring,
            });
        }
        let misses: Vec<(f64, f64)> = self
            .points
            .iter()
            .filter(|p| !p.ok)
            .map(|p| (p.n as f64, flops(p.n) / p.timings[p.picked].median_ns))
            .collect();
        if !misses.is_empty() {
            series.push(Series {
                name: "  MISS: slower than the winner".into(),
                points: misses,
                colour: plot::RED,
                dashed: false,
                width: 0,
                alpha: 1.0,
                marker: Marker::Cross,
            });
        }
        plot::line_chart(
            path,
            &plot::LineChart {
                title: format!(
                    "MatMul n×n×n: {} memory × threads, and the dispatcher's pick",
                    self.implementation
                ),
                x_label: "n (log scale)".into(),
                y_label: "GFLOP/s (log scale)".into(),
                x_pow2: true,
                series,
            },
        )
    }
}

/// `matmul/gemm/pooled/t1` → `pooled/t1`.
fn short(id: &str) -> String {
    let parts: Vec<&str> = id.split('/').collect();
    if parts.len() == 4 {
        format!("{}/{}", parts[2], parts[3])
    } else {
        id.to_string()
    }
}
