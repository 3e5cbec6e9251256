//! One test per rule of the package contract, through the public API only.

use std::fs;
use std::io::Write;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;

use codepkg::{extract, inspect, CodeError, EntryKind, EntryProblem, ErrorClass, Limits};

use crate::support::{build, Raw, Sandbox, S_IFDIR, S_IFLNK};

/// Both entry points refuse `zip` with the same error, and `extract` leaves nothing behind.
fn refuse_with(zip: &[u8], limits: &Limits) -> CodeError {
    let inspected = inspect(zip, limits).expect_err("inspect accepted the package");
    let sandbox = Sandbox::new();
    let extracted = extract(zip, &sandbox.dest(), limits).expect_err("extract accepted it");
    assert_eq!(inspected.to_string(), extracted.to_string());
    sandbox.assert_nothing_outside_dest();
    sandbox.assert_dest_clean();
    extracted
}

fn refuse(zip: &[u8]) -> CodeError {
    refuse_with(zip, &Limits::default())
}

fn problem_of(e: &CodeError) -> EntryProblem {
    match e {
        CodeError::BadEntry { problem, .. } => *problem,
        other => panic!("expected a bad entry, got {other:?}"),
    }
}

fn mode(path: &Path) -> u32 {
    fs::symlink_metadata(path).unwrap().permissions().mode() & 0o7777
}

struct Fixture {
    file: &'static str,
    /// base64(SHA-256) computed once with Python's hashlib, independently of this crate.
    sha256: &'static str,
    size: u64,
    unzipped: u64,
    entries: usize,
}

/// Three writers: Python `zipfile` (seekable), Info-ZIP `zip -r -y` (extra fields, stored
/// symlinks), Python `zipfile` on an unseekable stream (data descriptors). Same tree:
/// `bootstrap` 0755, `lib/v1/libone.txt`, `lib/current -> v1`, `data/*`.
const FIXTURES: [Fixture; 3] = [
    Fixture {
        file: "python.zip",
        sha256: "YGoxWpKwSId5cnRxzECUkJfssnmn86uLDXa1isqHMIk=",
        size: 755,
        unzipped: 21 + 8 + 2 + 8 + 12,
        entries: 7,
    },
    Fixture {
        file: "infozip.zip",
        sha256: "VOfj44akXyVwrl4rGZXabSEa/GCLh5aQ96EzgOijOOw=",
        size: 971,
        unzipped: 2651,
        entries: 9,
    },
    Fixture {
        file: "python-stream.zip",
        sha256: "zUWuhkB6j4xEUykVL2ar8dYd2UAuu+nSv6+lWYvhE2k=",
        size: 561,
        unzipped: 21 + 8 + 2 + 2600,
        entries: 4,
    },
];

fn fixture(name: &str) -> Vec<u8> {
    fs::read(
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/package/fixtures")
            .join(name),
    )
    .unwrap()
}

#[test]
fn real_world_zips_round_trip_with_modes_and_links() {
    for f in &FIXTURES {
        let zip = fixture(f.file);
        let sandbox = Sandbox::new();
        let dest = sandbox.dest();
        let summary = extract(&zip, &dest, &Limits::default()).unwrap();

        assert_eq!(summary.code_sha256, f.sha256, "{}", f.file);
        assert_eq!(summary.code_size, f.size, "{}", f.file);
        assert_eq!(summary.unzipped_size, f.unzipped, "{}", f.file);
        assert_eq!(summary.entries, f.entries, "{}", f.file);

        assert_eq!(
            fs::read(dest.join("bootstrap")).unwrap(),
            b"#!/bin/sh\necho hello\n"
        );
        assert_eq!(mode(&dest.join("bootstrap")), 0o755);
        assert_eq!(
            fs::read(dest.join("lib/v1/libone.txt")).unwrap(),
            b"lib one\n"
        );
        assert_eq!(mode(&dest.join("lib/v1/libone.txt")), 0o644);
        assert_eq!(mode(&dest.join("lib")), 0o755);
        assert_eq!(mode(&dest.join("lib/v1")), 0o755);
        assert_eq!(mode(&dest), 0o755);
        assert_eq!(
            fs::read_link(dest.join("lib/current")).unwrap(),
            Path::new("v1")
        );
        assert_eq!(
            fs::read(dest.join("lib/current/libone.txt")).unwrap(),
            b"lib one\n"
        );
        assert!(summary.is_executable_file("bootstrap"));
        assert!(!summary.is_executable_file("lib/v1/libone.txt"));
        assert_eq!(summary.follow("lib/current"), Some(&EntryKind::Dir));
        assert_eq!(
            summary.entry("lib/current"),
            Some(&EntryKind::Symlink {
                target: "v1".into()
            })
        );
        sandbox.assert_nothing_outside_dest();

        let inspected = inspect(&zip, &Limits::default()).unwrap();
        assert_eq!(inspected.code_sha256, summary.code_sha256);
        assert_eq!(inspected.unzipped_size, summary.unzipped_size);
        assert!(inspected.iter().eq(summary.iter()));
    }
}

#[test]
fn python_fixture_keeps_its_extra_entries() {
    let sandbox = Sandbox::new();
    let dest = sandbox.dest();
    let summary = extract(&fixture("python.zip"), &dest, &Limits::default()).unwrap();
    // 0600 in the zip: made readable, because the function does not run as the owner.
    assert_eq!(mode(&dest.join("data/config.json")), 0o644);
    assert_eq!(
        fs::read_link(dest.join("data/run")).unwrap(),
        Path::new("../bootstrap")
    );
    assert!(summary.is_executable_file("data/run"));
    assert_eq!(
        summary.entry("data/config.json"),
        Some(&EntryKind::File {
            size: 8,
            executable: false
        })
    );
    assert_eq!(summary.entry("nope"), None);
    assert_eq!(summary.follow("../bootstrap"), None);
}

#[test]
fn zip_writer_package_round_trips() {
    use zip::write::SimpleFileOptions;
    let mut w = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    let exe = SimpleFileOptions::default().unix_permissions(0o755);
    let plain = SimpleFileOptions::default().unix_permissions(0o640);
    w.add_directory("a/b/", SimpleFileOptions::default())
        .unwrap();
    w.start_file("bootstrap", exe).unwrap();
    w.write_all(b"#!/bin/sh\n").unwrap();
    w.start_file("a/b/c/deep.txt", plain).unwrap();
    w.write_all(&b"deep ".repeat(1000)).unwrap();
    w.add_symlink("a/link", "b/c/deep.txt", SimpleFileOptions::default())
        .unwrap();
    let zip = w.finish().unwrap().into_inner();

    let sandbox = Sandbox::new();
    let dest = sandbox.dest();
    let summary = extract(&zip, &dest, &Limits::default()).unwrap();
    assert_eq!(summary.unzipped_size, 10 + 5000 + 12);
    assert_eq!(mode(&dest.join("bootstrap")), 0o755);
    assert_eq!(mode(&dest.join("a/b/c/deep.txt")), 0o644);
    assert_eq!(mode(&dest.join("a/b/c")), 0o755);
    assert_eq!(
        fs::read(dest.join("a/link")).unwrap(),
        b"deep ".repeat(1000)
    );
    assert_eq!(summary.entry("a/b/c"), Some(&EntryKind::Dir));
    crate::support::assert_links_stay_inside(&dest);
}

#[test]
fn hostile_names_are_refused_by_name() {
    let table: [(&[u8], EntryProblem); 20] = [
        (b"../evil", EntryProblem::EscapesRoot),
        (b"../../x", EntryProblem::EscapesRoot),
        (b"a/../../x", EntryProblem::EscapesRoot),
        (b"a/../x", EntryProblem::EscapesRoot),
        (b"..\\x", EntryProblem::EscapesRoot),
        (b"a\\..\\..\\x", EntryProblem::EscapesRoot),
        (b"/abs/x", EntryProblem::EscapesRoot),
        (b"/etc/passwd", EntryProblem::EscapesRoot),
        (b"\\abs\\x", EntryProblem::EscapesRoot),
        (b"//host/share/x", EntryProblem::EscapesRoot),
        (b"C:/x", EntryProblem::EscapesRoot),
        (b"c:\\windows\\x", EntryProblem::EscapesRoot),
        (b"D:x", EntryProblem::EscapesRoot),
        (b"..././x", EntryProblem::DotsComponent),
        (b"a/.../x", EntryProblem::DotsComponent),
        (b"x\0.txt", EntryProblem::ControlCharacter),
        (b"x\n.txt", EntryProblem::ControlCharacter),
        (b"x\x1b[2J", EntryProblem::ControlCharacter),
        (b"./", EntryProblem::EmptyName),
        (b"", EntryProblem::EmptyName),
    ];
    for (name, expected) in table {
        let zip = build(&[
            Raw::file("ok.txt", b"fine", 0o644),
            Raw::file("x", b"evil", 0o644).with_name(name),
        ]);
        let err = refuse(&zip);
        assert_eq!(
            problem_of(&err),
            expected,
            "{:?}",
            String::from_utf8_lossy(name)
        );
        assert_eq!(err.class(), ErrorClass::InvalidParameter);
    }
    let err = refuse(&build(&[Raw::file("../evil", b"x", 0o644)]));
    assert_eq!(
        err.to_string(),
        "Could not unzip uploaded file: entry '../evil' escapes the package root."
    );
    let err = refuse(&build(&[Raw::file("a\0b", b"x", 0o644)]));
    assert_eq!(
        err.to_string(),
        "Could not unzip uploaded file: entry 'a\\u{0}b' contains a control character."
    );
}

#[test]
fn over_long_names_are_refused() {
    let long = "d/".repeat(2100) + "f";
    let err = refuse(&build(&[Raw::file(&long, b"x", 0o644)]));
    assert_eq!(problem_of(&err), EntryProblem::TooLong);
    assert!(
        err.to_string().len() < 400,
        "the message echoes a bounded name"
    );

    let component = "n".repeat(256);
    let err = refuse(&build(&[Raw::file(&component, b"x", 0o644)]));
    assert_eq!(problem_of(&err), EntryProblem::TooLong);

    let limits = Limits {
        max_path_len: 8,
        ..Limits::default()
    };
    let err = refuse_with(&build(&[Raw::file("123456789", b"x", 0o644)]), &limits);
    assert_eq!(problem_of(&err), EntryProblem::TooLong);
}

#[test]
fn duplicate_names_are_refused_also_after_normalisation() {
    let raw_dup = build(&[Raw::file("a", b"1", 0o644), Raw::file("a", b"2", 0o644)]);
    assert!(matches!(refuse(&raw_dup), CodeError::DuplicateNames));

    let file = |name: &str| Raw::file(name, b"1", 0o644);
    for pair in [
        [file("a/b"), file("a\\b")],
        [file("x"), file("./x")],
        [file("d/f"), file("d//f")],
        [Raw::dir("dir/"), file("dir")],
        [Raw::dir("dir/"), Raw::dir("dir\\")],
    ] {
        let names = format!(
            "{:?}",
            pair.each_ref().map(|r| String::from_utf8_lossy(&r.name))
        );
        assert_eq!(
            problem_of(&refuse(&build(&pair))),
            EntryProblem::Duplicate,
            "{names}"
        );
    }
}

#[test]
fn escaping_symlinks_are_refused() {
    for target in ["/etc", "/tmp/canary", "../../x", "../x", "sub/../../x"] {
        let err = refuse(&build(&[Raw::symlink("evil", target)]));
        assert_eq!(
            problem_of(&err),
            EntryProblem::SymlinkEscapesRoot,
            "{target}"
        );
    }
    let err = refuse(&build(&[Raw::symlink("a/b/evil", "../../../x")]));
    assert_eq!(problem_of(&err), EntryProblem::SymlinkEscapesRoot);
    let chain = build(&[Raw::symlink("d/up", ".."), Raw::symlink("e", "d/up/..")]);
    assert_eq!(
        problem_of(&refuse(&chain)),
        EntryProblem::SymlinkEscapesRoot
    );
    let looping = build(&[Raw::symlink("a", "b"), Raw::symlink("b", "a")]);
    assert_eq!(problem_of(&refuse(&looping)), EntryProblem::SymlinkLoop);
    for target in ["", "a\0b", "x\ny"] {
        let err = refuse(&build(&[Raw::symlink("l", target)]));
        assert_eq!(
            problem_of(&err),
            EntryProblem::BadSymlinkTarget,
            "{target:?}"
        );
    }
    let not_utf8 = Raw::stored("l", &[0xff, 0xfe], S_IFLNK | 0o777);
    assert_eq!(
        problem_of(&refuse(&build(&[not_utf8]))),
        EntryProblem::BadSymlinkTarget
    );
}

#[test]
fn nothing_is_written_through_a_symlink_entry() {
    let sandbox = Sandbox::new();
    let canary = sandbox.dir.path().join("canary");
    let zip = build(&[
        Raw::symlink("evil", canary.to_str().unwrap()),
        Raw::file("evil/owned", b"pwned", 0o644),
    ]);
    let err = refuse(&zip);
    assert!(matches!(
        problem_of(&err),
        EntryProblem::BeneathNonDirectory | EntryProblem::SymlinkEscapesRoot
    ));

    let inner = build(&[
        Raw::dir("real/"),
        Raw::symlink("alias", "real"),
        Raw::file("alias/x", b"through the link", 0o644),
    ]);
    assert_eq!(
        problem_of(&refuse(&inner)),
        EntryProblem::BeneathNonDirectory
    );
    sandbox.assert_nothing_outside_dest();
}

#[test]
fn modes_keep_only_the_execute_bit() {
    let zip = build(&[
        Raw::file("setuid", b"x", 0o4777),
        Raw::file("sticky", b"x", 0o1666),
        Raw::file("private-exe", b"x", 0o700),
        Raw::file("group-write", b"x", 0o664),
        Raw::file("no-perms", b"x", 0),
        Raw::stored("dir/", b"", S_IFDIR | 0o7777),
        Raw::stored("typeless", b"x", 0o755),
        Raw {
            made_by: 20,
            external_attr: 0x20,
            ..Raw::file("from-dos", b"x", 0)
        },
    ]);
    let sandbox = Sandbox::new();
    let dest = sandbox.dest();
    let summary = extract(&zip, &dest, &Limits::default()).unwrap();
    for (path, expected) in [
        ("setuid", 0o755),
        ("sticky", 0o644),
        ("private-exe", 0o755),
        ("group-write", 0o644),
        ("no-perms", 0o644),
        ("dir", 0o755),
        ("typeless", 0o755),
        ("from-dos", 0o644),
    ] {
        assert_eq!(mode(&dest.join(path)), expected, "{path}");
        assert_eq!(
            summary.entry(path).and_then(EntryKind::mode),
            Some(expected)
        );
    }
}

#[test]
fn special_file_types_are_refused() {
    for kind in [0o010_000, 0o020_000, 0o060_000, 0o140_000] {
        let zip = build(&[Raw::stored("dev", b"", kind | 0o644)]);
        assert_eq!(problem_of(&refuse(&zip)), EntryProblem::UnsupportedType);
    }
    let zip = build(&[Raw::stored("link/", b"x", S_IFLNK | 0o777)]);
    assert_eq!(problem_of(&refuse(&zip)), EntryProblem::UnsupportedType);
}

#[test]
fn declared_sizes_are_not_trusted() {
    let content = vec![7u8; 64 * 1024];

    // Headers claim 10 bytes: the reader stops at the claim, and the package is refused.
    let mut small_claim = Raw::deflated("f", &content, 0o644);
    small_claim.uncompressed_size = 10;
    let err = refuse(&build(&[small_claim]));
    assert!(matches!(err, CodeError::Corrupt(_)), "{err:?}");

    // Headers claim far more than the limit: only real bytes count.
    let mut big_claim = Raw::deflated("f", &content, 0o644);
    big_claim.uncompressed_size = 0xffff_fff0;
    let limits = Limits {
        max_unzipped: 100_000,
        ..Limits::default()
    };
    let summary = inspect(&build(&[big_claim]), &limits).unwrap();
    assert_eq!(summary.unzipped_size, 64 * 1024);

    // Headers that tell the truth entry by entry still cannot exceed the total.
    let honest = build(&[
        Raw::deflated("a", &content, 0o644),
        Raw::deflated("b", &content, 0o644),
    ]);
    match refuse_with(&honest, &limits) {
        CodeError::UnzippedTooLarge { limit, inflated } => {
            assert_eq!(limit, 100_000);
            assert!(inflated > limit);
            assert!(inflated <= limit + codepkg::STREAM_BUFFER_BYTES as u64);
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn unzipped_limit_text_and_class() {
    let limits = Limits {
        max_unzipped: 3,
        ..Limits::default()
    };
    let err = refuse_with(&build(&[Raw::file("f", b"four", 0o644)]), &limits);
    assert_eq!(
        err.to_string(),
        "Unzipped size must be smaller than 3 bytes"
    );
    assert_eq!(err.class(), ErrorClass::InvalidParameter);
    let exact = Limits {
        max_unzipped: 4,
        ..Limits::default()
    };
    assert!(inspect(&build(&[Raw::file("f", b"four", 0o644)]), &exact).is_ok());
}

#[test]
fn zipped_size_is_checked_before_parsing() {
    let oversized = vec![0u8; 52_428_801];
    let err = inspect(&oversized, &Limits::default()).unwrap_err();
    assert_eq!(
        err.to_string(),
        "Zipped size must be smaller than 52428800 bytes"
    );
    assert_eq!(err.class(), ErrorClass::RequestTooLarge);

    let sandbox = Sandbox::new();
    let err = extract(&oversized, &sandbox.dest(), &Limits::default()).unwrap_err();
    assert!(matches!(err, CodeError::ZippedTooLarge { .. }));
    assert!(!sandbox.dest().exists());

    let zip = build(&[Raw::file("f", b"x", 0o644)]);
    let limits = Limits {
        max_zipped: zip.len() as u64 - 1,
        ..Limits::default()
    };
    assert!(matches!(
        refuse_with(&zip, &limits),
        CodeError::ZippedTooLarge { .. }
    ));
}

#[test]
fn not_a_zip_corrupt_and_truncated_are_refused() {
    const TEXT: &str =
        "Could not unzip uploaded file. Please check your file, then try to upload again.";
    for junk in [&b""[..], b"hello world", b"PK\x03\x04", &[0u8; 100]] {
        let err = refuse(junk);
        assert!(matches!(err, CodeError::Corrupt(_)), "{err:?}");
        assert_eq!(err.to_string(), TEXT);
    }

    let good = build(&[
        Raw::deflated("a.txt", &b"abc".repeat(100), 0o644),
        Raw::file("b.txt", b"bbb", 0o644),
    ]);
    for len in 0..good.len() {
        let err = refuse(&good[..len]);
        assert_eq!(
            err.class(),
            ErrorClass::InvalidParameter,
            "truncated to {len}"
        );
    }

    let mut bad_crc = Raw::file("f", b"content", 0o644);
    bad_crc.crc ^= 1;
    assert!(matches!(refuse(&build(&[bad_crc])), CodeError::Corrupt(_)));

    let mut bad_stream = Raw::deflated("f", &b"z".repeat(1000), 0o644);
    bad_stream.data = vec![0xff; bad_stream.data.len()];
    assert!(matches!(
        refuse(&build(&[bad_stream])),
        CodeError::Corrupt(_)
    ));
}

#[test]
fn encrypted_and_unsupported_methods_are_refused() {
    let mut encrypted = Raw::file("secret", b"xxxxxxxxxxxx", 0o644);
    encrypted.flags |= 1;
    let err = refuse(&build(&[encrypted]));
    assert_eq!(problem_of(&err), EntryProblem::Encrypted);
    assert_eq!(
        err.to_string(),
        "Could not unzip uploaded file: entry 'secret' is encrypted."
    );

    for method in [1, 6, 9, 12, 14, 93, 95, 98, 99] {
        let mut odd = Raw::file("f", b"data", 0o644);
        odd.method = method;
        let err = refuse(&build(&[odd]));
        assert!(
            matches!(
                err,
                CodeError::BadEntry {
                    problem: EntryProblem::UnsupportedCompression | EntryProblem::Encrypted,
                    ..
                } | CodeError::Corrupt(_)
            ),
            "method {method}: {err:?}"
        );
    }
}

#[test]
fn overlapping_entries_are_refused() {
    let payload = vec![0u8; 10_000];
    let mut aliases = vec![Raw::deflated("kernel", &payload, 0o644)];
    for i in 0..20 {
        aliases.push(Raw {
            alias_of: Some(0),
            ..Raw::deflated(&format!("copy{i}"), &payload, 0o644)
        });
    }
    assert!(matches!(
        refuse(&build(&aliases)),
        CodeError::OverlappingEntries
    ));
}

#[test]
fn entry_count_is_capped() {
    let entries: Vec<Raw> = (0..50)
        .map(|i| Raw::file(&format!("f{i}"), b"", 0o644))
        .collect();
    let zip = build(&entries);
    let limits = Limits {
        max_entries: 49,
        ..Limits::default()
    };
    assert!(matches!(
        refuse_with(&zip, &limits),
        CodeError::TooManyEntries { limit: 49 }
    ));
    let limits = Limits {
        max_entries: 50,
        ..Limits::default()
    };
    assert_eq!(inspect(&zip, &limits).unwrap().entries, 50);
}

#[test]
fn nested_zips_are_plain_files() {
    let inner = build(&[Raw::file("../escape", b"x", 0o644)]);
    let zip = build(&[Raw::file("inner.zip", &inner, 0o644)]);
    let sandbox = Sandbox::new();
    let summary = extract(&zip, &sandbox.dest(), &Limits::default()).unwrap();
    assert_eq!(fs::read(sandbox.dest().join("inner.zip")).unwrap(), inner);
    assert_eq!(summary.entries, 1);
    sandbox.assert_nothing_outside_dest();
}

#[test]
fn destination_rules() {
    let zip = build(&[Raw::file("f", b"x", 0o644)]);
    let sandbox = Sandbox::new();
    let dest = sandbox.dest();
    fs::create_dir(&dest).unwrap();
    fs::write(dest.join("existing"), b"keep").unwrap();
    let err = extract(&zip, &dest, &Limits::default()).unwrap_err();
    assert!(matches!(err, CodeError::DestinationNotEmpty { .. }));
    assert_eq!(err.class(), ErrorClass::Internal);
    assert_eq!(fs::read(dest.join("existing")).unwrap(), b"keep");
    assert!(!dest.join("f").exists());

    fs::remove_file(dest.join("existing")).unwrap();
    extract(&zip, &dest, &Limits::default()).unwrap();
    assert_eq!(fs::read(dest.join("f")).unwrap(), b"x");
}

#[test]
fn a_failed_extract_removes_what_it_wrote() {
    let mut broken = Raw::file("z-last", b"will fail", 0o644);
    broken.crc ^= 1;
    let zip = build(&[
        Raw::file("a/b/first", b"written first", 0o755),
        Raw::symlink("link", "a/b/first"),
        broken,
    ]);

    let sandbox = Sandbox::new();
    let err = extract(&zip, &sandbox.dest(), &Limits::default()).unwrap_err();
    assert!(matches!(err, CodeError::Corrupt(_)));
    assert!(
        !sandbox.dest().exists(),
        "extract created dest, so removes it"
    );

    fs::create_dir(sandbox.dest()).unwrap();
    extract(&zip, &sandbox.dest(), &Limits::default()).unwrap_err();
    assert!(sandbox.dest().is_dir(), "a given dest stays");
    sandbox.assert_dest_clean();
    sandbox.assert_nothing_outside_dest();
}

#[test]
fn empty_archive_is_valid_and_empty() {
    let summary = inspect(&build(&[]), &Limits::default()).unwrap();
    assert_eq!(summary.entries, 0);
    assert_eq!(summary.unzipped_size, 0);
    assert!(!summary.is_executable_file("bootstrap"));
}

#[test]
fn directory_entries_from_dos_tools() {
    let zip = build(&[
        Raw {
            made_by: 20,
            external_attr: 0x10,
            ..Raw::dir("win\\sub\\")
        },
        Raw {
            made_by: 20,
            external_attr: 0,
            ..Raw::file("win\\sub\\f.txt", b"crlf\r\n", 0)
        },
    ]);
    let sandbox = Sandbox::new();
    let summary = extract(&zip, &sandbox.dest(), &Limits::default()).unwrap();
    assert_eq!(
        fs::read(sandbox.dest().join("win/sub/f.txt")).unwrap(),
        b"crlf\r\n"
    );
    assert_eq!(summary.entry("win/sub"), Some(&EntryKind::Dir));
    assert_eq!(mode(&sandbox.dest().join("win/sub/f.txt")), 0o644);
}

#[test]
fn results_can_leave_a_blocking_task() {
    fn sendable<T: Send + Sync + 'static>() {}
    sendable::<codepkg::Summary>();
    sendable::<CodeError>();
}
