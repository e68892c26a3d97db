//! What requests do so that no collection deletes what they rely on (docs/lifecycle.md,
//! and the model in crates/cairn-gc-model).
//!
//! Collections are numbered by a generation (`gc/generation` in the MetaStore). A request
//! that is about to rely on stored objects — look them up and then refer to them in a
//! version or a draft, or take them as stored without looking — first:
//! 1. reads the generation g and its record's revision (the request's [`Ticket`]);
//! 2. writes one object, `gc/journal/<g>/<uuid>`, listing what it relies on;
//! 3. reads `gc/` again: if the generation moved meanwhile it journals again under the new
//!    one; if a collection has condemned something it relies on (`gc/condemned/<g>`:
//!    about to be deleted), it waits until that batch of deletions is over;
//! 4. then looks the objects up, and commits with a compare on the ticket's revision: if a
//!    collection began since, the commit is refused and the request starts again.
//!
//! A collection of generation c honours the journals of every generation ≥ c, and condemns
//! each batch before it reads them; so a request either is seen by the collection (its
//! journal was written before the collection read the journals) or sees the condemnation
//! (it read `gc/condemned` after the collection wrote it) and waits, then finds the
//! object deleted or kept.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use bytes::Bytes;
use cairn_blob::BlobStoreExt;
use cairn_core::Digest;
use cairn_meta::{KeyValue, Txn};

use crate::error::{decode, encode};
use crate::{CoordError, Coordinator};

/// MetaStore key of the collection generations.
pub(crate) const GENERATION_KEY: &str = "gc/generation";
/// MetaStore prefix of the condemned sets, one per running collection, leased to its collector.
pub(crate) const CONDEMNED_PREFIX: &str = "gc/condemned/";
/// Object-store prefix of the reference journals.
pub(crate) const JOURNAL_PREFIX: &str = "gc/journal/";
/// Generations whose start time is remembered.
const REMEMBERED: usize = 32;
/// Longest a request waits for a batch of deletions that condemned what it relies on.
const CONDEMNED_WAIT: Duration = Duration::from_secs(60);
/// How often a waiting request looks again.
const CONDEMNED_POLL: Duration = Duration::from_millis(50);

/// The current generation and when recent ones started.
#[derive(Debug, Clone, Default, serde::Serialize, serde::Deserialize)]
pub(crate) struct Generations {
    pub current: u64,
    /// Start (ms since the epoch, the collector's clock) of recent generations.
    pub started_ms: BTreeMap<u64, u64>,
}

impl Generations {
    /// Opens generation `current + 1`, started at `now_ms`.
    pub fn advance(&mut self, now_ms: u64) {
        self.current += 1;
        self.started_ms.insert(self.current, now_ms);
        while self.started_ms.len() > REMEMBERED {
            self.started_ms.pop_first();
        }
    }
}

/// One line of a journal or a condemned set: an object a request relies on.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub(crate) enum Relied {
    /// A blob or a manifest, by its digest (lowercase hex on the line).
    Content(Digest),
    /// Every staged segment of the draft with this uid (`staging/<uid>` on the line).
    Staging(String),
}

impl Relied {
    fn line(&self) -> String {
        match self {
            Relied::Content(digest) => digest.to_string(),
            Relied::Staging(uid) => cairn_blob::staging_prefix(uid),
        }
    }

    /// Parses a line; journals of older versions hold digests only.
    pub fn parse(line: &str) -> Option<Self> {
        let line = line.trim();
        if let Some(uid) = line.strip_prefix("staging/") {
            return Some(Relied::Staging(uid.trim_end_matches('/').to_owned()));
        }
        Digest::parse_hex(line).ok().map(Relied::Content)
    }
}

/// Encodes a set of lines (a journal's or a condemned set's body).
pub(crate) fn encode_lines<'a>(items: impl IntoIterator<Item = &'a Relied>) -> String {
    items.into_iter().map(|item| format!("{}\n", item.line())).collect()
}

/// Decodes a body of lines, skipping what it cannot read.
pub(crate) fn decode_lines(bytes: &[u8]) -> BTreeSet<Relied> {
    String::from_utf8_lossy(bytes).lines().filter_map(Relied::parse).collect()
}

/// The generation a request journaled in, to fence its commit on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Ticket {
    pub generation: u64,
    /// Revision of `gc/generation` when it was read (0: no collection ever ran).
    pub revision: i64,
}

impl Ticket {
    /// Adds the compare that refuses the transaction once a collection began since.
    pub fn fence(&self, txn: Txn) -> Txn {
        txn.when_revision(GENERATION_KEY, self.revision)
    }
}

/// Prefix of the journals of generation `g`.
pub(crate) fn journal_prefix(g: u64) -> String {
    format!("{JOURNAL_PREFIX}{g:020}/")
}

/// The generation of a journal key, if it is one.
pub(crate) fn journal_generation(key: &str) -> Option<u64> {
    key.strip_prefix(JOURNAL_PREFIX)?.split('/').next()?.parse().ok()
}

/// What a read of `gc/` says: the generations record and every condemned line.
struct GcView {
    generation: u64,
    revision: i64,
    condemned: BTreeSet<Relied>,
}

fn view_of(kvs: &[KeyValue]) -> Result<GcView, CoordError> {
    let mut view = GcView { generation: 0, revision: 0, condemned: BTreeSet::new() };
    for kv in kvs {
        if kv.key == GENERATION_KEY {
            let generations: Generations = decode(GENERATION_KEY, &kv.value)?;
            view.generation = generations.current;
            view.revision = kv.mod_revision;
        } else if kv.key.starts_with(CONDEMNED_PREFIX) {
            view.condemned.extend(decode_lines(&kv.value));
        }
    }
    Ok(view)
}

impl Coordinator {
    /// The generations as stored, and the record's revision (0 when absent).
    pub(crate) async fn generations(&self) -> Result<(Generations, i64), CoordError> {
        match self.meta.get(GENERATION_KEY).await? {
            Some(kv) => Ok((decode(GENERATION_KEY, &kv.value)?, kv.mod_revision)),
            None => Ok((Generations::default(), 0)),
        }
    }

    /// Stores the generations if the record is still at `revision`.
    pub(crate) async fn save_generations(&self, generations: &Generations, revision: i64) -> Result<bool, CoordError> {
        let txn = Txn::new().when_revision(GENERATION_KEY, revision).put(GENERATION_KEY, encode(generations));
        Ok(self.meta.txn(txn).await?)
    }

    /// The generation record and the condemned sets, in one read.
    async fn gc_view(&self) -> Result<GcView, CoordError> {
        // `gc/` holds a handful of small keys (generation, leader, progress, condemned sets).
        view_of(&self.meta.range("gc/", None, 64).await?)
    }

    /// Journals `items` and waits until no running collection condemns any of them; the
    /// caller then looks them up and fences its commit on the returned ticket.
    pub(crate) async fn rely_on(&self, items: impl IntoIterator<Item = Relied>) -> Result<Ticket, CoordError> {
        let items: BTreeSet<Relied> = items.into_iter().collect();
        let (generations, revision) = self.generations().await?;
        if items.is_empty() {
            return Ok(Ticket { generation: generations.current, revision });
        }
        let body = Bytes::from(encode_lines(&items));
        let mut ticket = Ticket { generation: generations.current, revision };
        for _ in 0..8 {
            // model: Journal
            let key = format!("{}{}", journal_prefix(ticket.generation), uuid::Uuid::new_v4().simple());
            self.blobs.put_bytes(&key, body.clone()).await?;
            let view = self.gc_view().await?;
            if view.revision != ticket.revision {
                // A collection began meanwhile: journal where it reads.
                ticket = Ticket { generation: view.generation, revision: view.revision };
                continue;
            }
            // model: CheckCondemned
            if view.condemned.is_disjoint(&items) {
                return Ok(ticket);
            }
            self.wait_until_not_condemned(&items).await?;
            return Ok(ticket);
        }
        Err(CoordError::ConcurrentUpdate(GENERATION_KEY.to_owned()))
    }

    /// Waits (bounded) until no condemned set names any of `items`.
    async fn wait_until_not_condemned(&self, items: &BTreeSet<Relied>) -> Result<(), CoordError> {
        let deadline = tokio::time::Instant::now() + CONDEMNED_WAIT;
        loop {
            crate::metrics::GC_CONDEMNED_WAITS.inc();
            tokio::time::sleep(CONDEMNED_POLL).await;
            if self.gc_view().await?.condemned.is_disjoint(items) {
                return Ok(());
            }
            if tokio::time::Instant::now() >= deadline {
                return Err(CoordError::BeingCollected);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn journal_lines_round_trip_and_old_journals_of_digests_still_parse() {
        let digest = Digest::of(b"x");
        let items = [Relied::Content(digest), Relied::Staging("0b6d-uid".into())];
        let body = encode_lines(&items);
        assert_eq!(body, format!("{digest}\nstaging/0b6d-uid/\n"));
        assert_eq!(decode_lines(body.as_bytes()), items.into_iter().collect());
        assert_eq!(decode_lines(format!("{digest}\nnot a line\n").as_bytes()).len(), 1);
    }

    #[test]
    fn journal_keys_name_their_generation() {
        assert_eq!(journal_generation(&format!("{}abc", journal_prefix(42))), Some(42));
        assert_eq!(journal_generation("gc/upload-sightings.json"), None);
    }
}
