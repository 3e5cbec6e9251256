//! Function code packages for CreateFunction load: a stored (uncompressed) zip with a tiny
//! `bootstrap` and, for the large case, incompressible filler, so the zip on the wire weighs
//! what was asked. Written by hand because only this one shape is ever needed.

/// One file in the package: name, contents, Unix mode.
struct Entry<'a> {
    name: &'a str,
    data: &'a [u8],
    mode: u32,
}

const BOOTSTRAP: &[u8] = b"#!/bin/sh\necho hello\n";

const LOCAL_HEADER: usize = 30;
const CENTRAL_HEADER: usize = 46;
const END_RECORD: usize = 22;

/// A valid zip of exactly `bytes` (or just the bootstrap when `bytes` is smaller than that):
/// `bootstrap`, plus `filler.bin` of pseudo-random bytes making up the rest.
pub fn package(bytes: usize) -> Vec<u8> {
    let overhead = 2 * (LOCAL_HEADER + CENTRAL_HEADER)
        + 2 * ("bootstrap".len() + "filler.bin".len())
        + END_RECORD
        + BOOTSTRAP.len();
    let filler = noise(bytes.saturating_sub(overhead));
    let mut entries = vec![Entry {
        name: "bootstrap",
        data: BOOTSTRAP,
        mode: 0o100755,
    }];
    if !filler.is_empty() {
        entries.push(Entry {
            name: "filler.bin",
            data: &filler,
            mode: 0o100644,
        });
    }
    stored_zip(&entries)
}

/// Deterministic incompressible bytes (xorshift64*), so runs are comparable.
fn noise(len: usize) -> Vec<u8> {
    let mut state: u64 = 0x9E37_79B9_7F4A_7C15;
    let mut out = Vec::with_capacity(len + 8);
    while out.len() < len {
        state ^= state >> 12;
        state ^= state << 25;
        state ^= state >> 27;
        out.extend_from_slice(&state.wrapping_mul(0x2545_F491_4F6C_DD1D).to_le_bytes());
    }
    out.truncate(len);
    out
}

fn stored_zip(entries: &[Entry<'_>]) -> Vec<u8> {
    // MS-DOS date 1980-01-01, time 00:00.
    const DOS_DATE: u16 = 0x21;
    let mut out = Vec::new();
    let mut central = Vec::new();
    for e in entries {
        let crc = crc32fast::hash(e.data);
        let size = u32::try_from(e.data.len()).unwrap_or(u32::MAX);
        let name_len = u16::try_from(e.name.len()).unwrap_or(u16::MAX);
        let offset = u32::try_from(out.len()).unwrap_or(u32::MAX);

        put32(&mut out, 0x0403_4b50);
        put16(&mut out, 10); // version needed: stored
        put16(&mut out, 0); // flags
        put16(&mut out, 0); // method: stored
        put16(&mut out, 0);
        put16(&mut out, DOS_DATE);
        put32(&mut out, crc);
        put32(&mut out, size);
        put32(&mut out, size);
        put16(&mut out, name_len);
        put16(&mut out, 0);
        out.extend_from_slice(e.name.as_bytes());
        out.extend_from_slice(e.data);

        put32(&mut central, 0x0201_4b50);
        put16(&mut central, (3 << 8) | 20); // made by: Unix, spec 2.0
        put16(&mut central, 10);
        put16(&mut central, 0);
        put16(&mut central, 0);
        put16(&mut central, 0);
        put16(&mut central, DOS_DATE);
        put32(&mut central, crc);
        put32(&mut central, size);
        put32(&mut central, size);
        put16(&mut central, name_len);
        put16(&mut central, 0); // extra
        put16(&mut central, 0); // comment
        put16(&mut central, 0); // disk
        put16(&mut central, 0); // internal attributes
        put32(&mut central, e.mode << 16);
        put32(&mut central, offset);
        central.extend_from_slice(e.name.as_bytes());
    }
    let count = u16::try_from(entries.len()).unwrap_or(u16::MAX);
    let central_offset = u32::try_from(out.len()).unwrap_or(u32::MAX);
    let central_len = u32::try_from(central.len()).unwrap_or(u32::MAX);
    out.extend_from_slice(&central);
    put32(&mut out, 0x0605_4b50);
    put16(&mut out, 0);
    put16(&mut out, 0);
    put16(&mut out, count);
    put16(&mut out, count);
    put32(&mut out, central_len);
    put32(&mut out, central_offset);
    put16(&mut out, 0);
    out
}

fn put16(out: &mut Vec<u8>, v: u16) {
    out.extend_from_slice(&v.to_le_bytes());
}

fn put32(out: &mut Vec<u8>, v: u32) {
    out.extend_from_slice(&v.to_le_bytes());
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tiny_package_passes_vpclambdas_own_inspection() {
        let zip = package(0);
        let summary = codepkg::inspect(&zip, &codepkg::Limits::default()).expect("valid zip");
        assert!(summary.is_executable_file("bootstrap"));
    }

    #[test]
    fn large_package_has_the_asked_size_and_is_valid() {
        let want = 10 * 1024 * 1024;
        let zip = package(want);
        assert_eq!(zip.len(), want);
        codepkg::inspect(&zip, &codepkg::Limits::default()).expect("valid zip");
    }
}
