//! Shapes and forced choices from a user are checked: overflow and what cannot run here are
//! errors that say why, never a panic or a silent substitution.

use backends::{Dispatcher, ForceError, Memory, Op, Shape};

#[test]
fn shapes_whose_buffers_overflow_are_errors() {
    for (op, text) in [
        (Op::Matmul, "18446744073709551615"),
        (Op::Matmul, "4294967296"),
        (Op::Matmul, "99999999x99999999x9999999999"),
        (Op::Matmul, "1x18446744073709551615x2"),
        (Op::Softmax, "18446744073709551615x2"),
        (Op::GeluTanh, "18446744073709551615"),
        (Op::Add, "4611686018427387904"),
        (Op::GeluTanh, "4294967296x4294967296"),
    ] {
        let e = Shape::parse(op, text).expect_err(text);
        assert!(e.contains(text), "the error names the input: {e}");
    }
    // Large but representable shapes parse (the memory limit is the tools' business).
    assert!(Shape::parse(Op::Matmul, "99999999x99999999x9").is_ok());
    assert!(Shape::parse(Op::Matmul, "0x0x0").is_ok());
    assert!(Shape::parse(Op::Softmax, "1x1").is_ok());
}

#[test]
fn forcing_what_cannot_run_is_an_error() {
    assert!(matches!(
        Dispatcher::try_forced("nosuch", Memory::Pooled, 1),
        Err(ForceError::UnknownImplementation { .. })
    ));
    let e = Dispatcher::try_forced("tiled", Memory::Pooled, 7).unwrap_err();
    assert!(matches!(e, ForceError::Threads { threads: 7, .. }), "{e}");
    let e = Dispatcher::try_forced("naive", Memory::Pooled, 0).unwrap_err();
    assert!(matches!(e, ForceError::Threads { threads: 0, .. }), "{e}");
    let d = Dispatcher::try_forced("naive", Memory::Direct, 1).unwrap();
    assert!(d.warnings().is_empty());
    // `gemm` implements MatMul only: the other ops are named in a warning.
    let d = Dispatcher::try_forced("gemm", Memory::Pooled, 1).unwrap();
    assert!(
        d.warnings().iter().any(|w| w.contains("gelu_tanh")),
        "{:?}",
        d.warnings()
    );
    for f in ["avx2", "avx512"] {
        let runnable = backends::catalog()
            .variants()
            .iter()
            .any(|v| v.implementation == f && v.runnable().is_ok());
        match Dispatcher::try_forced(f, Memory::Pooled, 1) {
            Ok(_) => assert!(runnable, "{f} forced although nothing of it runs"),
            Err(e) => {
                assert!(!runnable, "{f}: {e}");
                assert!(matches!(e, ForceError::Unrunnable { .. }), "{e}");
            }
        }
    }
}
