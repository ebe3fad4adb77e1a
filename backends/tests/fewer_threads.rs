//! The embedded default table on a machine that offers fewer threads than it was tuned with:
//! an entry naming `tN` runs the same implementation with the threads there are, never the
//! reference. Checked in a child process restricted to one CPU (Linux only).

mod common;

use backends::{catalog, Dispatcher, Key, Op};

const CHILD: &str = "FEWER_THREADS_CHILD";

#[test]
fn embedded_entries_beyond_this_machines_threads_keep_their_implementation() {
    if std::env::var_os(CHILD).is_some() {
        return child();
    }
    #[cfg(target_os = "linux")]
    {
        use std::os::unix::process::CommandExt;
        let exe = std::env::current_exe().expect("the test binary's path");
        let mut cmd = std::process::Command::new(exe);
        cmd.args([
            "--exact",
            "embedded_entries_beyond_this_machines_threads_keep_their_implementation",
        ])
        .env(CHILD, "1");
        // SAFETY: between fork and exec the hook only calls sched_setaffinity on a stack set,
        // which is async-signal-safe.
        unsafe {
            cmd.pre_exec(|| {
                let mut one: libc::cpu_set_t = std::mem::zeroed();
                libc::CPU_SET(0, &mut one);
                libc::sched_setaffinity(0, std::mem::size_of::<libc::cpu_set_t>(), &one);
                Ok(())
            });
        }
        match cmd.output() {
            Ok(o) => common::assert_child_passed(&o, 1, "the run on one CPU"),
            // Under user-mode emulation the binary cannot start itself.
            Err(e) => eprintln!("skipped: cannot re-run the test binary ({e})"),
        }
    }
}

/// In the one-CPU child: no t2 variant exists, and wherever the table names one of a
/// non-reference implementation, a non-reference variant still serves (the same
/// implementation, or its portable sibling where `KERNELS_DISABLE` masks it).
fn child() {
    assert_eq!(
        backends::threads::available(),
        1,
        "the child runs on one CPU"
    );
    assert!(catalog().variants().iter().all(|v| v.threads == 1));
    let table = backends::table::Table::parse(
        backends::dispatch::DEFAULT_TABLE,
        std::path::Path::new("<embedded>"),
    )
    .expect("the embedded table parses");
    let d = Dispatcher::embedded();
    let mut checked = 0;
    for e in &table.entries {
        let Some((op, imp, _, threads)) = backends::catalog::parse_id(&e.variant) else {
            continue;
        };
        if threads < 2 || imp == "naive" || op != Op::from_name(&e.op).unwrap() {
            continue;
        }
        // With SIMD masked (KERNELS_DISABLE) an op may have nothing but its reference left.
        let alternative = catalog()
            .variants()
            .iter()
            .any(|v| v.op == op && v.implementation != "naive" && v.runnable().is_ok());
        if !alternative {
            continue;
        }
        let key = Key {
            bucket: e.bucket,
            size: e.min.max(1),
        };
        let bound = catalog().get(d.lookup(op, key).index);
        assert_ne!(
            bound.implementation, "naive",
            "{} at {}: fell back to the reference",
            e.variant, key.size
        );
        checked += 1;
    }
    assert!(checked > 0, "the embedded table names threaded variants");
    assert!(d.warnings().iter().any(|w| w.contains("serves instead")));
}
