//! The roofline study end to end in its quick form: roofs measured, points placed, the
//! Markdown and the SVG written.

use experiments::roofline::{self, Options};

#[test]
fn quick_roofline_measures_places_and_draws() {
    let opts = Options {
        quick: true,
        ..Options::default()
    };
    let r = match roofline::run(&opts, |_| {}) {
        Ok(r) => r,
        // No FMA probe for this CPU (neither AVX-512 nor AVX2): nothing to measure.
        Err(e) if !kernels::cpu::available(kernels::cpu::Feature::Avx2) => {
            eprintln!("skipped: {e}");
            return;
        }
        Err(e) => panic!("{e:#}"),
    };
    assert!(r.roofs.peak() > 0.0);
    assert_eq!(r.roofs.levels.len(), 4);
    for l in &r.roofs.levels {
        assert!(l.read_gbs > 0.0 && l.copy_gbs > 0.0, "{l:?}");
    }
    // Every shape of the quick set has its points, each with a positive time and a limit.
    for (label, _, _) in roofline::shapes(true) {
        let pts: Vec<_> = r.points.iter().filter(|p| p.label == label).collect();
        assert!(!pts.is_empty(), "{label}: no point");
        for p in pts {
            assert!(
                p.median_ns > 0.0 && p.flops > 0.0 && p.bytes > 0.0,
                "{label}"
            );
            assert!(p.limit(&r.roofs).0 > 0.0);
        }
    }
    assert!(
        r.excluded.iter().all(|e| !e.contains("wrong result")),
        "{:?}",
        r.excluded
    );
    // The decode shape is compared with a peer.
    let decode = r.decode_rows();
    assert_eq!(decode.len(), 1);
    assert!(decode[0].ratio().is_some());
    let md = r.markdown();
    for heading in ["## Every point", "## Decode shapes", "## GELU and Softmax"] {
        assert!(md.contains(heading), "{heading} missing");
    }
    let dir = std::env::temp_dir().join(format!("roofline-test-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let svg = dir.join("roofline.svg");
    r.svg(&svg).unwrap();
    let text = std::fs::read_to_string(&svg).unwrap();
    assert!(text.contains("<svg") && text.contains("FMA peak"));
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn working_sets_follow_the_cache_hierarchy() {
    use backends::machine::Caches;
    const K: u64 = 1 << 10;
    const M: u64 = 1 << 20;
    // The working sets of a core with these caches (sizes in bytes).
    let sets = |l1d: u64, l2: u64, l3: Option<u64>| {
        let caches = Caches {
            l1d: Some(l1d),
            l2: Some(l2),
            l3,
        };
        roofline::working_sets(&caches, false)
    };
    // Zen 3: 32 KiB L1d, 512 KiB L2 per core, 32 MiB L3.
    let zen3 = sets(32 * K, 512 * K, Some(32 * M));
    let ws: Vec<(&str, usize)> = zen3.iter().map(|l| (l.0, l.1)).collect();
    assert_eq!(
        ws,
        [
            ("L1", 16 << 10),
            ("L2", 256 << 10),
            ("L3", 16 << 20),
            ("DRAM", 256 << 20)
        ]
    );
    // A 4 MiB-L2 Arm core without an L3: no L3 roof, DRAM at 8× the L2 (but ≥ 256 MiB).
    let arm = sets(64 * K, 4 * M, None);
    let names: Vec<&str> = arm.iter().map(|l| l.0).collect();
    assert_eq!(names, ["L1", "L2", "DRAM"]);
    assert_eq!(arm[1].1, 2 << 20);
    // A tiny L2 (not larger than twice L1) still gets a working set above L1.
    let odd = sets(48 * K, 64 * K, Some(96 * M));
    assert_eq!(odd[1].1, 96 << 10);
    assert_eq!(odd[3].1, 768 << 20);
    // Each working set exceeds the capacity of the level inside it.
    for w in [zen3, arm, odd] {
        for pair in w.windows(2) {
            assert!(pair[1].1 > pair[0].2, "{pair:?}");
        }
    }
}
