//! Entry paths: relative POSIX paths that are safe to write under any download root.

use std::fmt;

use crate::CoreError;

/// Longest entry path in bytes.
pub const MAX_PATH_BYTES: usize = 1024;

/// A validated entry path. Ordering is by UTF-8 bytes, which is the manifest order.
#[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct EntryPath(String);

impl EntryPath {
    /// Validates `text` as an entry path: UTF-8, at most 1024 bytes, non-empty segments
    /// separated by `/`, no `.` or `..` segment, no leading `/`, no `\`, no control
    /// characters; and, so that every client OS can write it, no `:` (drive letters, NTFS
    /// streams) and no Windows device name (`CON`, `NUL`, `COM1`, … with any extension).
    pub fn parse(text: &str) -> Result<Self, CoreError> {
        let err = |why| CoreError::InvalidPath { path: text.chars().take(1100).collect(), why };
        if text.is_empty() {
            return Err(err("must not be empty"));
        }
        if text.len() > MAX_PATH_BYTES {
            return Err(err("longer than 1024 bytes"));
        }
        if text.starts_with('/') {
            return Err(err("must be relative (no leading `/`)"));
        }
        if text.contains('\\') {
            return Err(err("must not contain `\\`"));
        }
        if text.chars().any(char::is_control) {
            return Err(err("must not contain NUL or control characters"));
        }
        for segment in text.split('/') {
            match segment {
                "" => return Err(err("must not contain empty segments (`//` or a trailing `/`)")),
                "." | ".." => return Err(err("must not contain `.` or `..` segments")),
                _ if is_windows_device_name(segment) => {
                    return Err(err("must not name a Windows device (CON, PRN, AUX, NUL, COM1-9, LPT1-9)"));
                }
                _ => {}
            }
        }
        if text.contains(':') {
            return Err(err("must not contain `:` (a drive letter or stream name on Windows)"));
        }
        Ok(Self(text.to_owned()))
    }

    /// The path as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The path as a case-insensitive file system (macOS, Windows) compares it: two paths
    /// with the same folded form would overwrite each other there.
    pub fn case_folded(&self) -> String {
        self.0.to_lowercase()
    }
}

/// True for names Windows reserves for devices, whatever their extension (`nul.txt`).
fn is_windows_device_name(segment: &str) -> bool {
    let stem = segment.split('.').next().unwrap_or(segment).trim_end().to_ascii_uppercase();
    matches!(stem.as_str(), "CON" | "PRN" | "AUX" | "NUL")
        || (stem.len() == 4
            && (stem.starts_with("COM") || stem.starts_with("LPT"))
            && matches!(stem.as_bytes()[3], b'1'..=b'9'))
}

impl fmt::Display for EntryPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for EntryPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:?}", self.0)
    }
}

impl serde::Serialize for EntryPath {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.0)
    }
}

impl<'de> serde::Deserialize<'de> for EntryPath {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        EntryPath::parse(&text).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    #[test]
    fn accepts_ordinary_relative_paths() {
        for good in
            ["a", "a/b.bin", "dir/sub dir/ü.txt", ".hidden", "a/..b", "x/.../y", "console.log", "com10", "lpt0/x"]
        {
            assert_eq!(EntryPath::parse(good).unwrap().as_str(), good);
        }
        assert!(EntryPath::parse(&"a".repeat(1024)).is_ok());
    }

    #[test]
    fn rejects_every_unsafe_form_and_names_the_path() {
        let long = "a".repeat(1025);
        for bad in [
            "../x",
            "/abs",
            "a//b",
            "a/./b",
            "a/../b",
            "",
            "a/",
            ".",
            "..",
            "a\0b",
            "a\nb",
            "a\u{7f}b",
            "a\\b",
            long.as_str(),
            "C:/Windows/x",
            "c:x",
            "data/file.txt:stream",
            "CON",
            "logs/nul.txt",
            "Com1",
            "lpt9.bin/x",
            "aux .txt",
        ] {
            let err = EntryPath::parse(bad).unwrap_err();
            assert_eq!(err.reason(), "INVALID_PATH", "{bad:?}");
            assert_eq!(err.metadata()[0].1, bad.chars().take(1100).collect::<String>());
        }
    }

    proptest! {
        #[test]
        fn valid_paths_never_escape_the_root(text in "[a-z./\\\\]{1,12}") {
            if let Ok(path) = EntryPath::parse(&text) {
                prop_assert!(!path.as_str().starts_with('/'));
                prop_assert!(path.as_str().split('/').all(|s| !s.is_empty() && s != "." && s != ".."));
            }
        }
    }
}
