//! Sockets for addresses a namespace routes to itself without owning them.

use std::net::{SocketAddrV4, TcpListener};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};

/// A listening TCP socket bound to `address` with `IP_TRANSPARENT`, for a destination that a
/// `local` route delivers to this namespace though no interface holds it (see
/// [`crate::Netlink::add_local_route`]): without the option the kernel finds no route for
/// the answers from an address that is not its own. Call it on a thread inside the
/// namespace ([`crate::Netns::spawn`]); it needs `CAP_NET_ADMIN` there. Non-blocking.
pub fn transparent_listener(address: SocketAddrV4) -> std::io::Result<TcpListener> {
    // SAFETY: socket(2) has no memory preconditions; the result is checked below.
    let fd = unsafe {
        libc::socket(
            libc::AF_INET,
            libc::SOCK_STREAM | libc::SOCK_NONBLOCK | libc::SOCK_CLOEXEC,
            0,
        )
    };
    if fd < 0 {
        return Err(std::io::Error::last_os_error());
    }
    // SAFETY: `fd` is a fresh descriptor that nothing else owns.
    let fd = unsafe { OwnedFd::from_raw_fd(fd) };
    let one: libc::c_int = 1;
    for option in [libc::IP_TRANSPARENT, libc::IP_FREEBIND] {
        setsockopt(&fd, libc::SOL_IP, option, one)?;
    }
    setsockopt(&fd, libc::SOL_SOCKET, libc::SO_REUSEADDR, one)?;
    let sin = libc::sockaddr_in {
        sin_family: libc::AF_INET as libc::sa_family_t,
        sin_port: address.port().to_be(),
        sin_addr: libc::in_addr {
            s_addr: u32::from(*address.ip()).to_be(),
        },
        sin_zero: [0; 8],
    };
    // SAFETY: `sin` is a valid sockaddr_in and the length is its size.
    let bound = unsafe {
        libc::bind(
            fd.as_raw_fd(),
            (&sin as *const libc::sockaddr_in).cast(),
            std::mem::size_of::<libc::sockaddr_in>() as libc::socklen_t,
        )
    };
    if bound != 0 {
        return Err(std::io::Error::last_os_error());
    }
    // SAFETY: listen(2) on a descriptor we own.
    if unsafe { libc::listen(fd.as_raw_fd(), 1024) } != 0 {
        return Err(std::io::Error::last_os_error());
    }
    Ok(TcpListener::from(fd))
}

fn setsockopt(
    fd: &OwnedFd,
    level: libc::c_int,
    option: libc::c_int,
    value: libc::c_int,
) -> std::io::Result<()> {
    // SAFETY: `value` outlives the call and the length is its size.
    let r = unsafe {
        libc::setsockopt(
            fd.as_raw_fd(),
            level,
            option,
            (&value as *const libc::c_int).cast(),
            std::mem::size_of::<libc::c_int>() as libc::socklen_t,
        )
    };
    if r != 0 {
        return Err(std::io::Error::last_os_error());
    }
    Ok(())
}
