//! nftables through the system's libnftables (Debian `libnftables1`), loaded at run time with
//! `dlopen`: each call parses a text batch and commits it to the kernel as one transaction,
//! from a worker thread inside the target namespace, or through an [`NftSession`] kept for
//! a namespace that takes many batches.
//!
//! Owns the `vl_*` tables only: a batch naming any other table, or the whole ruleset, is
//! refused before it reaches the kernel. Must not run the `nft` binary. Calls are serialised
//! process-wide because libnftables keeps some global state (and one writer is the rule for
//! firewall changes anyway).

use std::ffi::{c_char, c_int, c_uint, c_void, CStr, CString};
use std::fmt;
use std::ptr::NonNull;
use std::sync::{Arc, Mutex, OnceLock};

use serde_json::Value;

use crate::names::{validate_nft_table, NFT_TABLE_PREFIX};
use crate::{Error, Netns, Result};

type CtxNewFn = unsafe extern "C" fn(u32) -> *mut c_void;
type CtxFreeFn = unsafe extern "C" fn(*mut c_void);
type CtxBufferFn = unsafe extern "C" fn(*mut c_void) -> c_int;
type CtxGetBufferFn = unsafe extern "C" fn(*mut c_void) -> *const c_char;
type CtxSetFlagsFn = unsafe extern "C" fn(*mut c_void, c_uint);
type RunCmdFn = unsafe extern "C" fn(*mut c_void, *const c_char) -> c_int;

const LIBRARY_NAME: &CStr = c"libnftables.so.1";
const NFT_CTX_DEFAULT: u32 = 0;
const NFT_CTX_OUTPUT_JSON: c_uint = 1 << 4;

/// The libnftables entry points we use (signatures from `nftables/libnftables.h`, 1.0.x).
struct Library {
    ctx_new: CtxNewFn,
    ctx_free: CtxFreeFn,
    buffer_output: CtxBufferFn,
    buffer_error: CtxBufferFn,
    get_output_buffer: CtxGetBufferFn,
    get_error_buffer: CtxGetBufferFn,
    output_set_flags: CtxSetFlagsFn,
    run_cmd_from_buffer: RunCmdFn,
}

static LIBRARY: OnceLock<std::result::Result<Library, String>> = OnceLock::new();
static RUN_LOCK: Mutex<()> = Mutex::new(());

fn dlerror_message() -> String {
    // SAFETY: dlerror returns NULL or a NUL-terminated string valid until the next dl* call on
    // this thread; it is copied before any other dl* call.
    let message = unsafe { libc::dlerror() };
    if message.is_null() {
        "unknown dlopen error".to_owned()
    } else {
        // SAFETY: non-NULL, NUL-terminated (see above).
        unsafe { CStr::from_ptr(message) }
            .to_string_lossy()
            .into_owned()
    }
}

fn symbol(handle: *mut c_void, name: &CStr) -> std::result::Result<*mut c_void, String> {
    // SAFETY: handle is a live dlopen handle (never closed) and name is NUL-terminated.
    let address = unsafe { libc::dlsym(handle, name.as_ptr()) };
    if address.is_null() {
        Err(format!("{}: {}", name.to_string_lossy(), dlerror_message()))
    } else {
        Ok(address)
    }
}

fn load_library() -> std::result::Result<Library, String> {
    // SAFETY: dlopen of a system library by soname; the handle is intentionally never closed,
    // because the function pointers below are kept for the life of the process.
    let handle = unsafe { libc::dlopen(LIBRARY_NAME.as_ptr(), libc::RTLD_NOW | libc::RTLD_LOCAL) };
    if handle.is_null() {
        return Err(dlerror_message());
    }
    // SAFETY (all transmutes below): each symbol is a function exported by libnftables.so.1
    // with exactly the C signature of the target type, as declared in libnftables.h.
    unsafe {
        Ok(Library {
            ctx_new: std::mem::transmute::<*mut c_void, CtxNewFn>(symbol(handle, c"nft_ctx_new")?),
            ctx_free: std::mem::transmute::<*mut c_void, CtxFreeFn>(symbol(
                handle,
                c"nft_ctx_free",
            )?),
            buffer_output: std::mem::transmute::<*mut c_void, CtxBufferFn>(symbol(
                handle,
                c"nft_ctx_buffer_output",
            )?),
            buffer_error: std::mem::transmute::<*mut c_void, CtxBufferFn>(symbol(
                handle,
                c"nft_ctx_buffer_error",
            )?),
            get_output_buffer: std::mem::transmute::<*mut c_void, CtxGetBufferFn>(symbol(
                handle,
                c"nft_ctx_get_output_buffer",
            )?),
            get_error_buffer: std::mem::transmute::<*mut c_void, CtxGetBufferFn>(symbol(
                handle,
                c"nft_ctx_get_error_buffer",
            )?),
            output_set_flags: std::mem::transmute::<*mut c_void, CtxSetFlagsFn>(symbol(
                handle,
                c"nft_ctx_output_set_flags",
            )?),
            run_cmd_from_buffer: std::mem::transmute::<*mut c_void, RunCmdFn>(symbol(
                handle,
                c"nft_run_cmd_from_buffer",
            )?),
        })
    }
}

/// One `struct nft_ctx`, freed on drop.
struct Context {
    library: &'static Library,
    ctx: NonNull<c_void>,
}

// SAFETY: a libnftables context is plain heap state plus a netlink socket, with no affinity
// to the thread that made it; every use after creation goes through `NftSession`'s mutex,
// so one thread at a time touches it.
unsafe impl Send for Context {}

impl Context {
    fn new(library: &'static Library) -> Result<Context> {
        // SAFETY: nft_ctx_new takes flags by value and returns an owned context or NULL.
        let raw = unsafe { (library.ctx_new)(NFT_CTX_DEFAULT) };
        let ctx = NonNull::new(raw).ok_or_else(|| Error::Nft("nft_ctx_new failed".to_owned()))?;
        let context = Context { library, ctx };
        // SAFETY: ctx is a live context owned by `context`.
        let buffered = unsafe {
            (library.buffer_output)(ctx.as_ptr()) == 0 && (library.buffer_error)(ctx.as_ptr()) == 0
        };
        if !buffered {
            return Err(Error::Nft("cannot buffer libnftables output".to_owned()));
        }
        Ok(context)
    }

    fn set_json(&self) {
        // SAFETY: live context; the flag value is NFT_CTX_OUTPUT_JSON from libnftables.h.
        unsafe { (self.library.output_set_flags)(self.ctx.as_ptr(), NFT_CTX_OUTPUT_JSON) }
    }

    /// Runs `command`; returns (status, output, errors), copied out of the context's buffers.
    fn run(&self, command: &CStr) -> (c_int, String, String) {
        // SAFETY: live context with buffered output; command is NUL-terminated and outlives
        // the call. The returned buffers are valid until the context is freed or re-run, and
        // are copied before either happens.
        unsafe {
            let status = (self.library.run_cmd_from_buffer)(self.ctx.as_ptr(), command.as_ptr());
            let output = copy_c_string((self.library.get_output_buffer)(self.ctx.as_ptr()));
            let errors = copy_c_string((self.library.get_error_buffer)(self.ctx.as_ptr()));
            (status, output, errors)
        }
    }
}

impl Drop for Context {
    fn drop(&mut self) {
        // SAFETY: ctx came from nft_ctx_new and is freed exactly once, here.
        unsafe { (self.library.ctx_free)(self.ctx.as_ptr()) }
    }
}

/// # Safety
/// `text` is NULL or points to a NUL-terminated string valid for the duration of the call.
unsafe fn copy_c_string(text: *const c_char) -> String {
    if text.is_null() {
        String::new()
    } else {
        // SAFETY: guaranteed by the caller.
        unsafe { CStr::from_ptr(text) }
            .to_string_lossy()
            .into_owned()
    }
}

/// Runs `command` with a fresh context on the calling thread, whose namespace the kernel uses.
fn run_here(library: &'static Library, command: &CStr, json: bool) -> Result<String> {
    // The guarded data is (); a panic while holding the lock leaves nothing inconsistent.
    let _guard = RUN_LOCK
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    let context = Context::new(library)?;
    if json {
        context.set_json();
    }
    let (status, output, errors) = context.run(command);
    if status != 0 {
        let message = errors.trim();
        return Err(Error::Nft(if message.is_empty() {
            format!("libnftables returned {status}")
        } else {
            message.to_owned()
        }));
    }
    Ok(output)
}

/// nftables address families.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum NftFamily {
    Ip,
    Ip6,
    Inet,
    Arp,
    Bridge,
    Netdev,
}

impl NftFamily {
    /// The keyword nft uses for the family.
    pub fn as_str(self) -> &'static str {
        match self {
            NftFamily::Ip => "ip",
            NftFamily::Ip6 => "ip6",
            NftFamily::Inet => "inet",
            NftFamily::Arp => "arp",
            NftFamily::Bridge => "bridge",
            NftFamily::Netdev => "netdev",
        }
    }

    fn parse(keyword: &str) -> Option<NftFamily> {
        match keyword {
            "ip" => Some(NftFamily::Ip),
            "ip6" => Some(NftFamily::Ip6),
            "inet" => Some(NftFamily::Inet),
            "arp" => Some(NftFamily::Arp),
            "bridge" => Some(NftFamily::Bridge),
            "netdev" => Some(NftFamily::Netdev),
            _ => None,
        }
    }
}

impl fmt::Display for NftFamily {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A table as listed by the kernel.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct NftTable {
    pub family: NftFamily,
    pub name: String,
}

/// The counter of one rule.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RuleCounter {
    pub chain: String,
    pub handle: u64,
    pub comment: Option<String>,
    pub packets: u64,
    pub bytes: u64,
}

/// Entry point to nftables. Cheap to copy; all copies share one loaded library.
#[derive(Clone, Copy)]
pub struct Nft {
    library: &'static Library,
}

impl fmt::Debug for Nft {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Nft")
    }
}

impl Nft {
    /// Loads libnftables (once per process).
    pub fn load() -> Result<Nft> {
        match LIBRARY.get_or_init(load_library) {
            Ok(library) => Ok(Nft { library }),
            Err(message) => Err(Error::NftUnavailable(message.clone())),
        }
    }

    /// Applies `batch` (nft script syntax) in `netns` as one transaction: either every
    /// command takes effect or none does. Refused without touching the kernel when it names
    /// a table outside `vl_*`, the whole ruleset, or includes files.
    pub async fn apply(&self, netns: &Netns, batch: &str) -> Result<()> {
        check_batch(batch)?;
        self.run(netns, batch, false).await?;
        tracing::debug!(netns = ?netns.name(), bytes = batch.len(), "applied nft batch");
        Ok(())
    }

    /// Deletes a table of ours; a missing table is success (nft 1.0.6 has no `destroy`, so
    /// the batch creates the table and deletes it in one transaction).
    pub async fn delete_table(&self, netns: &Netns, family: NftFamily, table: &str) -> Result<()> {
        validate_nft_table(table)?;
        let batch = format!("add table {family} {table}\ndelete table {family} {table}\n");
        self.run(netns, &batch, false).await.map(drop)
    }

    /// Removes every rule of a table of ours, keeping its chains and sets; a missing table is
    /// created empty.
    pub async fn flush_table(&self, netns: &Netns, family: NftFamily, table: &str) -> Result<()> {
        validate_nft_table(table)?;
        let batch = format!("add table {family} {table}\nflush table {family} {table}\n");
        self.run(netns, &batch, false).await.map(drop)
    }

    /// Every table in `netns`, ours or not (listing changes nothing).
    pub async fn tables(&self, netns: &Netns) -> Result<Vec<NftTable>> {
        let output = self.run(netns, "list tables", true).await?;
        parse_tables(&output)
    }

    /// The counters of the rules of a table of ours that have a `counter` statement.
    pub async fn rule_counters(
        &self,
        netns: &Netns,
        family: NftFamily,
        table: &str,
    ) -> Result<Vec<RuleCounter>> {
        validate_nft_table(table)?;
        let output = self
            .run(netns, &format!("list table {family} {table}"), true)
            .await?;
        parse_rule_counters(&output)
    }

    /// Opens a session in `netns` for repeated batches (see [`NftSession`]).
    pub async fn session(&self, netns: &Netns) -> Result<NftSession> {
        let library = self.library;
        let context = netns.spawn(move || Context::new(library)).await??;
        Ok(NftSession {
            context: Arc::new(Mutex::new(context)),
        })
    }

    async fn run(&self, netns: &Netns, command: &str, json: bool) -> Result<String> {
        let command = CString::new(command)
            .map_err(|_| Error::NftRefused("batch contains a NUL byte".to_owned()))?;
        let library = self.library;
        netns
            .spawn(move || run_here(library, &command, json))
            .await?
    }
}

/// A libnftables context made inside one namespace and kept for its batches. Its netlink
/// socket stays bound to that namespace wherever it is used from, and libnftables reuses
/// its cache of the namespace's tables and chains while the ruleset's generation is
/// unchanged: a fresh context per batch pays the context's set-up and a full cache fill
/// every time (milliseconds, growing with the chains in the namespace). Holding a session
/// keeps its namespace alive, like an open [`Netns`]: drop it with the namespace's owner.
pub struct NftSession {
    context: Arc<Mutex<Context>>,
}

impl fmt::Debug for NftSession {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("NftSession")
    }
}

impl NftSession {
    /// Applies `batch` as one transaction, with the checks of [`Nft::apply`].
    pub async fn apply(&self, batch: &str) -> Result<()> {
        check_batch(batch)?;
        let command = CString::new(batch)
            .map_err(|_| Error::NftRefused("batch contains a NUL byte".to_owned()))?;
        let context = self.context.clone();
        tokio::task::spawn_blocking(move || {
            let _guard = RUN_LOCK
                .lock()
                .unwrap_or_else(|poisoned| poisoned.into_inner());
            let context = context
                .lock()
                .unwrap_or_else(|poisoned| poisoned.into_inner());
            let (status, _, errors) = context.run(&command);
            if status != 0 {
                let message = errors.trim();
                return Err(Error::Nft(if message.is_empty() {
                    format!("libnftables returned {status}")
                } else {
                    message.to_owned()
                }));
            }
            Ok(())
        })
        .await
        .map_err(|_| Error::Worker)?
    }
}

fn json_items(output: &str) -> Result<Vec<Value>> {
    if output.trim().is_empty() {
        return Ok(Vec::new());
    }
    let mut value: Value =
        serde_json::from_str(output).map_err(|e| Error::NftOutput(e.to_string()))?;
    match value.get_mut("nftables").map(Value::take) {
        Some(Value::Array(items)) => Ok(items),
        _ => Err(Error::NftOutput("no \"nftables\" array".to_owned())),
    }
}

fn parse_tables(output: &str) -> Result<Vec<NftTable>> {
    let mut tables = Vec::new();
    for item in json_items(output)? {
        let Some(table) = item.get("table") else {
            continue;
        };
        let family = table
            .get("family")
            .and_then(Value::as_str)
            .and_then(NftFamily::parse);
        let name = table.get("name").and_then(Value::as_str);
        match (family, name) {
            (Some(family), Some(name)) => tables.push(NftTable {
                family,
                name: name.to_owned(),
            }),
            _ => return Err(Error::NftOutput(format!("unreadable table {table}"))),
        }
    }
    Ok(tables)
}

fn parse_rule_counters(output: &str) -> Result<Vec<RuleCounter>> {
    let mut counters = Vec::new();
    for item in json_items(output)? {
        let Some(rule) = item.get("rule") else {
            continue;
        };
        let expressions = rule.get("expr").and_then(Value::as_array);
        let mut found = None;
        for expression in expressions.into_iter().flatten() {
            // An anonymous counter is an object; a reference to a named counter is a string.
            if let Some(counter) = expression.get("counter").filter(|c| c.is_object()) {
                let packets = counter.get("packets").and_then(Value::as_u64);
                let bytes = counter.get("bytes").and_then(Value::as_u64);
                let (sum_packets, sum_bytes) = found.unwrap_or((0, 0));
                found = Some((
                    sum_packets + packets.unwrap_or(0),
                    sum_bytes + bytes.unwrap_or(0),
                ));
            }
        }
        let Some((packets, bytes)) = found else {
            continue;
        };
        counters.push(RuleCounter {
            chain: rule
                .get("chain")
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_owned(),
            handle: rule.get("handle").and_then(Value::as_u64).unwrap_or(0),
            comment: rule
                .get("comment")
                .and_then(Value::as_str)
                .map(str::to_owned),
            packets,
            bytes,
        });
    }
    Ok(counters)
}

#[derive(Debug, PartialEq, Eq)]
enum Token<'a> {
    Word(&'a str),
    Quoted,
    /// `;`, `{`, `}` or a newline: what follows starts a new statement.
    Break,
}

fn tokenize(batch: &str) -> Vec<Token<'_>> {
    let bytes = batch.as_bytes();
    let mut tokens = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'#' => {
                while i < bytes.len() && bytes[i] != b'\n' {
                    i += 1;
                }
            }
            b'"' => {
                i += 1;
                while i < bytes.len() && bytes[i] != b'"' {
                    i += 1;
                }
                i += 1;
                tokens.push(Token::Quoted);
            }
            b'\\' if bytes.get(i + 1) == Some(&b'\n') => i += 2,
            b'\n' | b';' | b'{' | b'}' => {
                tokens.push(Token::Break);
                i += 1;
            }
            b if b.is_ascii_whitespace() => i += 1,
            _ => {
                let start = i;
                while i < bytes.len()
                    && !bytes[i].is_ascii_whitespace()
                    && !matches!(bytes[i], b'\n' | b';' | b'{' | b'}' | b'"' | b'#')
                {
                    i += 1;
                }
                tokens.push(Token::Word(&batch[start..i]));
            }
        }
    }
    tokens
}

const VERBS: &[&str] = &[
    "add", "create", "insert", "replace", "delete", "destroy", "flush", "list", "reset", "rename",
    "get",
];
const OBJECTS: &[&str] = &[
    "chain",
    "rule",
    "set",
    "map",
    "element",
    "counter",
    "quota",
    "limit",
    "flowtable",
    "secmark",
    "synproxy",
];

/// Checks that a table reference at `tokens[at..]` (`[family] name`) names a table of ours.
fn check_table_reference(tokens: &[Token<'_>], at: usize, context: &str) -> Result<()> {
    let mut at = at;
    if let Some(Token::Word(word)) = tokens.get(at) {
        if NftFamily::parse(word).is_some() {
            at += 1;
        }
    }
    match tokens.get(at) {
        Some(Token::Word(name)) if name.starts_with(NFT_TABLE_PREFIX) => Ok(()),
        Some(Token::Word(name)) => Err(Error::NftRefused(format!(
            "{context} names table {name:?}, which is not ours ({NFT_TABLE_PREFIX}*)"
        ))),
        _ => Err(Error::NftRefused(format!("{context} without a table name"))),
    }
}

/// Refuses batches that could touch tables other than `vl_*`. A guard against our own
/// mistakes, not a sandbox: it reads nft's statement structure, not its full grammar.
fn check_batch(batch: &str) -> Result<()> {
    let tokens = tokenize(batch);
    let mut statement_start = true;
    for (i, token) in tokens.iter().enumerate() {
        let Token::Word(word) = token else {
            statement_start = *token == Token::Break;
            continue;
        };
        let at_start = statement_start;
        statement_start = false;
        match *word {
            "ruleset" => {
                return Err(Error::NftRefused(
                    "batches may not address the whole ruleset".to_owned(),
                ))
            }
            "table" => check_table_reference(&tokens, i + 1, "\"table\"")?,
            "include" if at_start => {
                return Err(Error::NftRefused(
                    "batches may not include files".to_owned(),
                ))
            }
            verb if at_start && VERBS.contains(&verb) => match tokens.get(i + 1) {
                Some(Token::Word("table")) => {}
                Some(Token::Word(set)) if set.starts_with('@') => {}
                Some(Token::Word("ct")) => check_table_reference(&tokens, i + 3, verb)?,
                Some(Token::Word(object)) if OBJECTS.contains(object) => {
                    check_table_reference(&tokens, i + 2, verb)?
                }
                _ => {
                    return Err(Error::NftRefused(format!(
                        "\"{verb}\" must name one object of one of our tables"
                    )))
                }
            },
            _ => {}
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    const APPENDIX_A: &str = r#"
table ip vl_nat {
  chain post {
    type nat hook postrouting priority srcnat; policy accept;
    oifname "uplink" ip saddr 10.0.1.0/28 masquerade
  }
}
table bridge vl_sg {
  chain sg_forward {
    type filter hook forward priority 0; policy accept;
    ip daddr 10.0.1.5 tcp dport 8080 counter drop comment "table filter, add rule"
  }
}
"#;

    #[test]
    fn accepts_batches_on_our_tables() {
        for batch in [
            APPENDIX_A,
            "add table inet vl_x\ndelete table inet vl_x\n",
            "add table vl_x; flush table vl_x",
            "add chain ip vl_x c { type filter hook input priority 0; }",
            "add rule bridge vl_sg fwd ip daddr 10.0.0.1 counter drop",
            "delete rule ip vl_x c handle 4",
            "add element ip vl_x members { 10.0.0.1 }",
            "add ct helper ip vl_x ftp { type \"ftp\" protocol tcp; }",
            "table ip vl_x {\n set s { type ipv4_addr; }\n chain c {\n add @s { ip saddr }\n }\n}",
            "# a comment naming table filter\nadd table ip vl_y",
            "add table ip vl_x\\\n",
        ] {
            check_batch(batch).unwrap_or_else(|e| panic!("{batch:?}: {e}"));
        }
    }

    #[test]
    fn refuses_batches_touching_other_tables() {
        for batch in [
            "flush ruleset",
            "list ruleset",
            "add table ip filter",
            "delete table inet firewalld",
            "table ip nat { chain c { } }",
            "add rule ip filter INPUT drop",
            "add rule filter INPUT drop",
            "delete chain ip6 netavark x",
            "add ct helper ip nat ftp { }",
            "reset counters",
            "list tables",
            "add table ip vl_ok\ndelete table ip other",
            "add",
            "table",
            "include \"/etc/nftables.conf\"",
        ] {
            assert!(
                matches!(check_batch(batch), Err(Error::NftRefused(_))),
                "{batch:?}"
            );
        }
    }

    #[test]
    fn tokenizer_splits_statements() {
        assert_eq!(
            tokenize("add table ip vl_x; # c\n\"q\" a{b}"),
            vec![
                Token::Word("add"),
                Token::Word("table"),
                Token::Word("ip"),
                Token::Word("vl_x"),
                Token::Break,
                Token::Break,
                Token::Quoted,
                Token::Word("a"),
                Token::Break,
                Token::Word("b"),
                Token::Break,
            ]
        );
    }

    #[test]
    fn parses_tables_and_counters() {
        let tables = r#"{"nftables": [{"metainfo": {"version": "1.0.6", "json_schema_version": 1}},
            {"table": {"family": "bridge", "name": "vl_sg", "handle": 1}},
            {"table": {"family": "ip", "name": "other", "handle": 2}}]}"#;
        assert_eq!(
            parse_tables(tables).unwrap(),
            vec![
                NftTable {
                    family: NftFamily::Bridge,
                    name: "vl_sg".to_owned()
                },
                NftTable {
                    family: NftFamily::Ip,
                    name: "other".to_owned()
                },
            ]
        );
        let rules = r#"{"nftables": [{"metainfo": {}},
            {"table": {"family": "bridge", "name": "vl_sg", "handle": 1}},
            {"chain": {"family": "bridge", "table": "vl_sg", "name": "fwd", "handle": 1}},
            {"rule": {"family": "bridge", "table": "vl_sg", "chain": "fwd", "handle": 2,
              "comment": "block", "expr": [{"match": {}}, {"counter": {"packets": 2, "bytes": 120}}, {"drop": null}]}},
            {"rule": {"family": "bridge", "table": "vl_sg", "chain": "fwd", "handle": 3,
              "expr": [{"accept": null}]}},
            {"rule": {"family": "bridge", "table": "vl_sg", "chain": "fwd", "handle": 4,
              "expr": [{"counter": "named"}]}}]}"#;
        assert_eq!(
            parse_rule_counters(rules).unwrap(),
            vec![RuleCounter {
                chain: "fwd".to_owned(),
                handle: 2,
                comment: Some("block".to_owned()),
                packets: 2,
                bytes: 120
            }]
        );
        assert!(parse_tables("not json").is_err());
        assert!(parse_tables("").unwrap().is_empty());
    }
}
