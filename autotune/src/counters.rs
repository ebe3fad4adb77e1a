//! Counters behind one trait, so that the tuner runs alike with and without a PMU.
//!
//! * [`HardwareCounters`]: a `perf-event` group of cycles, instructions, cache references and
//!   cache misses (plus L1D read misses where the PMU offers them) on the calling thread,
//!   prorated by `time_enabled / time_running` when the kernel multiplexes them. Each event is
//!   probed alone before it joins the group: `perf-event` 0.4.9 panics reading a group whose
//!   hardware member failed to open.
//! * [`SoftwareCounters`]: process-wide CPU time (`CLOCK_PROCESS_CPUTIME_ID`, the "task
//!   clock" summed over every thread, helper threads included) and page faults (`getrusage`).
//!   Always available; the hardware source carries one too.
//!
//! [`open`] picks the source: hardware when `perf_event_open` works, else software with the
//! OS's reason. `AUTOTUNE_COUNTERS=software` forces the fallback (to test it on a machine with
//! a PMU); `AUTOTUNE_COUNTERS=hardware` makes a missing PMU an error instead.

use serde::{Deserialize, Serialize};

/// Counter figures over some stretch of calls (or per call, after [`Counts::per_call`]).
/// `None` where the source does not measure a figure.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct Counts {
    pub cycles: Option<f64>,
    pub instructions: Option<f64>,
    pub cache_references: Option<f64>,
    pub cache_misses: Option<f64>,
    pub l1d_read_misses: Option<f64>,
    /// CPU time of the whole process (all threads), ns.
    pub task_clock_ns: Option<f64>,
    pub page_faults: Option<f64>,
}

fn add_opt(a: Option<f64>, b: Option<f64>) -> Option<f64> {
    match (a, b) {
        (Some(a), Some(b)) => Some(a + b),
        (a, None) => a,
        (None, b) => b,
    }
}

impl Counts {
    /// Field-wise sum (a field missing on one side keeps the other's value).
    pub fn add(&self, o: &Counts) -> Counts {
        Counts {
            cycles: add_opt(self.cycles, o.cycles),
            instructions: add_opt(self.instructions, o.instructions),
            cache_references: add_opt(self.cache_references, o.cache_references),
            cache_misses: add_opt(self.cache_misses, o.cache_misses),
            l1d_read_misses: add_opt(self.l1d_read_misses, o.l1d_read_misses),
            task_clock_ns: add_opt(self.task_clock_ns, o.task_clock_ns),
            page_faults: add_opt(self.page_faults, o.page_faults),
        }
    }

    /// Every figure divided by `calls`.
    pub fn per_call(&self, calls: u64) -> Counts {
        let d = |x: Option<f64>| x.map(|v| v / calls.max(1) as f64);
        Counts {
            cycles: d(self.cycles),
            instructions: d(self.instructions),
            cache_references: d(self.cache_references),
            cache_misses: d(self.cache_misses),
            l1d_read_misses: d(self.l1d_read_misses),
            task_clock_ns: d(self.task_clock_ns),
            page_faults: d(self.page_faults),
        }
    }

    /// Instructions per cycle, where both were counted.
    pub fn ipc(&self) -> Option<f64> {
        match (self.instructions, self.cycles) {
            (Some(i), Some(c)) if c > 0.0 => Some(i / c),
            _ => None,
        }
    }

    /// Drops the per-thread hardware figures (kept: the process-wide software ones). Used for
    /// multi-threaded variants, whose work runs on pool threads the group does not observe.
    pub fn software_only(&self) -> Counts {
        Counts {
            task_clock_ns: self.task_clock_ns,
            page_faults: self.page_faults,
            ..Counts::default()
        }
    }
}

/// Which kind of counters a source provides.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SourceKind {
    Hardware,
    Software,
}

impl SourceKind {
    /// `hardware` or `software`, as the table's `counters.source` says.
    pub fn name(self) -> &'static str {
        match self {
            SourceKind::Hardware => "hardware",
            SourceKind::Software => "software",
        }
    }
}

/// A source of counter figures. `start` then `stop` brackets the calls to count; `stop`
/// returns what was counted in between. Sources must tolerate many start/stop pairs.
pub trait CounterSource {
    fn kind(&self) -> SourceKind;
    /// Why hardware counters are not used (the OS's error, or that the fallback was forced);
    /// `None`, the default, for a source that uses them.
    fn reason(&self) -> Option<String> {
        None
    }
    /// The hardware events in use (for the report), e.g. `["cycles", "instructions"]`.
    fn events(&self) -> Vec<&'static str>;
    fn start(&mut self);
    fn stop(&mut self) -> Counts;
}

// ---- software -------------------------------------------------------------------------------

/// Process CPU time and page faults: works everywhere Linux/Unix runs.
#[derive(Debug, Default)]
pub struct SoftwareCounters {
    reason: Option<String>,
    at_start: Option<(f64, f64)>,
}

fn process_cpu_ns() -> f64 {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `ts` is a valid, writable timespec; the clock id is a constant the OS knows.
    let rc = unsafe { libc::clock_gettime(libc::CLOCK_PROCESS_CPUTIME_ID, &mut ts) };
    if rc != 0 {
        return f64::NAN;
    }
    ts.tv_sec as f64 * 1e9 + ts.tv_nsec as f64
}

fn page_faults() -> f64 {
    // SAFETY: an all-zero rusage is a valid value of this plain C struct.
    let mut ru: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: `ru` is a valid, writable rusage.
    let rc = unsafe { libc::getrusage(libc::RUSAGE_SELF, &mut ru) };
    if rc != 0 {
        return f64::NAN;
    }
    (ru.ru_minflt + ru.ru_majflt) as f64
}

impl SoftwareCounters {
    /// A software source; `reason` says why hardware counters are not used.
    pub fn new(reason: Option<String>) -> SoftwareCounters {
        SoftwareCounters {
            reason,
            at_start: None,
        }
    }
}

impl CounterSource for SoftwareCounters {
    fn kind(&self) -> SourceKind {
        SourceKind::Software
    }
    fn reason(&self) -> Option<String> {
        self.reason.clone()
    }
    fn events(&self) -> Vec<&'static str> {
        vec!["task-clock (process CPU time)", "page-faults"]
    }
    fn start(&mut self) {
        self.at_start = Some((process_cpu_ns(), page_faults()));
    }
    fn stop(&mut self) -> Counts {
        let (cpu0, pf0) = self.at_start.take().unwrap_or((f64::NAN, f64::NAN));
        let (cpu, pf) = (process_cpu_ns() - cpu0, page_faults() - pf0);
        Counts {
            task_clock_ns: cpu.is_finite().then_some(cpu.max(0.0)),
            page_faults: pf.is_finite().then_some(pf.max(0.0)),
            ..Counts::default()
        }
    }
}

// ---- hardware -------------------------------------------------------------------------------

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Field {
    Cycles,
    Instructions,
    CacheReferences,
    CacheMisses,
    L1dReadMisses,
}

/// A `perf-event` group on the calling thread, plus the software figures.
pub struct HardwareCounters {
    group: perf_event::Group,
    members: Vec<(Field, &'static str, perf_event::Counter)>,
    software: SoftwareCounters,
}

impl std::fmt::Debug for HardwareCounters {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HardwareCounters")
            .field("events", &self.events())
            .finish()
    }
}

impl HardwareCounters {
    /// Opens the group; `Err` carries the OS's reason when cycles or instructions cannot be
    /// counted (other events are optional and silently left out).
    pub fn open() -> Result<HardwareCounters, String> {
        use perf_event::events::{Cache, CacheOp, CacheResult, Hardware, WhichCache};
        use perf_event::Builder;
        let l1d_read_miss = Cache {
            which: WhichCache::L1D,
            operation: CacheOp::READ,
            result: CacheResult::MISS,
        };
        let wanted: [(Field, &'static str, perf_event::events::Event, bool); 5] = [
            (Field::Cycles, "cycles", Hardware::CPU_CYCLES.into(), true),
            (
                Field::Instructions,
                "instructions",
                Hardware::INSTRUCTIONS.into(),
                true,
            ),
            (
                Field::CacheReferences,
                "cache-references",
                Hardware::CACHE_REFERENCES.into(),
                false,
            ),
            (
                Field::CacheMisses,
                "cache-misses",
                Hardware::CACHE_MISSES.into(),
                false,
            ),
            (
                Field::L1dReadMisses,
                "L1-dcache-load-misses",
                l1d_read_miss.into(),
                false,
            ),
        ];
        // Probe each event alone: a member that fails inside a group would make reads panic.
        let mut usable = Vec::new();
        for (field, name, event, required) in wanted.iter().cloned() {
            match Builder::new().kind(event.clone()).build() {
                Ok(c) => {
                    drop(c);
                    usable.push((field, name, event));
                }
                Err(e) if required => {
                    return Err(format!("perf_event_open({name}) failed: {e}"));
                }
                Err(_) => {}
            }
        }
        // Build the group; a member that fails inside the group would leave the group's member
        // count too high (its reads would then panic), so on any failure start again without it.
        let (mut group, members) = loop {
            let mut group = perf_event::Group::new()
                .map_err(|e| format!("perf_event_open(group) failed: {e}"))?;
            let mut members = Vec::new();
            let mut failed = None;
            for (i, (field, name, event)) in usable.iter().enumerate() {
                match Builder::new().group(&mut group).kind(event.clone()).build() {
                    Ok(c) => members.push((*field, *name, c)),
                    Err(e) => {
                        failed = Some((i, e));
                        break;
                    }
                }
            }
            match failed {
                None => break (group, members),
                Some((i, e)) if matches!(usable[i].0, Field::Cycles | Field::Instructions) => {
                    return Err(format!(
                        "perf_event_open({}) in a group failed: {e}",
                        usable[i].1
                    ));
                }
                Some((i, _)) => {
                    usable.remove(i);
                }
            }
        };
        // One trial read, so a group the kernel refuses to schedule shows up now.
        group
            .enable()
            .and_then(|_| group.disable())
            .map_err(|e| format!("enabling the perf group failed: {e}"))?;
        read_group(&mut group)?;
        Ok(HardwareCounters {
            group,
            members,
            software: SoftwareCounters::new(None),
        })
    }
}

/// Reads a group; `perf-event` asserts on short reads, so a panic becomes an error.
fn read_group(group: &mut perf_event::Group) -> Result<perf_event::Counts, String> {
    std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| group.read()))
        .map_err(|_| "reading the perf group failed (short read)".to_string())?
        .map_err(|e| format!("reading the perf group failed: {e}"))
}

impl CounterSource for HardwareCounters {
    fn kind(&self) -> SourceKind {
        SourceKind::Hardware
    }
    fn events(&self) -> Vec<&'static str> {
        let mut v: Vec<&'static str> = self.members.iter().map(|m| m.1).collect();
        v.extend(self.software.events());
        v
    }
    fn start(&mut self) {
        self.software.start();
        let _ = self.group.reset();
        let _ = self.group.enable();
    }
    fn stop(&mut self) -> Counts {
        let _ = self.group.disable();
        let mut out = self.software.stop();
        let Ok(counts) = read_group(&mut self.group) else {
            return out;
        };
        let (enabled, running) = (counts.time_enabled(), counts.time_running());
        if running == 0 {
            return out; // never scheduled: nothing trustworthy
        }
        let scale = enabled as f64 / running as f64;
        for (field, _, counter) in &self.members {
            let Some(&v) = counts.get(counter) else {
                continue;
            };
            let v = Some(v as f64 * scale);
            match field {
                Field::Cycles => out.cycles = v,
                Field::Instructions => out.instructions = v,
                Field::CacheReferences => out.cache_references = v,
                Field::CacheMisses => out.cache_misses = v,
                Field::L1dReadMisses => out.l1d_read_misses = v,
            }
        }
        out
    }
}

// ---- choosing a source ----------------------------------------------------------------------

/// The environment variable that forces a source: `software`, `hardware` or `auto`.
pub const ENV: &str = "AUTOTUNE_COUNTERS";

/// What the user asked for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Preference {
    /// Hardware where it works, else software with the reason.
    Auto,
    /// Software, even where a PMU exists.
    Software,
    /// Hardware or an error.
    Hardware,
}

impl Preference {
    /// Parses the value of [`ENV`] (`None`, empty or `auto` → [`Preference::Auto`]).
    pub fn parse(value: Option<&str>) -> Result<Preference, String> {
        match value.map(|s| s.trim().to_ascii_lowercase()).as_deref() {
            None | Some("") | Some("auto") => Ok(Preference::Auto),
            Some("software") | Some("sw") => Ok(Preference::Software),
            Some("hardware") | Some("hw") => Ok(Preference::Hardware),
            Some(other) => Err(format!(
                "{ENV}={other}: expected `auto`, `software` or `hardware`"
            )),
        }
    }

    /// The preference from the environment.
    pub fn from_env() -> Result<Preference, String> {
        Preference::parse(std::env::var(ENV).ok().as_deref())
    }
}

/// Opens a counter source for `pref`, using `hardware` to try the PMU (injectable for tests).
pub fn open_with(
    pref: Preference,
    hardware: impl FnOnce() -> Result<Box<dyn CounterSource>, String>,
) -> Result<Box<dyn CounterSource>, String> {
    match pref {
        Preference::Software => Ok(Box::new(SoftwareCounters::new(Some(format!(
            "software counters forced by {ENV}=software"
        ))))),
        Preference::Hardware => hardware(),
        Preference::Auto => match hardware() {
            Ok(h) => Ok(h),
            Err(reason) => Ok(Box::new(SoftwareCounters::new(Some(reason)))),
        },
    }
}

/// Opens the counter source for `pref` on this machine.
pub fn open(pref: Preference) -> Result<Box<dyn CounterSource>, String> {
    open_with(pref, || {
        HardwareCounters::open().map(|h| Box::new(h) as Box<dyn CounterSource>)
    })
}

/// The one line of the report that says which counters backed the figures.
pub fn source_line(kind: SourceKind, reason: Option<&str>, events: &[&str]) -> String {
    match (kind, reason) {
        (SourceKind::Hardware, _) => format!(
            "Counters: hardware (perf_event_open: {}), prorated when multiplexed.",
            events.join(", ")
        ),
        (SourceKind::Software, Some(r)) => format!(
            "Counters: software only (task clock, page faults) and wall time — hardware counters unavailable: {r}."
        ),
        (SourceKind::Software, None) => {
            "Counters: software only (task clock, page faults) and wall time.".to_string()
        }
    }
}
