//! One typed spec per op: everything the harness knows about an op, in one place.
//!
//! An op is a type implementing [`OpSpec`]: its name, the struct of kernel entry points one
//! implementation provides ([`OpSpec::Kernel`]), its shape family (which decides how it is
//! keyed in a table and split over threads), the random inputs of a problem, how a problem
//! runs through a kernel, the tolerance against the reference, the work and bytes model and
//! the shapes a model preset runs. The list at the bottom of this file ([`ops!`]) generates
//! from the specs the [`Op`] enum, the [`Kernel`] enum the catalog stores, and the typed
//! conversions between them ([`Registered`]), so a kernel registered under the wrong op has
//! the wrong type and does not compile, and every op-generic part of the crate (problems,
//! dispatcher slots, table keys, the tuner's models) reads the spec instead of a match arm.
//!
//! Adding an op: its kernel folder in `kernels`, one spec module here (with its `register!`
//! macro), its line in the list below, one registry line per implementation in
//! [`crate::catalog::registry`], and its call methods in `crate::dispatch`.

pub mod add;
pub mod attention;
pub mod bias_gelu;
pub mod gelu;
pub mod layernorm;
pub mod matmul;
mod op;
mod problem;
pub mod signatures;
pub mod softmax;

use crate::aligned::AlignedVec;
use crate::exec;
use crate::memory::Memory;
use crate::op::{Shape, ShapeKind};
use crate::pool::Buf;
use kernels::cpu::Feature;
use kernels::{check_eq, Rows};
pub use problem::Problem;
use rand::{Rng, SeedableRng};
use serde::{Deserialize, Serialize};
use signatures::{RowsPairFn, RowsPairInplaceFn};
use std::marker::PhantomData;

/// What a table entry may choose besides its variant: the kernel's parameters (MatMul's
/// blocking and one-row sweep) and a threaded MatMul's split. `None`s: the kernel's defaults
/// for this machine and [`crate::exec::Split::rule`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Tuning {
    pub params: Option<kernels::matmul::BlockingParams>,
    pub split: Option<crate::exec::Split>,
}

impl Tuning {
    /// Kernel parameters and the default split.
    pub fn params(p: Option<kernels::matmul::BlockingParams>) -> Tuning {
        Tuning {
            params: p,
            split: None,
        }
    }
}

/// How one call runs: the variant's memory strategy and thread count, and what a table chose
/// for it ([`Tuning`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Run {
    pub memory: Memory,
    pub threads: usize,
    pub tuning: Tuning,
}

impl Run {
    /// A run of `memory` and `threads` with the defaults.
    pub fn new(memory: Memory, threads: usize) -> Run {
        Run {
            memory,
            threads,
            tuning: Tuning::default(),
        }
    }

    /// Whether the output overwrites the first input.
    pub fn inplace(&self) -> bool {
        self.memory == Memory::InPlace
    }

    /// An output or scratch buffer of `len` elements under this strategy.
    pub fn alloc(&self, len: usize) -> Buf {
        crate::exec::alloc(self.memory, len)
    }
}

/// The allowed |variant − reference| of output `o`, element `i`, given the reference value.
pub type Tolerance<'a> = Box<dyn Fn(usize, usize, f32) -> f32 + 'a>;

/// The work and compulsory memory traffic of one call.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Cost {
    /// Nominal floating-point operations (2·m·k·n for MatMul; a per-element count otherwise).
    pub flops: f64,
    /// Bytes every input and output is read or written once.
    pub bytes: f64,
    /// Whether the op is rated by FLOP/s (MatMul) rather than by bytes/s.
    pub flop_bound: bool,
}

impl Cost {
    /// Element-wise or row op: `per_elem` flops on each of `n` elements, `floats` moved.
    pub fn streaming(per_elem: f64, n: usize, floats: usize) -> Cost {
        Cost {
            flops: per_elem * n as f64,
            bytes: 4.0 * floats as f64,
            flop_bound: false,
        }
    }

    /// Element-wise op over every element of `shape`: `per_elem` flops each, `streams`
    /// vectors of its size moved (inputs and outputs).
    pub fn elementwise(per_elem: f64, shape: Shape, streams: usize) -> Cost {
        let n = shape.elems();
        Cost::streaming(per_elem, n, streams * n)
    }

    /// The figure a throughput is quoted against: FLOP for compute-bound ops, else bytes.
    pub fn work(&self) -> f64 {
        if self.flop_bound {
            self.flops
        } else {
            self.bytes
        }
    }
}

/// The dimensions of a model preset at one token count, for [`OpSpec::model_shapes`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ModelDims {
    /// Tokens in the pass (1 when decoding).
    pub tokens: usize,
    pub width: usize,
    pub mlp: usize,
    pub vocab: usize,
    pub heads: usize,
}

/// The operands of an element-wise or row op's backward, one call's worth: what it reads of
/// the forward (`saved`: the input x for GELU, the output y for softmax), the gradient of the
/// output `dy`, and the gradient of the input `dx` it writes, all of one length.
pub struct Grad<'a> {
    pub saved: &'a [f32],
    pub dy: &'a [f32],
    pub dx: &'a mut [f32],
}

/// The random source of a problem's inputs (seeded, so a problem is reproducible).
pub struct Gen(rand::rngs::StdRng);

impl Gen {
    pub fn seeded(seed: u64) -> Gen {
        Gen(rand::rngs::StdRng::seed_from_u64(seed))
    }

    /// `n` values uniform in `[lo, hi)`.
    pub fn uniform(&mut self, n: usize, lo: f32, hi: f32) -> Vec<f32> {
        (0..n).map(|_| self.0.random_range(lo..hi)).collect()
    }
}

/// How long one random input of a problem is, in terms of its shape.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Len {
    /// Every element of the shape (n, or rows·cols).
    All,
    /// One row of a row-op shape (`cols`): a bias, γ or β.
    Cols,
}

/// One random input of a problem: its length and the range `[lo, hi)` its values are
/// uniform in, for [`OpSpec::INPUTS`].
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Input {
    pub len: Len,
    pub lo: f32,
    pub hi: f32,
}

impl Input {
    /// An input as large as the shape, uniform in `[lo, hi)`.
    pub const fn all(lo: f32, hi: f32) -> Input {
        Input {
            len: Len::All,
            lo,
            hi,
        }
    }

    /// An input one row long, uniform in `[lo, hi)`.
    pub const fn cols(lo: f32, hi: f32) -> Input {
        Input {
            len: Len::Cols,
            lo,
            hi,
        }
    }
}

/// Everything the harness knows about one op. Implemented by a marker type per op.
pub trait OpSpec: 'static {
    /// The entry points of one implementation (a struct of typed function pointers).
    type Kernel: Copy + Send + Sync + 'static;
    /// The name in variant ids and tables (`matmul`, `gelu_tanh`, ...).
    const NAME: &'static str;
    /// The shape family: how a problem is shaped, keyed ([`Shape::key`]) and split.
    const SHAPE: ShapeKind;
    /// Whether the op has an in-place form (its output may overwrite its first input).
    const INPLACE: bool = false;
    /// Whether the op may be split over threads.
    const PARALLEL: bool = true;

    /// The random inputs of a problem, in the order [`OpSpec::execute`] reads them, drawn one
    /// after another by the default [`OpSpec::inputs`]. Ops whose inputs are derived (a saved
    /// forward, MatMul's operands) override `inputs` instead.
    const INPUTS: &'static [Input] = &[];

    /// Random inputs for `shape`, in the order [`OpSpec::execute`] reads them, or why the
    /// shape does not fit the op. By default [`OpSpec::INPUTS`], drawn in order for an
    /// element-wise or row-op shape.
    fn inputs(shape: Shape, gen: &mut Gen) -> Result<Vec<Vec<f32>>, String> {
        let (all, cols) = match (Self::SHAPE, shape) {
            (ShapeKind::Elems, Shape::Elems(n)) => (n, None),
            (ShapeKind::Rows, Shape::Rows(r)) => (r.len(), Some(r.cols)),
            _ => return Err(misfit(Self::NAME, shape)),
        };
        Self::INPUTS
            .iter()
            .map(|i| match i.len {
                Len::All => Ok(gen.uniform(all, i.lo, i.hi)),
                Len::Cols => cols
                    .map(|c| gen.uniform(c, i.lo, i.hi))
                    .ok_or_else(|| misfit(Self::NAME, shape)),
            })
            .collect()
    }
    /// Runs `kernel` on `p`: outputs by `run`'s strategy; in place overwrites `inputs[0]` and
    /// returns no buffer.
    fn execute(kernel: Self::Kernel, run: Run, p: &mut Problem) -> kernels::Result<Vec<Buf>>;
    /// The allowed difference from the reference, derived from the arithmetic.
    fn tolerance(p: &Problem) -> Tolerance<'_>;
    /// The work and bytes of one call at `shape`.
    fn cost(shape: Shape) -> Cost;
    /// The shapes a model preset runs this op at, at one token count.
    fn model_shapes(d: ModelDims) -> Vec<Shape>;
}

/// One implementation of one op, as registered.
#[derive(Debug, Clone, Copy)]
pub struct Impl {
    /// Short name: `naive`, `tiled`, `avx2`, `avx512`, `neon`, `gemm`, `matrixmultiply`
    /// (and `openblas` with that feature).
    pub name: &'static str,
    /// The CPU feature it needs, if any.
    pub requires: Option<Feature>,
    pub kernel: Kernel,
}

impl Impl {
    /// One implementation of the op `S`: `kernel` has `S`'s kernel type, so a kernel cannot
    /// be registered under another op.
    pub fn new<S: Registered>(
        name: &'static str,
        requires: Option<Feature>,
        kernel: S::Kernel,
    ) -> Impl {
        Impl {
            name,
            requires,
            kernel: S::wrap(kernel),
        }
    }

    /// The op this implementation computes.
    pub fn op(&self) -> Op {
        self.kernel.op()
    }
}

/// The link from a spec to its [`Op`] and [`Kernel`] variant, generated by [`ops!`].
pub trait Registered: OpSpec {
    const OP: Op;
    fn wrap(kernel: Self::Kernel) -> Kernel;
    fn unwrap(kernel: &Kernel) -> Option<Self::Kernel>;
}

/// A spec's associated items reachable from an [`Op`] value at run time ([`Op::spec`]).
pub trait DynSpec: Sync {
    fn name(&self) -> &'static str;
    fn shape_kind(&self) -> ShapeKind;
    fn inplace(&self) -> bool;
    fn parallel(&self) -> bool;
    fn inputs(&self, shape: Shape, gen: &mut Gen) -> Result<Vec<Vec<f32>>, String>;
    fn tolerance<'a>(&self, p: &'a Problem) -> Tolerance<'a>;
    fn cost(&self, shape: Shape) -> Cost;
    fn model_shapes(&self, d: ModelDims) -> Vec<Shape>;
}

struct Erased<S>(PhantomData<fn() -> S>);

impl<S: OpSpec> DynSpec for Erased<S> {
    fn name(&self) -> &'static str {
        S::NAME
    }
    fn shape_kind(&self) -> ShapeKind {
        S::SHAPE
    }
    fn inplace(&self) -> bool {
        S::INPLACE
    }
    fn parallel(&self) -> bool {
        S::PARALLEL
    }
    fn inputs(&self, shape: Shape, gen: &mut Gen) -> Result<Vec<Vec<f32>>, String> {
        S::inputs(shape, gen)
    }
    fn tolerance<'a>(&self, p: &'a Problem) -> Tolerance<'a> {
        S::tolerance(p)
    }
    fn cost(&self, shape: Shape) -> Cost {
        S::cost(shape)
    }
    fn model_shapes(&self, d: ModelDims) -> Vec<Shape> {
        S::model_shapes(d)
    }
}

/// The message for a shape of the wrong family.
pub(crate) fn misfit(name: &str, shape: Shape) -> String {
    format!("shape {shape} does not fit {name}")
}

/// The matrix of a row-op shape, or why `shape` does not fit `name`.
pub(crate) fn rows(name: &str, shape: Shape) -> Result<kernels::Rows, String> {
    match shape {
        Shape::Rows(r) => Ok(r),
        _ => Err(misfit(name, shape)),
    }
}

/// The error for a problem whose shape is not the op's family (its `shape` field was changed
/// after [`Problem::random`] checked it).
pub(crate) fn wrong_shape(op: &'static str, shape: Shape) -> kernels::KernelError {
    kernels::KernelError::Shape {
        op,
        reason: misfit(op, shape),
    }
}

/// Runs an op whose output may overwrite its first input (`[x, rest..]`): `inplace` over
/// `inputs[0]` (returning no buffer), or `out` into a buffer of `run`'s strategy as long as
/// `x`. Both get the remaining inputs.
pub(crate) fn run_first(
    run: Run,
    p: &mut Problem,
    inplace: impl FnOnce(&mut [f32], &[AlignedVec]) -> kernels::Result<()>,
    out: impl FnOnce(&[f32], &[AlignedVec], &mut [f32]) -> kernels::Result<()>,
) -> kernels::Result<Vec<Buf>> {
    let (x, rest) = p.inputs.split_at_mut(1);
    if run.inplace() {
        inplace(&mut x[0], rest)?;
        return Ok(vec![]);
    }
    let mut y = run.alloc(x[0].len());
    out(&x[0], rest, &mut y)?;
    Ok(vec![y])
}

/// Runs a backward (no in-place form) on a problem whose first input is what it reads of the
/// forward and whose last is `dy`: `f` gets the inputs and their [`Grad`], its `dx` a buffer
/// of `run`'s strategy as long as the first input, returned.
pub(crate) fn run_grad(
    run: Run,
    p: &Problem,
    f: impl FnOnce(&[AlignedVec], Grad<'_>) -> kernels::Result<()>,
) -> kernels::Result<Vec<Buf>> {
    let ins = &p.inputs;
    let mut dx = run.alloc(ins[0].len());
    let g = Grad {
        saved: &ins[0],
        dy: &ins[ins.len() - 1],
        dx: &mut dx,
    };
    f(ins, g)?;
    Ok(vec![dx])
}

/// The bound of an exact op (Add, the bias add): the same IEEE operations per element on
/// both sides, so no difference at all.
pub(crate) fn exact<'a>() -> Tolerance<'a> {
    Box::new(|_, _, _| 0.0)
}

/// One implementation of a row op with a bias row broadcast over the rows, out of place and
/// in place: the bias add ([`add::AddBias`]) or the fused bias + GELU
/// ([`bias_gelu::BiasGelu`]). `S` is the op, so the two kinds stay distinct types and a
/// kernel cannot be registered under the other:
///
/// ```
/// # use backends::spec::{bias_gelu::{BiasGelu, BiasGeluKernel}, Impl};
/// # use kernels::bias_gelu::naive as k;
/// let fused = BiasGeluKernel::new(k::bias_gelu, k::bias_gelu_inplace);
/// Impl::new::<BiasGelu>("naive", None, fused);
/// ```
///
/// ```compile_fail
/// # use backends::spec::{add::AddBiasKernel, bias_gelu::BiasGelu, Impl};
/// # use kernels::add::naive as k;
/// let bias_add = AddBiasKernel::new(k::add_bias, k::add_bias_inplace);
/// Impl::new::<BiasGelu>("naive", None, bias_add);
/// ```
pub struct BiasKernel<S> {
    pub run: RowsPairFn,
    pub inplace: RowsPairInplaceFn,
    op: PhantomData<fn() -> S>,
}

impl<S> Clone for BiasKernel<S> {
    fn clone(&self) -> Self {
        *self
    }
}

impl<S> Copy for BiasKernel<S> {}

impl<S: OpSpec> BiasKernel<S> {
    /// The kernel of `run` and its in-place form `inplace`.
    pub const fn new(run: RowsPairFn, inplace: RowsPairInplaceFn) -> Self {
        BiasKernel {
            run,
            inplace,
            op: PhantomData,
        }
    }

    /// `out = f(x + bias)`, split by row groups.
    pub fn call(
        self,
        threads: usize,
        shape: Rows,
        x: &[f32],
        bias: &[f32],
        out: &mut [f32],
    ) -> kernels::Result<()> {
        check_eq(S::NAME, "bias", bias.len(), shape.cols)?;
        exec::rows_map(threads, shape, &[x], out, |s, _, i, o| {
            (self.run)(s, i[0], bias, o)
        })
    }

    /// `x = f(x + bias)`, split by row groups.
    pub fn call_inplace(
        self,
        threads: usize,
        shape: Rows,
        x: &mut [f32],
        bias: &[f32],
    ) -> kernels::Result<()> {
        check_eq(S::NAME, "bias", bias.len(), shape.cols)?;
        exec::rows_inplace(threads, shape, x, |s, _, x| (self.inplace)(s, x, bias))
    }

    /// Runs a problem `[x, bias]` ([`OpSpec::execute`]).
    fn execute(self, run: Run, p: &mut Problem) -> kernels::Result<Vec<Buf>> {
        let (r, t) = (p.rows(), run.threads);
        run_first(
            run,
            p,
            |x, rest| self.call_inplace(t, r, x, &rest[0]),
            |x, rest, out| self.call(t, r, x, &rest[0], out),
        )
    }
}

/// The cost of a row op with a bias row: `per_elem` FLOP per element, `streams` full
/// matrices moved and the bias read once.
pub(crate) fn bias_cost(per_elem: f64, shape: Shape, streams: usize) -> Cost {
    let (n, cols) = match shape {
        Shape::Rows(r) => (r.len(), r.cols),
        _ => (shape.elems(), 0),
    };
    Cost::streaming(per_elem, n, streams * n + cols)
}

/// The [`OpSpec`] items that the ops with a bias row broadcast over their rows (the bias add,
/// the fused bias + GELU) have alike, inside their `impl OpSpec`: the kernel is a
/// [`BiasKernel`] of the op, the shape is rows, there is an in-place form, and a problem
/// `[x, bias]` runs through [`BiasKernel`]'s `execute`.
macro_rules! bias_op {
    () => {
        type Kernel = $crate::spec::BiasKernel<Self>;
        const SHAPE: $crate::op::ShapeKind = $crate::op::ShapeKind::Rows;
        const INPLACE: bool = true;

        fn execute(
            k: Self::Kernel,
            run: $crate::spec::Run,
            p: &mut $crate::spec::Problem,
        ) -> kernels::Result<Vec<$crate::pool::Buf>> {
            k.execute(run, p)
        }
    };
}
pub(crate) use bias_op;

/// The bound of the element-wise transcendental ops (GELU and its fusions): the vector
/// approximations' documented absolute error (≤ 1e-6 on |x| ≤ 10) plus 4 ulps.
pub(crate) fn gelu_tolerance<'a>() -> Tolerance<'a> {
    let eps = f32::EPSILON;
    Box::new(move |_, _, r| 1e-6 + 4.0 * eps * r.abs())
}

/// The bound of the row reductions (softmax, LayerNorm forward): a row of `cols` elements is
/// summed in f32 by a variant and in f64 by the reference, (cols + 8)·ε relative, plus the
/// 2⁻²⁰ ≈ 1e-6 absolute error the vectorised exp approximation documents (twice).
pub(crate) fn row_tolerance(p: &Problem) -> Tolerance<'_> {
    let (eps, cols) = (f32::EPSILON, p.rows().cols as f32);
    Box::new(move |_, _, r| (cols + 8.0) * eps * r.abs() + 2e-6 * (1.0 + r.abs()))
}

/// Implements the listed [`OpSpec`] methods (`tolerance`, `cost`, `model_shapes`) as those of
/// the spec `$S`, for an op's other forms (fused, causal, backward) whose bound, work or
/// model shapes are the forward's: `same_as!(Softmax: tolerance, model_shapes);` inside an
/// `impl OpSpec`.
macro_rules! same_as {
    ($S:ty: $($method:ident),+ $(,)?) => {
        $($crate::spec::same_as!(@ $S, $method);)+
    };
    (@ $S:ty, tolerance) => {
        fn tolerance(p: &$crate::spec::Problem) -> $crate::spec::Tolerance<'_> {
            <$S as $crate::spec::OpSpec>::tolerance(p)
        }
    };
    (@ $S:ty, cost) => {
        fn cost(shape: $crate::op::Shape) -> $crate::spec::Cost {
            <$S as $crate::spec::OpSpec>::cost(shape)
        }
    };
    (@ $S:ty, model_shapes) => {
        fn model_shapes(d: $crate::spec::ModelDims) -> Vec<$crate::op::Shape> {
            <$S as $crate::spec::OpSpec>::model_shapes(d)
        }
    };
}
pub(crate) use same_as;

/// Pushes onto `$out` one [`Impl`] per `Spec => kernel` pair, all of
/// implementation `$name` needing `$req`, with the spec module `$family` in scope and the
/// kernel module `$m` as `k`: the body of each spec module's `register!`.
macro_rules! push_impls {
    ($out:ident, $name:expr, $m:path, $req:expr, $family:ident;
     $($S:ty => $kernel:expr),+ $(,)?) => {{
        use $crate::spec::$family::*;
        use $m as k;
        $($out.push($crate::spec::Impl::new::<$S>($name, $req, $kernel));)+
    }};
}
pub(crate) use push_impls;

/// Generates, from the list of `Variant => spec type` pairs, the [`Op`] enum (serialised in
/// snake case, which must equal each spec's `NAME`: tested), the [`Kernel`] enum with one
/// variant per op holding that spec's kernel struct, [`Op::spec`] and the [`Registered`]
/// impls.
macro_rules! ops {
    ($($(#[$doc:meta])* $V:ident => $S:ty,)*) => {
        /// One tunable operation. Its name (`matmul`, `gelu_tanh`, ...) is the first part of a
        /// variant id; everything else about it is its spec ([`Op::spec`]).
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        #[serde(rename_all = "snake_case")]
        pub enum Op {
            $($(#[$doc])* $V,)*
        }

        impl Op {
            /// Every op, in catalog order.
            pub const ALL: [Op; [$(stringify!($V)),*].len()] = [$(Op::$V),*];

            /// The op's spec, for the op-generic code that holds an `Op` value.
            pub fn spec(self) -> &'static dyn DynSpec {
                match self {
                    $(Op::$V => &Erased::<$S>(PhantomData),)*
                }
            }
        }

        /// One implementation of one op: the op's typed kernel struct, copied by value.
        #[derive(Clone, Copy)]
        pub enum Kernel {
            $($V(<$S as OpSpec>::Kernel),)*
        }

        impl Kernel {
            /// The op this kernel computes.
            pub fn op(&self) -> Op {
                match self {
                    $(Kernel::$V(_) => Op::$V,)*
                }
            }

            /// Runs the kernel on `p` through its op's spec.
            pub(crate) fn execute(self, run: Run, p: &mut Problem) -> kernels::Result<Vec<Buf>> {
                match self {
                    $(Kernel::$V(k) => <$S as OpSpec>::execute(k, run, p),)*
                }
            }
        }

        $(
            impl Registered for $S {
                const OP: Op = Op::$V;
                fn wrap(kernel: Self::Kernel) -> Kernel {
                    Kernel::$V(kernel)
                }
                fn unwrap(kernel: &Kernel) -> Option<Self::Kernel> {
                    match kernel {
                        Kernel::$V(k) => Some(*k),
                        #[allow(unreachable_patterns)]
                        _ => None,
                    }
                }
            }
        )*
    };
}

impl std::fmt::Debug for Kernel {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Kernel({}, ..)", self.op().name())
    }
}

ops! {
    Matmul => matmul::Matmul,
    GeluTanh => gelu::GeluTanh,
    GeluErf => gelu::GeluErf,
    GeluTanhBackward => gelu::GeluTanhBackward,
    GeluErfBackward => gelu::GeluErfBackward,
    Softmax => softmax::Softmax,
    SoftmaxCausal => softmax::SoftmaxCausal,
    SoftmaxBackward => softmax::SoftmaxBackward,
    Layernorm => layernorm::Layernorm,
    AddLayernorm => layernorm::AddLayernorm,
    LayernormBackward => layernorm::LayernormBackward,
    Add => add::Add,
    AddBias => add::AddBias,
    BiasGelu => bias_gelu::BiasGelu,
    BiasGeluBackward => bias_gelu::BiasGeluBackward,
    Attention => attention::CausalAttention,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn serialised_names_are_the_spec_names() {
        for op in Op::ALL {
            let json = serde_json::to_string(&op).unwrap();
            assert_eq!(json, format!("\"{}\"", op.spec().name()));
            assert_eq!(Op::from_name(op.spec().name()), Some(op));
        }
    }

    #[test]
    fn kernels_know_their_op() {
        for imp in crate::catalog::registry::implementations() {
            let op = imp.kernel.op();
            assert_eq!(imp.op(), op);
            let same = match op {
                Op::BiasGelu => bias_gelu::BiasGelu::unwrap(&imp.kernel).is_some(),
                _ => bias_gelu::BiasGelu::unwrap(&imp.kernel).is_none(),
            };
            assert!(same, "{} {}", imp.name, op);
        }
    }
}
