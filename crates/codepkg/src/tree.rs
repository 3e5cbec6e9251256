//! The package as a tree of validated paths: duplicate and ancestor checks, and symlink
//! resolution inside the package.
//!
//! Pure bookkeeping over names that `name` already accepted. Must not touch the filesystem:
//! it decides, before anything is written, that every symlink resolves beneath the root.

use std::collections::BTreeMap;

use crate::error::{CodeError, EntryProblem};

/// Linux gives up after 40 symlinks in one lookup (`ELOOP`); so do we.
const MAX_SYMLINK_HOPS: usize = 40;

/// What a path in the package is, as it is (or would be) extracted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EntryKind {
    /// Mode 0755; also every parent directory the archive only implies.
    Dir,
    /// Mode 0755 when `executable` (any execute bit in the zip's unix mode), else 0644.
    File {
        size: u64,
        executable: bool,
    },
    Symlink {
        target: String,
    },
}

impl EntryKind {
    /// The permission bits written to disk; symlinks have none of their own.
    pub fn mode(&self) -> Option<u32> {
        match self {
            Self::Dir
            | Self::File {
                executable: true, ..
            } => Some(0o755),
            Self::File {
                executable: false, ..
            } => Some(0o644),
            Self::Symlink { .. } => None,
        }
    }
}

/// One entry as declared by the archive, name already normalised.
pub(crate) struct Declared<'a> {
    /// The name as the archive spells it, for messages.
    pub(crate) raw: &'a str,
    pub(crate) path: &'a str,
    pub(crate) kind: EntryKind,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Unresolved {
    Escapes,
    Loop,
}

#[derive(Debug, Clone, Default)]
pub(crate) struct Tree {
    nodes: BTreeMap<String, EntryKind>,
}

impl Tree {
    /// Accepts the entries only if every path is unique, every ancestor is a directory
    /// (so nothing is ever written through a symlink or into a file), and every symlink
    /// resolves beneath the root.
    pub(crate) fn build(declared: &[Declared<'_>]) -> Result<Self, CodeError> {
        let mut nodes = BTreeMap::new();
        for d in declared {
            if nodes.insert(d.path.to_owned(), d.kind.clone()).is_some() {
                return Err(CodeError::bad_entry(d.raw, EntryProblem::Duplicate));
            }
        }
        for d in declared {
            for (at, _) in d.path.match_indices('/') {
                let ancestor = &d.path[..at];
                match nodes.get(ancestor) {
                    Some(EntryKind::Dir) => {}
                    Some(_) => {
                        return Err(CodeError::bad_entry(
                            d.raw,
                            EntryProblem::BeneathNonDirectory,
                        ))
                    }
                    None => {
                        nodes.insert(ancestor.to_owned(), EntryKind::Dir);
                    }
                }
            }
        }
        let tree = Self { nodes };
        for d in declared {
            if let EntryKind::Symlink { target } = &d.kind {
                let parent = d.path.rsplit_once('/').map_or("", |(p, _)| p);
                tree.resolve(parent, target).map_err(|u| {
                    CodeError::bad_entry(
                        d.raw,
                        match u {
                            Unresolved::Escapes => EntryProblem::SymlinkEscapesRoot,
                            Unresolved::Loop => EntryProblem::SymlinkLoop,
                        },
                    )
                })?;
            }
        }
        Ok(tree)
    }

    /// Resolves `rel` from the directory `start_dir` the way the kernel would once the
    /// package is extracted alone under a root, following symlinks in the package; fails if
    /// any step climbs above the root. An absolute `rel` escapes by definition.
    pub(crate) fn resolve(&self, start_dir: &str, rel: &str) -> Result<String, Unresolved> {
        if rel.starts_with('/') {
            return Err(Unresolved::Escapes);
        }
        let mut at: Vec<&str> = start_dir.split('/').filter(|c| !c.is_empty()).collect();
        let mut pending: Vec<&str> = rel.split('/').rev().collect();
        let mut hops = 0;
        while let Some(part) = pending.pop() {
            match part {
                "" | "." => {}
                ".." => {
                    if at.pop().is_none() {
                        return Err(Unresolved::Escapes);
                    }
                }
                _ => {
                    at.push(part);
                    if let Some(EntryKind::Symlink { target }) = self.nodes.get(&at.join("/")) {
                        hops += 1;
                        if hops > MAX_SYMLINK_HOPS {
                            return Err(Unresolved::Loop);
                        }
                        if target.starts_with('/') {
                            return Err(Unresolved::Escapes);
                        }
                        at.pop();
                        pending.extend(target.split('/').rev());
                    }
                }
            }
        }
        Ok(at.join("/"))
    }

    pub(crate) fn get(&self, path: &str) -> Option<&EntryKind> {
        self.nodes.get(path)
    }

    pub(crate) fn set_file_size(&mut self, path: &str, measured: u64) {
        if let Some(EntryKind::File { size, .. }) = self.nodes.get_mut(path) {
            *size = measured;
        }
    }

    pub(crate) fn iter(&self) -> impl Iterator<Item = (&str, &EntryKind)> {
        self.nodes.iter().map(|(p, k)| (p.as_str(), k))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn file(path: &str) -> Declared<'_> {
        Declared {
            raw: path,
            path,
            kind: EntryKind::File {
                size: 0,
                executable: false,
            },
        }
    }

    fn dir(path: &str) -> Declared<'_> {
        Declared {
            raw: path,
            path,
            kind: EntryKind::Dir,
        }
    }

    fn link<'a>(path: &'a str, target: &str) -> Declared<'a> {
        Declared {
            raw: path,
            path,
            kind: EntryKind::Symlink {
                target: target.to_owned(),
            },
        }
    }

    fn problem(declared: &[Declared<'_>]) -> EntryProblem {
        match Tree::build(declared) {
            Err(CodeError::BadEntry { problem, .. }) => problem,
            other => panic!("expected a bad entry, got {other:?}"),
        }
    }

    #[test]
    fn implied_parents_become_directories() {
        let t = Tree::build(&[file("a/b/c"), dir("a")]).unwrap();
        assert_eq!(t.get("a/b"), Some(&EntryKind::Dir));
        assert_eq!(t.get("a"), Some(&EntryKind::Dir));
    }

    #[test]
    fn duplicates_are_refused() {
        assert_eq!(problem(&[file("a"), file("a")]), EntryProblem::Duplicate);
        assert_eq!(problem(&[dir("a"), file("a")]), EntryProblem::Duplicate);
    }

    #[test]
    fn nothing_may_live_beneath_a_file_or_symlink() {
        assert_eq!(
            problem(&[file("a"), file("a/b")]),
            EntryProblem::BeneathNonDirectory
        );
        assert_eq!(
            problem(&[link("evil", "sub"), dir("sub"), file("evil/owned")]),
            EntryProblem::BeneathNonDirectory
        );
    }

    #[test]
    fn inner_symlinks_resolve() {
        let t = Tree::build(&[
            file("bin/tool"),
            link("bootstrap", "bin/tool"),
            link("lib/up", ".."),
            link("lib/again", "up/bin/./tool"),
            link("dangling", "nowhere/x"),
        ])
        .unwrap();
        assert_eq!(t.resolve("", "bootstrap"), Ok("bin/tool".into()));
        assert_eq!(t.resolve("lib", "again"), Ok("bin/tool".into()));
        assert_eq!(t.resolve("", "lib/up/lib/up"), Ok(String::new()));
    }

    #[test]
    fn escaping_symlinks_are_refused() {
        for target in ["/etc", "../x", "../../x", "a/../../x", "./..", "//etc"] {
            assert_eq!(
                problem(&[link("evil", target)]),
                EntryProblem::SymlinkEscapesRoot,
                "{target:?}"
            );
        }
        assert_eq!(
            problem(&[link("d/evil", "../../x")]),
            EntryProblem::SymlinkEscapesRoot
        );
    }

    #[test]
    fn escape_through_another_symlink_is_refused() {
        // Lexically `d/up/..` is `d`, but `d/up` is the root, so it really is the root's parent.
        assert_eq!(
            problem(&[link("d/up", ".."), link("e", "d/up/..")]),
            EntryProblem::SymlinkEscapesRoot
        );
        assert_eq!(
            problem(&[link("abs", "/"), link("e", "abs/etc")]),
            EntryProblem::SymlinkEscapesRoot
        );
    }

    #[test]
    fn symlink_loops_are_refused() {
        assert_eq!(
            problem(&[link("a", "b"), link("b", "a")]),
            EntryProblem::SymlinkLoop
        );
        assert_eq!(problem(&[link("self", "self")]), EntryProblem::SymlinkLoop);
    }

    #[test]
    fn modes() {
        assert_eq!(EntryKind::Dir.mode(), Some(0o755));
        let exe = EntryKind::File {
            size: 1,
            executable: true,
        };
        assert_eq!(exe.mode(), Some(0o755));
        let plain = EntryKind::File {
            size: 1,
            executable: false,
        };
        assert_eq!(plain.mode(), Some(0o644));
    }
}
