//! The system OpenBLAS (`cblas_sgemm`) as a MatMul kernel, behind the `openblas` cargo
//! feature (`apt-get install libopenblas-dev`). Threads come from the catalog's wrapper, so
//! OpenBLAS is told to run single-threaded before its first call.
//!
//! OpenBLAS picks its kernels when the library loads; 0.3.21 takes Zen 4 for Haswell (AVX2),
//! so on such CPUs start the process with `OPENBLAS_CORETYPE=SkylakeX` (see the README).

use kernels::{KernelError, Result};
use std::os::raw::c_int;
use std::sync::Once;

/// `CBLAS_ORDER::CblasRowMajor`.
const ROW_MAJOR: c_int = 101;
/// `CBLAS_TRANSPOSE::CblasNoTrans`.
const NO_TRANS: c_int = 111;
/// `CBLAS_TRANSPOSE::CblasTrans`.
const TRANS: c_int = 112;

// `blasint` is C `int` in the LP64 builds distributions ship (`OPENBLAS_USE64BITINT` unset),
// and the CBLAS enums are C enums, passed as `int`.
#[link(name = "openblas")]
extern "C" {
    fn cblas_sgemm(
        order: c_int,
        trans_a: c_int,
        trans_b: c_int,
        m: c_int,
        n: c_int,
        k: c_int,
        alpha: f32,
        a: *const f32,
        lda: c_int,
        b: *const f32,
        ldb: c_int,
        beta: f32,
        c: *mut f32,
        ldc: c_int,
    );
    fn openblas_set_num_threads(num_threads: c_int);
}

/// Makes OpenBLAS single-threaded, once per process: the harness's `tN` variants do their own
/// splitting, and OpenBLAS threads under them would oversubscribe the cores.
fn single_threaded() {
    static ONCE: Once = Once::new();
    // SAFETY: `openblas_set_num_threads` takes a plain int and has no other precondition;
    // `Once` runs it before any `cblas_sgemm` call of this module.
    ONCE.call_once(|| unsafe { openblas_set_num_threads(1) });
}

/// `value` as a CBLAS `int`, or a shape error naming it.
fn blas_int(name: &str, value: usize) -> Result<c_int> {
    c_int::try_from(value).map_err(|_| KernelError::Shape {
        op: "matmul",
        reason: format!("{name} = {value} exceeds OpenBLAS's 32-bit integer"),
    })
}

/// The leading dimension CBLAS is given for a stored rows×cols matrix. A matrix of one row
/// never uses its stride, and the harness accepts any stride there, but CBLAS rejects (with a
/// message on stderr, computing nothing) a leading dimension below the row length; such a
/// stride is replaced by the row length, which addresses the same elements.
fn leading(rows: usize, cols: usize, ld: usize) -> usize {
    if rows <= 1 {
        ld.max(cols).max(1)
    } else {
        ld
    }
}

kernels::matmul_without_scratch! {
    /// No scratch: OpenBLAS packs into its own buffers.
    scratch_len;
    /// `C = α·op(A)·op(B) + β·C` through `cblas_sgemm` (row-major).
    matmul(g, alpha, a, b, beta, c) {
        let (ar, ac) = g.a_dims();
        let (br, bc) = g.b_dims();
        let m = blas_int("m", g.m)?;
        let n = blas_int("n", g.n)?;
        let k = blas_int("k", g.k)?;
        let lda = blas_int("lda", leading(ar, ac, g.lda))?;
        let ldb = blas_int("ldb", leading(br, bc, g.ldb))?;
        let ldc = blas_int("ldc", leading(g.m, g.n, g.ldc))?;
        let trans = |t: bool| if t { TRANS } else { NO_TRANS };
        single_threaded();
        // β == 0 overwrites C without reading it (BLAS semantics: NaN in C does not survive).
        // SAFETY: the macro's `check_trivial` (through `g.check`) proved that every element
        // CBLAS addresses — row r·ld + column j for r < rows, j < cols of each stored matrix —
        // lies inside a, b and c, and m, n, k ≥ 1 here; the leading dimensions are at least the
        // row lengths, as CBLAS requires, and a stride changed by `leading` belongs to a one-row
        // matrix, where it addresses nothing. The pointers come from live slices and c is a
        // distinct &mut, so nothing aliases; OpenBLAS keeps no pointer past the call.
        unsafe {
            cblas_sgemm(
                ROW_MAJOR,
                trans(g.trans_a),
                trans(g.trans_b),
                m,
                n,
                k,
                alpha,
                a.as_ptr(),
                lda,
                b.as_ptr(),
                ldb,
                beta,
                c.as_mut_ptr(),
                ldc,
            );
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use kernels::matmul::Gemm;

    #[test]
    fn one_row_with_short_stride_is_computed() {
        // m = 1 with ldc = 0 and lda = 0: legal for the harness, rejected by bare CBLAS.
        let g = Gemm::new(1, 3, 2).with_strides(0, 2, 0);
        let a = [1.0, 2.0, 3.0];
        let b = [1.0, 0.0, 0.0, 1.0, 1.0, 1.0];
        let mut c = [f32::NAN; 2];
        matmul(&g, 1.0, &a, &b, 0.0, &mut c, &mut []).unwrap();
        assert_eq!(c, [4.0, 5.0]);
    }

    #[test]
    fn short_buffer_is_an_error() {
        let g = Gemm::new(4, 4, 4);
        let mut c = [0.0; 16];
        assert!(matmul(&g, 1.0, &[0.0; 15], &[0.0; 16], 0.0, &mut c, &mut []).is_err());
    }
}
