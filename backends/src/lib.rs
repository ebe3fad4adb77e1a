//! The plug-board between kernels and their users.
//!
//! * [`spec`]: one typed spec per op (kernel type, keying, inputs, reference tolerance,
//!   work model, thread split), from which the catalog, problems and dispatcher derive.
//! * [`catalog`]: every **variant** (implementation × memory strategy × threads) with a stable
//!   id such as `matmul/avx512/pooled/t1`, and whether it can run on this CPU.
//! * [`aligned`]: cache-line-aligned f32 storage for every buffer handed to a kernel.
//! * [`pool`]: the size-class buffer pool behind the pooled strategy.
//! * [`exec`]: runs one kernel with a thread count and memory strategy.
//! * [`problem`]: random problems of any op and shape, checked against the reference — the
//!   shared harness of the tests, benches and tuner.
//! * [`table`] and [`dispatch`]: the JSON dispatch table and the dispatcher that binds it to
//!   function pointers. This is the only crate that reads or writes dispatch tables.

pub mod adapters;
pub mod aligned;
pub mod catalog;
pub mod cli_args;
pub mod dispatch;
pub mod exec;
pub mod fused;
pub mod limits;
pub mod machine;
pub mod memory;
pub mod op;
pub mod out_path;
pub mod pool;
pub mod problem;
pub mod spec;
pub mod table;
pub mod team;
pub mod threads;
pub mod timing;

pub use aligned::AlignedVec;
pub use catalog::{catalog, Catalog, Memory, Variant};
pub use dispatch::{Dispatcher, ForceError, LoadOptions};
pub use op::{Bucket, Key, Shape};
pub use pool::Buf;
pub use spec::Op;
