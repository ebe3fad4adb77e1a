//! Experiments on the kernel harness: the `cargo bench` targets' shared helpers and the
//! studies behind the `experiments` binary.
//!
//! * [`profile`] and [`scope`]: the study's scenarios as named, nested scopes with calls,
//!   total and self time, spread and heap allocations; written as versioned JSON
//!   (`kernel-profile`, version 1) and Markdown.
//! * [`alloc_counter`]: the counting global allocator the binary installs.
//! * [`compare`]: two profiles side by side, noise-aware, with thresholds and an exit code.
//! * [`memory`]: pooled vs direct buffers, in place vs allocating, fused vs separate LayerNorm,
//!   and the allocation studies (MatMul backward, a training chain).
//! * [`model_study`]: the `models` crate's presets as profile scenarios and a training step.
//! * [`crossover`]: where pooled/direct memory and one/all threads win over MatMul sizes, and
//!   whether the dispatcher picks the winner.
//! * [`roofline`]: this machine's FMA peak and per-level bandwidth, measured, with every
//!   variant of the study's shapes placed on the roofline (table + SVG).
//! * [`report`], [`plot`]: Markdown tables and SVG charts (the statistics and formatters are
//!   `backends::timing`'s).
//! * [`guard`]: what the binary checks before long or large work (numeric flags, output
//!   paths, the memory limit, a lower bound on a sweep's time) and its exit codes.
//!
//! Invariant: nothing here computes a kernel itself; every op runs through `backends` (the
//! catalog's variants or a dispatcher), so the figures are the ones users get.

pub mod alloc_counter;
pub mod benchkit;
pub mod compare;
pub mod crossover;
pub mod guard;
pub mod memory;
pub mod model_study;
pub mod plot;
pub mod profile;
pub mod report;
pub mod roofline;
pub mod scope;
pub mod study;
