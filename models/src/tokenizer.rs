//! Tokenizers: raw bytes (vocab 256, the default) and byte-level BPE (bytes plus learned
//! merges, e.g. 256 merges for the medium preset's vocab of 512).
//!
//! # The BPE choice
//! Byte-level BPE as in GPT-2, without GPT-2's regex pre-tokenisation: the merges are learned
//! on the raw byte stream of the training text, so every byte string is encodable and decoding
//! is exact (round trip `decode(encode(s)) == s` for any bytes). Training repeatedly merges the
//! most frequent adjacent pair (ties broken by the smaller pair of ids, so it is
//! deterministic); encoding applies the merges in the order they were learned. A merge may
//! span a space (`"e "`, `" t"`), which suits a small character-level corpus such as tiny
//! Shakespeare: the learned tokens are frequent syllables, word endings and short words.

use anyhow::{bail, Context, Result};
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::path::Path;

/// Maps text to token ids and back.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Tokenizer {
    /// One token per byte: ids 0..256.
    #[default]
    Bytes,
    /// Bytes (ids 0..256) plus merges: merge `i` joins the pair `merges[i]` into id `256 + i`.
    Bpe { merges: Vec<(u32, u32)> },
}

impl Tokenizer {
    /// Number of token ids.
    pub fn vocab_size(&self) -> usize {
        match self {
            Tokenizer::Bytes => 256,
            Tokenizer::Bpe { merges } => 256 + merges.len(),
        }
    }

    /// Learns `n_merges` BPE merges from `text`.
    pub fn train_bpe(text: &[u8], n_merges: usize) -> Tokenizer {
        let mut ids: Vec<u32> = text.iter().map(|&b| b as u32).collect();
        // At most one merge per byte pair of the text, however many are asked for.
        let mut merges = Vec::with_capacity(n_merges.min(text.len()));
        let mut counts: HashMap<(u32, u32), usize> = HashMap::new();
        for i in 0..n_merges {
            counts.clear();
            for w in ids.windows(2) {
                *counts.entry((w[0], w[1])).or_insert(0) += 1;
            }
            // Most frequent, ties to the smallest pair: deterministic.
            let Some((&pair, &n)) = counts.iter().max_by(|a, b| a.1.cmp(b.1).then(b.0.cmp(a.0)))
            else {
                break;
            };
            if n < 2 {
                break;
            }
            merges.push(pair);
            ids = merge(&ids, pair, 256 + i as u32);
        }
        Tokenizer::Bpe { merges }
    }

    /// Token ids of `text`.
    pub fn encode(&self, text: &[u8]) -> Vec<u32> {
        let mut ids: Vec<u32> = text.iter().map(|&b| b as u32).collect();
        if let Tokenizer::Bpe { merges } = self {
            for (i, &pair) in merges.iter().enumerate() {
                if ids.len() < 2 {
                    break;
                }
                ids = merge(&ids, pair, 256 + i as u32);
            }
        }
        ids
    }

    /// Appends the bytes of token `id` to `out` (unknown ids append nothing). Iterative, so a
    /// long chain of merges cannot overflow the stack; allocation-free for ids that are bytes.
    pub fn decode_into(&self, id: u32, out: &mut Vec<u8>) {
        match self {
            Tokenizer::Bytes => {
                if id < 256 {
                    out.push(id as u8)
                }
            }
            Tokenizer::Bpe { merges } => {
                if id < 256 {
                    out.push(id as u8);
                    return;
                }
                // Depth-first, left to right, with an explicit stack.
                let mut stack = vec![id];
                while let Some(t) = stack.pop() {
                    if t < 256 {
                        out.push(t as u8);
                    } else if let Some(&(a, b)) = merges.get(t as usize - 256) {
                        stack.push(b);
                        stack.push(a);
                    }
                }
            }
        }
    }

    /// The bytes of a sequence of ids.
    pub fn decode(&self, ids: &[u32]) -> Vec<u8> {
        let mut out = Vec::new();
        for &id in ids {
            self.decode_into(id, &mut out);
        }
        out
    }

    /// Checks that every merge refers to earlier ids.
    pub fn validate(&self) -> Result<()> {
        if let Tokenizer::Bpe { merges } = self {
            if merges.len() > (u32::MAX - 256) as usize {
                bail!("{} BPE merges do not fit 32-bit token ids", merges.len());
            }
            for (i, &(a, b)) in merges.iter().enumerate() {
                let limit = 256 + i as u32;
                if a >= limit || b >= limit {
                    bail!("BPE merge {i} ({a}, {b}) refers to an id not yet defined");
                }
            }
        }
        Ok(())
    }

    /// Reads a tokenizer JSON file.
    pub fn load(path: &Path) -> Result<Tokenizer> {
        let text = crate::files::read_to_string(path, "tokenizer")?;
        let t: Tokenizer = serde_json::from_str(&text)
            .with_context(|| format!("{}: not a valid tokenizer file", path.display()))?;
        t.validate()
            .with_context(|| format!("{}", path.display()))?;
        Ok(t)
    }

    /// Writes a tokenizer JSON file.
    pub fn save(&self, path: &Path) -> Result<()> {
        let json = serde_json::to_string(self)?;
        std::fs::write(path, json).with_context(|| format!("writing {}", path.display()))
    }
}

/// Replaces every non-overlapping occurrence of `pair` (left to right) by `id`.
fn merge(ids: &[u32], pair: (u32, u32), id: u32) -> Vec<u32> {
    let mut out = Vec::with_capacity(ids.len());
    let mut i = 0;
    while i < ids.len() {
        if i + 1 < ids.len() && ids[i] == pair.0 && ids[i + 1] == pair.1 {
            out.push(id);
            i += 2;
        } else {
            out.push(ids[i]);
            i += 1;
        }
    }
    out
}
