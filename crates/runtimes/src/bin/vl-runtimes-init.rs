//! The sandbox's isolation helper as a standalone executable, for this crate's root tests
//! (a test can only name the executables of its own package). The daemon embeds the same
//! entry point as its `sandbox-init` subcommand instead.

fn main() {
    sandbox::init_main(std::env::args().skip(1).collect())
}
