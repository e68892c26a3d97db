//! A small seeded generator (SplitMix64). The harness's workload and fault schedule come
//! from it alone, so a seed names one run; it is spelled out here rather than taken from a
//! crate so that a seed printed today replays the same plan with any later build.

/// Deterministic pseudo-random numbers from a 64-bit seed.
#[derive(Debug, Clone)]
pub struct Rng(u64);

impl Rng {
    /// A generator for `seed`.
    pub fn new(seed: u64) -> Self {
        Self(seed)
    }

    /// An independent generator for a named part of the run (so adding draws to one part
    /// does not shift another's).
    pub fn fork(&self, stream: u64) -> Self {
        Self(self.0 ^ stream.wrapping_mul(0xA076_1D64_78BD_642F)).clone_mixed()
    }

    fn clone_mixed(mut self) -> Self {
        self.next_u64();
        self
    }

    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// A number in `low..=high`.
    pub fn range(&mut self, low: u64, high: u64) -> u64 {
        low + self.next_u64() % (high - low + 1)
    }

    /// True with probability `p`.
    pub fn chance(&mut self, p: f64) -> bool {
        ((self.next_u64() >> 11) as f64 / (1u64 << 53) as f64) < p
    }

    /// One element of a non-empty slice.
    pub fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.range(0, items.len() as u64 - 1) as usize]
    }
}

/// `len` bytes that depend only on `content_id`: how every file's content is made, and
/// remade when its bytes are checked.
pub fn content(content_id: u64, len: usize) -> Vec<u8> {
    let mut rng = Rng::new(content_id ^ 0x5EED_C0DE);
    let mut out = Vec::with_capacity(len + 8);
    while out.len() < len {
        out.extend_from_slice(&rng.next_u64().to_le_bytes());
    }
    out.truncate(len);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_seed_always_gives_the_same_numbers() {
        let (mut a, mut b) = (Rng::new(42), Rng::new(42));
        let first: Vec<u64> = (0..5).map(|_| a.next_u64()).collect();
        let second: Vec<u64> = (0..5).map(|_| b.next_u64()).collect();
        assert_eq!(first, second);
        assert_ne!(Rng::new(42).fork(1).next_u64(), Rng::new(42).fork(2).next_u64());
        assert_eq!(content(7, 100), content(7, 100));
        assert_ne!(content(7, 100), content(8, 100));
    }
}
