//! The mark set: every digest something live refers to, spilled to disk in 256 files by
//! the digest's first byte (which is also how blob keys are sharded), so that sweeping a
//! shard needs only that shard's marks in memory: for a billion blobs, about 4 million
//! digests (128 MiB) at a time.

use std::fs::File;
use std::io::{BufWriter, Read, Write};
use std::path::PathBuf;

use cairn_core::Digest;

use crate::CoordError;

/// Digests marked live, by shard.
pub(crate) struct MarkSet {
    dir: tempfile::TempDir,
    shards: Vec<BufWriter<File>>,
    pub marked: u64,
}

fn io_error(err: std::io::Error) -> CoordError {
    CoordError::Malformed(format!("mark set on local disk: {err}"))
}

impl MarkSet {
    /// An empty mark set in a temporary directory.
    pub fn new() -> Result<Self, CoordError> {
        let dir = tempfile::Builder::new().prefix("cairn-gc-marks-").tempdir().map_err(io_error)?;
        let shards = (0..256)
            .map(|i| File::create(dir.path().join(format!("{i:02x}"))).map(BufWriter::new).map_err(io_error))
            .collect::<Result<_, _>>()?;
        Ok(Self { dir, shards, marked: 0 })
    }

    /// Marks a digest live.
    pub fn add(&mut self, digest: &Digest) -> Result<(), CoordError> {
        let bytes = digest.as_bytes();
        self.shards[bytes[0] as usize].write_all(bytes).map_err(io_error)?;
        self.marked += 1;
        Ok(())
    }

    /// Flushes everything marked to disk.
    pub fn finish(&mut self) -> Result<(), CoordError> {
        for shard in &mut self.shards {
            shard.flush().map_err(io_error)?;
        }
        Ok(())
    }

    fn path(&self, shard: u8) -> PathBuf {
        self.dir.path().join(format!("{shard:02x}"))
    }

    /// The marked digests of one shard, sorted and unique.
    pub fn shard(&self, shard: u8) -> Result<Vec<Digest>, CoordError> {
        let mut bytes = Vec::new();
        File::open(self.path(shard)).and_then(|mut f| f.read_to_end(&mut bytes)).map_err(io_error)?;
        let mut digests: Vec<Digest> =
            bytes.chunks_exact(32).map(|c| Digest::from_bytes(c.try_into().expect("32-byte chunks"))).collect();
        digests.sort_unstable();
        digests.dedup();
        Ok(digests)
    }
}
