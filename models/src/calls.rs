//! The calls a preset makes through the dispatcher, per workload, computed from the config
//! alone (no model is run): what the tuner measures for a preset and what the experiments
//! take as the model's shapes. `tests/calls.rs` runs the real forward and training passes
//! under the dispatcher's trace ([`backends::Dispatcher::start_trace`]) and checks that they
//! dispatch exactly these calls, in this order.
//!
//! The inference pass runs attention as one fused call per layer (every head of its query
//! rows against the cache); the training pass's attention is unfused MatMuls and softmaxes
//! per sequence and head, which its backward needs.

use crate::config::Config;
use anyhow::{bail, Result};
use backends::{Key, Op, Shape};
use kernels::attention::Attention;
use kernels::matmul::Gemm;
use kernels::Rows;

/// One dispatched call: the op, the shape it runs at (MatMul with its transposes and
/// strides) and its form: whether it overwrites its first input, as the model calls the bias
/// adds, the bias + GELU of inference, the position add and the training softmaxes (the
/// tuner times a call in the form it is made).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Call {
    pub op: Op,
    pub shape: Shape,
    pub inplace: bool,
}

impl Call {
    /// The dispatch table key the dispatcher chooses this call's variant by.
    pub fn key(&self) -> Key {
        self.shape.key()
    }

    /// Bytes of the call's operands, every input and output counted once (the op's cost
    /// model, [`backends::spec::Cost::bytes`]).
    pub fn bytes(&self) -> u64 {
        self.op.spec().cost(self.shape).bytes as u64
    }

    /// The call as the dispatcher's trace records it.
    pub fn traced(&self) -> backends::dispatch::Call {
        backends::dispatch::Call {
            op: self.op,
            key: self.key(),
            inplace: self.inplace,
        }
    }
}

/// A unit of a preset's work whose calls [`calls`] lists.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Workload {
    /// [`Model::prefill`](crate::Model::prefill) of `prompt_len` tokens into an empty cache
    /// (logits of the last token only).
    Prefill { prompt_len: usize },
    /// [`Model::decode`](crate::Model::decode) of one token at position `pos`.
    DecodeStep { pos: usize },
    /// One generated token of [`Mode::FullRecompute`](crate::Mode::FullRecompute): the
    /// window of the last `len` tokens run again from position 0.
    FullRecompute { len: usize },
    /// One training step of `batch` sequences of `seq` tokens:
    /// [`forward_backward`](crate::backward::forward_backward) (the optimizer's update
    /// dispatches nothing).
    TrainStep { batch: usize, seq: usize },
}

/// The calls `workload` of a model of shape `config` dispatches, in dispatch order. An
/// invalid config or a workload that does not fit its context (no tokens, positions past
/// the context) is an error, as the model itself would refuse it.
pub fn calls(config: &Config, workload: Workload) -> Result<Vec<Call>> {
    config.validate()?;
    let ctx = config.context;
    match workload {
        Workload::Prefill { prompt_len: n } | Workload::FullRecompute { len: n } => {
            if n == 0 || n > ctx {
                bail!("a forward pass of {n} tokens does not fit the context of {ctx}");
            }
            Ok(inference(config, n, 0))
        }
        Workload::DecodeStep { pos } => {
            if pos >= ctx {
                bail!("decoding at position {pos} is past the context of {ctx}");
            }
            Ok(inference(config, 1, pos))
        }
        Workload::TrainStep { batch, seq } => {
            if batch == 0 || seq == 0 || seq > ctx {
                bail!("a training batch of {batch}×{seq} tokens does not fit the context of {ctx}");
            }
            match batch.checked_mul(seq) {
                Some(_) => Ok(training(config, batch, seq)),
                None => bail!("a training batch of {batch}×{seq} tokens overflows"),
            }
        }
    }
}

/// Appends calls to a list, one method per kind of shape.
struct List(Vec<Call>);

impl List {
    fn push(&mut self, op: Op, shape: Shape, inplace: bool) {
        self.0.push(Call { op, shape, inplace });
    }

    fn mm(&mut self, g: Gemm) {
        self.push(Op::Matmul, Shape::MatMul(g), false);
    }

    fn rows(&mut self, op: Op, rows: usize, cols: usize) {
        self.push(op, Shape::Rows(Rows::new(rows, cols)), false);
    }

    /// A row op in its in-place form.
    fn rows_inplace(&mut self, op: Op, rows: usize, cols: usize) {
        self.push(op, Shape::Rows(Rows::new(rows, cols)), true);
    }

    /// Fused attention of `rows` query rows after `past` cached positions, laid out as the
    /// model runs it (q inside the `3·width` QKV rows).
    fn attention(&mut self, cfg: &Config, rows: usize, past: usize) {
        let c = cfg.width;
        let a = Attention::new(rows, past, cfg.heads, cfg.head_dim()).with_strides(3 * c, c, c);
        self.push(Op::Attention, Shape::Attention(a), false);
    }

    fn elems(&mut self, op: Op, n: usize) {
        self.push(op, Shape::Elems(n), false);
    }

    /// An element-wise op in its in-place form.
    fn elems_inplace(&mut self, op: Op, n: usize) {
        self.push(op, Shape::Elems(n), true);
    }

    /// The rest of a block past its attention, over `m` rows ([`crate::model::block`]): the
    /// bias + GELU in place in inference (`act_inplace`), into the kept activations in
    /// training.
    fn block_tail(&mut self, c: usize, h: usize, m: usize, act_inplace: bool) {
        self.mm(Gemm::new(m, c, c));
        self.rows_inplace(Op::AddBias, m, c);
        self.rows(Op::AddLayernorm, m, c);
        self.mm(Gemm::new(m, c, h));
        if act_inplace {
            self.rows_inplace(Op::BiasGelu, m, h);
        } else {
            self.rows(Op::BiasGelu, m, h);
        }
        self.mm(Gemm::new(m, h, c));
        self.rows_inplace(Op::AddBias, m, c);
    }

    /// A block's QKV projection and its bias over `n` rows.
    fn block_head(&mut self, c: usize, n: usize) {
        self.mm(Gemm::new(n, c, 3 * c));
        self.rows_inplace(Op::AddBias, n, 3 * c);
    }
}

/// The inference forward of `n` tokens after `past` cached ones, wanting the last row's
/// logits (`Model::forward`): the last layer runs one row from its attention on.
fn inference(cfg: &Config, n: usize, past: usize) -> Vec<Call> {
    let (c, h, v) = (cfg.width, cfg.mlp_hidden, cfg.vocab_size);
    let mut l = List(Vec::new());
    l.elems_inplace(Op::Add, n * c);
    l.rows(Op::Layernorm, n, c);
    for layer in 0..cfg.layers {
        let m = if layer + 1 == cfg.layers { 1 } else { n };
        l.block_head(c, n);
        l.attention(cfg, m, past + n - m);
        l.block_tail(c, h, m, true);
        l.rows(Op::AddLayernorm, m, c);
    }
    l.mm(Gemm::new(1, c, v).with_trans(false, true));
    l.0
}

/// One training forward and backward (`backward::forward` and `backward::backward`).
fn training(cfg: &Config, batch: usize, t: usize) -> Vec<Call> {
    let (c, h, v, nh, hd) = cfg.dims();
    let n = batch * t;
    let mut l = List(Vec::new());
    for _ in 0..batch {
        l.elems_inplace(Op::Add, t * c);
    }
    for _ in 0..cfg.layers {
        l.rows(Op::Layernorm, n, c);
        l.block_head(c, n);
        for _ in 0..batch * nh {
            l.mm(Gemm::new(t, hd, t)
                .with_trans(false, true)
                .with_strides(3 * c, 3 * c, t));
            l.rows_inplace(Op::SoftmaxCausal, t, t);
            l.mm(Gemm::new(t, t, hd).with_strides(t, 3 * c, c));
        }
        l.block_tail(c, h, n, false);
        l.elems(Op::Add, n * c);
    }
    l.rows(Op::Layernorm, n, c);
    l.mm(Gemm::new(n, c, v).with_trans(false, true));
    l.rows_inplace(Op::Softmax, n, v);
    // Backward: the LM head and the final LayerNorm, then the blocks last to first.
    l.mm(Gemm::new(v, n, c).with_trans(true, false));
    l.mm(Gemm::new(n, v, c));
    l.rows(Op::LayernormBackward, n, c);
    for _ in 0..cfg.layers {
        l.mm(Gemm::new(h, n, c).with_trans(true, false));
        l.mm(Gemm::new(n, c, h).with_trans(false, true));
        l.rows(Op::BiasGeluBackward, n, h);
        l.mm(Gemm::new(c, n, h).with_trans(true, false));
        l.mm(Gemm::new(n, h, c).with_trans(false, true));
        l.rows(Op::LayernormBackward, n, c);
        l.elems(Op::Add, n * c);
        l.mm(Gemm::new(c, n, c).with_trans(true, false));
        l.mm(Gemm::new(n, c, c).with_trans(false, true));
        for _ in 0..batch * nh {
            l.mm(Gemm::new(t, hd, t)
                .with_trans(false, true)
                .with_strides(c, 3 * c, t));
            l.mm(Gemm::new(t, t, hd)
                .with_trans(true, false)
                .with_strides(t, c, 3 * c));
            l.rows(Op::SoftmaxBackward, t, t);
            l.mm(Gemm::new(t, t, hd).with_strides(t, 3 * c, 3 * c));
            l.mm(Gemm::new(t, t, hd)
                .with_trans(true, false)
                .with_strides(t, 3 * c, 3 * c));
        }
        l.mm(Gemm::new(c, n, 3 * c).with_trans(true, false));
        l.mm(Gemm::new(n, 3 * c, c).with_trans(false, true));
        l.rows(Op::LayernormBackward, n, c);
        l.elems(Op::Add, n * c);
    }
    l.0
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Workloads that do not fit are errors, not panics or empty lists.
    #[test]
    fn workloads_that_do_not_fit_are_errors() {
        let cfg = Config::small();
        for w in [
            Workload::Prefill { prompt_len: 0 },
            Workload::Prefill { prompt_len: 65 },
            Workload::DecodeStep { pos: 64 },
            Workload::FullRecompute { len: 0 },
            Workload::TrainStep { batch: 0, seq: 8 },
            Workload::TrainStep { batch: 1, seq: 65 },
            Workload::TrainStep {
                batch: usize::MAX,
                seq: 64,
            },
        ] {
            assert!(calls(&cfg, w).is_err(), "{w:?}");
        }
        let bad = Config {
            heads: 3,
            ..Config::small()
        };
        assert!(calls(&bad, Workload::DecodeStep { pos: 0 }).is_err());
    }

    /// A decode step at position 0 is a one-token prefill, and at other positions differs
    /// only in its attention's past; every call's bytes are positive.
    #[test]
    fn a_decode_step_is_a_one_token_prefill() {
        let cfg = Config::medium();
        let decode = calls(&cfg, Workload::DecodeStep { pos: 9 }).unwrap();
        let first = calls(&cfg, Workload::DecodeStep { pos: 0 }).unwrap();
        assert_eq!(
            first,
            calls(&cfg, Workload::Prefill { prompt_len: 1 }).unwrap()
        );
        for (a, b) in decode.iter().zip(&first) {
            match (a.shape, b.shape) {
                (Shape::Attention(x), Shape::Attention(y)) => {
                    assert_eq!((x.past, y.past), (9, 0));
                    assert_eq!(Attention { past: 0, ..x }, y);
                }
                _ => assert_eq!(a, b),
            }
        }
        assert!(decode.iter().all(|c| c.bytes() > 0));
        // Embedding add and LayerNorm 1, 11 calls per block, the LM head.
        assert_eq!(decode.len(), 2 + 11 * cfg.layers + 1);
    }
}
