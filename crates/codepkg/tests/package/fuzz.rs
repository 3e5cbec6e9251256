//! Property tests: arbitrary bytes and mutated real zips never panic and never put anything
//! outside the destination.

use std::path::Path;

use codepkg::{extract, inspect, Limits};
use proptest::prelude::*;

use crate::support::{assert_links_stay_inside, build, Raw, Sandbox};

/// Small enough that a mutation inflating garbage stays quick.
fn limits() -> Limits {
    Limits {
        max_unzipped: 1 << 20,
        max_entries: 64,
        ..Limits::default()
    }
}

fn seed_zips() -> Vec<Vec<u8>> {
    let fixture = |name: &str| {
        std::fs::read(
            Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("tests/package/fixtures")
                .join(name),
        )
        .unwrap()
    };
    vec![
        fixture("python.zip"),
        fixture("infozip.zip"),
        build(&[
            Raw::dir("d/"),
            Raw::deflated("d/f", &b"payload ".repeat(50), 0o755),
            Raw::symlink("d/l", "f"),
            Raw::symlink("up", "d/../d/l"),
            Raw::file("../x", b"x", 0o644).with_name(b"zz/x"),
        ]),
    ]
}

fn check(zip: &[u8]) {
    let _ = inspect(zip, &limits());
    let sandbox = Sandbox::new();
    let dest = sandbox.dest();
    if extract(zip, &dest, &limits()).is_ok() {
        assert_links_stay_inside(&dest);
    } else {
        sandbox.assert_dest_clean();
    }
    sandbox.assert_nothing_outside_dest();
}

proptest! {
    #[test]
    fn arbitrary_bytes(bytes in proptest::collection::vec(any::<u8>(), 0..4096)) {
        check(&bytes);
    }

    #[test]
    fn mutated_zips(
        seed in 0usize..3,
        edits in proptest::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..12),
        cut in proptest::option::of(any::<prop::sample::Index>()),
    ) {
        let mut zip = seed_zips().swap_remove(seed);
        for (at, byte) in edits {
            let i = at.index(zip.len());
            zip[i] = byte;
        }
        if let Some(cut) = cut {
            zip.truncate(cut.index(zip.len() + 1));
        }
        check(&zip);
    }
}
