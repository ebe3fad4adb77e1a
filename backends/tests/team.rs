//! The fork-join team: every part runs exactly once, concurrent and nested callers are safe,
//! and a panicking part is reported without breaking the team.

mod common;

use backends::team::team;
use std::sync::atomic::{AtomicUsize, Ordering};

fn counts(n: usize) -> Vec<AtomicUsize> {
    (0..n).map(|_| AtomicUsize::new(0)).collect()
}

#[test]
fn every_part_runs_exactly_once() {
    for threads in [1, 2, 3, 5] {
        let t = team(threads);
        assert_eq!(t.threads(), threads);
        for _ in 0..200 {
            let seen = counts(threads);
            t.run(&|i| {
                seen[i].fetch_add(1, Ordering::Relaxed);
            });
            for (i, c) in seen.iter().enumerate() {
                assert_eq!(c.load(Ordering::Relaxed), 1, "part {i} of {threads}");
            }
        }
    }
}

#[test]
fn results_written_by_helpers_are_visible_to_the_caller() {
    let t = team(2);
    for round in 0..500u64 {
        let mut out = vec![0u64; 2 * 1024];
        let ptr = out.as_mut_ptr() as usize;
        t.run(&|i| {
            for j in i * 1024..(i + 1) * 1024 {
                // SAFETY: part i writes only the disjoint range [i·1024, (i+1)·1024) of `out`,
                // which outlives the call.
                unsafe { *(ptr as *mut u64).add(j) = round * 10_000 + j as u64 };
            }
        });
        assert!(out
            .iter()
            .enumerate()
            .all(|(j, &v)| v == round * 10_000 + j as u64));
    }
}

#[test]
fn concurrent_callers_each_get_all_their_parts() {
    std::thread::scope(|s| {
        for _ in 0..4 {
            s.spawn(|| {
                for _ in 0..300 {
                    let seen = counts(3);
                    team(3).run(&|i| {
                        seen[i].fetch_add(1, Ordering::Relaxed);
                    });
                    assert!(seen.iter().all(|c| c.load(Ordering::Relaxed) == 1));
                }
            });
        }
    });
}

#[test]
fn a_nested_call_runs_its_parts_itself() {
    let t = team(2);
    let inner = AtomicUsize::new(0);
    t.run(&|_| {
        team(2).run(&|_| {
            inner.fetch_add(1, Ordering::Relaxed);
        });
    });
    assert_eq!(inner.load(Ordering::Relaxed), 4);
}

#[test]
fn a_panicking_part_is_reported_and_the_team_still_works() {
    let t = team(4);
    for bad in [0, 3] {
        let r = std::panic::catch_unwind(|| {
            t.run(&|i| {
                if i == bad {
                    panic!("part {i} fails on purpose");
                }
            })
        });
        assert!(r.is_err(), "a panic in part {bad} reaches the caller");
        let seen = counts(4);
        t.run(&|i| {
            seen[i].fetch_add(1, Ordering::Relaxed);
        });
        assert!(seen.iter().all(|c| c.load(Ordering::Relaxed) == 1));
    }
}

#[test]
fn with_pinning_off_every_part_still_runs_once() {
    if std::env::var_os("KERNELS_PIN").is_some() {
        // The re-run below (or a caller who set it): the other tests cover this process.
        assert!(std::env::var("KERNELS_PIN").unwrap() != "0" || !backends::threads::pinning());
        return;
    }
    let exe = std::env::current_exe().expect("the test binary's path");
    let out = std::process::Command::new(exe)
        .args([
            "--exact",
            "every_part_runs_exactly_once",
            "with_pinning_off_every_part_still_runs_once",
        ])
        .env("KERNELS_PIN", "0")
        .output();
    match out {
        Ok(o) => common::assert_child_passed(&o, 2, "the run with KERNELS_PIN=0"),
        // Under user-mode emulation the binary cannot start itself.
        Err(e) => eprintln!("skipped: cannot re-run the test binary ({e})"),
    }
}
