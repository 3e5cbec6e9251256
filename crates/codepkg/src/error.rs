//! The one error type of this crate and its mapping onto AWS error classes.
//!
//! Owns the user-visible texts (Lambda's own where they are known). Must not know about HTTP
//! or the wire: callers turn an [`ErrorClass`] into an AWS error code and status.

use std::fmt;
use std::path::PathBuf;

/// Why a code package was refused or could not be written.
#[derive(Debug, thiserror::Error)]
pub enum CodeError {
    /// The zip itself is over [`crate::Limits::max_zipped`]; nothing was parsed.
    #[error("Zipped size must be smaller than {limit} bytes")]
    ZippedTooLarge { limit: u64, size: u64 },

    /// Inflating stopped once the running total passed [`crate::Limits::max_unzipped`];
    /// `inflated` is how far it got, at most the limit plus one stream buffer.
    #[error("Unzipped size must be smaller than {limit} bytes")]
    UnzippedTooLarge { limit: u64, inflated: u64 },

    /// Not a zip, truncated, corrupt, or a checksum/size mismatch while inflating.
    #[error("Could not unzip uploaded file. Please check your file, then try to upload again.")]
    Corrupt(#[source] zip::result::ZipError),

    #[error("Could not unzip uploaded file: the package has more than {limit} entries.")]
    TooManyEntries { limit: usize },

    /// Two entries share compressed bytes (a non-recursive zip bomb) or run into the
    /// central directory.
    #[error("Could not unzip uploaded file: the package contains overlapping entries.")]
    OverlappingEntries,

    /// The central directory repeats a raw name; the zip reader keeps only one of them, so the
    /// name cannot be reported.
    #[error("Could not unzip uploaded file: the package contains duplicate entry names.")]
    DuplicateNames,

    #[error("Could not unzip uploaded file: entry '{entry}' {problem}.")]
    BadEntry {
        /// The entry name, made printable and shortened (see [`printable`]).
        entry: String,
        problem: EntryProblem,
    },

    /// `extract` was given a destination that already has something in it.
    #[error("destination {} is not an empty directory", path.display())]
    DestinationNotEmpty { path: PathBuf },

    /// The host failed while writing the package out (disk full, permissions, …).
    #[error("could not write the package under {}: {source}", path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

/// What is wrong with one entry; rendered after "entry '<name>' ".
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EntryProblem {
    /// Absolute path, Windows drive prefix, or a `..` component.
    EscapesRoot,
    /// A component made only of dots other than `.` and `..` (`...`), which some tools read as
    /// a parent reference.
    DotsComponent,
    ControlCharacter,
    TooLong,
    /// Empty, or only `.` and separators.
    EmptyName,
    /// Same name as an earlier entry once `\` is read as `/` and `.`/empty components dropped.
    Duplicate,
    /// Lies beneath an entry that is a file or a symlink.
    BeneathNonDirectory,
    /// A FIFO, device, socket, or a type that contradicts a trailing `/`.
    UnsupportedType,
    Encrypted,
    UnsupportedCompression,
    /// A symlink target that is empty, too long, not UTF-8 or has control characters.
    BadSymlinkTarget,
    /// A symlink whose target, resolved inside the package, leaves the package root.
    SymlinkEscapesRoot,
    /// A symlink that does not resolve within the kernel's 40 hops.
    SymlinkLoop,
}

impl fmt::Display for EntryProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::EscapesRoot => "escapes the package root",
            Self::DotsComponent => "has a path component made only of dots",
            Self::ControlCharacter => "contains a control character",
            Self::TooLong => "has a name that is too long",
            Self::EmptyName => "has an empty name",
            Self::Duplicate => "appears more than once",
            Self::BeneathNonDirectory => "lies beneath a file or symlink",
            Self::UnsupportedType => "has an unsupported file type",
            Self::Encrypted => "is encrypted",
            Self::UnsupportedCompression => "uses an unsupported compression method",
            Self::BadSymlinkTarget => "is a symlink with an invalid target",
            Self::SymlinkEscapesRoot => "is a symlink whose target escapes the package root",
            Self::SymlinkLoop => "is a symlink that loops",
        })
    }
}

/// How the API layer should report a [`CodeError`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorClass {
    /// `RequestEntityTooLargeException`, HTTP 413.
    RequestTooLarge,
    /// `InvalidParameterValueException`, HTTP 400 (Lambda reports the unzipped limit this way).
    InvalidParameter,
    /// The host failed, not the package: `ServiceException`, HTTP 500.
    Internal,
}

impl CodeError {
    pub fn class(&self) -> ErrorClass {
        match self {
            Self::ZippedTooLarge { .. } => ErrorClass::RequestTooLarge,
            Self::UnzippedTooLarge { .. }
            | Self::Corrupt(_)
            | Self::TooManyEntries { .. }
            | Self::OverlappingEntries
            | Self::DuplicateNames
            | Self::BadEntry { .. } => ErrorClass::InvalidParameter,
            Self::DestinationNotEmpty { .. } | Self::Io { .. } => ErrorClass::Internal,
        }
    }

    pub(crate) fn bad_entry(raw_name: &str, problem: EntryProblem) -> Self {
        Self::BadEntry {
            entry: printable(raw_name),
            problem,
        }
    }
}

/// Longest entry name echoed back in a message, in characters.
const MAX_ECHOED_NAME: usize = 200;

/// Makes an attacker-chosen name safe to echo into an error message and a log line: control
/// characters are escaped and long names cut.
pub fn printable(name: &str) -> String {
    let mut out = String::new();
    for (i, c) in name.chars().enumerate() {
        if i == MAX_ECHOED_NAME {
            out.push('…');
            break;
        }
        if c.is_control() {
            out.extend(c.escape_default());
        } else {
            out.push(c);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lambda_texts() {
        let zipped = CodeError::ZippedTooLarge {
            limit: 52_428_800,
            size: 60_000_000,
        };
        assert_eq!(
            zipped.to_string(),
            "Zipped size must be smaller than 52428800 bytes"
        );
        assert_eq!(zipped.class(), ErrorClass::RequestTooLarge);

        let unzipped = CodeError::UnzippedTooLarge {
            limit: 262_144_000,
            inflated: 262_144_001,
        };
        assert_eq!(
            unzipped.to_string(),
            "Unzipped size must be smaller than 262144000 bytes"
        );
        assert_eq!(unzipped.class(), ErrorClass::InvalidParameter);

        let corrupt = CodeError::Corrupt(zip::result::ZipError::FileNotFound);
        assert_eq!(
            corrupt.to_string(),
            "Could not unzip uploaded file. Please check your file, then try to upload again."
        );
        assert_eq!(corrupt.class(), ErrorClass::InvalidParameter);
    }

    #[test]
    fn entry_message_names_the_entry() {
        let e = CodeError::bad_entry("../evil", EntryProblem::EscapesRoot);
        assert_eq!(
            e.to_string(),
            "Could not unzip uploaded file: entry '../evil' escapes the package root."
        );
    }

    #[test]
    fn printable_escapes_and_truncates() {
        assert_eq!(printable("a\0b\n"), "a\\u{0}b\\n");
        let long = "x".repeat(5000);
        let shown = printable(&long);
        assert_eq!(shown.chars().count(), MAX_ECHOED_NAME + 1);
        assert!(shown.ends_with('…'));
    }
}
