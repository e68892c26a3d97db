//! Conversions between wire messages and domain types.

use cairn_core::{CoreError, Digest, Entry, EntryPath};

use crate::v1;

/// Converts a wire entry into a validated domain entry.
pub fn entry_from_proto(entry: &v1::Entry) -> Result<Entry, CoreError> {
    Ok(Entry { path: EntryPath::parse(&entry.path)?, sha256: Digest::parse_hex(&entry.sha256)?, size: entry.size })
}

/// Converts a domain entry into its wire form.
pub fn entry_to_proto(entry: &Entry) -> v1::Entry {
    v1::Entry { path: entry.path.to_string(), sha256: entry.sha256.to_string(), size: entry.size }
}
