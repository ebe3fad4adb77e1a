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
