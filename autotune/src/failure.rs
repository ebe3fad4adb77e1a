//! The one error type of the commands: a message and its exit code.

use backends::table::TableError;

/// A failure with its exit code: 2 for bad input (arguments, files), 1 for everything else.
#[derive(Debug)]
pub struct Failure {
    pub code: u8,
    pub message: String,
}

impl Failure {
    pub fn input(message: impl Into<String>) -> Failure {
        Failure {
            code: 2,
            message: message.into(),
        }
    }
    pub fn run(message: impl Into<String>) -> Failure {
        Failure {
            code: 1,
            message: message.into(),
        }
    }
}

/// A table that cannot be used, as a usage failure whose message names the file and, for a
/// table from another machine, the exact flag that loads it anyway.
pub fn table_failure(e: TableError) -> Failure {
    match e {
        TableError::Foreign {
            path,
            theirs,
            their_cpu,
            ours,
        } => Failure::input(format!(
            "{}: tuned on another machine (fingerprint {theirs}, {their_cpu}; this one is {ours}); retune here, or pass --allow-foreign to load it anyway",
            path.display()
        )),
        other => Failure::input(other.to_string()),
    }
}
