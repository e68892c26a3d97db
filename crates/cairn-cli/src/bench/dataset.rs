//! Deterministic datasets: a seeded generator, log-normal file sizes, incompressible bytes.

use std::io::Write;
use std::path::Path;

/// splitmix64: small, fast, and the same everywhere for a seed.
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Self {
        Self(seed)
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in (0, 1].
    fn unit(&mut self) -> f64 {
        ((self.next_u64() >> 11) as f64 + 1.0) / (1u64 << 53) as f64
    }

    /// Standard normal (Box–Muller).
    fn normal(&mut self) -> f64 {
        (-2.0 * self.unit().ln()).sqrt() * (2.0 * std::f64::consts::PI * self.unit()).cos()
    }
}

/// `count` log-normal sizes (sigma 1.5) scaled to sum to about `total` bytes, each ≥ 1.
pub fn lognormal_sizes(count: usize, total: u64, seed: u64) -> Vec<u64> {
    let mut rng = Rng::new(seed);
    let raw: Vec<f64> = (0..count).map(|_| (1.5 * rng.normal()).exp()).collect();
    let sum: f64 = raw.iter().sum();
    raw.iter().map(|r| ((r / sum) * total as f64).max(1.0) as u64).collect()
}

/// Writes `size` pseudo-random bytes seeded by `seed`.
pub fn write_random_file(path: &Path, size: u64, seed: u64) -> std::io::Result<()> {
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent)?;
    }
    let mut file = std::io::BufWriter::with_capacity(1 << 20, std::fs::File::create(path)?);
    let mut rng = Rng::new(seed);
    let mut block = vec![0u8; 1 << 20];
    let mut left = size;
    while left > 0 {
        let n = left.min(block.len() as u64) as usize;
        for chunk in block[..n].chunks_mut(8) {
            let bytes = rng.next_u64().to_le_bytes();
            chunk.copy_from_slice(&bytes[..chunk.len()]);
        }
        file.write_all(&block[..n])?;
        left -= n as u64;
    }
    file.flush()
}

/// Overwrites `len` bytes at `offset` in place (size and path unchanged).
pub fn patch_in_place(path: &Path, offset: u64, len: usize, seed: u64) -> std::io::Result<()> {
    use std::io::{Seek, SeekFrom};
    let mut file = std::fs::OpenOptions::new().write(true).open(path)?;
    file.seek(SeekFrom::Start(offset))?;
    let mut rng = Rng::new(seed);
    let bytes: Vec<u8> = (0..len).map(|_| rng.next_u64() as u8).collect();
    file.write_all(&bytes)
}
