//! The isolation helper as a standalone executable, for the crate's own tests. The daemon
//! embeds the same entry point as its `sandbox-init` subcommand instead.

fn main() {
    sandbox::init_main(std::env::args().skip(1).collect())
}
