//! Reference journals: how the collector learns which blobs requests are relying on right
//! now, without a MetaStore write per blob.
//!
//! Collections are numbered by a generation (`gc/generation` in the MetaStore). Before a
//! request relies on blobs (FindMissingBlobs, the existence checks of Upsert and Log, a
//! stored manifest), it writes one object, `gc/journal/<generation>/<uuid>`, listing them,
//! then reads the generation again: if a collection started in between, it writes the
//! journal again under the new generation. A collection that starts generation g+1 treats
//! everything journaled in generations g and g+1 as live (and older generations that ended
//! less than a grace period ago). So a request either wrote its journal where the
//! collection reads it, or finished its checks before the collection started — and then
//! what it relied on is referenced by a version or a draft, which the collection marks.

use std::collections::BTreeMap;

use bytes::Bytes;
use cairn_blob::BlobStoreExt;
use cairn_meta::Txn;

use crate::error::{decode, encode};
use crate::{CoordError, Coordinator};

/// MetaStore key of the collection generations.
pub(crate) const GENERATION_KEY: &str = "gc/generation";
/// Generations whose start time is remembered.
pub(crate) const REMEMBERED: usize = 32;

/// The current generation and when recent ones started.
#[derive(Debug, Clone, Default, serde::Serialize, serde::Deserialize)]
pub(crate) struct Generations {
    pub current: u64,
    /// Start (ms since the epoch) of recent generations.
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

    /// True when journals of generation `g` must be honoured by a collection of generation
    /// `self.current` whose grace cut-off is `cutoff_ms`: the previous and current
    /// generations always, older ones while they ended less than the grace period ago.
    pub fn honours(&self, g: u64, cutoff_ms: u64) -> bool {
        if g + 1 >= self.current {
            return true;
        }
        match self.started_ms.get(&(g + 1)) {
            Some(ended) => *ended > cutoff_ms,
            None => false,
        }
    }
}

/// Prefix of the journals of generation `g`.
pub(crate) fn journal_prefix(g: u64) -> String {
    format!("gc/journal/{g:020}/")
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

    /// Records that this request relies on `items` (blob or manifest digests, as hex) before
    /// it checks them, so that no collection running meanwhile deletes them.
    pub(crate) async fn journal_references<I, T>(&self, items: I) -> Result<(), CoordError>
    where
        I: IntoIterator<Item = T>,
        T: std::fmt::Display,
    {
        let body: String = items.into_iter().map(|item| format!("{item}\n")).collect();
        if body.is_empty() {
            return Ok(());
        }
        let body = Bytes::from(body);
        let mut generation = self.generations().await?.0.current;
        for _ in 0..8 {
            let key = format!("{}{}", journal_prefix(generation), uuid::Uuid::new_v4().simple());
            self.blobs.put_bytes(&key, body.clone()).await?;
            let now = self.generations().await?.0.current;
            if now == generation {
                return Ok(());
            }
            generation = now; // a collection started meanwhile: journal where it reads
        }
        Err(CoordError::ConcurrentUpdate(GENERATION_KEY.to_owned()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_collection_honours_the_previous_generation_and_recently_ended_ones() {
        let mut generations = Generations::default();
        for started in [1_000, 2_000, 3_000, 4_000] {
            generations.advance(started);
        }
        assert_eq!(generations.current, 4);
        assert!(generations.honours(4, 0) && generations.honours(3, 10_000));
        assert!(generations.honours(2, 2_500), "generation 2 ended at 3,000, after the cut-off");
        assert!(!generations.honours(2, 3_500), "generation 2 ended before the cut-off");
        assert!(!generations.honours(0, 0) || generations.started_ms.contains_key(&1));
    }
}
