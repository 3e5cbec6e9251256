//! A real deflate bomb: 1 GiB of zeros in about 1 MB.
//!
//! Deflating 1 GiB in a debug build takes minutes, so the stream is assembled the way a
//! deflater would emit it: one sync-flushed block of 1 MiB of zeros that only refers back to
//! earlier zeros, repeated. The result is an ordinary, valid zip (the small variant is
//! checked end to end below).

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;

use codepkg::{extract, inspect, CodeError, Limits, STREAM_BUFFER_BYTES};
use flate2::{Compress, Compression, FlushCompress};

use crate::support::{build, Raw, Sandbox};

const MIB: usize = 1 << 20;

fn compress(c: &mut Compress, input: &[u8], flush: FlushCompress) -> Vec<u8> {
    let mut out = Vec::with_capacity(64 * 1024);
    let start_in = c.total_in();
    loop {
        let consumed = usize::try_from(c.total_in() - start_in).unwrap();
        out.reserve(64 * 1024);
        c.compress_vec(&input[consumed..], &mut out, flush).unwrap();
        let done = usize::try_from(c.total_in() - start_in).unwrap() == input.len();
        if done && out.len() < out.capacity() {
            return out;
        }
    }
}

/// A raw deflate stream of `mib` MiB of zeros, and its CRC-32.
fn deflated_zeros(mib: usize) -> (Vec<u8>, u32) {
    let zeros = vec![0u8; MIB];
    let mut c = Compress::new(Compression::best(), false);
    let first = compress(&mut c, &zeros, FlushCompress::Sync);
    // From here on the window holds only zeros, so this block is valid at any later offset.
    let steady = compress(&mut c, &zeros, FlushCompress::Sync);
    let end = compress(&mut c, &[], FlushCompress::Finish);
    let mut stream = first;
    for _ in 1..mib {
        stream.extend_from_slice(&steady);
    }
    stream.extend_from_slice(&end);

    let mut crc = crc32fast::Hasher::new();
    let mut one = crc32fast::Hasher::new();
    one.update(&zeros);
    for _ in 0..mib {
        crc.combine(&one);
    }
    (stream, crc.finalize())
}

fn zeros_zip(mib: usize) -> Vec<u8> {
    let (data, crc) = deflated_zeros(mib);
    build(&[Raw {
        method: 8,
        crc,
        compressed_size: u32::try_from(data.len()).unwrap(),
        uncompressed_size: u32::try_from(mib * MIB).unwrap(),
        data,
        ..Raw::file("zeros", b"", 0o644)
    }])
}

/// Counts heap bytes held by allocations made on the current thread, so a test can bound its
/// own peak while other tests run in parallel threads.
struct ThreadCounting;

thread_local! {
    static LIVE: Cell<usize> = const { Cell::new(0) };
    static PEAK: Cell<usize> = const { Cell::new(0) };
}

fn note(grown: usize, shrunk: usize) {
    // `try_with`: allocations during thread teardown happen after the slots are gone.
    let _ = LIVE.try_with(|live| {
        let now = live.get().saturating_add(grown).saturating_sub(shrunk);
        live.set(now);
        let _ = PEAK.try_with(|peak| peak.set(peak.get().max(now)));
    });
}

// SAFETY: every call is forwarded unchanged to `System`; the bookkeeping touches only
// const-initialised thread-locals, which never allocate, so it cannot recurse.
unsafe impl GlobalAlloc for ThreadCounting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        // SAFETY: our caller upholds `GlobalAlloc::alloc`'s contract, which is System's.
        let p = unsafe { System.alloc(layout) };
        if !p.is_null() {
            note(layout.size(), 0);
        }
        p
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        // SAFETY: as for `alloc`.
        let p = unsafe { System.alloc_zeroed(layout) };
        if !p.is_null() {
            note(layout.size(), 0);
        }
        p
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: `ptr` came from this allocator, i.e. from System, with this layout.
        unsafe { System.dealloc(ptr, layout) };
        note(0, layout.size());
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        // SAFETY: `ptr` came from System with `layout`; the caller upholds the rest.
        let p = unsafe { System.realloc(ptr, layout, new_size) };
        if !p.is_null() {
            note(new_size, layout.size());
        }
        p
    }
}

#[global_allocator]
static ALLOCATOR: ThreadCounting = ThreadCounting;

/// Runs `f` and returns how far this thread's live heap rose above where it started.
fn heap_growth<T>(f: impl FnOnce() -> T) -> (T, usize) {
    let base = LIVE.with(Cell::get);
    PEAK.with(|p| p.set(base));
    let out = f();
    (out, PEAK.with(Cell::get) - base)
}

#[test]
fn the_bomb_construction_is_a_valid_zip() {
    let summary = inspect(&zeros_zip(4), &Limits::default()).unwrap();
    assert_eq!(summary.unzipped_size, 4 * MIB as u64);
}

#[test]
fn a_one_gib_bomb_is_refused_after_the_limit_with_bounded_memory() {
    let zip = zeros_zip(1024);
    assert!(zip.len() < 2 * MIB, "bomb is {} bytes", zip.len());
    let limits = Limits::default();
    let most = limits.max_unzipped + STREAM_BUFFER_BYTES as u64;
    // 250 MB pass through either call; holding any sizeable part of it would show here.
    let bound = 4 * MIB;

    let (inspected, grown) = heap_growth(|| inspect(&zip, &limits));
    match inspected {
        Err(CodeError::UnzippedTooLarge { limit, inflated }) => {
            assert_eq!(limit, 262_144_000);
            assert!(inflated > limit && inflated <= most, "inflated {inflated}");
        }
        other => panic!("{other:?}"),
    }
    assert!(grown < bound, "inspect's heap grew by {grown} bytes");

    let sandbox = Sandbox::new();
    let (extracted, grown) = heap_growth(|| extract(&zip, &sandbox.dest(), &limits));
    match extracted {
        Err(e @ CodeError::UnzippedTooLarge { inflated, .. }) => {
            assert!(inflated <= most, "inflated {inflated}");
            assert_eq!(
                e.to_string(),
                "Unzipped size must be smaller than 262144000 bytes"
            );
        }
        other => panic!("{other:?}"),
    }
    assert!(grown < bound, "extract's heap grew by {grown} bytes");
    sandbox.assert_dest_clean();
    sandbox.assert_nothing_outside_dest();
}
