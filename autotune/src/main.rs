//! `autotune`: see `autotune --help`.

fn main() -> std::process::ExitCode {
    autotune::cli::main()
}
