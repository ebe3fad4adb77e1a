//! The selection rule, on plain measurements (no timing here, so it is tested on synthetic
//! data).
//!
//! At one size: the fastest median wins, except that candidates *within the noise* of the
//! fastest (overlapping median ± MAD, or less than [`Rule::rel_noise`] apart) are ties, and a
//! tie goes to fewer cache misses (by more than 5 %), then fewer instructions (by more than
//! 2 %), where those were counted, then fewer threads, then pooled before in-place before
//! direct memory, then the implementation needing fewer CPU features, else to the lower
//! median. Pruned candidates never win.
//!
//! Across sizes (one op and bucket, sorted by size): every size has a set of *acceptable*
//! variants (those within the noise of its fastest). The chosen sequence keeps one variant
//! for as long as it stays acceptable and switches only when it must, to the variant that
//! stays acceptable longest (ties to that size's preferred winner) — the fewest switches any
//! choice of acceptable variants allows, so winners do not flap on noise, and a lone
//! different winner survives only where it beats its neighbours' winner by more than the noise.
//! Each switch is then moved back over sizes where the new winner was already both acceptable
//! and faster, so crossovers sit where the medians cross. Runs of one variant become ranges:
//! the first starts at 0, the last is open-ended, and neighbouring ranges meet at the
//! geometric mean of the last size of one and the first of the next.
//!
//! Notes: every choice that is not a clear win carries a note naming the other contender
//! (never the chosen variant itself), the measured gap in percent and which test of the noise
//! it passes ([`Rule::gap_words`]), in words that match that figure. [`Selection::notes`]
//! describes the variant finally chosen at each size, after smoothing, so a note always
//! agrees with the table's chosen column.

use crate::measure::Timing;
use serde::{Deserialize, Serialize};

/// One candidate's figures at one size.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Cand {
    pub variant: String,
    /// Serialized inline (`median_ns`, `spread_ns`, `samples`).
    #[serde(flatten)]
    pub timing: Timing,
    /// Dropped early as a clear loser: never a winner, never acceptable.
    pub pruned: bool,
    pub cache_misses: Option<f64>,
    pub instructions: Option<f64>,
}

impl Cand {
    /// A candidate with only timing figures.
    pub fn timed(variant: &str, median_ns: f64, spread_ns: f64) -> Cand {
        Cand {
            variant: variant.into(),
            timing: Timing {
                median_ns,
                spread_ns,
                samples: 10,
            },
            pruned: false,
            cache_misses: None,
            instructions: None,
        }
    }

    fn usable(&self) -> bool {
        !self.pruned && self.timing.median_ns.is_finite() && self.timing.median_ns >= 0.0
    }
}

/// All candidates at one size.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Point {
    pub size: u64,
    pub cands: Vec<Cand>,
}

/// The rule's parameters.
#[derive(Debug, Clone, Copy)]
pub struct Rule {
    /// Medians less than this far apart (relative) are a tie even with tight spreads.
    pub rel_noise: f64,
    /// Cache misses must be this much lower (relative) to break a tie.
    pub misses_margin: f64,
    /// Instructions must be this much lower (relative) to break a tie.
    pub instructions_margin: f64,
}

impl Default for Rule {
    fn default() -> Rule {
        Rule {
            rel_noise: 0.03,
            misses_margin: 0.05,
            instructions_margin: 0.02,
        }
    }
}

/// The decision at one size.
#[derive(Debug, Clone, PartialEq)]
pub struct PointChoice {
    /// Index of the preferred candidate (after tie-breaks), `None` if nothing usable.
    pub winner: Option<usize>,
    /// Index of the fastest usable candidate.
    pub fastest: Option<usize>,
    /// Indices of the candidates within the noise of the fastest (including it).
    pub acceptable: Vec<usize>,
    /// Why the winner is not simply the fastest, or that it won within the noise: names the
    /// other contender (never the winner itself), the measured gap in percent and whether
    /// that gap is within the noise as [`Rule::tie`] defines it. `None` for a clear win.
    pub note: Option<String>,
    /// The tie-break that put the winner before the faster `fastest` (e.g. "fewer
    /// threads"); `None` when the fastest won.
    pub preferred_for: Option<&'static str>,
}

impl Rule {
    /// Whether two candidates are within each other's noise.
    pub fn tie(&self, a: &Cand, b: &Cand) -> bool {
        crate::measure::within_noise(
            a.timing.median_ns,
            a.timing.spread_ns,
            b.timing.median_ns,
            b.timing.spread_ns,
            self.rel_noise,
        )
    }

    /// How `slower` compares with `faster`, in words that match the figures: the gap in
    /// percent (`slower`'s median over `faster`'s, less one), followed by `dir` — the word the
    /// sentence needs ("faster" when its subject is `faster`, "slower" when it is `slower`) —
    /// then whether the gap is within the noise and by which of the two tests of
    /// [`Rule::tie`]: under the relative threshold, or under the sum of the two MADs (both
    /// in percent of the faster median, so the reader can add them up).
    pub fn gap_words(&self, slower: &Cand, faster: &Cand, dir: &str) -> String {
        let base = faster
            .timing
            .median_ns
            .min(slower.timing.median_ns)
            .max(1e-9);
        let d = (slower.timing.median_ns - faster.timing.median_ns).abs();
        let pct = 100.0 * d / base;
        let threshold = 100.0 * self.rel_noise;
        let mads = format!(
            "{:.1}% + {:.1}%",
            100.0 * slower.timing.spread_ns / base,
            100.0 * faster.timing.spread_ns / base
        );
        let noise = if d < self.rel_noise * base {
            format!("within the noise (under the {threshold:.0}% threshold)")
        } else if d <= slower.timing.spread_ns + faster.timing.spread_ns {
            format!("within the noise (under the sum of their MADs, {mads})")
        } else {
            format!("beyond the noise (over the {threshold:.0}% threshold and their MADs, {mads})")
        };
        // One more decimal next to the threshold, so "3.0% ... under the 3% threshold" is
        // never printed for 2.96%.
        let digits = if (pct - threshold).abs() < 0.05 { 2 } else { 1 };
        format!("{pct:.digits$}% {dir}, {noise}")
    }

    /// The decision at one size.
    pub fn choose(&self, p: &Point) -> PointChoice {
        let mut usable: Vec<usize> = (0..p.cands.len())
            .filter(|&i| p.cands[i].usable())
            .collect();
        let mut fallback = false;
        if usable.is_empty() {
            // Every fully sampled candidate is gone (e.g. excluded later as wrong): choose
            // among the pruned ones rather than leave the size to the default.
            usable = (0..p.cands.len())
                .filter(|&i| {
                    p.cands[i].timing.median_ns.is_finite() && p.cands[i].timing.median_ns >= 0.0
                })
                .collect();
            fallback = true;
        }
        let Some(&fastest) = usable.iter().min_by(|&&a, &&b| {
            p.cands[a]
                .timing
                .median_ns
                .total_cmp(&p.cands[b].timing.median_ns)
        }) else {
            return PointChoice {
                winner: None,
                fastest: None,
                acceptable: vec![],
                note: None,
                preferred_for: None,
            };
        };
        let f = &p.cands[fastest];
        let acceptable: Vec<usize> = usable
            .iter()
            .copied()
            .filter(|&i| i == fastest || self.tie(&p.cands[i], f))
            .collect();
        if acceptable.len() == 1 || fallback {
            return PointChoice {
                winner: Some(fastest),
                fastest: Some(fastest),
                acceptable: if fallback { vec![fastest] } else { acceptable },
                note: fallback.then(|| {
                    "only early-pruned candidates remain here (the others were excluded): chose the fastest of them".to_string()
                }),
                preferred_for: None,
            };
        }
        // Tie-breaks among the acceptable, in order (see the module docs). Each candidate a
        // criterion drops is remembered with it, so the note can say what separated the
        // winner from the fastest.
        let mut pool = acceptable.clone();
        let mut dropped_by: Vec<(usize, &'static str)> = Vec::new();
        type Getter = fn(&Cand) -> Option<f64>;
        // Then fewer threads: within the noise a single thread leaves the other cores free,
        // and its timing depends less on what else runs, so choices repeat run to run.
        // Then a fixed order, so that equally fast siblings resolve the same way in every
        // run: pooled memory before in place before direct (no allocation, no fresh pages),
        // and the implementation needing fewer CPU features.
        let criteria: [(&'static str, Getter, f64); 5] = [
            ("fewer cache misses", |c| c.cache_misses, self.misses_margin),
            (
                "fewer instructions",
                |c| c.instructions,
                self.instructions_margin,
            ),
            ("fewer threads", |c| thread_count(&c.variant), 0.0),
            (
                "less allocation (pooled before in place before direct)",
                |c| memory_rank(&c.variant),
                0.0,
            ),
            (
                "fewer CPU features needed",
                |c| feature_rank(&c.variant),
                0.0,
            ),
        ];
        for (name, get, margin) in criteria {
            if pool.len() < 2 {
                break;
            }
            let vals: Option<Vec<f64>> = pool.iter().map(|&i| get(&p.cands[i])).collect();
            let Some(vals) = vals else { continue };
            let min = vals.iter().copied().fold(f64::INFINITY, f64::min);
            type Valued = Vec<(usize, f64)>;
            let (kept, gone): (Valued, Valued) = pool
                .iter()
                .copied()
                .zip(vals)
                .partition(|&(_, v)| v <= min * (1.0 + margin) + 1e-9);
            dropped_by.extend(gone.iter().map(|&(i, _)| (i, name)));
            pool = kept.into_iter().map(|(i, _)| i).collect();
        }
        let winner = *pool
            .iter()
            .min_by(|&&a, &&b| {
                p.cands[a]
                    .timing
                    .median_ns
                    .total_cmp(&p.cands[b].timing.median_ns)
            })
            .expect("pool is never empty");
        let why_dropped = |i: usize| {
            dropped_by
                .iter()
                .find(|(j, _)| *j == i)
                .map(|(_, name)| *name)
        };
        let note = if winner != fastest {
            // The fastest lost a tie-break: name it, the margin and the criterion that
            // dropped it.
            Some(format!(
                "{} is {}; chose this one for {}",
                f.variant,
                self.gap_words(&p.cands[winner], f, "faster"),
                why_dropped(fastest).unwrap_or("the lower median")
            ))
        } else {
            // The fastest won; its closest rival within the noise is named.
            let rival = acceptable
                .iter()
                .copied()
                .filter(|&i| i != winner)
                .min_by(|&a, &b| {
                    p.cands[a]
                        .timing
                        .median_ns
                        .total_cmp(&p.cands[b].timing.median_ns)
                })
                .expect("more than one acceptable");
            let more = acceptable.len() - 2;
            Some(format!(
                "{} is {}{}; kept the fastest{}",
                p.cands[rival].variant,
                self.gap_words(&p.cands[rival], f, "slower"),
                if more > 0 {
                    format!(", and {more} more within the noise")
                } else {
                    String::new()
                },
                match why_dropped(rival) {
                    Some(by) => format!(", which also has {by}"),
                    None => ", the lower median (no tie-break tells them apart)".to_string(),
                }
            ))
        };
        PointChoice {
            winner: Some(winner),
            fastest: Some(fastest),
            acceptable,
            note,
            preferred_for: (winner != fastest).then(|| why_dropped(fastest)).flatten(),
        }
    }
}

/// One chosen range of sizes.
#[derive(Debug, Clone, PartialEq)]
pub struct RangeChoice {
    pub min: u64,
    /// `None`: open-ended.
    pub max: Option<u64>,
    pub variant: String,
    /// Indices (into the sorted points) of the sizes in this range.
    pub points: Vec<usize>,
    /// The point whose figures stand as the range's evidence.
    pub representative: usize,
    pub notes: Vec<String>,
}

/// The decision for one op and bucket.
#[derive(Debug, Clone, PartialEq)]
pub struct Selection {
    /// The points, sorted by size (points of one size merged, see `merge_same_size`).
    pub points: Vec<Point>,
    pub choices: Vec<PointChoice>,
    /// The variant chosen at each point (after smoothing), `None` where nothing was usable.
    pub chosen: Vec<Option<String>>,
    /// The note on the chosen variant at each point (see [`PointChoice::note`]): why it is
    /// not simply the fastest, or which rival was within the noise; it names the other
    /// contender with the measured gap, never the chosen variant itself.
    pub notes: Vec<Option<String>>,
    pub ranges: Vec<RangeChoice>,
}

/// Pooled 0, in place 1, direct 2 (the memory part of a variant id).
fn memory_rank(id: &str) -> Option<f64> {
    match backends::catalog::parse_id(id)?.2 {
        backends::Memory::Pooled => Some(0.0),
        backends::Memory::InPlace => Some(1.0),
        backends::Memory::Direct => Some(2.0),
    }
}

/// How demanding a variant's implementation is: portable 0, AVX2/NEON 1, AVX-512 2.
fn feature_rank(id: &str) -> Option<f64> {
    let (_, imp, ..) = backends::catalog::parse_id(id)?;
    let v = backends::catalog()
        .variants()
        .iter()
        .find(|v| v.implementation == imp)?;
    Some(match v.requires {
        None => 0.0,
        Some(kernels::cpu::Feature::Avx512) => 2.0,
        Some(_) => 1.0,
    })
}

/// The thread count of a variant id (`.../tN`).
fn thread_count(id: &str) -> Option<f64> {
    id.rsplit('/').next()?.strip_prefix('t')?.parse().ok()
}

fn index_of(p: &Point, id: &str) -> Option<usize> {
    p.cands.iter().position(|c| c.variant == id)
}

impl Selection {
    /// The chosen candidate at point `i`.
    pub fn chosen_cand(&self, i: usize) -> Option<&Cand> {
        let id = self.chosen[i].as_deref()?;
        self.points[i].cands.iter().find(|c| c.variant == id)
    }

    /// The best other usable candidate at point `i` (the runner-up of the chosen one).
    pub fn runner_up(&self, i: usize) -> Option<&Cand> {
        let id = self.chosen[i].as_deref()?;
        self.points[i]
            .cands
            .iter()
            .filter(|c| c.variant != id && c.timing.median_ns.is_finite())
            .min_by(|a, b| a.timing.median_ns.total_cmp(&b.timing.median_ns))
    }
}

/// Points of equal size (different shapes with one key, e.g. T×C·4C and T×4C·C) become one:
/// the table cannot tell them apart, so the best choice is the variant with the least total
/// time over both. Figures add up; a variant missing from either is dropped.
fn merge_same_size(points: Vec<Point>) -> Vec<Point> {
    let mut out: Vec<Point> = Vec::new();
    for p in points {
        match out.last_mut() {
            Some(last) if last.size == p.size => {
                let merged = last
                    .cands
                    .iter()
                    .filter_map(|a| {
                        let b = p.cands.iter().find(|b| b.variant == a.variant)?;
                        let sum = |x: Option<f64>, y: Option<f64>| Some(x? + y?);
                        Some(Cand {
                            variant: a.variant.clone(),
                            timing: Timing {
                                median_ns: a.timing.median_ns + b.timing.median_ns,
                                spread_ns: a.timing.spread_ns + b.timing.spread_ns,
                                samples: a.timing.samples.min(b.timing.samples),
                            },
                            pruned: a.pruned || b.pruned,
                            cache_misses: sum(a.cache_misses, b.cache_misses),
                            instructions: sum(a.instructions, b.instructions),
                        })
                    })
                    .collect();
                last.cands = merged;
            }
            _ => out.push(p),
        }
    }
    out
}

/// Applies the rule to the points of one op and bucket.
pub fn select(rule: &Rule, mut points: Vec<Point>) -> Selection {
    points.sort_by_key(|p| p.size);
    let points = merge_same_size(points);
    let choices: Vec<PointChoice> = points.iter().map(|p| rule.choose(p)).collect();
    let n = points.len();
    let acceptable = |i: usize, id: &str| -> bool {
        index_of(&points[i], id).is_some_and(|k| choices[i].acceptable.contains(&k))
    };
    // Greedy fewest switches.
    let mut chosen: Vec<Option<String>> = vec![None; n];
    let mut i = 0;
    while i < n {
        let Some(pref) = choices[i].winner else {
            i += 1;
            continue;
        };
        let run_len = |id: &str| (i..n).take_while(|&j| acceptable(j, id)).count();
        // Candidates: acceptable at i; the preferred first so it wins ties of run length.
        let mut order: Vec<usize> = vec![pref];
        order.extend(choices[i].acceptable.iter().copied().filter(|&k| k != pref));
        let best = order
            .iter()
            .map(|&k| (k, run_len(&points[i].cands[k].variant)))
            .fold((pref, 0), |acc, x| if x.1 > acc.1 { x } else { acc });
        let id = points[i].cands[best.0].variant.clone();
        let len = best.1.max(1);
        for c in chosen.iter_mut().skip(i).take(len) {
            *c = Some(id.clone());
        }
        i += len;
    }
    // Move each switch back over sizes where the new winner is acceptable and faster.
    for b in 1..n {
        let (Some(prev), Some(next)) = (chosen[b - 1].clone(), chosen[b].clone()) else {
            continue;
        };
        if prev == next {
            continue;
        }
        let mut k = b;
        while k >= 2 && chosen[k - 2].as_deref() == Some(prev.as_str()) {
            let j = k - 1;
            let faster = match (index_of(&points[j], &next), index_of(&points[j], &prev)) {
                (Some(a), Some(p)) => {
                    points[j].cands[a].timing.median_ns < points[j].cands[p].timing.median_ns
                }
                _ => false,
            };
            if acceptable(j, &next) && faster {
                chosen[j] = Some(next.clone());
                k -= 1;
            } else {
                break;
            }
        }
    }
    let point_notes: Vec<Option<String>> = (0..n)
        .map(|i| chosen_note(rule, &points[i], &choices[i], chosen[i].as_deref()))
        .collect();
    // Runs into ranges.
    let mut ranges: Vec<RangeChoice> = Vec::new();
    let mut start = 0;
    let idx: Vec<usize> = (0..n).filter(|&i| chosen[i].is_some()).collect();
    while start < idx.len() {
        let id = chosen[idx[start]].clone().expect("filtered");
        let mut end = start;
        while end + 1 < idx.len() && chosen[idx[end + 1]].as_deref() == Some(id.as_str()) {
            end += 1;
        }
        let pts: Vec<usize> = idx[start..=end].to_vec();
        let min = match ranges.last() {
            None => 0,
            Some(r) => r.max.map_or(0, |m| m + 1),
        };
        let max = if end + 1 < idx.len() {
            let (a, b) = (points[idx[end]].size, points[idx[end + 1]].size);
            let g = ((a as f64) * (b as f64)).sqrt().floor() as u64;
            Some(g.clamp(a, b.saturating_sub(1).max(a)))
        } else {
            None
        };
        let notes: Vec<String> = pts
            .iter()
            .filter_map(|&j| {
                point_notes[j]
                    .as_ref()
                    .map(|n| format!("size {}: {n}", points[j].size))
            })
            .collect();
        let representative = pts[pts.len() / 2];
        ranges.push(RangeChoice {
            min,
            max,
            variant: id,
            points: pts,
            representative,
            notes,
        });
        start = end + 1;
    }
    Selection {
        points,
        choices,
        chosen,
        notes: point_notes,
        ranges,
    }
}

/// The note on the variant finally chosen at one point, `chosen`, after smoothing: the
/// point's own note when the chosen is the point's winner; otherwise what the smoothing did,
/// naming the fastest and the tie-break winner where they differ from the chosen (never the
/// chosen itself as its rival) with the measured gaps.
fn chosen_note(rule: &Rule, p: &Point, ch: &PointChoice, chosen: Option<&str>) -> Option<String> {
    let c = index_of(p, chosen?)?;
    let (w, f) = (ch.winner?, ch.fastest?);
    if c == w {
        return ch.note.clone();
    }
    let (cc, fc, wc) = (&p.cands[c], &p.cands[f], &p.cands[w]);
    let kept = "kept this one: it is within the noise here and the smoothing across sizes keeps it, so the choice does not flap";
    Some(if c == f {
        format!(
            "the tie-break alone would pick {} for {}; it is {}; kept the fastest: the smoothing across sizes keeps it, so the choice does not flap",
            wc.variant,
            ch.preferred_for.unwrap_or("the lower median"),
            rule.gap_words(wc, fc, "slower")
        )
    } else if w == f {
        format!(
            "{} is {}; {kept}",
            fc.variant,
            rule.gap_words(cc, fc, "faster")
        )
    } else {
        format!(
            "{} is {}, and the tie-break prefers {} for {}; {kept}",
            fc.variant,
            rule.gap_words(cc, fc, "faster"),
            wc.variant,
            ch.preferred_for.unwrap_or("the lower median")
        )
    })
}
