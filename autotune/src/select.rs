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

use serde::{Deserialize, Serialize};

/// One candidate's figures at one size.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Cand {
    pub variant: String,
    pub median_ns: f64,
    pub spread_ns: f64,
    pub samples: u32,
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
            median_ns,
            spread_ns,
            samples: 10,
            pruned: false,
            cache_misses: None,
            instructions: None,
        }
    }

    fn usable(&self) -> bool {
        !self.pruned && self.median_ns.is_finite() && self.median_ns >= 0.0
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
    /// Why the winner is not simply the fastest, or that it won within the noise.
    pub note: Option<String>,
}

impl Rule {
    /// Whether two candidates are within each other's noise.
    pub fn tie(&self, a: &Cand, b: &Cand) -> bool {
        crate::measure::within_noise(
            a.median_ns,
            a.spread_ns,
            b.median_ns,
            b.spread_ns,
            self.rel_noise,
        )
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
                .filter(|&i| p.cands[i].median_ns.is_finite() && p.cands[i].median_ns >= 0.0)
                .collect();
            fallback = true;
        }
        let Some(&fastest) = usable
            .iter()
            .min_by(|&&a, &&b| p.cands[a].median_ns.total_cmp(&p.cands[b].median_ns))
        else {
            return PointChoice {
                winner: None,
                fastest: None,
                acceptable: vec![],
                note: None,
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
            };
        }
        // Tie-breaks among the acceptable, in order (see the module docs).
        let mut pool = acceptable.clone();
        let mut broken_by = None;
        type Getter = fn(&Cand) -> Option<f64>;
        // Then fewer threads: within the noise a single thread leaves the other cores free,
        // and its timing depends less on what else runs, so choices repeat run to run.
        // Then a fixed order, so that equally fast siblings resolve the same way in every
        // run: pooled memory before in place before direct (no allocation, no fresh pages),
        // and the implementation needing fewer CPU features.
        let criteria: [(&str, Getter, f64); 5] = [
            ("cache misses", |c| c.cache_misses, self.misses_margin),
            ("instructions", |c| c.instructions, self.instructions_margin),
            ("threads", |c| thread_count(&c.variant), 0.0),
            (
                "allocation (pooled, in place, direct)",
                |c| memory_rank(&c.variant),
                0.0,
            ),
            ("CPU features needed", |c| feature_rank(&c.variant), 0.0),
        ];
        for (name, get, margin) in criteria {
            if pool.len() < 2 {
                break;
            }
            let vals: Option<Vec<f64>> = pool.iter().map(|&i| get(&p.cands[i])).collect();
            let Some(vals) = vals else { continue };
            let min = vals.iter().copied().fold(f64::INFINITY, f64::min);
            let kept: Vec<usize> = pool
                .iter()
                .zip(&vals)
                .filter(|(_, &v)| v <= min * (1.0 + margin) + 1e-9)
                .map(|(&i, _)| i)
                .collect();
            if kept.len() < pool.len() {
                broken_by.get_or_insert(name);
                pool = kept;
            }
        }
        let winner = *pool
            .iter()
            .min_by(|&&a, &&b| p.cands[a].median_ns.total_cmp(&p.cands[b].median_ns))
            .expect("pool is never empty");
        let others: Vec<&str> = acceptable
            .iter()
            .filter(|&&i| i != winner)
            .map(|&i| p.cands[i].variant.as_str())
            .collect();
        let note = if winner != fastest {
            let w = &p.cands[winner];
            Some(format!(
                "tie within noise with {} ({:+.1}%): chose fewer {}",
                f.variant,
                (w.median_ns / f.median_ns - 1.0) * 100.0,
                broken_by.unwrap_or("?")
            ))
        } else {
            Some(match broken_by {
                Some(by) => format!(
                    "tie within noise with {}: kept, fewer {by}",
                    others.join(", ")
                ),
                None => format!(
                    "tie within noise with {}: kept the lower median (no counter difference)",
                    others.join(", ")
                ),
            })
        };
        PointChoice {
            winner: Some(winner),
            fastest: Some(fastest),
            acceptable,
            note,
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
            .filter(|c| c.variant != id && c.median_ns.is_finite())
            .min_by(|a, b| a.median_ns.total_cmp(&b.median_ns))
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
                            median_ns: a.median_ns + b.median_ns,
                            spread_ns: a.spread_ns + b.spread_ns,
                            samples: a.samples.min(b.samples),
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
                (Some(a), Some(p)) => points[j].cands[a].median_ns < points[j].cands[p].median_ns,
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
        let mut notes = Vec::new();
        for &j in &pts {
            if let Some(note) = &choices[j].note {
                notes.push(format!("size {}: {note}", points[j].size));
            }
            if let Some(w) = choices[j].winner {
                let wid = &points[j].cands[w].variant;
                if *wid != id {
                    notes.push(format!(
                        "size {}: {wid} was preferred here but {id} is within the noise; kept {id} so the choice does not flap",
                        points[j].size
                    ));
                }
            }
        }
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
        ranges,
    }
}
