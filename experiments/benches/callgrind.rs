//! Instruction counts and simulated cache figures (iai-callgrind) for a fixed subset of the
//! study: MatMul naive/tiled/avx2 at 64 and 128, GELU (tanh) 10K, Softmax 64×1024, LayerNorm
//! 32×512 and Add 10K, each with the naive and the avx2 implementation.
//!
//! Every case runs the catalog's `op/IMPL/pooled/t1` variant once; the set-up (random inputs,
//! one untimed call that warms the buffer pool) and dropping the outputs are not counted.
//!
//! Needs valgrind and `iai-callgrind-runner` 0.16.1 on PATH (`scripts/install-iai-runner.sh`):
//!
//! ```text
//! cargo bench -p experiments --bench callgrind
//! ```
//!
//! Without them the bench prints one line saying how to install them and exits 0, so a plain
//! `cargo bench` runs every other bench on a machine that has neither.
//!
//! Valgrind 3.19 cannot decode AVX-512, so the benches run with `KERNELS_DISABLE=avx512`
//! (the AVX2 path) and leave out the `gemm` and `matrixmultiply` adapters, which detect
//! AVX-512 by themselves. An implementation the catalog lacks or this CPU cannot run is
//! skipped with a note on stderr and shows as an (almost) empty count.

/// The benches proper; [`iai::entry`] hands over to the macro-generated entry point.
mod iai {
    use backends::catalog::variant_id;
    use backends::problem::Problem;
    use backends::{catalog, Buf, Memory, Op, Shape, Variant};
    use iai_callgrind::{library_benchmark, library_benchmark_group, main, LibraryBenchmarkConfig};
    use std::hint::black_box;

    /// One prepared case: the problem and the variant to run on it (if this build has it).
    struct Case {
        problem: Problem,
        variant: Option<&'static Variant>,
    }

    fn case(op: Op, implementation: &str, shape: &str) -> Case {
        let shape = Shape::parse(op, shape).expect("bench shape fits its op");
        let id = variant_id(op, implementation, Memory::Pooled, 1);
        let variant = match catalog().find(&id) {
            Some((_, v)) => match v.runnable() {
                Ok(()) => Some(v),
                Err(why) => {
                    eprintln!("skip {id}: {why}");
                    None
                }
            },
            None => {
                eprintln!("skip {id}: not in this build's catalog");
                None
            }
        };
        let mut problem = Problem::random(op, shape, 11).expect("bench shape fits its op");
        if let Some(v) = variant {
            // One untimed call: the measured call then reuses pooled buffers, as in steady state.
            drop(problem.execute(v).expect("variant runs"));
        }
        Case { problem, variant }
    }

    fn matmul_case(implementation: &str, n: usize) -> Case {
        case(Op::Matmul, implementation, &n.to_string())
    }

    fn run(mut c: Case) -> Vec<Buf> {
        match c.variant {
            Some(v) => black_box(c.problem.execute(v).expect("variant runs")),
            None => Vec::new(),
        }
    }

    #[library_benchmark]
    #[bench::naive_64(args = ("naive", 64), setup = matmul_case)]
    #[bench::tiled_64(args = ("tiled", 64), setup = matmul_case)]
    #[bench::avx2_64(args = ("avx2", 64), setup = matmul_case)]
    #[bench::naive_128(args = ("naive", 128), setup = matmul_case)]
    #[bench::tiled_128(args = ("tiled", 128), setup = matmul_case)]
    #[bench::avx2_128(args = ("avx2", 128), setup = matmul_case)]
    fn matmul(c: Case) -> Vec<Buf> {
        run(c)
    }

    /// Per row, one op at one shape, the naive implementation against avx2: the set-up
    /// `$setup` and the benchmark `$bench` with its two cases, `$naive` and `$avx2`.
    macro_rules! naive_vs_avx2 {
        ($($bench:ident, $setup:ident: $op:expr, $shape:literal => $naive:ident, $avx2:ident;)+) => {$(
            fn $setup(implementation: &str) -> Case {
                case($op, implementation, $shape)
            }

            #[library_benchmark]
            #[bench::$naive(args = ("naive"), setup = $setup)]
            #[bench::$avx2(args = ("avx2"), setup = $setup)]
            fn $bench(c: Case) -> Vec<Buf> {
                run(c)
            }
        )+};
    }

    naive_vs_avx2! {
        gelu_tanh, gelu_case: Op::GeluTanh, "10000" => naive_10k, avx2_10k;
        softmax, softmax_case: Op::Softmax, "64x1024" => naive_64x1024, avx2_64x1024;
        layernorm, layernorm_case: Op::Layernorm, "32x512" => naive_32x512, avx2_32x512;
        add, add_case: Op::Add, "10000" => naive_10k, avx2_10k;
    }

    library_benchmark_group!(
        name = kernels;
        benchmarks = matmul, gelu_tanh, softmax, layernorm, add
    );

    main!(
        config = LibraryBenchmarkConfig::default().env("KERNELS_DISABLE", "avx512");
        library_benchmark_groups = kernels
    );

    /// Runs the iai-callgrind entry point (private to this module).
    pub fn entry() {
        main()
    }
}

/// Whether `name` is an executable file on `PATH` (or a path that exists).
fn on_path(name: &str) -> bool {
    let path = std::path::Path::new(name);
    if path.components().count() > 1 {
        return path.is_file();
    }
    std::env::var_os("PATH")
        .is_some_and(|dirs| std::env::split_paths(&dirs).any(|d| d.join(name).is_file()))
}

fn main() {
    // Valgrind re-runs this binary with `--iai-run ...`: always hand those calls over.
    let invoked_by_runner = std::env::args().nth(1).as_deref() == Some("--iai-run");
    if !invoked_by_runner {
        // The same look-up the iai-callgrind library makes: a build-time override, else PATH.
        let runner = option_env!("IAI_CALLGRIND_RUNNER").unwrap_or("iai-callgrind-runner");
        let missing: Vec<&str> = [(runner, "iai-callgrind-runner"), ("valgrind", "valgrind")]
            .into_iter()
            .filter(|(exe, _)| !on_path(exe))
            .map(|(_, name)| name)
            .collect();
        if !missing.is_empty() {
            println!(
                "callgrind bench skipped: {} not found (install with `scripts/install-iai-runner.sh` and `apt-get install valgrind`)",
                missing.join(" and ")
            );
            return;
        }
    }
    iai::entry();
}
