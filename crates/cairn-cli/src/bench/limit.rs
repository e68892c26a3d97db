//! The machine's own limit for the same bytes: read each file once, sha256 it and write a
//! copy (fsynced), on every core — what any tool must at least do to hash and store them.

use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use sha2::{Digest, Sha256};

/// Time to hash and copy `files` into `copy_dir` with all cores.
pub fn hash_and_copy(files: &[PathBuf], copy_dir: &Path) -> std::io::Result<Duration> {
    std::fs::create_dir_all(copy_dir)?;
    let started = Instant::now();
    let queue = Mutex::new(files.iter().enumerate());
    let failure: Mutex<Option<std::io::Error>> = Mutex::new(None);
    let threads = std::thread::available_parallelism().map_or(2, |n| n.get());
    std::thread::scope(|scope| {
        for _ in 0..threads {
            scope.spawn(|| {
                let mut buffer = vec![0u8; 1 << 20];
                loop {
                    let Some((i, path)) = queue.lock().expect("queue").next() else { break };
                    if let Err(err) = copy_one(path, &copy_dir.join(format!("{i}")), &mut buffer) {
                        *failure.lock().expect("failure") = Some(err);
                        break;
                    }
                }
            });
        }
    });
    if let Some(err) = failure.into_inner().expect("failure") {
        return Err(err);
    }
    Ok(started.elapsed())
}

fn copy_one(source: &Path, target: &Path, buffer: &mut [u8]) -> std::io::Result<()> {
    let mut input = std::fs::File::open(source)?;
    let mut output = std::fs::File::create(target)?;
    let mut hasher = Sha256::new();
    loop {
        let n = input.read(buffer)?;
        if n == 0 {
            break;
        }
        hasher.update(&buffer[..n]);
        output.write_all(&buffer[..n])?;
    }
    output.sync_all()?;
    std::hint::black_box(hasher.finalize());
    Ok(())
}

/// Single-core sha256 throughput in bytes per second, over `bytes` of in-memory data.
pub fn sha256_single_core(bytes: usize) -> f64 {
    let data = vec![0x5Au8; bytes];
    let started = Instant::now();
    std::hint::black_box(Sha256::digest(&data));
    bytes as f64 / started.elapsed().as_secs_f64()
}
