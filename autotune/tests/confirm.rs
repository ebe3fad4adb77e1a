//! Confirmation passes: how the figures of repeated races of one candidate combine, and what
//! that does to the choice.

use autotune::measure::{CandResult, Timing};
use autotune::select::{select, Cand, Point, Rule};

fn race(id: &str, median: f64, spread: f64) -> CandResult {
    CandResult {
        variant: id.into(),
        threads: if id.ends_with("/t2") { 2 } else { 1 },
        timing: Timing {
            median_ns: median,
            spread_ns: spread,
            samples: 21,
        },
        batch: 10,
        pruned: None,
        counters: None,
        passes: Vec::new(),
    }
}

/// The figures of a candidate raced once per `(median, spread)`.
fn raced(id: &str, races: &[(f64, f64)]) -> CandResult {
    let mut r = race(id, races[0].0, races[0].1);
    for &(m, s) in &races[1..] {
        r.absorb(&race(id, m, s));
    }
    r
}

fn cand(r: &CandResult) -> Cand {
    Cand::timed(&r.variant, r.timing.median_ns, r.timing.spread_ns)
}

#[test]
fn one_disturbed_race_is_outvoted() {
    let r = raced(
        "add/avx2/pooled/t1",
        &[(100.0, 2.0), (160.0, 3.0), (101.0, 2.0)],
    );
    assert_eq!(r.timing.median_ns, 101.0, "the median of the three races");
    // Median of the spreads is 2; the races' medians deviate by a median of 1.
    assert_eq!(r.timing.spread_ns, 2.0);
    assert_eq!(r.timing.samples, 63);
    assert_eq!(r.passes.len(), 3);
}

#[test]
fn races_that_disagree_widen_the_spread() {
    let r = raced(
        "add/avx2/pooled/t2",
        &[(90.0, 1.0), (120.0, 1.0), (100.0, 1.0)],
    );
    assert_eq!(r.timing.median_ns, 100.0);
    // |90-100| = 10, |120-100| = 20, |100-100| = 0: median deviation 10.
    assert_eq!(r.timing.spread_ns, 10.0);
}

/// The variant chosen at one size among `cands`.
fn chosen(cands: &[&CandResult]) -> String {
    let sel = select(
        &Rule::default(),
        vec![Point {
            size: 1000,
            cands: cands.iter().map(|c| cand(c)).collect(),
        }],
    );
    sel.chosen[0].clone().expect("a choice")
}

#[test]
fn a_lead_that_does_not_repeat_goes_to_the_tie_break() {
    // The two-thread form won one race by 10 % and lost another by 15 %: its median is the
    // lowest, but the races disagree, so the one-thread form (steady, 4 % slower) is within
    // the noise and wins the tie-break (fewer threads).
    let t2 = raced(
        "add/avx2/pooled/t2",
        &[(90.0, 1.0), (120.0, 1.0), (100.0, 1.0)],
    );
    let t1 = raced(
        "add/avx2/pooled/t1",
        &[(100.0, 1.0), (105.0, 1.0), (104.0, 1.0)],
    );
    assert_eq!(chosen(&[&t2, &t1]), "add/avx2/pooled/t1");
    // Whereas a lead that repeats in every race stands.
    let t2 = raced(
        "add/avx2/pooled/t2",
        &[(90.0, 1.0), (92.0, 1.0), (91.0, 1.0)],
    );
    assert_eq!(chosen(&[&t2, &t1]), "add/avx2/pooled/t2");
}

#[test]
fn a_candidate_pruned_early_and_then_fully_raced_contends_again() {
    let mut first = race("softmax/avx512/inplace/t2", 31_300.0, 6_800.0);
    first.pruned = Some("pruned after 8 samples: 1.17× the best".into());
    let mut r = first.clone();
    r.absorb(&race("softmax/avx512/inplace/t2", 25_100.0, 200.0));
    assert!(r.pruned.is_none());
    // A later race that pruned it too leaves it pruned.
    let mut again = first.clone();
    again.absorb(&first);
    assert!(again.pruned.is_some());
}
