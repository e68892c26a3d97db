//! The canonical manifest encoding (docs/manifest-encoding.md).
//!
//! ```text
//! cairn-manifest-v1\n
//! <sha256 hex> <size decimal> <path>\n      one line per entry, sorted by path bytes
//! ```
//!
//! The version digest is the sha256 of exactly these bytes, and the manifest object in
//! object storage is exactly these bytes, so its content address is the version digest.
//! Paths cannot contain control characters, so a newline always ends an entry.

use crate::{CoreError, Digest, Entry, EntryPath, Sha256Hasher};

/// First line of every manifest.
pub const MANIFEST_HEADER: &[u8] = b"cairn-manifest-v1\n";

/// Encodes sorted entries incrementally while hashing them.
pub struct ManifestWriter {
    hasher: Sha256Hasher,
    buffer: Vec<u8>,
    last_path: Option<EntryPath>,
    files: u64,
    bytes: u64,
}

impl Default for ManifestWriter {
    fn default() -> Self {
        Self::new()
    }
}

impl ManifestWriter {
    /// A writer that has emitted the header.
    pub fn new() -> Self {
        let mut hasher = Sha256Hasher::new();
        hasher.update(MANIFEST_HEADER);
        Self { hasher, buffer: MANIFEST_HEADER.to_vec(), last_path: None, files: 0, bytes: 0 }
    }

    /// Appends one entry; entries must come in strictly increasing path order.
    pub fn push(&mut self, entry: &Entry) -> Result<(), CoreError> {
        if let Some(last) = &self.last_path
            && last >= &entry.path
        {
            return Err(CoreError::DuplicatePath { path: entry.path.to_string() });
        }
        let start = self.buffer.len();
        self.buffer.extend_from_slice(entry.sha256.to_string().as_bytes());
        self.buffer.push(b' ');
        self.buffer.extend_from_slice(entry.size.to_string().as_bytes());
        self.buffer.push(b' ');
        self.buffer.extend_from_slice(entry.path.as_str().as_bytes());
        self.buffer.push(b'\n');
        self.hasher.update(&self.buffer[start..]);
        self.last_path = Some(entry.path.clone());
        self.files += 1;
        self.bytes += entry.size;
        Ok(())
    }

    /// Takes the bytes encoded since the last call, for streaming them out.
    pub fn take_encoded(&mut self) -> Vec<u8> {
        std::mem::take(&mut self.buffer)
    }

    /// Ends the manifest: (version digest, remaining encoded bytes, file count, total size).
    pub fn finish(self) -> (Digest, Vec<u8>, u64, u64) {
        (self.hasher.finish(), self.buffer, self.files, self.bytes)
    }
}

/// The version digest of entries given in any order; errors on duplicate paths.
pub fn version_digest(entries: &[Entry]) -> Result<Digest, CoreError> {
    let mut sorted: Vec<&Entry> = entries.iter().collect();
    sorted.sort_by(|a, b| a.path.cmp(&b.path));
    let mut writer = ManifestWriter::new();
    for entry in sorted {
        writer.push(entry)?;
    }
    Ok(writer.finish().0)
}

/// Decodes a manifest from byte chunks, checking order, syntax and the final digest.
pub struct ManifestDecoder {
    hasher: Sha256Hasher,
    pending: Vec<u8>,
    header_seen: bool,
    last_path: Option<EntryPath>,
}

impl Default for ManifestDecoder {
    fn default() -> Self {
        Self::new()
    }
}

impl ManifestDecoder {
    /// A decoder expecting the header.
    pub fn new() -> Self {
        Self { hasher: Sha256Hasher::new(), pending: Vec::new(), header_seen: false, last_path: None }
    }

    /// Feeds the next chunk and returns the entries it completed.
    pub fn feed(&mut self, chunk: &[u8]) -> Result<Vec<Entry>, CoreError> {
        self.hasher.update(chunk);
        self.pending.extend_from_slice(chunk);
        let mut entries = Vec::new();
        let mut consumed = 0;
        while let Some(newline) = self.pending[consumed..].iter().position(|&b| b == b'\n') {
            let line = &self.pending[consumed..consumed + newline];
            consumed += newline + 1;
            if !self.header_seen {
                if line != &MANIFEST_HEADER[..MANIFEST_HEADER.len() - 1] {
                    return Err(corrupt("missing cairn-manifest-v1 header"));
                }
                self.header_seen = true;
                continue;
            }
            let entry = parse_line(line)?;
            if let Some(last) = &self.last_path
                && last >= &entry.path
            {
                return Err(corrupt("entries out of order"));
            }
            self.last_path = Some(entry.path.clone());
            entries.push(entry);
        }
        self.pending.drain(..consumed);
        Ok(entries)
    }

    /// Ends decoding and checks the bytes hash to `expected`.
    pub fn finish(self, expected: &Digest) -> Result<(), CoreError> {
        if !self.pending.is_empty() || !self.header_seen {
            return Err(corrupt("truncated manifest"));
        }
        let actual = self.hasher.finish();
        if &actual != expected {
            return Err(corrupt(&format!("manifest hashes to {actual}, expected {expected}")));
        }
        Ok(())
    }
}

fn corrupt(why: &str) -> CoreError {
    CoreError::CorruptManifest { why: why.to_owned() }
}

fn parse_line(line: &[u8]) -> Result<Entry, CoreError> {
    let text = std::str::from_utf8(line).map_err(|_| corrupt("line is not UTF-8"))?;
    let mut parts = text.splitn(3, ' ');
    let (Some(sha), Some(size), Some(path)) = (parts.next(), parts.next(), parts.next()) else {
        return Err(corrupt("line has fewer than three fields"));
    };
    // Canonical sizes only (docs/manifest-encoding.md): digits, no sign, no leading zero;
    // otherwise two byte strings, and two digests, would decode to one manifest.
    let canonical =
        !size.is_empty() && size.bytes().all(|b| b.is_ascii_digit()) && (size == "0" || !size.starts_with('0'));
    if !canonical {
        return Err(corrupt("size is not a canonical decimal number"));
    }
    Ok(Entry {
        sha256: Digest::parse_hex(sha)?,
        size: size.parse().map_err(|_| corrupt("size is not a decimal number"))?,
        path: EntryPath::parse(path)?,
    })
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    fn entry(path: &str, content: &[u8]) -> Entry {
        Entry { path: EntryPath::parse(path).unwrap(), sha256: Digest::of(content), size: content.len() as u64 }
    }

    // Fixed vectors, computed independently with Python's hashlib (docs/manifest-encoding.md).
    #[test]
    fn digests_match_the_documented_fixed_vectors() {
        assert_eq!(
            version_digest(&[]).unwrap().to_string(),
            "fd461db5f3e6ce49e7906bffe1efaf39ef7e07710911012b3f4a36a5c1f4cda7"
        );
        assert_eq!(
            version_digest(&[entry("dir/b.bin", b""), entry("a.txt", b"hello\n")]).unwrap().to_string(),
            "1630bdbac298ccb13bda3f58e02b773856ccdc85bd538e271fc8f55670f4ac23"
        );
        assert_eq!(
            version_digest(&[entry("a b/\u{e9}.txt", b"hello\n"), entry("Z.txt", "caf\u{e9}".as_bytes())])
                .unwrap()
                .to_string(),
            "ecea9cffa196c65459ce8adac2b58aa0d5dec6ce7cfb86ec6dc38acd00487b12"
        );
    }

    #[test]
    fn entry_order_does_not_change_the_digest() {
        let a = entry("a.txt", b"hello\n");
        let b = entry("dir/b.bin", b"");
        assert_eq!(version_digest(&[a.clone(), b.clone()]).unwrap(), version_digest(&[b, a]).unwrap());
    }

    #[test]
    fn duplicate_paths_are_refused() {
        let a = entry("a", b"1");
        let a2 = entry("a", b"2");
        assert_eq!(version_digest(&[a, a2]).unwrap_err().reason(), "DUPLICATE_PATH");
    }

    #[test]
    fn decoder_rejects_tampered_bytes() {
        let mut writer = ManifestWriter::new();
        writer.push(&entry("a", b"1")).unwrap();
        let (digest, mut bytes, _, _) = writer.finish();
        let mut decoder = ManifestDecoder::new();
        assert_eq!(decoder.feed(&bytes).unwrap().len(), 1);
        decoder.finish(&digest).unwrap();
        let last = bytes.len() - 2;
        bytes[last] = b'b';
        let mut decoder = ManifestDecoder::new();
        decoder.feed(&bytes).unwrap();
        assert_eq!(decoder.finish(&digest).unwrap_err().reason(), "CORRUPT_MANIFEST");
    }

    proptest! {
        #[test]
        fn encode_then_decode_in_any_chunking_round_trips(
            // Segments start with `f`: never a Windows device name (`con`, `nul`…), which paths refuse.
            names in proptest::collection::btree_set("f[a-z]{0,5}(/f[a-z]{0,5}){0,2}", 0..40),
            chunk in 1usize..64,
        ) {
            let entries: Vec<Entry> = names.iter().map(|n| entry(n, n.as_bytes())).collect();
            let mut writer = ManifestWriter::new();
            for e in &entries { writer.push(e).unwrap(); }
            let (digest, bytes, files, _) = writer.finish();
            prop_assert_eq!(files as usize, entries.len());
            let mut decoder = ManifestDecoder::new();
            let mut decoded = Vec::new();
            for piece in bytes.chunks(chunk) { decoded.extend(decoder.feed(piece).unwrap()); }
            decoder.finish(&digest).unwrap();
            prop_assert_eq!(decoded, entries);
        }
    }
}
