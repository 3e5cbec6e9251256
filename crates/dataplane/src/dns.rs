//! The VPC resolver: answers DNS queries from inside a VPC with the names the desired state
//! lists (A records only), then the names of the simulated internet's public services (the
//! same table for every resolver, see [`crate::Dataplane::add_public_service`]), and
//! NXDOMAIN for everything else. It never forwards and never recurses, so nothing else
//! resolves. A name `*.<suffix>` in a table stands for every name below `<suffix>`; an
//! exact name wins over a wildcard, and a VPC's own names over the public ones.
//!
//! The wire format is parsed here by hand rather than with a DNS library: the resolver reads
//! one question of an untrusted datagram and writes one fixed-shape answer, which is less
//! code than adapting a general message model, and every branch is tested below. Anything
//! that is not a plain one-question query gets FORMERR or NOTIMP; compression pointers in
//! the question are refused (a query has nothing earlier to point at).

use std::collections::BTreeMap;
use std::net::{Ipv4Addr, SocketAddr, SocketAddrV4, UdpSocket};
use std::sync::{Arc, RwLock};

use net::Netns;
use tokio::task::JoinHandle;

use crate::{Error, Result};

/// TTL of every answer: names follow ENIs, which come and go within minutes.
const TTL: u32 = 60;
const HEADER: usize = 12;
const TYPE_A: u16 = 1;
const TYPE_ANY: u16 = 255;
const CLASS_IN: u16 = 1;
const CLASS_ANY: u16 = 255;
const RCODE_FORMERR: u8 = 1;
const RCODE_NXDOMAIN: u8 = 3;
const RCODE_NOTIMP: u8 = 4;
/// Largest datagram read; a query with one question is far smaller.
const MAX_QUERY: usize = 1232;

/// The names one VPC's resolver answers, lower case without the trailing dot; a key
/// `*.<suffix>` answers every name below `<suffix>` that has no entry of its own.
pub type Names = BTreeMap<String, Ipv4Addr>;

/// The address `names` gives `name`: its own entry, else the wildcard of its nearest
/// enclosing suffix.
pub fn lookup(names: &Names, name: &str) -> Option<Ipv4Addr> {
    if let Some(ip) = names.get(name) {
        return Some(*ip);
    }
    let mut rest = name;
    while let Some((_, parent)) = rest.split_once('.') {
        if let Some(ip) = names.get(&format!("*.{parent}")) {
            return Some(*ip);
        }
        rest = parent;
    }
    None
}

/// Whether `name` is a host name the resolver can hold: lower-case LDH labels of 1–63
/// bytes, at most 253 bytes in all, no trailing dot.
pub fn valid_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 253
        && name.split('.').all(|label| {
            !label.is_empty()
                && label.len() <= 63
                && !label.starts_with('-')
                && !label.ends_with('-')
                && label
                    .bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        })
}

/// The reply to one datagram, or `None` when it must be ignored (too short to carry an id,
/// or itself a response).
pub(crate) fn answer(query: &[u8], lookup: impl Fn(&str) -> Option<Ipv4Addr>) -> Option<Vec<u8>> {
    if query.len() < HEADER || query[2] & 0x80 != 0 {
        return None;
    }
    let opcode = (query[2] >> 3) & 0x0f;
    if opcode != 0 {
        return Some(header_only(query, RCODE_NOTIMP));
    }
    let questions = u16::from_be_bytes([query[4], query[5]]);
    if questions != 1 {
        return Some(header_only(query, RCODE_FORMERR));
    }
    let Some((name, end)) = question_name(query) else {
        return Some(header_only(query, RCODE_FORMERR));
    };
    let Some(fixed) = query.get(end..end + 4) else {
        return Some(header_only(query, RCODE_FORMERR));
    };
    let qtype = u16::from_be_bytes([fixed[0], fixed[1]]);
    let qclass = u16::from_be_bytes([fixed[2], fixed[3]]);
    let question = &query[HEADER..end + 4];
    let found = if qclass == CLASS_IN || qclass == CLASS_ANY {
        lookup(&name)
    } else {
        None
    };
    let (rcode, address) = match found {
        None => (RCODE_NXDOMAIN, None),
        Some(ip) if qtype == TYPE_A || qtype == TYPE_ANY => (0, Some(ip)),
        // The name exists but has no record of that type (AAAA, MX…): NOERROR, no answer.
        Some(_) => (0, None),
    };
    let mut out = Vec::with_capacity(HEADER + question.len() + 16);
    out.extend_from_slice(&query[0..2]);
    out.extend_from_slice(&flags(query, rcode));
    out.extend_from_slice(&1u16.to_be_bytes());
    out.extend_from_slice(&u16::from(address.is_some()).to_be_bytes());
    out.extend_from_slice(&[0, 0, 0, 0]);
    out.extend_from_slice(question);
    if let Some(ip) = address {
        // The owner is the question's name, by a pointer to offset 12.
        out.extend_from_slice(&[0xc0, 0x0c]);
        out.extend_from_slice(&TYPE_A.to_be_bytes());
        out.extend_from_slice(&CLASS_IN.to_be_bytes());
        out.extend_from_slice(&TTL.to_be_bytes());
        out.extend_from_slice(&4u16.to_be_bytes());
        out.extend_from_slice(&ip.octets());
    }
    Some(out)
}

/// QR, the query's opcode and RD, AA (the resolver is the authority for its names), no
/// recursion available, and `rcode`.
fn flags(query: &[u8], rcode: u8) -> [u8; 2] {
    [0x80 | (query[2] & 0x79) | 0x04, rcode & 0x0f]
}

fn header_only(query: &[u8], rcode: u8) -> Vec<u8> {
    let mut out = Vec::with_capacity(HEADER);
    out.extend_from_slice(&query[0..2]);
    out.extend_from_slice(&flags(query, rcode));
    out.extend_from_slice(&[0; 8]);
    out
}

/// The question's name in lower case without the trailing dot, and the offset just past
/// it; `None` for a malformed or compressed name.
fn question_name(query: &[u8]) -> Option<(String, usize)> {
    let mut at = HEADER;
    let mut labels: Vec<String> = Vec::new();
    let mut length = 0usize;
    loop {
        let len = usize::from(*query.get(at)?);
        at += 1;
        if len == 0 {
            break;
        }
        if len > 63 {
            return None;
        }
        let label = query.get(at..at + len)?;
        at += len;
        length += len + 1;
        if length > 255 {
            return None;
        }
        labels.push(
            label
                .iter()
                .map(|b| char::from(b.to_ascii_lowercase()))
                .collect(),
        );
    }
    Some((labels.join("."), at))
}

/// A running resolver: a UDP socket bound inside a router namespace and the task answering
/// on it. Dropping it stops the task (and with it the socket's hold on the namespace).
pub(crate) struct Resolver {
    names: Arc<RwLock<Names>>,
    task: JoinHandle<()>,
}

/// The public services' names, shared by every resolver.
pub(crate) type PublicNames = Arc<RwLock<Names>>;

impl Resolver {
    /// Binds `address:53` inside `router` (the address must already be there) and starts
    /// answering from `names`, then from `public`.
    pub(crate) async fn start(
        router: &Netns,
        address: Ipv4Addr,
        names: Names,
        public: PublicNames,
    ) -> Result<Self> {
        let bound = router
            .spawn(move || {
                let socket = UdpSocket::bind(SocketAddrV4::new(address, 53))?;
                socket.set_nonblocking(true)?;
                Ok::<_, std::io::Error>(socket)
            })
            .await?;
        let socket = bound
            .and_then(tokio::net::UdpSocket::from_std)
            .map_err(|e| Error::Resolver { address, source: e })?;
        let names = Arc::new(RwLock::new(names));
        let shared = names.clone();
        let task = tokio::spawn(async move { serve(socket, shared, public).await });
        Ok(Resolver { names, task })
    }

    /// Replaces the names answered from now on.
    pub(crate) fn set_names(&self, names: Names) {
        // A panic while holding the lock leaves a whole map behind; keep using it.
        let mut guard = self.names.write().unwrap_or_else(|p| p.into_inner());
        if *guard != names {
            *guard = names;
        }
    }

    /// Changes some names: answers the new address of each, or stops answering a name
    /// whose address is `None`.
    pub(crate) fn update_names(&self, changes: &[(String, Option<Ipv4Addr>)]) {
        if changes.is_empty() {
            return;
        }
        let mut guard = self.names.write().unwrap_or_else(|p| p.into_inner());
        for (name, ip) in changes {
            match ip {
                Some(ip) => guard.insert(name.clone(), *ip),
                None => guard.remove(name),
            };
        }
    }
}

impl Drop for Resolver {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn serve(socket: tokio::net::UdpSocket, names: Arc<RwLock<Names>>, public: PublicNames) {
    let mut buf = vec![0u8; MAX_QUERY];
    loop {
        let (len, peer): (usize, SocketAddr) = match socket.recv_from(&mut buf).await {
            Ok(got) => got,
            Err(error) => {
                tracing::debug!(%error, "resolver receive failed");
                continue;
            }
        };
        let reply = answer(&buf[..len], |name| {
            let own = lookup(&names.read().unwrap_or_else(|p| p.into_inner()), name);
            own.or_else(|| lookup(&public.read().unwrap_or_else(|p| p.into_inner()), name))
        });
        if let Some(reply) = reply {
            if let Err(error) = socket.send_to(&reply, peer).await {
                tracing::debug!(%error, %peer, "resolver reply not sent");
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn query(id: u16, name: &str, qtype: u16) -> Vec<u8> {
        let mut q = id.to_be_bytes().to_vec();
        q.extend_from_slice(&[0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0]);
        for label in name.split('.') {
            q.push(label.len() as u8);
            q.extend_from_slice(label.as_bytes());
        }
        q.push(0);
        q.extend_from_slice(&qtype.to_be_bytes());
        q.extend_from_slice(&CLASS_IN.to_be_bytes());
        q
    }

    fn table(name: &str) -> Option<Ipv4Addr> {
        (name == "db.internal").then_some(Ipv4Addr::new(10, 0, 1, 5))
    }

    #[test]
    fn wildcards_answer_below_their_suffix_and_exact_names_win() {
        let ip = |d| Ipv4Addr::new(203, 0, 113, d);
        let names: Names = [
            ("*.amazonaws.com".to_owned(), ip(100)),
            ("sts.us-east-1.amazonaws.com".to_owned(), ip(7)),
            ("*.s3.us-east-1.amazonaws.com".to_owned(), ip(8)),
        ]
        .into();
        assert_eq!(
            lookup(&names, "lambda.us-east-1.amazonaws.com"),
            Some(ip(100))
        );
        assert_eq!(lookup(&names, "sts.us-east-1.amazonaws.com"), Some(ip(7)));
        assert_eq!(
            lookup(&names, "my.bucket.s3.us-east-1.amazonaws.com"),
            Some(ip(8))
        );
        assert_eq!(lookup(&names, "s3.us-east-1.amazonaws.com"), Some(ip(100)));
        assert_eq!(
            lookup(&names, "amazonaws.com"),
            None,
            "a wildcard is not its suffix"
        );
        assert_eq!(lookup(&names, "amazonaws.com.evil.example"), None);
        assert_eq!(lookup(&names, "notamazonaws.com"), None);
    }

    #[test]
    fn a_known_name_gets_its_address() {
        let q = query(0xbeef, "DB.Internal", TYPE_A);
        let r = answer(&q, table).unwrap();
        assert_eq!(&r[0..2], &[0xbe, 0xef]);
        // QR, RD kept, AA; NOERROR; one question, one answer.
        assert_eq!(&r[2..12], &[0x85, 0x00, 0, 1, 0, 1, 0, 0, 0, 0]);
        assert_eq!(&r[12..q.len()], &q[12..], "the question is echoed as asked");
        assert_eq!(
            &r[q.len()..],
            &[0xc0, 0x0c, 0, 1, 0, 1, 0, 0, 0, 60, 0, 4, 10, 0, 1, 5]
        );
    }

    #[test]
    fn unknown_names_are_nxdomain_and_other_types_get_no_data() {
        let r = answer(&query(7, "example.com", TYPE_A), table).unwrap();
        assert_eq!(r[3] & 0x0f, RCODE_NXDOMAIN);
        assert_eq!(&r[6..8], &[0, 0]);
        let r = answer(&query(7, "db.internal", 28), table).unwrap();
        assert_eq!(r[3] & 0x0f, 0);
        assert_eq!(&r[6..8], &[0, 0], "no AAAA record");
        let r = answer(&query(7, "db.internal", TYPE_ANY), table).unwrap();
        assert_eq!(&r[6..8], &[0, 1]);
    }

    #[test]
    fn malformed_queries_get_formerr_and_responses_are_ignored() {
        assert!(answer(&[0; 11], table).is_none());
        let mut response = query(1, "db.internal", TYPE_A);
        response[2] |= 0x80;
        assert!(answer(&response, table).is_none());

        let formerr = |q: &[u8]| answer(q, table).unwrap()[3] & 0x0f;
        let q = query(1, "db.internal", TYPE_A);
        assert_eq!(formerr(&q[..q.len() - 2]), RCODE_FORMERR, "truncated");
        assert_eq!(formerr(&q[..14]), RCODE_FORMERR, "name runs past the end");
        let mut two = q.clone();
        two[5] = 2;
        assert_eq!(formerr(&two), RCODE_FORMERR);
        let mut pointer = q[..12].to_vec();
        pointer.extend_from_slice(&[0xc0, 0x0c, 0, 1, 0, 1]);
        assert_eq!(
            formerr(&pointer),
            RCODE_FORMERR,
            "compression in the question"
        );
        let mut long = q[..12].to_vec();
        for _ in 0..5 {
            long.push(63);
            long.extend_from_slice(&[b'a'; 63]);
        }
        long.extend_from_slice(&[0, 0, 1, 0, 1]);
        assert_eq!(formerr(&long), RCODE_FORMERR, "name over 255 bytes");
        let mut update = q.clone();
        update[2] = 5 << 3;
        assert_eq!(formerr(&update), RCODE_NOTIMP);
    }

    #[test]
    fn other_classes_resolve_nothing() {
        let mut q = query(1, "db.internal", TYPE_A);
        let n = q.len();
        q[n - 1] = 3;
        assert_eq!(answer(&q, table).unwrap()[3] & 0x0f, RCODE_NXDOMAIN);
    }

    #[test]
    fn names_the_resolver_can_hold() {
        for good in ["db", "ip-10-0-1-5.ec2.internal", "a1.b-2.c"] {
            assert!(valid_name(good), "{good}");
        }
        for bad in [
            "",
            "Db",
            "db.",
            ".db",
            "a..b",
            "-a",
            "a-",
            "a_b",
            &"a".repeat(64),
        ] {
            assert!(!valid_name(bad), "{bad}");
        }
    }
}
