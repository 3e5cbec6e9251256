//! Loop devices for `/tmp` images: attaching an image file with autoclear, so the device
//! detaches itself once the environment's mount namespace (the only user of the mount) is
//! gone and nothing has to remember it. Runs in the helper only; must not detach or
//! reuse a device it did not attach.

use std::fs::{File, OpenOptions};
use std::os::fd::AsRawFd;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

use nix::fcntl::{Flock, FlockArg};

use crate::mounts::SetupResult;

const LOOP_CTL_GET_FREE: libc::c_ulong = 0x4C82;
const LOOP_CONFIGURE: libc::c_ulong = 0x4C0A;
const LO_FLAGS_AUTOCLEAR: u32 = 4;
const LO_FLAGS_DIRECT_IO: u32 = 16;
/// Matches the 4 KiB ext4 block size of the image.
const BLOCK_SIZE: u32 = 4096;
/// A process that does not take the control device's lock may grab the device between
/// GET_FREE and CONFIGURE; that many retries.
const ATTACH_ATTEMPTS: u32 = 32;

/// `struct loop_info64` from `<linux/loop.h>`.
#[repr(C)]
struct LoopInfo64 {
    lo_device: u64,
    lo_inode: u64,
    lo_rdevice: u64,
    lo_offset: u64,
    lo_sizelimit: u64,
    lo_number: u32,
    lo_encrypt_type: u32,
    lo_encrypt_key_size: u32,
    lo_flags: u32,
    lo_file_name: [u8; 64],
    lo_crypt_name: [u8; 64],
    lo_encrypt_key: [u8; 32],
    lo_init: [u64; 2],
}

/// `struct loop_config` from `<linux/loop.h>`.
#[repr(C)]
struct LoopConfig {
    fd: u32,
    block_size: u32,
    info: LoopInfo64,
    reserved: [u64; 8],
}

/// An attached loop device. Keeping it open keeps it attached until it is mounted; after
/// that the mount holds it and dropping this is what arms autoclear.
pub(crate) struct LoopDevice {
    path: PathBuf,
    _dev: File,
}

impl LoopDevice {
    pub(crate) fn path(&self) -> &Path {
        &self.path
    }
}

fn open_rw(path: &Path) -> std::io::Result<File> {
    OpenOptions::new()
        .read(true)
        .write(true)
        .custom_flags(libc::O_CLOEXEC | libc::O_NOFOLLOW)
        .open(path)
}

/// Attaches `image` to a free loop device with autoclear and direct I/O (so its pages are
/// not cached twice, once per filesystem).
pub(crate) fn attach_autoclear(image: &Path) -> SetupResult<LoopDevice> {
    let backing = open_rw(image).map_err(|e| format!("open {}: {e}", image.display()))?;
    let ctl = open_rw(Path::new("/dev/loop-control"))
        .map_err(|e| format!("open /dev/loop-control: {e}"))?;
    // Helpers starting together all get the same device from GET_FREE, and all but one lose
    // the race for it, again and again: a burst of environments ran out of attempts. So the
    // helpers (of every daemon) take turns; other users of loop devices do not take the
    // lock, which is what the attempts are still for.
    let ctl = Flock::lock(ctl, FlockArg::LockExclusive)
        .map_err(|(_, e)| format!("locking /dev/loop-control: {e}"))?;
    let mut last_err = String::from("no attempt made");
    for _ in 0..ATTACH_ATTEMPTS {
        // SAFETY: LOOP_CTL_GET_FREE takes no argument and returns a device number or -1.
        let n = unsafe { libc::ioctl(ctl.as_raw_fd(), LOOP_CTL_GET_FREE) };
        if n < 0 {
            return Err(format!(
                "LOOP_CTL_GET_FREE: {}",
                std::io::Error::last_os_error()
            ));
        }
        let path = PathBuf::from(format!("/dev/loop{n}"));
        let dev = open_rw(&path).map_err(|e| format!("open {}: {e}", path.display()))?;
        let config = LoopConfig {
            fd: backing.as_raw_fd() as u32,
            block_size: BLOCK_SIZE,
            info: LoopInfo64 {
                lo_device: 0,
                lo_inode: 0,
                lo_rdevice: 0,
                lo_offset: 0,
                lo_sizelimit: 0,
                lo_number: 0,
                lo_encrypt_type: 0,
                lo_encrypt_key_size: 0,
                lo_flags: LO_FLAGS_AUTOCLEAR | LO_FLAGS_DIRECT_IO,
                lo_file_name: [0; 64],
                lo_crypt_name: [0; 64],
                lo_encrypt_key: [0; 32],
                lo_init: [0; 2],
            },
            reserved: [0; 8],
        };
        // SAFETY: config is a fully initialised loop_config that outlives the call; the
        // kernel only reads it.
        let rc = unsafe { libc::ioctl(dev.as_raw_fd(), LOOP_CONFIGURE, &config) };
        if rc == 0 {
            return Ok(LoopDevice { path, _dev: dev });
        }
        let err = std::io::Error::last_os_error();
        if err.raw_os_error() != Some(libc::EBUSY) {
            return Err(format!("LOOP_CONFIGURE {}: {err}", path.display()));
        }
        last_err = format!("LOOP_CONFIGURE {}: {err}", path.display());
    }
    Err(last_err)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn structs_match_the_kernel_abi() {
        assert_eq!(std::mem::size_of::<LoopInfo64>(), 232);
        assert_eq!(std::mem::size_of::<LoopConfig>(), 304);
    }

    /// A burst of environments: more helpers attaching at once than one has attempts.
    #[test]
    fn simultaneous_attaches_all_succeed() {
        if !nix::unistd::geteuid().is_root() {
            eprintln!("skipping: needs root");
            return;
        }
        const HELPERS: usize = 96;
        let dir = tempfile::tempdir().expect("dir");
        let start = std::sync::Arc::new(std::sync::Barrier::new(HELPERS));
        let helpers: Vec<_> = (0..HELPERS)
            .map(|i| {
                let image = dir.path().join(format!("img{i}"));
                File::create(&image)
                    .and_then(|f| f.set_len(1 << 20))
                    .expect("image");
                let start = start.clone();
                std::thread::spawn(move || {
                    start.wait();
                    attach_autoclear(&image)
                })
            })
            .collect();
        // Held until all are attached; dropping them detaches them (autoclear, never mounted).
        let devices: Vec<LoopDevice> = helpers
            .into_iter()
            .map(|h| h.join().expect("thread").expect("attach"))
            .collect();
        let mut paths: Vec<&Path> = devices.iter().map(LoopDevice::path).collect();
        paths.sort();
        paths.dedup();
        assert_eq!(paths.len(), HELPERS, "one device each");
    }
}
