//! Training checkpoints: a run stopped half-way and resumed equals the uninterrupted run
//! bit for bit (weights, optimiser state and batches continue exactly), saves replace a
//! checkpoint atomically and leave nothing beside it, and options that cannot train are
//! refused before anything is written.

use backends::{Dispatcher, Memory};
use models::checkpoint::{self, OPTIMIZER_FILE};
use models::train::{train, Existing, Progress, TrainOptions};
use models::{Model, Tokenizer, UsageError};

mod common;
use common::{data, tiny_config};
use std::path::Path;

fn tmp(name: &str) -> common::TmpDir {
    common::tmp_dir("models-resume", name)
}

fn opts(dir: &Path, out: &str) -> TrainOptions {
    let mut o = TrainOptions::new(data(dir), tiny_config(), dir.join(out));
    o.steps = 6;
    o.batch = 2;
    o.warmup = 2;
    o.eval_every = 2;
    o.progress = Progress::Off;
    // One deterministic implementation for both runs.
    o.dispatch = Dispatcher::forced("naive", Memory::Pooled, 1);
    o
}

#[test]
fn a_resumed_run_equals_the_uninterrupted_one() {
    let dir = tmp("exact");
    let straight = opts(&dir, "straight");
    let full = train(&straight).unwrap();

    let mut first = opts(&dir, "halves");
    first.stop_at = Some(3);
    let half = train(&first).unwrap();
    assert_eq!(half.info.steps, 3);
    assert!(first.out.join(OPTIMIZER_FILE).exists());
    assert_ne!(half.model.weights, full.model.weights);

    let mut second = opts(&dir, "halves");
    second.existing = Existing::Resume;
    let resumed = train(&second).unwrap();
    assert_eq!(resumed.info.steps, 6);
    assert_eq!(resumed.model.weights, full.model.weights);
    assert!(resumed.info.train_loss.is_finite());
    // And what was saved is what was trained.
    let a = Model::load(&straight.out).unwrap();
    let b = Model::load(&second.out).unwrap();
    assert_eq!(a.weights, b.weights);
}

#[test]
fn existing_checkpoints_are_refused_unless_resumed_or_replaced() {
    let dir = tmp("existing");
    let o = opts(&dir, "ck");
    train(&o).unwrap();
    let before = std::fs::read(o.out.join("model.safetensors")).unwrap();
    let e = train(&o).unwrap_err();
    assert!(e.downcast_ref::<UsageError>().is_some(), "{e:#}");
    assert_eq!(
        std::fs::read(o.out.join("model.safetensors")).unwrap(),
        before
    );
    let mut f = opts(&dir, "ck");
    f.existing = Existing::Replace;
    f.seed = 7;
    train(&f).unwrap();
    assert_ne!(
        std::fs::read(o.out.join("model.safetensors")).unwrap(),
        before
    );
}

#[test]
fn bad_options_are_usage_errors_before_anything_is_written() {
    let dir = tmp("usage");
    let base = opts(&dir, "ck");
    let mut cases: Vec<TrainOptions> = Vec::new();
    for f in [
        |o: &mut TrainOptions| o.batch = 0,
        |o: &mut TrainOptions| o.seq_len = Some(0),
        |o: &mut TrainOptions| o.seq_len = Some(17),
        |o: &mut TrainOptions| o.steps = 0,
        |o: &mut TrainOptions| o.adamw.lr = f32::NAN,
        |o: &mut TrainOptions| o.adamw.lr = 1e9,
        |o: &mut TrainOptions| o.adamw.lr = -1.0,
        |o: &mut TrainOptions| o.clip = 0.0,
        |o: &mut TrainOptions| o.adamw.weight_decay = f32::INFINITY,
        |o: &mut TrainOptions| o.eval_batches = 0,
        |o: &mut TrainOptions| o.existing = Existing::Resume,
    ] {
        let mut o = base.clone();
        f(&mut o);
        cases.push(o);
    }
    for o in cases {
        let e = train(&o).unwrap_err();
        assert!(e.downcast_ref::<UsageError>().is_some(), "{e:#}");
        assert!(!o.out.exists());
    }
}

#[test]
fn saves_are_atomic_and_refuse_what_is_not_a_checkpoint() {
    let dir = tmp("atomic");
    let ck = dir.join("ck");
    let mut m = Model::init(tiny_config(), Tokenizer::Bytes, 1).unwrap();
    checkpoint::save(&m, &ck, None).unwrap();
    m.weights.wte[0] = 0.25;
    checkpoint::save(&m, &ck, None).unwrap();
    assert_eq!(Model::load(&ck).unwrap().weights.wte[0], 0.25);
    let names: Vec<String> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(names, ["ck"], "nothing left beside the checkpoint");
    // Non-finite weights are never saved; the previous checkpoint stays.
    let good = std::fs::read(ck.join("model.safetensors")).unwrap();
    m.weights.wpe[3] = f32::NAN;
    let e = checkpoint::save(&m, &ck, None).unwrap_err();
    assert!(format!("{e}").contains("`wpe` element 3"), "{e}");
    assert_eq!(std::fs::read(ck.join("model.safetensors")).unwrap(), good);
    // A directory with other files is not replaced.
    let other = dir.join("other");
    std::fs::create_dir_all(&other).unwrap();
    std::fs::write(other.join("notes.txt"), "keep").unwrap();
    m.weights.wpe[3] = 0.0;
    let e = checkpoint::save(&m, &other, None).unwrap_err();
    assert!(format!("{e}").contains("notes.txt"), "{e}");
    assert_eq!(std::fs::read(other.join("notes.txt")).unwrap(), b"keep");
}
