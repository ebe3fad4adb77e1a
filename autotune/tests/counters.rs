//! The counter fallback: a fake source, the environment switch, and a real measurement
//! through the software source.

use autotune::counters::{
    self, open_with, CounterSource, Counts, Preference, SoftwareCounters, SourceKind,
};
use autotune::measure::{race, RaceCtx, Settings};
use backends::problem::Problem;
use backends::{catalog, Op, Shape};
use std::time::{Duration, Instant};

/// A fake PMU: counts each start/stop bracket as 1000 cycles and 2000 instructions.
struct FakeHardware {
    brackets: u64,
}

impl CounterSource for FakeHardware {
    fn kind(&self) -> SourceKind {
        SourceKind::Hardware
    }
    fn events(&self) -> Vec<&'static str> {
        vec!["cycles", "instructions"]
    }
    fn start(&mut self) {}
    fn stop(&mut self) -> Counts {
        self.brackets += 1;
        Counts {
            cycles: Some(1000.0),
            instructions: Some(2000.0),
            cache_misses: Some(5.0),
            ..Counts::default()
        }
    }
}

#[test]
fn preference_parses_the_environment_values() {
    assert_eq!(Preference::parse(None).unwrap(), Preference::Auto);
    assert_eq!(Preference::parse(Some("")).unwrap(), Preference::Auto);
    assert_eq!(
        Preference::parse(Some("software")).unwrap(),
        Preference::Software
    );
    assert_eq!(
        Preference::parse(Some(" Hardware ")).unwrap(),
        Preference::Hardware
    );
    let err = Preference::parse(Some("gpu")).unwrap_err();
    assert!(err.contains("AUTOTUNE_COUNTERS"), "{err}");
}

#[test]
fn forced_software_never_touches_the_pmu() {
    let src = open_with(
        Preference::Software,
        || -> Result<Box<dyn CounterSource>, String> {
            panic!("the hardware opener must not be called when software is forced")
        },
    )
    .unwrap();
    assert_eq!(src.kind(), SourceKind::Software);
    assert!(src.reason().unwrap().contains("forced"));
}

#[test]
fn auto_falls_back_with_the_os_reason() {
    let src = open_with(Preference::Auto, || {
        Err("perf_event_open(cycles) failed: No such file or directory (os error 2)".into())
    })
    .unwrap();
    assert_eq!(src.kind(), SourceKind::Software);
    assert!(src.reason().unwrap().contains("os error 2"));
    let line = counters::source_line(src.kind(), src.reason().as_deref(), &src.events());
    assert!(
        line.contains("software") && line.contains("os error 2"),
        "{line}"
    );
    assert!(!line.contains('\n'), "one line of the report");

    // Hardware insisted on: the error comes back.
    let r = open_with(Preference::Hardware, || Err("no PMU".into()));
    assert!(r.is_err());

    // Auto with a working (fake) PMU keeps it.
    let src = open_with(Preference::Auto, || {
        Ok(Box::new(FakeHardware { brackets: 0 }))
    })
    .unwrap();
    assert_eq!(src.kind(), SourceKind::Hardware);
}

#[test]
fn real_open_never_panics_and_explains_a_fallback() {
    // On this VM there is no PMU; elsewhere there may be. Either way: a source, and a reason
    // exactly when it is the software one.
    let src = counters::open(Preference::Auto).unwrap();
    match src.kind() {
        SourceKind::Hardware => assert!(src.reason().is_none()),
        SourceKind::Software => assert!(!src.reason().unwrap_or_default().is_empty()),
    }
}

#[test]
fn software_counters_count_cpu_time() {
    let mut s = SoftwareCounters::new(None);
    s.start();
    let t = Instant::now();
    let mut x = 0u64;
    while t.elapsed() < Duration::from_millis(5) {
        x = x.wrapping_add(std::hint::black_box(1));
    }
    let c = s.stop();
    assert!(x > 0);
    assert!(c.task_clock_ns.unwrap() > 1e6, "{c:?}");
    assert!(c.page_faults.unwrap() >= 0.0);
    assert!(c.cycles.is_none() && c.instructions.is_none());
}

fn settings() -> Settings {
    let mut s = Settings::quick();
    s.sample_ns = 20_000.0;
    s
}

fn run_race(src: &mut dyn CounterSource) -> autotune::measure::Outcome {
    let op = Op::Add;
    let p = Problem::random(op, Shape::Elems(4096), 3).unwrap();
    let vs: Vec<_> = catalog().of(op).filter(|v| v.threads == 1).collect();
    let far = Instant::now() + Duration::from_secs(60);
    race(
        &p,
        &vs,
        RaceCtx::new(&settings(), src, far, far).verify(true),
    )
}

#[test]
fn race_with_the_software_fallback_records_software_figures_only() {
    let mut src = SoftwareCounters::new(Some("test".into()));
    let out = run_race(&mut src);
    assert!(out.excluded.is_empty(), "{:?}", out.excluded);
    let best = out.best().unwrap();
    let c = best.counters.expect("the winner gets a counter pass");
    assert!(c.task_clock_ns.is_some() && c.page_faults.is_some());
    assert!(c.cycles.is_none() && c.instructions.is_none() && c.ipc().is_none());
    for r in &out.results {
        assert!(r.timing.median_ns > 0.0 && r.timing.spread_ns >= 0.0 && r.timing.samples >= 1);
    }
}

#[test]
fn race_with_a_fake_pmu_reports_per_call_figures() {
    let mut src = FakeHardware { brackets: 0 };
    let out = run_race(&mut src);
    assert!(src.brackets > 0);
    let c = out.best().unwrap().counters.unwrap();
    // 2000 instructions per bracket of at most 4 calls (in-place ops restore between them).
    let ipc = c.ipc().unwrap();
    assert!((ipc - 2.0).abs() < 1e-9, "{ipc}");
    assert!(c.instructions.unwrap() >= 500.0 - 1e-9);
}
