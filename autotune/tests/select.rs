//! The selection rule on synthetic measurements.

use autotune::select::{select, Cand, Point, PointChoice, Rule, Selection};

fn c(id: &str, median: f64, mad: f64) -> Cand {
    Cand::timed(id, median, mad)
}

fn with_counters(mut c: Cand, misses: Option<f64>, instr: Option<f64>) -> Cand {
    c.cache_misses = misses;
    c.instructions = instr;
    c
}

fn point(size: u64, cands: Vec<Cand>) -> Point {
    Point { size, cands }
}

/// A point where the two variants "a" and "b" ran, with medians `a` and `b` and one MAD.
fn ab(size: u64, a: f64, b: f64, mad: f64) -> Point {
    point(size, vec![c("a", a, mad), c("b", b, mad)])
}

/// `c`, dropped early as a clear loser.
fn pruned(mut c: Cand) -> Cand {
    c.pruned = true;
    c
}

/// The default rule's choice at one point (the size does not enter a single point's choice).
fn choose(cands: Vec<Cand>) -> PointChoice {
    Rule::default().choose(&point(100, cands))
}

/// The variant of each range of `sel`, in order.
fn range_variants(sel: &Selection) -> Vec<&str> {
    sel.ranges.iter().map(|r| r.variant.as_str()).collect()
}

/// A deterministic pseudo-random sequence in [0, 1) (a 64-bit LCG), for the sweeps.
fn lcg(mut seed: u64) -> impl FnMut() -> f64 {
    move || {
        seed = seed
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        (seed >> 33) as f64 / (1u64 << 31) as f64
    }
}

#[test]
fn lowest_median_wins_when_clear() {
    let ch = choose(vec![
        c("a", 100.0, 1.0),
        c("b", 80.0, 1.0),
        c("c", 120.0, 1.0),
    ]);
    assert_eq!(ch.winner, Some(1));
    assert_eq!(ch.fastest, Some(1));
    assert_eq!(ch.acceptable, vec![1]);
    assert!(ch.note.is_none());
}

#[test]
fn ties_break_by_counters_then_threads_memory_and_features() {
    // What the case shows, the candidates, the index that must win and a word its note must
    // contain (`None`: the note is not checked).
    let cases: Vec<(&str, Vec<Cand>, usize, Option<&str>)> = vec![
        (
            "a is 1% faster but within noise; b has far fewer misses",
            vec![
                with_counters(c("a", 99.0, 2.0), Some(1000.0), Some(500.0)),
                with_counters(c("b", 100.0, 2.0), Some(100.0), Some(900.0)),
            ],
            1,
            Some("cache misses"),
        ),
        (
            "equal misses: fewer instructions decides",
            vec![
                with_counters(c("a", 99.0, 2.0), Some(100.0), Some(900.0)),
                with_counters(c("b", 100.0, 2.0), Some(101.0), Some(500.0)),
            ],
            1,
            Some("instructions"),
        ),
        (
            "no counters: the lower median stays, and the note says it was a tie",
            vec![c("a", 99.0, 2.0), c("b", 100.0, 2.0)],
            0,
            Some("lower median"),
        ),
        (
            "counters on only one side: cannot compare, the lower median stays",
            vec![
                c("a", 99.0, 2.0),
                with_counters(c("b", 100.0, 2.0), Some(1.0), Some(1.0)),
            ],
            0,
            None,
        ),
        (
            "outside the noise counters do not matter",
            vec![
                with_counters(c("a", 80.0, 1.0), Some(1000.0), Some(1000.0)),
                with_counters(c("b", 100.0, 1.0), Some(1.0), Some(1.0)),
            ],
            0,
            None,
        ),
        (
            "10% apart but MADs of 6 each overlap: a tie even beyond 3%",
            vec![
                with_counters(c("a", 100.0, 6.0), Some(50.0), None),
                with_counters(c("b", 110.0, 6.0), Some(10.0), None),
            ],
            1,
            None,
        ),
        (
            "t2 is 1% faster but within noise, no counters tell them apart: t1 wins",
            vec![
                c("matmul/avx512/pooled/t2", 99.0, 2.0),
                c("matmul/avx512/pooled/t1", 100.0, 2.0),
            ],
            1,
            Some("threads"),
        ),
        (
            "a clear lead still wins, threads or not",
            vec![
                c("matmul/avx512/pooled/t2", 60.0, 1.0),
                c("matmul/avx512/pooled/t1", 100.0, 1.0),
            ],
            0,
            None,
        ),
        (
            "same kernel, memory within noise: pooled before in place before direct",
            vec![
                c("softmax/avx512/direct/t1", 98.0, 2.0),
                c("softmax/avx512/inplace/t1", 99.0, 2.0),
                c("softmax/avx512/pooled/t1", 100.0, 2.0),
            ],
            2,
            Some("allocation"),
        ),
        (
            "same memory and threads: the implementation needing fewer CPU features",
            vec![
                c("add/avx512/inplace/t1", 99.0, 2.0),
                c("add/avx2/inplace/t1", 100.0, 2.0),
            ],
            1,
            None,
        ),
    ];
    for (what, cands, winner, word) in cases {
        let ch = choose(cands);
        assert_eq!(ch.winner, Some(winner), "{what}: {ch:?}");
        if let Some(word) = word {
            let note = ch.note.as_deref().unwrap_or_default();
            assert!(note.contains(word), "{what}: {ch:?}");
        }
    }
}

#[test]
fn pruned_candidates_never_win() {
    let rule = Rule::default();
    let p = point(100, vec![pruned(c("a", 50.0, 1.0)), c("b", 100.0, 1.0)]);
    assert_eq!(rule.choose(&p).winner, Some(1));
    let sel = select(&rule, vec![p]);
    assert_eq!(sel.ranges[0].variant, "b");
}

#[test]
fn ranges_merge_sorted_and_open_ended() {
    let rule = Rule::default();
    // Unsorted input; a wins small sizes, b large.
    let pts = vec![
        ab(1000, 200.0, 100.0, 1.0),
        ab(10, 10.0, 20.0, 0.1),
        ab(100, 50.0, 80.0, 0.5),
        ab(10_000, 2000.0, 900.0, 5.0),
    ];
    let sel = select(&rule, pts);
    assert_eq!(sel.ranges.len(), 2);
    let (r0, r1) = (&sel.ranges[0], &sel.ranges[1]);
    assert_eq!((r0.min, r0.variant.as_str()), (0, "a"));
    assert_eq!(r0.max, Some(316)); // floor(sqrt(100 * 1000))
    assert_eq!((r1.min, r1.max, r1.variant.as_str()), (317, None, "b"));
    assert_eq!(r0.points, vec![0, 1]);
    assert_eq!(r1.points, vec![2, 3]);
}

#[test]
fn lone_winner_within_noise_is_smoothed_away() {
    let rule = Rule::default();
    let pts = vec![
        ab(1, 100.0, 120.0, 1.0),
        ab(2, 100.0, 120.0, 1.0),
        // b fastest by 2%: within noise.
        ab(3, 102.0, 100.0, 1.0),
        ab(4, 100.0, 120.0, 1.0),
    ];
    let sel = select(&rule, pts);
    assert_eq!(sel.ranges.len(), 1, "{:?}", sel.ranges);
    assert_eq!(sel.ranges[0].variant, "a");
    assert_eq!(sel.ranges[0].max, None);
    assert!(sel.ranges[0]
        .notes
        .iter()
        .any(|n| n.contains("does not flap")));
}

#[test]
fn lone_winner_beyond_noise_survives() {
    let rule = Rule::default();
    let pts = vec![
        ab(1, 100.0, 120.0, 1.0),
        ab(2, 130.0, 100.0, 1.0),
        ab(3, 100.0, 120.0, 1.0),
    ];
    let sel = select(&rule, pts);
    assert_eq!(range_variants(&sel), ["a", "b", "a"]);
    assert_eq!(sel.ranges[1].min, 2);
    assert_eq!(sel.ranges[1].max, Some(2));
}

#[test]
fn no_flapping_on_alternating_noise() {
    let rule = Rule::default();
    // a and b alternate by 1%: one range, no switches.
    let pts: Vec<Point> = (0..10)
        .map(|i| {
            let (ma, mb) = if i % 2 == 0 {
                (100.0, 101.0)
            } else {
                (101.0, 100.0)
            };
            ab(1 << i, ma, mb, 0.5)
        })
        .collect();
    let sel = select(&rule, pts);
    assert_eq!(sel.ranges.len(), 1, "{:?}", sel.ranges);
    assert_eq!(sel.ranges[0].min, 0);
    assert_eq!(sel.ranges[0].max, None);
}

#[test]
fn crossover_sits_where_medians_cross() {
    let rule = Rule::default();
    // a clearly best at 1, 2; within noise at 3..5 with b already faster at 4, 5;
    // b clearly best from 6.
    let m = [
        (100.0, 150.0),
        (100.0, 150.0),
        (100.0, 101.0),
        (101.0, 100.0),
        (101.5, 100.0),
        (150.0, 100.0),
    ];
    let pts: Vec<Point> = m
        .iter()
        .enumerate()
        .map(|(i, &(a, b))| ab(10 * (i as u64 + 1), a, b, 0.5))
        .collect();
    let sel = select(&rule, pts);
    assert_eq!(range_variants(&sel), ["a", "b"]);
    // b takes over at size 40, the first size where it is faster.
    assert_eq!(sel.ranges[1].points, vec![3, 4, 5]);
    assert_eq!(sel.ranges[0].max, Some(34)); // floor(sqrt(30 * 40))
}

#[test]
fn same_size_shapes_merge_by_total_time() {
    let rule = Rule::default();
    // Two shapes with one key: a wins the first by a little, b the second by a lot.
    let pts = vec![ab(64, 100.0, 110.0, 1.0), ab(64, 300.0, 200.0, 1.0)];
    let sel = select(&rule, pts);
    assert_eq!(sel.points.len(), 1);
    assert_eq!(sel.ranges[0].variant, "b");
    assert_eq!(sel.points[0].cands[1].timing.median_ns, 310.0);
}

#[test]
fn empty_and_unusable_points() {
    let rule = Rule::default();
    let sel = select(&rule, vec![]);
    assert!(sel.ranges.is_empty());
    let sel = select(
        &rule,
        vec![
            point(5, vec![]),
            point(10, vec![c("a", f64::NAN, 0.0)]),
            point(20, vec![c("a", 10.0, 1.0)]),
        ],
    );
    assert_eq!(sel.ranges.len(), 1);
    assert_eq!(sel.ranges[0].min, 0);
    assert_eq!(sel.ranges[0].max, None);
}

#[test]
fn ranges_are_contiguous_and_valid_for_any_input() {
    // A deterministic pseudo-random sweep: ranges always start at 0, are contiguous, and the
    // last is open-ended.
    let rule = Rule::default();
    let mut next = lcg(12345u64);
    for _ in 0..200 {
        let n = 1 + (next() * 12.0) as usize;
        let pts: Vec<Point> = (0..n)
            .map(|i| {
                point(
                    (i as u64 + 1) * (1 + (next() * 5.0) as u64),
                    (0..3)
                        .map(|k| c(["a", "b", "c"][k], 50.0 + next() * 100.0, next() * 5.0))
                        .collect(),
                )
            })
            .collect();
        let sel = select(&rule, pts);
        assert_eq!(sel.ranges[0].min, 0);
        assert_eq!(sel.ranges.last().unwrap().max, None);
        for w in sel.ranges.windows(2) {
            let m = w[0].max.expect("only the last range is open");
            assert!(m >= w[0].min);
            assert_eq!(w[1].min, m + 1);
            assert_ne!(
                w[0].variant, w[1].variant,
                "adjacent ranges with one winner merge"
            );
        }
        // Each chosen variant is acceptable at its sizes.
        for (i, ch) in sel.choices.iter().enumerate() {
            let id = sel.chosen[i].as_deref().unwrap();
            let k = sel.points[i]
                .cands
                .iter()
                .position(|c| c.variant == id)
                .unwrap();
            assert!(ch.acceptable.contains(&k));
        }
    }
}

#[test]
fn only_pruned_candidates_left_still_gives_a_range() {
    let rule = Rule::default();
    let (a, b) = (pruned(c("a", 500.0, 1.0)), pruned(c("b", 400.0, 1.0)));
    let sel = select(&rule, vec![point(10, vec![a, b])]);
    assert_eq!(sel.ranges.len(), 1);
    assert_eq!(sel.ranges[0].variant, "b");
    assert!(sel.choices[0].note.as_deref().unwrap().contains("pruned"));
}

/// The candidate ids named in `note`, in order of first appearance.
fn named_in<'a>(note: &str, p: &'a Point) -> Vec<&'a str> {
    let mut found: Vec<(usize, &str)> = p
        .cands
        .iter()
        .filter_map(|c| note.find(&c.variant).map(|at| (at, c.variant.as_str())))
        .collect();
    found.sort();
    found.into_iter().map(|(_, id)| id).collect()
}

/// The first "P% faster" / "P% slower" figure of `note` after byte `from`.
fn first_gap(note: &str, from: usize) -> (f64, &'static str) {
    let rest = &note[from..];
    let at = ["% faster", "% slower"]
        .iter()
        .filter_map(|w| rest.find(w))
        .min()
        .unwrap_or_else(|| panic!("no gap figure in `{note}`"));
    let dir = if rest[at..].starts_with("% faster") {
        "faster"
    } else {
        "slower"
    };
    let digits = rest[..at]
        .rsplit(|ch: char| !(ch.is_ascii_digit() || ch == '.'))
        .next()
        .unwrap();
    (digits.parse().unwrap(), dir)
}

/// Checks every note of a selection: it never names the chosen variant (so never as its own
/// rival), its first-named variant is the rival whose measured gap to the chosen it states,
/// to the printed precision and in the right direction, and "within the noise" appears
/// exactly when the rule calls the two a tie, with the test that holds.
fn check_notes(rule: &Rule, sel: &Selection) {
    for (i, note) in sel.notes.iter().enumerate() {
        let p = &sel.points[i];
        let chosen = sel.chosen[i].as_deref();
        let fastest = sel.choices[i].fastest.map(|f| p.cands[f].variant.as_str());
        if chosen != fastest {
            assert!(
                note.is_some(),
                "size {}: a slower choice needs a note",
                p.size
            );
        }
        let (Some(note), Some(chosen)) = (note, chosen) else {
            continue;
        };
        assert!(
            !note.contains(chosen),
            "size {}: the note names the chosen {chosen}: {note}",
            p.size
        );
        let named = named_in(note, p);
        let Some(&rival_id) = named.first() else {
            assert!(note.contains("pruned"), "a note without a rival: {note}");
            continue;
        };
        let c = p.cands.iter().find(|x| x.variant == chosen).unwrap();
        let r = p.cands.iter().find(|x| x.variant == rival_id).unwrap();
        let (pct, dir) = first_gap(note, note.find(rival_id).unwrap());
        let (slow, fast) = if r.timing.median_ns < c.timing.median_ns {
            (c, r)
        } else {
            (r, c)
        };
        let gap = 100.0 * (slow.timing.median_ns - fast.timing.median_ns) / fast.timing.median_ns;
        assert!(
            (pct - gap).abs() <= 0.051,
            "stated {pct}%, measured {gap}%: {note}"
        );
        assert_eq!(
            dir,
            if r.timing.median_ns < c.timing.median_ns {
                "faster"
            } else {
                "slower"
            },
            "{note}"
        );
        let tie = rule.tie(c, r);
        assert_eq!(note.contains("within the noise"), tie, "{note}");
        assert_eq!(note.contains("beyond the noise"), !tie, "{note}");
        if note.contains("under the 3% threshold") {
            assert!(gap < 3.0, "{note}");
        }
        if note.contains("under the sum of their MADs") {
            assert!(gap >= 3.0 - 1e-9, "{note}");
            assert!(
                slow.timing.median_ns - fast.timing.median_ns
                    <= slow.timing.spread_ns + fast.timing.spread_ns,
                "{note}"
            );
        }
    }
}

#[test]
fn a_note_names_the_real_rival_with_the_measured_gap() {
    let rule = Rule::default();
    // The report's case at 327.7K: the fastest t2 variant and a t1 tie-break winner are
    // within the noise, and the smoothing keeps a third variant from the neighbouring sizes.
    let (g2, a2, g1) = (
        "matmul/gemm/pooled/t2",
        "matmul/avx512/pooled/t2",
        "matmul/gemm/pooled/t1",
    );
    let pts = vec![
        point(
            100,
            vec![c(g2, 100.0, 1.0), c(a2, 130.0, 1.0), c(g1, 150.0, 1.0)],
        ),
        point(
            200,
            vec![c(g2, 100.7, 1.0), c(a2, 100.0, 1.0), c(g1, 102.0, 1.0)],
        ),
        point(
            300,
            vec![c(g2, 100.0, 1.0), c(a2, 130.0, 1.0), c(g1, 150.0, 1.0)],
        ),
    ];
    let sel = select(&rule, pts);
    assert_eq!(sel.chosen[1].as_deref(), Some(g2));
    let note = sel.notes[1].as_deref().unwrap();
    assert!(note.starts_with(&format!("{a2} is 0.7% faster")), "{note}");
    assert!(note.contains(&format!("the tie-break prefers {g1} for fewer threads")));
    assert!(note.contains("does not flap"));
    check_notes(&rule, &sel);
    // A variant kept 16.1% slower is called that, with the spreads that make it a tie.
    let pts = vec![point(
        10,
        vec![
            c("softmax/avx2/pooled/t2", 100.0, 9.0),
            c("softmax/avx2/pooled/t1", 116.1, 9.0),
        ],
    )];
    let sel = select(&rule, pts);
    assert_eq!(sel.chosen[0].as_deref(), Some("softmax/avx2/pooled/t1"));
    let note = sel.notes[0].as_deref().unwrap();
    assert!(
        note.starts_with("softmax/avx2/pooled/t2 is 16.1% faster, within the noise (under the sum of their MADs, 9.0% + 9.0%)"),
        "{note}"
    );
    assert!(!note.contains("slightly"));
    check_notes(&rule, &sel);
}

#[test]
fn notes_never_name_the_chosen_and_match_the_margin_for_any_input() {
    let rule = Rule::default();
    let ids = [
        "matmul/avx2/pooled/t1",
        "matmul/avx2/direct/t2",
        "matmul/gemm/pooled/t2",
        "matmul/tiled/pooled/t1",
    ];
    let mut next = lcg(987_654_321u64);
    let mut noted = 0;
    for _ in 0..400 {
        let n = 1 + (next() * 10.0) as usize;
        let pts: Vec<Point> = (0..n)
            .map(|i| {
                point(
                    (i as u64 + 1) * 10,
                    ids.iter()
                        .map(|id| {
                            let mut x = c(id, 100.0 + next() * 25.0, next() * 12.0);
                            if next() < 0.3 {
                                x.cache_misses = Some(1000.0 * (1.0 + next()));
                                x.instructions = Some(5000.0 * (1.0 + next() * 0.1));
                            }
                            x
                        })
                        .collect(),
                )
            })
            .collect();
        let sel = select(&rule, pts);
        noted += sel.notes.iter().flatten().count();
        check_notes(&rule, &sel);
    }
    assert!(noted > 500, "the sweep exercises the notes ({noted})");
}
