//! Library use: load the shipped checkpoint, attach a dispatch table, generate.
//! `cargo run --release -p models --example generate [-- path/to/dispatch.json]`
use backends::{Dispatcher, LoadOptions};
use models::{Mode, Model, Sampler};

fn main() -> anyhow::Result<()> {
    let mut model = Model::load(&models::find_shipped_checkpoint()?)?;
    if let Some(table) = std::env::args().nth(1) {
        model = model.with_dispatch(Dispatcher::from_file(
            table.as_ref(),
            LoadOptions::default(),
        )?);
    }
    let prompt = model.tokenizer.encode(b"ROMEO:\n");
    let mut sampler = Sampler::new(0.8, 40, 7); // temperature, top-k, seed
    let ids = model.generate(&prompt, 50, &mut sampler, Mode::KvCache, |_| {})?;
    println!(
        "ROMEO:\n{}",
        String::from_utf8_lossy(&model.tokenizer.decode(&ids))
    );
    Ok(())
}
