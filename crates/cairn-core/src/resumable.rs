//! sha256 whose state can be saved at 64-byte boundaries and resumed in another process:
//! an interrupted upload continues from its last stored part without re-reading the parts
//! already stored. Built on `sha2::compress256` (which uses the CPU's SHA extensions), with
//! the standard padding; tested against `sha2` on random inputs and split points.

use sha2::digest::generic_array::GenericArray;

use crate::{CoreError, Digest};

const IV: [u32; 8] = [0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a, 0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19];

/// A saved hashing state: the bytes hashed so far (a multiple of 64) and the state after them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HashCheckpoint {
    /// Bytes hashed so far.
    pub len: u64,
    /// The compression state after them.
    pub state: [u32; 8],
}

impl HashCheckpoint {
    /// 40 bytes: length then state, little-endian.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = self.len.to_le_bytes().to_vec();
        for word in self.state {
            out.extend_from_slice(&word.to_le_bytes());
        }
        out
    }

    /// Parses `to_bytes` output.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, CoreError> {
        let corrupt = || CoreError::CorruptCheckpoint { why: "not 40 bytes".into() };
        if bytes.len() != 40 {
            return Err(corrupt());
        }
        let len = u64::from_le_bytes(bytes[..8].try_into().map_err(|_| corrupt())?);
        let mut state = [0u32; 8];
        for (i, word) in state.iter_mut().enumerate() {
            *word = u32::from_le_bytes(bytes[8 + i * 4..12 + i * 4].try_into().map_err(|_| corrupt())?);
        }
        if len % 64 != 0 {
            return Err(CoreError::CorruptCheckpoint { why: "length is not a multiple of 64".into() });
        }
        Ok(Self { len, state })
    }
}

/// Incremental sha256 with checkpoints.
#[derive(Debug, Clone)]
pub struct ResumableSha256 {
    state: [u32; 8],
    len: u64,
    tail: Vec<u8>,
}

impl Default for ResumableSha256 {
    fn default() -> Self {
        Self::new()
    }
}

impl ResumableSha256 {
    /// A fresh hasher.
    pub fn new() -> Self {
        Self { state: IV, len: 0, tail: Vec::with_capacity(64) }
    }

    /// Continues from a checkpoint.
    pub fn resume(checkpoint: &HashCheckpoint) -> Self {
        Self { state: checkpoint.state, len: checkpoint.len, tail: Vec::with_capacity(64) }
    }

    /// Bytes fed so far.
    pub fn len(&self) -> u64 {
        self.len
    }

    /// True when nothing was fed.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    fn compress(&mut self, blocks: &[u8]) {
        for block in blocks.chunks_exact(64) {
            sha2::compress256(&mut self.state, std::slice::from_ref(GenericArray::from_slice(block)));
        }
    }

    /// Feeds more bytes.
    pub fn update(&mut self, mut data: &[u8]) {
        self.len += data.len() as u64;
        if !self.tail.is_empty() {
            let take = (64 - self.tail.len()).min(data.len());
            self.tail.extend_from_slice(&data[..take]);
            data = &data[take..];
            if self.tail.len() < 64 {
                return;
            }
            let block = std::mem::take(&mut self.tail);
            self.compress(&block);
            self.tail = block;
            self.tail.clear();
        }
        let whole = data.len() / 64 * 64;
        self.compress(&data[..whole]);
        self.tail.extend_from_slice(&data[whole..]);
    }

    /// The state to resume from, when the bytes fed so far are a multiple of 64.
    pub fn checkpoint(&self) -> Option<HashCheckpoint> {
        self.tail.is_empty().then_some(HashCheckpoint { len: self.len, state: self.state })
    }

    /// The digest of everything fed.
    pub fn finish(mut self) -> Digest {
        let bit_len = self.len.wrapping_mul(8);
        let mut last = std::mem::take(&mut self.tail);
        last.push(0x80);
        while last.len() % 64 != 56 {
            last.push(0);
        }
        last.extend_from_slice(&bit_len.to_be_bytes());
        self.compress(&last);
        let mut out = [0u8; 32];
        for (i, word) in self.state.iter().enumerate() {
            out[i * 4..i * 4 + 4].copy_from_slice(&word.to_be_bytes());
        }
        Digest::from_bytes(out)
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    #[test]
    fn matches_the_fips_vectors() {
        let mut h = ResumableSha256::new();
        h.update(b"abc");
        assert_eq!(h.finish(), Digest::of(b"abc"));
        assert_eq!(ResumableSha256::new().finish(), Digest::of(b""));
        let mut h = ResumableSha256::new();
        h.update(b"abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq");
        assert_eq!(h.finish().to_string(), "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
    }

    proptest! {
        #[test]
        fn any_split_and_any_checkpoint_give_the_standard_digest(
            data in proptest::collection::vec(any::<u8>(), 0..2000),
            cuts in proptest::collection::vec(0usize..2000, 0..6),
            checkpoint_block in 0usize..40,
        ) {
            let mut cuts: Vec<usize> = cuts.into_iter().map(|c| c.min(data.len())).collect();
            cuts.sort_unstable();
            let mut hasher = ResumableSha256::new();
            let mut at = 0;
            for cut in cuts.into_iter().chain(std::iter::once(data.len())) {
                hasher.update(&data[at..cut]);
                at = cut;
            }
            prop_assert_eq!(hasher.finish(), Digest::of(&data));

            // Hash to a 64-byte boundary, save, resume elsewhere, finish.
            let boundary = (checkpoint_block * 64).min(data.len() / 64 * 64);
            let mut first = ResumableSha256::new();
            first.update(&data[..boundary]);
            let saved = first.checkpoint().expect("a 64-byte boundary");
            let restored = HashCheckpoint::from_bytes(&saved.to_bytes()).unwrap();
            let mut second = ResumableSha256::resume(&restored);
            second.update(&data[boundary..]);
            prop_assert_eq!(second.finish(), Digest::of(&data));
        }
    }
}
