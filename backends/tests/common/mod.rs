//! Helpers shared by the integration tests: each test file that needs them declares
//! `mod common;`, so every file is still its own test binary.

// Each test binary uses only some of these helpers.
#![allow(dead_code)]

use backends::machine::Machine;
use backends::table::{CounterInfo, Table};
use std::process::Output;

/// An empty table for this machine, tool `test` version `0`, its counters from the software
/// source (`reason` says why).
pub fn empty_table(reason: Option<&str>) -> Table {
    Table::new(
        "test",
        "0",
        Machine::detect(),
        CounterInfo {
            source: "software".into(),
            reason: reason.map(Into::into),
        },
    )
}

/// Asserts that a re-run of this test binary (`out`) succeeded and ran `passed` tests;
/// `what` names the run in the failure message, which carries the child's output.
pub fn assert_child_passed(out: &Output, passed: usize, what: &str) {
    let (stdout, stderr) = (
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr),
    );
    assert!(
        out.status.success() && stdout.contains(&format!("{passed} passed")),
        "{what}: the child failed or ran other tests:\n{stdout}\n{stderr}"
    );
}
