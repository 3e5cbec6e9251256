//! Kernel object names: the `vl-` prefix every object carries, name validation, and the
//! deterministic derivation of interface and namespace names from store ids. Pure functions:
//! this module must not create or look up kernel objects.
//!
//! Why derived names: after a crash the daemon finds its objects again by recomputing names
//! from store ids (and deletes `vl-` objects with no store row), so a name must be a pure
//! function of the id and must never collide with objects other software owns.

use sha2::{Digest, Sha256};

use crate::{Error, Result};

/// Prefix of every network namespace and interface we create.
pub const PREFIX: &str = "vl-";

/// Prefix of every nftables table we create (nft identifiers cannot contain `-`).
pub const NFT_TABLE_PREFIX: &str = "vl_";

/// Longest interface name the kernel accepts (IFNAMSIZ is 16 including the NUL).
pub const IFNAME_MAX: usize = 15;

/// Longest role tag accepted by [`ifname`]; leaves at least 8 hex digits (32 bits) of hash.
pub const ROLE_MAX: usize = 4;

/// Derives the interface name for the object `store_id` in the role `role`.
///
/// The name is `vl-` + `role` + the leading hex digits of SHA-256(`store_id`), always exactly
/// [`IFNAME_MAX`] characters. `role` (1–4 of `[a-z0-9]`) tells objects of one id apart, e.g.
/// `"h"` and `"p"` for the host and peer ends of one veth: both share the hash, which makes
/// pairs easy to spot in `ip link`. With a one-letter role there are 11 hex digits (44 bits),
/// so a collision is expected only after millions of live objects in one namespace.
pub fn ifname(role: &str, store_id: &str) -> Result<String> {
    if role.is_empty()
        || role.len() > ROLE_MAX
        || !role
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
    {
        return Err(Error::invalid_name(role, "role must be 1-4 of [a-z0-9]"));
    }
    if store_id.is_empty() {
        return Err(Error::invalid_name(store_id, "empty store id"));
    }
    let digest = hex::encode(Sha256::digest(store_id.as_bytes()));
    let hash_len = IFNAME_MAX - PREFIX.len() - role.len();
    Ok(format!("{PREFIX}{role}{}", &digest[..hash_len]))
}

/// Derives a hardware address for the object `store_id` in the role `role`: locally
/// administered, unicast, first octet `0x06`, the rest from SHA-256(role, id).
///
/// Why: hosts cache IP → hardware address for tens of seconds and lose traffic silently
/// while an entry is stale. A bridge without an address of its own takes its lowest
/// port's, so its address would move as ports come and go; an interface made anew for an
/// address (after a crash, or for the next holder of a reused one) would get another.
/// Deriving the address from what the IP address belongs to keeps every cache right.
pub fn mac(role: &str, store_id: &str) -> [u8; 6] {
    let digest = Sha256::digest(format!("{role}:{store_id}").as_bytes());
    [0x06, digest[0], digest[1], digest[2], digest[3], digest[4]]
}

/// Derives a network namespace name: `vl-<kind>-<store_id>`.
///
/// Namespace names are file names under `/run/netns`, not bounded by IFNAMSIZ, so the id is
/// kept readable (`ip netns list` then shows which store row owns each namespace).
pub fn netns_name(kind: &str, store_id: &str) -> Result<String> {
    let name = format!("{PREFIX}{kind}-{store_id}");
    validate_netns_name(&name)?;
    Ok(name)
}

/// Checks a name the kernel will accept for an interface: 1–15 bytes, printable ASCII, no
/// `/`, `:` or whitespace, not `.` or `..`. The `vl-` prefix is not required here: inside a
/// namespace we own, the environment's end may carry a conventional name such as `eth0`.
pub fn validate_ifname(name: &str) -> Result<()> {
    if name.is_empty() || name.len() > IFNAME_MAX {
        return Err(Error::invalid_name(name, "interface names have 1-15 bytes"));
    }
    if name == "." || name == ".." {
        return Err(Error::invalid_name(name, "reserved name"));
    }
    if !name
        .bytes()
        .all(|b| b.is_ascii_graphic() && b != b'/' && b != b':')
    {
        return Err(Error::invalid_name(
            name,
            "interface names are printable ASCII without '/' or ':'",
        ));
    }
    Ok(())
}

/// Checks a namespace name: `vl-` prefix, then `[A-Za-z0-9._-]`, at most 200 bytes. The
/// prefix is required because create and delete act on a host-wide directory shared with
/// other software (`ip netns`, container runtimes), whose namespaces we must never touch.
pub fn validate_netns_name(name: &str) -> Result<()> {
    if !name.starts_with(PREFIX) || name.len() == PREFIX.len() {
        return Err(Error::invalid_name(
            name,
            "namespace names start with \"vl-\"",
        ));
    }
    if name.len() > 200 {
        return Err(Error::invalid_name(name, "namespace name too long"));
    }
    if !name
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'))
    {
        return Err(Error::invalid_name(
            name,
            "namespace names use [A-Za-z0-9._-]",
        ));
    }
    Ok(())
}

/// Checks an nftables table name of ours: `vl_` prefix, then `[A-Za-z0-9_]`, at most 64 bytes.
pub fn validate_nft_table(name: &str) -> Result<()> {
    if !name.starts_with(NFT_TABLE_PREFIX) || name.len() == NFT_TABLE_PREFIX.len() {
        return Err(Error::invalid_name(
            name,
            "our nft tables start with \"vl_\"",
        ));
    }
    if name.len() > 64 || !name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_') {
        return Err(Error::invalid_name(
            name,
            "nft table names use [A-Za-z0-9_], at most 64 bytes",
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ifname_is_deterministic_and_fits_ifnamsiz() {
        let a = ifname("h", "eni-0123456789abcdef").unwrap();
        assert_eq!(a, ifname("h", "eni-0123456789abcdef").unwrap());
        assert_eq!(a.len(), IFNAME_MAX);
        assert!(a.starts_with("vl-h"));
        validate_ifname(&a).unwrap();
        for role in ["p", "br", "abcd"] {
            let n = ifname(role, "x").unwrap();
            assert_eq!(n.len(), IFNAME_MAX, "{n}");
        }
    }

    #[test]
    fn ifname_pairs_share_the_hash_and_ids_differ() {
        let host = ifname("h", "env-1").unwrap();
        let peer = ifname("p", "env-1").unwrap();
        assert_eq!(host[4..], peer[4..]);
        assert_ne!(host, ifname("h", "env-2").unwrap());
    }

    #[test]
    fn ifname_known_value() {
        // sha256("abc") = ba7816bf8f01cfea...
        assert_eq!(ifname("h", "abc").unwrap(), "vl-hba7816bf8f0");
    }

    #[test]
    fn ifname_rejects_bad_roles() {
        for role in ["", "toolong", "A", "-", "h/"] {
            assert!(ifname(role, "id").is_err(), "{role:?}");
        }
        assert!(ifname("h", "").is_err());
    }

    #[test]
    fn interface_names_are_validated() {
        for ok in ["eth0", "vl-b0", "a", "123456789012345"] {
            validate_ifname(ok).unwrap();
        }
        for bad in ["", "1234567890123456", "a/b", "a b", "a:b", ".", ".."] {
            assert!(validate_ifname(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn netns_names_need_our_prefix() {
        assert_eq!(netns_name("env", "abc-1").unwrap(), "vl-env-abc-1");
        validate_netns_name("vl-rt").unwrap();
        for bad in ["rt", "vl-", "vl-a/b", "vl-a b", "cni-1234"] {
            assert!(validate_netns_name(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn nft_tables_need_our_prefix() {
        validate_nft_table("vl_sg").unwrap();
        for bad in ["sg", "vl_", "vl-sg", "vl_a b", "filter"] {
            assert!(validate_nft_table(bad).is_err(), "{bad:?}");
        }
    }
}
