//! Entry names: turning an untrusted zip name into a relative path that can only name
//! something beneath the package root.
//!
//! Pure string work. Must not touch the filesystem and must not "repair" a hostile name by
//! stripping pieces of it (stripping `../` is how `..././x` becomes `../x`): it either
//! accepts a name as a plain relative path or refuses it.

use crate::error::EntryProblem;

/// Linux `NAME_MAX`: a longer component could not be created anyway.
const MAX_COMPONENT_BYTES: usize = 255;

/// A validated entry name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct EntryName {
    /// `/`-separated, no empty or `.` components, no leading or trailing `/`.
    pub(crate) path: String,
    /// The raw name ended with a separator, which marks a directory entry.
    pub(crate) dir_syntax: bool,
}

/// Validates `raw` (as decoded by the zip reader) and normalises it: `\` counts as a
/// separator, because Windows tools write it and some extractors honour it.
pub(crate) fn normalise(raw: &str, max_len: usize) -> Result<EntryName, EntryProblem> {
    if raw.len() > max_len {
        return Err(EntryProblem::TooLong);
    }
    if raw.chars().any(char::is_control) {
        return Err(EntryProblem::ControlCharacter);
    }
    let unified = raw.replace('\\', "/");
    if unified.starts_with('/') || has_drive_prefix(&unified) {
        return Err(EntryProblem::EscapesRoot);
    }
    let mut parts = Vec::new();
    for part in unified.split('/') {
        match part {
            "" | "." => {}
            ".." => return Err(EntryProblem::EscapesRoot),
            _ if part.bytes().all(|b| b == b'.') => return Err(EntryProblem::DotsComponent),
            _ if part.len() > MAX_COMPONENT_BYTES => return Err(EntryProblem::TooLong),
            _ => parts.push(part),
        }
    }
    if parts.is_empty() {
        return Err(EntryProblem::EmptyName);
    }
    Ok(EntryName {
        path: parts.join("/"),
        dir_syntax: unified.ends_with('/'),
    })
}

/// `C:` and `C:x`: drive-absolute or drive-relative on Windows, never a plain relative path.
fn has_drive_prefix(name: &str) -> bool {
    let b = name.as_bytes();
    b.len() >= 2 && b[0].is_ascii_alphabetic() && b[1] == b':'
}

/// Validates a symlink's target text. Whether it stays inside the package is decided later,
/// against the whole tree, because it may pass through other symlinks.
pub(crate) fn check_symlink_target(target: &str, max_len: usize) -> Result<(), EntryProblem> {
    if target.is_empty() || target.len() > max_len || target.chars().any(char::is_control) {
        return Err(EntryProblem::BadSymlinkTarget);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    const MAX: usize = 4096;

    fn ok(raw: &str) -> (String, bool) {
        let n = normalise(raw, MAX).unwrap_or_else(|e| panic!("{raw:?} refused: {e}"));
        (n.path, n.dir_syntax)
    }

    #[test]
    fn plain_names_pass() {
        assert_eq!(ok("bootstrap"), ("bootstrap".into(), false));
        assert_eq!(ok("lib/a/b.so"), ("lib/a/b.so".into(), false));
        assert_eq!(ok("lib/"), ("lib".into(), true));
        assert_eq!(ok("a b/ü.txt"), ("a b/ü.txt".into(), false));
        assert_eq!(ok(".hidden"), (".hidden".into(), false));
        assert_eq!(ok("a..b"), ("a..b".into(), false));
    }

    #[test]
    fn normalisation_folds_equivalent_spellings() {
        assert_eq!(ok("./a"), ok("a"));
        assert_eq!(ok("a//b"), ok("a/b"));
        assert_eq!(ok("a\\b"), ok("a/b"));
        assert_eq!(ok("a/./b"), ok("a/b"));
        assert_eq!(ok("dir\\"), ok("dir/"));
    }

    #[test]
    fn traversal_and_absolute_names_are_refused() {
        for raw in [
            "../evil",
            "../../x",
            "a/../../x",
            "a/../b",
            "..\\x",
            "a\\..\\..\\x",
            "..",
            "/abs/x",
            "/",
            "\\abs",
            "//server/share",
            "C:/x",
            "c:\\x",
            "C:x",
        ] {
            assert_eq!(
                normalise(raw, MAX),
                Err(EntryProblem::EscapesRoot),
                "{raw:?}"
            );
        }
    }

    #[test]
    fn dots_only_components_are_refused() {
        for raw in ["..././x", ".../x", "a/..../b"] {
            assert_eq!(
                normalise(raw, MAX),
                Err(EntryProblem::DotsComponent),
                "{raw:?}"
            );
        }
    }

    #[test]
    fn control_characters_are_refused() {
        for raw in ["a\0b", "a\nb", "\u{7f}", "x\u{1b}[31m", "a\u{85}b"] {
            assert_eq!(
                normalise(raw, MAX),
                Err(EntryProblem::ControlCharacter),
                "{raw:?}"
            );
        }
    }

    #[test]
    fn over_long_names_are_refused() {
        let name = "a/".repeat(2049);
        assert_eq!(normalise(&name, MAX), Err(EntryProblem::TooLong));
        let component = "x".repeat(256);
        assert_eq!(normalise(&component, MAX), Err(EntryProblem::TooLong));
        assert!(normalise(&"x".repeat(255), MAX).is_ok());
    }

    #[test]
    fn empty_names_are_refused() {
        for raw in ["", ".", "./", ".//."] {
            assert_eq!(normalise(raw, MAX), Err(EntryProblem::EmptyName), "{raw:?}");
        }
    }

    #[test]
    fn symlink_targets() {
        assert!(check_symlink_target("../lib/x", MAX).is_ok());
        assert!(check_symlink_target("/etc", MAX).is_ok());
        for bad in ["", "a\0b", "a\nb"] {
            assert_eq!(
                check_symlink_target(bad, MAX),
                Err(EntryProblem::BadSymlinkTarget)
            );
        }
        assert_eq!(
            check_symlink_target(&"x".repeat(MAX + 1), MAX),
            Err(EntryProblem::BadSymlinkTarget)
        );
    }
}
